/* auth.h - authentication schemes as a table, and a per-source session
 * that holds the secret (and an OAuth2 access token) only in memory, wiped
 * on free. Secrets leave here only inside the header line or query
 * parameter handed to the HTTP request; never in messages. */
#ifndef CUSTODY_AUTH_H
#define CUSTODY_AUTH_H

#include <stdint.h>
#include "core/buf.h"
#include "core/err.h"
#include "io/http.h"

/* The auth block of a source's config (filled by the option table). */
typedef struct auth_cfg {
    char *type;         /* none, bearer, basic, api_key, header, oauth2 */
    char *token_env;    /* environment variable holding the secret */
    char *token_file;   /* file holding the secret */
    char *username;     /* basic */
    char *header;       /* api_key / header: header name */
    char *param;        /* api_key: query parameter name (instead of a header) */
    char *token_url;    /* oauth2 token endpoint */
    char *client_id;    /* oauth2 */
    char *scope;        /* oauth2, optional */
    long refresh_before_ms; /* oauth2: renew this long before expiry */
    int line;
} auth_cfg;

typedef struct auth_scheme {
    const char *name;
    int needs_secret;
    const char *help;
} auth_scheme;

const auth_scheme *auth_lookup(const char *name); /* NULL if unknown */
/* Comma-separated scheme names, for messages and docs. */
const char *auth_names(void);
/* A config-time check of the scheme's own settings; CUST_ECONFIG with a
 * message (without file:line; the caller prefixes) when inconsistent. */
cust_code auth_check(const auth_cfg *cfg, struct err *e) CUST_WUR;

typedef struct auth_session auth_session;

/* Start a session; copies secret (may be NULL for none). NULL on ENOMEM. */
auth_session *auth_session_new(const auth_cfg *cfg, const char *secret);
void auth_session_free(auth_session *s); /* wipes; NULL is a no-op */

/* What one request carries. */
typedef struct auth_apply_out {
    int token_fetched;        /* an OAuth2 token request was made */
    long token_status;        /* its HTTP status */
    double token_seconds;
} auth_apply_out;

/* Append the credential for one request: a header line ("Name: value",
 * no CRLF) to header, and/or a "name=value" query parameter (percent-
 * encoded) to query. For oauth2 this fetches a token first when none is
 * held or it expires within refresh_before (through http with tmpl's
 * timeouts/TLS/proxy). On failure returns CUST_EUPSTREAM/CUST_EHTTP with a
 * message that never holds the secret. */
cust_code auth_apply(auth_session *s, http_client *http, const http_request *tmpl, int64_t now_ms,
                     buf *header, buf *query, auth_apply_out *out, struct err *e) CUST_WUR;

/* The upstream refused the credential (401): drop a cached OAuth2 token
 * so the next auth_apply fetches a fresh one. Returns 1 when there was a
 * token to drop (a retry can help), 0 otherwise. */
int auth_invalidate(auth_session *s);

/* Overwrite a buffer that held a secret before releasing it. */
void auth_wipe(buf *b);

#endif
