/* verify.c - recompute what the store claims. The audit log is the anchor:
 * its leaves chain into checkpoint roots, and its record.* entries carry the
 * content hash of each record version and the raw hash of each rejection,
 * so an edit to any of the three tables shows up here. */
#include "verify.h"
#include "io/sign.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/jcs.h"
#include "core/json.h"
#include "core/merkle.h"

struct ckp {
    long long size;
    char root[65];
    char time[40];
};

struct claims {
    char **v;
    size_t n, cap;
    unsigned char *used;
};

struct vctx {
    const struct sign_key *key;
    verify_report *r;
    struct err *e;
    struct ckp *ckps;
    size_t nckps, next_ckp;
    merkle_frontier f;
    buf entry, canon;
    json_doc *doc;          /* parsed audit details and records, reused */
    struct claims recs, rejs, purges, cycles;
    int ckp_here;           /* a checkpoint was matched at the current tree size */
    int failed;
};

/* A claim is its fields joined by 0x1f: what the log says a row holds. */
static int claim_addv(struct claims *c, const char *const *f, int n)
{
    buf s;
    if (c->n == c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 1024;
        char **nv = realloc(c->v, ncap * sizeof *nv);
        if (!nv)
            return -1;
        c->v = nv;
        c->cap = ncap;
    }
    buf_init(&s, 1 << 22);
    for (int i = 0; i < n; i++)
        if ((i && buf_addc(&s, '\x1f')) || buf_adds(&s, f[i] ? f[i] : "")) {
            buf_release(&s);
            return -1;
        }
    c->v[c->n++] = buf_take(&s);
    return 0;
}

static int cmpstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void claims_free(struct claims *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->v[i]);
    free(c->v);
    free(c->used);
}

static int fail(struct vctx *v, long seq, const char *fmt, ...) CUST_PRINTF(3, 4);
static int fail(struct vctx *v, long seq, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    v->e->code = CUST_EAUDIT;
    vsnprintf(v->e->msg, sizeof v->e->msg, fmt, ap);
    va_end(ap);
    v->r->bad_seq = seq;
    v->failed = 1;
    return 1;
}

/* Parse text into v->doc (valid until the next call) and set *ok when it
 * is exactly its own RFC 8785 form; NULL when it is not JSON. */
static json_value *parse_canonical(struct vctx *v, const char *text, size_t len, int *ok)
{
    json_value *j;
    *ok = 0;
    json_doc_reset(v->doc);
    j = json_parse(v->doc, text, len, NULL, NULL);
    buf_reset(&v->canon);
    if (j && jcs_write(j, &v->canon, NULL) == CUST_OK)
        *ok = v->canon.len == len && memcmp(v->canon.ptr, text, len) == 0;
    return j;
}

/* 1 when text is exactly its own RFC 8785 form. */
static int is_canonical(struct vctx *v, const char *text, size_t len)
{
    int ok;
    parse_canonical(v, text, len, &ok);
    return ok;
}

