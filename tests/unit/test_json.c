/* test_json.c - the JSON reader/builder of src/core/json.h: valid documents,
 * a table of invalid ones with the error each must give (code, line, column,
 * what), flags, source spans, paths, builders and the writer round trip.
 * Canonical output is test_jcs.c's business. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/jcs.h"
#include "core/json.h"

/* Structural equality: same types, same number text, same string bytes,
 * same members in the same order. */
static int json_equal(const json_value *a, const json_value *b)
{
    if (!a || !b || a->type != b->type || a->len != b->len)
        return 0;
    switch (a->type) {
    case JSON_NULL:
    case JSON_FALSE:
    case JSON_TRUE:
        return 1;
    case JSON_NUMBER:
        if ((a->flags & (JSON_F_INT | JSON_F_INT64)) != (b->flags & (JSON_F_INT | JSON_F_INT64)))
            return 0;
        if ((a->flags & JSON_F_INT64) && a->i64 != b->i64)
            return 0;
        return memcmp(a->u.str, b->u.str, a->len) == 0;
    case JSON_STRING:
        return memcmp(a->u.str, b->u.str, a->len) == 0;
    case JSON_ARRAY:
        for (size_t i = 0; i < a->len; i++)
            if (!json_equal(a->u.items[i], b->u.items[i]))
                return 0;
        return 1;
    case JSON_OBJECT:
        if ((a->flags & JSON_F_DUPKEYS) != (b->flags & JSON_F_DUPKEYS))
            return 0;
        for (size_t i = 0; i < a->len; i++) {
            const json_member *x = &a->u.members[i], *y = &b->u.members[i];
            if (x->key_len != y->key_len || memcmp(x->key, y->key, x->key_len) != 0 ||
                !json_equal(x->value, y->value))
                return 0;
        }
        return 1;
    }
    return 0;
}

static json_value *parse(json_doc *d, const char *s, struct err *e)
{
    return json_parse(d, s, strlen(s), NULL, e);
}

/* ---- valid documents ---------------------------------------------------- */

static void test_scalars(json_doc *d)
{
    struct err e = {0};
    json_value *v;

    v = parse(d, "null", &e);
    CHECK(v && v->type == JSON_NULL && e.code == CUST_OK);
    v = parse(d, "true", &e);
    CHECK(v && v->type == JSON_TRUE);
    v = parse(d, "false", &e);
    CHECK(v && v->type == JSON_FALSE);
    v = parse(d, " \t\r\n \"x\" \n\t\r ", &e);
    CHECK(v && v->type == JSON_STRING && v->len == 1);
    if (v)
        CHECK_STR(v->u.str, "x");
    v = parse(d, "\"\"", &e);
    CHECK(v && v->type == JSON_STRING && v->len == 0);
    if (v)
        CHECK_STR(v->u.str, "");
    v = parse(d, "[]", &e);
    CHECK(v && v->type == JSON_ARRAY && v->len == 0);
    v = parse(d, "{}", &e);
    CHECK(v && v->type == JSON_OBJECT && v->len == 0);
    v = parse(d, "[ \n ]", &e);
    CHECK(v && v->type == JSON_ARRAY && v->len == 0);
    v = parse(d, "{ \t }", &e);
    CHECK(v && v->type == JSON_OBJECT && v->len == 0);
}

/* Numbers: the exact text is kept; INT/INT64 flags and i64. */
static const struct {
    const char *in;
    uint32_t flags; /* JSON_F_INT / JSON_F_INT64 expected */
    int64_t i64;
    double dbl;     /* json_number */
} numbers[] = {
    {"0", JSON_F_INT | JSON_F_INT64, 0, 0},
    {"-0", JSON_F_INT | JSON_F_INT64, 0, -0.0},
    {"7", JSON_F_INT | JSON_F_INT64, 7, 7},
    {"-42", JSON_F_INT | JSON_F_INT64, -42, -42},
    {"9007199254740993", JSON_F_INT | JSON_F_INT64, 9007199254740993LL, 9007199254740992.0},
    {"9223372036854775807", JSON_F_INT | JSON_F_INT64, INT64_MAX, 9223372036854775807.0},
    {"-9223372036854775808", JSON_F_INT | JSON_F_INT64, INT64_MIN, -9223372036854775808.0},
    {"9223372036854775808", JSON_F_INT, 0, 9223372036854775808.0},
    {"-9223372036854775809", JSON_F_INT, 0, -9223372036854775809.0},
    {"18446744073709551616", JSON_F_INT, 0, 18446744073709551616.0},
    {"100000000000000000000000000000", JSON_F_INT, 0, 1e29},
    {"1.0", 0, 0, 1.0},
    {"1.50", 0, 0, 1.5},
    {"-0.0", 0, 0, -0.0},
    {"1e2", 0, 0, 100},
    {"1E+2", 0, 0, 100},
    {"1e-2", 0, 0, 0.01},
    {"123.456e-7", 0, 0, 123.456e-7},
    {"0.1", 0, 0, 0.1},
    {"1.7976931348623157e308", 0, 0, 1.7976931348623157e308},
    {"2.2250738585072014e-308", 0, 0, 2.2250738585072014e-308},
};

static void test_numbers(json_doc *d)
{
    for (size_t i = 0; i < sizeof numbers / sizeof *numbers; i++) {
        struct err e = {0};
        char wrapped[96];
        json_value *v = parse(d, numbers[i].in, &e);
        int ok = -1;
        CHECK(v && v->type == JSON_NUMBER);
        if (!v) {
            fprintf(stderr, "  %s: %s\n", numbers[i].in, e.msg);
            continue;
        }
        CHECK_STR(v->u.str, numbers[i].in);
        CHECK_INT(v->len, strlen(numbers[i].in));
        CHECK_INT(v->flags & (JSON_F_INT | JSON_F_INT64), numbers[i].flags);
        if (numbers[i].flags & JSON_F_INT64)
            CHECK_INT(v->i64, numbers[i].i64);
        CHECK(json_number(v, &ok) == numbers[i].dbl && ok == 1);
        if (json_number(v, NULL) != numbers[i].dbl)
            fprintf(stderr, "  %s: json_number gave %.17g\n", numbers[i].in, json_number(v, NULL));
        /* the same literal inside an array keeps its text too */
        snprintf(wrapped, sizeof wrapped, "[ %s ]", numbers[i].in);
        v = parse(d, wrapped, &e);
        CHECK(v && v->len == 1 && json_at(v, 0) && strcmp(json_at(v, 0)->u.str, numbers[i].in) == 0);
    }
    /* -0 keeps its sign as a double */
    {
        struct err e = {0};
        json_value *v = parse(d, "-0", &e);
        CHECK(v && signbit(json_number(v, NULL)));
    }
    /* Out of double range: the text is kept and json_number says !ok. */
    {
        struct err e = {0};
        int ok = 1;
        json_value *v = parse(d, "1e400", &e);
        CHECK(v && v->type == JSON_NUMBER && v->flags == 0);
        if (v)
            CHECK_STR(v->u.str, "1e400");
        json_number(v, &ok);
        CHECK_INT(ok, 0);
        v = parse(d, "-1e400", &e);
        ok = 1;
        json_number(v, &ok);
        CHECK_INT(ok, 0);
    }
    /* Underflow is not overflow: subnormals and values that round to zero
     * are ordinary doubles (RFC 8785 Appendix B lists 5e-324). */
    {
        static const struct {
            const char *in;
            double want;
        } tiny[] = {
            {"5e-324", 4.9406564584124654e-324},
            {"-5e-324", -4.9406564584124654e-324},
            {"1e-310", 1e-310},
            {"1e-400", 0.0},
        };
        for (size_t i = 0; i < sizeof tiny / sizeof *tiny; i++) {
            struct err e = {0};
            int ok = 0;
            json_value *v = parse(d, tiny[i].in, &e);
            CHECK(v != NULL);
            CHECK(json_number(v, &ok) == tiny[i].want);
            CHECK_INT(ok, 1);
        }
    }
    /* json_number of non-numbers */
    {
        struct err e = {0};
        int ok = 1;
        json_value *v = parse(d, "\"12\"", &e);
        CHECK(json_number(v, &ok) == 0 && ok == 0);
        ok = 1;
        CHECK(json_number(NULL, &ok) == 0 && ok == 0);
    }
}

