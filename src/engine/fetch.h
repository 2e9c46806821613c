/* fetch.h - one page from upstream, politely: the client-side rate limit,
 * credentials (with OAuth2 renewal), retries by core/policy with
 * Retry-After and rate-limit headers honoured, fallback endpoints, and a
 * JSON body or a 304. Every request leaves an evidence entry for the audit
 * log. The poll engine decides what a page means; this decides how to get
 * it. */
#ifndef CUSTODY_FETCH_H
#define CUSTODY_FETCH_H

#include <stdint.h>
#include "config.h"
#include "core/json.h"
#include "core/policy.h"
#include "io/auth.h"
#include "io/http.h"

/* Named request budgets shared by the sources of one process. */
typedef struct rate_pools rate_pools;
rate_pools *rate_pools_new(void);
void rate_pools_free(rate_pools *p); /* NULL is a no-op */

/* Clock and sleep, injectable for tests. */
typedef struct fetch_clock {
    int64_t (*now_ms)(void *ud);       /* Unix time in ms */
    void (*sleep_ms)(void *ud, int64_t ms);
    void *ud;
    /* A stop request (the daemon's SIGTERM): a wait is cut short and the
     * page fails instead of trying again. NULL: never. */
    const volatile int *stop;
} fetch_clock;
extern const fetch_clock fetch_clock_real;

/* One request's evidence, as a canonical JSON object for an audit detail. */
typedef struct fetch_evidence {
    char *action;   /* "http.request" or "auth.token" */
    char *subject;  /* the URL, secrets redacted */
    char *detail;   /* JSON object, keys sorted */
} fetch_evidence;

typedef struct fetcher {
    const source_cfg *src;
    http_client *http;
    auth_session *auth;
    token_bucket own;
    token_bucket *bucket;   /* &own, a pool's bucket, or NULL: unlimited */
    fetch_clock clock;
    uint64_t rng;
    int endpoint;           /* 0: request.url; i > 0: request.fallback[i-1] */
    int primary_failed;     /* the primary gave up (retries exhausted, fatal) this cycle */
    int64_t not_before_ms;  /* an upstream wait longer than max_wait: do not call before */
    fetch_evidence *ev;     /* pending evidence, oldest first */
    size_t nev, capev;
} fetcher;

/* Set up for one cycle of src. secret may be NULL (auth none). pools may
 * be NULL when src has no pool. CUST_ENOMEM on failure. */
cust_code fetcher_init(fetcher *f, const source_cfg *src, http_client *http, const char *secret,
                       rate_pools *pools, const fetch_clock *clock, struct err *e) CUST_WUR;
void fetcher_release(fetcher *f);

/* Skip the primary endpoint for this cycle (its breaker is open). Returns 0
 * when there is no fallback to use instead. */
int fetcher_skip_primary(fetcher *f);

/* What a page request carries beyond the URL. */
typedef struct fetch_page_req {
    const char *url;            /* absolute URL replacing the endpoint's (next URL, Link); NULL: none */
    const char *query;          /* pagination parameters, encoded, no '?' */
    const char *body;           /* POST body replacing request.body; NULL: request.body */
    size_t body_len;
    const char *headers;        /* extra header lines, each ended by '\n'; NULL: none */
    const char *if_none_match;  /* conditional request, or NULL */
    const char *if_modified_since;
} fetch_page_req;

/* Fetch one page. On success resp holds the response (status 200, or 304
 * with *body NULL) and *body the parsed JSON (owned by doc, which is reset
 * first). On failure (retries and fallbacks exhausted, a fatal status, a
 * body that never parsed) returns CUST_EHTTP / CUST_EUPSTREAM / CUST_EJSON /
 * CUST_ELIMIT with e naming the endpoint, what happened and how often.
 * fetched_url (may be NULL) receives the URL of the successful request,
 * secrets excluded, for resolving relative next URLs.
 * Evidence accumulates in f->ev either way; take it with fetcher_take_evidence. */
cust_code fetch_page(fetcher *f, const fetch_page_req *rq, http_response *resp, json_doc *doc,
                     json_value **body, buf *fetched_url, struct err *e) CUST_WUR;

/* The URL the endpoint in use was given, for messages and audit. */
const char *fetcher_endpoint_url(const fetcher *f);

/* Hand over pending evidence: the caller frees each entry's strings and the
 * array (fetch_evidence_free). */
void fetcher_take_evidence(fetcher *f, fetch_evidence **ev, size_t *n);
void fetch_evidence_free(fetch_evidence *ev, size_t n);

#endif
