/* http.c - libcurl easy handle reused across requests (keeps connections). */
#include "http.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct http_client {
    CURL *curl;
    char errbuf[CURL_ERROR_SIZE];
};

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

void http_response_release(http_response *r)
{
    buf_release(&r->body);
    free(r->content_type);
    free(r->retry_after);
    r->content_type = NULL;
    r->retry_after = NULL;
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
    return strndup(line, len);
}

static size_t on_header(char *data, size_t size, size_t n, void *ud)
{
    http_response *r = ud;
    size_t len = size * n;
    char *v;
    /* A new status line (redirect, 100-continue) starts a new header set. */
    if (len > 5 && strncmp(data, "HTTP/", 5) == 0) {
        free(r->retry_after);
        r->retry_after = NULL;
    }
    if ((v = header_value(data, len, "Retry-After"))) {
        free(r->retry_after);
        r->retry_after = v;
    }
    return len;
}

void http_url_for_log(const char *url, char *out, size_t n)
{
    size_t q = strcspn(url, "?#");
    snprintf(out, n, "%.*s%s", (int)q, url, url[q] ? "?…" : "");
}

cust_code http_get(http_client *c, const http_request *req, http_response *resp, struct err *e)
{
    struct curl_slist *hdrs = NULL, *tmp;
    struct sink s = {resp, req->max_body ? req->max_body : (64u << 20), 0};
    char where[512];
    const char *ct = NULL;
    CURLcode rc;
    cust_code out = CUST_OK;

    http_url_for_log(req->url, where, sizeof where);
    buf_reset(&resp->body);
    resp->status = 0;
    if (!(tmp = curl_slist_append(hdrs, "Accept: application/json")))
        return err_set(e, CUST_ENOMEM, "out of memory");
    hdrs = tmp;
    for (const char *const *h = req->headers; h && *h; h++) {
        if (!(tmp = curl_slist_append(hdrs, *h))) {
            curl_slist_free_all(hdrs);
            return err_set(e, CUST_ENOMEM, "out of memory");
        }
        hdrs = tmp;
    }
    curl_easy_reset(c->curl);
    c->errbuf[0] = '\0';
    curl_easy_setopt(c->curl, CURLOPT_URL, req->url);
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "custody/" CUSTODY_VERSION);
    curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, req->connect_timeout_ms);
    curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, req->total_timeout_ms);
    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->curl, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(c->curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, resp);
    curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, c->errbuf);
    rc = curl_easy_perform(c->curl);
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &resp->status);
    curl_easy_getinfo(c->curl, CURLINFO_TOTAL_TIME, &resp->seconds);
    if (curl_easy_getinfo(c->curl, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
        resp->content_type = strdup(ct);
    if (rc != CURLE_OK) {
        if (s.over)
            out = err_setc(e, CUST_ELIMIT, rc,
                           "GET %s: response body exceeds the %zu-byte cap (request.max_body); "
                           "ask for smaller pages or raise the cap",
                           where, s.max);
        else
            out = err_setc(e, CUST_EHTTP, rc, "GET %s: %s", where,
                           c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc));
    }
    curl_slist_free_all(hdrs);
    return out;
}
