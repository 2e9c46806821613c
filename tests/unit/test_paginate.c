/* test_paginate.c - the pagination strategies as tables: the query each
 * builds for a first and a later page, and what each makes of a response
 * (records, next token, done, resume position, shape errors, loops). */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/paginate.h"

static const struct {
    const char *strategy;
    const char *param;       /* cursor parameter */
    const char *limit_param; /* NULL: none */
    long limit;
    const char *pos;         /* NULL: first page */
    const char *want;
} queries[] = {
    /* first page of a fresh source: nothing, or only the page size */
    {"cursor", "cursor", NULL, 0, NULL, ""},
    {"cursor", "cursor", "limit", 100, NULL, "limit=100"},
    {"cursor", "cursor", "limit", 0, NULL, ""},           /* limit 0: not sent */
    {"cursor", "cursor", NULL, 50, NULL, ""},             /* no limit_param: not sent */
    {"cursor", "cursor", "limit", 100, "", "limit=100"},  /* empty position is a first page */
    /* later pages */
    {"cursor", "cursor", NULL, 0, "abc", "cursor=abc"},
    {"cursor", "cursor", "limit", 100, "abc", "cursor=abc&limit=100"},
    {"cursor", "page_token", "page_size", 25, "t2", "page_token=t2&page_size=25"},
    /* tokens are percent-encoded: & = + / space and anything not unreserved */
    {"cursor", "cursor", NULL, 0, "a&b", "cursor=a%26b"},
    {"cursor", "cursor", NULL, 0, "a=b", "cursor=a%3Db"},
    {"cursor", "cursor", NULL, 0, "a+b", "cursor=a%2Bb"},
    {"cursor", "cursor", NULL, 0, "a/b", "cursor=a%2Fb"},
    {"cursor", "cursor", NULL, 0, "a b", "cursor=a%20b"},
    {"cursor", "cursor", "limit", 10, "x&y=z+w/v u", "cursor=x%26y%3Dz%2Bw%2Fv%20u&limit=10"},
    {"cursor", "cursor", NULL, 0, "eyJpZCI6NH0=", "cursor=eyJpZCI6NH0%3D"},
    {"cursor", "cursor", NULL, 0, "AZaz09-_.~", "cursor=AZaz09-_.~"},       /* unreserved kept */
    {"cursor", "cursor", NULL, 0, "?#%", "cursor=%3F%23%25"},
    {"cursor", "cursor", NULL, 0, "\xc3\xa9", "cursor=%C3%A9"},             /* UTF-8 bytes, upper hex */
    /* parameter names are encoded too */
    {"cursor", "next page", "per page", 5, "t", "next%20page=t&per%20page=5"},
    /* none: never sends a position */
    {"none", "cursor", NULL, 0, NULL, ""},
    {"none", "cursor", NULL, 0, "abc", ""},
    {"none", "cursor", "limit", 500, NULL, "limit=500"},
    {"none", "cursor", "limit", 500, "abc", "limit=500"},
};

enum { ANY = -1 };

