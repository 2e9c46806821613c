/* fuzz_headers.c - libFuzzer harness for the HTTP response header values
 * custody interprets: Retry-After, X-RateLimit-Remaining / -Reset, the IETF
 * RateLimit / RateLimit-Policy fields (policy.h) and Link (paginate.h).
 * fuzz_policy and fuzz_paginate feed the same parsers from binary
 * parameters and check ranges; this harness reads a readable header block
 * (so its seeds are real responses) and checks what the values mean.
 *
 * Input: lines "Name: value" (CR LF or LF). Names match without case; the
 * value is taken as http.c takes it (OWS after the colon, trailing CR / LF /
 * SP dropped). A repeated Link / RateLimit / RateLimit-Policy line is
 * combined with ", " (RFC 9110 5.3); other repeated fields: the last wins.
 * Two pseudo-headers steer the checks: "X-Fuzz-Now: <ms>" the clock
 * (default 2023-11-14T22:13:20Z), "X-Fuzz-Date: <seconds>" an instant that
 * is written as an HTTP-date in all three forms and must parse back.
 *
 * Properties (abort() on violation): no crash or leak; waits lie in
 * [0, INT64_MAX / 2] and are deterministic; surrounding OWS changes nothing;
 * delay-seconds mean exactly that many seconds; an HTTP-date is a fixed
 * instant (the wait falls by exactly the time that passes, RFC 850 two-digit
 * years excepted); dates written from a known instant parse back to it in
 * every form and any letter case; X-RateLimit-Reset follows the documented
 * epoch-or-delta rule; the rate-limit wait is the larger of the X- and the
 * IETF fields' waits, and RateLimit-Policy alone imposes none; Link's next
 * target is a trimmed substring of the field, and an unrelated link-value in
 * front of it changes nothing. Pure: no file, network or clock access. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/paginate.h"
#include "core/policy.h"

#define REQUIRE(cond) do { \
    if (!(cond)) { \
        fprintf(stderr, "fuzz_headers: property violated: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
        abort(); \
    } \
} while (0)

#define WAIT_MAX (INT64_MAX / 2)
#define NOW_DEFAULT 1700000000000LL
#define VALUE_MAX 8192 /* http.c keeps at most this much of a value */

enum { H_RETRY_AFTER, H_XRL_REMAINING, H_XRL_RESET, H_RATELIMIT, H_RATELIMIT_POLICY, H_LINK, H_NOW, H_DATE, H_N };

static const struct {
    const char *name;
    int combine; /* a list-valued field: repeated lines join with ", " */
} fields[H_N] = {
    [H_RETRY_AFTER] = {"Retry-After", 0},
    [H_XRL_REMAINING] = {"X-RateLimit-Remaining", 0},
    [H_XRL_RESET] = {"X-RateLimit-Reset", 0},
    [H_RATELIMIT] = {"RateLimit", 1},
    [H_RATELIMIT_POLICY] = {"RateLimit-Policy", 1},
    [H_LINK] = {"Link", 1},
    [H_NOW] = {"X-Fuzz-Now", 0},
    [H_DATE] = {"X-Fuzz-Date", 0},
};

