/* retention.c - see retention.h. */
#include "retention.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"

struct due {
    char *source, *key, *hash, *since;
    long version;
    int held;
};

struct scan {
    const source_cfg *src;
    char cutoff[32];      /* versions whose start is before this are due */
    struct due *v;
    size_t n, cap;
    int failed;
};

struct hold {
    char *source, *key; /* key NULL: whole source */
};

struct holds {
    struct hold *v;
    size_t n;
    int failed;
};

static int hold_row(void *ud, const store_row *row)
{
    struct holds *h = ud;
    struct hold *nv = realloc(h->v, (h->n + 1) * sizeof *nv);
    if (!nv)
        return h->failed = 1;
    h->v = nv;
    nv[h->n].source = strdup(row->cols[1]);
    nv[h->n].key = row->cols[2] ? strdup(row->cols[2]) : NULL;
    h->n++;
    return 0;
}

static int is_held(const struct holds *h, const char *source, const char *key)
{
    for (size_t i = 0; i < h->n; i++)
        if (h->v[i].source && strcmp(h->v[i].source, source) == 0 && (!h->v[i].key || strcmp(h->v[i].key, key) == 0))
            return 1;
    return 0;
}

/* cutoff = now minus years, as an RFC 3339 prefix comparable by strcmp */
static void cutoff_of(const char *now, long years, char out[32])
{
    char yy[5] = {0};
    int y;
    memcpy(yy, now, 4);
    y = (int)strtol(yy, NULL, 10);
    snprintf(out, 32, "%04d%s", y - (int)years, now + 4);
    if (strncmp(out + 4, "-02-29", 6) == 0)
        out[9] = '8'; /* Feb 29 of a year that may not have one */
}

static int add_due(struct scan *s, const store_row *row, const char *since)
{
    struct due *d;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        struct due *nv = realloc(s->v, cap * sizeof *nv);
        if (!nv)
            return s->failed = 1;
        s->v = nv;
        s->cap = cap;
    }
    d = &s->v[s->n];
    d->source = strdup(row->cols[REC_SOURCE]);
    d->key = strdup(row->cols[REC_KEY]);
    d->hash = strdup(row->cols[REC_HASH]);
    d->since = strdup(since);
    d->version = strtol(row->cols[REC_VERSION], NULL, 10);
    d->held = 0;
    if (!d->source || !d->key || !d->hash || !d->since)
        return s->failed = 1;
    s->n++;
    return 0;
}

static int created_row(void *ud, const store_row *row)
{
    struct scan *s = ud;
    if (row->lens[REC_CANONICAL] == 0)
        return 0; /* already purged */
    if (strcmp(row->cols[REC_FETCHED_AT], s->cutoff) < 0)
        return add_due(s, row, row->cols[REC_FETCHED_AT]);
    return 0;
}

/* from: field, over the latest version of each key. */
static int field_row(void *ud, const store_row *row)
{
    struct scan *s = ud;
    json_doc *d;
    json_value *v, *f;
    int rc;
    if (row->lens[REC_CANONICAL] == 0)
        return 0;
    /* latest versions only (history == 0): the field's date decides for
     * every version of the key, purged together below */
    if (!(d = json_doc_new()))
        return s->failed = 1;
    v = json_parse(d, row->cols[REC_CANONICAL], row->lens[REC_CANONICAL], NULL, NULL);
    f = v ? json_get(v, s->src->retention.field) : NULL;
    /* add_due copies the date, so the doc can go either way */
    rc = f && f->type == JSON_STRING && f->len >= 10 && strncmp(f->u.str, s->cutoff, 10) < 0
             ? add_due(s, row, f->u.str)
             : 0;
    json_doc_free(d);
    return rc;
}

struct key_versions {
    struct scan *s;
    const char *since;
};

static int older_row(void *ud, const store_row *row)
{
    struct key_versions *k = ud;
    long ver = strtol(row->cols[REC_VERSION], NULL, 10);
    if (row->lens[REC_CANONICAL] == 0)
        return 0;
    /* the latest version is already listed; add the older ones */
    for (size_t i = 0; i < k->s->n; i++)
        if (k->s->v[i].version == ver && strcmp(k->s->v[i].key, row->cols[REC_KEY]) == 0 &&
            strcmp(k->s->v[i].source, row->cols[REC_SOURCE]) == 0)
            return 0;
    return add_due(k->s, row, k->since);
}