static const struct {
    const char *strategy;
    const char *records;
    const char *next;
    const char *pos;
    const char *body;
    cust_code rc;
    long count;          /* records in the array (when rc is OK) */
    int done;
    const char *next_tok; /* NULL: none */
    const char *resume;   /* NULL: keep the stored one */
    const char *msg1, *msg2; /* substrings of the error message */
} parses[] = {
    /* next token present */
    {"cursor", "$.data", "$.next", NULL, "{\"data\":[1,2],\"next\":\"t2\"}", CUST_OK, 2, 0, "t2", "t2", NULL, NULL},
    {"cursor", "$.data", "$.next", "t1", "{\"data\":[1,2,3],\"next\":\"t2\"}", CUST_OK, 3, 0, "t2", "t2", NULL, NULL},
    {"cursor", "$.data", "$.meta.next", "t1", "{\"meta\":{\"next\":\"a&b c\"},\"data\":[{}]}", CUST_OK, 1, 0,
     "a&b c", "a&b c", NULL, NULL},
    /* next token a number: its exact text */
    {"cursor", "$.data", "$.next", NULL, "{\"data\":[1],\"next\":42}", CUST_OK, 1, 0, "42", "42", NULL, NULL},
    {"cursor", "$.data", "$.next", "42", "{\"data\":[1],\"next\":43}", CUST_OK, 1, 0, "43", "43", NULL, NULL},
    {"cursor", "$.data", "$.next", NULL, "{\"data\":[1],\"next\":12345678901234567890}", CUST_OK, 1, 0,
     "12345678901234567890", "12345678901234567890", NULL, NULL},
    /* next absent / null / empty string: done; resume stays at the page that was read */
    {"cursor", "$.data", "$.next", NULL, "{\"data\":[1]}", CUST_OK, 1, 1, NULL, NULL, NULL, NULL},
    {"cursor", "$.data", "$.next", "t1", "{\"data\":[1]}", CUST_OK, 1, 1, NULL, "t1", NULL, NULL},
    {"cursor", "$.data", "$.next", NULL, "{\"data\":[],\"next\":null}", CUST_OK, 0, 1, NULL, NULL, NULL, NULL},
    {"cursor", "$.data", "$.next", "t9", "{\"data\":[1],\"next\":null}", CUST_OK, 1, 1, NULL, "t9", NULL, NULL},
    {"cursor", "$.data", "$.next", NULL, "{\"data\":[1],\"next\":\"\"}", CUST_OK, 1, 1, NULL, NULL, NULL, NULL},
    {"cursor", "$.data", "$.next", "t3", "{\"data\":[],\"next\":\"\"}", CUST_OK, 0, 1, NULL, "t3", NULL, NULL},
    /* "$": a top-level array (no next token can be there: done) */
    {"cursor", "$", "$.next", NULL, "[1,2,3,4]", CUST_OK, 4, 1, NULL, NULL, NULL, NULL},
    {"cursor", "$", "$.next", "p", "[]", CUST_OK, 0, 1, NULL, "p", NULL, NULL},
    /* records path missing or not an array */
    {"cursor", "$.data", "$.next", NULL, "{\"items\":[1],\"next\":\"t\"}", CUST_EUPSTREAM, 0, 0, NULL, NULL,
     "$.data", "nothing"},
    {"cursor", "$.data", "$.next", NULL, "{\"data\":{\"a\":1}}", CUST_EUPSTREAM, 0, 0, NULL, NULL, "$.data", "object"},
    {"cursor", "$.data", "$.next", NULL, "{\"data\":\"x\"}", CUST_EUPSTREAM, 0, 0, NULL, NULL, "$.data", "string"},
    {"cursor", "$.data", "$.next", NULL, "{\"data\":null}", CUST_EUPSTREAM, 0, 0, NULL, NULL, "$.data", "null"},
    {"cursor", "$.result.items", "$.next", NULL, "{\"result\":{}}", CUST_EUPSTREAM, 0, 0, NULL, NULL,
     "$.result.items", "array"},
    {"cursor", "$", "$.next", NULL, "{\"data\":[]}", CUST_EUPSTREAM, 0, 0, NULL, NULL, "records path $", "object"},
    {"cursor", "$.data", "$.next", NULL, "[1,2]", CUST_EUPSTREAM, 0, 0, NULL, NULL, "$.data", NULL},
    /* next token of a type no API uses for a cursor */
    {"cursor", "$.data", "$.next", NULL, "{\"data\":[],\"next\":{\"a\":1}}", CUST_EUPSTREAM, 0, 0, NULL, NULL,
     "$.next", "object"},
    {"cursor", "$.data", "$.next", NULL, "{\"data\":[],\"next\":[\"t\"]}", CUST_EUPSTREAM, 0, 0, NULL, NULL,
     "$.next", "array"},
    {"cursor", "$.data", "$.next", NULL, "{\"data\":[],\"next\":true}", CUST_EUPSTREAM, 0, 0, NULL, NULL,
     "$.next", "true"},
    /* the API hands back the position it was given: a loop */
    {"cursor", "$.data", "$.next", "t1", "{\"data\":[1],\"next\":\"t1\"}", CUST_EUPSTREAM, 0, 0, NULL, NULL,
     "loop", "$.next"},
    {"cursor", "$.data", "$.next", "7", "{\"data\":[1],\"next\":7}", CUST_EUPSTREAM, 0, 0, NULL, NULL, "loop", NULL},
    /* a token equal to a prefix of the position is no loop */
    {"cursor", "$.data", "$.next", "t10", "{\"data\":[1],\"next\":\"t1\"}", CUST_OK, 1, 0, "t1", "t1", NULL, NULL},
    /* none: one response holds everything, next tokens are ignored */
    {"none", "$.data", NULL, NULL, "{\"data\":[1,2],\"next\":\"t2\"}", CUST_OK, 2, 1, NULL, NULL, NULL, NULL},
    {"none", "$", NULL, NULL, "[{\"a\":1}]", CUST_OK, 1, 1, NULL, NULL, NULL, NULL},
    {"none", "$", NULL, "stale", "[]", CUST_OK, 0, 1, NULL, NULL, NULL, NULL},
    {"none", "$.data", NULL, NULL, "{\"rows\":[]}", CUST_EUPSTREAM, 0, 0, NULL, NULL, "$.data", "nothing"},
    {"none", "$.data", NULL, NULL, "{\"data\":5}", CUST_EUPSTREAM, 0, 0, NULL, NULL, "$.data", "number"},
};