/* Strings: escapes decoded to UTF-8. */
static const struct {
    const char *in;
    const char *want;
    size_t want_len;
} strings[] = {
    {"\"plain\"", "plain", 5},
    {"\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\/\b\f\n\r\t", 8},
    {"\"a\\u0041b\"", "aAb", 3},
    {"\"\\u00e9\\u00E9\"", "\xc3\xa9\xc3\xa9", 4},
    {"\"\\u20ac\"", "\xe2\x82\xac", 3},
    {"\"\\uffff\"", "\xef\xbf\xbf", 3},
    {"\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80", 4},          /* surrogate pair */
    {"\"\\uD834\\uDD1E\"", "\xf0\x9d\x84\x9e", 4},          /* U+1D11E, upper case */
    {"\"\\udbff\\udfff\"", "\xf4\x8f\xbf\xbf", 4},          /* U+10FFFF */
    {"\"x\\u0000y\"", "x\0y", 3},                            /* embedded NUL */
    {"\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"", "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9}, /* raw UTF-8 */
    {"\"\xef\xbb\xbf\"", "\xef\xbb\xbf", 3},                 /* U+FEFF inside a string */
    {"\"\x7f\"", "\x7f", 1},                                 /* DEL is not a control char in JSON */
    {"\"\xc3\xa9\\n\xe2\x82\xac\"", "\xc3\xa9\n\xe2\x82\xac", 6}, /* UTF-8 mixed with escapes */
};

static void test_strings(json_doc *d)
{
    for (size_t i = 0; i < sizeof strings / sizeof *strings; i++) {
        struct err e = {0};
        json_value *v = parse(d, strings[i].in, &e);
        CHECK(v && v->type == JSON_STRING);
        if (!v) {
            fprintf(stderr, "  string %zu: %s\n", i, e.msg);
            continue;
        }
        CHECK_INT(v->len, strings[i].want_len);
        CHECK(v->len == strings[i].want_len && memcmp(v->u.str, strings[i].want, v->len) == 0);
        CHECK(v->u.str[v->len] == '\0');
        CHECK_INT(v->flags & JSON_F_SURROGATE, 0);
    }
}

/* Lone surrogates: accepted, U+FFFD in the bytes, flagged. */
static const struct {
    const char *in;
    const char *want;
} lone[] = {
    {"\"\\ud800\"", "\xef\xbf\xbd"},
    {"\"\\udfff\"", "\xef\xbf\xbd"},
    {"\"a\\ud800b\"", "a\xef\xbf\xbd" "b"},
    {"\"\\ude00\\ud83d\"", "\xef\xbf\xbd\xef\xbf\xbd"},            /* reversed pair */
    {"\"\\ud800\\u0041\"", "\xef\xbf\xbd" "A"},                     /* high + non-low */
    {"\"\\ud800\\ud83d\\ude00\"", "\xef\xbf\xbd\xf0\x9f\x98\x80"},  /* high, then a pair */
    {"\"\\ud800\\n\"", "\xef\xbf\xbd\n"},
};

static void test_surrogates(json_doc *d)
{
    struct err e = {0};
    json_value *v;
    for (size_t i = 0; i < sizeof lone / sizeof *lone; i++) {
        v = parse(d, lone[i].in, &e);
        CHECK(v && v->type == JSON_STRING);
        if (!v)
            continue;
        CHECK_STR(v->u.str, lone[i].want);
        CHECK(v->flags & JSON_F_SURROGATE);
    }
    /* In a member name the flag lands on the object. */
    v = parse(d, "{\"\\udc00\": 1, \"ok\": \"\\ud800\"}", &e);
    CHECK(v && (v->flags & JSON_F_SURROGATE));
    CHECK(v && (json_get(v, "ok")->flags & JSON_F_SURROGATE));
    CHECK(v && json_get(v, "\xef\xbf\xbd") && json_get(v, "\xef\xbf\xbd")->i64 == 1);
    v = parse(d, "{\"a\": \"\\ud83d\\ude00\"}", &e);
    CHECK(v && !(v->flags & JSON_F_SURROGATE) && !(json_get(v, "a")->flags & JSON_F_SURROGATE));
    /* Not I-JSON, so jcs refuses it. */
    {
        buf out;
        buf_init(&out, 1 << 16);
        v = parse(d, "{\"\\udc00\": 1}", &e);
        CHECK(v && jcs_write(v, &out, &e) == CUST_EJSON);
        buf_release(&out);
    }
}

