/* tz.c - TZif parsing (RFC 8536) and UTC <-> local conversions, with the
 * footer's POSIX TZ rule for instants past the transition table. Pure: no
 * file I/O, no libc time zone functions, no state but the constant UTC
 * zone. Leap-second ("right/") data is refused rather than misread. */
#include "tz.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY 86400
/* RFC 8536 asks writers to keep UT offsets within -25:59:59 .. +25:59:59;
 * the bound keeps every local time within a day of its instant, so a
 * window of two days either side always holds all candidates. */
#define OFF_MAX 93599
#define WINDOW (2 * DAY)
#define FOOTER_MAX 255     /* longest TZ string accepted (real ones: < 40) */
#define RULE_HOURS_MAX 167 /* RFC 8536 version 3 extension of the rule time */

typedef struct rule_date {
    char kind;    /* 'J': Julian 1-365 without Feb 29; 'N': 0-365 with it; 'M': month.week.day */
    int n, m, w, d;
    int32_t secs; /* local time of day of the change, -167h .. 167h */
} rule_date;

typedef struct tz_rule {
    int present; /* a non-empty footer TZ string */
    int has_dst;
    int32_t std_off, dst_off; /* seconds east of UTC */
    rule_date start, end;     /* start: std -> dst (std local time); end: dst -> std (dst local time) */
} tz_rule;

struct tz_zone {
    char name[TZ_NAME_MAX];
    size_t ntrans, ntypes;
    int64_t *trans;       /* ascending transition instants */
    int32_t *offs;        /* UT offset of each local time type */
    unsigned char *idx;   /* type in effect from trans[i] */
    tz_rule rule;
    int is_static;
};

static int32_t utc_offs[1] = {0};
static tz_zone utc_zone = {.name = "UTC", .ntrans = 0, .ntypes = 1, .offs = utc_offs, .is_static = 1};

/* ---- calendar ------------------------------------------------------------- */

