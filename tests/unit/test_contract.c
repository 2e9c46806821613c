/* test_contract.c - data contracts: one table row per type and rule (field
 * spec, raw value, expected canonical value or error code + path), then the
 * record-level promises: every error reported, key fields, key and content
 * hash stability, sensitive values masked, and contract_compile refusals. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/contract.h"
#include "core/jcs.h"
#include "core/json.h"

#define STRS(...) ((char *[]){__VA_ARGS__})
#define NSTRS(...) (sizeof((char *[]){__VA_ARGS__}) / sizeof(char *))
/* A field template under test; it is always called "v" (row paths use it). */
#define F(...) {.name = "v", __VA_ARGS__}
#define VALUES(...) .values = STRS(__VA_ARGS__), .nvalues = NSTRS(__VA_ARGS__)
#define MAP(from, to) .map_from = STRS(from), .map_to = STRS(to), .nmap = 1
#define UNIT_ENUM .type = FT_ENUM, VALUES("kg", "lb", "ea", "UNKNOWN")

#define ABSENT "(absent)"     /* the field is omitted from the canonical record */
#define MISSING NULL          /* the raw record has no member "v" */

enum { OK = 0, ERR = 1 };

struct row {
    int line;
    contract_field f;
    const char *raw;  /* JSON text of member "v" in {"id":1,"v":...}; MISSING: no member */
    int want;         /* OK or ERR */
    const char *out;  /* OK: canonical value as JSON text (or ABSENT); ERR: the error code */
    const char *path; /* ERR: expected path; NULL means "$.v" */
    const char *value; /* ERR: expected "value" member when not raw itself */
};

#define R(...) {__LINE__, __VA_ARGS__, NULL}
#define RV(...) {__LINE__, __VA_ARGS__} /* with the expected "value" */
#define RC(...) {__LINE__, __VA_ARGS__}

