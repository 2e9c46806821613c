/* json.c - validating DOM parser into an arena, path lookup, builders and
 * compact writer. Strict RFC 8259; UTF-8 validated; number text kept. The
 * parser never calls strtod: json_number converts lazily. */
#include "json.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const json_limits json_default_limits = {64u << 20, 64, 16u << 20, 10000000};

/* ---- arena -------------------------------------------------------------- */

struct chunk {
    struct chunk *next;
    size_t cap, used;
    max_align_t data[];
};

struct json_doc {
    struct chunk *head;
    size_t next_size;
};

json_doc *json_doc_new(void)
{
    json_doc *d = calloc(1, sizeof *d);
    if (d)
        d->next_size = 64 * 1024;
    return d;
}

void json_doc_reset(json_doc *d)
{
    struct chunk *keep;
    if (!d || !(keep = d->head))
        return;
    /* The newest chunk is the largest: keep it, so a reused document
     * stops touching fresh memory once it has seen its biggest page. */
    for (struct chunk *c = keep->next, *n; c; c = n) {
        n = c->next;
        free(c);
    }
    keep->next = NULL;
    keep->used = 0;
}

void json_doc_free(json_doc *d)
{
    if (!d)
        return;
    for (struct chunk *c = d->head, *n; c; c = n) {
        n = c->next;
        free(c);
    }
    free(d);
}

static void *arena_alloc(json_doc *d, size_t n)
{
    struct chunk *c = d->head;
    n = (n + 15) & ~(size_t)15;
    if (!c || c->cap - c->used < n) {
        size_t cap = d->next_size;
        if (cap < n)
            cap = n;
        c = malloc(sizeof *c + cap);
        if (!c)
            return NULL;
        c->cap = cap;
        c->used = 0;
        c->next = d->head;
        d->head = c;
        if (d->next_size < (16u << 20))
            d->next_size *= 2;
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
    return p;
}

char *json_strdup(json_doc *d, const char *s, size_t len)
{
    char *p = arena_alloc(d, len + 1);
    if (!p)
        return NULL;
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

/* ---- parser ------------------------------------------------------------- */

struct parser {
    json_doc *doc;
    const unsigned char *s, *p, *end;
    const json_limits *lim;
    struct err *e;
    unsigned depth;
    /* scratch stacks for items/members while a container is open */
    json_value **vstack;
    size_t vlen, vcap;
    json_member *mstack;
    size_t mlen, mcap;
    buf str;  /* scratch for strings with escapes */
};

static json_value *perr(struct parser *P, const unsigned char *at, cust_code code, const char *what)
{
    size_t line = 1, col = 1;
    if (at > P->end)
        at = P->end;
    for (const unsigned char *q = P->s; q < at; q++) {
        if (*q == '\n') {
            line++;
            col = 1;
        } else if ((*q & 0xC0) != 0x80) {
            col++;
        }
    }
    if (P->e && !P->e->code)
        err_set(P->e, code, "line %zu, column %zu: %s", line, col, what);
    return NULL;
}

static inline void skip_ws(struct parser *P)
{
    while (P->p < P->end && (*P->p == ' ' || *P->p == '\n' || *P->p == '\r' || *P->p == '\t'))
        P->p++;
}

static json_value *new_value(struct parser *P, json_type t, const unsigned char *start)
{
    json_value *v = arena_alloc(P->doc, sizeof *v);
    if (!v)
        return perr(P, P->p, CUST_ENOMEM, "out of memory");
    memset(v, 0, sizeof *v);
    v->type = t;
    v->src_off = (size_t)(start - P->s);
    return v;
}

/* Length of a valid UTF-8 sequence at p (1..4), 0 if invalid. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    if (c < 0x80)
        return 1;
    if (c < 0xC2)
        return 0;
    if (c < 0xE0) {
        if (end - p < 2 || (p[1] & 0xC0) != 0x80)
            return 0;
        return 2;
    }
    if (c < 0xF0) {
        if (end - p < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80)
            return 0;
        if (c == 0xE0 && p[1] < 0xA0)
            return 0; /* overlong */
        if (c == 0xED && p[1] >= 0xA0)
            return 0; /* UTF-16 surrogate encoded in UTF-8 */
        return 3;
    }
    if (c < 0xF5) {
        if (end - p < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80)
            return 0;
        if (c == 0xF0 && p[1] < 0x90)
            return 0;
        if (c == 0xF4 && p[1] >= 0x90)
            return 0; /* > U+10FFFF */
        return 4;
    }
    return 0;
}

