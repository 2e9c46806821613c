/* test_ui.c - the status page and quarantine review, driven through
 * ui_handle against a temporary SQLite store with a fixed clock: every
 * source is rendered; payloads need a login; the login checks the token
 * and sets a strict cookie; resolve/replay need the session, the CSRF
 * field and a same-site Origin, and are audited with the actor and the
 * reason; hostile payloads, reasons and names come out escaped; the store
 * still verifies afterwards. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/jcs.h"
#include "engine/config.h"
#include "engine/ui.h"
#include "engine/verify.h"
#include "io/store.h"

static const char cfg_text[] =
    "store: sqlite:ui.db\n"
    "sources:\n"
    "  - name: alpha\n"
    "    request: { url: http://127.0.0.1:9/a }\n"
    "    contract: c\n"
    "  - name: beta\n"
    "    request: { url: http://127.0.0.1:9/b }\n"
    "    contract: c\n"
    "    incremental: { param: updated_after, field: updated_at }\n"
    "contracts:\n"
    "  c:\n"
    "    key: [id]\n"
    "    fields:\n"
    "      id: { type: string, required: true }\n"
    "      n: { type: number, required: true }\n";

#define NOW_MS 1767323045000LL /* 2026-01-02T03:04:05Z */
#define TOKEN "correct horse battery staple 0123456789"

static ui_ctx ctx;
static ui_response rs;

/* One request; the response lands in rs. */
static void req(const char *method, const char *path, const char *query, const char *cookie, const char *origin,
                const char *host, const char *body)
{
    ui_request rq = {0};
    rq.method = method;
    rq.path = path;
    rq.query = query;
    rq.cookie = cookie;
    rq.origin = origin;
    rq.host = host ? host : "127.0.0.1:8080";
    rq.content_type = body ? "application/x-www-form-urlencoded" : NULL;
    rq.body = body;
    rq.body_len = body ? strlen(body) : 0;
    ui_handle(&ctx, &rq, &rs);
}

static const char *body(void)
{
    return buf_str(&rs.body);
}

static int has(const char *s)
{
    return strstr(body(), s) != NULL;
}

static const char *header(const char *name)
{
    for (size_t i = 0; i < rs.nheaders; i++)
        if (!strcmp(rs.headers[i].name, name))
            return rs.headers[i].value;
    return NULL;
}

/* application/x-www-form-urlencoded */
static void enc(char *out, size_t n, const char *s)
{
    size_t w = strlen(out);
    for (; *s && w + 4 < n; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
            c == '.')
            out[w++] = (char)c;
        else if (c == ' ')
            out[w++] = '+';
        else
            w += (size_t)snprintf(out + w, n - w, "%%%02X", c);
    }
    out[w] = '\0';
}

static void form(char *out, size_t n, const char *csrf, const char *actor, const char *reason)
{
    out[0] = '\0';
    if (csrf) {
        snprintf(out, n, "csrf=");
        enc(out, n, csrf);
    }
    if (actor) {
        snprintf(out + strlen(out), n - strlen(out), "%sactor=", out[0] ? "&" : "");
        enc(out, n, actor);
    }
    if (reason) {
        snprintf(out + strlen(out), n - strlen(out), "%sreason=", out[0] ? "&" : "");
        enc(out, n, reason);
    }
}

/* Log in; the Cookie header to send afterwards goes to cookie. */
static void login(char *cookie, size_t n)
{
    char b[256] = "token=";
    const char *v, *end;
    enc(b, sizeof b, TOKEN);
    req("POST", "/login", NULL, NULL, "http://127.0.0.1:8080", NULL, b);
    CHECK_INT(rs.status, 303);
    v = strstr(rs.set_cookie, "custody_session=");
    cookie[0] = '\0';
    if (v) {
        end = strchr(v, ';');
        snprintf(cookie, n, "theme=dark; %.*s", (int)(end ? end - v : (long)strlen(v)), v);
    }
}

/* The CSRF field of the page in rs. */
static void csrf_of(char out[65])
{
    const char *p = strstr(body(), "name=\"csrf\" value=\"");
    out[0] = '\0';
    if (p)
        snprintf(out, 65, "%.64s", p + strlen("name=\"csrf\" value=\""));
}