static void test_lookup(void)
{
    CHECK(paginate_lookup("cursor") == &pager_cursor);
    CHECK(paginate_lookup("none") == &pager_none);
    CHECK(paginate_lookup("offset") == NULL);
    CHECK(paginate_lookup("") == NULL);
    CHECK(paginate_lookup("Cursor") == NULL);
    CHECK(paginate_lookup("cursor ") == NULL);
    CHECK_STR(pager_cursor.name, "cursor");
    CHECK_STR(pager_none.name, "none");
    /* every name listed resolves */
    CHECK(strstr(paginate_names(), "cursor") != NULL);
    CHECK(strstr(paginate_names(), "none") != NULL);
}

static void test_queries(void)
{
    for (size_t i = 0; i < sizeof queries / sizeof *queries; i++) {
        paginate_cfg cfg = {0};
        buf q;
        struct err e = {0};
        cfg.ops = paginate_lookup(queries[i].strategy);
        cfg.records = (char *)"$.data";
        cfg.next = (char *)"$.next";
        cfg.param = (char *)queries[i].param;
        cfg.limit_param = (char *)queries[i].limit_param;
        cfg.limit = queries[i].limit;
        buf_init(&q, 1 << 16);
        CHECK(cfg.ops != NULL);
        if (!cfg.ops)
            continue;
        CHECK_INT(cfg.ops->query(&cfg, queries[i].pos, &q, &e), CUST_OK);
        if (strcmp(buf_str(&q), queries[i].want) != 0)
            fprintf(stderr, "query row %zu\n", i);
        CHECK_STR(buf_str(&q), queries[i].want);
        buf_release(&q);
    }
}

static void test_query_too_long(void)
{
    /* A cap on the query buffer turns into an error, not a truncated URL. */
    paginate_cfg cfg = {0};
    buf q;
    struct err e = {0};
    cfg.ops = &pager_cursor;
    cfg.param = (char *)"cursor";
    cfg.limit_param = (char *)"limit";
    cfg.limit = 10;
    buf_init(&q, 16);
    CHECK_INT(pager_cursor.query(&cfg, "a-rather-long-token-value", &q, &e), CUST_ENOMEM);
    buf_release(&q);
    buf_init(&q, 4);
    CHECK_INT(pager_none.query(&cfg, NULL, &q, &e), CUST_ENOMEM);
    buf_release(&q);
}

static void test_urlencode(void)
{
    buf q;
    buf_init(&q, 1 << 10);
    CHECK_INT(paginate_urlencode(&q, ""), CUST_OK);
    CHECK_STR(buf_str(&q), "");
    CHECK_INT(paginate_urlencode(&q, " !\"'()*,:;@[]\x7f\xff"), CUST_OK);
    CHECK_STR(buf_str(&q), "%20%21%22%27%28%29%2A%2C%3A%3B%40%5B%5D%7F%FF");
    buf_release(&q);
}

