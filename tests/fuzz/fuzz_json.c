/* fuzz_json.c - libFuzzer harness for the JSON parser, writer and JCS.
 * Properties: a parse never crashes; what parses writes back to text that
 * parses to an equal tree and writes to the same bytes; JCS output (when
 * the document is I-JSON) parses and canonicalises to the same bytes. Any
 * violation abort()s. Everything is freed (ASan checks leaks). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/jcs.h"
#include "core/json.h"

#define REQUIRE(cond) do { \
    if (!(cond)) { \
        fprintf(stderr, "fuzz_json: property violated: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
        abort(); \
    } \
} while (0)

/* Structural equality. JSON_F_SURROGATE is about the escape in the source
 * text (the bytes hold U+FFFD), so the writer cannot keep it; every other
 * flag must survive. */
static int equal(const json_value *a, const json_value *b)
{
    const uint32_t mask = ~(uint32_t)JSON_F_SURROGATE;
    if (a->type != b->type || a->len != b->len || (a->flags & mask) != (b->flags & mask))
        return 0;
    switch (a->type) {
    case JSON_NULL:
    case JSON_FALSE:
    case JSON_TRUE:
        return 1;
    case JSON_NUMBER:
        if ((a->flags & JSON_F_INT64) && a->i64 != b->i64)
            return 0;
        return memcmp(a->u.str, b->u.str, a->len) == 0;
    case JSON_STRING:
        return memcmp(a->u.str, b->u.str, a->len) == 0;
    case JSON_ARRAY:
        for (size_t i = 0; i < a->len; i++)
            if (!equal(a->u.items[i], b->u.items[i]))
                return 0;
        return 1;
    case JSON_OBJECT:
        for (size_t i = 0; i < a->len; i++) {
            const json_member *x = &a->u.members[i], *y = &b->u.members[i];
            if (x->key_len != y->key_len || memcmp(x->key, y->key, x->key_len) != 0 || !equal(x->value, y->value))
                return 0;
        }
        return 1;
    }
    return 0;
}

/* Spans of parsed values lie inside the input; nested spans inside their
 * parent's; the span of a scalar starts with the character its type needs. */
static void check_spans(const json_value *v, const uint8_t *data, size_t size, size_t lo, size_t hi)
{
    REQUIRE(v->src_off >= lo && v->src_len <= hi - v->src_off && v->src_len > 0);
    switch (v->type) {
    case JSON_NULL: REQUIRE(data[v->src_off] == 'n' && v->src_len == 4); break;
    case JSON_TRUE: REQUIRE(data[v->src_off] == 't' && v->src_len == 4); break;
    case JSON_FALSE: REQUIRE(data[v->src_off] == 'f' && v->src_len == 5); break;
    case JSON_STRING: REQUIRE(data[v->src_off] == '"' && data[v->src_off + v->src_len - 1] == '"'); break;
    case JSON_NUMBER:
        REQUIRE(v->src_len == v->len && memcmp(data + v->src_off, v->u.str, v->len) == 0);
        break;
    case JSON_ARRAY:
        REQUIRE(data[v->src_off] == '[' && data[v->src_off + v->src_len - 1] == ']');
        for (size_t i = 0; i < v->len; i++)
            check_spans(v->u.items[i], data, size, v->src_off + 1, v->src_off + v->src_len - 1);
        break;
    case JSON_OBJECT:
        REQUIRE(data[v->src_off] == '{' && data[v->src_off + v->src_len - 1] == '}');
        for (size_t i = 0; i < v->len; i++)
            check_spans(v->u.members[i].value, data, size, v->src_off + 1, v->src_off + v->src_len - 1);
        break;
    }
}

/* Would jcs_write accept this tree? (I-JSON: no duplicate names, no lone
 * surrogates, every number a finite double.) */
