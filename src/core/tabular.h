/* tabular.h - turns the bytes of a CSV or JSONL file dropped by a supplier
 * without an API into one JSON array of record objects, so files go through
 * the same contract and commit path as API pages. Pure: no I/O, no paths.
 *
 * CSV (RFC 4180, with the usual leniencies):
 *  - quoted fields with "" escapes; delimiters, CR and LF inside quotes are
 *    data; CRLF or LF line ends (a CR right before the end of input ends the
 *    line too; any other lone CR is data); the last line end is optional;
 *  - a UTF-8 byte order mark at the start is dropped; the rest must be valid
 *    UTF-8 without NUL bytes;
 *  - blank lines (no bytes; with trim, only spaces) are skipped wherever they
 *    are, even between the header and the records;
 *  - every value is a JSON string: an empty field, quoted or not, is "" and
 *    its member is present;
 *  - header (default): the first non-blank row names the columns; names must
 *    be non-empty and distinct. A row with more fields than the header is an
 *    error; a row with fewer has the missing columns ABSENT from its object
 *    (a contract's `required` catches them). A header and no rows gives 0
 *    records. Without a header, columns are named "1","2",... per row, and
 *    rows may differ in length;
 *  - a '"' inside an unquoted field is data (a"b stays a"b); after a closing
 *    quote only the delimiter, a line end or the end of input may follow
 *    (with trim, spaces too);
 *  - trim drops ASCII spaces (0x20 only) around unquoted fields and around
 *    the quotes of quoted fields; text inside quotes is never trimmed.
 * JSONL: one JSON object per line (json_parse, strict RFC 8259); lines of
 *  only spaces, tabs and CRs are skipped; CRLF accepted; a leading BOM is
 *  dropped.
 * Bounds: a record (CSV, across embedded newlines) or line (JSONL) of at most
 * 16 MiB, at most 10,000 fields per row, at most max_records records. */
#ifndef CUSTODY_TABULAR_H
#define CUSTODY_TABULAR_H

#include <stddef.h>
#include "err.h"
#include "json.h"

#define TABULAR_MAX_RECORD (16u << 20)      /* bytes of one CSV record / JSONL line */
#define TABULAR_MAX_FIELDS 10000u           /* fields of one CSV row */
#define TABULAR_DEFAULT_MAX_RECORDS 10000000u

typedef enum tabular_format { TABULAR_CSV, TABULAR_JSONL } tabular_format;

typedef struct tabular_opts {
    char delimiter;     /* CSV: ',' default (0 means ','); ';' and '\t' common. Must be ASCII and
                           not '"', CR, LF; not ' ' together with trim */
    int header;         /* CSV: first row names the columns (1, default); 0: columns are "1","2",... */
    int trim;           /* CSV: trim ASCII spaces around unquoted fields (0, default) */
    size_t max_records; /* refuse files with more (CUST_ELIMIT); 0: TABULAR_DEFAULT_MAX_RECORDS */
} tabular_opts;

/* ',' delimiter, header on, trim off, max_records 0 (the default bound). */
void tabular_opts_default(tabular_opts *o);

typedef struct tabular_result {
    json_value *records; /* JSON array of objects, owned by doc */
    size_t *lines;       /* malloc'd: 1-based line where record i starts (for messages); free with free()
                            or tabular_result_release; NULL when n == 0 */
    size_t n;            /* == records->len */
} tabular_result;

/* Convert data[0..len) into out->records, a new array in doc; every string
 * is copied into doc's arena, so data may be freed afterwards. o NULL means
 * tabular_opts_default.
 * Returns CUST_OK, or with e filled ("line L: what is wrong", L 1-based in
 * data) and *out zeroed (nothing to release):
 *  CUST_EUPSTREAM  malformed file: too many fields, unterminated quote (L is
 *                  the line of the opening quote), text after a closing
 *                  quote, invalid UTF-8 or NUL, empty or duplicate column
 *                  name; JSONL: a line that is not JSON or not an object;
 *  CUST_ELIMIT     a bound above was exceeded (or the JSON parser's depth);
 *  CUST_ECONFIG    unusable options (bad delimiter; no line number);
 *  CUST_ENOMEM     allocation failed.
 * After a failure doc may hold unreachable values (reset or free it); the
 * values already in doc are untouched. */
cust_code tabular_parse(tabular_format f, const char *data, size_t len, const tabular_opts *o,
                        json_doc *doc, tabular_result *out, struct err *e) CUST_WUR;

/* Free r->lines and zero r (records belong to the doc). NULL is a no-op. */
void tabular_result_release(tabular_result *r);

#endif
