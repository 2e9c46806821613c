/* contract.c - validate and normalise one raw record against a contract.
 * The canonical object reuses the raw document's nodes where a value is
 * unchanged (numbers keep their exact text that way), so out_doc must not
 * outlive the raw record's document. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "contract.h"

#include <arpa/inet.h>
#include <errno.h>
#include <idn2.h>
#include <math.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicase.h>
#include <uninorm.h>

#include "jcs.h"

static const char *const type_names[] = {"string", "number", "integer", "boolean", "datetime", "enum",  "decimal",
                                         "date",   "email",  "url",     "uuid",    "array",    "object"};

const char *const contract_unknown_policies[] = {"drop", "keep", "reject", NULL};

#define BIG53 9007199254740992LL /* 2^53: integers beyond it are not exact doubles */
#define EXPAND_ZEROS 40          /* decimal: most zeros added when expanding an exponent */

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

static int find_computed(const contract *c, const char *name)
{
    for (size_t i = 0; i < c->ncomputed; i++)
        if (!strcmp(c->computed[i].name, name))
            return (int)i;
    return -1;
}

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static int is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static char lower_ascii(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

/* The type the value rules apply to: the item type for arrays. */
static field_type eff_type(const contract_field *f)
{
    return f->type == FT_ARRAY && f->has_items ? f->items : f->type;
}

static int stringish(field_type t)
{
    return t == FT_STRING || t == FT_ENUM || t == FT_EMAIL || t == FT_URL;
}

static int is_epoch(const char *fmt, int *ms)
{
    if (!fmt)
        return 0;
    if (!strcmp(fmt, "epoch_s"))
        return *ms = 0, 1;
    if (!strcmp(fmt, "epoch_ms"))
        return *ms = 1, 1;
    return 0;
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

/* A parsed local date-time and its offset. */
struct dt {
    int Y, M, D, h, mi, sec;
    char frac[10]; /* fraction-of-second digits as given, NUL-terminated */
    int off;       /* minutes east of UTC */
};

static const char *check_civil(const struct dt *t)
{
    if (t->M < 1 || t->M > 12)
        return "month out of range 01-12";
    if (t->D < 1 || t->D > month_days(t->Y, t->M))
        return "day out of range for its month";
    if (t->h > 23 || t->mi > 59 || t->sec > 60)
        return "time out of range";
    return NULL;
}

/* "+05:45", "+0545", "+05", "-00:00" at s[*i]; advances *i. */
static const char *parse_offset(const char *s, size_t len, size_t *i, int *off)
{
    int sign = s[*i] == '-' ? -1 : 1, oh, om = 0;
    size_t j = *i + 1;
    if (j + 2 > len || !digits(s + j, 2, &oh))
        return "bad UTC offset";
    j += 2;
    if (j < len && s[j] == ':') {
        j++;
        if (j == len)
            return "bad UTC offset"; /* "+05:" */
    }
    if (j < len && is_digit(s[j])) {
        if (j + 2 > len || !digits(s + j, 2, &om))
            return "bad UTC offset";
        j += 2;
    } else if (j < len && s[j - 1] == ':') {
        return "bad UTC offset";
    }
    if (oh > 23 || om > 59)
        return "UTC offset out of range";
    *off = sign * (oh * 60 + om);
    *i = j;
    return NULL;
}

/* "UTC", "Z" or an offset: the declared zone of a datetime field. */
static int parse_zone(const char *z, int *off)
{
    size_t i = 0, n = strlen(z);
    if (!strcmp(z, "UTC") || !strcmp(z, "Z") || !strcmp(z, "utc") || !strcmp(z, "z"))
        return *off = 0, 1;
    if (n == 0 || (z[0] != '+' && z[0] != '-') || parse_offset(z, n, &i, off) || i != n)
        return 0;
    return 1;
}

static const char *parse_frac(const char *s, size_t len, size_t *i, struct dt *t)
{
    size_t fs, fl;
    if (*i < len && (s[*i] == '.' || s[*i] == ',')) {
        fs = ++*i;
        while (*i < len && is_digit(s[*i]))
            ++*i;
        fl = *i - fs;
        if (fl == 0 || fl > 9)
            return "fraction of a second needs 1 to 9 digits";
        memcpy(t->frac, s + fs, fl);
        t->frac[fl] = 0;
    }
    return NULL;
}

/* ISO 8601 / RFC 3339: extended (2026-03-01T08:15:00-05:00) or basic
 * (20260301T081500Z) form; 'T', 't' or ' ' between date and time; seconds
 * optional. Without a zone the field's declared zone applies. *plain is
 * set for the extended form with its own zone (kept as given without utc). */
static const char *parse_iso(const contract_field *f, const char *s, size_t len, struct dt *t, int *plain)
{
    size_t i;
    const char *why;
    int basic = 0;
    memset(t, 0, sizeof *t);
    *plain = 0;
    if (len >= 13 && digits(s, 8, &t->Y) && (s[8] == 'T' || s[8] == 't' || s[8] == ' ')) {
        basic = 1;
        t->Y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
        if (!digits(s + 4, 2, &t->M) || !digits(s + 6, 2, &t->D) || !digits(s + 9, 2, &t->h) ||
            !digits(s + 11, 2, &t->mi))
            return "expected a basic-format date-time like 20260301T081500Z";
        i = 13;
        if (i + 2 <= len && digits(s + i, 2, &t->sec)) {
            i += 2;
            if ((why = parse_frac(s, len, &i, t)))
                return why;
        }
    } else {
        if (len < 16 || !digits(s, 4, &t->Y) || s[4] != '-' || !digits(s + 5, 2, &t->M) || s[7] != '-' ||
            !digits(s + 8, 2, &t->D))
            return "expected a date-time like 2026-03-01T08:15:00-05:00";
        if (s[10] != 'T' && s[10] != 't' && s[10] != ' ')
            return "expected 'T' between date and time";
        if (!digits(s + 11, 2, &t->h) || s[13] != ':' || !digits(s + 14, 2, &t->mi))
            return "expected a time HH:MM[:SS]";
        i = 16;
        if (i < len && s[i] == ':') {
            if (i + 3 > len || !digits(s + i + 1, 2, &t->sec))
                return "expected seconds after ':'";
            i += 3;
            if ((why = parse_frac(s, len, &i, t)))
                return why;
        }
    }
    if ((why = check_civil(t)))
        return why;
    if (i >= len) {
        if (!f->has_zone)
            return "no time zone (add Z or an offset like +01:00, or declare the field's zone)";
        t->off = f->zone_min;
        return NULL;
    }
    if (s[i] == 'Z' || s[i] == 'z') {
        i++;
    } else if (s[i] == '+' || s[i] == '-') {
        if ((why = parse_offset(s, len, &i, &t->off)))
            return why;
    } else {
        return "bad time zone (use Z or an offset like +01:00)";
    }
    if (i != len)
        return "unexpected characters after the time zone";
    *plain = !basic;
    return NULL;
}

/* A declared strptime-like format: %Y %m %d %H %M %S %z %% and literals. */
static const char *parse_declared(const contract_field *f, const char *s, size_t len, struct dt *t)
{
    size_t i = 0;
    int zoned = 0;
    const char *why;
    memset(t, 0, sizeof *t);
    for (const char *p = f->format; *p; p++) {
        int *dst = NULL, v = 0, k = 0;
        if (*p != '%' || p[1] == '%') {
            p += *p == '%';
            if (i >= len || s[i] != *p)
                return "does not match the declared format";
            i++;
            continue;
        }
        switch (*++p) {
        case 'Y':
            if (i + 4 > len || !digits(s + i, 4, &t->Y))
                return "expected a 4-digit year (%Y)";
            i += 4;
            continue;
        case 'z':
            if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
                i++;
                t->off = 0;
            } else if (i < len && (s[i] == '+' || s[i] == '-')) {
                if ((why = parse_offset(s, len, &i, &t->off)))
                    return why;
            } else {
                return "expected a zone (%z: Z or an offset like +01:00)";
            }
            zoned = 1;
            continue;
        case 'm': dst = &t->M; break;
        case 'd': dst = &t->D; break;
        case 'H': dst = &t->h; break;
        case 'M': dst = &t->mi; break;
        case 'S': dst = &t->sec; break;
        default: return "unsupported directive in the declared format";
        }
        while (k < 2 && i < len && is_digit(s[i]))
            v = v * 10 + (s[i++] - '0'), k++;
        if (!k)
            return "expected a number where the declared format has one";
        *dst = v;
    }
    if (i != len)
        return "unexpected characters after the declared format";
    if (!zoned)
        t->off = f->zone_min;
    return check_civil(t);
}

/* Epoch seconds or milliseconds (a number text without exponent). */
static const char *parse_epoch(const char *s, size_t n, int ms, struct dt *t)
{
    size_t i = 0;
    int neg = 0, nd = 0, fd = 0;
    unsigned long long ip = 0;
    long long secs, nanos = 0, scale = ms ? 100000 : 100000000;
    long long days;
    long long y;
    unsigned m, d;
    memset(t, 0, sizeof *t);
    if (i < n && (s[i] == '-' || s[i] == '+'))
        neg = s[i++] == '-';
    while (i < n && is_digit(s[i])) {
        if (++nd > 18)
            return "epoch value out of range";
        ip = ip * 10 + (unsigned)(s[i++] - '0');
    }
    if (!nd)
        return ms ? "expected epoch milliseconds" : "expected epoch seconds";
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && is_digit(s[i])) {
            if (++fd > (ms ? 6 : 9))
                return "too many fraction digits for an epoch value";
            nanos += (s[i++] - '0') * scale;
            scale /= 10;
        }
        if (!fd)
            return "fraction needs digits";
    }
    if (i != n)
        return ms ? "expected epoch milliseconds (a number without exponent)"
                  : "expected epoch seconds (a number without exponent)";
    if (ms) {
        secs = (long long)(ip / 1000);
        nanos += (long long)(ip % 1000) * 1000000;
    } else {
        secs = (long long)ip;
    }
    if (neg) {
        if (nanos) {
            secs = -secs - 1;
            nanos = 1000000000 - nanos;
        } else {
            secs = -secs;
        }
    }
    if (secs < -62167219200LL || secs > 253402300799LL)
        return "instant out of the years 0000-9999";
    days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
    secs -= days * 86400;
    civil_from_days(days, &y, &m, &d);
    t->Y = (int)y;
    t->M = (int)m;
    t->D = (int)d;
    t->h = (int)(secs / 3600);
    t->mi = (int)(secs / 60 % 60);
    t->sec = (int)(secs % 60);
    if (nanos)
        snprintf(t->frac, sizeof t->frac, "%09lld", nanos);
    return NULL;
}

