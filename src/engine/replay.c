/* replay.c - see replay.h. */
#include "replay.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/contract.h"
#include "core/jcs.h"
#include "core/json.h"
#include "recindex.h"

struct entry {
    int64_t id;
    char *source, *raw, *status;
    size_t raw_len;
};

struct list {
    struct entry *v;
    size_t n, cap;
    int failed;
};

static int entry_row(void *ud, const store_row *row)
{
    struct list *l = ud;
    struct entry *en;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        struct entry *nv = realloc(l->v, cap * sizeof *nv);
        if (!nv)
            return l->failed = 1;
        l->v = nv;
        l->cap = cap;
    }
    en = &l->v[l->n];
    memset(en, 0, sizeof *en);
    en->id = strtoll(row->cols[QUA_ID], NULL, 10);
    en->source = strdup(row->cols[QUA_SOURCE]);
    en->status = strdup(row->cols[QUA_STATUS]);
    en->raw = malloc(row->lens[QUA_RAW] + 1);
    if (!en->source || !en->status || !en->raw)
        return l->failed = 1;
    memcpy(en->raw, row->cols[QUA_RAW], row->lens[QUA_RAW]);
    en->raw[row->lens[QUA_RAW]] = '\0';
    en->raw_len = row->lens[QUA_RAW];
    l->n++;
    return 0;
}

static void list_free(struct list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].source);
        free(l->v[i].raw);
        free(l->v[i].status);
    }
    free(l->v);
}