struct qrow {
    char status[16];
    int n;
};
static int qrow_cb(void *ud, const store_row *r)
{
    struct qrow *q = ud;
    snprintf(q->status, sizeof q->status, "%.*s", (int)r->lens[QUA_STATUS], r->cols[QUA_STATUS]);
    q->n++;
    return 0;
}

static const char *qstatus(int64_t id)
{
    static struct qrow q;
    struct err e = {0};
    memset(&q, 0, sizeof q);
    CHECK_INT(ctx.st->ops->quarantine_list(ctx.st, NULL, id, qrow_cb, &q, &e), CUST_OK);
    return q.status;
}

/* Audit entries of one action: how many, and the last one's actor and detail. */
struct arows {
    const char *action;
    int n;
    long total;
    char actor[256], detail[4096], source[64];
};
static int arow_cb(void *ud, const store_row *r)
{
    struct arows *a = ud;
    a->total++;
    if (r->lens[AUD_ACTION] == strlen(a->action) && !memcmp(r->cols[AUD_ACTION], a->action, r->lens[AUD_ACTION])) {
        a->n++;
        snprintf(a->actor, sizeof a->actor, "%.*s", (int)r->lens[AUD_ACTOR], r->cols[AUD_ACTOR]);
        snprintf(a->detail, sizeof a->detail, "%.*s", (int)r->lens[AUD_DETAIL], r->cols[AUD_DETAIL]);
        snprintf(a->source, sizeof a->source, "%.*s", (int)r->lens[AUD_SOURCE], r->cols[AUD_SOURCE]);
    }
    return 0;
}

static struct arows audit_of(const char *action)
{
    struct arows a;
    struct err e = {0};
    memset(&a, 0, sizeof a);
    a.action = action;
    CHECK_INT(ctx.st->ops->audit_list(ctx.st, arow_cb, &a, &e), CUST_OK);
    return a;
}

static int count_records(const char *source)
{
    struct qrow q = {{0}, 0};
    struct err e = {0};
    CHECK_INT(ctx.st->ops->records_list(ctx.st, source, NULL, 0, qrow_cb, &q, &e), CUST_OK);
    return q.n;
}

static void reject(store *s, const char *source, const char *raw, const char *errors, int64_t want_id)
{
    char recon[65], raw_hash[65], errors_hash[65], detail[512];
    store_outcome out;
    int64_t id = 0;
    struct err e = {0};
    store_reject r;
    jcs_sha256_hex(raw, strlen(raw), recon); /* stands in for the JCS form's hash */
    jcs_sha256_hex(raw, strlen(raw), raw_hash);
    jcs_sha256_hex(errors, strlen(errors), errors_hash);
    r = (store_reject){source, recon, raw, strlen(raw), errors, "2026-01-01T10:00:00.000Z", "req-1", "cyc-1", "old"};
    CHECK_INT(s->ops->reject_put(s, &r, &out, &id, &e), CUST_OK);
    CHECK_INT(id, want_id);
    /* as poll.c writes it, so that verify_store holds at the end */
    snprintf(detail, sizeof detail, "{\"contract\":\"old\",\"errors\":1,\"errors_hash\":\"%s\",\"quarantine_id\":%lld,"
             "\"raw_hash\":\"%s\",\"request\":\"req-1\"}", errors_hash, (long long)id, raw_hash);
    {
        store_audit a = {"2026-01-01T10:00:00.000Z", "poller", "record.rejected", source, recon, detail, "cyc-1"};
        CHECK_INT(s->ops->audit_append(s, &a, NULL, &e), CUST_OK);
    }
}

static const char HOSTILE_RAW[] = "{\"id\":\"x1\",\"n\":\"<script>alert(\\\"pwn\\\")</script>'\"}";

