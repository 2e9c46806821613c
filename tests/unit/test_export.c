/* test_export.c - the pure parts of export and trace: CSV quoting, formula
 * neutralisation (and its number exception), FSMA 204 rows, and the trace
 * tree over a small graph with a cycle. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "engine/export.h"

static const char *field(const char *s, int neutralise, int *changed)
{
    static buf b;
    buf_release(&b);
    buf_init(&b, 1 << 20);
    if (export_csv_field(&b, s, strlen(s), neutralise, changed))
        return NULL;
    return buf_str(&b);
}

static void test_csv_quoting(void)
{
    int ch = 0;
    CHECK_STR(field("plain", 0, NULL), "plain");
    CHECK_STR(field("", 0, NULL), "");
    CHECK_STR(field("a,b", 0, NULL), "\"a,b\"");
    CHECK_STR(field("say \"hi\"", 0, NULL), "\"say \"\"hi\"\"\"");
    CHECK_STR(field("two\nlines", 0, NULL), "\"two\nlines\"");
    CHECK_STR(field("cr\rhere", 0, NULL), "\"cr\rhere\"");
    CHECK_STR(field("=1+2", 1, &ch), "'=1+2");
    CHECK_INT(ch, 1);
    CHECK_STR(field("=HYPERLINK(\"x\",\"y\")", 1, NULL), "\"'=HYPERLINK(\"\"x\"\",\"\"y\"\")\"");
}

static void test_neutralise_rules(void)
{
    CHECK(export_formula_risky("=A1", 3));
    CHECK(export_formula_risky("+1", 2));
    CHECK(export_formula_risky("-x", 2));
    CHECK(export_formula_risky("@SUM", 4));
    CHECK(export_formula_risky("\tx", 2));
    CHECK(export_formula_risky("\rx", 2));
    CHECK(!export_formula_risky("a=b", 3));
    CHECK(!export_formula_risky("", 0));
    /* the number exception: typed numbers are data */
    CHECK(!export_must_neutralise(FT_NUMBER, "-5", 2));
    CHECK(!export_must_neutralise(FT_INTEGER, "-12", 3));
    CHECK(!export_must_neutralise(FT_DECIMAL, "-0.50", 5));
    CHECK(!export_must_neutralise(FT_NUMBER, "-1.5e3", 6));
    CHECK(export_must_neutralise(FT_STRING, "-5", 2));
    CHECK(export_must_neutralise(FT_NUMBER, "-5+A1", 5));
    CHECK(export_must_neutralise(FT_NUMBER, "+5", 2)); /* not a JSON number */
    CHECK(export_must_neutralise(FT_STRING, "=cmd", 4));
    CHECK(!export_must_neutralise(FT_STRING, "TLC-1", 5));
    CHECK(export_is_number_text("0", 1));
    CHECK(!export_is_number_text("-", 1));
    CHECK(!export_is_number_text("1.", 2));
    CHECK(!export_is_number_text("1e", 2));
}

static void test_cell_text(void)
{
    json_doc *d = json_doc_new();
    const char *t = "{\"s\":\"x\",\"n\":-5.50,\"b\":true,\"z\":null,\"a\":[1,\"two\"],\"o\":{\"k\":\"v\"}}";
    json_value *v = json_parse(d, t, strlen(t), NULL, NULL);
    buf b;
    buf_init(&b, 1 << 20);
    CHECK(v != NULL);
    CHECK(!export_cell_text(json_get(v, "s"), &b));
    CHECK_STR(buf_str(&b), "x");
    buf_reset(&b);
    CHECK(!export_cell_text(json_get(v, "n"), &b));
    CHECK_STR(buf_str(&b), "-5.50");
    buf_reset(&b);
    CHECK(!export_cell_text(json_get(v, "z"), &b));
    CHECK_INT(b.len, 0);
    CHECK(!export_cell_text(json_get(v, "missing"), &b));
    CHECK_INT(b.len, 0);
    CHECK(!export_cell_text(json_get(v, "a"), &b));
    CHECK_STR(buf_str(&b), "[1,\"two\"]");
    buf_reset(&b);
    CHECK(!export_cell_text(json_get(v, "o"), &b));
    CHECK_STR(buf_str(&b), "{\"k\":\"v\"}");
    buf_release(&b);
    json_doc_free(d);
}

static json_value *rec_of(json_doc *d, const char *text)
{
    return json_parse(d, text, strlen(text), NULL, NULL);
}

