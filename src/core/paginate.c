/* paginate.c - the pure pagination strategies (none, cursor, next_url, link,
 * offset, page, last_id) and their helpers: body templates, RFC 3986 URL
 * resolution, RFC 8288 Link parsing. No I/O: the poll engine fetches.
 *
 * Rules every strategy shares (paginate.h is the contract; these are the
 * choices it leaves open):
 * - Page size: with limit > 0 it travels in the `limit_header` header when
 *   one is set; otherwise in the query as limit_param=limit. With in: body
 *   it travels in the body when the template uses {limit} (or as the
 *   limit_param field of a token_alone body) and in the query only when the
 *   template does not. next_url/link pages after the first send no query
 *   (the URL carries its own) but keep the header.
 * - A body template (cfg->body) is expanded for every request: with the
 *   position when the position travels in the body, else with a null one.
 * - has_more (when configured) can end any strategy but none; absent or null
 *   gives no signal; anything but a boolean or 0/1 is a shape error.
 * - resume: the next page's position while pages follow; when done, the
 *   position that fetched the last page (NULL for a first page: keep the
 *   stored one), so the next cycle rereads it and sees appended records. */
#include "paginate.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const pager_ops *const strategies[] = {&pager_cursor, &pager_last_id, &pager_link, &pager_next_url,
                                              &pager_none,   &pager_offset,  &pager_page};

const pager_ops *paginate_lookup(const char *name)
{
    for (size_t i = 0; i < sizeof strategies / sizeof *strategies; i++)
        if (strcmp(strategies[i]->name, name) == 0)
            return strategies[i];
    return NULL;
}

const char *paginate_names(void)
{
    return "cursor, last_id, link, next_url, none, offset, page";
}

void page_request_init(page_request *rq)
{
    memset(rq, 0, sizeof *rq);
    buf_init(&rq->query, 64 * 1024);
    buf_init(&rq->body, 16u << 20);
    buf_init(&rq->headers, 64 * 1024);
}

void page_request_reset(page_request *rq)
{
    buf_reset(&rq->query);
    buf_reset(&rq->body);
    buf_reset(&rq->headers);
    free(rq->url);
    rq->url = NULL;
}

void page_request_release(page_request *rq)
{
    buf_release(&rq->query);
    buf_release(&rq->body);
    buf_release(&rq->headers);
    free(rq->url);
    rq->url = NULL;
}

void page_step_release(page_step *st)
{
    free(st->next);
    free(st->resume);
    memset(st, 0, sizeof *st);
}

cust_code paginate_urlencode(buf *q, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        cust_code rc;
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            rc = buf_addc(q, (char)*p);
        } else {
            char enc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            rc = buf_add(q, enc, 3);
        }
        if (rc)
            return rc;
    }
    return CUST_OK;
}

/* Undo appends to b after a failure: the caller sees it unchanged. */
static void buf_truncate(buf *b, size_t len)
{
    b->len = len;
    if (b->ptr)
        b->ptr[len] = '\0';
}

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int ieq(const char *a, size_t n, const char *b)
{
    size_t i;
    for (i = 0; i < n && b[i]; i++)
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
            return 0;
    return i == n && b[i] == '\0';
}

/* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?, the whole string */
static int is_json_number(const char *s, int int_only)
{
    const char *p = s;
    if (!s)
        return 0;
    if (*p == '-')
        p++;
    if (*p == '0')
        p++;
    else if (*p >= '1' && *p <= '9')
        while (*p >= '0' && *p <= '9')
            p++;
    else
        return 0;
    if (int_only)
        return *p == '\0';
    if (*p == '.') {
        p++;
        if (!(*p >= '0' && *p <= '9'))
            return 0;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!(*p >= '0' && *p <= '9'))
            return 0;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    return *p == '\0';
}

static int is_json_text(const char *s, size_t n)
{
    json_doc *doc = json_doc_new();
    struct err je = {0};
    int ok = doc && json_parse(doc, s, n, NULL, &je) != NULL;
    json_doc_free(doc);
    return ok;
}

/* ---- body templates ------------------------------------------------------ */

/* Expansion behind paginate_expand_body; *uses_limit (may be NULL) says
 * whether the template has a {limit} placeholder. Messages name the option
 * and quote the template (cut at 200 bytes). */
static cust_code expand(const char *tmpl, const char *pos, int pos_is_number, long limit, buf *out,
                        int *uses_limit, struct err *e)
{
    size_t start = out->len;
    const char *p = tmpl;
    int used = 0;
    cust_code rc = CUST_OK;

    if (uses_limit)
        *uses_limit = 0;
    if (!tmpl)
        return err_set(e, CUST_ECONFIG, "pagination.body: no body template");
    if (pos && pos_is_number && !is_json_number(pos, 0)) {
        rc = err_set(e, CUST_ECONFIG, "pagination.body: the position \"%.100s\" is not a number", pos);
        goto fail;
    }
    /* Braces are JSON's own: only the exact placeholders {cursor},
     * {offset}, {page} and {limit} are replaced, so a template is written
     * as the JSON body it stands for. */
    while (*p) {
        const char *q;
        if (*p == '{') {
            size_t n = strncmp(p, "{cursor}", 8) == 0 || strncmp(p, "{offset}", 8) == 0 ? 8
                       : strncmp(p, "{page}", 6) == 0                                 ? 6
                       : strncmp(p, "{limit}", 7) == 0                                ? 7
                                                                                      : 0;
            if (n == 7) {
                used = 1;
                rc = limit > 0 ? buf_addf(out, "%ld", limit) : buf_adds(out, "null");
            } else if (n) {
                if (!pos)
                    rc = buf_adds(out, "null");
                else if (pos_is_number)
                    rc = buf_adds(out, pos);
                else
                    rc = json_write_string(out, pos, strlen(pos));
            } else {
                rc = buf_addc(out, '{');
                n = 1;
            }
            if (rc)
                goto nomem;
            p += n;
            continue;
        }
        for (q = p; *q && *q != '{'; q++)
            ;
        if (buf_add(out, p, (size_t)(q - p)))
            goto nomem;
        p = q;
    }
    {
        json_doc *doc = json_doc_new();
        struct err je = {0};
        json_value *v;
        if (!doc)
            goto nomem;
        v = json_parse(doc, out->ptr ? out->ptr + start : "", out->len - start, NULL, &je);
        json_doc_free(doc);
        if (!v) {
            rc = err_set(e, CUST_ECONFIG, "pagination.body: the template does not expand to JSON (%s): %.200s",
                         je.msg, tmpl);
            goto fail;
        }
    }
    if (uses_limit)
        *uses_limit = used;
    return CUST_OK;
nomem:
    rc = err_set(e, CUST_ENOMEM, "request body too long or out of memory");
fail:
    buf_truncate(out, start);
    return rc;
}

