/* http.c - libcurl easy handle reused across requests (keeps connections). */
#include "http.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct http_client {
    CURL *curl;
    http_drive_fn drive;
    void *drive_ud;
    char errbuf[CURL_ERROR_SIZE];
};

void http_client_set_driver(http_client *c, http_drive_fn drive, void *ud)
{
    c->drive = drive;
    c->drive_ud = ud;
}

struct sink {
    http_response *resp;
    size_t max;
    int over;
};

http_client *http_client_new(struct err *e)
{
    static int global_done;
    http_client *c;
    if (!global_done) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            err_set(e, CUST_EHTTP, "libcurl failed to initialise");
            return NULL;
        }
        global_done = 1;
    }
    c = calloc(1, sizeof *c);
    if (!c || !(c->curl = curl_easy_init())) {
        free(c);
        err_set(e, CUST_ENOMEM, "cannot create an HTTP handle");
        return NULL;
    }
    return c;
}

void http_client_free(http_client *c)
{
    if (!c)
        return;
    curl_easy_cleanup(c->curl);
    free(c);
}

void http_response_init(http_response *r)
{
    memset(r, 0, sizeof *r);
    buf_init(&r->body, 64u << 20);
}

static void clear_fields(http_response *r)
{
    free(r->content_type);
    r->content_type = NULL;
    for (int i = 0; i < HTTP_H_COUNT; i++) {
        free(r->h[i]);
        r->h[i] = NULL;
    }
}

void http_response_release(http_response *r)
{
    buf_release(&r->body);
    clear_fields(r);
}

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
    struct sink *s = ud;
    size_t len = size * n;
    if (s->resp->body.len + len > s->max || buf_add(&s->resp->body, data, len)) {
        s->over = 1;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    return len;
}

