/* contract.c - validate and normalise one raw record against a contract.
 * The canonical object reuses the raw document's nodes where a value is
 * unchanged (numbers keep their exact text that way), so out_doc must not
 * outlive the raw record's document. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "contract.h"

#include <math.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jcs.h"

static const char *const type_names[] = {"string", "number", "integer", "boolean", "datetime", "enum"};

const char *contract_type_name(field_type t)
{
    return (unsigned)t < sizeof type_names / sizeof *type_names ? type_names[t] : "?";
}

int contract_type_parse(const char *s)
{
    for (size_t i = 0; i < sizeof type_names / sizeof *type_names; i++)
        if (!strcmp(type_names[i], s))
            return (int)i;
    return -1;
}

static int find_field(const contract *c, const char *name)
{
    for (size_t i = 0; i < c->nfields; i++)
        if (!strcmp(c->fields[i].name, name))
            return (int)i;
    return -1;
}

cust_code contract_compile(contract *c, struct err *e)
{
    if (c->nfields == 0)
        return err_set(e, CUST_ECONFIG, "declares no fields");
    if (c->nkey == 0)
        return err_set(e, CUST_ECONFIG, "key: name at least one field forming the idempotency key");
    for (size_t k = 0; k < c->nkey; k++) {
        int i = find_field(c, c->key[k]);
        if (i < 0)
            return err_set(e, CUST_ECONFIG, "key: \"%s\" is not a declared field", c->key[k]);
        if (c->fields[i].nullable)
            return err_set(e, CUST_ECONFIG, "key: field %s is nullable; key fields must have a value", c->key[k]);
    }
    for (size_t i = 0; i < c->nfields; i++) {
        contract_field *f = &c->fields[i];
        if (f->from) {
            struct err pe = {0};
            if (!json_path_valid(f->from, &pe))
                return err_set(e, CUST_ECONFIG, "field %s: from: %s", f->name, pe.msg);
        }
        if (f->type == FT_ENUM && f->nvalues == 0)
            return err_set(e, CUST_ECONFIG, "field %s: type enum needs values: [...]", f->name);
        if (f->fallback && f->type != FT_ENUM)
            return err_set(e, CUST_ECONFIG, "field %s: fallback applies to enum fields only", f->name);
        if (f->fallback) {
            int ok = 0;
            for (size_t v = 0; v < f->nvalues; v++)
                ok |= !strcmp(f->values[v], f->fallback);
            if (!ok)
                return err_set(e, CUST_ECONFIG, "field %s: fallback \"%s\" is not one of values", f->name, f->fallback);
        }
        if (f->has_min_length && f->has_max_length && f->min_length > f->max_length)
            return err_set(e, CUST_ECONFIG, "field %s: min_length %zu exceeds max_length %zu", f->name,
                           f->min_length, f->max_length);
        if (f->bounds && f->type != FT_NUMBER && f->type != FT_INTEGER)
            return err_set(e, CUST_ECONFIG, "field %s: gt/ge/lt/le apply to number and integer fields", f->name);
        if (f->bounds) {
            /* Coherent: the bounds leave some number that passes. */
            int lo = (f->bounds & (BOUND_GT | BOUND_GE)) != 0, hi = (f->bounds & (BOUND_LT | BOUND_LE)) != 0;
            double l = (f->bounds & BOUND_GT) ? f->gt : f->ge, h = (f->bounds & BOUND_LT) ? f->lt : f->le;
            int lopen = (f->bounds & BOUND_GT) != 0, hopen = (f->bounds & BOUND_LT) != 0;
            if ((f->bounds & BOUND_GT) && (f->bounds & BOUND_GE) && f->ge > f->gt)
                l = f->ge, lopen = 0;
            if ((f->bounds & BOUND_LT) && (f->bounds & BOUND_LE) && f->le < f->lt)
                h = f->le, hopen = 0;
            if ((lo && l != l) || (hi && h != h) || (lo && hi && (l > h || (l == h && (lopen || hopen)))))
                return err_set(e, CUST_ECONFIG, "field %s: bounds gt/ge/lt/le leave no value that passes", f->name);
        }
        if ((f->has_min_length || f->has_max_length || f->pattern) && f->type != FT_STRING && f->type != FT_ENUM)
            return err_set(e, CUST_ECONFIG, "field %s: length and pattern rules apply to strings", f->name);
        if ((f->normalize & NORM_UTC) && f->type != FT_DATETIME)
            return err_set(e, CUST_ECONFIG, "field %s: normalize utc applies to datetime fields", f->name);
        if ((f->normalize & NORM_LOWER) && (f->normalize & NORM_UPPER))
            return err_set(e, CUST_ECONFIG, "field %s: normalize lower and upper together", f->name);
        if (f->pattern) {
            int code;
            PCRE2_SIZE off;
            pcre2_code *re = pcre2_compile((PCRE2_SPTR)f->pattern, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP,
                                           &code, &off, NULL);
            if (!re) {
                PCRE2_UCHAR msg[256];
                pcre2_get_error_message(code, msg, sizeof msg);
                return err_set(e, CUST_ECONFIG, "field %s: pattern does not compile at offset %zu: %s", f->name,
                               (size_t)off, (const char *)msg);
            }
            pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* best effort */
            pcre2_code_free(f->re);
            f->re = re;
        }
    }
    return CUST_OK;
}