static void test_fsma_rows(void)
{
    json_doc *d = json_doc_new();
    export_version v = {"s1", "[\"TLC-1\",\"shipping\",\"2026-03-01T10:00:00Z\"]", "2", "ab12", "2026-03-02T00:00:00Z",
                        "req-7"};
    export_fsma_row r[3];
    struct err e = {0};
    json_value *ship = rec_of(d, "{\"traceability_lot_code\":\"TLC-1\",\"event_type\":\"shipping\","
                                 "\"event_timestamp\":\"2026-03-01T10:00:00Z\",\"product_description\":\"Romaine\","
                                 "\"quantity\":12.5,\"unit_of_measure\":\"kg\",\"origin_location_id\":\"LOC-A\","
                                 "\"destination_location_id\":\"LOC-B\",\"supplier_id\":\"SUP-1\"}");
    json_value *recv = rec_of(d, "{\"traceability_lot_code\":\"TLC-0\",\"event_type\":\"receiving\","
                                 "\"event_timestamp\":\"2026-03-01T09:00:00.250Z\",\"quantity\":3,"
                                 "\"origin_location_id\":\"LOC-A\",\"destination_location_id\":\"LOC-B\"}");
    json_value *harv = rec_of(d, "{\"traceability_lot_code\":\"TLC-0\",\"event_type\":\"harvest\","
                                 "\"event_timestamp\":\"2026-03-01T10:00:00Z\",\"origin_location_id\":\"FARM\","
                                 "\"destination_location_id\":\"LOC-A\"}");
    json_value *bad = rec_of(d, "{\"event_type\":\"harvest\"}");
    CHECK(!export_fsma_row_of(ship, &v, &export_fsma_default_fields, d, &r[0], &e));
    CHECK_STR(r[0].cells[FSMA_EVENT_TYPE], "shipping");
    CHECK_STR(r[0].cells[FSMA_LOCATION], "LOC-A");
    CHECK_STR(r[0].cells[FSMA_PREV_OR_NEXT], "LOC-B");
    CHECK_STR(r[0].cells[FSMA_QUANTITY], "12.5");
    CHECK(r[0].quantity_is_number);
    CHECK_STR(r[0].cells[FSMA_LOT_SOURCE], "SUP-1");
    CHECK_STR(r[0].cells[FSMA_EVENT_DATE], "2026-03-01");
    CHECK_STR(r[0].cells[FSMA_EVENT_TIME], "10:00:00");
    CHECK_STR(r[0].cells[FSMA_REF_NUMBER], "req-7");
    CHECK_STR(r[0].cells[FSMA_CONTENT_HASH], "ab12");
    CHECK(!export_fsma_row_of(recv, &v, &export_fsma_default_fields, d, &r[1], &e));
    CHECK_STR(r[1].cells[FSMA_LOCATION], "LOC-B");
    CHECK_STR(r[1].cells[FSMA_PREV_OR_NEXT], "LOC-A");
    CHECK_STR(r[1].cells[FSMA_EVENT_TIME], "09:00:00");
    CHECK(!export_fsma_row_of(harv, &v, &export_fsma_default_fields, d, &r[2], &e));
    CHECK_STR(r[2].cells[FSMA_LOCATION], "FARM");
    CHECK_STR(r[2].cells[FSMA_PREV_OR_NEXT], "");
    CHECK_STR(r[2].cells[FSMA_PRODUCT], "");
    CHECK(!r[2].quantity_is_number); /* absent */
    export_fsma_sort(r, 3);
    /* by event time, then lot: 09:00 TLC-0, 10:00 TLC-0, 10:00 TLC-1 */
    CHECK_STR(r[0].cells[FSMA_EVENT_TYPE], "receiving");
    CHECK_STR(r[1].cells[FSMA_EVENT_TYPE], "harvest");
    CHECK_STR(r[2].cells[FSMA_EVENT_TYPE], "shipping");
    {
        export_fsma_row x;
        CHECK_INT(export_fsma_row_of(bad, &v, &export_fsma_default_fields, d, &x, &e), CUST_EDATA);
    }
    json_doc_free(d);
}

static void add(export_index *ix, json_doc *d, const char *key, const char *text)
{
    export_version v = {"src", key, "1", "00ff", "2026-03-02T00:00:00Z", "r"};
    json_value *rec = rec_of(d, text);
    CHECK(rec != NULL);
    CHECK(!export_index_add(ix, rec, &v, &export_fsma_default_fields));
}

#define EV(lot, type, ts, o, dst, extra)                                                                         \
    "{\"traceability_lot_code\":\"" lot "\",\"event_type\":\"" type "\",\"event_timestamp\":\"" ts                  \
    "\",\"origin_location_id\":\"" o "\",\"destination_location_id\":\"" dst "\"" extra "}"

