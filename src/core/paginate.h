/* paginate.h - pagination strategies as a table of pure callbacks: what a
 * page's request carries (query parameters, a URL, a JSON body, headers)
 * given the position, and what a response means (the records, the next
 * position, done). No I/O: the poll engine fetches.
 *
 * A position is a string the engine persists with the data (the cursor):
 * a token, an offset, a page number, a URL or a record id, as the strategy
 * defines. NULL is the first page of a fresh source. */
#ifndef CUSTODY_PAGINATE_H
#define CUSTODY_PAGINATE_H

#include <stddef.h>
#include "buf.h"
#include "err.h"
#include "json.h"

/* Where a token/offset/page/id travels. */
typedef enum page_in { PAGE_IN_QUERY = 0, PAGE_IN_BODY } page_in;

typedef struct paginate_cfg {
    const struct pager_ops *ops;
    char *records;      /* JSON path of the records array ("$" for a top-level array) */
    /* cursor */
    char *next;         /* JSON path of the next token (cursor) or next URL (next_url) */
    char *delta;        /* next_url: JSON path of a delta link on the last page; the next
                           cycle starts there (only changes since this one) */
    char *param;        /* parameter (query) or body field carrying the token/offset/page/id */
    page_in in;         /* where param goes; body needs request.method POST */
    int token_alone;    /* cursor: with a token, send only it and the page size (no other
                           configured query/body parameters; the API rejects them) */
    /* page size */
    char *limit_param;  /* parameter for the page size, NULL for none */
    long limit;         /* page size to ask for; 0: do not send */
    char *limit_header; /* send the page size in this header instead */
    /* stop conditions (offset, page, cursor, last_id) */
    char *has_more;     /* JSON path of a boolean that says more pages follow (has_more,
                           !end_of_stream and the like: see more_when) */
    int more_when;      /* the value of has_more that means "more" (1 true, 0 false: for
                           end_of_stream / done flags) */
    char *total;        /* offset: JSON path of the total record count;
                           page: JSON path of the total page count */
    /* offset / page */
    long start;         /* first offset (0 or 1) or first page number (usually 1) */
    long max_offset;    /* the API refuses offsets beyond this; 0: no limit */
    /* last_id */
    char *id_field;     /* JSON path, within a record, of its id */
    /* body template (POST): the request body with placeholders, see below */
    char *body;
} paginate_cfg;

/* What one page's request carries beyond the source's own URL. */
typedef struct page_request {
    buf query;          /* "a=b&c=d", percent-encoded, no leading '?' */
    char *url;          /* malloc'd absolute URL to fetch instead of the source's
                           (next_url, link); its own query is used as is */
    buf body;           /* POST body (JSON text); empty: none */
    buf headers;        /* header lines "Name: value", each ended by '\n' */
} page_request;
void page_request_init(page_request *rq);
void page_request_reset(page_request *rq);
void page_request_release(page_request *rq);

/* What one response said, as the strategy sees it. */
typedef struct page_response {
    const json_value *body;
    const char *link;   /* the Link header's value, NULL when absent */
    const char *url;    /* the absolute URL that was fetched (resolves relative next URLs) */
} page_response;

/* What one response means. */
typedef struct page_step {
    const json_value *records; /* the array of raw records (owned by the body) */
    int done;                  /* no further page in this cycle */
    char *next;                /* position of the next page (malloc'd), NULL when done */
    char *resume;              /* position to persist with this page's data
                                  (malloc'd, NULL: keep the stored one) */
    int window_full;           /* offset: the next page lies past max_offset. This
                                  page's records are good and done is set; the
                                  engine splits the window on the incremental
                                  field, or fails saying so */
} page_step;
void page_step_release(page_step *st);

typedef struct pager_ops {
    const char *name;
    /* Fill rq for the page at position pos (NULL: first page). rq is reset. */
    cust_code (*request)(const paginate_cfg *cfg, const char *pos, page_request *rq, struct err *e);
    /* Interpret a response fetched at position pos. Fails with
     * CUST_EUPSTREAM (e says which path and what was found) when the body
     * has not the declared shape, or when the API loops (the next position
     * equals pos). */
    cust_code (*parse)(const paginate_cfg *cfg, const char *pos, const page_response *rs, page_step *out,
                       struct err *e);
    /* Check cfg at config time: CUST_ECONFIG with a message naming the
     * option (without file:line) when something the strategy needs is
     * missing or contradictory. May be NULL. */
    cust_code (*check)(const paginate_cfg *cfg, struct err *e);
} pager_ops;

/* Strategies:
 *   none      one response holds every record
 *   cursor    a next token at `next`, sent back as `param` (query or body)
 *   next_url  a next URL at `next` (absolute, or relative to the page's URL)
 *   link      the Link header's rel="next" URL (RFC 8288)
 *   offset    `param` = start, start + n, ...; ends on a short or empty page,
 *             `total` reached, or `has_more` false
 *   page      `param` = start, start + 1, ...; ends on a short or empty page,
 *             `total` (total pages) reached, or `has_more` false
 *   last_id   `param` = the id (at `id_field`) of the page's last record */
extern const pager_ops pager_none, pager_cursor, pager_next_url, pager_link, pager_offset, pager_page,
    pager_last_id;

/* Strategy by name, NULL when unknown. */
const pager_ops *paginate_lookup(const char *name);
/* Comma-separated names of every strategy, for messages and docs. */
const char *paginate_names(void);

/* Percent-encode s (RFC 3986 unreserved characters kept) onto q. */
cust_code paginate_urlencode(buf *q, const char *s) CUST_WUR;

/* Expand a body template: the exact placeholders {cursor} {offset} {page}
 * {limit} become the position / page size as JSON values (a token as a
 * JSON string, numbers as numbers, a missing position as null); every other
 * brace is the JSON's own. The result must be JSON (CUST_ECONFIG otherwise,
 * naming the template). */
cust_code paginate_expand_body(const char *tmpl, const char *pos, int pos_is_number, long limit, buf *out,
                               struct err *e) CUST_WUR;

/* Resolve ref (an absolute URL, or relative per RFC 3986 section 5.2)
 * against base into out. CUST_EUPSTREAM when ref cannot be resolved or is
 * not http(s). */
cust_code paginate_resolve_url(const char *base, const char *ref, buf *out, struct err *e) CUST_WUR;

/* The rel="next" target of an RFC 8288 Link header value into out; returns
 * 1 when found, 0 when there is none, -1 on ENOMEM. */
int paginate_link_next(const char *link, buf *out);

#endif
