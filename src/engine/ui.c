/* ui.c - the operator's status page and quarantine review (see ui.h): HTML
 * rendered here from the store and the daemon's live view, login sessions
 * in a small static table, resolve/replay through the store and replay_run.
 * No sockets and no files: serve.c owns those. Everything that came from
 * outside (payloads, errors, names, reasons, actors) is HTML-escaped. */
#include "ui.h"

#include <math.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "alert.h"
#include "core/json.h"
#include "core/sha256.h"
#include "core/timefmt.h"
#include "daemon.h"
#include "replay.h"

#define COOKIE_NAME "custody_session"
#define SESSION_TTL_MS (12LL * 3600 * 1000)
#define MAX_SESSIONS 32
#define LOGIN_FAIL_WINDOW_MS 60000
#define LOGIN_FAIL_MAX 10
#define MAX_ACTOR 128
#define MAX_REASON 2000
#define RAW_SHOWN_MAX (256u << 10)
#define VALUE_SHOWN_MAX 2000
#define LIST_MAX 500
#define AUDIT_RELATED 20
#define AUDIT_PAGE 100
#define SPARK_POINTS 60

static const char CSP[] = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
                          "frame-ancestors 'none'; base-uri 'none'";

/* ---------------------------------------------------------------- output */

typedef struct out {
    buf *b;
    int failed; /* an add failed (memory or the body's cap): the page becomes a 500 */
} out;

static void putn(out *o, const char *s, size_t n)
{
    if (!o->failed && n && buf_add(o->b, s, n))
        o->failed = 1;
}

static void put(out *o, const char *s)
{
    putn(o, s, strlen(s));
}

static void putf(out *o, const char *fmt, ...) CUST_PRINTF(2, 3);
static void putf(out *o, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    /* only ever used for numbers and fixed text: longer is a bug */
    if (n < 0 || (size_t)n >= sizeof tmp)
        o->failed = 1;
    else
        putn(o, tmp, (size_t)n);
}

/* HTML-escape for text and quoted attribute values alike. C0 controls other
 * than tab/newline/CR, DEL and NUL become U+FFFD: they are not allowed in
 * HTML text, and a hostile payload may carry them. */
static void esc(out *o, const char *s, size_t n)
{
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *rep = NULL;
        switch (c) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        case '\t': case '\n': case '\r': break;
        default:
            if (c < 0x20 || c == 0x7f)
                rep = "\xEF\xBF\xBD";
        }
        if (rep) {
            putn(o, s + run, i - run);
            put(o, rep);
            run = i + 1;
        }
    }
    putn(o, s + run, n - run);
}

static void escs(out *o, const char *s)
{
    if (s)
        esc(o, s, strlen(s));
}

/* Percent-encode for a URL component (the result is also HTML-safe). */
static void urlenc(out *o, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
            c == '.' || c == '~') {
            putn(o, (const char *)&c, 1);
        } else {
            char t[3] = {'%', hex[c >> 4], hex[c & 15]};
            putn(o, t, 3);
        }
    }
}

/* ------------------------------------------------------------------ time */

static void fmt_s(int64_t ms, char out_[32])
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    snprintf(out_, 32, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec);
}