static int audit_row(void *ud, const store_row *row)
{
    struct vctx *v = ud;
    long long seq = strtoll(row->cols[AUD_SEQ], NULL, 10);
    unsigned char leaf[MERKLE_HASH];
    char hex[65];
    store_audit a;
    json_value *j; /* the parsed detail, in v->doc */
    int canonical;
    for (int i = 0; i < AUD_NCOLS; i++)
        if (!row->cols[i])
            return fail(v, (long)seq, "audit entry %lld has an empty column %d", seq, i);
    if (seq != (long long)v->f.size + 1)
        return fail(v, (long)seq, "audit entry %lld follows entry %llu: entries are missing or reordered",
                    seq, (unsigned long long)v->f.size);
    a = (store_audit){row->cols[AUD_TIME], row->cols[AUD_ACTOR], row->cols[AUD_ACTION], row->cols[AUD_SOURCE],
                      row->cols[AUD_SUBJECT], row->cols[AUD_DETAIL], row->cols[AUD_CYCLE]};
    j = parse_canonical(v, a.detail, row->lens[AUD_DETAIL], &canonical);
    if (!canonical)
        return fail(v, (long)seq, "audit entry %lld: detail is not canonical JSON (altered after writing)", seq);
    if (store_audit_entry_bytes(seq, &a, &v->entry, v->e))
        return fail(v, (long)seq, "audit entry %lld: %s", seq, v->e->msg);
    merkle_leaf_hash(v->entry.ptr, v->entry.len, leaf);
    merkle_hex(leaf, hex);
    if (strcmp(hex, row->cols[AUD_LEAF]) != 0)
        return fail(v, (long)seq, "audit entry %lld (%s %s): its content does not match its leaf hash: the "
                    "entry was altered after it was written", seq, a.action, a.subject);
    merkle_frontier_push(&v->f, leaf);
    v->ckp_here = 0;
    while (v->next_ckp < v->nckps && v->ckps[v->next_ckp].size == (long long)v->f.size) {
        /* a checkpoint is written with the entry that closes its size */
        if (strcmp(v->ckps[v->next_ckp].time, a.time) != 0)
            return fail(v, (long)seq, "checkpoint at tree size %lld: its time %s differs from the time %s of the "
                        "entry it closes: the checkpoint was altered",
                        v->ckps[v->next_ckp].size, v->ckps[v->next_ckp].time, a.time);
        v->ckp_here = 1;
        unsigned char root[MERKLE_HASH];
        merkle_frontier_root(&v->f, root);
        merkle_hex(root, hex);
        if (strcmp(hex, v->ckps[v->next_ckp].root) != 0)
            return fail(v, (long)seq, "checkpoint at tree size %lld: recomputed root %s differs from the "
                        "recorded %s: the log or the checkpoint was altered",
                        v->ckps[v->next_ckp].size, hex, v->ckps[v->next_ckp].root);
        v->next_ckp++;
    }
    if ((!strcmp(a.action, "poll.end") || !strcmp(a.action, "audit.checkpoint")) && !v->ckp_here)
        return fail(v, (long)seq, "audit entry %lld (%s) has no checkpoint at tree size %lld: a checkpoint was "
                    "deleted", seq, a.action, seq);
    if (!strcmp(a.action, "poll.start") || !strcmp(a.action, "replay.start") ||
        !strcmp(a.action, "webhook.received")) {
        json_value *h = j ? json_get(j, "config_hash") : NULL;
        const char *f[2] = {a.cycle_id, h && h->type == JSON_STRING ? h->u.str : ""};
        int bad = claim_addv(&v->cycles, f, 2);
        if (bad)
            return fail(v, (long)seq, "out of memory");
    }
    if (!strcmp(a.action, "record.purged")) {
        json_value *h = j ? json_get(j, "hash") : NULL;
        json_value *n = j ? json_get(j, "version") : NULL;
        int bad = !h || !n || h->type != JSON_STRING || n->type != JSON_NUMBER;
        if (!bad) {
            const char *f[4] = {a.source, a.subject, n->u.str, h->u.str};
            bad = claim_addv(&v->purges, f, 4);
        }
        if (bad)
            return fail(v, (long)seq, "audit entry %lld (record.purged): detail lacks its hash or version", seq);
    }
    if (!strcmp(a.action, "record.new") || !strcmp(a.action, "record.version") ||
        !strcmp(a.action, "record.removed")) {
        json_value *h = j ? json_get(j, "hash") : NULL, *rh = j ? json_get(j, "raw_hash") : NULL;
        json_value *rq = j ? json_get(j, "request") : NULL, *n = j ? json_get(j, "version") : NULL;
        json_value *ch = j ? json_get(j, "contract") : NULL;
        int bad = !h || !n || !rh || !rq || h->type != JSON_STRING || n->type != JSON_NUMBER ||
                  rh->type != JSON_STRING || rq->type != JSON_STRING || (ch && ch->type != JSON_STRING);
        if (!bad) {
            const char *f[9] = {a.source, a.subject, n->u.str, h->u.str, rh->u.str, rq->u.str, a.cycle_id, a.time,
                                ch ? ch->u.str : ""};
            bad = claim_addv(&v->recs, f, 9);
        }
        if (bad)
            return fail(v, (long)seq, "audit entry %lld (%s): detail lacks its hash, raw_hash, request or version", seq,
                        a.action);
    }
    if (!strcmp(a.action, "record.rejected")) {
        json_value *rh = j ? json_get(j, "raw_hash") : NULL, *id = j ? json_get(j, "quarantine_id") : NULL;
        json_value *rq = j ? json_get(j, "request") : NULL, *eh = j ? json_get(j, "errors_hash") : NULL;
        json_value *ch = j ? json_get(j, "contract") : NULL;
        int bad = !rh || !id || !rq || !eh || rh->type != JSON_STRING || id->type != JSON_NUMBER ||
                  rq->type != JSON_STRING || eh->type != JSON_STRING || (ch && ch->type != JSON_STRING);
        if (!bad) {
            const char *f[9] = {a.source, id->u.str, rh->u.str, a.subject, rq->u.str, a.cycle_id, a.time, eh->u.str,
                                ch ? ch->u.str : ""};
            bad = claim_addv(&v->rejs, f, 9);
        }
        if (bad)
            return fail(v, (long)seq, "audit entry %lld (record.rejected): detail lacks its hashes, request or "
                        "quarantine id", seq);
    }
    v->r->entries++;
    return 0;
}