static int hex4(const unsigned char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = p[i], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return 0;
        v = v << 4 | d;
    }
    *out = v;
    return 1;
}

static int put_utf8(buf *b, unsigned cp)
{
    char o[4];
    size_t n;
    if (cp < 0x80) {
        o[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        o[0] = (char)(0xF0 | cp >> 18);
        o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return buf_add(b, o, n) == CUST_OK;
}

/* Parse a string starting at the opening quote. Sets *out and *len (arena copy)
 * and flags. Returns 0 on error (reported). */
static int parse_string(struct parser *P, const char **out, size_t *len, uint32_t *flags)
{
    const unsigned char *start = ++P->p, *q = start;
    /* Fast path: plain ASCII/UTF-8 without escapes. */
    for (;;) {
        while (q < P->end && *q >= 0x20 && *q != '"' && *q != '\\' && *q < 0x80)
            q++;
        if (q >= P->end) {
            perr(P, start - 1, CUST_EJSON, "unterminated string");
            return 0;
        }
        if (*q == '"') {
            size_t n = (size_t)(q - start);
            if (n > P->lim->max_string) {
                perr(P, start, CUST_ELIMIT, "string longer than the limit");
                return 0;
            }
            if (!(*out = json_strdup(P->doc, (const char *)start, n))) {
                perr(P, start, CUST_ENOMEM, "out of memory");
                return 0;
            }
            *len = n;
            P->p = q + 1;
            return 1;
        }
        if (*q >= 0x80) {
            size_t k = utf8_len(q, P->end);
            if (!k) {
                perr(P, q, CUST_EJSON, "invalid UTF-8 in string");
                return 0;
            }
            q += k;
            continue;
        }
        break; /* escape or control character */
    }
    if (*q < 0x20) {
        perr(P, q, CUST_EJSON, "control character in string (escape it as \\u00XX)");
        return 0;
    }
    /* Slow path: decode escapes into scratch. */
    buf_reset(&P->str);
    if (buf_add(&P->str, start, (size_t)(q - start))) {
        perr(P, q, CUST_ELIMIT, "string too long");
        return 0;
    }
    while (q < P->end && *q != '"') {
        if (*q == '\\') {
            unsigned cp;
            if (q + 1 >= P->end) {
                perr(P, q, CUST_EJSON, "unterminated string");
                return 0;
            }
            switch (q[1]) {
            case '"': cp = '"'; break;
            case '\\': cp = '\\'; break;
            case '/': cp = '/'; break;
            case 'b': cp = '\b'; break;
            case 'f': cp = '\f'; break;
            case 'n': cp = '\n'; break;
            case 'r': cp = '\r'; break;
            case 't': cp = '\t'; break;
            case 'u':
                if (P->end - q < 6 || !hex4(q + 2, &cp)) {
                    perr(P, q, CUST_EJSON, "bad \\u escape (needs four hex digits)");
                    return 0;
                }
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    unsigned lo;
                    if (P->end - q >= 12 && q[6] == '\\' && q[7] == 'u' && hex4(q + 8, &lo) && lo >= 0xDC00 &&
                        lo <= 0xDFFF) {
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                        q += 6;
                    } else {
                        cp = 0xFFFD;
                        *flags |= JSON_F_SURROGATE;
                    }
                } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    cp = 0xFFFD;
                    *flags |= JSON_F_SURROGATE;
                }
                q += 4;
                break;
            default:
                perr(P, q, CUST_EJSON, "unknown escape in string");
                return 0;
            }
            q += 2;
            if (!put_utf8(&P->str, cp)) {
                perr(P, q, CUST_ELIMIT, "string too long");
                return 0;
            }
        } else if (*q < 0x20) {
            perr(P, q, CUST_EJSON, "control character in string (escape it as \\u00XX)");
            return 0;
        } else {
            size_t k = *q < 0x80 ? 1 : utf8_len(q, P->end);
            if (!k) {
                perr(P, q, CUST_EJSON, "invalid UTF-8 in string");
                return 0;
            }
            if (buf_add(&P->str, q, k)) {
                perr(P, q, CUST_ELIMIT, "string too long");
                return 0;
            }
            q += k;
        }
    }
    if (q >= P->end) {
        perr(P, start - 1, CUST_EJSON, "unterminated string");
        return 0;
    }
    if (P->str.len > P->lim->max_string) {
        perr(P, start, CUST_ELIMIT, "string longer than the limit");
        return 0;
    }
    if (!(*out = json_strdup(P->doc, buf_str(&P->str), P->str.len))) {
        perr(P, start, CUST_ENOMEM, "out of memory");
        return 0;
    }
    *len = P->str.len;
    P->p = q + 1;
    return 1;
}

