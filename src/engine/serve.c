/* serve.c - the daemon's HTTP server (see serve.h). libmicrohttpd runs in
 * "external select" mode with an epoll set: the daemon's loop waits on that
 * descriptor beside libcurl's and calls serve_run. A request that writes
 * (a webhook, a page action) suspends its connection, runs as a daemon task
 * through the one writer, and resumes with the answer once committed. */
#include "serve.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "core/json.h"
#include "core/webhook.h"
#include "hook.h"
#include "log.h"

const char *const serve_outcome_names[SV_NOUTCOMES] = {"applied",   "unchanged", "held",      "duplicate",
                                                       "quarantined", "refused", "malformed", "too_large",
                                                       "unknown_source", "failed"};

struct serve {
    struct MHD_Daemon *mhd;
    serve_host host;
    int port;
    char *cert, *key; /* PEM text, kept for libmicrohttpd */
};

/* One request in flight. */
struct req {
    struct serve *s;
    struct MHD_Connection *conn;
    char method[8];
    char path[512];
    buf body;
    int too_big;
    int suspended, done;      /* done: the task has an answer */
    int status;
    buf answer;
    char ctype[64];
    char location[512];
    char cookie[512];
    ui_header headers[UI_MAX_HEADERS];
    size_t nheaders;
    char *hdr_id, *hdr_ts, *hdr_sig, *hdr_cookie, *hdr_origin, *hdr_host, *hdr_ctype, *query;
    long max_body;
};

static char *dup_header(struct MHD_Connection *c, const char *name)
{
    const char *v = name ? MHD_lookup_connection_value(c, MHD_HEADER_KIND, name) : NULL;
    return v ? strdup(v) : NULL;
}

static void req_free(struct req *r)
{
    if (!r)
        return;
    buf_release(&r->body);
    buf_release(&r->answer);
    free(r->hdr_id);
    free(r->hdr_ts);
    free(r->hdr_sig);
    free(r->hdr_cookie);
    free(r->hdr_origin);
    free(r->hdr_host);
    free(r->hdr_ctype);
    free(r->query);
    free(r);
}

static enum MHD_Result send_text(struct MHD_Connection *c, int status, const char *ctype, const char *text,
                                 size_t len, const struct req *r)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result rc;
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", ctype);
    if (!r || !r->nheaders) { /* the page sends its own set */
        MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
        MHD_add_response_header(resp, "Cache-Control", "no-store");
    }
    if (r) {
        if (r->location[0])
            MHD_add_response_header(resp, "Location", r->location);
        if (r->cookie[0])
            MHD_add_response_header(resp, "Set-Cookie", r->cookie);
        for (size_t i = 0; i < r->nheaders; i++)
            MHD_add_response_header(resp, r->headers[i].name, r->headers[i].value);
    }
    rc = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result send_json(struct MHD_Connection *c, int status, const char *json)
{
    return send_text(c, status, "application/json", json, strlen(json), NULL);
}

static void count(struct serve *s, int outcome);

/* ---- webhooks ----------------------------------------------------------- */

