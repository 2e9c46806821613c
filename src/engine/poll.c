/* poll.c - a poll cycle. The transaction boundary is the page (or a group
 * of commit_pages pages): a page's records, rejections, the cursor after it
 * and their audit entries commit together or not at all. */
#include "poll.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/contract.h"
#include "core/jcs.h"
#include "core/json.h"
#include "io/auth.h"

void poll_clock_real(char out[32])
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03dZ", (int)(ts.tv_nsec / 1000000) % 1000);
}

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void new_cycle_id(char out[33])
{
    unsigned char r[16];
    if (RAND_bytes(r, sizeof r) != 1) {
        /* Correlation ids need uniqueness, not secrecy. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        for (size_t i = 0; i < sizeof r; i++)
            r[i] = (unsigned char)((ts.tv_nsec >> (i % 4 * 8)) ^ (getpid() >> (i % 2 * 8)) ^ i);
    }
    for (size_t i = 0; i < sizeof r; i++)
        snprintf(out + 2 * i, 3, "%02x", r[i]);
}

struct cycle {
    const config *cfg;
    const source_cfg *src;
    store *st;
    poll_summary *sum;
    const char *actor;
    poll_clock clock;
    char now[32];
    buf scratch;  /* canonical JCS */
    buf key;
    buf errors;
    buf detail;
    buf recon;
    json_doc *out_doc;
};

static cust_code audit(struct cycle *c, const char *action, const char *subject, const char *detail,
                       struct err *e)
{
    store_audit a = {c->now, c->actor, action, c->src->name, subject ? subject : "",
                     detail ? detail : "{}", c->sum->cycle};
    return c->st->ops->audit_append(c->st, &a, NULL, e);
}

/* Handle one record: store it, count it, audit what changed. */
static cust_code one_record(struct cycle *c, const json_value *raw, const char *body,
                            const char *request_id, struct err *e)
{
    json_value *canon = NULL;
    char hash[65], raw_hash[65];
    int n;
    cust_code rc;

    buf_reset(&c->key);
    buf_reset(&c->errors);
    jcs_sha256_hex(body + raw->src_off, raw->src_len, raw_hash);
    n = contract_apply(c->src->contract, raw, c->out_doc, &canon, &c->key, &c->errors, e);
    if (n < 0)
        return e->code ? e->code : CUST_ENOMEM;
    if (n == 0) {
        store_record r;
        store_outcome out;
        int64_t version;
        buf_reset(&c->scratch);
        if ((rc = jcs_write(canon, &c->scratch, e)))
            return rc;
        jcs_sha256_hex(c->scratch.ptr, c->scratch.len, hash);
        r = (store_record){c->src->name, buf_str(&c->key), hash, c->scratch.ptr, c->scratch.len,
                           raw_hash, c->now, request_id, c->sum->cycle, c->cfg->hash};
        if ((rc = c->st->ops->record_put(c->st, &r, &out, &version, e)))
            return rc;
        if (out == STORE_DUPLICATE) {
            c->sum->duplicates++;
            return CUST_OK;
        }
        if (out == STORE_NEW)
            c->sum->stored_new++;
        else
            c->sum->new_versions++;
        buf_reset(&c->detail);
        if (buf_addf(&c->detail, "{\"hash\":\"%s\",\"raw_hash\":\"%s\",\"request\":\"%s\",\"version\":%lld}",
                     hash, raw_hash, request_id, (long long)version))
            return err_set(e, CUST_ENOMEM, "out of memory");
        return audit(c, out == STORE_NEW ? "record.new" : "record.version", buf_str(&c->key),
                     c->detail.ptr, e);
    }
    /* Rejected: keep the raw bytes and the errors; the reconciliation key
     * is the SHA-256 of the raw record's JCS, or, when the raw record is
     * not I-JSON and has no JCS form, of its bytes. */
    {
        store_reject r;
        store_outcome out;
        int64_t id;
        char recon[65];
        struct err je = {0};
        buf_reset(&c->recon);
        if (jcs_write(raw, &c->recon, &je) == CUST_OK)
            jcs_sha256_hex(c->recon.ptr, c->recon.len, recon);
        else
            memcpy(recon, raw_hash, sizeof recon);
        r = (store_reject){c->src->name, recon, body + raw->src_off, raw->src_len, buf_str(&c->errors),
                           c->now, request_id, c->sum->cycle};
        if ((rc = c->st->ops->reject_put(c->st, &r, &out, &id, e)))
            return rc;
        c->sum->quarantined++;
        if (out == STORE_DUPLICATE)
            return CUST_OK;
        c->sum->quarantine_new++;
        buf_reset(&c->detail);
        if (buf_addf(&c->detail, "{\"errors\":%d,\"quarantine_id\":%lld,\"raw_hash\":\"%s\",\"request\":\"%s\"}",
                     n, (long long)id, raw_hash, request_id))
            return err_set(e, CUST_ENOMEM, "out of memory");
        return audit(c, "record.rejected", recon, c->detail.ptr, e);
    }
}

static cust_code summary_detail(const poll_summary *s, buf *d, const char *extra_key, const char *extra)
{
    buf_reset(d);
    if (buf_addf(d, "{\"duplicates\":%ld,", s->duplicates))
        return CUST_ENOMEM;
    if (extra_key && (buf_addf(d, "\"%s\":", extra_key) || json_write_string(d, extra, strlen(extra)) ||
                      buf_addc(d, ',')))
        return CUST_ENOMEM;
    if (buf_addf(d, "\"fetched\":%ld,\"new\":%ld,\"new_versions\":%ld,\"pages\":%ld,\"quarantined\":%ld,"
                    "\"result\":\"%s\"}",
                 s->fetched, s->stored_new, s->new_versions, s->pages, s->quarantined,
                 s->result == CUST_OK ? "ok" : cust_strerror(s->result)))
        return CUST_ENOMEM;
    return CUST_OK;
}

static cust_code set_cursor(struct cycle *c, const char *old, const char *now_pos, struct err *e)
{
    cust_code rc;
    if (!now_pos || (old && strcmp(old, now_pos) == 0))
        return CUST_OK;
    if ((rc = c->st->ops->source_set_cursor(c->st, c->src->name, now_pos, e)))
        return rc;
    buf_reset(&c->detail);
    if (buf_adds(&c->detail, "{\"from\":") ||
        (old ? json_write_string(&c->detail, old, strlen(old)) : buf_adds(&c->detail, "null")) ||
        buf_adds(&c->detail, ",\"to\":") || json_write_string(&c->detail, now_pos, strlen(now_pos)) ||
        buf_addc(&c->detail, '}'))
        return err_set(e, CUST_ENOMEM, "cursor too long");
    return audit(c, "cursor.advance", "", c->detail.ptr, e);
}

cust_code poll_source(const config *cfg, const source_cfg *src, store *st, http_client *http,
                      const poll_opts *o, poll_summary *sum, struct err *e)
{
    struct cycle c;
    store_source_state state = {0};
    buf secret, authz, query, url;
    const auth_scheme *scheme = auth_lookup(src->auth.type);
    const char *headers[2] = {NULL, NULL};
    http_response resp;
    json_doc *doc = NULL;
    char *committed_pos = NULL; /* cursor as stored */
    char *pos = NULL;           /* position of the page being fetched */
    char *pending_pos = NULL;   /* cursor to store with the open transaction */
    int in_tx = 0, pages_in_tx = 0, page_dirty = 0;
    int rolled_back = 0;
    poll_summary at_commit; /* counters as of the last commit */
    double t0 = mono_now();
    cust_code rc = CUST_OK;
    struct err le = {0};

    memset(sum, 0, sizeof *sum);
    snprintf(sum->source, sizeof sum->source, "%s", src->name);
    new_cycle_id(sum->cycle);
    at_commit = *sum;
    memset(&c, 0, sizeof c);
    c.cfg = cfg;
    c.src = src;
    c.st = st;
    c.sum = sum;
    c.actor = o && o->actor ? o->actor : cfg->actor;
    c.clock = o && o->clock ? o->clock : poll_clock_real;
    buf_init(&c.scratch, 64u << 20);
    buf_init(&c.key, 1u << 20);
    buf_init(&c.errors, 4u << 20);
    buf_init(&c.detail, 1u << 20);
    buf_init(&c.recon, 64u << 20);
    buf_init(&secret, 64 * 1024);
    buf_init(&authz, 64 * 1024);
    buf_init(&query, 64 * 1024);
    buf_init(&url, 64 * 1024);
    http_response_init(&resp);
    resp.body.toobig = (size_t)src->max_body_bytes + 1;

    if (!(doc = json_doc_new()) || !(c.out_doc = json_doc_new())) {
        rc = err_set(e, CUST_ENOMEM, "out of memory");
        goto done;
    }
    if (scheme && scheme->needs_secret) {
        if ((rc = config_read_secret(src, &secret, e)) || (rc = scheme->header(secret.ptr, &authz, e)))
            goto done;
        headers[0] = authz.ptr;
    }
    if ((rc = st->ops->source_get(st, src->name, &state, e)))
        goto done;
    if (state.cursor && !(committed_pos = strdup(state.cursor))) {
        rc = err_set(e, CUST_ENOMEM, "out of memory");
        goto done;
    }
    if (committed_pos && !(pos = strdup(committed_pos))) {
        rc = err_set(e, CUST_ENOMEM, "out of memory");
        goto done;
    }
    c.clock(c.now);
    buf_reset(&c.detail);
    if ((rc = st->ops->begin(st, e)))
        goto done;
    in_tx = 1;
    if (buf_adds(&c.detail, "{\"config_hash\":\"") || buf_adds(&c.detail, cfg->hash) ||
        buf_adds(&c.detail, "\",\"cursor\":") ||
        (committed_pos ? json_write_string(&c.detail, committed_pos, strlen(committed_pos))
                       : buf_adds(&c.detail, "null")) ||
        buf_addc(&c.detail, '}')) {
        rc = err_set(e, CUST_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = audit(&c, "poll.start", "", c.detail.ptr, e)) || (rc = st->ops->commit(st, e)))
        goto done;
    in_tx = 0;

    for (;;) {
        page_step step = {0};
        json_value *body;
        char request_id[64];
        struct err pe = {0};

        if (src->max_pages && sum->pages >= src->max_pages)
            break;
        buf_reset(&query);
        buf_reset(&url);
        if ((rc = src->pagination.ops->query(&src->pagination, pos, &query, e)))
            goto done;
        if (buf_adds(&url, src->url) ||
            (query.len && (buf_addc(&url, strchr(src->url, '?') ? '&' : '?') || buf_adds(&url, query.ptr)))) {
            rc = err_set(e, CUST_ENOMEM, "URL too long");
            goto done;
        }
        snprintf(request_id, sizeof request_id, "%s-%ld", sum->cycle, sum->pages + 1);
        if ((rc = http_get(http, &(http_request){url.ptr, headers, src->connect_timeout_ms,
                                                 src->total_timeout_ms, (size_t)src->max_body_bytes},
                           &resp, e))) {
            err_prefix(e, "source %s: ", src->name);
            goto done;
        }
        if (resp.status != 200) {
            char where[512];
            http_url_for_log(url.ptr, where, sizeof where);
            rc = err_set(e, CUST_EUPSTREAM, "source %s: GET %s: HTTP %ld%s%s; the cursor stays at the last "
                         "committed page, the next poll resumes there",
                         src->name, where, resp.status, resp.status == 401 || resp.status == 403
                             ? " (credentials refused: check the token behind auth.token_env/token_file)" : "",
                         resp.retry_after ? " (upstream asks to retry later)" : "");
            goto done;
        }
        json_doc_reset(doc);
        body = json_parse(doc, resp.body.ptr ? resp.body.ptr : "", resp.body.len, NULL, &pe);
        if (!body) {
            rc = err_set(e, pe.code ? pe.code : CUST_EJSON,
                         "source %s: page %ld (request %s): response is not valid JSON: %s", src->name,
                         sum->pages + 1, request_id, pe.msg);
            goto done;
        }
        if ((rc = src->pagination.ops->parse(&src->pagination, pos, body, &step, e))) {
            err_prefix(e, "source %s: page %ld: ", src->name, sum->pages + 1);
            page_step_release(&step);
            goto done;
        }
        c.clock(c.now);
        if (!in_tx) {
            if ((rc = st->ops->begin(st, e))) {
                page_step_release(&step);
                goto done;
            }
            in_tx = 1;
        }
        page_dirty = 1;
        for (size_t i = 0; i < step.records->len; i++) {
            sum->fetched++;
            if ((rc = one_record(&c, step.records->u.items[i], resp.body.ptr, request_id, e))) {
                err_prefix(e, "source %s: record %zu of page %ld: ", src->name, i, sum->pages + 1);
                page_step_release(&step);
                goto done;
            }
        }
        json_doc_reset(c.out_doc);
        sum->pages++;
        pages_in_tx++;
        page_dirty = 0;
        if (step.resume) {
            free(pending_pos);
            pending_pos = step.resume;
            step.resume = NULL;
        }
        if (pages_in_tx >= src->commit_pages || step.done) {
            if ((rc = set_cursor(&c, committed_pos, pending_pos, e)) || (rc = st->ops->commit(st, e))) {
                page_step_release(&step);
                goto done;
            }
            in_tx = 0;
            pages_in_tx = 0;
            at_commit = *sum;
            if (pending_pos) {
                free(committed_pos);
                committed_pos = pending_pos;
                pending_pos = NULL;
            }
        }
        free(pos);
        pos = step.next;
        step.next = NULL;
        if (step.done) {
            page_step_release(&step);
            break;
        }
        page_step_release(&step);
    }

done:
    /* Complete pages of an open group are kept when a later page fails to
     * arrive: their records and the cursor after them are consistent. A
     * page that failed half-applied takes its whole group down with it. */
    if (in_tx && rc != CUST_OK && rc != CUST_ESTORE && pages_in_tx > 0 && !page_dirty) {
        struct err ce = {0};
        if (set_cursor(&c, committed_pos, pending_pos, &ce) || st->ops->commit(st, &ce)) {
            st->ops->rollback(st);
            rolled_back = 1;
        } else {
            in_tx = 0;
        }
    } else if (in_tx && rc != CUST_OK) {
        st->ops->rollback(st);
        rolled_back = 1;
        in_tx = 0;
    }
    if (rolled_back) {
        /* Report only what was committed. */
        sum->pages = at_commit.pages;
        sum->fetched = at_commit.fetched;
        sum->stored_new = at_commit.stored_new;
        sum->new_versions = at_commit.new_versions;
        sum->duplicates = at_commit.duplicates;
        sum->quarantined = at_commit.quarantined;
        sum->quarantine_new = at_commit.quarantine_new;
    } else if (in_tx) {
        /* max_pages stop inside a group */
        cust_code r2 = set_cursor(&c, committed_pos, pending_pos, e);
        if (r2 || (r2 = st->ops->commit(st, e))) {
            st->ops->rollback(st);
            rolled_back = 1;
            rc = r2;
        }
        in_tx = 0;
    }
    if (in_tx)
        st->ops->rollback(st);
    sum->seconds = mono_now() - t0;
    sum->result = rc;
    if (rc)
        snprintf(sum->error, sizeof sum->error, "%s", e ? e->msg : cust_strerror(rc));
    /* Nothing silently dropped: every fetched record is accounted for. */
    if (rc == CUST_OK &&
        sum->fetched != sum->stored_new + sum->new_versions + sum->duplicates + sum->quarantined) {
        rc = sum->result = err_set(e, CUST_ESTORE, "source %s: internal accounting error: %ld fetched but "
                                   "%ld stored + %ld versions + %ld duplicates + %ld quarantined",
                                   src->name, sum->fetched, sum->stored_new, sum->new_versions,
                                   sum->duplicates, sum->quarantined);
    }
    /* Record the end of the cycle, with its outcome, in its own transaction. */
    {
        c.clock(c.now);
        if (summary_detail(sum, &c.detail, rc ? "error" : NULL, rc ? sum->error : NULL) == CUST_OK &&
            st->ops->begin(st, &le) == CUST_OK) {
            int64_t size;
            char root[65];
            if (audit(&c, "poll.end", "", c.detail.ptr, &le) ||
                st->ops->source_set_result(st, src->name, c.now, rc ? cust_strerror(rc) : "ok", &le) ||
                st->ops->checkpoint(st, c.now, &size, root, &le) || st->ops->commit(st, &le)) {
                st->ops->rollback(st);
                if (rc == CUST_OK) {
                    rc = sum->result = le.code ? le.code : CUST_ESTORE;
                    if (e)
                        *e = le;
                    snprintf(sum->error, sizeof sum->error, "%s", le.msg);
                }
            }
        } else if (rc == CUST_OK) {
            rc = sum->result = le.code ? le.code : CUST_ESTORE;
            if (e)
                *e = le;
            snprintf(sum->error, sizeof sum->error, "%s", le.msg);
        }
    }
    store_source_state_release(&state);
    free(committed_pos);
    free(pending_pos);
    free(pos);
    http_response_release(&resp);
    json_doc_free(doc);
    json_doc_free(c.out_doc);
    auth_wipe(&secret);
    auth_wipe(&authz);
    buf_release(&query);
    buf_release(&url);
    buf_release(&c.scratch);
    buf_release(&c.key);
    buf_release(&c.errors);
    buf_release(&c.detail);
    buf_release(&c.recon);
    return rc;
}