static void test_trace_cycle(void)
{
    json_doc *d = json_doc_new(), *t = json_doc_new();
    export_index *ix = export_index_new();
    json_value *tree, *events, *outputs, *b, *a2;
    size_t found = 0;
    buf out;
    buf_init(&out, 1 << 20);
    /* A is harvested, shipped F->W and received at W (and at X: a receiving
     * not matching the shipping); B is made from A; A is made from B again
     * (a cycle in bad data); C from B. */
    add(ix, d, "k1", EV("A", "harvest", "2026-03-01T08:00:00Z", "F", "F", ""));
    add(ix, d, "k2", EV("A", "shipping", "2026-03-01T09:00:00Z", "F", "W", ""));
    add(ix, d, "k3", EV("A", "receiving", "2026-03-01T12:00:00Z", "F", "W", ""));
    add(ix, d, "k4", EV("A", "receiving", "2026-03-01T13:00:00Z", "F", "X", ""));
    add(ix, d, "k5", EV("B", "transformation", "2026-03-02T08:00:00Z", "W", "W", ",\"input_lots\":[\"A\"]"));
    add(ix, d, "k6", EV("A", "transformation", "2026-03-03T08:00:00Z", "W", "W", ",\"input_lots\":[\"B\"]"));
    add(ix, d, "k7", EV("C", "transformation", "2026-03-04T08:00:00Z", "W", "W", ",\"input_lots\":[\"B\",7]"));
    add(ix, d, "k8", "{\"event_type\":\"harvest\"}"); /* no lot: ignored */
    CHECK_INT(export_index_count(ix), 7);
    tree = export_trace(ix, "A", 0, t, &found);
    CHECK(tree != NULL);
    CHECK_INT(found, 5);
    events = json_get(tree, "events");
    CHECK(events && events->len == 4); /* harvest, shipping(+received), receiving at X, transformation */
    CHECK_STR(json_get(events->u.items[1], "event_type")->u.str, "shipping");
    CHECK_INT(json_get(events->u.items[1], "received")->len, 1);
    CHECK_STR(json_get(events->u.items[2], "location")->u.str, "X");
    outputs = json_get(tree, "outputs");
    CHECK(outputs && outputs->len == 1);
    b = outputs->u.items[0];
    CHECK_STR(json_get(b, "lot")->u.str, "B");
    CHECK_STR(json_get(json_get(b, "via"), "key")->u.str, "k5");
    CHECK_INT(json_get(b, "outputs")->len, 2);
    a2 = json_get(b, "outputs")->u.items[0];
    CHECK_STR(json_get(a2, "lot")->u.str, "A");
    CHECK(json_get(a2, "seen") != NULL); /* the cycle ends here */
    CHECK_STR(json_get(json_get(b, "outputs")->u.items[1], "lot")->u.str, "C");
    CHECK(!export_trace_text(tree, &out));
    CHECK(strstr(buf_str(&out), "lot A\n") == buf_str(&out));
    CHECK(strstr(buf_str(&out), "shown above") != NULL);
    CHECK(strstr(buf_str(&out), "-> receiving 2026-03-01T12:00:00Z at W from F") != NULL);
    buf_reset(&out);
    CHECK(!export_trace_dot(tree, &out));
    CHECK(strncmp(buf_str(&out), "digraph", 7) == 0);
    CHECK(strstr(buf_str(&out), "\"lot B\"") != NULL);
    /* a lot nobody knows: empty tree, found 0 */
    json_doc_reset(t);
    tree = export_trace(ix, "Z", 0, t, &found);
    CHECK(tree != NULL);
    CHECK_INT(found, 0);
    /* bounded expansion */
    json_doc_reset(t);
    tree = export_trace(ix, "A", 1, t, &found);
    CHECK(tree != NULL);
    CHECK(json_get(json_get(tree, "outputs")->u.items[0], "truncated") != NULL);
    buf_release(&out);
    export_index_free(ix);
    json_doc_free(d);
    json_doc_free(t);
}

/* The lazy trace (lots loaded as the tree reaches them, as from the store's
 * lot index) builds the very tree the full index does: a generated graph of
 * lots with shipments, receivings, transformations of several inputs,
 * equal timestamps and cycles, every lot as the root, several bounds. */
#define NREC 400
struct lazy {
    json_value *recs[NREC];
    char keys[NREC][16];
    size_t calls;
};

static cust_code load_from(void *ud, export_index *ix, const char *lot)
{
    struct lazy *z = ud;
    z->calls++;
    /* twice over, like a lookup by lot and one by input lot that both
     * return a record: add_once keeps one */
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < NREC; i++) {
            const json_value *l = json_get(z->recs[i], "traceability_lot_code"), *in = json_get(z->recs[i], "input_lots");
            int hit = l && !strcmp(l->u.str, lot);
            for (size_t k = 0; !hit && in && k < in->len; k++)
                hit = in->u.items[k]->type == JSON_STRING && !strcmp(in->u.items[k]->u.str, lot);
            if (hit) {
                export_version v = {i % 3 ? "src" : "other", z->keys[i], "1", "00ff", "2026-03-02T00:00:00Z", "r"};
                cust_code rc = export_index_add_once(ix, z->recs[i], &v, &export_fsma_default_fields);
                if (rc)
                    return rc;
            }
        }
    return CUST_OK;
}