static void answer(struct req *r, int status, const char *fmt, ...) CUST_PRINTF(3, 4);
static void answer(struct req *r, int status, const char *fmt, ...)
{
    char text[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    r->status = status;
    buf_reset(&r->answer);
    if (buf_adds(&r->answer, text))
        buf_reset(&r->answer);
    snprintf(r->ctype, sizeof r->ctype, "application/json");
}

static void now_iso(char out[32])
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

/* JSON-escape for a short message inside our own answers. */
static void jesc(const char *in, char *out, size_t n)
{
    size_t o = 0;
    for (; *in && o + 7 < n; in++) {
        unsigned char ch = (unsigned char)*in;
        if (ch == '"' || ch == '\\') {
            out[o++] = '\\';
            out[o++] = (char)ch;
        } else if (ch < 0x20) {
            o += (size_t)snprintf(out + o, n - o, "\\u%04x", ch);
        } else {
            out[o++] = (char)ch;
        }
    }
    out[o] = '\0';
}

static void webhook_task(void *arg)
{
    struct req *r = arg;
    struct serve *s = r->s;
    const config *cfg = s->host.config(s->host.ud);
    const char *name = r->path + strlen("/hooks/");
    const source_cfg *src = config_source((config *)cfg, name);
    wh_scheme scheme;
    wh_secret secrets[8];
    size_t nsec = 0;
    wh_request wr = {0};
    wh_verdict v;
    char why[512], esc[1100], now[32], idbuf[WH_ID_MAX + 1];
    const char *id = NULL;
    hook_result hr;
    struct err e = {0};
    store *st = s->host.st;

    if (!src || !src->webhook.scheme || !wh_scheme_parse(src->webhook.scheme, &scheme)) {
        count(s, SV_UNKNOWN);
        answer(r, 404, "{\"error\":\"no source takes webhooks at this path\"}");
        goto done;
    }
    for (size_t i = 0; i < src->webhook.nsecret_env && nsec < 8; i++) {
        const char *text = getenv(src->webhook.secret_env[i]);
        struct err se = {0};
        if (!text || !*text)
            continue;
        if (wh_secret_decode(scheme, text, &secrets[nsec], &se) == CUST_OK)
            nsec++;
        else
            log_event("error", "webhook.secret", src->name, NULL, NULL, "$%s: %s", src->webhook.secret_env[i], se.msg);
    }
    if (!nsec) {
        count(s, SV_FAILED);
        log_event("error", "webhook.secret", src->name, NULL, NULL,
                  "no usable secret in %s; set it (webhook.secret_env) and reload", src->webhook.secret_env[0]);
        answer(r, 503, "{\"error\":\"this endpoint has no signing secret configured\"}");
        goto done;
    }
    wr.id = r->hdr_id;
    wr.timestamp = r->hdr_ts;
    wr.signature = r->hdr_sig;
    wr.body = (const unsigned char *)(r->body.ptr ? r->body.ptr : "");
    wr.body_len = r->body.len;
    v = wh_verify(scheme, secrets, nsec, &wr, (int64_t)time(NULL), src->webhook.tolerance_ms / 1000, why, sizeof why);
    for (size_t i = 0; i < nsec; i++)
        wh_secret_wipe(&secrets[i]);
    if (v != WH_OK) {
        int st_code = v == WH_MALFORMED || v == WH_MISSING ? 400 : v == WH_ERROR ? 500 : 401;
        count(s, v == WH_MALFORMED || v == WH_MISSING ? SV_MALFORMED : v == WH_ERROR ? SV_FAILED : SV_REFUSED);
        log_event("warn", "webhook.refused", src->name, NULL, NULL, "%s: %s", wh_verdict_name(v), why);
        /* the sender learns the shape that was expected, never how the MACs compared */
        jesc(st_code == 400 ? why : v == WH_STALE || v == WH_FUTURE ? "timestamp outside the tolerance"
                                                                     : "signature verification failed",
             esc, sizeof esc);
        answer(r, st_code, "{\"error\":\"%s\",\"verdict\":\"%s\"}", esc, wh_verdict_name(v));
        goto done;
    }
    /* the delivery id: a header, or (Stripe) the event's id inside the body */
    if (scheme == WH_STRIPE) {
        json_doc *d = json_doc_new();
        json_value *root = d ? json_parse(d, r->body.ptr ? r->body.ptr : "", r->body.len, NULL, NULL) : NULL;
        json_value *iv = root ? json_get(root, "id") : NULL;
        if (iv && iv->type == JSON_STRING && iv->len > 0 && iv->len <= WH_ID_MAX) {
            snprintf(idbuf, sizeof idbuf, "%s", iv->u.str);
            id = idbuf;
        }
        json_doc_free(d);
    } else {
        id = r->hdr_id;
    }
    if (!id || !*id) {
        count(s, SV_MALFORMED);
        answer(r, 400, "{\"error\":\"the delivery has no id (%s)\"}",
               scheme == WH_STRIPE ? "the event's \\\"id\\\"" : wh_header_name(scheme, WH_FIELD_ID));
        goto done;
    }
    now_iso(now);
    if (st->ops->begin(st, &e) == CUST_OK) {
        if (hook_apply(cfg, src, st, id, r->body.ptr ? r->body.ptr : "", r->body.len, now, s->host.actor, &hr, &e) ||
            st->ops->commit(st, &e)) {
            st->ops->rollback(st);
            if (!e.code)
                e.code = CUST_ESTORE;
        }
    } else if (!e.code) {
        e.code = CUST_ESTORE;
    }
    if (e.code) {
        count(s, SV_FAILED);
        log_event("error", "webhook.failed", src->name, NULL, NULL, "delivery %s not applied: %s", id, e.msg);
        answer(r, 500, "{\"error\":\"not applied; retry later\"}");
        goto done;
    }
    {
        int oc = hr.outcome == HOOK_APPLIED ? SV_APPLIED : hr.outcome == HOOK_UNCHANGED ? SV_UNCHANGED
               : hr.outcome == HOOK_HELD ? SV_HELD : hr.outcome == HOOK_DUPLICATE ? SV_DUPLICATE : SV_QUARANTINED;
        char fields[700], key[600];
        count(s, oc);
        jesc(hr.key, key, sizeof key);
        snprintf(fields, sizeof fields, "\"outcome\":\"%s\",\"key\":\"%s\",\"version\":%lld",
                 hook_outcome_name(hr.outcome), key, (long long)hr.version);
        log_event("info", "webhook", src->name, hr.cycle[0] ? hr.cycle : NULL, fields, "delivery %s: %s", id,
                  hook_outcome_name(hr.outcome));
        answer(r, hr.outcome == HOOK_HELD || hr.outcome == HOOK_QUARANTINED ? 202 : 200, "{%s}", fields);
    }
done:
    r->done = 1;
    MHD_resume_connection(r->conn);
}

/* ---- the page's writes --------------------------------------------------- */

static void fill_ctx(struct serve *s, ui_ctx *ctx)
{
    const char *tok_env;
    memset(ctx, 0, sizeof *ctx);
    ctx->cfg = s->host.config(s->host.ud);
    ctx->st = s->host.st;
    tok_env = ctx->cfg->serve.token_env;
    ctx->token = tok_env ? getenv(tok_env) : NULL;
    ctx->hosts = ctx->cfg->serve.hosts;
    ctx->actor_default = s->host.actor;
    ctx->signer = s->host.signer;
    {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ctx->now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    }
    if (s->host.live)
        s->host.live(s->host.ud, &ctx->live, &ctx->nlive, &ctx->last_verify);
}

static void ui_into(struct req *r, ui_response *rs)
{
    r->status = rs->status;
    buf_reset(&r->answer);
    if (rs->body.len && buf_add(&r->answer, rs->body.ptr, rs->body.len))
        buf_reset(&r->answer);
    snprintf(r->ctype, sizeof r->ctype, "%s", rs->content_type[0] ? rs->content_type : "text/html; charset=utf-8");
    snprintf(r->location, sizeof r->location, "%s", rs->location);
    snprintf(r->cookie, sizeof r->cookie, "%s", rs->set_cookie);
    r->nheaders = rs->nheaders < UI_MAX_HEADERS ? rs->nheaders : UI_MAX_HEADERS;
    memcpy(r->headers, rs->headers, r->nheaders * sizeof *r->headers);
}

static void ui_request_of(const struct req *r, ui_request *rq)
{
    memset(rq, 0, sizeof *rq);
    rq->method = r->method;
    rq->path = r->path;
    rq->query = r->query;
    rq->cookie = r->hdr_cookie;
    rq->origin = r->hdr_origin;
    rq->host = r->hdr_host;
    rq->content_type = r->hdr_ctype;
    rq->body = r->body.ptr ? r->body.ptr : "";
    rq->body_len = r->body.len;
    rq->secure = r->s->cert != NULL;
}

static void ui_task(void *arg)
{
    struct req *r = arg;
    ui_ctx ctx;
    ui_request rq;
    ui_response rs;
    memset(&rs, 0, sizeof rs);
    buf_init(&rs.body, 16u << 20);
    fill_ctx(r->s, &ctx);
    ui_request_of(r, &rq);
    ui_handle(&ctx, &rq, &rs);
    ui_into(r, &rs);
    buf_release(&rs.body);
    r->done = 1;
    MHD_resume_connection(r->conn);
}

/* ---- routing -------------------------------------------------------------- */

/* libmicrohttpd hands the query over decoded: encode it again, so the page
 * parses exactly what the browser sent (a '&' or '%' inside a value). */
static int add_encoded(buf *b, const char *v)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *v; v++) {
        unsigned char c = (unsigned char)*v;
        int bad = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr("-._~", c)
                      ? buf_addc(b, (char)c)
                      : buf_addc(b, '%') || buf_addc(b, hex[c >> 4]) || buf_addc(b, hex[c & 15]);
        if (bad)
            return -1;
    }
    return 0;
}

