/* test_paginate.c - the pagination strategies as tables: the request each
 * builds for a first and a later page (query, URL, body, headers), what
 * each makes of a response (records, next position, done, resume, shape
 * errors, loops), the helpers (body templates, URL resolution, Link
 * headers), config checks, and a walk over several pages per strategy. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/paginate.h"

/* The configuration a row needs; unset members are zero/NULL. records
 * defaults to $.data and next to $.next in the parse rows. */
typedef struct spec {
    const char *records, *next, *param;
    int in, alone;
    const char *limit_param;
    long limit;
    const char *limit_header, *has_more;
    int more_when;
    const char *total;
    long start, max_offset;
    const char *id_field, *body;
} spec;

static paginate_cfg make_cfg(const char *strategy, const spec *s, int defaults)
{
    paginate_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.ops = paginate_lookup(strategy);
    cfg.records = (char *)(s->records ? s->records : defaults ? "$.data" : NULL);
    cfg.next = (char *)(s->next ? s->next : defaults ? "$.next" : NULL);
    cfg.param = (char *)s->param;
    cfg.in = s->in ? PAGE_IN_BODY : PAGE_IN_QUERY;
    cfg.token_alone = s->alone;
    cfg.limit_param = (char *)s->limit_param;
    cfg.limit = s->limit;
    cfg.limit_header = (char *)s->limit_header;
    cfg.has_more = (char *)s->has_more;
    cfg.more_when = s->more_when;
    cfg.total = (char *)s->total;
    cfg.start = s->start;
    cfg.max_offset = s->max_offset;
    cfg.id_field = (char *)s->id_field;
    cfg.body = (char *)s->body;
    return cfg;
}

#define BODY_T "{\"q\":{\"status\":\"open\"},\"cursor\":{cursor},\"size\":{limit}}"

static const struct {
    const char *strategy;
    spec s;
    const char *pos; /* NULL: first page */
    const char *query, *url, *body, *headers; /* NULL url: none; "" body/headers: none */
} requests[] = {
    /* first page of a fresh source: nothing, or only the page size */
    {"cursor", {.param = "cursor"}, NULL, "", NULL, "", ""},
    {"cursor", {.param = "cursor", .limit_param = "limit", .limit = 100}, NULL, "limit=100", NULL, "", ""},
    {"cursor", {.param = "cursor", .limit_param = "limit", .limit = 0}, NULL, "", NULL, "", ""}, /* limit 0: not sent */
    {"cursor", {.param = "cursor", .limit = 50}, NULL, "", NULL, "", ""}, /* no limit_param: not sent */
    {"cursor", {.param = "cursor", .limit_param = "limit", .limit = 100}, "", "limit=100", NULL, "", ""}, /* "" = first */
    /* later pages */
    {"cursor", {.param = "cursor"}, "abc", "cursor=abc", NULL, "", ""},
    {"cursor", {.param = "cursor", .limit_param = "limit", .limit = 100}, "abc", "cursor=abc&limit=100", NULL, "", ""},
    {"cursor", {.param = "page_token", .limit_param = "page_size", .limit = 25}, "t2", "page_token=t2&page_size=25",
     NULL, "", ""},
    /* tokens are percent-encoded: & = + / space and anything not unreserved */
    {"cursor", {.param = "cursor"}, "a&b", "cursor=a%26b", NULL, "", ""},
    {"cursor", {.param = "cursor"}, "a=b", "cursor=a%3Db", NULL, "", ""},
    {"cursor", {.param = "cursor"}, "a+b", "cursor=a%2Bb", NULL, "", ""},
    {"cursor", {.param = "cursor"}, "a/b", "cursor=a%2Fb", NULL, "", ""},
    {"cursor", {.param = "cursor"}, "a b", "cursor=a%20b", NULL, "", ""},
    {"cursor", {.param = "cursor", .limit_param = "limit", .limit = 10}, "x&y=z+w/v u",
     "cursor=x%26y%3Dz%2Bw%2Fv%20u&limit=10", NULL, "", ""},
    {"cursor", {.param = "cursor"}, "eyJpZCI6NH0=", "cursor=eyJpZCI6NH0%3D", NULL, "", ""},
    {"cursor", {.param = "cursor"}, "AZaz09-_.~", "cursor=AZaz09-_.~", NULL, "", ""}, /* unreserved kept */
    {"cursor", {.param = "cursor"}, "?#%", "cursor=%3F%23%25", NULL, "", ""},
    {"cursor", {.param = "cursor"}, "\xc3\xa9", "cursor=%C3%A9", NULL, "", ""}, /* UTF-8 bytes, upper hex */
    /* parameter names are encoded too */
    {"cursor", {.param = "next page", .limit_param = "per page", .limit = 5}, "t", "next%20page=t&per%20page=5", NULL,
     "", ""},
    /* page size in a header instead of the query */
    {"cursor", {.param = "cursor", .limit_param = "limit", .limit = 20, .limit_header = "X-Page-Size"}, "t",
     "cursor=t", NULL, "", "X-Page-Size: 20\n"},
    {"cursor", {.param = "cursor", .limit = 20, .limit_header = "X-Page-Size"}, NULL, "", NULL, "", "X-Page-Size: 20\n"},
    {"cursor", {.param = "cursor", .limit = 0, .limit_header = "X-Page-Size"}, NULL, "", NULL, "", ""},
    /* token_alone in the query: the token and the page size, as always */
    {"cursor", {.param = "cursor", .alone = 1, .limit_param = "limit", .limit = 5}, "t", "cursor=t&limit=5", NULL, "",
     ""},
    /* token in the body template: the query holds nothing but a page size the template does not carry */
    {"cursor", {.param = "cursor", .in = 1, .limit_param = "limit", .limit = 50, .body = BODY_T}, NULL, "", NULL,
     "{\"q\":{\"status\":\"open\"},\"cursor\":null,\"size\":50}", ""},
    {"cursor", {.param = "cursor", .in = 1, .limit_param = "limit", .limit = 50, .body = BODY_T}, "t\"2\\",
     "", NULL, "{\"q\":{\"status\":\"open\"},\"cursor\":\"t\\\"2\\\\\",\"size\":50}", ""},
    {"cursor", {.param = "cursor", .in = 1, .limit_param = "limit", .limit = 50, .body = "{\"cursor\":{cursor}}"},
     "t2", "limit=50", NULL, "{\"cursor\":\"t2\"}", ""},
    {"cursor", {.param = "cursor", .in = 1, .limit = 50, .limit_header = "Page-Size", .body = BODY_T}, "t2", "", NULL,
     "{\"q\":{\"status\":\"open\"},\"cursor\":\"t2\",\"size\":50}", "Page-Size: 50\n"},
    /* token_alone in the body: only the token and the page size, not the template */
    {"cursor", {.param = "pageToken", .in = 1, .alone = 1, .limit_param = "pageSize", .limit = 7, .body = BODY_T},
     "tok\n", "", NULL, "{\"pageToken\":\"tok\\n\",\"pageSize\":7}", ""},
    {"cursor", {.param = "pageToken", .in = 1, .alone = 1, .limit_param = "pageSize", .limit = 7, .body = BODY_T},
     NULL, "", NULL, "{\"q\":{\"status\":\"open\"},\"cursor\":null,\"size\":7}", ""},
    {"cursor", {.param = "pageToken", .in = 1, .alone = 1, .limit = 7, .limit_header = "X-Limit", .body = BODY_T},
     "t", "", NULL, "{\"pageToken\":\"t\"}", "X-Limit: 7\n"},
    /* a query-mode source with a POST body of filters: the body is sent, placeholders get null */
    {"cursor", {.param = "c", .limit_param = "n", .limit = 3, .body = BODY_T}, "t", "c=t&n=3", NULL,
     "{\"q\":{\"status\":\"open\"},\"cursor\":null,\"size\":3}", ""},
    /* none: never sends a position */
    {"none", {.param = "cursor"}, NULL, "", NULL, "", ""},
    {"none", {.param = "cursor"}, "abc", "", NULL, "", ""},
    {"none", {.param = "cursor", .limit_param = "limit", .limit = 500}, NULL, "limit=500", NULL, "", ""},
    {"none", {.param = "cursor", .limit_param = "limit", .limit = 500}, "abc", "limit=500", NULL, "", ""},
    {"none", {.limit = 500, .limit_header = "X-Max"}, NULL, "", NULL, "", "X-Max: 500\n"},
    /* offset: first page is start, then the position */
    {"offset", {.param = "offset", .limit_param = "limit", .limit = 100}, NULL, "offset=0&limit=100", NULL, "", ""},
    {"offset", {.param = "offset", .limit_param = "limit", .limit = 100, .start = 1}, NULL, "offset=1&limit=100", NULL,
     "", ""},
    {"offset", {.param = "offset", .limit_param = "limit", .limit = 100}, "200", "offset=200&limit=100", NULL, "", ""},
    {"offset", {.param = "skip", .limit_param = "top", .limit = 10, .limit_header = "X-Top"}, "30", "skip=30", NULL,
     "", "X-Top: 10\n"},
    {"offset", {.param = "from", .in = 1, .limit = 10, .body = "{\"from\":{offset},\"size\":{limit}}"}, NULL, "",
     NULL, "{\"from\":0,\"size\":10}", ""},
    {"offset", {.param = "from", .in = 1, .limit = 10, .body = "{\"from\":{offset},\"size\":{limit}}"}, "40", "",
     NULL, "{\"from\":40,\"size\":10}", ""},
    /* page: first page is start */
    {"page", {.param = "page", .limit_param = "per_page", .limit = 50, .start = 1}, NULL, "page=1&per_page=50", NULL,
     "", ""},
    {"page", {.param = "page", .limit_param = "per_page", .limit = 50, .start = 1}, "7", "page=7&per_page=50", NULL,
     "", ""},
    {"page", {.param = "p", .start = 0}, NULL, "p=0", NULL, "", ""},
    {"page", {.param = "p", .in = 1, .limit = 2, .body = "{\"page\":{page},\"n\":{limit}}", .start = 1}, "3", "",
     NULL, "{\"page\":3,\"n\":2}", ""},
    /* last_id: nothing on the first page, then the id */
    {"last_id", {.param = "after", .limit_param = "limit", .limit = 100, .id_field = "$.id"}, NULL, "limit=100", NULL,
     "", ""},
    {"last_id", {.param = "after", .limit_param = "limit", .limit = 100, .id_field = "$.id"}, "id 9",
     "after=id%209&limit=100", NULL, "", ""},
    {"last_id", {.param = "since_id", .id_field = "$.id"}, "12345678901234567890", "since_id=12345678901234567890",
     NULL, "", ""},
    /* in a body an integer-looking id is a number, any other a string */
    {"last_id", {.param = "a", .in = 1, .id_field = "$.id", .body = "{\"after\":{cursor}}"}, "42", "", NULL,
     "{\"after\":42}", ""},
    {"last_id", {.param = "a", .in = 1, .id_field = "$.id", .body = "{\"after\":{cursor}}"}, "042", "", NULL,
     "{\"after\":\"042\"}", ""},
    {"last_id", {.param = "a", .in = 1, .id_field = "$.id", .body = "{\"after\":{cursor}}"}, NULL, "", NULL,
     "{\"after\":null}", ""},
    /* next_url / link: the first page has the page size; later pages fetch the URL as is */
    {"next_url", {.next = "$.next", .limit_param = "limit", .limit = 10}, NULL, "limit=10", NULL, "", ""},
    {"next_url", {.next = "$.next", .limit_param = "limit", .limit = 10}, "https://a.example/v1/x?after=3&limit=10",
     "", "https://a.example/v1/x?after=3&limit=10", "", ""},
    {"next_url", {.next = "$.next", .limit = 10, .limit_header = "X-Limit"}, "https://a.example/p2", "",
     "https://a.example/p2", "", "X-Limit: 10\n"},
    {"link", {.limit_param = "per_page", .limit = 100}, NULL, "per_page=100", NULL, "", ""},
    {"link", {.limit_param = "per_page", .limit = 100}, "https://api.github.com/x?page=2&per_page=100", "",
     "https://api.github.com/x?page=2&per_page=100", "", ""},
    {"link", {.limit_param = "per_page", .limit = 100, .body = "{\"filter\":1}"}, "https://h/x?page=2", "",
     "https://h/x?page=2", "{\"filter\":1}", ""},
};