static void test_trace_lazy_same(void)
{
    static const char *const types[] = {"harvest", "shipping", "receiving", "transformation", "cooling"};
    static const char *const locs[] = {"F", "W", "X", "S"};
    json_doc *d = json_doc_new(), *t1 = json_doc_new(), *t2 = json_doc_new();
    export_index *full = export_index_new();
    struct lazy *z = calloc(1, sizeof *z);
    unsigned x = 12345;
    size_t mismatches = 0, trees = 0, branching = 0;
    buf a, b, text;
    buf_init(&a, 1u << 24);
    buf_init(&b, 1u << 24);
    buf_init(&text, 4096);
    for (size_t i = 0; z && i < NREC; i++) {
        int lot, type;
        x = x * 1103515245u + 12345u;
        lot = (int)((x >> 8) % 60);
        type = (int)((x >> 4) % 5);
        buf_reset(&text);
        CHECK(!buf_addf(&text, "{\"traceability_lot_code\":\"L%02d\",\"event_type\":\"%s\","
                               "\"event_timestamp\":\"2026-03-%02dT0%u:00:00Z\",\"origin_location_id\":\"%s\","
                               "\"destination_location_id\":\"%s\"",
                        lot, types[type], 1 + (int)(i % 9), (x >> 12) % 3, locs[(x >> 14) % 4], locs[(x >> 16) % 4]));
        if (type == 3) {
            int nin = 1 + (int)((x >> 18) % 3);
            CHECK(!buf_adds(&text, ",\"input_lots\":["));
            for (int k = 0; k < nin; k++)
                CHECK(!buf_addf(&text, "%s\"L%02d\"", k ? "," : "", (int)((x >> (20 + 3 * k)) % 60)));
            CHECK(!buf_adds(&text, "]"));
        }
        CHECK(!buf_addc(&text, '}'));
        z->recs[i] = rec_of(d, buf_str(&text));
        CHECK(z->recs[i] != NULL);
        snprintf(z->keys[i], sizeof z->keys[i], "k%03zu", i);
        {
            export_version v = {i % 3 ? "src" : "other", z->keys[i], "1", "00ff", "2026-03-02T00:00:00Z", "r"};
            CHECK(!export_index_add(full, z->recs[i], &v, &export_fsma_default_fields));
        }
    }
    for (int lot = 0; z && lot < 62; lot++) { /* 60, 61: lots nobody has */
        static const size_t bounds[] = {0, 1, 3, 10};
        char name[8];
        snprintf(name, sizeof name, "L%02d", lot);
        for (size_t bi = 0; bi < sizeof bounds / sizeof *bounds; bi++) {
            export_index *lazy = export_index_new();
            size_t f1 = 0, f2 = 0;
            cust_code rc = CUST_ENOMEM;
            json_value *x1, *x2;
            json_doc_reset(t1);
            json_doc_reset(t2);
            buf_reset(&a);
            buf_reset(&b);
            z->calls = 0;
            x1 = export_trace(full, name, bounds[bi], t1, &f1);
            x2 = export_trace_lazy(lazy, name, bounds[bi], load_from, z, t2, &f2, &rc);
            CHECK(x1 && x2);
            CHECK_INT(rc, CUST_OK);
            CHECK_INT(f1, f2);
            if (x1 && x2 && (json_write(x1, &a) || json_write(x2, &b) || strcmp(buf_str(&a), buf_str(&b)))) {
                if (!mismatches++)
                    fprintf(stderr, "lazy trace of %s (bound %zu) differs:\n  full: %.400s\n  lazy: %.400s\n", name,
                            bounds[bi], buf_str(&a), buf_str(&b));
            }
            if (x1 && json_get(x1, "outputs") && json_get(x1, "outputs")->len > 1)
                branching++;
            /* the store is asked once per expanded lot, never more */
            CHECK(z->calls <= (bounds[bi] ? bounds[bi] : 5000));
            trees++;
            export_index_free(lazy);
        }
    }
    CHECK_INT(mismatches, 0);
    CHECK_INT(trees, 62 * 4);
    CHECK(branching > 20); /* the graph is not trivial */
    buf_release(&a);
    buf_release(&b);
    buf_release(&text);
    free(z);
    export_index_free(full);
    json_doc_free(d);
    json_doc_free(t1);
    json_doc_free(t2);
}

int main(void)
{
    test_csv_quoting();
    test_neutralise_rules();
    test_cell_text();
    test_fsma_rows();
    test_trace_cycle();
    test_trace_lazy_same();
    return check_report("test_export");
}