static int qs_collect(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    buf *b = cls;
    (void)kind;
    if ((b->len && buf_addc(b, '&')) || add_encoded(b, key) || (value && (buf_addc(b, '=') || add_encoded(b, value))))
        return MHD_NO;
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    struct serve *s = cls;
    struct req *r = *con_cls;
    (void)version;
    if (!r) {
        const config *cfg = s->host.config(s->host.ud);
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (!(r = calloc(1, sizeof *r)))
            return MHD_NO;
        r->s = s;
        r->conn = conn;
        snprintf(r->method, sizeof r->method, "%s", method);
        snprintf(r->path, sizeof r->path, "%s", url);
        r->max_body = 64 * 1024;
        if (!strncmp(url, "/hooks/", 7)) {
            const source_cfg *src = config_source((config *)cfg, url + 7);
            wh_scheme sch;
            if (src && src->webhook.scheme && wh_scheme_parse(src->webhook.scheme, &sch)) {
                r->max_body = src->webhook.max_body;
                r->hdr_id = dup_header(conn, wh_header_name(sch, WH_FIELD_ID));
                r->hdr_ts = dup_header(conn, wh_header_name(sch, WH_FIELD_TIMESTAMP));
                r->hdr_sig = dup_header(conn, wh_header_name(sch, WH_FIELD_SIGNATURE));
            }
        } else {
            buf q;
            buf_init(&q, 8192);
            MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, (MHD_KeyValueIterator)qs_collect, &q);
            r->query = buf_take(&q);
            buf_release(&q);
            r->hdr_cookie = dup_header(conn, "Cookie");
            r->hdr_origin = dup_header(conn, "Origin");
            r->hdr_host = dup_header(conn, "Host");
            r->hdr_ctype = dup_header(conn, "Content-Type");
        }
        buf_init(&r->body, (size_t)r->max_body + 1);
        buf_init(&r->answer, 64u << 20);
        *con_cls = r;
        if (cl && strtoll(cl, NULL, 10) > r->max_body)
            r->too_big = 1; /* refused below without reading the body */
        return MHD_YES;
    }
    if (*upload_size) {
        if (!r->too_big && buf_add(&r->body, upload, *upload_size))
            r->too_big = 1;
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->done) /* resumed with the task's answer */
        return send_text(conn, r->status, r->ctype, r->answer.ptr ? r->answer.ptr : "", r->answer.len, r);
    if (r->suspended)
        return MHD_YES;
    if (r->too_big) {
        count(s, SV_TOO_LARGE);
        return send_json(conn, 413, "{\"error\":\"the body is larger than this endpoint takes\"}");
    }
    if (!strncmp(url, "/hooks/", 7)) {
        if (strcmp(method, "POST") != 0)
            return send_json(conn, 405, "{\"error\":\"webhooks are POSTed\"}");
        r->suspended = 1;
        MHD_suspend_connection(conn);
        if (s->host.spawn(s->host.ud, webhook_task, r)) {
            r->suspended = 0;
            MHD_resume_connection(conn);
            return send_json(conn, 503, "{\"error\":\"busy; retry later\"}");
        }
        return MHD_YES;
    }
    if (!strcmp(url, "/healthz"))
        return send_text(conn, 200, "text/plain; charset=utf-8", "ok\n", 3, NULL);
    if (!strcmp(url, "/readyz")) {
        int ok = s->host.ready(s->host.ud);
        return send_text(conn, ok ? 200 : 503, "text/plain; charset=utf-8", ok ? "ready\n" : "stopping\n",
                         ok ? 6 : 9, NULL);
    }
    if (!strcmp(url, "/metrics")) {
        buf m;
        enum MHD_Result rc;
        buf_init(&m, 256u << 20);
        s->host.metrics(s->host.ud, &m);
        rc = send_text(conn, 200, "text/plain; version=0.0.4; charset=utf-8", m.ptr ? m.ptr : "", m.len, NULL);
        buf_release(&m);
        return rc;
    }
    {
        ui_request rq;
        ui_request_of(r, &rq);
        if (!ui_owns(method, url))
            return send_text(conn, 404, "text/plain; charset=utf-8", "not found\n", 10, NULL);
        if (ui_writes(&rq)) {
            r->suspended = 1;
            MHD_suspend_connection(conn);
            if (s->host.spawn(s->host.ud, ui_task, r)) {
                r->suspended = 0;
                MHD_resume_connection(conn);
                return send_text(conn, 503, "text/plain; charset=utf-8", "busy; retry later\n", 18, NULL);
            }
            return MHD_YES;
        }
        {
            ui_ctx ctx;
            ui_response rs;
            enum MHD_Result rc;
            memset(&rs, 0, sizeof rs);
            buf_init(&rs.body, 16u << 20);
            fill_ctx(s, &ctx);
            ui_handle(&ctx, &rq, &rs);
            ui_into(r, &rs);
            buf_release(&rs.body);
            rc = send_text(conn, r->status, r->ctype, r->answer.ptr ? r->answer.ptr : "", r->answer.len, r);
            return rc;
        }
    }
}

