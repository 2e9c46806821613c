/* jcs.c - RFC 8785 canonical JSON and SHA-256 over it. Numbers follow
 * ECMA-262 Number::toString: the shortest digits that round-trip, laid out
 * in fixed or exponent form by the exponent's range. */
#include "jcs.h"
#include "sha256.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void jcs_sha256(const void *data, size_t len, unsigned char out[32])
{
    sha256(data, len, out);
}

void jcs_sha256_hex(const void *data, size_t len, char hex[65])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char h[32];
    jcs_sha256(data, len, h);
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = digits[h[i] >> 4];
        hex[2 * i + 1] = digits[h[i] & 15];
    }
    hex[64] = '\0';
}

size_t jcs_number_text(const char *t, size_t len, char out[32])
{
    /* A decimal of at most 15 significant digits reads back from the
     * nearest double as itself, and no shorter decimal names that double
     * (two 15-digit decimals never share one), so its ECMA-262 form is its
     * own digits once trailing zeros go, as long as the value lies in the
     * fixed-notation range [1e-6, 1e21). Anything else: 0, take the slow
     * path. */
    const char *p = t, *end = t + len, *ip, *fp = NULL;
    size_t il, fl = 0, at = 0, z = 0, sig;
    int neg = 0;
    if (p < end && *p == '-') {
        neg = 1;
        p++;
    }
    ip = p;
    while (p < end && *p >= '0' && *p <= '9')
        p++;
    il = (size_t)(p - ip);
    if (!il || (il > 1 && *ip == '0'))
        return 0;
    if (p < end && *p == '.') {
        fp = ++p;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
        fl = (size_t)(p - fp);
        if (!fl)
            return 0;
    }
    if (p != end)
        return 0; /* exponent or anything else */
    while (fl && fp[fl - 1] == '0')
        fl--;
    if (il == 1 && *ip == '0') {
        while (z < fl && fp[z] == '0')
            z++;
        sig = fl - z;
        if (!sig) {
            out[0] = '0';
            out[1] = '\0';
            return 1;
        }
        if (z >= 6)
            return 0;
    } else {
        sig = il + fl;
        if (il > 21)
            return 0;
    }
    if (sig > 15)
        return 0;
    if (neg)
        out[at++] = '-';
    memcpy(out + at, ip, il);
    at += il;
    if (fl) {
        out[at++] = '.';
        memcpy(out + at, fp, fl);
        at += fl;
    }
    out[at] = '\0';
    return at;
}