static void test_requests(void)
{
    for (size_t i = 0; i < sizeof requests / sizeof *requests; i++) {
        paginate_cfg cfg = make_cfg(requests[i].strategy, &requests[i].s, 1);
        page_request rq;
        struct err e = {0};
        int fails_before = check_failed;
        cust_code rc;
        CHECK(cfg.ops != NULL);
        if (!cfg.ops)
            continue;
        page_request_init(&rq);
        /* request() resets: stale content from an earlier page never leaks */
        CHECK_INT(buf_adds(&rq.query, "stale=1"), CUST_OK);
        CHECK_INT(buf_adds(&rq.body, "stale"), CUST_OK);
        CHECK_INT(buf_adds(&rq.headers, "Stale: 1\n"), CUST_OK);
        rq.url = strdup("https://stale/");
        rc = cfg.ops->request(&cfg, requests[i].pos, &rq, &e);
        CHECK_INT(rc, CUST_OK);
        CHECK_STR(buf_str(&rq.query), requests[i].query);
        if (requests[i].url)
            CHECK_STR(rq.url, requests[i].url);
        else
            CHECK(rq.url == NULL);
        CHECK_STR(buf_str(&rq.body), requests[i].body);
        CHECK_STR(buf_str(&rq.headers), requests[i].headers);
        if (check_failed != fails_before)
            fprintf(stderr, "request row %zu (%s): %s\n", i, requests[i].strategy, e.msg);
        page_request_release(&rq);
    }
}