cust_code paginate_expand_body(const char *tmpl, const char *pos, int pos_is_number, long limit, buf *out,
                               struct err *e)
{
    return expand(tmpl, pos, pos_is_number, limit, out, NULL, e);
}

/* ---- RFC 3986 references ----------------------------------------------- */

typedef struct span {
    const char *p;
    size_t n;
    int def; /* component present (an empty query "?" is present) */
} span;

typedef struct uri {
    span scheme, auth, path, query, frag;
} uri;

/* Split per RFC 3986 appendix B; 0 when a scheme-looking prefix is not a
 * valid scheme (e.g. "1x:") or a byte is not allowed in a URI. */
static int uri_split(const char *s, size_t len, uri *u)
{
    size_t i = 0, j;
    memset(u, 0, sizeof *u);
    for (j = 0; j < len; j++)
        if ((unsigned char)s[j] <= 0x20 || (unsigned char)s[j] == 0x7f)
            return 0;
    for (j = 0; j < len && s[j] != ':' && s[j] != '/' && s[j] != '?' && s[j] != '#'; j++)
        ;
    if (j < len && s[j] == ':') {
        int c = (unsigned char)s[0];
        if (j == 0 || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
            return 0;
        for (size_t k = 1; k < j; k++) {
            c = (unsigned char)s[k];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' ||
                  c == '-' || c == '.'))
                return 0;
        }
        u->scheme = (span){s, j, 1};
        i = j + 1;
    }
    if (len - i >= 2 && s[i] == '/' && s[i + 1] == '/') {
        i += 2;
        for (j = i; j < len && s[j] != '/' && s[j] != '?' && s[j] != '#'; j++)
            ;
        u->auth = (span){s + i, j - i, 1};
        i = j;
    }
    for (j = i; j < len && s[j] != '?' && s[j] != '#'; j++)
        ;
    u->path = (span){s + i, j - i, 1};
    i = j;
    if (i < len && s[i] == '?') {
        for (j = ++i; j < len && s[j] != '#'; j++)
            ;
        u->query = (span){s + i, j - i, 1};
        i = j;
    }
    if (i < len && s[i] == '#')
        u->frag = (span){s + i + 1, len - i - 1, 1};
    return 1;
}

/* RFC 3986 5.2.4 on in[0..n) (modified in place), appended to out. */
static cust_code remove_dots(char *in, size_t n, buf *out)
{
    size_t i = 0, base = out->len;
    while (i < n) {
        size_t rest = n - i;
        char *s = in + i;
        if (rest >= 3 && memcmp(s, "../", 3) == 0) {
            i += 3;
        } else if (rest >= 2 && memcmp(s, "./", 2) == 0) {
            i += 2;
        } else if (rest >= 3 && memcmp(s, "/./", 3) == 0) {
            i += 2;
        } else if (rest == 2 && memcmp(s, "/.", 2) == 0) {
            i += 1;
            in[i] = '/';
        } else if (rest >= 4 && memcmp(s, "/../", 4) == 0) {
            i += 3;
            goto up;
        } else if (rest == 3 && memcmp(s, "/..", 3) == 0) {
            i += 2;
            in[i] = '/';
        up:
            while (out->len > base && out->ptr[out->len - 1] != '/')
                out->len--;
            if (out->len > base)
                out->len--;
            if (out->ptr)
                out->ptr[out->len] = '\0';
        } else if ((rest == 1 && s[0] == '.') || (rest == 2 && memcmp(s, "..", 2) == 0)) {
            i = n;
        } else {
            size_t j = s[0] == '/' ? 1 : 0;
            while (j < rest && s[j] != '/')
                j++;
            if (buf_add(out, s, j))
                return CUST_ENOMEM;
            i += j;
        }
    }
    return CUST_OK;
}

static cust_code add_span(buf *b, const char *prefix, span s)
{
    if (!s.def)
        return CUST_OK;
    if ((prefix && buf_adds(b, prefix)) || (s.n && buf_add(b, s.p, s.n)))
        return CUST_ENOMEM;
    return CUST_OK;
}

