/* schedule.c - schedule specs and their next fire instants, jitter, the
 * adaptive interval and the due queue. Pure: times come from the caller,
 * zones are handed in already parsed (core/tz.c); nothing here reads a
 * clock or a file. */
#include "schedule.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY 86400
#define WINDOW (2 * DAY)
#define CYCLE_DAYS 146097 /* the Gregorian calendar repeats every 400 years */
#define QUEUE_DEFAULT_MAX 1000000

/* ---- small helpers -------------------------------------------------------- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_space(char c)
{
    return c == ' ' || c == '\t';
}

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static char show_c(char c)
{
    return (c >= 0x21 && c < 0x7f) ? c : '?';
}

/* The spec text as shown in messages: printable, escaped, at most ~100
 * characters. */
static const char *shown(const char *text, char *out, size_t cap)
{
    size_t o = 0;
    for (const char *p = text; *p && o + 5 < cap; p++) {
        unsigned char c = (unsigned char)*p;
        if (p - text >= 100) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
    }
    out[o] = '\0';
    return out;
}

/* Trim spaces and tabs: [*b, *e) */
static void trim(const char *text, const char **b, const char **e)
{
    const char *s = text, *t = text + strlen(text);
    while (s < t && is_space(*s))
        s++;
    while (t > s && is_space(t[-1]))
        t--;
    *b = s;
    *e = t;
}

/* ---- every ---------------------------------------------------------------- */

cust_code sched_parse_every(const char *text, sched_spec *out, struct err *e)
{
    static const char units[] = "dhms";
    static const int64_t secs[] = {86400, 3600, 60, 1};
    char q[160];
    const char *p, *end;
    int64_t total = 0;
    int last = -1;
    sched_spec s;

    if (!text)
        text = "";
    shown(text, q, sizeof q);
    if (strlen(text) > SCHED_TEXT_MAX)
        return err_set(e, CUST_ECONFIG, "every \"%s\": longer than %d characters", q, SCHED_TEXT_MAX);
    trim(text, &p, &end);
    if (p == end)
        return err_set(e, CUST_ECONFIG, "every \"%s\": empty (write a duration such as 90s, 5m, 1h30m or 2d)", q);
    while (p < end) {
        int64_t n = 0;
        int digits = 0, u;
        const char *at;
        if (is_space(*p))
            return err_set(e, CUST_ECONFIG, "every \"%s\": no spaces inside a duration (write 1h30m)", q);
        if (!is_digit(*p))
            return err_set(e, CUST_ECONFIG, "every \"%s\": unexpected '%c' where a number belongs (write a "
                           "duration such as 90s, 5m, 1h30m or 2d)", q, show_c(*p));
        while (p < end && is_digit(*p)) {
            if (++digits > 9)
                return err_set(e, CUST_ECONFIG, "every \"%s\": number too long (the most is 366d)", q);
            n = n * 10 + (*p++ - '0');
        }
        if (p == end)
            return err_set(e, CUST_ECONFIG, "every \"%s\": %lld has no unit (write %llds, %lldm, %lldh or %lldd)",
                           q, (long long)n, (long long)n, (long long)n, (long long)n, (long long)n);
        at = strchr(units, *p);
        if (*p == 'm' && p + 1 < end && p[1] == 's')
            return err_set(e, CUST_ECONFIG, "every \"%s\": milliseconds are not supported (the minimum is 1s)", q);
        if (is_space(*p))
            return err_set(e, CUST_ECONFIG, "every \"%s\": no spaces inside a duration (write 1h30m)", q);
        if (!at || !*p)
            return err_set(e, CUST_ECONFIG, "every \"%s\": unknown unit \"%c\" (use d, h, m or s, e.g. 1h30m)", q,
                           show_c(*p));
        u = (int)(at - units);
        if (u <= last)
            return err_set(e, CUST_ECONFIG, "every \"%s\": units must go from largest to smallest, each once "
                           "(d, h, m, s; e.g. 1h30m)", q);
        last = u;
        p++;
        total += n * secs[u];
        if (total > SCHED_EVERY_MAX_MS / 1000)
            return err_set(e, CUST_ECONFIG, "every \"%s\": longer than 366d (use a cron schedule for rarer polls)",
                           q);
    }
    if (total * 1000 < SCHED_EVERY_MIN_MS)
        return err_set(e, CUST_ECONFIG, "every \"%s\": a zero interval (the minimum is 1s)", q);
    memset(&s, 0, sizeof s);
    s.kind = SCHED_EVERY;
    s.every_ms = total * 1000;
    *out = s;
    return CUST_OK;
}