static const struct row rows[] = {
    /* ---- string: presence, null, type ---- */
    R(F(.type = FT_STRING), "\"abc\"", OK, "\"abc\"", NULL),
    R(F(.type = FT_STRING), "\"\"", OK, "\"\"", NULL),
    R(F(.type = FT_STRING), MISSING, OK, ABSENT, NULL),
    R(F(.type = FT_STRING), "null", OK, ABSENT, NULL),
    R(F(.type = FT_STRING, .required = 1), MISSING, ERR, "required", NULL),
    R(F(.type = FT_STRING, .required = 1), "null", ERR, "required", NULL),
    R(F(.type = FT_STRING, .nullable = 1), "null", OK, "null", NULL),
    R(F(.type = FT_STRING, .required = 1, .nullable = 1), "null", OK, "null", NULL),
    R(F(.type = FT_STRING, .required = 1, .nullable = 1), MISSING, ERR, "required", NULL),
    R(F(.type = FT_STRING), "5", ERR, "type", NULL),
    R(F(.type = FT_STRING), "true", ERR, "type", NULL),
    R(F(.type = FT_STRING), "[\"a\"]", ERR, "type", NULL),
    R(F(.type = FT_STRING), "{\"a\":1}", ERR, "type", NULL),
    RV(F(.type = FT_STRING), "\"\\ud800x\"", ERR, "format", NULL,      /* lone surrogate: not I-JSON */
      "\"\xef\xbf\xbdx\""),
    R(F(.type = FT_STRING), "\"a\\u0000b\"", OK, "\"a\\u0000b\"", NULL),
    R(F(.type = FT_STRING), "\"\\ud83d\\ude00\"", OK, "\"\xf0\x9f\x98\x80\"", NULL),
    /* ---- from: paths into the raw record ---- */
    R(F(.type = FT_STRING, .from = "contact.email"), "\"x\"", OK, ABSENT, NULL),
    R(F(.type = FT_STRING, .from = "contact.email", .required = 1), "\"x\"", ERR, "required", "$.contact.email"),
    R(F(.type = FT_STRING, .from = "$.v"), "\"x\"", OK, "\"x\"", NULL),
    R(F(.type = FT_STRING, .from = "$.v[1]"), "[\"a\",\"b\"]", OK, "\"b\"", NULL),
    RV(F(.type = FT_STRING, .from = "$.v[1]"), "[\"a\",2]", ERR, "type", "$.v[1]", "2"),
    R(F(.type = FT_STRING, .from = "v.w"), "{\"w\":\"deep\"}", OK, "\"deep\"", NULL),
    R(F(.type = FT_STRING, .from = "v.w", .required = 1), "{\"w\":null}", ERR, "required", "$.v.w"),
    /* ---- length: code points, after normalising ---- */
    R(F(.type = FT_STRING, .has_min_length = 1, .min_length = 3), "\"abc\"", OK, "\"abc\"", NULL),
    R(F(.type = FT_STRING, .has_min_length = 1, .min_length = 3), "\"ab\"", ERR, "length", NULL),
    R(F(.type = FT_STRING, .has_max_length = 1, .max_length = 5), "\"abcde\"", OK, "\"abcde\"", NULL),
    R(F(.type = FT_STRING, .has_max_length = 1, .max_length = 5), "\"abcdef\"", ERR, "length", NULL),
    R(F(.type = FT_STRING, .has_min_length = 1, .min_length = 1), "\"\"", ERR, "length", NULL),
    R(F(.type = FT_STRING, .has_max_length = 1, .max_length = 0), "\"\"", OK, "\"\"", NULL),
    R(F(.type = FT_STRING, .has_max_length = 1, .max_length = 3), "\"\xc3\xa9\xc3\xa9\xc3\xa9\"", OK,
      "\"\xc3\xa9\xc3\xa9\xc3\xa9\"", NULL),                               /* 3 code points, 6 bytes */
    R(F(.type = FT_STRING, .has_max_length = 1, .max_length = 3), "\"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9ex\"",
      ERR, "length", NULL),                                                /* 4 code points */
    R(F(.type = FT_STRING, .has_max_length = 1, .max_length = 1), "\"\\ud83d\\ude00\"", OK,
      "\"\xf0\x9f\x98\x80\"", NULL),                                       /* one astral code point */
    R(F(.type = FT_STRING, .has_min_length = 1, .min_length = 2, .has_max_length = 1, .max_length = 2),
      "\"ab\"", OK, "\"ab\"", NULL),
    R(F(.type = FT_STRING, .has_min_length = 1, .min_length = 3, .normalize = NORM_TRIM), "\"  ab  \"", ERR,
      "length", NULL),
    R(F(.type = FT_STRING, .has_min_length = 1, .min_length = 1, .normalize = NORM_TRIM), "\" \\t\\n \"", ERR,
      "length", NULL),
    R(F(.type = FT_STRING, .has_max_length = 1, .max_length = 3, .normalize = NORM_COLLAPSE), "\"a    b\"", OK,
      "\"a b\"", NULL),
    /* ---- pattern: PCRE2, on the normalised value ---- */
    R(F(.type = FT_STRING, .pattern = "^[A-Z]{3}-\\d+$"), "\"LOT-7\"", OK, "\"LOT-7\"", NULL),
    R(F(.type = FT_STRING, .pattern = "^[A-Z]{3}-\\d+$"), "\"lot-7\"", ERR, "pattern", NULL),
    R(F(.type = FT_STRING, .pattern = "^[A-Z]{3}-\\d+$", .normalize = NORM_TRIM | NORM_UPPER), "\" lot-7 \"", OK,
      "\"LOT-7\"", NULL),
    R(F(.type = FT_STRING, .pattern = "\\d"), "\"a1b\"", OK, "\"a1b\"", NULL),     /* unanchored */
    R(F(.type = FT_STRING, .pattern = "^.$"), "\"\xc3\xa9\"", OK, "\"\xc3\xa9\"", NULL), /* UTF mode */
    R(F(.type = FT_STRING, .pattern = "^\\w+$"), "\"caf\xc3\xa9\"", OK, "\"caf\xc3\xa9\"", NULL), /* UCP */
    R(F(.type = FT_STRING, .pattern = "^a$"), "\"a\\u0000\"", ERR, "pattern", NULL), /* NUL is not an end */
    /* ---- normalisers: trim, collapse, lower, upper ---- */
    R(F(.type = FT_STRING, .normalize = NORM_TRIM), "\"  a  b \\t\\r\\n\"", OK, "\"a  b\"", NULL),
    R(F(.type = FT_STRING, .normalize = NORM_TRIM), "\"\xc2\xa0\xe3\x80\x80x\xef\xbb\xbf\xc2\xa0\"", OK, "\"x\"",
      NULL),                                               /* NBSP, ideographic space, BOM */
    R(F(.type = FT_STRING, .normalize = NORM_TRIM), "\"   \"", OK, "\"\"", NULL),
    R(F(.type = FT_STRING, .normalize = NORM_TRIM), "\"\xc3\xa0\"", OK, "\"\xc3\xa0\"", NULL), /* a0 byte inside a char */
    R(F(.type = FT_STRING, .normalize = NORM_COLLAPSE), "\" a \\t\\n b \"", OK, "\" a b \"", NULL),
    R(F(.type = FT_STRING, .normalize = NORM_TRIM | NORM_COLLAPSE), "\"  a \\t\\n b  \"", OK, "\"a b\"", NULL),
    R(F(.type = FT_STRING, .normalize = NORM_TRIM | NORM_COLLAPSE), "\"a\xc2\xa0\xc2\xa0" "b\"", OK, "\"a b\"", NULL),
    R(F(.type = FT_STRING, .normalize = NORM_LOWER), "\"AbC-1\"", OK, "\"abc-1\"", NULL),
    R(F(.type = FT_STRING, .normalize = NORM_UPPER), "\"AbC-1\"", OK, "\"ABC-1\"", NULL),
    R(F(.type = FT_STRING, .normalize = NORM_TRIM | NORM_LOWER), "\" Ops@Example.COM \"", OK,
      "\"ops@example.com\"", NULL),
    R(F(.type = FT_STRING, .normalize = NORM_TRIM | NORM_COLLAPSE | NORM_UPPER), "\"\"", OK, "\"\"", NULL),
    /* FT_STRING with a value map (after normalisers) */
    R(F(.type = FT_STRING, .normalize = NORM_TRIM | NORM_UPPER, MAP("N/A", "")), "\" n/a \"", OK, "\"\"", NULL),
    R(F(.type = FT_STRING, MAP("N/A", "")), "\"n/a\"", OK, "\"n/a\"", NULL),   /* exact match only */
    /* ---- number: any JSON number, compared as a double, text kept ---- */
    R(F(.type = FT_NUMBER), "1.50", OK, "1.50", NULL),
    R(F(.type = FT_NUMBER), "-0", OK, "-0", NULL),
    R(F(.type = FT_NUMBER), "1e2", OK, "1e2", NULL),
    /* an integer literal beyond 2^53 cannot be fingerprinted exactly as a JSON
     * number: refused (declare the field decimal); see contract.h */
    R(F(.type = FT_NUMBER), "12345678901234567890123", ERR, "range", NULL),
    R(F(.type = FT_NUMBER), "\"1\"", ERR, "type", NULL),
    R(F(.type = FT_NUMBER), "true", ERR, "type", NULL),
    R(F(.type = FT_NUMBER), "1e400", ERR, "range", NULL),   /* not a double: no JCS form, no hash */
    R(F(.type = FT_NUMBER), "-1e400", ERR, "range", NULL),
    R(F(.type = FT_NUMBER), "5e-324", OK, "5e-324", NULL),    /* subnormal: a double, has a JCS form */
    R(F(.type = FT_NUMBER), "1e-310", OK, "1e-310", NULL),
    R(F(.type = FT_NUMBER), "1.7976931348623157e308", OK, "1.7976931348623157e308", NULL),
    R(F(.type = FT_NUMBER), "1.7976931348623159e308", ERR, "range", NULL), /* rounds to infinity */
    R(F(.type = FT_NUMBER, .bounds = BOUND_GT, .gt = 0), "0", ERR, "range", NULL),
    R(F(.type = FT_NUMBER, .bounds = BOUND_GT, .gt = 0), "-0", ERR, "range", NULL),
    R(F(.type = FT_NUMBER, .bounds = BOUND_GT, .gt = 0), "0.000001", OK, "0.000001", NULL),
    R(F(.type = FT_NUMBER, .bounds = BOUND_GE, .ge = 0), "0", OK, "0", NULL),
    R(F(.type = FT_NUMBER, .bounds = BOUND_GE, .ge = 0), "-0.0", OK, "-0.0", NULL),
    R(F(.type = FT_NUMBER, .bounds = BOUND_GE, .ge = 0), "-1e-9", ERR, "range", NULL),
    R(F(.type = FT_NUMBER, .bounds = BOUND_LT, .lt = 10), "10", ERR, "range", NULL),
    R(F(.type = FT_NUMBER, .bounds = BOUND_LT, .lt = 10), "10.0", ERR, "range", NULL),
    R(F(.type = FT_NUMBER, .bounds = BOUND_LT, .lt = 10), "9.999", OK, "9.999", NULL),
    R(F(.type = FT_NUMBER, .bounds = BOUND_LE, .le = 10), "10", OK, "10", NULL),
    R(F(.type = FT_NUMBER, .bounds = BOUND_LE, .le = 10), "1e1", OK, "1e1", NULL),
    R(F(.type = FT_NUMBER, .bounds = BOUND_LE, .le = 10), "10.000001", ERR, "range", NULL),
    R(F(.type = FT_NUMBER, .bounds = BOUND_GT | BOUND_LT, .gt = 0, .lt = 1), "0.5", OK, "0.5", NULL),
    R(F(.type = FT_NUMBER, .bounds = BOUND_GT | BOUND_LT, .gt = 0, .lt = 1), "1", ERR, "range", NULL),
    R(F(.type = FT_NUMBER, .bounds = BOUND_GE, .ge = 0), "1e400", ERR, "range", NULL),
    R(F(.type = FT_NUMBER, .bounds = BOUND_GT, .gt = 0), "1e-310", OK, "1e-310", NULL),
    R(F(.type = FT_NUMBER, .bounds = BOUND_LT, .lt = 0), "1e-310", ERR, "range", NULL),
    R(F(.type = FT_NUMBER, .bounds = BOUND_LE, .le = 1), "1e-400", OK, "1e-400", NULL), /* underflow to 0 */
    /* ---- integer: literal without fraction/exponent, fitting int64 ---- */
    R(F(.type = FT_INTEGER), "42", OK, "42", NULL),
    R(F(.type = FT_INTEGER), "-0", OK, "-0", NULL),
    R(F(.type = FT_INTEGER), "1.0", ERR, "type", NULL),
    R(F(.type = FT_INTEGER), "1e2", ERR, "type", NULL),
    R(F(.type = FT_INTEGER), "1E2", ERR, "type", NULL),
    R(F(.type = FT_INTEGER), "1.5", ERR, "type", NULL),
    R(F(.type = FT_INTEGER), "\"1\"", ERR, "type", NULL),
    R(F(.type = FT_INTEGER), "false", ERR, "type", NULL),
    /* beyond +-2^53 the canonical form is the digits as a JSON string (exact in JCS) */
    R(F(.type = FT_INTEGER), "9223372036854775807", OK, "\"9223372036854775807\"", NULL),
    R(F(.type = FT_INTEGER), "-9223372036854775808", OK, "\"-9223372036854775808\"", NULL),
    R(F(.type = FT_INTEGER), "9223372036854775808", ERR, "type", NULL),
    R(F(.type = FT_INTEGER), "-9223372036854775809", ERR, "type", NULL),
    R(F(.type = FT_INTEGER), "99999999999999999999999999", ERR, "type", NULL),
    R(F(.type = FT_INTEGER), "9007199254740993", OK, "\"9007199254740993\"", NULL), /* exact digits kept */
    R(F(.type = FT_INTEGER, .bounds = BOUND_GE | BOUND_LE, .ge = 1, .le = 5), "1", OK, "1", NULL),
    R(F(.type = FT_INTEGER, .bounds = BOUND_GE | BOUND_LE, .ge = 1, .le = 5), "5", OK, "5", NULL),
    R(F(.type = FT_INTEGER, .bounds = BOUND_GE | BOUND_LE, .ge = 1, .le = 5), "0", ERR, "range", NULL),
    R(F(.type = FT_INTEGER, .bounds = BOUND_GE | BOUND_LE, .ge = 1, .le = 5), "6", ERR, "range", NULL),
    R(F(.type = FT_INTEGER, .bounds = BOUND_GT, .gt = 0), "0", ERR, "range", NULL),
    R(F(.type = FT_INTEGER, .bounds = BOUND_GT, .gt = 0), "1", OK, "1", NULL),
    R(F(.type = FT_INTEGER, .bounds = BOUND_LT, .lt = 100), "100", ERR, "range", NULL),
    R(F(.type = FT_INTEGER, .bounds = BOUND_LT, .lt = 100), "99", OK, "99", NULL),
    R(F(.type = FT_INTEGER, .bounds = BOUND_GT, .gt = 0), "1.0", ERR, "type", NULL), /* type before range */
    /* ---- boolean ---- */
    R(F(.type = FT_BOOLEAN), "true", OK, "true", NULL),
    R(F(.type = FT_BOOLEAN), "false", OK, "false", NULL),
    R(F(.type = FT_BOOLEAN, .required = 1), "false", OK, "false", NULL),  /* false is present */
    R(F(.type = FT_BOOLEAN), "\"true\"", ERR, "type", NULL),
    R(F(.type = FT_BOOLEAN), "1", ERR, "type", NULL),
    R(F(.type = FT_BOOLEAN), "0", ERR, "type", NULL),
    R(F(.type = FT_BOOLEAN, .nullable = 1), "null", OK, "null", NULL),
    /* ---- datetime: kept as given without utc ---- */
    R(F(.type = FT_DATETIME), "\"2026-03-01T08:15:00-05:00\"", OK, "\"2026-03-01T08:15:00-05:00\"", NULL),
    R(F(.type = FT_DATETIME), "\"2026-03-01T08:15:00Z\"", OK, "\"2026-03-01T08:15:00Z\"", NULL),
    R(F(.type = FT_DATETIME), "1772352900", ERR, "type", NULL),
    R(F(.type = FT_DATETIME), "\"2026-03-01T08:15:00\"", ERR, "format", NULL),      /* no zone */
    R(F(.type = FT_DATETIME), "\"2026-03-01\"", ERR, "format", NULL),               /* date only */
    R(F(.type = FT_DATETIME), "\"\"", ERR, "format", NULL),
    R(F(.type = FT_DATETIME), "\"2026-02-30T00:00:00Z\"", ERR, "format", NULL),
    R(F(.type = FT_DATETIME), "\"2026-02-29T00:00:00Z\"", ERR, "format", NULL),     /* not a leap year */
    R(F(.type = FT_DATETIME), "\"2024-02-29T00:00:00Z\"", OK, "\"2024-02-29T00:00:00Z\"", NULL),
    R(F(.type = FT_DATETIME), "\"1900-02-29T00:00:00Z\"", ERR, "format", NULL),
    R(F(.type = FT_DATETIME), "\"2000-02-29T00:00:00Z\"", OK, "\"2000-02-29T00:00:00Z\"", NULL),
    R(F(.type = FT_DATETIME), "\"2026-04-31T00:00:00Z\"", ERR, "format", NULL),
    R(F(.type = FT_DATETIME), "\"2026-13-01T00:00:00Z\"", ERR, "format", NULL),
    R(F(.type = FT_DATETIME), "\"2026-00-10T00:00:00Z\"", ERR, "format", NULL),
    R(F(.type = FT_DATETIME), "\"2026-01-00T00:00:00Z\"", ERR, "format", NULL),
    R(F(.type = FT_DATETIME), "\"2026-03-01T24:00:00Z\"", ERR, "format", NULL),
    R(F(.type = FT_DATETIME), "\"2026-03-01T23:60:00Z\"", ERR, "format", NULL),
    R(F(.type = FT_DATETIME), "\"2026-03-01T23:59:61Z\"", ERR, "format", NULL),
    R(F(.type = FT_DATETIME), "\"2026-03-01T08:15:00+24:00\"", ERR, "format", NULL),
    R(F(.type = FT_DATETIME), "\"2026-03-01T08:15:00+05:60\"", ERR, "format", NULL),
    R(F(.type = FT_DATETIME), "\"2026-03-01T08:15:00+05:\"", ERR, "format", NULL),  /* offset cut short */
    R(F(.type = FT_DATETIME), "\"2026-03-01T08:15:00+05:3\"", ERR, "format", NULL),
    R(F(.type = FT_DATETIME), "\"2026-03-01T08:15:00+5:30\"", ERR, "format", NULL),
    R(F(.type = FT_DATETIME), "\"2026-03-01T08:15:00ZZ\"", ERR, "format", NULL),
    R(F(.type = FT_DATETIME), "\"2026-03-01T08:15:00.Z\"", ERR, "format", NULL),
    R(F(.type = FT_DATETIME), "\"2026-03-01T08:15:00.1234567891Z\"", ERR, "format", NULL),
    R(F(.type = FT_DATETIME), "\" 2026-03-01T08:15:00Z\"", ERR, "format", NULL),
    R(F(.type = FT_DATETIME), "\"2026-03-01T08:15:00Z \"", ERR, "format", NULL),
    R(F(.type = FT_DATETIME), "\"2026-3-01T08:15:00Z\"", ERR, "format", NULL),
    R(F(.type = FT_DATETIME), "\"2026/03/01T08:15:00Z\"", ERR, "format", NULL),
    R(F(.type = FT_DATETIME), "\"2016-12-31T23:59:60Z\"", OK, "\"2016-12-31T23:59:60Z\"", NULL),
    /* ---- datetime with utc: one text per instant ---- */
    R(F(.type = FT_DATETIME, .normalize = NORM_UTC), "\"2026-03-01T08:15:00-05:00\"", OK,
      "\"2026-03-01T13:15:00Z\"", NULL),
    R(F(.type = FT_DATETIME, .normalize = NORM_UTC), "\"2026-03-01T08:15:00+05:30\"", OK,
      "\"2026-03-01T02:45:00Z\"", NULL),
    R(F(.type = FT_DATETIME, .normalize = NORM_UTC), "\"2026-03-01T02:15:00+05:30\"", OK,
      "\"2026-02-28T20:45:00Z\"", NULL),
    R(F(.type = FT_DATETIME, .normalize = NORM_UTC), "\"2024-03-01T01:00:00+02:00\"", OK,
      "\"2024-02-29T23:00:00Z\"", NULL),
    R(F(.type = FT_DATETIME, .normalize = NORM_UTC), "\"2026-12-31T23:30:00-01:00\"", OK,
      "\"2027-01-01T00:30:00Z\"", NULL),
    R(F(.type = FT_DATETIME, .normalize = NORM_UTC), "\"2026-03-01T08:15:00+0530\"", OK,
      "\"2026-03-01T02:45:00Z\"", NULL),
    R(F(.type = FT_DATETIME, .normalize = NORM_UTC), "\"2026-03-01T08:15:00+05\"", OK,
      "\"2026-03-01T03:15:00Z\"", NULL),
    R(F(.type = FT_DATETIME, .normalize = NORM_UTC), "\"2026-03-01T08:15:00-00:00\"", OK,
      "\"2026-03-01T08:15:00Z\"", NULL),
    R(F(.type = FT_DATETIME, .normalize = NORM_UTC), "\"2026-03-01t08:15:00z\"", OK, "\"2026-03-01T08:15:00Z\"",
      NULL),
    R(F(.type = FT_DATETIME, .normalize = NORM_UTC), "\"2026-03-01 08:15:00Z\"", OK, "\"2026-03-01T08:15:00Z\"",
      NULL),
    R(F(.type = FT_DATETIME, .normalize = NORM_UTC), "\"2026-03-01T08:15Z\"", OK, "\"2026-03-01T08:15:00Z\"",
      NULL),
    R(F(.type = FT_DATETIME, .normalize = NORM_UTC), "\"2026-03-01T08:15:00.123+01:00\"", OK,
      "\"2026-03-01T07:15:00.123Z\"", NULL),
    R(F(.type = FT_DATETIME, .normalize = NORM_UTC), "\"2026-03-01T08:15:00.120Z\"", OK,
      "\"2026-03-01T08:15:00.12Z\"", NULL),
    R(F(.type = FT_DATETIME, .normalize = NORM_UTC), "\"2026-03-01T08:15:00.000Z\"", OK,
      "\"2026-03-01T08:15:00Z\"", NULL),
    R(F(.type = FT_DATETIME, .normalize = NORM_UTC), "\"2026-03-01T08:15:00,5Z\"", OK,
      "\"2026-03-01T08:15:00.5Z\"", NULL),
    R(F(.type = FT_DATETIME, .normalize = NORM_UTC), "\"2026-03-01T08:15:00.123456789Z\"", OK,
      "\"2026-03-01T08:15:00.123456789Z\"", NULL),
    R(F(.type = FT_DATETIME, .normalize = NORM_UTC), "\"2016-12-31T23:59:60Z\"", OK, "\"2016-12-31T23:59:60Z\"",
      NULL),
    R(F(.type = FT_DATETIME, .normalize = NORM_UTC), "\"2017-01-01T00:59:60+01:00\"", OK,
      "\"2016-12-31T23:59:60Z\"", NULL),
    R(F(.type = FT_DATETIME, .normalize = NORM_UTC), "\"2016-12-31T18:59:60.5-05:00\"", OK,
      "\"2016-12-31T23:59:60.5Z\"", NULL),
    R(F(.type = FT_DATETIME, .normalize = NORM_UTC), "\"1969-12-31T23:00:00-02:00\"", OK,
      "\"1970-01-01T01:00:00Z\"", NULL),
    R(F(.type = FT_DATETIME, .normalize = NORM_UTC), "\"0000-01-01T00:30:00+01:00\"", ERR, "format", NULL),
    R(F(.type = FT_DATETIME, .normalize = NORM_UTC), "\"9999-12-31T23:30:00-01:00\"", ERR, "format", NULL),
    R(F(.type = FT_DATETIME, .normalize = NORM_UTC), "\"9999-12-31T23:30:00+01:00\"", OK,
      "\"9999-12-31T22:30:00Z\"", NULL),
    R(F(.type = FT_DATETIME, .normalize = NORM_UTC), "\"2026-02-30T08:15:00Z\"", ERR, "format", NULL),
    /* ---- enum: values, normalisers, map, fallback ---- */
    R(F(UNIT_ENUM), "\"kg\"", OK, "\"kg\"", NULL),
    R(F(UNIT_ENUM), "\"KG\"", ERR, "enum", NULL),
    R(F(UNIT_ENUM), "\"kg \"", ERR, "enum", NULL),
    R(F(UNIT_ENUM), "\"\"", ERR, "enum", NULL),
    R(F(UNIT_ENUM), "5", ERR, "type", NULL),
    R(F(UNIT_ENUM, .normalize = NORM_TRIM | NORM_LOWER), "\" KG \"", OK, "\"kg\"", NULL),
    R(F(UNIT_ENUM, MAP("kilogram", "kg")), "\"kilogram\"", OK, "\"kg\"", NULL),
    R(F(UNIT_ENUM, MAP("kilogram", "kg")), "\"Kilogram\"", ERR, "enum", NULL),
    R(F(UNIT_ENUM, .normalize = NORM_TRIM | NORM_LOWER, MAP("kilogram", "kg")), "\" KiloGram\\t\"", OK, "\"kg\"",
      NULL),
    R(F(UNIT_ENUM, MAP("kilogram", "tonne")), "\"kilogram\"", ERR, "enum", NULL),  /* map target checked */
    R(F(UNIT_ENUM, .fallback = "UNKNOWN"), "\"ton\"", OK, "\"UNKNOWN\"", NULL),
    R(F(UNIT_ENUM, .fallback = "UNKNOWN"), "\"lb\"", OK, "\"lb\"", NULL),
    R(F(UNIT_ENUM, .fallback = "UNKNOWN"), "\"\"", OK, "\"UNKNOWN\"", NULL),
    R(F(UNIT_ENUM, .fallback = "UNKNOWN"), "7", ERR, "type", NULL),          /* fallback is not a type cast */
    R(F(UNIT_ENUM, .fallback = "UNKNOWN"), MISSING, OK, ABSENT, NULL),       /* nor a default */
    R(F(UNIT_ENUM, .fallback = "UNKNOWN", .required = 1), MISSING, ERR, "required", NULL),
    R(F(UNIT_ENUM, .fallback = "UNKNOWN", MAP("pound", "lb")), "\"pound\"", OK, "\"lb\"", NULL),
    R(F(.type = FT_ENUM, VALUES("GENERAL", "VIP", "UNKNOWN_TIER"), MAP("GA-2026", "GENERAL"),
        .fallback = "UNKNOWN_TIER", .from = "ticket_sku"), "\"x\"", OK, ABSENT, NULL),
    R(F(.type = FT_ENUM, VALUES("GENERAL", "VIP", "UNKNOWN_TIER"), MAP("GA-2026", "GENERAL"),
        .fallback = "UNKNOWN_TIER"), "\"GA-2026\"", OK, "\"GENERAL\"", NULL),
    R(F(.type = FT_ENUM, VALUES("GENERAL", "VIP", "UNKNOWN_TIER"), MAP("GA-2026", "GENERAL"),
        .fallback = "UNKNOWN_TIER"), "\"VIP-2027\"", OK, "\"UNKNOWN_TIER\"", NULL),
    R(F(.type = FT_ENUM, VALUES("aa", "bbbbbb"), .has_max_length = 1, .max_length = 3), "\"bbbbbb\"", ERR,
      "length", NULL),
    R(F(.type = FT_ENUM, VALUES("A-1", "B-x"), .pattern = "^[A-Z]-\\d$"), "\"B-x\"", ERR, "pattern", NULL),
    /* ---- sensitive: same rules, value masked (checked for every ERR row below) ---- */
    R(F(.type = FT_STRING, .sensitive = 1, .pattern = "^\\d{3}-\\d{2}-\\d{4}$"), "\"123-45-678X\"", ERR, "pattern",
      NULL),
    R(F(.type = FT_STRING, .sensitive = 1, .has_max_length = 1, .max_length = 4), "\"hunter2\"", ERR, "length",
      NULL),
    R(F(.type = FT_STRING, .sensitive = 1), "12345", ERR, "type", NULL),
    R(F(.type = FT_ENUM, .sensitive = 1, VALUES("a")), "\"topsecret\"", ERR, "enum", NULL),
    R(F(.type = FT_INTEGER, .sensitive = 1, .bounds = BOUND_LT, .lt = 0), "424242", ERR, "range", NULL),
    R(F(.type = FT_DATETIME, .sensitive = 1), "\"1999-99-99T99:99Z\"", ERR, "format", NULL),
    R(F(.type = FT_STRING, .sensitive = 1, .normalize = NORM_LOWER), "\"S3CRET\"", OK, "\"s3cret\"", NULL),
    /* ==== decimal: exact text, normalised, output as a JSON string ==== */
    R(F(.type = FT_DECIMAL), "12.50", OK, "\"12.50\"", NULL),                  /* scale kept */
    R(F(.type = FT_DECIMAL), "\"12.50\"", OK, "\"12.50\"", NULL),
    R(F(.type = FT_DECIMAL), "\"+12.50\"", OK, "\"12.50\"", NULL),
    R(F(.type = FT_DECIMAL), "\"007.50\"", OK, "\"7.50\"", NULL),
    R(F(.type = FT_DECIMAL), "\"-007\"", OK, "\"-7\"", NULL),
    R(F(.type = FT_DECIMAL), "0", OK, "\"0\"", NULL),
    R(F(.type = FT_DECIMAL), "-0", OK, "\"0\"", NULL),
    R(F(.type = FT_DECIMAL), "\"-0.00\"", OK, "\"0.00\"", NULL),
    R(F(.type = FT_DECIMAL), "\"000\"", OK, "\"0\"", NULL),
    R(F(.type = FT_DECIMAL), "1.5e3", OK, "\"1500\"", NULL),
    R(F(.type = FT_DECIMAL), "1.50e1", OK, "\"15.0\"", NULL),
    R(F(.type = FT_DECIMAL), "12e-2", OK, "\"0.12\"", NULL),
    R(F(.type = FT_DECIMAL), "1E2", OK, "\"100\"", NULL),
    R(F(.type = FT_DECIMAL), "1e-3", OK, "\"0.001\"", NULL),
    R(F(.type = FT_DECIMAL), "\"1e+2\"", OK, "\"100\"", NULL),
    R(F(.type = FT_DECIMAL), "-1.25E-1", OK, "\"-0.125\"", NULL),
    R(F(.type = FT_DECIMAL), "1e40", OK, "\"10000000000000000000000000000000000000000\"", NULL),
    R(F(.type = FT_DECIMAL), "1e41", OK, "\"1e41\"", NULL),                     /* too big to expand */
    R(F(.type = FT_DECIMAL), "1.5e300", OK, "\"15e299\"", NULL),
    R(F(.type = FT_DECIMAL), "15e299", OK, "\"15e299\"", NULL),                 /* same value, same text */
    R(F(.type = FT_DECIMAL), "5e-45", OK, "\"5e-45\"", NULL),
    R(F(.type = FT_DECIMAL), "5e-41", OK, "\"0.00000000000000000000000000000000000000005\"", NULL),
    R(F(.type = FT_DECIMAL), "0e-3", OK, "\"0.000\"", NULL),
    R(F(.type = FT_DECIMAL), "1e400", OK, "\"1e400\"", NULL),                  /* no double needed */
    R(F(.type = FT_DECIMAL), "0.1", OK, "\"0.1\"", NULL),
    R(F(.type = FT_DECIMAL), "0.30000000000000004", OK, "\"0.30000000000000004\"", NULL),
    R(F(.type = FT_DECIMAL), "12345678901234567890.123456789", OK, "\"12345678901234567890.123456789\"", NULL),
    R(F(.type = FT_DECIMAL), "123456789012345678901234567890", OK, "\"123456789012345678901234567890\"", NULL),
    R(F(.type = FT_DECIMAL), "\".5\"", OK, "\"0.5\"", NULL),
    R(F(.type = FT_DECIMAL), "\"5.\"", OK, "\"5\"", NULL),
    R(F(.type = FT_DECIMAL), "\"abc\"", ERR, "format", NULL),
    R(F(.type = FT_DECIMAL), "\"1.2.3\"", ERR, "format", NULL),
    R(F(.type = FT_DECIMAL), "\"\"", ERR, "format", NULL),
    R(F(.type = FT_DECIMAL), "\".\"", ERR, "format", NULL),
    R(F(.type = FT_DECIMAL), "\"1e\"", ERR, "format", NULL),
    R(F(.type = FT_DECIMAL), "\"1e+\"", ERR, "format", NULL),
    R(F(.type = FT_DECIMAL), "\"--1\"", ERR, "format", NULL),
    R(F(.type = FT_DECIMAL), "\"1,5\"", ERR, "format", NULL),
    R(F(.type = FT_DECIMAL), "\"NaN\"", ERR, "format", NULL),
    R(F(.type = FT_DECIMAL), "\"Infinity\"", ERR, "format", NULL),
    R(F(.type = FT_DECIMAL), "\"0x10\"", ERR, "format", NULL),
    R(F(.type = FT_DECIMAL), "\"1e9999999999\"", ERR, "format", NULL),     /* exponent out of range */
    R(F(.type = FT_DECIMAL), "\" 1.0\"", ERR, "format", NULL),
    R(F(.type = FT_DECIMAL, .normalize = NORM_TRIM), "\" 1.0 \"", OK, "\"1.0\"", NULL),
    R(F(.type = FT_DECIMAL), "true", ERR, "type", NULL),
    R(F(.type = FT_DECIMAL), "[1]", ERR, "type", NULL),
    R(F(.type = FT_DECIMAL), "{\"a\":1}", ERR, "type", NULL),
    R(F(.type = FT_DECIMAL, .nullable = 1), "null", OK, "null", NULL),
    R(F(.type = FT_DECIMAL, .required = 1), MISSING, ERR, "required", NULL),
    R(F(.type = FT_DECIMAL, .sensitive = 1), "\"12,345.00 EUR\"", ERR, "format", NULL),
    /* decimal bounds: exact, not via double */
    R(F(.type = FT_DECIMAL, .bounds = BOUND_GT, .gt = 0), "0", ERR, "range", NULL),
    R(F(.type = FT_DECIMAL, .bounds = BOUND_GT, .gt = 0), "\"-0.00\"", ERR, "range", NULL),
    R(F(.type = FT_DECIMAL, .bounds = BOUND_GT, .gt = 0), "\"0.000000000000000000000000000001\"", OK,
      "\"0.000000000000000000000000000001\"", NULL),
    R(F(.type = FT_DECIMAL, .bounds = BOUND_GT, .gt = 0), "\"-0.000000000000000000000000000001\"", ERR, "range",
      NULL),
    R(F(.type = FT_DECIMAL, .bounds = BOUND_LE, .le = 0.3), "0.3", OK, "\"0.3\"", NULL),
    R(F(.type = FT_DECIMAL, .bounds = BOUND_LE, .le = 0.3), "0.300", OK, "\"0.300\"", NULL),
    R(F(.type = FT_DECIMAL, .bounds = BOUND_LE, .le = 0.3), "0.30000000000000004", ERR, "range", NULL), /* 0.1+0.2 */
    R(F(.type = FT_DECIMAL, .bounds = BOUND_LE, .le = 0.3), "0.30000000000000000001", ERR, "range", NULL),
    R(F(.type = FT_NUMBER, .bounds = BOUND_LE, .le = 0.3), "0.30000000000000000001", OK, "0.30000000000000000001",
      NULL),                                              /* a double cannot tell: that is why decimal exists */
    R(F(.type = FT_DECIMAL, .bounds = BOUND_GE, .ge = 0.1), "0.09999999999999999999", ERR, "range", NULL),
    R(F(.type = FT_DECIMAL, .bounds = BOUND_GE, .ge = 0.1), "1e-1", OK, "\"0.1\"", NULL),
    R(F(.type = FT_DECIMAL, .bounds = BOUND_LT, .lt = 100), "99.99999999999999999999", OK,
      "\"99.99999999999999999999\"", NULL),
    R(F(.type = FT_DECIMAL, .bounds = BOUND_LT, .lt = 100), "100.0", ERR, "range", NULL),
    R(F(.type = FT_DECIMAL, .bounds = BOUND_LT, .lt = 100), "1e2", ERR, "range", NULL),
    R(F(.type = FT_DECIMAL, .bounds = BOUND_LT, .lt = 100), "-1e400", OK, "\"-1e400\"", NULL),
    R(F(.type = FT_DECIMAL, .bounds = BOUND_GE | BOUND_LE, .ge = -5, .le = 5), "\"-5.000\"", OK, "\"-5.000\"", NULL),
    R(F(.type = FT_DECIMAL, .bounds = BOUND_GE | BOUND_LE, .ge = -5, .le = 5), "\"-5.001\"", ERR, "range", NULL),
    R(F(.type = FT_DECIMAL, .bounds = BOUND_GE | BOUND_LE, .ge = -5, .le = 5), "\"5.0000000000000000001\"", ERR,
      "range", NULL),
    R(F(.type = FT_DECIMAL, .bounds = BOUND_GT, .gt = 1e21), "\"1000000000000000000000.1\"", OK,
      "\"1000000000000000000000.1\"", NULL),
    R(F(.type = FT_DECIMAL, .bounds = BOUND_GT, .gt = 1e21), "1e21", ERR, "range", NULL),
    R(F(.type = FT_DECIMAL, .bounds = BOUND_LT, .lt = -1.5e-7), "\"-0.00000015\"", ERR, "range", NULL),
    R(F(.type = FT_DECIMAL, .bounds = BOUND_LT, .lt = -1.5e-7), "\"-0.000000150001\"", OK, "\"-0.000000150001\"",
      NULL),
    R(F(.type = FT_DECIMAL, .bounds = BOUND_LT, .lt = 0, .sensitive = 1), "\"4242.42\"", ERR, "range", NULL),
    /* ==== number / integer beyond 2^53 ==== */
    R(F(.type = FT_NUMBER), "9007199254740992", OK, "9007199254740992", NULL),
    R(F(.type = FT_NUMBER), "-9007199254740992", OK, "-9007199254740992", NULL),
    R(F(.type = FT_NUMBER), "9007199254740993", ERR, "range", NULL),
    R(F(.type = FT_NUMBER), "-9007199254740993", ERR, "range", NULL),
    R(F(.type = FT_NUMBER), "9223372036854775807", ERR, "range", NULL),
    R(F(.type = FT_NUMBER), "1e20", OK, "1e20", NULL),          /* not an integer literal: a double exactly */
    R(F(.type = FT_INTEGER), "9007199254740992", OK, "9007199254740992", NULL),
    R(F(.type = FT_INTEGER), "-9007199254740992", OK, "-9007199254740992", NULL),
    R(F(.type = FT_INTEGER), "-9007199254740993", OK, "\"-9007199254740993\"", NULL),
    R(F(.type = FT_INTEGER), "\"9007199254740993\"", OK, "\"9007199254740993\"", NULL), /* own output accepted */
    R(F(.type = FT_INTEGER), "\"-9007199254740993\"", OK, "\"-9007199254740993\"", NULL),
    R(F(.type = FT_INTEGER), "\"9007199254740992\"", ERR, "type", NULL),   /* not its canonical form */
    R(F(.type = FT_INTEGER), "\"09007199254740993\"", ERR, "type", NULL),
    R(F(.type = FT_INTEGER), "\"+9007199254740993\"", ERR, "type", NULL),
    R(F(.type = FT_INTEGER), "\"9223372036854775808\"", ERR, "type", NULL),
    R(F(.type = FT_INTEGER), "\"9007199254740993.0\"", ERR, "type", NULL),
    R(F(.type = FT_INTEGER), "\"-0\"", ERR, "type", NULL),
    R(F(.type = FT_INTEGER, .bounds = BOUND_LT, .lt = 0), "\"9007199254740993\"", ERR, "range", NULL),
    R(F(.type = FT_INTEGER, .bounds = BOUND_GT, .gt = 0), "9007199254740993", OK, "\"9007199254740993\"", NULL),
    /* ==== date ==== */
    R(F(.type = FT_DATE), "\"2026-03-01\"", OK, "\"2026-03-01\"", NULL),
    R(F(.type = FT_DATE), "\"2024-02-29\"", OK, "\"2024-02-29\"", NULL),
    R(F(.type = FT_DATE), "\"2000-02-29\"", OK, "\"2000-02-29\"", NULL),
    R(F(.type = FT_DATE), "\"1900-02-29\"", ERR, "format", NULL),
    R(F(.type = FT_DATE), "\"2026-02-29\"", ERR, "format", NULL),
    R(F(.type = FT_DATE), "\"2026-04-31\"", ERR, "format", NULL),
    R(F(.type = FT_DATE), "\"2026-12-31\"", OK, "\"2026-12-31\"", NULL),
    R(F(.type = FT_DATE), "\"0000-01-01\"", OK, "\"0000-01-01\"", NULL),
    R(F(.type = FT_DATE), "\"9999-12-31\"", OK, "\"9999-12-31\"", NULL),
    R(F(.type = FT_DATE), "\"2026-13-01\"", ERR, "format", NULL),
    R(F(.type = FT_DATE), "\"2026-00-01\"", ERR, "format", NULL),
    R(F(.type = FT_DATE), "\"2026-01-00\"", ERR, "format", NULL),
    R(F(.type = FT_DATE), "\"2026-01-32\"", ERR, "format", NULL),
    R(F(.type = FT_DATE), "\"2026-3-01\"", ERR, "format", NULL),
    R(F(.type = FT_DATE), "\"20260301\"", ERR, "format", NULL),
    R(F(.type = FT_DATE), "\"2026/03/01\"", ERR, "format", NULL),
    R(F(.type = FT_DATE), "\"2026-03-01T00:00:00Z\"", ERR, "format", NULL),
    R(F(.type = FT_DATE), "\"\"", ERR, "format", NULL),
    R(F(.type = FT_DATE), "\" 2026-03-01\"", ERR, "format", NULL),
    R(F(.type = FT_DATE, .normalize = NORM_TRIM), "\" 2026-03-01 \"", OK, "\"2026-03-01\"", NULL),
    R(F(.type = FT_DATE), "20260301", ERR, "type", NULL),
    R(F(.type = FT_DATE, .sensitive = 1), "\"1980-02-30\"", ERR, "format", NULL),
    /* ==== email ==== */
    R(F(.type = FT_EMAIL), "\"user@example.com\"", OK, "\"user@example.com\"", NULL),
    R(F(.type = FT_EMAIL), "\"User@Example.COM\"", OK, "\"User@example.com\"", NULL),   /* domain lower-cased */
    R(F(.type = FT_EMAIL, .normalize = NORM_TRIM | NORM_LOWER), "\" Ops@Example.com\"", OK, "\"ops@example.com\"",
      NULL),
    R(F(.type = FT_EMAIL), "\"first.last+tag@sub.example.co.uk\"", OK, "\"first.last+tag@sub.example.co.uk\"", NULL),
    R(F(.type = FT_EMAIL), "\"o'neil!#$%&*/=?^_`{|}~-@example.org\"", OK, "\"o'neil!#$%&*/=?^_`{|}~-@example.org\"",
      NULL),
    R(F(.type = FT_EMAIL), "\"\\\"john doe\\\"@example.com\"", OK, "\"\\\"john doe\\\"@example.com\"", NULL),
    R(F(.type = FT_EMAIL), "\"\\\"a@b\\\"@example.com\"", OK, "\"\\\"a@b\\\"@example.com\"", NULL),
    R(F(.type = FT_EMAIL), "\"\\\"a\\\\\\\"b\\\"@example.com\"", OK, "\"\\\"a\\\\\\\"b\\\"@example.com\"", NULL),
    R(F(.type = FT_EMAIL), "\"user@b\xc3\xbc" "cher.example\"", OK, "\"user@b\xc3\xbc" "cher.example\"", NULL),
    R(F(.type = FT_EMAIL), "\"user@B\xc3\x9c" "CHER.Example\"", OK, "\"user@b\xc3\xbc" "cher.example\"", NULL),
    R(F(.type = FT_EMAIL), "\"user@\xe4\xbe\x8b\xe3\x81\x88.\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88\"", OK,
      "\"user@\xe4\xbe\x8b\xe3\x81\x88.\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88\"", NULL),      /* 例え.テスト */
    R(F(.type = FT_EMAIL), "\"user@xn--bcher-kva.example\"", OK, "\"user@xn--bcher-kva.example\"", NULL),
    R(F(.type = FT_EMAIL), "\"\xc3\xbcser@example.com\"", OK, "\"\xc3\xbcser@example.com\"", NULL), /* RFC 6531 */
    R(F(.type = FT_EMAIL), "\"user@\xe2\x98\x83.net\"", ERR, "format", NULL),     /* ☃: not IDNA2008 */
    R(F(.type = FT_EMAIL), "\"user@b\xc3\xbc" "cher\"", ERR, "format", NULL),      /* IDN without a TLD */
    R(F(.type = FT_EMAIL), "\"a..b@example.com\"", ERR, "format", NULL),
    R(F(.type = FT_EMAIL), "\".a@example.com\"", ERR, "format", NULL),
    R(F(.type = FT_EMAIL), "\"a.@example.com\"", ERR, "format", NULL),
    R(F(.type = FT_EMAIL), "\"a@b\"", ERR, "format", NULL),
    R(F(.type = FT_EMAIL), "\"a@localhost\"", ERR, "format", NULL),
    R(F(.type = FT_EMAIL), "\"a@example.c\"", ERR, "format", NULL),
    R(F(.type = FT_EMAIL), "\"a@example.123\"", ERR, "format", NULL),
    R(F(.type = FT_EMAIL), "\"a@-example.com\"", ERR, "format", NULL),
    R(F(.type = FT_EMAIL), "\"a@example-.com\"", ERR, "format", NULL),
    R(F(.type = FT_EMAIL), "\"a@exa_mple.com\"", ERR, "format", NULL),
    R(F(.type = FT_EMAIL), "\"a@@example.com\"", ERR, "format", NULL),
    R(F(.type = FT_EMAIL), "\"a@b@example.com\"", ERR, "format", NULL),
    R(F(.type = FT_EMAIL), "\"@example.com\"", ERR, "format", NULL),
    R(F(.type = FT_EMAIL), "\"a@\"", ERR, "format", NULL),
    R(F(.type = FT_EMAIL), "\"plainaddress\"", ERR, "format", NULL),
    R(F(.type = FT_EMAIL), "\"a b@example.com\"", ERR, "format", NULL),
    R(F(.type = FT_EMAIL), "\"a(b)@example.com\"", ERR, "format", NULL),
    R(F(.type = FT_EMAIL), "\"a@example..com\"", ERR, "format", NULL),
    R(F(.type = FT_EMAIL), "\"a@example.com.\"", ERR, "format", NULL),
    R(F(.type = FT_EMAIL), "\"a@.example.com\"", ERR, "format", NULL),
    R(F(.type = FT_EMAIL), "\"a@[192.0.2.1]\"", ERR, "format", NULL),             /* no domain literals */
    RV(F(.type = FT_EMAIL), "\"a@ex\\u0000ample.com\"", ERR, "format", NULL, "\"a@ex\\u0000ample.com\""),
    R(F(.type = FT_EMAIL), "\"\\\"unterminated@example.com\"", ERR, "format", NULL),
    R(F(.type = FT_EMAIL), "\"\\\"q\\\"x@example.com\"", ERR, "format", NULL),
    R(F(.type = FT_EMAIL), "\"a@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com\"", ERR, "format",
      NULL),                                                                   /* 64-octet label */
    R(F(.type = FT_EMAIL), "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.com\"", ERR,
      "format", NULL),                                                         /* 65-octet local part */
    R(F(.type = FT_EMAIL), "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.com\"", OK,
      "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.com\"", NULL),
    R(F(.type = FT_EMAIL), "42", ERR, "type", NULL),
    R(F(.type = FT_EMAIL, .sensitive = 1), "\"secret.person@nowhere\"", ERR, "format", NULL),
    R(F(.type = FT_EMAIL, .pattern = "@example\\.com$"), "\"a@EXAMPLE.com\"", OK, "\"a@example.com\"", NULL),
    R(F(.type = FT_EMAIL, .pattern = "@example\\.com$"), "\"a@example.org\"", ERR, "pattern", NULL),
    R(F(.type = FT_EMAIL, .has_max_length = 1, .max_length = 10), "\"abcdef@example.com\"", ERR, "length", NULL),
    /* ==== url ==== */
    R(F(.type = FT_URL), "\"https://example.com\"", OK, "\"https://example.com\"", NULL),
    R(F(.type = FT_URL), "\"HTTPS://Example.COM/Path?Q=1#F\"", OK, "\"https://example.com/Path?Q=1#F\"", NULL),
    R(F(.type = FT_URL), "\"http://localhost:8080/x\"", OK, "\"http://localhost:8080/x\"", NULL),
    R(F(.type = FT_URL), "\"http://127.0.0.1/\"", OK, "\"http://127.0.0.1/\"", NULL),
    R(F(.type = FT_URL), "\"http://[::1]:443/a\"", OK, "\"http://[::1]:443/a\"", NULL),
    R(F(.type = FT_URL), "\"http://[FE80::1]\"", OK, "\"http://[fe80::1]\"", NULL),
    R(F(.type = FT_URL), "\"https://example.com?x=1\"", OK, "\"https://example.com?x=1\"", NULL),
    R(F(.type = FT_URL), "\"https://example.com/a%20b\"", OK, "\"https://example.com/a%20b\"", NULL),
    R(F(.type = FT_URL), "\"https://example.com/a/b;c=d@e:f!$&'()*+,~\"", OK,
      "\"https://example.com/a/b;c=d@e:f!$&'()*+,~\"", NULL),
    R(F(.type = FT_URL), "\"https://b\xc3\xbc" "cher.example/\"", OK, "\"https://b\xc3\xbc" "cher.example/\"", NULL),
    R(F(.type = FT_URL), "\"https://example.com:65535/\"", OK, "\"https://example.com:65535/\"", NULL),
    R(F(.type = FT_URL), "\"http://256.1.1.1/\"", ERR, "format", NULL),
    R(F(.type = FT_URL), "\"http://1.2.3/\"", ERR, "format", NULL),
    R(F(.type = FT_URL), "\"http://01.2.3.4/\"", ERR, "format", NULL),
    R(F(.type = FT_URL), "\"ftp://example.com/file\"", ERR, "format", NULL),
    R(F(.type = FT_URL), "\"mailto:a@example.com\"", ERR, "format", NULL),
    R(F(.type = FT_URL), "\"//example.com\"", ERR, "format", NULL),
    R(F(.type = FT_URL), "\"example.com\"", ERR, "format", NULL),
    R(F(.type = FT_URL), "\"https://user:pw@example.com/\"", ERR, "format", NULL),   /* no credentials */
    R(F(.type = FT_URL), "\"https://example.com:0/\"", ERR, "format", NULL),
    R(F(.type = FT_URL), "\"https://example.com:65536/\"", ERR, "format", NULL),
    R(F(.type = FT_URL), "\"https://example.com:/\"", ERR, "format", NULL),
    R(F(.type = FT_URL), "\"https://example.com:8a/\"", ERR, "format", NULL),
    R(F(.type = FT_URL), "\"https://example.com/a b\"", ERR, "format", NULL),
    R(F(.type = FT_URL), "\"https://example.com/%zz\"", ERR, "format", NULL),
    R(F(.type = FT_URL), "\"https://example.com/%2\"", ERR, "format", NULL),
    R(F(.type = FT_URL), "\"https://example.com/#a#b\"", ERR, "format", NULL),
    R(F(.type = FT_URL), "\"https:///path\"", ERR, "format", NULL),
    R(F(.type = FT_URL), "\"https://exa_mple.com\"", ERR, "format", NULL),
    R(F(.type = FT_URL), "\"https://[::1\"", ERR, "format", NULL),
    R(F(.type = FT_URL), "\"https://[not-ip]/\"", ERR, "format", NULL),
    R(F(.type = FT_URL), "\"https://example.com/\xc3\xbc\"", ERR, "format", NULL),  /* percent-encode it */
    R(F(.type = FT_URL), "\"https://example.com/<script>\"", ERR, "format", NULL),
    R(F(.type = FT_URL), "\"\"", ERR, "format", NULL),
    R(F(.type = FT_URL), "true", ERR, "type", NULL),
    R(F(.type = FT_URL, .normalize = NORM_TRIM), "\" https://example.com/x \"", OK, "\"https://example.com/x\"",
      NULL),
    R(F(.type = FT_URL, .pattern = "^https://"), "\"http://example.com\"", ERR, "pattern", NULL),
    R(F(.type = FT_URL, .sensitive = 1), "\"https://example.com/?token=abc def\"", ERR, "format", NULL),
    /* ==== uuid ==== */
    R(F(.type = FT_UUID), "\"123e4567-e89b-12d3-a456-426614174000\"", OK, "\"123e4567-e89b-12d3-a456-426614174000\"",
      NULL),
    R(F(.type = FT_UUID), "\"123E4567-E89B-12D3-A456-426614174000\"", OK, "\"123e4567-e89b-12d3-a456-426614174000\"",
      NULL),
    R(F(.type = FT_UUID), "\"00000000-0000-0000-0000-000000000000\"", OK, "\"00000000-0000-0000-0000-000000000000\"",
      NULL),
    R(F(.type = FT_UUID), "\"123e4567e89b12d3a456426614174000\"", ERR, "format", NULL),
    R(F(.type = FT_UUID), "\"{123e4567-e89b-12d3-a456-426614174000}\"", ERR, "format", NULL),
    R(F(.type = FT_UUID), "\"123e4567-e89b-12d3-a456-42661417400\"", ERR, "format", NULL),
    R(F(.type = FT_UUID), "\"123e4567-e89b-12d3-a456-4266141740000\"", ERR, "format", NULL),
    R(F(.type = FT_UUID), "\"123e4567-e89b-12d3-a456_426614174000\"", ERR, "format", NULL),
    R(F(.type = FT_UUID), "\"g23e4567-e89b-12d3-a456-426614174000\"", ERR, "format", NULL),
    R(F(.type = FT_UUID), "\"urn:uuid:123e4567-e89b-12d3-a456-426614174000\"", ERR, "format", NULL),
    R(F(.type = FT_UUID), "123", ERR, "type", NULL),
    R(F(.type = FT_UUID, .normalize = NORM_TRIM), "\" 123E4567-E89B-12D3-A456-426614174000\\n\"", OK,
      "\"123e4567-e89b-12d3-a456-426614174000\"", NULL),
    /* ==== array ==== */
    R(F(.type = FT_ARRAY, .has_items = 1, .items = FT_STRING), "[\"a\",\"b\"]", OK, "[\"a\",\"b\"]", NULL),
    R(F(.type = FT_ARRAY, .has_items = 1, .items = FT_STRING), "[]", OK, "[]", NULL),
    R(F(.type = FT_ARRAY, .has_items = 1, .items = FT_STRING), "\"a\"", ERR, "type", NULL),
    R(F(.type = FT_ARRAY, .has_items = 1, .items = FT_STRING), "{\"a\":1}", ERR, "type", NULL),
    RV(F(.type = FT_ARRAY, .has_items = 1, .items = FT_STRING), "[\"a\",2]", ERR, "type", "$.v[1]", "2"),
    RV(F(.type = FT_ARRAY, .has_items = 1, .items = FT_STRING), "[\"a\",null]", ERR, "type", "$.v[1]", "null"),
    R(F(.type = FT_ARRAY, .has_items = 1, .items = FT_STRING, .nullable = 1), "[\"a\",null]", OK, "[\"a\",null]",
      NULL),
    R(F(.type = FT_ARRAY, .has_items = 1, .items = FT_STRING, .normalize = NORM_TRIM | NORM_LOWER),
      "[\" A \",\"B\"]", OK, "[\"a\",\"b\"]", NULL),
    RV(F(.type = FT_ARRAY, .has_items = 1, .items = FT_STRING, .has_min_length = 1, .min_length = 2),
       "[\"ab\",\"c\"]", ERR, "length", "$.v[1]", "\"c\""),
    R(F(.type = FT_ARRAY, .has_items = 1, .items = FT_STRING, .has_min_items = 1, .min_items = 1), "[]", ERR,
      "length", NULL),
    R(F(.type = FT_ARRAY, .has_items = 1, .items = FT_STRING, .has_max_items = 1, .max_items = 2),
      "[\"a\",\"b\",\"c\"]", ERR, "length", NULL),
    R(F(.type = FT_ARRAY, .has_items = 1, .items = FT_STRING, .has_max_items = 1, .max_items = 2), "[\"a\",\"b\"]",
      OK, "[\"a\",\"b\"]", NULL),
    R(F(.type = FT_ARRAY, .has_items = 1, .items = FT_INTEGER), "[1,2,3]", OK, "[1,2,3]", NULL),
    RV(F(.type = FT_ARRAY, .has_items = 1, .items = FT_INTEGER), "[1,2.5]", ERR, "type", "$.v[1]", "2.5"),
    R(F(.type = FT_ARRAY, .has_items = 1, .items = FT_INTEGER), "[1,9007199254740993]", OK,
      "[1,\"9007199254740993\"]", NULL),
    RV(F(.type = FT_ARRAY, .has_items = 1, .items = FT_INTEGER, .bounds = BOUND_GE, .ge = 0), "[1,-1]", ERR, "range",
       "$.v[1]", "-1"),
    R(F(.type = FT_ARRAY, .has_items = 1, .items = FT_DECIMAL), "[1.50,\"2\"]", OK, "[\"1.50\",\"2\"]", NULL),
    R(F(.type = FT_ARRAY, .has_items = 1, .items = FT_ENUM, VALUES("kg", "lb")), "[\"kg\",\"lb\"]", OK,
      "[\"kg\",\"lb\"]", NULL),
    RV(F(.type = FT_ARRAY, .has_items = 1, .items = FT_ENUM, VALUES("kg", "lb")), "[\"kg\",\"ton\"]", ERR, "enum",
       "$.v[1]", "\"ton\""),
    R(F(.type = FT_ARRAY, .has_items = 1, .items = FT_EMAIL), "[\"a@Example.com\"]", OK, "[\"a@example.com\"]",
      NULL),
    R(F(.type = FT_ARRAY, .has_items = 1, .items = FT_DATETIME, .normalize = NORM_UTC),
      "[\"2026-03-01T08:15:00-05:00\"]", OK, "[\"2026-03-01T13:15:00Z\"]", NULL),
    R(F(.type = FT_ARRAY, .has_items = 1, .items = FT_UUID), "[\"123E4567-E89B-12D3-A456-426614174000\"]", OK,
      "[\"123e4567-e89b-12d3-a456-426614174000\"]", NULL),
    R(F(.type = FT_ARRAY, .has_items = 1, .items = FT_BOOLEAN), "[true,false]", OK, "[true,false]", NULL),
    RV(F(.type = FT_ARRAY, .has_items = 1, .items = FT_BOOLEAN, .sensitive = 1), "[true,\"yes\"]", ERR, "type",
       "$.v[1]", "***"),
    R(F(.type = FT_ARRAY), "[{\"b\":1,\"a\":2},3,\"x\"]", OK, "[{\"a\":2,\"b\":1},3,\"x\"]", NULL), /* no items: JCS */
    R(F(.type = FT_ARRAY), "[1e2,1.50]", OK, "[100,1.5]", NULL),
    R(F(.type = FT_ARRAY), "[9007199254740993]", ERR, "range", NULL),
    RV(F(.type = FT_ARRAY, .from = "$.v.list", .has_items = 1, .items = FT_STRING), "{\"list\":[\"a\",1]}", ERR,
       "type", "$.v.list[1]", "1"),
    /* ==== object: kept, JCS-canonical ==== */
    R(F(.type = FT_OBJECT), "{\"b\":1,\"a\":[2,1]}", OK, "{\"a\":[2,1],\"b\":1}", NULL),
    R(F(.type = FT_OBJECT), "{}", OK, "{}", NULL),
    R(F(.type = FT_OBJECT), "{\"z\":{\"y\":1e2,\"x\":\"\\u00e9\"},\"a\":null}", OK,
      "{\"a\":null,\"z\":{\"x\":\"\xc3\xa9\",\"y\":100}}", NULL),
    R(F(.type = FT_OBJECT), "{\"\\u20ac\":1,\"\\r\":2,\"\xf0\x9f\x98\x80\":3,\"\\ufb33\":4}", OK,
      "{\"\\r\":2,\"\xe2\x82\xac\":1,\"\xf0\x9f\x98\x80\":3,\"\xef\xac\xb3\":4}", NULL), /* RFC 8785 3.2.3 order */
    R(F(.type = FT_OBJECT), "[1]", ERR, "type", NULL),
    R(F(.type = FT_OBJECT), "\"{}\"", ERR, "type", NULL),
    R(F(.type = FT_OBJECT), "{\"a\":1e400}", ERR, "format", NULL),
    R(F(.type = FT_OBJECT), "{\"a\":1,\"a\":2}", ERR, "format", NULL),
    R(F(.type = FT_OBJECT), "{\"id\":9007199254740993}", ERR, "range", NULL),
    R(F(.type = FT_OBJECT, .nullable = 1), "null", OK, "null", NULL),
    /* ==== datetime: ISO basic form, missing parts, declared zone ==== */
    R(F(.type = FT_DATETIME, .normalize = NORM_UTC), "\"20260301T081500Z\"", OK, "\"2026-03-01T08:15:00Z\"", NULL),
    R(F(.type = FT_DATETIME), "\"20260301T081500Z\"", OK, "\"2026-03-01T08:15:00Z\"", NULL),
    R(F(.type = FT_DATETIME), "\"20260301T081500+0545\"", OK, "\"2026-03-01T08:15:00+05:45\"", NULL),
    R(F(.type = FT_DATETIME, .normalize = NORM_UTC), "\"20260301T081500+0545\"", OK, "\"2026-03-01T02:30:00Z\"",
      NULL),
    R(F(.type = FT_DATETIME, .normalize = NORM_UTC), "\"20260301T081500-0330\"", OK, "\"2026-03-01T11:45:00Z\"",
      NULL),
    R(F(.type = FT_DATETIME, .normalize = NORM_UTC), "\"20260301T0815Z\"", OK, "\"2026-03-01T08:15:00Z\"", NULL),
    R(F(.type = FT_DATETIME, .normalize = NORM_UTC), "\"20260301 081500Z\"", OK, "\"2026-03-01T08:15:00Z\"", NULL),
    R(F(.type = FT_DATETIME, .normalize = NORM_UTC), "\"20260301t081500z\"", OK, "\"2026-03-01T08:15:00Z\"", NULL),
    R(F(.type = FT_DATETIME, .normalize = NORM_UTC), "\"20260301T081500.250Z\"", OK, "\"2026-03-01T08:15:00.25Z\"",
      NULL),
    R(F(.type = FT_DATETIME, .normalize = NORM_UTC), "\"20161231T235960Z\"", OK, "\"2016-12-31T23:59:60Z\"", NULL),
    R(F(.type = FT_DATETIME, .normalize = NORM_UTC), "\"20170101T005960+0100\"", OK, "\"2016-12-31T23:59:60Z\"",
      NULL),
    R(F(.type = FT_DATETIME), "\"20261301T081500Z\"", ERR, "format", NULL),
    R(F(.type = FT_DATETIME), "\"20260230T081500Z\"", ERR, "format", NULL),
    R(F(.type = FT_DATETIME), "\"20260301T241500Z\"", ERR, "format", NULL),
    R(F(.type = FT_DATETIME), "\"20260301T081500\"", ERR, "format", NULL),           /* no zone declared */
    R(F(.type = FT_DATETIME), "\"20260301T08:15:00Z\"", ERR, "format", NULL),        /* mixed forms */
    R(F(.type = FT_DATETIME), "\"2026-03-01T081500Z\"", ERR, "format", NULL),
    R(F(.type = FT_DATETIME), "\"2026030T081500Z\"", ERR, "format", NULL),
    R(F(.type = FT_DATETIME), "\"20260301T081500Z \"", ERR, "format", NULL),
    R(F(.type = FT_DATETIME, .normalize = NORM_UTC), "\"2026-03-01T08:15:00+05:45\"", OK,
      "\"2026-03-01T02:30:00Z\"", NULL),
    R(F(.type = FT_DATETIME, .normalize = NORM_UTC), "\"2026-03-01T08:15:00-09:30\"", OK,
      "\"2026-03-01T17:45:00Z\"", NULL),
    R(F(.type = FT_DATETIME, .normalize = NORM_UTC), "\"2026-03-01T00:00:00+14:00\"", OK,
      "\"2026-02-28T10:00:00Z\"", NULL),
    R(F(.type = FT_DATETIME, .normalize = NORM_UTC), "\"2026-03-01 08:15\"", ERR, "format", NULL),
    R(F(.type = FT_DATETIME, .normalize = NORM_UTC, .zone = "UTC"), "\"2026-03-01 08:15\"", OK,
      "\"2026-03-01T08:15:00Z\"", NULL),
    R(F(.type = FT_DATETIME, .normalize = NORM_UTC, .zone = "+01:00"), "\"2026-03-01T08:15:00\"", OK,
      "\"2026-03-01T07:15:00Z\"", NULL),
    R(F(.type = FT_DATETIME, .zone = "+01:00"), "\"2026-03-01T08:15:00\"", OK, "\"2026-03-01T08:15:00+01:00\"", NULL),
    R(F(.type = FT_DATETIME, .zone = "+01:00"), "\"2026-03-01T08:15:00Z\"", OK, "\"2026-03-01T08:15:00Z\"",
      NULL),                                                        /* a zone in the text wins, kept as given */
    R(F(.type = FT_DATETIME, .normalize = NORM_UTC, .zone = "+01:00"), "\"2026-03-01T08:15:00-05:00\"", OK,
      "\"2026-03-01T13:15:00Z\"", NULL),
    R(F(.type = FT_DATETIME, .normalize = NORM_UTC, .zone = "+05:45"), "\"2026-03-01 08:15:00\"", OK,
      "\"2026-03-01T02:30:00Z\"", NULL),                            /* Nepal, no DST */
    /* DST-less: a declared zone is a fixed offset, summer or winter */
    R(F(.type = FT_DATETIME, .normalize = NORM_UTC, .zone = "-05:00"), "\"2026-07-01T12:00:00\"", OK,
      "\"2026-07-01T17:00:00Z\"", NULL),
    R(F(.type = FT_DATETIME, .normalize = NORM_UTC, .zone = "-05:00"), "\"2026-01-01T12:00:00\"", OK,
      "\"2026-01-01T17:00:00Z\"", NULL),
    R(F(.type = FT_DATETIME, .normalize = NORM_UTC, .zone = "-0500"), "\"2026-12-31T23:30:00\"", OK,
      "\"2027-01-01T04:30:00Z\"", NULL),
    R(F(.type = FT_DATETIME, .normalize = NORM_UTC, .zone = "Z"), "\"20260301T0815\"", OK,
      "\"2026-03-01T08:15:00Z\"", NULL),
    R(F(.type = FT_DATETIME, .normalize = NORM_UTC, .zone = "UTC"), "\"2016-12-31T23:59:60\"", OK,
      "\"2016-12-31T23:59:60Z\"", NULL),
    R(F(.type = FT_DATETIME, .normalize = NORM_UTC, .zone = "+01:00"), "\"2017-01-01T00:59:60.25\"", OK,
      "\"2016-12-31T23:59:60.25Z\"", NULL),
    R(F(.type = FT_DATETIME, .zone = "UTC"), "\"2026-03-01\"", ERR, "format", NULL),
    /* ==== datetime: epoch ==== */
    R(F(.type = FT_DATETIME, .format = "epoch_s", .normalize = NORM_UTC), "1772352900", OK,
      "\"2026-03-01T08:15:00Z\"", NULL),
    R(F(.type = FT_DATETIME, .format = "epoch_s"), "1772352900", OK, "\"2026-03-01T08:15:00Z\"", NULL),
    R(F(.type = FT_DATETIME, .format = "epoch_s", .normalize = NORM_UTC), "\"1772352900\"", OK,
      "\"2026-03-01T08:15:00Z\"", NULL),
    R(F(.type = FT_DATETIME, .format = "epoch_s", .normalize = NORM_UTC), "1772352900.5", OK,
      "\"2026-03-01T08:15:00.5Z\"", NULL),
    R(F(.type = FT_DATETIME, .format = "epoch_s", .normalize = NORM_UTC), "1772352900.000", OK,
      "\"2026-03-01T08:15:00Z\"", NULL),
    R(F(.type = FT_DATETIME, .format = "epoch_s", .normalize = NORM_UTC), "0", OK, "\"1970-01-01T00:00:00Z\"", NULL),
    R(F(.type = FT_DATETIME, .format = "epoch_s", .normalize = NORM_UTC), "-1", OK, "\"1969-12-31T23:59:59Z\"",
      NULL),
    R(F(.type = FT_DATETIME, .format = "epoch_s", .normalize = NORM_UTC), "-0.25", OK,
      "\"1969-12-31T23:59:59.75Z\"", NULL),
    R(F(.type = FT_DATETIME, .format = "epoch_s", .normalize = NORM_UTC), "951782400", OK,
      "\"2000-02-29T00:00:00Z\"", NULL),
    R(F(.type = FT_DATETIME, .format = "epoch_s", .normalize = NORM_UTC), "253402300799", OK,
      "\"9999-12-31T23:59:59Z\"", NULL),
    R(F(.type = FT_DATETIME, .format = "epoch_s", .normalize = NORM_UTC), "253402300800", ERR, "format", NULL),
    R(F(.type = FT_DATETIME, .format = "epoch_s", .normalize = NORM_UTC), "-62167219200", OK,
      "\"0000-01-01T00:00:00Z\"", NULL),
    R(F(.type = FT_DATETIME, .format = "epoch_s", .normalize = NORM_UTC), "-62167219201", ERR, "format", NULL),
    R(F(.type = FT_DATETIME, .format = "epoch_s"), "1.7e9", ERR, "format", NULL),
    R(F(.type = FT_DATETIME, .format = "epoch_s"), "\"abc\"", ERR, "format", NULL),
    R(F(.type = FT_DATETIME, .format = "epoch_s"), "\"\"", ERR, "format", NULL),
    R(F(.type = FT_DATETIME, .format = "epoch_s"), "\"2026-03-01T08:15:00Z\"", ERR, "format", NULL),
    R(F(.type = FT_DATETIME, .format = "epoch_s"), "true", ERR, "type", NULL),
    R(F(.type = FT_DATETIME, .format = "epoch_s"), "99999999999999999999", ERR, "format", NULL),
    R(F(.type = FT_DATETIME, .format = "epoch_ms", .normalize = NORM_UTC), "1772352900123", OK,
      "\"2026-03-01T08:15:00.123Z\"", NULL),
    R(F(.type = FT_DATETIME, .format = "epoch_ms", .normalize = NORM_UTC), "1772352900000", OK,
      "\"2026-03-01T08:15:00Z\"", NULL),
    R(F(.type = FT_DATETIME, .format = "epoch_ms", .normalize = NORM_UTC), "\"1772352900120\"", OK,
      "\"2026-03-01T08:15:00.12Z\"", NULL),
    R(F(.type = FT_DATETIME, .format = "epoch_ms", .normalize = NORM_UTC), "1772352900123.5", OK,
      "\"2026-03-01T08:15:00.1235Z\"", NULL),
    R(F(.type = FT_DATETIME, .format = "epoch_ms", .normalize = NORM_UTC), "-1500", OK,
      "\"1969-12-31T23:59:58.5Z\"", NULL),
    R(F(.type = FT_DATETIME, .format = "epoch_ms", .normalize = NORM_UTC), "1", OK, "\"1970-01-01T00:00:00.001Z\"",
      NULL),
    R(F(.type = FT_DATETIME, .format = "epoch_ms"), "1.7e12", ERR, "format", NULL),
    R(F(.type = FT_DATETIME, .format = "epoch_ms", .sensitive = 1), "\"soon\"", ERR, "format", NULL),
    /* ==== datetime: declared formats (pure C, no strptime) ==== */
    R(F(.type = FT_DATETIME, .format = "%d/%m/%Y %H:%M", .zone = "+01:00", .normalize = NORM_UTC),
      "\"01/03/2026 08:15\"", OK, "\"2026-03-01T07:15:00Z\"", NULL),
    R(F(.type = FT_DATETIME, .format = "%d/%m/%Y %H:%M", .zone = "+01:00"), "\"01/03/2026 08:15\"", OK,
      "\"2026-03-01T08:15:00+01:00\"", NULL),
    R(F(.type = FT_DATETIME, .format = "%d/%m/%Y %H:%M", .zone = "UTC"), "\"01/03/2026 08:15\"", OK,
      "\"2026-03-01T08:15:00Z\"", NULL),
    R(F(.type = FT_DATETIME, .format = "%d/%m/%Y %H:%M", .zone = "+01:00", .normalize = NORM_UTC),
      "\"1/3/2026 8:15\"", OK, "\"2026-03-01T07:15:00Z\"", NULL),
    R(F(.type = FT_DATETIME, .format = "%d/%m/%Y %H:%M", .zone = "+01:00", .normalize = NORM_UTC),
      "\"01/01/2026 00:30\"", OK, "\"2025-12-31T23:30:00Z\"", NULL),
    R(F(.type = FT_DATETIME, .format = "%d/%m/%Y %H:%M", .zone = "+01:00"), "\"31/02/2026 08:15\"", ERR, "format",
      NULL),
    R(F(.type = FT_DATETIME, .format = "%d/%m/%Y %H:%M", .zone = "+01:00"), "\"01/13/2026 08:15\"", ERR, "format",
      NULL),
    R(F(.type = FT_DATETIME, .format = "%d/%m/%Y %H:%M", .zone = "+01:00"), "\"01/03/2026 24:00\"", ERR, "format",
      NULL),
    R(F(.type = FT_DATETIME, .format = "%d/%m/%Y %H:%M", .zone = "+01:00"), "\"01/03/2026\"", ERR, "format", NULL),
    R(F(.type = FT_DATETIME, .format = "%d/%m/%Y %H:%M", .zone = "+01:00"), "\"01-03-2026 08:15\"", ERR, "format",
      NULL),
    R(F(.type = FT_DATETIME, .format = "%d/%m/%Y %H:%M", .zone = "+01:00"), "\"01/03/2026 08:15:00\"", ERR, "format",
      NULL),
    R(F(.type = FT_DATETIME, .format = "%d/%m/%Y %H:%M", .zone = "+01:00"), "\"01/03/26 08:15\"", ERR, "format",
      NULL),
    R(F(.type = FT_DATETIME, .format = "%d/%m/%Y %H:%M", .zone = "+01:00"), "\"2026-03-01T08:15:00Z\"", ERR,
      "format", NULL),                                       /* only the declared format */
    R(F(.type = FT_DATETIME, .format = "%d/%m/%Y %H:%M", .zone = "+01:00"), "1772352900", ERR, "type", NULL),
    R(F(.type = FT_DATETIME, .format = "%Y%m%d %H%M%S %z", .normalize = NORM_UTC), "\"20260301 081500 +0545\"", OK,
      "\"2026-03-01T02:30:00Z\"", NULL),
    R(F(.type = FT_DATETIME, .format = "%Y%m%d %H%M%S %z", .normalize = NORM_UTC), "\"20260301 081500 Z\"", OK,
      "\"2026-03-01T08:15:00Z\"", NULL),
    R(F(.type = FT_DATETIME, .format = "%Y%m%d %H%M%S %z"), "\"20260301 081500 -05:00\"", OK,
      "\"2026-03-01T08:15:00-05:00\"", NULL),
    R(F(.type = FT_DATETIME, .format = "%Y%m%d %H%M%S %z"), "\"20260301 081500\"", ERR, "format", NULL),
    R(F(.type = FT_DATETIME, .format = "%Y-%m-%dT%H:%M:%S%z", .zone = "UTC", .normalize = NORM_UTC),
      "\"2016-12-31T18:59:60-05:00\"", OK, "\"2016-12-31T23:59:60Z\"", NULL),      /* leap second */
    R(F(.type = FT_DATETIME, .format = "%d.%m.%Y", .zone = "UTC"), "\"29.02.2024\"", OK,
      "\"2024-02-29T00:00:00Z\"", NULL),
    R(F(.type = FT_DATETIME, .format = "%d.%m.%Y", .zone = "UTC"), "\"29.02.2025\"", ERR, "format", NULL),
    R(F(.type = FT_DATETIME, .format = "%Y%%%m%%%d", .zone = "-03:00", .normalize = NORM_UTC), "\"2026%03%01\"", OK,
      "\"2026-03-01T03:00:00Z\"", NULL),
    R(F(.type = FT_DATETIME, .format = "%Y%%%m%%%d", .zone = "-03:00"), "\"2026/03/01\"", ERR, "format", NULL),
    /* ==== default sentinel ==== */
    R(F(.type = FT_STRING, .def = "N/A"), MISSING, OK, "\"N/A\"", NULL),
    R(F(.type = FT_STRING, .def = "\"quoted\""), MISSING, OK, "\"quoted\"", NULL),
    R(F(.type = FT_STRING, .def = "N/A"), "\"x\"", OK, "\"x\"", NULL),             /* present wins */
    R(F(.type = FT_STRING, .def = "N/A"), "null", OK, "\"N/A\"", NULL),            /* null: no value either */
    R(F(.type = FT_STRING, .def = "N/A", .nullable = 1), "null", OK, "null", NULL), /* nullable: null kept */
    R(F(.type = FT_STRING, .def = "N/A", .required = 1), MISSING, OK, "\"N/A\"", NULL),
    R(F(.type = FT_STRING, .def = "N/A", .required = 1), "null", OK, "\"N/A\"", NULL),
    R(F(.type = FT_STRING, .def = "N/A", .nullable = 1), MISSING, OK, "\"N/A\"", NULL),
    R(F(.type = FT_STRING, .def = "  x  ", .normalize = NORM_TRIM | NORM_UPPER), MISSING, OK, "\"X\"", NULL),
    R(F(.type = FT_INTEGER, .def = "0"), MISSING, OK, "0", NULL),
    R(F(.type = FT_INTEGER, .def = "9007199254740993"), MISSING, OK, "\"9007199254740993\"", NULL),
    R(F(.type = FT_NUMBER, .def = "1.50"), MISSING, OK, "1.50", NULL),
    R(F(.type = FT_DECIMAL, .def = "0.00"), MISSING, OK, "\"0.00\"", NULL),
    R(F(.type = FT_BOOLEAN, .def = "false"), MISSING, OK, "false", NULL),
    R(F(UNIT_ENUM, .def = "KG", .normalize = NORM_LOWER), MISSING, OK, "\"kg\"", NULL),
    R(F(UNIT_ENUM, .def = "UNKNOWN"), MISSING, OK, "\"UNKNOWN\"", NULL),
    R(F(.type = FT_ARRAY, .has_items = 1, .items = FT_STRING, .def = "[]"), MISSING, OK, "[]", NULL),
    R(F(.type = FT_OBJECT, .def = "{\"b\":1,\"a\":2}"), MISSING, OK, "{\"a\":2,\"b\":1}", NULL),
    R(F(.type = FT_DATETIME, .normalize = NORM_UTC, .def = "1970-01-01T01:00:00+01:00"), MISSING, OK,
      "\"1970-01-01T00:00:00Z\"", NULL),
    R(F(.type = FT_STRING, .from = "a.b", .def = "d"), MISSING, OK, "\"d\"", NULL),
    R(F(.type = FT_STRING, .def = "null", .nullable = 1), MISSING, OK, "null", NULL),
    /* ==== nfc and Unicode case ==== */
    R(F(.type = FT_STRING, .normalize = NORM_NFC), "\"caf\\u00e9\"", OK, "\"caf\xc3\xa9\"", NULL),
    R(F(.type = FT_STRING, .normalize = NORM_NFC), "\"cafe\\u0301\"", OK, "\"caf\xc3\xa9\"", NULL),
    R(F(.type = FT_STRING), "\"cafe\\u0301\"", OK, "\"cafe\xcc\x81\"", NULL),      /* without nfc: as given */
    R(F(.type = FT_STRING, .normalize = NORM_NFC), "\"\\u212b\"", OK, "\"\xc3\x85\"", NULL),  /* Angstrom sign */
    R(F(.type = FT_STRING, .normalize = NORM_NFC), "\"\\ufb01\"", OK, "\"\xef\xac\x81\"", NULL), /* NFC keeps fi lig. */
    R(F(.type = FT_STRING, .normalize = NORM_NFC), "\"\"", OK, "\"\"", NULL),
    R(F(.type = FT_STRING, .normalize = NORM_NFC), "\"\\u1100\\u1161\"", OK, "\"\xea\xb0\x80\"", NULL), /* Hangul */
    R(F(.type = FT_STRING, .normalize = NORM_NFC, .has_max_length = 1, .max_length = 1), "\"e\\u0301\"", OK,
      "\"\xc3\xa9\"", NULL),
    RV(F(.type = FT_STRING, .has_max_length = 1, .max_length = 1), "\"e\\u0301\"", ERR, "length", NULL,
       "\"e\xcc\x81\""),
    R(F(.type = FT_STRING, .normalize = NORM_NFC, .pattern = "^caf\xc3\xa9$"), "\"cafe\\u0301\"", OK,
      "\"caf\xc3\xa9\"", NULL),
    R(F(.type = FT_ENUM, VALUES("caf\xc3\xa9", "tea"), .normalize = NORM_NFC), "\"cafe\\u0301\"", OK,
      "\"caf\xc3\xa9\"", NULL),
    RV(F(.type = FT_ENUM, VALUES("caf\xc3\xa9", "tea")), "\"cafe\\u0301\"", ERR, "enum", NULL,
       "\"cafe\xcc\x81\""),
    R(F(.type = FT_STRING, .normalize = NORM_NFC | NORM_LOWER), "\"\xc3\x89" "COLE\"", OK, "\"\xc3\xa9" "cole\"",
      NULL),
    R(F(.type = FT_STRING, .normalize = NORM_LOWER), "\"\xc3\x89" "COLE\"", OK, "\"\xc3\x89" "cole\"",
      NULL),                                                       /* ASCII-only without nfc: fingerprints kept */
    R(F(.type = FT_STRING, .normalize = NORM_NFC | NORM_UPPER), "\"stra\xc3\x9f" "e\"", OK, "\"STRASSE\"", NULL),
    R(F(.type = FT_STRING, .normalize = NORM_NFC | NORM_UPPER), "\"e\\u0301t\\u00e9\"", OK,
      "\"\xc3\x89T\xc3\x89\"", NULL),
    R(F(.type = FT_STRING, .normalize = NORM_NFC | NORM_LOWER), "\"\xce\x9f\xce\x94\xce\x9f\xce\xa3\"", OK,
      "\"\xce\xbf\xce\xb4\xce\xbf\xcf\x82\"", NULL),                /* ΟΔΟΣ -> οδος with final sigma */
    R(F(.type = FT_STRING, .normalize = NORM_NFC | NORM_LOWER), "\"ABC-1\"", OK, "\"abc-1\"", NULL),
    R(F(.type = FT_STRING, .normalize = NORM_NFC | NORM_TRIM | NORM_COLLAPSE | NORM_LOWER),
      "\"  Cafe\\u0301 \\t CR\\u00c8ME \"", OK, "\"caf\xc3\xa9 cr\xc3\xa8me\"", NULL),
    R(F(.type = FT_EMAIL, .normalize = NORM_NFC), "\"jose\\u0301@example.com\"", OK, "\"jos\xc3\xa9@example.com\"",
      NULL),
};