cust_code retention_run(const config *cfg, store *st, const char *now, int apply, const char *actor,
                        const struct sign_key *signer, const char *const *sources, size_t nsources,
                        retention_cb cb, void *ud, retention_report *r, struct err *e)
{
    struct holds h = {0};
    cust_code rc = CUST_OK;
    int in_tx = 0;
    buf detail;
    memset(r, 0, sizeof *r);
    buf_init(&detail, 1 << 20);
    if ((rc = st->ops->holds_list(st, 1, hold_row, &h, e)))
        goto out;
    if (h.failed) {
        rc = err_set(e, CUST_ENOMEM, "out of memory");
        goto out;
    }
    if (apply) {
        if ((rc = st->ops->begin(st, e)))
            goto out;
        in_tx = 1;
    }
    for (size_t i = 0; i < cfg->nsources; i++) {
        const source_cfg *src = &cfg->sources[i];
        struct scan s;
        int wanted = nsources == 0;
        for (size_t k = 0; k < nsources; k++)
            wanted |= strcmp(sources[k], src->name) == 0;
        if (!wanted || src->retention.years <= 0)
            continue;
        memset(&s, 0, sizeof s);
        s.src = src;
        cutoff_of(now, src->retention.years, s.cutoff);
        if (strcmp(src->retention.from, "field") == 0) {
            size_t latest;
            rc = st->ops->records_list(st, src->name, NULL, 0, field_row, &s, e);
            latest = s.n;
            for (size_t k = 0; !rc && !s.failed && k < latest; k++) {
                /* the strings outlive any growth of s.v while older_row adds */
                struct key_versions kv = {&s, s.v[k].since};
                rc = st->ops->records_list(st, src->name, s.v[k].key, 1, older_row, &kv, e);
            }
        } else {
            rc = st->ops->records_list(st, src->name, NULL, 1, created_row, &s, e);
        }
        if (!rc && s.failed)
            rc = err_set(e, CUST_ENOMEM, "out of memory");
        for (size_t k = 0; !rc && k < s.n; k++) {
            struct due *d = &s.v[k];
            d->held = is_held(&h, d->source, d->key);
            r->due++;
            if (d->held)
                r->held++;
            if (cb)
                cb(ud, d->source, d->key, d->version, d->since, d->held);
            if (!apply || d->held)
                continue;
            buf_reset(&detail);
            if (buf_adds(&detail, "{\"hash\":\"") || buf_adds(&detail, d->hash) || buf_adds(&detail, "\",\"rule\":") ||
                buf_addf(&detail, "\"%ld years from %s\",\"since\":", src->retention.years,
                         strcmp(src->retention.from, "field") == 0 ? src->retention.field : "created") ||
                json_write_string(&detail, d->since, strlen(d->since)) ||
                buf_addf(&detail, ",\"version\":%ld}", d->version)) {
                rc = err_set(e, CUST_ENOMEM, "out of memory");
                break;
            }
            {
                store_audit a = {now, actor, "record.purged", d->source, d->key, detail.ptr, "retention"};
                char rule[128];
                snprintf(rule, sizeof rule, "%ld years from %s", src->retention.years,
                         strcmp(src->retention.from, "field") == 0 ? src->retention.field : "created");
                if ((rc = st->ops->record_purge(st, d->source, d->key, d->version, now, actor, rule, e)) ||
                    (rc = st->ops->audit_append(st, &a, NULL, e)))
                    break;
            }
            r->purged++;
        }
        for (size_t k = 0; k < s.n; k++) {
            free(s.v[k].source);
            free(s.v[k].key);
            free(s.v[k].hash);
            free(s.v[k].since);
        }
        free(s.v);
        if (rc)
            break;
    }
    if (in_tx) {
        char root[65];
        int64_t size;
        if (rc || (rc = st->ops->checkpoint(st, now, signer, &size, root, e)) || (rc = st->ops->commit(st, e)))
            st->ops->rollback(st);
    }
out:
    for (size_t i = 0; i < h.n; i++) {
        free(h.v[i].source);
        free(h.v[i].key);
    }
    free(h.v);
    buf_release(&detail);
    return rc;
}