/* Target path: merged (5.2.3) when merge_base, then dots removed. */
static cust_code target_path(const uri *b, span ref, int merge_base, buf *out)
{
    buf tmp;
    cust_code rc = CUST_ENOMEM;
    buf_init(&tmp, 1u << 20);
    if (merge_base) {
        if (b->auth.def && b->path.n == 0) {
            if (buf_addc(&tmp, '/'))
                goto done;
        } else {
            size_t k = b->path.n;
            while (k > 0 && b->path.p[k - 1] != '/')
                k--;
            if (k && buf_add(&tmp, b->path.p, k))
                goto done;
        }
    }
    if (ref.n && buf_add(&tmp, ref.p, ref.n))
        goto done;
    rc = tmp.len ? remove_dots(tmp.ptr, tmp.len, out) : CUST_OK;
done:
    buf_release(&tmp);
    return rc;
}

cust_code paginate_resolve_url(const char *base, const char *ref, buf *out, struct err *e)
{
    size_t start = out->len, n;
    uri b = {0}, r, t;
    buf path;
    cust_code rc = CUST_OK;
    const char *rp = ref;

    if (!ref)
        return err_set(e, CUST_EUPSTREAM, "no URL to resolve");
    /* RFC 3986 appendix C: surrounding whitespace is not part of the URI */
    while (*rp == ' ' || *rp == '\t' || *rp == '\r' || *rp == '\n')
        rp++;
    n = strlen(rp);
    while (n && (rp[n - 1] == ' ' || rp[n - 1] == '\t' || rp[n - 1] == '\r' || rp[n - 1] == '\n'))
        n--;
    if (!uri_split(rp, n, &r))
        return err_set(e, CUST_EUPSTREAM, "next URL \"%.200s\" is not a valid URL reference", ref);
    if (!r.scheme.def && (!base || !uri_split(base, strlen(base), &b) || !b.scheme.def))
        return err_set(e, CUST_EUPSTREAM,
                       "next URL \"%.200s\" is relative and the page's URL \"%.200s\" is not an absolute URL to "
                       "resolve it against",
                       ref, base ? base : "(none)");
    buf_init(&path, 1u << 20);
    memset(&t, 0, sizeof t);
    if (r.scheme.def) {
        t.scheme = r.scheme;
        t.auth = r.auth;
        rc = target_path(&b, r.path, 0, &path);
        t.query = r.query;
    } else if (r.auth.def) {
        t.scheme = b.scheme;
        t.auth = r.auth;
        rc = target_path(&b, r.path, 0, &path);
        t.query = r.query;
    } else if (r.path.n == 0) {
        t.scheme = b.scheme;
        t.auth = b.auth;
        /* the base's own path is normalised too (RFC 3986 5.2.1 allows it), so
         * a result is always free of dot segments */
        rc = target_path(&b, b.path, 0, &path);
        t.query = r.query.def ? r.query : b.query;
    } else {
        t.scheme = b.scheme;
        t.auth = b.auth;
        rc = target_path(&b, r.path, r.path.p[0] != '/', &path);
        t.query = r.query;
    }
    t.frag = r.frag;
    if (rc)
        goto nomem;
    if (!((t.scheme.n == 4 && ieq(t.scheme.p, 4, "http")) || (t.scheme.n == 5 && ieq(t.scheme.p, 5, "https"))))
        rc = err_set(e, CUST_EUPSTREAM, "next URL \"%.200s\" is not http or https", ref);
    else if (!t.auth.def || t.auth.n == 0 || t.auth.p[t.auth.n - 1] == '@' || t.auth.p[0] == ':')
        rc = err_set(e, CUST_EUPSTREAM, "next URL \"%.200s\" resolves to a URL without a host", ref);
    if (rc)
        goto fail;
    for (size_t i = 0; i < t.scheme.n; i++)
        if (buf_addc(out, (char)lower((unsigned char)t.scheme.p[i])))
            goto nomem;
    if (buf_adds(out, "://") || (t.auth.n && buf_add(out, t.auth.p, t.auth.n)))
        goto nomem;
    /* an authority is followed by an absolute path or none */
    if (path.len && path.ptr[0] != '/' && buf_addc(out, '/'))
        goto nomem;
    if ((path.len && buf_add(out, path.ptr, path.len)) || add_span(out, "?", t.query) || add_span(out, "#", t.frag))
        goto nomem;
    buf_release(&path);
    return CUST_OK;
nomem:
    rc = err_set(e, CUST_ENOMEM, "URL too long or out of memory");
fail:
    buf_release(&path);
    buf_truncate(out, start);
    return rc;
}

/* ---- RFC 8288 Link -------------------------------------------------------- */

static int ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Past a quoted-string starting at p ('"'), decoded onto v when non-NULL. */
static const char *quoted(const char *p, buf *v, int *nomem)
{
    for (p++; *p && *p != '"'; p++) {
        if (*p == '\\' && p[1])
            p++;
        if (v && buf_addc(v, *p))
            *nomem = 1;
    }
    return *p ? p + 1 : p;
}

/* Past the rest of a malformed link-value: to the next ',' outside quotes and <>. */
static const char *skip_value(const char *p)
{
    while (*p && *p != ',') {
        if (*p == '"')
            p = quoted(p, NULL, NULL);
        else if (*p == '<') {
            const char *gt = strchr(p, '>');
            p = gt ? gt + 1 : p + strlen(p);
        } else
            p++;
    }
    return p;
}

static int rel_has_next(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t j;
        while (i < n && (ows(s[i]) || s[i] == '\r' || s[i] == '\n'))
            i++;
        for (j = i; j < n && !ows(s[j]) && s[j] != '\r' && s[j] != '\n'; j++)
            ;
        if (j > i && ieq(s + i, j - i, "next"))
            return 1;
        i = j;
    }
    return 0;
}

