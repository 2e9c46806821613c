/* fuzz_paginate.c - libFuzzer harness for the pagination strategies and
 * helpers. Input: 2 bytes of parameters (flags, page size), then up to five
 * fields separated by 0x1e: a response body (JSON), a Link header value, the
 * page's URL, a reference / position, a body template.
 * Properties: no crash, no leak; resolved URLs are http(s) with a host, have
 * no space or control byte and resolve to themselves; expanded bodies parse
 * as JSON; every strategy's request is well formed (query percent-encoded,
 * header lines ended, body JSON) and its parse is consistent (done exactly
 * when no next position, resume = next, never next == pos), and the next
 * position makes a valid request. Any violation abort()s. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/paginate.h"

#define REQUIRE(cond) do { \
    if (!(cond)) { \
        fprintf(stderr, "fuzz_paginate: property violated: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
        abort(); \
    } \
} while (0)

#define NFIELDS 5

static int is_json(const char *s, size_t n)
{
    json_doc *doc = json_doc_new();
    struct err e = {0};
    int ok;
    REQUIRE(doc != NULL);
    ok = json_parse(doc, s, n, NULL, &e) != NULL;
    json_doc_free(doc);
    return ok;
}

static int is_http_url(const char *u)
{
    const char *p = strncmp(u, "http://", 7) == 0 ? u + 7 : strncmp(u, "https://", 8) == 0 ? u + 8 : NULL;
    if (!p || !*p || *p == '/' || *p == '?' || *p == '#')
        return 0;
    for (; *u; u++)
        if ((unsigned char)*u <= 0x20 || (unsigned char)*u == 0x7f)
            return 0;
    return 1;
}

static void check_resolve(const char *base, const char *ref)
{
    buf out, again;
    struct err e = {0};
    cust_code rc;
    buf_init(&out, 1 << 20);
    buf_init(&again, 1 << 20);
    rc = paginate_resolve_url(base, ref, &out, &e);
    REQUIRE(rc == CUST_OK || rc == CUST_EUPSTREAM || rc == CUST_ENOMEM);
    if (rc == CUST_OK) {
        REQUIRE(is_http_url(buf_str(&out)));
        /* an absolute, normalised URL resolves to itself, whatever the base */
        REQUIRE(paginate_resolve_url(NULL, buf_str(&out), &again, &e) == CUST_OK);
        REQUIRE(strcmp(buf_str(&again), buf_str(&out)) == 0);
    } else {
        REQUIRE(out.len == 0 && e.msg[0] != '\0');
    }
    buf_release(&out);
    buf_release(&again);
}

static void check_expand(const char *tmpl, const char *pos, int num, long limit)
{
    buf out;
    struct err e = {0};
    cust_code rc;
    buf_init(&out, 1 << 20);
    rc = paginate_expand_body(tmpl, pos, num, limit, &out, &e);
    REQUIRE(rc == CUST_OK || rc == CUST_ECONFIG || rc == CUST_ENOMEM);
    if (rc == CUST_OK)
        REQUIRE(is_json(buf_str(&out), out.len));
    else
        REQUIRE(out.len == 0 && strncmp(e.msg, "pagination.body: ", 17) == 0);
    buf_release(&out);
}