static json_value *parse_number(struct parser *P)
{
    const unsigned char *start = P->p, *q = P->p;
    int is_int = 1, neg = 0;
    json_value *v;
    if (*q == '-') {
        neg = 1;
        q++;
    }
    if (q >= P->end || *q < '0' || *q > '9')
        return perr(P, q, CUST_EJSON, "invalid number");
    if (*q == '0') {
        q++;
        if (q < P->end && *q >= '0' && *q <= '9')
            return perr(P, q, CUST_EJSON, "leading zeros are not allowed in numbers");
    } else {
        while (q < P->end && *q >= '0' && *q <= '9')
            q++;
    }
    if (q < P->end && *q == '.') {
        is_int = 0;
        q++;
        if (q >= P->end || *q < '0' || *q > '9')
            return perr(P, q, CUST_EJSON, "digits expected after the decimal point");
        while (q < P->end && *q >= '0' && *q <= '9')
            q++;
    }
    if (q < P->end && (*q == 'e' || *q == 'E')) {
        is_int = 0;
        q++;
        if (q < P->end && (*q == '+' || *q == '-'))
            q++;
        if (q >= P->end || *q < '0' || *q > '9')
            return perr(P, q, CUST_EJSON, "digits expected in the exponent");
        while (q < P->end && *q >= '0' && *q <= '9')
            q++;
    }
    if (!(v = new_value(P, JSON_NUMBER, start)))
        return NULL;
    v->len = (size_t)(q - start);
    if (!(v->u.str = json_strdup(P->doc, (const char *)start, v->len)))
        return perr(P, start, CUST_ENOMEM, "out of memory");
    if (is_int) {
        /* Exact int64 with overflow check; accumulate negatively so
         * INT64_MIN fits. */
        int64_t acc = 0;
        int ok = 1;
        for (const unsigned char *d = start + neg; d < q; d++) {
            int dig = *d - '0';
            if (acc < (INT64_MIN + dig) / 10) {
                ok = 0;
                break;
            }
            acc = acc * 10 - dig;
        }
        v->flags |= JSON_F_INT;
        if (ok && (neg || acc != INT64_MIN)) {
            v->i64 = neg ? acc : -acc;
            v->flags |= JSON_F_INT64;
        }
    }
    P->p = q;
    v->src_len = (size_t)(q - start);
    return v;
}

static json_value *parse_value(struct parser *P);

static void mark_dupkeys(json_value *obj)
{
    size_t n = obj->len;
    json_member *m = obj->u.members;
    if (n < 2)
        return;
    if (n <= 24) {
        for (size_t i = 1; i < n; i++)
            for (size_t j = 0; j < i; j++)
                if (m[i].key_len == m[j].key_len && memcmp(m[i].key, m[j].key, m[i].key_len) == 0) {
                    obj->flags |= JSON_F_DUPKEYS;
                    return;
                }
        return;
    }
    {
        /* Larger objects: an open-addressing hash set of member indexes. */
        size_t cap = 64;
        size_t *slots;
        while (cap < n * 2)
            cap *= 2;
        slots = calloc(cap, sizeof *slots);
        if (!slots)
            return;
        for (size_t i = 0; i < n; i++) {
            uint64_t h = 1469598103934665603ull;
            for (size_t k = 0; k < m[i].key_len; k++)
                h = (h ^ (unsigned char)m[i].key[k]) * 1099511628211ull;
            for (size_t s = h & (cap - 1);; s = (s + 1) & (cap - 1)) {
                if (!slots[s]) {
                    slots[s] = i + 1;
                    break;
                }
                json_member *o = &m[slots[s] - 1];
                if (o->key_len == m[i].key_len && memcmp(o->key, m[i].key, o->key_len) == 0) {
                    obj->flags |= JSON_F_DUPKEYS;
                    free(slots);
                    return;
                }
            }
        }
        free(slots);
    }
}