cust_code sched_make_every(int64_t every_ms, sched_spec *out, struct err *e)
{
    sched_spec s;
    if (every_ms < SCHED_EVERY_MIN_MS || every_ms > SCHED_EVERY_MAX_MS)
        return err_set(e, CUST_ECONFIG, "every: %lld ms is outside 1s..366d", (long long)every_ms);
    memset(&s, 0, sizeof s);
    s.kind = SCHED_EVERY;
    s.every_ms = every_ms;
    *out = s;
    return CUST_OK;
}

/* ---- daily ---------------------------------------------------------------- */

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Two digits (or one when one_ok) not followed by a third; the value, or
 * -1 with *pp unchanged. */
static int two_digits(const char **pp, const char *end, int one_ok)
{
    const char *p = *pp;
    int v;
    if (p >= end || !is_digit(*p))
        return -1;
    v = *p++ - '0';
    if (p < end && is_digit(*p))
        v = v * 10 + (*p++ - '0');
    else if (!one_ok)
        return -1;
    if (p < end && is_digit(*p))
        return -1;
    *pp = p;
    return v;
}

cust_code sched_parse_daily(const char *text, sched_spec *out, char zone_name[TZ_NAME_MAX], struct err *e)
{
    char q[160], zone[TZ_NAME_MAX] = "";
    const char *p, *end;
    sched_spec s;
    int n = 0;

    if (!text)
        text = "";
    shown(text, q, sizeof q);
    if (strlen(text) > SCHED_TEXT_MAX)
        return err_set(e, CUST_ECONFIG, "daily \"%s\": longer than %d characters", q, SCHED_TEXT_MAX);
    memset(&s, 0, sizeof s);
    s.kind = SCHED_DAILY;
    trim(text, &p, &end);
    if (p == end || !is_digit(*p))
        return err_set(e, CUST_ECONFIG, "daily \"%s\": no time (write local times and an optional zone, e.g. "
                       "\"06:00 America/New_York\" or \"06:00,18:30\")", q);
    for (;;) {
        const char *start = p;
        int h, m, sec = 0;
        char tm[16];
        size_t tl;
        int ok = 0;
        h = two_digits(&p, end, 1);
        if (h >= 0 && p < end && *p == ':') {
            p++;
            m = two_digits(&p, end, 0);
            ok = m >= 0;
            if (ok && p < end && *p == ':') {
                p++;
                sec = two_digits(&p, end, 0);
                ok = sec >= 0;
            }
            ok = ok && (p == end || is_space(*p) || *p == ',');
        }
        if (!ok)
            return err_set(e, CUST_ECONFIG, "daily \"%s\": write times as HH:MM or HH:MM:SS, e.g. 06:00 or "
                           "18:30:15", q);
        tl = (size_t)(p - start) < sizeof tm - 1 ? (size_t)(p - start) : sizeof tm - 1;
        memcpy(tm, start, tl);
        tm[tl] = '\0';
        if (h > 23 || m > 59 || sec > 59)
            return err_set(e, CUST_ECONFIG, "daily \"%s\": %s is not a time of day (use 00:00-23:59)", q, tm);
        if (n == SCHED_MAX_TIMES)
            return err_set(e, CUST_ECONFIG, "daily \"%s\": more than %d times (use a cron schedule)", q,
                           SCHED_MAX_TIMES);
        s.times[n++] = h * 3600 + m * 60 + sec;
        while (p < end && is_space(*p))
            p++;
        if (p < end && *p == ',') {
            p++;
            while (p < end && is_space(*p))
                p++;
            if (p == end || !is_digit(*p))
                return err_set(e, CUST_ECONFIG, "daily \"%s\": a time must follow ','", q);
            continue;
        }
        break;
    }
    if (p < end) {
        const char *z = p;
        size_t zl;
        while (p < end && !is_space(*p))
            p++;
        zl = (size_t)(p - z);
        if (p < end)
            return err_set(e, CUST_ECONFIG, "daily \"%s\": unexpected text after the zone (zone names have no "
                           "spaces: America/New_York, not America/New York)", q);
        if (zl >= TZ_NAME_MAX)
            return err_set(e, CUST_ECONFIG, "daily \"%s\": zone name longer than %d characters", q,
                           TZ_NAME_MAX - 1);
        memcpy(zone, z, zl);
        zone[zl] = '\0';
        if (!tz_name_ok(zone))
            return err_set(e, CUST_ECONFIG, "daily \"%s\": \"%s\" is not a zone name (e.g. America/New_York, "
                           "Europe/London, UTC)", q, shown(zone, (char[96]){0}, 96));
    }
    qsort(s.times, (size_t)n, sizeof *s.times, cmp_i32);
    s.ntimes = 0;
    for (int i = 0; i < n; i++)
        if (s.ntimes == 0 || s.times[s.ntimes - 1] != s.times[i])
            s.times[s.ntimes++] = s.times[i];
    *out = s;
    memcpy(zone_name, zone, sizeof zone);
    return CUST_OK;
}