/* ---- helpers ------------------------------------------------------------- */

static char *dup(const char *s)
{
    return s ? strdup(s) : NULL;
}

static char **dupv(char *const *a, size_t n)
{
    char **r;
    if (!n)
        return NULL;
    r = calloc(n, sizeof *r);
    for (size_t i = 0; i < n; i++)
        r[i] = strdup(a[i]);
    return r;
}

/* A heap copy of a field template: contract_release frees it. */
static contract_field field_copy(const contract_field *t)
{
    contract_field f = *t;
    f.name = dup(t->name);
    f.from = dup(t->from);
    f.pattern = dup(t->pattern);
    f.re = NULL;
    f.values = dupv(t->values, t->nvalues);
    f.map_from = dupv(t->map_from, t->nmap);
    f.map_to = dupv(t->map_to, t->nmap);
    f.fallback = dup(t->fallback);
    f.format = dup(t->format);
    f.zone = dup(t->zone);
    f.def = dup(t->def);
    f.def_json = NULL;
    memset(f.dec_bound, 0, sizeof f.dec_bound);
    return f;
}

/* Build a contract from templates; key names are copied. */
static void build(contract *c, const contract_field *fields, size_t n, char *const *key, size_t nkey)
{
    memset(c, 0, sizeof *c);
    c->name = strdup("test");
    c->fields = calloc(n, sizeof *c->fields);
    c->nfields = n;
    for (size_t i = 0; i < n; i++)
        c->fields[i] = field_copy(&fields[i]);
    c->key = dupv(key, nkey);
    c->nkey = nkey;
}

