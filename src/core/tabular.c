/* tabular.c - CSV (RFC 4180) and JSONL bytes to one JSON array of record
 * objects with the line each record starts on. Semantics are in tabular.h.
 * Pure: no I/O; strings are copied into the caller's json_doc. */
#include "tabular.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void tabular_opts_default(tabular_opts *o)
{
    o->delimiter = ',';
    o->header = 1;
    o->trim = 0;
    o->max_records = 0;
}

void tabular_result_release(tabular_result *r)
{
    if (!r)
        return;
    free(r->lines);
    r->records = NULL;
    r->lines = NULL;
    r->n = 0;
}

/* ---- shared ------------------------------------------------------------- */

struct out {
    json_doc *doc;
    json_value *arr;
    size_t *lines;
    size_t n, cap, max;
};

/* Append rec (starting on line) to the result, enforcing max_records. */
static cust_code add_record(struct out *o, json_value *rec, size_t line, struct err *e)
{
    if (o->n >= o->max)
        return err_set(e, CUST_ELIMIT, "line %zu: more than %zu records", line, o->max);
    if (o->n == o->cap) {
        size_t ncap = o->cap ? o->cap * 2 : 64;
        size_t *nl;
        if (ncap > o->max)
            ncap = o->max;
        if (!(nl = realloc(o->lines, ncap * sizeof *nl)))
            return err_set(e, CUST_ENOMEM, "line %zu: out of memory", line);
        o->lines = nl;
        o->cap = ncap;
    }
    if (json_array_push(o->doc, o->arr, rec) != CUST_OK)
        return err_set(e, CUST_ENOMEM, "line %zu: out of memory", line);
    o->lines[o->n++] = line;
    return CUST_OK;
}

/* Length of the valid UTF-8 sequence at s[0..n) (1-4), or 0 when invalid:
 * overlong forms, surrogates and code points past U+10FFFF are refused. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t k;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        k = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        k = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        k = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < k)
        return 0;
    for (size_t i = 1; i < k; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((k == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (k == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return k;
}

/* ---- CSV ---------------------------------------------------------------- */

enum term { T_DELIM, T_EOL, T_EOF };

struct csv {
    const char *p, *end;
    const char *rec_start; /* first byte of the current record */
    size_t line;           /* line of p */
    size_t rec_line;
    char delim;
    int trim;
    buf scratch; /* a quoted field's unescaped bytes */
    struct err *e;
};

/* A line end at p: LF, CRLF, or a CR that is the last byte. Returns its
 * length, 0 when p is not at a line end. */
static size_t eol_at(const struct csv *c, const char *p)
{
    if (p >= c->end)
        return 0;
    if (*p == '\n')
        return 1;
    if (*p == '\r') {
        if (p + 1 == c->end)
            return 1;
        if (p[1] == '\n')
            return 2;
    }
    return 0;
}

static cust_code too_long(struct csv *c)
{
    return err_set(c->e, CUST_ELIMIT, "line %zu: record longer than %u bytes", c->rec_line,
                   (unsigned)TABULAR_MAX_RECORD);
}

/* What follows a field: consume it and say which it was. */
static cust_code field_end(struct csv *c, enum term *t)
{
    size_t n;
    if (c->p == c->end) {
        *t = T_EOF;
    } else if (*c->p == c->delim) {
        c->p++;
        *t = T_DELIM;
    } else if ((n = eol_at(c, c->p))) {
        c->p += n;
        c->line++;
        *t = T_EOL;
    } else {
        return err_set(c->e, CUST_EUPSTREAM, "line %zu: unexpected character after a closing quote", c->line);
    }
    return CUST_OK;
}

/* Parse one field at c->p into (*s, *n): a slice of the input or of
 * c->scratch (valid until the next field). */