/* ---- cron ----------------------------------------------------------------- */

typedef struct field_def {
    const char *name;
    int lo, hi;
    const char *const *names; /* three-letter names, or NULL */
    int name_base;            /* value of names[0] */
    const char *name_range;   /* for messages */
} field_def;

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                          "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const dow_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

static const field_def fields[5] = {
    {"minute", 0, 59, NULL, 0, NULL},
    {"hour", 0, 23, NULL, 0, NULL},
    {"day-of-month", 1, 31, NULL, 0, NULL},
    {"month", 1, 12, month_names, 1, "JAN-DEC"},
    {"day-of-week", 0, 7, dow_names, 0, "SUN-SAT"},
};

CUST_PRINTF(4, 5)
static cust_code cron_bad(struct err *e, const char *q, const field_def *f, const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return err_set(e, CUST_ECONFIG, "cron \"%s\": %s: %s", q, f->name, what);
}

/* A number or (month, day-of-week) a name. Returns 0 and fills e on error. */
static int cron_value(const char **pp, const char *end, const field_def *f, const char *q, int *out, struct err *e)
{
    const char *p = *pp;
    int v = 0, digits = 0;
    if (p < end && is_digit(*p)) {
        while (p < end && is_digit(*p)) {
            if (++digits > 4) {
                cron_bad(e, q, f, "number too long (use %d-%d)", f->lo, f->hi);
                return 0;
            }
            v = v * 10 + (*p++ - '0');
        }
        if (v < f->lo || v > f->hi) {
            cron_bad(e, q, f, "%d is out of range (use %d-%d)", v, f->lo, f->hi);
            return 0;
        }
    } else if (p < end && f->names && lower(*p) >= 'a' && lower(*p) <= 'z') {
        const char *s = p;
        size_t n;
        int found = -1;
        while (p < end && lower(*p) >= 'a' && lower(*p) <= 'z')
            p++;
        n = (size_t)(p - s);
        for (int i = 0; n == 3 && i < (f->lo == 1 ? 12 : 7); i++)
            if (lower(s[0]) == f->names[i][0] && lower(s[1]) == f->names[i][1] && lower(s[2]) == f->names[i][2])
                found = i;
        if (found < 0) {
            cron_bad(e, q, f, "unknown name \"%.*s\" (use %s or %d-%d)", (int)(n > 20 ? 20 : n), s,
                     f->name_range, f->lo, f->hi);
            return 0;
        }
        v = found + f->name_base;
    } else {
        if (p >= end)
            cron_bad(e, q, f, "a value is missing (use %d-%d%s%s, or *)", f->lo, f->hi, f->names ? " or " : "",
                     f->names ? f->name_range : "");
        else
            cron_bad(e, q, f, "unexpected '%c' (use %d-%d%s%s, *, lists a,b, ranges a-b and steps /n)",
                     show_c(*p), f->lo, f->hi, f->names ? ", " : "", f->names ? f->name_range : "");
        return 0;
    }
    *pp = p;
    *out = v;
    return 1;
}