struct result {
    json_doc *doc;      /* holds the raw record and the canonical one */
    int rc;
    json_value *canonical;
    buf key, errors, out;
    char hash[65];      /* SHA-256 of JCS(canonical) */
    json_value *errv;   /* errors parsed back */
};

static void result_release(struct result *r)
{
    json_doc_free(r->doc);
    buf_release(&r->key);
    buf_release(&r->errors);
    buf_release(&r->out);
    memset(r, 0, sizeof *r);
}

static void apply_text(const contract *c, const char *text, struct result *r)
{
    struct err e = {0};
    json_value *raw;
    memset(r, 0, sizeof *r);
    r->doc = json_doc_new();
    buf_init(&r->key, 1 << 20);
    buf_init(&r->errors, 1 << 20);
    buf_init(&r->out, 1 << 20);
    raw = json_parse(r->doc, text, strlen(text), NULL, &e);
    CHECK(raw != NULL);
    if (!raw) {
        fprintf(stderr, "  bad test input %s: %s\n", text, e.msg);
        r->rc = -2;
        return;
    }
    r->rc = contract_apply(c, raw, r->doc, &r->canonical, &r->key, &r->errors, &e);
    if (r->rc < 0)
        fprintf(stderr, "  contract_apply failed on %s: %s\n", text, e.msg);
    if (r->rc == 0 && r->canonical) {
        buf jcs;
        buf_init(&jcs, 1 << 20);
        if (json_write(r->canonical, &r->out) || jcs_write(r->canonical, &jcs, &e))
            r->rc = -3;
        jcs_sha256_hex(jcs.ptr ? jcs.ptr : "", jcs.len, r->hash);
        buf_release(&jcs);
    }
    if (r->rc > 0) {
        r->errv = json_parse(r->doc, r->errors.ptr, r->errors.len, NULL, &e);
        CHECK(r->errv != NULL);
        if (!r->errv)
            fprintf(stderr, "  errors are not JSON: %s\n", buf_str(&r->errors));
    }
}

