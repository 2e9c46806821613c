/* outbox.c - drives a sink from the audit log: the record versions after
 * the stored position, in seq order, a batch at a time; the position moves
 * (with an outbox.published audit entry, one transaction) only over the
 * prefix the sink acknowledged. Uses store ops only, so it runs on every
 * backend; the sink (libnats) is behind outbox_sink. */
#include "outbox.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/json.h"
#include "core/policy.h"

/* Audit rows read per store call while looking for record entries. */
#define SCAN_ROWS 4096
/* A stretch of the log without record versions this long is persisted as
 * passed (count 0), so a restart does not rescan it. */
#define SKIP_PERSIST 10000
#define BACKOFF_BASE_MS 250

/* A record entry found in the log, before its record is read. */
struct cand {
    int64_t seq;
    int64_t version;
    char *action, *source, *key;
};

struct outbox {
    store *st;
    const outbox_sink *sink;
    outbox_opts o;
    char kvkey[256];
    int loaded;
    int64_t pos;   /* stored: everything up to here was acknowledged */
    int64_t scan;  /* read up to here (>= pos); the gap holds no record versions */
    outbox_msg *m;
    size_t cap;
    struct cand *c;
    size_t nc;
    uint64_t rng;
};

/* listing state */
struct scan {
    outbox *ob;
    int64_t last;    /* seq of the last row taken */
    size_t rows;
    int full;
    json_doc *doc;
    cust_code rc;
    struct err e;
};

static int parse_i64(const char *s, size_t len, int64_t *out)
{
    char tmp[32], *end;
    long long v;
    if (!s || !len || len >= sizeof tmp)
        return 0;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    errno = 0;
    v = strtoll(tmp, &end, 10);
    if (errno || *end || v < 0)
        return 0;
    *out = v;
    return 1;
}

static int is_record_action(const char *a)
{
    return !strcmp(a, "record.new") || !strcmp(a, "record.version") || !strcmp(a, "record.removed");
}

cust_code outbox_msg_id(buf *out, const char *source, const char *key, int64_t version)
{
    return buf_addf(out, "%s:%s:%" PRId64, source, key, version);
}

cust_code outbox_envelope(buf *out, const char *action, int64_t seq, const store_row *r, struct err *e)
{
    cust_code rc;
    size_t clen = r->lens[REC_CANONICAL];
    int purged = clen == 0, removed = !strcmp(action, "record.removed");
    /* Members in RFC 8785 order (all names ASCII); the key and the record
     * are spliced as stored, already canonical, so a consumer can hash the
     * record's bytes; the other strings are hex, RFC 3339 times, source
     * names and action names: nothing JCS would escape. */
    if ((rc = buf_adds(out, "{\"action\":")) || (rc = json_write_string(out, action, strlen(action))) ||
        (rc = buf_addf(out, ",\"audit_seq\":%" PRId64 ",\"content_hash\":", seq)) ||
        (rc = json_write_string(out, r->cols[REC_HASH], r->lens[REC_HASH])) ||
        (rc = buf_adds(out, ",\"fetched_at\":")) ||
        (rc = json_write_string(out, r->cols[REC_FETCHED_AT], r->lens[REC_FETCHED_AT])) ||
        (rc = buf_adds(out, ",\"key\":")) || (rc = buf_add(out, r->cols[REC_KEY], r->lens[REC_KEY])))
        goto fail;
    if (purged)
        rc = buf_adds(out, ",\"purged\":true");
    else if (!(rc = buf_adds(out, ",\"record\":")) && !(rc = buf_add(out, r->cols[REC_CANONICAL], clen)) && removed)
        rc = buf_adds(out, ",\"removed\":true");
    if (rc || (rc = buf_adds(out, ",\"source\":")) ||
        (rc = json_write_string(out, r->cols[REC_SOURCE], r->lens[REC_SOURCE])) ||
        (rc = buf_addf(out, ",\"version\":%.*s}", (int)r->lens[REC_VERSION], r->cols[REC_VERSION])))
        goto fail;
    return CUST_OK;
fail:
    return err_set(e, rc, "the message for audit entry %" PRId64 " is larger than the outbox allows", seq);
}

