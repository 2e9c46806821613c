/* test_jcs.c - RFC 8785: the number table of Appendix B, the sample of
 * section 3.2.2, the member sorting example of 3.2.3, and I-JSON refusals. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/jcs.h"
#include "core/json.h"

static const struct {
    uint64_t bits;
    const char *want;
} numbers[] = {
    {0x0000000000000000ull, "0"},
    {0x8000000000000000ull, "0"},
    {0x0000000000000001ull, "5e-324"},
    {0x8000000000000001ull, "-5e-324"},
    {0x7fefffffffffffffull, "1.7976931348623157e+308"},
    {0xffefffffffffffffull, "-1.7976931348623157e+308"},
    {0x4340000000000000ull, "9007199254740992"},
    {0xc340000000000000ull, "-9007199254740992"},
    {0x4430000000000000ull, "295147905179352830000"},
    {0x44b52d02c7e14af5ull, "9.999999999999997e+22"},
    {0x44b52d02c7e14af6ull, "1e+23"},
    {0x44b52d02c7e14af7ull, "1.0000000000000001e+23"},
    {0x444b1ae4d6e2ef4eull, "999999999999999700000"},
    {0x444b1ae4d6e2ef4full, "999999999999999900000"},
    {0x444b1ae4d6e2ef50ull, "1e+21"},
    {0x3eb0c6f7a0b5ed8cull, "9.999999999999997e-7"},
    {0x3eb0c6f7a0b5ed8dull, "0.000001"},
    {0x41b3de4355555553ull, "333333333.3333332"},
    {0x41b3de4355555554ull, "333333333.33333325"},
    {0x41b3de4355555555ull, "333333333.3333333"},
    {0x41b3de4355555556ull, "333333333.3333334"},
    {0x41b3de4355555557ull, "333333333.33333343"},
    {0xbecbf647612f3696ull, "-0.0000033333333333333333"},
    {0x43143ff3c1cb0959ull, "1424953923781206.2"},
};

static const struct {
    const char *in, *want;
} docs[] = {
    /* RFC 8785 section 3.2.2 */
    {"{\n  \"numbers\": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],\n"
     "  \"string\": \"\\u20ac$\\u000F\\u000aA'\\u0042\\u0022\\u005c\\\\\\\"\\/\",\n"
     "  \"literals\": [null, true, false]\n}",
     "{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],"
     "\"string\":\"\xe2\x82\xac$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}"},
    /* RFC 8785 section 3.2.3: sorting by UTF-16 code units */
    {"{\"\\u20ac\": \"Euro Sign\", \"\\r\": \"Carriage Return\", \"\\ufb33\": \"Hebrew Letter Dalet With Dagesh\","
     " \"1\": \"One\", \"\\ud83d\\ude00\": \"Emoji: Grinning Face\", \"\\u0080\": \"Control\","
     " \"\\u00f6\": \"Latin Small Letter O With Diaeresis\"}",
     "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\xc2\x80\":\"Control\",\"\xc3\xb6\":\"Latin Small Letter O With "
     "Diaeresis\",\"\xe2\x82\xac\":\"Euro Sign\",\"\xf0\x9f\x98\x80\":\"Emoji: Grinning Face\",\"\xef\xac\xb3\":"
     "\"Hebrew Letter Dalet With Dagesh\"}"},
    {"[-0, 0.0, -0.0, 1.0, 100, 1e2, 12345678901234567890, -9007199254740993, 1.5e-7, 1e-7, 123e-9]",
     "[0,0,0,1,100,100,12345678901234567000,-9007199254740992,1.5e-7,1e-7,1.23e-7]"},
    {"{\"b\":{\"z\":1,\"a\":[{\"y\":2,\"x\":1}]},\"a\":\"\\u007f\\u001f\"}",
     "{\"a\":\"\x7f\\u001f\",\"b\":{\"a\":[{\"x\":1,\"y\":2}],\"z\":1}}"},
};

/* The text fast path must agree with formatting the double, wherever it
 * answers at all: a fixed table of edges, then 200,000 pseudo-random
 * decimals of 1..17 digits with the point anywhere. */