static void test_nesting(json_doc *d)
{
    struct err e = {0};
    const char *doc = "{\"a\": [1, {\"b\": [true, false, null, [[]]]}, \"s\"], \"c\": {\"d\": {\"e\": -1.5}}, \"f\": {}}";
    json_value *v = parse(d, doc, &e), *x;
    CHECK(v && v->type == JSON_OBJECT && v->len == 3);
    if (!v)
        return;
    CHECK_STR(v->u.members[0].key, "a");
    CHECK_STR(v->u.members[1].key, "c");
    CHECK_STR(v->u.members[2].key, "f");
    x = json_get(v, "a");
    CHECK(x && x->type == JSON_ARRAY && x->len == 3);
    CHECK(json_at(x, 0) && json_at(x, 0)->i64 == 1);
    CHECK(json_at(x, 1) && json_at(x, 1)->type == JSON_OBJECT);
    CHECK(json_at(x, 2) && json_at(x, 2)->type == JSON_STRING);
    CHECK(json_at(x, 3) == NULL);
    x = json_get(json_at(x, 1), "b");
    CHECK(x && x->len == 4 && json_at(x, 0)->type == JSON_TRUE && json_at(x, 1)->type == JSON_FALSE &&
          json_at(x, 2)->type == JSON_NULL && json_at(x, 3)->type == JSON_ARRAY && json_at(x, 3)->len == 1 &&
          json_at(json_at(x, 3), 0)->len == 0);
    x = json_get(json_get(json_get(v, "c"), "d"), "e");
    CHECK(x && x->type == JSON_NUMBER);
    if (x)
        CHECK_STR(x->u.str, "-1.5");
    CHECK(json_get(v, "f") && json_get(v, "f")->len == 0);
    /* json_get / json_at on the wrong kinds */
    CHECK(json_get(json_get(v, "a"), "0") == NULL);
    CHECK(json_at(v, 0) == NULL);
    CHECK(json_get(NULL, "a") == NULL);
    CHECK(json_at(NULL, 0) == NULL);
    CHECK(json_get(v, "zz") == NULL);
    /* keys with a NUL need json_getn */
    v = parse(d, "{\"a\\u0000b\": 1, \"a\": 2}", &e);
    CHECK(v && json_getn(v, "a\0b", 3) && json_getn(v, "a\0b", 3)->i64 == 1);
    CHECK(v && json_get(v, "a") && json_get(v, "a")->i64 == 2);
    CHECK(v && v->u.members[0].key_len == 3);
    CHECK(v && !(v->flags & JSON_F_DUPKEYS));

    /* A big array and object (past the parser's initial scratch stacks). */
    {
        buf b;
        buf_init(&b, 1 << 22);
        CHECK(buf_addc(&b, '[') == CUST_OK);
        for (int i = 0; i < 1000; i++)
            CHECK(buf_addf(&b, "%s[%d,{\"k%d\":%d}]", i ? "," : "", i, i, i) == CUST_OK);
        CHECK(buf_addc(&b, ']') == CUST_OK);
        v = json_parse(d, b.ptr, b.len, NULL, &e);
        CHECK(v && v->len == 1000);
        CHECK(v && json_at(json_at(v, 999), 0)->i64 == 999);
        CHECK(v && json_get(json_at(json_at(v, 500), 1), "k500")->i64 == 500);
        buf_reset(&b);
        CHECK(buf_addc(&b, '{') == CUST_OK);
        for (int i = 0; i < 600; i++)
            CHECK(buf_addf(&b, "%s\"m%d\":[%d]", i ? "," : "", i, i) == CUST_OK);
        CHECK(buf_addc(&b, '}') == CUST_OK);
        v = json_parse(d, b.ptr, b.len, NULL, &e);
        CHECK(v && v->len == 600 && !(v->flags & JSON_F_DUPKEYS));
        CHECK(v && json_get(v, "m599") && json_at(json_get(v, "m599"), 0)->i64 == 599);
        buf_release(&b);
    }
}

/* Duplicate member names: flagged, last one wins in lookups. */
static void test_dupkeys(json_doc *d)
{
    static const struct {
        const char *in;
        int dup;
    } cases[] = {
        {"{\"a\":1,\"b\":2}", 0},
        {"{\"a\":1,\"a\":2}", 1},
        {"{\"a\":1,\"b\":2,\"a\":3}", 1},
        {"{\"a\":1,\"\\u0061\":2}", 1},           /* same after decoding */
        {"{\"a\":1,\"A\":2}", 0},
        {"{\"a\":1,\"a\\u0000\":2}", 0},          /* differs only by a NUL */
        {"{\"x\":{\"a\":1,\"a\":2}}", 0},         /* flag sits on the inner object */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct err e = {0};
        json_value *v = parse(d, cases[i].in, &e);
        CHECK(v != NULL);
        if (v)
            CHECK_INT(!!(v->flags & JSON_F_DUPKEYS), cases[i].dup);
    }
    {
        struct err e = {0};
        json_value *v = parse(d, "{\"a\":1,\"b\":2,\"a\":3}", &e);
        CHECK(v && v->len == 3 && json_get(v, "a")->i64 == 3);
        v = parse(d, "{\"x\":{\"a\":1,\"a\":2}}", &e);
        CHECK(v && (json_get(v, "x")->flags & JSON_F_DUPKEYS));
    }
    /* Big objects take the hash path: a duplicate far apart, and none. */
    {
        buf b;
        struct err e = {0};
        json_value *v;
        buf_init(&b, 1 << 20);
        for (int dup = 0; dup < 2; dup++) {
            buf_reset(&b);
            CHECK(buf_addc(&b, '{') == CUST_OK);
            for (int i = 0; i < 100; i++)
                CHECK(buf_addf(&b, "%s\"k%d\":%d", i ? "," : "", (dup && i == 99) ? 3 : i, i) == CUST_OK);
            CHECK(buf_addc(&b, '}') == CUST_OK);
            v = json_parse(d, b.ptr, b.len, NULL, &e);
            CHECK(v && v->len == 100);
            if (v)
                CHECK_INT(!!(v->flags & JSON_F_DUPKEYS), dup);
        }
        buf_release(&b);
    }
}

/* ---- invalid documents -------------------------------------------------- */