/* One field [p, end) into bits. */
static cust_code cron_field(const char *p, const char *end, const field_def *f, const char *q, uint64_t *bits,
                            struct err *e)
{
    uint64_t b = 0;
    for (;;) {
        int lo, hi, step = 1, single = 0;
        const char *item = p;
        if (p < end && *p == ',')
            return cron_bad(e, q, f, "empty list item");
        if (p < end && *p == '*') {
            lo = f->lo;
            hi = f->hi;
            p++;
        } else {
            if (!cron_value(&p, end, f, q, &lo, e))
                return CUST_ECONFIG;
            hi = lo;
            single = 1;
            if (p < end && *p == '-') {
                p++;
                if (!cron_value(&p, end, f, q, &hi, e))
                    return CUST_ECONFIG;
                single = 0;
                if (hi < lo)
                    return cron_bad(e, q, f, "range %d-%d is backwards (write %d-%d,%d-%d)", lo, hi, lo, f->hi,
                                    f->lo, hi);
            }
        }
        if (p < end && *p == '/') {
            int digits = 0;
            p++;
            step = 0;
            if (p >= end || !is_digit(*p))
                return cron_bad(e, q, f, "a step needs a number (use 1-%d)", f->hi - f->lo);
            while (p < end && is_digit(*p)) {
                if (++digits > 4)
                    return cron_bad(e, q, f, "step too large (use 1-%d)", f->hi - f->lo);
                step = step * 10 + (*p++ - '0');
            }
            if (step < 1 || step > f->hi - f->lo)
                return cron_bad(e, q, f, "step %d (use 1-%d)", step, f->hi - f->lo);
            if (single) /* "a/n": a through the last value */
                hi = f->hi;
        }
        if (p < end && *p != ',')
            return cron_bad(e, q, f, "unexpected '%c' in \"%.*s\" (use %d-%d%s%s, *, lists a,b, ranges a-b and "
                            "steps /n)", show_c(*p), (int)(end - item > 40 ? 40 : end - item), item, f->lo,
                            f->hi, f->names ? ", " : "", f->names ? f->name_range : "");
        for (int v = lo; v <= hi; v += step)
            b |= (uint64_t)1 << (f->lo == 0 && f->hi == 7 && v == 7 ? 0 : v);
        if (p == end)
            break;
        p++; /* ',' */
        if (p == end)
            return cron_bad(e, q, f, "empty list item");
    }
    *bits = b;
    return CUST_OK;
}

static const struct {
    const char *name, *expansion;
} macros[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"}, {"@weekly", "0 0 * * 0"},
    {"@daily", "0 0 * * *"},  {"@midnight", "0 0 * * *"}, {"@hourly", "0 * * * *"},
};

cust_code sched_parse_cron(const char *text, sched_spec *out, struct err *e)
{
    char q[160];
    const char *p, *end, *fb[5], *fe[5];
    int nf = 0;
    uint64_t bits[5];
    sched_spec s;

    if (!text)
        text = "";
    shown(text, q, sizeof q);
    if (strlen(text) > SCHED_TEXT_MAX)
        return err_set(e, CUST_ECONFIG, "cron \"%s\": longer than %d characters", q, SCHED_TEXT_MAX);
    trim(text, &p, &end);
    if (p < end && *p == '@') {
        size_t n = (size_t)(end - p);
        for (size_t i = 0; i < sizeof macros / sizeof *macros; i++) {
            if (strlen(macros[i].name) != n)
                continue;
            size_t k = 0;
            while (k < n && lower(p[k]) == macros[i].name[k])
                k++;
            if (k == n)
                return sched_parse_cron(macros[i].expansion, out, e);
        }
        return err_set(e, CUST_ECONFIG, "cron \"%s\": unknown macro (use @hourly, @daily, @midnight, @weekly, "
                       "@monthly, @yearly or @annually; @reboot is not supported)", q);
    }
    while (p < end) {
        if (nf < 5)
            fb[nf] = p;
        while (p < end && !is_space(*p))
            p++;
        if (nf < 5)
            fe[nf] = p;
        nf++;
        while (p < end && is_space(*p))
            p++;
    }
    if (nf != 5) {
        return err_set(e, CUST_ECONFIG, "cron \"%s\": %d field%s; a cron schedule has 5: minute hour day-of-month "
                       "month day-of-week (seconds and years are not supported), or a macro such as @daily",
                       q, nf, nf == 1 ? "" : "s");
    }
    for (int i = 0; i < 5; i++) {
        cust_code rc = cron_field(fb[i], fe[i], &fields[i], q, &bits[i], e);
        if (rc != CUST_OK)
            return rc;
    }
    memset(&s, 0, sizeof s);
    s.kind = SCHED_CRON;
    s.minutes = bits[0];
    s.hours = (uint32_t)bits[1];
    s.mdays = (uint32_t)bits[2];
    s.months = (uint32_t)bits[3];
    s.wdays = (uint32_t)bits[4] & 0x7f;
    s.hour_star = *fb[1] == '*';
    s.dom_star = *fb[2] == '*';
    s.dow_star = *fb[4] == '*';
    *out = s;
    return CUST_OK;
}