static cust_code csv_field(struct csv *c, const char **s, size_t *n, enum term *t)
{
    if (c->trim)
        while (c->p < c->end && *c->p == ' ')
            c->p++;
    if (c->p < c->end && *c->p == '"') {
        size_t qline = c->line;
        const char *seg = ++c->p;
        buf_reset(&c->scratch);
        for (;;) {
            if (c->p == c->end)
                return err_set(c->e, CUST_EUPSTREAM, "line %zu: unterminated quoted field", qline);
            if (*c->p == '"') {
                if (buf_add(&c->scratch, seg, (size_t)(c->p - seg)) != CUST_OK)
                    return too_long(c);
                c->p++;
                if (c->p < c->end && *c->p == '"') {
                    seg = c->p++; /* keep one quote of the pair */
                    continue;
                }
                break;
            }
            if (*c->p == '\n')
                c->line++;
            c->p++;
        }
        if (c->trim)
            while (c->p < c->end && *c->p == ' ')
                c->p++;
        *s = c->scratch.ptr ? c->scratch.ptr : "";
        *n = c->scratch.len;
    } else {
        const char *b = c->p, *x;
        while (c->p < c->end && *c->p != c->delim && !eol_at(c, c->p))
            c->p++;
        x = c->p;
        if (c->trim)
            while (x > b && x[-1] == ' ')
                x--;
        *s = b;
        *n = (size_t)(x - b);
    }
    if ((size_t)(c->p - c->rec_start) > TABULAR_MAX_RECORD)
        return too_long(c);
    return field_end(c, t);
}

/* Skip blank lines; 1 when a record starts at c->p, 0 at the end. */
static int csv_next_record(struct csv *c)
{
    for (;;) {
        const char *q = c->p;
        size_t n;
        if (c->trim)
            while (q < c->end && *q == ' ')
                q++;
        if (q == c->end)
            return 0; /* with trim, trailing spaces are a blank line */
        if (!(n = eol_at(c, q)))
            return 1;
        c->p = q + n;
        c->line++;
    }
}

/* Column names for header-less files: "1", "2", ... */
static size_t col_name(char *buf10, size_t i)
{
    char t[24];
    size_t k = 0, n = 0;
    i++;
    do {
        t[k++] = (char)('0' + i % 10);
        i /= 10;
    } while (i);
    while (k)
        buf10[n++] = t[--k];
    return n;
}

struct name {
    const char *s;
    size_t len, col;
};

static int name_cmp(const void *a, const void *b)
{
    const struct name *x = a, *y = b;
    int r;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    if ((r = memcmp(x->s, y->s, x->len)) != 0)
        return r;
    return x->col < y->col ? -1 : x->col > y->col;
}

/* Names non-empty and distinct; sorted copy so 10,000 columns stay cheap. */
static cust_code check_header(const struct name *names, size_t n, size_t line, struct err *e)
{
    struct name *s;
    cust_code rc = CUST_OK;
    for (size_t i = 0; i < n; i++)
        if (names[i].len == 0)
            return err_set(e, CUST_EUPSTREAM, "line %zu: column %zu has an empty name", line, i + 1);
    if (n < 2)
        return CUST_OK;
    if (!(s = malloc(n * sizeof *s)))
        return err_set(e, CUST_ENOMEM, "line %zu: out of memory", line);
    memcpy(s, names, n * sizeof *s);
    qsort(s, n, sizeof *s, name_cmp);
    for (size_t i = 1; i < n; i++) {
        if (s[i].len == s[i - 1].len && memcmp(s[i].s, s[i - 1].s, s[i].len) == 0) {
            int shown = s[i].len > 80 ? 80 : (int)s[i].len;
            rc = err_set(e, CUST_EUPSTREAM, "line %zu: columns %zu and %zu have the same name \"%.*s\"", line,
                         s[i - 1].col + 1, s[i].col + 1, shown, s[i].s);
            break;
        }
    }
    free(s);
    return rc;
}