int paginate_link_next(const char *link, buf *out)
{
    const char *p = link;
    buf v;
    int found = 0, nomem = 0;
    if (!link)
        return 0;
    buf_init(&v, 64 * 1024);
    while (*p && !found && !nomem) {
        const char *u, *gt;
        int rel_seen = 0, is_next = 0;
        while (ows(*p) || *p == ',' || *p == '\r' || *p == '\n')
            p++;
        if (!*p)
            break;
        if (*p != '<' || !(gt = strchr(p, '>'))) {
            p = *p == '<' ? p + strlen(p) : skip_value(p);
            continue;
        }
        u = p + 1;
        p = gt + 1;
        for (;;) {
            const char *name;
            size_t nlen;
            while (ows(*p))
                p++;
            if (*p != ';')
                break;
            p++;
            while (ows(*p))
                p++;
            name = p;
            while (*p && *p != '=' && *p != ';' && *p != ',' && !ows(*p) && *p != '"' && *p != '<')
                p++;
            nlen = (size_t)(p - name);
            while (ows(*p))
                p++;
            buf_reset(&v);
            if (*p == '=') {
                p++;
                while (ows(*p))
                    p++;
                if (*p == '"') {
                    p = quoted(p, &v, &nomem);
                } else {
                    const char *t = p;
                    while (*p && *p != ';' && *p != ',' && !ows(*p))
                        p++;
                    if (buf_add(&v, t, (size_t)(p - t)))
                        nomem = 1;
                }
            }
            /* RFC 8288 3.3: occurrences after the first rel are ignored */
            if (!rel_seen && ieq(name, nlen, "rel")) {
                rel_seen = 1;
                is_next = rel_has_next(buf_str(&v), v.len);
            }
        }
        if (*p && *p != ',')
            p = skip_value(p); /* garbage after the parameters: this value is not trusted */
        else if (is_next) {
            const char *ue = gt;
            while (u < ue && ows(*u))
                u++;
            while (ue > u && ows(ue[-1]))
                ue--;
            if (buf_add(out, u, (size_t)(ue - u)))
                nomem = 1;
            else
                found = 1;
        }
    }
    buf_release(&v);
    return nomem ? -1 : found;
}

/* ---- shared request pieces --------------------------------------------- */

static cust_code query_param(buf *q, const char *name, const char *value)
{
    if ((q->len && buf_addc(q, '&')) || paginate_urlencode(q, name) || buf_addc(q, '=') ||
        paginate_urlencode(q, value))
        return CUST_ENOMEM;
    return CUST_OK;
}

/* How a strategy's request carries its position. */
typedef struct req_plan {
    const char *pos;   /* value to send, NULL: none */
    int pos_is_number; /* in a body: a JSON number, else a string */
    int carries_pos;   /* the strategy sends pos in param / the body */
    int alone;         /* cursor token_alone with a token */
    const char *url;   /* next_url/link: fetch this URL, no query */
} req_plan;

static cust_code build(const paginate_cfg *cfg, const req_plan *pl, page_request *rq, struct err *e)
{
    int limit_sent = cfg->limit <= 0;
    int body_mode = cfg->in == PAGE_IN_BODY && pl->carries_pos;
    cust_code rc;

    page_request_reset(rq);
    if (pl->carries_pos && pl->pos && (!body_mode || pl->alone) && (!cfg->param || !*cfg->param))
        return err_set(e, CUST_ECONFIG, "pagination.param: no parameter to carry the position");
    if (pl->url && !(rq->url = strdup(pl->url)))
        return err_set(e, CUST_ENOMEM, "out of memory");
    if (!limit_sent && cfg->limit_header) {
        if (buf_addf(&rq->headers, "%s: %ld\n", cfg->limit_header, cfg->limit))
            return err_set(e, CUST_ENOMEM, "request headers too long");
        limit_sent = 1;
    }
    if (body_mode && pl->alone) {
        /* only the token and the page size */
        buf *b = &rq->body;
        if (buf_addc(b, '{') || json_write_string(b, cfg->param, strlen(cfg->param)) || buf_addc(b, ':') ||
            json_write_string(b, pl->pos, strlen(pl->pos)))
            return err_set(e, CUST_ENOMEM, "request body too long");
        if (!limit_sent && cfg->limit_param) {
            if (buf_addc(b, ',') || json_write_string(b, cfg->limit_param, strlen(cfg->limit_param)) ||
                buf_addf(b, ":%ld", cfg->limit))
                return err_set(e, CUST_ENOMEM, "request body too long");
            limit_sent = 1;
        }
        if (buf_addc(b, '}'))
            return err_set(e, CUST_ENOMEM, "request body too long");
        if (!is_json_text(b->ptr, b->len))
            return err_set(e, CUST_EUPSTREAM, "the token \"%.100s\" is not UTF-8 text and cannot travel in a JSON "
                                              "body", pl->pos);
    } else if (cfg->body) {
        int uses_limit = 0;
        if ((rc = expand(cfg->body, body_mode ? pl->pos : NULL, pl->pos_is_number, cfg->limit, &rq->body,
                         &uses_limit, e)))
            return rc;
        if (body_mode && uses_limit)
            limit_sent = 1;
    }
    if (pl->url)
        return CUST_OK;
    if (!body_mode && pl->carries_pos && pl->pos && query_param(&rq->query, cfg->param, pl->pos))
        return err_set(e, CUST_ENOMEM, "query string too long");
    if (!limit_sent && cfg->limit_param) {
        char n[32];
        snprintf(n, sizeof n, "%ld", cfg->limit);
        if (query_param(&rq->query, cfg->limit_param, n))
            return err_set(e, CUST_ENOMEM, "query string too long");
    }
    return CUST_OK;
}

/* ---- shared response pieces -------------------------------------------- */