static json_value *parse_array(struct parser *P)
{
    const unsigned char *start = P->p;
    size_t base = P->vlen;
    json_value *v;
    if (++P->depth > P->lim->max_depth)
        return perr(P, start, CUST_ELIMIT, "nesting deeper than the limit");
    P->p++;
    skip_ws(P);
    if (P->p < P->end && *P->p == ']') {
        P->p++;
    } else {
        for (;;) {
            json_value *item = parse_value(P);
            if (!item)
                return NULL;
            if (P->vlen == P->vcap) {
                size_t ncap = P->vcap ? P->vcap * 2 : 256;
                json_value **nv = realloc(P->vstack, ncap * sizeof *nv);
                if (!nv)
                    return perr(P, P->p, CUST_ENOMEM, "out of memory");
                P->vstack = nv;
                P->vcap = ncap;
            }
            P->vstack[P->vlen++] = item;
            if (P->vlen - base > P->lim->max_members)
                return perr(P, start, CUST_ELIMIT, "array has more items than the limit");
            skip_ws(P);
            if (P->p < P->end && *P->p == ',') {
                P->p++;
                skip_ws(P);
                if (P->p < P->end && *P->p == ']')
                    return perr(P, P->p, CUST_EJSON, "trailing comma in array");
                continue;
            }
            if (P->p < P->end && *P->p == ']') {
                P->p++;
                break;
            }
            return perr(P, P->p, CUST_EJSON, P->p < P->end ? "expected ',' or ']' in array" : "unterminated array");
        }
    }
    if (!(v = new_value(P, JSON_ARRAY, start)))
        return NULL;
    v->len = P->vlen - base;
    if (v->len) {
        if (!(v->u.items = arena_alloc(P->doc, v->len * sizeof *v->u.items)))
            return perr(P, start, CUST_ENOMEM, "out of memory");
        memcpy(v->u.items, P->vstack + base, v->len * sizeof *v->u.items);
    }
    P->vlen = base;
    P->depth--;
    v->src_len = (size_t)(P->p - start);
    return v;
}

static json_value *parse_object(struct parser *P)
{
    const unsigned char *start = P->p;
    size_t base = P->mlen;
    json_value *v;
    uint32_t flags = 0;
    if (++P->depth > P->lim->max_depth)
        return perr(P, start, CUST_ELIMIT, "nesting deeper than the limit");
    P->p++;
    skip_ws(P);
    if (P->p < P->end && *P->p == '}') {
        P->p++;
    } else {
        for (;;) {
            json_member m;
            uint32_t kf = 0;
            if (P->p >= P->end || *P->p != '"')
                return perr(P, P->p, CUST_EJSON, P->p < P->end ? "expected a member name in quotes" : "unterminated object");
            if (!parse_string(P, &m.key, &m.key_len, &kf))
                return NULL;
            if (kf & JSON_F_SURROGATE)
                flags |= JSON_F_SURROGATE;
            skip_ws(P);
            if (P->p >= P->end || *P->p != ':')
                return perr(P, P->p, CUST_EJSON, "expected ':' after the member name");
            P->p++;
            if (!(m.value = parse_value(P)))
                return NULL;
            if (P->mlen == P->mcap) {
                size_t ncap = P->mcap ? P->mcap * 2 : 256;
                json_member *nm = realloc(P->mstack, ncap * sizeof *nm);
                if (!nm)
                    return perr(P, P->p, CUST_ENOMEM, "out of memory");
                P->mstack = nm;
                P->mcap = ncap;
            }
            P->mstack[P->mlen++] = m;
            if (P->mlen - base > P->lim->max_members)
                return perr(P, start, CUST_ELIMIT, "object has more members than the limit");
            skip_ws(P);
            if (P->p < P->end && *P->p == ',') {
                P->p++;
                skip_ws(P);
                if (P->p < P->end && *P->p == '}')
                    return perr(P, P->p, CUST_EJSON, "trailing comma in object");
                continue;
            }
            if (P->p < P->end && *P->p == '}') {
                P->p++;
                break;
            }
            return perr(P, P->p, CUST_EJSON, P->p < P->end ? "expected ',' or '}' in object" : "unterminated object");
        }
    }
    if (!(v = new_value(P, JSON_OBJECT, start)))
        return NULL;
    v->len = P->mlen - base;
    v->flags |= flags;
    if (v->len) {
        if (!(v->u.members = arena_alloc(P->doc, v->len * sizeof *v->u.members)))
            return perr(P, start, CUST_ENOMEM, "out of memory");
        memcpy(v->u.members, P->mstack + base, v->len * sizeof *v->u.members);
    }
    P->mlen = base;
    P->depth--;
    mark_dupkeys(v);
    v->src_len = (size_t)(P->p - start);
    return v;
}

