/* trace.c - `custody trace LOT [--source S] [--json | --format dot] [--scan]`:
 * the chain of custody of a traceability lot (shipping -> receiving,
 * transformation inputs -> outputs) from the current versions in the store.
 * With the store's lot index (index: [traceability_lot_code, input_lots])
 * the events are looked up lot by lot as the tree reaches them; otherwise
 * one scan of the records fills the in-memory index. The tree is built in
 * engine/export.c either way, so the output is the same. */
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "core/buf.h"
#include "core/json.h"
#include "engine/export.h"
#include "engine/recindex.h"

struct ctx {
    export_index *ix;
    json_doc *doc;
    cust_code rc;
    struct err e;
    int once;           /* rows may repeat (index lookups) */
    store *st;          /* for the loader */
    const char *source; /* NULL: every source */
};

static int row_cb(void *ud, const store_row *r)
{
    struct ctx *c = ud;
    const json_value *rec;
    export_version ver = {r->cols[REC_SOURCE], r->cols[REC_KEY], r->cols[REC_VERSION], r->cols[REC_HASH],
                          r->cols[REC_FETCHED_AT], r->cols[REC_REQUEST_ID]};
    if (!r->lens[REC_CANONICAL])
        return 0; /* purged */
    json_doc_reset(c->doc);
    rec = json_parse(c->doc, r->cols[REC_CANONICAL], r->lens[REC_CANONICAL], NULL, NULL);
    if (!rec || rec->type != JSON_OBJECT)
        return 0;
    if ((c->rc = c->once ? export_index_add_once(c->ix, rec, &ver, &export_fsma_default_fields)
                         : export_index_add(c->ix, rec, &ver, &export_fsma_default_fields))) {
        err_set(&c->e, c->rc, "out of memory indexing the records");
        return 1;
    }
    return 0;
}

/* export_lot_loader over the store's index: the events of lot, and the
 * transformations that consumed it. */
static cust_code load_lot(void *ud, export_index *ix, const char *lot)
{
    struct ctx *c = ud;
    const export_fsma_fields *f = &export_fsma_default_fields;
    (void)ix;
    for (int k = 0; k < 2; k++) {
        if (c->st->ops->index_lookup(c->st, c->source, k ? f->input_lots : f->lot, lot, 0, row_cb, c, &c->e))
            return c->rc ? c->rc : c->e.code ? c->e.code : CUST_ESTORE;
        if (c->rc)
            return c->rc;
    }
    return CUST_OK;
}

/* Whether a source's records can all be found through the index: it has
 * none, or its config indexes the lot and input lot fields for every stored
 * version. 1 yes, 0 no (a notice on stderr when index: is declared but
 * incomplete), -1 store error. */
static int source_ready(cli *cl, store *st, const config *cfg, const char *name, struct err *e)
{
    const source_cfg *src = config_source((config *)cfg, name);
    const export_fsma_fields *f = &export_fsma_default_fields;
    int a, b, any;
    if (src && src->nindex) {
        if ((a = recindex_ready(st, src, f->lot, e)) < 0 || (b = recindex_ready(st, src, f->input_lots, e)) < 0)
            return -1;
        if (a && b)
            return 1;
    }
    if ((any = recindex_has_records(st, name, e)) < 0)
        return -1;
    if (any && src && src->nindex && !cl->quiet)
        fprintf(stderr, "custody: trace: source %s declares index: but its index does not cover every stored "
                        "record for traceability_lot_code and input_lots; reading every record instead "
                        "(custody index rebuild %s completes it)\n", name, name);
    return !any;
}

struct names {
    char **v;
    size_t n;
    int failed;
};

static int name_row(void *ud, const store_row *row)
{
    struct names *l = ud;
    char **p = realloc(l->v, (l->n + 1) * sizeof *p);
    if (!p || !(p[l->n] = strdup(row->cols[SRC_NAME] ? row->cols[SRC_NAME] : ""))) {
        if (p)
            l->v = p;
        l->failed = 1;
        return 1;
    }
    l->v = p;
    l->n++;
    return 0;
}

/* Whether the index can answer a trace of source (NULL: of every source
 * the config or the store knows). 1, 0 or -1 as above. */
static int index_usable(cli *cl, store *st, const config *cfg, const char *source, struct err *e)
{
    struct names l = {0};
    int ok = 1;
    if (!st->ops->index_lookup)
        return 0;
    if (source)
        return source_ready(cl, st, cfg, source, e);
    for (size_t i = 0; ok == 1 && i < cfg->nsources; i++)
        ok = source_ready(cl, st, cfg, cfg->sources[i].name, e);
    /* sources the store has records of but the config no longer names */
    if (ok == 1 && st->ops->sources_list(st, name_row, &l, e))
        ok = -1;
    if (ok == 1 && l.failed) {
        err_set(e, CUST_ENOMEM, "out of memory");
        ok = -1;
    }
    for (size_t i = 0; ok == 1 && i < l.n; i++)
        if (!config_source((config *)cfg, l.v[i]))
            ok = source_ready(cl, st, cfg, l.v[i], e);
    for (size_t i = 0; i < l.n; i++)
        free(l.v[i]);
    free(l.v);
    return ok;
}