static const char *type_name(const json_value *v)
{
    static const char *const names[] = {"null", "false", "true", "number", "string", "array", "object"};
    return v ? names[v->type] : "nothing";
}

static cust_code records_at(const paginate_cfg *cfg, const json_value *body, page_step *out,
                            struct err *e)
{
    const json_value *r = json_path(body, cfg->records);
    if (!r || r->type != JSON_ARRAY)
        return err_set(e, CUST_EUPSTREAM,
                       "response has %s at records path %s, expected an array of records; "
                       "check the source's `records` setting against the API's response",
                       type_name(r), cfg->records ? cfg->records : "(unset)");
    out->records = r;
    return CUST_OK;
}

/* *more: 1 more pages, 0 none, -1 no signal (has_more unset, absent or null). */
static cust_code more_flag(const paginate_cfg *cfg, const json_value *body, int *more, struct err *e)
{
    const json_value *v;
    int b;
    *more = -1;
    if (!cfg->has_more || !(v = json_path(body, cfg->has_more)) || v->type == JSON_NULL)
        return CUST_OK;
    if (v->type == JSON_TRUE || v->type == JSON_FALSE)
        b = v->type == JSON_TRUE;
    else if (v->type == JSON_NUMBER && (strcmp(v->u.str, "0") == 0 || strcmp(v->u.str, "1") == 0))
        b = v->u.str[0] == '1';
    else
        return err_set(e, CUST_EUPSTREAM, "response has %s at has_more path %s, expected true or false",
                       type_name(v), cfg->has_more);
    *more = b == (cfg->more_when != 0);
    return CUST_OK;
}

/* *total: the count at cfg->total, -1 when unset, absent or null. */
static cust_code total_at(const paginate_cfg *cfg, const json_value *body, long long *total, struct err *e)
{
    const json_value *v;
    *total = -1;
    if (!cfg->total || !(v = json_path(body, cfg->total)) || v->type == JSON_NULL)
        return CUST_OK;
    if (v->type == JSON_NUMBER || v->type == JSON_STRING) {
        char *end;
        long long t;
        errno = 0;
        t = strtoll(v->u.str, &end, 10);
        if (v->len && *end == '\0' && errno == 0 && t >= 0 && v->u.str[0] != '+' && v->u.str[0] != ' ') {
            *total = t;
            return CUST_OK;
        }
    }
    return err_set(e, CUST_EUPSTREAM, "response has %s%s%.40s%s at total path %s, expected a whole number",
                   type_name(v), v->type == JSON_STRING || v->type == JSON_NUMBER ? " \"" : "",
                   v->type == JSON_STRING || v->type == JSON_NUMBER ? v->u.str : "",
                   v->type == JSON_STRING || v->type == JSON_NUMBER ? "\"" : "", cfg->total);
}

static cust_code step_done(page_step *out, const char *pos, struct err *e)
{
    out->done = 1;
    if (pos && *pos && !(out->resume = strdup(pos)))
        return err_set(e, CUST_ENOMEM, "out of memory");
    return CUST_OK;
}

static cust_code step_next(page_step *out, const char *next, struct err *e)
{
    if (!(out->next = strdup(next)) || !(out->resume = strdup(next))) {
        free(out->next);
        out->next = NULL;
        return err_set(e, CUST_ENOMEM, "out of memory");
    }
    return CUST_OK;
}

/* Offsets and page numbers: NULL or "" is cfg->start. */
static cust_code pos_number(const paginate_cfg *cfg, const char *pos, const char *what, long long *v,
                            struct err *e)
{
    char *end;
    long long n;
    if (!pos || !*pos) {
        *v = cfg->start;
        return CUST_OK;
    }
    errno = 0;
    n = strtoll(pos, &end, 10);
    if (*end || errno || n < 0 || !(pos[0] >= '0' && pos[0] <= '9'))
        return err_set(e, CUST_ECONFIG,
                       "the stored position \"%.100s\" is not %s; was the pagination type changed? reset the "
                       "source's cursor",
                       pos, what);
    *v = n;
    return CUST_OK;
}

/* ---- check ------------------------------------------------------------- */

static cust_code check_path(const char *opt, const char *path, struct err *e)
{
    if (path && !json_path_valid(path, e)) {
        err_prefix(e, "pagination.%s: ", opt);
        return CUST_ECONFIG;
    }
    return CUST_OK;
}

/* What every strategy checks; carries: the strategy sends a position in
 * param or the body (`in` applies). */
