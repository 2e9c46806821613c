/* paginate.c - the pure pagination strategies. */
#include "paginate.h"

#include <stdlib.h>
#include <string.h>

static const pager_ops *const strategies[] = {&pager_cursor, &pager_none};

const pager_ops *paginate_lookup(const char *name)
{
    for (size_t i = 0; i < sizeof strategies / sizeof *strategies; i++)
        if (strcmp(strategies[i]->name, name) == 0)
            return strategies[i];
    return NULL;
}

const char *paginate_names(void)
{
    return "cursor, none";
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
                       type_name(r), cfg->records);
    out->records = r;
    return CUST_OK;
}

static cust_code limit_query(const paginate_cfg *cfg, buf *q)
{
    if (!cfg->limit_param || cfg->limit <= 0)
        return CUST_OK;
    if (q->len && buf_addc(q, '&'))
        return CUST_ENOMEM;
    if (paginate_urlencode(q, cfg->limit_param) || buf_addf(q, "=%ld", cfg->limit))
        return CUST_ENOMEM;
    return CUST_OK;
}

static cust_code cursor_query(const paginate_cfg *cfg, const char *pos, buf *q, struct err *e)
{
    if (pos && *pos) {
        if (paginate_urlencode(q, cfg->param) || buf_addc(q, '=') || paginate_urlencode(q, pos))
            return err_set(e, CUST_ENOMEM, "query string too long");
    }
    if (limit_query(cfg, q))
        return err_set(e, CUST_ENOMEM, "query string too long");
    return CUST_OK;
}

static cust_code cursor_parse(const paginate_cfg *cfg, const char *pos, const json_value *body,
                              page_step *out, struct err *e)
{
    const json_value *n;
    const char *tok = NULL;
    cust_code rc;
    memset(out, 0, sizeof *out);
    rc = records_at(cfg, body, out, e);
    if (rc)
        return rc;
    n = json_path(body, cfg->next);
    if (n && (n->type == JSON_STRING || n->type == JSON_NUMBER) && n->len > 0)
        tok = n->u.str;
    else if (n && n->type != JSON_NULL && n->type != JSON_STRING)
        return err_set(e, CUST_EUPSTREAM,
                       "response has %s at next-cursor path %s, expected a string, number or null",
                       type_name(n), cfg->next);
    if (tok && pos && strcmp(tok, pos) == 0)
        return err_set(e, CUST_EUPSTREAM,
                       "the API returned the cursor it was given (%s) as the next cursor: it would "
                       "loop forever; the page's records are kept but polling stops here",
                       cfg->next);
    /* An empty page with a next token would be odd but harmless; an empty
     * page without one, or no token at all, ends the cycle. */
    if (!tok) {
        out->done = 1;
        /* Keep the position that fetched this last page: the next cycle
         * rereads it (duplicates are counted, not stored) and so sees
         * records appended after it. */
        if (pos && !(out->resume = strdup(pos)))
            return err_set(e, CUST_ENOMEM, "out of memory");
        return CUST_OK;
    }
    if (!(out->next = strdup(tok)) || !(out->resume = strdup(tok)))
        return err_set(e, CUST_ENOMEM, "out of memory");
    return CUST_OK;
}

const pager_ops pager_cursor = {"cursor", cursor_query, cursor_parse};

static cust_code none_query(const paginate_cfg *cfg, const char *pos, buf *q, struct err *e)
{
    if (limit_query(cfg, q))
        return err_set(e, CUST_ENOMEM, "query string too long");
    return CUST_OK;
}

static cust_code none_parse(const paginate_cfg *cfg, const char *pos, const json_value *body,
                            page_step *out, struct err *e)
{
    memset(out, 0, sizeof *out);
    out->done = 1;
    return records_at(cfg, body, out, e);
}

const pager_ops pager_none = {"none", none_query, none_parse};