static void seed(store *s)
{
    struct err e = {0};
    int64_t size;
    char root[65];
    CHECK_INT(s->ops->begin(s, &e), CUST_OK);
    reject(s, "alpha", HOSTILE_RAW,
           "[{\"code\":\"type\",\"message\":\"expected a number <b>here</b>\",\"path\":\"$.n\","
           "\"value\":\"<script>alert(\\\"pwn\\\")</script>'\"}]", 1);
    reject(s, "alpha", "{\"id\":\"x2\",\"n\":5}",
           "[{\"code\":\"required\",\"message\":\"missing (an older contract)\",\"path\":\"$.m\",\"value\":null}]", 2);
    reject(s, "beta", "{\"id\":\"x3\"}",
           "[{\"code\":\"required\",\"message\":\"missing\",\"path\":\"$.n\",\"value\":null}]", 3);
    reject(s, "alpha", "{\"id\":\"x4\"}",
           "[{\"code\":\"required\",\"message\":\"missing\",\"path\":\"$.n\",\"value\":null}]", 4);
    CHECK_INT(s->ops->source_set_result(s, "alpha", "2026-01-02T03:00:00.000Z", "ok", &e), CUST_OK);
    CHECK_INT(s->ops->kv_put(s, "alpha", "last_summary", "{\"fetched\":40,\"rejection_ratio\":0.1}", &e), CUST_OK);
    CHECK_INT(s->ops->kv_put(s, "alpha", "last_ok_at", "2026-01-02T03:00:00.000Z", &e), CUST_OK);
    CHECK_INT(s->ops->kv_put(s, "alpha", "alert.rejection_ratio",
                             "{\"detail\":\"10% of <40> records\",\"since\":\"2026-01-02T03:00:00.000Z\"}", &e),
              CUST_OK);
    CHECK_INT(s->ops->source_set_result(s, "beta", "2026-01-02T02:00:00.000Z", "upstream", &e), CUST_OK);
    CHECK_INT(s->ops->kv_put(s, "beta", "breaker", "open 5 1767320000000", &e), CUST_OK);
    CHECK_INT(s->ops->kv_put(s, "beta", "watermark", "2026-01-01T03:04:05Z", &e), CUST_OK);
    CHECK_INT(s->ops->checkpoint(s, "2026-01-01T10:00:00.000Z", NULL, &size, root, &e), CUST_OK);
    CHECK_INT(s->ops->commit(s, &e), CUST_OK);
    CHECK_INT(size, 4);
}

static void test_status_page(void)
{
    req("GET", "/", NULL, NULL, NULL, NULL, NULL);
    CHECK_INT(rs.status, 200);
    CHECK_STR(rs.content_type, "text/html; charset=utf-8");
    CHECK(header("Content-Security-Policy") && strstr(header("Content-Security-Policy"), "default-src 'none'"));
    CHECK_STR(header("X-Content-Type-Options"), "nosniff");
    /* no-referrer would make browsers send "Origin: null" with the forms */
    CHECK_STR(header("Referrer-Policy"), "same-origin");
    CHECK(has("<html lang=\"en\">"));
    CHECK(has("<a href=\"/sources/alpha\">alpha</a>"));
    CHECK(has("<a href=\"/sources/beta\">beta</a>"));
    CHECK(has("upstream"));                        /* beta's last result */
    CHECK(has("<span class=\"bad\">open</span>")); /* beta's breaker */
    CHECK(has("24h <span class=\"muted\">(watermark)</span>")); /* beta's lag from the watermark */
    CHECK(has("<td>4m</td>"));                     /* alpha's lag from last_ok_at */
    CHECK(has("rejection_ratio"));                 /* alpha's open alert */
    CHECK(has("10.0%"));                           /* alpha's last ratio */
    CHECK(has("<svg class=\"spark\""));
    CHECK(has("aria-label=\"Rejection ratio of the last 3 cycles, oldest first: 0.0%, 2.0%, 10.0%; alert limit 5.0%\""));
    CHECK(has("<title>Rejection ratio of the last 3 cycles"));
    CHECK(has("<strong>running</strong>"));
    CHECK(has("(in 60s)"));
    CHECK(has("no cycles yet")); /* beta has no live ratios */
    CHECK(has("<a href=\"/quarantine?source=alpha\">3 open</a>"));
    CHECK(has("4 open entries</a>"));
    CHECK(has("<dt>Tree size</dt><dd>4 entries</dd>"));
    CHECK(has("passed at 2026-01-02T03:00:00Z"));
    CHECK(has("href=\"/login\""));
    /* the alert's detail is only on the source page, escaped */
    req("GET", "/sources/alpha", NULL, NULL, NULL, NULL, NULL);
    CHECK_INT(rs.status, 200);
    CHECK(has("10% of &lt;40&gt; records"));
    CHECK(!has("<40>"));
    req("GET", "/sources/nope", NULL, NULL, NULL, NULL, NULL);
    CHECK_INT(rs.status, 404);
    req("GET", "/static/ui.css", NULL, NULL, NULL, NULL, NULL);
    CHECK_INT(rs.status, 200);
    CHECK_STR(rs.content_type, "text/css; charset=utf-8");
    req("DELETE", "/", NULL, NULL, NULL, NULL, NULL);
    CHECK_INT(rs.status, 405);
    CHECK_STR(header("Allow"), "GET, HEAD");
    req("GET", "/nothing", NULL, NULL, NULL, NULL, NULL);
    CHECK_INT(rs.status, 404);
}