void sched_set_zone(sched_spec *s, const tz_zone *z)
{
    if (s)
        s->zone = z;
}

/* ---- next fire ------------------------------------------------------------ */

static int day_matches(const sched_spec *s, int m, int d, int wd)
{
    int dom, dow;
    if (s->kind != SCHED_CRON)
        return 1;
    if (!(s->months >> m & 1))
        return 0;
    dom = (int)(s->mdays >> d & 1);
    dow = (int)(s->wdays >> wd & 1);
    return (s->dom_star || s->dow_star) ? dom && dow : dom || dow;
}

/* The first day number >= d (and <= limit) the spec's calendar matches,
 * INT64_MAX when none. Whole months are skipped when the month, or (with
 * day-of-week unrestricted) every listed day of the month, rules them
 * out, so a never-matching calendar costs O(months). */
static int64_t next_match_day(const sched_spec *s, int64_t d, int64_t limit)
{
    while (d <= limit) {
        int64_t y;
        int m, dd, dim;
        tz_civil_from_days(d, &y, &m, &dd);
        dim = tz_days_in_month(y, m);
        if (s->kind == SCHED_CRON) {
            int skip = !(s->months >> m & 1);
            if (!skip && !s->dom_star && s->dow_star) {
                /* only the listed days can match: any left this month? */
                uint32_t left = s->mdays & (uint32_t)((2ULL << dim) - 1) & ~(uint32_t)((1ULL << dd) - 1);
                skip = left == 0;
            }
            if (skip) {
                d += dim - dd + 1; /* the 1st of next month */
                continue;
            }
        }
        if (day_matches(s, m, dd, tz_weekday_of_days(d)))
            return d;
        d++;
    }
    return INT64_MAX;
}

/* The first time of day (seconds) in the spec strictly after x, -1 if none. */
static int32_t next_tod(const sched_spec *s, int64_t x)
{
    if (x >= DAY - 1)
        return -1;
    if (x < -1)
        x = -1;
    if (s->kind == SCHED_DAILY) {
        for (int i = 0; i < s->ntimes; i++)
            if (s->times[i] > x)
                return s->times[i];
        return -1;
    }
    {
        int mi = (int)((x + 1 + 59) / 60), h = mi / 60, m = mi % 60;
        for (; h < 24; h++, m = 0) {
            uint64_t bits;
            if (!(s->hours >> h & 1))
                continue;
            bits = s->minutes >> m;
            if (bits)
                return h * 3600 + (m + __builtin_ctzll(bits)) * 60;
        }
    }
    return -1;
}

/* The earliest fire on local day d strictly after after_s, INT64_MAX if
 * none. */
static int64_t day_fire(const sched_spec *s, int64_t d, int64_t after_s)
{
    const tz_zone *z = s->zone;
    int64_t base = d * DAY, lo = base - WINDOW, hi = base + DAY + WINDOW, best = INT64_MAX, t;
    int32_t omin, omax, tod;

    omin = omax = tz_offset_at(z, lo);
    t = tz_next_transition(z, lo);
    if (t > hi) {
        /* one offset all day: local order is UTC order */
        tod = next_tod(s, after_s - base + omin);
        return tod < 0 ? INT64_MAX : base + tod - omin;
    }
    for (; t <= hi; t = tz_next_transition(z, t)) {
        int32_t o = tz_offset_at(z, t);
        omin = o < omin ? o : omin;
        omax = o > omax ? o : omax;
    }
    /* A time of day fires no earlier than L - omax and no later than
     * L - omin: only the times in between the two bounds need solving. */
    for (tod = next_tod(s, after_s - base + omin); tod >= 0; tod = next_tod(s, tod)) {
        int64_t L = base + tod, a, b;
        int n;
        if (L - omax >= best)
            break;
        n = tz_from_local_s(z, L, &a, &b);
        if (a > after_s && a < best)
            best = a;
        if (n == 2 && s->kind == SCHED_CRON && s->hour_star && b > after_s && b < best)
            best = b;
    }
    return best;
}

