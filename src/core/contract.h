/* contract.h - data contracts: validate one raw upstream record, map vendor
 * fields to canonical ones, normalise, and derive the idempotency key.
 * Pure: no I/O (PCRE2 for patterns, libidn2 for IDN domains, libunistring
 * for NFC and Unicode case mapping, nothing else). The config loader fills
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
    FT_NUMBER,    /* any JSON number; compared as double; an integer
                     literal beyond +-2^53 is refused (code range) */
    FT_INTEGER,   /* JSON number literal without fraction/exponent fitting int64 */
    FT_BOOLEAN,
    FT_DATETIME,  /* RFC 3339 / ISO 8601 date-time string with a zone (or a
                     declared zone); or epoch / a declared format: see format */
    FT_ENUM,      /* string in values[] (after map/normalisers), or fallback */
    FT_DECIMAL,   /* exact decimal: a JSON number or a numeric string; output
                     is a JSON STRING of the normalised text (see below) */
    FT_DATE,      /* "YYYY-MM-DD", a real calendar day; kept as given */
    FT_EMAIL,     /* addr-spec: dot-atom or quoted local part @ LDH/IDN domain
                     with a TLD; output: domain lower-cased, rest as given */
    FT_URL,       /* absolute http(s)://host[:port][/path][?query][#frag];
                     no userinfo; output: scheme and host lower-cased */
    FT_UUID,      /* 8-4-4-4-12 hex digits; output lower-case */
    FT_ARRAY,     /* JSON array; items: scalar type each item must satisfy
                     (the field's other rules apply per item) */
    FT_OBJECT     /* JSON object kept as is, written in its JCS form */
} field_type;

/* Canonical forms that keep "exactly once" exact:
 * - integer: a value beyond +-2^53 (9007199254740992) is emitted in the
 *   canonical record and the key as a JSON STRING of its digits
 *   ("9007199254740993"), because RFC 8785 writes numbers as doubles and two
 *   different big ids would otherwise collide. An integer field accepts that
 *   string form back (only for values beyond +-2^53), so output re-validates.
 * - number: an integer literal beyond +-2^53 is refused with code "range"
 *   (declare the field decimal to keep the exact text).
 * - decimal: "-" only for non-zero values, no "+", no leading zeros, the
 *   scale (trailing fraction zeros) kept, the exponent expanded when the
 *   expanded text has at most 40 digits ("1.50e1" -> "15.0", "12e-2" ->
 *   "0.12"), else written as <digits>e<exp> ("15e299"). Bounds gt/ge/lt/le
 *   are compared exactly against the shortest decimal text of the configured
 *   number (exact for bounds written with up to 15 significant digits). */

/* Normalisers, applied to strings (string, enum, email, url, uuid, date,
 * decimal given as a string, array items of those) in this order: nfc,
 * trim, collapse, lower, upper. nfc is Unicode NFC (composed "é" and
 * "e"+U+0301 become the same text, so the same fingerprint). lower/upper map
 * ASCII only, unless nfc is also declared: then they use full Unicode case
 * mapping (opt-in, so existing contracts keep their fingerprints).
 * utc applies to datetimes (output "YYYY-MM-DDTHH:MM:SS[.f]Z"). */
#define NORM_TRIM     0x01u
#define NORM_LOWER    0x02u
#define NORM_UPPER    0x04u
#define NORM_UTC      0x08u
#define NORM_COLLAPSE 0x10u
#define NORM_NFC      0x20u

/* contract.unknown: raw members no field reads. A member is "read" when its
 * name is a field's or computed field's output name, or the first step of a
 * field's from path. */
