/* hook.c - applying verified webhook deliveries (see hook.h). */
#include "hook.h"

#include <stdlib.h>
#include <string.h>

#include "core/contract.h"
#include "core/jcs.h"
#include "core/json.h"
#include "core/timefmt.h"
#include "poll.h"
#include "recindex.h"

const char *hook_outcome_name(hook_outcome o)
{
    switch (o) {
    case HOOK_APPLIED: return "applied";
    case HOOK_UNCHANGED: return "unchanged";
    case HOOK_HELD: return "held";
    case HOOK_DUPLICATE: return "duplicate";
    case HOOK_QUARANTINED: return "quarantined";
    }
    return "unknown";
}

static cust_code audit_entry(store *st, const char *now, const char *actor, const char *action, const char *source,
                             const char *subject, const char *detail, const char *cycle, struct err *e)
{
    store_audit a = {now, actor, action, source, subject ? subject : "", detail, cycle ? cycle : ""};
    return st->ops->audit_append(st, &a, NULL, e);
}

struct latest {
    char *canonical;
    int found;
};

static int latest_row(void *ud, const store_row *row)
{
    struct latest *l = ud;
    free(l->canonical);
    l->canonical = row->cols[REC_CANONICAL] ? strndup(row->cols[REC_CANONICAL], row->lens[REC_CANONICAL]) : NULL;
    l->found = 1;
    return 0; /* the last row is the latest version */
}

/* Lay the payload (a JCS object) over key's latest version as a new
 * version. *found 0: there is no record of key yet. */
static cust_code merge_version(const config *cfg, const source_cfg *src, store *st, const char *key,
                               const char *payload, const char *raw_hash, const char *request, const char *cycle,
                               const char *now, const char *actor, int *found, hook_result *out, struct err *e)
{
    struct latest l = {0};
    json_doc *doc = NULL;
    json_value *base, *add, *merged;
    buf canon, d;
    char hash[65];
    store_outcome so;
    int64_t version = 0;
    cust_code rc;
    *found = 0;
    if ((rc = st->ops->records_list(st, src->name, key, 0, latest_row, &l, e)))
        return rc;
    if (!l.found || !l.canonical) {
        free(l.canonical);
        return CUST_OK;
    }
    *found = 1;
    buf_init(&canon, 64u << 20);
    buf_init(&d, 4096);
    if (!(doc = json_doc_new())) {
        rc = err_set(e, CUST_ENOMEM, "out of memory");
        goto out;
    }
    if (!(base = json_parse(doc, l.canonical, strlen(l.canonical), NULL, e)) ||
        !(add = json_parse(doc, payload, strlen(payload), NULL, e))) {
        rc = e->code ? e->code : CUST_EJSON;
        goto out;
    }
    if (base->type != JSON_OBJECT || add->type != JSON_OBJECT) {
        rc = err_set(e, CUST_EDATA, "source %s key %s: the record or the payload is not a JSON object", src->name,
                     key);
        goto out;
    }
    if (!(merged = json_new_object(doc, base->len + add->len))) {
        rc = err_set(e, CUST_ENOMEM, "out of memory");
        goto out;
    }
    /* the record's members the payload does not name, then the payload's */
    for (size_t i = 0; i < base->len; i++) {
        const json_member *m = &base->u.members[i];
        if (json_getn(add, m->key, m->key_len))
            continue;
        if (json_object_put(doc, merged, m->key, m->key_len, m->value)) {
            rc = err_set(e, CUST_ENOMEM, "out of memory");
            goto out;
        }
    }
    for (size_t i = 0; i < add->len; i++)
        if (json_object_put(doc, merged, add->u.members[i].key, add->u.members[i].key_len, add->u.members[i].value)) {
            rc = err_set(e, CUST_ENOMEM, "out of memory");
            goto out;
        }
    if ((rc = jcs_write(merged, &canon, e)))
        goto out;
    jcs_sha256_hex(canon.ptr, canon.len, hash);
    {
        store_record r = {src->name, key, hash, canon.ptr, canon.len, raw_hash, now, request, cycle, cfg->hash,
                          src->webhook.contract_hash};
        if ((rc = recindex_sync(st, src, e)) || (rc = st->ops->record_put(st, &r, &so, &version, e)))
            goto out;
    }
    if (so == STORE_DUPLICATE) {
        out->outcome = HOOK_UNCHANGED;
        goto out;
    }
    if ((rc = recindex_put(st, src, key, version, merged, e)))
        goto out;
    out->outcome = HOOK_APPLIED;
    out->version = version;
    if (buf_addf(&d, "{\"contract\":\"%s\",\"hash\":\"%s\",\"raw_hash\":\"%s\",\"request\":", src->webhook.contract_hash,
                 hash, raw_hash) ||
        json_write_string(&d, request, strlen(request)) || buf_addf(&d, ",\"version\":%lld}", (long long)version)) {
        rc = err_set(e, CUST_ENOMEM, "out of memory");
        goto out;
    }
    rc = audit_entry(st, now, actor, "record.version", src->name, key, d.ptr, cycle, e);
out:
    free(l.canonical);
    json_doc_free(doc);
    buf_release(&canon);
    buf_release(&d);
    return rc;
}