static int ckp_row(void *ud, const store_row *row)
{
    struct vctx *v = ud;
    struct ckp *n = realloc(v->ckps, (v->nckps + 1) * sizeof *n);
    const char *sig = row->ncols > 3 ? row->cols[3] : NULL;
    if (!n)
        return fail(v, 0, "out of memory");
    v->ckps = n;
    if (sig)
        v->r->signed_checkpoints++;
    if (v->key) {
        /* The signature covers size, root and time: a checkpoint edited
         * behind custody's back, or one made without the key, fails. */
        buf text;
        int ok;
        buf_init(&text, 4096);
        ok = row->cols[CKP_SIZE] && row->cols[CKP_ROOT] && row->cols[2] &&
             checkpoint_text(strtoll(row->cols[CKP_SIZE], NULL, 10), row->cols[CKP_ROOT], row->cols[2], &text) ==
                 CUST_OK &&
             sign_verify(v->key, text.ptr, text.len, sig);
        buf_release(&text);
        if (!ok)
            return fail(v, 0, "checkpoint at tree size %s: %s", row->cols[CKP_SIZE] ? row->cols[CKP_SIZE] : "?",
                        sig ? "its signature does not verify with the configured key (altered, or signed by "
                              "another key)"
                            : "it is not signed, but a verify key is configured");
    }
    v->ckps = n;
    n[v->nckps].size = strtoll(row->cols[CKP_SIZE], NULL, 10);
    snprintf(n[v->nckps].root, sizeof n[v->nckps].root, "%s", row->cols[CKP_ROOT] ? row->cols[CKP_ROOT] : "");
    snprintf(n[v->nckps].time, sizeof n[v->nckps].time, "%s", row->cols[CKP_TIME] ? row->cols[CKP_TIME] : "");
    v->nckps++;
    return 0;
}

/* Find (and, when consume, use up) a claim; 1 when found. */
static int find_claimv(struct claims *c, const char *const *f, int n, int consume)
{
    buf s;
    char *key;
    char **hit;
    buf_init(&s, 1 << 22);
    for (int i = 0; i < n; i++)
        if ((i && buf_addc(&s, '\x1f')) || buf_adds(&s, f[i] ? f[i] : "")) {
            buf_release(&s);
            return 0;
        }
    key = (char *)buf_str(&s);
    hit = c->n ? bsearch(&key, c->v, c->n, sizeof *c->v, cmpstr) : NULL;
    buf_release(&s);
    if (!hit || (consume && c->used[hit - c->v]))
        return 0;
    if (consume)
        c->used[hit - c->v] = 1;
    return 1;
}

