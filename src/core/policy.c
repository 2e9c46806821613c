/* policy.c - retry verdicts with full jitter, Retry-After and rate-limit
 * header parsing, token buckets and the circuit breaker. Pure: the time and
 * the random state come from the caller; nothing here sleeps, reads a clock,
 * touches the locale or the time zone, or keeps global state. */
#include "policy.h"

#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

/* Every wait this module hands out is clamped here, so callers may add two
 * of them (or one to a clock) without overflow. */
#define WAIT_MAX (INT64_MAX / 2)

/* An upstream-named wait gets a little jitter ABOVE it (never below): at
 * most a tenth of the wait and at most this much, so that many workers told
 * "reset at 12:00:00" do not all arrive in the same millisecond. */
#define UPSTREAM_JITTER_MAX_MS 1000

/* ---- small helpers -------------------------------------------------------- */

static int64_t sat_sub(int64_t a, int64_t b)
{
    if (b < 0 && a > INT64_MAX + b)
        return INT64_MAX;
    if (b > 0 && a < INT64_MIN + b)
        return INT64_MIN;
    return a - b;
}

static int64_t clamp_wait(int64_t w)
{
    return w < 0 ? 0 : w > WAIT_MAX ? WAIT_MAX : w;
}

/* seconds -> ms, saturating at WAIT_MAX */
static int64_t sec_to_ms(int64_t s)
{
    if (s <= 0)
        return 0;
    if (s > WAIT_MAX / 1000)
        return WAIT_MAX;
    return s * 1000;
}

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* Trim HTTP OWS (SP, HTAB) from both ends of s; *end gets the new end. */
static const char *trim(const char *s, const char **end)
{
    const char *e = s + strlen(s);
    while (s < e && is_ows(*s))
        s++;
    while (e > s && is_ows(e[-1]))
        e--;
    *end = e;
    return s;
}

/* 1*DIGIT spanning exactly [s, e), saturating at INT64_MAX. 0 if not. */
static int parse_digits(const char *s, const char *e, int64_t *out)
{
    int64_t v = 0;
    if (s >= e)
        return 0;
    for (; s < e; s++) {
        if (!is_digit(*s))
            return 0;
        if (v > (INT64_MAX - 9) / 10)
            v = INT64_MAX; /* saturate, keep validating the rest */
        else
            v = v * 10 + (*s - '0');
    }
    *out = v;
    return 1;
}

/* Uniform in [0, n], unbiased (rejection sampling). */
static int64_t rand_upto(uint64_t *rng, int64_t n)
{
    uint64_t span, limit, r;
    if (n <= 0)
        return 0;
    span = (uint64_t)n + 1; /* n <= INT64_MAX, so no wrap */
    limit = UINT64_MAX - (UINT64_MAX % span);
    do
        r = policy_rand(rng);
    while (r >= limit);
    return (int64_t)(r % span);
}

uint64_t policy_rand(uint64_t *state)
{
    uint64_t x = *state;
    if (x == 0) /* a zero state would stay zero forever: reseed rather than stick */
        x = 0x9E3779B97F4A7C15ull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* ---- calendar (proleptic Gregorian, no libc time functions) -------------- */

/* Days since 1970-01-01 of y-m-d (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;
    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    int64_t era, doe, yoe, doy, mp;
    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* ---- HTTP-date (RFC 9110 section 5.6.7) ----------------------------------- */

static const char *const day_short[7] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
static const char *const day_long[7] = {"Monday", "Tuesday", "Wednesday", "Thursday",
                                        "Friday", "Saturday", "Sunday"};
static const char *const month_name[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

typedef struct cursor {
    const char *p, *e;
} cursor;

/* Names are matched without regard to case: a lenient reading of a
 * case-sensitive grammar that cannot make a valid date mean anything else. */
static int take_word(cursor *c, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(c->e - c->p) < n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)c->p[i]) != lower((unsigned char)w[i]))
            return 0;
    c->p += n;
    return 1;
}

