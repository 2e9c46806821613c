/* test_tabular.c - CSV and JSONL files to record arrays: one table of
 * {format, options, input, expected JSON and record lines | expected error
 * code and message}, then the bounds that need big generated inputs. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/json.h"
#include "core/tabular.h"

#define CSV TABULAR_CSV
#define JSONL TABULAR_JSONL
#define OK CUST_OK
#define EUP CUST_EUPSTREAM
#define ELIM CUST_ELIMIT

/* opts: delimiter (0 = ','), header, trim, max_records. len 0 = strlen(in).
 * want: compact JSON of the records; lines: out->lines joined by ','.
 * On error, msg is a substring of e.msg (it holds the line). */
static const struct row {
    tabular_format f;
    char delim;
    int header, trim;
    size_t max;
    const char *in;
    size_t len;
    cust_code code;
    const char *want, *lines, *msg;
} rows[] = {
    /* --- CSV basics --- */
    {CSV, 0, 1, 0, 0, "a,b\n1,2\n3,4\n", 0, OK, "[{\"a\":\"1\",\"b\":\"2\"},{\"a\":\"3\",\"b\":\"4\"}]", "2,3", NULL},
    {CSV, 0, 1, 0, 0, "a,b\n1,2\n3,4", 0, OK, "[{\"a\":\"1\",\"b\":\"2\"},{\"a\":\"3\",\"b\":\"4\"}]", "2,3", NULL},
    {CSV, 0, 1, 0, 0, "a,b\r\n1,2\r\n3,4\r\n", 0, OK, "[{\"a\":\"1\",\"b\":\"2\"},{\"a\":\"3\",\"b\":\"4\"}]", "2,3",
     NULL},
    {CSV, 0, 1, 0, 0, "a,b\r\n1,2\r", 0, OK, "[{\"a\":\"1\",\"b\":\"2\"}]", "2", NULL}, /* CR at end of input */
    {CSV, 0, 1, 0, 0, "a,b\n1\r2,3\n", 0, OK, "[{\"a\":\"1\\r2\",\"b\":\"3\"}]", "2", NULL}, /* lone CR is data */
    /* quoting */
    {CSV, 0, 1, 0, 0, "name,note\n\"Smith, J\",\"said \"\"hi\"\"\"\n", 0, OK,
     "[{\"name\":\"Smith, J\",\"note\":\"said \\\"hi\\\"\"}]", "2", NULL},
    {CSV, 0, 1, 0, 0, "a,b\n\"x\ny\",2\n3,4\n", 0, OK, "[{\"a\":\"x\\ny\",\"b\":\"2\"},{\"a\":\"3\",\"b\":\"4\"}]", "2,4",
     NULL},
    {CSV, 0, 1, 0, 0, "a,b\r\n\"x\r\n\r\ny\",2\r\n3,4\r\n", 0, OK,
     "[{\"a\":\"x\\r\\n\\r\\ny\",\"b\":\"2\"},{\"a\":\"3\",\"b\":\"4\"}]", "2,5", NULL},
    {CSV, 0, 1, 0, 0, "\"a\"\"\",\"\"\n\"\",\"\"\"\"\n", 0, EUP, NULL, NULL, "line 1: column 2 has an empty name"},
    {CSV, 0, 1, 0, 0, "a,b\n\"\",\"\"\"\"\n", 0, OK, "[{\"a\":\"\",\"b\":\"\\\"\"}]", "2", NULL},
    {CSV, 0, 1, 0, 0, "a,b\na\"b,c\"\n", 0, OK, "[{\"a\":\"a\\\"b\",\"b\":\"c\\\"\"}]", "2", NULL}, /* bare quotes */
    {CSV, 0, 1, 0, 0, "a,b\n\"x\"y,2\n", 0, EUP, NULL, NULL, "line 2: unexpected character after a closing quote"},
    {CSV, 0, 1, 0, 0, "a,b\n\"x\" ,2\n", 0, EUP, NULL, NULL, "line 2: unexpected character after a closing quote"},
    {CSV, 0, 1, 0, 0, "a,b\n1,2\n3,\"abc\ndef\n", 0, EUP, NULL, NULL, "line 3: unterminated quoted field"},
    {CSV, 0, 1, 0, 0, "a,b\n1,\"x\ny\",\"abc\n\n", 0, EUP, NULL, NULL, "line 3: unterminated quoted field"},
    {CSV, 0, 1, 0, 0, "\"a,b\n", 0, EUP, NULL, NULL, "line 1: unterminated quoted field"},
    /* empty fields */
    {CSV, 0, 1, 0, 0, "a,b,c\n,,\n", 0, OK, "[{\"a\":\"\",\"b\":\"\",\"c\":\"\"}]", "2", NULL},
    {CSV, 0, 1, 0, 0, "a,b,c\n1,,3\n", 0, OK, "[{\"a\":\"1\",\"b\":\"\",\"c\":\"3\"}]", "2", NULL},
    /* fewer fields: missing columns absent; more: error */
    {CSV, 0, 1, 0, 0, "a,b,c\n1,2\n1\n", 0, OK, "[{\"a\":\"1\",\"b\":\"2\"},{\"a\":\"1\"}]", "2,3", NULL},
    {CSV, 0, 1, 0, 0, "a,b\n1,2\n1,2,3\n", 0, EUP, NULL, NULL, "line 3: more fields than the 2 columns of the header"},
    {CSV, 0, 1, 0, 0, "a,b\n1,2,\n", 0, EUP, NULL, NULL, "line 2: more fields"}, /* trailing delimiter */
    {CSV, 0, 1, 0, 0, "a,b\n\"1\n2\",2,3\n", 0, EUP, NULL, NULL, "line 2: more fields"},
    /* BOM, delimiters */
    {CSV, 0, 1, 0, 0, "\xEF\xBB\xBFid,v\n7,x\n", 0, OK, "[{\"id\":\"7\",\"v\":\"x\"}]", "2", NULL},
    {CSV, ';', 1, 0, 0, "a;b\n1,5;\"x;y\"\n", 0, OK, "[{\"a\":\"1,5\",\"b\":\"x;y\"}]", "2", NULL},
    {CSV, '\t', 1, 0, 0, "a\tb\n1 \t\"2\t3\"\n", 0, OK, "[{\"a\":\"1 \",\"b\":\"2\\t3\"}]", "2", NULL},
    {CSV, '|', 1, 0, 0, "a|b\n1|2\n", 0, OK, "[{\"a\":\"1\",\"b\":\"2\"}]", "2", NULL},
    /* no header */
    {CSV, 0, 0, 0, 0, "x,y\n1,2,3\n\n4\n", 0, OK,
     "[{\"1\":\"x\",\"2\":\"y\"},{\"1\":\"1\",\"2\":\"2\",\"3\":\"3\"},{\"1\":\"4\"}]", "1,2,4", NULL},
    {CSV, 0, 0, 0, 0, "1,2,3,4,5,6,7,8,9,10,11\n", 0, OK,
     "[{\"1\":\"1\",\"2\":\"2\",\"3\":\"3\",\"4\":\"4\",\"5\":\"5\",\"6\":\"6\",\"7\":\"7\",\"8\":\"8\",\"9\":\"9\","
     "\"10\":\"10\",\"11\":\"11\"}]",
     "1", NULL},
    /* blank lines anywhere, trim */
    {CSV, 0, 1, 0, 0, "\n\r\na,b\n\n1,2\r\n\r\n\n3,4\n\n", 0, OK,
     "[{\"a\":\"1\",\"b\":\"2\"},{\"a\":\"3\",\"b\":\"4\"}]", "5,8", NULL},
    {CSV, 0, 1, 0, 0, "a\n \n", 0, OK, "[{\"a\":\" \"}]", "2", NULL}, /* spaces are data without trim */
    {CSV, 0, 1, 1, 0, "a\n  \n1\n   ", 0, OK, "[{\"a\":\"1\"}]", "3", NULL},
    {CSV, 0, 1, 1, 0, " a , b \n 1 , \" 2 \" \n", 0, OK, "[{\"a\":\"1\",\"b\":\" 2 \"}]", "2", NULL},
    {CSV, 0, 1, 0, 0, " a , b \n 1 , 2 \n", 0, OK, "[{\" a \":\" 1 \",\" b \":\" 2 \"}]", "2", NULL},
    {CSV, '\t', 1, 1, 0, "a\tb\n 1\t\t\n", 0, EUP, NULL, NULL, "line 2: more fields"},
    /* empty file, header only */
    {CSV, 0, 1, 0, 0, "", 0, OK, "[]", "", NULL},
    {CSV, 0, 1, 0, 0, "\xEF\xBB\xBF", 0, OK, "[]", "", NULL},
    {CSV, 0, 1, 0, 0, "\n\n", 0, OK, "[]", "", NULL},
    {CSV, 0, 0, 0, 0, "", 0, OK, "[]", "", NULL},
    {CSV, 0, 1, 0, 0, "a,b,c\n", 0, OK, "[]", "", NULL},
    {CSV, 0, 1, 0, 0, "a,b,c", 0, OK, "[]", "", NULL},
    /* header names */
    {CSV, 0, 1, 0, 0, "a,b,a\n1,2,3\n", 0, EUP, NULL, NULL, "line 1: columns 1 and 3 have the same name \"a\""},
    {CSV, 0, 1, 0, 0, "\n\nid,,v\n", 0, EUP, NULL, NULL, "line 3: column 2 has an empty name"},
    {CSV, 0, 1, 1, 0, "a, a\n", 0, EUP, NULL, NULL, "line 1: columns 1 and 2 have the same name \"a\""},
    {CSV, 0, 1, 0, 0, "\"\xC3\xA9t\xC3\xA9\",\"a\nb\"\n1,2\n", 0, OK, "[{\"\xC3\xA9t\xC3\xA9\":\"1\",\"a\\nb\":\"2\"}]", "3",
     NULL},
    /* UTF-8 */
    {CSV, 0, 1, 0, 0, "a\n\xE2\x82\xAC\xF0\x9F\x98\x80\n", 0, OK, "[{\"a\":\"\xE2\x82\xAC\xF0\x9F\x98\x80\"}]", "2", NULL},
    {CSV, 0, 1, 0, 0, "a\n1\n\xFF\n", 0, EUP, NULL, NULL, "line 3: invalid UTF-8"},
    {CSV, 0, 1, 0, 0, "a\n\"x\n\xC0\xAF\"\n", 0, EUP, NULL, NULL, "line 3: invalid UTF-8"}, /* overlong */
    {CSV, 0, 1, 0, 0, "a\n\xED\xA0\x80\n", 0, EUP, NULL, NULL, "line 2: invalid UTF-8"},       /* surrogate */
    {CSV, 0, 1, 0, 0, "a\n\xF4\x90\x80\x80\n", 0, EUP, NULL, NULL, "line 2: invalid UTF-8"},   /* > U+10FFFF */
    {CSV, 0, 1, 0, 0, "a\n\xE2\x82", 0, EUP, NULL, NULL, "line 2: invalid UTF-8"},             /* truncated */
    {CSV, 0, 1, 0, 0, "a\n1\0002\n", 6, EUP, NULL, NULL, "line 2: NUL byte"},
    {CSV, 0, 1, 0, 0, "a\n\x01\x7f\n", 0, OK, "[{\"a\":\"\\u0001\x7f\"}]", "2", NULL},
    /* bounds and options */
    {CSV, 0, 1, 0, 2, "a\n1\n2\n", 0, OK, "[{\"a\":\"1\"},{\"a\":\"2\"}]", "2,3", NULL},
    {CSV, 0, 1, 0, 2, "a\n1\n2\n3\n", 0, ELIM, NULL, NULL, "line 4: more than 2 records"},
    {CSV, '"', 1, 0, 0, "a\n", 0, CUST_ECONFIG, NULL, NULL, "delimiter"},
    {CSV, '\n', 1, 0, 0, "a\n", 0, CUST_ECONFIG, NULL, NULL, "delimiter"},
    {CSV, ' ', 1, 1, 0, "a\n", 0, CUST_ECONFIG, NULL, NULL, "with trim"},
    {CSV, ' ', 1, 0, 0, "a b\n1 2\n", 0, OK, "[{\"a\":\"1\",\"b\":\"2\"}]", "2", NULL},

    /* --- JSONL --- */
    {JSONL, 0, 1, 0, 0, "{\"a\":1}\n{\"b\":[true,null]}\n", 0, OK, "[{\"a\":1},{\"b\":[true,null]}]", "1,2", NULL},
    {JSONL, 0, 1, 0, 0, "{\"a\":1}\n{\"b\":2}", 0, OK, "[{\"a\":1},{\"b\":2}]", "1,2", NULL},
    {JSONL, 0, 1, 0, 0, "\n{\"a\":1}\r\n  \r\n\t\n{\"b\":\"x\\ny\"}\r\n\n", 0, OK, "[{\"a\":1},{\"b\":\"x\\ny\"}]", "2,5",
     NULL},
    {JSONL, 0, 1, 0, 0, "\xEF\xBB\xBF{\"a\":1}\n", 0, OK, "[{\"a\":1}]", "1", NULL},
    {JSONL, 0, 1, 0, 0, "  { \"a\" : 1 }  \n", 0, OK, "[{\"a\":1}]", "1", NULL},
    {JSONL, 0, 1, 0, 0, "", 0, OK, "[]", "", NULL},
    {JSONL, 0, 1, 0, 0, "\n\r\n", 0, OK, "[]", "", NULL},
    {JSONL, 0, 1, 0, 0, "{\"a\":1}\n{\"a\":2}\n{\"a\":\n", 0, EUP, NULL, NULL, "line 3, column"},
    {JSONL, 0, 1, 0, 0, "{\"a\":1}\n\n{\"a\":2,}\n", 0, EUP, NULL, NULL, "line 3, column 8"},
    {JSONL, 0, 1, 0, 0, "{\"a\":1}\n[1,2]\n", 0, EUP, NULL, NULL, "line 2: expected a JSON object, got an array"},
    {JSONL, 0, 1, 0, 0, "{}\n\"s\"\n", 0, EUP, NULL, NULL, "line 2: expected a JSON object, got a string"},
    {JSONL, 0, 1, 0, 0, "{}\n{}\n42\n", 0, EUP, NULL, NULL, "line 3: expected a JSON object, got a number"},
    {JSONL, 0, 1, 0, 0, "{\"a\":1}{\"b\":2}\n", 0, EUP, NULL, NULL, "line 1, column"}, /* two values on one line */
    {JSONL, 0, 1, 0, 0, "{\"a\":\"\xFF\"}\n", 0, EUP, NULL, NULL, "line 1, column"},
    {JSONL, 0, 1, 0, 0, "{\"a\":\"x\ny\"}\n", 0, EUP, NULL, NULL, "line 1, column"}, /* raw newline splits a value */
    {JSONL, 0, 1, 0, 1, "{}\n\n{}\n", 0, ELIM, NULL, NULL, "line 3: more than 1 records"},
};