/* The audit's form: UTC with milliseconds (what poll_clock_real writes). */
static void fmt_audit_time(int64_t ms, char out_[32])
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    snprintf(out_, 32, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

/* The same steps as `custody status` (cmd/cursor.c fmt_lag). */
static void fmt_span(int64_t ms, char out_[32])
{
    if (ms < 0)
        snprintf(out_, 32, "-");
    else if (ms < 120000)
        snprintf(out_, 32, "%llds", (long long)(ms / 1000));
    else if (ms < 7200000)
        snprintf(out_, 32, "%lldm", (long long)(ms / 60000));
    else if (ms < 172800000)
        snprintf(out_, 32, "%lldh", (long long)(ms / 3600000));
    else
        snprintf(out_, 32, "%lldd", (long long)(ms / 86400000));
}

static int64_t iso_ms(const char *t)
{
    int64_t ms;
    return t && timefmt_parse(TIME_ISO8601, t, strlen(t), &ms) ? ms : -1;
}

static int64_t now_of(const ui_ctx *ctx)
{
    struct timespec ts;
    if (ctx->now_ms > 0)
        return ctx->now_ms;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* <time> with the stored text and how long ago it was. */
static void put_time(out *o, const char *t, int64_t now)
{
    int64_t ms = iso_ms(t);
    if (!t || !*t) {
        put(o, "<span class=\"muted\">never</span>");
        return;
    }
    put(o, "<time datetime=\"");
    escs(o, t);
    put(o, "\">");
    escs(o, t);
    put(o, "</time>");
    if (ms >= 0 && now >= ms) {
        char span[32];
        fmt_span(now - ms, span);
        putf(o, " <span class=\"muted\">(%s ago)</span>", span);
    }
}

/* ------------------------------------------------------------- requests */

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                                                                        : -1;
}

/* The value of field name in an application/x-www-form-urlencoded string
 * (a body or a query), decoded into out (cap n). 1 found, 0 absent, -1
 * malformed (too long for out, or a NUL). The first occurrence wins. */
static int form_get(const char *s, size_t len, const char *name, char *out_, size_t n)
{
    size_t nl = strlen(name), i = 0;
    if (!s)
        return 0;
    while (i < len) {
        size_t end = i, eq;
        while (end < len && s[end] != '&')
            end++;
        eq = i;
        while (eq < end && s[eq] != '=')
            eq++;
        if (eq - i == nl && !memcmp(s + i, name, nl)) {
            size_t w = 0;
            for (size_t k = eq < end ? eq + 1 : end; k < end; k++) {
                int c = (unsigned char)s[k];
                if (c == '+') {
                    c = ' ';
                } else if (c == '%' && k + 2 < end && hexval(s[k + 1]) >= 0 && hexval(s[k + 2]) >= 0) {
                    c = hexval(s[k + 1]) * 16 + hexval(s[k + 2]);
                    k += 2;
                }
                if (c == 0 || w + 1 >= n)
                    return -1;
                out_[w++] = (char)c;
            }
            out_[w] = '\0';
            return 1;
        }
        i = end + 1;
    }
    return 0;
}

static int cookie_get(const char *hdr, const char *name, char *out_, size_t n)
{
    size_t nl = strlen(name);
    const char *p = hdr;
    while (p && *p) {
        const char *end;
        size_t vl;
        while (*p == ' ' || *p == '\t' || *p == ';')
            p++;
        end = p + strcspn(p, ";");
        if ((size_t)(end - p) > nl && !strncmp(p, name, nl) && p[nl] == '=') {
            vl = (size_t)(end - p) - nl - 1;
            while (vl && (p[nl + 1 + vl - 1] == ' ' || p[nl + 1 + vl - 1] == '\t'))
                vl--;
            if (vl + 1 > n)
                return -1;
            memcpy(out_, p + nl + 1, vl);
            out_[vl] = '\0';
            return 1;
        }
        p = end;
    }
    return 0;
}

/* A positive decimal id of at most 18 digits: the whole of s, or up to a
 * '/' whose position *rest receives. */
static int64_t parse_id(const char *s, const char **rest)
{
    int64_t v = 0;
    size_t i = 0;
    for (; s[i] >= '0' && s[i] <= '9'; i++) {
        if (i >= 18)
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (!i || v <= 0 || (s[i] && s[i] != '/'))
        return -1;
    *rest = s + i;
    return v;
}

static int utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int n;
        unsigned cp;
        if (*p < 0x80) {
            p++;
            continue;
        }
        if ((*p & 0xE0) == 0xC0)
            n = 1, cp = *p & 0x1F;
        else if ((*p & 0xF0) == 0xE0)
            n = 2, cp = *p & 0x0F;
        else if ((*p & 0xF8) == 0xF0)
            n = 3, cp = *p & 0x07;
        else
            return 0;
        p++;
        for (int i = 0; i < n; i++, p++) {
            if ((*p & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (*p & 0x3F);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
    }
    return 1;
}

/* Trim spaces around s in place; returns s. */
static char *trim(char *s)
{
    size_t n;
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

/* Host: a loopback name, an IP literal, or a name the operator listed.
 * Anything else is someone else's DNS name pointing at us (rebinding). */
static int host_allowed(const ui_ctx *ctx, const char *host)
{
    char name[256];
    size_t n;
    const char *port;
    if (!host || !*host)
        return 1; /* HTTP/1.0 tools; browsers always send Host */
    if (host[0] == '[') {
        const char *close = strchr(host, ']');
        if (!close)
            return 0;
        port = close + 1;
        if (*port && (*port != ':' || strspn(port + 1, "0123456789") != strlen(port + 1)))
            return 0;
        return strspn(host + 1, "0123456789abcdefABCDEF:.") == (size_t)(close - host - 1);
    }
    n = strcspn(host, ":");
    if (n == 0 || n >= sizeof name)
        return 0;
    port = host + n;
    if (*port && strspn(port + 1, "0123456789") != strlen(port + 1))
        return 0;
    memcpy(name, host, n);
    name[n] = '\0';
    if (!strcasecmp(name, "localhost") || strspn(name, "0123456789.") == n)
        return 1;
    for (const char *h = ctx->hosts; h && *h;) {
        size_t l = strcspn(h, ",");
        const char *a = h, *b = h + l;
        while (a < b && *a == ' ')
            a++;
        while (b > a && b[-1] == ' ')
            b--;
        if ((size_t)(b - a) == n && !strncasecmp(a, name, n))
            return 1;
        h += l + (h[l] == ',');
    }
    return 0;
}

/* A POST's Origin, when the browser sent one, must name this host. */
static int origin_ok(const ui_request *rq)
{
    const char *sep, *rest;
    size_t schemelen, hl;
    if (!rq->origin)
        return 1;
    if (!rq->host || !(sep = strstr(rq->origin, "://")))
        return 0; /* includes "null" */
    schemelen = (size_t)(sep - rq->origin);
    if (!((schemelen == 4 && !strncasecmp(rq->origin, "http", 4)) ||
          (schemelen == 5 && !strncasecmp(rq->origin, "https", 5))))
        return 0;
    rest = sep + 3;
    if (!strcasecmp(rest, rq->host))
        return 1;
    /* Host with the scheme's default port spelled out */
    hl = strlen(rest);
    if (!strncasecmp(rest, rq->host, hl) &&
        ((schemelen == 4 && !strcmp(rq->host + hl, ":80")) || (schemelen == 5 && !strcmp(rq->host + hl, ":443"))))
        return 1;
    return 0;
}

static int is_form(const ui_request *rq)
{
    static const char ct[] = "application/x-www-form-urlencoded";
    const char *t = rq->content_type;
    return t && !strncasecmp(t, ct, sizeof ct - 1) && (t[sizeof ct - 1] == '\0' || t[sizeof ct - 1] == ';' ||
                                                        t[sizeof ct - 1] == ' ');
}

/* A local path to go back to after logging in: "/..." with plain characters. */
static int next_ok(const char *p)
{
    return p && p[0] == '/' && p[1] != '/' && strlen(p) < 256 &&
           strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/_.-?=&%") == strlen(p);
}

/* ------------------------------------------------------------- sessions */

typedef struct session {
    int used;
    char id[65];           /* hex of 32 random bytes: the cookie */
    char csrf[65];         /* hex of 32 random bytes: the forms' hidden field */
    unsigned char tok[32]; /* SHA-256 of the token it was opened with */
    int64_t created_ms, expires_ms;
} session;

static session sessions[MAX_SESSIONS];
static int64_t fail_window_ms;
static int fail_count;

void ui_sessions_clear(void)
{
    OPENSSL_cleanse(sessions, sizeof sessions);
    fail_window_ms = 0;
    fail_count = 0;
}

static int token_set(const ui_ctx *ctx)
{
    return ctx->token && ctx->token[0];
}

static void to_hex(const unsigned char *b, size_t n, char *out_)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out_[2 * i] = hex[b[i] >> 4];
        out_[2 * i + 1] = hex[b[i] & 15];
    }
    out_[2 * n] = '\0';
}

static session *session_find(const ui_ctx *ctx, const ui_request *rq)
{
    char id[80];
    unsigned char th[32];
    int64_t now = now_of(ctx);
    session *found = NULL;
    if (!token_set(ctx) || !rq->cookie || cookie_get(rq->cookie, COOKIE_NAME, id, sizeof id) != 1 ||
        strlen(id) != 64)
        return NULL;
    sha256(ctx->token, strlen(ctx->token), th);
    for (int i = 0; i < MAX_SESSIONS; i++) {
        session *s = &sessions[i];
        if (s->used && s->expires_ms > now && !CRYPTO_memcmp(s->id, id, 64) && !CRYPTO_memcmp(s->tok, th, 32))
            found = s;
    }
    return found;
}

static session *session_new(const ui_ctx *ctx)
{
    unsigned char rnd[64];
    int64_t now = now_of(ctx);
    session *s = &sessions[0];
    for (int i = 0; i < MAX_SESSIONS; i++) {
        session *c = &sessions[i];
        if (!c->used || c->expires_ms <= now) {
            s = c;
            break;
        }
        if (c->created_ms < s->created_ms)
            s = c; /* full: the oldest login goes */
    }
    if (RAND_bytes(rnd, sizeof rnd) != 1)
        return NULL;
    memset(s, 0, sizeof *s);
    s->used = 1;
    to_hex(rnd, 32, s->id);
    to_hex(rnd + 32, 32, s->csrf);
    OPENSSL_cleanse(rnd, sizeof rnd);
    sha256(ctx->token, strlen(ctx->token), s->tok);
    s->created_ms = now;
    s->expires_ms = now + SESSION_TTL_MS;
    return s;
}

static int csrf_ok(const session *s, const ui_request *rq)
{
    char v[80];
    return s && form_get(rq->body, rq->body_len, "csrf", v, sizeof v) == 1 && strlen(v) == 64 &&
           !CRYPTO_memcmp(v, s->csrf, 64);
}

/* -------------------------------------------------------------- response */

static void add_header(ui_response *rs, const char *name, const char *value)
{
    if (rs->nheaders < UI_MAX_HEADERS) {
        ui_header *h = &rs->headers[rs->nheaders++];
        snprintf(h->name, sizeof h->name, "%s", name);
        snprintf(h->value, sizeof h->value, "%s", value);
    }
}

static void set_header(ui_response *rs, const char *name, const char *value)
{
    for (size_t i = 0; i < rs->nheaders; i++)
        if (!strcasecmp(rs->headers[i].name, name)) {
            snprintf(rs->headers[i].value, sizeof rs->headers[i].value, "%s", value);
            return;
        }
    add_header(rs, name, value);
}

static void page_head(out *o, const char *title, const char *current, const session *s)
{
    static const struct {
        const char *href, *text, *key;
    } nav[] = {{"/", "Status", "status"}, {"/quarantine", "Quarantine", "quarantine"}, {"/audit", "Audit log", "audit"}};
    put(o, "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
           "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>");
    escs(o, title);
    put(o, " - custody</title>\n<link rel=\"stylesheet\" href=\"/static/ui.css\">\n</head>\n<body>\n"
           "<a class=\"skip\" href=\"#main\">Skip to content</a>\n<header>\n<nav aria-label=\"Main\">\n<ul>\n");
    for (size_t i = 0; i < sizeof nav / sizeof nav[0]; i++) {
        putf(o, "<li><a href=\"%s\"%s>%s</a></li>\n", nav[i].href,
             current && !strcmp(current, nav[i].key) ? " aria-current=\"page\"" : "", nav[i].text);
    }
    if (s) {
        put(o, "<li class=\"end\"><form method=\"post\" action=\"/logout\" class=\"inline\">"
               "<input type=\"hidden\" name=\"csrf\" value=\"");
        put(o, s->csrf);
        put(o, "\"><button type=\"submit\">Log out</button></form></li>\n");
    } else {
        putf(o, "<li class=\"end\"><a href=\"/login\"%s>Log in</a></li>\n",
             current && !strcmp(current, "login") ? " aria-current=\"page\"" : "");
    }
    put(o, "</ul>\n</nav>\n</header>\n<main id=\"main\">\n<h1>");
    escs(o, title);
    put(o, "</h1>\n");
}

static void page_foot(out *o, const ui_ctx *ctx)
{
    char t[32];
    fmt_s(now_of(ctx), t);
    putf(o, "</main>\n<footer><p>custody %s &middot; rendered at <time datetime=\"%s\">%s</time></p></footer>\n"
            "</body>\n</html>\n", CUSTODY_VERSION, t, t);
}

/* A whole page saying what went wrong (text is escaped) and where to go. */
static void msg_page(const ui_ctx *ctx, const session *s, ui_response *rs, out *o, int status, const char *title,
                     const char *text, const char *href, const char *link)
{
    rs->status = status;
    page_head(o, title, NULL, s);
    put(o, "<p class=\"problem\">");
    escs(o, text);
    put(o, "</p>\n");
    if (href) {
        put(o, "<p><a href=\"");
        escs(o, href);
        put(o, "\">");
        escs(o, link);
        put(o, "</a></p>\n");
    }
    page_foot(o, ctx);
}

static const char NO_TOKEN[] =
    "Actions are turned off: no operator token is configured. Set serve.token_env in the configuration to the name "
    "of an environment variable, export that variable with a long random value (for example: openssl rand -hex 32) "
    "where custody run starts, and restart it. Until then the pages are read-only and quarantined payloads are not "
    "shown.";

/* ------------------------------------------------------------------ data */

typedef struct qentry {
    int found;
    char *col[QUA_NCOLS];
    size_t len[QUA_NCOLS];
} qentry;

static int qentry_row(void *ud, const store_row *r)
{
    qentry *q = ud;
    q->found = 1;
    for (int i = 0; i < QUA_NCOLS && i < r->ncols; i++) {
        size_t n = r->cols[i] ? r->lens[i] : 0;
        if (!(q->col[i] = malloc(n + 1)))
            return 1;
        if (n)
            memcpy(q->col[i], r->cols[i], n);
        q->col[i][n] = '\0';
        q->len[i] = n;
    }
    return 1; /* one id, one row */
}

static void qentry_release(qentry *q)
{
    for (int i = 0; i < QUA_NCOLS; i++)
        free(q->col[i]);
    memset(q, 0, sizeof *q);
}

static const char *qcol(const qentry *q, int i)
{
    return q->col[i] ? q->col[i] : "";
}

/* cust_code from the store; q->found 0: no such entry. */
static cust_code qentry_load(const ui_ctx *ctx, int64_t id, qentry *q, struct err *e)
{
    cust_code rc;
    memset(q, 0, sizeof *q);
    rc = ctx->st->ops->quarantine_list(ctx->st, NULL, id, qentry_row, q, e);
    if (!rc && q->found && !q->col[QUA_NCOLS - 1])
        rc = err_set(e, CUST_ENOMEM, "out of memory");
    return rc;
}

/* Audit rows kept in a ring: the latest `cap` that match. */
typedef struct arow {
    char *col[AUD_NCOLS];
} arow;

typedef struct aring {
    arow *v;
    size_t cap, n, next;
    long long qid;      /* > 0: rows whose detail names this quarantine id */
    const char *action; /* non-NULL: this action only */
    const char *source; /* non-NULL: this source only */
    long matched;
    int failed;
} aring;

static const char *find(const char *h, size_t hl, const char *n, size_t nl)
{
    for (size_t i = 0; nl <= hl && i <= hl - nl; i++)
        if (h[i] == n[0] && !memcmp(h + i, n, nl))
            return h + i;
    return NULL;
}

static int names_qid(const char *d, size_t len, long long id)
{
    char pat[2][48];
    snprintf(pat[0], sizeof pat[0], "\"quarantine_id\":%lld", id);
    snprintf(pat[1], sizeof pat[1], "\"replayed_from\":%lld", id);
    for (int k = 0; k < 2; k++) {
        size_t pl = strlen(pat[k]);
        const char *p = d, *end = d + len;
        while (p < end && (p = find(p, (size_t)(end - p), pat[k], pl))) {
            const char *after = p + pl;
            if (after < end && (*after == ',' || *after == '}'))
                return 1;
            p = after;
        }
    }
    return 0;
}

static int aring_row(void *ud, const store_row *r)
{
    aring *a = ud;
    arow *slot;
    if (r->ncols < AUD_NCOLS)
        return 0;
    if (a->qid > 0 && !names_qid(r->cols[AUD_DETAIL], r->lens[AUD_DETAIL], a->qid))
        return 0;
    if (a->action && (r->lens[AUD_ACTION] != strlen(a->action) || memcmp(r->cols[AUD_ACTION], a->action,
                                                                          r->lens[AUD_ACTION])))
        return 0;
    if (a->source && (r->lens[AUD_SOURCE] != strlen(a->source) || memcmp(r->cols[AUD_SOURCE], a->source,
                                                                          r->lens[AUD_SOURCE])))
        return 0;
    a->matched++;
    slot = &a->v[a->next];
    for (int i = 0; i < AUD_NCOLS; i++) {
        size_t n = r->cols[i] ? r->lens[i] : 0;
        free(slot->col[i]);
        if (!(slot->col[i] = malloc(n + 1)))
            return a->failed = 1;
        if (n)
            memcpy(slot->col[i], r->cols[i], n);
        slot->col[i][n] = '\0';
    }
    a->next = (a->next + 1) % a->cap;
    if (a->n < a->cap)
        a->n++;
    return 0;
}

static void aring_release(aring *a)
{
    for (size_t i = 0; a->v && i < a->cap; i++)
        for (int k = 0; k < AUD_NCOLS; k++)
            free(a->v[i].col[k]);
    free(a->v);
    a->v = NULL;
}

/* i-th kept row, oldest first. */
static const arow *aring_at(const aring *a, size_t i)
{
    size_t first = a->n < a->cap ? 0 : a->next;
    return &a->v[(first + i) % a->cap];
}

static cust_code aring_load(const ui_ctx *ctx, aring *a, size_t cap, struct err *e)
{
    cust_code rc;
    a->cap = cap;
    if (!(a->v = calloc(cap, sizeof *a->v)))
        return err_set(e, CUST_ENOMEM, "out of memory");
    rc = ctx->st->ops->audit_list(ctx->st, aring_row, a, e);
    if (!rc && a->failed)
        rc = err_set(e, CUST_ENOMEM, "out of memory");
    return rc;
}

/* The latest checkpoint. */
typedef struct head {
    int have;
    char size[24], root[65], time[40];
    int sig;
} head;

static int head_row(void *ud, const store_row *r)
{
    head *h = ud;
    h->have = 1;
    snprintf(h->size, sizeof h->size, "%.*s", (int)r->lens[CKP_SIZE], r->cols[CKP_SIZE] ? r->cols[CKP_SIZE] : "");
    snprintf(h->root, sizeof h->root, "%.*s", (int)r->lens[CKP_ROOT], r->cols[CKP_ROOT] ? r->cols[CKP_ROOT] : "");
    snprintf(h->time, sizeof h->time, "%.*s", (int)r->lens[CKP_TIME], r->cols[CKP_TIME] ? r->cols[CKP_TIME] : "");
    h->sig = r->ncols > CKP_SIG && r->cols[CKP_SIG] && r->lens[CKP_SIG] > 0;
    return 0;
}

/* Open quarantine entries per configured source (and in all). */
typedef struct qcount {
    const config *cfg;
    long *per; /* nsources */
    long total;
    size_t last;
} qcount;

static int qcount_row(void *ud, const store_row *r)
{
    qcount *q = ud;
    const config *cfg = q->cfg;
    if (r->lens[QUA_STATUS] != 4 || memcmp(r->cols[QUA_STATUS], "open", 4))
        return 0;
    q->total++;
    for (size_t k = 0; k < cfg->nsources; k++) {
        size_t i = (q->last + k) % cfg->nsources;
        const char *n = cfg->sources[i].name;
        if (strlen(n) == r->lens[QUA_SOURCE] && !memcmp(n, r->cols[QUA_SOURCE], r->lens[QUA_SOURCE])) {
            q->per[i]++;
            q->last = i;
            break;
        }
    }
    return 0;
}

static const ui_source_live *live_of(const ui_ctx *ctx, const char *name)
{
    for (size_t i = 0; ctx->live && i < ctx->nlive; i++)
        if (ctx->live[i].name && !strcmp(ctx->live[i].name, name))
            return &ctx->live[i];
    return NULL;
}

/* -------------------------------------------------------------- sparkline */

static void ratio_text(double r, char out_[32])
{
    if (!isfinite(r) || r < 0)
        r = 0;
    if (r > 0 && r < 0.001)
        snprintf(out_, 32, "<0.1%%");
    else
        snprintf(out_, 32, "%.1f%%", r * 100);
}

/* An inline SVG of recent rejection ratios (oldest first) with the same
 * figures as text for screen readers (aria-label and <title>). */
static void sparkline(out *o, const double *r, size_t n, double limit, int w, int h)
{
    char label[900], t[32];
    size_t at = 0;
    double max = limit > 0 ? limit * 1.25 : 0, lo = 1, hi = 0;
    if (!r || n == 0) {
        put(o, "<span class=\"muted\">no cycles yet</span>");
        return;
    }
    if (n > SPARK_POINTS) {
        r += n - SPARK_POINTS;
        n = SPARK_POINTS;
    }
    for (size_t i = 0; i < n; i++) {
        double v = isfinite(r[i]) ? fmin(fmax(r[i], 0), 1) : 0;
        max = fmax(max, v);
        lo = fmin(lo, v);
        hi = fmax(hi, v);
    }
    if (max <= 0)
        max = 0.01;
    at += (size_t)snprintf(label + at, sizeof label - at, "Rejection ratio of the last %zu cycle%s, oldest first: ",
                           n, n == 1 ? "" : "s");
    if (n <= 12) {
        for (size_t i = 0; i < n && at < sizeof label; i++) {
            ratio_text(r[i], t);
            at += (size_t)snprintf(label + at, sizeof label - at, "%s%s", i ? ", " : "", t);
        }
    } else {
        char a[32], b[32];
        ratio_text(lo, a);
        ratio_text(hi, b);
        ratio_text(r[n - 1], t);
        at += (size_t)snprintf(label + at, sizeof label - at, "lowest %s, highest %s, latest %s", a, b, t);
    }
    if (limit > 0 && at < sizeof label) {
        ratio_text(limit, t);
        snprintf(label + at, sizeof label - at, "; alert limit %s", t);
    }
    putf(o, "<svg class=\"spark\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" focusable=\"false\" "
            "aria-label=\"", w, h, w, h);
    escs(o, label);
    put(o, "\"><title>");
    escs(o, label);
    put(o, "</title>");
    if (limit > 0 && limit <= max) {
        double y = (h - 3) - limit / max * (h - 6);
        putf(o, "<line x1=\"0\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#b3261e\" stroke-width=\"1\" "
                "stroke-dasharray=\"2 2\"/>", w, y, y);
    }
    if (n > 1) {
        put(o, "<polyline fill=\"none\" stroke=\"currentColor\" stroke-width=\"1.5\" stroke-linejoin=\"round\" "
               "points=\"");
        for (size_t i = 0; i < n; i++) {
            double v = isfinite(r[i]) ? fmin(fmax(r[i], 0), 1) : 0;
            putf(o, "%s%.1f,%.1f", i ? " " : "", 3 + (double)i * (w - 6) / (double)(n - 1),
                 (h - 3) - v / max * (h - 6));
        }
        put(o, "\"/>");
    }
    {
        double v = isfinite(r[n - 1]) ? fmin(fmax(r[n - 1], 0), 1) : 0;
        putf(o, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2\" fill=\"currentColor\"/>", n > 1 ? (double)w - 3 : w / 2.0,
             (h - 3) - v / max * (h - 6));
    }
    put(o, "</svg>");
}

/* ------------------------------------------------------------------ pages */

/* The breaker's state: the first word of the stored value (as status does). */
static void breaker_name(const char *v, char out_[16])
{
    snprintf(out_, 16, "%.*s", v ? (int)strcspn(v, " ") : 6, v ? v : "closed");
}

/* A source's open alerts as a list ("" when none). */
static void put_alerts(out *o, const ui_ctx *ctx, const char *source, int details)
{
    int any = 0;
    for (int k = 0; k < ALERT_KINDS; k++) {
        char key[48], *v = NULL;
        struct err e = {0};
        if (k == ALERT_VERIFY)
            continue;
        snprintf(key, sizeof key, "alert.%s", alert_kind_name((alert_kind)k));
        if (ctx->st->ops->kv_get(ctx->st, source, key, &v, &e) || !v)
            continue;
        put(o, any ? "" : "<ul class=\"alerts\">");
        any = 1;
        put(o, "<li><span class=\"bad\">");
        escs(o, alert_kind_name((alert_kind)k));
        put(o, "</span>");
        if (details) {
            json_doc *d = json_doc_new();
            json_value *j = d ? json_parse(d, v, strlen(v), NULL, NULL) : NULL;
            json_value *since = j ? json_get(j, "since") : NULL, *det = j ? json_get(j, "detail") : NULL;
            if (since && since->type == JSON_STRING) {
                put(o, " since ");
                escs(o, since->u.str);
            }
            if (det && det->type == JSON_STRING) {
                put(o, ": ");
                escs(o, det->u.str);
            }
            json_doc_free(d);
        }
        put(o, "</li>");
        free(v);
    }
    put(o, any ? "</ul>" : "<span class=\"muted\">none</span>");
}

static void page_status(const ui_ctx *ctx, const session *s, ui_response *rs, out *o)
{
    store *st = ctx->st;
    const config *cfg = ctx->cfg;
    struct err e = {0};
    int64_t now = now_of(ctx);
    qcount qc = {cfg, NULL, 0, 0};
    head hd = {0};
    char t[32];
    (void)rs;
    qc.per = calloc(cfg->nsources ? cfg->nsources : 1, sizeof *qc.per);
    if (!qc.per) {
        o->failed = 1;
        return;
    }
    page_head(o, "Status", "status", s);
    fmt_s(now, t);
    putf(o, "<p>As of <time datetime=\"%s\">%s</time>%s. Reload the page for fresh figures.</p>\n", t, t,
         ctx->live ? ", as the running daemon sees it" : "");
    if (st->ops->quarantine_list(st, NULL, 0, qcount_row, &qc, &e)) {
        put(o, "<p class=\"problem\">Could not read the quarantine: ");
        escs(o, e.msg);
        put(o, "</p>\n");
        err_clear(&e);
    }

    putf(o, "<section aria-labelledby=\"sources-h\">\n<h2 id=\"sources-h\">Sources (%zu)</h2>\n", cfg->nsources);
    put(o, "<div class=\"scroll\"><table class=\"sources\">\n<caption>Each configured source: its last poll, how far "
           "it trails, its circuit breaker, when it runs next, open alerts and recent rejection ratios</caption>\n"
           "<thead><tr><th scope=\"col\">Source</th><th scope=\"col\">Last poll</th><th scope=\"col\">Result</th>"
           "<th scope=\"col\">Lag</th><th scope=\"col\">Breaker</th><th scope=\"col\">Next due</th>"
           "<th scope=\"col\">Running</th><th scope=\"col\">Open alerts</th><th scope=\"col\">Rejection ratio</th>"
           "<th scope=\"col\">Recent cycles</th><th scope=\"col\">Quarantine</th></tr></thead>\n<tbody>\n");
    for (size_t i = 0; i < cfg->nsources; i++) {
        const source_cfg *src = &cfg->sources[i];
        const ui_source_live *lv = live_of(ctx, src->name);
        store_source_state ss = {0};
        char *sum = NULL, *brk = NULL, *v = NULL, bname[16], lag[32], due[32];
        json_doc *d = json_doc_new();
        json_value *j = NULL, *ratio = NULL;
        int64_t ref = -1, next;
        if (!d || st->ops->source_get(st, src->name, &ss, &e) || st->ops->kv_get(st, src->name, "last_summary", &sum,
                                                                                  &e) ||
            st->ops->kv_get(st, src->name, "breaker", &brk, &e)) {
            put(o, "<tr><th scope=\"row\">");
            escs(o, src->name);
            put(o, "</th><td colspan=\"10\" class=\"problem\">Could not read its state: ");
            escs(o, d ? e.msg : "out of memory");
            put(o, "</td></tr>\n");
            err_clear(&e);
            goto next_source;
        }
        if (sum && (j = json_parse(d, sum, strlen(sum), NULL, NULL)))
            ratio = json_get(j, "rejection_ratio");
        breaker_name(brk, bname);
        /* lag: the watermark for incremental sources, else the last good cycle */
        if (src->incremental.param && st->ops->kv_get(st, src->name, "watermark", &v, &e) == CUST_OK && v)
            timefmt_parse((time_format)src->incremental.format, v, strlen(v), &ref);
        free(v);
        v = NULL;
        if (ref < 0 && st->ops->kv_get(st, src->name, "last_ok_at", &v, &e) == CUST_OK && v)
            ref = iso_ms(v);
        free(v);
        v = NULL;
        fmt_span(ref >= 0 ? now - ref : -1, lag);
        next = lv && lv->due_ms >= 0 ? lv->due_ms
                                     : lv ? -1 : daemon_next_due(cfg, src, iso_ms(ss.last_poll_at), now);

        put(o, "<tr><th scope=\"row\"><a href=\"/sources/");
        urlenc(o, src->name);
        put(o, "\">");
        escs(o, src->name);
        put(o, "</a></th><td>");
        put_time(o, ss.last_poll_at, now);
        put(o, "</td><td>");
        if (ss.last_result) {
            putf(o, "<span class=\"%s\">", strcmp(ss.last_result, "ok") ? "bad" : "good");
            escs(o, ss.last_result);
            put(o, "</span>");
        } else {
            put(o, "<span class=\"muted\">-</span>");
        }
        put(o, "</td><td>");
        escs(o, lag);
        put(o, ref >= 0 && src->incremental.param ? " <span class=\"muted\">(watermark)</span>" : "");
        putf(o, "</td><td><span class=\"%s\">", strcmp(bname, "closed") ? "bad" : "good");
        escs(o, bname);
        put(o, "</span></td><td>");
        if (next >= 0) {
            fmt_s(next, due);
            putf(o, "<time datetime=\"%s\">%s</time>", due, due);
            fmt_span(next >= now ? next - now : now - next, lag);
            putf(o, " <span class=\"muted\">(%s %s)</span>", next >= now ? "in" : "overdue", lag);
        } else {
            put(o, "<span class=\"muted\">unknown</span>");
        }
        put(o, "</td><td>");
        put(o, lv ? (lv->running ? "<strong>running</strong>" : "idle") : "<span class=\"muted\">-</span>");
        put(o, "</td><td>");
        put_alerts(o, ctx, src->name, 0);
        put(o, "</td><td>");
        if (ratio && ratio->type == JSON_NUMBER) {
            int ok;
            double rv = json_number(ratio, &ok);
            ratio_text(ok ? rv : 0, due);
            putf(o, "<span class=\"%s\">%s</span>", ok && rv > cfg->alerts.rejection_ratio ? "bad" : "", due);
        } else {
            put(o, "<span class=\"muted\">-</span>");
        }
        put(o, "</td><td>");
        sparkline(o, lv ? lv->ratios : NULL, lv ? lv->nratios : 0, cfg->alerts.rejection_ratio, 120, 24);
        put(o, "</td><td>");
        if (qc.per[i]) {
            put(o, "<a href=\"/quarantine?source=");
            urlenc(o, src->name);
            putf(o, "\">%ld open</a>", qc.per[i]);
        } else {
            put(o, "<span class=\"muted\">0</span>");
        }
        put(o, "</td></tr>\n");
    next_source:
        free(sum);
        free(brk);
        json_doc_free(d);
        store_source_state_release(&ss);
    }
    put(o, "</tbody>\n</table></div>\n</section>\n");

    putf(o, "<section aria-labelledby=\"q-h\">\n<h2 id=\"q-h\">Quarantine</h2>\n<p><a href=\"/quarantine\">%ld "
            "open entr%s</a> wait%s for review.</p>\n</section>\n", qc.total, qc.total == 1 ? "y" : "ies",
         qc.total == 1 ? "s" : "");

    put(o, "<section aria-labelledby=\"a-h\">\n<h2 id=\"a-h\">Audit log</h2>\n<dl class=\"facts\">\n");
    if (st->ops->checkpoints_list(st, head_row, &hd, &e)) {
        put(o, "<dt>Head</dt><dd class=\"problem\">Could not read the checkpoints: ");
        escs(o, e.msg);
        put(o, "</dd>\n");
        err_clear(&e);
    } else if (!hd.have) {
        put(o, "<dt>Head</dt><dd>No checkpoint yet (one is written after every poll).</dd>\n");
    } else {
        put(o, "<dt>Tree size</dt><dd>");
        escs(o, hd.size);
        put(o, " entries</dd>\n<dt>Root</dt><dd><code class=\"hash\">");
        escs(o, hd.root);
        put(o, "</code></dd>\n<dt>Checkpoint</dt><dd>");
        put_time(o, hd.time, now);
        put(o, hd.sig ? ", signed" : ", <span class=\"muted\">unsigned</span>");
        put(o, "</dd>\n");
    }
    put(o, "<dt>Last verify</dt><dd>");
    if (ctx->last_verify) {
        putf(o, "<span class=\"%s\">", strncmp(ctx->last_verify, "FAILED", 6) ? "good" : "bad");
        escs(o, ctx->last_verify);
        put(o, "</span>");
    } else {
        put(o, "<span class=\"muted\">not run by this daemon (set run.verify_every, or run custody audit "
               "verify)</span>");
    }
    put(o, "</dd>\n");
    {
        char *v = NULL;
        if (st->ops->kv_get(st, "", "alert.audit_verify", &v, &e) == CUST_OK && v)
            put(o, "<dt>Alert</dt><dd><span class=\"bad\">audit_verify is open</span></dd>\n");
        free(v);
        err_clear(&e);
    }
    put(o, "</dl>\n");
    if (s)
        put(o, "<p><a href=\"/audit\">Latest audit entries</a></p>\n");
    put(o, "</section>\n");
    page_foot(o, ctx);
    free(qc.per);
}

static void page_source(const ui_ctx *ctx, const session *s, ui_response *rs, out *o, const char *name)
{
    static const char *const kv_shown[] = {"watermark", "window_since", "breaker", "not_before_ms", "etag",
                                           "last_modified", "snapshot_fp", "config_hash", "last_ok_at", NULL};
    const source_cfg *src = config_source((config *)ctx->cfg, name);
    const ui_source_live *lv;
    store_source_state ss = {0};
    struct err e = {0};
    int64_t now = now_of(ctx);
    char *sum = NULL;
    if (!src) {
        msg_page(ctx, s, rs, o, 404, "No such source", "That source is not in the configuration.", "/",
                 "Back to the status page");
        return;
    }
    lv = live_of(ctx, src->name);
    page_head(o, src->name, NULL, s);
    if (ctx->st->ops->source_get(ctx->st, src->name, &ss, &e)) {
        put(o, "<p class=\"problem\">Could not read its state: ");
        escs(o, e.msg);
        put(o, "</p>\n");
        page_foot(o, ctx);
        return;
    }
    put(o, "<dl class=\"facts\">\n<dt>Last poll</dt><dd>");
    put_time(o, ss.last_poll_at, now);
    put(o, "</dd>\n<dt>Result</dt><dd>");
    escs(o, ss.last_result ? ss.last_result : "-");
    put(o, "</dd>\n<dt>Cursor</dt><dd>");
    if (ss.cursor) {
        put(o, "<code>");
        escs(o, ss.cursor);
        put(o, "</code>");
    } else {
        put(o, "<span class=\"muted\">none (the next poll starts from the first page)</span>");
    }
    put(o, "</dd>\n");
    for (const char *const *k = kv_shown; *k; k++) {
        char *v = NULL;
        if (ctx->st->ops->kv_get(ctx->st, src->name, *k, &v, &e) == CUST_OK && v) {
            put(o, "<dt>");
            escs(o, *k);
            put(o, "</dt><dd><code>");
            escs(o, v);
            put(o, "</code></dd>\n");
        }
        free(v);
    }
    put(o, "<dt>Contract</dt><dd><code class=\"hash\">");
    escs(o, src->contract_hash);
    put(o, "</code></dd>\n<dt>Open alerts</dt><dd>");
    put_alerts(o, ctx, src->name, 1);
    put(o, "</dd>\n</dl>\n");
    if (ctx->st->ops->kv_get(ctx->st, src->name, "last_summary", &sum, &e) == CUST_OK && sum) {
        json_doc *d = json_doc_new();
        json_value *j = d ? json_parse(d, sum, strlen(sum), NULL, NULL) : NULL;
        if (j && j->type == JSON_OBJECT) {
            buf vb;
            buf_init(&vb, 1u << 20);
            put(o, "<h2>Last cycle</h2>\n<table class=\"kv\"><caption>The last cycle's poll.end summary</caption>"
                   "<tbody>\n");
            for (size_t i = 0; i < j->len; i++) {
                buf_reset(&vb);
                put(o, "<tr><th scope=\"row\">");
                esc(o, j->u.members[i].key, j->u.members[i].key_len);
                put(o, "</th><td>");
                if (j->u.members[i].value->type == JSON_STRING)
                    escs(o, j->u.members[i].value->u.str);
                else if (!json_write(j->u.members[i].value, &vb))
                    esc(o, buf_str(&vb), vb.len);
                put(o, "</td></tr>\n");
            }
            put(o, "</tbody></table>\n");
            buf_release(&vb);
        }
        json_doc_free(d);
    }
    free(sum);
    put(o, "<h2>Recent cycles</h2>\n<p>");
    sparkline(o, lv ? lv->ratios : NULL, lv ? lv->nratios : 0, ctx->cfg->alerts.rejection_ratio, 360, 60);
    put(o, "</p>\n<p><a href=\"/quarantine?source=");
    urlenc(o, src->name);
    put(o, "\">Open quarantine entries of ");
    escs(o, src->name);
    put(o, "</a></p>\n");
    page_foot(o, ctx);
    store_source_state_release(&ss);
}

/* First error's code and path, for the listing (as `quarantine list`). */
static void first_error(const char *errors, size_t len, char *out_, size_t n)
{
    json_doc *d = json_doc_new();
    json_value *v = d ? json_parse(d, errors, len, NULL, NULL) : NULL;
    json_value *e0 = v ? json_at(v, 0) : NULL;
    json_value *code = e0 ? json_get(e0, "code") : NULL, *path = e0 ? json_get(e0, "path") : NULL;
    if (code && path && code->type == JSON_STRING && path->type == JSON_STRING)
        snprintf(out_, n, "%s at %s%s", code->u.str, path->u.str, v->len > 1 ? " (+more)" : "");
    else
        snprintf(out_, n, "?");
    json_doc_free(d);
}

typedef struct qlist {
    out *o;
    int64_t now;
    long shown, total;
} qlist;

static int qlist_row(void *ud, const store_row *r)
{
    qlist *q = ud;
    out *o = q->o;
    char first[256], buf_[64];
    if (r->lens[QUA_STATUS] != 4 || memcmp(r->cols[QUA_STATUS], "open", 4))
        return 0;
    if (++q->total > LIST_MAX)
        return 0;
    q->shown++;
    snprintf(buf_, sizeof buf_, "%.*s", (int)r->lens[QUA_ID], r->cols[QUA_ID]);
    put(o, "<tr><th scope=\"row\"><a href=\"/quarantine/");
    escs(o, buf_);
    put(o, "\">");
    escs(o, buf_);
    put(o, "</a></th><td>");
    esc(o, r->cols[QUA_SOURCE], r->lens[QUA_SOURCE]);
    put(o, "</td><td>");
    esc(o, r->cols[QUA_TIMES], r->lens[QUA_TIMES]);
    put(o, "</td><td>");
    snprintf(buf_, sizeof buf_, "%.*s", (int)r->lens[QUA_FIRST_SEEN], r->cols[QUA_FIRST_SEEN]);
    put_time(o, buf_, q->now);
    put(o, "</td><td>");
    snprintf(buf_, sizeof buf_, "%.*s", (int)r->lens[QUA_LAST_SEEN], r->cols[QUA_LAST_SEEN]);
    put_time(o, buf_, q->now);
    put(o, "</td><td>");
    first_error(r->cols[QUA_ERRORS], r->lens[QUA_ERRORS], first, sizeof first);
    escs(o, first);
    put(o, "</td></tr>\n");
    return 0;
}

static void page_quarantine(const ui_ctx *ctx, const ui_request *rq, const session *s, ui_response *rs, out *o)
{
    char source[256] = "";
    struct err e = {0};
    qlist q = {o, now_of(ctx), 0, 0};
    int have = form_get(rq->query, rq->query ? strlen(rq->query) : 0, "source", source, sizeof source) == 1 &&
               source[0];
    (void)rs;
    page_head(o, "Quarantine", "quarantine", s);
    put(o, "<p>Records that failed their source's contract, kept with their raw bytes and errors. ");
    put(o, s ? "Open an entry to see its payload, then resolve it or replay it under the current contract.</p>\n"
             : "<a href=\"/login?next=/quarantine\">Log in</a> to see payloads and to resolve or replay entries.</p>\n");
    put(o, "<form method=\"get\" action=\"/quarantine\" class=\"filter\">\n<label for=\"source\">Source</label>\n"
           "<select id=\"source\" name=\"source\">\n<option value=\"\">All sources</option>\n");
    for (size_t i = 0; i < ctx->cfg->nsources; i++) {
        const char *n = ctx->cfg->sources[i].name;
        put(o, "<option value=\"");
        escs(o, n);
        put(o, have && !strcmp(n, source) ? "\" selected>" : "\">");
        escs(o, n);
        put(o, "</option>\n");
    }
    put(o, "</select>\n<button type=\"submit\">Show</button>\n</form>\n");
    put(o, "<div class=\"scroll\"><table>\n<caption>Open entries");
    if (have) {
        put(o, " of ");
        escs(o, source);
    }
    put(o, ", oldest first</caption>\n<thead><tr><th scope=\"col\">ID</th><th scope=\"col\">Source</th>"
           "<th scope=\"col\">Times seen</th><th scope=\"col\">First seen</th><th scope=\"col\">Last seen</th>"
           "<th scope=\"col\">First error</th></tr></thead>\n<tbody>\n");
    if (ctx->st->ops->quarantine_list(ctx->st, have ? source : NULL, 0, qlist_row, &q, &e)) {
        put(o, "<tr><td colspan=\"6\" class=\"problem\">Could not read the quarantine: ");
        escs(o, e.msg);
        put(o, "</td></tr>\n");
    } else if (!q.total) {
        put(o, "<tr><td colspan=\"6\">No open entries");
        if (have) {
            put(o, " for ");
            escs(o, source);
        }
        put(o, ".</td></tr>\n");
    }
    put(o, "</tbody>\n</table></div>\n");
    if (q.total > q.shown)
        putf(o, "<p>Showing the first %ld of %ld open entries; filter by source, or use <code>custody quarantine "
                "list</code> for all.</p>\n", q.shown, q.total);
    page_foot(o, ctx);
}

/* JSON pretty-printed (two spaces, members in document order) into b. */
static cust_code pretty(const json_value *v, int depth, buf *b)
{
    cust_code rc = CUST_OK;
    if (v->type == JSON_ARRAY || v->type == JSON_OBJECT) {
        int obj = v->type == JSON_OBJECT;
        if (!v->len)
            return buf_adds(b, obj ? "{}" : "[]");
        if ((rc = buf_addc(b, obj ? '{' : '[')))
            return rc;
        for (size_t i = 0; i < v->len && !rc; i++) {
            rc = buf_adds(b, i ? ",\n" : "\n");
            for (int k = 0; k <= depth && !rc; k++)
                rc = buf_adds(b, "  ");
            if (!rc && obj) {
                rc = json_write_string(b, v->u.members[i].key, v->u.members[i].key_len);
                if (!rc)
                    rc = buf_adds(b, ": ");
            }
            if (!rc)
                rc = pretty(obj ? v->u.members[i].value : v->u.items[i], depth + 1, b);
        }
        if (!rc)
            rc = buf_addc(b, '\n');
        for (int k = 0; k < depth && !rc; k++)
            rc = buf_adds(b, "  ");
        return rc ? rc : buf_addc(b, obj ? '}' : ']');
    }
    return json_write(v, b);
}

/* Cut n at a UTF-8 boundary no later than max. */
static size_t utf8_cut(const char *s, size_t n, size_t max)
{
    if (n <= max)
        return n;
    while (max && ((unsigned char)s[max] & 0xC0) == 0x80)
        max--;
    return max;
}

static void put_payload(out *o, const char *raw, size_t len)
{
    json_doc *d = NULL;
    json_value *v = NULL;
    buf b;
    buf_init(&b, 4 * RAW_SHOWN_MAX);
    if (len <= RAW_SHOWN_MAX && (d = json_doc_new()) && (v = json_parse(d, raw, len, NULL, NULL)) &&
        !pretty(v, 0, &b)) {
        put(o, "<pre class=\"payload\" tabindex=\"0\"><code>");
        esc(o, buf_str(&b), b.len);
        put(o, "</code></pre>\n");
    } else {
        size_t n = utf8_cut(raw, len, RAW_SHOWN_MAX);
        put(o, "<pre class=\"payload\" tabindex=\"0\"><code>");
        esc(o, raw, n);
        put(o, "</code></pre>\n");
        if (n < len)
            putf(o, "<p>Shown: the first %zu of %zu bytes; <code>custody quarantine show</code> prints all.</p>\n",
                 n, len);
        else if (!v)
            put(o, "<p class=\"muted\">Not JSON: shown as received.</p>\n");
    }
    buf_release(&b);
    json_doc_free(d);
}

static void put_value(out *o, const json_value *v)
{
    buf b;
    buf_init(&b, 1u << 20);
    if (!json_write(v, &b)) {
        size_t n = utf8_cut(b.ptr, b.len, VALUE_SHOWN_MAX);
        esc(o, b.ptr, n);
        if (n < b.len)
            put(o, "&hellip;");
    }
    buf_release(&b);
}

static void put_errors(out *o, const char *errors, size_t len)
{
    json_doc *d = json_doc_new();
    json_value *v = d ? json_parse(d, errors, len, NULL, NULL) : NULL;
    if (!v || v->type != JSON_ARRAY) {
        put(o, "<pre class=\"payload\"><code>");
        esc(o, errors, len);
        put(o, "</code></pre>\n");
        json_doc_free(d);
        return;
    }
    putf(o, "<table class=\"errors\">\n<caption>%zu error%s under the contract that rejected it</caption>\n"
            "<thead><tr><th scope=\"col\">Path</th><th scope=\"col\">Code</th><th scope=\"col\">Message</th>"
            "<th scope=\"col\">Value</th></tr></thead>\n<tbody>\n", v->len, v->len == 1 ? "" : "s");
    for (size_t i = 0; i < v->len; i++) {
        const json_value *it = v->u.items[i], *f;
        static const char *const cols[] = {"path", "code", "message"};
        put(o, "<tr>");
        for (int k = 0; k < 3; k++) {
            f = it->type == JSON_OBJECT ? json_get(it, cols[k]) : NULL;
            put(o, k == 0 ? "<th scope=\"row\"><code>" : "<td>");
            if (f && f->type == JSON_STRING)
                escs(o, f->u.str);
            else if (f)
                put_value(o, f);
            put(o, k == 0 ? "</code></th>" : "</td>");
        }
        f = it->type == JSON_OBJECT ? json_get(it, "value") : NULL;
        put(o, "<td><code>");
        if (f && f->type == JSON_STRING) {
            /* the contract keeps the offending value as its JSON text (cut, or
             * "***" for a sensitive field): shown as that text */
            size_t n = utf8_cut(f->u.str, f->len, VALUE_SHOWN_MAX);
            esc(o, f->u.str, n);
            if (n < f->len)
                put(o, "&hellip;");
        } else if (f) {
            put_value(o, f);
        }
        put(o, "</code></td></tr>\n");
    }
    put(o, "</tbody>\n</table>\n");
    json_doc_free(d);
}

/* What replay would do now (a dry run: nothing written). */
typedef struct verdict {
    int seen, passed;
    char errors[1024];
} verdict;

static void verdict_cb(void *ud, int64_t id, const char *source, int passed, const char *errors)
{
    verdict *v = ud;
    (void)id;
    (void)source;
    v->seen = 1;
    v->passed = passed;
    if (!passed && errors)
        first_error(errors, strlen(errors), v->errors, sizeof v->errors);
}

/* What the entry page needs beyond the entry: a form error to show, the
 * values typed, and the message of an action just done. */
typedef struct form_state {
    const char *which;        /* "resolve" or "replay": the form the problem is in */
    const char *problem;      /* the whole page's problem (escaped when shown) */
    const char *actor_error, *reason_error;
    const char *actor, *reason; /* as typed */
} form_state;

static void put_form(out *o, const session *s, int64_t id, const char *which, const char *legend,
                     const char *explain, const char *button, const form_state *fs)
{
    int mine = fs && fs->which && !strcmp(fs->which, which);
    char p = !strcmp(which, "resolve") ? 'r' : 'p'; /* the fields' id prefix: r-actor, p-actor, ... */
    putf(o, "<form method=\"post\" action=\"/quarantine/%lld/%s\">\n<fieldset>\n<legend>%s</legend>\n<p>%s</p>\n",
         (long long)id, which, legend, explain);
    put(o, "<input type=\"hidden\" name=\"csrf\" value=\"");
    put(o, s->csrf);
    put(o, "\">\n");
    putf(o, "<label for=\"%c-actor\">Your name (recorded as the actor)</label>\n", p);
    if (mine && fs->actor_error) {
        putf(o, "<p id=\"%c-actor-err\" class=\"field-error\">", p);
        escs(o, fs->actor_error);
        put(o, "</p>\n");
    }
    putf(o, "<input id=\"%c-actor\" name=\"actor\" type=\"text\" required maxlength=\"%d\" autocomplete=\"name\"", p,
         MAX_ACTOR);
    if (mine && fs->actor_error)
        putf(o, " aria-invalid=\"true\" aria-describedby=\"%c-actor-err\"", p);
    put(o, " value=\"");
    if (mine && fs->actor)
        escs(o, fs->actor);
    put(o, "\">\n");
    putf(o, "<label for=\"%c-reason\">Reason (goes into the audit log)</label>\n", p);
    if (mine && fs->reason_error) {
        putf(o, "<p id=\"%c-reason-err\" class=\"field-error\">", p);
        escs(o, fs->reason_error);
        put(o, "</p>\n");
    }
    putf(o, "<textarea id=\"%c-reason\" name=\"reason\" rows=\"3\" required maxlength=\"%d\"", p, MAX_REASON);
    if (mine && fs->reason_error)
        putf(o, " aria-invalid=\"true\" aria-describedby=\"%c-reason-err\"", p);
    put(o, ">");
    if (mine && fs->reason)
        escs(o, fs->reason);
    putf(o, "</textarea>\n<button type=\"submit\">%s</button>\n</fieldset>\n</form>\n", button);
}

static void render_entry(const ui_ctx *ctx, const ui_request *rq, const session *s, ui_response *rs, out *o,
                         const qentry *q, int64_t id, const form_state *fs)
{
    const source_cfg *src = config_source((config *)ctx->cfg, qcol(q, QUA_SOURCE));
    int64_t now = now_of(ctx);
    int open = !strcmp(qcol(q, QUA_STATUS), "open");
    char title[64], done[32] = "";
    aring ar = {0};
    struct err e = {0};
    verdict vd = {0};
    (void)rs;
    snprintf(title, sizeof title, "Quarantine entry %lld", (long long)id);
    page_head(o, title, "quarantine", s);
    if (fs && fs->problem) {
        put(o, "<div class=\"problem\" role=\"alert\"><p>");
        escs(o, fs->problem);
        put(o, "</p></div>\n");
    }
    if (form_get(rq->query, rq->query ? strlen(rq->query) : 0, "done", done, sizeof done) == 1 &&
        (!strcmp(done, "resolved") || !strcmp(done, "replayed")))
        putf(o, "<div class=\"done\" role=\"status\"><p>Entry %lld %s. The audit entry just written is marked "
                "below.</p></div>\n", (long long)id, done);
    put(o, "<dl class=\"facts\">\n<dt>Source</dt><dd>");
    if (src) {
        put(o, "<a href=\"/sources/");
        urlenc(o, qcol(q, QUA_SOURCE));
        put(o, "\">");
        escs(o, qcol(q, QUA_SOURCE));
        put(o, "</a>");
    } else {
        escs(o, qcol(q, QUA_SOURCE));
        put(o, " <span class=\"muted\">(no longer configured)</span>");
    }
    putf(o, "</dd>\n<dt>Status</dt><dd><strong class=\"%s\">", open ? "bad" : "good");
    escs(o, qcol(q, QUA_STATUS));
    put(o, "</strong></dd>\n<dt>First seen</dt><dd>");
    put_time(o, qcol(q, QUA_FIRST_SEEN), now);
    put(o, "</dd>\n<dt>Last seen</dt><dd>");
    put_time(o, qcol(q, QUA_LAST_SEEN), now);
    put(o, "</dd>\n<dt>Times seen</dt><dd>");
    escs(o, qcol(q, QUA_TIMES));
    put(o, "</dd>\n<dt>Reconciliation key</dt><dd><code class=\"hash\">");
    escs(o, qcol(q, QUA_RECON));
    put(o, "</code></dd>\n<dt>Request</dt><dd><code>");
    escs(o, qcol(q, QUA_REQUEST_ID));
    put(o, "</code></dd>\n<dt>Cycle</dt><dd><code>");
    escs(o, qcol(q, QUA_CYCLE));
    put(o, "</code></dd>\n<dt>Contract</dt><dd><code class=\"hash\">");
    escs(o, qcol(q, QUA_CONTRACT_HASH));
    put(o, "</code>");
    if (src)
        put(o, strcmp(src->contract_hash, qcol(q, QUA_CONTRACT_HASH))
                   ? " <span class=\"muted\">(the source's contract has changed since)</span>"
                   : " <span class=\"muted\">(the source's current contract)</span>");
    put(o, "</dd>\n");
    if (open && src) {
        if (replay_run(ctx->cfg, ctx->st, &id, 1, NULL, 1, "ui", "", NULL, verdict_cb, &vd, &(replay_report){0},
                       &e) == CUST_OK &&
            vd.seen) {
            put(o, "<dt>Under the current contract</dt><dd>");
            if (vd.passed) {
                put(o, "<span class=\"good\">passes</span>: a replay would ingest it");
            } else {
                put(o, "<span class=\"bad\">still fails</span> (");
                escs(o, vd.errors);
                put(o, ")");
            }
            put(o, "</dd>\n");
        }
        err_clear(&e);
    }
    put(o, "</dl>\n");

    put(o, "<div class=\"side\">\n<section aria-labelledby=\"raw-h\">\n<h2 id=\"raw-h\">Raw payload as received</h2>\n");
    put_payload(o, q->col[QUA_RAW] ? q->col[QUA_RAW] : "", q->len[QUA_RAW]);
    put(o, "</section>\n<section aria-labelledby=\"err-h\">\n<h2 id=\"err-h\">Errors</h2>\n");
    put_errors(o, qcol(q, QUA_ERRORS), q->len[QUA_ERRORS]);
    put(o, "</section>\n</div>\n");

    if (open) {
        put(o, "<section aria-labelledby=\"act-h\">\n<h2 id=\"act-h\">Act on this entry</h2>\n<div class=\"forms\">\n");
        put_form(o, s, id, "resolve", "Resolve", "Close the entry without ingesting it (for example: the upstream "
                 "corrected it, or it is a known duplicate).", "Resolve entry", fs);
        put_form(o, s, id, "replay", "Replay", "Validate the raw bytes again under the current contract and ingest "
                 "the record if it passes now; if it still fails, nothing changes.", "Replay entry", fs);
        put(o, "</div>\n</section>\n");
    }

    put(o, "<section aria-labelledby=\"aud-h\">\n<h2 id=\"aud-h\">Audit entries naming this entry</h2>\n");
    ar.qid = id;
    if (aring_load(ctx, &ar, AUDIT_RELATED, &e)) {
        put(o, "<p class=\"problem\">Could not read the audit log: ");
        escs(o, e.msg);
        put(o, "</p>\n");
    } else if (!ar.n) {
        put(o, "<p>None.</p>\n");
    } else {
        const char *mark = !strcmp(done, "resolved") ? "quarantine.resolve"
                           : !strcmp(done, "replayed") ? "quarantine.replay" : NULL;
        size_t marked = (size_t)-1;
        for (size_t i = 0; mark && i < ar.n; i++)
            if (!strcmp(aring_at(&ar, i)->col[AUD_ACTION], mark))
                marked = i;
        putf(o, "<div class=\"scroll\"><table>\n<caption>%s%ld entr%s, oldest first</caption>\n<thead><tr>"
                "<th scope=\"col\">Seq</th><th scope=\"col\">Time</th><th scope=\"col\">Actor</th>"
                "<th scope=\"col\">Action</th><th scope=\"col\">Detail</th></tr></thead>\n<tbody>\n",
             ar.matched > (long)ar.n ? "The latest of " : "", ar.matched, ar.matched == 1 ? "y" : "ies");
        for (size_t i = 0; i < ar.n; i++) {
            const arow *a = aring_at(&ar, i);
            put(o, i == marked ? "<tr class=\"new\">" : "<tr>");
            put(o, "<th scope=\"row\">");
            escs(o, a->col[AUD_SEQ]);
            put(o, "</th><td>");
            escs(o, a->col[AUD_TIME]);
            put(o, "</td><td>");
            escs(o, a->col[AUD_ACTOR]);
            put(o, "</td><td>");
            escs(o, a->col[AUD_ACTION]);
            if (i == marked)
                put(o, " <strong>(just written)</strong>");
            put(o, "</td><td><code>");
            escs(o, a->col[AUD_DETAIL]);
            put(o, "</code></td></tr>\n");
        }
        put(o, "</tbody>\n</table></div>\n");
    }
    aring_release(&ar);
    put(o, "</section>\n<p><a href=\"/quarantine\">Back to the quarantine</a></p>\n");
    page_foot(o, ctx);
}

static void login_redirect(ui_response *rs, const char *path)
{
    rs->status = 303;
    snprintf(rs->location, sizeof rs->location, "/login?next=%s", path);
}

static void page_entry(const ui_ctx *ctx, const ui_request *rq, const session *s, ui_response *rs, out *o,
                       int64_t id)
{
    qentry q;
    struct err e = {0};
    if (!token_set(ctx)) {
        msg_page(ctx, s, rs, o, 403, "Payloads need a login", NO_TOKEN, "/quarantine", "Back to the quarantine");
        return;
    }
    if (!s) {
        /* raw payloads may hold personal data: only for the operator */
        login_redirect(rs, rq->path);
        put(o, "Log in to see this entry.\n");
        return;
    }
    if (qentry_load(ctx, id, &q, &e)) {
        msg_page(ctx, s, rs, o, 500, "Store error", e.msg, "/quarantine", "Back to the quarantine");
    } else if (!q.found) {
        msg_page(ctx, s, rs, o, 404, "No such entry", "There is no quarantine entry with that ID.", "/quarantine",
                 "Back to the quarantine");
    } else {
        render_entry(ctx, rq, s, rs, o, &q, id, NULL);
    }
    qentry_release(&q);
}

static void page_audit(const ui_ctx *ctx, const ui_request *rq, const session *s, ui_response *rs, out *o)
{
    char action[64] = "", source[256] = "";
    size_t ql = rq->query ? strlen(rq->query) : 0;
    aring ar = {0};
    struct err e = {0};
    if (!s) {
        if (!token_set(ctx))
            msg_page(ctx, s, rs, o, 403, "The audit log needs a login", NO_TOKEN, "/", "Back to the status page");
        else
            login_redirect(rs, "/audit");
        return;
    }
    if (form_get(rq->query, ql, "action", action, sizeof action) == 1 && action[0])
        ar.action = action;
    if (form_get(rq->query, ql, "source", source, sizeof source) == 1 && source[0])
        ar.source = source;
    page_head(o, "Audit log", "audit", s);
    put(o, "<form method=\"get\" action=\"/audit\" class=\"filter\">\n<label for=\"action\">Action</label>\n"
           "<input id=\"action\" name=\"action\" type=\"text\" value=\"");
    escs(o, action);
    put(o, "\" placeholder=\"quarantine.resolve\">\n<label for=\"asource\">Source</label>\n"
           "<input id=\"asource\" name=\"source\" type=\"text\" value=\"");
    escs(o, source);
    put(o, "\">\n<button type=\"submit\">Show</button>\n</form>\n");
    if (aring_load(ctx, &ar, AUDIT_PAGE, &e)) {
        put(o, "<p class=\"problem\">Could not read the audit log: ");
        escs(o, e.msg);
        put(o, "</p>\n");
    } else {
        putf(o, "<div class=\"scroll\"><table>\n<caption>The latest %zu of %ld matching entries, newest first"
                "</caption>\n<thead><tr><th scope=\"col\">Seq</th><th scope=\"col\">Time</th><th scope=\"col\">Actor"
                "</th><th scope=\"col\">Action</th><th scope=\"col\">Source</th><th scope=\"col\">Subject</th>"
                "<th scope=\"col\">Detail</th><th scope=\"col\">Cycle</th></tr></thead>\n<tbody>\n", ar.n, ar.matched);
        for (size_t i = ar.n; i-- > 0;) {
            const arow *a = aring_at(&ar, i);
            static const int cols[] = {AUD_TIME, AUD_ACTOR, AUD_ACTION, AUD_SOURCE, AUD_SUBJECT, AUD_DETAIL,
                                       AUD_CYCLE};
            put(o, "<tr><th scope=\"row\">");
            escs(o, a->col[AUD_SEQ]);
            put(o, "</th>");
            for (size_t k = 0; k < sizeof cols / sizeof cols[0]; k++) {
                put(o, cols[k] == AUD_DETAIL ? "<td><code>" : "<td>");
                escs(o, a->col[cols[k]]);
                put(o, cols[k] == AUD_DETAIL ? "</code></td>" : "</td>");
            }
            put(o, "</tr>\n");
        }
        put(o, "</tbody>\n</table></div>\n<p>The whole log: <code>custody audit export</code>; its proof: "
               "<code>custody audit verify</code>.</p>\n");
    }
    aring_release(&ar);
    page_foot(o, ctx);
}

static void page_login(const ui_ctx *ctx, const ui_request *rq, const session *s, ui_response *rs, out *o,
                       const char *problem, int status)
{
    char next[300] = "";
    if (form_get(rq->query, rq->query ? strlen(rq->query) : 0, "next", next, sizeof next) != 1 || !next_ok(next))
        if (form_get(rq->body, rq->body_len, "next", next, sizeof next) != 1 || !next_ok(next))
            next[0] = '\0';
    rs->status = status;
    page_head(o, "Log in", "login", s);
    if (!token_set(ctx)) {
        put(o, "<p class=\"problem\">");
        escs(o, NO_TOKEN);
        put(o, "</p>\n");
        page_foot(o, ctx);
        return;
    }
    if (s && !problem) {
        put(o, "<p>You are logged in.");
        if (next[0]) {
            put(o, " <a href=\"");
            escs(o, next);
            put(o, "\">Continue</a>.");
        }
        put(o, "</p>\n");
        page_foot(o, ctx);
        return;
    }
    if (problem) {
        put(o, "<div class=\"problem\" role=\"alert\"><p>");
        escs(o, problem);
        put(o, "</p></div>\n");
    }
    put(o, "<p>Reviewing payloads and acting on quarantine entries needs the operator token: the value of the "
           "environment variable that <code>serve.token_env</code> names.</p>\n"
           "<form method=\"post\" action=\"/login\">\n<input type=\"hidden\" name=\"next\" value=\"");
    escs(o, next);
    put(o, "\">\n<label for=\"token\">Operator token</label>\n<input id=\"token\" name=\"token\" type=\"password\" "
           "required autocomplete=\"current-password\"");
    if (problem)
        put(o, " aria-invalid=\"true\"");
    put(o, ">\n<button type=\"submit\">Log in</button>\n</form>\n");
    page_foot(o, ctx);
}

/* ---------------------------------------------------------------- actions */

static void set_cookie(ui_response *rs, const ui_request *rq, const char *value, long max_age)
{
    snprintf(rs->set_cookie, sizeof rs->set_cookie, "%s=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%ld%s",
             COOKIE_NAME, value, max_age, rq->secure ? "; Secure" : "");
}

static void do_login(const ui_ctx *ctx, const ui_request *rq, const session *s, ui_response *rs, out *o)
{
    char given[1024], next[300] = "";
    unsigned char a[32], b[32];
    int64_t now = now_of(ctx);
    session *ns;
    int ok;
    if (!token_set(ctx)) {
        page_login(ctx, rq, s, rs, o, NULL, 403);
        return;
    }
    if (!origin_ok(rq)) {
        msg_page(ctx, s, rs, o, 403, "Refused", "The request came from another site (its Origin is not this host).",
                 "/login", "Log in here");
        return;
    }
    if (!is_form(rq)) {
        msg_page(ctx, s, rs, o, 415, "Unsupported form", "Send the form as application/x-www-form-urlencoded.",
                 "/login", "Log in");
        return;
    }
    if (now - fail_window_ms > LOGIN_FAIL_WINDOW_MS) {
        fail_window_ms = now;
        fail_count = 0;
    }
    if (fail_count >= LOGIN_FAIL_MAX) {
        msg_page(ctx, s, rs, o, 429, "Too many attempts", "Too many wrong tokens in the last minute; wait a minute "
                 "and try again.", "/login", "Log in");
        return;
    }
    if (form_get(rq->body, rq->body_len, "token", given, sizeof given) != 1)
        given[0] = '\0';
    /* fixed-length digests: the comparison says nothing about lengths */
    sha256(given, strlen(given), a);
    sha256(ctx->token, strlen(ctx->token), b);
    ok = given[0] && !CRYPTO_memcmp(a, b, sizeof a);
    OPENSSL_cleanse(given, sizeof given);
    if (!ok) {
        fail_count++;
        page_login(ctx, rq, NULL, rs, o, "That is not the operator token.", 403);
        return;
    }
    if (!(ns = session_new(ctx))) {
        msg_page(ctx, s, rs, o, 500, "No session", "Could not draw random bytes for a session; try again.", "/login",
                 "Log in");
        return;
    }
    set_cookie(rs, rq, ns->id, (long)(SESSION_TTL_MS / 1000));
    if (form_get(rq->body, rq->body_len, "next", next, sizeof next) != 1 || !next_ok(next))
        snprintf(next, sizeof next, "/");
    rs->status = 303;
    snprintf(rs->location, sizeof rs->location, "%s", next);
    put(o, "Logged in.\n");
}

static void do_logout(const ui_ctx *ctx, const ui_request *rq, session *s, ui_response *rs, out *o)
{
    if (s && (!origin_ok(rq) || !is_form(rq) || !csrf_ok(s, rq))) {
        msg_page(ctx, s, rs, o, 403, "Refused", "That logout did not come from this site's form; use the Log out "
                 "button.", "/", "Back to the status page");
        return;
    }
    if (s)
        OPENSSL_cleanse(s, sizeof *s);
    set_cookie(rs, rq, "", 0);
    rs->status = 303;
    snprintf(rs->location, sizeof rs->location, "/");
    put(o, "Logged out.\n");
}

/* quarantine.resolve exactly as `custody quarantine resolve` writes it
 * (src/cmd/quarantine.c): the status change and its audit entry in one
 * transaction. The duplication belongs in engine/ eventually. */
static cust_code resolve_entry(const ui_ctx *ctx, int64_t id, const char *actor, const char *reason,
                               const char *now, struct err *e)
{
    store *st = ctx->st;
    buf d;
    store_audit a;
    cust_code rc;
    buf_init(&d, 1 << 20);
    if (buf_addf(&d, "{\"quarantine_id\":%lld,\"reason\":", (long long)id) ||
        json_write_string(&d, reason, strlen(reason)) || buf_addc(&d, '}')) {
        buf_release(&d);
        return err_set(e, CUST_ENOMEM, "out of memory");
    }
    a = (store_audit){now, actor, "quarantine.resolve", "", "", d.ptr, "operator"};
    if ((rc = st->ops->begin(st, e)))
        goto out;
    if ((rc = st->ops->quarantine_set_status(st, id, "resolved", actor, now, reason, e)) ||
        (rc = st->ops->audit_append(st, &a, NULL, e)) || (rc = st->ops->commit(st, e)))
        st->ops->rollback(st);
out:
    buf_release(&d);
    return rc;
}

/* replay_run records the actor but has no reason: the reason goes into a
 * quarantine.replay_request entry committed just before the replay. */
static cust_code replay_request(const ui_ctx *ctx, int64_t id, const char *source, const char *actor,
                                const char *reason, const char *now, struct err *e)
{
    store *st = ctx->st;
    buf d;
    store_audit a;
    cust_code rc;
    buf_init(&d, 1 << 20);
    if (buf_addf(&d, "{\"quarantine_id\":%lld,\"reason\":", (long long)id) ||
        json_write_string(&d, reason, strlen(reason)) || buf_addc(&d, '}')) {
        buf_release(&d);
        return err_set(e, CUST_ENOMEM, "out of memory");
    }
    a = (store_audit){now, actor, "quarantine.replay_request", source, "", d.ptr, "operator"};
    if ((rc = st->ops->begin(st, e)))
        goto out;
    if ((rc = st->ops->audit_append(st, &a, NULL, e)) || (rc = st->ops->commit(st, e)))
        st->ops->rollback(st);
out:
    buf_release(&d);
    return rc;
}

static void do_action(const ui_ctx *ctx, const ui_request *rq, const session *s, ui_response *rs, out *o,
                      int64_t id, const char *which)
{
    char back[64], actor_buf[4 * MAX_ACTOR + 8], reason_buf[4 * MAX_REASON + 8], now[32];
    char *actor = NULL, *reason = NULL;
    qentry q = {0};
    struct err e = {0};
    form_state fs = {0};
    int ra, rr;
    snprintf(back, sizeof back, "/quarantine/%lld", (long long)id);
    if (!token_set(ctx)) {
        msg_page(ctx, s, rs, o, 403, "Actions are turned off", NO_TOKEN, "/quarantine", "Back to the quarantine");
        return;
    }
    if (!origin_ok(rq)) {
        msg_page(ctx, s, rs, o, 403, "Refused", "The request came from another site (its Origin is not this host); "
                 "nothing was changed.", back, "Back to the entry");
        return;
    }
    if (!s) {
        msg_page(ctx, s, rs, o, 403, "Log in first", "Resolving and replaying need a login; nothing was changed.",
                 "/login", "Log in");
        return;
    }
    if (!is_form(rq)) {
        msg_page(ctx, s, rs, o, 415, "Unsupported form", "Send the form as application/x-www-form-urlencoded; "
                 "nothing was changed.", back, "Back to the entry");
        return;
    }
    if (rq->body_len > UI_MAX_BODY) {
        msg_page(ctx, s, rs, o, 413, "Form too large", "The form is larger than this page accepts; nothing was "
                 "changed.", back, "Back to the entry");
        return;
    }
    if (!csrf_ok(s, rq)) {
        msg_page(ctx, s, rs, o, 403, "Refused", "The form's security token is missing or stale (did you log in "
                 "again in another tab?). Reload the entry and submit again; nothing was changed.", back,
                 "Back to the entry");
        return;
    }
    if (qentry_load(ctx, id, &q, &e)) {
        msg_page(ctx, s, rs, o, 500, "Store error", e.msg, back, "Back to the entry");
        goto out;
    }
    if (!q.found) {
        msg_page(ctx, s, rs, o, 404, "No such entry", "There is no quarantine entry with that ID.", "/quarantine",
                 "Back to the quarantine");
        goto out;
    }
    fs.which = which;
    ra = form_get(rq->body, rq->body_len, "actor", actor_buf, sizeof actor_buf);
    rr = form_get(rq->body, rq->body_len, "reason", reason_buf, sizeof reason_buf);
    if (ra == 1) {
        fs.actor = actor = trim(actor_buf);
        if (!utf8_valid(actor))
            fs.actor = NULL, fs.actor_error = "The name is not valid UTF-8.";
        else if (!*actor)
            fs.actor_error = "Say who you are: the name goes into the audit entry.";
        else if (strlen(actor) > MAX_ACTOR)
            fs.actor_error = "The name is too long (128 bytes at most).";
        else
            for (const char *c = actor; *c; c++)
                if ((unsigned char)*c < 0x20 || *c == 0x7f) {
                    fs.actor_error = "The name has control characters.";
                    break;
                }
    } else {
        fs.actor_error = ra < 0 ? "The name is too long (128 bytes at most)."
                                : "Say who you are: the name goes into the audit entry.";
    }
    if (rr == 1) {
        fs.reason = reason = trim(reason_buf);
        if (!utf8_valid(reason))
            fs.reason = NULL, fs.reason_error = "The reason is not valid UTF-8.";
        else if (!*reason)
            fs.reason_error = "Give a reason: it goes into the audit entry.";
        else if (strlen(reason) > MAX_REASON)
            fs.reason_error = "The reason is too long (2000 bytes at most).";
    } else {
        fs.reason_error = rr < 0 ? "The reason is too long (2000 bytes at most)."
                                 : "Give a reason: it goes into the audit entry.";
    }
    if (fs.actor_error || fs.reason_error) {
        fs.problem = "Nothing was changed: the form needs a name and a reason.";
        rs->status = 400;
        render_entry(ctx, rq, s, rs, o, &q, id, &fs);
        goto out;
    }
    if (strcmp(qcol(&q, QUA_STATUS), "open")) {
        rs->status = 409;
        fs.problem = !strcmp(qcol(&q, QUA_STATUS), "resolved") ? "This entry is already resolved; nothing was changed."
                                                                : "This entry is already replayed; nothing was changed.";
        render_entry(ctx, rq, s, rs, o, &q, id, &fs);
        goto out;
    }
    fmt_audit_time(now_of(ctx), now);
    if (!strcmp(which, "resolve")) {
        if (resolve_entry(ctx, id, actor, reason, now, &e)) {
            rs->status = e.code == CUST_ESTORE && strstr(e.msg, "not open") ? 409 : 500;
            fs.problem = e.msg;
            render_entry(ctx, rq, s, rs, o, &q, id, &fs);
            goto out;
        }
    } else {
        verdict vd = {0};
        replay_report r;
        /* a dry run first: an entry that still fails is left alone, and
         * neither the request nor the replay is written */
        if (replay_run(ctx->cfg, ctx->st, &id, 1, NULL, 1, actor, now, NULL, verdict_cb, &vd, &r, &e)) {
            rs->status = e.code == CUST_ECONFIG ? 409 : 500;
            fs.problem = e.msg;
            render_entry(ctx, rq, s, rs, o, &q, id, &fs);
            goto out;
        }
        if (!vd.passed) {
            rs->status = 409;
            snprintf(e.msg, sizeof e.msg, "Entry %lld still fails under the current contract (%s); nothing was "
                     "changed. Fix the contract, reload, and replay again, or resolve it.", (long long)id,
                     vd.errors);
            fs.problem = e.msg;
            render_entry(ctx, rq, s, rs, o, &q, id, &fs);
            goto out;
        }
        if (replay_request(ctx, id, qcol(&q, QUA_SOURCE), actor, reason, now, &e) ||
            replay_run(ctx->cfg, ctx->st, &id, 1, NULL, 0, actor, now, ctx->signer, NULL, NULL, &r, &e)) {
            rs->status = 500;
            fs.problem = e.msg;
            render_entry(ctx, rq, s, rs, o, &q, id, &fs);
            goto out;
        }
    }
    rs->status = 303;
    snprintf(rs->location, sizeof rs->location, "/quarantine/%lld?done=%s", (long long)id,
             !strcmp(which, "resolve") ? "resolved" : "replayed");
    put(o, "Done.\n");
out:
    OPENSSL_cleanse(reason_buf, sizeof reason_buf);
    qentry_release(&q);
}

/* ------------------------------------------------------------ stylesheet */

static const char CSS[] =
    ":root{color-scheme:light dark;--fg:#1b1b1b;--bg:#fff;--muted:#595959;--line:#c8c8c8;--link:#0b57d0;"
    "--good:#0d652d;--bad:#b3261e;--hi:#fff4ce;--code:#f4f4f4}\n"
    "@media (prefers-color-scheme:dark){:root{--fg:#e8e8e8;--bg:#161616;--muted:#b0b0b0;--line:#4a4a4a;"
    "--link:#8ab4f8;--good:#81c995;--bad:#f28b82;--hi:#4a3f00;--code:#222}}\n"
    "*{box-sizing:border-box}\n"
    "body{margin:0;font:16px/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif;color:var(--fg);"
    "background:var(--bg)}\n"
    "a{color:var(--link)}\n"
    ":focus-visible{outline:3px solid var(--link);outline-offset:2px}\n"
    ".skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:1rem;background:var(--bg);padding:.5rem}\n"
    "header{border-bottom:1px solid var(--line);padding:.5rem 1rem}\n"
    "nav ul{list-style:none;display:flex;flex-wrap:wrap;gap:1.25rem;margin:0;padding:0;align-items:center}\n"
    "nav .end{margin-left:auto}\n"
    "nav a[aria-current]{font-weight:700;text-decoration-thickness:3px}\n"
    "main{padding:1rem;max-width:110rem}\n"
    "h1{font-size:1.6rem;margin:.5rem 0 1rem}h2{font-size:1.25rem;margin:1.5rem 0 .5rem}\n"
    ".scroll{overflow-x:auto}\n"
    "table{border-collapse:collapse;margin:.5rem 0}\n"
    "caption{text-align:left;color:var(--muted);padding:.25rem 0}\n"
    "th,td{border-bottom:1px solid var(--line);padding:.35rem .6rem;text-align:left;vertical-align:top}\n"
    "thead th{border-bottom:2px solid var(--fg)}\n"
    "td code,dd code{word-break:break-all}\n"
    ".hash{font-size:.85em}\n"
    ".muted{color:var(--muted)}.good{color:var(--good);font-weight:600}.bad{color:var(--bad);font-weight:600}\n"
    ".alerts{margin:0;padding-left:1rem}\n"
    ".spark{color:var(--fg);vertical-align:middle}\n"
    ".facts{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}.facts dt{font-weight:600}"
    ".facts dd{margin:0}\n"
    ".side{display:grid;grid-template-columns:repeat(auto-fit,minmax(22rem,1fr));gap:1rem}\n"
    ".side section{min-width:0}\n"
    "pre.payload{background:var(--code);border:1px solid var(--line);padding:.75rem;overflow:auto;max-height:40rem;"
    "white-space:pre-wrap;word-break:break-word}\n"
    ".forms{display:grid;grid-template-columns:repeat(auto-fit,minmax(20rem,1fr));gap:1rem}\n"
    "fieldset{border:1px solid var(--line);padding:.75rem 1rem}legend{font-weight:700;padding:0 .25rem}\n"
    "label{display:block;font-weight:600;margin-top:.5rem}\n"
    "input[type=text],input[type=password],textarea,select{font:inherit;width:100%;max-width:40rem;padding:.35rem;"
    "border:1px solid var(--muted);background:var(--bg);color:var(--fg)}\n"
    "button{font:inherit;margin-top:.75rem;padding:.35rem 1rem;cursor:pointer}\n"
    ".filter{display:flex;flex-wrap:wrap;gap:.5rem;align-items:end}.filter label{margin:0}"
    ".filter select,.filter input{width:auto}\n"
    "form.inline{display:inline}form.inline button{margin:0}\n"
    ".problem{color:var(--bad);font-weight:600}\n"
    "div.problem,div.done{border-left:4px solid currentColor;padding:.25rem 1rem;margin:1rem 0}\n"
    "div.done{color:var(--good)}\n"
    ".field-error{color:var(--bad);margin:.25rem 0}\n"
    "[aria-invalid=true]{border:2px solid var(--bad)}\n"
    "tr.new{background:var(--hi)}\n"
    "footer{color:var(--muted);padding:1rem;border-top:1px solid var(--line);font-size:.9rem}\n";

/* ----------------------------------------------------------------- routes */

int ui_owns(const char *method, const char *path)
{
    (void)method;
    if (!path)
        return 0;
    return !strcmp(path, "/") || !strcmp(path, "/quarantine") || !strncmp(path, "/quarantine/", 12) ||
           !strncmp(path, "/sources/", 9) || !strcmp(path, "/audit") || !strcmp(path, "/login") ||
           !strcmp(path, "/logout") || !strncmp(path, "/static/", 8);
}

int ui_writes(const ui_request *rq)
{
    const char *rest;
    if (!rq || !rq->method || !rq->path || strcmp(rq->method, "POST") || strncmp(rq->path, "/quarantine/", 12) ||
        parse_id(rq->path + 12, &rest) < 0)
        return 0;
    return !strcmp(rest, "/resolve") || !strcmp(rest, "/replay");
}

static void method_not_allowed(const ui_ctx *ctx, const session *s, ui_response *rs, out *o, const char *allow)
{
    set_header(rs, "Allow", allow);
    msg_page(ctx, s, rs, o, 405, "Method not allowed", "This address does not take that method.", "/",
             "Back to the status page");
}

void ui_handle(const ui_ctx *ctx, const ui_request *rq, ui_response *rs)
{
    out o = {&rs->body, 0};
    const char *m = rq->method ? rq->method : "", *path = rq->path ? rq->path : "/";
    int get = !strcmp(m, "GET") || !strcmp(m, "HEAD"), post = !strcmp(m, "POST");
    session *s;
    buf_reset(&rs->body);
    rs->status = 200;
    rs->location[0] = rs->set_cookie[0] = '\0';
    rs->nheaders = 0;
    snprintf(rs->content_type, sizeof rs->content_type, "text/html; charset=utf-8");
    add_header(rs, "Content-Security-Policy", CSP);
    add_header(rs, "X-Content-Type-Options", "nosniff");
    add_header(rs, "X-Frame-Options", "DENY");
    /* not no-referrer: under it browsers send "Origin: null" with a form's
     * POST, and the same-site check below refuses it */
    add_header(rs, "Referrer-Policy", "same-origin");
    add_header(rs, "Cache-Control", "no-store");

    if (!host_allowed(ctx, rq->host)) {
        msg_page(ctx, NULL, rs, &o, 403, "Unknown host", "This server answers to localhost, IP addresses and the "
                 "host names listed in its configuration only.", NULL, NULL);
        goto done;
    }
    s = session_find(ctx, rq);
    if (!strcmp(path, "/")) {
        if (get)
            page_status(ctx, s, rs, &o);
        else
            method_not_allowed(ctx, s, rs, &o, "GET, HEAD");
    } else if (!strcmp(path, "/static/ui.css")) {
        if (!get) {
            method_not_allowed(ctx, s, rs, &o, "GET, HEAD");
        } else {
            snprintf(rs->content_type, sizeof rs->content_type, "text/css; charset=utf-8");
            set_header(rs, "Cache-Control", "max-age=3600");
            putn(&o, CSS, sizeof CSS - 1);
        }
    } else if (!strcmp(path, "/login")) {
        if (get)
            page_login(ctx, rq, s, rs, &o, NULL, 200);
        else if (post)
            do_login(ctx, rq, s, rs, &o);
        else
            method_not_allowed(ctx, s, rs, &o, "GET, HEAD, POST");
    } else if (!strcmp(path, "/logout")) {
        if (post)
            do_logout(ctx, rq, s, rs, &o);
        else
            method_not_allowed(ctx, s, rs, &o, "POST");
    } else if (!strcmp(path, "/quarantine") || !strcmp(path, "/quarantine/")) {
        if (get)
            page_quarantine(ctx, rq, s, rs, &o);
        else
            method_not_allowed(ctx, s, rs, &o, "GET, HEAD");
    } else if (!strncmp(path, "/quarantine/", 12)) {
        const char *rest = NULL;
        int64_t id = parse_id(path + 12, &rest);
        if (id < 0) {
            msg_page(ctx, s, rs, &o, 404, "Not found", "Quarantine entries are addressed by their number, as in "
                     "/quarantine/12.", "/quarantine", "The quarantine");
        } else if (!*rest) {
            if (get)
                page_entry(ctx, rq, s, rs, &o, id);
            else
                method_not_allowed(ctx, s, rs, &o, "GET, HEAD");
        } else if (!strcmp(rest, "/resolve") || !strcmp(rest, "/replay")) {
            if (post)
                do_action(ctx, rq, s, rs, &o, id, rest + 1);
            else
                method_not_allowed(ctx, s, rs, &o, "POST");
        } else {
            msg_page(ctx, s, rs, &o, 404, "Not found", "There is no such page.", "/quarantine", "The quarantine");
        }
    } else if (!strncmp(path, "/sources/", 9)) {
        if (get)
            page_source(ctx, s, rs, &o, path + 9);
        else
            method_not_allowed(ctx, s, rs, &o, "GET, HEAD");
    } else if (!strcmp(path, "/audit")) {
        if (get)
            page_audit(ctx, rq, s, rs, &o);
        else
            method_not_allowed(ctx, s, rs, &o, "GET, HEAD");
    } else {
        msg_page(ctx, s, rs, &o, 404, "Not found", "There is no such page.", "/", "Back to the status page");
    }
done:
    if (o.failed) {
        buf_reset(&rs->body);
        rs->status = 500;
        rs->location[0] = '\0';
        snprintf(rs->content_type, sizeof rs->content_type, "text/plain; charset=utf-8");
        if (buf_adds(&rs->body, "custody: the page did not fit in memory or in the response's size limit; "
                                "try a narrower view (for example /quarantine?source=NAME).\n"))
            buf_reset(&rs->body);
    }
}