/* Write t as RFC 3339: with utc "YYYY-MM-DDTHH:MM:SS[.f]Z", else with its
 * offset ("Z" for zero). Fraction digits as given, trailing zeros dropped,
 * so equal instants get equal text. */
static const char *format_dt(const struct dt *t, int utc, char *out, size_t outn)
{
    size_t fl = strlen(t->frac);
    while (fl > 0 && t->frac[fl - 1] == '0')
        fl--;
    if (utc) {
        long long days = days_from_civil(t->Y, (unsigned)t->M, (unsigned)t->D), secs, y2;
        unsigned m2, d2;
        int leap = t->sec == 60;
        secs = days * 86400 + t->h * 3600 + t->mi * 60 + (leap ? 59 : t->sec) - t->off * 60;
        days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
        secs -= days * 86400;
        civil_from_days(days, &y2, &m2, &d2);
        if (y2 < 0 || y2 > 9999)
            return "instant out of the years 0000-9999 after conversion to UTC";
        snprintf(out, outn, "%04lld-%02u-%02uT%02lld:%02lld:%02lld%s%.*sZ", y2, m2, d2, secs / 3600,
                 secs / 60 % 60, leap ? 60 : secs % 60, fl ? "." : "", (int)fl, t->frac);
    } else {
        int a = t->off < 0 ? -t->off : t->off;
        char z[8];
        if (t->off)
            snprintf(z, sizeof z, "%c%02d:%02d", t->off < 0 ? '-' : '+', a / 60, a % 60);
        else
            snprintf(z, sizeof z, "Z");
        snprintf(out, outn, "%04d-%02d-%02dT%02d:%02d:%02d%s%.*s%s", t->Y, t->M, t->D, t->h, t->mi, t->sec,
                 fl ? "." : "", (int)fl, t->frac, z);
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
    uint8_t *nfc = NULL;
    int unicase = (f->normalize & NORM_NFC) && (f->normalize & (NORM_LOWER | NORM_UPPER));
    cust_code rc = CUST_OK;
    buf_reset(out);
    if ((f->normalize & NORM_NFC) && n) {
        size_t nl = 0;
        if (!(nfc = u8_normalize(UNINORM_NFC, p, n, NULL, &nl)))
            return CUST_ENOMEM; /* input is valid UTF-8 (the parser checks): only ENOMEM */
        p = nfc;
        n = nl;
    }
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
            if (buf_addc(out, ' ')) {
                rc = CUST_ELIMIT;
                goto done;
            }
            continue;
        }
        unsigned char c = p[i++];
        if (!unicase && (f->normalize & NORM_LOWER) && c >= 'A' && c <= 'Z')
            c = (unsigned char)(c + 32);
        else if (!unicase && (f->normalize & NORM_UPPER) && c >= 'a' && c <= 'z')
            c = (unsigned char)(c - 32);
        if (buf_addc(out, (char)c)) {
            rc = CUST_ELIMIT;
            goto done;
        }
    }
    if (unicase && out->len) {
        size_t cl = 0;
        uint8_t *cm = (f->normalize & NORM_LOWER)
                          ? u8_tolower((const uint8_t *)out->ptr, out->len, "", UNINORM_NFC, NULL, &cl)
                          : u8_toupper((const uint8_t *)out->ptr, out->len, "", UNINORM_NFC, NULL, &cl);
        if (!cm) {
            rc = CUST_ENOMEM;
            goto done;
        }
        buf_reset(out);
        rc = buf_add(out, cm, cl);
        free(cm);
        if (rc)
            goto done;
    }
    if (!out->ptr && buf_add(out, "", 0))
        rc = CUST_ENOMEM;
done:
    free(nfc);
    return rc;
}

static size_t codepoints(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

/* ---- decimals ----------------------------------------------------------- */

/* value = (neg ? -1 : 1) * digits * 10^e; digits without leading zeros
 * (empty for zero), trailing zeros kept (they are the scale). */
struct dec {
    int neg;
    const char *d;
    size_t nd;
    long long e;
};

static const char *dec_parse(const char *s, size_t n, buf *digs, struct dec *x)
{
    size_t i = 0;
    long long fl = 0, ex = 0;
    int any = 0, eneg = 0;
    buf_reset(digs);
    x->neg = 0;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        x->neg = s[i++] == '-';
    for (int frac = 0; frac < 2; frac++) {
        if (frac) {
            if (i >= n || s[i] != '.')
                break;
            i++;
        }
        while (i < n && is_digit(s[i])) {
            if ((digs->len || s[i] != '0') && buf_addc(digs, s[i]))
                return "decimal has too many digits";
            fl += frac;
            any = 1;
            i++;
        }
    }
    if (!any)
        return "expected a decimal number like 12.50";
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        int ed = 0;
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            eneg = s[i++] == '-';
        while (i < n && is_digit(s[i])) {
            if (++ed > 9)
                return "decimal exponent out of range";
            ex = ex * 10 + (s[i++] - '0');
        }
        if (!ed)
            return "decimal exponent needs digits";
    }
    if (i != n)
        return "expected a decimal number like 12.50";
    x->d = digs->ptr ? digs->ptr : "";
    x->nd = digs->len;
    x->e = (eneg ? -ex : ex) - fl;
    if (!x->nd)
        x->neg = 0;
    return NULL;
}