outbox *outbox_new(store *st, const outbox_sink *sink, const outbox_opts *o)
{
    outbox *ob = calloc(1, sizeof *ob);
    if (!ob)
        return NULL;
    ob->st = st;
    ob->sink = sink;
    ob->o = *o;
    if (!ob->o.batch)
        ob->o.batch = 1;
    snprintf(ob->kvkey, sizeof ob->kvkey, "outbox.%s.%s", sink->kind, sink->target);
    ob->rng = (uint64_t)time(NULL) * 2654435761u ^ (uint64_t)getpid() ^ 0x9e3779b97f4a7c15u;
    if (!(ob->m = calloc(ob->o.batch, sizeof *ob->m)) || !(ob->c = calloc(ob->o.batch, sizeof *ob->c))) {
        outbox_free(ob);
        return NULL;
    }
    ob->cap = ob->o.batch;
    for (size_t i = 0; i < ob->cap; i++) {
        buf_init(&ob->m[i].subject, 4096);
        buf_init(&ob->m[i].msg_id, (size_t)1 << 20);
        buf_init(&ob->m[i].payload, (size_t)64 << 20);
    }
    return ob;
}

static void cands_clear(outbox *ob)
{
    for (size_t i = 0; i < ob->nc; i++) {
        free(ob->c[i].action);
        free(ob->c[i].source);
        free(ob->c[i].key);
    }
    ob->nc = 0;
}

void outbox_free(outbox *ob)
{
    if (!ob)
        return;
    if (ob->c)
        cands_clear(ob);
    for (size_t i = 0; ob->m && i < ob->cap; i++) {
        buf_release(&ob->m[i].subject);
        buf_release(&ob->m[i].msg_id);
        buf_release(&ob->m[i].payload);
    }
    free(ob->m);
    free(ob->c);
    free(ob);
}

static cust_code read_position(store *st, const char *kvkey, int64_t *pos, struct err *e)
{
    char *v = NULL;
    cust_code rc = st->ops->kv_get(st, "", kvkey, &v, e);
    *pos = 0;
    if (rc)
        return rc;
    if (v && !parse_i64(v, strlen(v), pos))
        rc = err_set(e, CUST_ESTORE, "the stored outbox position %s is \"%.40s\", not an audit seq; run custody "
                     "audit verify and report it", kvkey, v);
    free(v);
    return rc;
}

cust_code outbox_position(store *st, const outbox_sink *sink, int64_t *pos, struct err *e)
{
    char key[256];
    snprintf(key, sizeof key, "outbox.%s.%s", sink->kind, sink->target);
    return read_position(st, key, pos, e);
}

/* The audit rows after ob->scan: record entries become candidates. */
static int audit_row(void *ud, const store_row *r)
{
    struct scan *sc = ud;
    outbox *ob = sc->ob;
    struct cand *c;
    int64_t seq;
    json_value *d, *v;
    sc->rows++;
    if (r->ncols < AUD_NCOLS || !parse_i64(r->cols[AUD_SEQ], r->lens[AUD_SEQ], &seq)) {
        sc->rc = err_set(&sc->e, CUST_ESTORE, "an audit row after seq %" PRId64 " has no valid seq; run custody "
                         "audit verify", sc->last);
        return 1;
    }
    if (!r->cols[AUD_ACTION] || !is_record_action(r->cols[AUD_ACTION])) {
        sc->last = seq;
        return 0;
    }
    json_doc_reset(sc->doc);
    d = json_parse(sc->doc, r->cols[AUD_DETAIL], r->lens[AUD_DETAIL], NULL, NULL);
    v = d ? json_get(d, "version") : NULL;
    c = &ob->c[ob->nc];
    if (!v || v->type != JSON_NUMBER || !(v->flags & JSON_F_INT64) || v->i64 < 1) {
        sc->rc = err_set(&sc->e, CUST_ESTORE, "audit entry %" PRId64 " (%s) has no version in its detail; run "
                         "custody audit verify", seq, r->cols[AUD_ACTION]);
        return 1;
    }
    c->seq = seq;
    c->version = v->i64;
    c->action = strdup(r->cols[AUD_ACTION]);
    c->source = strndup(r->cols[AUD_SOURCE] ? r->cols[AUD_SOURCE] : "", r->lens[AUD_SOURCE]);
    c->key = strndup(r->cols[AUD_SUBJECT] ? r->cols[AUD_SUBJECT] : "", r->lens[AUD_SUBJECT]);
    ob->nc++;
    if (!c->action || !c->source || !c->key) {
        sc->rc = err_set(&sc->e, CUST_ENOMEM, "out of memory reading the audit log");
        return 1;
    }
    sc->last = seq;
    if (ob->nc == ob->cap) {
        sc->full = 1;
        return 1;
    }
    return 0;
}