static void join_lines(const tabular_result *r, char *s, size_t cap)
{
    size_t at = 0;
    s[0] = '\0';
    for (size_t i = 0; i < r->n && at < cap; i++)
        at += (size_t)snprintf(s + at, cap - at, i ? ",%zu" : "%zu", r->lines[i]);
}

static void run_rows(void)
{
    json_doc *doc = json_doc_new();
    buf out;
    buf_init(&out, 1 << 20);
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        const struct row *t = &rows[i];
        tabular_opts o;
        tabular_result r;
        struct err e;
        cust_code rc;
        size_t len = t->len ? t->len : strlen(t->in);

        tabular_opts_default(&o);
        o.delimiter = t->delim;
        o.header = t->header;
        o.trim = t->trim;
        o.max_records = t->max;
        err_clear(&e);
        json_doc_reset(doc);
        rc = tabular_parse(t->f, t->in, len, &o, doc, &r, &e);
        if (t->code == OK) {
            char lines[256];
            CHECK_INT(rc, OK);
            if (rc != OK) {
                fprintf(stderr, "  row %zu: %s\n", i, e.msg);
                continue;
            }
            CHECK(r.records && r.records->type == JSON_ARRAY && r.records->len == r.n);
            buf_reset(&out);
            CHECK(json_write(r.records, &out) == CUST_OK);
            CHECK_STR(buf_str(&out), t->want);
            join_lines(&r, lines, sizeof lines);
            CHECK_STR(lines, t->lines);
            if (strcmp(buf_str(&out), t->want) != 0 || strcmp(lines, t->lines) != 0)
                fprintf(stderr, "  row %zu\n", i);
            tabular_result_release(&r);
            CHECK(r.lines == NULL && r.records == NULL && r.n == 0);
        } else {
            cust_code want = t->code;
            CHECK_INT(rc, want);
            CHECK_INT(e.code, want);
            CHECK(r.records == NULL && r.lines == NULL && r.n == 0);
            CHECK(strstr(e.msg, t->msg) != NULL);
            if (rc != want || !strstr(e.msg, t->msg))
                fprintf(stderr, "  row %zu: got \"%s\" want \"%s\"\n", i, e.msg, t->msg);
        }
    }
    buf_release(&out);
    json_doc_free(doc);
}

