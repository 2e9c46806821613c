/* http.h - the HTTP client edge (libcurl): one GET with headers, time
 * limits and a body cap, returning status, selected headers and the body.
 * No policy here (retries, rate limits, breaker live in core/policy). */
#ifndef CUSTODY_HTTP_H
#define CUSTODY_HTTP_H

#include <stddef.h>
#include "core/buf.h"
#include "core/err.h"

typedef struct http_client http_client;

typedef struct http_request {
    const char *url;
    const char *const *headers; /* "Name: value" lines, NULL-terminated; may be NULL */
    long connect_timeout_ms;
    long total_timeout_ms;
    size_t max_body;            /* decoded bytes; more fails with CUST_ELIMIT */
} http_request;

typedef struct http_response {
    long status;
    buf body;                   /* owned; released by http_response_release */
    char *content_type;         /* owned, may be NULL */
    char *retry_after;          /* owned, may be NULL */
    double seconds;             /* total time */
} http_response;

/* Returns NULL (and fills e) when libcurl cannot initialise. */
http_client *http_client_new(struct err *e);
void http_client_free(http_client *c); /* NULL is a no-op */

void http_response_init(http_response *r);
void http_response_release(http_response *r);

/* Perform a GET. Transport failures (DNS, connect, TLS, timeout, body cap)
 * return CUST_EHTTP / CUST_ELIMIT with e naming the URL (query string
 * removed: it may carry credentials) and libcurl's message; any HTTP status
 * is a success here, the caller judges it. resp must be initialised. */
cust_code http_get(http_client *c, const http_request *req, http_response *resp, struct err *e) CUST_WUR;

/* url without its query string, for messages: writes into out (cap n). */
void http_url_for_log(const char *url, char *out, size_t n);

#endif
