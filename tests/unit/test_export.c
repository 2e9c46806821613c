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

int main(void)
{
    test_csv_quoting();
    test_neutralise_rules();
    test_cell_text();
    test_fsma_rows();
    test_trace_cycle();
    return check_report("test_export");
}