static int take_char(cursor *c, char ch)
{
    if (c->p < c->e && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

static int take_name(cursor *c, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (take_word(c, names[i]))
            return i;
    return -1;
}

/* exactly n digits */
static int take_num(cursor *c, int n, int *out)
{
    int v = 0;
    if (c->e - c->p < n)
        return 0;
    for (int i = 0; i < n; i++) {
        if (!is_digit(c->p[i]))
            return 0;
        v = v * 10 + (c->p[i] - '0');
    }
    c->p += n;
    *out = v;
    return 1;
}

static int take_time(cursor *c, int *h, int *mi, int *s)
{
    return take_num(c, 2, h) && take_char(c, ':') && take_num(c, 2, mi) && take_char(c, ':') &&
           take_num(c, 2, s) && *h <= 23 && *mi <= 59 && *s <= 60; /* 60: leap second */
}

/* Seconds since the epoch of a validated civil time. */
static int64_t to_epoch(int64_t y, int m, int d, int h, int mi, int s)
{
    return days_from_civil(y, m, d) * 86400 + h * 3600 + mi * 60 + s;
}

/* RFC 9110: a two-digit year that "appears to be more than 50 years in the
 * future" is the most recent past year with those digits. Candidates lie in
 * the window (now - 50 years, now + 50 years]. */
static int64_t rfc850_year(int yy, int m, int d, int h, int mi, int s, int64_t now_s)
{
    int64_t ny, y, limit;
    int nm, nd;
    int64_t days = floor_div(now_s, 86400);
    civil_from_days(days, &ny, &nm, &nd);
    limit = days_from_civil(ny + 50, nm, nd) * 86400 + (now_s - days * 86400);
    y = ny - ((ny % 100) + 100) % 100 + yy;
    /* compare with day clamped to 28 so that Feb 29 of a non-leap candidate
     * does not matter for the window decision */
    if (to_epoch(y, m, d > 28 ? 28 : d, h, mi, s) > limit)
        y -= 100;
    else if (to_epoch(y + 100, m, d > 28 ? 28 : d, h, mi, s) <= limit)
        y += 100;
    return y;
}

static int parse_http_date(const char *s, const char *e, int64_t now_s, int64_t *epoch)
{
    cursor c;
    int d, m, yy, h, mi, sec;
    int64_t y;

    /* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
    c.p = s, c.e = e;
    if (take_name(&c, day_short, 7) >= 0 && take_char(&c, ',') && take_char(&c, ' ') && take_num(&c, 2, &d) &&
        take_char(&c, ' ') && (m = take_name(&c, month_name, 12) + 1) > 0 && take_char(&c, ' ') &&
        take_num(&c, 4, &yy) && take_char(&c, ' ') && take_time(&c, &h, &mi, &sec) && take_char(&c, ' ') &&
        take_word(&c, "GMT") && c.p == c.e) {
        y = yy;
        goto found;
    }

    /* obsolete RFC 850: Sunday, 06-Nov-94 08:49:37 GMT (long names first:
     * "Sun" is a prefix of "Sunday") */
    c.p = s, c.e = e;
    if (take_name(&c, day_long, 7) >= 0 && take_char(&c, ',') && take_char(&c, ' ') && take_num(&c, 2, &d) &&
        take_char(&c, '-') && (m = take_name(&c, month_name, 12) + 1) > 0 && take_char(&c, '-') &&
        take_num(&c, 2, &yy) && take_char(&c, ' ') && take_time(&c, &h, &mi, &sec) && take_char(&c, ' ') &&
        take_word(&c, "GMT") && c.p == c.e) {
        if (d < 1 || d > 31)
            return 0;
        y = rfc850_year(yy, m, d, h, mi, sec, now_s);
        goto found;
    }

    /* asctime: Sun Nov  6 08:49:37 1994 */
    c.p = s, c.e = e;
    if (take_name(&c, day_short, 7) >= 0 && take_char(&c, ' ') && (m = take_name(&c, month_name, 12) + 1) > 0 &&
        take_char(&c, ' ') && (take_num(&c, 2, &d) || (take_char(&c, ' ') && take_num(&c, 1, &d))) &&
        take_char(&c, ' ') && take_time(&c, &h, &mi, &sec) && take_char(&c, ' ') && take_num(&c, 4, &yy) &&
        c.p == c.e) {
        y = yy;
        goto found;
    }
    return 0;

found:
    if (d < 1 || d > days_in_month(y, m))
        return 0;
    *epoch = to_epoch(y, m, d, h, mi, sec);
    return 1;
}

int64_t policy_retry_after_ms(const char *value, int64_t now_ms, int *ok)
{
    const char *s, *e;
    int64_t v;
    *ok = 0;
    if (!value)
        return 0;
    s = trim(value, &e);
    if (parse_digits(s, e, &v)) {
        *ok = 1;
        return sec_to_ms(v);
    }
    if (!parse_http_date(s, e, floor_div(now_ms, 1000), &v))
        return 0;
    *ok = 1;
    /* v is far from the limits unless now_ms is (a two-digit year follows it) */
    v = v > INT64_MAX / 1000 ? INT64_MAX : v < INT64_MIN / 1000 ? INT64_MIN : v * 1000;
    return clamp_wait(sat_sub(v, now_ms));
}

/* ---- rate-limit headers --------------------------------------------------- */

/* X-RateLimit-Reset: seconds, optionally with a fraction (some APIs send
 * epoch seconds with milliseconds). Returns seconds and the value in ms. */
static int parse_reset(const char *value, int64_t *sec, int64_t *ms)
{
    const char *s, *e, *dot;
    int64_t frac = 0;
    s = trim(value, &e);
    dot = memchr(s, '.', (size_t)(e - s));
    if (!parse_digits(s, dot ? dot : e, sec))
        return 0;
    if (dot) {
        int64_t scale = 100;
        if (dot + 1 >= e)
            return 0;
        for (const char *q = dot + 1; q < e; q++) {
            if (!is_digit(*q))
                return 0;
            frac += (*q - '0') * scale;
            scale /= 10;
        }
    }
    *ms = *sec > WAIT_MAX / 1000 ? WAIT_MAX : *sec * 1000 + frac;
    return 1;
}

/* X-RateLimit-Remaining 0 ⇒ spent; wait from -Reset (0 if absent/malformed). */
static int xratelimit_spent(const http_outcome *o, int64_t now_ms, int64_t *wait)
{
    const char *s, *e;
    int64_t rem, rs, rms;
    *wait = 0;
    if (!o->ratelimit_remaining)
        return 0;
    s = trim(o->ratelimit_remaining, &e);
    if (!parse_digits(s, e, &rem) || rem != 0)
        return 0;
    if (o->ratelimit_reset && parse_reset(o->ratelimit_reset, &rs, &rms)) {
        if (rms >= WAIT_MAX)
            *wait = WAIT_MAX;
        else if (rs > floor_div(now_ms, 1000) - 86400)
            *wait = clamp_wait(sat_sub(rms, now_ms)); /* absolute epoch seconds */
        else
            *wait = clamp_wait(rms); /* seconds from now */
    }
    return 1;
}

/* A member of a Structured Field list or dictionary (RFC 9651), as much of
 * it as the RateLimit drafts need. */
typedef struct sf_member {
    const char *key;   /* dictionary key, or NULL for a list item */
    size_t key_len;
    const char *name;  /* string or token item (the policy name), or NULL */
    size_t name_len;
    int value_is_int;
    int64_t value;
    int has_r, has_t, has_w;
    int64_t r, t, w;
} sf_member;

static int sf_lckey_start(char c)
{
    return (c >= 'a' && c <= 'z') || c == '*';
}

static int sf_key_char(char c)
{
    return (c >= 'a' && c <= 'z') || is_digit(c) || c == '_' || c == '-' || c == '.' || c == '*';
}

static int sf_tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~:/", c) != NULL);
}

/* A bare item. Sets is_int and ival for integers, str and len for strings and
 * tokens. Returns 0 when malformed. */
static int sf_bare(cursor *c, int *is_int, int64_t *ival, const char **str, size_t *len)
{
    *is_int = 0;
    *str = NULL;
    *len = 0;
    if (c->p >= c->e)
        return 0;
    if (*c->p == '"') {
        const char *st = ++c->p;
        for (;;) {
            if (c->p >= c->e)
                return 0;
            if (*c->p == '\\') {
                if (c->p + 1 >= c->e || (c->p[1] != '"' && c->p[1] != '\\'))
                    return 0;
                c->p += 2;
            } else if (*c->p == '"') {
                break;
            } else if ((unsigned char)*c->p < 0x20 || (unsigned char)*c->p > 0x7e) {
                return 0;
            } else {
                c->p++;
            }
        }
        *str = st;
        *len = (size_t)(c->p - st);
        c->p++;
        return 1;
    }
    if (*c->p == '-' || is_digit(*c->p)) {
        int neg = take_char(c, '-'), n = 0;
        int64_t v = 0;
        while (c->p < c->e && is_digit(*c->p)) {
            if (++n > 15)
                return 0;
            v = v * 10 + (*c->p++ - '0');
        }
        if (n == 0)
            return 0;
        if (take_char(c, '.')) {
            int f = 0;
            if (n > 12)
                return 0;
            while (c->p < c->e && is_digit(*c->p)) {
                if (++f > 3)
                    return 0;
                c->p++;
            }
            return f > 0; /* a decimal: valid, not an integer */
        }
        *is_int = 1;
        *ival = neg ? -v : v;
        return 1;
    }
    if ((*c->p >= 'a' && *c->p <= 'z') || (*c->p >= 'A' && *c->p <= 'Z') || *c->p == '*') {
        const char *st = c->p;
        while (c->p < c->e && sf_tchar(*c->p))
            c->p++;
        *str = st;
        *len = (size_t)(c->p - st);
        return 1;
    }
    if (*c->p == '?') {
        c->p++;
        return take_char(c, '0') || take_char(c, '1');
    }
    if (*c->p == ':') {
        c->p++;
        while (c->p < c->e && *c->p != ':') {
            char ch = *c->p++;
            if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || is_digit(ch) || ch == '+' ||
                  ch == '/' || ch == '='))
                return 0;
        }
        return take_char(c, ':');
    }
    return 0;
}