/* Howard Hinnant's days_from_civil / civil_from_days (public domain). */
int64_t tz_days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;
    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (int64_t)(m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void tz_civil_from_days(int64_t days, int64_t *y, int *m, int *d)
{
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int mm = (int)(mp < 10 ? mp + 3 : mp - 9);
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = mm;
    *y = yoe + era * 400 + (mm <= 2);
}

int tz_weekday_of_days(int64_t days)
{
    return (int)(((days % 7) + 7 + 4) % 7); /* 1970-01-01 was a Thursday */
}

int tz_weekday(const tz_civil *c)
{
    return tz_weekday_of_days(tz_days_from_civil(c->year, c->month, c->day));
}

int tz_is_leap(int64_t y)
{
    return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

int tz_days_in_month(int64_t y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m < 1 || m > 12)
        return 0;
    return m == 2 && tz_is_leap(y) ? 29 : dim[m - 1];
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int64_t clamp_s(int64_t t)
{
    return t < TZ_MIN_S ? TZ_MIN_S : t > TZ_MAX_S ? TZ_MAX_S : t;
}

static int64_t year_of(int64_t t)
{
    int64_t y;
    int m, d;
    tz_civil_from_days(floor_div(t, DAY), &y, &m, &d);
    return y;
}

/* ---- the footer rule -------------------------------------------------------- */

static int64_t rule_day(const rule_date *r, int64_t y)
{
    int64_t jan1 = tz_days_from_civil(y, 1, 1), first, day;
    int dim;
    switch (r->kind) {
    case 'J':
        return jan1 + r->n - 1 + (tz_is_leap(y) && r->n >= 60);
    case 'N':
        return jan1 + r->n;
    default:
        first = tz_days_from_civil(y, r->m, 1);
        dim = tz_days_in_month(y, r->m);
        day = first + (r->d - tz_weekday_of_days(first) + 7) % 7 + 7 * (r->w - 1);
        if (day >= first + dim) /* week 5 means the last such day */
            day -= 7;
        return day;
    }
}

static int64_t rule_start(const tz_rule *r, int64_t y)
{
    return rule_day(&r->start, y) * DAY + r->start.secs - r->std_off;
}

static int64_t rule_end(const tz_rule *r, int64_t y)
{
    return rule_day(&r->end, y) * DAY + r->end.secs - r->dst_off;
}

/* The state is set by the latest change at or before t; a start and an
 * end at the same instant (DST all year, "EST5EDT,0/0,J365/25") leave DST
 * in effect, as tzcode reads it. */
static int32_t rule_offset(const tz_rule *r, int64_t t)
{
    int64_t y, best = INT64_MIN;
    int dst = 0, found = 0;
    if (!r->has_dst)
        return r->std_off;
    y = year_of(t);
    /* rule times reach +-167 h, so a neighbouring year's change can fall
     * on either side of t */
    for (int64_t yy = y - 2; yy <= y + 1; yy++) {
        int64_t en = rule_end(r, yy), st = rule_start(r, yy);
        if (en <= t && (!found || en > best)) {
            best = en;
            dst = 0;
            found = 1;
        }
        if (st <= t && (!found || st >= best)) {
            best = st;
            dst = 1;
            found = 1;
        }
    }
    return dst ? r->dst_off : r->std_off;
}

static int64_t rule_next(const tz_rule *r, int64_t t)
{
    int64_t y, cur = t;
    if (!r->has_dst || r->std_off == r->dst_off)
        return INT64_MAX;
    y = year_of(t);
    /* Ten years always include a leap year (2100 is not one), in case the
     * rule only changes anything on Feb 29. */
    for (int guard = 0; guard < 24; guard++) {
        int64_t next = INT64_MAX;
        for (int64_t yy = y - 1; yy <= y + 9; yy++) {
            int64_t a = rule_start(r, yy), b = rule_end(r, yy);
            if (a > cur && a < next)
                next = a;
            if (b > cur && b < next)
                next = b;
        }
        if (next == INT64_MAX)
            return INT64_MAX;
        if (rule_offset(r, next) != rule_offset(r, next - 1))
            return next;
        cur = next;
    }
    return INT64_MAX;
}

/* ---- POSIX TZ string ------------------------------------------------------ */

static int is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static const char *p_name(const char *p)
{
    const char *s;
    if (*p == '<') {
        s = ++p;
        while (is_alpha(*p) || is_digit(*p) || *p == '+' || *p == '-')
            p++;
        if (*p != '>' || p - s < 3)
            return NULL;
        return p + 1;
    }
    s = p;
    while (is_alpha(*p))
        p++;
    return p - s < 3 ? NULL : p;
}

static const char *p_int(const char *p, int lo, int hi, int *out)
{
    int v = 0, n = 0;
    while (is_digit(*p)) {
        if (++n > 3)
            return NULL;
        v = v * 10 + (*p++ - '0');
    }
    if (n == 0 || v < lo || v > hi)
        return NULL;
    *out = v;
    return p;
}

/* [+-]hh[:mm[:ss]], hours up to maxh; the value in seconds. */
static const char *p_time(const char *p, int maxh, int32_t *out)
{
    int sign = 1, h, m = 0, s = 0;
    if (*p == '+' || *p == '-')
        sign = *p++ == '-' ? -1 : 1;
    if (!(p = p_int(p, 0, maxh, &h)))
        return NULL;
    if (*p == ':') {
        if (!(p = p_int(p + 1, 0, 59, &m)))
            return NULL;
        if (*p == ':' && !(p = p_int(p + 1, 0, 59, &s)))
            return NULL;
    }
    *out = sign * (h * 3600 + m * 60 + s);
    return p;
}

static const char *p_date(const char *p, rule_date *r)
{
    r->secs = 7200; /* 02:00 unless given */
    if (*p == 'J') {
        r->kind = 'J';
        p = p_int(p + 1, 1, 365, &r->n);
    } else if (*p == 'M') {
        r->kind = 'M';
        if (!(p = p_int(p + 1, 1, 12, &r->m)) || *p != '.' || !(p = p_int(p + 1, 1, 5, &r->w)) || *p != '.')
            return NULL;
        p = p_int(p + 1, 0, 6, &r->d);
    } else {
        r->kind = 'N';
        p = p_int(p, 0, 365, &r->n);
    }
    if (p && *p == '/')
        p = p_time(p + 1, RULE_HOURS_MAX, &r->secs);
    return p;
}

/* Parse a footer TZ string such as "EST5EDT,M3.2.0,M11.1.0" or
 * "<+0530>-5:30". Returns 1, or 0 when malformed. */
static int parse_rule(const char *s, tz_rule *r)
{
    const char *p = s;
    int32_t off;
    memset(r, 0, sizeof *r);
    if (!*p)
        return 1; /* empty: no rule */
    r->present = 1;
    if (!(p = p_name(p)) || !(p = p_time(p, 24, &off)))
        return 0;
    r->std_off = -off; /* POSIX offsets count west */
    if (!*p)
        return 1;
    r->has_dst = 1;
    if (!(p = p_name(p)))
        return 0;
    r->dst_off = r->std_off + 3600;
    if (*p && *p != ',') {
        if (!(p = p_time(p, 24, &off)))
            return 0;
        r->dst_off = -off;
    }
    if (!*p) {
        /* no rule: tzcode's default, the US rules since 2007 */
        r->start = (rule_date){.kind = 'M', .m = 3, .w = 2, .d = 0, .secs = 7200};
        r->end = (rule_date){.kind = 'M', .m = 11, .w = 1, .d = 0, .secs = 7200};
        return 1;
    }
    if (*p != ',' || !(p = p_date(p + 1, &r->start)) || *p != ',' || !(p = p_date(p + 1, &r->end)))
        return 0;
    return *p == '\0';
}

/* ---- TZif ----------------------------------------------------------------- */

typedef struct tzif_hdr {
    int version; /* 1, 2, 3, ... */
    uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
} tzif_hdr;

#define HDR_LEN 44

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
    uint64_t u = (uint64_t)be32(p) << 32 | be32(p + 4);
    return u <= (uint64_t)INT64_MAX ? (int64_t)u : -(int64_t)(~u) - 1;
}

static int32_t sbe32(const unsigned char *p)
{
    uint32_t u = be32(p);
    return u <= (uint32_t)INT32_MAX ? (int32_t)u : -(int32_t)(~u) - 1;
}

CUST_PRINTF(3, 4)
static cust_code bad(struct err *e, const char *name, const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return err_set(e, CUST_ECONFIG,
                   "time zone \"%s\": %s (not valid TZif data: reinstall tzdata, or use another zone)", name,
                   what);
}

static int read_hdr(const unsigned char *d, size_t len, size_t at, tzif_hdr *h)
{
    if (len < HDR_LEN || at > len - HDR_LEN || memcmp(d + at, "TZif", 4) != 0)
        return 0;
    if (d[at + 4] == 0)
        h->version = 1;
    else if (d[at + 4] >= '2' && d[at + 4] <= '9')
        h->version = d[at + 4] - '0';
    else
        return -1;
    h->isutcnt = be32(d + at + 20);
    h->isstdcnt = be32(d + at + 24);
    h->leapcnt = be32(d + at + 28);
    h->timecnt = be32(d + at + 32);
    h->typecnt = be32(d + at + 36);
    h->charcnt = be32(d + at + 40);
    return 1;
}

static uint64_t block_len(const tzif_hdr *h, unsigned ts)
{
    return (uint64_t)h->timecnt * ts + h->timecnt + (uint64_t)h->typecnt * 6 + h->charcnt +
           (uint64_t)h->leapcnt * (ts + 4) + h->isstdcnt + h->isutcnt;
}

cust_code tz_parse(const char *name, const unsigned char *data, size_t len, tz_zone **out, struct err *e)
{
    const char *nm = name ? name : "(unnamed)";
    tzif_hdr h;
    size_t at = 0, nlen;
    unsigned ts = 4;
    uint64_t blen;
    const unsigned char *p;
    tz_zone *z = NULL;
    char footer[FOOTER_MAX + 1] = "";
    tz_rule rule;
    int r;

    if (!data)
        len = 0;
    r = read_hdr(data, len, 0, &h);
    if (r == 0)
        return bad(e, nm, "no \"TZif\" header (%zu bytes)", len);
    if (r < 0)
        return bad(e, nm, "unknown TZif version byte 0x%02x", data[4]);
    if (h.version >= 2) {
        /* skip the 32-bit block: the 64-bit one after it is complete */
        blen = block_len(&h, 4);
        if (blen > len - HDR_LEN)
            return bad(e, nm, "version 1 data block overruns the file (%llu bytes declared, %zu present)",
                       (unsigned long long)blen, len - HDR_LEN);
        at = HDR_LEN + (size_t)blen;
        r = read_hdr(data, len, at, &h);
        if (r <= 0)
            return bad(e, nm, "missing or bad second header at byte %zu", at);
        if (h.version < 2)
            return bad(e, nm, "second header has version 1");
        ts = 8;
    }
    at += HDR_LEN;
    if (h.leapcnt)
        return bad(e, nm, "has leap-second records (a \"right/\" zone); use the zone without \"right/\"");
    if (h.typecnt == 0 || h.typecnt > 256)
        return bad(e, nm, "%u local time types (must be 1-256)", h.typecnt);
    if (h.charcnt == 0)
        return bad(e, nm, "no time zone designations");
    if ((h.isutcnt && h.isutcnt != h.typecnt) || (h.isstdcnt && h.isstdcnt != h.typecnt))
        return bad(e, nm, "indicator counts (%u, %u) differ from the type count %u", h.isstdcnt, h.isutcnt,
                   h.typecnt);
    blen = block_len(&h, ts);
    if (blen > len - at)
        return bad(e, nm, "data block overruns the file (%llu bytes declared, %zu present)",
                   (unsigned long long)blen, len - at);

    p = data + at;
    {
        /* transitions ascending, type indexes in range, offsets sane */
        const unsigned char *tp = p, *ip = p + (size_t)h.timecnt * ts, *yp = ip + h.timecnt;
        int64_t prev = 0;
        for (uint32_t i = 0; i < h.timecnt; i++) {
            int64_t t = ts == 8 ? be64(tp + (size_t)i * 8) : sbe32(tp + (size_t)i * 4);
            if (i && t <= prev)
                return bad(e, nm, "transition %u is not after transition %u", i, i - 1);
            if (ip[i] >= h.typecnt)
                return bad(e, nm, "transition %u uses type %u of %u", i, ip[i], h.typecnt);
            prev = t;
        }
        for (uint32_t i = 0; i < h.typecnt; i++) {
            int32_t off = sbe32(yp + (size_t)i * 6);
            if (off < -OFF_MAX || off > OFF_MAX)
                return bad(e, nm, "type %u has UT offset %ld s (beyond +-25:59:59)", i, (long)off);
            if (yp[i * 6 + 4] > 1)
                return bad(e, nm, "type %u has DST flag %u", i, yp[i * 6 + 4]);
            if (yp[i * 6 + 5] >= h.charcnt)
                return bad(e, nm, "type %u names designation %u of %u", i, yp[i * 6 + 5], h.charcnt);
        }
        {
            const unsigned char *ind = yp + (size_t)h.typecnt * 6 + h.charcnt;
            for (uint32_t i = 0; i < h.isstdcnt + h.isutcnt; i++)
                if (ind[i] > 1)
                    return bad(e, nm, "standard/UT indicator %u is %u (must be 0 or 1)", i, ind[i]);
        }
    }

    at += (size_t)blen;
    if (h.version >= 2) {
        const unsigned char *nl;
        size_t flen;
        if (at >= len || data[at] != '\n')
            return bad(e, nm, "missing footer after the version %d data", h.version);
        nl = memchr(data + at + 1, '\n', len - at - 1);
        if (!nl)
            return bad(e, nm, "footer TZ string is not closed by a newline");
        flen = (size_t)(nl - (data + at + 1));
        if (flen > FOOTER_MAX)
            return bad(e, nm, "footer TZ string of %zu bytes (at most %d)", flen, FOOTER_MAX);
        memcpy(footer, data + at + 1, flen);
        footer[flen] = '\0';
        if (strlen(footer) != flen)
            return bad(e, nm, "footer TZ string holds a NUL byte");
        at += flen + 2;
        if (at != len)
            return bad(e, nm, "%zu bytes after the footer", len - at);
    } else if (at != len) {
        return bad(e, nm, "%zu bytes after the data block", len - at);
    }
    if (!parse_rule(footer, &rule))
        return bad(e, nm, "footer TZ string \"%s\" is not a POSIX TZ rule", footer);

    {
        /* one block: struct, then transitions, offsets and indexes */
        size_t sz = sizeof *z + (size_t)h.timecnt * sizeof(int64_t) + (size_t)h.typecnt * sizeof(int32_t) +
                    h.timecnt;
        const unsigned char *ip = p + (size_t)h.timecnt * ts, *yp = ip + h.timecnt;
        z = calloc(1, sz);
        if (!z)
            return err_set(e, CUST_ENOMEM, "time zone \"%s\": out of memory (%zu bytes)", nm, sz);
        z->trans = (int64_t *)(void *)(z + 1);
        z->offs = (int32_t *)(void *)(z->trans + h.timecnt);
        z->idx = (unsigned char *)(z->offs + h.typecnt);
        z->ntrans = h.timecnt;
        z->ntypes = h.typecnt;
        for (uint32_t i = 0; i < h.timecnt; i++) {
            z->trans[i] = ts == 8 ? be64(p + (size_t)i * 8) : sbe32(p + (size_t)i * 4);
            z->idx[i] = ip[i];
        }
        for (uint32_t i = 0; i < h.typecnt; i++)
            z->offs[i] = sbe32(yp + (size_t)i * 6);
        z->rule = rule;
        nlen = strlen(nm);
        if (nlen > TZ_NAME_MAX - 1)
            nlen = TZ_NAME_MAX - 1;
        memcpy(z->name, nm, nlen);
        z->name[nlen] = '\0';
    }
    *out = z;
    return CUST_OK;
}

int tz_name_ok(const char *name)
{
    size_t n = 0, part = 0;
    if (!name)
        return 0;
    for (const char *p = name; *p; p++, n++) {
        char c = *p;
        if (n >= TZ_NAME_MAX - 1)
            return 0;
        if (c == '/') {
            if (part == 0)
                return 0;
            part = 0;
        } else if (is_alpha(c) || is_digit(c) || c == '_' || c == '+' || c == '-') {
            part++;
        } else {
            return 0;
        }
    }
    return part > 0;
}

tz_zone *tz_utc(void)
{
    return &utc_zone;
}

void tz_free(tz_zone *z)
{
    if (z && !z->is_static)
        free(z);
}

const char *tz_name(const tz_zone *z)
{
    return z ? z->name : "UTC";
}

/* ---- conversions ---------------------------------------------------------- */

int32_t tz_offset_at(const tz_zone *z, int64_t utc_s)
{
    size_t n, lo, hi;
    if (!z)
        return 0;
    utc_s = clamp_s(utc_s);
    n = z->ntrans;
    if (n == 0 || utc_s >= z->trans[n - 1]) {
        if (z->rule.present)
            return rule_offset(&z->rule, utc_s);
        return z->offs[n ? z->idx[n - 1] : 0];
    }
    if (utc_s < z->trans[0])
        return z->offs[0]; /* RFC 8536: type 0 before the first transition */
    lo = 0;
    hi = n - 1; /* trans[lo] <= t < trans[hi] */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (z->trans[mid] <= utc_s)
            lo = mid;
        else
            hi = mid;
    }
    return z->offs[z->idx[lo]];
}