static json_value *parse_literal(struct parser *P, const char *word, json_type t)
{
    size_t n = strlen(word);
    const unsigned char *start = P->p;
    json_value *v;
    if ((size_t)(P->end - P->p) < n || memcmp(P->p, word, n) != 0)
        return perr(P, P->p, CUST_EJSON, "invalid literal (expected a value)");
    P->p += n;
    if (!(v = new_value(P, t, start)))
        return NULL;
    v->src_len = n;
    return v;
}

static json_value *parse_value(struct parser *P)
{
    skip_ws(P);
    if (P->p >= P->end)
        return perr(P, P->p, CUST_EJSON, "unexpected end of input (expected a value)");
    switch (*P->p) {
    case '{':
        return parse_object(P);
    case '[':
        return parse_array(P);
    case '"': {
        const unsigned char *start = P->p;
        json_value *v = new_value(P, JSON_STRING, start);
        if (!v || !parse_string(P, &v->u.str, &v->len, &v->flags))
            return NULL;
        v->src_len = (size_t)(P->p - start);
        return v;
    }
    case 't':
        return parse_literal(P, "true", JSON_TRUE);
    case 'f':
        return parse_literal(P, "false", JSON_FALSE);
    case 'n':
        return parse_literal(P, "null", JSON_NULL);
    default:
        if (*P->p == '-' || (*P->p >= '0' && *P->p <= '9'))
            return parse_number(P);
        return perr(P, P->p, CUST_EJSON, "unexpected character (expected a value)");
    }
}

json_value *json_parse(json_doc *doc, const char *text, size_t len, const json_limits *lim, struct err *e)
{
    struct parser P;
    json_value *root;
    memset(&P, 0, sizeof P);
    P.doc = doc;
    P.s = P.p = (const unsigned char *)text;
    P.end = P.s + len;
    P.lim = lim ? lim : &json_default_limits;
    P.e = e;
    if (e)
        err_clear(e);
    buf_init(&P.str, P.lim->max_string + 8);
    if (len > P.lim->max_bytes) {
        err_set(e, CUST_ELIMIT, "input of %zu bytes exceeds the %zu-byte limit", len, P.lim->max_bytes);
        return NULL;
    }
    root = parse_value(&P);
    if (root) {
        skip_ws(&P);
        if (P.p != P.end)
            root = perr(&P, P.p, CUST_EJSON, "unexpected data after the JSON value");
    }
    free(P.vstack);
    free(P.mstack);
    buf_release(&P.str);
    return root;
}

/* ---- lookup ------------------------------------------------------------- */

json_value *json_getn(const json_value *obj, const char *key, size_t key_len)
{
    if (!obj || obj->type != JSON_OBJECT)
        return NULL;
    for (size_t i = obj->len; i-- > 0;) {
        const json_member *m = &obj->u.members[i];
        if (m->key_len == key_len && memcmp(m->key, key, key_len) == 0)
            return m->value;
    }
    return NULL;
}

json_value *json_get(const json_value *obj, const char *key)
{
    return json_getn(obj, key, strlen(key));
}

json_value *json_at(const json_value *arr, size_t i)
{
    if (!arr || arr->type != JSON_ARRAY || i >= arr->len)
        return NULL;
    return arr->u.items[i];
}

/* Walk a path; with root NULL only checks syntax. Returns 1 on a well
 * formed path (and *out the value or NULL), 0 on a syntax error. */