static int sf_params(cursor *c, sf_member *m)
{
    while (take_char(c, ';')) {
        const char *k;
        size_t kl;
        int is_int = 1;
        int64_t v = 1; /* a bare key is boolean true */
        const char *str;
        size_t len;
        while (take_char(c, ' '))
            ;
        if (c->p >= c->e || !sf_lckey_start(*c->p))
            return 0;
        k = c->p;
        while (c->p < c->e && sf_key_char(*c->p))
            c->p++;
        kl = (size_t)(c->p - k);
        if (take_char(c, '=')) {
            if (!sf_bare(c, &is_int, &v, &str, &len))
                return 0;
        } else {
            is_int = 0;
        }
        if (kl == 1 && (*k == 'r' || *k == 't' || *k == 'w')) {
            /* the drafts define these as non-negative integers */
            if (!is_int || v < 0)
                return 0;
            if (*k == 'r')
                m->has_r = 1, m->r = v;
            else if (*k == 't')
                m->has_t = 1, m->t = v;
            else
                m->has_w = 1, m->w = v;
        }
    }
    return 1;
}

/* Next member of a list or dictionary. 1: *m filled; 0: end; -1: malformed
 * (the whole field is then ignored, as RFC 9651 asks). */
static int sf_next(cursor *c, sf_member *m, int first)
{
    const char *str;
    size_t len;
    memset(m, 0, sizeof *m);
    while (c->p < c->e && is_ows(*c->p))
        c->p++;
    if (!first) {
        if (c->p >= c->e)
            return 0;
        if (!take_char(c, ','))
            return -1;
        while (c->p < c->e && is_ows(*c->p))
            c->p++;
        if (c->p >= c->e)
            return -1; /* trailing comma */
    } else if (c->p >= c->e) {
        return 0;
    }
    if (sf_lckey_start(*c->p)) {
        /* a dictionary key, or a token item that starts like one */
        const char *k = c->p;
        while (c->p < c->e && sf_key_char(*c->p))
            c->p++;
        if (take_char(c, '=')) {
            m->key = k;
            m->key_len = (size_t)(c->p - 1 - k);
            if (!sf_bare(c, &m->value_is_int, &m->value, &str, &len))
                return -1;
            m->name = str;
            m->name_len = len;
        } else {
            c->p = k;
            if (!sf_bare(c, &m->value_is_int, &m->value, &m->name, &m->name_len))
                return -1;
        }
    } else if (!sf_bare(c, &m->value_is_int, &m->value, &m->name, &m->name_len)) {
        return -1;
    }
    return sf_params(c, m) ? 1 : -1;
}