static void text_fast_path(void)
{
    static const char *edges[] = {"0", "-0", "0.0", "-0.000", "1", "1.0", "1.50", "100", "100.000", "0.000001",
                                  "0.0000001", "0.0000010", "537.37", "-537.370", "123456789012345",
                                  "1234567890123456", "0.1234567890123456", "999999999999999000000",
                                  "9999999999999990000000", "12.5e3", "1E2", "01", "1.", ".5", "-", ""};
    char fast[32], slow[32];
    unsigned long long state = 0x9E3779B97F4A7C15ull;
    int answered = 0;
    for (size_t i = 0; i < sizeof edges / sizeof *edges; i++) {
        if (jcs_number_text(edges[i], strlen(edges[i]), fast)) {
            jcs_number(strtod(edges[i], NULL), slow);
            CHECK_STR(fast, slow);
        }
    }
    CHECK(jcs_number_text("12.5e3", 6, fast) == 0);
    CHECK(jcs_number_text("0.0000001", 9, fast) == 0);
    CHECK(jcs_number_text("1234567890123456", 16, fast) == 0);
    CHECK(jcs_number_text("1.50", 4, fast) == 3 && strcmp(fast, "1.5") == 0);
    for (int i = 0; i < 200000; i++) {
        char t[40];
        int at = 0, digits, point;
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        digits = 1 + (int)((state >> 33) % 17);
        point = (int)((state >> 40) % (unsigned)(digits + 1));
        if (state >> 63)
            t[at++] = '-';
        for (int k = 0; k < digits; k++) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            if (k == point && k > 0)
                t[at++] = '.';
            t[at++] = (char)('0' + (state >> 33) % 10);
        }
        t[at] = '\0';
        if (jcs_number_text(t, (size_t)at, fast)) {
            answered++;
            jcs_number(strtod(t, NULL), slow);
            if (strcmp(fast, slow) != 0) {
                CHECK_STR(fast, slow);
                fprintf(stderr, "  input: %s\n", t);
                break;
            }
        }
    }
    CHECK(answered > 50000); /* the generator reaches the fast path often */
}

int main(void)
{
    json_doc *d = json_doc_new();
    buf out;
    buf_init(&out, 1 << 20);
    text_fast_path();

    for (size_t i = 0; i < sizeof numbers / sizeof *numbers; i++) {
        double x;
        char got[32];
        memcpy(&x, &numbers[i].bits, sizeof x);
        jcs_number(x, got);
        CHECK_STR(got, numbers[i].want);
    }
    {
        char got[32];
        CHECK_INT(jcs_number(0.0 / 0.0, got), 0);
        CHECK_INT(jcs_number(1.0 / 0.0, got), 0);
    }
    for (size_t i = 0; i < sizeof docs / sizeof *docs; i++) {
        struct err e = {0};
        json_value *v = json_parse(d, docs[i].in, strlen(docs[i].in), NULL, &e);
        CHECK(v != NULL);
        if (!v) {
            fprintf(stderr, "  parse: %s\n", e.msg);
            continue;
        }
        buf_reset(&out);
        CHECK(jcs_write(v, &out, &e) == CUST_OK);
        CHECK_STR(buf_str(&out), docs[i].want);
        /* idempotent */
        {
            json_value *again = json_parse(d, out.ptr, out.len, NULL, &e);
            buf o2;
            buf_init(&o2, 1 << 20);
            CHECK(again && jcs_write(again, &o2, &e) == CUST_OK);
            CHECK_STR(buf_str(&o2), buf_str(&out));
            buf_release(&o2);
        }
    }
    /* Not I-JSON: refused with the path named. */
    {
        static const struct {
            const char *in, *msg;
        } bad[] = {
            {"{\"a\":{\"k\":1,\"k\":2}}", "$.a: object has a duplicate member name"},
            {"[1,\"\\ud800\"]", "$[1]: string holds a lone"},
            {"{\"x\":[1e400]}", "$.x[0]: number outside the range"},
        };
        for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
            struct err e = {0};
            json_value *v = json_parse(d, bad[i].in, strlen(bad[i].in), NULL, &e);
            CHECK(v != NULL);
            buf_reset(&out);
            CHECK(v && jcs_write(v, &out, &e) == CUST_EJSON);
            CHECK(strstr(e.msg, bad[i].msg) != NULL);
            if (!strstr(e.msg, bad[i].msg))
                fprintf(stderr, "  got: %s\n", e.msg);
        }
    }
    /* SHA-256 known answer. */
    {
        char hex[65];
        jcs_sha256_hex("abc", 3, hex);
        CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
    buf_release(&out);
    json_doc_free(d);
    return check_report("test_jcs");
}