static void test_hosts(void)
{
    req("GET", "/", NULL, NULL, NULL, "evil.example:8080", NULL);
    CHECK_INT(rs.status, 403);
    CHECK(!has("alpha"));
    req("GET", "/", NULL, NULL, NULL, "localhost:8080", NULL);
    CHECK_INT(rs.status, 200);
    req("GET", "/", NULL, NULL, NULL, "[::1]:8080", NULL);
    CHECK_INT(rs.status, 200);
    req("GET", "/", NULL, NULL, NULL, "custody.internal", NULL);
    CHECK_INT(rs.status, 403);
    ctx.hosts = "ops.example, custody.internal";
    req("GET", "/", NULL, NULL, NULL, "custody.internal:8080", NULL);
    CHECK_INT(rs.status, 200);
    ctx.hosts = NULL;
}

static void test_quarantine_list(void)
{
    req("GET", "/quarantine", NULL, NULL, NULL, NULL, NULL);
    CHECK_INT(rs.status, 200);
    CHECK(has("<a href=\"/quarantine/1\">1</a>"));
    CHECK(has("<a href=\"/quarantine/3\">3</a>"));
    CHECK(has("type at $.n"));
    CHECK(!has("<script>")); /* the list shows no payloads */
    req("GET", "/quarantine", "source=beta", NULL, NULL, NULL, NULL);
    CHECK_INT(rs.status, 200);
    CHECK(has("<a href=\"/quarantine/3\">3</a>"));
    CHECK(!has("<a href=\"/quarantine/1\">"));
    CHECK(has("<option value=\"beta\" selected>"));
    req("GET", "/quarantine", "source=%3Cscript%3E", NULL, NULL, NULL, NULL);
    CHECK_INT(rs.status, 200);
    CHECK(has("No open entries for &lt;script&gt;"));
    CHECK(!has("<script>"));
}