static void test_request_errors(void)
{
    /* A cap on the query buffer turns into an error, not a truncated URL. */
    paginate_cfg cfg = {0};
    page_request rq;
    struct err e = {0};
    cfg.param = (char *)"cursor";
    cfg.limit_param = (char *)"limit";
    cfg.limit = 10;
    page_request_init(&rq);
    rq.query.toobig = 16;
    CHECK_INT(pager_cursor.request(&cfg, "a-rather-long-token-value", &rq, &e), CUST_ENOMEM);
    page_request_release(&rq);
    page_request_init(&rq); /* caps are set before the first add */
    rq.query.toobig = 4;
    CHECK_INT(pager_none.request(&cfg, NULL, &rq, &e), CUST_ENOMEM);
    CHECK_INT(pager_offset.request(&cfg, "123456", &rq, &e), CUST_ENOMEM);
    page_request_release(&rq);
    /* a body cap too */
    page_request_init(&rq);
    rq.body.toobig = 8;
    cfg.in = PAGE_IN_BODY;
    cfg.body = (char *)"{\"cursor\":{cursor}}";
    CHECK_INT(pager_cursor.request(&cfg, "a-long-token", &rq, &e), CUST_ENOMEM);
    /* a stored position the strategy cannot read (the type changed) */
    cfg.in = PAGE_IN_QUERY;
    cfg.body = NULL;
    rq.body.toobig = 1 << 20;
    rq.query.toobig = 1 << 20;
    e.msg[0] = '\0';
    CHECK_INT(pager_offset.request(&cfg, "abc", &rq, &e), CUST_ECONFIG);
    CHECK(strstr(e.msg, "\"abc\" is not an offset") != NULL);
    CHECK_INT(pager_page.request(&cfg, "-1", &rq, &e), CUST_ECONFIG);
    CHECK(strstr(e.msg, "page number") != NULL);
    CHECK_INT(pager_offset.request(&cfg, "99999999999999999999999", &rq, &e), CUST_ECONFIG);
    CHECK_INT(pager_page.request(&cfg, " 3", &rq, &e), CUST_ECONFIG);
    /* a broken template fails the request instead of sending a broken body */
    cfg.in = PAGE_IN_BODY;
    cfg.body = (char *)"{\"cursor\":{cursor}";
    CHECK_INT(pager_cursor.request(&cfg, "t", &rq, &e), CUST_ECONFIG);
    CHECK(strstr(e.msg, "pagination.body: ") == e.msg);
    /* a token that is not UTF-8 makes no JSON body, alone or in a template */
    cfg.body = (char *)"{\"cursor\":{cursor}}";
    CHECK_INT(pager_cursor.request(&cfg, "\xff", &rq, &e), CUST_ECONFIG);
    cfg.token_alone = 1;
    CHECK_INT(pager_cursor.request(&cfg, "\xff", &rq, &e), CUST_EUPSTREAM);
    CHECK(strstr(e.msg, "UTF-8") != NULL);
    CHECK_INT(pager_cursor.request(&cfg, "ok", &rq, &e), CUST_OK);
    CHECK_STR(buf_str(&rq.body), "{\"cursor\":\"ok\",\"limit\":10}");
    page_request_release(&rq);
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

#define DONE 1
#define MORE 0

static const struct {
    const char *strategy;
    spec s;
    const char *pos;
    const char *body;
    const char *link, *url; /* Link header; URL the page was fetched at */
    cust_code rc;
    long count;           /* records in the array (when rc is OK) */
    int done;
    const char *next;     /* NULL: none */
    const char *resume;   /* NULL: keep the stored one */
    const char *msg1, *msg2; /* substrings of the error message */
} parses[] = {
    /* ---- cursor ---- */
    {"cursor", {0}, NULL, "{\"data\":[1,2],\"next\":\"t2\"}", NULL, NULL, CUST_OK, 2, MORE, "t2", "t2", NULL, NULL},
    {"cursor", {0}, "t1", "{\"data\":[1,2,3],\"next\":\"t2\"}", NULL, NULL, CUST_OK, 3, MORE, "t2", "t2", NULL, NULL},
    {"cursor", {.next = "$.meta.next"}, "t1", "{\"meta\":{\"next\":\"a&b c\"},\"data\":[{}]}", NULL, NULL, CUST_OK, 1,
     MORE, "a&b c", "a&b c", NULL, NULL},
    /* next token a number: its exact text */
    {"cursor", {0}, NULL, "{\"data\":[1],\"next\":42}", NULL, NULL, CUST_OK, 1, MORE, "42", "42", NULL, NULL},
    {"cursor", {0}, "42", "{\"data\":[1],\"next\":43}", NULL, NULL, CUST_OK, 1, MORE, "43", "43", NULL, NULL},
    {"cursor", {0}, NULL, "{\"data\":[1],\"next\":12345678901234567890}", NULL, NULL, CUST_OK, 1, MORE,
     "12345678901234567890", "12345678901234567890", NULL, NULL},
    /* next absent / null / empty string: done; resume stays at the page that was read */
    {"cursor", {0}, NULL, "{\"data\":[1]}", NULL, NULL, CUST_OK, 1, DONE, NULL, NULL, NULL, NULL},
    {"cursor", {0}, "t1", "{\"data\":[1]}", NULL, NULL, CUST_OK, 1, DONE, NULL, "t1", NULL, NULL},
    {"cursor", {0}, NULL, "{\"data\":[],\"next\":null}", NULL, NULL, CUST_OK, 0, DONE, NULL, NULL, NULL, NULL},
    {"cursor", {0}, "t9", "{\"data\":[1],\"next\":null}", NULL, NULL, CUST_OK, 1, DONE, NULL, "t9", NULL, NULL},
    {"cursor", {0}, NULL, "{\"data\":[1],\"next\":\"\"}", NULL, NULL, CUST_OK, 1, DONE, NULL, NULL, NULL, NULL},
    {"cursor", {0}, "t3", "{\"data\":[],\"next\":\"\"}", NULL, NULL, CUST_OK, 0, DONE, NULL, "t3", NULL, NULL},
    /* an empty page with a token goes on (the API decides) */
    {"cursor", {0}, "t3", "{\"data\":[],\"next\":\"t4\"}", NULL, NULL, CUST_OK, 0, MORE, "t4", "t4", NULL, NULL},
    /* "$": a top-level array (no next token can be there: done) */
    {"cursor", {.records = "$"}, NULL, "[1,2,3,4]", NULL, NULL, CUST_OK, 4, DONE, NULL, NULL, NULL, NULL},
    {"cursor", {.records = "$"}, "p", "[]", NULL, NULL, CUST_OK, 0, DONE, NULL, "p", NULL, NULL},
    /* has_more ends the cycle even with a token; absent or null gives no signal */
    {"cursor", {.has_more = "$.has_more", .more_when = 1}, "t1", "{\"data\":[1],\"next\":\"t2\",\"has_more\":false}",
     NULL, NULL, CUST_OK, 1, DONE, NULL, "t1", NULL, NULL},
    {"cursor", {.has_more = "$.has_more", .more_when = 1}, "t1", "{\"data\":[1],\"next\":\"t2\",\"has_more\":true}",
     NULL, NULL, CUST_OK, 1, MORE, "t2", "t2", NULL, NULL},
    {"cursor", {.has_more = "$.has_more", .more_when = 1}, "t1", "{\"data\":[1],\"next\":\"t2\"}", NULL, NULL, CUST_OK,
     1, MORE, "t2", "t2", NULL, NULL},
    {"cursor", {.has_more = "$.has_more", .more_when = 1}, "t1", "{\"data\":[1],\"next\":\"t2\",\"has_more\":null}",
     NULL, NULL, CUST_OK, 1, MORE, "t2", "t2", NULL, NULL},
    {"cursor", {.has_more = "$.has_more", .more_when = 1}, "t1", "{\"data\":[1],\"next\":\"t2\",\"has_more\":0}", NULL,
     NULL, CUST_OK, 1, DONE, NULL, "t1", NULL, NULL},
    /* has_more true but no token: nothing to follow, done */
    {"cursor", {.has_more = "$.has_more", .more_when = 1}, "t1", "{\"data\":[1],\"has_more\":true}", NULL, NULL,
     CUST_OK, 1, DONE, NULL, "t1", NULL, NULL},
    /* end_of_stream / done flags: more_when 0 */
    {"cursor", {.has_more = "$.end_of_stream", .more_when = 0}, "t1",
     "{\"data\":[1],\"next\":\"t2\",\"end_of_stream\":true}", NULL, NULL, CUST_OK, 1, DONE, NULL, "t1", NULL, NULL},
    {"cursor", {.has_more = "$.end_of_stream", .more_when = 0}, "t1",
     "{\"data\":[1],\"next\":\"t2\",\"end_of_stream\":false}", NULL, NULL, CUST_OK, 1, MORE, "t2", "t2", NULL, NULL},
    {"cursor", {.has_more = "$.meta.done", .more_when = 0}, NULL, "{\"data\":[1],\"next\":\"t\",\"meta\":{\"done\":true}}",
     NULL, NULL, CUST_OK, 1, DONE, NULL, NULL, NULL, NULL},
    {"cursor", {.has_more = "$.has_more", .more_when = 1}, "t1", "{\"data\":[1],\"next\":\"t2\",\"has_more\":\"no\"}",
     NULL, NULL, CUST_EUPSTREAM, 0, 0, NULL, NULL, "$.has_more", "string"},
    /* a loop is no loop when the API says it is done */
    {"cursor", {.has_more = "$.has_more", .more_when = 1}, "t1", "{\"data\":[1],\"next\":\"t1\",\"has_more\":false}",
     NULL, NULL, CUST_OK, 1, DONE, NULL, "t1", NULL, NULL},
    /* records path missing or not an array */
    {"cursor", {0}, NULL, "{\"items\":[1],\"next\":\"t\"}", NULL, NULL, CUST_EUPSTREAM, 0, 0, NULL, NULL, "$.data",
     "nothing"},
    {"cursor", {0}, NULL, "{\"data\":{\"a\":1}}", NULL, NULL, CUST_EUPSTREAM, 0, 0, NULL, NULL, "$.data", "object"},
    {"cursor", {0}, NULL, "{\"data\":\"x\"}", NULL, NULL, CUST_EUPSTREAM, 0, 0, NULL, NULL, "$.data", "string"},
    {"cursor", {0}, NULL, "{\"data\":null}", NULL, NULL, CUST_EUPSTREAM, 0, 0, NULL, NULL, "$.data", "null"},
    {"cursor", {.records = "$.result.items"}, NULL, "{\"result\":{}}", NULL, NULL, CUST_EUPSTREAM, 0, 0, NULL, NULL,
     "$.result.items", "array"},
    {"cursor", {.records = "$"}, NULL, "{\"data\":[]}", NULL, NULL, CUST_EUPSTREAM, 0, 0, NULL, NULL, "records path $",
     "object"},
    {"cursor", {0}, NULL, "[1,2]", NULL, NULL, CUST_EUPSTREAM, 0, 0, NULL, NULL, "$.data", NULL},
    /* next token of a type no API uses for a cursor */
    {"cursor", {0}, NULL, "{\"data\":[],\"next\":{\"a\":1}}", NULL, NULL, CUST_EUPSTREAM, 0, 0, NULL, NULL, "$.next",
     "object"},
    {"cursor", {0}, NULL, "{\"data\":[],\"next\":[\"t\"]}", NULL, NULL, CUST_EUPSTREAM, 0, 0, NULL, NULL, "$.next",
     "array"},
    {"cursor", {0}, NULL, "{\"data\":[],\"next\":true}", NULL, NULL, CUST_EUPSTREAM, 0, 0, NULL, NULL, "$.next", "true"},
    /* the API hands back the position it was given: a loop */
    {"cursor", {0}, "t1", "{\"data\":[1],\"next\":\"t1\"}", NULL, NULL, CUST_EUPSTREAM, 0, 0, NULL, NULL, "loop",
     "$.next"},
    {"cursor", {0}, "7", "{\"data\":[1],\"next\":7}", NULL, NULL, CUST_EUPSTREAM, 0, 0, NULL, NULL, "loop", NULL},
    /* a token equal to a prefix of the position is no loop */
    {"cursor", {0}, "t10", "{\"data\":[1],\"next\":\"t1\"}", NULL, NULL, CUST_OK, 1, MORE, "t1", "t1", NULL, NULL},

    /* ---- none: one response holds everything, next tokens are ignored ---- */
    {"none", {0}, NULL, "{\"data\":[1,2],\"next\":\"t2\"}", NULL, NULL, CUST_OK, 2, DONE, NULL, NULL, NULL, NULL},
    {"none", {.records = "$"}, NULL, "[{\"a\":1}]", NULL, NULL, CUST_OK, 1, DONE, NULL, NULL, NULL, NULL},
    {"none", {.records = "$"}, "stale", "[]", NULL, NULL, CUST_OK, 0, DONE, NULL, NULL, NULL, NULL},
    {"none", {0}, NULL, "{\"rows\":[]}", NULL, NULL, CUST_EUPSTREAM, 0, 0, NULL, NULL, "$.data", "nothing"},
    {"none", {0}, NULL, "{\"data\":5}", NULL, NULL, CUST_EUPSTREAM, 0, 0, NULL, NULL, "$.data", "number"},

    /* ---- next_url ---- */
    {"next_url", {.next = "$.links.next"}, NULL, "{\"data\":[1],\"links\":{\"next\":\"https://a.example/v1/x?after=9\"}}",
     NULL, "https://a.example/v1/x", CUST_OK, 1, MORE, "https://a.example/v1/x?after=9", "https://a.example/v1/x?after=9",
     NULL, NULL},
    /* relative next URLs resolve against the URL the page was fetched at */
    {"next_url", {0}, "https://a.example/v1/x?page=2", "{\"data\":[1],\"next\":\"/v1/x?page=3\"}", NULL,
     "https://a.example/v1/x?page=2", CUST_OK, 1, MORE, "https://a.example/v1/x?page=3", "https://a.example/v1/x?page=3",
     NULL, NULL},
    {"next_url", {0}, NULL, "{\"data\":[1],\"next\":\"?page=2\"}", NULL, "https://a.example/v1/x?limit=5", CUST_OK, 1,
     MORE, "https://a.example/v1/x?page=2", "https://a.example/v1/x?page=2", NULL, NULL},
    {"next_url", {0}, NULL, "{\"data\":[1],\"next\":\"../v2/y?c=1\"}", NULL, "https://a.example/v1/x", CUST_OK, 1, MORE,
     "https://a.example/v2/y?c=1", "https://a.example/v2/y?c=1", NULL, NULL},
    {"next_url", {0}, NULL, "{\"data\":[1],\"next\":\"//cdn.example/p2\"}", NULL, "https://a.example/v1/x", CUST_OK, 1,
     MORE, "https://cdn.example/p2", "https://cdn.example/p2", NULL, NULL},
    /* last page: null, absent or empty; resume stays at the URL that read it */
    {"next_url", {0}, "https://a.example/p3", "{\"data\":[1],\"next\":null}", NULL, "https://a.example/p3", CUST_OK, 1,
     DONE, NULL, "https://a.example/p3", NULL, NULL},
    {"next_url", {0}, "https://a.example/p3", "{\"data\":[]}", NULL, "https://a.example/p3", CUST_OK, 0, DONE, NULL,
     "https://a.example/p3", NULL, NULL},
    {"next_url", {0}, NULL, "{\"data\":[1],\"next\":\"\"}", NULL, "https://a.example/", CUST_OK, 1, DONE, NULL, NULL,
     NULL, NULL},
    {"next_url", {.has_more = "$.more", .more_when = 1}, "https://a.example/p3",
     "{\"data\":[1],\"next\":\"/p4\",\"more\":false}", NULL, "https://a.example/p3", CUST_OK, 1, DONE, NULL,
     "https://a.example/p3", NULL, NULL},
    /* not http(s), unresolvable, wrong type */
    {"next_url", {0}, NULL, "{\"data\":[1],\"next\":\"ftp://a.example/x\"}", NULL, "https://a.example/", CUST_EUPSTREAM, 0,
     0, NULL, NULL, "ftp://a.example/x", "http"},
    {"next_url", {0}, NULL, "{\"data\":[1],\"next\":\"/p2\"}", NULL, NULL, CUST_EUPSTREAM, 0, 0, NULL, NULL, "relative",
     "$.next"},
    {"next_url", {0}, NULL, "{\"data\":[1],\"next\":7}", NULL, "https://a.example/", CUST_EUPSTREAM, 0, 0, NULL, NULL,
     "$.next", "number"},
    {"next_url", {0}, NULL, "{\"data\":[1],\"next\":\"https://a b/\"}", NULL, "https://a.example/", CUST_EUPSTREAM, 0,
     0, NULL, NULL, "not a valid URL", NULL},
    /* the same URL twice: a loop (against the position, or the URL just fetched) */
    {"next_url", {0}, "https://a.example/p2", "{\"data\":[1],\"next\":\"https://a.example/p2\"}", NULL,
     "https://a.example/p2", CUST_EUPSTREAM, 0, 0, NULL, NULL, "loop", "https://a.example/p2"},
    {"next_url", {0}, "https://a.example/p2", "{\"data\":[1],\"next\":\"./p2\"}", NULL, "https://a.example/p2",
     CUST_EUPSTREAM, 0, 0, NULL, NULL, "loop", NULL},
    {"next_url", {0}, NULL, "{\"data\":[1],\"next\":\"?limit=5\"}", NULL, "https://a.example/x?limit=5", CUST_EUPSTREAM,
     0, 0, NULL, NULL, "loop", NULL},
    {"next_url", {0}, NULL, "{\"rows\":[1],\"next\":\"/p2\"}", NULL, "https://a.example/", CUST_EUPSTREAM, 0, 0, NULL,
     NULL, "$.data", "nothing"},

    /* ---- link ---- */
    {"link", {0}, NULL, "{\"data\":[1,2]}", "<https://api.example/x?page=2>; rel=\"next\", <https://api.example/x?page=9>; rel=\"last\"",
     "https://api.example/x", CUST_OK, 2, MORE, "https://api.example/x?page=2", "https://api.example/x?page=2", NULL, NULL},
    {"link", {.records = "$"}, "https://api.example/x?page=2", "[1]",
     "<https://api.example/x?page=1>; rel=\"prev first\", <https://api.example/x?page=3>; rel=\"next last\"",
     "https://api.example/x?page=2", CUST_OK, 1, MORE, "https://api.example/x?page=3", "https://api.example/x?page=3",
     NULL, NULL},
    {"link", {.records = "$"}, "https://api.example/x?page=2", "[1]", "</x?page=3>; rel=next",
     "https://api.example/x?page=2", CUST_OK, 1, MORE, "https://api.example/x?page=3", "https://api.example/x?page=3",
     NULL, NULL},
    /* no rel="next" or no Link header: last page */
    {"link", {.records = "$"}, "https://api.example/x?page=9", "[1]", "<https://api.example/x?page=1>; rel=\"first\"",
     "https://api.example/x?page=9", CUST_OK, 1, DONE, NULL, "https://api.example/x?page=9", NULL, NULL},
    {"link", {.records = "$"}, NULL, "[1]", NULL, "https://api.example/x", CUST_OK, 1, DONE, NULL, NULL, NULL, NULL},
    {"link", {.records = "$"}, "https://api.example/x?page=2", "[1]", "<https://api.example/x?page=2>; rel=\"next\"",
     "https://api.example/x?page=2", CUST_EUPSTREAM, 0, 0, NULL, NULL, "loop", "Link"},
    {"link", {.records = "$"}, NULL, "[1]", "<mailto:a@b>; rel=\"next\"", "https://api.example/x", CUST_EUPSTREAM, 0, 0,
     NULL, NULL, "http", "Link"},

    /* ---- offset ---- */
    /* first / middle: next = offset + records received */
    {"offset", {.limit = 3}, NULL, "{\"data\":[1,2,3]}", NULL, NULL, CUST_OK, 3, MORE, "3", "3", NULL, NULL},
    {"offset", {.limit = 3, .start = 1}, NULL, "{\"data\":[1,2,3]}", NULL, NULL, CUST_OK, 3, MORE, "4", "4", NULL, NULL},
    {"offset", {.limit = 3}, "3", "{\"data\":[4,5,6]}", NULL, NULL, CUST_OK, 3, MORE, "6", "6", NULL, NULL},
    /* no limit: only empty page / total / has_more end it */
    {"offset", {0}, "3", "{\"data\":[4,5]}", NULL, NULL, CUST_OK, 2, MORE, "5", "5", NULL, NULL},
    /* short page (the API gave fewer than asked): done, reread it next cycle */
    {"offset", {.limit = 3}, "6", "{\"data\":[7]}", NULL, NULL, CUST_OK, 1, DONE, NULL, "6", NULL, NULL},
    {"offset", {.limit = 3}, NULL, "{\"data\":[7]}", NULL, NULL, CUST_OK, 1, DONE, NULL, NULL, NULL, NULL},
    /* empty page */
    {"offset", {.limit = 3}, "9", "{\"data\":[]}", NULL, NULL, CUST_OK, 0, DONE, NULL, "9", NULL, NULL},
    {"offset", {0}, "9", "{\"data\":[]}", NULL, NULL, CUST_OK, 0, DONE, NULL, "9", NULL, NULL},
    /* total reached (0-based and 1-based offsets), total as a string, not reached */
    {"offset", {.limit = 3, .total = "$.total"}, "3", "{\"data\":[4,5,6],\"total\":6}", NULL, NULL, CUST_OK, 3, DONE, NULL,
     "3", NULL, NULL},
    {"offset", {.limit = 3, .total = "$.total"}, "3", "{\"data\":[4,5,6],\"total\":7}", NULL, NULL, CUST_OK, 3, MORE, "6",
     "6", NULL, NULL},
    {"offset", {.limit = 3, .total = "$.total", .start = 1}, "4", "{\"data\":[4,5,6],\"total\":6}", NULL, NULL, CUST_OK, 3,
     DONE, NULL, "4", NULL, NULL},
    {"offset", {.limit = 3, .total = "$.total", .start = 1}, "4", "{\"data\":[4,5,6],\"total\":7}", NULL, NULL, CUST_OK, 3,
     MORE, "7", "7", NULL, NULL},
    {"offset", {.limit = 3, .total = "$.meta.count"}, NULL, "{\"data\":[1,2,3],\"meta\":{\"count\":\"3\"}}", NULL, NULL,
     CUST_OK, 3, DONE, NULL, NULL, NULL, NULL},
    {"offset", {.limit = 3, .total = "$.total"}, NULL, "{\"data\":[1,2,3]}", NULL, NULL, CUST_OK, 3, MORE, "3", "3",
     NULL, NULL},
    {"offset", {.limit = 3, .total = "$.total"}, NULL, "{\"data\":[1,2,3],\"total\":\"many\"}", NULL, NULL,
     CUST_EUPSTREAM, 0, 0, NULL, NULL, "$.total", "whole number"},
    {"offset", {.limit = 3, .total = "$.total"}, NULL, "{\"data\":[1,2,3],\"total\":-1}", NULL, NULL, CUST_EUPSTREAM, 0,
     0, NULL, NULL, "$.total", NULL},
    {"offset", {.limit = 3, .total = "$.total"}, NULL, "{\"data\":[1,2,3],\"total\":{}}", NULL, NULL, CUST_EUPSTREAM, 0,
     0, NULL, NULL, "$.total", "object"},
    /* capped page size: 2 of 3 asked is short, so done */
    {"offset", {.limit = 3, .total = "$.total"}, "0", "{\"data\":[1,2],\"total\":10}", NULL, NULL, CUST_OK, 2, DONE, NULL,
     "0", NULL, NULL},
    /* has_more false / end_of_stream true */
    {"offset", {.limit = 2, .has_more = "$.has_more", .more_when = 1}, "2", "{\"data\":[3,4],\"has_more\":false}", NULL,
     NULL, CUST_OK, 2, DONE, NULL, "2", NULL, NULL},
    {"offset", {.limit = 2, .has_more = "$.has_more", .more_when = 1}, "2", "{\"data\":[3,4],\"has_more\":true}", NULL,
     NULL, CUST_OK, 2, MORE, "4", "4", NULL, NULL},
    {"offset", {.limit = 2, .has_more = "$.eos", .more_when = 0}, "2", "{\"data\":[3,4],\"eos\":true}", NULL, NULL,
     CUST_OK, 2, DONE, NULL, "2", NULL, NULL},
    /* max_offset: the next offset is past what the API serves */
    {"offset", {.limit = 4, .max_offset = 10}, "6", "{\"data\":[1,2,3,4]}", NULL, NULL, CUST_OK, 4, MORE, "10", "10",
     NULL, NULL},
    /* the page is kept, the window ends (window_full): the engine splits it */
    {"offset", {.limit = 2, .max_offset = 10}, "9", "{\"data\":[1,2]}", NULL, NULL, CUST_OK, 2, DONE, NULL, "9", NULL,
     NULL},
    {"offset", {.limit = 2, .max_offset = 10}, "9", "{\"data\":[1]}", NULL, NULL, CUST_OK, 1, DONE, NULL, "9", NULL,
     NULL},
    {"offset", {.limit = 2}, NULL, "{\"rows\":[]}", NULL, NULL, CUST_EUPSTREAM, 0, 0, NULL, NULL, "$.data", "nothing"},
    {"offset", {.limit = 2}, "x", "{\"data\":[1,2]}", NULL, NULL, CUST_ECONFIG, 0, 0, NULL, NULL, "not an offset", NULL},

    /* ---- page ---- */
    {"page", {.limit = 2, .start = 1}, NULL, "{\"data\":[1,2]}", NULL, NULL, CUST_OK, 2, MORE, "2", "2", NULL, NULL},
    {"page", {.limit = 2, .start = 1}, "2", "{\"data\":[3,4]}", NULL, NULL, CUST_OK, 2, MORE, "3", "3", NULL, NULL},
    {"page", {.limit = 2, .start = 0}, NULL, "{\"data\":[1,2]}", NULL, NULL, CUST_OK, 2, MORE, "1", "1", NULL, NULL},
    {"page", {.limit = 2, .start = 1}, "3", "{\"data\":[5]}", NULL, NULL, CUST_OK, 1, DONE, NULL, "3", NULL, NULL},
    {"page", {.limit = 2, .start = 1}, "4", "{\"data\":[]}", NULL, NULL, CUST_OK, 0, DONE, NULL, "4", NULL, NULL},
    /* total pages */
    {"page", {.limit = 2, .start = 1, .total = "$.total_pages"}, "3", "{\"data\":[5,6],\"total_pages\":3}", NULL, NULL,
     CUST_OK, 2, DONE, NULL, "3", NULL, NULL},
    {"page", {.limit = 2, .start = 1, .total = "$.total_pages"}, "2", "{\"data\":[3,4],\"total_pages\":3}", NULL, NULL,
     CUST_OK, 2, MORE, "3", "3", NULL, NULL},
    {"page", {.limit = 2, .start = 0, .total = "$.pages"}, "2", "{\"data\":[5,6],\"pages\":3}", NULL, NULL, CUST_OK, 2,
     DONE, NULL, "2", NULL, NULL},
    {"page", {.limit = 2, .start = 1, .total = "$.total_pages"}, NULL, "{\"data\":[],\"total_pages\":0}", NULL, NULL,
     CUST_OK, 0, DONE, NULL, NULL, NULL, NULL},
    {"page", {.start = 1, .has_more = "$.more", .more_when = 1}, "5", "{\"data\":[1],\"more\":false}", NULL, NULL, CUST_OK,
     1, DONE, NULL, "5", NULL, NULL},
    {"page", {.start = 1, .has_more = "$.more", .more_when = 1}, "5", "{\"data\":[1],\"more\":true}", NULL, NULL, CUST_OK,
     1, MORE, "6", "6", NULL, NULL},
    {"page", {.start = 1, .has_more = "$.last_page", .more_when = 0}, "5", "{\"data\":[1],\"last_page\":true}", NULL, NULL,
     CUST_OK, 1, DONE, NULL, "5", NULL, NULL},
    {"page", {.start = 1}, NULL, "{\"data\":7}", NULL, NULL, CUST_EUPSTREAM, 0, 0, NULL, NULL, "$.data", "number"},

    /* ---- last_id ---- */
    {"last_id", {.limit = 2, .id_field = "$.id"}, NULL, "{\"data\":[{\"id\":\"a1\"},{\"id\":\"a2\"}]}", NULL, NULL, CUST_OK,
     2, MORE, "a2", "a2", NULL, NULL},
    {"last_id", {.limit = 2, .id_field = "$.id"}, "a2", "{\"data\":[{\"id\":3},{\"id\":4}]}", NULL, NULL, CUST_OK, 2, MORE,
     "4", "4", NULL, NULL},
    {"last_id", {.limit = 2, .id_field = "$.meta.key"}, NULL,
     "{\"data\":[{\"meta\":{\"key\":1}},{\"meta\":{\"key\":98765432109876543210}}]}", NULL, NULL, CUST_OK, 2, MORE,
     "98765432109876543210", "98765432109876543210", NULL, NULL},
    {"last_id", {.limit = 2, .id_field = "$.id"}, "a2", "{\"data\":[{\"id\":\"a3\"}]}", NULL, NULL, CUST_OK, 1, DONE,
     NULL, "a2", NULL, NULL},
    {"last_id", {.limit = 2, .id_field = "$.id"}, "a4", "{\"data\":[]}", NULL, NULL, CUST_OK, 0, DONE, NULL, "a4", NULL,
     NULL},
    {"last_id", {.id_field = "$.id", .has_more = "$.has_more", .more_when = 1}, "a4",
     "{\"data\":[{\"id\":\"a5\"}],\"has_more\":false}", NULL, NULL, CUST_OK, 1, DONE, NULL, "a4", NULL, NULL},
    {"last_id", {.id_field = "$.id"}, "a4", "{\"data\":[{\"id\":\"a5\"}]}", NULL, NULL, CUST_OK, 1, MORE, "a5", "a5", NULL,
     NULL},
    /* the last record without an id, or with one of no use */
    {"last_id", {.limit = 2, .id_field = "$.id"}, NULL, "{\"data\":[{\"id\":1},{\"name\":\"x\"}]}", NULL, NULL,
     CUST_EUPSTREAM, 0, 0, NULL, NULL, "$.id", "nothing"},
    {"last_id", {.limit = 2, .id_field = "$.id"}, NULL, "{\"data\":[{\"id\":1},{\"id\":null}]}", NULL, NULL,
     CUST_EUPSTREAM, 0, 0, NULL, NULL, "$.id", "null"},
    {"last_id", {.limit = 2, .id_field = "$.id"}, NULL, "{\"data\":[{\"id\":1},{\"id\":\"\"}]}", NULL, NULL,
     CUST_EUPSTREAM, 0, 0, NULL, NULL, "$.id", "empty"},
    {"last_id", {.limit = 2, .id_field = "$.id"}, NULL, "{\"data\":[{\"id\":1},{\"id\":[2]}]}", NULL, NULL,
     CUST_EUPSTREAM, 0, 0, NULL, NULL, "$.id", "array"},
    {"last_id", {.limit = 2, .id_field = "$.id"}, NULL, "{\"data\":[1,2]}", NULL, NULL, CUST_EUPSTREAM, 0, 0, NULL, NULL,
     "$.id", NULL},
    /* the page after id X ends with X: a loop */
    {"last_id", {.limit = 2, .id_field = "$.id"}, "a2", "{\"data\":[{\"id\":\"a1\"},{\"id\":\"a2\"}]}", NULL, NULL,
     CUST_EUPSTREAM, 0, 0, NULL, NULL, "loop", "$.id"},
    {"last_id", {.limit = 1, .id_field = "$.id"}, "4", "{\"data\":[{\"id\":4}]}", NULL, NULL, CUST_EUPSTREAM, 0, 0, NULL,
     NULL, "loop", NULL},
};

static void test_parses(void)
{
    for (size_t i = 0; i < sizeof parses / sizeof *parses; i++) {
        paginate_cfg cfg = make_cfg(parses[i].strategy, &parses[i].s, 1);
        json_doc *doc = json_doc_new();
        struct err e = {0}, pe = {0};
        page_step st;
        page_response rs;
        json_value *body;
        cust_code rc;
        int fails_before = check_failed;
        memset(&st, 0x5a, sizeof st); /* parse must initialise every member */
        cfg.param = (char *)"p";
        CHECK(doc != NULL && cfg.ops != NULL);
        body = json_parse(doc, parses[i].body, strlen(parses[i].body), NULL, &pe);
        CHECK(body != NULL);
        if (!body || !cfg.ops) {
            fprintf(stderr, "parse row %zu: %s\n", i, pe.msg);
            json_doc_free(doc);
            continue;
        }
        rs.body = body;
        rs.link = parses[i].link;
        rs.url = parses[i].url;
        rc = cfg.ops->parse(&cfg, parses[i].pos, &rs, &st, &e);
        CHECK_INT(rc, parses[i].rc);
        if (parses[i].rc == CUST_OK) {
            CHECK(st.records != NULL);
            if (st.records) {
                CHECK_INT(st.records->type, JSON_ARRAY);
                CHECK_INT(st.records->len, parses[i].count);
            }
            CHECK_INT(st.done, parses[i].done);
            if (parses[i].next)
                CHECK_STR(st.next, parses[i].next);
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
            fprintf(stderr, "parse row %zu (%s): rc %d: %s\n", i, parses[i].strategy, (int)rc, e.msg);
        /* release frees and zeroes; a second release is harmless */
        page_step_release(&st);
        CHECK(st.next == NULL && st.resume == NULL && st.records == NULL && st.done == 0);
        page_step_release(&st);
        json_doc_free(doc);
    }
}

static const struct {
    const char *tmpl, *pos;
    int is_number;
    long limit;
    cust_code rc;
    const char *want; /* or a substring of the message */
} expansions[] = {
    {"{\"cursor\": {cursor}, \"limit\": {limit}}", "abc", 0, 10, CUST_OK, "{\"cursor\": \"abc\", \"limit\": 10}"},
    {"{\"cursor\": {cursor}, \"limit\": {limit}}", NULL, 0, 10, CUST_OK, "{\"cursor\": null, \"limit\": 10}"},
    {"{\"cursor\": {cursor}, \"limit\": {limit}}", "abc", 0, 0, CUST_OK, "{\"cursor\": \"abc\", \"limit\": null}"},
    {"{\"from\":{offset},\"size\":{limit}}", "40", 1, 20, CUST_OK, "{\"from\":40,\"size\":20}"},
    {"{\"page\":{page}}", "3", 1, 0, CUST_OK, "{\"page\":3}"},
    {"{\"page\":{page}}", NULL, 1, 0, CUST_OK, "{\"page\":null}"},
    /* tokens are JSON strings: quotes, backslashes and control characters escaped */
    {"{\"c\":{cursor}}", "a\"b", 0, 0, CUST_OK, "{\"c\":\"a\\\"b\"}"},
    {"{\"c\":{cursor}}", "a\\b", 0, 0, CUST_OK, "{\"c\":\"a\\\\b\"}"},
    {"{\"c\":{cursor}}", "a\nb\tc\x01", 0, 0, CUST_OK, "{\"c\":\"a\\nb\\tc\\u0001\"}"},
    {"{\"c\":{cursor}}", "\"},\"admin\":true,\"x\":{\"", 0, 0, CUST_OK,
     "{\"c\":\"\\\"},\\\"admin\\\":true,\\\"x\\\":{\\\"\"}"},
    {"{\"c\":{cursor}}", "{cursor}", 0, 0, CUST_OK, "{\"c\":\"{cursor}\"}"}, /* no second expansion */
    {"{\"c\":{cursor}}", "\xc3\xa9", 0, 0, CUST_OK, "{\"c\":\"\xc3\xa9\"}"},
    /* nested objects, arrays, literal braces in strings, a top-level array */
    {"{\"q\":{\"and\":[{\"s\":\"open\"}]},\"after\":{cursor}}", "t", 0, 0, CUST_OK,
     "{\"q\":{\"and\":[{\"s\":\"open\"}]},\"after\":\"t\"}"},
    {"{\"note\":\"{x}\"}", NULL, 0, 0, CUST_OK, "{\"note\":\"{x}\"}"},
    {"[{offset},{limit}]", "5", 1, 2, CUST_OK, "[5,2]"},
    {"{limit}", NULL, 0, 9, CUST_OK, "9"},
    /* the same placeholder twice */
    {"[{cursor},{cursor}]", "x", 0, 0, CUST_OK, "[\"x\",\"x\"]"},
    /* invalid templates */
    /* only the exact placeholders are replaced; any other brace is JSON's */
    {"{\"cursor\": {cursor}", "t", 0, 0, CUST_ECONFIG, "does not expand to JSON"},
    {"{\"a\": {nope}}", "t", 0, 0, CUST_ECONFIG, "does not expand to JSON"},
    {"{\"a\": {cursor}", "t", 0, 0, CUST_ECONFIG, "does not expand to JSON"},
    {"{\"a\": 1} {", "t", 0, 0, CUST_ECONFIG, "does not expand to JSON"},
    {"{\"a\": }", "t", 0, 0, CUST_ECONFIG, "does not expand to JSON"},
    {"{\"a\": \"{cursor}\"}", "t", 0, 0, CUST_ECONFIG, "does not expand to JSON"},
    {"", NULL, 0, 0, CUST_ECONFIG, "does not expand to JSON"},
    {"{\"a\": {offset}}", "12abc", 1, 0, CUST_ECONFIG, "not a number"},
    /* a token that is not UTF-8 cannot make JSON */
    {"{\"c\":{cursor}}", "\xff", 0, 0, CUST_ECONFIG, "does not expand to JSON"},
};

static void test_window_full(void)
{
    paginate_cfg cfg;
    page_step st;
    page_response rs;
    json_doc *d = json_doc_new();
    struct err e = {0};
    memset(&cfg, 0, sizeof cfg);
    cfg.ops = &pager_offset;
    cfg.records = "$.data";
    cfg.param = "offset";
    cfg.limit = 2;
    cfg.max_offset = 10;
    rs = (page_response){json_parse(d, "{\"data\":[1,2]}", 14, NULL, NULL), NULL, NULL};
    CHECK_INT(cfg.ops->parse(&cfg, "9", &rs, &st, &e), CUST_OK);
    CHECK(st.window_full && st.done && !st.next);
    page_step_release(&st);
    CHECK_INT(cfg.ops->parse(&cfg, "6", &rs, &st, &e), CUST_OK);
    CHECK(!st.window_full && !st.done);
    page_step_release(&st);
    json_doc_free(d);
}

static void test_delta_link(void)
{
    paginate_cfg cfg;
    page_step st;
    page_response rs;
    json_doc *d = json_doc_new();
    struct err e = {0};
    static const char last[] = "{\"value\":[1],\"next\":null,\"delta\":\"/v1.0/users/delta?token=abc\"}";
    static const char mid[] = "{\"value\":[1],\"next\":\"/v1.0/users?skip=2\",\"delta\":null}";
    memset(&cfg, 0, sizeof cfg);
    cfg.ops = &pager_next_url;
    cfg.records = "$.value";
    cfg.next = "$.next";
    cfg.delta = "$.delta";
    /* the last page's delta link is where the next poll starts */
    rs = (page_response){json_parse(d, last, sizeof last - 1, NULL, NULL), NULL, "https://graph.example/v1.0/users?skip=1"};
    CHECK_INT(cfg.ops->parse(&cfg, "https://graph.example/v1.0/users?skip=1", &rs, &st, &e), CUST_OK);
    CHECK(st.done);
    CHECK_STR(st.resume, "https://graph.example/v1.0/users/delta?token=abc");
    page_step_release(&st);
    /* pages before the last follow next as usual */
    rs = (page_response){json_parse(d, mid, sizeof mid - 1, NULL, NULL), NULL, "https://graph.example/v1.0/users"};
    CHECK_INT(cfg.ops->parse(&cfg, NULL, &rs, &st, &e), CUST_OK);
    CHECK(!st.done);
    CHECK_STR(st.next, "https://graph.example/v1.0/users?skip=2");
    page_step_release(&st);
    json_doc_free(d);
}

static void test_expand_body(void)
{
    for (size_t i = 0; i < sizeof expansions / sizeof *expansions; i++) {
        buf out;
        struct err e = {0};
        cust_code rc;
        int fails_before = check_failed;
        buf_init(&out, 1 << 16);
        CHECK_INT(buf_adds(&out, "KEEP"), CUST_OK); /* appended to; unchanged on failure */
        rc = paginate_expand_body(expansions[i].tmpl, expansions[i].pos, expansions[i].is_number, expansions[i].limit,
                                  &out, &e);
        CHECK_INT(rc, expansions[i].rc);
        if (expansions[i].rc == CUST_OK) {
            CHECK(strncmp(buf_str(&out), "KEEP", 4) == 0);
            CHECK_STR(buf_str(&out) + 4, expansions[i].want);
        } else {
            CHECK_STR(buf_str(&out), "KEEP");
            CHECK(strstr(e.msg, expansions[i].want) != NULL);
            CHECK(strstr(e.msg, "pagination.body: ") == e.msg);
            if (*expansions[i].tmpl)
                CHECK(strstr(e.msg, expansions[i].tmpl) != NULL || strstr(e.msg, "not a number")); /* names it */
        }
        if (check_failed != fails_before)
            fprintf(stderr, "expansion row %zu: %s\n", i, e.msg);
        buf_release(&out);
    }
    {
        /* a cap is an error, and the buffer is left as it was */
        buf out;
        buf_init(&out, 8);
        CHECK_INT(paginate_expand_body("{\"cursor\":{cursor}}", "t", 0, 0, &out, NULL), CUST_ENOMEM);
        CHECK_STR(buf_str(&out), "");
        buf_release(&out);
    }
}

#define B5 "http://a/b/c/d;p?q"
static const struct {
    const char *base, *ref;
    const char *want; /* NULL: CUST_EUPSTREAM */
} resolves[] = {
    /* RFC 3986 5.4.1 normal examples */
    {B5, "g", "http://a/b/c/g"},
    {B5, "./g", "http://a/b/c/g"},
    {B5, "g/", "http://a/b/c/g/"},
    {B5, "/g", "http://a/g"},
    {B5, "//g", "http://g"},
    {B5, "?y", "http://a/b/c/d;p?y"},
    {B5, "g?y", "http://a/b/c/g?y"},
    {B5, "#s", "http://a/b/c/d;p?q#s"},
    {B5, "g#s", "http://a/b/c/g#s"},
    {B5, "g?y#s", "http://a/b/c/g?y#s"},
    {B5, ";x", "http://a/b/c/;x"},
    {B5, "g;x", "http://a/b/c/g;x"},
    {B5, "g;x?y#s", "http://a/b/c/g;x?y#s"},
    {B5, "", "http://a/b/c/d;p?q"},
    {B5, ".", "http://a/b/c/"},
    {B5, "./", "http://a/b/c/"},
    {B5, "..", "http://a/b/"},
    {B5, "../", "http://a/b/"},
    {B5, "../g", "http://a/b/g"},
    {B5, "../..", "http://a/"},
    {B5, "../../", "http://a/"},
    {B5, "../../g", "http://a/g"},
    /* RFC 3986 5.4.2 abnormal examples */
    {B5, "../../../g", "http://a/g"},
    {B5, "../../../../g", "http://a/g"},
    {B5, "/./g", "http://a/g"},
    {B5, "/../g", "http://a/g"},
    {B5, "g.", "http://a/b/c/g."},
    {B5, ".g", "http://a/b/c/.g"},
    {B5, "g..", "http://a/b/c/g.."},
    {B5, "..g", "http://a/b/c/..g"},
    {B5, "./../g", "http://a/b/g"},
    {B5, "./g/.", "http://a/b/c/g/"},
    {B5, "g/./h", "http://a/b/c/g/h"},
    {B5, "g/../h", "http://a/b/c/h"},
    {B5, "g;x=1/./y", "http://a/b/c/g;x=1/y"},
    {B5, "g;x=1/../y", "http://a/b/c/y"},
    {B5, "g?y/./x", "http://a/b/c/g?y/./x"},
    {B5, "g?y/../x", "http://a/b/c/g?y/../x"},
    {B5, "g#s/./x", "http://a/b/c/g#s/./x"},
    {B5, "g#s/../x", "http://a/b/c/g#s/../x"},
    {B5, "http:g", NULL}, /* strict parsers: a scheme and no host */
    {B5, "g:h", NULL},    /* absolute, but not http(s) */
    /* absolute references: dots removed, scheme lower-cased, base not needed */
    {NULL, "https://api.example.com/v1/items?page=2", "https://api.example.com/v1/items?page=2"},
    {B5, "HTTPS://Api.Example/x/../y", "https://Api.Example/y"},
    {"https://a.example", "p2", "https://a.example/p2"},
    {"https://a.example", "?p=2", "https://a.example?p=2"},
    {"https://u:pw@a.example:8443/v1/x", "../y", "https://u:pw@a.example:8443/y"},
    {"https://a.example/x", "  /p2\t", "https://a.example/p2"}, /* surrounding whitespace */
    /* not http(s), no host, not a URL, no base to resolve against */
    {B5, "ftp://h/x", NULL},
    {B5, "javascript:alert(1)", NULL},
    {B5, "mailto:a@b", NULL},
    {B5, "http://", NULL},
    {B5, "https:///x", NULL},
    {B5, "http://a b/", NULL},
    {B5, "/a\nb", NULL},
    {B5, "1ab:x", NULL},
    {NULL, "/p2", NULL},
    {"not a url", "/p2", NULL},
    {"/relative/base", "p2", NULL},
    {"ftp://h/x", "p2", NULL},
};

static void test_resolve_url(void)
{
    for (size_t i = 0; i < sizeof resolves / sizeof *resolves; i++) {
        buf out;
        struct err e = {0};
        cust_code rc;
        int fails_before = check_failed;
        buf_init(&out, 1 << 16);
        rc = paginate_resolve_url(resolves[i].base, resolves[i].ref, &out, &e);
        if (resolves[i].want) {
            CHECK_INT(rc, CUST_OK);
            CHECK_STR(buf_str(&out), resolves[i].want);
        } else {
            CHECK_INT(rc, CUST_EUPSTREAM);
            CHECK_STR(buf_str(&out), "");
            CHECK(e.msg[0] != '\0');
        }
        if (check_failed != fails_before)
            fprintf(stderr, "resolve row %zu: %s + %s: %s\n", i, resolves[i].base ? resolves[i].base : "(null)",
                    resolves[i].ref, e.msg);
        buf_release(&out);
    }
}

static const struct {
    const char *link;
    const char *want; /* NULL: no rel="next" */
} links[] = {
    {"<https://api.example/x?page=2>; rel=\"next\"", "https://api.example/x?page=2"},
    {"<https://a/1>; rel=\"prev\", <https://a/3>; rel=\"next\"", "https://a/3"},
    {"<https://a/3>; rel=\"next last\"", "https://a/3"},
    {"<https://a/3>; rel=\"last next\"", "https://a/3"},
    {"<https://a/9>; rel=\"last\", <https://a/2>; rel=next", "https://a/2"},
    {"<https://a/2>;rel=next", "https://a/2"},
    {"<https://a/2>; type=\"text/html\"; title=\"Page 2\"; rel=\"next\"", "https://a/2"},
    {"<https://a/2>; rel=\"next\"; title=\"a \\\"quoted\\\" one, really\"", "https://a/2"},
    {"<https://a/x?a=1,2;b=3>; rel=\"next\"", "https://a/x?a=1,2;b=3"},
    {"  <https://a/2>  ;  rel = \"next\"  ", "https://a/2"},
    {"< https://a/2 >; rel=next", "https://a/2"},
    {"<https://a/2>; rel=\"NEXT\"", "https://a/2"},
    {"<https://a/2>; REL=Next", "https://a/2"},
    {"</p?page=2>; rel=\"next\"", "/p?page=2"},
    {"<https://a/1>; rel=\"first\",\r\n <https://a/2>; rel=\"prev next\"", "https://a/2"},
    {"garbage, <https://a/2>; rel=next", "https://a/2"},
    {"<https://a/1>; rel=\"prev\" junk, <https://a/2>; rel=next", "https://a/2"},
    {",,, <https://a/2>; rel=next,", "https://a/2"},
    /* first rel=next wins */
    {"<https://a/2>; rel=next, <https://a/3>; rel=next", "https://a/2"},
    /* no rel=next */
    {"<https://a/2>; rel=\"nextpage\"", NULL},
    {"<https://a/2>; rel=\"prev\"; rel=\"next\"", NULL}, /* only the first rel counts */
    {"<https://a/2>; title=\"x, y; rel=next\"; rel=\"prev\"", NULL},
    {"<https://a/2>; title=\"<https://a/3>; rel=next\"", NULL},
    {"<https://a/2>; anchor=\"next\"", NULL},
    {"<https://a/2>; rel", NULL},
    {"<https://a/2>; rel=", NULL},
    {"<https://a/2", NULL},
    {"https://a/2; rel=next", NULL},
    {"", NULL},
    {NULL, NULL},
};

static void test_link_next(void)
{
    for (size_t i = 0; i < sizeof links / sizeof *links; i++) {
        buf out;
        int r, fails_before = check_failed;
        buf_init(&out, 1 << 16);
        r = paginate_link_next(links[i].link, &out);
        CHECK_INT(r, links[i].want ? 1 : 0);
        CHECK_STR(buf_str(&out), links[i].want ? links[i].want : "");
        if (check_failed != fails_before)
            fprintf(stderr, "link row %zu: %s\n", i, links[i].link ? links[i].link : "(null)");
        buf_release(&out);
    }
    {
        buf out;
        buf_init(&out, 4);
        CHECK_INT(paginate_link_next("<https://a/2>; rel=next", &out), -1);
        buf_release(&out);
    }
}

static const struct {
    const char *strategy;
    spec s;
    const char *msg; /* NULL: accepted; else the start of the message */
} checks[] = {
    {"none", {0}, NULL},
    {"none", {.limit_param = "limit", .limit = 10, .body = "{\"filter\":1}"}, NULL},
    {"none", {.in = 1, .body = "{\"c\":{cursor}}"}, "pagination.in: "},
    {"none", {.limit = -1}, "pagination.limit: "},
    {"cursor", {.next = "$.next", .param = "cursor"}, NULL},
    {"cursor", {.param = "cursor"}, "pagination.next: "},
    {"cursor", {.next = "$.next"}, "pagination.param: cursor needs"},
    {"cursor", {.next = "$.next", .param = "c", .in = 1}, "pagination.body: "},
    {"cursor", {.next = "$.next", .param = "c", .in = 1, .body = "{\"c\":{cursor}}"}, NULL},
    {"cursor", {.next = "$.next", .in = 1, .body = "{\"c\":{cursor}}"}, NULL}, /* body: no param needed */
    {"cursor", {.next = "$.next", .in = 1, .alone = 1, .body = "{\"c\":{cursor}}"}, "pagination.param: "},
    {"cursor", {.next = "$.next", .param = "c", .in = 1, .body = "{\"size\":{limit}}"}, "pagination.body: "},
    {"cursor", {.next = "$.next", .param = "c", .in = 1, .body = "{\"c\":{cursor}"}, "pagination.body: "},
    {"cursor", {.next = "$.next", .param = "c", .body = "{\"c\": }"}, "pagination.body: "},
    {"cursor", {.next = "$.next", .param = "c", .limit = 5, .limit_header = "X-Page-Size"}, NULL},
    {"cursor", {.next = "$.next", .param = "c", .limit = 5, .limit_header = "X-Page: 1\r\nEvil"},
     "pagination.limit_header: "},
    {"cursor", {.next = "$.next", .param = "c", .limit = 5, .limit_header = ""}, "pagination.limit_header: "},
    {"cursor", {.next = "$..x", .param = "c"}, "pagination.next: "},
    {"cursor", {.next = "$.next", .param = "c", .has_more = "$.a["}, "pagination.has_more: "},
    {"next_url", {.next = "$.links.next"}, NULL},
    {"next_url", {0}, "pagination.next: "},
    {"next_url", {.next = "$.next", .in = 1, .body = "{\"c\":{cursor}}"}, "pagination.in: "},
    {"next_url", {.next = "$.next", .alone = 1}, "pagination.token_alone: "},
    {"link", {0}, NULL},
    {"link", {.limit_param = "per_page", .limit = 100}, NULL},
    {"offset", {.param = "offset"}, NULL},
    {"offset", {0}, "pagination.param: offset needs the query parameter that carries the offset"},
    {"offset", {.param = "offset", .total = "$.total", .max_offset = 10000, .limit = 100, .limit_param = "limit"}, NULL},
    {"offset", {.param = "offset", .max_offset = -1}, "pagination.max_offset: "},
    {"offset", {.param = "offset", .start = -1}, "pagination.start: "},
    {"offset", {.param = "offset", .total = "total["}, "pagination.total: "},
    {"offset", {.in = 1, .body = "{\"from\":{offset}}"}, NULL},
    {"offset", {.in = 1}, "pagination.body: "},
    {"page", {.param = "page", .start = 1}, NULL},
    {"page", {0}, "pagination.param: page needs"},
    {"last_id", {.param = "after", .id_field = "$.id"}, NULL},
    {"last_id", {.param = "after"}, "pagination.id_field: "},
    {"last_id", {.id_field = "$.id"}, "pagination.param: "},
    {"last_id", {.param = "after", .id_field = "$.id[x]"}, "pagination.id_field: "},
};

static void test_checks(void)
{
    for (size_t i = 0; i < sizeof checks / sizeof *checks; i++) {
        paginate_cfg cfg = make_cfg(checks[i].strategy, &checks[i].s, 0);
        struct err e = {0};
        cust_code rc;
        int fails_before = check_failed;
        cfg.records = (char *)"$.data";
        CHECK(cfg.ops != NULL && cfg.ops->check != NULL);
        if (!cfg.ops || !cfg.ops->check)
            continue;
        rc = cfg.ops->check(&cfg, &e);
        if (!checks[i].msg) {
            CHECK_INT(rc, CUST_OK);
        } else {
            CHECK_INT(rc, CUST_ECONFIG);
            CHECK(strncmp(e.msg, checks[i].msg, strlen(checks[i].msg)) == 0);
        }
        if (check_failed != fails_before)
            fprintf(stderr, "check row %zu (%s): %s\n", i, checks[i].strategy, e.msg);
    }
}

/* ---- walks: request/parse in a loop as the poll engine drives them ---- */

#define SRC "https://api.example/v1/items"

typedef struct wpage {
    const char *body, *link;                   /* the response */
    const char *query, *url, *rbody, *headers; /* the request expected for it */
} wpage;

static void walk(const char *name, const paginate_cfg *cfg, const wpage *pages, size_t n, long want_records,
                 const char *want_resume)
{
    char *pos = NULL, *resume = NULL;
    long records = 0;
    size_t i;
    int done = 0, fails_before = check_failed;
    page_request rq;
    page_request_init(&rq);
    for (i = 0; i < n && !done; i++) {
        json_doc *doc = json_doc_new();
        struct err e = {0};
        page_step st = {0};
        page_response rs;
        buf fetched;
        json_value *body;
        buf_init(&fetched, 1 << 16);
        CHECK_INT(cfg->ops->request(cfg, pos, &rq, &e), CUST_OK);
        CHECK_STR(buf_str(&rq.query), pages[i].query);
        if (pages[i].url)
            CHECK_STR(rq.url, pages[i].url);
        else
            CHECK(rq.url == NULL);
        CHECK_STR(buf_str(&rq.body), pages[i].rbody ? pages[i].rbody : "");
        CHECK_STR(buf_str(&rq.headers), pages[i].headers ? pages[i].headers : "");
        /* the URL the engine fetches: the next URL, or the source's with the query */
        if (rq.url)
            CHECK_INT(buf_adds(&fetched, rq.url), CUST_OK);
        else if (buf_adds(&fetched, SRC) || (rq.query.len && (buf_addc(&fetched, '?') ||
                                                              buf_adds(&fetched, buf_str(&rq.query)))))
            CHECK(0);
        body = json_parse(doc, pages[i].body, strlen(pages[i].body), NULL, &e);
        CHECK(body != NULL);
        rs.body = body;
        rs.link = pages[i].link;
        rs.url = buf_str(&fetched);
        CHECK_INT(body ? cfg->ops->parse(cfg, pos, &rs, &st, &e) : CUST_EJSON, CUST_OK);
        records += st.records ? (long)st.records->len : 0;
        done = st.done;
        CHECK(done ? st.next == NULL : st.next != NULL);
        if (st.resume) {
            free(resume);
            resume = st.resume;
            st.resume = NULL;
        }
        free(pos);
        pos = st.next;
        st.next = NULL;
        page_step_release(&st);
        buf_release(&fetched);
        json_doc_free(doc);
        if (check_failed != fails_before) {
            fprintf(stderr, "walk %s: page %zu: %s\n", name, i + 1, e.msg);
            break;
        }
    }
    CHECK_INT(done, 1);
    CHECK_INT(i, n); /* every page was asked for, none more */
    CHECK_INT(records, want_records);
    if (want_resume)
        CHECK_STR(resume, want_resume);
    else
        CHECK(resume == NULL);
    if (check_failed != fails_before)
        fprintf(stderr, "walk %s failed\n", name);
    free(pos);
    free(resume);
    page_request_release(&rq);
}

static void test_walks(void)
{
    {
        /* cursor in the query */
        static const wpage pages[] = {
            {"{\"data\":[1,2],\"next\":\"p/2\"}", NULL, "limit=2", NULL, NULL, NULL},
            {"{\"data\":[3,4],\"next\":\"p 3\"}", NULL, "c=p%2F2&limit=2", NULL, NULL, NULL},
            {"{\"data\":[5],\"next\":null}", NULL, "c=p%203&limit=2", NULL, NULL, NULL},
        };
        spec s = {.param = "c", .limit_param = "limit", .limit = 2};
        paginate_cfg cfg = make_cfg("cursor", &s, 1);
        walk("cursor", &cfg, pages, 3, 5, "p 3"); /* the last page's position is kept for the next cycle */
    }
    {
        /* cursor in a POST body with filters; has_more ends it while a token is still there */
        static const wpage pages[] = {
            {"{\"rows\":[1,2],\"cursor\":\"a\\\"1\",\"more\":true}", NULL, "", NULL,
             "{\"filter\":{\"since\":\"2024-01-01\"},\"cursor\":null,\"limit\":2}", NULL},
            {"{\"rows\":[3,4],\"cursor\":\"b\\\\2\",\"more\":true}", NULL, "", NULL,
             "{\"filter\":{\"since\":\"2024-01-01\"},\"cursor\":\"a\\\"1\",\"limit\":2}", NULL},
            {"{\"rows\":[5,6],\"cursor\":\"c3\",\"more\":true}", NULL, "", NULL,
             "{\"filter\":{\"since\":\"2024-01-01\"},\"cursor\":\"b\\\\2\",\"limit\":2}", NULL},
            {"{\"rows\":[7],\"cursor\":\"d4\",\"more\":false}", NULL, "", NULL,
             "{\"filter\":{\"since\":\"2024-01-01\"},\"cursor\":\"c3\",\"limit\":2}", NULL},
        };
        spec s = {.records = "$.rows", .next = "$.cursor", .param = "cursor", .in = 1, .limit_param = "limit",
                  .limit = 2, .has_more = "$.more", .more_when = 1,
                  .body = "{\"filter\":{\"since\":\"2024-01-01\"},\"cursor\":{cursor},\"limit\":{limit}}"};
        paginate_cfg cfg = make_cfg("cursor", &s, 1);
        walk("cursor body", &cfg, pages, 4, 7, "c3");
    }
    {
        /* a page token that must travel alone: the template first, then only token and size */
        static const wpage pages[] = {
            {"{\"items\":[1],\"nextPageToken\":\"T1\"}", NULL, "", NULL,
             "{\"query\":\"x\",\"pageToken\":null,\"pageSize\":1}", NULL},
            {"{\"items\":[2],\"nextPageToken\":\"T2\"}", NULL, "", NULL, "{\"pageToken\":\"T1\",\"pageSize\":1}", NULL},
            {"{\"items\":[3],\"end_of_stream\":true,\"nextPageToken\":\"T3\"}", NULL, "", NULL,
             "{\"pageToken\":\"T2\",\"pageSize\":1}", NULL},
        };
        spec s = {.records = "$.items", .next = "$.nextPageToken", .param = "pageToken", .in = 1, .alone = 1,
                  .limit_param = "pageSize", .limit = 1, .has_more = "$.end_of_stream", .more_when = 0,
                  .body = "{\"query\":\"x\",\"pageToken\":{cursor},\"pageSize\":{limit}}"};
        paginate_cfg cfg = make_cfg("cursor", &s, 1);
        walk("cursor token_alone", &cfg, pages, 3, 3, "T2");
    }
    {
        /* next URL, absolute then relative forms */
        static const wpage pages[] = {
            {"{\"data\":[1,2],\"next\":\"https://api.example/v1/items?after=2&limit=2\"}", NULL, "limit=2", NULL, NULL,
             NULL},
            {"{\"data\":[3,4],\"next\":\"/v1/items?after=4&limit=2\"}", NULL, "",
             "https://api.example/v1/items?after=2&limit=2", NULL, NULL},
            {"{\"data\":[5,6],\"next\":\"?after=6&limit=2\"}", NULL, "", "https://api.example/v1/items?after=4&limit=2",
             NULL, NULL},
            {"{\"data\":[7,8],\"next\":\"items?after=8&limit=2\"}", NULL, "",
             "https://api.example/v1/items?after=6&limit=2", NULL, NULL},
            {"{\"data\":[],\"next\":null}", NULL, "", "https://api.example/v1/items?after=8&limit=2", NULL, NULL},
        };
        spec s = {.limit_param = "limit", .limit = 2};
        paginate_cfg cfg = make_cfg("next_url", &s, 1);
        walk("next_url", &cfg, pages, 5, 8, "https://api.example/v1/items?after=8&limit=2");
    }
    {
        /* Link header rel="next", in various spellings */
        static const wpage pages[] = {
            {"[1,2]", "<https://api.example/v1/items?page=2&per_page=2>; rel=\"next\", <https://api.example/v1/items?page=3&per_page=2>; rel=\"last\"",
             "per_page=2", NULL, NULL, NULL},
            {"[3,4]", "<https://api.example/v1/items?page=1&per_page=2>; rel=\"prev first\", </v1/items?page=3&per_page=2>; rel=\"next last\"",
             "", "https://api.example/v1/items?page=2&per_page=2", NULL, NULL},
            {"[5]", "<https://api.example/v1/items?page=1&per_page=2>; rel=\"first\"", "",
             "https://api.example/v1/items?page=3&per_page=2", NULL, NULL},
        };
        spec s = {.records = "$", .limit_param = "per_page", .limit = 2};
        paginate_cfg cfg = make_cfg("link", &s, 1);
        walk("link", &cfg, pages, 3, 5, "https://api.example/v1/items?page=3&per_page=2");
    }
    {
        /* offset, 0-based, ending on the total */
        static const wpage pages[] = {
            {"{\"data\":[1,2],\"total\":5}", NULL, "offset=0&limit=2", NULL, NULL, NULL},
            {"{\"data\":[3,4],\"total\":5}", NULL, "offset=2&limit=2", NULL, NULL, NULL},
            {"{\"data\":[5],\"total\":5}", NULL, "offset=4&limit=2", NULL, NULL, NULL},
        };
        spec s = {.param = "offset", .limit_param = "limit", .limit = 2, .total = "$.total"};
        paginate_cfg cfg = make_cfg("offset", &s, 1);
        walk("offset", &cfg, pages, 3, 5, "4");
    }
    {
        /* offset in a POST body, 1-based, no limit sent: ends on an empty page */
        static const wpage pages[] = {
            {"{\"hits\":[1,2,3]}", NULL, "", NULL, "{\"from\":1,\"q\":\"*\"}", NULL},
            {"{\"hits\":[4,5,6]}", NULL, "", NULL, "{\"from\":4,\"q\":\"*\"}", NULL},
            {"{\"hits\":[7]}", NULL, "", NULL, "{\"from\":7,\"q\":\"*\"}", NULL},
            {"{\"hits\":[]}", NULL, "", NULL, "{\"from\":8,\"q\":\"*\"}", NULL},
        };
        spec s = {.records = "$.hits", .param = "from", .in = 1, .start = 1, .body = "{\"from\":{offset},\"q\":\"*\"}"};
        paginate_cfg cfg = make_cfg("offset", &s, 1);
        walk("offset body", &cfg, pages, 4, 7, "8");
    }
    {
        /* page numbers with total pages, page size in a header */
        static const wpage pages[] = {
            {"{\"data\":[1,2,3],\"pages\":4}", NULL, "page=1", NULL, NULL, "X-Per-Page: 3\n"},
            {"{\"data\":[4,5,6],\"pages\":4}", NULL, "page=2", NULL, NULL, "X-Per-Page: 3\n"},
            {"{\"data\":[7,8,9],\"pages\":4}", NULL, "page=3", NULL, NULL, "X-Per-Page: 3\n"},
            {"{\"data\":[10,11,12],\"pages\":4}", NULL, "page=4", NULL, NULL, "X-Per-Page: 3\n"},
        };
        spec s = {.param = "page", .limit_param = "per_page", .limit = 3, .limit_header = "X-Per-Page", .start = 1,
                  .total = "$.pages"};
        paginate_cfg cfg = make_cfg("page", &s, 1);
        walk("page", &cfg, pages, 4, 12, "4");
    }
    {
        /* the last record's id, ending on a short page */
        static const wpage pages[] = {
            {"{\"data\":[{\"id\":\"a1\"},{\"id\":\"a2\"}]}", NULL, "limit=2", NULL, NULL, NULL},
            {"{\"data\":[{\"id\":\"a3\"},{\"id\":\"a 4\"}]}", NULL, "after=a2&limit=2", NULL, NULL, NULL},
            {"{\"data\":[{\"id\":\"a5\"}]}", NULL, "after=a%204&limit=2", NULL, NULL, NULL},
        };
        spec s = {.param = "after", .limit_param = "limit", .limit = 2, .id_field = "$.id"};
        paginate_cfg cfg = make_cfg("last_id", &s, 1);
        walk("last_id", &cfg, pages, 3, 5, "a 4");
    }
    {
        static const wpage pages[] = {
            {"{\"data\":[1,2,3]}", NULL, "limit=500", NULL, NULL, NULL},
        };
        spec s = {.limit_param = "limit", .limit = 500};
        paginate_cfg cfg = make_cfg("none", &s, 1);
        walk("none", &cfg, pages, 1, 3, NULL);
    }
}

static void test_lookup(void)
{
    static const char *const names[] = {"none", "cursor", "next_url", "link", "offset", "page", "last_id"};
    static const pager_ops *const ops[] = {&pager_none, &pager_cursor, &pager_next_url, &pager_link,
                                           &pager_offset, &pager_page, &pager_last_id};
    size_t listed = 0;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        CHECK(paginate_lookup(names[i]) == ops[i]);
        CHECK_STR(ops[i]->name, names[i]);
        CHECK(ops[i]->request != NULL && ops[i]->parse != NULL && ops[i]->check != NULL);
        CHECK(strstr(paginate_names(), names[i]) != NULL);
    }
    /* every name listed resolves, and only those */
    {
        char list[256];
        char *p = list, *comma;
        snprintf(list, sizeof list, "%s", paginate_names());
        for (;;) {
            comma = strstr(p, ", ");
            if (comma)
                *comma = '\0';
            CHECK(paginate_lookup(p) != NULL);
            listed++;
            if (!comma)
                break;
            p = comma + 2;
        }
        CHECK_INT(listed, sizeof names / sizeof *names);
    }
    CHECK(paginate_lookup("") == NULL);
    CHECK(paginate_lookup("Cursor") == NULL);
    CHECK(paginate_lookup("cursor ") == NULL);
    CHECK(paginate_lookup("nexturl") == NULL);
}

static void test_release(void)
{
    page_step st = {0};
    page_request rq;
    page_step_release(&st); /* all NULL: a no-op */
    CHECK(st.next == NULL && st.resume == NULL);
    st.next = strdup("n");
    st.resume = strdup("r");
    st.done = 1;
    page_step_release(&st);
    CHECK(st.next == NULL && st.resume == NULL && st.done == 0);
    page_request_init(&rq);
    rq.url = strdup("https://x/");
    CHECK_INT(buf_adds(&rq.query, "a=b"), CUST_OK);
    page_request_reset(&rq);
    CHECK(rq.url == NULL && rq.query.len == 0);
    page_request_release(&rq);
    page_request_release(&rq); /* twice is harmless */
}

int main(void)
{
    test_lookup();
    test_requests();
    test_request_errors();
    test_urlencode();
    test_parses();
    test_expand_body();
    test_window_full();
    test_delta_link();
    test_resolve_url();
    test_link_next();
    test_checks();
    test_walks();
    test_release();
    return check_report("test_paginate");
}