/* The whole input must be UTF-8 without NUL: say where it is not. */
static cust_code csv_check_text(const char *data, size_t len, size_t skip, struct err *e)
{
    const unsigned char *s = (const unsigned char *)data;
    size_t line = 1;
    for (size_t i = skip; i < len;) {
        size_t k;
        if (s[i] == '\n') {
            line++;
            i++;
            continue;
        }
        if (s[i] >= 0x20 && s[i] < 0x80) {
            i++;
            continue;
        }
        if (s[i] == 0)
            return err_set(e, CUST_EUPSTREAM, "line %zu: NUL byte", line);
        if (!(k = utf8_seq(s + i, len - i)))
            return err_set(e, CUST_EUPSTREAM, "line %zu: invalid UTF-8 (byte 0x%02x at offset %zu)", line, s[i], i);
        i += k;
    }
    return CUST_OK;
}

static cust_code parse_csv(const char *data, size_t len, size_t skip, const tabular_opts *o, struct out *res,
                           struct err *e)
{
    struct csv c;
    struct name *names = NULL;
    size_t ncols = 0;
    json_doc *doc = res->doc;
    cust_code rc;

    if ((rc = csv_check_text(data, len, skip, e)) != CUST_OK)
        return rc;
    memset(&c, 0, sizeof c);
    c.p = data + skip;
    c.end = data + len;
    c.line = 1;
    c.delim = o->delimiter ? o->delimiter : ',';
    c.trim = o->trim;
    c.e = e;
    buf_init(&c.scratch, TABULAR_MAX_RECORD + 1);

    if (o->header && csv_next_record(&c)) {
        enum term t = T_DELIM;
        if (!(names = malloc(TABULAR_MAX_FIELDS * sizeof *names))) {
            rc = err_set(e, CUST_ENOMEM, "out of memory");
            goto out;
        }
        c.rec_start = c.p;
        c.rec_line = c.line;
        while (t == T_DELIM) {
            const char *s;
            size_t n;
            if ((rc = csv_field(&c, &s, &n, &t)) != CUST_OK)
                goto out;
            if (ncols == TABULAR_MAX_FIELDS) {
                rc = err_set(e, CUST_ELIMIT, "line %zu: more than %u fields", c.rec_line,
                             (unsigned)TABULAR_MAX_FIELDS);
                goto out;
            }
            /* names live in the arena: the scratch buffer is reused */
            if (!(names[ncols].s = json_strdup(doc, s, n))) {
                rc = err_set(e, CUST_ENOMEM, "line %zu: out of memory", c.rec_line);
                goto out;
            }
            names[ncols].len = n;
            names[ncols].col = ncols;
            ncols++;
        }
        if ((rc = check_header(names, ncols, c.rec_line, e)) != CUST_OK)
            goto out;
    }

    while (csv_next_record(&c)) {
        enum term t = T_DELIM;
        size_t i = 0;
        json_value *obj;
        c.rec_start = c.p;
        c.rec_line = c.line;
        if (!(obj = json_new_object(doc, names ? ncols : 8))) {
            rc = err_set(e, CUST_ENOMEM, "line %zu: out of memory", c.rec_line);
            goto out;
        }
        for (; t == T_DELIM; i++) {
            const char *s, *key;
            size_t n, klen;
            char num[24];
            json_value *v;
            if ((rc = csv_field(&c, &s, &n, &t)) != CUST_OK)
                goto out;
            if (names && i == ncols) {
                rc = err_set(e, CUST_EUPSTREAM, "line %zu: more fields than the %zu columns of the header",
                             c.rec_line, ncols);
                goto out;
            }
            if (i == TABULAR_MAX_FIELDS) {
                rc = err_set(e, CUST_ELIMIT, "line %zu: more than %u fields", c.rec_line,
                             (unsigned)TABULAR_MAX_FIELDS);
                goto out;
            }
            if (names) {
                key = names[i].s;
                klen = names[i].len;
            } else {
                klen = col_name(num, i);
                key = num;
            }
            if (!(v = json_new_string(doc, s, n)) || json_object_put(doc, obj, key, klen, v) != CUST_OK) {
                rc = err_set(e, CUST_ENOMEM, "line %zu: out of memory", c.rec_line);
                goto out;
            }
        }
        if ((rc = add_record(res, obj, c.rec_line, e)) != CUST_OK)
            goto out;
    }
    rc = CUST_OK;
out:
    free(names);
    buf_release(&c.scratch);
    return rc;
}