static void test_login(char *cookie, size_t n)
{
    char b[256];
    /* payloads need a login */
    req("GET", "/quarantine/1", NULL, NULL, NULL, NULL, NULL);
    CHECK_INT(rs.status, 303);
    CHECK_STR(rs.location, "/login?next=/quarantine/1");
    CHECK(!strstr(body(), "script"));
    req("GET", "/login", "next=/quarantine/1", NULL, NULL, NULL, NULL);
    CHECK_INT(rs.status, 200);
    CHECK(has("type=\"password\""));
    CHECK(has("<label for=\"token\">"));
    CHECK(has("name=\"next\" value=\"/quarantine/1\""));
    /* an off-site next is dropped */
    req("GET", "/login", "next=//evil.example/", NULL, NULL, NULL, NULL);
    CHECK(has("name=\"next\" value=\"\""));
    /* a wrong token */
    snprintf(b, sizeof b, "token=wrong&next=%%2Fquarantine%%2F1");
    req("POST", "/login", NULL, NULL, NULL, NULL, b);
    CHECK_INT(rs.status, 403);
    CHECK_STR(rs.set_cookie, "");
    CHECK(has("not the operator token"));
    /* a prefix of the right one */
    req("POST", "/login", NULL, NULL, NULL, NULL, "token=correct");
    CHECK_INT(rs.status, 403);
    CHECK_STR(rs.set_cookie, "");
    /* the right token from another site */
    b[0] = '\0';
    snprintf(b, sizeof b, "token=");
    enc(b, sizeof b, TOKEN);
    req("POST", "/login", NULL, NULL, "http://evil.example", NULL, b);
    CHECK_INT(rs.status, 403);
    CHECK_STR(rs.set_cookie, "");
    /* the right token, with next */
    snprintf(b + strlen(b), sizeof b - strlen(b), "&next=%%2Fquarantine%%2F1");
    req("POST", "/login", NULL, NULL, "http://127.0.0.1:8080", NULL, b);
    CHECK_INT(rs.status, 303);
    CHECK_STR(rs.location, "/quarantine/1");
    CHECK(strstr(rs.set_cookie, "custody_session=") == rs.set_cookie);
    CHECK(strstr(rs.set_cookie, "; HttpOnly") != NULL);
    CHECK(strstr(rs.set_cookie, "; SameSite=Strict") != NULL);
    CHECK(strstr(rs.set_cookie, "; Path=/") != NULL);
    CHECK(strstr(rs.set_cookie, "Secure") == NULL); /* plain HTTP on loopback */
    login(cookie, n);
    CHECK(strlen(cookie) > 64);
}

static void test_entry_page(const char *cookie, char csrf[65])
{
    req("GET", "/quarantine/1", NULL, cookie, NULL, NULL, NULL);
    CHECK_INT(rs.status, 200);
    /* the hostile payload, pretty-printed and escaped */
    CHECK(has("&quot;n&quot;: &quot;&lt;script&gt;alert(\\&quot;pwn\\&quot;)&lt;/script&gt;&#39;&quot;"));
    CHECK(has("expected a number &lt;b&gt;here&lt;/b&gt;"));
    CHECK(!has("<script>"));
    CHECK(!has("<b>here"));
    CHECK(has("Raw payload as received"));
    CHECK(has("<code>$.n</code>"));
    CHECK(has("<td><code>&lt;script&gt;alert(&quot;pwn&quot;)&lt;/script&gt;&#39;</code></td>")); /* the value */
    CHECK(has("the source's contract has changed since"));
    CHECK(has("still fails"));
    CHECK(has("action=\"/quarantine/1/resolve\""));
    CHECK(has("action=\"/quarantine/1/replay\""));
    CHECK(has("<label for=\"r-actor\">"));
    CHECK(has("<label for=\"p-reason\">"));
    CHECK(has("record.rejected")); /* its audit entry */
    csrf_of(csrf);
    CHECK_INT(strlen(csrf), 64);
    req("GET", "/quarantine/2", NULL, cookie, NULL, NULL, NULL);
    CHECK(has("a replay would ingest it"));
    req("GET", "/quarantine/99", NULL, cookie, NULL, NULL, NULL);
    CHECK_INT(rs.status, 404);
    req("GET", "/quarantine/abc", NULL, cookie, NULL, NULL, NULL);
    CHECK_INT(rs.status, 404);
    req("GET", "/quarantine/1", NULL, "custody_session=0000000000000000000000000000000000000000000000000000000000000000",
        NULL, NULL, NULL);
    CHECK_INT(rs.status, 303);
}

