/* auth.c - the registered authentication schemes and the per-source
 * session (secret, cached OAuth2 client-credentials token). */
#include "auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/paginate.h"

static const auth_scheme schemes[] = {
    {"none", 0, "no credentials"},
    {"bearer", 1, "Authorization: Bearer <secret>"},
    {"basic", 1, "HTTP Basic: username + password (the secret)"},
    {"api_key", 1, "the secret in a header (header:, default X-API-Key) or a query parameter (param:)"},
    {"header", 1, "the secret as the value of a custom header (header:)"},
    {"oauth2", 1, "OAuth2 client credentials: token_url, client_id, the client secret; the access token "
                  "is cached and renewed before expiry and once on 401"},
};

const auth_scheme *auth_lookup(const char *name)
{
    for (size_t i = 0; i < sizeof schemes / sizeof *schemes; i++)
        if (strcmp(schemes[i].name, name) == 0)
            return &schemes[i];
    return NULL;
}

const char *auth_names(void)
{
    return "none, bearer, basic, api_key, header, oauth2";
}

static int header_name_ok(const char *h)
{
    /* RFC 9110 token characters */
    if (!h || !*h)
        return 0;
    for (const char *p = h; *p; p++)
        if (!strchr("!#$%&'*+-.^_`|~", *p) && !(*p >= '0' && *p <= '9') && !(*p >= 'a' && *p <= 'z') &&
            !(*p >= 'A' && *p <= 'Z'))
            return 0;
    return 1;
}

cust_code auth_check(const auth_cfg *c, struct err *e)
{
    const auth_scheme *s = auth_lookup(c->type);
    if (!s)
        return err_set(e, CUST_ECONFIG, "unknown auth type \"%s\"; use one of %s", c->type, auth_names());
    if (!s->needs_secret) {
        if (c->token_env || c->token_file)
            return err_set(e, CUST_ECONFIG, "type none sends no secret, but token_env/token_file is set; set the "
                           "type (e.g. bearer) or drop the reference");
        return CUST_OK;
    }
    if (!!c->token_env == !!c->token_file)
        return err_set(e, CUST_ECONFIG, "%s needs exactly one of token_env or token_file (secrets are given "
                       "by reference, never inline)", c->type);
    if (strcmp(c->type, "basic") == 0 && (!c->username || !*c->username || strchr(c->username, ':')))
        return err_set(e, CUST_ECONFIG, "basic needs username (without ':'); the password is the secret");
    if (strcmp(c->type, "header") == 0 && !header_name_ok(c->header))
        return err_set(e, CUST_ECONFIG, "header needs header: the name of the header that carries the secret");
    if (strcmp(c->type, "api_key") == 0) {
        if (c->header && c->param)
            return err_set(e, CUST_ECONFIG, "api_key goes in a header or a query parameter, not both: set "
                           "header or param");
        if (c->header && !header_name_ok(c->header))
            return err_set(e, CUST_ECONFIG, "\"%s\" is not a valid header name", c->header);
        if (c->param && !*c->param)
            return err_set(e, CUST_ECONFIG, "param is empty");
    }
    if (strcmp(c->type, "oauth2") == 0) {
        if (!c->token_url || (strncmp(c->token_url, "https://", 8) != 0 && strncmp(c->token_url, "http://", 7) != 0))
            return err_set(e, CUST_ECONFIG, "oauth2 needs token_url (http:// or https://)");
        if (!c->client_id || !*c->client_id)
            return err_set(e, CUST_ECONFIG, "oauth2 needs client_id; the client secret is the secret");
        if (c->refresh_before_ms < 0)
            return err_set(e, CUST_ECONFIG, "refresh_before must not be negative");
    }
    return CUST_OK;
}

struct auth_session {
    const auth_cfg *cfg;
    buf secret;
    buf token;          /* oauth2 access token */
    int64_t expires_ms; /* 0: no token */
};

auth_session *auth_session_new(const auth_cfg *cfg, const char *secret)
{
    auth_session *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->cfg = cfg;
    buf_init(&s->secret, 64 * 1024);
    buf_init(&s->token, 64 * 1024);
    if (secret && buf_adds(&s->secret, secret)) {
        auth_session_free(s);
        return NULL;
    }
    return s;
}

void auth_session_free(auth_session *s)
{
    if (!s)
        return;
    auth_wipe(&s->secret);
    auth_wipe(&s->token);
    free(s);
}

int auth_invalidate(auth_session *s)
{
    int had = s && s->expires_ms != 0;
    if (s) {
        if (s->token.ptr)
            OPENSSL_cleanse(s->token.ptr, s->token.len);
        buf_reset(&s->token);
        s->expires_ms = 0;
    }
    return had;
}