static const char *member_str(const json_value *o, const char *k)
{
    const json_value *v = json_get(o, k);
    return v && v->type == JSON_STRING ? v->u.str : NULL;
}

/* Every error object has exactly code, message, path and (maybe) value, all strings. */
static void check_error_shape(const struct result *r)
{
    CHECK(r->errv && r->errv->type == JSON_ARRAY);
    if (!r->errv || r->errv->type != JSON_ARRAY)
        return;
    CHECK_INT(r->errv->len, r->rc);
    for (size_t i = 0; i < r->errv->len; i++) {
        const json_value *o = json_at(r->errv, i);
        CHECK(o && o->type == JSON_OBJECT);
        if (!o || o->type != JSON_OBJECT)
            continue;
        CHECK(member_str(o, "code") && member_str(o, "message") && member_str(o, "path"));
        CHECK(member_str(o, "message") && member_str(o, "message")[0]);
        CHECK(o->len == 3 || (o->len == 4 && member_str(o, "value")));
    }
}

/* ---- the table ----------------------------------------------------------- */

static void run_rows(void)
{
    static char *const key[] = {"id"};
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        const struct row *t = &rows[i];
        contract_field fields[2] = {{.name = "id", .type = FT_INTEGER, .required = 1}, t->f};
        contract c;
        struct err e = {0};
        struct result r;
        char text[1024];
        int before = check_failed;

        build(&c, fields, 2, key, 1);
        CHECK_INT(contract_compile(&c, &e), CUST_OK);
        if (t->raw)
            snprintf(text, sizeof text, "{\"id\":1,\"v\":%s}", t->raw);
        else
            snprintf(text, sizeof text, "{\"id\":1}");
        apply_text(&c, text, &r);
        if (t->want == OK) {
            CHECK_INT(r.rc, 0);
            if (r.rc == 0) {
                const json_value *v = json_get(r.canonical, "v");
                buf got;
                buf_init(&got, 1 << 20);
                if (!v)
                    CHECK(buf_adds(&got, ABSENT) == CUST_OK);
                else
                    CHECK(json_write(v, &got) == CUST_OK);
                CHECK_STR(buf_str(&got), t->out);
                buf_release(&got);
                CHECK_STR(buf_str(&r.key), "[1]");
                CHECK_STR(buf_str(&r.errors), "");
            } else {
                fprintf(stderr, "  errors: %s\n", buf_str(&r.errors));
            }
        } else {
            CHECK_INT(r.rc, 1);
            CHECK(r.canonical == NULL);
            CHECK_STR(buf_str(&r.key), "");
            if (r.rc > 0 && r.errv) {
                const json_value *o = json_at(r.errv, 0);
                check_error_shape(&r);
                CHECK_STR(member_str(o, "code"), t->out);
                CHECK_STR(member_str(o, "path"), t->path ? t->path : "$.v");
                if (!strcmp(t->out, "required")) {
                    CHECK(json_get(o, "value") == NULL);
                } else if (t->f.sensitive) {
                    CHECK_STR(member_str(o, "value"), "***");
                    /* the offending text appears nowhere in the rejection */
                    {
                        char inner[256];
                        size_t n = strlen(t->raw);
                        const char *s = t->raw[0] == '"' ? t->raw + 1 : t->raw;
                        n -= t->raw[0] == '"' ? 2 : 0;
                        snprintf(inner, sizeof inner, "%.*s", (int)n, s);
                        CHECK(strstr(buf_str(&r.errors), inner) == NULL);
                    }
                } else {
                    CHECK_STR(member_str(o, "value"), t->value ? t->value : t->raw);
                }
            }
        }
        if (check_failed != before)
            fprintf(stderr, "  ^ row at %s:%d, input %s, errors %s\n", __FILE__, t->line, text,
                    buf_str(&r.errors));
        result_release(&r);
        contract_release(&c);
    }
}