/* Keep a payload that cannot become a record, with why, in quarantine. */
static cust_code quarantine(const source_cfg *src, store *st, const char *raw, size_t len, const char *errors,
                            int nerrors, const char *request, const char *cycle, const char *now, const char *actor,
                            struct err *e)
{
    char recon[65], raw_hash[65], errors_hash[65];
    store_reject r;
    store_outcome so;
    int64_t id;
    buf d;
    cust_code rc;
    jcs_sha256_hex(raw, len, raw_hash);
    memcpy(recon, raw_hash, sizeof recon);
    r = (store_reject){src->name, recon, raw, len, errors, now, request, cycle, src->webhook.contract_hash};
    if ((rc = st->ops->reject_put(st, &r, &so, &id, e)))
        return rc;
    if (so == STORE_DUPLICATE)
        return CUST_OK;
    jcs_sha256_hex(errors, strlen(errors), errors_hash);
    buf_init(&d, 4096);
    if (buf_addf(&d, "{\"contract\":\"%s\",\"errors\":%d,\"errors_hash\":\"%s\",\"quarantine_id\":%lld,\"raw_hash\":\"%s\","
                     "\"request\":",
                 src->webhook.contract_hash, nerrors, errors_hash, (long long)id, raw_hash) ||
        json_write_string(&d, request, strlen(request)) || buf_addc(&d, '}'))
        rc = err_set(e, CUST_ENOMEM, "out of memory");
    if (!rc)
        rc = audit_entry(st, now, actor, "record.rejected", src->name, recon, d.ptr, cycle, e);
    buf_release(&d);
    return rc;
}

