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
#include "fetch.h"

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

/* Write the requests made so far (and why) into the open transaction. */
static cust_code flush_evidence(struct cycle *c, fetcher *f, struct err *e)
{
    fetch_evidence *ev;
    size_t n;
    cust_code rc = CUST_OK;
    fetcher_take_evidence(f, &ev, &n);
    for (size_t i = 0; i < n && !rc; i++)
        rc = audit(c, ev[i].action, ev[i].subject, ev[i].detail, e);
    fetch_evidence_free(ev, n);
    return rc;
}

static int64_t kv_int(store *st, const char *source, const char *key, struct err *e, cust_code *rc)
{
    char *v = NULL;
    int64_t out = 0;
    if ((*rc = st->ops->kv_get(st, source, key, &v, e)))
        return 0;
    if (v)
        out = strtoll(v, NULL, 10);
    free(v);
    return out;
}

/* The breaker as kept in the store: "state failures probes_ok opened_ms". */
static cust_code breaker_load(store *st, const char *source, breaker *b, struct err *e)
{
    char *v = NULL, name[16];
    cust_code rc;
    memset(b, 0, sizeof *b);
    if ((rc = st->ops->kv_get(st, source, "breaker", &v, e)) || !v)
        return rc;
    {
        char *p = v, *end;
        size_t n = strcspn(p, " ");
        if (n < sizeof name) {
            memcpy(name, p, n);
            name[n] = '\0';
            breaker_state_parse(name, &b->state);
        }
        p += n;
        b->failures = (int)strtol(p, &end, 10);
        p = end;
        b->probes_ok = (int)strtol(p, &end, 10);
        p = end;
        b->opened_ms = strtoll(p, &end, 10);
    }
    free(v);
    return CUST_OK;
}

static cust_code breaker_save(store *st, const char *source, const breaker *b, struct err *e)
{
    char v[96];
    snprintf(v, sizeof v, "%s %d %d %lld", breaker_state_name(b->state), b->failures, b->probes_ok,
             (long long)b->opened_ms);
    return st->ops->kv_put(st, source, "breaker", v, e);
}

static cust_code audit_breaker(struct cycle *c, breaker_state from, const breaker *b, const char *why, struct err *e)
{
    buf_reset(&c->detail);
    if (buf_addf(&c->detail, "{\"failures\":%d,\"from\":\"%s\",\"opened_ms\":%lld,\"to\":\"%s\",\"why\":",
                 b->failures, breaker_state_name(from), (long long)b->opened_ms, breaker_state_name(b->state)) ||
        json_write_string(&c->detail, why, strlen(why)) || buf_addc(&c->detail, '}'))
        return err_set(e, CUST_ENOMEM, "out of memory");
    return audit(c, "breaker.transition", "", c->detail.ptr, e);
}