static void check_request(const paginate_cfg *cfg, const char *pos, page_request *rq, int must)
{
    struct err e = {0};
    cust_code rc = cfg->ops->request(cfg, pos, rq, &e);
    if (must)
        REQUIRE(rc == CUST_OK);
    if (rc)
        return;
    for (const char *q = buf_str(&rq->query); *q; q++)
        REQUIRE((*q >= 'A' && *q <= 'Z') || (*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') ||
                strchr("-_.~%&=", *q));
    if (rq->body.len)
        REQUIRE(is_json(rq->body.ptr, rq->body.len));
    if (rq->headers.len)
        REQUIRE(rq->headers.ptr[rq->headers.len - 1] == '\n');
    if (rq->url)
        REQUIRE(pos && strcmp(rq->url, pos) == 0 && rq->query.len == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const pager_ops *const all[] = {&pager_none,   &pager_cursor, &pager_next_url, &pager_link,
                                           &pager_offset, &pager_page,   &pager_last_id};
    uint8_t prm[2] = {0};
    size_t n = size < sizeof prm ? size : sizeof prm;
    char *text, *v[NFIELDS] = {NULL};
    size_t vlen[NFIELDS] = {0};
    json_doc *doc;
    json_value *body;
    struct err e = {0};
    page_request rq;

    memcpy(prm, data, n);
    text = malloc(size - n + 1);
    REQUIRE(text != NULL);
    memcpy(text, data + n, size - n);
    text[size - n] = '\0';
    {
        char *s = text, *end = text + (size - n);
        for (int i = 0; i < NFIELDS && s; i++) {
            char *sep = memchr(s, 0x1e, (size_t)(end - s));
            if (sep)
                *sep = '\0';
            v[i] = s;
            vlen[i] = (size_t)((sep ? sep : end) - s);
            s = sep ? sep + 1 : NULL;
        }
    }
    /* fields hold C strings up to a NUL; the body keeps its length */
    {
        const char *link = v[1], *base = v[2] && *v[2] ? v[2] : NULL, *ref = v[3], *tmpl = v[4];
        long limit = prm[1] & 0x80 ? 0 : prm[1] & 0x7f;
        buf l;
        int r;

        /* helpers */
        buf_init(&l, 1 << 16);
        r = paginate_link_next(link, &l);
        REQUIRE(r == 0 || r == 1);
        REQUIRE(r == 1 || l.len == 0);
        if (r == 1)
            check_resolve(base, buf_str(&l));
        buf_release(&l);
        if (ref) {
            check_resolve(base, ref);
            check_resolve(ref, "../x/./y?z");
        }
        if (tmpl) {
            check_expand(tmpl, ref, 0, limit);
            check_expand(tmpl, NULL, 0, limit);
            check_expand(tmpl, "12", 1, limit);
            check_expand(tmpl, ref, 1, limit);
        }

        /* every strategy */
        doc = json_doc_new();
        REQUIRE(doc != NULL);
        body = v[0] ? json_parse(doc, v[0], vlen[0], NULL, &e) : NULL;
        page_request_init(&rq);
        for (size_t k = 0; k < sizeof all / sizeof *all; k++) {
            paginate_cfg cfg;
            page_step st;
            page_response rs;
            const char *pos = prm[0] & 0x40 ? NULL : ref;
            int req_ok;
            memset(&cfg, 0, sizeof cfg);
            cfg.ops = all[k];
            cfg.records = (char *)(prm[0] & 1 ? "$" : "$.data");
            cfg.next = (char *)"$.next";
            cfg.param = (char *)"p";
            cfg.in = prm[0] & 2 ? PAGE_IN_BODY : PAGE_IN_QUERY;
            cfg.token_alone = (prm[0] & 4) != 0;
            cfg.limit_param = (char *)"limit";
            cfg.limit = limit;
            cfg.limit_header = (char *)(prm[0] & 8 ? "X-Limit" : NULL);
            cfg.has_more = (char *)(prm[0] & 16 ? "$.more" : NULL);
            cfg.more_when = (prm[0] & 32) != 0;
            cfg.total = (char *)"$.total";
            cfg.start = prm[0] & 0x80 ? 1 : 0;
            cfg.max_offset = prm[1] & 0x40 ? 50 : 0;
            cfg.id_field = (char *)"$.id";
            cfg.body = tmpl && *tmpl ? (char *)tmpl : NULL;
            (void)cfg.ops->check(&cfg, &e);
            check_request(&cfg, pos, &rq, 0);
            req_ok = cfg.ops->request(&cfg, pos, &rq, &e) == CUST_OK;
            if (!body)
                continue;
            rs.body = body;
            rs.link = link;
            rs.url = base;
            memset(&st, 0x5a, sizeof st);
            if (cfg.ops->parse(&cfg, pos, &rs, &st, &e) == CUST_OK) {
                REQUIRE(st.records && st.records->type == JSON_ARRAY);
                REQUIRE(st.done == (st.next == NULL));
                if (st.next) {
                    REQUIRE(*st.next);
                    REQUIRE(st.resume && strcmp(st.resume, st.next) == 0);
                    REQUIRE(!pos || strcmp(st.next, pos) != 0);
                    if (cfg.ops == &pager_next_url || cfg.ops == &pager_link)
                        REQUIRE(is_http_url(st.next));
                    /* the position a page hands over makes a request wherever this
                     * one did (last_id excepted: an id may turn from a string into a
                     * number in a body; a first cursor page fills a template with null) */
                    check_request(&cfg, st.next, &rq,
                                  req_ok && cfg.ops != &pager_last_id && (cfg.ops != &pager_cursor || (pos && *pos)));
                } else {
                    REQUIRE(!st.resume || (pos && strcmp(st.resume, pos) == 0));
                }
            } else {
                REQUIRE(st.next == NULL && st.resume == NULL);
                REQUIRE(e.msg[0] != '\0');
            }
            page_step_release(&st);
        }
        page_request_release(&rq);
        json_doc_free(doc);
    }
    free(text);
    return 0;
}
