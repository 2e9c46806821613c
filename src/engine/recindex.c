/* recindex.c - index terms of record versions, the completeness note and the
 * rebuild (see recindex.h). */
#include "recindex.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

/* The terms of rec; *n counts them. */
static cust_code put_terms(store *st, const source_cfg *src, const char *key, int64_t version, const json_value *rec,
                           long *n, struct err *e)
{
    cust_code rc;
    if (!src->nindex || !st->ops->index_put || !rec || rec->type != JSON_OBJECT)
        return CUST_OK;
    for (size_t i = 0; i < src->nindex; i++) {
        const json_value *v = json_get(rec, src->index[i]);
        if (!v)
            continue;
        if (v->type == JSON_STRING) {
            if ((rc = st->ops->index_put(st, src->name, key, version, src->index[i], v->u.str, e)))
                return rc;
            (*n)++;
        } else if (v->type == JSON_ARRAY) {
            for (size_t k = 0; k < v->len; k++) {
                const json_value *it = v->u.items[k];
                if (!it || it->type != JSON_STRING)
                    continue;
                if ((rc = st->ops->index_put(st, src->name, key, version, src->index[i], it->u.str, e)))
                    return rc;
                (*n)++;
            }
        }
    }
    return CUST_OK;
}

cust_code recindex_put(store *st, const source_cfg *src, const char *key, int64_t version, const json_value *rec,
                       struct err *e)
{
    long n = 0;
    return put_terms(st, src, key, version, rec, &n, e);
}

char *recindex_note(store *st, const char *source, int *unset, struct err *e)
{
    char *v = NULL;
    *unset = 0;
    if (st->ops->kv_get(st, source, RECINDEX_KV, &v, e))
        return NULL;
    if (!v)
        *unset = 1;
    return v;
}

/* Whether name is a member of the note (a JSON array of strings). A note
 * that does not parse holds nothing. */
static int note_has(const char *note, const char *name)
{
    json_doc *d = json_doc_new();
    const json_value *a;
    int found = 0;
    if (!d)
        return 0;
    a = json_parse(d, note, strlen(note), NULL, NULL);
    for (size_t i = 0; a && a->type == JSON_ARRAY && i < a->len && !found; i++)
        found = a->u.items[i]->type == JSON_STRING && strcmp(a->u.items[i]->u.str, name) == 0;
    json_doc_free(d);
    return found;
}

static int declares(const source_cfg *src, const char *name)
{
    for (size_t i = 0; i < src->nindex; i++)
        if (strcmp(src->index[i], name) == 0)
            return 1;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The note of src's index fields that are also in old (all when old is
 * NULL), sorted, as a JSON array. */
static cust_code note_of(const source_cfg *src, const char *old, buf *out)
{
    const char **names = NULL;
    size_t n = 0;
    cust_code rc = CUST_OK;
    if (src->nindex && !(names = malloc(src->nindex * sizeof *names)))
        return CUST_ENOMEM;
    for (size_t i = 0; i < src->nindex; i++)
        if (!old || note_has(old, src->index[i]))
            names[n++] = src->index[i];
    if (n > 1)
        qsort(names, n, sizeof *names, cmp_str);
    rc = buf_addc(out, '[');
    for (size_t i = 0; !rc && i < n; i++)
        if (!(rc = i ? buf_addc(out, ',') : CUST_OK))
            rc = json_write_string(out, names[i], strlen(names[i]));
    if (!rc)
        rc = buf_addc(out, ']');
    free(names);
    return rc;
}

static int stop_at_first(void *ud, const store_row *row)
{
    (void)row;
    *(int *)ud = 1;
    return 1;
}

int recindex_has_records(store *st, const char *source, struct err *e)
{
    int any = 0;
    if (st->ops->records_list(st, source, NULL, 1, stop_at_first, &any, e))
        return -1;
    return any;
}

cust_code recindex_sync(store *st, const source_cfg *src, struct err *e)
{
    char *old;
    int unset, any = 0;
    buf want;
    cust_code rc;
    if (!st->ops->index_put || !st->ops->index_lookup)
        return CUST_OK;
    if (!(old = recindex_note(st, src->name, &unset, e)) && !unset)
        return e->code ? e->code : CUST_ESTORE;
    if (unset && !src->nindex)
        return CUST_OK; /* unset reads as "nothing complete" already */
    buf_init(&want, 1u << 20);
    if (unset && (any = recindex_has_records(st, src->name, e)) < 0) {
        rc = e->code ? e->code : CUST_ESTORE;
        goto out;
    }
    /* a source without records is complete for every field it indexes;
     * one with records written before the note existed, for none */
    if (unset && any)
        rc = buf_adds(&want, "[]");
    else
        rc = note_of(src, unset ? NULL : old, &want);
    if (rc) {
        err_set(e, rc, "out of memory");
        goto out;
    }
    if (unset || strcmp(old, buf_str(&want)) != 0)
        rc = st->ops->kv_put(st, src->name, RECINDEX_KV, buf_str(&want), e);
out:
    free(old);
    buf_release(&want);
    return rc;
}

