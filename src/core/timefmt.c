/* timefmt.c - see timefmt.h. */
#include "timefmt.h"

#include <string.h>

int64_t timefmt_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    /* H. Hinnant's days_from_civil */
    int64_t era;
    unsigned yoe, doy, doe;
    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned)(y - era * 400);
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    int64_t era;
    unsigned doe, yoe, doy, mp;
    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = (unsigned)(z - era * 146097);
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    *y = (int64_t)yoe + era * 400;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y += *m <= 2;
}

static int digits(const char *p, const char *end, int n, int *out)
{
    int v = 0;
    if (end - p < n)
        return 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return 0;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return 1;
}

static int leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int parse_iso(const char *p, size_t len, int64_t *ms)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const char *end = p + len;
    int y, mo, d, h, mi, s = 0, frac_ms = 0, off = 0;
    if (!digits(p, end, 4, &y) || end - p < 10 || p[4] != '-' || !digits(p + 5, end, 2, &mo) || p[7] != '-' ||
        !digits(p + 8, end, 2, &d))
        return 0;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && leap(y)))
        return 0;
    p += 10;
    if (p == end)
        return 0; /* a date alone names a day, not an instant */
    if (*p != 'T' && *p != 't' && *p != ' ')
        return 0;
    p++;
    if (!digits(p, end, 2, &h) || end - p < 5 || p[2] != ':' || !digits(p + 3, end, 2, &mi))
        return 0;
    p += 5;
    if (p < end && *p == ':') {
        if (!digits(p + 1, end, 2, &s))
            return 0;
        p += 3;
    }
    if (h > 23 || mi > 59 || s > 60)
        return 0;
    if (p < end && (*p == '.' || *p == ',')) {
        int n = 0;
        p++;
        while (p < end && *p >= '0' && *p <= '9') {
            if (n < 3)
                frac_ms = frac_ms * 10 + (*p - '0');
            n++;
            p++;
        }
        if (!n)
            return 0;
        for (; n < 3; n++)
            frac_ms *= 10;
    }
    if (p == end)
        return 0; /* no zone: not an instant */
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om = 0, sign = *p == '-' ? -1 : 1;
        if (!digits(p + 1, end, 2, &oh))
            return 0;
        p += 3;
        if (p < end && *p == ':')
            p++;
        if (p < end) {
            if (!digits(p, end, 2, &om))
                return 0;
            p += 2;
        }
        if (oh > 23 || om > 59)
            return 0;
        off = sign * (oh * 60 + om);
    } else {
        return 0;
    }
    if (p != end)
        return 0;
    if (s == 60)
        s = 59; /* a leap second orders just before the next minute */
    *ms = ((timefmt_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + s) -
           (int64_t)off * 60) * 1000 + frac_ms;
    return 1;
}

int timefmt_parse(time_format f, const char *text, size_t len, int64_t *ms)
{
    int64_t v = 0;
    int neg = 0;
    size_t i = 0;
    if (f == TIME_ISO8601)
        return parse_iso(text, len, ms);
    if (len && text[0] == '-') {
        neg = 1;
        i = 1;
    }
    if (i >= len || len - i > 18)
        return 0;
    for (; i < len; i++) {
        if (text[i] < '0' || text[i] > '9')
            return 0;
        v = v * 10 + (text[i] - '0');
    }
    if (neg)
        v = -v;
    if (f == TIME_EPOCH_S) {
        if (v > INT64_MAX / 1000 || v < INT64_MIN / 1000)
            return 0;
        v *= 1000;
    }
    *ms = v;
    return 1;
}

/* a / b rounded towards minus infinity (b > 0); unlike -((-a + b - 1) / b)
 * it cannot overflow, INT64_MIN included. */
static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b < 0);
}

cust_code timefmt_format(time_format f, int64_t ms, buf *out)
{
    int64_t secs, days, y;
    unsigned m, d;
    int rem, frac;
    if (f == TIME_EPOCH_S)
        return buf_addf(out, "%lld", (long long)floor_div(ms, 1000)) ? CUST_ENOMEM : CUST_OK;
    if (f == TIME_EPOCH_MS)
        return buf_addf(out, "%lld", (long long)ms) ? CUST_ENOMEM : CUST_OK;
    secs = floor_div(ms, 1000);
    frac = (int)(ms % 1000 + (ms % 1000 < 0 ? 1000 : 0)); /* secs * 1000 may not fit */
    days = floor_div(secs, 86400);
    rem = (int)(secs - days * 86400);
    civil_from_days(days, &y, &m, &d);
    if (buf_addf(out, "%04lld-%02u-%02uT%02d:%02d:%02d", (long long)y, m, d, rem / 3600, rem / 60 % 60, rem % 60) ||
        (frac && buf_addf(out, ".%03d", frac)) || buf_addc(out, 'Z'))
        return CUST_ENOMEM;
    return CUST_OK;
}