static cust_code dec_text(const struct dec *x, buf *out)
{
    cust_code rc = CUST_OK;
    buf_reset(out);
    if (!x->nd) {
        rc = buf_addc(out, '0');
        if (!rc && x->e < 0 && -x->e <= EXPAND_ZEROS) {
            rc = buf_addc(out, '.');
            for (long long k = 0; !rc && k < -x->e; k++)
                rc = buf_addc(out, '0');
        }
        return rc;
    }
    if (x->neg)
        rc = buf_addc(out, '-');
    if (rc)
        return rc;
    if (x->e >= 0 && x->e <= EXPAND_ZEROS) {
        rc = buf_add(out, x->d, x->nd);
        for (long long k = 0; !rc && k < x->e; k++)
            rc = buf_addc(out, '0');
    } else if (x->e < 0 && (size_t)-x->e < x->nd) {
        size_t ip = x->nd - (size_t)-x->e;
        rc = buf_add(out, x->d, ip);
        if (!rc)
            rc = buf_addc(out, '.');
        if (!rc)
            rc = buf_add(out, x->d + ip, x->nd - ip);
    } else if (x->e < 0 && -x->e - (long long)x->nd <= EXPAND_ZEROS) {
        rc = buf_adds(out, "0.");
        for (long long k = 0; !rc && k < -x->e - (long long)x->nd; k++)
            rc = buf_addc(out, '0');
        if (!rc)
            rc = buf_add(out, x->d, x->nd);
    } else {
        rc = buf_add(out, x->d, x->nd);
        if (!rc)
            rc = buf_addf(out, "e%lld", x->e);
    }
    return rc;
}

/* Exact numeric comparison (the scale does not count): <0, 0, >0. */
static int dec_cmp(const struct dec *a, const struct dec *b)
{
    size_t na = a->nd, nb = b->nd;
    long long ea, eb, oa, ob;
    int sa, sb, mag;
    while (na && a->d[na - 1] == '0')
        na--;
    while (nb && b->d[nb - 1] == '0')
        nb--;
    ea = a->e + (long long)(a->nd - na);
    eb = b->e + (long long)(b->nd - nb);
    sa = na ? (a->neg ? -1 : 1) : 0;
    sb = nb ? (b->neg ? -1 : 1) : 0;
    if (sa != sb)
        return sa < sb ? -1 : 1;
    if (!sa)
        return 0;
    oa = (long long)na + ea;
    ob = (long long)nb + eb;
    if (oa != ob) {
        mag = oa < ob ? -1 : 1;
    } else {
        size_t m = na < nb ? na : nb;
        int c = memcmp(a->d, b->d, m);
        mag = c ? (c < 0 ? -1 : 1) : na == nb ? 0 : na < nb ? -1 : 1;
    }
    return sa * mag;
}

/* ---- e-mail, URL, UUID, date -------------------------------------------- */

/* LDH labels; need_tld: at least two labels and a non-numeric TLD. */
static const char *check_ldh(const char *d, size_t n, int need_tld)
{
    size_t i = 0, labels = 0, last = 0, lastlen = 0;
    if (n == 0)
        return "empty domain";
    if (n > 253)
        return "domain longer than 253 characters";
    while (i <= n) {
        size_t ls = i, L;
        while (i < n && d[i] != '.')
            i++;
        L = i - ls;
        if (L == 0)
            return "empty label in the domain";
        if (L > 63)
            return "a domain label is longer than 63 characters";
        for (size_t k = ls; k < i; k++)
            if (!is_alpha(d[k]) && !is_digit(d[k]) && d[k] != '-')
                return "the domain has a character other than letters, digits, '-' and '.'";
        if (d[ls] == '-' || d[i - 1] == '-')
            return "a domain label starts or ends with '-'";
        labels++;
        last = ls;
        lastlen = L;
        i++;
    }
    if (need_tld) {
        int numeric = 1;
        if (labels < 2)
            return "the domain needs a top-level domain (example.com)";
        for (size_t k = last; k < last + lastlen; k++)
            numeric &= is_digit(d[k]);
        if (numeric || lastlen < 2)
            return "the top-level domain must be letters (at least two)";
    }
    return NULL;
}

/* ASCII domains by LDH rules; internationalised ones through IDNA2008
 * (UTS #46 non-transitional) to their A-labels, then LDH rules. */
