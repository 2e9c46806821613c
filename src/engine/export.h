/* export.h - the pure parts of `custody export` and `custody trace`: RFC 4180
 * CSV cells, spreadsheet formula neutralisation, the FSMA 204 sortable
 * spreadsheet row of one record, and the chain-of-custody tree of a lot.
 * No I/O: the commands in src/cmd/ read the store and write files. */
#ifndef CUSTODY_EXPORT_H
#define CUSTODY_EXPORT_H

#include <stddef.h>
#include <stdint.h>
#include "core/buf.h"
#include "core/contract.h"
#include "core/err.h"
#include "core/json.h"

/* 1 when a spreadsheet would read the cell text as a formula: it begins with
 * = + - @ TAB or CR. */
int export_formula_risky(const char *s, size_t len);

/* 1 when s is a plain JSON number literal (-5, 12.5, 1e3). */
int export_is_number_text(const char *s, size_t len);

/* Append one CSV field (RFC 4180): quoted, with quotes doubled, when it holds
 * a comma, quote, CR or LF. When neutralise is set and the text is risky, a
 * single quote is put in front of it (and *changed set to 1 when changed is
 * not NULL). Returns CUST_OK or the buf's error (out unchanged then). */
cust_code export_csv_field(buf *out, const char *s, size_t len, int neutralise, int *changed) CUST_WUR;

/* The cell text of a record member: strings as is, numbers as their exact
 * text, true/false, null and absent as empty, arrays and objects as compact
 * JSON. Appends to out. */
cust_code export_cell_text(const json_value *v, buf *out) CUST_WUR;

/* Whether the cell of field type t with text s must be neutralised: risky
 * text, except a number literal in a field the contract typed as number,
 * integer or decimal (-5 there is data, not a formula). */
int export_must_neutralise(field_type t, const char *s, size_t len);

/* The record members the FSMA 204 export and trace read. Defaults:
 * export_fsma_default_fields. */
typedef struct export_fsma_fields {
    const char *lot, *event_type, *timestamp, *product, *quantity, *unit, *origin, *destination,
        *supplier, *input_lots;
} export_fsma_fields;
extern const export_fsma_fields export_fsma_default_fields;

/* The columns of the FSMA 204 sortable spreadsheet, in order, and a plain
 * words explanation of each (for the glossary). */
enum {
    FSMA_EVENT_TYPE, FSMA_LOT, FSMA_PRODUCT, FSMA_QUANTITY, FSMA_UNIT, FSMA_LOCATION, FSMA_PREV_OR_NEXT,
    FSMA_LOT_SOURCE, FSMA_EVENT_DATE, FSMA_EVENT_TIME, FSMA_REF_TYPE, FSMA_REF_NUMBER, FSMA_CONTENT_HASH,
    FSMA_CUSTODY_SOURCE, FSMA_CUSTODY_KEY, FSMA_CUSTODY_VERSION, FSMA_NCOLS
};
extern const char *const export_fsma_columns[FSMA_NCOLS];
extern const char *const export_fsma_glossary[FSMA_NCOLS];

/* One stored version as the exporters see it (strings borrowed). */
typedef struct export_version {
    const char *source, *key, *version, *content_hash, *fetched_at, *request_id;
} export_version;

/* One FSMA row: cells are NUL-terminated copies in doc; quantity keeps its
 * JSON number text. event_ms is the event instant for sorting/filtering.
 * Returns CUST_OK, CUST_EDATA when rec has no lot or no valid event
 * timestamp (the caller skips the record and says so), CUST_ENOMEM. */
typedef struct export_fsma_row {
    const char *cells[FSMA_NCOLS];
    int64_t event_ms;
    int quantity_is_number; /* the record's quantity is a JSON number (never neutralised) */
} export_fsma_row;
cust_code export_fsma_row_of(const json_value *rec, const export_version *ver, const export_fsma_fields *f,
                             json_doc *doc, export_fsma_row *out, struct err *e) CUST_WUR;

/* Sort rows by event instant, then lot, then key and version. */
void export_fsma_sort(export_fsma_row *rows, size_t n);

/* Chain of custody. An event of the trace index: borrowed strings, in doc. */
typedef struct export_event {
    const char *lot, *event_type, *timestamp, *origin, *destination;
    const char *source, *key, *version, *content_hash;
    const char **inputs; /* input lots of a transformation */
    size_t ninputs;
    int64_t ms;
} export_event;

/* The trace index: built once per run from current versions; lookups by lot
 * and by input lot are binary searches (no table scan per hop). */
typedef struct export_index export_index;
/* Returns NULL on allocation failure. */
export_index *export_index_new(void);
void export_index_free(export_index *ix); /* NULL is a no-op */
/* Add the event of one record (copies what it keeps). Records without a lot
 * are ignored (returns CUST_OK). CUST_ENOMEM on allocation failure. */
cust_code export_index_add(export_index *ix, const json_value *rec, const export_version *ver,
                           const export_fsma_fields *f) CUST_WUR;
/* The same, except that a record whose (source, key) was added before
 * through this function is ignored: for an index filled from lookups that
 * may return one record twice (by its lot and by an input lot). */
cust_code export_index_add_once(export_index *ix, const json_value *rec, const export_version *ver,
                                const export_fsma_fields *f) CUST_WUR;
size_t export_index_count(const export_index *ix);

/* The chain of custody from lot as a JSON tree in doc:
 *   {"lot":L,"events":[E...],"outputs":[{"via":E,"lot":L2,...}]}
 * where E is {"event_type","timestamp","location","origin","destination",
 * "source","key","version","content_hash"} and a shipping E carries
 * "received":[E...] (receivings of the same lot at its destination). An
 * output lot already shown is {"lot":L2,"seen":true} (cycles end there). At
 * most max_nodes lots are expanded (0: 5000; "truncated":true marks the rest).
 * Returns the tree, or NULL on allocation failure. *found is the number of
 * events of lot itself. */
json_value *export_trace(export_index *ix, const char *lot, size_t max_nodes, json_doc *doc, size_t *found);

/* Fills the trace index on demand (the store's lot index): called once for
 * each lot the tree expands, before the tree reads it, it must add with
 * export_index_add_once every current event whose lot is lot and every one
 * whose input lots include lot. Returns CUST_OK, or an error that ends the
 * trace. */
typedef cust_code (*export_lot_loader)(void *ctx, export_index *ix, const char *lot);
/* export_trace over an index that load fills lot by lot (ix may start
 * empty): the same tree export_trace builds over an index of every current
 * event, because each expanded lot sees all of its events and consumers and
 * the orders are total. Returns NULL with *rc (when rc is not NULL) set to
 * the loader's error or CUST_ENOMEM. */
json_value *export_trace_lazy(export_index *ix, const char *lot, size_t max_nodes, export_lot_loader load,
                              void *ctx, json_doc *doc, size_t *found, cust_code *rc);

/* Render a tree from export_trace as indented text or Graphviz dot. */
cust_code export_trace_text(const json_value *tree, buf *out) CUST_WUR;
cust_code export_trace_dot(const json_value *tree, buf *out) CUST_WUR;

#endif