static int sf_key_is(const sf_member *m, const char *k)
{
    return m->key && m->key_len == strlen(k) && memcmp(m->key, k, m->key_len) == 0;
}

/* The window (w) RateLimit-Policy gives the named policy; with name NULL,
 * the longest window of any policy. 0 when absent or malformed. */
static int64_t policy_window_s(const char *field, const char *name, size_t name_len)
{
    cursor c;
    sf_member m;
    int64_t best = 0;
    int rc, first = 1;
    if (!field)
        return 0;
    c.p = trim(field, &c.e);
    while ((rc = sf_next(&c, &m, first)) == 1) {
        first = 0;
        if (!m.has_w)
            continue;
        if (!name) {
            if (m.w > best)
                best = m.w;
        } else if (m.name && !m.key && m.name_len == name_len && memcmp(m.name, name, name_len) == 0) {
            best = m.w;
        }
    }
    return rc < 0 ? 0 : best;
}

/* IETF RateLimit: the older dictionary form limit=100, remaining=0,
 * reset=30; or the newer list form "default";r=0;t=30 (any listed policy
 * with r=0 spends the quota; its t, else the w of the same-named
 * RateLimit-Policy, is the wait). */
static int ietf_spent(const http_outcome *o, int64_t *wait)
{
    cursor c;
    sf_member m;
    int rc, first = 1, spent = 0, old_form = 0, has_rem = 0, has_reset = 0;
    int64_t rem = -1, reset = 0, w = 0;
    *wait = 0;
    if (!o->ratelimit)
        return 0;
    c.p = trim(o->ratelimit, &c.e);
    while ((rc = sf_next(&c, &m, first)) == 1) {
        first = 0;
        if (sf_key_is(&m, "remaining") || sf_key_is(&m, "reset") || sf_key_is(&m, "limit")) {
            old_form = 1;
            if (!m.value_is_int || m.value < 0)
                return 0;
            if (sf_key_is(&m, "remaining"))
                has_rem = 1, rem = m.value;
            else if (sf_key_is(&m, "reset"))
                has_reset = 1, reset = m.value;
        } else if (!m.key && m.has_r && m.r == 0) {
            int64_t t = m.has_t ? m.t : m.name ? policy_window_s(o->ratelimit_policy, m.name, m.name_len) : 0;
            spent = 1;
            if (t > w)
                w = t;
        }
    }
    if (rc < 0)
        return 0;
    if (old_form && has_rem && rem == 0) {
        if (!has_reset) /* no reset: the longest window any policy names */
            reset = policy_window_s(o->ratelimit_policy, NULL, 0);
        if (reset > w)
            w = reset;
        spent = 1;
    }
    if (spent)
        *wait = sec_to_ms(w);
    return spent;
}