static int is_digits(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

static int64_t clampw(int64_t w)
{
    return w < 0 ? 0 : w > WAIT_MAX ? WAIT_MAX : w;
}

/* Digits as an integer saturating at INT64_MAX (the parser's documented
 * reading of "huge"). */
static int64_t digits_value(const char *s)
{
    int64_t v = 0;
    for (; *s; s++)
        v = v > (INT64_MAX - 9) / 10 ? INT64_MAX : v * 10 + (*s - '0');
    return v;
}

/* A signed decimal for the pseudo-headers; 0 when malformed. */
static int64_t int_value(const char *s)
{
    int neg = *s == '-';
    int64_t v;
    if (neg)
        s++;
    if (!is_digits(s))
        return 0;
    v = digits_value(s);
    if (v > INT64_MAX / 2)
        v = INT64_MAX / 2;
    return neg ? -v : v;
}

/* v without the OWS (SP, HTAB) around it, as the parsers read it: http.c
 * drops trailing SP but keeps a trailing HTAB. Caller frees. */
static char *ows_trimmed(const char *v)
{
    size_t n;
    while (*v == ' ' || *v == '\t')
        v++;
    n = strlen(v);
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    {
        char *s = strndup(v, n);
        REQUIRE(s != NULL);
        return s;
    }
}

static char *with_ows(const char *v)
{
    size_t n = strlen(v);
    char *s = malloc(n + 5);
    REQUIRE(s != NULL);
    memcpy(s, " \t", 2);
    memcpy(s + 2, v, n);
    memcpy(s + 2 + n, "\t ", 3);
    return s;
}

/* ---- Retry-After ------------------------------------------------------------ */

static int64_t retry_after(const char *v, int64_t now, int *ok)
{
    int ok2 = -1;
    int64_t ms = policy_retry_after_ms(v, now, ok);
    REQUIRE(*ok == 0 || *ok == 1);
    REQUIRE(ms >= 0 && ms <= WAIT_MAX);
    REQUIRE(*ok || ms == 0);
    REQUIRE(policy_retry_after_ms(v, now, &ok2) == ms && ok2 == *ok);
    return ms;
}

static void check_retry_after(const char *v, int64_t now)
{
    int ok, ok2, ok0;
    int64_t ms = retry_after(v, now, &ok);
    char *padded = with_ows(v), *bare = ows_trimmed(v);
    int digits = is_digits(bare);
    int64_t n = digits ? digits_value(bare) : 0;
    REQUIRE(retry_after(padded, now, &ok2) == ms && ok2 == ok);
    REQUIRE(retry_after(bare, now, &ok2) == ms && ok2 == ok);
    free(padded);
    free(bare);
    if (digits) {
        REQUIRE(ok);
        REQUIRE(ms == (n > WAIT_MAX / 1000 ? WAIT_MAX : n * 1000));
        /* delay-seconds do not depend on the clock */
        REQUIRE(retry_after(v, 0, &ok2) == ms && retry_after(v, INT64_MIN, &ok2) == ms);
        return;
    }
    if (!ok || strchr(v, '-'))
        return; /* an RFC 850 date's century depends on the clock */
    /* an IMF-fixdate or asctime date names one instant: E - now, clamped */
    {
        int64_t e = retry_after(v, 0, &ok0); /* E when 0 < E < WAIT_MAX */
        REQUIRE(ok0);
        if (e > 0 && e < WAIT_MAX) {
            static const int64_t later[] = {1, 999, 1000, 86400000, 3155760000000LL};
            for (size_t i = 0; i < sizeof later / sizeof *later; i++) {
                REQUIRE(retry_after(v, later[i], &ok2) == clampw(e - later[i]));
                REQUIRE(retry_after(v, -later[i], &ok2) == clampw(e + later[i]));
            }
            REQUIRE(retry_after(v, now, &ok2) == clampw(e - now) || now < -WAIT_MAX / 2);
        }
    }
}

/* ---- HTTP-date from a known instant ---------------------------------------- */

/* Civil date of t seconds since the epoch, by counting (deliberately not the
 * closed-form algorithm policy.c uses). Years 1..9999. */
static void civil(int64_t t, int *y, int *mo, int *d, int *wd, int *h, int *mi, int *s)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400), sod = t - days * 86400;
    int year = 1970, m = 0;
    *wd = (int)(((days % 7) + 7 + 3) % 7); /* 1970-01-01 was a Thursday; 0 = Monday */
    for (;;) {
        int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        if (days < 0) {
            year--;
            leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
            days += 365 + leap;
        } else if (days >= 365 + leap) {
            days -= 365 + leap;
            year++;
        } else {
            break;
        }
    }
    for (;;) {
        int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        int n = dim[m] + (m == 1 && leap);
        if (days < n)
            break;
        days -= n;
        m++;
    }
    *y = year;
    *mo = m + 1;
    *d = (int)days + 1;
    *h = (int)(sod / 3600);
    *mi = (int)(sod / 60 % 60);
    *s = (int)(sod % 60);
}

static void flip_case(char *s, unsigned pattern)
{
    for (unsigned i = 0; *s; s++, i++) {
        if (!(pattern >> (i % 32) & 1))
            continue;
        if (*s >= 'a' && *s <= 'z')
            *s = (char)(*s - 32);
        else if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s + 32);
    }
}