static void test_resolve(const char *cookie, const char *csrf)
{
    char b[2048], other_cookie[256], other_csrf[65];
    long before = audit_of("quarantine.resolve").total;
    /* no CSRF field */
    form(b, sizeof b, NULL, "Ada", "checked with the supplier");
    req("POST", "/quarantine/1/resolve", NULL, cookie, "http://127.0.0.1:8080", NULL, b);
    CHECK_INT(rs.status, 403);
    /* a wrong one */
    form(b, sizeof b, "0123456789012345678901234567890123456789012345678901234567890123", "Ada", "checked");
    req("POST", "/quarantine/1/resolve", NULL, cookie, "http://127.0.0.1:8080", NULL, b);
    CHECK_INT(rs.status, 403);
    /* another session's */
    login(other_cookie, sizeof other_cookie);
    req("GET", "/quarantine/1", NULL, other_cookie, NULL, NULL, NULL);
    csrf_of(other_csrf);
    CHECK(strcmp(other_csrf, csrf) != 0);
    form(b, sizeof b, other_csrf, "Ada", "checked");
    req("POST", "/quarantine/1/resolve", NULL, cookie, "http://127.0.0.1:8080", NULL, b);
    CHECK_INT(rs.status, 403);
    /* the right one from another origin */
    form(b, sizeof b, csrf, "Ada", "checked with the supplier");
    req("POST", "/quarantine/1/resolve", NULL, cookie, "http://evil.example", NULL, b);
    CHECK_INT(rs.status, 403);
    req("POST", "/quarantine/1/resolve", NULL, cookie, "null", NULL, b);
    CHECK_INT(rs.status, 403);
    /* no cookie */
    req("POST", "/quarantine/1/resolve", NULL, NULL, "http://127.0.0.1:8080", NULL, b);
    CHECK_INT(rs.status, 403);
    /* no reason: the form again, with the name kept (escaped) */
    form(b, sizeof b, csrf, "<img src=x onerror=alert(1)>", "   ");
    req("POST", "/quarantine/1/resolve", NULL, cookie, "http://127.0.0.1:8080", NULL, b);
    CHECK_INT(rs.status, 400);
    CHECK(has("aria-invalid=\"true\" aria-describedby=\"r-reason-err\""));
    CHECK(has("value=\"&lt;img src=x onerror=alert(1)&gt;\""));
    CHECK(!has("<img"));
    /* no name */
    form(b, sizeof b, csrf, "", "a reason");
    req("POST", "/quarantine/1/resolve", NULL, cookie, "http://127.0.0.1:8080", NULL, b);
    CHECK_INT(rs.status, 400);
    CHECK(has("aria-describedby=\"r-actor-err\""));
    CHECK_STR(qstatus(1), "open");
    CHECK_INT(audit_of("quarantine.resolve").total, before); /* nothing written so far */
    CHECK_INT(audit_of("quarantine.resolve").n, 0);
    /* at last: same origin (the port spelled out: no Origin header at all is fine too) */
    form(b, sizeof b, csrf, "Ada <img src=x onerror=alert(1)>", "duplicate of \"x1\" & <b>confirmed</b>");
    req("POST", "/quarantine/1/resolve", NULL, cookie, "http://127.0.0.1:8080", NULL, b);
    CHECK_INT(rs.status, 303);
    CHECK_STR(rs.location, "/quarantine/1?done=resolved");
    CHECK_STR(qstatus(1), "resolved");
    {
        struct arows a = audit_of("quarantine.resolve");
        CHECK_INT(a.n, 1);
        CHECK_STR(a.actor, "Ada <img src=x onerror=alert(1)>");
        CHECK_STR(a.detail, "{\"quarantine_id\":1,\"reason\":\"duplicate of \\\"x1\\\" & <b>confirmed</b>\"}");
    }
    /* the page it sends us to: the new status and the entry just written, escaped */
    req("GET", "/quarantine/1", "done=resolved", cookie, NULL, NULL, NULL);
    CHECK_INT(rs.status, 200);
    CHECK(has("Entry 1 resolved."));
    CHECK(has("<strong class=\"good\">resolved</strong>"));
    CHECK(has("<tr class=\"new\">"));
    CHECK(has("quarantine.resolve <strong>(just written)</strong>"));
    CHECK(has("Ada &lt;img src=x onerror=alert(1)&gt;"));
    CHECK(has("duplicate of \\&quot;x1\\&quot; &amp; &lt;b&gt;confirmed&lt;/b&gt;"));
    CHECK(!has("<img"));
    CHECK(!has("<b>confirmed"));
    CHECK(!has("action=\"/quarantine/1/resolve\"")); /* no forms on a closed entry */
    /* twice: refused, nothing written */
    req("POST", "/quarantine/1/resolve", NULL, cookie, NULL, NULL, b);
    CHECK_INT(rs.status, 409);
    CHECK_INT(audit_of("quarantine.resolve").n, 1);
    /* the list no longer shows it */
    req("GET", "/quarantine", NULL, NULL, NULL, NULL, NULL);
    CHECK(!has("<a href=\"/quarantine/1\">"));
}

