/* fetch.c - one page, politely; see fetch.h. The decisions (retry or not,
 * how long to wait, rate budgets) are core/policy's; this file only
 * carries them out: it sleeps, sends, and writes down what happened. */
#include "fetch.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/jcs.h"

/* ---- clock ---------------------------------------------------------------- */

static int64_t real_now(void *ud)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void real_sleep(void *ud, int64_t ms)
{
    struct timespec ts;
    if (ms <= 0)
        return;
    ts.tv_sec = (time_t)(ms / 1000);
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

const fetch_clock fetch_clock_real = {real_now, real_sleep, NULL, NULL};

/* A shutdown was requested: no further attempts (the last failure stands). */
static int stopping(const fetcher *f)
{
    return f->clock.stop && *f->clock.stop;
}

/* ---- pools ---------------------------------------------------------------- */

struct rate_pools {
    struct pool_entry {
        char *name;
        token_bucket b;
    } *v;
    size_t n;
};

rate_pools *rate_pools_new(void)
{
    return calloc(1, sizeof(rate_pools));
}

void rate_pools_free(rate_pools *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        free(p->v[i].name);
    free(p->v);
    free(p);
}

static token_bucket *pool_bucket(rate_pools *p, const pool_cfg *pc, int64_t now)
{
    struct pool_entry *nv;
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->v[i].name, pc->name) == 0)
            return &p->v[i].b;
    if (!(nv = realloc(p->v, (p->n + 1) * sizeof *nv)))
        return NULL;
    p->v = nv;
    if (!(nv[p->n].name = strdup(pc->name)))
        return NULL;
    bucket_init(&nv[p->n].b, pc->requests * 1000.0 / (double)pc->per_ms,
                pc->burst > 0 ? (double)pc->burst : (pc->requests < 1 ? 1 : pc->requests), now);
    return &p->v[p->n++].b;
}

/* ---- evidence -------------------------------------------------------------- */

static cust_code add_evidence(fetcher *f, const char *action, const char *subject, buf *detail)
{
    fetch_evidence *ev;
    if (f->nev == f->capev) {
        size_t cap = f->capev ? f->capev * 2 : 8;
        if (!(ev = realloc(f->ev, cap * sizeof *ev)))
            return CUST_ENOMEM;
        f->ev = ev;
        f->capev = cap;
    }
    ev = &f->ev[f->nev];
    ev->action = strdup(action);
    ev->subject = strdup(subject);
    ev->detail = strndup(detail->ptr ? detail->ptr : "{}", detail->len);
    if (!ev->action || !ev->subject || !ev->detail) {
        free(ev->action);
        free(ev->subject);
        free(ev->detail);
        return CUST_ENOMEM;
    }
    f->nev++;
    return CUST_OK;
}

void fetch_evidence_free(fetch_evidence *ev, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(ev[i].action);
        free(ev[i].subject);
        free(ev[i].detail);
    }
    free(ev);
}

void fetcher_take_evidence(fetcher *f, fetch_evidence **ev, size_t *n)
{
    *ev = f->ev;
    *n = f->nev;
    f->ev = NULL;
    f->nev = f->capev = 0;
}

/* ---- fetcher --------------------------------------------------------------- */

cust_code fetcher_init(fetcher *f, const source_cfg *src, http_client *http, const char *secret,
                       rate_pools *pools, const fetch_clock *clock, struct err *e)
{
    int64_t now;
    memset(f, 0, sizeof *f);
    f->src = src;
    f->http = http;
    f->clock = clock ? *clock : fetch_clock_real;
    now = f->clock.now_ms(f->clock.ud);
    if (RAND_bytes((unsigned char *)&f->rng, sizeof f->rng) != 1 || !f->rng)
        f->rng = (uint64_t)now * 0x9E3779B97F4A7C15ull | 1;
    if (!(f->auth = auth_session_new(&src->auth, secret)))
        return err_set(e, CUST_ENOMEM, "out of memory");
    if (src->pool) {
        if (!pools || !(f->bucket = pool_bucket(pools, src->pool, now)))
            return err_set(e, CUST_ENOMEM, "out of memory");
    } else if (src->rate.requests > 0) {
        bucket_init(&f->own, src->rate.requests * 1000.0 / (double)src->rate.per_ms,
                    src->rate.burst > 0 ? (double)src->rate.burst
                                        : (src->rate.requests < 1 ? 1 : src->rate.requests),
                    now);
        f->bucket = &f->own;
    } else {
        /* no client-side limit, but a 200 that says the quota is spent
         * (X-RateLimit-Remaining: 0) must still hold the next request */
        bucket_init(&f->own, 0, 1, now);
        f->bucket = &f->own;
    }
    return CUST_OK;
}