static const struct {
    const char *in;
    size_t len;        /* 0: strlen(in) */
    cust_code code;
    const char *where; /* "line L, column C" prefix, or NULL */
    const char *what;  /* substring of the message */
} bad[] = {
    /* empty and truncated input */
    {"", 0, CUST_EJSON, "line 1, column 1", "unexpected end of input"},
    {"   \n  ", 0, CUST_EJSON, "line 2, column 3", "unexpected end of input"},
    {"[", 0, CUST_EJSON, "line 1, column 2", "unexpected end of input"},
    {"[1", 0, CUST_EJSON, "line 1, column 3", "unterminated array"},
    {"[1,", 0, CUST_EJSON, "line 1, column 4", "unexpected end of input"},
    {"{", 0, CUST_EJSON, "line 1, column 2", "unterminated object"},
    {"{\"a\"", 0, CUST_EJSON, "line 1, column 5", "expected ':'"},
    {"{\"a\":", 0, CUST_EJSON, "line 1, column 6", "unexpected end of input"},
    {"{\"a\":1", 0, CUST_EJSON, "line 1, column 7", "unterminated object"},
    {"\"abc", 0, CUST_EJSON, "line 1, column 1", "unterminated string"},
    {"\"ab\\", 0, CUST_EJSON, "line 1, column 4", "unterminated string"},
    {"\"a\\n", 0, CUST_EJSON, "line 1, column 1", "unterminated string"},
    {"\"\\u12", 0, CUST_EJSON, "line 1, column 2", "bad \\u escape"},
    {"tru", 0, CUST_EJSON, "line 1, column 1", "invalid literal"},
    {"nul", 0, CUST_EJSON, "line 1, column 1", "invalid literal"},
    {"-", 0, CUST_EJSON, "line 1, column 2", "invalid number"},
    {"1.", 0, CUST_EJSON, "line 1, column 3", "digits expected after the decimal point"},
    {"1e", 0, CUST_EJSON, "line 1, column 3", "digits expected in the exponent"},
    {"1e+", 0, CUST_EJSON, "line 1, column 4", "digits expected in the exponent"},
    /* trailing commas */
    {"[1,]", 0, CUST_EJSON, "line 1, column 4", "trailing comma in array"},
    {"[1, \n ]", 0, CUST_EJSON, "line 2, column 2", "trailing comma in array"},
    {"{\"a\":1,}", 0, CUST_EJSON, "line 1, column 8", "trailing comma in object"},
    {"[,1]", 0, CUST_EJSON, "line 1, column 2", "unexpected character"},
    {"[1,,2]", 0, CUST_EJSON, "line 1, column 4", "unexpected character"},
    {"{,}", 0, CUST_EJSON, "line 1, column 2", "expected a member name"},
    /* structure */
    {"[1 2]", 0, CUST_EJSON, "line 1, column 4", "expected ',' or ']'"},
    {"{\"a\":1 \"b\":2}", 0, CUST_EJSON, "line 1, column 8", "expected ',' or '}'"},
    {"{\"a\" 1}", 0, CUST_EJSON, "line 1, column 6", "expected ':'"},
    {"{a:1}", 0, CUST_EJSON, "line 1, column 2", "expected a member name"},
    {"{'a':1}", 0, CUST_EJSON, "line 1, column 2", "expected a member name"},
    {"{1:1}", 0, CUST_EJSON, "line 1, column 2", "expected a member name"},
    {"[1}", 0, CUST_EJSON, "line 1, column 3", "expected ',' or ']'"},
    {"{\"a\":1]", 0, CUST_EJSON, "line 1, column 7", "expected ',' or '}'"},
    {"]", 0, CUST_EJSON, "line 1, column 1", "unexpected character"},
    /* numbers */
    {"01", 0, CUST_EJSON, "line 1, column 2", "leading zeros"},
    {"-01", 0, CUST_EJSON, "line 1, column 3", "leading zeros"},
    {"[00]", 0, CUST_EJSON, "line 1, column 3", "leading zeros"},
    {"+1", 0, CUST_EJSON, "line 1, column 1", "unexpected character"},
    {".5", 0, CUST_EJSON, "line 1, column 1", "unexpected character"},
    {"-.5", 0, CUST_EJSON, "line 1, column 2", "invalid number"},
    {"1.e5", 0, CUST_EJSON, "line 1, column 3", "digits expected after the decimal point"},
    {"0x10", 0, CUST_EJSON, "line 1, column 2", "unexpected data after the JSON value"},
    {"NaN", 0, CUST_EJSON, "line 1, column 1", "unexpected character"},
    {"Infinity", 0, CUST_EJSON, "line 1, column 1", "unexpected character"},
    {"-Infinity", 0, CUST_EJSON, "line 1, column 2", "invalid number"},
    {"1e5.0", 0, CUST_EJSON, "line 1, column 4", "unexpected data after the JSON value"},
    /* literals */
    {"True", 0, CUST_EJSON, "line 1, column 1", "unexpected character"},
    {"nulll", 0, CUST_EJSON, "line 1, column 5", "unexpected data after the JSON value"},
    {"[truefalse]", 0, CUST_EJSON, "line 1, column 6", "expected ',' or ']'"},
    /* trailing garbage */
    {"1 2", 0, CUST_EJSON, "line 1, column 3", "unexpected data after the JSON value"},
    {"{} x", 0, CUST_EJSON, "line 1, column 4", "unexpected data after the JSON value"},
    {"[]\n\n]", 0, CUST_EJSON, "line 3, column 1", "unexpected data after the JSON value"},
    {"\"a\"\"b\"", 0, CUST_EJSON, "line 1, column 4", "unexpected data after the JSON value"},
    {"1\0", 2, CUST_EJSON, "line 1, column 2", "unexpected data after the JSON value"},
    {"null /* c */", 0, CUST_EJSON, "line 1, column 6", "unexpected data after the JSON value"},
    {"// c\n1", 0, CUST_EJSON, "line 1, column 1", "unexpected character"},
    /* whitespace JSON does not allow */
    {"\f1", 0, CUST_EJSON, "line 1, column 1", "unexpected character"},
    {"\v[]", 0, CUST_EJSON, "line 1, column 1", "unexpected character"},
    {"\xc2\xa0" "1", 0, CUST_EJSON, "line 1, column 1", "unexpected character"},   /* NBSP */
    {"\xef\xbb\xbf{}", 0, CUST_EJSON, "line 1, column 1", "unexpected character"}, /* BOM */
    /* strings: escapes */
    {"\"\\x41\"", 0, CUST_EJSON, "line 1, column 2", "unknown escape"},
    {"\"\\'\"", 0, CUST_EJSON, "line 1, column 2", "unknown escape"},
    {"\"\\U0041\"", 0, CUST_EJSON, "line 1, column 2", "unknown escape"},
    {"\"\\u004\"", 0, CUST_EJSON, "line 1, column 2", "bad \\u escape"},
    {"\"\\u00g1\"", 0, CUST_EJSON, "line 1, column 2", "bad \\u escape"},
    {"\"ab\\ud800\\uzzzz\"", 0, CUST_EJSON, "line 1, column 10", "bad \\u escape"},
    /* strings: control characters */
    {"\"a\tb\"", 0, CUST_EJSON, "line 1, column 3", "control character in string"},
    {"\"a\nb\"", 0, CUST_EJSON, "line 1, column 3", "control character in string"},
    {"\"\x01\"", 0, CUST_EJSON, "line 1, column 2", "control character in string"},
    {"\"\x1f\"", 0, CUST_EJSON, "line 1, column 2", "control character in string"},
    {"\"a\0b\"", 5, CUST_EJSON, "line 1, column 3", "control character in string"},
    {"\"\\n\x01\"", 0, CUST_EJSON, "line 1, column 4", "control character in string"}, /* after an escape */
    {"{\"k\x0a\":1}", 0, CUST_EJSON, "line 1, column 4", "control character in string"},
    /* strings: bad UTF-8 */
    {"\"\x80\"", 0, CUST_EJSON, "line 1, column 2", "invalid UTF-8"},            /* lone continuation */
    {"\"\xbf\"", 0, CUST_EJSON, "line 1, column 2", "invalid UTF-8"},
    {"\"\xc0\xaf\"", 0, CUST_EJSON, "line 1, column 2", "invalid UTF-8"},        /* overlong '/' */
    {"\"\xc1\xbf\"", 0, CUST_EJSON, "line 1, column 2", "invalid UTF-8"},        /* overlong */
    {"\"\xe0\x80\xaf\"", 0, CUST_EJSON, "line 1, column 2", "invalid UTF-8"},    /* overlong 3-byte */
    {"\"\xf0\x80\x80\xaf\"", 0, CUST_EJSON, "line 1, column 2", "invalid UTF-8"},/* overlong 4-byte */
    {"\"\xed\xa0\x80\"", 0, CUST_EJSON, "line 1, column 2", "invalid UTF-8"},    /* CESU surrogate */
    {"\"\xed\xbf\xbf\"", 0, CUST_EJSON, "line 1, column 2", "invalid UTF-8"},
    {"\"\xf4\x90\x80\x80\"", 0, CUST_EJSON, "line 1, column 2", "invalid UTF-8"},/* > U+10FFFF */
    {"\"\xf5\x80\x80\x80\"", 0, CUST_EJSON, "line 1, column 2", "invalid UTF-8"},
    {"\"\xff\"", 0, CUST_EJSON, "line 1, column 2", "invalid UTF-8"},
    {"\"\xfe\"", 0, CUST_EJSON, "line 1, column 2", "invalid UTF-8"},
    {"\"\xc3\"", 0, CUST_EJSON, "line 1, column 2", "invalid UTF-8"},            /* truncated sequence */
    {"\"\xe2\x82\"", 0, CUST_EJSON, "line 1, column 2", "invalid UTF-8"},
    {"\"\xf0\x9f\x98\"", 0, CUST_EJSON, "line 1, column 2", "invalid UTF-8"},
    {"\"\xe2\x82", 0, CUST_EJSON, "line 1, column 2", "invalid UTF-8"},          /* and at end of input */
    {"\"\xc3\x28\"", 0, CUST_EJSON, "line 1, column 2", "invalid UTF-8"},        /* bad continuation */
    {"\"\\n\x80\"", 0, CUST_EJSON, "line 1, column 4", "invalid UTF-8"},         /* slow path */
    {"\"\\n\xed\xa0\x80\"", 0, CUST_EJSON, "line 1, column 4", "invalid UTF-8"},
    {"{\"\xff\":1}", 0, CUST_EJSON, "line 1, column 3", "invalid UTF-8"},        /* in a member name */
    /* columns count characters, not bytes; lines count '\n' */
    {"[\"\xc3\xa9\xe2\x82\xac\", 01]", 0, CUST_EJSON, "line 1, column 9", "leading zeros"},
    {"{\n  \"a\": 1,\n  \"b\": tru\n}", 0, CUST_EJSON, "line 3, column 8", "invalid literal"},
    {"[\r\n1,\r\n]", 0, CUST_EJSON, "line 3, column 1", "trailing comma in array"},
};