static int record_row(void *ud, const store_row *row)
{
    struct vctx *v = ud;
    char hex[65];
    const char *src = row->cols[REC_SOURCE], *key = row->cols[REC_KEY], *ver = row->cols[REC_VERSION];
    const char *hash;
    for (int i = 0; i < REC_CONTRACT_HASH; i++) /* contract_hash: NULL in stores from before it */
        if (!row->cols[i])
            return fail(v, 0, "a record row has an empty column %d (record %s %s version %s): it was altered "
                        "outside custody", i, src ? src : "?", key ? key : "?", ver ? ver : "?");
    if (row->lens[REC_CANONICAL] == 0) {
        /* Purged by retention: the content is gone, the hash must still be
         * the one the log announced, and the purge must be in the log. */
        const char *pf[4] = {src, key, ver, row->cols[REC_HASH]};
        if (!find_claimv(&v->purges, pf, 4, 1))
            return fail(v, 0, "record %s %s version %s has no content but no record.purged audit entry: it "
                        "was emptied outside the audited retention purge", src, key, ver);
        hash = row->cols[REC_HASH];
        v->r->purged++;
    } else {
        jcs_sha256_hex(row->cols[REC_CANONICAL], row->lens[REC_CANONICAL], hex);
        if (strcmp(hex, row->cols[REC_HASH]) != 0)
            return fail(v, 0, "record %s %s version %s: content hash %s does not match its content (%s): the "
                        "record was altered", src, key, ver, row->cols[REC_HASH], hex);
        if (!is_canonical(v, row->cols[REC_CANONICAL], row->lens[REC_CANONICAL]))
            return fail(v, 0, "record %s %s version %s: stored content is not RFC 8785 canonical JSON", src, key,
                        ver);
        hash = hex;
    }
    {
        const char *f[9] = {src, key, ver, hash, row->cols[REC_RAW_HASH], row->cols[REC_REQUEST_ID],
                            row->cols[REC_CYCLE], row->cols[REC_FETCHED_AT],
                            row->cols[REC_CONTRACT_HASH] ? row->cols[REC_CONTRACT_HASH] : ""};
        const char *cf[2] = {row->cols[REC_CYCLE], row->cols[REC_CONFIG_HASH]};
        if (!find_claimv(&v->recs, f, 9, 1))
            return fail(v, 0, "record %s %s version %s (hash %s) does not match its record.new/record.version "
                        "audit entry (hash, raw hash, request, cycle and time must all agree): it was added or "
                        "altered outside custody", src, key, ver, hash);
        if (!find_claimv(&v->cycles, cf, 2, 0))
            return fail(v, 0, "record %s %s version %s: its config hash %s is not the one its poll cycle %s "
                        "started with: it was altered outside custody", src, key, ver, row->cols[REC_CONFIG_HASH],
                        row->cols[REC_CYCLE]);
    }
    v->r->records++;
    return 0;
}

static int quarantine_row(void *ud, const store_row *row)
{
    struct vctx *v = ud;
    char hex[65], eh[65];
    static const int need[] = {QUA_ID, QUA_SOURCE, QUA_RECON, QUA_RAW, QUA_ERRORS, QUA_FIRST_SEEN,
                               QUA_REQUEST_ID, QUA_CYCLE};
    for (size_t i = 0; i < sizeof need / sizeof *need; i++)
        if (!row->cols[need[i]])
            return fail(v, 0, "quarantine entry %s has an empty column %d: it was altered outside custody",
                        row->cols[QUA_ID] ? row->cols[QUA_ID] : "?", need[i]);
    jcs_sha256_hex(row->cols[QUA_RAW], row->lens[QUA_RAW], hex);
    jcs_sha256_hex(row->cols[QUA_ERRORS], row->lens[QUA_ERRORS], eh);
    {
        const char *f[9] = {row->cols[QUA_SOURCE], row->cols[QUA_ID], hex, row->cols[QUA_RECON],
                            row->cols[QUA_REQUEST_ID], row->cols[QUA_CYCLE], row->cols[QUA_FIRST_SEEN], eh,
                            row->ncols > QUA_CONTRACT_HASH && row->cols[QUA_CONTRACT_HASH]
                                ? row->cols[QUA_CONTRACT_HASH] : ""};
        if (!find_claimv(&v->rejs, f, 9, 1))
            return fail(v, 0, "quarantine entry %s (%s): its raw bytes (sha256 %s), errors, reconciliation key, "
                        "request, cycle or first-seen time do not match its record.rejected audit entry: it was "
                        "added or altered outside custody",
                        row->cols[QUA_ID], row->cols[QUA_SOURCE], hex);
    }
    v->r->quarantined++;
    return 0;
}

struct front_cmp {
    struct vctx *v;
    int rows;
    long long size;
    int bad;
};

static int frontier_row(void *ud, const store_row *row)
{
    struct front_cmp *fc = ud;
    long long level = row->cols[0] ? strtoll(row->cols[0], NULL, 10) : -2;
    char hex[65];
    if (level == -1) {
        fc->size = row->cols[1] ? strtoll(row->cols[1], NULL, 10) : -1;
        return 0;
    }
    if (level != fc->rows || fc->rows >= fc->v->f.n || !row->cols[1]) {
        fc->bad = 1;
        return 1;
    }
    merkle_hex(fc->v->f.h[fc->rows], hex);
    if (strcmp(hex, row->cols[1]) != 0) {
        fc->bad = 1;
        return 1;
    }
    fc->rows++;
    return 0;
}

