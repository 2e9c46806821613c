/* poll.c - a poll cycle. The transaction boundary is the page (or a group
 * of commit_pages pages): a page's records, rejections, the cursor after it
 * and their audit entries commit together or not at all. */
#include "poll.h"
#include "hook.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <fnmatch.h>
#include <errno.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/contract.h"
#include "core/jcs.h"
#include "core/json.h"
#include "core/tabular.h"
#include "core/timefmt.h"
#include "io/auth.h"
#include "fetch.h"
#include "recindex.h"

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

void poll_new_cycle_id(char out[33])
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
    /* snapshot: the keys seen this cycle */
    char **seen;
    size_t nseen, capseen;
    int track_seen;
};

static int seen_add(struct cycle *c, const char *key)
{
    if (c->nseen == c->capseen) {
        size_t cap = c->capseen ? c->capseen * 2 : 1024;
        char **nv = realloc(c->seen, cap * sizeof *nv);
        if (!nv)
            return -1;
        c->seen = nv;
        c->capseen = cap;
    }
    if (!(c->seen[c->nseen] = strdup(key)))
        return -1;
    c->nseen++;
    return 0;
}

static int cmp_strp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

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
static cust_code one_record(struct cycle *c, const json_value *raw, const char *raw_text, size_t raw_len,
                            const char *request_id, struct err *e)
{
    json_value *canon = NULL;
    char hash[65], raw_hash[65];
    int n;
    cust_code rc;

    buf_reset(&c->key);
    buf_reset(&c->errors);
    jcs_sha256_hex(raw_text, raw_len, raw_hash);
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
                           raw_hash, c->now, request_id, c->sum->cycle, c->cfg->hash, c->src->contract_hash};
        if ((rc = c->st->ops->record_put(c->st, &r, &out, &version, e)))
            return rc;
        if (c->track_seen) {
            buf_reset(&c->recon);
            if (buf_add(&c->recon, c->key.ptr, c->key.len) || buf_addc(&c->recon, '\x1f') ||
                buf_adds(&c->recon, hash) || seen_add(c, buf_str(&c->recon)))
                return err_set(e, CUST_ENOMEM, "out of memory");
        }
        if (out == STORE_DUPLICATE) {
            c->sum->duplicates++;
            return CUST_OK;
        }
        if ((rc = recindex_put(c->st, c->src, buf_str(&c->key), version, canon, e)))
            return rc;
        if (out == STORE_NEW)
            c->sum->stored_new++;
        else
            c->sum->new_versions++;
        buf_reset(&c->detail);
        if (buf_addf(&c->detail, "{\"contract\":\"%s\",\"hash\":\"%s\",\"raw_hash\":\"%s\",\"request\":\"%s\","
                                 "\"version\":%lld}",
                     c->src->contract_hash, hash, raw_hash, request_id, (long long)version))
            return err_set(e, CUST_ENOMEM, "out of memory");
        if ((rc = audit(c, out == STORE_NEW ? "record.new" : "record.version", buf_str(&c->key), c->detail.ptr, e)))
            return rc;
        if (out == STORE_NEW && c->src->webhook.scheme) {
            /* webhooks that came before their record apply now, in arrival order */
            long applied = 0;
            if ((rc = hook_release(c->cfg, c->src, c->st, buf_str(&c->key), c->now, c->actor, c->sum->cycle, &applied,
                                   e)))
                return rc;
            c->sum->hooks_applied += applied;
        }
        return CUST_OK;
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
        r = (store_reject){c->src->name, recon, raw_text, raw_len, buf_str(&c->errors),
                           c->now, request_id, c->sum->cycle, c->src->contract_hash};
        if ((rc = c->st->ops->reject_put(c->st, &r, &out, &id, e)))
            return rc;
        c->sum->quarantined++;
        if (out == STORE_DUPLICATE)
            return CUST_OK;
        c->sum->quarantine_new++;
        buf_reset(&c->detail);
        {
            char errors_hash[65];
            jcs_sha256_hex(c->errors.ptr ? c->errors.ptr : "", c->errors.len, errors_hash);
            if (buf_addf(&c->detail, "{\"contract\":\"%s\",\"errors\":%d,\"errors_hash\":\"%s\",\"quarantine_id\":%lld,"
                                     "\"raw_hash\":\"%s\",\"request\":\"%s\"}",
                         c->src->contract_hash, n, errors_hash, (long long)id, raw_hash, request_id))
                return err_set(e, CUST_ENOMEM, "out of memory");
        }
        return audit(c, "record.rejected", recon, c->detail.ptr, e);
    }
}