void fetcher_release(fetcher *f)
{
    auth_session_free(f->auth);
    fetch_evidence_free(f->ev, f->nev);
    memset(f, 0, sizeof *f);
}

int fetcher_skip_primary(fetcher *f)
{
    if (!f->src->nfallbacks)
        return 0;
    if (f->endpoint == 0)
        f->endpoint = 1;
    return 1;
}

const char *fetcher_endpoint_url(const fetcher *f)
{
    return f->endpoint == 0 ? f->src->url : f->src->fallbacks[f->endpoint - 1];
}

static int is_upstream_code(cust_code rc)
{
    return rc == CUST_EHTTP || rc == CUST_EUPSTREAM || rc == CUST_EJSON || rc == CUST_ELIMIT;
}

/* The detail of one http.request entry; keys in JCS order. */
static cust_code request_detail(buf *d, int attempt, const http_response *resp, int endpoint, const char *error,
                                const char *method, const retry_decision *next, const char *sha_hex)
{
    buf_reset(d);
    if (buf_addf(d, "{\"attempt\":%d,\"bytes\":%zu,\"content_type\":", attempt, resp->body.len) ||
        (resp->content_type ? json_write_string(d, resp->content_type, strlen(resp->content_type))
                            : buf_adds(d, "null")) ||
        buf_addf(d, ",\"duration_ms\":%lld,\"endpoint\":%d,", (long long)(resp->seconds * 1000.0 + 0.5), endpoint))
        return CUST_ENOMEM;
    if (error && (buf_adds(d, "\"error\":") || json_write_string(d, error, strlen(error)) || buf_addc(d, ',')))
        return CUST_ENOMEM;
    if (buf_addf(d, "\"http_version\":%ld,\"method\":\"%s\",", resp->http_version, method))
        return CUST_ENOMEM;
    if (next && (buf_addf(d, "\"retry\":{\"delay_ms\":%lld,\"verdict\":\"%s\",\"why\":", (long long)next->delay_ms,
                          next->verdict == RETRY_AGAIN ? "again" : next->verdict == RETRY_GIVE_UP ? "give_up" : "fatal") ||
                 json_write_string(d, next->why ? next->why : "", next->why ? strlen(next->why) : 0) ||
                 buf_adds(d, "},")))
        return CUST_ENOMEM;
    if (buf_adds(d, "\"sha256\":") || (sha_hex ? buf_addf(d, "\"%s\"", sha_hex) : buf_adds(d, "null")) ||
        buf_addf(d, ",\"status\":%ld}", resp->status))
        return CUST_ENOMEM;
    return CUST_OK;
}

/* The source's transport settings (timeouts, proxy, TLS) as a request
 * template, shared by page requests and OAuth2 token requests. */
static http_request transport_of(const source_cfg *src)
{
    http_request r = {0};
    r.connect_timeout_ms = src->connect_timeout_ms;
    r.total_timeout_ms = src->total_timeout_ms;
    r.low_speed_bytes = src->low_speed_bytes;
    r.low_speed_seconds = (src->low_speed_ms + 999) / 1000;
    r.proxy = src->proxy;
    r.tls = (http_tls){src->tls.insecure, src->tls.ca_file, src->tls.client_cert, src->tls.client_key};
    return r;
}

static int has_html(const char *ct)
{
    for (; *ct; ct++)
        if (strncasecmp(ct, "html", 4) == 0)
            return 1;
    return 0;
}