cust_code hook_apply(const config *cfg, const source_cfg *src, store *st, const char *webhook_id, const char *body,
                     size_t len, const char *now, const char *actor, hook_result *out, struct err *e)
{
    json_doc *doc = NULL;
    json_value *root, *canon = NULL;
    buf key, errors, payload, d, request;
    char body_hash[65], expires[32];
    int dup = 0, n, found = 0;
    int64_t now_ms, seq;
    cust_code rc;
    struct err pe = {0};

    memset(out, 0, sizeof *out);
    poll_new_cycle_id(out->cycle);
    if ((rc = st->ops->webhook_seen(st, src->name, webhook_id, now, &dup, e)))
        return rc;
    if (dup) {
        out->outcome = HOOK_DUPLICATE;
        return CUST_OK;
    }
    buf_init(&key, 1u << 20);
    buf_init(&errors, 4u << 20);
    buf_init(&payload, 64u << 20);
    buf_init(&d, 64 * 1024);
    buf_init(&request, 4096);
    jcs_sha256_hex(body, len, body_hash);
    if (buf_adds(&request, "webhook:") || buf_adds(&request, webhook_id) ||
        buf_addf(&d, "{\"body_sha256\":\"%s\",\"config_hash\":\"%s\",\"id\":", body_hash, cfg->hash) ||
        json_write_string(&d, webhook_id, strlen(webhook_id)) || buf_adds(&d, ",\"scheme\":\"") ||
        buf_adds(&d, src->webhook.scheme) || buf_adds(&d, "\"}")) {
        rc = err_set(e, CUST_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = audit_entry(st, now, actor, "webhook.received", src->name, webhook_id, d.ptr, out->cycle, e)))
        goto out;
    if (!(doc = json_doc_new())) {
        rc = err_set(e, CUST_ENOMEM, "out of memory");
        goto out;
    }
    if (!(root = json_parse(doc, body, len, NULL, &pe))) {
        buf_reset(&errors);
        if (buf_adds(&errors, "[{\"code\":\"type\",\"message\":") ||
            json_write_string(&errors, pe.msg, strlen(pe.msg)) || buf_adds(&errors, ",\"path\":\"$\"}]")) {
            rc = err_set(e, CUST_ENOMEM, "out of memory");
            goto out;
        }
        out->outcome = HOOK_QUARANTINED;
        rc = quarantine(src, st, body, len, errors.ptr, 1, request.ptr, out->cycle, now, actor, e);
        goto out;
    }
    n = contract_apply(src->webhook.contract, root, doc, &canon, &key, &errors, e);
    if (n < 0) {
        rc = e->code ? e->code : CUST_ENOMEM;
        goto out;
    }
    if (n > 0) {
        out->outcome = HOOK_QUARANTINED;
        rc = quarantine(src, st, body, len, errors.ptr, n, request.ptr, out->cycle, now, actor, e);
        goto out;
    }
    snprintf(out->key, sizeof out->key, "%s", buf_str(&key));
    if ((rc = jcs_write(canon, &payload, e)))
        goto out;
    if ((rc = merge_version(cfg, src, st, out->key, payload.ptr, body_hash, request.ptr, out->cycle, now, actor, &found,
                            out, e)))
        goto out;
    if (found)
        goto out;
    /* the record is not here yet: hold the mutation for it */
    if (!timefmt_parse(TIME_ISO8601, now, strlen(now), &now_ms)) {
        rc = err_set(e, CUST_ESTORE, "internal: bad clock text %s", now);
        goto out;
    }
    {
        buf b;
        buf_init(&b, 64);
        if (timefmt_format(TIME_ISO8601, now_ms + src->webhook.hold_for_ms, &b) == CUST_OK)
            snprintf(expires, sizeof expires, "%s", buf_str(&b));
        else
            snprintf(expires, sizeof expires, "%s", now);
        buf_release(&b);
    }
    if ((rc = st->ops->webhook_hold(st, src->name, out->key, webhook_id, payload.ptr, now, expires, &seq, e)))
        goto out;
    buf_reset(&d);
    if (buf_addf(&d, "{\"expires_at\":\"%s\",\"hold\":%lld,\"id\":", expires, (long long)seq) ||
        json_write_string(&d, webhook_id, strlen(webhook_id)) || buf_addc(&d, '}')) {
        rc = err_set(e, CUST_ENOMEM, "out of memory");
        goto out;
    }
    out->outcome = HOOK_HELD;
    rc = audit_entry(st, now, actor, "webhook.held", src->name, out->key, d.ptr, out->cycle, e);
out:
    json_doc_free(doc);
    buf_release(&key);
    buf_release(&errors);
    buf_release(&payload);
    buf_release(&d);
    buf_release(&request);
    return rc;
}

/* Held rows, copied out of the listing (the store is written while they are applied). */
struct held {
    int64_t seq;
    char *source, *key, *id, *payload, *received;
};
struct held_list {
    struct held *v;
    size_t n, cap;
    int oom;
};

static int held_row(void *ud, const store_row *row)
{
    struct held_list *l = ud;
    struct held *h;
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 8;
        struct held *p = realloc(l->v, nc * sizeof *p);
        if (!p) {
            l->oom = 1;
            return 1;
        }
        l->v = p;
        l->cap = nc;
    }
    h = &l->v[l->n];
    h->seq = strtoll(row->cols[WHH_SEQ], NULL, 10);
    h->source = strdup(row->cols[WHH_SOURCE]);
    h->key = strdup(row->cols[WHH_KEY]);
    h->id = strdup(row->cols[WHH_ID]);
    h->payload = strdup(row->cols[WHH_PAYLOAD]);
    h->received = strdup(row->cols[WHH_RECEIVED]);
    l->n++;
    if (!h->source || !h->key || !h->id || !h->payload || !h->received) {
        l->oom = 1;
        return 1;
    }
    return 0;
}

static void held_free(struct held_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].source);
        free(l->v[i].key);
        free(l->v[i].id);
        free(l->v[i].payload);
        free(l->v[i].received);
    }
    free(l->v);
}