int64_t tz_next_transition(const tz_zone *z, int64_t utc_s)
{
    size_t n, lo, hi;
    int64_t t = utc_s < TZ_MIN_S ? TZ_MIN_S : utc_s, r;
    if (!z || t >= TZ_MAX_S)
        return INT64_MAX;
    n = z->ntrans;
    if (n > 0 && t < z->trans[n - 1]) {
        /* first transition after t */
        if (t < z->trans[0]) {
            lo = 0;
        } else {
            lo = 0;
            hi = n - 1; /* trans[lo] <= t < trans[hi] */
            while (hi - lo > 1) {
                size_t mid = lo + (hi - lo) / 2;
                if (z->trans[mid] <= t)
                    lo = mid;
                else
                    hi = mid;
            }
            lo = hi;
        }
        for (; lo < n; lo++) {
            int64_t tr = z->trans[lo];
            if (tr > TZ_MAX_S)
                return INT64_MAX;
            if (tr > TZ_MIN_S && tz_offset_at(z, tr) != tz_offset_at(z, tr - 1))
                return tr;
        }
        t = z->trans[n - 1];
    }
    if (!z->rule.present)
        return INT64_MAX;
    r = rule_next(&z->rule, t);
    return r > TZ_MAX_S ? INT64_MAX : r;
}