struct find {
    const struct cand *c;
    outbox_msg *m;
    int found;
    cust_code rc;
    struct err e;
};

static int record_row(void *ud, const store_row *r)
{
    struct find *f = ud;
    int64_t v;
    if (r->ncols < REC_NCOLS || !parse_i64(r->cols[REC_VERSION], r->lens[REC_VERSION], &v) || v != f->c->version)
        return 0;
    f->found = 1;
    f->rc = outbox_envelope(&f->m->payload, f->c->action, f->c->seq, r, &f->e);
    return 1;
}

/* Build message i from candidate i. */
static cust_code build(outbox *ob, size_t i, struct err *e)
{
    const struct cand *c = &ob->c[i];
    outbox_msg *m = &ob->m[i];
    struct find f = {c, m, 0, CUST_OK, {0}};
    cust_code rc;
    buf_reset(&m->subject);
    buf_reset(&m->msg_id);
    buf_reset(&m->payload);
    m->seq = c->seq;
    m->acked = 0;
    m->why[0] = '\0';
    snprintf(m->seq_text, sizeof m->seq_text, "%" PRId64, c->seq);
    if ((rc = ob->st->ops->records_list(ob->st, c->source, c->key, 1, record_row, &f, e)))
        return rc;
    if (f.rc) {
        *e = f.e;
        return f.rc;
    }
    if (!f.found)
        return err_set(e, CUST_ESTORE, "audit entry %" PRId64 " (%s) names version %" PRId64 " of %s in source %s, "
                       "which the store does not hold; run custody audit verify", c->seq, c->action, c->version,
                       c->key, c->source);
    if (buf_addf(&m->subject, "%s.%s", ob->o.subject_prefix, c->source) ||
        outbox_msg_id(&m->msg_id, c->source, c->key, c->version))
        return err_set(e, CUST_ENOMEM, "out of memory building the message for audit entry %" PRId64, c->seq);
    return CUST_OK;
}

/* Move the stored position from ob->pos to `to` with its audit entry, in
 * one transaction. The stored value must still be ob->pos: a second
 * publisher on the same stream is refused, not raced. */
