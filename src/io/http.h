/* http.h - the HTTP client edge (libcurl): one GET with headers, time
 * limits and a body cap, returning status, selected headers and the body.
 * No policy here (retries, rate limits, breaker live in core/policy). */
#ifndef CUSTODY_HTTP_H
#define CUSTODY_HTTP_H

#include <stddef.h>
#include "core/buf.h"
#include "core/err.h"

typedef struct http_client http_client;

typedef struct http_tls {
    int insecure;               /* skip certificate and host verification (audited loudly) */
    const char *ca_file;        /* PEM bundle replacing the system CAs; NULL: system */
    const char *client_cert;    /* PEM client certificate for mTLS; NULL: none */
    const char *client_key;     /* its PEM private key */
} http_tls;

typedef struct http_request {
    const char *method;         /* "GET" (NULL) or "POST" */
    const char *url;
    const char *const *headers; /* "Name: value" lines, NULL-terminated; may be NULL */
    const char *body;           /* POST body (may be NULL) */
    size_t body_len;
    long connect_timeout_ms;
    long total_timeout_ms;
    long low_speed_bytes;       /* abort when slower than this many bytes/s ... */
    long low_speed_seconds;     /* ... for this long; 0: no low-speed limit */
    size_t max_body;            /* decoded bytes; more fails with CUST_ELIMIT */
    const char *proxy;          /* proxy URL; NULL: libcurl's environment rules */
    http_tls tls;
} http_request;

/* Response header fields custody acts on. */
enum {
    HTTP_H_RETRY_AFTER,
    HTTP_H_ETAG,
    HTTP_H_LAST_MODIFIED,
    HTTP_H_XRL_REMAINING,       /* X-RateLimit-Remaining */
    HTTP_H_XRL_RESET,           /* X-RateLimit-Reset */
    HTTP_H_RATELIMIT,           /* RateLimit */
    HTTP_H_RATELIMIT_POLICY,    /* RateLimit-Policy */
    HTTP_H_LINK,                /* Link (RFC 8288) */
    HTTP_H_COUNT
};

typedef struct http_response {
    long status;                /* 0 when no response arrived */
    buf body;                   /* owned; released by http_response_release */
    char *content_type;         /* owned, may be NULL */
    char *h[HTTP_H_COUNT];      /* owned header values, NULL when absent */
    double seconds;             /* total time */
    long http_version;          /* 10, 11, 20, 30; 0 unknown */
    size_t wire_bytes;          /* body bytes as sent (before decompression) */
} http_response;

/* Returns NULL (and fills e) when libcurl cannot initialise. */
http_client *http_client_new(struct err *e);
void http_client_free(http_client *c); /* NULL is a no-op */

/* An event loop that runs transfers for this client (the daemon's libcurl
 * multi handle): drive(ud, easy) adds the CURL easy handle to its multi
 * handle, suspends the calling task until the transfer is done, removes
 * it and returns its CURLcode. NULL: curl_easy_perform, blocking. */
typedef int (*http_drive_fn)(void *ud, void *easy);
void http_client_set_driver(http_client *c, http_drive_fn drive, void *ud);

void http_response_init(http_response *r);
void http_response_release(http_response *r);

/* Perform one request (GET, or POST with body). Transport failures (DNS,
 * connect, TLS, timeouts, reset, body cap) return CUST_EHTTP / CUST_ELIMIT
 * with e naming the URL (query string removed: it may carry credentials)
 * and libcurl's message (e->cause: the CURLcode); any HTTP status is a
 * success here, the caller judges it. resp must be initialised; it is
 * reset first. Connections are reused across calls on one client. */
cust_code http_perform(http_client *c, const http_request *req, http_response *resp, struct err *e) CUST_WUR;
/* Kept for callers that only GET. */
#define http_get http_perform

/* url without its query string, for messages: writes into out (cap n). */
void http_url_for_log(const char *url, char *out, size_t n);

#endif