/* Days are tried in local calendar order from two days before after_s's
 * local date (a fold or gap can move a time across midnight). Once a day
 * yields a fire, two more days are tried: a fold across midnight can put
 * the next day's first fire before this day's last. */
static int64_t next_calendar(const sched_spec *s, int64_t after_s)
{
    int64_t start = floor_div(after_s + tz_offset_at(s->zone, after_s), DAY) - 2;
    int64_t limit = start + CYCLE_DAYS + 4, maxday = floor_div(TZ_MAX_S, DAY), best = INT64_MAX, found = -1;
    int64_t d = start;
    if (limit > maxday)
        limit = maxday;
    while ((d = next_match_day(s, d, limit)) != INT64_MAX) {
        int64_t f;
        if (found >= 0 && d > found + 2)
            break;
        f = day_fire(s, d, after_s);
        if (f < best)
            best = f;
        if (found < 0 && f != INT64_MAX)
            found = d;
        d++;
    }
    return best;
}

int64_t sched_next(const sched_spec *s, int64_t after_ms)
{
    int64_t after_s, f;
    if (!s)
        return -1;
    if (after_ms < SCHED_MIN_MS)
        after_ms = SCHED_MIN_MS - 1;
    if (after_ms >= SCHED_MAX_MS)
        return -1;
    switch (s->kind) {
    case SCHED_EVERY:
        if (s->every_ms < SCHED_EVERY_MIN_MS)
            return -1;
        f = (floor_div(after_ms, s->every_ms) + 1) * s->every_ms;
        return f > SCHED_MAX_MS ? -1 : f;
    case SCHED_DAILY:
        if (s->ntimes <= 0)
            return -1;
        break;
    case SCHED_CRON:
        if (!s->minutes || !s->hours || !s->months || !(s->mdays | s->wdays))
            return -1;
        break;
    default:
        return -1;
    }
    after_s = floor_div(after_ms, 1000);
    f = next_calendar(s, after_s);
    return f == INT64_MAX || f > TZ_MAX_S ? -1 : f * 1000;
}

int64_t sched_nominal_ms(const sched_spec *s)
{
    const int64_t ref = 11323; /* 2001-01-01, a Monday */
    int64_t gap = 0, prev = -1, d, first_tod, last_tod = -1, matched = 0;
    int32_t tod;
    if (!s)
        return -1;
    switch (s->kind) {
    case SCHED_EVERY:
        return s->every_ms >= SCHED_EVERY_MIN_MS ? s->every_ms : -1;
    case SCHED_DAILY:
        return s->ntimes > 0 ? (int64_t)DAY * 1000 / s->ntimes : -1;
    case SCHED_CRON:
        break;
    default:
        return -1;
    }
    /* Within a day the times are the same every day (in UTC). */
    first_tod = next_tod(s, -1);
    if (first_tod < 0)
        return -1;
    for (tod = (int32_t)first_tod; tod >= 0; tod = next_tod(s, tod)) {
        if (last_tod >= 0 && tod - last_tod > gap)
            gap = tod - last_tod;
        last_tod = tod;
    }
    /* Between matching days: the last time of one to the first of the next,
     * over a year, however long it takes to see two matching days. */
    for (d = ref; (d = next_match_day(s, d, ref + 2 * CYCLE_DAYS)) != INT64_MAX; d++) {
        if (prev >= 0) {
            int64_t g = (d - prev) * DAY - last_tod + first_tod;
            if (g > gap)
                gap = g;
        }
        prev = d;
        matched++;
        if (matched >= 2 && d - ref >= 366)
            break;
    }
    if (matched < 2)
        return -1;
    return gap * 1000;
}

/* ---- jitter --------------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

int64_t sched_jitter_ms(const char *source_name, int64_t max_ms, uint64_t seed)
{
    uint64_t h = 0xcbf29ce484222325ULL, st = seed, m, floor_, x;
    if (max_ms <= 0)
        return 0;
    for (const unsigned char *p = (const unsigned char *)(source_name ? source_name : ""); *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ULL;
    }
    st = h ^ splitmix64(&st);
    m = (uint64_t)max_ms;
    floor_ = (0 - m) % m; /* 2^64 mod m: values below it would favour small results */
    do
        x = splitmix64(&st);
    while (x < floor_);
    return (int64_t)(x % m);
}

/* ---- adaptive interval ---------------------------------------------------- */

void sched_adapt_default(sched_adapt *a)
{
    a->enabled = 0;
    a->backoff = 2.0;
    a->min_ms = 1000;
    a->max_ms = 0;
}