#define UNKNOWN_DROP   0 /* default: not in the canonical record */
#define UNKNOWN_KEEP   1 /* copied as is after the declared fields */
#define UNKNOWN_REJECT 2 /* each is an error "unknown_field" at its path */
/* Names for the config option table, indexed by UNKNOWN_*; NULL-terminated. */
extern const char *const contract_unknown_policies[];

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
    /* datetime: "epoch_s" / "epoch_ms" (a JSON number or numeric string),
     * or a strptime-like pattern of %Y %m %d %H %M %S %z %% and literal
     * characters ("%d/%m/%Y %H:%M"; %m %d %H %M %S take 1 or 2 digits).
     * NULL: ISO 8601 (extended or basic form). Non-ISO inputs, and ISO
     * inputs completed by zone, are output as RFC 3339 (Z with utc, else
     * with their offset). */
    char *format;
    char *zone;          /* datetime: "UTC", "Z" or "+01:00" / "-0545", used
                            when the value carries no zone */
    /* The "default sentinel": JSON text used as the raw value when the field
     * is absent, or null in a field that is not nullable (so the canonical
     * record re-validates to itself), then validated like any value. Text that is
     * not valid JSON is taken as a string (default: N/A is "N/A"). */
    char *def;
    int has_items;       /* array: items given */
    field_type items;    /* array: the item type (scalar types only) */
    int has_min_items, has_max_items;
    size_t min_items, max_items;  /* array: item count bounds (code length) */
    /* set by contract_compile: */
    char *def_json;      /* def as JSON text (a string default quoted) */
    int zone_min;        /* zone as minutes east of UTC */
    int has_zone;
    char *dec_bound[4];  /* decimal: gt ge lt le as exact decimal text */
} contract_field;

/* A computed output field: the canonical values of other fields (strings
 * as is, other scalars in their JCS text, an absent or null part as "")
 * joined with sep. In each part "\" and sep are escaped with "\", so
 * different parts never give the same text (with a non-empty sep). Pick a
 * sep the values do not hold (the default "~") to keep the text readable:
 * with ":" a datetime part reads 07\:15\:00Z. Usable
 * in key; its parts are then required like key fields. Computed fields
 * follow the declared fields in the canonical record. */
typedef struct contract_computed {
    char *name;
    char **concat;       /* declared field names (scalar types) */
    size_t nconcat;
    char *sep;           /* NULL: "~" (the config default too) */
    int line;
} contract_computed;

typedef struct contract {
    char *name;
    contract_field *fields;
    size_t nfields;
    char **key;          /* canonical field or computed names forming the idempotency key */
    size_t nkey;
    int line;
    int unknown;         /* UNKNOWN_*; 0 (drop) by default */
    contract_computed *computed;
    size_t ncomputed;
    char *schema_file;   /* fields came from this JSON Schema (config only; owned) */
} contract;

/* Check and prepare c: every key names a declared field, patterns compile,
 * enums have values, bounds are coherent, defaults pass their field's
 * rules, computed fields name declared scalar fields. Returns CUST_OK or CUST_ECONFIG
 * with e naming the contract and field; c is unusable after a failure
 * except for contract_release. */
cust_code contract_compile(contract *c, struct err *e) CUST_WUR;

/* Free everything c owns (including the strings above); c itself is not
 * freed. Safe on a zeroed or partially compiled contract. */
void contract_release(contract *c);

/* Apply c to one raw record.
 * - Valid: returns 0; *canonical is a new object in out_doc with the
 *   declared fields in declaration order (absent optional fields omitted),
 *   then computed fields, then (unknown: keep) the unread raw members;
 *   key_out gets the idempotency key: the RFC 8785 JSON array of the key
 *   fields' canonical values, e.g. ["LOT-7","shipping","2026-03-01T13:15:00Z"].
 * - Invalid: returns the number of errors (> 0); errors_json gets a JSON
 *   array of {"path","code","message","value"} objects, one per failed
 *   rule, in field order, then unknown members (reject). path is the JSON
 *   path into the raw record ("$.quantity", "$.tags[2]" for an array item);
 *   code is one of required, type, format, pattern, enum, range, length,
 *   unknown_field; value is the offending value as JSON text (a string),
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