static int is_ijson(const json_value *v)
{
    switch (v->type) {
    case JSON_NUMBER: {
        int ok;
        json_number(v, &ok);
        return ok || ((v->flags & JSON_F_INT64) && v->i64 >= -(1LL << 53) && v->i64 <= (1LL << 53));
    }
    case JSON_STRING:
        return !(v->flags & JSON_F_SURROGATE);
    case JSON_ARRAY:
        for (size_t i = 0; i < v->len; i++)
            if (!is_ijson(v->u.items[i]))
                return 0;
        return 1;
    case JSON_OBJECT:
        if (v->flags & (JSON_F_DUPKEYS | JSON_F_SURROGATE))
            return 0;
        for (size_t i = 0; i < v->len; i++)
            if (!is_ijson(v->u.members[i].value))
                return 0;
        return 1;
    default:
        return 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_doc *doc = json_doc_new();
    json_limits lim = json_default_limits;
    struct err e = {0};
    buf w1, w2, c1, c2;
    json_value *v, *v2, *v3;
    cust_code rc;

    lim.max_bytes = 1u << 20;
    buf_init(&w1, 16u << 20);
    buf_init(&w2, 16u << 20);
    buf_init(&c1, 16u << 20);
    buf_init(&c2, 16u << 20);
    REQUIRE(doc != NULL);

    v = json_parse(doc, (const char *)data, size, &lim, &e);
    if (!v) {
        /* A refusal says why and where. */
        REQUIRE(e.code == CUST_EJSON || e.code == CUST_ELIMIT);
        REQUIRE(e.msg[0] != '\0');
        REQUIRE(e.code == CUST_ELIMIT || strncmp(e.msg, "line ", 5) == 0);
        goto out;
    }
    REQUIRE(e.code == CUST_OK);
    check_spans(v, data, size, 0, size);

    /* write -> parse -> equal; write again -> same bytes */
    REQUIRE(json_write(v, &w1) == CUST_OK);
    REQUIRE(w1.len <= size); /* compact and minimally escaped */
    v2 = json_parse(doc, w1.ptr, w1.len, &lim, &e);
    if (!v2)
        fprintf(stderr, "fuzz_json: written output does not parse: %s\n", e.msg);
    REQUIRE(v2 != NULL);
    REQUIRE(equal(v, v2));
    REQUIRE(json_write(v2, &w2) == CUST_OK);
    REQUIRE(w1.len == w2.len && memcmp(w1.ptr, w2.ptr, w1.len) == 0);

    /* JCS: accepted exactly for I-JSON, and idempotent. */
    rc = jcs_write(v, &c1, &e);
    REQUIRE(rc == CUST_OK || rc == CUST_EJSON);
    REQUIRE((rc == CUST_OK) == is_ijson(v));
    if (rc == CUST_OK) {
        REQUIRE(jcs_write(v2, &c2, &e) == CUST_OK); /* written form canonicalises the same */
        REQUIRE(c1.len == c2.len && memcmp(c1.ptr, c2.ptr, c1.len) == 0);
        v3 = json_parse(doc, c1.ptr, c1.len, &lim, &e);
        if (!v3)
            fprintf(stderr, "fuzz_json: canonical output does not parse: %s\n", e.msg);
        REQUIRE(v3 != NULL);
        buf_reset(&c2);
        REQUIRE(jcs_write(v3, &c2, &e) == CUST_OK);
        if (c1.len != c2.len || memcmp(c1.ptr, c2.ptr, c1.len) != 0)
            fprintf(stderr, "fuzz_json: jcs not idempotent:\n  %s\n  %s\n", buf_str(&c1), buf_str(&c2));
        REQUIRE(c1.len == c2.len && memcmp(c1.ptr, c2.ptr, c1.len) == 0);
    } else {
        REQUIRE(strncmp(e.msg, "$", 1) == 0); /* names the path */
    }

out:
    buf_release(&w1);
    buf_release(&w2);
    buf_release(&c1);
    buf_release(&c2);
    json_doc_free(doc);
    return 0;
}