static const char *check_domain(const char *d, size_t n, int need_tld)
{
    int ascii = 1;
    for (size_t i = 0; i < n; i++)
        ascii &= (unsigned char)d[i] < 0x80;
    if (ascii)
        return check_ldh(d, n, need_tld);
    {
        char *tmp, *a = NULL;
        const char *why;
        int rc;
        if (memchr(d, 0, n) || n > 1024)
            return "not a valid domain";
        if (!(tmp = malloc(n + 1)))
            return "out of memory checking an internationalised domain";
        memcpy(tmp, d, n);
        tmp[n] = 0;
        rc = idn2_to_ascii_8z(tmp, &a, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
        free(tmp);
        if (rc != IDN2_OK)
            return idn2_strerror(rc); /* static text */
        why = check_ldh(a, strlen(a), need_tld);
        idn2_free(a);
        return why;
    }
}

static int is_atext(unsigned char c)
{
    return is_alpha(c) || is_digit(c) || (c && strchr("!#$%&'*+/=?^_`{|}~-", c)) || c >= 0x80;
}

/* RFC 5322 addr-spec, practical: dot-atom (UTF-8 allowed, RFC 6531) or
 * quoted-string local part; domain LDH or IDN with a TLD. *at: the '@'. */
static const char *check_email(const char *s, size_t n, size_t *at)
{
    size_t i;
    if (n > 254)
        return "address longer than 254 characters";
    if (n && s[0] == '"') {
        for (i = 1; i < n; i++) {
            unsigned char c = (unsigned char)s[i];
            if (c == '\\') {
                if (i + 1 >= n || (unsigned char)s[i + 1] < 32 || s[i + 1] == 127)
                    return "bad escape in the quoted local part";
                i++;
            } else if (c == '"') {
                break;
            } else if (c < 32 || c == 127) {
                return "control character in the local part";
            }
        }
        if (i >= n)
            return "unterminated quoted local part";
        *at = i + 1;
        if (*at >= n || s[*at] != '@')
            return "expected '@' after the quoted local part";
    } else {
        const char *p = memchr(s, '@', n);
        if (!p)
            return "missing '@'";
        *at = (size_t)(p - s);
        if (*at == 0)
            return "empty local part";
        if (s[0] == '.' || s[*at - 1] == '.')
            return "the local part starts or ends with '.'";
        for (i = 0; i < *at; i++) {
            if (s[i] == '.' && s[i + 1] == '.')
                return "the local part has '..'";
            if (s[i] != '.' && !is_atext((unsigned char)s[i]))
                return "character not allowed in the local part (quote it)";
        }
    }
    if (*at > 64)
        return "local part longer than 64 characters";
    if (memchr(s + *at + 1, '@', n - *at - 1))
        return "more than one '@'";
    return check_domain(s + *at + 1, n - *at - 1, 1);
}

static int ascii_ieq(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (lower_ascii(a[i]) != lower_ascii(b[i]))
            return 0;
    return 1;
}

static int hexd(int c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* http(s)://host[:port][/path][?query][#fragment]; *sch scheme length,
 * [*hs, *he) the host. */
static const char *check_url(const char *s, size_t n, size_t *sch, size_t *hs, size_t *he)
{
    size_t i = 0, ae;
    int frag = 0;
    while (i < n && (is_alpha(s[i]) || (i && (is_digit(s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.'))))
        i++;
    if (i == 0 || i + 3 > n || memcmp(s + i, "://", 3))
        return "expected an absolute URL like https://example.com/path";
    if (!(i == 4 && ascii_ieq(s, "http", 4)) && !(i == 5 && ascii_ieq(s, "https", 5)))
        return "only http and https URLs are accepted";
    *sch = i;
    i += 3;
    *hs = i;
    for (ae = i; ae < n && s[ae] != '/' && s[ae] != '?' && s[ae] != '#'; ae++)
        ;
    if (memchr(s + i, '@', ae - i))
        return "user information (credentials) is not allowed in a URL";
    if (i < ae && s[i] == '[') {
        const char *close = memchr(s + i, ']', ae - i);
        char tmp[64];
        unsigned char a6[16];
        size_t L;
        if (!close)
            return "unterminated IPv6 literal";
        L = (size_t)(close - s) - i - 1;
        if (L == 0 || L >= sizeof tmp)
            return "bad IPv6 literal";
        memcpy(tmp, s + i + 1, L);
        tmp[L] = 0;
        if (inet_pton(AF_INET6, tmp, a6) != 1)
            return "bad IPv6 literal";
        *he = (size_t)(close - s) + 1;
    } else {
        size_t h = i;
        int ipv4ish = 1;
        const char *why;
        while (h < ae && s[h] != ':')
            h++;
        if (h == i)
            return "missing host";
        for (size_t k = i; k < h; k++)
            ipv4ish &= is_digit(s[k]) || s[k] == '.';
        if (ipv4ish) {
            int parts = 0;
            for (size_t k = i; k <= h; parts++) {
                size_t st = k;
                int v = 0;
                while (k < h && is_digit(s[k])) {
                    if (k - st < 3) /* a longer run is refused below: stop before int overflows */
                        v = v * 10 + (s[k] - '0');
                    k++;
                }
                if (k == st || k - st > 3 || v > 255 || (k - st > 1 && s[st] == '0'))
                    return "bad IPv4 address";
                if (k < h && s[k] != '.')
                    return "bad IPv4 address";
                k++;
            }
            if (parts != 4)
                return "bad IPv4 address";
        } else if ((why = check_domain(s + i, h - i, 0))) {
            return why;
        }
        *he = h;
    }
    i = *he;
    if (i < ae) {
        int v = 0, k = 0;
        if (s[i] != ':')
            return "unexpected character after the host";
        for (i++; i < ae; i++, k++) {
            if (!is_digit(s[i]) || k >= 5)
                return "bad port";
            v = v * 10 + (s[i] - '0');
        }
        if (k == 0 || v < 1 || v > 65535)
            return "port out of range 1-65535";
    }
    for (i = ae; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= n || !hexd(s[i + 1]) || !hexd(s[i + 2]))
                return "bad percent-encoding";
            i += 2;
        } else if (c == '#') {
            if (frag)
                return "a second '#' in the URL";
            frag = 1;
        } else if (!is_alpha(c) && !is_digit(c) && !(c && strchr("-._~!$&'()*+,;=:@/?", c))) {
            return "character not allowed in a URL (percent-encode it)";
        }
    }
    return NULL;
}

static const char *check_uuid(const char *s, size_t n)
{
    if (n != 36)
        return "expected a UUID like 123e4567-e89b-12d3-a456-426614174000";
    for (size_t i = 0; i < n; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !hexd(s[i]))
            return "expected a UUID like 123e4567-e89b-12d3-a456-426614174000";
    }
    return NULL;
}

static const char *check_date(const char *s, size_t n)
{
    struct dt t;
    memset(&t, 0, sizeof t);
    if (n != 10 || !digits(s, 4, &t.Y) || s[4] != '-' || !digits(s + 5, 2, &t.M) || s[7] != '-' ||
        !digits(s + 8, 2, &t.D))
        return "expected a date like 2026-03-01";
    return check_civil(&t);
}

/* ---- apply -------------------------------------------------------------- */

struct apply {
    const contract *c;
    json_doc *doc;
    buf *errors;
    int nerr;
    struct err *e;
    long item;          /* array item being checked, -1 none */
    buf tmp, tmp2, path, val;
    char last[256];     /* the last error message (compile reports it) */
};

static void apply_init(struct apply *A, const contract *c, json_doc *doc, buf *errors, struct err *e)
{
    memset(A, 0, sizeof *A);
    A->c = c;
    A->doc = doc;
    A->errors = errors;
    A->e = e;
    A->item = -1;
    buf_init(&A->tmp, 16u << 20);
    buf_init(&A->tmp2, 16u << 20);
    buf_init(&A->path, 4096);
    buf_init(&A->val, 4096);
}

static void apply_release(struct apply *A)
{
    buf_release(&A->tmp);
    buf_release(&A->tmp2);
    buf_release(&A->path);
    buf_release(&A->val);
}

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
    if (buf_adds(&A->path, pre) || buf_adds(&A->path, p) ||
        (A->item >= 0 && buf_addf(&A->path, "[%ld]", A->item)))
        buf_reset(&A->path);
}

/* "$.name", or "$['na.me']" when the name is not a plain identifier. */
static void member_path(struct apply *A, const char *k, size_t n)
{
    int plain = n > 0 && (is_alpha(k[0]) || k[0] == '_');
    for (size_t i = 0; i < n; i++)
        plain &= is_alpha(k[i]) || is_digit(k[i]) || k[i] == '_';
    buf_reset(&A->path);
    if (plain ? (buf_adds(&A->path, "$.") || buf_add(&A->path, k, n))
              : (buf_adds(&A->path, memchr(k, '\'', n) ? "$[\"" : "$['") || buf_add(&A->path, k, n) ||
                 buf_adds(&A->path, memchr(k, '\'', n) ? "\"]" : "']")))
        buf_reset(&A->path);
}

/* Append one error object for the path in A->path. */
static int emit_error(struct apply *A, int sensitive, const char *code, const json_value *v, const char *msg)
{
    snprintf(A->last, sizeof A->last, "%s", msg);
    if (!A->path.ptr && buf_adds(&A->path, "$"))
        return -1;
    if (buf_adds(A->errors, A->nerr ? ",{\"code\":" : "{\"code\":") || json_write_string(A->errors, code, strlen(code)) ||
        buf_adds(A->errors, ",\"message\":") || json_write_string(A->errors, msg, strlen(msg)) ||
        buf_adds(A->errors, ",\"path\":") || json_write_string(A->errors, A->path.ptr, A->path.len))
        return -1;
    if (v) {
        buf_reset(&A->val);
        if (sensitive) {
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
    return emit_error(A, f && f->sensitive, code, v, msg);
}

static const char *jtype(const json_value *v)
{
    static const char *const n[] = {"null", "boolean", "boolean", "number", "string", "array", "object"};
    return n[v->type];
}

/* An integer literal (no fraction/exponent) beyond +-2^53. */
static int big_int(const json_value *v)
{
    return v->type == JSON_NUMBER && (v->flags & JSON_F_INT) &&
           (!(v->flags & JSON_F_INT64) || v->i64 > BIG53 || v->i64 < -BIG53);
}

/* The first big integer inside v (JCS would round it), or NULL. */
static const json_value *find_big_int(const json_value *v, unsigned depth)
{
    if (depth > 128)
        return NULL;
    if (big_int(v))
        return v;
    if (v->type == JSON_ARRAY)
        for (size_t i = 0; i < v->len; i++) {
            const json_value *b = find_big_int(v->u.items[i], depth + 1);
            if (b)
                return b;
        }
    if (v->type == JSON_OBJECT)
        for (size_t i = 0; i < v->len; i++) {
            const json_value *b = find_big_int(v->u.members[i].value, depth + 1);
            if (b)
                return b;
        }
    return NULL;
}

static int check_bounds_d(struct apply *A, const contract_field *f, const json_value *v, double d)
{
    if (isinf(d))
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

/* A string value after the field's normalisers: 1 with *s and *n set, 0 when an
 * error was recorded, -1 on internal failure. */
static int string_in(struct apply *A, const contract_field *f, const json_value *v, const char *what,
                     const char **s, size_t *n)
{
    if (v->type != JSON_STRING)
        return add_error(A, f, "type", v, "expected %s, got %s", what, jtype(v)) ? -1 : 0;
    if (v->flags & JSON_F_SURROGATE)
        return add_error(A, f, "format", v, "holds a lone UTF-16 surrogate escape") ? -1 : 0;
    *s = v->u.str;
    *n = v->len;
    if (f->normalize & (NORM_TRIM | NORM_COLLAPSE | NORM_LOWER | NORM_UPPER | NORM_NFC)) {
        if (normalise(f, *s, *n, &A->tmp))
            return -1;
        *s = A->tmp.ptr;
        *n = A->tmp.len;
    }
    return 1;
}

/* Length and pattern rules: 1 passed, 0 error recorded, -1 internal. */
static int string_rules(struct apply *A, const contract_field *f, const json_value *v, const char *s, size_t n)
{
    if (f->has_min_length || f->has_max_length) {
        size_t cp = codepoints(s, n);
        if (f->has_min_length && cp < f->min_length)
            return add_error(A, f, "length", v, "shorter than %zu characters", f->min_length) ? -1 : 0;
        if (f->has_max_length && cp > f->max_length)
            return add_error(A, f, "length", v, "longer than %zu characters", f->max_length) ? -1 : 0;
    }
    if (f->re) {
        pcre2_match_data *md = pcre2_match_data_create(1, NULL);
        int rc;
        if (!md)
            return -1;
        rc = pcre2_match(f->re, (PCRE2_SPTR)s, n, 0, 0, md, NULL);
        pcre2_match_data_free(md);
        if (rc < 0 && rc != PCRE2_ERROR_NOMATCH)
            return add_error(A, f, "pattern", v, "pattern could not be evaluated (PCRE2 error %d)", rc) ? -1 : 0;
        if (rc < 0)
            return add_error(A, f, "pattern", v, "does not match %s", f->pattern) ? -1 : 0;
    }
    return 1;
}

static int new_string(struct apply *A, const json_value *v, const char *s, size_t n, json_value **out)
{
    *out = (v->type == JSON_STRING && n == v->len && !memcmp(s, v->u.str, n)) ? (json_value *)v
                                                                              : json_new_string(A->doc, s, n);
    return *out ? 0 : -1;
}

/* v in its JCS form, as a value of A->doc (objects, untyped arrays). */
static int jcs_value(struct apply *A, const contract_field *f, const json_value *v, json_value **out)
{
    struct err je = {0};
    const json_value *b = find_big_int(v, 0);
    if (b)
        return add_error(A, f, "range", v, "holds an integer beyond +-2^53 (%.40s) that JSON numbers cannot "
                                           "fingerprint exactly; send it as a string", b->u.str);
    buf_reset(&A->tmp2);
    if (jcs_write(v, &A->tmp2, &je))
        return je.code == CUST_ELIMIT || je.code == CUST_ENOMEM ? -1
                                                                 : add_error(A, f, "format", v, "not I-JSON: %s", je.msg);
    *out = json_parse(A->doc, A->tmp2.ptr, A->tmp2.len, NULL, &je);
    return *out ? 0 : -1;
}

static int check_value(struct apply *A, const contract_field *f, field_type t, const json_value *v,
                       json_value **out);

static int check_array(struct apply *A, const contract_field *f, const json_value *v, json_value **out)
{
    json_value *arr;
    int before = A->nerr;
    if (v->type != JSON_ARRAY)
        return add_error(A, f, "type", v, "expected an array, got %s", jtype(v));
    if (f->has_min_items && v->len < f->min_items)
        return add_error(A, f, "length", v, "fewer than %zu items", f->min_items);
    if (f->has_max_items && v->len > f->max_items)
        return add_error(A, f, "length", v, "more than %zu items", f->max_items);
    if (!f->has_items)
        return jcs_value(A, f, v, out);
    if (!(arr = json_new_array(A->doc, v->len)))
        return -1;
    for (size_t i = 0; i < v->len; i++) {
        const json_value *it = v->u.items[i];
        json_value *o = NULL;
        int rc;
        A->item = (long)i;
        if (it->type == JSON_NULL) {
            rc = f->nullable ? ((o = json_new_null(A->doc)) ? 0 : -1)
                             : add_error(A, f, "type", it, "expected %s, got null", contract_type_name(f->items));
        } else {
            rc = check_value(A, f, f->items, it, &o);
        }
        A->item = -1;
        if (rc)
            return -1;
        if (o && A->nerr == before && json_array_push(A->doc, arr, o))
            return -1;
    }
    if (A->nerr == before)
        *out = arr;
    return 0;
}

/* Validate v (present, not null) as type t under f's rules; *out is the
 * canonical value, left NULL when an error was recorded. Returns -1 on
 * internal failure, else 0. */
static int check_value(struct apply *A, const contract_field *f, field_type t, const json_value *v,
                       json_value **out)
{
    const char *s, *why;
    size_t n;
    int r;
    *out = NULL;
    switch (t) {
    case FT_NUMBER:
    case FT_INTEGER: {
        double d;
        int ok;
        if (t == FT_INTEGER && v->type == JSON_STRING) {
            /* The canonical form of a big integer comes back as a string. */
            char *end;
            long long x;
            const char *p = v->u.str;
            int canon = v->len > 0 && v->len < 21 && !memchr(p, 0, v->len);
            canon = canon && (p[0] == '-' ? (v->len > 1 && p[1] >= '1' && p[1] <= '9') : (p[0] >= '1' && p[0] <= '9'));
            for (size_t i = 1; canon && i < v->len; i++)
                canon = is_digit(p[i]);
            if (canon) {
                errno = 0;
                x = strtoll(p, &end, 10);
                canon = !errno && *end == 0 && (x > BIG53 || x < -BIG53);
            }
            if (!canon)
                return add_error(A, f, "type", v, "expected an integer, got string");
            if (f->bounds) {
                int before = A->nerr;
                if (check_bounds_d(A, f, v, (double)x))
                    return -1;
                if (A->nerr != before)
                    return 0;
            }
            *out = (json_value *)v;
            return 0;
        }
        if (v->type != JSON_NUMBER)
            return add_error(A, f, "type", v, "expected %s, got %s", t == FT_NUMBER ? "a number" : "an integer",
                             jtype(v));
        if (t == FT_INTEGER && !(v->flags & JSON_F_INT64))
            return add_error(A, f, "type", v, "expected an integer that fits 64 bits");
        /* A number no double holds (1e400) has no RFC 8785 form, so no
         * content hash or key: refuse it here, not in the store. */
        d = json_number(v, &ok);
        if (isinf(d)) /* not !ok: subnormals set ERANGE but have a JCS form */
            return add_error(A, f, "range", v, "number out of the representable range");
        if (t == FT_NUMBER && big_int(v))
            return add_error(A, f, "range", v, "integer beyond +-2^53: a JSON number cannot keep it exactly for "
                                               "the fingerprint; declare the field decimal to keep its exact text");
        if (f->bounds) {
            int before = A->nerr;
            if (check_bounds_d(A, f, v, d))
                return -1;
            if (A->nerr != before)
                return 0;
        }
        if (t == FT_INTEGER && big_int(v)) {
            *out = json_new_string(A->doc, v->u.str, v->len); /* exact digits; see contract.h */
            return *out ? 0 : -1;
        }
        *out = (json_value *)v;
        return 0;
    }
    case FT_BOOLEAN:
        if (v->type != JSON_TRUE && v->type != JSON_FALSE)
            return add_error(A, f, "type", v, "expected a boolean, got %s", jtype(v));
        *out = (json_value *)v;
        return 0;
    case FT_DATETIME: {
        char norm[80];
        struct dt dt;
        int ms, plain = 0;
        if (is_epoch(f->format, &ms)) {
            if (v->type == JSON_NUMBER) {
                s = v->u.str;
                n = v->len;
            } else if ((r = string_in(A, f, v, "epoch seconds as a number or string", &s, &n)) <= 0) {
                return r;
            }
            why = parse_epoch(s, n, ms, &dt);
        } else {
            if (v->type != JSON_STRING)
                return add_error(A, f, "type", v, "expected a date-time string, got %s", jtype(v));
            why = f->format ? parse_declared(f, v->u.str, v->len, &dt) : parse_iso(f, v->u.str, v->len, &dt, &plain);
        }
        if (!why && (plain && !(f->normalize & NORM_UTC))) {
            *out = (json_value *)v;
            return 0;
        }
        if (why || (why = format_dt(&dt, (f->normalize & NORM_UTC) != 0, norm, sizeof norm)))
            return add_error(A, f, "format", v, "%s", why);
        *out = json_new_string(A->doc, norm, strlen(norm));
        return *out ? 0 : -1;
    }
    case FT_DECIMAL: {
        struct dec x, b;
        if (v->type == JSON_NUMBER) {
            s = v->u.str;
            n = v->len;
        } else if ((r = string_in(A, f, v, "a decimal number or numeric string", &s, &n)) <= 0) {
            return r;
        }
        if ((why = dec_parse(s, n, &A->tmp2, &x)))
            return add_error(A, f, "format", v, "%s", why);
        for (int k = 0; k < 4; k++) {
            static const char *const op[] = {">", ">=", "<", "<="};
            buf bb;
            int c, pass;
            if (!f->dec_bound[k])
                continue;
            buf_init(&bb, 4096);
            if (dec_parse(f->dec_bound[k], strlen(f->dec_bound[k]), &bb, &b)) {
                buf_release(&bb);
                return -1; /* compile made it from a double: cannot happen */
            }
            c = dec_cmp(&x, &b);
            buf_release(&bb);
            pass = k == 0 ? c > 0 : k == 1 ? c >= 0 : k == 2 ? c < 0 : c <= 0;
            if (!pass)
                return add_error(A, f, "range", v, "must be %s %s", op[k], f->dec_bound[k]);
        }
        if (dec_text(&x, &A->val))
            return -1;
        *out = json_new_string(A->doc, A->val.ptr, A->val.len);
        return *out ? 0 : -1;
    }
    case FT_DATE:
        if ((r = string_in(A, f, v, "a date string", &s, &n)) <= 0)
            return r;
        if ((why = check_date(s, n)))
            return add_error(A, f, "format", v, "%s", why);
        return new_string(A, v, s, n, out);
    case FT_UUID:
        if ((r = string_in(A, f, v, "a UUID string", &s, &n)) <= 0)
            return r;
        if ((why = check_uuid(s, n)))
            return add_error(A, f, "format", v, "%s", why);
        buf_reset(&A->tmp2);
        for (size_t i = 0; i < n; i++)
            if (buf_addc(&A->tmp2, lower_ascii(s[i])))
                return -1;
        return new_string(A, v, A->tmp2.ptr, A->tmp2.len, out);
    case FT_EMAIL: {
        size_t at = 0;
        int ascii = 1;
        if ((r = string_in(A, f, v, "an e-mail address string", &s, &n)) <= 0)
            return r;
        if ((why = check_email(s, n, &at)))
            return add_error(A, f, "format", v, "not an e-mail address: %s", why);
        buf_reset(&A->tmp2);
        if (buf_add(&A->tmp2, s, at + 1))
            return -1;
        for (size_t i = at + 1; i < n; i++)
            ascii &= (unsigned char)s[i] < 0x80;
        if (ascii) {
            for (size_t i = at + 1; i < n; i++)
                if (buf_addc(&A->tmp2, lower_ascii(s[i])))
                    return -1;
        } else {
            size_t cl = 0;
            uint8_t *lc = u8_tolower((const uint8_t *)s + at + 1, n - at - 1, "", NULL, NULL, &cl);
            if (!lc)
                return -1;
            r = buf_add(&A->tmp2, lc, cl) ? -1 : 0;
            free(lc);
            if (r)
                return -1;
        }
        if ((r = string_rules(A, f, v, A->tmp2.ptr, A->tmp2.len)) <= 0)
            return r;
        return new_string(A, v, A->tmp2.ptr, A->tmp2.len, out);
    }
    case FT_URL: {
        size_t sch = 0, hs = 0, he = 0;
        if ((r = string_in(A, f, v, "a URL string", &s, &n)) <= 0)
            return r;
        if ((why = check_url(s, n, &sch, &hs, &he)))
            return add_error(A, f, "format", v, "not an http(s) URL: %s", why);
        buf_reset(&A->tmp2);
        for (size_t i = 0; i < n; i++)
            if (buf_addc(&A->tmp2, i < sch || (i >= hs && i < he) ? lower_ascii(s[i]) : s[i]))
                return -1;
        if ((r = string_rules(A, f, v, A->tmp2.ptr, A->tmp2.len)) <= 0)
            return r;
        return new_string(A, v, A->tmp2.ptr, A->tmp2.len, out);
    }
    case FT_ARRAY:
        return check_array(A, f, v, out);
    case FT_OBJECT:
        if (v->type != JSON_OBJECT)
            return add_error(A, f, "type", v, "expected an object, got %s", jtype(v));
        return jcs_value(A, f, v, out);
    case FT_STRING:
    case FT_ENUM:
        if ((r = string_in(A, f, v, "a string", &s, &n)) <= 0)
            return r;
        for (size_t m = 0; m < f->nmap; m++)
            if (strlen(f->map_from[m]) == n && !memcmp(f->map_from[m], s, n)) {
                s = f->map_to[m];
                n = strlen(s);
                break;
            }
        if (t == FT_ENUM) {
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
        if ((r = string_rules(A, f, v, s, n)) <= 0)
            return r;
        return new_string(A, v, s, n, out);
    }
    return add_error(A, f, "type", v, "unknown field type");
}

/* Validate one field; *out is the canonical value (NULL: omit). Returns
 * -1 on internal failure, else 0 (errors are collected). */
static int one_field(struct apply *A, const contract_field *f, const json_value *raw, int is_key,
                     json_value **out)
{
    const json_value *v = f->from ? json_path(raw, f->from) : json_get(raw, f->name);
    *out = NULL;
    if ((!v || (v->type == JSON_NULL && !f->nullable)) && f->def_json) {
        struct err pe = {0};
        if (!(v = json_parse(A->doc, f->def_json, strlen(f->def_json), NULL, &pe)))
            return -1;
    }
    if (!v || v->type == JSON_NULL) {
        if (v && f->nullable) {
            *out = json_new_null(A->doc);
            return *out ? 0 : -1;
        }
        if (f->required || is_key)
            return add_error(A, f, "required", NULL, v ? "must not be null" : "is missing");
        return 0;
    }
    return check_value(A, f, f->type, v, out);
}

/* ---- compile ------------------------------------------------------------ */

static cust_code check_format(contract_field *f, struct err *e)
{
    int ms, ymd = 0, zoned = 0;
    if ((f->format || f->zone) && f->type != FT_DATETIME && !(f->type == FT_ARRAY && f->items == FT_DATETIME))
        return err_set(e, CUST_ECONFIG, "field %s: format and zone apply to datetime fields", f->name);
    f->has_zone = 0;
    if (f->zone) {
        if (!parse_zone(f->zone, &f->zone_min))
            return err_set(e, CUST_ECONFIG, "field %s: zone \"%s\": write UTC or an offset like +01:00", f->name,
                           f->zone);
        f->has_zone = 1;
    }
    if (!f->format)
        return CUST_OK;
    if (is_epoch(f->format, &ms)) {
        if (f->zone)
            return err_set(e, CUST_ECONFIG, "field %s: zone does not apply to epoch formats (they are UTC)", f->name);
        return CUST_OK;
    }
    for (const char *p = f->format; *p; p++) {
        if (*p != '%')
            continue;
        switch (*++p) {
        case 'Y': ymd |= 1; break;
        case 'm': ymd |= 2; break;
        case 'd': ymd |= 4; break;
        case 'z': zoned = 1; break;
        case 'H': case 'M': case 'S': case '%': break;
        default:
            return err_set(e, CUST_ECONFIG, "field %s: format: unsupported directive %%%c (use %%Y %%m %%d %%H %%M "
                                            "%%S %%z %%%%, or epoch_s / epoch_ms)", f->name, *p ? *p : ' ');
        }
        if (!*p)
            break;
    }
    if (ymd != 7)
        return err_set(e, CUST_ECONFIG, "field %s: format needs %%Y, %%m and %%d", f->name);
    if (!zoned && !f->zone)
        return err_set(e, CUST_ECONFIG, "field %s: format has no %%z: declare the zone (zone: UTC or +01:00)",
                       f->name);
    return CUST_OK;
}

/* Turn def into JSON text and check it passes the field's own rules. */
static cust_code check_default(const contract *c, contract_field *f, struct err *e)
{
    json_doc *d;
    json_value *v;
    struct err pe = {0};
    buf errs, js;
    struct apply A;
    cust_code rc = CUST_OK;
    free(f->def_json);
    f->def_json = NULL;
    if (!f->def)
        return CUST_OK;
    if (!(d = json_doc_new()))
        return err_set(e, CUST_ENOMEM, "out of memory");
    buf_init(&errs, 1 << 20);
    buf_init(&js, 1 << 20);
    if (!(v = json_parse(d, f->def, strlen(f->def), NULL, &pe))) {
        /* not JSON: the text itself is the string default */
        if (json_write_string(&js, f->def, strlen(f->def)) ||
            !(v = json_parse(d, js.ptr, js.len, NULL, &pe))) {
            rc = err_set(e, CUST_ECONFIG, "field %s: default: not usable as JSON or as a string", f->name);
            goto done;
        }
    }
    if (!(f->def_json = strdup(js.len ? buf_str(&js) : f->def))) {
        rc = err_set(e, CUST_ENOMEM, "out of memory");
        goto done;
    }
    if (v->type != JSON_NULL) {
        json_value *out;
        apply_init(&A, c, d, &errs, e);
        if (check_value(&A, f, f->type, v, &out))
            rc = err_set(e, CUST_ENOMEM, "out of memory checking field %s's default", f->name);
        else if (A.nerr)
            rc = err_set(e, CUST_ECONFIG, "field %s: default %s does not pass the field's rules: %s", f->name,
                         f->def_json, A.last);
        apply_release(&A);
    }
done:
    buf_release(&errs);
    buf_release(&js);
    json_doc_free(d);
    return rc;
}

cust_code contract_compile(contract *c, struct err *e)
{
    cust_code rc;
    if (c->nfields == 0)
        return err_set(e, CUST_ECONFIG, "declares no fields");
    if (c->nkey == 0)
        return err_set(e, CUST_ECONFIG, "key: name at least one field forming the idempotency key");
    if (c->unknown < UNKNOWN_DROP || c->unknown > UNKNOWN_REJECT)
        return err_set(e, CUST_ECONFIG, "unknown: expected drop, keep or reject");
    for (size_t k = 0; k < c->nkey; k++) {
        int i = find_field(c, c->key[k]);
        if (i < 0 && find_computed(c, c->key[k]) >= 0)
            continue;
        if (i < 0)
            return err_set(e, CUST_ECONFIG, "key: \"%s\" is not a declared field", c->key[k]);
        if (c->fields[i].nullable)
            return err_set(e, CUST_ECONFIG, "key: field %s is nullable; key fields must have a value", c->key[k]);
        if (c->fields[i].type == FT_ARRAY || c->fields[i].type == FT_OBJECT)
            return err_set(e, CUST_ECONFIG, "key: field %s is an %s; key fields must be scalars", c->key[k],
                           contract_type_name(c->fields[i].type));
    }
    for (size_t j = 0; j < c->ncomputed; j++) {
        contract_computed *k = &c->computed[j];
        if (find_field(c, k->name) >= 0 || find_computed(c, k->name) != (int)j)
            return err_set(e, CUST_ECONFIG, "computed %s: the name is already used", k->name);
        if (k->nconcat == 0)
            return err_set(e, CUST_ECONFIG, "computed %s: concat: name at least one field", k->name);
        if (k->sep && !*k->sep && k->nconcat > 1)
            return err_set(e, CUST_ECONFIG, "computed %s: sep must not be empty (the parts would run together)",
                           k->name);
        for (size_t p = 0; p < k->nconcat; p++) {
            int i = find_field(c, k->concat[p]);
            if (i < 0)
                return err_set(e, CUST_ECONFIG, "computed %s: concat: \"%s\" is not a declared field", k->name,
                               k->concat[p]);
            if (c->fields[i].type == FT_ARRAY || c->fields[i].type == FT_OBJECT)
                return err_set(e, CUST_ECONFIG, "computed %s: concat: field %s is not a scalar", k->name,
                               k->concat[p]);
        }
    }
    for (size_t i = 0; i < c->nfields; i++) {
        contract_field *f = &c->fields[i];
        field_type t = eff_type(f);
        if ((unsigned)f->type > FT_OBJECT || (f->has_items && (unsigned)f->items > FT_OBJECT))
            return err_set(e, CUST_ECONFIG, "field %s: unknown type", f->name);
        if (f->from) {
            struct err pe = {0};
            if (!json_path_valid(f->from, &pe))
                return err_set(e, CUST_ECONFIG, "field %s: from: %s", f->name, pe.msg);
        }
        if (f->has_items && f->type != FT_ARRAY)
            return err_set(e, CUST_ECONFIG, "field %s: items applies to array fields", f->name);
        if (f->has_items && (f->items == FT_ARRAY || f->items == FT_OBJECT))
            return err_set(e, CUST_ECONFIG, "field %s: items must be a scalar type", f->name);
        if ((f->has_min_items || f->has_max_items) && f->type != FT_ARRAY)
            return err_set(e, CUST_ECONFIG, "field %s: min_items/max_items apply to array fields", f->name);
        if (f->has_min_items && f->has_max_items && f->min_items > f->max_items)
            return err_set(e, CUST_ECONFIG, "field %s: min_items %zu exceeds max_items %zu", f->name, f->min_items,
                           f->max_items);
        if (t == FT_ENUM && f->nvalues == 0)
            return err_set(e, CUST_ECONFIG, "field %s: type enum needs values: [...]", f->name);
        if (f->fallback && t != FT_ENUM)
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
        if (f->bounds && t != FT_NUMBER && t != FT_INTEGER && t != FT_DECIMAL)
            return err_set(e, CUST_ECONFIG, "field %s: gt/ge/lt/le apply to number and integer fields (and decimal)",
                           f->name);
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
        for (int k = 0; k < 4; k++) {
            free(f->dec_bound[k]);
            f->dec_bound[k] = NULL;
        }
        if (f->bounds && t == FT_DECIMAL) {
            static const unsigned bit[] = {BOUND_GT, BOUND_GE, BOUND_LT, BOUND_LE};
            double val[4];
            val[0] = f->gt, val[1] = f->ge, val[2] = f->lt, val[3] = f->le;
            for (int k = 0; k < 4; k++) {
                char num[32];
                if (!(f->bounds & bit[k]))
                    continue;
                if (!jcs_number(val[k], num))
                    return err_set(e, CUST_ECONFIG, "field %s: bounds must be finite numbers", f->name);
                if (!(f->dec_bound[k] = strdup(num)))
                    return err_set(e, CUST_ENOMEM, "out of memory");
            }
        }
        if ((f->has_min_length || f->has_max_length || f->pattern) && !stringish(t))
            return err_set(e, CUST_ECONFIG, "field %s: length and pattern rules apply to strings", f->name);
        if ((f->normalize & NORM_UTC) && t != FT_DATETIME)
            return err_set(e, CUST_ECONFIG, "field %s: normalize utc applies to datetime fields", f->name);
        if ((f->normalize & NORM_LOWER) && (f->normalize & NORM_UPPER))
            return err_set(e, CUST_ECONFIG, "field %s: normalize lower and upper together", f->name);
        if ((rc = check_format(f, e)))
            return rc;
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
        if ((rc = check_default(c, f, e)))
            return rc;
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
        free(f->format);
        free(f->zone);
        free(f->def);
        free(f->def_json);
        for (int k = 0; k < 4; k++)
            free(f->dec_bound[k]);
    }
    for (size_t i = 0; i < c->ncomputed; i++) {
        free(c->computed[i].name);
        free_strs(c->computed[i].concat, c->computed[i].nconcat);
        free(c->computed[i].sep);
    }
    free(c->computed);
    free(c->fields);
    free_strs(c->key, c->nkey);
    free(c->name);
    free(c->schema_file);
    memset(c, 0, sizeof *c);
}

/* ---- record level ------------------------------------------------------- */

/* The raw member a from path starts at: 1 with *p and *n, 2 for "$" (the whole
 * record), 0 when it starts with an index. */
static int first_step(const char *path, const char **p, size_t *n)
{
    const char *q = path;
    if (*q == '$' && !*++q)
        return 2;
    if (*q == '.') {
        q++;
    } else if (*q == '[') {
        const char *end;
        if (q[1] != '\'' && q[1] != '"')
            return 0;
        if (!(end = strchr(q + 2, q[1])))
            return 0;
        *p = q + 2;
        *n = (size_t)(end - q - 2);
        return 1;
    }
    *p = q;
    *n = strcspn(q, ".[");
    return 1;
}

static int eqn(const char *a, const char *k, size_t n)
{
    return strlen(a) == n && !memcmp(a, k, n);
}

/* Is the raw member k read by some field (or named like an output field)? */
static int member_read(const contract *c, const char *k, size_t n)
{
    for (size_t i = 0; i < c->nfields; i++) {
        const contract_field *f = &c->fields[i];
        const char *p;
        size_t pn;
        int r;
        if (eqn(f->name, k, n))
            return 1;
        if (f->from && (r = first_step(f->from, &p, &pn)) && (r == 2 || (pn == n && !memcmp(p, k, n))))
            return 1;
    }
    for (size_t i = 0; i < c->ncomputed; i++)
        if (eqn(c->computed[i].name, k, n))
            return 1;
    return 0;
}

static int is_key_name(const contract *c, const char *name)
{
    for (size_t k = 0; k < c->nkey; k++)
        if (!strcmp(c->key[k], name))
            return 1;
    return 0;
}

/* A field is a key field when named in key or part of a computed key. */
static int field_is_key(const contract *c, const char *name)
{
    if (is_key_name(c, name))
        return 1;
    for (size_t j = 0; j < c->ncomputed; j++)
        if (is_key_name(c, c->computed[j].name))
            for (size_t p = 0; p < c->computed[j].nconcat; p++)
                if (!strcmp(c->computed[j].concat[p], name))
                    return 1;
    return 0;
}

static int add_escaped(buf *b, const char *s, size_t n, const char *sep)
{
    size_t sl = strlen(sep);
    for (size_t i = 0; i < n;) {
        if (s[i] == '\\' || (sl && n - i >= sl && !memcmp(s + i, sep, sl))) {
            size_t k = s[i] == '\\' ? 1 : sl;
            if (buf_addc(b, '\\') || buf_add(b, s + i, k))
                return -1;
            i += k;
        } else if (buf_addc(b, s[i++])) {
            return -1;
        }
    }
    return 0;
}

static int computed_value(struct apply *A, const contract_computed *k, const json_value *obj, json_value **out)
{
    const char *sep = k->sep ? k->sep : "~";
    buf_reset(&A->tmp);
    if (buf_add(&A->tmp, "", 0))
        return -1;
    for (size_t p = 0; p < k->nconcat; p++) {
        const json_value *v = json_get(obj, k->concat[p]);
        if (p && buf_adds(&A->tmp, sep))
            return -1;
        if (!v || v->type == JSON_NULL)
            continue;
        if (v->type == JSON_STRING) {
            if (add_escaped(&A->tmp, v->u.str, v->len, sep))
                return -1;
        } else {
            if (buf_reset(&A->tmp2), jcs_write(v, &A->tmp2, A->e) ||
                add_escaped(&A->tmp, A->tmp2.ptr, A->tmp2.len, sep))
                return -1;
        }
    }
    *out = json_new_string(A->doc, A->tmp.ptr, A->tmp.len);
    return *out ? 0 : -1;
}

int contract_apply(const contract *c, const json_value *raw, json_doc *out_doc, json_value **canonical,
                   buf *key_out, buf *errors_json, struct err *e)
{
    struct apply A;
    json_value *obj = NULL, *key = NULL;
    int rc = -1;
    apply_init(&A, c, out_doc, errors_json, e);
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
    if (!(obj = json_new_object(out_doc, c->nfields + c->ncomputed)) || !(key = json_new_array(out_doc, c->nkey)))
        goto fail;
    for (size_t i = 0; i < c->nfields; i++) {
        const contract_field *f = &c->fields[i];
        json_value *v;
        if (one_field(&A, f, raw, field_is_key(c, f->name), &v))
            goto fail;
        if (v && json_object_put(out_doc, obj, f->name, strlen(f->name), v))
            goto fail;
    }
    if (c->unknown != UNKNOWN_DROP) {
        for (size_t i = 0; i < raw->len; i++) {
            const json_member *m = &raw->u.members[i];
            if (member_read(c, m->key, m->key_len))
                continue;
            member_path(&A, m->key, m->key_len);
            if (c->unknown == UNKNOWN_REJECT) {
                if (emit_error(&A, 0, "unknown_field", m->value, "not a field of the contract (unknown: reject)"))
                    goto fail;
                continue;
            }
            /* keep: it must have a content hash, exactly */
            {
                const json_value *b = find_big_int(m->value, 0);
                struct err je = {0};
                if (b) {
                    char msg[160];
                    snprintf(msg, sizeof msg, "kept member holds an integer beyond +-2^53 (%.40s) that JSON numbers "
                                              "cannot fingerprint exactly", b->u.str);
                    if (emit_error(&A, 0, "range", m->value, msg))
                        goto fail;
                    continue;
                }
                buf_reset(&A.tmp2);
                if (jcs_write(m->value, &A.tmp2, &je)) {
                    char msg[600];
                    snprintf(msg, sizeof msg, "kept member is not I-JSON: %s", je.msg);
                    if (emit_error(&A, 0, "format", m->value, msg))
                        goto fail;
                }
            }
        }
    }
    if (A.nerr)
        goto done;
    for (size_t j = 0; j < c->ncomputed; j++) {
        json_value *v;
        if (computed_value(&A, &c->computed[j], obj, &v) ||
            json_object_put(out_doc, obj, c->computed[j].name, strlen(c->computed[j].name), v))
            goto fail;
    }
    if (c->unknown == UNKNOWN_KEEP)
        for (size_t i = 0; i < raw->len; i++) {
            const json_member *m = &raw->u.members[i];
            if (!member_read(c, m->key, m->key_len) &&
                json_object_put(out_doc, obj, m->key, m->key_len, m->value))
                goto fail;
        }
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
    apply_release(&A);
    return rc;
fail:
    if (e && !e->code)
        err_set(e, CUST_ENOMEM, "out of memory or over a size cap while applying contract %s", c->name);
    apply_release(&A);
    return -1;
}