static void free_strs(char **a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(a[i]);
    free(a);
}

void contract_release(contract *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nfields; i++) {
        contract_field *f = &c->fields[i];
        free(f->name);
        free(f->from);
        free(f->pattern);
        pcre2_code_free(f->re);
        free_strs(f->values, f->nvalues);
        free_strs(f->map_from, f->nmap);
        free_strs(f->map_to, f->nmap);
        free(f->fallback);
    }
    free(c->fields);
    free_strs(c->key, c->nkey);
    free(c->name);
    memset(c, 0, sizeof *c);
}

/* ---- datetimes ---------------------------------------------------------- */

static long long days_from_civil(long long y, unsigned m, unsigned d)
{
    /* Howard Hinnant's algorithm: days since 1970-01-01, proleptic Gregorian. */
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (long long)doe - 719468;
}

static void civil_from_days(long long z, long long *y, unsigned *m, unsigned *d)
{
    z += 719468;
    long long era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (long long)yoe + era * 400 + (*m <= 2);
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 1;
}

static int month_days(int y, int m)
{
    static const int md[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return md[m - 1];
}

/* Parse an RFC 3339 / ISO 8601 date-time with a zone. With utc, write the
 * instant as "YYYY-MM-DDTHH:MM:SS[.f]Z" (fraction digits as given, trailing
 * zeros dropped, so equal instants get equal text). Returns NULL on
 * success, else what is wrong. */
static const char *parse_datetime(const char *s, size_t len, int utc, char *out, size_t outn)
{
    int Y, M, D, h, mi, sec = 0, oh = 0, om = 0, sign = 0;
    size_t i = 0, fs = 0, fl = 0;
    if (len < 16 || !digits(s, 4, &Y) || s[4] != '-' || !digits(s + 5, 2, &M) || s[7] != '-' ||
        !digits(s + 8, 2, &D))
        return "expected a date-time like 2026-03-01T08:15:00-05:00";
    if (s[10] != 'T' && s[10] != 't' && s[10] != ' ')
        return "expected 'T' between date and time";
    if (!digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi))
        return "expected a time HH:MM[:SS]";
    i = 16;
    if (i < len && s[i] == ':') {
        if (i + 3 > len || !digits(s + i + 1, 2, &sec))
            return "expected seconds after ':'";
        i += 3;
        if (i < len && (s[i] == '.' || s[i] == ',')) {
            fs = ++i;
            while (i < len && s[i] >= '0' && s[i] <= '9')
                i++;
            fl = i - fs;
            if (fl == 0 || fl > 9)
                return "fraction of a second needs 1 to 9 digits";
        }
    }
    if (M < 1 || M > 12)
        return "month out of range 01-12";
    if (D < 1 || D > month_days(Y, M))
        return "day out of range for its month";
    if (h > 23 || mi > 59 || sec > 60)
        return "time out of range";
    if (i >= len)
        return "no time zone (add Z or an offset like +01:00)";
    if (s[i] == 'Z' || s[i] == 'z') {
        i++;
    } else if (s[i] == '+' || s[i] == '-') {
        sign = s[i] == '-' ? -1 : 1;
        i++;
        if (i + 2 > len || !digits(s + i, 2, &oh))
            return "bad UTC offset";
        i += 2;
        if (i < len && s[i] == ':') {
            i++;
            if (i == len)
                return "bad UTC offset"; /* "+05:" */
        }
        if (i < len) {
            if (i + 2 > len || !digits(s + i, 2, &om))
                return "bad UTC offset";
            i += 2;
        }
        if (oh > 23 || om > 59)
            return "UTC offset out of range";
    } else {
        return "bad time zone (use Z or an offset like +01:00)";
    }
    if (i != len)
        return "unexpected characters after the time zone";
    if (utc) {
        long long days = days_from_civil(Y, (unsigned)M, (unsigned)D), secs, y2;
        unsigned m2, d2;
        int leap = sec == 60;
        secs = days * 86400 + h * 3600 + mi * 60 + (leap ? 59 : sec) - sign * (oh * 3600 + om * 60);
        days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
        secs -= days * 86400;
        civil_from_days(days, &y2, &m2, &d2);
        if (y2 < 0 || y2 > 9999)
            return "instant out of the years 0000-9999 after conversion to UTC";
        while (fl > 0 && s[fs + fl - 1] == '0')
            fl--;
        snprintf(out, outn, "%04lld-%02u-%02uT%02lld:%02lld:%02lld%s%.*sZ", y2, m2, d2, secs / 3600,
                 secs / 60 % 60, leap ? 60 : secs % 60, fl ? "." : "", (int)fl, s + fs);
    }
    return NULL;
}