static void check_date_forms(int64_t t, int64_t ahead_s, unsigned pattern)
{
    static const char *const wday[7] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
    static const char *const wlong[7] = {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
                                         "Sunday"};
    static const char *const mon[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    char imf[64], rfc850[64], asc[64];
    int y, mo, d, wd, h, mi, s, ok;
    int64_t now;
    /* year 1 through 9999: what a four-digit year can say */
    const int64_t lo = -62135596800LL, hi = 253402300799LL;
    if (t < lo || t > hi)
        t = lo + (int64_t)((uint64_t)t % (uint64_t)(hi - lo + 1));
    civil(t, &y, &mo, &d, &wd, &h, &mi, &s);
    snprintf(imf, sizeof imf, "%s, %02d %s %04d %02d:%02d:%02d GMT", wday[wd], d, mon[mo - 1], y, h, mi, s);
    snprintf(rfc850, sizeof rfc850, "%s, %02d-%s-%02d %02d:%02d:%02d GMT", wlong[wd], d, mon[mo - 1], y % 100,
             h, mi, s);
    snprintf(asc, sizeof asc, "%s %s %2d %02d:%02d:%02d %04d", wday[wd], mon[mo - 1], d, h, mi, s, y);
    /* a clock ahead_s (< 49 years) before the instant: the wait is ahead_s */
    now = (t - ahead_s) * 1000;
    REQUIRE(retry_after(imf, now, &ok) == ahead_s * 1000 && ok);
    REQUIRE(retry_after(asc, now, &ok) == ahead_s * 1000 && ok);
    REQUIRE(retry_after(rfc850, now, &ok) == ahead_s * 1000 && ok);
    /* a clock past the instant: no wait, still a valid value */
    REQUIRE(retry_after(imf, (t + 1) * 1000, &ok) == 0 && ok);
    /* names match without regard to case */
    flip_case(imf, pattern);
    flip_case(asc, pattern);
    flip_case(rfc850, pattern);
    REQUIRE(retry_after(imf, now, &ok) == ahead_s * 1000 && ok);
    REQUIRE(retry_after(asc, now, &ok) == ahead_s * 1000 && ok);
    REQUIRE(retry_after(rfc850, now, &ok) == ahead_s * 1000 && ok);
}

/* ---- rate-limit fields ------------------------------------------------------ */

static int64_t rl_wait(const char *rem, const char *reset, const char *rl, const char *pol, int64_t now)
{
    http_outcome o = {0};
    int64_t w, w2;
    o.ratelimit_remaining = rem;
    o.ratelimit_reset = reset;
    o.ratelimit = rl;
    o.ratelimit_policy = pol;
    w = policy_ratelimit_wait_ms(&o, now);
    w2 = policy_ratelimit_wait_ms(&o, now);
    REQUIRE(w >= 0 && w <= WAIT_MAX && w == w2);
    return w;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

static void check_ratelimit(const char *const *v, int64_t now)
{
    const char *rem = v[H_XRL_REMAINING], *reset = v[H_XRL_RESET], *rl = v[H_RATELIMIT],
               *pol = v[H_RATELIMIT_POLICY];
    int64_t all = rl_wait(rem, reset, rl, pol, now);
    int64_t x = rl_wait(rem, reset, NULL, NULL, now);
    int64_t ietf = rl_wait(NULL, NULL, rl, pol, now);

    REQUIRE(all == (x > ietf ? x : ietf));
    REQUIRE(rl_wait(NULL, NULL, NULL, pol, now) == 0);
    REQUIRE(rl_wait(NULL, reset, NULL, NULL, now) == 0);
    /* OWS around any value changes nothing */
    {
        char *a = rem ? with_ows(rem) : NULL, *b = reset ? with_ows(reset) : NULL, *c = rl ? with_ows(rl) : NULL,
             *d = pol ? with_ows(pol) : NULL;
        REQUIRE(rl_wait(a, b, c, d, now) == all);
        free(a);
        free(b);
        free(c);
        free(d);
    }
    /* the IETF fields do not read the clock */
    REQUIRE(rl_wait(NULL, NULL, rl, pol, 0) == ietf);
    /* X-RateLimit-*: spent only when Remaining is 0; Reset is epoch seconds
     * when larger than now minus a day, else seconds from now */
    if (rem) {
        char *r0 = ows_trimmed(rem), *r1 = reset ? ows_trimmed(reset) : NULL;
        int spent = is_digits(r0) && digits_value(r0) == 0;
        if (!spent)
            REQUIRE(x == 0);
        if (spent && r1 && is_digits(r1) && strlen(r1) < 16) {
            int64_t r = digits_value(r1);
            if (r > floor_div(now, 1000) - 86400)
                REQUIRE(x == clampw(r * 1000 - now));
            else
                REQUIRE(x == r * 1000);
        }
        free(r0);
        free(r1);
    }
}

/* ---- Link ------------------------------------------------------------------- */

static int link_next(const char *link, buf *out)
{
    int r;
    buf_reset(out);
    r = paginate_link_next(link, out);
    REQUIRE(r == 0 || r == 1 || r == -1);
    REQUIRE(r == 1 || out->len == 0);
    return r;
}

static void check_link(const char *link)
{
    static const char prefix[] = "<https://api.example.com/items?page=1>; rel=\"prev first\"; title=\"a, b\", ";
    buf out, again, url;
    struct err e = {0};
    int r;
    buf_init(&out, 1 << 20);
    buf_init(&again, 1 << 20);
    buf_init(&url, 1 << 20);
    r = link_next(link, &out);
    if (r == 1) {
        const char *t = buf_str(&out);
        REQUIRE(strlen(t) == out.len); /* no NUL inside: it came from a C string */
        REQUIRE(strstr(link, t) != NULL);
        REQUIRE(!strchr(t, '>'));
        REQUIRE(out.len == 0 || (t[0] != ' ' && t[0] != '\t' && t[out.len - 1] != ' ' && t[out.len - 1] != '\t'));
        {
            cust_code rc = paginate_resolve_url("https://api.example.com/v1/items?page=2", t, &url, &e);
            REQUIRE(rc == CUST_OK || rc == CUST_EUPSTREAM || rc == CUST_ENOMEM);
        }
    }
    if (r >= 0) {
        /* an unrelated, well-formed link-value in front changes nothing */
        size_t n = strlen(link);
        char *both = malloc(sizeof prefix + n);
        REQUIRE(both != NULL);
        memcpy(both, prefix, sizeof prefix - 1);
        memcpy(both + sizeof prefix - 1, link, n + 1);
        REQUIRE(link_next(both, &again) == r);
        REQUIRE(again.len == out.len && memcmp(buf_str(&again), buf_str(&out), out.len) == 0);
        free(both);
    }
    buf_release(&out);
    buf_release(&again);
    buf_release(&url);
}

/* ---- the header block ------------------------------------------------------- */

/* Store one line's value as http.c's header_value reads it. */
static void take_line(char **v, const char *line, size_t len)
{
    for (int i = 0; i < H_N; i++) {
        size_t nl = strlen(fields[i].name), vl;
        const char *val;
        char *nv;
        if (len <= nl + 1 || strncasecmp(line, fields[i].name, nl) != 0 || line[nl] != ':')
            continue;
        val = line + nl + 1;
        vl = len - nl - 1;
        while (vl && (*val == ' ' || *val == '\t'))
            val++, vl--;
        while (vl && (val[vl - 1] == '\r' || val[vl - 1] == '\n' || val[vl - 1] == ' '))
            vl--;
        if (vl > VALUE_MAX)
            vl = VALUE_MAX;
        if (fields[i].combine && v[i]) {
            size_t ol = strlen(v[i]);
            nv = malloc(ol + 2 + vl + 1);
            REQUIRE(nv != NULL);
            memcpy(nv, v[i], ol);
            memcpy(nv + ol, ", ", 2);
            memcpy(nv + ol + 2, val, vl);
            nv[ol + 2 + vl] = '\0';
        } else {
            nv = strndup(val, vl);
            REQUIRE(nv != NULL);
        }
        free(v[i]);
        v[i] = nv;
        return;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *v[H_N] = {NULL};
    const char *p = (const char *)data, *end = p + size;
    int64_t now = NOW_DEFAULT;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        take_line(v, p, (size_t)(le - p));
        p = nl ? nl + 1 : end;
    }
    if (v[H_NOW])
        now = int_value(v[H_NOW]);

    if (v[H_RETRY_AFTER]) {
        check_retry_after(v[H_RETRY_AFTER], now);
        check_retry_after(v[H_RETRY_AFTER], NOW_DEFAULT);
    }
    if (v[H_DATE]) {
        /* the instant, a lead under 49 years, a case pattern: from the value */
        int64_t t = int_value(v[H_DATE]);
        uint64_t hsh = 1469598103934665603ull;
        for (const char *q = v[H_DATE]; *q; q++)
            hsh = (hsh ^ (unsigned char)*q) * 1099511628211ull;
        check_date_forms(t, (int64_t)(hsh % (49ull * 365 * 86400)), (unsigned)(hsh >> 32));
        check_date_forms(t, 0, 0);
    }
    check_ratelimit((const char *const *)v, now);
    check_ratelimit((const char *const *)v, NOW_DEFAULT);
    if (v[H_LINK])
        check_link(v[H_LINK]);

    for (int i = 0; i < H_N; i++)
        free(v[i]);
    return 0;
}