void tz_to_local(const tz_zone *z, int64_t utc_s, tz_civil *out)
{
    int64_t t = clamp_s(utc_s), lt, days, y, secs;
    int m, d;
    lt = t + tz_offset_at(z, t);
    days = floor_div(lt, DAY);
    secs = lt - days * DAY;
    tz_civil_from_days(days, &y, &m, &d);
    out->year = (int)y;
    out->month = m;
    out->day = d;
    out->hour = (int)(secs / 3600);
    out->minute = (int)(secs / 60 % 60);
    out->second = (int)(secs % 60);
}

int tz_from_local(const tz_zone *z, const tz_civil *c, int64_t *first_utc, int64_t *second_utc)
{
    int64_t y = c->year, mon = (int64_t)c->month - 1, L;
    /* normalise the month, then let days, hours, minutes and seconds carry */
    y += floor_div(mon, 12);
    mon -= floor_div(mon, 12) * 12;
    if (y < -1000000)
        y = -1000000;
    if (y > 1000000)
        y = 1000000;
    L = (tz_days_from_civil(y, (int)mon + 1, 1) + (int64_t)c->day - 1) * DAY + (int64_t)c->hour * 3600 +
        (int64_t)c->minute * 60 + c->second;
    return tz_from_local_s(z, L, first_utc, second_utc);
}

