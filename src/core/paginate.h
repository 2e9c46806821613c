/* paginate.h - pagination strategies as a table of pure callbacks: what to
 * add to the request for a page, and what a response means (the records,
 * the next position, done). No I/O: the poll engine does the fetching.
 * Registered strategies: "cursor" (a next token at a JSON path sent back as
 * a query parameter) and "none" (one response holds everything). */
#ifndef CUSTODY_PAGINATE_H
#define CUSTODY_PAGINATE_H

#include <stddef.h>
#include "buf.h"
#include "err.h"
#include "json.h"

typedef struct paginate_cfg {
    const struct pager_ops *ops;
    char *records;      /* JSON path of the records array ("$" for a top-level array) */
    char *next;         /* cursor: JSON path of the next token */
    char *param;        /* cursor: query parameter carrying the token */
    char *limit_param;  /* query parameter for the page size, NULL for none */
    long limit;         /* page size to ask for; 0: do not send */
} paginate_cfg;

/* What one response said. */
typedef struct page_step {
    const json_value *records; /* the array of raw records (owned by the doc) */
    int done;                  /* no further page in this cycle */
    char *next;                /* token for the next page (malloc'd), NULL when done */
    char *resume;              /* position to persist with this page's data
                                  (malloc'd, NULL: keep the stored one) */
} page_step;
void page_step_release(page_step *st);

typedef struct pager_ops {
    const char *name;
    /* Append the query parameters (already percent-encoded, joined by '&',
     * without a leading '?' or '&') for the page at position pos (NULL: the
     * first page of a fresh source). */
    cust_code (*query)(const paginate_cfg *cfg, const char *pos, buf *q, struct err *e);
    /* Interpret a parsed response body fetched at position pos. Fails with
     * CUST_EUPSTREAM (e says which path and what was found) when the body
     * has not the declared shape, or when the API loops (next == pos). */
    cust_code (*parse)(const paginate_cfg *cfg, const char *pos, const json_value *body,
                       page_step *out, struct err *e);
} pager_ops;

extern const pager_ops pager_cursor;
extern const pager_ops pager_none;

/* Strategy by name, NULL when unknown. */
const pager_ops *paginate_lookup(const char *name);
/* Comma-separated names of every strategy, for messages and docs. */
const char *paginate_names(void);

/* Percent-encode s (RFC 3986 unreserved characters kept) onto q. */
cust_code paginate_urlencode(buf *q, const char *s) CUST_WUR;

#endif