static void test_invalid(json_doc *d)
{
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct err e = {0};
        size_t len = bad[i].len ? bad[i].len : strlen(bad[i].in);
        json_value *v = json_parse(d, bad[i].in, len, NULL, &e);
        int ok = v == NULL && e.code == bad[i].code && strstr(e.msg, bad[i].what) &&
                 (!bad[i].where || (strncmp(e.msg, bad[i].where, strlen(bad[i].where)) == 0 &&
                                        e.msg[strlen(bad[i].where)] == ':'));
        CHECK(ok);
        if (!ok)
            fprintf(stderr, "  bad[%zu] %s: got %s code %d \"%s\"; want code %d \"%s: ...%s...\"\n", i,
                    bad[i].in, v ? "a value" : "NULL", e.code, e.msg, bad[i].code,
                    bad[i].where ? bad[i].where : "", bad[i].what);
    }
    /* A NULL err is allowed. */
    CHECK(json_parse(d, "[1,]", 4, NULL, NULL) == NULL);
    /* A later successful parse clears a previous error in e. */
    {
        struct err e = {0};
        CHECK(json_parse(d, "x", 1, NULL, &e) == NULL && e.code == CUST_EJSON);
        CHECK(json_parse(d, "1", 1, NULL, &e) != NULL && e.code == CUST_OK);
    }
    /* Only len bytes are read: a valid prefix of a longer buffer parses. */
    {
        struct err e = {0};
        json_value *v = json_parse(d, "[1,2]garbage", 5, NULL, &e);
        CHECK(v && v->len == 2);
        CHECK(json_parse(d, "[1,2]", 4, NULL, &e) == NULL && strstr(e.msg, "unterminated array"));
        CHECK(json_parse(d, "truex", 3, NULL, &e) == NULL && strstr(e.msg, "invalid literal"));
        CHECK(json_parse(d, "12345", 2, NULL, &e) != NULL);
    }
}

/* ---- limits ------------------------------------------------------------- */

static char *nested(const char *open, const char *close, unsigned depth)
{
    size_t n = (strlen(open) + strlen(close)) * depth + 2;
    char *s = malloc(n), *p = s;
    if (!s)
        return NULL;
    for (unsigned i = 0; i < depth; i++)
        p += snprintf(p, n - (size_t)(p - s), "%s", open);
    for (unsigned i = 0; i < depth; i++)
        p += snprintf(p, n - (size_t)(p - s), "%s", close);
    return s;
}

static void test_limits(json_doc *d)
{
    struct err e = {0};
    json_limits lim = json_default_limits;
    char *s;

    CHECK_INT(json_default_limits.max_depth, 64);
    /* depth: exactly the limit is fine, one more fails with ELIMIT */
    s = nested("[", "]", 64);
    CHECK(s && json_parse(d, s, strlen(s), NULL, &e) != NULL);
    free(s);
    s = nested("[", "]", 65);
    CHECK(s && json_parse(d, s, strlen(s), NULL, &e) == NULL && e.code == CUST_ELIMIT);
    CHECK(strstr(e.msg, "line 1, column 65: nesting deeper than the limit") != NULL);
    free(s);
    s = nested("{\"a\":", "}", 65);
    CHECK(s && json_parse(d, s, strlen(s), NULL, &e) == NULL && e.code == CUST_ELIMIT);
    CHECK(strstr(e.msg, "nesting deeper") != NULL);
    free(s);
    /* very deep input is refused, not a stack overflow */
    s = nested("[", "]", 100000);
    CHECK(s && json_parse(d, s, strlen(s), NULL, &e) == NULL && e.code == CUST_ELIMIT);
    free(s);
    /* a truncated deep document: depth error wins over truncation */
    CHECK(json_parse(d, "[[[[", 4, &(json_limits){1024, 3, 1024, 1024}, &e) == NULL && e.code == CUST_ELIMIT);
    /* depth counts open containers, not siblings */
    lim.max_depth = 2;
    CHECK(json_parse(d, "[[1],[2],{\"a\":1}]", 17, &lim, &e) != NULL);
    CHECK(json_parse(d, "[[[1]]]", 7, &lim, &e) == NULL && e.code == CUST_ELIMIT);
    CHECK(json_parse(d, "1", 1, &(json_limits){16, 0, 16, 16}, &e) != NULL);
    CHECK(json_parse(d, "[]", 2, &(json_limits){16, 0, 16, 16}, &e) == NULL && e.code == CUST_ELIMIT);

    /* bytes */
    lim = json_default_limits;
    lim.max_bytes = 8;
    CHECK(json_parse(d, "[1,2,3] ", 8, &lim, &e) != NULL);
    CHECK(json_parse(d, "[1,2,3]  ", 9, &lim, &e) == NULL && e.code == CUST_ELIMIT);
    CHECK(strstr(e.msg, "9 bytes exceeds the 8-byte limit") != NULL);

    /* string length: decoded bytes, both the plain and the escaped path */
    lim = json_default_limits;
    lim.max_string = 3;
    CHECK(json_parse(d, "\"abc\"", 5, &lim, &e) != NULL);
    CHECK(json_parse(d, "\"abcd\"", 6, &lim, &e) == NULL && e.code == CUST_ELIMIT);
    CHECK(strstr(e.msg, "string longer than the limit") != NULL);
    CHECK(json_parse(d, "\"\\u0041bc\"", 10, &lim, &e) != NULL);
    CHECK(json_parse(d, "\"\\u0041bcd\"", 11, &lim, &e) == NULL && e.code == CUST_ELIMIT);
    CHECK(json_parse(d, "\"\\u20ac\"", 8, &lim, &e) != NULL);          /* 3 bytes decoded */
    CHECK(json_parse(d, "\"\\u20aca\"", 9, &lim, &e) == NULL && e.code == CUST_ELIMIT);
    CHECK(json_parse(d, "{\"abcd\":1}", 10, &lim, &e) == NULL && e.code == CUST_ELIMIT); /* names too */
    {
        /* a long escaped string far past the limit fails cleanly */
        buf b;
        buf_init(&b, 1 << 20);
        CHECK(buf_addc(&b, '"') == CUST_OK);
        for (int i = 0; i < 5000; i++)
            CHECK(buf_adds(&b, "\\n") == CUST_OK);
        CHECK(buf_addc(&b, '"') == CUST_OK);
        CHECK(json_parse(d, b.ptr, b.len, &lim, &e) == NULL && e.code == CUST_ELIMIT);
        lim.max_string = 5000;
        CHECK(json_parse(d, b.ptr, b.len, &lim, &e) != NULL);
        lim.max_string = 4999;
        CHECK(json_parse(d, b.ptr, b.len, &lim, &e) == NULL && e.code == CUST_ELIMIT);
        buf_release(&b);
    }

    /* members / items */
    lim = json_default_limits;
    lim.max_members = 3;
    CHECK(json_parse(d, "[1,2,3]", 7, &lim, &e) != NULL);
    CHECK(json_parse(d, "[1,2,3,4]", 9, &lim, &e) == NULL && e.code == CUST_ELIMIT);
    CHECK(strstr(e.msg, "array has more items than the limit") != NULL);
    CHECK(json_parse(d, "{\"a\":1,\"b\":2,\"c\":3}", 19, &lim, &e) != NULL);
    CHECK(json_parse(d, "{\"a\":1,\"b\":2,\"c\":3,\"d\":4}", 25, &lim, &e) == NULL && e.code == CUST_ELIMIT);
    CHECK(strstr(e.msg, "object has more members than the limit") != NULL);
    /* the count is per container, not per document */
    CHECK(json_parse(d, "[[1,2,3],[1,2,3],[1,2]]", 23, &lim, &e) != NULL);
}