static int walk(const json_value *root, const char *path, json_value **out, const char **why)
{
    const char *p = path;
    const json_value *v = root;
    if (*p == '$')
        p++;
    else if (*p && *p != '.' && *p != '[') {
        /* relative: "contact.email" is "$.contact.email" */
        goto name;
    }
    while (*p) {
        if (*p == '.') {
            p++;
        name: {
            size_t n = strcspn(p, ".[");
            if (n == 0) {
                *why = "empty member name";
                return 0;
            }
            if (root)
                v = v ? json_getn(v, p, n) : NULL;
            p += n;
        }
        } else if (*p == '[') {
            p++;
            if (*p == '\'' || *p == '"') {
                char q = *p++;
                const char *end = strchr(p, q);
                if (!end || end[1] != ']') {
                    *why = "unterminated quoted name in []";
                    return 0;
                }
                if (root)
                    v = v ? json_getn(v, p, (size_t)(end - p)) : NULL;
                p = end + 2;
            } else {
                char *end;
                unsigned long long i;
                if (*p < '0' || *p > '9') {
                    *why = "expected an index or a quoted name in []";
                    return 0;
                }
                errno = 0;
                i = strtoull(p, &end, 10);
                if (errno || *end != ']') {
                    *why = "bad index in []";
                    return 0;
                }
                if (root)
                    v = v ? json_at(v, (size_t)i) : NULL;
                p = end + 1;
            }
        } else {
            *why = "expected '.' or '['";
            return 0;
        }
    }
    *out = (json_value *)v;
    return 1;
}

json_value *json_path(const json_value *root, const char *path)
{
    json_value *out = NULL;
    const char *why;
    if (!root || !path || !*path)
        return NULL; /* "" is malformed (json_path_valid says so), not the root */
    return walk(root, path, &out, &why) ? out : NULL;
}

int json_path_valid(const char *path, struct err *e)
{
    json_value *out;
    const char *why = NULL;
    if (!path || !*path) {
        err_set(e, CUST_ECONFIG, "empty path");
        return 0;
    }
    if (!walk(NULL, path, &out, &why)) {
        err_set(e, CUST_ECONFIG, "%s", why);
        return 0;
    }
    return 1;
}

double json_number(const json_value *v, int *ok)
{
    char *end;
    double d;
    if (!v || v->type != JSON_NUMBER) {
        if (ok)
            *ok = 0;
        return 0;
    }
    /* "-0" is int64 0 but strtod gives -0.0: leave it to strtod. */
    if (v->flags & JSON_F_INT64 && v->i64 > -(1LL << 53) && v->i64 < (1LL << 53) && (v->i64 || v->u.str[0] != '-')) {
        if (ok)
            *ok = 1;
        return (double)v->i64;
    }
    errno = 0;
    d = strtod(v->u.str, &end);
    /* ERANGE on underflow (5e-324, 1e-400) still yields the correctly
     * rounded subnormal or zero; only overflow (HUGE_VAL) is out of range. */
    if (ok)
        *ok = !(errno == ERANGE && (d == HUGE_VAL || d == -HUGE_VAL)) && *end == '\0';
    return d;
}

/* ---- builders ----------------------------------------------------------- */

static json_value *build(json_doc *d, json_type t)
{
    json_value *v = arena_alloc(d, sizeof *v);
    if (v) {
        memset(v, 0, sizeof *v);
        v->type = t;
    }
    return v;
}

json_value *json_new_null(json_doc *d)
{
    return build(d, JSON_NULL);
}

json_value *json_new_bool(json_doc *d, int b)
{
    return build(d, b ? JSON_TRUE : JSON_FALSE);
}

json_value *json_new_string(json_doc *d, const char *s, size_t len)
{
    json_value *v = build(d, JSON_STRING);
    if (!v || !(v->u.str = json_strdup(d, s, len)))
        return NULL;
    v->len = len;
    return v;
}

json_value *json_new_number_text(json_doc *d, const char *text, size_t len)
{
    /* Scan with the parser's own number grammar, straight into d: no
     * temporary document on this path (the contract calls it per field). */
    struct parser P;
    json_value *v;
    if (!len || !(text[0] == '-' || (text[0] >= '0' && text[0] <= '9')))
        return NULL;
    memset(&P, 0, sizeof P);
    P.doc = d;
    P.s = P.p = (const unsigned char *)text;
    P.end = P.s + len;
    P.lim = &json_default_limits;
    v = parse_number(&P);
    if (!v || P.p != P.end)
        return NULL; /* on trailing bytes the value stays unreachable in the arena */
    v->src_off = v->src_len = 0;
    return v;
}

json_value *json_new_int(json_doc *d, int64_t n)
{
    char t[32];
    int len = snprintf(t, sizeof t, "%lld", (long long)n);
    json_value *v = build(d, JSON_NUMBER);
    if (!v || !(v->u.str = json_strdup(d, t, (size_t)len)))
        return NULL;
    v->len = (size_t)len;
    v->flags = JSON_F_INT | JSON_F_INT64;
    v->i64 = n;
    return v;
}

/* Containers built here keep their capacity in src_off (unused for built
 * values, whose src span is 0,0 by contract: src_len stays 0). */