/* Whether any rate-limit header says the quota is spent, and the longest
 * wait any of them imposes. */
static int ratelimit_spent(const http_outcome *o, int64_t now_ms, int64_t *wait)
{
    int64_t w1, w2;
    int a = xratelimit_spent(o, now_ms, &w1);
    int b = ietf_spent(o, &w2);
    *wait = 0;
    if (a)
        *wait = w1;
    if (b && w2 > *wait)
        *wait = w2;
    return a || b;
}

int64_t policy_ratelimit_wait_ms(const http_outcome *o, int64_t now_ms)
{
    int64_t w;
    if (!o)
        return 0;
    return ratelimit_spent(o, now_ms, &w) ? w : 0;
}

/* ---- retry ---------------------------------------------------------------- */

void retry_policy_default(retry_policy *p)
{
    static const int st[] = {408, 425, 429, 500, 502, 503, 504};
    memset(p, 0, sizeof *p);
    p->attempts = 5;
    p->base_ms = 1000;
    p->cap_ms = 60000;
    p->max_wait_ms = 300000;
    for (size_t i = 0; i < sizeof st / sizeof *st; i++)
        p->statuses[i] = st[i];
    p->nstatuses = (int)(sizeof st / sizeof *st);
    p->retry_post = 0;
}

/* min(cap, base * 2^(attempt-1)) without overflow for any attempt. */
static int64_t backoff_ceiling(const retry_policy *p, int attempt)
{
    int64_t base = p->base_ms, cap = p->cap_ms;
    int shift = attempt - 1;
    if (base <= 0 || cap <= 0)
        return 0;
    if (base >= cap || shift >= 62 || base > (cap >> shift))
        return cap;
    return base << shift;
}