static cust_code check_common(const paginate_cfg *cfg, const char *type, int carries, struct err *e)
{
    cust_code rc;
    if (cfg->limit < 0)
        return err_set(e, CUST_ECONFIG, "pagination.limit: %ld is negative", cfg->limit);
    if (cfg->limit_header) {
        const char *p = cfg->limit_header;
        if (!*p)
            return err_set(e, CUST_ECONFIG, "pagination.limit_header: empty header name");
        for (; *p; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                  strchr("!#$%&'*+-.^_`|~", *p)))
                return err_set(e, CUST_ECONFIG, "pagination.limit_header: \"%.100s\" is not a header name",
                               cfg->limit_header);
    }
    if (cfg->in != PAGE_IN_QUERY && cfg->in != PAGE_IN_BODY)
        return err_set(e, CUST_ECONFIG, "pagination.in: must be query or body");
    if (cfg->in == PAGE_IN_BODY && !carries)
        return err_set(e, CUST_ECONFIG,
                       "pagination.in: type %s sends no position parameter, so in: body does not apply "
                       "(a body template is still sent when pagination.body is set)",
                       type);
    if (cfg->in == PAGE_IN_BODY && !cfg->body)
        return err_set(e, CUST_ECONFIG,
                       "pagination.body: in: body needs a body template, e.g. "
                       "'{{\"cursor\": {cursor}, \"limit\": {limit}}}' (literal braces are doubled)");
    if (cfg->token_alone && strcmp(type, "cursor") != 0)
        return err_set(e, CUST_ECONFIG, "pagination.token_alone: applies to type cursor only, not %s", type);
    if (cfg->body) {
        buf b;
        int uses_limit;
        const char *tp = cfg->body;
        int has_pos = 0;
        buf_init(&b, 16u << 20);
        rc = expand(cfg->body, "1", 1, cfg->limit > 0 ? cfg->limit : 1, &b, &uses_limit, e);
        buf_release(&b);
        if (rc)
            return rc;
        for (; *tp; tp++) {
            if (tp[0] == '{' && tp[1] == '{') {
                tp++;
                continue;
            }
            if (strncmp(tp, "{cursor}", 8) == 0 || strncmp(tp, "{offset}", 8) == 0 || strncmp(tp, "{page}", 6) == 0)
                has_pos = 1;
        }
        if (cfg->in == PAGE_IN_BODY && !has_pos)
            return err_set(e, CUST_ECONFIG,
                           "pagination.body: with in: body the template needs a {cursor}, {offset} or {page} "
                           "placeholder for the position: %.200s",
                           cfg->body);
    }
    if ((rc = check_path("has_more", cfg->has_more, e)) || (rc = check_path("next", cfg->next, e)) ||
        (rc = check_path("total", cfg->total, e)) || (rc = check_path("id_field", cfg->id_field, e)))
        return rc;
    if (carries && cfg->in == PAGE_IN_QUERY && (!cfg->param || !*cfg->param))
        return err_set(e, CUST_ECONFIG, "pagination.param: %s needs the query parameter that carries the %s", type,
                       strcmp(type, "cursor") == 0   ? "token"
                       : strcmp(type, "offset") == 0 ? "offset"
                       : strcmp(type, "page") == 0   ? "page number"
                                                     : "last id");
    if (cfg->token_alone && cfg->in == PAGE_IN_BODY && (!cfg->param || !*cfg->param))
        return err_set(e, CUST_ECONFIG, "pagination.param: token_alone with in: body needs the body field of the "
                                        "token");
    return CUST_OK;
}

/* ---- none ---------------------------------------------------------------- */

static cust_code none_request(const paginate_cfg *cfg, const char *pos, page_request *rq, struct err *e)
{
    req_plan pl = {0};
    return build(cfg, &pl, rq, e);
}

static cust_code none_parse(const paginate_cfg *cfg, const char *pos, const page_response *rs,
                            page_step *out, struct err *e)
{
    memset(out, 0, sizeof *out);
    out->done = 1;
    return records_at(cfg, rs->body, out, e);
}

static cust_code none_check(const paginate_cfg *cfg, struct err *e)
{
    return check_common(cfg, "none", 0, e);
}

const pager_ops pager_none = {"none", none_request, none_parse, none_check};

/* ---- cursor -------------------------------------------------------------- */

static cust_code cursor_request(const paginate_cfg *cfg, const char *pos, page_request *rq, struct err *e)
{
    req_plan pl = {0};
    pl.pos = pos && *pos ? pos : NULL;
    pl.carries_pos = 1;
    pl.alone = cfg->token_alone && pl.pos;
    return build(cfg, &pl, rq, e);
}

static cust_code cursor_parse(const paginate_cfg *cfg, const char *pos, const page_response *rs,
                              page_step *out, struct err *e)
{
    const json_value *body = rs->body;
    const json_value *n;
    const char *tok = NULL;
    int more;
    cust_code rc;
    memset(out, 0, sizeof *out);
    if ((rc = records_at(cfg, body, out, e)))
        return rc;
    n = json_path(body, cfg->next);
    if (n && (n->type == JSON_STRING || n->type == JSON_NUMBER) && n->len > 0)
        tok = n->u.str;
    else if (n && n->type != JSON_NULL && n->type != JSON_STRING)
        return err_set(e, CUST_EUPSTREAM,
                       "response has %s at next-cursor path %s, expected a string, number or null",
                       type_name(n), cfg->next);
    if ((rc = more_flag(cfg, body, &more, e)))
        return rc;
    /* No token, or the API says it has no more even though it sent one: the
     * cycle ends and the page that was read is read again next time. */
    if (!tok || more == 0)
        return step_done(out, pos, e);
    if (pos && strcmp(tok, pos) == 0)
        return err_set(e, CUST_EUPSTREAM,
                       "the API returned the cursor it was given (%s) as the next cursor: it would "
                       "loop forever; the page's records are kept but polling stops here",
                       cfg->next);
    return step_next(out, tok, e);
}

static cust_code cursor_check(const paginate_cfg *cfg, struct err *e)
{
    if (!cfg->next)
        return err_set(e, CUST_ECONFIG, "pagination.next: type cursor needs the JSON path of the next token "
                                        "(e.g. next: $.next_cursor)");
    return check_common(cfg, "cursor", 1, e);
}

const pager_ops pager_cursor = {"cursor", cursor_request, cursor_parse, cursor_check};

/* ---- next_url and link --------------------------------------------------- */

static cust_code url_request(const paginate_cfg *cfg, const char *pos, page_request *rq, struct err *e)
{
    req_plan pl = {0};
    pl.url = pos && *pos ? pos : NULL;
    return build(cfg, &pl, rq, e);
}