/* ---- source spans ------------------------------------------------------- */

static void span_is(const char *text, const json_value *v, const char *want)
{
    int ok = v && v->src_len == strlen(want) && memcmp(text + v->src_off, want, v->src_len) == 0;
    CHECK(ok);
    if (!ok && v)
        fprintf(stderr, "  span got \"%.*s\" want \"%s\"\n", (int)v->src_len, text + v->src_off, want);
}

static void test_spans(json_doc *d)
{
    const char *t = " {\"a\" : [ 1.5e3 , \"x\\ny\" , true,null, false ],\n \"\\u00e9\": {\"k\":-0}, \"z\":{} } ";
    struct err e = {0};
    json_value *v = parse(d, t, &e), *a;
    CHECK(v != NULL);
    if (!v)
        return;
    CHECK_INT(v->src_off, 1);
    span_is(t, v, "{\"a\" : [ 1.5e3 , \"x\\ny\" , true,null, false ],\n \"\\u00e9\": {\"k\":-0}, \"z\":{} }");
    a = json_get(v, "a");
    span_is(t, a, "[ 1.5e3 , \"x\\ny\" , true,null, false ]");
    span_is(t, json_at(a, 0), "1.5e3");
    span_is(t, json_at(a, 1), "\"x\\ny\"");
    span_is(t, json_at(a, 2), "true");
    span_is(t, json_at(a, 3), "null");
    span_is(t, json_at(a, 4), "false");
    span_is(t, json_get(v, "\xc3\xa9"), "{\"k\":-0}");
    span_is(t, json_get(json_get(v, "\xc3\xa9"), "k"), "-0");
    span_is(t, json_get(v, "z"), "{}");
    /* spans are offsets into the text of that parse, even in a shared doc */
    {
        const char *t2 = "[\"\xf0\x9f\x98\x80\", 2]";
        json_value *w = parse(d, t2, &e);
        CHECK(w != NULL);
        span_is(t2, json_at(w, 0), "\"\xf0\x9f\x98\x80\"");
        span_is(t2, json_at(w, 1), "2");
    }
}

/* ---- paths -------------------------------------------------------------- */

static void test_paths(json_doc *d)
{
    const char *t = "{\"event\":{\"lot\":\"L-1\",\"items\":[{\"gtin\":\"0001\"},{\"gtin\":\"0002\",\"qty\":3}],"
                    "\"a.b\":1,\"it's\":2,\"\":5,\"q\\\"\":6},\"top\":[[10,11],[12]]}";
    struct err e = {0};
    json_value *r = parse(d, t, &e), *v;
    CHECK(r != NULL);
    if (!r)
        return;
    CHECK(json_path(r, "$") == r);
    v = json_path(r, "$.event.lot");
    CHECK(v && v->type == JSON_STRING && strcmp(v->u.str, "L-1") == 0);
    CHECK(json_path(r, "event.lot") == v);                 /* relative form */
    CHECK(json_path(r, ".event.lot") == v);
    CHECK(json_path(r, "$['event']['lot']") == v);
    CHECK(json_path(r, "$[\"event\"].lot") == v);
    CHECK(json_path(r, "$['event'].lot") == v);
    v = json_path(r, "$.event.items[1].gtin");
    CHECK(v && strcmp(v->u.str, "0002") == 0);
    CHECK(json_path(r, "event.items[1]['qty']") && json_path(r, "event.items[1]['qty']")->i64 == 3);
    CHECK(json_path(r, "$.top[0][1]") && json_path(r, "$.top[0][1]")->i64 == 11);
    CHECK(json_path(r, "$.top[1][0]") && json_path(r, "$.top[1][0]")->i64 == 12);
    CHECK(json_path(r, "$.event['a.b']") && json_path(r, "$.event['a.b']")->i64 == 1);
    CHECK(json_path(r, "$.event[\"it's\"]") && json_path(r, "$.event[\"it's\"]")->i64 == 2);
    CHECK(json_path(r, "$.event['']") && json_path(r, "$.event['']")->i64 == 5);
    CHECK(json_path(r, "$.event['q\"']") && json_path(r, "$.event['q\"']")->i64 == 6);
    /* absent */
    CHECK(json_path(r, "$.nope") == NULL);
    CHECK(json_path(r, "$.event.nope") == NULL);
    CHECK(json_path(r, "$.nope.deeper.still") == NULL);
    CHECK(json_path(r, "$.event.items[2]") == NULL);
    CHECK(json_path(r, "$.event.items[2].gtin") == NULL);
    CHECK(json_path(r, "$.top[99999999999]") == NULL);
    CHECK(json_path(r, "$.event.lot[0]") == NULL);        /* index into a string */
    CHECK(json_path(r, "$.event.lot.x") == NULL);         /* member of a string */
    CHECK(json_path(r, "$.top.x") == NULL);               /* member of an array */
    CHECK(json_path(r, "$[0]") == NULL);                  /* index into an object */
    CHECK(json_path(r, "$.a.b") == NULL);                 /* dotted name is two steps */
    CHECK(json_path(NULL, "$") == NULL);
    CHECK(json_path(r, NULL) == NULL);
    /* malformed paths give NULL, even where a prefix would resolve */
    {
        static const char *badp[] = {
            "$.",          "$..event",    "event..lot",   "$.event.",   "$[",         "$[]",
            "$[x]",        "$[-1]",       "$[1",          "$[1x]",      "$['event'",  "$['event]",
            "$['event'x",  "$[\"event']", "$event",       "$$",         "$.top[0]x",  "$.top[18446744073709551616]",
            "[",           "$.event[ 'lot']",
        };
        for (size_t i = 0; i < sizeof badp / sizeof *badp; i++) {
            struct err pe = {0};
            int valid = json_path_valid(badp[i], &pe);
            CHECK(json_path(r, badp[i]) == NULL);
            CHECK(valid == 0 && pe.code == CUST_ECONFIG && pe.msg[0]);
            if (valid)
                fprintf(stderr, "  path \"%s\" was accepted\n", badp[i]);
        }
    }
    /* messages say what is wrong */
    {
        struct err pe = {0};
        CHECK(!json_path_valid("", &pe) && strstr(pe.msg, "empty path"));
        CHECK(!json_path_valid(NULL, &pe) && strstr(pe.msg, "empty path"));
        CHECK(!json_path_valid("$..a", &pe) && strstr(pe.msg, "empty member name"));
        CHECK(!json_path_valid("$['a", &pe) && strstr(pe.msg, "unterminated quoted name"));
        CHECK(!json_path_valid("$[a]", &pe) && strstr(pe.msg, "expected an index or a quoted name"));
        CHECK(!json_path_valid("$[1", &pe) && strstr(pe.msg, "bad index"));
        CHECK(!json_path_valid("$x", &pe) && strstr(pe.msg, "expected '.' or '['"));
        CHECK(json_path_valid("$a", NULL) == 0); /* NULL err allowed */
    }
    /* well-formed paths */
    {
        static const char *goodp[] = {"$", "a", "$.a", ".a", "a.b.c", "$[0]", "$[0][12]", "$['a b']",
                                      "$[\"a\"]", "$.a[3].b['c'].d", "[0]", "$['']"};
        for (size_t i = 0; i < sizeof goodp / sizeof *goodp; i++) {
            struct err pe = {0};
            CHECK(json_path_valid(goodp[i], &pe) == 1 && pe.code == CUST_OK);
        }
    }
    /* duplicates: last wins in paths too */
    r = parse(d, "{\"a\":1,\"a\":{\"b\":2}}", &e);
    CHECK(r && json_path(r, "$.a.b") && json_path(r, "$.a.b")->i64 == 2);
}