int tz_from_local_s(const tz_zone *z, int64_t local_s, int64_t *first_utc, int64_t *second_utc)
{
    int64_t L = clamp_s(local_s), lo, hi, seg, gap = INT64_MIN;
    int64_t sol[2] = {0, 0};
    int32_t o;
    int count = 0;

    /* Walk the offset segments around L: local time L - o falls inside the
     * segment whose offset is o exactly when it is a solution. */
    lo = L - WINDOW;
    hi = L + WINDOW;
    seg = lo;
    o = tz_offset_at(z, seg);
    for (;;) {
        int64_t nx = tz_next_transition(z, seg), u = L - o;
        int32_t o2;
        if (u >= seg && u < nx) {
            if (count == 0)
                sol[0] = u;
            sol[1] = u;
            count++;
        }
        if (nx > hi)
            break;
        o2 = tz_offset_at(z, nx);
        /* the clock jumped from nx + o to nx + o2 over L */
        if (gap == INT64_MIN && L >= nx + (int64_t)o && L < nx + (int64_t)o2)
            gap = nx;
        seg = nx;
        o = o2;
    }
    if (count == 0) {
        if (gap == INT64_MIN) /* cannot happen with offsets within OFF_MAX */
            gap = L - tz_offset_at(z, L);
        sol[0] = sol[1] = gap;
    }
    if (first_utc)
        *first_utc = sol[0];
    if (second_utc)
        *second_utc = sol[1];
    return count > 2 ? 2 : count;
}
