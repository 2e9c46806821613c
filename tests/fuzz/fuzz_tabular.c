/* fuzz_tabular.c - libFuzzer harness for the CSV/JSONL converter. The first
 * byte picks format and options, the rest is the file. Properties: never a
 * crash or leak; a refusal says "line L: ..." with the expected codes; on
 * success n == records->len, every record is an object (CSV: of strings),
 * lines are 1-based, non-decreasing and inside the input, and the written
 * array parses back. Any violation abort()s. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/tabular.h"

#define REQUIRE(cond) do { \
    if (!(cond)) { \
        fprintf(stderr, "fuzz_tabular: property violated: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
        abort(); \
    } \
} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char delims[4] = {',', ';', '\t', '|'};
    json_doc *doc;
    tabular_opts o;
    tabular_result r;
    tabular_format f;
    struct err e = {0};
    const char *in;
    size_t len, nlines = 1;
    cust_code rc;
    buf w;

    if (size < 1)
        return 0;
    f = data[0] & 1 ? TABULAR_JSONL : TABULAR_CSV;
    tabular_opts_default(&o);
    o.delimiter = delims[(data[0] >> 1) & 3];
    o.header = !(data[0] & 0x08);
    o.trim = !!(data[0] & 0x10);
    o.max_records = data[0] & 0x20 ? 3 : 0;
    in = (const char *)data + 1;
    len = size - 1;
    for (size_t i = 0; i < len; i++)
        nlines += in[i] == '\n';

    doc = json_doc_new();
    REQUIRE(doc != NULL);
    buf_init(&w, 64u << 20);
    rc = tabular_parse(f, in, len, &o, doc, &r, &e);
    if (rc != CUST_OK) {
        REQUIRE(rc == e.code);
        REQUIRE(rc == CUST_EUPSTREAM || rc == CUST_ELIMIT);
        REQUIRE(strncmp(e.msg, "line ", 5) == 0);
        REQUIRE(r.records == NULL && r.lines == NULL && r.n == 0);
        goto out;
    }
    REQUIRE(r.records && r.records->type == JSON_ARRAY);
    REQUIRE(r.n == r.records->len);
    REQUIRE(r.n <= (o.max_records ? o.max_records : TABULAR_DEFAULT_MAX_RECORDS));
    for (size_t i = 0; i < r.n; i++) {
        const json_value *rec = r.records->u.items[i];
        REQUIRE(rec->type == JSON_OBJECT);
        REQUIRE(r.lines[i] >= 1 && r.lines[i] <= nlines);
        REQUIRE(i == 0 || r.lines[i] > r.lines[i - 1]);
        if (f == TABULAR_CSV) {
            REQUIRE(!(rec->flags & JSON_F_DUPKEYS));
            for (size_t k = 0; k < rec->len; k++)
                REQUIRE(rec->u.members[k].value->type == JSON_STRING);
        }
    }
    REQUIRE(json_write(r.records, &w) == CUST_OK);
    {
        json_value *back = json_parse(doc, w.ptr, w.len, NULL, &e);
        if (!back)
            fprintf(stderr, "fuzz_tabular: written records do not parse: %s\n", e.msg);
        REQUIRE(back != NULL && back->type == JSON_ARRAY && back->len == r.n);
    }
    tabular_result_release(&r);
out:
    buf_release(&w);
    json_doc_free(doc);
    return 0;
}
