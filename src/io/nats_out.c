/* nats_out.c - NATS JetStream behind outbox_sink: connect (libnats keeps
 * reconnecting afterwards), make sure the stream exists, publish a batch
 * asynchronously and wait, bounded, for each message's PubAck. A message
 * counts as handed over only on a PubAck from the expected stream
 * (duplicate or not); anything else leaves it unacknowledged for the
 * outbox to send again. Credentials in the URL never reach a message. */
#include "nats_out.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nats/nats.h>

struct nats_out {
    char *url, *safe_url, *stream, *subjects, *token, *tls_ca;
    int create_stream;
    int64_t dup_window_ms, ack_timeout_ms, connect_timeout_ms;
    natsOptions *opts;
    natsConnection *nc;
    jsCtx *js;
    int stream_ok;          /* checked on this connection */
    void (*warn)(void *ud, const char *msg);
    void *warn_ud;
    /* the batch in flight, shared with libnats' callback thread */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    outbox_msg *cur;
    size_t ncur, done;
    char async_err[256];    /* the last asynchronous error libnats reported */
};

/* The URL list without user:password@ (a token or password may be there). */
static char *redact(const char *url)
{
    size_t n = strlen(url), o = 0;
    char *out = malloc(n + 1);
    if (!out)
        return NULL;
    for (size_t i = 0; i < n;) {
        const char *comma = strchr(url + i, ',');
        size_t end = comma ? (size_t)(comma - url) : n;
        const char *scheme = strstr(url + i, "://");
        const char *at = NULL;
        size_t from = i;
        if (scheme && (size_t)(scheme - url) < end) {
            for (const char *p = scheme + 3; p < url + end; p++)
                if (*p == '@')
                    at = p;
            if (at) {
                size_t sl = (size_t)(scheme + 3 - (url + i));
                memcpy(out + o, url + i, sl);
                o += sl;
                from = (size_t)(at + 1 - url);
            }
        }
        memcpy(out + o, url + from, end - from);
        o += end - from;
        if (comma)
            out[o++] = ',';
        i = end + (comma ? 1 : 0);
    }
    out[o] = '\0';
    return out;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

nats_out *nats_out_new(const nats_out_opts *o)
{
    nats_out *n = calloc(1, sizeof *n);
    pthread_condattr_t ca;
    if (!n)
        return NULL;
    n->url = strdup(o->url);
    n->safe_url = redact(o->url);
    n->stream = strdup(o->stream);
    n->subjects = strdup(o->subjects);
    n->token = dup_or_null(o->token);
    n->tls_ca = dup_or_null(o->tls_ca);
    n->create_stream = o->create_stream;
    n->dup_window_ms = o->duplicate_window_ms;
    n->ack_timeout_ms = o->ack_timeout_ms;
    n->connect_timeout_ms = o->connect_timeout_ms;
    n->warn = o->warn;
    n->warn_ud = o->warn_ud;
    pthread_mutex_init(&n->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&n->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (!n->url || !n->safe_url || !n->stream || !n->subjects || (o->token && !n->token) ||
        (o->tls_ca && !n->tls_ca)) {
        nats_out_free(n);
        return NULL;
    }
    return n;
}

static void disconnect(nats_out *n)
{
    jsCtx_Destroy(n->js);
    n->js = NULL;
    if (n->nc) {
        natsConnection_Close(n->nc);
        natsConnection_Destroy(n->nc);
    }
    n->nc = NULL;
    natsOptions_Destroy(n->opts);
    n->opts = NULL;
    n->stream_ok = 0;
}

void nats_out_free(nats_out *n)
{
    if (!n)
        return;
    disconnect(n);
    pthread_mutex_destroy(&n->mu);
    pthread_cond_destroy(&n->cv);
    if (n->token) /* do not leave the secret in freed memory */
        memset(n->token, 0, strlen(n->token));
    free(n->url);
    free(n->safe_url);
    free(n->stream);
    free(n->subjects);
    free(n->token);
    free(n->tls_ca);
    free(n);
}

void nats_out_shutdown(void)
{
    nats_CloseAndWait(2000);
}

/* libnats' words for the last failure: the thread's error text, else the status. */
static const char *why(natsStatus s)
{
    const char *t = nats_GetLastError(NULL);
    return t && *t ? t : natsStatus_GetText(s);
}

static void on_async_error(natsConnection *nc, natsSubscription *sub, natsStatus err, void *closure)
{
    nats_out *n = closure;
    pthread_mutex_lock(&n->mu);
    snprintf(n->async_err, sizeof n->async_err, "%s", natsStatus_GetText(err));
    pthread_mutex_unlock(&n->mu);
}

/* Find the message of the batch in flight with this audit seq (the batch is
 * in ascending seq order). */
static outbox_msg *find_msg(nats_out *n, const char *seq_text)
{
    char *end;
    long long seq;
    size_t lo = 0, hi = n->ncur;
    if (!n->cur || !seq_text)
        return NULL;
    errno = 0;
    seq = strtoll(seq_text, &end, 10);
    if (errno || *end)
        return NULL;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (n->cur[mid].seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n->ncur && n->cur[lo].seq == seq ? &n->cur[lo] : NULL;
}

/* libnats' thread: one PubAck (or its failure) per published message. */
static void on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
    nats_out *n = closure;
    const char *seq = NULL;
    outbox_msg *m;
    natsMsgHeader_Get(msg, "Custody-Audit-Seq", &seq);
    pthread_mutex_lock(&n->mu);
    if ((m = find_msg(n, seq)) && !m->acked && !m->why[0]) {
        if (pa && pa->Stream && !strcmp(pa->Stream, n->stream)) {
            m->acked = pa->Duplicate ? OUTBOX_DUPLICATE : OUTBOX_STORED;
        } else if (pa) {
            snprintf(m->why, sizeof m->why, "acknowledged by stream %s, not %s", pa->Stream ? pa->Stream : "?",
                     n->stream);
        } else if (pae) {
            const char *t = pae->ErrText && *pae->ErrText ? pae->ErrText : natsStatus_GetText(pae->Err);
            if (pae->ErrCode == JSStreamNotMatchErr)
                snprintf(m->why, sizeof m->why, "%s: subject %s belongs to another stream than %s; make "
                         "outbox.nats.subject_prefix match the stream's subjects", t, natsMsg_GetSubject(msg),
                         n->stream);
            else if (pae->ErrCode)
                snprintf(m->why, sizeof m->why, "%s (JetStream error %d)", t, (int)pae->ErrCode);
            else
                snprintf(m->why, sizeof m->why, "%s", t);
        } else {
            snprintf(m->why, sizeof m->why, "no acknowledgement");
        }
        n->done++;
        pthread_cond_broadcast(&n->cv);
    }
    pthread_mutex_unlock(&n->mu);
    natsMsg_Destroy(msg);
}

/* What an operator does about a JetStream API failure. */
static cust_code js_fail(nats_out *n, struct err *e, const char *what, natsStatus s, jsErrCode jerr)
{
    if (s == NATS_NO_RESPONDERS || jerr == JSNotEnabledErr || jerr == JSNotEnabledForAccountErr)
        return err_setc(e, CUST_EHTTP, (long)s, "NATS %s: %s: JetStream does not answer (%s); start nats-server with "
                        "JetStream enabled (-js, or jetstream {} in its configuration)", n->safe_url, what, why(s));
    if (s == NATS_TIMEOUT)
        return err_setc(e, CUST_EHTTP, (long)s, "NATS %s: %s: no answer within %" PRId64 " ms (outbox.nats."
                        "connect_timeout); the server may be starting or overloaded", n->safe_url, what,
                        n->connect_timeout_ms);
    return err_setc(e, CUST_EHTTP, (long)s, "NATS %s: %s: %s%s", n->safe_url, what, why(s),
                    jerr ? " (JetStream error)" : "");
}

static cust_code ensure_stream(nats_out *n, struct err *e)
{
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetStreamInfo(&si, n->js, n->stream, NULL, &jerr);
    if (s == NATS_OK) {
        int64_t have = si->Config ? si->Config->Duplicates / 1000000 : 0;
        if (have < n->dup_window_ms && n->warn) {
            char w[512];
            snprintf(w, sizeof w, "stream %s drops duplicates within %" PRId64 " ms only, "
                     "outbox.nats.duplicate_window asks %" PRId64 " ms: a message sent again later than that after a "
                     "crash is stored twice (see docs/outbox.md); raise the stream's duplicate window",
                     n->stream, have, n->dup_window_ms);
            n->warn(n->warn_ud, w);
        }
        jsStreamInfo_Destroy(si);
        n->stream_ok = 1;
        return CUST_OK;
    }
    if (s != NATS_NOT_FOUND && jerr != JSStreamNotFoundErr)
        return js_fail(n, e, "reading stream info", s, jerr);
    if (!n->create_stream)
        return err_set(e, CUST_ECONFIG, "NATS %s: stream %s does not exist; create it (nats stream add %s --subjects "
                       "'%s' --dupe-window 2m) or set outbox.nats.create_stream: true", n->safe_url, n->stream,
                       n->stream, n->subjects);
    {
        jsStreamConfig sc;
        const char *subj[1] = {n->subjects};
        jsStreamConfig_Init(&sc);
        sc.Name = n->stream;
        sc.Subjects = subj;
        sc.SubjectsLen = 1;
        sc.Storage = js_FileStorage;
        sc.Retention = js_LimitsPolicy;
        sc.Duplicates = n->dup_window_ms * 1000000;
        jerr = 0;
        s = js_AddStream(&si, n->js, &sc, NULL, &jerr);
        jsStreamInfo_Destroy(si);
        if (s != NATS_OK && jerr != JSStreamNameExistErr) {
            if (jerr == JSStreamSubjectOverlapErr)
                return err_set(e, CUST_ECONFIG, "NATS %s: cannot create stream %s: its subjects %s overlap a stream "
                               "that exists; give outbox.nats.stream the name of that stream, or another "
                               "subject_prefix", n->safe_url, n->stream, n->subjects);
            return js_fail(n, e, "creating the stream", s, jerr);
        }
    }
    n->stream_ok = 1;
    return CUST_OK;
}

static cust_code do_connect(nats_out *n, struct err *e)
{
    natsStatus s;
    jsOptions jo;
    const char *servers[64];
    char *list = NULL;
    int count = 0;
    cust_code rc = CUST_OK;

    if (n->nc) {
        natsConnStatus cs = natsConnection_Status(n->nc);
        if (cs == NATS_CONN_STATUS_CONNECTED)
            return n->stream_ok ? CUST_OK : ensure_stream(n, e);
        if (cs != NATS_CONN_STATUS_CLOSED) {
            const char *last = NULL;
            natsConnection_GetLastError(n->nc, &last);
            return err_set(e, CUST_EHTTP, "NATS %s: not connected (libnats is reconnecting%s%s)", n->safe_url,
                           last && *last ? ": " : "", last && *last ? last : "");
        }
        disconnect(n);
    }
    if (!(list = strdup(n->url)))
        return err_set(e, CUST_ENOMEM, "out of memory");
    for (char *p = list; count < 64;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        while (*p == ' ')
            p++;
        servers[count++] = p;
        if (!comma)
            break;
        p = comma + 1;
    }
    if ((s = natsOptions_Create(&n->opts)) != NATS_OK || (s = natsOptions_SetServers(n->opts, servers, count)) ||
        (s = natsOptions_SetName(n->opts, "custody publish")) ||
        (s = natsOptions_SetTimeout(n->opts, n->connect_timeout_ms)) ||
        (s = natsOptions_SetAllowReconnect(n->opts, true)) || (s = natsOptions_SetMaxReconnect(n->opts, -1)) ||
        (s = natsOptions_SetReconnectWait(n->opts, 250)) ||
        (s = natsOptions_SetReconnectJitter(n->opts, 250, 1000)) ||
        (s = natsOptions_SetPingInterval(n->opts, 10000)) || (s = natsOptions_SetMaxPingsOut(n->opts, 2)) ||
        (s = natsOptions_SetErrorHandler(n->opts, on_async_error, n)) ||
        (n->token && (s = natsOptions_SetToken(n->opts, n->token)))) {
        rc = err_setc(e, CUST_ECONFIG, (long)s, "NATS %s: bad connection options: %s", n->safe_url, why(s));
        goto out;
    }
    if (n->tls_ca || !strncmp(n->url, "tls://", 6)) {
        if ((s = natsOptions_SetSecure(n->opts, true)) != NATS_OK ||
            (n->tls_ca && (s = natsOptions_LoadCATrustedCertificates(n->opts, n->tls_ca)) != NATS_OK)) {
            rc = err_setc(e, CUST_ECONFIG, (long)s, "NATS %s: outbox.nats.tls_ca %s: %s; give a PEM CA file",
                          n->safe_url, n->tls_ca ? n->tls_ca : "(system)", why(s));
            goto out;
        }
    }
    s = natsConnection_Connect(&n->nc, n->opts);
    if (s != NATS_OK) {
        rc = err_setc(e, CUST_EHTTP, (long)s, "NATS %s: cannot connect: %s; check outbox.nats.url and that nats-server "
                      "runs there%s", n->safe_url, why(s),
                      s == NATS_NOT_PERMITTED || s == NATS_CONNECTION_AUTH_FAILED
                          ? " (authorization failed: check outbox.nats.token_env)" : "");
        n->nc = NULL;
        goto out;
    }
    jsOptions_Init(&jo);
    jo.Wait = n->connect_timeout_ms;
    jo.PublishAsync.MaxPending = 65536 + 1;
    jo.PublishAsync.AckHandler = on_ack;
    jo.PublishAsync.AckHandlerClosure = n;
    if ((s = natsConnection_JetStream(&n->js, n->nc, &jo)) != NATS_OK) {
        rc = err_setc(e, CUST_EHTTP, (long)s, "NATS %s: no JetStream context: %s", n->safe_url, why(s));
        goto out;
    }
    rc = ensure_stream(n, e);
out:
    free(list);
    if (rc && rc != CUST_EHTTP)
        disconnect(n);
    else if (rc && !n->js)
        disconnect(n);
    return rc;
}

static cust_code sink_connect(void *ctx, struct err *e)
{
    return do_connect(ctx, e);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static cust_code sink_publish(void *ctx, outbox_msg *m, size_t count, struct err *e)
{
    nats_out *n = ctx;
    int64_t maxp = natsConnection_GetMaxPayload(n->nc), deadline;
    size_t sent = 0, first_bad;
    natsStatus s = NATS_OK;
    cust_code rc = CUST_OK;
    char send_err[256] = "", async_err[256];

    for (size_t i = 0; i < count; i++) {
        /* headers: "NATS/1.0\r\n" + two "K: V\r\n" lines + "\r\n" */
        size_t hdr = 12 + 15 + m[i].msg_id.len + 21 + strlen(m[i].seq_text) + 2;
        m[i].acked = 0;
        m[i].why[0] = '\0';
        if (maxp > 0 && (int64_t)(m[i].payload.len + hdr) > maxp)
            return err_set(e, CUST_ELIMIT, "NATS %s: the message of audit entry %" PRId64 " (%s) is %zu bytes, more "
                           "than the server's max_payload of %" PRId64 "; raise max_payload in the nats-server "
                           "configuration (it cannot be published otherwise)", n->safe_url, m[i].seq,
                           buf_str(&m[i].msg_id), m[i].payload.len + hdr, maxp);
    }
    pthread_mutex_lock(&n->mu);
    n->cur = m;
    n->ncur = count;
    n->done = 0;
    n->async_err[0] = '\0';
    pthread_mutex_unlock(&n->mu);

    for (; sent < count; sent++) {
        natsMsg *msg = NULL;
        jsPubOptions po;
        jsPubOptions_Init(&po);
        po.ExpectStream = n->stream;
        po.MaxWait = n->ack_timeout_ms;
        if ((s = natsMsg_Create(&msg, buf_str(&m[sent].subject), NULL, m[sent].payload.ptr,
                                (int)m[sent].payload.len)) != NATS_OK ||
            (s = natsMsgHeader_Set(msg, "Nats-Msg-Id", buf_str(&m[sent].msg_id))) != NATS_OK ||
            (s = natsMsgHeader_Set(msg, "Custody-Audit-Seq", m[sent].seq_text)) != NATS_OK ||
            (s = js_PublishMsgAsync(n->js, &msg, &po)) != NATS_OK) {
            snprintf(send_err, sizeof send_err, "%s", why(s));
            natsMsg_Destroy(msg);
            break;
        }
        natsMsg_Destroy(msg); /* NULL now: libnats owns it */
    }

    /* Wait for the PubAcks of what was sent: libnats times each one out
     * after ack_timeout; this deadline only guards against a lost callback. */
    deadline = mono_ms() + n->ack_timeout_ms + 1000;
    pthread_mutex_lock(&n->mu);
    while (n->done < sent) {
        int64_t left = deadline - mono_ms();
        struct timespec ts;
        if (left <= 0)
            break;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += left / 1000;
        ts.tv_nsec += (left % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&n->cv, &n->mu, &ts);
    }
    n->cur = NULL; /* late answers are dropped: those messages count as not acknowledged */
    n->ncur = 0;
    memcpy(async_err, n->async_err, sizeof async_err);
    pthread_mutex_unlock(&n->mu);
    {
        natsMsgList pending = {0};
        if (js_PublishAsyncGetPendingList(&pending, n->js) == NATS_OK)
            natsMsgList_Destroy(&pending);
    }
    for (first_bad = 0; first_bad < count && m[first_bad].acked; first_bad++)
        ;
    if (first_bad == count)
        return CUST_OK;
    n->stream_ok = 0; /* the stream may be gone (a broker restarted empty): check again */
    if (first_bad >= sent && send_err[0])
        rc = err_set(e, CUST_EHTTP, "NATS %s: cannot send to %s: %s", n->safe_url, buf_str(&m[first_bad].subject),
                     send_err);
    else if (m[first_bad].why[0])
        rc = err_set(e, CUST_EHTTP, "NATS %s: stream %s did not store the message: %s", n->safe_url, n->stream,
                     m[first_bad].why);
    else
        rc = err_set(e, CUST_EHTTP, "NATS %s: no acknowledgement from stream %s within %" PRId64 " ms "
                     "(outbox.nats.ack_timeout)%s%s", n->safe_url, n->stream, n->ack_timeout_ms,
                     async_err[0] ? "; libnats: " : "", async_err);
    return rc;
}

outbox_sink nats_out_sink(nats_out *n)
{
    outbox_sink s = {"nats", n->stream, n, sink_connect, sink_publish};
    return s;
}