static char *header_value(const char *line, size_t len, const char *name)
{
    size_t nl = strlen(name);
    if (len <= nl + 1 || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
        return NULL;
    line += nl + 1;
    len -= nl + 1;
    while (len && (*line == ' ' || *line == '\t')) {
        line++;
        len--;
    }
    while (len && (line[len - 1] == '\r' || line[len - 1] == '\n' || line[len - 1] == ' '))
        len--;
    if (len > 8192)
        len = 8192; /* every header value custody keeps is short; bound it */
    return strndup(line, len);
}

static const char *const wanted[HTTP_H_COUNT] = {
    [HTTP_H_RETRY_AFTER] = "Retry-After",
    [HTTP_H_ETAG] = "ETag",
    [HTTP_H_LAST_MODIFIED] = "Last-Modified",
    [HTTP_H_XRL_REMAINING] = "X-RateLimit-Remaining",
    [HTTP_H_XRL_RESET] = "X-RateLimit-Reset",
    [HTTP_H_RATELIMIT] = "RateLimit",
    [HTTP_H_RATELIMIT_POLICY] = "RateLimit-Policy",
    [HTTP_H_LINK] = "Link",
};

static size_t on_header(char *data, size_t size, size_t n, void *ud)
{
    http_response *r = ud;
    size_t len = size * n;
    /* A new status line (redirect, 100-continue) starts a new header set. */
    if (len > 5 && strncmp(data, "HTTP/", 5) == 0) {
        for (int i = 0; i < HTTP_H_COUNT; i++) {
            free(r->h[i]);
            r->h[i] = NULL;
        }
        return len;
    }
    for (int i = 0; i < HTTP_H_COUNT; i++) {
        char *v = header_value(data, len, wanted[i]);
        if (v) {
            free(r->h[i]);
            r->h[i] = v;
            break;
        }
    }
    return len;
}

void http_url_for_log(const char *url, char *out, size_t n)
{
    size_t q = strcspn(url, "?#");
    snprintf(out, n, "%.*s%s", (int)q, url, url[q] ? "?…" : "");
}

cust_code http_perform(http_client *c, const http_request *req, http_response *resp, struct err *e)
{
    struct curl_slist *hdrs = NULL, *tmp;
    struct sink s = {resp, req->max_body ? req->max_body : (64u << 20), 0};
    const char *method = req->method ? req->method : "GET";
    int post = strcmp(method, "POST") == 0;
    char where[512];
    const char *ct = NULL;
    curl_off_t wire = 0;
    CURLcode rc;
    cust_code out = CUST_OK;

    http_url_for_log(req->url, where, sizeof where);
    buf_reset(&resp->body);
    clear_fields(resp);
    resp->status = 0;
    resp->seconds = 0;
    resp->http_version = 0;
    resp->wire_bytes = 0;
    if (!(tmp = curl_slist_append(hdrs, "Accept: application/json")))
        return err_set(e, CUST_ENOMEM, "out of memory");
    hdrs = tmp;
    if (post) {
        int typed = 0;
        for (const char *const *h = req->headers; h && *h; h++)
            typed |= strncasecmp(*h, "Content-Type:", 13) == 0;
        if (!typed && !(tmp = curl_slist_append(hdrs, "Content-Type: application/json"))) {
            curl_slist_free_all(hdrs);
            return err_set(e, CUST_ENOMEM, "out of memory");
        }
        if (!typed)
            hdrs = tmp;
    }
    for (const char *const *h = req->headers; h && *h; h++) {
        if (!(tmp = curl_slist_append(hdrs, *h))) {
            curl_slist_free_all(hdrs);
            return err_set(e, CUST_ENOMEM, "out of memory");
        }
        hdrs = tmp;
    }
    /* reset keeps the connection cache, so keep-alive connections (and
     * TLS sessions) carry over to the next request on this client */
    curl_easy_reset(c->curl);
    c->errbuf[0] = '\0';
    curl_easy_setopt(c->curl, CURLOPT_URL, req->url);
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "custody/" CUSTODY_VERSION "");
    curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, req->connect_timeout_ms);
    curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, req->total_timeout_ms);
    if (req->low_speed_seconds > 0) {
        curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_LIMIT, req->low_speed_bytes > 0 ? req->low_speed_bytes : 1L);
        curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_TIME, req->low_speed_seconds);
    }
    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->curl, CURLOPT_ACCEPT_ENCODING, ""); /* every encoding libcurl decodes */
    curl_easy_setopt(c->curl, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(c->curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYPEER, req->tls.insecure ? 0L : 1L);
    curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYHOST, req->tls.insecure ? 0L : 2L);
    if (req->tls.ca_file)
        curl_easy_setopt(c->curl, CURLOPT_CAINFO, req->tls.ca_file);
    if (req->tls.client_cert)
        curl_easy_setopt(c->curl, CURLOPT_SSLCERT, req->tls.client_cert);
    if (req->tls.client_key)
        curl_easy_setopt(c->curl, CURLOPT_SSLKEY, req->tls.client_key);
    if (req->proxy)
        curl_easy_setopt(c->curl, CURLOPT_PROXY, req->proxy);
    if (post) {
        curl_easy_setopt(c->curl, CURLOPT_POST, 1L);
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(req->body ? req->body_len : 0));
    }
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, resp);
    curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, c->errbuf);
    rc = c->drive ? (CURLcode)c->drive(c->drive_ud, c->curl) : curl_easy_perform(c->curl);
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &resp->status);
    curl_easy_getinfo(c->curl, CURLINFO_TOTAL_TIME, &resp->seconds);
    curl_easy_getinfo(c->curl, CURLINFO_HTTP_VERSION, &resp->http_version);
    if (curl_easy_getinfo(c->curl, CURLINFO_SIZE_DOWNLOAD_T, &wire) == CURLE_OK && wire > 0)
        resp->wire_bytes = (size_t)wire;
    switch (resp->http_version) {
    case CURL_HTTP_VERSION_1_0: resp->http_version = 10; break;
    case CURL_HTTP_VERSION_1_1: resp->http_version = 11; break;
    case CURL_HTTP_VERSION_2_0: resp->http_version = 20; break;
    case CURL_HTTP_VERSION_3: resp->http_version = 30; break;
    default: resp->http_version = 0; break;
    }
    if (curl_easy_getinfo(c->curl, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
        resp->content_type = strdup(ct);
    if (rc != CURLE_OK) {
        if (s.over)
            out = err_setc(e, CUST_ELIMIT, rc,
                           "%s %s: response body exceeds the %zu-byte cap (request.max_body); "
                           "ask for smaller pages or raise the cap",
                           method, where, s.max);
        else if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE ||
                 rc == CURLE_SSL_CERTPROBLEM || rc == CURLE_SSL_CONNECT_ERROR)
            out = err_setc(e, CUST_EHTTP, rc,
                           "%s %s: TLS failed: %s (set request.tls.ca_file to the server's CA bundle, or "
                           "check the client certificate)",
                           method, where, c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc));
        else
            out = err_setc(e, CUST_EHTTP, rc, "%s %s: %s", method, where,
                           c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc));
        resp->status = 0; /* a cut-off response is no response */
    }
    curl_slist_free_all(hdrs);
    return out;
}
