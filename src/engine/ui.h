/* ui.h - the operator's status page and quarantine review, served by the
 * daemon's HTTP server (engine/serve.c) under "/": server-rendered HTML,
 * no JavaScript needed, no build step, accessible (semantic tables, labels,
 * headings, contrast). Actions (resolve, replay) are POST forms behind the
 * operator token (serve.token_env) with a CSRF token; every action is
 * audited with the actor and the reason.
 *
 * serve.c owns the sockets; this module turns one request into one
 * response. It reads the store with st->ops and, for POST actions, writes
 * through it (serve.c calls ui_handle for a POST inside a daemon task, so
 * the writes go through the daemon's one writer; GETs are read-only). */
#ifndef CUSTODY_UI_H
#define CUSTODY_UI_H

#include <stddef.h>
#include <stdint.h>
#include "config.h"
#include "core/buf.h"
#include "io/store.h"

struct sign_key;

/* What the daemon knows beyond the store, for the page. */
typedef struct ui_source_live {
    const char *name;
    int64_t due_ms;              /* next due, -1 unknown */
    int running;
    const double *ratios;        /* recent cycles' rejection ratios, oldest first (sparkline) */
    size_t nratios;
} ui_source_live;

typedef struct ui_ctx {
    const config *cfg;
    store *st;
    const char *token;           /* the operator token; NULL or "": actions are refused (read-only page) */
    const char *actor_default;   /* when the form leaves the actor empty: never; the form requires it */
    const struct sign_key *signer;
    const ui_source_live *live;  /* may be NULL */
    size_t nlive;
    int64_t now_ms;
    const char *last_verify;     /* "passed at T", "FAILED at T: ...", or NULL: not run by this daemon */
    /* Added for ui.c: host names (comma-separated) the Host header may name
     * besides "localhost" and IP literals, e.g. "custody.internal"; NULL or
     * "": none. A request naming another host is refused (403): the page is
     * unauthenticated on loopback, and a DNS-rebinding page would otherwise
     * read it under its own name. */
    const char *hosts;
} ui_ctx;

typedef struct ui_request {
    const char *method;          /* "GET" or "POST" */
    const char *path;            /* "/", "/quarantine/12", ... (no query string) */
    const char *query;           /* raw query string or NULL */
    const char *cookie;          /* the Cookie header or NULL */
    const char *origin;          /* the Origin header or NULL */
    const char *host;            /* the Host header or NULL */
    const char *content_type;    /* of a POST */
    const char *body;            /* POST body (application/x-www-form-urlencoded), NUL-terminated */
    size_t body_len;
    int secure;                  /* added: the connection is TLS, so cookies are sent with Secure */
} ui_request;

/* Added: one response header serve.c sends as given. */
typedef struct ui_header {
    char name[48];
    char value[256];
} ui_header;
#define UI_MAX_HEADERS 8

typedef struct ui_response {
    int status;                  /* 200, 303, 400, 403, 404, 405, 409, 413, 415, 429, 500 */
    buf body;                    /* HTML (or text for errors); caller inits/releases */
    char content_type[64];       /* "text/html; charset=utf-8" */
    char location[512];          /* for 303 */
    char set_cookie[512];        /* "" when none */
    /* Added: further headers to send with every response (ui_handle fills
     * them: Content-Security-Policy, X-Content-Type-Options,
     * Referrer-Policy, Cache-Control, X-Frame-Options; Allow on a 405). */
    ui_header headers[UI_MAX_HEADERS];
    size_t nheaders;
} ui_response;

/* Does path belong to the UI (GET /, /sources/..., /quarantine..., /audit,
 * /login, /logout, /static/...)? */
int ui_owns(const char *method, const char *path);
/* Does this request write (so serve.c runs it inside a task)? */
int ui_writes(const ui_request *rq);

/* Handle one request. Never fails: errors become a 4xx/5xx page that says
 * what went wrong and what to do. */
void ui_handle(const ui_ctx *ctx, const ui_request *rq, ui_response *rs);

/* Added: the largest POST body ui_handle reads; serve.c should refuse a
 * larger one (413) before buffering it. */
#define UI_MAX_BODY (64u * 1024u)

/* Added: forget every login session (tests; the sessions live in a small
 * static table of ui.c). A changed token needs no call: a session only
 * holds under the token it was opened with. */
void ui_sessions_clear(void);

#endif