cust_code hook_release(const config *cfg, const source_cfg *src, store *st, const char *key, const char *now,
                       const char *actor, const char *cycle, long *applied, struct err *e)
{
    struct held_list l = {0};
    cust_code rc;
    *applied = 0;
    if (!src->webhook.scheme)
        return CUST_OK;
    if ((rc = st->ops->webhook_holds(st, src->name, key, NULL, held_row, &l, e)))
        goto out;
    if (l.oom) {
        rc = err_set(e, CUST_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < l.n && !rc; i++) {
        hook_result r = {0};
        char raw_hash[65], request[512];
        int found = 0;
        buf d;
        jcs_sha256_hex(l.v[i].payload, strlen(l.v[i].payload), raw_hash);
        snprintf(request, sizeof request, "webhook:%s", l.v[i].id);
        if ((rc = merge_version(cfg, src, st, key, l.v[i].payload, raw_hash, request, cycle, now, actor, &found, &r,
                                e)))
            break;
        if (!found)
            break; /* cannot happen: the poll just stored it */
        if ((rc = st->ops->webhook_settle(st, l.v[i].seq, "applied", now, e)))
            break;
        buf_init(&d, 4096);
        if (buf_addf(&d, "{\"held_since\":\"%s\",\"hold\":%lld,\"id\":", l.v[i].received, (long long)l.v[i].seq) ||
            json_write_string(&d, l.v[i].id, strlen(l.v[i].id)) ||
            buf_addf(&d, ",\"outcome\":\"%s\",\"version\":%lld}", hook_outcome_name(r.outcome), (long long)r.version))
            rc = err_set(e, CUST_ENOMEM, "out of memory");
        if (!rc)
            rc = audit_entry(st, now, actor, "webhook.applied", src->name, key, d.ptr, cycle, e);
        buf_release(&d);
        (*applied)++;
    }
out:
    held_free(&l);
    return rc;
}

cust_code hook_expire(const config *cfg, store *st, const char *now, const char *actor, long *expired, struct err *e)
{
    struct held_list l = {0};
    cust_code rc;
    char cycle[33];
    *expired = 0;
    if ((rc = st->ops->webhook_holds(st, NULL, NULL, now, held_row, &l, e)))
        goto out;
    if (l.oom) {
        rc = err_set(e, CUST_ENOMEM, "out of memory");
        goto out;
    }
    poll_new_cycle_id(cycle);
    for (size_t i = 0; i < l.n && !rc; i++) {
        const source_cfg *src = config_source((config *)cfg, l.v[i].source);
        source_cfg gone;
        buf errs, d, request;
        if (!src) {
            /* the source left the config: quarantine under its name all the same */
            memset(&gone, 0, sizeof gone);
            gone.name = l.v[i].source;
            src = &gone;
        }
        buf_init(&errs, 64 * 1024);
        buf_init(&d, 4096);
        buf_init(&request, 1024);
        {
            char msg[1024];
            snprintf(msg, sizeof msg, "webhook %s for key %s was held from %s until %s, but its record never "
                     "arrived; check the key fields of the webhook contract against the source's",
                     l.v[i].id, l.v[i].key, l.v[i].received, now);
            if (buf_adds(&errs, "[{\"code\":\"expired\",\"message\":") || json_write_string(&errs, msg, strlen(msg)) ||
                buf_adds(&errs, ",\"path\":\"$\"}]") || buf_adds(&request, "webhook:") ||
                buf_adds(&request, l.v[i].id))
                rc = err_set(e, CUST_ENOMEM, "out of memory");
        }
        if (!rc)
            rc = quarantine(src, st, l.v[i].payload, strlen(l.v[i].payload), errs.ptr, 1, request.ptr, cycle, now,
                            actor, e);
        if (!rc)
            rc = st->ops->webhook_settle(st, l.v[i].seq, "expired", now, e);
        if (!rc && (buf_addf(&d, "{\"held_since\":\"%s\",\"hold\":%lld,\"id\":", l.v[i].received,
                             (long long)l.v[i].seq) ||
                    json_write_string(&d, l.v[i].id, strlen(l.v[i].id)) || buf_addc(&d, '}')))
            rc = err_set(e, CUST_ENOMEM, "out of memory");
        if (!rc)
            rc = audit_entry(st, now, actor, "webhook.expired", l.v[i].source, l.v[i].key, d.ptr, cycle, e);
        if (!rc)
            (*expired)++;
        buf_release(&errs);
        buf_release(&d);
        buf_release(&request);
    }
out:
    held_free(&l);
    return rc;
}