/* ---- JSONL -------------------------------------------------------------- */

static const char *type_name(json_type t)
{
    switch (t) {
    case JSON_NULL: return "null";
    case JSON_FALSE:
    case JSON_TRUE: return "a boolean";
    case JSON_NUMBER: return "a number";
    case JSON_STRING: return "a string";
    case JSON_ARRAY: return "an array";
    case JSON_OBJECT: return "an object";
    }
    return "?";
}

static cust_code parse_jsonl(const char *data, size_t len, size_t skip, struct out *res, struct err *e)
{
    json_limits lim = json_default_limits;
    const char *p = data + skip, *end = data + len;
    size_t line = 0;

    lim.max_bytes = TABULAR_MAX_RECORD;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end, *q;
        struct err pe;
        json_value *v;
        cust_code rc;

        line++;
        if (le > p && le[-1] == '\r')
            le--;
        for (q = p; q < le && (*q == ' ' || *q == '\t' || *q == '\r'); q++)
            ;
        if (q == le)
            goto next;
        if ((size_t)(le - p) > TABULAR_MAX_RECORD)
            return err_set(e, CUST_ELIMIT, "line %zu: line longer than %u bytes", line,
                           (unsigned)TABULAR_MAX_RECORD);
        err_clear(&pe);
        if (!(v = json_parse(res->doc, p, (size_t)(le - p), &lim, &pe))) {
            /* the parser counts from this line: "line 1, column C: what" */
            const char *m = pe.msg;
            cust_code code = pe.code == CUST_ELIMIT || pe.code == CUST_ENOMEM ? pe.code : CUST_EUPSTREAM;
            if (strncmp(m, "line 1, ", 8) == 0)
                return err_set(e, code, "line %zu, %s", line, m + 8);
            return err_set(e, code, "line %zu: %s", line, m);
        }
        if (v->type != JSON_OBJECT)
            return err_set(e, CUST_EUPSTREAM, "line %zu: expected a JSON object, got %s", line, type_name(v->type));
        if ((rc = add_record(res, v, line, e)) != CUST_OK)
            return rc;
    next:
        if (!nl)
            break;
        p = nl + 1;
    }
    return CUST_OK;
}

/* ---- entry -------------------------------------------------------------- */

cust_code tabular_parse(tabular_format f, const char *data, size_t len, const tabular_opts *o, json_doc *doc,
                        tabular_result *out, struct err *e)
{
    tabular_opts def;
    struct out res;
    size_t skip = 0;
    cust_code rc;

    memset(out, 0, sizeof *out);
    if (!o) {
        tabular_opts_default(&def);
        o = &def;
    }
    if (f != TABULAR_CSV && f != TABULAR_JSONL)
        return err_set(e, CUST_ECONFIG, "tabular: unknown format %d", (int)f);
    if (f == TABULAR_CSV) {
        unsigned char d = (unsigned char)o->delimiter;
        if (d == '"' || d == '\r' || d == '\n' || d >= 0x80 || (d == ' ' && o->trim))
            return err_set(e, CUST_ECONFIG, "tabular: delimiter 0x%02x cannot be used%s", d,
                           d == ' ' ? " with trim" : "");
    }
    if (!data || !len) {
        data = "";
        len = 0;
    }
    memset(&res, 0, sizeof res);
    res.doc = doc;
    res.max = o->max_records ? o->max_records : TABULAR_DEFAULT_MAX_RECORDS;
    if (!(res.arr = json_new_array(doc, 0)))
        return err_set(e, CUST_ENOMEM, "out of memory");
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
        skip = 3;
    rc = f == TABULAR_CSV ? parse_csv(data, len, skip, o, &res, e) : parse_jsonl(data, len, skip, &res, e);
    if (rc != CUST_OK) {
        free(res.lines);
        return rc;
    }
    out->records = res.arr;
    out->lines = res.lines;
    out->n = res.n;
    return CUST_OK;
}
