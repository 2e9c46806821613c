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
    R(F(.type = FT_NUMBER), "12345678901234567890123", OK, "12345678901234567890123", NULL),
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
    R(F(.type = FT_INTEGER), "9223372036854775807", OK, "9223372036854775807", NULL),
    R(F(.type = FT_INTEGER), "-9223372036854775808", OK, "-9223372036854775808", NULL),
    R(F(.type = FT_INTEGER), "9223372036854775808", ERR, "type", NULL),
    R(F(.type = FT_INTEGER), "-9223372036854775809", ERR, "type", NULL),
    R(F(.type = FT_INTEGER), "99999999999999999999999999", ERR, "type", NULL),
    R(F(.type = FT_INTEGER), "9007199254740993", OK, "9007199254740993", NULL), /* exact text kept */
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
    CHECK_STR(contract_type_name(FT_DATETIME), "datetime");
    CHECK_STR(contract_type_name((field_type)99), "?");
    for (int t = FT_STRING; t <= FT_ENUM; t++)
        CHECK_INT(contract_type_parse(contract_type_name((field_type)t)), t);
    CHECK_INT(contract_type_parse("email"), -1);
}

int main(void)
{
    run_rows();
    test_record_level();
    test_integer_key();
    test_compile();
    return check_report("test_contract");
}