static int status_listed(const retry_policy *p, long status)
{
    int n = p->nstatuses < 0 ? 0 : p->nstatuses > POLICY_MAX_STATUSES ? POLICY_MAX_STATUSES : p->nstatuses;
    for (int i = 0; i < n; i++)
        if (p->statuses[i] == status)
            return 1;
    return 0;
}

enum cause { C_TRANSPORT, C_STATUS, C_RETRY_AFTER, C_RATELIMIT };

static const char *const why_again[] = {"transport error, backoff", "HTTP status in retry list, backoff",
                                        "HTTP status in retry list, Retry-After",
                                        "HTTP status rate-limited, quota spent until reset"};
static const char *const why_exhausted[] = {"transport error, attempts exhausted",
                                            "HTTP status in retry list, attempts exhausted",
                                            "HTTP status in retry list with Retry-After, attempts exhausted",
                                            "HTTP status rate-limited, attempts exhausted"};
static const char *const why_too_long[] = {"", "", "Retry-After longer than max_wait",
                                           "rate-limit reset later than max_wait"};

retry_decision retry_decide(const retry_policy *p, int attempt, const http_outcome *o, int64_t now_ms,
                            uint64_t *rng)
{
    retry_decision d = {RETRY_FATAL, 0, "no outcome"};
    enum cause cause;
    int64_t upstream = 0, rl_wait = 0, ra;
    int ra_ok = 0, rl_spent = 0, attempts;
    uint64_t local_rng = 0x853C49E6748FEA9Bull;

    if (!p || !o)
        return d;
    if (!rng)
        rng = &local_rng;
    if (attempt < 1)
        attempt = 1;
    attempts = p->attempts < 1 ? 1 : p->attempts;

    if (o->transport_error) {
        cause = C_TRANSPORT;
    } else {
        if (o->status >= 200 && o->status <= 399) {
            d.verdict = RETRY_DONE;
            d.why = o->status >= 300 ? "HTTP 3xx, final" : "HTTP 2xx, success";
            return d;
        }
        ra = policy_retry_after_ms(o->retry_after, now_ms, &ra_ok);
        rl_spent = ratelimit_spent(o, now_ms, &rl_wait);
        if (status_listed(p, o->status)) {
            cause = C_STATUS;
        } else if ((o->status == 403 || o->status == 429) && (rl_spent || ra_ok)) {
            /* the quota is spent (GitHub answers 403 with remaining 0, or
             * 403/429 with Retry-After for its secondary limits) */
            cause = C_RATELIMIT;
        } else {
            d.why = o->status >= 400 && o->status <= 499 ? "HTTP 4xx, not retryable"
                    : o->status >= 500 && o->status <= 599 ? "HTTP 5xx not in retry list"
                                                           : "unexpected HTTP status";
            return d;
        }
        /* the upstream's wait: the longest any header names */
        if (ra_ok && ra > upstream) {
            upstream = ra;
            if (cause == C_STATUS)
                cause = C_RETRY_AFTER;
        }
        if (rl_spent && rl_wait > upstream) {
            upstream = rl_wait;
            cause = C_RATELIMIT;
        }
    }

    if (o->is_post && !p->retry_post) {
        d.why = "retryable, but POST is not retried (retry_post off)";
        return d;
    }
    if (attempt >= attempts) {
        d.verdict = RETRY_GIVE_UP;
        d.delay_ms = upstream;
        d.why = why_exhausted[cause];
        return d;
    }
    if (upstream > 0 && upstream > p->max_wait_ms) {
        d.verdict = RETRY_GIVE_UP;
        d.delay_ms = upstream;
        d.why = why_too_long[cause];
        return d;
    }
    d.verdict = RETRY_AGAIN;
    d.why = why_again[cause];
    if (upstream > 0) {
        /* exactly the upstream's wait, plus a little jitter above it, never
         * beyond max_wait (which the wait itself does not exceed) */
        int64_t extra = upstream / 10 < UPSTREAM_JITTER_MAX_MS ? upstream / 10 : UPSTREAM_JITTER_MAX_MS;
        int64_t delay = upstream + rand_upto(rng, extra);
        d.delay_ms = delay > p->max_wait_ms ? p->max_wait_ms : delay; /* still >= upstream */
    } else {
        /* no wait named (or a zero / past one): full jitter backoff */
        d.delay_ms = rand_upto(rng, backoff_ceiling(p, attempt));
    }
    return d;
}