static cust_code fetch_token(auth_session *s, http_client *http, const http_request *tmpl, int64_t now_ms,
                             auth_apply_out *out, struct err *e)
{
    const auth_cfg *c = s->cfg;
    buf form;
    http_request rq = *tmpl;
    http_response resp;
    const char *hdrs[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
    json_doc *doc = NULL;
    json_value *v, *tok, *ttl;
    cust_code rc;
    buf_init(&form, 128 * 1024);
    http_response_init(&resp);
    resp.body.toobig = 1u << 20;
    if (buf_adds(&form, "grant_type=client_credentials&client_id=") || paginate_urlencode(&form, c->client_id) ||
        buf_adds(&form, "&client_secret=") || paginate_urlencode(&form, s->secret.ptr ? s->secret.ptr : "") ||
        (c->scope && (buf_adds(&form, "&scope=") || paginate_urlencode(&form, c->scope)))) {
        rc = err_set(e, CUST_ENOMEM, "oauth2 token request too large");
        goto done;
    }
    rq.method = "POST";
    rq.url = c->token_url;
    rq.headers = hdrs;
    rq.body = form.ptr;
    rq.body_len = form.len;
    rq.max_body = 1u << 20;
    rc = http_perform(http, &rq, &resp, e);
    out->token_fetched = 1;
    out->token_status = resp.status;
    out->token_seconds = resp.seconds;
    if (rc) {
        err_prefix(e, "oauth2 token request: ");
        goto done;
    }
    if (resp.status != 200) {
        rc = err_set(e, CUST_EUPSTREAM, "oauth2 token request to %s: HTTP %ld%s", c->token_url, resp.status,
                     resp.status == 400 || resp.status == 401 ? " (client_id or the client secret refused)" : "");
        goto done;
    }
    if (!(doc = json_doc_new())) {
        rc = err_set(e, CUST_ENOMEM, "out of memory");
        goto done;
    }
    v = json_parse(doc, resp.body.ptr ? resp.body.ptr : "", resp.body.len, NULL, NULL);
    tok = v ? json_get(v, "access_token") : NULL;
    ttl = v ? json_get(v, "expires_in") : NULL;
    if (!tok || tok->type != JSON_STRING || !tok->len || strpbrk(tok->u.str, "\r\n")) {
        rc = err_set(e, CUST_EUPSTREAM, "oauth2 token response from %s has no usable access_token", c->token_url);
        goto done;
    }
    auth_invalidate(s);
    if (buf_add(&s->token, tok->u.str, tok->len)) {
        rc = err_set(e, CUST_ELIMIT, "oauth2 access token too long");
        goto done;
    }
    {
        int ok = 0;
        double secs = ttl && ttl->type == JSON_NUMBER ? json_number(ttl, &ok) : 0;
        /* Without expires_in the token is used until a 401 says otherwise. */
        if (!ok || secs <= 0 || secs > 10 * 365 * 86400.0)
            secs = 10 * 365 * 86400.0;
        s->expires_ms = now_ms + (int64_t)(secs * 1000);
    }
    /* the token text inside the parsed response is wiped below */
done:
    if (resp.body.ptr)
        OPENSSL_cleanse(resp.body.ptr, resp.body.len);
    http_response_release(&resp);
    json_doc_free(doc);
    auth_wipe(&form);
    return rc;
}

static cust_code add_header(buf *h, const char *name, const char *value)
{
    return buf_adds(h, name) || buf_adds(h, ": ") || buf_adds(h, value) ? CUST_ENOMEM : CUST_OK;
}

cust_code auth_apply(auth_session *s, http_client *http, const http_request *tmpl, int64_t now_ms,
                     buf *header, buf *query, auth_apply_out *out, struct err *e)
{
    const auth_cfg *c = s->cfg;
    const char *sec = s->secret.ptr ? s->secret.ptr : "";
    cust_code rc;
    memset(out, 0, sizeof *out);
    if (strcmp(c->type, "none") == 0)
        return CUST_OK;
    if (strchr(sec, '\n') || strchr(sec, '\r'))
        return err_set(e, CUST_ECONFIG, "the secret contains a line break; a header cannot carry it");
    if (strcmp(c->type, "bearer") == 0) {
        rc = add_header(header, "Authorization", "Bearer ") || buf_adds(header, sec) ? CUST_ENOMEM : CUST_OK;
        /* add_header wrote "Authorization: Bearer " */
    } else if (strcmp(c->type, "basic") == 0) {
        buf raw;
        unsigned char *b64;
        size_t n;
        buf_init(&raw, 64 * 1024);
        if (buf_adds(&raw, c->username) || buf_addc(&raw, ':') || buf_adds(&raw, sec)) {
            auth_wipe(&raw);
            return err_set(e, CUST_ENOMEM, "credentials too long");
        }
        n = 4 * ((raw.len + 2) / 3) + 1;
        if (!(b64 = malloc(n))) {
            auth_wipe(&raw);
            return err_set(e, CUST_ENOMEM, "out of memory");
        }
        EVP_EncodeBlock(b64, (const unsigned char *)raw.ptr, (int)raw.len);
        rc = buf_adds(header, "Authorization: Basic ") || buf_adds(header, (char *)b64) ? CUST_ENOMEM : CUST_OK;
        OPENSSL_cleanse(b64, n);
        free(b64);
        auth_wipe(&raw);
    } else if (strcmp(c->type, "api_key") == 0) {
        if (c->param)
            rc = (query->len && buf_addc(query, '&')) || paginate_urlencode(query, c->param) ||
                         buf_addc(query, '=') || paginate_urlencode(query, sec)
                     ? CUST_ENOMEM
                     : CUST_OK;
        else
            rc = add_header(header, c->header ? c->header : "X-API-Key", sec);
    } else if (strcmp(c->type, "header") == 0) {
        rc = add_header(header, c->header, sec);
    } else if (strcmp(c->type, "oauth2") == 0) {
        if (!s->expires_ms || now_ms >= s->expires_ms - c->refresh_before_ms) {
            if ((rc = fetch_token(s, http, tmpl, now_ms, out, e)))
                return rc;
        }
        rc = buf_adds(header, "Authorization: Bearer ") || buf_add(header, s->token.ptr, s->token.len)
                 ? CUST_ENOMEM
                 : CUST_OK;
    } else {
        return err_set(e, CUST_ECONFIG, "unknown auth type \"%s\"", c->type);
    }
    return rc ? err_set(e, CUST_ENOMEM, "credential too long") : CUST_OK;
}

void auth_wipe(buf *b)
{
    if (b->ptr)
        OPENSSL_cleanse(b->ptr, b->cap);
    buf_release(b);
}