/* ---- record level -------------------------------------------------------- */

static const contract_field kde[] = {
    {.name = "traceability_lot_code", .type = FT_STRING, .required = 1, .has_min_length = 1, .min_length = 1,
     .has_max_length = 1, .max_length = 64, .normalize = NORM_TRIM},
    {.name = "event_type", .type = FT_ENUM, .values = STRS("shipping", "receiving"), .nvalues = 2,
     .normalize = NORM_LOWER},
    {.name = "quantity", .type = FT_NUMBER, .bounds = BOUND_GT, .gt = 0},
    {.name = "unit_of_measure", .type = FT_ENUM, .values = STRS("kg", "lb", "ea"), .nvalues = 3},
    {.name = "event_timestamp", .type = FT_DATETIME, .normalize = NORM_UTC},
    {.name = "email", .from = "contact.email", .type = FT_STRING, .normalize = NORM_TRIM | NORM_LOWER,
     .sensitive = 1, .pattern = "^[^@\\s]+@[^@\\s]+$"},
    {.name = "count", .type = FT_INTEGER, .bounds = BOUND_GE, .ge = 0},
};
static char *const kde_key[] = {"traceability_lot_code", "event_type", "event_timestamp"};

static void test_record_level(void)
{
    contract c;
    struct err e = {0};
    struct result r, r2;
    build(&c, kde, sizeof kde / sizeof *kde, kde_key, 3);
    CHECK_INT(contract_compile(&c, &e), CUST_OK);

    /* The design's example: the key of the documentation. */
    apply_text(&c,
               "{\"traceability_lot_code\":\" LOT-7 \",\"event_type\":\"Shipping\",\"quantity\":12.50,"
               "\"unit_of_measure\":\"kg\",\"event_timestamp\":\"2026-03-01T08:15:00-05:00\","
               "\"contact\":{\"email\":\" Ops@Example.com\"},\"extra\":[1,2,3],\"count\":3}",
               &r);
    CHECK_INT(r.rc, 0);
    CHECK_STR(buf_str(&r.key), "[\"LOT-7\",\"shipping\",\"2026-03-01T13:15:00Z\"]");
    /* declared fields in declaration order, extras dropped, numbers' text kept */
    CHECK_STR(buf_str(&r.out), "{\"traceability_lot_code\":\"LOT-7\",\"event_type\":\"shipping\",\"quantity\":12.50,"
                               "\"unit_of_measure\":\"kg\",\"event_timestamp\":\"2026-03-01T13:15:00Z\","
                               "\"email\":\"ops@example.com\",\"count\":3}");

    /* Same content, other member order, other whitespace, other number text,
     * same instant in another zone: same key, same content hash. */
    apply_text(&c,
               "{ \"count\" : 3.0e0 , \"contact\":{\"email\":\"ops@example.com\"},"
               "\"event_timestamp\":\"2026-03-01T14:15:00+01:00\",\"unit_of_measure\":\"kg\",\"quantity\":1.25e1,"
               "\"event_type\":\"shipping\",\"traceability_lot_code\":\"LOT-7\"}",
               &r2);
    /* count 3.0e0 is not an integer: rejected, so compare a record with count 3 instead */
    CHECK_INT(r2.rc, 1);
    result_release(&r2);
    apply_text(&c,
               "{ \"count\" : 3 , \"contact\":{\"email\":\"ops@example.com\"},"
               "\"event_timestamp\":\"2026-03-01T14:15:00+01:00\",\"unit_of_measure\":\"kg\",\"quantity\":1.25e1,"
               "\"event_type\":\"shipping\",\"traceability_lot_code\":\"LOT-7\"}",
               &r2);
    CHECK_INT(r2.rc, 0);
    CHECK_STR(buf_str(&r2.key), buf_str(&r.key));
    CHECK_STR(r2.hash, r.hash);
    result_release(&r2);

    /* A changed value changes the hash but not the key. */
    apply_text(&c,
               "{\"traceability_lot_code\":\"LOT-7\",\"event_type\":\"shipping\",\"quantity\":13,"
               "\"unit_of_measure\":\"kg\",\"event_timestamp\":\"2026-03-01T13:15:00Z\","
               "\"contact\":{\"email\":\"ops@example.com\"},\"count\":3}",
               &r2);
    CHECK_INT(r2.rc, 0);
    CHECK_STR(buf_str(&r2.key), buf_str(&r.key));
    CHECK(strcmp(r2.hash, r.hash) != 0);
    result_release(&r2);

    /* Key values are JSON-typed: "1" and 1 do not collide, nor do values
     * that would run together if concatenated. */
    {
        static const contract_field kf[] = {{.name = "a", .type = FT_STRING, .required = 1},
                                            {.name = "b", .type = FT_STRING, .required = 1}};
        static char *const kk[] = {"a", "b"};
        contract c2;
        struct result x, y;
        build(&c2, kf, 2, kk, 2);
        CHECK_INT(contract_compile(&c2, &e), CUST_OK);
        apply_text(&c2, "{\"a\":\"x,\",\"b\":\"y\"}", &x);
        apply_text(&c2, "{\"a\":\"x\",\"b\":\",y\"}", &y);
        CHECK_INT(x.rc, 0);
        CHECK_INT(y.rc, 0);
        CHECK(strcmp(buf_str(&x.key), buf_str(&y.key)) != 0);
        CHECK_STR(buf_str(&x.key), "[\"x,\",\"y\"]");
        result_release(&x);
        result_release(&y);
        contract_release(&c2);
    }
    result_release(&r);

    /* Several errors in one record: all reported, in field order, with paths,
     * and the sensitive value masked. */
    apply_text(&c,
               "{\"traceability_lot_code\":\"   \",\"event_type\":\"flying\",\"quantity\":0,"
               "\"unit_of_measure\":\"stone\",\"event_timestamp\":\"2026-02-30T08:15:00Z\","
               "\"contact\":{\"email\":\"not an email SECRETVALUE\"},\"count\":-1}",
               &r);
    CHECK_INT(r.rc, 7);
    check_error_shape(&r);
    if (r.errv && r.errv->len == 7) {
        static const char *const want[][2] = {
            {"length", "$.traceability_lot_code"}, {"enum", "$.event_type"},
            {"range", "$.quantity"},               {"enum", "$.unit_of_measure"},
            {"format", "$.event_timestamp"},       {"pattern", "$.contact.email"},
            {"range", "$.count"},
        };
        for (size_t i = 0; i < 7; i++) {
            CHECK_STR(member_str(json_at(r.errv, i), "code"), want[i][0]);
            CHECK_STR(member_str(json_at(r.errv, i), "path"), want[i][1]);
        }
        CHECK_STR(member_str(json_at(r.errv, 5), "value"), "***");
        CHECK_STR(member_str(json_at(r.errv, 1), "value"), "\"flying\"");
        CHECK_STR(member_str(json_at(r.errv, 2), "value"), "0");
    }
    CHECK(strstr(buf_str(&r.errors), "SECRETVALUE") == NULL);
    CHECK(strstr(buf_str(&r.errors), "secretvalue") == NULL);
    CHECK(r.canonical == NULL);
    CHECK_STR(buf_str(&r.key), "");
    result_release(&r);

    /* Missing key fields: required even when the field does not say so. */
    apply_text(&c, "{\"quantity\":1}", &r);
    CHECK_INT(r.rc, 3);
    check_error_shape(&r);
    if (r.errv && r.errv->len == 3) {
        CHECK_STR(member_str(json_at(r.errv, 0), "path"), "$.traceability_lot_code");
        CHECK_STR(member_str(json_at(r.errv, 1), "path"), "$.event_type");
        CHECK_STR(member_str(json_at(r.errv, 2), "path"), "$.event_timestamp");
        for (size_t i = 0; i < 3; i++) {
            CHECK_STR(member_str(json_at(r.errv, i), "code"), "required");
            CHECK(json_get(json_at(r.errv, i), "value") == NULL);
        }
    }
    result_release(&r);
    apply_text(&c,
               "{\"traceability_lot_code\":\"L\",\"event_type\":null,"
               "\"event_timestamp\":\"2026-03-01T08:15:00Z\"}",
               &r);
    CHECK_INT(r.rc, 1);
    if (r.errv) {
        CHECK_STR(member_str(json_at(r.errv, 0), "code"), "required");
        CHECK_STR(member_str(json_at(r.errv, 0), "path"), "$.event_type");
    }
    result_release(&r);
    /* Only key fields present: optional fields are omitted, not nulled. */
    apply_text(&c,
               "{\"traceability_lot_code\":\"L\",\"event_type\":\"receiving\","
               "\"event_timestamp\":\"2026-03-01T08:15:00.500+00:00\"}",
               &r);
    CHECK_INT(r.rc, 0);
    CHECK_STR(buf_str(&r.out), "{\"traceability_lot_code\":\"L\",\"event_type\":\"receiving\","
                               "\"event_timestamp\":\"2026-03-01T08:15:00.5Z\"}");
    CHECK_STR(buf_str(&r.key), "[\"L\",\"receiving\",\"2026-03-01T08:15:00.5Z\"]");
    result_release(&r);

    /* Not an object: one type error at "$". */
    {
        static const char *const notobj[] = {"[]", "[{\"traceability_lot_code\":\"L\"}]", "\"x\"", "42", "null",
                                             "true"};
        for (size_t i = 0; i < sizeof notobj / sizeof *notobj; i++) {
            apply_text(&c, notobj[i], &r);
            CHECK_INT(r.rc, 1);
            check_error_shape(&r);
            if (r.errv) {
                CHECK_STR(member_str(json_at(r.errv, 0), "code"), "type");
                CHECK_STR(member_str(json_at(r.errv, 0), "path"), "$");
            }
            result_release(&r);
        }
    }
    /* Repeated member names: ambiguous, refused as a whole. */
    apply_text(&c,
               "{\"traceability_lot_code\":\"A\",\"traceability_lot_code\":\"B\",\"event_type\":\"shipping\","
               "\"event_timestamp\":\"2026-03-01T08:15:00Z\"}",
               &r);
    CHECK_INT(r.rc, 1);
    if (r.errv) {
        CHECK_STR(member_str(json_at(r.errv, 0), "code"), "format");
        CHECK_STR(member_str(json_at(r.errv, 0), "path"), "$");
    }
    result_release(&r);

    /* A long offending value is cut in the rejection, at a character boundary. */
    {
        char text[2048];
        int n = snprintf(text, sizeof text, "{\"traceability_lot_code\":\"");
        for (int i = 0; i < 100; i++)
            n += snprintf(text + n, sizeof text - (size_t)n, "\xc3\xa9");
        snprintf(text + n, sizeof text - (size_t)n,
                 "\",\"event_type\":\"shipping\",\"event_timestamp\":\"2026-03-01T08:15:00Z\"}");
        apply_text(&c, text, &r);
        CHECK_INT(r.rc, 1);
        if (r.errv) {
            const char *v = member_str(json_at(r.errv, 0), "value");
            CHECK(v && strlen(v) <= 203);
            CHECK_STR(member_str(json_at(r.errv, 0), "code"), "length");
        }
        result_release(&r);
    }

    /* errors_json and key_out are appended to: the caller resets them. The
     * same contract serves records in turn (reentrant, no state). */
    {
        json_doc *d = json_doc_new();
        buf k, er;
        json_value *canon;
        const char *t1 = "{\"traceability_lot_code\":\"A\",\"event_type\":\"shipping\","
                         "\"event_timestamp\":\"2026-03-01T08:15:00Z\"}";
        const char *t2 = "{\"event_type\":\"shipping\",\"event_timestamp\":\"2026-03-01T08:15:00Z\"}";
        json_value *v1 = json_parse(d, t1, strlen(t1), NULL, &e);
        json_value *v2 = json_parse(d, t2, strlen(t2), NULL, &e);
        buf_init(&k, 4096);
        buf_init(&er, 4096);
        CHECK_INT(contract_apply(&c, v1, d, &canon, &k, &er, &e), 0);
        CHECK_STR(buf_str(&k), "[\"A\",\"shipping\",\"2026-03-01T08:15:00Z\"]");
        buf_reset(&k);
        CHECK_INT(contract_apply(&c, v2, d, &canon, &k, &er, &e), 1);
        CHECK(canon == NULL);
        CHECK_STR(buf_str(&k), "");
        buf_reset(&er);
        CHECK_INT(contract_apply(&c, v1, d, &canon, &k, &er, &e), 0);
        CHECK_STR(buf_str(&k), "[\"A\",\"shipping\",\"2026-03-01T08:15:00Z\"]");
        buf_release(&k);
        buf_release(&er);
        json_doc_free(d);
    }
    contract_release(&c);
}