static void iso_ms(int64_t ms, char out[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
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
    if (buf_addf(d, "\"fetched\":%ld,\"new\":%ld,\"new_versions\":%ld,%s\"pages\":%ld,\"quarantined\":%ld,"
                    "\"result\":\"%s\"}",
                 s->fetched, s->stored_new, s->new_versions, s->not_modified ? "\"not_modified\":true," : "",
                 s->pages, s->quarantined,
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

static int upstream_failure(cust_code rc)
{
    return rc == CUST_EHTTP || rc == CUST_EUPSTREAM || rc == CUST_EJSON || rc == CUST_ELIMIT;
}

cust_code poll_source(const config *cfg, const source_cfg *src, store *st, http_client *http,
                      const poll_opts *o, poll_summary *sum, struct err *e)
{
    struct cycle c;
    store_source_state state = {0};
    buf secret, query;
    const auth_scheme *scheme = auth_lookup(src->auth.type);
    fetcher f;
    int have_fetcher = 0;
    http_response resp;
    json_doc *doc = NULL;
    char *committed_pos = NULL; /* cursor as stored */
    char *pos = NULL;           /* position of the page being fetched */
    char *pending_pos = NULL;   /* cursor to store with the open transaction */
    char *cond_url = NULL, *cond_etag = NULL, *cond_lm = NULL;
    int in_tx = 0, pages_in_tx = 0, page_dirty = 0;
    int rolled_back = 0, not_modified = 0, primary_tried = 0;
    breaker brk;
    breaker_state brk_before;
    int64_t not_before = 0, now_ms;
    const fetch_clock *clk = o && o->fetch_clock ? o->fetch_clock : &fetch_clock_real;
    poll_summary at_commit; /* counters as of the last commit */
    double t0 = mono_now();
    cust_code rc = CUST_OK;
    struct err le = {0};

    memset(sum, 0, sizeof *sum);
    memset(&f, 0, sizeof f);
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
    buf_init(&query, 64 * 1024);
    http_response_init(&resp);
    resp.body.toobig = (size_t)src->max_body_bytes + 1;
    memset(&brk, 0, sizeof brk);
    brk_before = BREAKER_CLOSED;

    if (!(doc = json_doc_new()) || !(c.out_doc = json_doc_new())) {
        rc = err_set(e, CUST_ENOMEM, "out of memory");
        goto done;
    }
    if (scheme && scheme->needs_secret && (rc = config_read_secret(src, &secret, e)))
        goto done;
    if ((rc = fetcher_init(&f, src, http, secret.ptr, o ? o->pools : NULL, clk, e)))
        goto done;
    have_fetcher = 1;
    auth_wipe(&secret);
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
    if ((rc = breaker_load(st, src->name, &brk, e)))
        goto done;
    brk_before = brk.state;
    not_before = kv_int(st, src->name, "not_before_ms", e, &rc);
    if (rc)
        goto done;
    if (src->conditional &&
        ((rc = st->ops->kv_get(st, src->name, "cond_url", &cond_url, e)) ||
         (rc = st->ops->kv_get(st, src->name, "etag", &cond_etag, e)) ||
         (rc = st->ops->kv_get(st, src->name, "last_modified", &cond_lm, e))))
        goto done;
    c.clock(c.now);
    buf_reset(&c.detail);
    if ((rc = st->ops->begin(st, e)))
        goto done;
    in_tx = 1;
    if (buf_adds(&c.detail, "{\"config_hash\":\"") || buf_adds(&c.detail, cfg->hash) ||
        buf_adds(&c.detail, "\",\"cursor\":") ||
        (committed_pos ? json_write_string(&c.detail, committed_pos, strlen(committed_pos))
                       : buf_adds(&c.detail, "null")) ||
        (src->tls.insecure && buf_adds(&c.detail, ",\"tls_insecure\":true")) ||
        buf_addc(&c.detail, '}')) {
        rc = err_set(e, CUST_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = audit(&c, "poll.start", "", c.detail.ptr, e)))
        goto done;
    {
        /* a changed configuration is itself evidence: which rules applied */
        char *prev = NULL;
        if ((rc = st->ops->kv_get(st, src->name, "config_hash", &prev, e)))
            goto done;
        if (!prev || strcmp(prev, cfg->hash) != 0) {
            buf_reset(&c.detail);
            if (buf_adds(&c.detail, "{\"from\":") ||
                (prev ? json_write_string(&c.detail, prev, strlen(prev)) : buf_adds(&c.detail, "null")) ||
                buf_adds(&c.detail, ",\"path\":") || json_write_string(&c.detail, cfg->path, strlen(cfg->path)) ||
                buf_adds(&c.detail, ",\"to\":\"") || buf_adds(&c.detail, cfg->hash) || buf_adds(&c.detail, "\"}"))
                rc = err_set(e, CUST_ENOMEM, "out of memory");
            if (!rc)
                rc = audit(&c, "config.change", "", c.detail.ptr, e);
            if (!rc)
                rc = st->ops->kv_put(st, src->name, "config_hash", cfg->hash, e);
        }
        free(prev);
        if (rc)
            goto done;
    }
    if (src->tls.insecure) {
        fprintf(stderr, "custody: WARNING: source %s: TLS verification is OFF (request.tls.insecure); "
                        "anyone on the path can read and alter this feed. This is recorded in the audit log.\n",
                src->name);
        if ((rc = audit(&c, "tls.insecure", "", "{\"verify\":false}", e)))
            goto done;
    }
    /* The breaker and an upstream's "not before" are respected first. */
    now_ms = clk->now_ms(clk->ud);
    {
        int changed = 0;
        int allow = breaker_allow(&src->breaker_policy, &brk, now_ms, &changed);
        if (changed && (rc = audit_breaker(&c, brk_before, &brk, "cooldown over: probing", e)))
            goto done;
        if (changed && (rc = breaker_save(st, src->name, &brk, e)))
            goto done;
        brk_before = brk.state;
        if (!allow && !fetcher_skip_primary(&f)) {
            char until[32];
            iso_ms(brk.opened_ms + src->breaker_policy.cooldown_ms, until);
            rc = err_set(e, CUST_EUPSTREAM, "source %s: circuit breaker open after %d failed cycles; "
                         "skipped until %s (custody audit shows why; configure request.fallback for a mirror)",
                         src->name, brk.failures, until);
        } else if (allow) {
            primary_tried = 1;
        }
    }
    if (!rc && not_before > now_ms) {
        char until[32];
        iso_ms(not_before, until);
        rc = err_set(e, CUST_EUPSTREAM, "source %s: the upstream asked not to be called before %s "
                     "(Retry-After / rate-limit reset); skipped", src->name, until);
    }
    {
        cust_code crc = st->ops->commit(st, e);
        if (crc && !rc)
            rc = crc;
        in_tx = crc ? 1 : 0;
    }
    if (rc)
        goto done;

    for (;;) {
        page_step step = {0};
        json_value *body;
        char request_id[64];
        fetch_page_req frq = {0};
        int first = sum->pages == 0;

        if (src->max_pages && sum->pages >= src->max_pages)
            break;
        buf_reset(&query);
        if ((rc = src->pagination.ops->query(&src->pagination, pos, &query, e)))
            goto done;
        frq.query = query.len ? query.ptr : "";
        /* Conditional only for the first request, and only when it is the
         * very request the validators came from. */
        if (first && cond_url && f.endpoint == 0) {
            buf_reset(&c.detail);
            if (buf_adds(&c.detail, src->url) || buf_addc(&c.detail, '?') || buf_add(&c.detail, frq.query, strlen(frq.query))) {
                rc = err_set(e, CUST_ENOMEM, "out of memory");
                goto done;
            }
            if (strcmp(c.detail.ptr, cond_url) == 0) {
                frq.if_none_match = cond_etag;
                frq.if_modified_since = cond_etag ? NULL : cond_lm;
            }
        }
        snprintf(request_id, sizeof request_id, "%s-%ld", sum->cycle, sum->pages + 1);
        if ((rc = fetch_page(&f, &frq, &resp, doc, &body, e))) {
            err_prefix(e, "source %s: ", src->name);
            goto done;
        }
        if (resp.status == 304) {
            not_modified = 1;
            break;
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
        if ((rc = flush_evidence(&c, &f, e))) {
            page_step_release(&step);
            goto done;
        }
        if (first && src->conditional && f.endpoint == 0) {
            /* validators of this first page, for the next cycle */
            buf_reset(&c.detail);
            if (buf_adds(&c.detail, src->url) || buf_addc(&c.detail, '?') || buf_add(&c.detail, frq.query, strlen(frq.query)) ||
                (rc = st->ops->kv_put(st, src->name, "cond_url", c.detail.ptr, e)) ||
                (rc = st->ops->kv_put(st, src->name, "etag", resp.h[HTTP_H_ETAG], e)) ||
                (rc = st->ops->kv_put(st, src->name, "last_modified", resp.h[HTTP_H_LAST_MODIFIED], e))) {
                if (!rc)
                    rc = err_set(e, CUST_ENOMEM, "out of memory");
                page_step_release(&step);
                goto done;
            }
        }
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
    sum->not_modified = not_modified;
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
    /* Record the end of the cycle, with its outcome, the requests not yet
     * written and the breaker, in its own transaction. */
    {
        c.clock(c.now);
        if (summary_detail(sum, &c.detail, rc ? "error" : NULL, rc ? sum->error : NULL) == CUST_OK &&
            st->ops->begin(st, &le) == CUST_OK) {
            int64_t size;
            char root[65];
            cust_code brc = CUST_OK;
            buf endd;
            buf_init(&endd, 1u << 20);
            if (buf_add(&endd, c.detail.ptr, c.detail.len))
                brc = err_set(&le, CUST_ENOMEM, "out of memory");
            if (!brc && have_fetcher)
                brc = flush_evidence(&c, &f, &le);
            if (!brc && have_fetcher && primary_tried && src->breaker_policy.failures > 0) {
                int ok = !(f.primary_failed || upstream_failure(rc));
                breaker_state from = brk.state;
                int64_t t = clk->now_ms(clk->ud);
                if (breaker_record(&src->breaker_policy, &brk, ok, t))
                    brc = audit_breaker(&c, from, &brk, ok ? "probe cycles succeeded" :
                                        from == BREAKER_HALF_OPEN ? "probe cycle failed" :
                                        "consecutive failed cycles reached breaker.failures", &le);
                if (!brc)
                    brc = breaker_save(st, src->name, &brk, &le);
            }
            if (!brc && have_fetcher && f.not_before_ms > not_before) {
                char v[32];
                snprintf(v, sizeof v, "%lld", (long long)f.not_before_ms);
                brc = st->ops->kv_put(st, src->name, "not_before_ms", v, &le);
            }
            if (brc || audit(&c, "poll.end", "", endd.ptr, &le) ||
                st->ops->source_set_result(st, src->name, c.now, rc ? cust_strerror(rc) : "ok", &le) ||
                st->ops->checkpoint(st, c.now, o ? o->signer : NULL, &size, root, &le) || st->ops->commit(st, &le)) {
                st->ops->rollback(st);
                if (rc == CUST_OK) {
                    rc = sum->result = le.code ? le.code : CUST_ESTORE;
                    if (e)
                        *e = le;
                    snprintf(sum->error, sizeof sum->error, "%s", le.msg);
                }
            }
            buf_release(&endd);
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
    free(cond_url);
    free(cond_etag);
    free(cond_lm);
    if (have_fetcher)
        fetcher_release(&f);
    http_response_release(&resp);
    json_doc_free(doc);
    json_doc_free(c.out_doc);
    auth_wipe(&secret);
    buf_release(&query);
    buf_release(&c.scratch);
    buf_release(&c.key);
    buf_release(&c.errors);
    buf_release(&c.detail);
    buf_release(&c.recon);
    return rc;
}