static int64_t grow(int64_t from, double f, int64_t cap)
{
    double v = ceil((double)from * f);
    if (!(v < (double)cap))
        return cap;
    return (int64_t)v > from ? (int64_t)v : from + 1 < cap ? from + 1 : cap;
}

int64_t sched_adapt_next(const sched_adapt *a, int64_t base_ms, int64_t current_ms, sched_outcome o)
{
    int64_t base = base_ms < 1 ? 1 : base_ms, cap, from, lo;
    double f;
    if (!a || !a->enabled)
        return base;
    cap = a->max_ms > 0 ? a->max_ms : (base > INT64_MAX / 16 ? INT64_MAX : base * 16);
    if (cap < base)
        cap = base;
    f = (a->backoff > 1.0 && a->backoff < 1e6) ? a->backoff : 2.0; /* NaN fails both */
    from = current_ms < base ? base : current_ms > cap ? cap : current_ms;
    switch (o) {
    case SCHED_OUT_OK:
        return base;
    case SCHED_OUT_IDLE:
        return grow(from, sqrt(f), cap);
    case SCHED_OUT_ERROR:
        return grow(from, f, cap);
    case SCHED_OUT_BEHIND:
        lo = a->min_ms > 0 ? a->min_ms : 1000;
        return lo < base ? lo : base;
    }
    return base;
}

/* ---- due queue ------------------------------------------------------------ */

/* The heap holds entries; an open-addressing table (linear probing,
 * power-of-two size, at most half full) maps id -> heap position. */
typedef struct slot {
    int id;
    int used;
    size_t pos;
} slot;

struct sched_queue {
    sched_entry *heap;
    size_t len, cap, max;
    slot *slots;
    size_t nslots; /* power of two */
    uint64_t seq;
};

static size_t hash_id(int id, size_t nslots)
{
    uint64_t x = (uint64_t)(uint32_t)id * 0x9e3779b97f4a7c15ULL;
    return (size_t)(x >> 32) & (nslots - 1);
}

static slot *find_slot(const sched_queue *q, int id)
{
    size_t i = hash_id(id, q->nslots);
    while (q->slots[i].used) {
        if (q->slots[i].id == id)
            return &q->slots[i];
        i = (i + 1) & (q->nslots - 1);
    }
    return NULL;
}

static void slot_insert(slot *slots, size_t nslots, int id, size_t pos)
{
    size_t i = hash_id(id, nslots);
    while (slots[i].used)
        i = (i + 1) & (nslots - 1);
    slots[i].used = 1;
    slots[i].id = id;
    slots[i].pos = pos;
}

/* Backward-shift deletion keeps probe chains intact without tombstones. */
static void slot_delete(sched_queue *q, slot *sl)
{
    size_t mask = q->nslots - 1, i = (size_t)(sl - q->slots), j = i;
    q->slots[i].used = 0;
    for (;;) {
        size_t k;
        j = (j + 1) & mask;
        if (!q->slots[j].used)
            return;
        k = hash_id(q->slots[j].id, q->nslots);
        /* move j back to i unless its home k lies cyclically in (i, j] */
        if ((i <= j) ? (i < k && k <= j) : (i < k || k <= j))
            continue;
        q->slots[i] = q->slots[j];
        q->slots[j].used = 0;
        i = j;
    }
}

static int before(const sched_entry *a, const sched_entry *b)
{
    if (a->due_ms != b->due_ms)
        return a->due_ms < b->due_ms;
    if (a->priority != b->priority)
        return a->priority < b->priority;
    return a->seq < b->seq;
}

static void place(sched_queue *q, size_t pos, const sched_entry *en)
{
    q->heap[pos] = *en;
    find_slot(q, en->id)->pos = pos;
}

static void sift_up(sched_queue *q, size_t pos)
{
    sched_entry en = q->heap[pos];
    while (pos > 0) {
        size_t parent = (pos - 1) / 2;
        if (!before(&en, &q->heap[parent]))
            break;
        place(q, pos, &q->heap[parent]);
        pos = parent;
    }
    place(q, pos, &en);
}