static void test_parses(void)
{
    for (size_t i = 0; i < sizeof parses / sizeof *parses; i++) {
        paginate_cfg cfg = {0};
        json_doc *doc = json_doc_new();
        struct err e = {0}, pe = {0};
        page_step st;
        json_value *body;
        cust_code rc;
        int fails_before = check_failed;
        memset(&st, 0x5a, sizeof st); /* parse must initialise every member */
        cfg.ops = paginate_lookup(parses[i].strategy);
        cfg.records = (char *)parses[i].records;
        cfg.next = (char *)parses[i].next;
        cfg.param = (char *)"cursor";
        CHECK(doc != NULL && cfg.ops != NULL);
        body = json_parse(doc, parses[i].body, strlen(parses[i].body), NULL, &pe);
        CHECK(body != NULL);
        if (!body || !cfg.ops) {
            json_doc_free(doc);
            continue;
        }
        rc = cfg.ops->parse(&cfg, parses[i].pos, body, &st, &e);
        CHECK_INT(rc, parses[i].rc);
        if (parses[i].rc == CUST_OK) {
            CHECK(st.records != NULL);
            if (st.records) {
                CHECK_INT(st.records->type, JSON_ARRAY);
                CHECK_INT(st.records->len, parses[i].count);
            }
            CHECK_INT(st.done, parses[i].done);
            if (parses[i].next_tok)
                CHECK_STR(st.next, parses[i].next_tok);
            else
                CHECK(st.next == NULL);
            if (parses[i].resume)
                CHECK_STR(st.resume, parses[i].resume);
            else
                CHECK(st.resume == NULL);
        } else {
            CHECK_INT(e.code, parses[i].rc);
            if (parses[i].msg1)
                CHECK(strstr(e.msg, parses[i].msg1) != NULL);
            if (parses[i].msg2)
                CHECK(strstr(e.msg, parses[i].msg2) != NULL);
            /* a failed parse hands over nothing to free */
            CHECK(st.next == NULL);
            CHECK(st.resume == NULL);
        }
        if (check_failed != fails_before)
            fprintf(stderr, "parse row %zu: rc %d: %s\n", i, (int)rc, e.msg);
        /* release frees and zeroes; a second release is harmless */
        page_step_release(&st);
        CHECK(st.next == NULL && st.resume == NULL && st.records == NULL && st.done == 0);
        page_step_release(&st);
        json_doc_free(doc);
    }
}

static void test_release(void)
{
    page_step st = {0};
    page_step_release(&st); /* all NULL: a no-op */
    CHECK(st.next == NULL && st.resume == NULL);
    st.next = strdup("n");
    st.resume = strdup("r");
    st.done = 1;
    page_step_release(&st);
    CHECK(st.next == NULL && st.resume == NULL && st.done == 0);
}

static void test_follow_chain(void)
{
    /* Drive the cursor strategy over three pages as the poll loop does:
     * the next token of one page is the position of the next request. */
    static const char *const pages[] = {
        "{\"data\":[1,2],\"next\":\"p/2\"}",
        "{\"data\":[3,4],\"next\":\"p 3\"}",
        "{\"data\":[5],\"next\":null}",
    };
    static const char *const want_query[] = {"limit=2", "c=p%2F2&limit=2", "c=p%203&limit=2"};
    paginate_cfg cfg = {&pager_cursor, (char *)"$.data", (char *)"$.next", (char *)"c", (char *)"limit", 2};
    char *pos = NULL;
    long total = 0;
    int done = 0;
    for (size_t i = 0; i < 3 && !done; i++) {
        json_doc *doc = json_doc_new();
        struct err e = {0};
        page_step st = {0};
        buf q;
        json_value *body;
        buf_init(&q, 1024);
        CHECK_INT(cfg.ops->query(&cfg, pos, &q, &e), CUST_OK);
        CHECK_STR(buf_str(&q), want_query[i]);
        body = json_parse(doc, pages[i], strlen(pages[i]), NULL, &e);
        CHECK(body != NULL);
        CHECK_INT(cfg.ops->parse(&cfg, pos, body, &st, &e), CUST_OK);
        total += st.records ? (long)st.records->len : 0;
        done = st.done;
        free(pos);
        pos = st.resume;
        st.resume = NULL;
        page_step_release(&st);
        buf_release(&q);
        json_doc_free(doc);
    }
    CHECK_INT(total, 5);
    CHECK_INT(done, 1);
    CHECK_STR(pos, "p 3"); /* the last page's position is kept for the next cycle */
    free(pos);
}

int main(void)
{
    test_lookup();
    test_queries();
    test_query_too_long();
    test_urlencode();
    test_parses();
    test_release();
    test_follow_chain();
    return check_report("test_paginate");
}