static cust_code advance(outbox *ob, int64_t to, long count, long dups, struct err *e)
{
    store *st = ob->st;
    int64_t stored = 0;
    char now[32], num[32];
    buf d;
    cust_code rc;
    store_audit a;
    buf_init(&d, 4096);
    if (buf_addf(&d, "{\"count\":%ld,\"duplicates\":%ld,\"from\":%" PRId64 ",\"sink\":", count, dups, ob->pos) ||
        json_write_string(&d, ob->sink->kind, strlen(ob->sink->kind)) || buf_adds(&d, ",\"stream\":") ||
        json_write_string(&d, ob->sink->target, strlen(ob->sink->target)) ||
        buf_addf(&d, ",\"to\":%" PRId64 "}", to)) {
        buf_release(&d);
        return err_set(e, CUST_ENOMEM, "out of memory");
    }
    ob->o.now(now);
    snprintf(num, sizeof num, "%" PRId64, to);
    a = (store_audit){now, ob->o.actor, "outbox.published", "", ob->sink->target, d.ptr, ""};
    if ((rc = st->ops->begin(st, e)))
        goto out;
    if ((rc = read_position(st, ob->kvkey, &stored, e)))
        goto fail;
    if (stored != ob->pos) {
        rc = err_set(e, CUST_EFENCED, "the outbox position of %s %s moved from %" PRId64 " to %" PRId64 " under this "
                     "process: another custody publish is running on the same stream; run one per stream (nothing "
                     "is lost: the broker drops what both sent)", ob->sink->kind, ob->sink->target, ob->pos, stored);
        goto fail;
    }
    if ((rc = st->ops->kv_put(st, "", ob->kvkey, num, e)) || (rc = st->ops->audit_append(st, &a, NULL, e)) ||
        (rc = st->ops->commit(st, e)))
        goto fail;
    ob->pos = to;
    if (ob->scan < to)
        ob->scan = to;
    goto out;
fail:
    st->ops->rollback(st);
out:
    buf_release(&d);
    return rc;
}

static void logf_(outbox *ob, const char *level, const char *event, const char *fields, const char *fmt, ...)
    CUST_PRINTF(5, 6);
static void logf_(outbox *ob, const char *level, const char *event, const char *fields, const char *fmt, ...)
{
    char msg[1200];
    va_list ap;
    if (!ob->o.log)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ob->o.log(ob->o.log_ud, level, event, fields, msg);
}