int cmd_trace(cli *cl, int argc, char **argv)
{
    static const char *const flags[] = {"--source", "--format", "--scan", NULL};
    config *cfg = NULL;
    store *st = NULL;
    const char *lot = NULL, *source = NULL, *fmt = NULL;
    struct ctx c = {0};
    json_doc *tdoc = NULL;
    json_value *tree;
    size_t found = 0;
    int scan = 0, use_index;
    cust_code trc = CUST_OK;
    buf out;
    int rc = 0, n = cmd_parse_common(cl, "trace", argc, argv, flags);
    buf_init(&out, (size_t)1 << 30);
    if (n < 0)
        return 2;
    if (cmd_take_value(&n, argv, "--source", &source) || cmd_take_value(&n, argv, "--format", &fmt))
        return cmd_usage("trace", "%s needs a value", argv[n - 1]);
    for (int i = 1; i < n; i++) {
        if (!strcmp(argv[i], "--scan"))
            scan = 1;
        else if (!lot)
            lot = argv[i];
        else
            return cmd_usage("trace", "unexpected argument \"%s\"", argv[i]);
    }
    if (!lot || !*lot)
        return cmd_usage("trace", "name the traceability lot code: custody trace LOT");
    if (fmt && strcmp(fmt, "dot") && strcmp(fmt, "text") && strcmp(fmt, "json"))
        return cmd_usage("trace", "--format %s: use text, json or dot", fmt);
    if (fmt && !strcmp(fmt, "dot") && cl->json)
        return cmd_usage("trace", "--json and --format dot exclude each other");
    if ((rc = cmd_load_config(cl, &cfg)))
        goto out;
    if (source && !config_source(cfg, source)) {
        fprintf(stderr, "custody: trace: no source named \"%s\" in %s; custody check lists them\n", source,
                cfg->path);
        rc = 2;
        goto out;
    }
    if (!(c.ix = export_index_new()) || !(c.doc = json_doc_new()) || !(tdoc = json_doc_new())) {
        fprintf(stderr, "custody: trace: out of memory\n");
        rc = 1;
        goto out;
    }
    if ((rc = cmd_open_store(cfg, &st)))
        goto out;
    {
        /* one consistent view of records and index while pollers commit */
        struct err se = {0};
        if (st->ops->snapshot && st->ops->snapshot(st, 1, &se)) {
            rc = cmd_fail(&se);
            goto out;
        }
    }
    c.st = st;
    c.source = source;
    use_index = scan ? 0 : index_usable(cl, st, cfg, source, &c.e);
    if (use_index < 0) {
        rc = cmd_fail(&c.e);
        goto out;
    }
    c.once = use_index;
    if (!use_index && st->ops->records_list(st, source, NULL, 0, row_cb, &c, &c.e)) {
        rc = c.rc ? err_exit_code(c.rc) : cmd_fail(&c.e);
        if (c.rc)
            fprintf(stderr, "custody: trace: %s\n", c.e.msg);
        goto out;
    }
    /* with the index, the tree asks for each lot as it reaches it */
    if (!(tree = export_trace_lazy(c.ix, lot, 0, use_index ? load_lot : NULL, &c, tdoc, &found, &trc))) {
        if (trc == CUST_ENOMEM && !c.rc)
            fprintf(stderr, "custody: trace: out of memory building the tree\n");
        else
            fprintf(stderr, "custody: trace: %s\n", c.e.msg[0] ? c.e.msg : cust_strerror(trc));
        rc = trc == CUST_ENOMEM ? 1 : err_exit_code(trc);
        goto out;
    }
    if (!found) {
        const json_value *outs = json_get(tree, "outputs");
        if (!outs || !outs->len) {
            if (use_index)
                fprintf(stderr, "custody: trace: no events of lot %s in %s (looked up in the lot index); check "
                                "the lot code, or poll first\n", lot, source ? source : "any source");
            else
                fprintf(stderr, "custody: trace: no events of lot %s in %s (%zu events indexed); check the lot "
                                "code, or poll first\n", lot, source ? source : "any source",
                        export_index_count(c.ix));
            rc = 1;
            goto out;
        }
    }
    if (cl->json || (fmt && !strcmp(fmt, "json"))) {
        if (json_write(tree, &out) || buf_addc(&out, '\n'))
            rc = 1;
    } else if (fmt && !strcmp(fmt, "dot")) {
        if (export_trace_dot(tree, &out))
            rc = 1;
    } else if (export_trace_text(tree, &out)) {
        rc = 1;
    }
    if (rc) {
        fprintf(stderr, "custody: trace: the tree is too big to print\n");
        goto out;
    }
    fwrite(out.ptr, 1, out.len, stdout);
out:
    buf_release(&out);
    json_doc_free(tdoc);
    json_doc_free(c.doc);
    export_index_free(c.ix);
    store_close(st);
    config_free(cfg);
    return rc;
}