size_t jcs_number(double d, char out[32])
{
    char tmp[40], digits[20];
    int k = 0, e10, n, at = 0;
    if (isnan(d) || isinf(d))
        return 0;
    if (d == 0) {
        out[0] = '0';
        out[1] = '\0';
        return 1;
    }
    if (d < 0) {
        out[at++] = '-';
        d = -d;
    }
    /* Shortest precision whose correctly rounded digits read back as d. */
    for (int p = 1; p <= 17; p++) {
        snprintf(tmp, sizeof tmp, "%.*e", p - 1, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    {
        char *e = strchr(tmp, 'e');
        for (char *q = tmp; q < e; q++)
            if (*q >= '0' && *q <= '9')
                digits[k++] = *q;
        e10 = (int)strtol(e + 1, NULL, 10);
    }
    while (k > 1 && digits[k - 1] == '0')
        k--;
    n = e10 + 1; /* ECMA-262's n: the decimal point sits after n digits */
    if (k <= n && n <= 21) {
        memcpy(out + at, digits, (size_t)k);
        at += k;
        for (int i = 0; i < n - k; i++)
            out[at++] = '0';
    } else if (0 < n && n <= 21) {
        memcpy(out + at, digits, (size_t)n);
        at += n;
        out[at++] = '.';
        memcpy(out + at, digits + n, (size_t)(k - n));
        at += k - n;
    } else if (-6 < n && n <= 0) {
        out[at++] = '0';
        out[at++] = '.';
        for (int i = 0; i < -n; i++)
            out[at++] = '0';
        memcpy(out + at, digits, (size_t)k);
        at += k;
    } else {
        out[at++] = digits[0];
        if (k > 1) {
            out[at++] = '.';
            memcpy(out + at, digits + 1, (size_t)(k - 1));
            at += k - 1;
        }
        at += snprintf(out + at, 32 - (size_t)at, "e%c%d", n - 1 >= 0 ? '+' : '-', abs(n - 1));
    }
    out[at] = '\0';
    return (size_t)at;
}

/* Next UTF-16 code unit sequence of a UTF-8 string: decodes one code point
 * and yields one or two units. Input is valid UTF-8 (the parser checked). */
static size_t utf16_units(const unsigned char *s, size_t len, size_t *i, unsigned u[2])
{
    unsigned c = s[*i], cp;
    if (c < 0x80) {
        cp = c;
        *i += 1;
    } else if (c < 0xE0 && *i + 1 < len) {
        cp = (c & 0x1F) << 6 | (s[*i + 1] & 0x3F);
        *i += 2;
    } else if (c < 0xF0 && *i + 2 < len) {
        cp = (c & 0x0F) << 12 | (s[*i + 1] & 0x3F) << 6 | (s[*i + 2] & 0x3F);
        *i += 3;
    } else if (*i + 3 < len) {
        cp = (c & 0x07) << 18 | (s[*i + 1] & 0x3F) << 12 | (s[*i + 2] & 0x3F) << 6 | (s[*i + 3] & 0x3F);
        *i += 4;
    } else {
        cp = c;
        *i += 1;
    }
    if (cp >= 0x10000) {
        cp -= 0x10000;
        u[0] = 0xD800 + (cp >> 10);
        u[1] = 0xDC00 + (cp & 0x3FF);
        return 2;
    }
    u[0] = cp;
    return 1;
}

/* Compare member names as sequences of UTF-16 code units (RFC 8785 3.2.3). */
static int cmp_utf16(const json_member *a, const json_member *b)
{
    const unsigned char *x = (const unsigned char *)a->key, *y = (const unsigned char *)b->key;
    size_t i = 0, j = 0;
    unsigned ux[2], uy[2];
    size_t nx = 0, ny = 0, px = 0, py = 0;
    /* Byte order equals code point order; only code points at or above
     * U+E000 can order differently in UTF-16, so compare bytes until the
     * first difference and decode from the start of that character. */
    size_t common = 0, lim = a->key_len < b->key_len ? a->key_len : b->key_len;
    while (common < lim && x[common] == y[common])
        common++;
    if (common == lim)
        return a->key_len < b->key_len ? -1 : a->key_len > b->key_len;
    while (common > 0 && (x[common] & 0xC0) == 0x80)
        common--;
    i = j = common;
    for (;;) {
        if (px == nx) {
            if (i >= a->key_len)
                return (j < b->key_len || py < ny) ? -1 : 0;
            nx = utf16_units(x, a->key_len, &i, ux);
            px = 0;
        }
        if (py == ny) {
            if (j >= b->key_len)
                return 1;
            ny = utf16_units(y, b->key_len, &j, uy);
            py = 0;
        }
        if (ux[px] != uy[py])
            return ux[px] < uy[py] ? -1 : 1;
        px++;
        py++;
    }
}

static int cmp_members(const void *a, const void *b)
{
    return cmp_utf16(*(const json_member *const *)a, *(const json_member *const *)b);
}

struct frame {
    const struct frame *up;
    const char *key;
    size_t key_len;
    size_t idx;
};

static void render_path(const struct frame *f, char *out, size_t n)
{
    const struct frame *chain[64];
    int depth = 0;
    size_t at;
    for (; f && depth < 64; f = f->up)
        chain[depth++] = f;
    at = (size_t)snprintf(out, n, "$");
    while (depth-- > 0 && at < n) {
        const struct frame *c = chain[depth];
        if (!c->up)
            continue; /* the root frame */
        if (c->key)
            at += (size_t)snprintf(out + at, n - at, ".%.*s", (int)c->key_len, c->key);
        else
            at += (size_t)snprintf(out + at, n - at, "[%zu]", c->idx);
    }
}

static cust_code jerr(const struct frame *f, struct err *e, const char *what)
{
    char path[512];
    render_path(f, path, sizeof path);
    return err_set(e, CUST_EJSON, "%s: %s", path, what);
}

static cust_code write_value(const json_value *v, buf *out, struct err *e, const struct frame *f)
{
    switch (v->type) {
    case JSON_NULL:
        return buf_adds(out, "null") ? err_set(e, CUST_ELIMIT, "output too large") : CUST_OK;
    case JSON_FALSE:
        return buf_adds(out, "false") ? err_set(e, CUST_ELIMIT, "output too large") : CUST_OK;
    case JSON_TRUE:
        return buf_adds(out, "true") ? err_set(e, CUST_ELIMIT, "output too large") : CUST_OK;
    case JSON_NUMBER: {
        char num[32];
        size_t n;
        if ((v->flags & JSON_F_INT64) && v->i64 >= -(1LL << 53) && v->i64 <= (1LL << 53)) {
            n = (size_t)snprintf(num, sizeof num, "%lld", (long long)v->i64);
        } else if (v->u.str && (n = jcs_number_text(v->u.str, v->len, num))) {
            /* plain decimal already in its shortest form */
        } else {
            int ok;
            double d = json_number(v, &ok);
            if (!ok || !(n = jcs_number(d, num)))
                return jerr(f, e, "number outside the range of an IEEE 754 double (not I-JSON)");
        }
        return buf_add(out, num, n) ? err_set(e, CUST_ELIMIT, "output too large") : CUST_OK;
    }
    case JSON_STRING:
        if (v->flags & JSON_F_SURROGATE)
            return jerr(f, e, "string holds a lone UTF-16 surrogate escape (not I-JSON)");
        return json_write_string(out, v->u.str, v->len) ? err_set(e, CUST_ELIMIT, "output too large") : CUST_OK;
    case JSON_ARRAY:
        if (buf_addc(out, '['))
            return err_set(e, CUST_ELIMIT, "output too large");
        for (size_t i = 0; i < v->len; i++) {
            struct frame c = {f, NULL, 0, i};
            cust_code rc;
            if (i && buf_addc(out, ','))
                return err_set(e, CUST_ELIMIT, "output too large");
            if ((rc = write_value(v->u.items[i], out, e, &c)))
                return rc;
        }
        return buf_addc(out, ']') ? err_set(e, CUST_ELIMIT, "output too large") : CUST_OK;
    case JSON_OBJECT: {
        const json_member *small[32];
        const json_member **order = small;
        cust_code rc = CUST_OK;
        if (v->flags & JSON_F_DUPKEYS)
            return jerr(f, e, "object has a duplicate member name (not I-JSON)");
        if (v->flags & JSON_F_SURROGATE)
            return jerr(f, e, "member name holds a lone UTF-16 surrogate escape (not I-JSON)");
        if (v->len > 32 && !(order = malloc(v->len * sizeof *order)))
            return err_set(e, CUST_ENOMEM, "out of memory");
        for (size_t i = 0; i < v->len; i++)
            order[i] = &v->u.members[i];
        if (v->len <= 32) {
            for (size_t i = 1; i < v->len; i++) {
                const json_member *m = order[i];
                size_t j = i;
                while (j > 0 && cmp_utf16(order[j - 1], m) > 0) {
                    order[j] = order[j - 1];
                    j--;
                }
                order[j] = m;
            }
        } else {
            qsort(order, v->len, sizeof *order, cmp_members);
        }
        if (buf_addc(out, '{'))
            rc = err_set(e, CUST_ELIMIT, "output too large");
        for (size_t i = 0; !rc && i < v->len; i++) {
            struct frame c = {f, order[i]->key, order[i]->key_len, 0};
            if ((i && buf_addc(out, ',')) || json_write_string(out, order[i]->key, order[i]->key_len) ||
                buf_addc(out, ':'))
                rc = err_set(e, CUST_ELIMIT, "output too large");
            else
                rc = write_value(order[i]->value, out, e, &c);
        }
        if (!rc && buf_addc(out, '}'))
            rc = err_set(e, CUST_ELIMIT, "output too large");
        if (order != small)
            free(order);
        return rc;
    }
    }
    return jerr(f, e, "unknown value type");
}

cust_code jcs_write(const json_value *v, buf *out, struct err *e)
{
    struct frame root = {NULL, NULL, 0, 0};
    return write_value(v, out, e, &root);
}