/* q/n as a JSON number in JCS form (at most 4 decimals, no trailing zeros) */
static const char *ratio_text(long q, long n)
{
    static _Thread_local char out[32];
    long per10k = (q * 10000 + n / 2) / n;
    size_t len;
    snprintf(out, sizeof out, "%ld.%04ld", per10k / 10000, per10k % 10000);
    len = strlen(out);
    while (out[len - 1] == '0')
        out[--len] = '\0';
    if (out[len - 1] == '.')
        out[--len] = '\0';
    return out;
}

static cust_code summary_detail(const poll_summary *s, buf *d, const char *extra_key, const char *extra)
{
    buf_reset(d);
    if (buf_addf(d, "{\"duplicates\":%ld,", s->duplicates))
        return CUST_ENOMEM;
    if (extra_key && (buf_addf(d, "\"%s\":", extra_key) || json_write_string(d, extra, strlen(extra)) ||
                      buf_addc(d, ',')))
        return CUST_ENOMEM;
    if (buf_addf(d, "\"fetched\":%ld,%s\"new\":%ld,\"new_versions\":%ld,%s\"pages\":%ld,\"quarantined\":%ld,",
                 s->fetched, s->interrupted ? "\"interrupted\":true," : "", s->stored_new, s->new_versions,
                 s->not_modified ? "\"not_modified\":true," : "",
                 s->pages, s->quarantined) ||
        /* the rejection ratio of the cycle, for alerting on spikes */
        (s->fetched && buf_addf(d, "\"rejection_ratio\":%s,", ratio_text(s->quarantined, s->fetched))) ||
        (s->removed && buf_addf(d, "\"removed\":%ld,", s->removed)) ||
        buf_addf(d, "\"result\":\"%s\"%s}", s->result == CUST_OK ? "ok" : cust_strerror(s->result),
                 s->snapshot_unchanged ? ",\"snapshot\":\"unchanged\"" : ""))
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

/* ---- snapshot: removals become tombstones ---------------------------------- */

struct latest {
    char **keys; /* latest versions that are not tombstones */
    size_t n, cap;
    int failed;
};

static int latest_row(void *ud, const store_row *row)
{
    struct latest *l = ud;
    if (row->lens[REC_CANONICAL] == 4 && memcmp(row->cols[REC_CANONICAL], "null", 4) == 0)
        return 0; /* already removed */
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 1024;
        char **nv = realloc(l->keys, cap * sizeof *nv);
        if (!nv)
            return l->failed = 1;
        l->keys = nv;
        l->cap = cap;
    }
    if (!(l->keys[l->n] = strdup(row->cols[REC_KEY])))
        return l->failed = 1;
    l->n++;
    return 0;
}