/* Strings live in the doc: the input may go away after the call. */
static void input_freed(void)
{
    json_doc *doc = json_doc_new();
    tabular_result r;
    buf out;
    char *in = malloc(64);
    buf_init(&out, 1 << 10);
    memcpy(in, "k,\"v\"\nkey,\"va\"\"l\"\n", 19);
    CHECK(tabular_parse(TABULAR_CSV, in, 18, NULL, doc, &r, NULL) == CUST_OK);
    memset(in, 'X', 64);
    free(in);
    CHECK(json_write(r.records, &out) == CUST_OK);
    CHECK_STR(buf_str(&out), "[{\"k\":\"key\",\"v\":\"va\\\"l\"}]");
    CHECK_STR(json_get(json_at(r.records, 0), "v")->u.str, "va\"l");
    tabular_result_release(&r);
    tabular_result_release(NULL);
    buf_release(&out);
    json_doc_free(doc);
}

/* Bounds that need generated inputs: record and line length, field count,
 * many records and their lines. */
static void bounds(void)
{
    json_doc *doc = json_doc_new();
    tabular_result r;
    struct err e;
    size_t big = TABULAR_MAX_RECORD + 16, n;
    char *s = malloc(big + 64);

    /* JSONL: a 1 MiB line is fine; a line past 16 MiB is refused */
    n = (size_t)snprintf(s, 64, "{}\n{\"k\":\"");
    memset(s + n, 'a', 1u << 20);
    n += 1u << 20;
    memcpy(s + n, "\"}\n{}\n", 6);
    n += 6;
    CHECK(tabular_parse(TABULAR_JSONL, s, n, NULL, doc, &r, &e) == CUST_OK);
    CHECK_INT(r.n, 3);
    if (r.n == 3) {
        CHECK_INT(r.lines[2], 3);
        CHECK_INT(json_get(json_at(r.records, 1), "k")->len, 1u << 20);
    }
    tabular_result_release(&r);
    json_doc_reset(doc);

    n = (size_t)snprintf(s, 64, "{}\n{\"k\":\"");
    memset(s + n, 'a', big - n);
    memcpy(s + big, "\"}\n", 3);
    CHECK(tabular_parse(TABULAR_JSONL, s, big + 3, NULL, doc, &r, &e) == CUST_ELIMIT);
    CHECK(strstr(e.msg, "line 2: line longer than") != NULL);
    json_doc_reset(doc);

    /* CSV: a quoted field past 16 MiB, and an unquoted one */
    n = (size_t)snprintf(s, 64, "a\n\"");
    memset(s + n, 'b', big - n);
    memcpy(s + big, "\"\n", 2);
    CHECK(tabular_parse(TABULAR_CSV, s, big + 2, NULL, doc, &r, &e) == CUST_ELIMIT);
    CHECK(strstr(e.msg, "line 2: record longer than") != NULL);
    json_doc_reset(doc);
    s[n - 1] = 'b';
    CHECK(tabular_parse(TABULAR_CSV, s, big + 2, NULL, doc, &r, &e) != CUST_OK); /* a closing quote follows */
    memcpy(s + big, "\n", 1);
    CHECK(tabular_parse(TABULAR_CSV, s, big + 1, NULL, doc, &r, &e) == CUST_ELIMIT);
    CHECK(strstr(e.msg, "line 2: record longer than") != NULL);
    json_doc_reset(doc);

    /* field count: 10,000 fine, 10,001 refused (header and no header) */
    {
        size_t cap = 10001 * 8 + 64, at = 0;
        char *h = malloc(cap);
        tabular_opts o;
        for (size_t i = 0; i < TABULAR_MAX_FIELDS; i++)
            at += (size_t)snprintf(h + at, cap - at, i ? ",c%zu" : "c%zu", i);
        h[at++] = '\n';
        h[at++] = '1';
        h[at++] = '\n';
        CHECK(tabular_parse(TABULAR_CSV, h, at, NULL, doc, &r, &e) == CUST_OK);
        CHECK_INT(r.n, 1);
        tabular_result_release(&r);
        json_doc_reset(doc);
        at -= 2;
        memcpy(h + at - 1, ",x\n", 3);
        at += 2;
        CHECK(tabular_parse(TABULAR_CSV, h, at, NULL, doc, &r, &e) == CUST_ELIMIT);
        CHECK(strstr(e.msg, "line 1: more than 10000 fields") != NULL);
        json_doc_reset(doc);
        tabular_opts_default(&o);
        o.header = 0;
        CHECK(tabular_parse(TABULAR_CSV, h, at, &o, doc, &r, &e) == CUST_ELIMIT);
        CHECK(strstr(e.msg, "line 1: more than 10000 fields") != NULL);
        json_doc_reset(doc);
        free(h);
    }

    /* many records, lines right after embedded newlines */
    {
        buf in;
        size_t want_line = 2, ok = 1, count = 50000;
        buf_init(&in, 64u << 20);
        cust_code built = buf_adds(&in, "id,text\r\n");
        for (size_t i = 0; i < count && built == CUST_OK; i++)
            built = buf_addf(&in, i % 3 ? "%zu,plain\r\n" : "%zu,\"two\r\nlines\"\r\n", i);
        CHECK_INT(built, CUST_OK);
        CHECK(tabular_parse(TABULAR_CSV, in.ptr, in.len, NULL, doc, &r, &e) == CUST_OK);
        CHECK_INT(r.n, count);
        for (size_t i = 0; i < r.n && ok; i++) {
            if (r.lines[i] != want_line)
                ok = 0;
            want_line += i % 3 ? 1 : 2;
        }
        CHECK(ok);
        tabular_result_release(&r);
        buf_release(&in);
    }
    free(s);
    json_doc_free(doc);
}

int main(void)
{
    run_rows();
    input_freed();
    bounds();
    return check_report("test_tabular");
}