/* ---- token bucket --------------------------------------------------------- */

static int bucket_unlimited(const token_bucket *b)
{
    return !(b->rate > 0) || isinf(b->rate);
}

void bucket_init(token_bucket *b, double rate, double burst, int64_t now_ms)
{
    b->rate = rate;
    b->burst = burst >= 1 ? burst : 1; /* also catches NaN */
    if (isinf(b->burst))
        b->burst = 1e9;
    b->tokens = b->burst;
    b->last_ms = now_ms;
}

/* Add what has accrued since last_ms. last_ms only moves forward, so a
 * clock that steps back adds nothing, and adds nothing twice later. */
static void bucket_refill(token_bucket *b, int64_t now_ms)
{
    if (now_ms > b->last_ms) {
        double add = ((double)now_ms - (double)b->last_ms) / 1000.0 * b->rate;
        b->tokens = b->tokens + add > b->burst ? b->burst : b->tokens + add;
        b->last_ms = now_ms;
    }
}

int64_t bucket_take(token_bucket *b, int64_t now_ms)
{
    double ms;
    if (bucket_unlimited(b)) {
        /* negative tokens mark a drain: last_ms then holds its horizon */
        if (b->tokens < 0 && now_ms < b->last_ms)
            return clamp_wait(sat_sub(b->last_ms, now_ms));
        return 0;
    }
    bucket_refill(b, now_ms);
    b->tokens -= 1;
    if (b->tokens >= 0)
        return 0;
    /* the reserved token exists when tokens climb back to 0, measured from
     * last_ms (which is ahead of now_ms if the clock stepped back) */
    ms = ceil(-b->tokens * 1000.0 / b->rate) + ((double)b->last_ms - (double)now_ms);
    if (!(ms < (double)WAIT_MAX))
        return WAIT_MAX;
    return ms > 0 ? (int64_t)ms : 0;
}