static const char *verdict_text(const retry_decision *d)
{
    return d->why ? d->why : "";
}

cust_code fetch_page(fetcher *f, const fetch_page_req *rq, http_response *resp, json_doc *doc, json_value **body,
                     buf *fetched_url, struct err *e)
{
    const source_cfg *src = f->src;
    const char *method = src->method && strcmp(src->method, "POST") == 0 ? "POST" : "GET";
    buf url, logurl, authh, authq, detail;
    const char *headers[64];
    char last[1024] = "";
    cust_code rc = CUST_OK, last_code = CUST_EUPSTREAM;

    *body = NULL;
    buf_init(&url, 64 * 1024);
    buf_init(&logurl, 64 * 1024);
    buf_init(&authh, 64 * 1024);
    buf_init(&authq, 64 * 1024);
    buf_init(&detail, 64 * 1024);

    for (; f->endpoint <= (int)src->nfallbacks; f->endpoint++) {
        const char *base = rq->url ? rq->url : fetcher_endpoint_url(f);
        int oauth_retried = 0;
        for (int attempt = 1;; attempt++) {
            http_outcome o;
            retry_decision d;
            struct err te = {0}, ae = {0};
            auth_apply_out ao;
            char sha_hex[65];
            int64_t now, wait;
            int nh = 0;
            buf lines;
            cust_code prc;
            char sep;

            /* politeness first: the shared budget, then the request */
            now = f->clock.now_ms(f->clock.ud);
            if (f->bucket && (wait = bucket_take(f->bucket, now)) > 0)
                f->clock.sleep_ms(f->clock.ud, wait);
            now = f->clock.now_ms(f->clock.ud);

            buf_reset(&authh);
            buf_reset(&authq);
            {
                http_request tmpl = transport_of(src);
                prc = auth_apply(f->auth, f->http, &tmpl, now, &authh, &authq, &ao, &ae);
            }
            if (ao.token_fetched) {
                buf_reset(&detail);
                if (buf_addf(&detail, "{\"duration_ms\":%lld,\"status\":%ld}",
                             (long long)(ao.token_seconds * 1000.0 + 0.5), ao.token_status) ||
                    add_evidence(f, "auth.token", src->auth.token_url, &detail)) {
                    rc = err_set(e, CUST_ENOMEM, "out of memory");
                    goto out;
                }
            }
            if (prc) {
                /* a token endpoint that fails is this attempt's failure */
                snprintf(last, sizeof last, "%s", ae.msg);
                last_code = prc == CUST_ECONFIG || prc == CUST_ENOMEM ? prc : CUST_EUPSTREAM;
                if (prc == CUST_ECONFIG || prc == CUST_ENOMEM) {
                    rc = err_set(e, prc, "%s", ae.msg);
                    goto out;
                }
                memset(&o, 0, sizeof o);
                o.transport_error = 1;
                d = retry_decide(&src->retry_policy, attempt, &o, now, &f->rng);
                if (d.verdict == RETRY_AGAIN && !stopping(f)) {
                    f->clock.sleep_ms(f->clock.ud, d.delay_ms);
                    if (!stopping(f))
                        continue;
                }
                break;
            }

            sep = strchr(base, '?') ? '&' : '?';
            buf_reset(&url);
            buf_reset(&logurl);
            if (buf_adds(&url, base) || buf_adds(&logurl, base) ||
                ((rq->query && *rq->query) &&
                 (buf_addc(&url, sep) || buf_adds(&url, rq->query) || buf_addc(&logurl, sep) ||
                  buf_adds(&logurl, rq->query))) ||
                (authq.len && (buf_addc(&url, (rq->query && *rq->query) ? '&' : sep) || buf_add(&url, authq.ptr, authq.len) ||
                               buf_addc(&logurl, (rq->query && *rq->query) ? '&' : sep) || buf_adds(&logurl, src->auth.param) ||
                               buf_adds(&logurl, "=REDACTED")))) {
                rc = err_set(e, CUST_ENOMEM, "URL too long");
                goto out;
            }

            /* header lines: configured, credential, conditional */
            buf_init(&lines, 256 * 1024);
            {
                size_t offs[64];
                int nl = 0, bad = 0;
                for (size_t i = 0; i < src->nheaders && nl < 60; i++) {
                    offs[nl++] = lines.len;
                    bad |= buf_adds(&lines, src->header_names[i]) || buf_adds(&lines, ": ") ||
                           buf_adds(&lines, src->header_values[i]) || buf_addc(&lines, '\0');
                }
                for (const char *h = rq->headers; h && *h && nl < 60;) {
                    const char *eol = strchr(h, '\n');
                    size_t hl = eol ? (size_t)(eol - h) : strlen(h);
                    offs[nl++] = lines.len;
                    bad |= buf_add(&lines, h, hl) || buf_addc(&lines, '\0');
                    h += hl + (eol ? 1 : 0);
                }
                if (authh.len) {
                    offs[nl++] = lines.len;
                    bad |= buf_add(&lines, authh.ptr, authh.len) || buf_addc(&lines, '\0');
                }
                if (rq->if_none_match) {
                    offs[nl++] = lines.len;
                    bad |= buf_adds(&lines, "If-None-Match: ") || buf_adds(&lines, rq->if_none_match) ||
                           buf_addc(&lines, '\0');
                }
                if (rq->if_modified_since) {
                    offs[nl++] = lines.len;
                    bad |= buf_adds(&lines, "If-Modified-Since: ") || buf_adds(&lines, rq->if_modified_since) ||
                           buf_addc(&lines, '\0');
                }
                if (bad) {
                    auth_wipe(&lines);
                    rc = err_set(e, CUST_ENOMEM, "request headers too long");
                    goto out;
                }
                for (int i = 0; i < nl; i++)
                    headers[nh++] = lines.ptr + offs[i];
                headers[nh] = NULL;
            }

            {
                http_request hr = transport_of(src);
                hr.method = method;
                hr.url = url.ptr;
                hr.headers = headers;
                hr.body = rq->body ? rq->body : src->body;
                hr.body_len = rq->body ? rq->body_len : src->body ? strlen(src->body) : 0;
                hr.max_body = (size_t)src->max_body_bytes;
                prc = http_perform(f->http, &hr, resp, &te);
            }
            auth_wipe(&lines);
            /* the secret may sit in the URL (api_key param): wipe it */
            if (authq.len && url.ptr)
                OPENSSL_cleanse(url.ptr, url.len);
            now = f->clock.now_ms(f->clock.ud);

            memset(&o, 0, sizeof o);
            o.is_post = strcmp(method, "POST") == 0;
            o.status = resp->status;
            o.retry_after = resp->h[HTTP_H_RETRY_AFTER];
            o.ratelimit_remaining = resp->h[HTTP_H_XRL_REMAINING];
            o.ratelimit_reset = resp->h[HTTP_H_XRL_RESET];
            o.ratelimit = resp->h[HTTP_H_RATELIMIT];
            o.ratelimit_policy = resp->h[HTTP_H_RATELIMIT_POLICY];
            sha_hex[0] = '\0';
            if (prc) {
                o.transport_error = prc != CUST_ELIMIT;
                snprintf(last, sizeof last, "%s", te.msg);
                last_code = prc;
            } else {
                jcs_sha256_hex(resp->body.ptr ? resp->body.ptr : "", resp->body.len, sha_hex);
            }

            /* a 200 whose body is not JSON is a failed attempt too: an HTML
             * maintenance page, a body cut short */
            if (!prc && resp->status == 200) {
                struct err pe = {0};
                json_doc_reset(doc);
                *body = json_parse(doc, resp->body.ptr ? resp->body.ptr : "", resp->body.len, NULL, &pe);
                if (!*body) {
                    int html = resp->content_type && has_html(resp->content_type);
                    snprintf(last, sizeof last, "%s %s: HTTP 200 but the body is not JSON (%s%s%s): %s", method,
                             logurl.ptr, resp->content_type ? "Content-Type " : "no Content-Type",
                             resp->content_type ? resp->content_type : "",
                             html ? ", likely a maintenance or login page" : "", pe.msg);
                    last_code = CUST_EJSON;
                    o.transport_error = 1; /* treated as a failed exchange, retried */
                    prc = CUST_EJSON;
                }
            }
            d = retry_decide(&src->retry_policy, attempt, &o, now, &f->rng);
            /* a spent quota holds back every later request on this budget */
            if ((wait = policy_ratelimit_wait_ms(&o, now)) > 0 && f->bucket)
                bucket_drain_until(f->bucket, now + wait);

            if (request_detail(&detail, attempt, resp, f->endpoint, prc ? last : NULL, method,
                               d.verdict == RETRY_DONE ? NULL : &d, sha_hex[0] ? sha_hex : NULL) ||
                add_evidence(f, "http.request", logurl.ptr, &detail)) {
                rc = err_set(e, CUST_ENOMEM, "out of memory");
                goto out;
            }

            if (!prc && resp->status == 401 && !oauth_retried && auth_invalidate(f->auth)) {
                /* an OAuth2 token revoked or expired early: renew once */
                oauth_retried = 1;
                attempt--;
                continue;
            }
            if (d.verdict == RETRY_DONE && !prc) {
                if (resp->status == 200 || resp->status == 304) {
                    if (resp->status == 304)
                        *body = NULL;
                    rc = CUST_OK;
                    if (fetched_url) {
                        buf_reset(fetched_url);
                        if (buf_add(fetched_url, logurl.ptr, logurl.len))
                            rc = err_set(e, CUST_ENOMEM, "URL too long");
                    }
                    goto out;
                }
                snprintf(last, sizeof last, "%s %s: HTTP %ld (expected 200)", method, logurl.ptr, resp->status);
                last_code = CUST_EUPSTREAM;
                break;
            }
            if (d.verdict == RETRY_AGAIN && !stopping(f)) {
                f->clock.sleep_ms(f->clock.ud, d.delay_ms);
                if (!stopping(f))
                    continue;
            }
            if (!prc)
                snprintf(last, sizeof last, "%s %s: HTTP %ld%s%s%s; %s", method, logurl.ptr, resp->status,
                         resp->status == 401 || resp->status == 403 ? " (credentials refused: check the secret in " : "",
                         resp->status == 401 || resp->status == 403
                             ? (src->auth.token_env ? src->auth.token_env
                                                    : src->auth.token_file ? src->auth.token_file : "(no auth configured)")
                             : "",
                         resp->status == 401 || resp->status == 403
                             ? (src->auth.token_env ? ", auth.token_env)" : src->auth.token_file ? ", auth.token_file)" : ")")
                             : "",
                         verdict_text(&d));
            else if (d.verdict == RETRY_GIVE_UP)
                snprintf(last + strlen(last), sizeof last - strlen(last), "; %s", verdict_text(&d));
            last_code = prc ? last_code : CUST_EUPSTREAM;
            if (d.verdict == RETRY_GIVE_UP && d.delay_ms > src->retry_policy.max_wait_ms) {
                /* the upstream asked for a longer pause than we sleep
                 * through: remember it, so no run calls before then */
                if (now + d.delay_ms > f->not_before_ms)
                    f->not_before_ms = now + d.delay_ms;
            }
            if (d.verdict == RETRY_FATAL && !prc && resp->status >= 400 && resp->status < 500 &&
                resp->status != 404) {
                /* credentials or request refused: a mirror would refuse too */
                if (f->endpoint == 0)
                    f->primary_failed = 1;
                goto fail;
            }
            break;
        }
        if (f->endpoint == 0)
            f->primary_failed = 1;
        *body = NULL;
    }
fail:
    if (f->endpoint > (int)src->nfallbacks)
        f->endpoint = (int)src->nfallbacks; /* stay on the last for the message */
    rc = err_set(e, is_upstream_code(last_code) ? last_code : CUST_EUPSTREAM, "%s%s", last,
                 src->nfallbacks ? " (every fallback endpoint failed too)" : "");
    *body = NULL;
out:
    buf_release(&url);
    buf_release(&logurl);
    auth_wipe(&authh);
    auth_wipe(&authq);
    buf_release(&detail);
    return rc;
}