json_value *json_new_array(json_doc *d, size_t cap)
{
    json_value *v = build(d, JSON_ARRAY);
    if (!v)
        return NULL;
    if (cap && !(v->u.items = arena_alloc(d, cap * sizeof *v->u.items)))
        return NULL;
    v->src_off = cap;
    return v;
}

json_value *json_new_object(json_doc *d, size_t cap)
{
    json_value *v = build(d, JSON_OBJECT);
    if (!v)
        return NULL;
    if (cap && !(v->u.members = arena_alloc(d, cap * sizeof *v->u.members)))
        return NULL;
    v->src_off = cap;
    return v;
}

cust_code json_array_push(json_doc *d, json_value *arr, json_value *v)
{
    if (arr->len == arr->src_off) {
        size_t ncap = arr->src_off ? arr->src_off * 2 : 4;
        json_value **ni = arena_alloc(d, ncap * sizeof *ni);
        if (!ni)
            return CUST_ENOMEM;
        if (arr->len)
            memcpy(ni, arr->u.items, arr->len * sizeof *ni);
        arr->u.items = ni;
        arr->src_off = ncap;
    }
    arr->u.items[arr->len++] = v;
    return CUST_OK;
}

cust_code json_object_put(json_doc *d, json_value *obj, const char *key, size_t key_len, json_value *v)
{
    json_member *m;
    if (obj->len == obj->src_off) {
        size_t ncap = obj->src_off ? obj->src_off * 2 : 8;
        json_member *nm = arena_alloc(d, ncap * sizeof *nm);
        if (!nm)
            return CUST_ENOMEM;
        if (obj->len)
            memcpy(nm, obj->u.members, obj->len * sizeof *nm);
        obj->u.members = nm;
        obj->src_off = ncap;
    }
    m = &obj->u.members[obj->len];
    if (!(m->key = json_strdup(d, key, key_len)))
        return CUST_ENOMEM;
    m->key_len = key_len;
    m->value = v;
    for (size_t i = 0; i < obj->len; i++)
        if (obj->u.members[i].key_len == key_len && memcmp(obj->u.members[i].key, key, key_len) == 0)
            obj->flags |= JSON_F_DUPKEYS;
    obj->len++;
    return CUST_OK;
}

/* ---- writer ------------------------------------------------------------- */

cust_code json_write_string(buf *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0;
    if (buf_addc(out, '"'))
        return CUST_ELIMIT;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[6];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        if (i > run && buf_add(out, s + run, i - run))
            return CUST_ELIMIT;
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default:
            u[0] = '\\';
            u[1] = 'u';
            u[2] = '0';
            u[3] = '0';
            u[4] = hex[c >> 4];
            u[5] = hex[c & 15];
            if (buf_add(out, u, 6))
                return CUST_ELIMIT;
        }
        if (esc && buf_adds(out, esc))
            return CUST_ELIMIT;
        run = i + 1;
    }
    if (len > run && buf_add(out, s + run, len - run))
        return CUST_ELIMIT;
    return buf_addc(out, '"') ? CUST_ELIMIT : CUST_OK;
}

cust_code json_write(const json_value *v, buf *out)
{
    switch (v->type) {
    case JSON_NULL:
        return buf_adds(out, "null");
    case JSON_FALSE:
        return buf_adds(out, "false");
    case JSON_TRUE:
        return buf_adds(out, "true");
    case JSON_NUMBER:
        return buf_add(out, v->u.str, v->len);
    case JSON_STRING:
        return json_write_string(out, v->u.str, v->len);
    case JSON_ARRAY:
        if (buf_addc(out, '['))
            return CUST_ELIMIT;
        for (size_t i = 0; i < v->len; i++) {
            cust_code rc;
            if ((i && buf_addc(out, ',')) || (rc = json_write(v->u.items[i], out)))
                return CUST_ELIMIT;
        }
        return buf_addc(out, ']');
    case JSON_OBJECT:
        if (buf_addc(out, '{'))
            return CUST_ELIMIT;
        for (size_t i = 0; i < v->len; i++) {
            const json_member *m = &v->u.members[i];
            if ((i && buf_addc(out, ',')) || json_write_string(out, m->key, m->key_len) || buf_addc(out, ':') ||
                json_write(m->value, out))
                return CUST_ELIMIT;
        }
        return buf_addc(out, '}');
    }
    return CUST_EJSON;
}