static int seen_has(const struct cycle *c, const char *key)
{
    size_t lo = 0, hi = c->nseen, kl = strlen(key);
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int r = strncmp(c->seen[mid], key, kl);
        if (r == 0)
            r = c->seen[mid][kl] == '\x1f' ? 0 : 1;
        if (r == 0)
            return 1;
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

/* At the end of a complete snapshot cycle, in its last transaction: the
 * fingerprint of the whole set, and a tombstone version (content "null",
 * audited record.removed) for every key that disappeared. */
static cust_code snapshot_finish(struct cycle *c, const char *request_id, int *unchanged, struct err *e)
{
    struct latest l = {0};
    char fphex[65], nullhash[65], *prev = NULL;
    buf all;
    cust_code rc = CUST_OK;
    long removed = 0;
    qsort(c->seen, c->nseen, sizeof *c->seen, cmp_strp);
    buf_init(&all, (size_t)1 << 34);
    for (size_t i = 0; i < c->nseen; i++)
        if (buf_adds(&all, c->seen[i]) || buf_addc(&all, '\n')) {
            buf_release(&all);
            return err_set(e, CUST_ENOMEM, "out of memory");
        }
    jcs_sha256_hex(all.ptr ? all.ptr : "", all.len, fphex);
    buf_release(&all);
    if ((rc = c->st->ops->kv_get(c->st, c->src->name, "snapshot_fp", &prev, e)))
        return rc;
    *unchanged = prev && strcmp(prev, fphex) == 0;
    free(prev);
    if (*unchanged)
        return CUST_OK;
    if ((rc = c->st->ops->records_list(c->st, c->src->name, NULL, 0, latest_row, &l, e)))
        goto out;
    if (l.failed) {
        rc = err_set(e, CUST_ENOMEM, "out of memory");
        goto out;
    }
    jcs_sha256_hex("null", 4, nullhash);
    for (size_t i = 0; i < l.n && !rc; i++) {
        store_record r;
        store_outcome out;
        int64_t version;
        if (seen_has(c, l.keys[i]))
            continue;
        r = (store_record){c->src->name, l.keys[i], nullhash, "null", 4, nullhash, c->now, request_id,
                           c->sum->cycle, c->cfg->hash, c->src->contract_hash};
        if ((rc = c->st->ops->record_put(c->st, &r, &out, &version, e)))
            break;
        buf_reset(&c->detail);
        if (buf_addf(&c->detail, "{\"contract\":\"%s\",\"hash\":\"%s\",\"raw_hash\":\"%s\",\"request\":\"%s\","
                                 "\"version\":%lld}",
                     c->src->contract_hash, nullhash, nullhash, request_id, (long long)version)) {
            rc = err_set(e, CUST_ENOMEM, "out of memory");
            break;
        }
        rc = audit(c, "record.removed", l.keys[i], c->detail.ptr, e);
        removed++;
    }
    if (!rc)
        rc = c->st->ops->kv_put(c->st, c->src->name, "snapshot_fp", fphex, e);
    c->sum->removed = removed;
out:
    for (size_t i = 0; i < l.n; i++)
        free(l.keys[i]);
    free(l.keys);
    return rc;
}

/* ---- incremental: the watermark ---------------------------------------------- */

static cust_code advance_watermark(struct cycle *c, int64_t seen_max, int64_t now_ms, struct err *e)
{
    const incremental_cfg *ic = &c->src->incremental;
    char *old = NULL;
    int64_t old_ms = INT64_MIN, to = seen_max;
    buf v;
    cust_code rc;
    if ((rc = c->st->ops->kv_get(c->st, c->src->name, "watermark", &old, e)))
        return rc;
    if (old && !timefmt_parse((time_format)ic->format, old, strlen(old), &old_ms))
        old_ms = INT64_MIN;
    if (ic->horizon_ms > 0 && to > now_ms - ic->horizon_ms)
        to = now_ms - ic->horizon_ms; /* the API may still fill in the hidden minutes */
    rc = c->st->ops->kv_put(c->st, c->src->name, "window_since", NULL, e);
    if (rc || to == INT64_MIN || to <= old_ms) {
        free(old);
        return rc;
    }
    buf_init(&v, 256);
    if (timefmt_format((time_format)ic->format, to, &v)) {
        free(old);
        return err_set(e, CUST_ENOMEM, "out of memory");
    }
    buf_reset(&c->detail);
    if (buf_adds(&c->detail, "{\"from\":") ||
        (old ? json_write_string(&c->detail, old, strlen(old)) : buf_adds(&c->detail, "null")) ||
        buf_adds(&c->detail, ",\"to\":") || json_write_string(&c->detail, v.ptr, v.len) || buf_addc(&c->detail, '}'))
        rc = err_set(e, CUST_ENOMEM, "out of memory");
    if (!rc)
        rc = c->st->ops->kv_put(c->st, c->src->name, "watermark", v.ptr, e);
    if (!rc)
        rc = audit(c, "watermark.advance", "", c->detail.ptr, e);
    free(old);
    buf_release(&v);
    return rc;
}

static cust_code clear_cursor(struct cycle *c, const char *old, struct err *e)
{
    cust_code rc = c->st->ops->source_set_cursor(c->st, c->src->name, NULL, e);
    if (rc)
        return rc;
    buf_reset(&c->detail);
    if (buf_adds(&c->detail, "{\"from\":") || json_write_string(&c->detail, old, strlen(old)) ||
        buf_adds(&c->detail, ",\"to\":null}"))
        return err_set(e, CUST_ENOMEM, "cursor too long");
    return audit(c, "cursor.advance", "", c->detail.ptr, e);
}

/* Put the record counters back to a committed state after a rollback. */
static void restore_counts(poll_summary *sum, const poll_summary *at)
{
    sum->pages = at->pages;
    sum->fetched = at->fetched;
    sum->stored_new = at->stored_new;
    sum->new_versions = at->new_versions;
    sum->duplicates = at->duplicates;
    sum->quarantined = at->quarantined;
    sum->quarantine_new = at->quarantine_new;
}

/* ---- file sources ------------------------------------------------------------ */

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int takeable(const char *name, const char *pattern)
{
    size_t n = strlen(name);
    if (name[0] == '.')
        return 0; /* hidden files and editors' temporaries */
    if ((n > 4 && strcmp(name + n - 4, ".tmp") == 0) || (n > 5 && strcmp(name + n - 5, ".part") == 0))
        return 0; /* an upload still being written */
    return fnmatch(pattern, name, FNM_PERIOD) == 0;
}

static cust_code read_file(const char *path, size_t max, buf *out, struct err *e)
{
    FILE *f = fopen(path, "rb");
    char chunk[65536];
    size_t n;
    buf_reset(out);
    if (!f)
        return err_setc(e, CUST_EIO, errno, "%s: cannot open: %s", path, strerror(errno));
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (out->len + n > max || buf_add(out, chunk, n)) {
            fclose(f);
            return err_set(e, CUST_ELIMIT, "%s: larger than request.max_body (%zu bytes); split it or raise "
                           "the cap", path, max);
        }
    if (ferror(f)) {
        int er = errno;
        fclose(f);
        return err_setc(e, CUST_EIO, er, "%s: read error: %s", path, strerror(er));
    }
    fclose(f);
    return CUST_OK;
}

/* Move an ingested file out of the drop directory; never overwrite. */
static void move_done(const source_cfg *src, const char *name, const char *sha)
{
    char from[4096], dir[4096], to[4200];
    snprintf(from, sizeof from, "%s/%s", src->files.dir, name);
    snprintf(dir, sizeof dir, "%s/%s", src->files.dir, src->files.done_dir);
    if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
        fprintf(stderr, "custody: warning: source %s: cannot create %s: %s; %s stays (it will not be "
                        "ingested twice)\n", src->name, dir, strerror(errno), name);
        return;
    }
    snprintf(to, sizeof to, "%s/%s", dir, name);
    if (access(to, F_OK) == 0)
        snprintf(to, sizeof to, "%s/%s.%.12s", dir, name, sha);
    if (rename(from, to) != 0)
        fprintf(stderr, "custody: warning: source %s: cannot move %s to %s: %s (it will not be ingested "
                        "twice)\n", src->name, from, to, strerror(errno));
}