int recindex_ready(store *st, const source_cfg *src, const char *field, struct err *e)
{
    char *note;
    int unset, ok;
    if (!src || !declares(src, field) || !st->ops->index_lookup || !st->ops->index_put)
        return 0;
    if (!(note = recindex_note(st, src->name, &unset, e)))
        return unset ? 0 : -1;
    ok = note_has(note, field);
    free(note);
    return ok;
}

struct rebuild {
    store *st;
    const source_cfg *src;
    json_doc *doc;
    long versions, terms;
    cust_code rc;
    struct err *e;
};

static int rebuild_row(void *ud, const store_row *row)
{
    struct rebuild *r = ud;
    const json_value *rec;
    char *end = NULL;
    long long version;
    r->versions++;
    if (!row->lens[REC_CANONICAL])
        return 0; /* purged: nothing left to find */
    json_doc_reset(r->doc);
    rec = json_parse(r->doc, row->cols[REC_CANONICAL], row->lens[REC_CANONICAL], NULL, NULL);
    if (!rec || rec->type != JSON_OBJECT)
        return 0; /* a tombstone ("null") has no fields */
    version = strtoll(row->cols[REC_VERSION], &end, 10);
    if (!end || *end || version < 1) {
        r->rc = err_set(r->e, CUST_ESTORE, "stored record %s of %s has version \"%s\"; run custody audit verify",
                        row->cols[REC_KEY], r->src->name, row->cols[REC_VERSION]);
        return 1;
    }
    return (r->rc = put_terms(r->st, r->src, row->cols[REC_KEY], (int64_t)version, rec, &r->terms, r->e)) != 0;
}

cust_code recindex_rebuild(const config *cfg, store *st, const char *const *sources, size_t nsources,
                           const char *now, const char *actor, const struct sign_key *signer, recindex_cb cb,
                           void *ud, recindex_report *r, struct err *e)
{
    struct rebuild rb = {0};
    buf note, detail;
    int in_tx = 0;
    cust_code rc = CUST_OK;
    memset(r, 0, sizeof *r);
    if (!st->ops->index_put || !st->ops->index_lookup)
        return err_set(e, CUST_ECONFIG, "this store (%s) keeps no record index; export and trace read every record",
                       st->ops->scheme);
    for (size_t k = 0; k < nsources; k++) {
        const source_cfg *src = config_source((config *)cfg, sources[k]);
        if (!src)
            return err_set(e, CUST_ECONFIG, "no source named \"%s\" in %s; custody check lists them", sources[k],
                           cfg->path);
        if (!src->nindex)
            return err_set(e, CUST_ECONFIG, "source %s declares no index: in %s; add e.g. index: "
                           "[traceability_lot_code, input_lots] to it first", sources[k], cfg->path);
    }
    buf_init(&note, 1u << 20);
    buf_init(&detail, 1u << 20);
    if (!(rb.doc = json_doc_new())) {
        rc = err_set(e, CUST_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = st->ops->begin(st, e)))
        goto out;
    in_tx = 1;
    for (size_t i = 0; i < cfg->nsources; i++) {
        const source_cfg *src = &cfg->sources[i];
        int wanted = nsources == 0;
        for (size_t k = 0; k < nsources; k++)
            wanted |= strcmp(sources[k], src->name) == 0;
        if (!wanted || !src->nindex)
            continue;
        rb.st = st;
        rb.src = src;
        rb.versions = rb.terms = 0;
        rb.e = e;
        rb.rc = CUST_OK;
        if ((rc = st->ops->records_list(st, src->name, NULL, 1, rebuild_row, &rb, e)) || (rc = rb.rc))
            goto out;
        buf_reset(&note);
        buf_reset(&detail);
        if (note_of(src, NULL, &note) || buf_adds(&detail, "{\"fields\":") || buf_adds(&detail, buf_str(&note)) ||
            buf_addf(&detail, ",\"terms\":%ld,\"versions\":%ld}", rb.terms, rb.versions)) {
            rc = err_set(e, CUST_ENOMEM, "out of memory");
            goto out;
        }
        if ((rc = st->ops->kv_put(st, src->name, RECINDEX_KV, buf_str(&note), e)))
            goto out;
        {
            store_audit a = {now, actor, "index.rebuild", src->name, "", detail.ptr, ""};
            if ((rc = st->ops->audit_append(st, &a, NULL, e)))
                goto out;
        }
        r->sources++;
        r->versions += rb.versions;
        r->terms += rb.terms;
        if (cb)
            cb(ud, src->name, rb.versions, rb.terms);
    }
    if (!r->sources) {
        rc = err_set(e, CUST_ECONFIG, "no source in %s declares index:; add e.g. index: "
                     "[traceability_lot_code, input_lots] to a source first", cfg->path);
        goto out;
    }
    {
        char root[65];
        int64_t size;
        if ((rc = st->ops->checkpoint(st, now, signer, &size, root, e)) || (rc = st->ops->commit(st, e)))
            goto out;
        in_tx = 0;
    }
out:
    if (in_tx)
        st->ops->rollback(st);
    json_doc_free(rb.doc);
    buf_release(&note);
    buf_release(&detail);
    return rc;
}
