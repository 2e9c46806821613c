/* trace.c - `custody trace LOT [--source S] [--json | --format dot]`: the chain
 * of custody of a traceability lot (shipping -> receiving, transformation
 * inputs -> outputs) from the current versions in the store. One scan of the
 * records builds an in-memory index; the tree is built in engine/export.c. */
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "core/buf.h"
#include "core/json.h"
#include "engine/export.h"

struct ctx {
    export_index *ix;
    json_doc *doc;
    cust_code rc;
    struct err e;
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
    if ((c->rc = export_index_add(c->ix, rec, &ver, &export_fsma_default_fields))) {
        err_set(&c->e, c->rc, "out of memory indexing the records");
        return 1;
    }
    return 0;
}

int cmd_trace(cli *cl, int argc, char **argv)
{
    static const char *const flags[] = {"--source", "--format", NULL};
    config *cfg = NULL;
    store *st = NULL;
    const char *lot = NULL, *source = NULL, *fmt = NULL;
    struct ctx c = {0};
    json_doc *tdoc = NULL;
    json_value *tree;
    size_t found = 0;
    buf out;
    int rc = 0, n = cmd_parse_common(cl, "trace", argc, argv, flags);
    buf_init(&out, (size_t)1 << 30);
    if (n < 0)
        return 2;
    if (cmd_take_value(&n, argv, "--source", &source) || cmd_take_value(&n, argv, "--format", &fmt))
        return cmd_usage("trace", "%s needs a value", argv[n - 1]);
    for (int i = 1; i < n; i++) {
        if (!lot)
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
    if (st->ops->records_list(st, source, NULL, 0, row_cb, &c, &c.e)) {
        rc = c.rc ? err_exit_code(c.rc) : cmd_fail(&c.e);
        if (c.rc)
            fprintf(stderr, "custody: trace: %s\n", c.e.msg);
        goto out;
    }
    if (!(tree = export_trace(c.ix, lot, 0, tdoc, &found))) {
        fprintf(stderr, "custody: trace: out of memory building the tree\n");
        rc = 1;
        goto out;
    }
    if (!found) {
        const json_value *outs = json_get(tree, "outputs");
        if (!outs || !outs->len) {
            fprintf(stderr, "custody: trace: no events of lot %s in %s (%zu events indexed); check the lot code, "
                            "or poll first\n", lot, source ? source : "any source", export_index_count(c.ix));
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