static void sift_down(sched_queue *q, size_t pos)
{
    sched_entry en = q->heap[pos];
    for (;;) {
        size_t c = 2 * pos + 1;
        if (c >= q->len)
            break;
        if (c + 1 < q->len && before(&q->heap[c + 1], &q->heap[c]))
            c++;
        if (!before(&q->heap[c], &en))
            break;
        place(q, pos, &q->heap[c]);
        pos = c;
    }
    place(q, pos, &en);
}

sched_queue *sched_queue_new(size_t max_entries)
{
    sched_queue *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->max = max_entries ? max_entries : QUEUE_DEFAULT_MAX;
    q->nslots = 16;
    q->slots = calloc(q->nslots, sizeof *q->slots);
    if (!q->slots) {
        free(q);
        return NULL;
    }
    return q;
}

void sched_queue_free(sched_queue *q)
{
    if (!q)
        return;
    free(q->heap);
    free(q->slots);
    free(q);
}

size_t sched_queue_len(const sched_queue *q)
{
    return q ? q->len : 0;
}

/* Make room for one more entry: heap capacity and a table at most half
 * full. Nothing changes on failure. */
static cust_code reserve(sched_queue *q, struct err *e)
{
    if (q->len == q->cap) {
        size_t ncap = q->cap ? q->cap * 2 : 64;
        sched_entry *h;
        if (ncap > q->max)
            ncap = q->max;
        h = realloc(q->heap, ncap * sizeof *h);
        if (!h)
            return err_set(e, CUST_ENOMEM, "schedule queue: out of memory growing to %zu entries", ncap);
        q->heap = h;
        q->cap = ncap;
    }
    if ((q->len + 1) * 2 > q->nslots) {
        size_t n = q->nslots * 2;
        slot *ns = calloc(n, sizeof *ns);
        if (!ns)
            return err_set(e, CUST_ENOMEM, "schedule queue: out of memory growing its index to %zu slots", n);
        for (size_t i = 0; i < q->nslots; i++)
            if (q->slots[i].used)
                slot_insert(ns, n, q->slots[i].id, q->slots[i].pos);
        free(q->slots);
        q->slots = ns;
        q->nslots = n;
    }
    return CUST_OK;
}

cust_code sched_queue_push(sched_queue *q, int id, int64_t due_ms, int priority, struct err *e)
{
    slot *sl = find_slot(q, id);
    sched_entry en;
    en.due_ms = due_ms;
    en.priority = priority;
    en.seq = q->seq++;
    en.id = id;
    if (sl) {
        size_t pos = sl->pos;
        int up = before(&en, &q->heap[pos]);
        q->heap[pos] = en;
        if (up)
            sift_up(q, pos);
        else
            sift_down(q, pos);
        return CUST_OK;
    }
    if (q->len >= q->max)
        return err_set(e, CUST_ELIMIT, "schedule queue: full at %zu entries (raise the queue's limit)", q->max);
    {
        cust_code rc = reserve(q, e);
        if (rc != CUST_OK)
            return rc;
    }
    slot_insert(q->slots, q->nslots, id, q->len);
    q->heap[q->len++] = en;
    sift_up(q, q->len - 1);
    return CUST_OK;
}

int sched_queue_peek(const sched_queue *q, sched_entry *out)
{
    if (!q || q->len == 0)
        return 0;
    if (out)
        *out = q->heap[0];
    return 1;
}

static void remove_at(sched_queue *q, size_t pos, sched_entry *out)
{
    sched_entry gone = q->heap[pos];
    slot_delete(q, find_slot(q, gone.id));
    if (out)
        *out = gone;
    q->len--;
    if (pos == q->len)
        return;
    q->heap[pos] = q->heap[q->len];
    find_slot(q, q->heap[pos].id)->pos = pos;
    if (pos > 0 && before(&q->heap[pos], &q->heap[(pos - 1) / 2]))
        sift_up(q, pos);
    else
        sift_down(q, pos);
}

int sched_queue_pop(sched_queue *q, sched_entry *out)
{
    if (!q || q->len == 0)
        return 0;
    remove_at(q, 0, out);
    return 1;
}

int sched_queue_remove(sched_queue *q, int id, sched_entry *out)
{
    slot *sl;
    if (!q || !(sl = find_slot(q, id)))
        return 0;
    remove_at(q, sl->pos, out);
    return 1;
}

int sched_queue_get(const sched_queue *q, int id, sched_entry *out)
{
    const slot *sl;
    if (!q || !(sl = find_slot(q, id)))
        return 0;
    if (out)
        *out = q->heap[sl->pos];
    return 1;
}