/* Integer keys keep their type in the key and hash. */
static void test_integer_key(void)
{
    static const contract_field f[] = {{.name = "id", .type = FT_INTEGER, .required = 1},
                                       {.name = "n", .type = FT_NUMBER}};
    static char *const k[] = {"id"};
    contract c;
    struct err e = {0};
    struct result a, b;
    build(&c, f, 2, k, 1);
    CHECK_INT(contract_compile(&c, &e), CUST_OK);
    apply_text(&c, "{\"id\":7,\"n\":100}", &a);
    apply_text(&c, "{\"n\":1e2,\"id\":7}", &b);
    CHECK_INT(a.rc, 0);
    CHECK_INT(b.rc, 0);
    CHECK_STR(buf_str(&a.key), "[7]");
    CHECK_STR(buf_str(&b.key), "[7]");
    CHECK_STR(a.hash, b.hash);  /* 100 and 1e2 are the same number in JCS */
    result_release(&a);
    result_release(&b);
    contract_release(&c);
}


/* ---- new record-level promises -------------------------------------------- */

static contract_computed computed_copy(const char *name, char *const *parts, size_t n, const char *sep)
{
    contract_computed k;
    memset(&k, 0, sizeof k);
    k.name = strdup(name);
    k.concat = dupv(parts, n);
    k.nconcat = n;
    k.sep = dup(sep);
    return k;
}

/* Registrations: a computed key from canonical values, big ids, unknown members. */
static const contract_field reg[] = {
    {.name = "external_id", .type = FT_INTEGER, .required = 1},
    {.name = "email", .from = "contact.email", .type = FT_EMAIL, .normalize = NORM_TRIM | NORM_NFC, .sensitive = 1},
    {.name = "registered_at", .type = FT_DATETIME, .normalize = NORM_UTC},
    {.name = "name", .type = FT_STRING, .normalize = NORM_NFC | NORM_TRIM},
    {.name = "fee", .type = FT_DECIMAL, .bounds = BOUND_GE, .ge = 0},
    {.name = "tags", .type = FT_ARRAY, .has_items = 1, .items = FT_STRING, .normalize = NORM_LOWER, .def = "[]"},
};

static void build_reg(contract *c, int unknown)
{
    static char *const parts[] = {"external_id", "email", "registered_at"};
    static char *const key[] = {"reg_key"};
    build(c, reg, sizeof reg / sizeof *reg, key, 1);
    c->computed = calloc(1, sizeof *c->computed);
    c->computed[0] = computed_copy("reg_key", parts, 3, NULL); /* default "~" */
    c->ncomputed = 1;
    c->unknown = unknown;
}

static void test_computed_and_unknown(void)
{
    contract c;
    struct err e = {0};
    struct result r, r2;
    const char *rec = "{\"external_id\":9007199254740993,\"contact\":{\"email\":\" Ann@B\xc3\x9c" "CHER.example\"},"
                      "\"registered_at\":\"2026-03-01T08:15:00+01:00\",\"name\":\"Ame\\u0301lie\",\"fee\":\"12.50\","
                      "\"extra\":{\"z\":1,\"a\":[true]},\"note\":\"hi\"}";

    build_reg(&c, UNKNOWN_DROP);
    CHECK_INT(contract_compile(&c, &e), CUST_OK);
    apply_text(&c, rec, &r);
    CHECK_INT(r.rc, 0);
    CHECK_STR(buf_str(&r.key), "[\"9007199254740993~Ann@b\xc3\xbc" "cher.example~2026-03-01T07:15:00Z\"]");
    CHECK_STR(buf_str(&r.out), "{\"external_id\":\"9007199254740993\",\"email\":\"Ann@b\xc3\xbc" "cher.example\","
                               "\"registered_at\":\"2026-03-01T07:15:00Z\",\"name\":\"Am\xc3\xa9lie\","
                               "\"fee\":\"12.50\",\"tags\":[],"
                               "\"reg_key\":\"9007199254740993~Ann@b\xc3\xbc" "cher.example~2026-03-01T07:15:00Z\"}");
    /* big ids one apart never collide in the key */
    apply_text(&c, "{\"external_id\":9007199254740992,\"contact\":{\"email\":\"ann@b\xc3\xbc" "cher.example\"},"
                   "\"registered_at\":\"2026-03-01T07:15:00Z\"}", &r2);
    CHECK_INT(r2.rc, 0);
    CHECK_STR(buf_str(&r2.key), "[\"9007199254740992~ann@b\xc3\xbc" "cher.example~2026-03-01T07:15:00Z\"]");
    result_release(&r2);
    /* decomposed vs composed name, reordered members: same content hash */
    apply_text(&c, "{\"note\":\"other\",\"fee\":12.50,\"name\":\" Am\\u00e9lie \",\"tags\":[],"
                   "\"registered_at\":\"20260301T071500Z\",\"contact\":{\"email\":\"Ann@b\xc3\xbc" "cher.EXAMPLE\"},"
                   "\"external_id\":9007199254740993}", &r2);
    CHECK_INT(r2.rc, 0);
    CHECK_STR(buf_str(&r2.key), buf_str(&r.key));
    CHECK_STR(r2.hash, r.hash);
    result_release(&r2);
    /* a missing part of a computed key is required, at the part's path */
    apply_text(&c, "{\"external_id\":1,\"registered_at\":\"2026-03-01T07:15:00Z\"}", &r2);
    CHECK_INT(r2.rc, 1);
    if (r2.errv) {
        CHECK_STR(member_str(json_at(r2.errv, 0), "code"), "required");
        CHECK_STR(member_str(json_at(r2.errv, 0), "path"), "$.contact.email");
    }
    result_release(&r2);
    result_release(&r);

    /* separators inside values are escaped: no two part lists share a text */
    {
        static const contract_field kf[] = {{.name = "a", .type = FT_STRING, .required = 1},
                                            {.name = "b", .type = FT_STRING, .required = 1}};
        static char *const parts[] = {"a", "b"};
        static char *const key[] = {"k"};
        contract c2;
        struct result x, y, z;
        build(&c2, kf, 2, key, 1);
        c2.computed = calloc(1, sizeof *c2.computed);
        c2.computed[0] = computed_copy("k", parts, 2, ":");
        c2.ncomputed = 1;
        CHECK_INT(contract_compile(&c2, &e), CUST_OK);
        apply_text(&c2, "{\"a\":\"x:\",\"b\":\"y\"}", &x);
        apply_text(&c2, "{\"a\":\"x\",\"b\":\":y\"}", &y);
        apply_text(&c2, "{\"a\":\"x\\\\\",\"b\":\"y\"}", &z);
        CHECK_INT(x.rc + y.rc + z.rc, 0);
        CHECK_STR(buf_str(&x.key), "[\"x\\\\::y\"]");
        CHECK_STR(buf_str(&y.key), "[\"x:\\\\:y\"]");
        CHECK_STR(buf_str(&z.key), "[\"x\\\\\\\\:y\"]");
        CHECK(strcmp(buf_str(&x.key), buf_str(&y.key)) != 0);
        result_release(&x);
        result_release(&y);
        result_release(&z);
        contract_release(&c2);
    }
    /* non-string parts use their JCS text; absent optional parts are "" */
    {
        static const contract_field kf[] = {{.name = "id", .type = FT_INTEGER, .required = 1},
                                            {.name = "n", .type = FT_NUMBER},
                                            {.name = "ok", .type = FT_BOOLEAN},
                                            {.name = "d", .type = FT_DECIMAL}};
        static char *const parts[] = {"id", "n", "ok", "d"};
        static char *const key[] = {"id"};
        contract c2;
        struct result x;
        build(&c2, kf, 4, key, 1);
        c2.computed = calloc(1, sizeof *c2.computed);
        c2.computed[0] = computed_copy("k", parts, 4, "|");
        c2.ncomputed = 1;
        CHECK_INT(contract_compile(&c2, &e), CUST_OK);
        apply_text(&c2, "{\"id\":7,\"n\":1e2,\"d\":\"1.0\"}", &x);
        CHECK_INT(x.rc, 0);
        CHECK_STR(member_str(x.canonical, "k"), "7|100||1.0");
        result_release(&x);
        apply_text(&c2, "{\"id\":7,\"n\":0.5,\"ok\":true}", &x);
        CHECK_STR(member_str(x.canonical, "k"), "7|0.5|true|");
        result_release(&x);
        contract_release(&c2);
    }
    contract_release(&c);

    /* unknown: keep copies unread members after the fields, as is */
    build_reg(&c, UNKNOWN_KEEP);
    CHECK_INT(contract_compile(&c, &e), CUST_OK);
    apply_text(&c, rec, &r);
    CHECK_INT(r.rc, 0);
    CHECK(strstr(buf_str(&r.out), ",\"extra\":{\"z\":1,\"a\":[true]},\"note\":\"hi\"}") != NULL);
    CHECK(json_get(r.canonical, "contact") == NULL);   /* read by email's from */
    apply_text(&c, "{\"note\":\"hi\",\"extra\":{\"a\":[true],\"z\":1.0},\"fee\":\"12.50\",\"name\":\"Am\xc3\xa9lie\","
                   "\"registered_at\":\"2026-03-01T07:15:00Z\",\"contact\":{\"email\":\"Ann@b\xc3\xbc" "cher.example\"},"
                   "\"external_id\":9007199254740993}", &r2);
    CHECK_INT(r2.rc, 0);
    CHECK_STR(r2.hash, r.hash);                         /* JCS makes kept members canonical in the hash */
    result_release(&r2);
    /* a raw member named like a computed field is not kept (the computed value wins) */
    apply_text(&c, "{\"external_id\":1,\"contact\":{\"email\":\"a@example.com\"},"
                   "\"registered_at\":\"2026-03-01T07:15:00Z\",\"reg_key\":\"forged\"}", &r2);
    CHECK_INT(r2.rc, 0);
    CHECK_STR(member_str(r2.canonical, "reg_key"), "1~a@example.com~2026-03-01T07:15:00Z");
    result_release(&r2);
    /* kept members must be fingerprintable exactly */
    apply_text(&c, "{\"external_id\":1,\"contact\":{\"email\":\"a@example.com\"},"
                   "\"registered_at\":\"2026-03-01T07:15:00Z\",\"big\":[12345678901234567890],\"huge\":1e400}", &r2);
    CHECK_INT(r2.rc, 2);
    check_error_shape(&r2);
    if (r2.errv && r2.errv->len == 2) {
        CHECK_STR(member_str(json_at(r2.errv, 0), "code"), "range");
        CHECK_STR(member_str(json_at(r2.errv, 0), "path"), "$.big");
        CHECK_STR(member_str(json_at(r2.errv, 1), "code"), "format");
        CHECK_STR(member_str(json_at(r2.errv, 1), "path"), "$.huge");
    }
    result_release(&r2);
    result_release(&r);
    contract_release(&c);

    /* unknown: reject: one unknown_field error per unread member, after field errors */
    build_reg(&c, UNKNOWN_REJECT);
    CHECK_INT(contract_compile(&c, &e), CUST_OK);
    apply_text(&c, rec, &r);
    CHECK_INT(r.rc, 2);
    check_error_shape(&r);
    if (r.errv && r.errv->len == 2) {
        CHECK_STR(member_str(json_at(r.errv, 0), "code"), "unknown_field");
        CHECK_STR(member_str(json_at(r.errv, 0), "path"), "$.extra");
        CHECK_STR(member_str(json_at(r.errv, 1), "code"), "unknown_field");
        CHECK_STR(member_str(json_at(r.errv, 1), "path"), "$.note");
        CHECK_STR(member_str(json_at(r.errv, 1), "value"), "\"hi\"");
    }
    result_release(&r);
    apply_text(&c, "{\"external_id\":\"x\",\"contact\":{\"email\":\"a@example.com\"},\"odd name\":1,\"it's\":2,"
                   "\"registered_at\":\"2026-03-01T07:15:00Z\"}", &r);
    CHECK_INT(r.rc, 3);
    if (r.errv && r.errv->len == 3) {
        CHECK_STR(member_str(json_at(r.errv, 0), "path"), "$.external_id");
        CHECK_STR(member_str(json_at(r.errv, 1), "path"), "$['odd name']");
        CHECK_STR(member_str(json_at(r.errv, 2), "path"), "$[\"it's\"]");
    }
    result_release(&r);
    apply_text(&c, "{\"external_id\":1,\"contact\":{\"email\":\"a@example.com\"},"
                   "\"registered_at\":\"2026-03-01T07:15:00Z\"}", &r);
    CHECK_INT(r.rc, 0);                                  /* nothing unknown: fine */
    result_release(&r);
    contract_release(&c);

    /* drop (the default) drops; the same record with keep differs only by extras */
    {
        static const contract_field kf[] = {{.name = "id", .type = FT_INTEGER, .required = 1}};
        static char *const key[] = {"id"};
        contract c2;
        struct result x;
        build(&c2, kf, 1, key, 1);
        CHECK_INT(contract_compile(&c2, &e), CUST_OK);
        apply_text(&c2, "{\"id\":1,\"x\":2}", &x);
        CHECK_STR(buf_str(&x.out), "{\"id\":1}");
        result_release(&x);
        c2.unknown = UNKNOWN_KEEP;
        apply_text(&c2, "{\"id\":1,\"x\":2}", &x);
        CHECK_STR(buf_str(&x.out), "{\"id\":1,\"x\":2}");
        result_release(&x);
        contract_release(&c2);
    }
}

/* Big integers in keys: exact, typed, never colliding. */
static void test_big_keys(void)
{
    static const contract_field f[] = {{.name = "id", .type = FT_INTEGER, .required = 1}};
    static char *const k[] = {"id"};
    static const char *const ids[] = {"9007199254740992", "9007199254740993", "9007199254740994",
                                      "9223372036854775807", "-9007199254740993", "-9223372036854775808"};
    char keys[6][64];
    contract c;
    struct err e = {0};
    build(&c, f, 1, k, 1);
    CHECK_INT(contract_compile(&c, &e), CUST_OK);
    for (size_t i = 0; i < 6; i++) {
        char text[128];
        struct result r, r2;
        snprintf(text, sizeof text, "{\"id\":%s}", ids[i]);
        apply_text(&c, text, &r);
        CHECK_INT(r.rc, 0);
        snprintf(keys[i], sizeof keys[i], "%s", buf_str(&r.key));
        /* the canonical record re-validates to itself */
        apply_text(&c, buf_str(&r.out), &r2);
        CHECK_INT(r2.rc, 0);
        CHECK_STR(buf_str(&r2.out), buf_str(&r.out));
        CHECK_STR(buf_str(&r2.key), buf_str(&r.key));
        result_release(&r2);
        result_release(&r);
        for (size_t j = 0; j < i; j++)
            CHECK(strcmp(keys[i], keys[j]) != 0);
    }
    CHECK_STR(keys[0], "[9007199254740992]");
    CHECK_STR(keys[1], "[\"9007199254740993\"]");
    CHECK_STR(keys[3], "[\"9223372036854775807\"]");
    contract_release(&c);
}

/* Decimal exactness reaches the fingerprint: 0.1+0.2 is not 0.3. */
static void test_decimal_hash(void)
{
    static const contract_field f[] = {{.name = "id", .type = FT_INTEGER, .required = 1},
                                       {.name = "amount", .type = FT_DECIMAL}};
    static char *const k[] = {"id"};
    static const char *const same[][2] = {
        {"0.3", "\"0.3\""}, {"3e-1", "0.3"}, {"\"+0.3\"", "3e-1"}, {"\"000.3\"", "\".3e0\""}, {"0.30", "30e-2"}, {"1E3", "\"1000\""},
        {"-0", "0"}, {"\"-0.0\"", "0.0"}, {"1.5e300", "\"15e299\""},
    };
    static const char *const differ[][2] = {
        {"0.3", "0.30000000000000004"}, {"0.3", "0.30"},  /* scale is kept: 0.30 is not 0.3 */
        {"9007199254740993", "9007199254740992"}, {"1e400", "1e401"},
        {"0.1", "0.10000000000000000000000000000001"},
    };
    contract c;
    struct err e = {0};
    build(&c, f, 2, k, 1);
    CHECK_INT(contract_compile(&c, &e), CUST_OK);
    for (int pass = 0; pass < 2; pass++) {
        size_t n = pass ? sizeof differ / sizeof *differ : sizeof same / sizeof *same;
        for (size_t i = 0; i < n; i++) {
            const char *a = pass ? differ[i][0] : same[i][0], *b = pass ? differ[i][1] : same[i][1];
            char ta[128], tb[128];
            struct result x, y;
            snprintf(ta, sizeof ta, "{\"id\":1,\"amount\":%s}", a);
            snprintf(tb, sizeof tb, "{\"amount\":%s,\"id\":1}", b);
            apply_text(&c, ta, &x);
            apply_text(&c, tb, &y);
            CHECK_INT(x.rc, 0);
            CHECK_INT(y.rc, 0);
            if (pass)
                CHECK(strcmp(x.hash, y.hash) != 0);
            else
                CHECK_STR(x.hash, y.hash);
            if (pass ? !strcmp(x.hash, y.hash) : !!strcmp(x.hash, y.hash))
                fprintf(stderr, "  ^ decimal %s vs %s\n", a, b);
            result_release(&x);
            result_release(&y);
        }
    }
    contract_release(&c);
}

/* ---- property: member order and whitespace never change key or JCS ------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void add_ws(char *out, size_t cap, size_t *n)
{
    static const char *const ws[] = {"", " ", "\n", "\t", "  ", "\r\n "};
    const char *w = ws[rng() % 6];
    *n += (size_t)snprintf(out + *n, cap - *n, "%s", w);
}

/* Render members (name, value text) in a random order with random
 * whitespace; nested objects are given pre-rendered in a few orders. */