static void test_replay(const char *cookie, const char *csrf)
{
    char b[1024];
    long total;
    CHECK_INT(count_records("alpha"), 0);
    /* an entry that still fails: 409, nothing written */
    total = audit_of("x").total;
    form(b, sizeof b, csrf, "Ada", "contract fixed");
    req("POST", "/quarantine/4/replay", NULL, cookie, "http://127.0.0.1:8080", NULL, b);
    CHECK_INT(rs.status, 409);
    CHECK(has("still fails under the current contract"));
    CHECK_INT(audit_of("x").total, total);
    CHECK_STR(qstatus(4), "open");
    /* one that passes under the current contract is ingested */
    form(b, sizeof b, csrf, "Grace", "contract v2 accepts n");
    req("POST", "/quarantine/2/replay", NULL, cookie, "http://127.0.0.1:8080", NULL, b);
    CHECK_INT(rs.status, 303);
    CHECK_STR(rs.location, "/quarantine/2?done=replayed");
    CHECK_STR(qstatus(2), "replayed");
    CHECK_INT(count_records("alpha"), 1);
    {
        struct arows a = audit_of("quarantine.replay"), q = audit_of("quarantine.replay_request"),
                     n = audit_of("record.new");
        CHECK_INT(a.n, 1);
        CHECK_STR(a.actor, "Grace");
        CHECK(strstr(a.detail, "\"quarantine_id\":2") != NULL);
        CHECK_INT(q.n, 1);
        CHECK_STR(q.actor, "Grace");
        CHECK_STR(q.source, "alpha");
        CHECK_STR(q.detail, "{\"quarantine_id\":2,\"reason\":\"contract v2 accepts n\"}");
        CHECK_INT(n.n, 1);
        CHECK(strstr(n.detail, "\"replayed_from\":2") != NULL);
    }
    req("GET", "/quarantine/2", "done=replayed", cookie, NULL, NULL, NULL);
    CHECK_INT(rs.status, 200);
    CHECK(has("Entry 2 replayed."));
    CHECK(has("quarantine.replay <strong>(just written)</strong>"));
    CHECK(has("quarantine.replay_request"));
    CHECK(has("record.new"));
    /* the audit page lists them (logged in only) */
    req("GET", "/audit", NULL, NULL, NULL, NULL, NULL);
    CHECK_INT(rs.status, 303);
    req("GET", "/audit", "action=quarantine.replay", cookie, NULL, NULL, NULL);
    CHECK_INT(rs.status, 200);
    CHECK(has("The latest 1 of 1 matching entries"));
}

