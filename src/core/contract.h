/* contract.h - data contracts: validate one raw upstream record, map vendor
 * fields to canonical ones, normalise, and derive the idempotency key.
 * Pure: no I/O (PCRE2 for patterns, nothing else). The config loader fills
 * struct contract; contract_compile prepares it; contract_apply is called
 * once per record on the hot path and is reentrant. */
#ifndef CUSTODY_CONTRACT_H
#define CUSTODY_CONTRACT_H

#include <stddef.h>
#include "buf.h"
#include "err.h"
#include "json.h"

typedef enum {
    FT_STRING = 0,
    FT_NUMBER,    /* any JSON number; compared as double */
    FT_INTEGER,   /* JSON number literal without fraction/exponent fitting int64 */
    FT_BOOLEAN,
    FT_DATETIME,  /* RFC 3339 / ISO 8601 date-time string with a zone */
    FT_ENUM       /* string in values[] (after map/normalisers), or fallback */
} field_type;

/* Normalisers, applied to strings in this order: trim, collapse, lower,
 * upper; utc applies to datetimes (output "YYYY-MM-DDTHH:MM:SS[.f]Z"). */
#define NORM_TRIM     0x01u
#define NORM_LOWER    0x02u
#define NORM_UPPER    0x04u
#define NORM_UTC      0x08u
#define NORM_COLLAPSE 0x10u

/* Which numeric bounds are set. */
#define BOUND_GT 0x01u
#define BOUND_GE 0x02u
#define BOUND_LT 0x04u
#define BOUND_LE 0x08u

typedef struct contract_field {
    char *name;          /* canonical output member name */
    char *from;          /* path in the raw record ("contact.email", "$.a[0]");
                            NULL: the member called name */
    field_type type;
    int required;        /* absent (or null) is an error "required" */
    int nullable;        /* explicit null is kept as null instead of "required"/"type" */
    int sensitive;       /* offending values are masked in rejections */
    int has_min_length, has_max_length;
    size_t min_length, max_length; /* in Unicode code points, after normalising */
    unsigned bounds;     /* BOUND_* */
    double gt, ge, lt, le;
    char *pattern;       /* PCRE2, anchored by the author if wanted */
    void *re;            /* compiled pattern, owned, set by contract_compile */
    char **values;       /* FT_ENUM allowed values */
    size_t nvalues;
    char **map_from;     /* FT_ENUM/FT_STRING: exact-match value map applied */
    char **map_to;       /*   after normalisers, before the enum check */
    size_t nmap;
    char *fallback;      /* FT_ENUM: value used when not in values (no error) */
    unsigned normalize;  /* NORM_* */
    int line;            /* config line, for messages; 0 if unknown */
} contract_field;

typedef struct contract {
    char *name;
    contract_field *fields;
    size_t nfields;
    char **key;          /* canonical field names forming the idempotency key */
    size_t nkey;
    int line;
} contract;

/* Check and prepare c: every key names a declared field, patterns compile,
 * enums have values, bounds are coherent. Returns CUST_OK or CUST_ECONFIG
 * with e naming the contract and field; c is unusable after a failure
 * except for contract_release. */
cust_code contract_compile(contract *c, struct err *e) CUST_WUR;

/* Free everything c owns (including the strings above); c itself is not
 * freed. Safe on a zeroed or partially compiled contract. */
void contract_release(contract *c);

/* Apply c to one raw record.
 * - Valid: returns 0; *canonical is a new object in out_doc with the
 *   declared fields in declaration order (absent optional fields omitted);
 *   key_out gets the idempotency key: the RFC 8785 JSON array of the key
 *   fields' canonical values, e.g. ["LOT-7","shipping","2026-03-01T13:15:00Z"].
 * - Invalid: returns the number of errors (> 0); errors_json gets a JSON
 *   array of {"path","code","message","value"} objects, one per failed
 *   rule, in field order. path is the JSON path into the raw record
 *   ("$.quantity"); code is one of required, type, format, pattern, enum,
 *   range, length; value is the offending value as JSON text (a string),
 *   "***" for sensitive fields, absent when the field is missing.
 * - Internal failure (allocation, buffer cap): returns -1 with e filled.
 * A raw record that is not an object is one "type" error at path "$".
 * key_out and errors_json are appended to; reset them between records. */
int contract_apply(const contract *c, const json_value *raw, json_doc *out_doc,
                   json_value **canonical, buf *key_out, buf *errors_json,
                   struct err *e) CUST_WUR;

/* Name of a field type ("string", ...) and the reverse (-1 if unknown). */
const char *contract_type_name(field_type t);
int contract_type_parse(const char *s);

#endif