static void render(const char *const (*m)[4], size_t nm, char *out, size_t cap)
{
    size_t order[16], n = 0;
    for (size_t i = 0; i < nm; i++)
        order[i] = i;
    for (size_t i = nm; i > 1; i--) {
        size_t j = rng() % i, t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
    add_ws(out, cap, &n);
    n += (size_t)snprintf(out + n, cap - n, "{");
    for (size_t i = 0; i < nm; i++) {
        const char *const *mm = m[order[i]];
        size_t alts = mm[3] ? 3 : mm[2] ? 2 : 1;
        add_ws(out, cap, &n);
        n += (size_t)snprintf(out + n, cap - n, "\"%s\"", mm[0]);
        add_ws(out, cap, &n);
        n += (size_t)snprintf(out + n, cap - n, ":");
        add_ws(out, cap, &n);
        n += (size_t)snprintf(out + n, cap - n, "%s", mm[1 + rng() % alts]);
        add_ws(out, cap, &n);
        if (i + 1 < nm)
            n += (size_t)snprintf(out + n, cap - n, ",");
    }
    snprintf(out + n, cap - n, "}");
}

static void test_permutation_property(void)
{
    /* name, then up to three equivalent renderings of its value */
    static const char *const rec1[][4] = {
        {"traceability_lot_code", "\" LOT-7 \"", "\"LOT-7\"", NULL},
        {"event_type", "\"Shipping\"", "\"shipping\"", "\"SHIPPING\""},
        {"quantity", "12.5", "1.25e1", "12.50"},
        {"unit_of_measure", "\"kg\"", NULL, NULL},
        {"event_timestamp", "\"2026-03-01T08:15:00-05:00\"", "\"20260301T131500Z\"", "\"2026-03-01T14:15:00+01:00\""},
        {"contact", "{\"email\":\"ops@example.com\",\"phone\":\"1\"}", "{ \"phone\" : \"1\" , \"email\":\"ops@example.com\"}",
         NULL},
        {"count", "3", NULL, NULL},
        {"extra", "[1,2,{\"b\":1,\"a\":2}]", "[ 1 , 2 , { \"a\" : 2 , \"b\" : 1 } ]", NULL},
    };
    static const char *const rec2[][4] = {
        {"traceability_lot_code", "\"A\\u00e9\"", "\"A\xc3\xa9\"", NULL},
        {"event_type", "\"receiving\"", NULL, NULL},
        {"event_timestamp", "\"2016-12-31T23:59:60Z\"", "\"2017-01-01T00:59:60+01:00\"", NULL},
        {"count", "9007199254740993", NULL, NULL},
        {"z", "null", NULL, NULL},
        {"\xc3\xa9t\xc3\xa9", "{\"y\":[],\"x\":{}}", "{\"x\":{},\"y\":[]}", NULL},
    };
    const contract_field pf[] = {
        {.name = "traceability_lot_code", .type = FT_STRING, .required = 1, .normalize = NORM_TRIM | NORM_NFC},
        {.name = "event_type", .type = FT_ENUM, .values = STRS("shipping", "receiving"), .nvalues = 2,
         .normalize = NORM_LOWER},
        {.name = "quantity", .type = FT_NUMBER},
        {.name = "unit_of_measure", .type = FT_ENUM, .values = STRS("kg", "lb"), .nvalues = 2},
        {.name = "event_timestamp", .type = FT_DATETIME, .normalize = NORM_UTC},
        {.name = "email", .from = "contact.email", .type = FT_EMAIL},
        {.name = "count", .type = FT_INTEGER},
    };
    static char *const pk[] = {"traceability_lot_code", "event_type", "event_timestamp", "count"};
    for (int unknown = UNKNOWN_DROP; unknown <= UNKNOWN_KEEP; unknown++) {
        contract c;
        struct err e = {0};
        build(&c, pf, sizeof pf / sizeof *pf, pk, 4);
        c.unknown = unknown;
        CHECK_INT(contract_compile(&c, &e), CUST_OK);
        for (int which = 0; which < 2; which++) {
            const char *const (*m)[4] = which ? rec2 : rec1;
            size_t nm = which ? sizeof rec2 / sizeof *rec2 : sizeof rec1 / sizeof *rec1;
            char first_key[512] = "", first_jcs[2048] = "";
            int mismatches = 0;
            for (int round = 0; round < 60; round++) {
                char text[4096];
                struct result r;
                buf jcs;
                struct err je = {0};
                render(m, nm, text, sizeof text);
                apply_text(&c, text, &r);
                CHECK_INT(r.rc, 0);
                if (r.rc != 0) {
                    fprintf(stderr, "  permutation input %s: %s\n", text, buf_str(&r.errors));
                    result_release(&r);
                    continue;
                }
                buf_init(&jcs, 1 << 20);
                CHECK(jcs_write(r.canonical, &jcs, &je) == CUST_OK);
                if (round == 0) {
                    snprintf(first_key, sizeof first_key, "%s", buf_str(&r.key));
                    snprintf(first_jcs, sizeof first_jcs, "%s", buf_str(&jcs));
                } else if (strcmp(first_key, buf_str(&r.key)) || strcmp(first_jcs, buf_str(&jcs))) {
                    mismatches++;
                    fprintf(stderr, "  permutation changed key/JCS: %s\n", text);
                }
                buf_release(&jcs);
                result_release(&r);
            }
            CHECK_INT(mismatches, 0);
            CHECK(first_key[0] == '[');
            if (unknown == UNKNOWN_KEEP && which == 0)
                CHECK(strstr(first_jcs, "\"extra\":[1,2,{\"a\":2,\"b\":1}]") != NULL);
            if (which == 1)
                CHECK_STR(first_key, "[\"A\xc3\xa9\",\"receiving\",\"2016-12-31T23:59:60Z\",\"9007199254740993\"]");
        }
        contract_release(&c);
    }
}

/* ---- compile ------------------------------------------------------------- */

static const struct {
    int line;
    contract_field f;
    const char *key; /* NULL: "id" */
    const char *msg;
} bad_contracts[] = {
    RC(F(.type = FT_STRING), "nope", "not a declared field"),
    RC(F(.type = FT_STRING, .nullable = 1), "v", "nullable"),
    RC(F(.type = FT_ENUM), NULL, "needs values"),
    RC(F(UNIT_ENUM, .fallback = "ton"), NULL, "not one of values"),
    RC(F(.type = FT_STRING, .fallback = "x"), NULL, "enum fields only"),
    RC(F(.type = FT_STRING, .has_min_length = 1, .min_length = 5, .has_max_length = 1, .max_length = 4), NULL,
      "exceeds max_length"),
    RC(F(.type = FT_STRING, .bounds = BOUND_GT, .gt = 0), NULL, "number and integer"),
    RC(F(.type = FT_NUMBER, .pattern = "x"), NULL, "apply to strings"),
    RC(F(.type = FT_INTEGER, .has_max_length = 1, .max_length = 3), NULL, "apply to strings"),
    RC(F(.type = FT_STRING, .normalize = NORM_UTC), NULL, "utc"),
    RC(F(.type = FT_STRING, .normalize = NORM_LOWER | NORM_UPPER), NULL, "lower and upper"),
    RC(F(.type = FT_STRING, .pattern = "a("), NULL, "does not compile"),
    RC(F(.type = FT_STRING, .from = "a..b"), NULL, "from"),
    /* bounds are coherent: an empty range accepts nothing */
    RC(F(.type = FT_NUMBER, .bounds = BOUND_GE | BOUND_LE, .ge = 10, .le = 5), NULL, "bounds"),
    RC(F(.type = FT_NUMBER, .bounds = BOUND_GT | BOUND_LT, .gt = 1, .lt = 1), NULL, "bounds"),
    RC(F(.type = FT_INTEGER, .bounds = BOUND_GT | BOUND_LE, .gt = 5, .le = 5), NULL, "bounds"),
    RC(F(.type = FT_NUMBER, .bounds = BOUND_GE | BOUND_LT, .ge = 5, .lt = 5), NULL, "bounds"),
    /* new types and rules */
    RC(F(.type = FT_DECIMAL, .bounds = BOUND_GE | BOUND_LE, .ge = 5, .le = 1), NULL, "bounds"),
    RC(F(.type = FT_EMAIL, .bounds = BOUND_GT, .gt = 0), NULL, "number and integer"),
    RC(F(.type = FT_DATE, .bounds = BOUND_GT, .gt = 0), NULL, "number and integer"),
    RC(F(.type = FT_DECIMAL, .pattern = "x"), NULL, "apply to strings"),
    RC(F(.type = FT_DATE, .has_max_length = 1, .max_length = 3), NULL, "apply to strings"),
    RC(F(.type = FT_UUID, .pattern = "x"), NULL, "apply to strings"),
    RC(F(.type = FT_OBJECT, .pattern = "x"), NULL, "apply to strings"),
    RC(F(.type = FT_ARRAY, .has_items = 1, .items = FT_INTEGER, .pattern = "x"), NULL, "apply to strings"),
    RC(F(.type = FT_ARRAY, .has_items = 1, .items = FT_STRING, .normalize = NORM_UTC), NULL, "utc"),
    RC(F(.type = FT_ARRAY, .has_items = 1, .items = FT_ENUM), NULL, "needs values"),
    RC(F(.type = FT_ARRAY, .has_items = 1, .items = FT_STRING, .fallback = "x"), NULL, "enum fields only"),
    RC(F(.type = FT_STRING, .has_items = 1, .items = FT_STRING), NULL, "items applies to array"),
    RC(F(.type = FT_ARRAY, .has_items = 1, .items = FT_ARRAY), NULL, "scalar type"),
    RC(F(.type = FT_ARRAY, .has_items = 1, .items = FT_OBJECT), NULL, "scalar type"),
    RC(F(.type = FT_STRING, .has_min_items = 1, .min_items = 1), NULL, "apply to array"),
    RC(F(.type = FT_ARRAY, .has_min_items = 1, .min_items = 3, .has_max_items = 1, .max_items = 2), NULL,
       "exceeds max_items"),
    RC(F(.type = FT_ARRAY, .has_items = 1, .items = FT_STRING), "v", "scalars"),
    RC(F(.type = FT_OBJECT), "v", "scalars"),
    RC(F(.type = FT_STRING, .format = "epoch_s"), NULL, "format and zone"),
    RC(F(.type = FT_STRING, .zone = "UTC"), NULL, "format and zone"),
    RC(F(.type = FT_DATETIME, .zone = "Mars"), NULL, "zone"),
    RC(F(.type = FT_DATETIME, .zone = "+25:00"), NULL, "zone"),
    RC(F(.type = FT_DATETIME, .zone = "+01:00x"), NULL, "zone"),
    RC(F(.type = FT_DATETIME, .zone = ""), NULL, "zone"),
    RC(F(.type = FT_DATETIME, .format = "%m/%d/%Y %I", .zone = "UTC"), NULL, "unsupported directive"),
    RC(F(.type = FT_DATETIME, .format = "%d/%m/%Y %", .zone = "UTC"), NULL, "unsupported directive"),
    RC(F(.type = FT_DATETIME, .format = "%H:%M", .zone = "UTC"), NULL, "needs %Y"),
    RC(F(.type = FT_DATETIME, .format = "%d/%m/%Y"), NULL, "declare the zone"),
    RC(F(.type = FT_DATETIME, .format = "epoch_s", .zone = "UTC"), NULL, "epoch"),
    RC(F(.type = FT_DATETIME, .format = "epoch_ms", .zone = "+01:00"), NULL, "epoch"),
    RC(F(.type = FT_INTEGER, .def = "abc"), NULL, "default"),
    RC(F(.type = FT_INTEGER, .def = "1.5"), NULL, "default"),
    RC(F(UNIT_ENUM, .def = "ton"), NULL, "default"),
    RC(F(.type = FT_EMAIL, .def = "nope"), NULL, "default"),
    RC(F(.type = FT_STRING, .def = "toolong", .has_max_length = 1, .max_length = 3), NULL, "default"),
    RC(F(.type = FT_DATETIME, .def = "2026-03-01"), NULL, "default"),
    RC(F(.type = FT_DECIMAL, .def = "-1", .bounds = BOUND_GE, .ge = 0), NULL, "default"),
    RC(F(.type = FT_ARRAY, .has_items = 1, .items = FT_INTEGER, .def = "[\"a\"]"), NULL, "default"),
};

static void test_compile(void)
{
    for (size_t i = 0; i < sizeof bad_contracts / sizeof *bad_contracts; i++) {
        contract_field fields[2] = {{.name = "id", .type = FT_INTEGER, .required = 1}, bad_contracts[i].f};
        char *key[1];
        contract c;
        struct err e = {0};
        cust_code rc;
        key[0] = (char *)(bad_contracts[i].key ? bad_contracts[i].key : "id");
        build(&c, fields, 2, key, 1);
        rc = contract_compile(&c, &e);
        CHECK_INT(rc, CUST_ECONFIG);
        CHECK(strstr(e.msg, bad_contracts[i].msg) != NULL);
        if (rc != CUST_ECONFIG || !strstr(e.msg, bad_contracts[i].msg))
            fprintf(stderr, "  ^ contract at %s:%d: %s\n", __FILE__, bad_contracts[i].line, e.msg);
        contract_release(&c);
    }
    {
        contract c;
        struct err e = {0};
        memset(&c, 0, sizeof c);
        CHECK_INT(contract_compile(&c, &e), CUST_ECONFIG);  /* no fields */
        contract_release(&c);
        contract_release(NULL);
    }
    {
        contract_field f = {.name = "id", .type = FT_INTEGER};
        contract c;
        struct err e = {0};
        build(&c, &f, 1, NULL, 0);
        CHECK_INT(contract_compile(&c, &e), CUST_ECONFIG);  /* no key */
        contract_release(&c);
    }
    /* Recompiling is allowed (patterns are replaced, not leaked). */
    {
        contract_field f[2] = {{.name = "id", .type = FT_STRING, .pattern = "^a"}, {.name = "x", .type = FT_BOOLEAN}};
        static char *const k[] = {"id"};
        contract c;
        struct err e = {0};
        build(&c, f, 2, k, 1);
        CHECK_INT(contract_compile(&c, &e), CUST_OK);
        CHECK_INT(contract_compile(&c, &e), CUST_OK);
        contract_release(&c);
    }
    /* contract-level: unknown policy and computed fields */
    {
        static const contract_field f[] = {{.name = "id", .type = FT_INTEGER, .required = 1},
                                           {.name = "a", .type = FT_STRING},
                                           {.name = "arr", .type = FT_ARRAY}};
        static const struct {
            const char *name, *part, *sep, *key, *msg;
            int unknown;
        } bad[] = {
            {"a", "id", NULL, "id", "already used", 0},
            {"k", "nope", NULL, "id", "not a declared field", 0},
            {"k", "arr", NULL, "id", "not a scalar", 0},
            {"k", NULL, NULL, "id", "at least one field", 0},
            {"k", "id", "", "id", "sep must not be empty", 0},
            {"k", "id", NULL, "kk", "not a declared field", 0},
            {"k", "id", NULL, "id", "unknown:", 5},
            {"k", "id", NULL, "id", "unknown:", -1},
        };
        for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
            char *parts[2] = {(char *)bad[i].part, (char *)"a"};
            char *key[1] = {(char *)bad[i].key};
            contract c;
            struct err e = {0};
            build(&c, f, 3, key, 1);
            c.computed = calloc(1, sizeof *c.computed);
            c.computed[0] = computed_copy(bad[i].name, parts, bad[i].part ? 2 : 0, bad[i].sep);
            c.ncomputed = 1;
            c.unknown = bad[i].unknown;
            CHECK_INT(contract_compile(&c, &e), CUST_ECONFIG);
            CHECK(strstr(e.msg, bad[i].msg) != NULL);
            if (!strstr(e.msg, bad[i].msg))
                fprintf(stderr, "  ^ computed case %zu: %s\n", i, e.msg);
            contract_release(&c);
        }
        /* a computed field may form the key; sep "" is fine for one part */
        {
            char *parts[1] = {(char *)"a"};
            char *key[1] = {(char *)"k"};
            contract c;
            struct err e = {0};
            build(&c, f, 3, key, 1);
            c.computed = calloc(1, sizeof *c.computed);
            c.computed[0] = computed_copy("k", parts, 1, "");
            c.ncomputed = 1;
            CHECK_INT(contract_compile(&c, &e), CUST_OK);
            CHECK_INT(contract_compile(&c, &e), CUST_OK); /* recompiling does not leak */
            contract_release(&c);
        }
        CHECK_STR(contract_unknown_policies[UNKNOWN_DROP], "drop");
        CHECK_STR(contract_unknown_policies[UNKNOWN_KEEP], "keep");
        CHECK_STR(contract_unknown_policies[UNKNOWN_REJECT], "reject");
        CHECK(contract_unknown_policies[3] == NULL);
    }
    CHECK_STR(contract_type_name(FT_DATETIME), "datetime");
    CHECK_STR(contract_type_name((field_type)99), "?");
    for (int t = FT_STRING; t <= FT_ENUM; t++)
        CHECK_INT(contract_type_parse(contract_type_name((field_type)t)), t);
    CHECK_INT(contract_type_parse("e-mail"), -1);
    CHECK_INT(contract_type_parse("email"), FT_EMAIL);
    for (int t = FT_STRING; t <= FT_OBJECT; t++)
        CHECK_INT(contract_type_parse(contract_type_name((field_type)t)), t);
}

int main(void)
{
    run_rows();
    test_record_level();
    test_integer_key();
    test_computed_and_unknown();
    test_big_keys();
    test_decimal_hash();
    test_permutation_property();
    test_compile();
    return check_report("test_contract");
}