/* ---- builders and the writer -------------------------------------------- */

static const char *write_str(const json_value *v, buf *b)
{
    buf_reset(b);
    if (json_write(v, b) != CUST_OK)
        return "(write failed)";
    return buf_str(b);
}

static void test_builders(json_doc *d)
{
    buf b;
    json_value *o, *a, *v;
    struct err e = {0};
    buf_init(&b, 1 << 20);

    CHECK_STR(write_str(json_new_null(d), &b), "null");
    CHECK_STR(write_str(json_new_bool(d, 1), &b), "true");
    CHECK_STR(write_str(json_new_bool(d, 0), &b), "false");
    CHECK_STR(write_str(json_new_bool(d, 42), &b), "true");
    CHECK_STR(write_str(json_new_int(d, 0), &b), "0");
    CHECK_STR(write_str(json_new_int(d, -17), &b), "-17");
    CHECK_STR(write_str(json_new_int(d, INT64_MAX), &b), "9223372036854775807");
    CHECK_STR(write_str(json_new_int(d, INT64_MIN), &b), "-9223372036854775808");
    v = json_new_int(d, INT64_MIN);
    CHECK(v && v->type == JSON_NUMBER && v->i64 == INT64_MIN && (v->flags & JSON_F_INT64) &&
          v->src_off == 0 && v->src_len == 0);
    /* number text is checked and kept */
    v = json_new_number_text(d, "1.50e+3", 7);
    CHECK(v && v->type == JSON_NUMBER && v->flags == 0);
    CHECK_STR(write_str(v, &b), "1.50e+3");
    v = json_new_number_text(d, "12345678901234567890123", 23);
    CHECK(v && (v->flags & JSON_F_INT) && !(v->flags & JSON_F_INT64));
    v = json_new_number_text(d, "-9223372036854775808", 20);
    CHECK(v && (v->flags & JSON_F_INT64) && v->i64 == INT64_MIN);
    v = json_new_number_text(d, "42xyz", 2); /* counted: only "42" */
    CHECK(v && v->i64 == 42 && v->len == 2);
    CHECK(json_new_number_text(d, "01", 2) == NULL);
    CHECK(json_new_number_text(d, "1.", 2) == NULL);
    CHECK(json_new_number_text(d, "\"1\"", 3) == NULL);
    CHECK(json_new_number_text(d, "true", 4) == NULL);
    CHECK(json_new_number_text(d, "NaN", 3) == NULL);
    CHECK(json_new_number_text(d, "", 0) == NULL);
    CHECK(json_new_number_text(d, "1 2", 3) == NULL);
    /* strings: copied; escaped minimally */
    {
        char src[] = "q\"b\\s/\b\f\n\r\t\x01\x1f\x7f\xc3\xa9";
        v = json_new_string(d, src, sizeof src - 1);
        src[0] = 'X'; /* the builder copied it */
        CHECK(v && v->u.str[0] == 'q' && v->len == sizeof src - 1);
        CHECK_STR(write_str(v, &b), "\"q\\\"b\\\\s/\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\xc3\xa9\"");
    }
    v = json_new_string(d, "a\0b", 3);
    CHECK_STR(write_str(v, &b), "\"a\\u0000b\"");
    CHECK_STR(write_str(json_new_string(d, "", 0), &b), "\"\"");
    buf_reset(&b);
    CHECK(json_write_string(&b, "x\ny", 3) == CUST_OK);
    CHECK_STR(buf_str(&b), "\"x\\ny\"");
    /* json_write appends */
    buf_reset(&b);
    CHECK(buf_adds(&b, "pre:") == CUST_OK);
    CHECK(json_write(json_new_int(d, 5), &b) == CUST_OK);
    CHECK_STR(buf_str(&b), "pre:5");
    /* strdup */
    {
        char *s = json_strdup(d, "hello", 3);
        CHECK_STR(s, "hel");
    }

    /* containers: created with cap 0 and grown; order kept */
    a = json_new_array(d, 0);
    CHECK(a && a->type == JSON_ARRAY && a->len == 0);
    CHECK_STR(write_str(a, &b), "[]");
    for (int i = 0; i < 20; i++)
        CHECK(json_array_push(d, a, json_new_int(d, i)) == CUST_OK);
    CHECK_INT(a->len, 20);
    CHECK(json_at(a, 19) && json_at(a, 19)->i64 == 19);
    CHECK(json_at(a, 0) && json_at(a, 0)->i64 == 0);
    CHECK(a->src_len == 0);
    o = json_new_object(d, 2);
    CHECK(o && o->type == JSON_OBJECT);
    CHECK_STR(write_str(o, &b), "{}");
    CHECK(json_object_put(d, o, "z", 1, json_new_string(d, "last", 4)) == CUST_OK);
    CHECK(json_object_put(d, o, "a", 1, json_new_null(d)) == CUST_OK);
    CHECK(json_object_put(d, o, "k\"\n", 3, json_new_bool(d, 1)) == CUST_OK); /* grows past cap */
    CHECK(!(o->flags & JSON_F_DUPKEYS));
    {
        json_value *small = json_new_array(d, 1);
        CHECK(json_array_push(d, small, json_new_number_text(d, "1.0", 3)) == CUST_OK);
        CHECK(json_array_push(d, small, json_new_object(d, 0)) == CUST_OK);
        CHECK(json_object_put(d, o, "arr", 3, small) == CUST_OK);
    }
    CHECK_INT(o->len, 4);
    CHECK_STR(write_str(o, &b), "{\"z\":\"last\",\"a\":null,\"k\\\"\\n\":true,\"arr\":[1.0,{}]}");
    CHECK(json_get(o, "arr") && json_get(o, "arr")->len == 2);
    /* builder and parser agree */
    v = json_parse(d, b.ptr, b.len, NULL, &e);
    CHECK(v && json_equal(v, o));
    /* a duplicate key is flagged and the last one wins */
    CHECK(json_object_put(d, o, "a", 1, json_new_int(d, 9)) == CUST_OK);
    CHECK(o->flags & JSON_F_DUPKEYS);
    CHECK(json_get(o, "a") && json_get(o, "a")->i64 == 9);
    /* a big object built one member at a time */
    {
        json_value *big = json_new_object(d, 0);
        char k[16];
        for (int i = 0; i < 300; i++) {
            int n = snprintf(k, sizeof k, "k%d", i);
            CHECK(json_object_put(d, big, k, (size_t)n, json_new_int(d, i)) == CUST_OK);
        }
        CHECK(big->len == 300 && json_get(big, "k299")->i64 == 299 && !(big->flags & JSON_F_DUPKEYS));
        CHECK(json_write(big, &b) == CUST_OK);
    }
    buf_release(&b);
}