cust_code outbox_step(outbox *ob, outbox_report *r, int *more, struct err *e)
{
    struct scan sc = {0};
    cust_code rc;
    size_t n, k;
    long stored = 0, dups = 0;
    int64_t to;
    struct err pe = {0};
    *more = 0;
    if (!ob->loaded) {
        if ((rc = read_position(ob->st, ob->kvkey, &ob->pos, e)))
            return rc;
        ob->scan = ob->pos;
        ob->loaded = 1;
        r->start = r->position = ob->pos;
    }
    /* the sink first, even with nothing to send: a publisher that cannot
     * reach its broker says so now, not at the next record */
    if ((rc = ob->sink->connect(ob->sink->ctx, e)))
        return rc;
    cands_clear(ob);
    sc.ob = ob;
    sc.last = ob->scan;
    if (!(sc.doc = json_doc_new()))
        return err_set(e, CUST_ENOMEM, "out of memory");
    rc = ob->st->ops->audit_list_from(ob->st, ob->scan, SCAN_ROWS, audit_row, &sc, e);
    json_doc_free(sc.doc);
    if (!rc && sc.rc) {
        *e = sc.e;
        rc = sc.rc;
    }
    if (rc)
        return rc;
    *more = sc.full || sc.rows == SCAN_ROWS;
    n = ob->nc;
    if (n == 0) {
        ob->scan = sc.last;
        if (ob->scan - ob->pos >= SKIP_PERSIST) {
            if ((rc = advance(ob, ob->scan, 0, 0, e)))
                return rc;
            r->batches++;
        }
        r->position = ob->pos;
        return CUST_OK;
    }
    for (size_t i = 0; i < n; i++)
        if ((rc = build(ob, i, e)))
            return rc;
    rc = ob->sink->publish(ob->sink->ctx, ob->m, n, &pe);
    /* the acknowledged prefix: never past a message the sink did not confirm */
    for (k = 0; k < n && ob->m[k].acked; k++) {
        if (ob->m[k].acked == OUTBOX_DUPLICATE)
            dups++;
        else
            stored++;
    }
    to = k == n && rc == CUST_OK ? sc.last : k < n ? ob->m[k].seq - 1 : ob->m[n - 1].seq;
    /* a failed batch moves the position only over what was acknowledged
     * (a failure before the first PubAck writes nothing) */
    if (to > ob->pos && (stored + dups > 0 || to - ob->pos >= SKIP_PERSIST)) {
        cust_code arc = advance(ob, to, stored + dups, dups, e);
        if (arc)
            return arc; /* the store failed: what was sent is sent again next time, and dropped */
        r->batches++;
        r->published += stored;
        r->duplicates += dups;
        r->position = ob->pos;
        {
            char fields[256];
            snprintf(fields, sizeof fields, "\"stream\":\"%s\",\"count\":%ld,\"duplicates\":%ld,\"position\":%" PRId64,
                     ob->sink->target, stored + dups, dups, ob->pos);
            logf_(ob, "info", "outbox.published", fields, "%ld message(s) acknowledged by %s (%ld already there), "
                  "position %" PRId64, stored + dups, ob->sink->target, dups, ob->pos);
        }
    }
    if (rc) {
        *e = pe;
        if (k < n)
            err_prefix(e, "%zu of %zu message(s) acknowledged; the position stays at %" PRId64 ", before audit entry "
                       "%" PRId64 " (%s): ", k, n, ob->pos, ob->m[k].seq, buf_str(&ob->m[k].msg_id));
        if (rc == CUST_OK)
            rc = CUST_EHTTP;
        *more = 1;
        return rc;
    }
    if (k < n) { /* the sink said OK but did not confirm every message */
        *more = 1;
        return err_set(e, CUST_EHTTP, "%s %s acknowledged %zu of %zu message(s); the rest is sent again",
                       ob->sink->kind, ob->sink->target, k, n);
    }
    return CUST_OK;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleep up to ms, waking early when stopped or the deadline passes. */
static void nap(const outbox *ob, int64_t ms, int64_t deadline)
{
    int64_t end = mono_ms() + ms;
    if (deadline && end > deadline)
        end = deadline;
    for (;;) {
        int64_t left = end - mono_ms();
        struct timespec ts;
        if (left <= 0 || (ob->o.stop && *ob->o.stop))
            return;
        if (left > 100)
            left = 100;
        ts.tv_sec = 0;
        ts.tv_nsec = (long)left * 1000000L;
        nanosleep(&ts, NULL);
    }
}

static int final_failure(cust_code rc)
{
    return rc != CUST_EHTTP && rc != CUST_EUPSTREAM;
}

cust_code outbox_run(outbox *ob, outbox_report *r, struct err *e)
{
    int64_t deadline = ob->o.for_ms > 0 ? mono_ms() + ob->o.for_ms : 0;
    long failed = 0;
    for (;;) {
        int more = 0;
        cust_code rc;
        if (ob->o.stop && *ob->o.stop)
            return CUST_OK;
        if (deadline && mono_ms() >= deadline)
            return CUST_OK;
        rc = outbox_step(ob, r, &more, e);
        if (rc == CUST_OK) {
            if (failed)
                logf_(ob, "info", "outbox.recovered", NULL, "%s %s: publishing again after %ld failed attempt(s)",
                      ob->sink->kind, ob->sink->target, failed);
            failed = 0;
            if (more)
                continue;
            if (!ob->o.follow)
                return CUST_OK;
            nap(ob, ob->o.idle_ms > 0 ? ob->o.idle_ms : 1000, deadline);
            continue;
        }
        r->failures++;
        failed++;
        if (final_failure(rc) || (!ob->o.follow && failed >= ob->o.attempts))
            return rc;
        {
            int64_t ceil = BACKOFF_BASE_MS, delay;
            for (long i = 1; i < failed && ceil < ob->o.retry_max_ms; i++)
                ceil *= 2;
            if (ceil > ob->o.retry_max_ms)
                ceil = ob->o.retry_max_ms;
            delay = (int64_t)(policy_rand(&ob->rng) % (uint64_t)(ceil + 1));
            logf_(ob, "warn", "outbox.retry", NULL, "attempt %ld failed, retrying in %" PRId64 " ms: %s", failed,
                  delay, e->msg);
            err_clear(e);
            nap(ob, delay, deadline);
        }
    }
}
