/* json.h - custody's JSON reader/builder: a validating, bounded DOM parser
 * into an arena. Keeps the exact text of every number (decimal fields and
 * exact 64-bit integers need it) and the byte span of every value in the
 * input (raw evidence for quarantine). Pure: no I/O.
 *
 * Why our own: DESIGN.md asks for UTF-8 validation, exact number text, depth
 * and size bounds and speed; cJSON keeps only doubles and does not validate
 * UTF-8, the validating C libraries (yajl, json-c, jansson) are 3-6x slower.
 * bench/ingest measures it against cJSON in the same run. */
#ifndef CUSTODY_JSON_H
#define CUSTODY_JSON_H

#include <stddef.h>
#include <stdint.h>
#include "buf.h"
#include "err.h"

typedef enum {
    JSON_NULL = 0,
    JSON_FALSE,
    JSON_TRUE,
    JSON_NUMBER,
    JSON_STRING,
    JSON_ARRAY,
    JSON_OBJECT
} json_type;

/* flags */
#define JSON_F_INT       0x01u /* number literal has no fraction or exponent */
#define JSON_F_INT64     0x02u /* ...and fits int64_t exactly: see .i64 */
#define JSON_F_DUPKEYS   0x04u /* object has a repeated member name (not I-JSON) */
#define JSON_F_SURROGATE 0x08u /* string had a lone \uD800-\uDFFF escape; its bytes
                                  hold U+FFFD there (not I-JSON) */

typedef struct json_value json_value;
typedef struct json_member {
    const char *key;   /* decoded UTF-8, NUL-terminated (may hold NUL: use key_len) */
    size_t key_len;
    json_value *value;
} json_member;

struct json_value {
    json_type type;
    uint32_t flags;
    size_t len;          /* string: bytes; number: text bytes; array/object: count */
    union {
        const char *str;        /* STRING: decoded UTF-8, NUL-terminated;
                                   NUMBER: the literal's exact text, NUL-terminated */
        json_value **items;     /* ARRAY */
        json_member *members;   /* OBJECT, in document order */
    } u;
    int64_t i64;         /* NUMBER with JSON_F_INT64 */
    size_t src_off;      /* byte span in the parsed input (0,0 for built values) */
    size_t src_len;
};

typedef struct json_limits {
    size_t max_bytes;    /* input larger than this fails with CUST_ELIMIT */
    unsigned max_depth;  /* nesting of arrays/objects; deeper fails (CUST_ELIMIT) */
    size_t max_string;   /* one string's decoded bytes */
    size_t max_members;  /* members of one object / items of one array */
} json_limits;

/* 64 MiB, depth 64, 16 MiB strings, 10M members. */
extern const json_limits json_default_limits;

/* An arena owning every value, string and array of one document. */
typedef struct json_doc json_doc;

json_doc *json_doc_new(void);
void json_doc_free(json_doc *doc); /* NULL is a no-op */
/* Forget every value of doc (they become invalid) but keep its largest
 * memory block for the next use; cheaper than free + new per page. */
void json_doc_reset(json_doc *doc);

/* Parse text[0..len) (RFC 8259; strict: no comments, no trailing commas,
 * no leading zeros, no control characters in strings, valid UTF-8 only,
 * a single value with optional surrounding whitespace).
 * Returns the root (owned by doc) or NULL with e filled:
 * CUST_EJSON "line L, column C: what" or CUST_ELIMIT for a bound.
 * lim NULL means json_default_limits. The doc may hold several parses. */
json_value *json_parse(json_doc *doc, const char *text, size_t len,
                       const json_limits *lim, struct err *e) CUST_WUR;

/* Lookups; NULL when absent or not an object/array. With duplicate keys the
 * last member wins (the ECMAScript JSON.parse behaviour). */
json_value *json_get(const json_value *obj, const char *key);
json_value *json_getn(const json_value *obj, const char *key, size_t key_len);
json_value *json_at(const json_value *arr, size_t i);

/* Evaluate a path: "$" the root; ".name" or "['name']" a member; "[N]" an
 * item. Returns NULL when any step is missing. A malformed path returns NULL
 * too: check paths once with json_path_valid when loading config. */
json_value *json_path(const json_value *root, const char *path);
/* 1 when path is well formed, else 0 with e filled (CUST_ECONFIG). */
int json_path_valid(const char *path, struct err *e);

/* Number as double (strtod of the exact text); strings etc. give 0 and *ok=0. */
double json_number(const json_value *v, int *ok);

/* Builders: values live in doc. Return NULL only on allocation failure. */
json_value *json_new_null(json_doc *doc);
json_value *json_new_bool(json_doc *doc, int b);
json_value *json_new_string(json_doc *doc, const char *s, size_t len); /* copies s */
json_value *json_new_number_text(json_doc *doc, const char *text, size_t len); /* text must be a valid JSON number */
json_value *json_new_int(json_doc *doc, int64_t n);
json_value *json_new_array(json_doc *doc, size_t cap);
json_value *json_new_object(json_doc *doc, size_t cap);
/* Append; the container must have been created with enough cap (or grows in
 * the arena). Return CUST_OK or CUST_ENOMEM. key is copied. */
cust_code json_array_push(json_doc *doc, json_value *arr, json_value *v) CUST_WUR;
cust_code json_object_put(json_doc *doc, json_value *obj, const char *key, size_t key_len,
                          json_value *v) CUST_WUR;
/* Copy a NUL-terminated or counted string into the arena. */
char *json_strdup(json_doc *doc, const char *s, size_t len);

/* Compact serialisation in member order (not canonical: see jcs.h).
 * Strings escaped minimally (\" \\ and control characters). Appends to out. */
cust_code json_write(const json_value *v, buf *out) CUST_WUR;
/* Append s as a JSON string literal with quotes. */
cust_code json_write_string(buf *out, const char *s, size_t len) CUST_WUR;

#endif