/* parse -> write -> parse gives an equal tree; writing that gives the same bytes. */
static const char *roundtrip[] = {
    "null",
    "true",
    "false",
    "0",
    "-0.0e-0",
    "-9223372036854775808",
    "9223372036854775808",
    "1E400",
    "\"\"",
    "\"\\u0000\\u001f\\u007f\\\"\\\\\\/\\b\\f\\n\\r\\t\"",
    "\"\\ud83d\\ude00\xc3\xa9\xe2\x82\xac\"",
    "[]",
    "{}",
    "[[[[]]],{},[{}]]",
    " { \"a\" : [ 1 , 2.5 , -3e7 ] , \"b\" : { \"c\" : null } , \"a\" : \"dup\" } ",
    "{\"\\u0000\":0,\"\\n\":1,\"\xf0\x9f\x98\x80\":2}",
    "[\"x\\ny\", 1.000, 123456789012345678901234567890, true, false, null, {\"k\": [\"v\"]}]",
};

static void test_roundtrip(json_doc *d)
{
    buf b1, b2;
    buf_init(&b1, 1 << 20);
    buf_init(&b2, 1 << 20);
    for (size_t i = 0; i < sizeof roundtrip / sizeof *roundtrip; i++) {
        struct err e = {0};
        json_value *v1 = parse(d, roundtrip[i], &e), *v2 = NULL;
        CHECK(v1 != NULL);
        if (!v1) {
            fprintf(stderr, "  roundtrip[%zu]: %s\n", i, e.msg);
            continue;
        }
        buf_reset(&b1);
        CHECK(json_write(v1, &b1) == CUST_OK);
        v2 = json_parse(d, b1.ptr, b1.len, NULL, &e);
        CHECK(v2 != NULL);
        CHECK(json_equal(v1, v2));
        if (!v2 || !json_equal(v1, v2))
            fprintf(stderr, "  roundtrip[%zu]: %s -> %s\n", i, roundtrip[i], buf_str(&b1));
        buf_reset(&b2);
        CHECK(v2 && json_write(v2, &b2) == CUST_OK);
        CHECK(b1.len == b2.len && memcmp(b1.ptr, b2.ptr, b1.len) == 0);
        /* compact and minimally escaped: never longer than the input */
        CHECK(b1.len <= strlen(roundtrip[i]));
    }
    /* The writer's output for a known document */
    {
        struct err e = {0};
        json_value *v = parse(d, " { \"a\" : [ 1 , 2.50 ] , \"b\" : \"x\\u0041\\/\" } ", &e);
        buf_reset(&b1);
        CHECK(v && json_write(v, &b1) == CUST_OK);
        CHECK_STR(buf_str(&b1), "{\"a\":[1,2.50],\"b\":\"xA/\"}");
    }
    /* A lone surrogate is written as U+FFFD: it round-trips as that character
     * (the flag, being about the escape, is not kept). */
    {
        struct err e = {0};
        json_value *v = parse(d, "\"\\udc00\"", &e), *w;
        buf_reset(&b1);
        CHECK(v && json_write(v, &b1) == CUST_OK);
        CHECK_STR(buf_str(&b1), "\"\xef\xbf\xbd\"");
        w = json_parse(d, b1.ptr, b1.len, NULL, &e);
        CHECK(w && json_equal(v, w));
    }
    /* write into a buffer whose cap is too small: an error, not an overrun */
    {
        struct err e = {0};
        buf tiny;
        json_value *v = parse(d, "{\"aaaaaaaa\":[1,2,3,\"bbbbbbbbbbbb\"]}", &e);
        buf_init(&tiny, 8);
        CHECK(v && json_write(v, &tiny) != CUST_OK);
        CHECK(tiny.len < 8);
        buf_release(&tiny);
    }
    buf_release(&b1);
    buf_release(&b2);
}

/* jcs over parsed numbers that json_number must accept (I-JSON doubles). */
static void test_jcs_numbers(json_doc *d)
{
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"[5e-324, -5e-324, 1e-310, 1e-400, 2.2250738585072014e-308]",
         "[5e-324,-5e-324,1e-310,0,2.2250738585072014e-308]"},
        {"[9223372036854775807, -9223372036854775808, 9007199254740993]",
         "[9223372036854776000,-9223372036854776000,9007199254740992]"},
    };
    buf b;
    buf_init(&b, 1 << 16);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct err e = {0};
        json_value *v = parse(d, cases[i].in, &e);
        buf_reset(&b);
        CHECK(v && jcs_write(v, &b, &e) == CUST_OK);
        if (e.code)
            fprintf(stderr, "  jcs: %s\n", e.msg);
        CHECK_STR(buf_str(&b), cases[i].want);
    }
    buf_release(&b);
}

int main(void)
{
    json_doc *d = json_doc_new();
    CHECK(d != NULL);
    if (!d)
        return check_report("test_json");
    test_scalars(d);
    test_numbers(d);
    test_strings(d);
    test_surrogates(d);
    test_nesting(d);
    test_dupkeys(d);
    test_invalid(d);
    test_limits(d);
    test_spans(d);
    test_paths(d);
    test_builders(d);
    test_roundtrip(d);
    test_jcs_numbers(d);
    json_doc_free(d);
    json_doc_free(NULL); /* no-op */
    return check_report("test_json");
}