void bucket_drain_until(token_bucket *b, int64_t until_ms)
{
    double t;
    if (bucket_unlimited(b)) {
        /* no rate to express it in: remember the horizon instead */
        if (b->tokens >= 0 || until_ms > b->last_ms)
            b->last_ms = until_ms;
        b->tokens = -1;
        return;
    }
    if (until_ms <= b->last_ms)
        return;
    /* tokens such that, refilling from last_ms, exactly one is there at
     * until_ms: the first take before then waits until then, later ones
     * queue behind it at the rate. Never raises the level. */
    t = 1.0 - ((double)until_ms - (double)b->last_ms) / 1000.0 * b->rate;
    if (t < b->tokens)
        b->tokens = t;
}

/* ---- circuit breaker ------------------------------------------------------ */

void breaker_cfg_default(breaker_cfg *c)
{
    c->failures = 5;
    c->cooldown_ms = 5 * 60 * 1000;
    c->probes = 1;
}

int breaker_allow(const breaker_cfg *c, breaker *b, int64_t now_ms, int *changed)
{
    int dummy;
    if (!changed)
        changed = &dummy;
    *changed = 0;
    if (c->failures <= 0)
        return 1;
    if (b->state != BREAKER_OPEN)
        return 1;
    if (now_ms < b->opened_ms) {
        /* the clock stepped back: restart the cooldown from now rather than
         * stay open until the clock catches up */
        b->opened_ms = now_ms;
        return 0;
    }
    if ((uint64_t)now_ms - (uint64_t)b->opened_ms < (uint64_t)(c->cooldown_ms > 0 ? c->cooldown_ms : 0))
        return 0;
    b->state = BREAKER_HALF_OPEN;
    b->probes_ok = 0;
    *changed = 1;
    return 1;
}

int breaker_record(const breaker_cfg *c, breaker *b, int success, int64_t now_ms)
{
    int need = c->probes > 0 ? c->probes : 1;
    if (c->failures <= 0)
        return 0;
    switch (b->state) {
    case BREAKER_CLOSED:
        if (success) {
            b->failures = 0;
            return 0;
        }
        if (b->failures < INT_MAX)
            b->failures++;
        if (b->failures < c->failures)
            return 0;
        b->state = BREAKER_OPEN;
        b->opened_ms = now_ms;
        b->probes_ok = 0;
        return 1;
    case BREAKER_HALF_OPEN:
        if (!success) {
            b->state = BREAKER_OPEN;
            b->opened_ms = now_ms;
            b->probes_ok = 0;
            return 1;
        }
        if (b->probes_ok < INT_MAX)
            b->probes_ok++;
        if (b->probes_ok < need)
            return 0;
        b->state = BREAKER_CLOSED;
        b->failures = 0;
        b->probes_ok = 0;
        return 1;
    case BREAKER_OPEN:
        /* a cycle that was not allowed has nothing to say */
        return 0;
    }
    /* an unknown state (a corrupted store row): close it, say so */
    b->state = BREAKER_CLOSED;
    b->failures = 0;
    b->probes_ok = 0;
    return 1;
}

const char *breaker_state_name(breaker_state s)
{
    switch (s) {
    case BREAKER_CLOSED: return "closed";
    case BREAKER_OPEN: return "open";
    case BREAKER_HALF_OPEN: return "half-open";
    }
    return "unknown";
}

int breaker_state_parse(const char *name, breaker_state *s)
{
    static const breaker_state all[] = {BREAKER_CLOSED, BREAKER_OPEN, BREAKER_HALF_OPEN};
    if (!name)
        return 0;
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        if (strcmp(name, breaker_state_name(all[i])) == 0) {
            *s = all[i];
            return 1;
        }
    return 0;
}