/* One cycle of a file source: every takeable file in the drop directory,
 * oldest name first, each ingested once (by content hash) in its own
 * transaction through the same contract and commit path as API pages. */
static cust_code poll_files(struct cycle *c, json_doc *doc, buf *text, struct err *e)
{
    const source_cfg *src = c->src;
    store *st = c->st;
    DIR *d = opendir(src->files.dir);
    struct dirent *de;
    char **names = NULL;
    size_t n = 0, cap = 0;
    cust_code rc = CUST_OK, first_bad = CUST_OK;
    struct err bad = {0};
    buf raw;
    if (!d)
        return err_setc(e, CUST_EIO, errno, "source %s: files.dir %s: %s", src->name, src->files.dir,
                        strerror(errno));
    while ((de = readdir(d))) {
        char path[4096];
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", src->files.dir, de->d_name);
        if (!takeable(de->d_name, src->files.pattern) || stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
            continue;
        if (n == cap) {
            char **nv = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof *nv);
            if (!nv) {
                rc = err_set(e, CUST_ENOMEM, "out of memory");
                break;
            }
            names = nv;
        }
        if (!(names[n] = strdup(de->d_name))) {
            rc = err_set(e, CUST_ENOMEM, "out of memory");
            break;
        }
        n++;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, name_cmp);
    buf_init(&raw, 16u << 20);
    for (size_t i = 0; i < n && !rc; i++) {
        char path[4096], sha[65], request_id[96], *seen = NULL, kvkey[80];
        tabular_result tr = {0};
        tabular_opts to;
        struct err fe = {0};
        snprintf(path, sizeof path, "%s/%s", src->files.dir, names[i]);
        if ((rc = read_file(path, (size_t)src->max_body_bytes, text, e)))
            break;
        jcs_sha256_hex(text->ptr ? text->ptr : "", text->len, sha);
        snprintf(kvkey, sizeof kvkey, "file:%s", sha);
        if ((rc = st->ops->kv_get(st, src->name, kvkey, &seen, e)))
            break;
        if (seen) {
            /* the same bytes again (re-dropped, or moved after a crash) */
            free(seen);
            move_done(src, names[i], sha);
            continue;
        }
        tabular_opts_default(&to);
        to.delimiter = src->files.delimiter[0] == '\\' ? '\t' : src->files.delimiter[0];
        to.header = src->files.header;
        json_doc_reset(doc);
        if (tabular_parse(src->files.format ? TABULAR_JSONL : TABULAR_CSV, text->ptr ? text->ptr : "", text->len,
                          &to, doc, &tr, &fe)) {
            /* a malformed file stays where it is, named in the error; the
             * other files go on */
            if (!first_bad) {
                first_bad = fe.code == CUST_ENOMEM ? CUST_ENOMEM : CUST_EUPSTREAM;
                err_set(&bad, first_bad, "source %s: file %s (sha256 %.16s): %s; fix or replace the file, it "
                        "stays in %s", src->name, names[i], sha, fe.msg, src->files.dir);
            }
            c->clock(c->now);
            buf_reset(&c->detail);
            if (buf_adds(&c->detail, "{\"error\":") || json_write_string(&c->detail, fe.msg, strlen(fe.msg)) ||
                buf_adds(&c->detail, ",\"file\":") || json_write_string(&c->detail, names[i], strlen(names[i])) ||
                buf_addf(&c->detail, ",\"sha256\":\"%s\"}", sha) || (rc = st->ops->begin(st, e)) ||
                (rc = audit(c, "file.rejected", names[i], c->detail.ptr, e)) || (rc = st->ops->commit(st, e))) {
                if (!rc)
                    rc = err_set(e, CUST_ENOMEM, "out of memory");
                st->ops->rollback(st);
            }
            continue;
        }
        c->clock(c->now);
        snprintf(request_id, sizeof request_id, "%s-file-%zu", c->sum->cycle, i + 1);
        buf_reset(&c->detail);
        if (buf_adds(&c->detail, "{\"bytes\":") || buf_addf(&c->detail, "%zu,\"file\":", text->len) ||
            json_write_string(&c->detail, names[i], strlen(names[i])) ||
            buf_addf(&c->detail, ",\"records\":%zu,\"request\":\"%s\",\"sha256\":\"%s\"}", tr.n, request_id, sha)) {
            tabular_result_release(&tr);
            rc = err_set(e, CUST_ENOMEM, "out of memory");
            break;
        }
        if ((rc = st->ops->begin(st, e)) || (rc = audit(c, "file.ingest", names[i], c->detail.ptr, e))) {
            tabular_result_release(&tr);
            st->ops->rollback(st);
            break;
        }
        {
            poll_summary before = *c->sum;
            for (size_t k = 0; k < tr.n && !rc; k++) {
                const json_value *rec = tr.records->u.items[k];
                buf_reset(&raw);
                /* the row as a JSON object is what "received" means for a file */
                if ((rc = json_write(rec, &raw))) {
                    err_set(e, rc, "out of memory");
                    break;
                }
                c->sum->fetched++;
                if ((rc = one_record(c, rec, raw.ptr, raw.len, request_id, e)))
                    err_prefix(e, "source %s: file %s line %zu: ", src->name, names[i], tr.lines[k]);
            }
            json_doc_reset(c->out_doc);
            if (!rc)
                rc = st->ops->kv_put(st, src->name, kvkey, names[i], e);
            if (!rc)
                rc = st->ops->commit(st, e);
            if (rc) {
                st->ops->rollback(st);
                restore_counts(c->sum, &before); /* report only what committed */
            } else {
                c->sum->pages++;
            }
        }
        tabular_result_release(&tr);
        if (!rc)
            move_done(src, names[i], sha);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    buf_release(&raw);
    if (!rc && first_bad) {
        if (e)
            *e = bad;
        rc = first_bad;
    }
    return rc;
}

/* {since} in a body template: the window's bound as a JSON string, or null. */
static cust_code expand_since(const char *tmpl, const char *since, buf *out, struct err *e)
{
    const char *t = tmpl, *hit;
    buf_reset(out);
    while ((hit = strstr(t, "{since}"))) {
        if (buf_add(out, t, (size_t)(hit - t)) ||
            (since ? json_write_string(out, since, strlen(since)) : buf_adds(out, "null")))
            return err_set(e, CUST_ENOMEM, "request body too large");
        t = hit + 7;
    }
    if (buf_adds(out, t))
        return err_set(e, CUST_ENOMEM, "request body too large");
    return CUST_OK;
}

/* What identifies a page request for conditional requests: URL, query and body. */
static cust_code request_identity(const source_cfg *src, const fetch_page_req *frq, buf *out, struct err *e)
{
    buf_reset(out);
    if (buf_adds(out, frq->url ? frq->url : src->url) || buf_addc(out, '?') || buf_adds(out, frq->query) ||
        (frq->body && (buf_addc(out, '\n') || buf_add(out, frq->body, frq->body_len))) ||
        (!frq->body && src->body && (buf_addc(out, '\n') || buf_adds(out, src->body))))
        return err_set(e, CUST_ENOMEM, "out of memory");
    return CUST_OK;
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
    buf secret, fetched;
    page_request prq;
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
    int incr = src->incremental.param != NULL, restarted = 0;
    char *since = NULL;         /* the incremental lower bound of this window */
    int64_t wm_max = INT64_MIN; /* highest change time seen this cycle */
    paginate_cfg pcfg = src->pagination;
    buf bodyt, alone, ident; /* ident: the page request's identity, for conditional requests */
    int64_t not_before = 0, now_ms;
    const fetch_clock *clk = o && o->fetch_clock ? o->fetch_clock : &fetch_clock_real;
    poll_summary at_commit; /* counters as of the last commit */
    double t0 = mono_now();
    cust_code rc = CUST_OK;
    struct err le = {0};

    memset(sum, 0, sizeof *sum);
    memset(&f, 0, sizeof f);
    snprintf(sum->source, sizeof sum->source, "%s", src->name);
    poll_new_cycle_id(sum->cycle);
    at_commit = *sum;
    memset(&c, 0, sizeof c);
    c.cfg = cfg;
    c.src = src;
    c.st = st;
    c.sum = sum;
    c.actor = o && o->actor ? o->actor : cfg->actor;
    c.clock = o && o->clock ? o->clock : poll_clock_real;
    c.track_seen = src->snapshot;
    buf_init(&c.scratch, 64u << 20);
    buf_init(&c.key, 1u << 20);
    buf_init(&c.errors, 4u << 20);
    buf_init(&c.detail, 1u << 20);
    buf_init(&c.recon, 64u << 20);
    buf_init(&secret, 64 * 1024);
    buf_init(&fetched, 64 * 1024);
    buf_init(&bodyt, 16u << 20);
    buf_init(&alone, 64 * 1024);
    buf_init(&ident, 16u << 20);
    page_request_init(&prq);
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
    if (incr) {
        /* a window resumed mid-way keeps the bound it started with */
        if (committed_pos) {
            if ((rc = st->ops->kv_get(st, src->name, "window_since", &since, e)))
                goto done;
        } else {
            char *w = NULL;
            int64_t ms;
            if ((rc = st->ops->kv_get(st, src->name, "watermark", &w, e)))
                goto done;
            if (w && timefmt_parse((time_format)src->incremental.format, w, strlen(w), &ms)) {
                buf b;
                buf_init(&b, 256);
                ms -= src->incremental.lookback_ms + (src->incremental.inclusive ? 0 : 1);
                if (timefmt_format((time_format)src->incremental.format, ms, &b) == CUST_OK)
                    since = buf_take(&b);
                buf_release(&b);
            } else if (src->incremental.initial) {
                since = strdup(src->incremental.initial);
            }
            free(w);
        }
    }
    if (incr && src->body && src->pagination.in == PAGE_IN_BODY) {
        if ((rc = expand_since(src->body, since, &bodyt, e)))
            goto done;
        pcfg.body = bodyt.ptr;
    }
    c.clock(c.now);
    buf_reset(&c.detail);
    if ((rc = st->ops->begin(st, e)))
        goto done;
    in_tx = 1;
    if (incr && !committed_pos && (rc = st->ops->kv_put(st, src->name, "window_since", since, e)))
        goto done;
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
    /* this cycle writes index terms for src's index: fields only */
    if ((rc = recindex_sync(st, src, e)))
        goto done;
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

    if (src->files.dir) {
        rc = poll_files(&c, doc, &resp.body, e);
        goto done;
    }
    for (;;) {
        page_step step = {0};
        json_value *body;
        char request_id[64];
        fetch_page_req frq = {0};
        int first = sum->pages == 0;

        if (src->max_pages && sum->pages >= src->max_pages) {
            sum->more = 1;
            break;
        }
        if (o && o->stop && *o->stop) {
            /* a clean stop: what is applied is committed below, with the
             * cursor after it; the next cycle resumes there */
            sum->more = sum->interrupted = 1;
            break;
        }
        if ((rc = src->pagination.ops->request(&pcfg, pos, &prq, e)))
            goto done;
        /* the incremental window travels with every page, except beside a
         * page token the API wants alone (the token carries the query) */
        if (incr && src->pagination.in == PAGE_IN_QUERY && !prq.url && !(pos && src->pagination.token_alone)) {
            if ((since && ((prq.query.len && buf_addc(&prq.query, '&')) ||
                           paginate_urlencode(&prq.query, src->incremental.param) || buf_addc(&prq.query, '=') ||
                           paginate_urlencode(&prq.query, since))) ||
                (src->incremental.until &&
                 ((prq.query.len && buf_addc(&prq.query, '&')) ||
                  paginate_urlencode(&prq.query, src->incremental.until_param) || buf_addc(&prq.query, '=') ||
                  paginate_urlencode(&prq.query, src->incremental.until)))) {
                rc = err_set(e, CUST_ENOMEM, "query string too long");
                goto done;
            }
        }
        if (pos && pcfg.token_alone && !prq.url && pcfg.in == PAGE_IN_QUERY) {
            /* a page token travels alone: drop the configured URL's own query */
            buf_reset(&alone);
            if (buf_add(&alone, src->url, strcspn(src->url, "?#"))) {
                rc = err_set(e, CUST_ENOMEM, "URL too long");
                goto done;
            }
            frq.url = alone.ptr;
        } else {
            frq.url = prq.url;
        }
        frq.query = prq.query.len ? prq.query.ptr : "";
        frq.body = prq.body.len ? prq.body.ptr : NULL;
        frq.body_len = prq.body.len;
        frq.headers = prq.headers.len ? prq.headers.ptr : NULL;
        /* Conditional only for the first request, and only when it is the
         * very request the validators came from. */
        if (src->conditional && (rc = request_identity(src, &frq, &ident, e)))
            goto done;
        if (first && cond_url && f.endpoint == 0) {
            if (strcmp(ident.ptr, cond_url) == 0) {
                frq.if_none_match = cond_etag;
                frq.if_modified_since = cond_etag ? NULL : cond_lm;
            }
        }
        snprintf(request_id, sizeof request_id, "%s-%ld", sum->cycle, sum->pages + 1);
        if ((rc = fetch_page(&f, &frq, &resp, doc, &body, &fetched, e))) {
            int expired = pos && (resp.status == 410 || resp.status == 400 || resp.status == 422);
            if (expired && strcmp(src->on_expired, "restart") == 0 && !restarted) {
                /* documented recovery: start the cycle over from its first
                 * page; what comes again is deduplicated by key and hash */
                struct err ae = {0};
                restarted = 1;
                buf_reset(&c.detail);
                if (buf_adds(&c.detail, "{\"from\":") || json_write_string(&c.detail, pos, strlen(pos)) ||
                    buf_addf(&c.detail, ",\"status\":%ld,\"to\":null}", resp.status)) {
                    rc = err_set(e, CUST_ENOMEM, "out of memory");
                    goto done;
                }
                if (!in_tx && (rc = st->ops->begin(st, &ae)) == CUST_OK)
                    in_tx = 1;
                if (!in_tx || (rc = flush_evidence(&c, &f, &ae)) ||
                    (rc = audit(&c, "cursor.expired", "", c.detail.ptr, &ae))) {
                    if (e)
                        *e = ae;
                    goto done;
                }
                err_clear(e);
                rc = CUST_OK;
                free(pos);
                pos = NULL;
                continue;
            }
            if (expired)
                err_prefix(e, "source %s: the stored cursor was refused (HTTP %ld), likely expired; set "
                              "on_expired: restart to start over from the first page: ", src->name, resp.status);
            else
                err_prefix(e, "source %s: ", src->name);
            goto done;
        }
        if (resp.status == 304) {
            not_modified = 1;
            break;
        }
        {
            page_response prs = {body, resp.h[HTTP_H_LINK], fetched.ptr};
            rc = src->pagination.ops->parse(&src->pagination, pos, &prs, &step, e);
        }
        if (rc) {
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
        if (src->conditional && f.endpoint == 0) {
            /* validators of the page the next cycle starts with: the last
             * page fetched (where the cursor rests) wins */
            if ((rc = st->ops->kv_put(st, src->name, "cond_url", ident.ptr, e)) ||
                (rc = st->ops->kv_put(st, src->name, "etag", resp.h[HTTP_H_ETAG], e)) ||
                (rc = st->ops->kv_put(st, src->name, "last_modified", resp.h[HTTP_H_LAST_MODIFIED], e))) {
                page_step_release(&step);
                goto done;
            }
        }
        for (size_t i = 0; i < step.records->len; i++) {
            sum->fetched++;
            if (incr) {
                const json_value *t = json_path(step.records->u.items[i], src->incremental.field);
                int64_t ms;
                if (t && (t->type == JSON_STRING || t->type == JSON_NUMBER) &&
                    timefmt_parse((time_format)src->incremental.format, t->u.str, t->len, &ms) && ms > wm_max)
                    wm_max = ms;
            }
            const json_value *raw = step.records->u.items[i];
            if ((rc = one_record(&c, raw, resp.body.ptr + raw->src_off, raw->src_len, request_id, e))) {
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
        if (step.done && (incr || src->snapshot)) {
            if (incr) {
                /* the window is complete: the next cycle starts a new one
                 * from the highest change time seen, never past the horizon */
                free(pending_pos);
                pending_pos = NULL;
                if ((rc = advance_watermark(&c, wm_max, clk->now_ms(clk->ud), e)) ||
                    (committed_pos && (rc = clear_cursor(&c, committed_pos, e)))) {
                    page_step_release(&step);
                    goto done;
                }
                free(committed_pos);
                committed_pos = NULL;
            } else if ((rc = snapshot_finish(&c, request_id, &sum->snapshot_unchanged, e))) {
                page_step_release(&step);
                goto done;
            }
        }
        if (o && o->progress) {
            long long total = -1;
            const json_value *tv = pcfg.total ? json_path(body, pcfg.total) : NULL;
            if (tv && tv->type == JSON_NUMBER)
                total = strtoll(tv->u.str, NULL, 10);
            int by_pages = src->pagination_type && strcmp(src->pagination_type, "page") == 0;
            o->progress(o->progress_ud, sum, by_pages ? -1 : total, by_pages ? total : -1);
        }
        if (pages_in_tx >= src->commit_pages || step.done || (o && o->tx_wanted && o->tx_wanted(o->tx_ud)) ||
            (o && o->stop && *o->stop)) {
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
        if (step.done && step.window_full) {
            /* the API pages no further than max_offset: split the window on
             * the incremental field, starting the next one at the highest
             * change time seen (committed above with the watermark) */
            int64_t since_ms = INT64_MIN;
            buf b;
            page_step_release(&step);
            if (since)
                timefmt_parse((time_format)src->incremental.format, since, strlen(since), &since_ms);
            if (!incr) {
                rc = err_set(e, CUST_EUPSTREAM, "source %s: the next page lies past pagination.max_offset %ld, "
                             "which the API refuses; configure incremental so custody splits the window on the "
                             "change-time field", src->name, src->pagination.max_offset);
                goto done;
            }
            if (wm_max == INT64_MIN || wm_max <= since_ms) {
                rc = err_set(e, CUST_EUPSTREAM, "source %s: more than pagination.max_offset %ld records share "
                             "the same %s; the window cannot be split further (ask the vendor for a tie "
                             "breaker, or raise max_offset)", src->name, src->pagination.max_offset,
                             src->incremental.field);
                goto done;
            }
            buf_init(&b, 256);
            if (timefmt_format((time_format)src->incremental.format,
                               wm_max - (src->incremental.inclusive ? 0 : 1), &b)) {
                buf_release(&b);
                rc = err_set(e, CUST_ENOMEM, "out of memory");
                goto done;
            }
            free(since);
            since = buf_take(&b);
            buf_release(&b);
            if (src->body && src->pagination.in == PAGE_IN_BODY) {
                if ((rc = expand_since(src->body, since, &bodyt, e)))
                    goto done;
                pcfg.body = bodyt.ptr;
            }
            /* the new window's bound is stored before its first page, so
             * a crash inside it resumes with the same bound */
            c.clock(c.now);
            if ((rc = st->ops->begin(st, e)))
                goto done;
            in_tx = 1;
            if ((rc = st->ops->kv_put(st, src->name, "window_since", since, e)) || (rc = st->ops->commit(st, e)))
                goto done;
            in_tx = 0;
            free(pos);
            pos = NULL;
            continue;
        }
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
        restore_counts(sum, &at_commit); /* report only what was committed */
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
            /* a cycle cut short by a shutdown request says nothing about the upstream */
            int stopped = rc != CUST_OK && o && o->stop && *o->stop;
            if (!brc && have_fetcher && primary_tried && src->breaker_policy.failures > 0 && !stopped) {
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
            if (!brc)
                brc = st->ops->kv_put(st, src->name, "last_summary", endd.ptr, &le); /* for custody status */
            if (!brc && rc == CUST_OK)
                brc = st->ops->kv_put(st, src->name, "last_ok_at", c.now, &le); /* staleness alerts */
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
    sum->breaker_open = brk.state == BREAKER_OPEN;
    store_source_state_release(&state);
    free(committed_pos);
    free(pending_pos);
    free(pos);
    free(cond_url);
    free(since);
    for (size_t i = 0; i < c.nseen; i++)
        free(c.seen[i]);
    free(c.seen);
    buf_release(&bodyt);
    buf_release(&alone);
    buf_release(&ident);
    free(cond_etag);
    free(cond_lm);
    if (have_fetcher)
        fetcher_release(&f);
    http_response_release(&resp);
    json_doc_free(doc);
    json_doc_free(c.out_doc);
    auth_wipe(&secret);
    buf_release(&fetched);
    page_request_release(&prq);
    buf_release(&c.scratch);
    buf_release(&c.key);
    buf_release(&c.errors);
    buf_release(&c.detail);
    buf_release(&c.recon);
    return rc;
}