/* The page at pos (or the source's URL, rs->url) points to ref. */
static cust_code url_next(const paginate_cfg *cfg, const char *pos, const page_response *rs, const char *ref,
                          const char *where, page_step *out, struct err *e)
{
    buf u;
    int more;
    cust_code rc;
    if ((rc = more_flag(cfg, rs->body, &more, e)))
        return rc;
    if (!ref || !*ref || more == 0)
        return step_done(out, pos, e);
    buf_init(&u, 1u << 20);
    if ((rc = paginate_resolve_url(rs->url, ref, &u, e))) {
        err_prefix(e, "%s: ", where);
        goto done;
    }
    if ((pos && strcmp(u.ptr, pos) == 0) || (rs->url && strcmp(u.ptr, rs->url) == 0)) {
        rc = err_set(e, CUST_EUPSTREAM,
                     "%s: the API returned the URL it was fetched at (%.200s) as the next page: it would loop "
                     "forever; the page's records are kept but polling stops here",
                     where, u.ptr);
        goto done;
    }
    rc = step_next(out, u.ptr, e);
done:
    buf_release(&u);
    return rc;
}

static cust_code next_url_parse(const paginate_cfg *cfg, const char *pos, const page_response *rs,
                                page_step *out, struct err *e)
{
    const json_value *n;
    char where[160];
    cust_code rc;
    memset(out, 0, sizeof *out);
    if ((rc = records_at(cfg, rs->body, out, e)))
        return rc;
    n = json_path(rs->body, cfg->next);
    if (n && n->type != JSON_NULL && n->type != JSON_STRING)
        return err_set(e, CUST_EUPSTREAM, "response has %s at next-URL path %s, expected a string or null",
                       type_name(n), cfg->next);
    snprintf(where, sizeof where, "next URL at %s", cfg->next);
    rc = url_next(cfg, pos, rs, n && n->type == JSON_STRING ? n->u.str : NULL, where, out, e);
    if (!rc && out->done && cfg->delta) {
        /* a delta link on the last page is where the next poll starts:
         * only what changed since this one (Microsoft Graph's deltaLink and
         * the like) */
        const json_value *d = json_path(rs->body, cfg->delta);
        if (d && d->type == JSON_STRING && d->len) {
            buf u;
            buf_init(&u, 1u << 20);
            if ((rc = paginate_resolve_url(rs->url ? rs->url : (pos ? pos : ""), d->u.str, &u, e)) == CUST_OK) {
                free(out->resume);
                if (!(out->resume = buf_take(&u)))
                    rc = err_set(e, CUST_ENOMEM, "out of memory");
            }
            buf_release(&u);
        }
    }
    return rc;
}

static cust_code next_url_check(const paginate_cfg *cfg, struct err *e)
{
    if (!cfg->next)
        return err_set(e, CUST_ECONFIG, "pagination.next: type next_url needs the JSON path of the next "
                                        "page's URL (e.g. next: $.links.next)");
    return check_common(cfg, "next_url", 0, e);
}

const pager_ops pager_next_url = {"next_url", url_request, next_url_parse, next_url_check};

static cust_code link_parse(const paginate_cfg *cfg, const char *pos, const page_response *rs, page_step *out,
                            struct err *e)
{
    buf l;
    int found;
    cust_code rc;
    memset(out, 0, sizeof *out);
    if ((rc = records_at(cfg, rs->body, out, e)))
        return rc;
    buf_init(&l, 1u << 20);
    found = paginate_link_next(rs->link, &l);
    if (found < 0)
        rc = err_set(e, CUST_ENOMEM, "Link header too long or out of memory");
    else
        rc = url_next(cfg, pos, rs, found ? buf_str(&l) : NULL, "Link rel=\"next\"", out, e);
    buf_release(&l);
    return rc;
}

static cust_code link_check(const paginate_cfg *cfg, struct err *e)
{
    return check_common(cfg, "link", 0, e);
}

const pager_ops pager_link = {"link", url_request, link_parse, link_check};

/* ---- offset and page ----------------------------------------------------- */

static cust_code number_request(const paginate_cfg *cfg, const char *pos, const char *what, page_request *rq,
                                struct err *e)
{
    req_plan pl = {0};
    long long v = 0;
    char n[32];
    cust_code rc;
    if ((rc = pos_number(cfg, pos, what, &v, e)))
        return rc;
    snprintf(n, sizeof n, "%lld", v);
    pl.pos = n;
    pl.pos_is_number = 1;
    pl.carries_pos = 1;
    return build(cfg, &pl, rq, e);
}

static cust_code offset_request(const paginate_cfg *cfg, const char *pos, page_request *rq, struct err *e)
{
    return number_request(cfg, pos, "an offset", rq, e);
}

static cust_code page_request_fn(const paginate_cfg *cfg, const char *pos, page_request *rq, struct err *e)
{
    return number_request(cfg, pos, "a page number", rq, e);
}

/* Common end conditions of a page of n records: empty, short, has_more. */
static cust_code page_ends(const paginate_cfg *cfg, const json_value *body, size_t n, int *done, struct err *e)
{
    int more;
    cust_code rc;
    if ((rc = more_flag(cfg, body, &more, e)))
        return rc;
    *done = n == 0 || (cfg->limit > 0 && n < (size_t)cfg->limit) || more == 0;
    return CUST_OK;
}

/* A max_offset beyond which the API refuses to page cannot be paged past:
 * the only way to read everything is smaller windows (a narrower range of
 * the incremental field), which is the engine's job: the page ends the
 * window with window_full set, and the engine starts the next window from
 * the highest change time seen, or fails saying so. */