/* ---- strings ------------------------------------------------------------ */

static size_t ws_len(const unsigned char *p, size_t n)
{
    if (n >= 1 && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f' || *p == '\v'))
        return 1;
    if (n >= 2 && p[0] == 0xC2 && p[1] == 0xA0)
        return 2; /* NO-BREAK SPACE */
    if (n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF)
        return 3; /* BOM / ZERO WIDTH NO-BREAK SPACE */
    if (n >= 3 && p[0] == 0xE3 && p[1] == 0x80 && p[2] == 0x80)
        return 3; /* IDEOGRAPHIC SPACE */
    return 0;
}

/* Trailing whitespace: the length of the whitespace run ending at p+n. */
static size_t trailing_ws(const unsigned char *p, size_t n)
{
    size_t t = 0;
    for (;;) {
        size_t k = 0;
        for (size_t w = 1; w <= 3 && w <= n - t; w++)
            if (ws_len(p + n - t - w, w) == w) {
                k = w;
                break;
            }
        if (!k)
            return t;
        t += k;
    }
}

static cust_code normalise(const contract_field *f, const char *s, size_t n, buf *out)
{
    const unsigned char *p = (const unsigned char *)s;
    buf_reset(out);
    if (f->normalize & NORM_TRIM) {
        size_t k;
        while (n && (k = ws_len(p, n))) {
            p += k;
            n -= k;
        }
        n -= trailing_ws(p, n);
    }
    for (size_t i = 0; i < n;) {
        size_t k = (f->normalize & NORM_COLLAPSE) ? ws_len(p + i, n - i) : 0;
        if (k) {
            while (i < n && (k = ws_len(p + i, n - i)))
                i += k;
            if (buf_addc(out, ' '))
                return CUST_ELIMIT;
            continue;
        }
        unsigned char c = p[i++];
        if ((f->normalize & NORM_LOWER) && c >= 'A' && c <= 'Z')
            c = (unsigned char)(c + 32);
        else if ((f->normalize & NORM_UPPER) && c >= 'a' && c <= 'z')
            c = (unsigned char)(c - 32);
        if (buf_addc(out, (char)c))
            return CUST_ELIMIT;
    }
    if (!out->ptr && buf_add(out, "", 0))
        return CUST_ENOMEM;
    return CUST_OK;
}

static size_t codepoints(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

/* ---- apply -------------------------------------------------------------- */

struct apply {
    const contract *c;
    json_doc *doc;
    buf *errors;
    int nerr;
    struct err *e;
    buf tmp, path, val;
};

/* The JSON path of a field in the raw record; a path too long for the
 * buffer is cut (it is only a message). */
static void field_path(struct apply *A, const contract_field *f)
{
    const char *pre = "$.", *p = f->name;
    if (f->from) {
        p = f->from;
        pre = f->from[0] == '$' ? "" : f->from[0] == '[' ? "$" : "$.";
    }
    buf_reset(&A->path);
    if (buf_adds(&A->path, pre) || buf_adds(&A->path, p))
        buf_reset(&A->path);
}

static int add_error(struct apply *A, const contract_field *f, const char *code, const json_value *v,
                     const char *fmt, ...) CUST_PRINTF(5, 6);
static int add_error(struct apply *A, const contract_field *f, const char *code, const json_value *v,
                     const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (f)
        field_path(A, f);
    else if (buf_reset(&A->path), buf_adds(&A->path, "$"))
        return -1;
    if (buf_adds(A->errors, A->nerr ? ",{\"code\":" : "{\"code\":") || json_write_string(A->errors, code, strlen(code)) ||
        buf_adds(A->errors, ",\"message\":") || json_write_string(A->errors, msg, strlen(msg)) ||
        buf_adds(A->errors, ",\"path\":") || json_write_string(A->errors, A->path.ptr, A->path.len))
        return -1;
    if (v) {
        buf_reset(&A->val);
        if (f && f->sensitive) {
            if (buf_adds(&A->val, "***"))
                return -1;
        } else if (json_write(v, &A->val) == CUST_ELIMIT || A->val.len > 200) {
            /* cut at a character boundary */
            size_t n = A->val.len > 200 ? 200 : A->val.len;
            while (n && ((unsigned char)A->val.ptr[n] & 0xC0) == 0x80)
                n--;
            A->val.len = n;
            if (buf_adds(&A->val, "\xe2\x80\xa6"))
                return -1;
        }
        if (buf_adds(A->errors, ",\"value\":") || json_write_string(A->errors, A->val.ptr, A->val.len))
            return -1;
    }
    if (buf_addc(A->errors, '}'))
        return -1;
    A->nerr++;
    return 0;
}

static const char *jtype(const json_value *v)
{
    static const char *const n[] = {"null", "boolean", "boolean", "number", "string", "array", "object"};
    return n[v->type];
}

static int check_bounds(struct apply *A, const contract_field *f, const json_value *v)
{
    int ok;
    double d = json_number(v, &ok);
    if (isinf(d)) /* !ok also flags subnormals (ERANGE), which compare fine */
        return add_error(A, f, "range", v, "number out of the representable range");
    if ((f->bounds & BOUND_GT) && !(d > f->gt))
        return add_error(A, f, "range", v, "must be > %.17g", f->gt);
    if ((f->bounds & BOUND_GE) && !(d >= f->ge))
        return add_error(A, f, "range", v, "must be >= %.17g", f->ge);
    if ((f->bounds & BOUND_LT) && !(d < f->lt))
        return add_error(A, f, "range", v, "must be < %.17g", f->lt);
    if ((f->bounds & BOUND_LE) && !(d <= f->le))
        return add_error(A, f, "range", v, "must be <= %.17g", f->le);
    return 0;
}

/* Validate one field; *out is the canonical value (NULL: omit). Returns
 * -1 on internal failure, else 0 (errors are collected). */
static int one_field(struct apply *A, const contract_field *f, const json_value *raw, int is_key,
                     json_value **out)
{
    const json_value *v = f->from ? json_path(raw, f->from) : json_get(raw, f->name);
    *out = NULL;
    if (!v || v->type == JSON_NULL) {
        if (v && f->nullable) {
            *out = json_new_null(A->doc);
            return *out ? 0 : -1;
        }
        if (f->required || is_key)
            return add_error(A, f, "required", NULL, v ? "must not be null" : "is missing");
        return 0;
    }
    switch (f->type) {
    case FT_NUMBER:
    case FT_INTEGER:
        if (v->type != JSON_NUMBER)
            return add_error(A, f, "type", v, "expected %s, got %s", f->type == FT_NUMBER ? "a number" : "an integer",
                             jtype(v));
        if (f->type == FT_INTEGER && !(v->flags & JSON_F_INT64))
            return add_error(A, f, "type", v, "expected an integer that fits 64 bits");
        {
            /* A number no double holds (1e400) has no RFC 8785 form, so
             * no content hash or key: refuse it here, not in the store. */
            int ok;
            if (isinf(json_number(v, &ok))) /* not !ok: subnormals set ERANGE but have a JCS form */
                return add_error(A, f, "range", v, "number out of the representable range");
        }
        if (f->bounds) {
            int before = A->nerr;
            if (check_bounds(A, f, v))
                return -1;
            if (A->nerr != before)
                return 0;
        }
        *out = (json_value *)v;
        return 0;
    case FT_BOOLEAN:
        if (v->type != JSON_TRUE && v->type != JSON_FALSE)
            return add_error(A, f, "type", v, "expected a boolean, got %s", jtype(v));
        *out = (json_value *)v;
        return 0;
    case FT_DATETIME: {
        char norm[64];
        const char *why;
        if (v->type != JSON_STRING)
            return add_error(A, f, "type", v, "expected a date-time string, got %s", jtype(v));
        if ((why = parse_datetime(v->u.str, v->len, (f->normalize & NORM_UTC) != 0, norm, sizeof norm)))
            return add_error(A, f, "format", v, "%s", why);
        *out = (f->normalize & NORM_UTC) ? json_new_string(A->doc, norm, strlen(norm)) : (json_value *)v;
        return *out ? 0 : -1;
    }
    case FT_STRING:
    case FT_ENUM: {
        const char *s;
        size_t n;
        if (v->type != JSON_STRING)
            return add_error(A, f, "type", v, "expected a string, got %s", jtype(v));
        if (v->flags & JSON_F_SURROGATE)
            return add_error(A, f, "format", v, "holds a lone UTF-16 surrogate escape");
        s = v->u.str;
        n = v->len;
        if (f->normalize & (NORM_TRIM | NORM_COLLAPSE | NORM_LOWER | NORM_UPPER)) {
            if (normalise(f, s, n, &A->tmp))
                return -1;
            s = A->tmp.ptr;
            n = A->tmp.len;
        }
        for (size_t m = 0; m < f->nmap; m++)
            if (strlen(f->map_from[m]) == n && !memcmp(f->map_from[m], s, n)) {
                s = f->map_to[m];
                n = strlen(s);
                break;
            }
        if (f->type == FT_ENUM) {
            int ok = 0;
            for (size_t k = 0; k < f->nvalues && !ok; k++)
                ok = strlen(f->values[k]) == n && !memcmp(f->values[k], s, n);
            if (!ok) {
                if (!f->fallback)
                    return add_error(A, f, "enum", v, "not one of the allowed values");
                s = f->fallback;
                n = strlen(s);
            }
        }
        if (f->has_min_length || f->has_max_length) {
            size_t cp = codepoints(s, n);
            if (f->has_min_length && cp < f->min_length)
                return add_error(A, f, "length", v, "shorter than %zu characters", f->min_length);
            if (f->has_max_length && cp > f->max_length)
                return add_error(A, f, "length", v, "longer than %zu characters", f->max_length);
        }
        if (f->re) {
            pcre2_match_data *md = pcre2_match_data_create(1, NULL);
            int rc;
            if (!md)
                return -1;
            rc = pcre2_match(f->re, (PCRE2_SPTR)s, n, 0, 0, md, NULL);
            pcre2_match_data_free(md);
            if (rc < 0 && rc != PCRE2_ERROR_NOMATCH)
                return add_error(A, f, "pattern", v, "pattern could not be evaluated (PCRE2 error %d)", rc);
            if (rc < 0)
                return add_error(A, f, "pattern", v, "does not match %s", f->pattern);
        }
        *out = (s == v->u.str && n == v->len) ? (json_value *)v : json_new_string(A->doc, s, n);
        return *out ? 0 : -1;
    }
    }
    return add_error(A, f, "type", v, "unknown field type");
}

int contract_apply(const contract *c, const json_value *raw, json_doc *out_doc, json_value **canonical,
                   buf *key_out, buf *errors_json, struct err *e)
{
    struct apply A;
    json_value *obj = NULL, *key = NULL;
    int rc = -1;
    memset(&A, 0, sizeof A);
    A.c = c;
    A.doc = out_doc;
    A.errors = errors_json;
    A.e = e;
    buf_init(&A.tmp, 16u << 20);
    buf_init(&A.path, 4096);
    buf_init(&A.val, 4096);
    *canonical = NULL;
    if (buf_addc(errors_json, '['))
        goto fail;
    if (!raw || raw->type != JSON_OBJECT) {
        if (add_error(&A, NULL, "type", raw, "a record must be a JSON object, got %s", raw ? jtype(raw) : "nothing"))
            goto fail;
        goto done;
    }
    if (raw->flags & JSON_F_DUPKEYS) {
        if (add_error(&A, NULL, "format", NULL, "the record repeats a member name (not I-JSON); the value "
                                                "that counts is ambiguous"))
            goto fail;
        goto done;
    }
    if (!(obj = json_new_object(out_doc, c->nfields)) || !(key = json_new_array(out_doc, c->nkey)))
        goto fail;
    for (size_t i = 0; i < c->nfields; i++) {
        const contract_field *f = &c->fields[i];
        json_value *v;
        int is_key = 0;
        for (size_t k = 0; k < c->nkey; k++)
            is_key |= !strcmp(c->key[k], f->name);
        if (one_field(&A, f, raw, is_key, &v))
            goto fail;
        if (v && json_object_put(out_doc, obj, f->name, strlen(f->name), v))
            goto fail;
    }
    if (A.nerr)
        goto done;
    for (size_t k = 0; k < c->nkey; k++) {
        json_value *kv = json_get(obj, c->key[k]);
        if (!kv || json_array_push(out_doc, key, kv))
            goto fail;
    }
    if (jcs_write(key, key_out, e))
        goto fail;
done:
    if (A.nerr) {
        if (buf_addc(errors_json, ']'))
            goto fail;
        rc = A.nerr;
    } else {
        buf_reset(errors_json);
        *canonical = obj;
        rc = 0;
    }
    buf_release(&A.tmp);
    buf_release(&A.path);
    buf_release(&A.val);
    return rc;
fail:
    if (e && !e->code)
        err_set(e, CUST_ENOMEM, "out of memory or over a size cap while applying contract %s", c->name);
    buf_release(&A.tmp);
    buf_release(&A.path);
    buf_release(&A.val);
    return -1;
}