static void on_done(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    req_free(*con_cls);
    *con_cls = NULL;
}

static long long counts[SV_NOUTCOMES];

static void count(struct serve *s, int outcome)
{
    (void)s;
    if (outcome >= 0 && outcome < SV_NOUTCOMES)
        counts[outcome]++;
}

void serve_metrics(buf *out);
void serve_metrics(buf *out)
{
    int bad = buf_adds(out, "# HELP custody_webhooks_total Webhook deliveries by outcome.\n"
                            "# TYPE custody_webhooks_total counter\n");
    for (int i = 0; i < SV_NOUTCOMES; i++)
        bad |= buf_addf(out, "custody_webhooks_total{outcome=\"%s\"} %lld\n", serve_outcome_names[i], counts[i]);
    (void)bad; /* a metrics page cut short by its cap is still a valid page */
}

static char *slurp(const char *path, struct err *e)
{
    FILE *f = fopen(path, "rb");
    buf b;
    char chunk[8192];
    size_t n;
    if (!f) {
        err_set(e, CUST_ECONFIG, "serve: cannot read %s", path);
        return NULL;
    }
    buf_init(&b, 1u << 20);
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (buf_add(&b, chunk, n))
            break;
    fclose(f);
    return buf_take(&b);
}

cust_code serve_start(const serve_cfg *cfg, const serve_host *host, serve **out, struct err *e)
{
    struct serve *s;
    char addr[256];
    const char *colon;
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    struct sockaddr_in sin;
    struct sockaddr_in6 sin6;
    struct sockaddr *sa;
    int port;
    const union MHD_DaemonInfo *info;
    *out = NULL;
    if (!cfg->listen)
        return CUST_OK;
    colon = strrchr(cfg->listen, ':'); /* config checked the form and the port */
    port = cfg->port;
    snprintf(addr, sizeof addr, "%.*s", (int)(colon - cfg->listen), cfg->listen);
    if (addr[0] == '[') {
        size_t l = strlen(addr);
        memmove(addr, addr + 1, l);
        if (l >= 2 && addr[l - 2] == ']')
            addr[l - 2] = '\0';
    }
    if (!strcmp(addr, "localhost"))
        snprintf(addr, sizeof addr, "127.0.0.1");
    memset(&sin, 0, sizeof sin);
    memset(&sin6, 0, sizeof sin6);
    if (inet_pton(AF_INET, addr, &sin.sin_addr) == 1) {
        sin.sin_family = AF_INET;
        sin.sin_port = htons((uint16_t)port);
        sa = (struct sockaddr *)&sin;
    } else if (inet_pton(AF_INET6, addr, &sin6.sin6_addr) == 1) {
        sin6.sin6_family = AF_INET6;
        sin6.sin6_port = htons((uint16_t)port);
        sa = (struct sockaddr *)&sin6;
        flags |= MHD_USE_IPv6;
    } else {
        return err_set(e, CUST_ECONFIG, "serve.listen: \"%s\" is not an IP address (write 127.0.0.1:8650 or "
                       "[::1]:8650)", addr);
    }
    if (!(s = calloc(1, sizeof *s)))
        return err_set(e, CUST_ENOMEM, "out of memory");
    s->host = *host;
    if (cfg->tls_cert) {
        if (!(s->cert = slurp(cfg->tls_cert, e)) || !(s->key = slurp(cfg->tls_key, e))) {
            serve_stop(s);
            return CUST_ECONFIG;
        }
        flags |= MHD_USE_TLS;
    }
    if (cfg->tls_cert)
        s->mhd = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, sa,
                                  MHD_OPTION_NOTIFY_COMPLETED, on_done, s, MHD_OPTION_CONNECTION_LIMIT,
                                  (unsigned)cfg->max_connections, MHD_OPTION_CONNECTION_TIMEOUT, 30u,
                                  MHD_OPTION_HTTPS_MEM_CERT, s->cert, MHD_OPTION_HTTPS_MEM_KEY, s->key,
                                  MHD_OPTION_END);
    else
        s->mhd = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, sa,
                                  MHD_OPTION_NOTIFY_COMPLETED, on_done, s, MHD_OPTION_CONNECTION_LIMIT,
                                  (unsigned)cfg->max_connections, MHD_OPTION_CONNECTION_TIMEOUT, 30u,
                                  MHD_OPTION_END);
    if (!s->mhd) {
        serve_stop(s);
        return err_set(e, CUST_ECONFIG, "serve.listen: cannot listen on %s (in use, or not an address of this "
                       "machine)", cfg->listen);
    }
    info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : port;
    *out = s;
    return CUST_OK;
}

int serve_port(const serve *s)
{
    return s ? s->port : 0;
}

int serve_fd(const serve *s)
{
    const union MHD_DaemonInfo *info;
    if (!s)
        return -1;
    info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_EPOLL_FD);
    return info ? info->epoll_fd : -1;
}

int64_t serve_timeout_ms(serve *s)
{
    MHD_UNSIGNED_LONG_LONG t;
    if (!s || MHD_get_timeout(s->mhd, &t) != MHD_YES)
        return -1;
    return (int64_t)t;
}

void serve_run(serve *s)
{
    if (s)
        MHD_run(s->mhd);
}

void serve_stop(serve *s)
{
    if (!s)
        return;
    if (s->mhd)
        MHD_stop_daemon(s->mhd);
    free(s->cert);
    free(s->key);
    free(s);
}