static cust_code offset_parse(const paginate_cfg *cfg, const char *pos, const page_response *rs,
                              page_step *out, struct err *e)
{
    long long off = 0, total = -1, next;
    size_t n;
    int done;
    char s[32];
    cust_code rc;
    memset(out, 0, sizeof *out);
    if ((rc = records_at(cfg, rs->body, out, e)) || (rc = pos_number(cfg, pos, "an offset", &off, e)) ||
        (rc = page_ends(cfg, rs->body, out->records->len, &done, e)) || (rc = total_at(cfg, rs->body, &total, e)))
        goto fail;
    n = out->records->len;
    /* next = offset + records received: APIs may cap the page below limit */
    if (n > (size_t)(LLONG_MAX - off)) {
        rc = err_set(e, CUST_EUPSTREAM, "offset %lld + %zu records overflows", off, n);
        goto fail;
    }
    next = off + (long long)n;
    /* `start` is offset of the first record (0 or 1): next - start records precede next */
    if (total >= 0 && next - cfg->start >= total)
        done = 1;
    if (done)
        return step_done(out, pos, e);
    if (cfg->max_offset > 0 && next > cfg->max_offset) {
        /* this page is good; the next cannot be asked for */
        rc = step_done(out, pos, e);
        out->window_full = 1;
        return rc;
    }
    snprintf(s, sizeof s, "%lld", next);
    return step_next(out, s, e);
fail:
    out->records = NULL;
    return rc;
}

static cust_code page_parse(const paginate_cfg *cfg, const char *pos, const page_response *rs, page_step *out,
                            struct err *e)
{
    long long page = 0, total = -1;
    int done;
    char s[32];
    cust_code rc;
    memset(out, 0, sizeof *out);
    if ((rc = records_at(cfg, rs->body, out, e)) || (rc = pos_number(cfg, pos, "a page number", &page, e)) ||
        (rc = page_ends(cfg, rs->body, out->records->len, &done, e)) || (rc = total_at(cfg, rs->body, &total, e))) {
        out->records = NULL;
        return rc;
    }
    /* total pages: page - start + 1 pages have been read (start 0 or 1) */
    if (total >= 0 && page - cfg->start + 1 >= total)
        done = 1;
    if (page == LLONG_MAX)
        done = 1;
    if (done)
        return step_done(out, pos, e);
    snprintf(s, sizeof s, "%lld", page + 1);
    return step_next(out, s, e);
}

static cust_code offset_check(const paginate_cfg *cfg, struct err *e)
{
    if (cfg->start < 0)
        return err_set(e, CUST_ECONFIG, "pagination.start: %ld is negative", cfg->start);
    if (cfg->max_offset < 0)
        return err_set(e, CUST_ECONFIG, "pagination.max_offset: %ld is negative", cfg->max_offset);
    return check_common(cfg, "offset", 1, e);
}

static cust_code page_check(const paginate_cfg *cfg, struct err *e)
{
    if (cfg->start < 0)
        return err_set(e, CUST_ECONFIG, "pagination.start: %ld is negative", cfg->start);
    return check_common(cfg, "page", 1, e);
}

const pager_ops pager_offset = {"offset", offset_request, offset_parse, offset_check};
const pager_ops pager_page = {"page", page_request_fn, page_parse, page_check};

/* ---- last_id ------------------------------------------------------------- */

static cust_code last_id_request(const paginate_cfg *cfg, const char *pos, page_request *rq, struct err *e)
{
    req_plan pl = {0};
    pl.pos = pos && *pos ? pos : NULL;
    /* the position keeps no type: an id that reads as an integer goes into
     * a body as a number, any other as a string */
    pl.pos_is_number = is_json_number(pl.pos, 1);
    pl.carries_pos = 1;
    return build(cfg, &pl, rq, e);
}

static cust_code last_id_parse(const paginate_cfg *cfg, const char *pos, const page_response *rs,
                               page_step *out, struct err *e)
{
    const json_value *last, *id;
    int done;
    cust_code rc;
    memset(out, 0, sizeof *out);
    if ((rc = records_at(cfg, rs->body, out, e)) || (rc = page_ends(cfg, rs->body, out->records->len, &done, e)))
        goto fail;
    if (done)
        return step_done(out, pos, e);
    last = out->records->u.items[out->records->len - 1];
    id = json_path(last, cfg->id_field);
    if (!id || !((id->type == JSON_STRING && id->len > 0) || id->type == JSON_NUMBER)) {
        rc = err_set(e, CUST_EUPSTREAM,
                     "the last record of the page has %s at id_field path %s, expected a string or number id",
                     id && id->type == JSON_STRING ? "an empty string" : type_name(id),
                     cfg->id_field ? cfg->id_field : "(unset)");
        goto fail;
    }
    if (strlen(id->u.str) != id->len) {
        rc = err_set(e, CUST_EUPSTREAM, "the last record's id at %s holds a NUL byte", cfg->id_field);
        goto fail;
    }
    if (pos && strcmp(id->u.str, pos) == 0) {
        rc = err_set(e, CUST_EUPSTREAM,
                     "the page fetched after id %.100s ends with the same id (at %s): it would loop forever; "
                     "polling stops here",
                     pos, cfg->id_field);
        goto fail;
    }
    return step_next(out, id->u.str, e);
fail:
    out->records = NULL;
    return rc;
}

static cust_code last_id_check(const paginate_cfg *cfg, struct err *e)
{
    if (!cfg->id_field)
        return err_set(e, CUST_ECONFIG, "pagination.id_field: type last_id needs the JSON path of a record's id "
                                        "(e.g. id_field: $.id)");
    return check_common(cfg, "last_id", 1, e);
}

const pager_ops pager_last_id = {"last_id", last_id_request, last_id_parse, last_id_check};