static void test_logout_and_token(char *cookie, const char *csrf)
{
    char b[256];
    /* a changed token ends the sessions opened under the old one */
    ctx.token = "another token entirely";
    req("GET", "/quarantine/3", NULL, cookie, NULL, NULL, NULL);
    CHECK_INT(rs.status, 303);
    ctx.token = TOKEN;
    req("GET", "/quarantine/3", NULL, cookie, NULL, NULL, NULL);
    CHECK_INT(rs.status, 200);
    /* logout needs the form's token too */
    req("POST", "/logout", NULL, cookie, NULL, NULL, "csrf=nope");
    CHECK_INT(rs.status, 403);
    snprintf(b, sizeof b, "csrf=%s", csrf);
    req("POST", "/logout", NULL, cookie, "http://127.0.0.1:8080", NULL, b);
    CHECK_INT(rs.status, 303);
    CHECK(strstr(rs.set_cookie, "custody_session=;") == rs.set_cookie);
    CHECK(strstr(rs.set_cookie, "Max-Age=0") != NULL);
    req("GET", "/quarantine/3", NULL, cookie, NULL, NULL, NULL);
    CHECK_INT(rs.status, 303);
    /* no token configured: read-only, and the page says what to set */
    ctx.token = NULL;
    req("GET", "/", NULL, NULL, NULL, NULL, NULL);
    CHECK_INT(rs.status, 200);
    req("GET", "/login", NULL, NULL, NULL, NULL, NULL);
    CHECK(has("serve.token_env"));
    CHECK(!has("type=\"password\""));
    req("POST", "/quarantine/3/resolve", NULL, cookie, NULL, NULL, "actor=a&reason=b&csrf=c");
    CHECK_INT(rs.status, 403);
    CHECK(has("serve.token_env"));
    req("GET", "/quarantine/3", NULL, cookie, NULL, NULL, NULL);
    CHECK_INT(rs.status, 403);
    CHECK(has("serve.token_env"));
    req("POST", "/login", NULL, NULL, NULL, NULL, "token=");
    CHECK_INT(rs.status, 403);
    CHECK_STR(rs.set_cookie, "");
    ctx.token = "";
    req("POST", "/login", NULL, NULL, NULL, NULL, "token=");
    CHECK_INT(rs.status, 403);
    CHECK_STR(rs.set_cookie, "");
    ctx.token = TOKEN;
    CHECK_STR(qstatus(3), "open");
}

static void test_throttle(void)
{
    int last = 0;
    ui_sessions_clear();
    for (int i = 0; i < 12; i++) {
        req("POST", "/login", NULL, NULL, NULL, NULL, "token=guess");
        last = rs.status;
    }
    CHECK_INT(last, 429);
    {
        char b[256] = "token=";
        enc(b, sizeof b, TOKEN);
        req("POST", "/login", NULL, NULL, NULL, NULL, b);
        CHECK_INT(rs.status, 429); /* even the right one, for the rest of the minute */
        ctx.now_ms += 61000;
        req("POST", "/login", NULL, NULL, NULL, NULL, b);
        CHECK_INT(rs.status, 303);
        ctx.now_ms -= 61000;
    }
}

int main(void)
{
    char dir[] = "/tmp/custody-test-ui-XXXXXX", db[256], cmd[300], cookie[256], csrf[65] = "";
    config *cfg = NULL;
    store *s = NULL;
    struct err e = {0};
    static const double ratios[] = {0, 0.02, 0.1};
    ui_source_live live[] = {{"alpha", NOW_MS + 60000, 1, ratios, 3}, {"beta", -1, 0, NULL, 0}};
    verify_report vr;
    if (!mkdtemp(dir))
        return 1;
    snprintf(db, sizeof db, "%s/ui.db", dir);
    CHECK_INT(config_load_string(cfg_text, strlen(cfg_text), "ui.yaml", &cfg, &e), CUST_OK);
    if (!cfg) {
        fprintf(stderr, "%s\n", e.msg);
        return check_report("test_ui");
    }
    CHECK_INT(store_open(db, &s, &e), CUST_OK);
    if (!s) {
        fprintf(stderr, "%s\n", e.msg);
        config_free(cfg);
        return check_report("test_ui");
    }
    seed(s);
    ctx = (ui_ctx){cfg, s, TOKEN, NULL, NULL, live, 2, NOW_MS, "passed at 2026-01-02T03:00:00Z", NULL};
    buf_init(&rs.body, 8u << 20);

    test_status_page();
    test_hosts();
    test_quarantine_list();
    test_login(cookie, sizeof cookie);
    test_entry_page(cookie, csrf);
    test_resolve(cookie, csrf);
    test_replay(cookie, csrf);
    test_logout_and_token(cookie, csrf);
    test_throttle();

    /* what the page wrote keeps the log verifiable */
    memset(&vr, 0, sizeof vr);
    CHECK_INT(verify_store(s, NULL, &vr, &e), CUST_OK);
    if (e.code)
        fprintf(stderr, "verify: %s\n", e.msg);

    buf_release(&rs.body);
    ui_sessions_clear();
    store_close(s);
    config_free(cfg);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return check_report("test_ui");
}