cust_code replay_run(const config *cfg, store *st, const int64_t *ids, size_t nids, const char *source, int dry_run,
                     const char *actor, const char *now, const struct sign_key *signer, replay_cb cb, void *ud,
                     replay_report *r, struct err *e)
{
    struct list l = {0};
    buf key, errors, canon, detail;
    json_doc *in = json_doc_new(), *out = json_doc_new();
    char cycle[40];
    unsigned char rnd[8];
    cust_code rc = CUST_OK;
    int in_tx = 0;
    memset(r, 0, sizeof *r);
    buf_init(&key, 1u << 20);
    buf_init(&errors, 4u << 20);
    buf_init(&canon, 64u << 20);
    buf_init(&detail, 1u << 20);
    if (!in || !out) {
        rc = err_set(e, CUST_ENOMEM, "out of memory");
        goto done;
    }
    if (RAND_bytes(rnd, sizeof rnd) != 1)
        memset(rnd, 0, sizeof rnd);
    snprintf(cycle, sizeof cycle, "replay-%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3], rnd[4],
             rnd[5], rnd[6], rnd[7]);
    if (nids) {
        for (size_t i = 0; i < nids && !rc; i++) {
            size_t before = l.n;
            rc = st->ops->quarantine_list(st, NULL, ids[i], entry_row, &l, e);
            if (!rc && l.n == before)
                rc = err_set(e, CUST_ECONFIG, "no quarantine entry %lld (custody quarantine list shows them)",
                             (long long)ids[i]);
        }
    } else {
        rc = st->ops->quarantine_list(st, source, 0, entry_row, &l, e);
    }
    if (!rc && l.failed)
        rc = err_set(e, CUST_ENOMEM, "out of memory");
    if (rc)
        goto done;
    for (size_t i = 0; i < l.n; i++) {
        if (nids && strcmp(l.v[i].status, "open") != 0) {
            rc = err_set(e, CUST_ECONFIG, "quarantine entry %lld is %s, not open", (long long)l.v[i].id,
                         l.v[i].status);
            goto done;
        }
        if (!config_source((config *)cfg, l.v[i].source)) {
            rc = err_set(e, CUST_ECONFIG, "quarantine entry %lld belongs to source %s, which is no longer in %s",
                         (long long)l.v[i].id, l.v[i].source, cfg->path);
            goto done;
        }
    }
    if (!dry_run) {
        if ((rc = st->ops->begin(st, e)))
            goto done;
        in_tx = 1;
        buf_reset(&detail);
        if (buf_adds(&detail, "{\"config_hash\":\"") || buf_adds(&detail, cfg->hash) || buf_adds(&detail, "\"}")) {
            rc = err_set(e, CUST_ENOMEM, "out of memory");
            goto done;
        }
        {
            store_audit a = {now, actor, "replay.start", "", "", detail.ptr, cycle};
            if ((rc = st->ops->audit_append(st, &a, NULL, e)))
                goto done;
        }
    }
    for (size_t i = 0; i < l.n; i++) {
        struct entry *en = &l.v[i];
        const source_cfg *src = config_source((config *)cfg, en->source);
        json_value *raw, *canonical = NULL;
        struct err pe = {0};
        char hash[65], raw_hash[65], request[64];
        int n;
        if (strcmp(en->status, "open") != 0)
            continue;
        r->examined++;
        json_doc_reset(in);
        json_doc_reset(out);
        buf_reset(&key);
        buf_reset(&errors);
        raw = json_parse(in, en->raw, en->raw_len, NULL, &pe);
        if (!raw) {
            /* raw bytes that never were JSON stay quarantined */
            r->failing++;
            if (cb)
                cb(ud, en->id, en->source, 0, "[{\"code\":\"type\",\"path\":\"$\",\"message\":\"not JSON\"}]");
            continue;
        }
        n = contract_apply(src->contract, raw, out, &canonical, &key, &errors, e);
        if (n < 0) {
            rc = e->code ? e->code : CUST_ENOMEM;
            goto done;
        }
        if (n > 0) {
            r->failing++;
            if (cb)
                cb(ud, en->id, en->source, 0, buf_str(&errors));
            continue;
        }
        r->passed++;
        if (cb)
            cb(ud, en->id, en->source, 1, NULL);
        if (dry_run)
            continue;
        buf_reset(&canon);
        if ((rc = jcs_write(canonical, &canon, e)))
            goto done;
        jcs_sha256_hex(canon.ptr, canon.len, hash);
        jcs_sha256_hex(en->raw, en->raw_len, raw_hash);
        snprintf(request, sizeof request, "replay-q%lld", (long long)en->id);
        {
            store_record rec = {en->source, buf_str(&key), hash, canon.ptr, canon.len, raw_hash, now, request, cycle,
                                cfg->hash, src->contract_hash};
            store_outcome oc;
            int64_t version;
            char why[96];
            if ((rc = recindex_sync(st, src, e)) || (rc = st->ops->record_put(st, &rec, &oc, &version, e)))
                goto done;
            if (oc == STORE_DUPLICATE) {
                r->duplicates++;
            } else {
                store_audit a;
                if ((rc = recindex_put(st, src, buf_str(&key), version, canonical, e)))
                    goto done;
                r->ingested++;
                buf_reset(&detail);
                if (buf_addf(&detail, "{\"contract\":\"%s\",\"hash\":\"%s\",\"raw_hash\":\"%s\",\"replayed_from\":%lld,"
                                      "\"request\":\"%s\",\"version\":%lld}",
                             src->contract_hash, hash, raw_hash, (long long)en->id, request, (long long)version)) {
                    rc = err_set(e, CUST_ENOMEM, "out of memory");
                    goto done;
                }
                a = (store_audit){now, actor, oc == STORE_NEW ? "record.new" : "record.version", en->source,
                                  buf_str(&key), detail.ptr, cycle};
                if ((rc = st->ops->audit_append(st, &a, NULL, e)))
                    goto done;
            }
            snprintf(why, sizeof why, "valid under contract %.16s", src->contract_hash);
            if ((rc = st->ops->quarantine_set_status(st, en->id, "replayed", actor, now, why, e)))
                goto done;
            buf_reset(&detail);
            if (buf_addf(&detail, "{\"contract\":\"%s\",\"quarantine_id\":%lld,\"version\":%s}", src->contract_hash,
                         (long long)en->id, oc == STORE_DUPLICATE ? "null" : "\"stored\"")) {
                rc = err_set(e, CUST_ENOMEM, "out of memory");
                goto done;
            }
            {
                store_audit a = {now, actor, "quarantine.replay", en->source, buf_str(&key), detail.ptr, cycle};
                if ((rc = st->ops->audit_append(st, &a, NULL, e)))
                    goto done;
            }
        }
    }
    if (in_tx) {
        char root[65];
        int64_t size;
        if ((rc = st->ops->checkpoint(st, now, signer, &size, root, e)) || (rc = st->ops->commit(st, e)))
            goto done;
        in_tx = 0;
    }
done:
    if (in_tx)
        st->ops->rollback(st);
    list_free(&l);
    json_doc_free(in);
    json_doc_free(out);
    buf_release(&key);
    buf_release(&errors);
    buf_release(&canon);
    buf_release(&detail);
    return rc;
}