cust_code verify_store(store *st, const struct sign_key *key, verify_report *r, struct err *e)
{
    struct vctx v;
    cust_code rc;
    unsigned char root[MERKLE_HASH];
    memset(r, 0, sizeof *r);
    memset(&v, 0, sizeof v);
    v.r = r;
    v.e = e;
    v.key = key;
    merkle_frontier_init(&v.f);
    buf_init(&v.entry, 64u << 20);
    buf_init(&v.canon, 64u << 20);
    if (!(v.doc = json_doc_new()))
        return err_set(e, CUST_ENOMEM, "out of memory");
    /* one consistent view while pollers keep committing */
    if (st->ops->snapshot && (rc = st->ops->snapshot(st, 1, e))) {
        json_doc_free(v.doc);
        buf_release(&v.entry);
        buf_release(&v.canon);
        return rc;
    }
    {
        /* byte-level edits can leave table and index disagreeing; records
         * are read through the index, so check the file first */
        char what[512];
        if ((rc = st->ops->integrity(st, what, sizeof what, e)))
            goto out;
        if (what[0]) {
            fail(&v, 0, "the store fails its integrity check (%s): it was edited at the byte level "
                 "or is damaged", what);
            goto out;
        }
    }
    if ((rc = st->ops->checkpoints_list(st, ckp_row, &v, e)) || v.failed)
        goto out;
    r->checkpoints = (long)v.nckps;
    if ((rc = st->ops->audit_list(st, audit_row, &v, e)) || v.failed)
        goto out;
    if (v.next_ckp < v.nckps) {
        fail(&v, 0, "checkpoint at tree size %lld is beyond the %llu audit entries present: entries were "
             "removed from the end of the log", v.ckps[v.next_ckp].size, (unsigned long long)v.f.size);
        goto out;
    }
    merkle_frontier_root(&v.f, root);
    merkle_hex(root, r->root);
    if (v.recs.n)
        qsort(v.recs.v, v.recs.n, sizeof *v.recs.v, cmpstr);
    if (v.rejs.n)
        qsort(v.rejs.v, v.rejs.n, sizeof *v.rejs.v, cmpstr);
    if (v.purges.n)
        qsort(v.purges.v, v.purges.n, sizeof *v.purges.v, cmpstr);
    if (v.cycles.n)
        qsort(v.cycles.v, v.cycles.n, sizeof *v.cycles.v, cmpstr);
    {
        struct front_cmp fc = {&v, 0, -1, 0};
        if ((rc = st->ops->frontier_list(st, frontier_row, &fc, e)))
            goto out;
        if (fc.bad || fc.rows != v.f.n || fc.size != (long long)v.f.size) {
            fail(&v, 0, "the stored audit frontier (the tree state the next entry builds on) does not match the "
                 "log: it was altered, and the next checkpoint would be wrong");
            goto out;
        }
    }
    v.recs.used = calloc(v.recs.n + 1, 1);
    v.rejs.used = calloc(v.rejs.n + 1, 1);
    v.purges.used = calloc(v.purges.n + 1, 1);
    if (!v.recs.used || !v.rejs.used || !v.purges.used) {
        rc = err_set(e, CUST_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = st->ops->records_list(st, NULL, NULL, 1, record_row, &v, e)) || v.failed)
        goto out;
    if ((size_t)r->records != v.recs.n) {
        fail(&v, 0, "the audit log announces %zu record versions but %ld are stored: records were deleted "
             "outside custody", v.recs.n, r->records);
        goto out;
    }
    if ((size_t)r->purged != v.purges.n) {
        fail(&v, 0, "the audit log records %zu purged record versions but %ld are purged in the store: a purged "
             "record's content was put back outside custody", v.purges.n, r->purged);
        goto out;
    }
    if ((rc = st->ops->quarantine_list(st, NULL, 0, quarantine_row, &v, e)) || v.failed)
        goto out;
    if ((size_t)r->quarantined != v.rejs.n)
        fail(&v, 0, "the audit log announces %zu rejections but %ld are in quarantine: entries were deleted "
             "outside custody", v.rejs.n, r->quarantined);
out:
    if (st->ops->snapshot) {
        struct err ignore = {0};
        st->ops->snapshot(st, 0, &ignore);
    }
    if (v.failed)
        rc = CUST_EAUDIT;
    claims_free(&v.recs);
    claims_free(&v.rejs);
    claims_free(&v.purges);
    claims_free(&v.cycles);
    free(v.ckps);
    buf_release(&v.entry);
    buf_release(&v.canon);
    json_doc_free(v.doc);
    return rc;
}
