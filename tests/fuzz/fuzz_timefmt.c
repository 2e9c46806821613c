/* fuzz_timefmt.c - libFuzzer harness for timefmt: the instants an
 * incremental sync reads from upstream records (a change-time field) and
 * from the stored watermark, in each time_format.
 * Input: one byte choosing the format (low two bits: iso8601, epoch_s,
 * epoch_ms; 3 = all three), the rest the text. The first 8 bytes of the
 * text, read as an integer, are also formatted.
 * Properties (abort() on violation): no crash or UB; parsing is
 * deterministic; what parses formats to text that parses back to the same
 * instant and formats identically (epoch_s: to the whole second below);
 * ISO 8601's 't' / 'z' / ' ' separators mean the same as 'T' / 'Z'; an
 * offset-free ISO time is refused; epoch text is exactly an optionally
 * negative run of at most 18 digits; and any instant formats without
 * failing, its ISO form parsing back when its year has four digits. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/timefmt.h"

#define REQUIRE(cond) do { \
    if (!(cond)) { \
        fprintf(stderr, "fuzz_timefmt: property violated: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
        abort(); \
    } \
} while (0)

/* ms of 0000-01-01T00:00:00Z and of 9999-12-31T23:59:59.999Z */
#define ISO_MIN (-62167219200000LL)
#define ISO_MAX (253402300799999LL)

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

static void format(time_format f, int64_t ms, buf *out)
{
    buf_reset(out);
    REQUIRE(timefmt_format(f, ms, out) == CUST_OK);
    REQUIRE(out->len > 0 && strlen(buf_str(out)) == out->len);
}

/* ms formats, and the text reads back as the instant the format can say */
static void check_format(time_format f, int64_t ms)
{
    buf a, b;
    int64_t back = 0;
    buf_init(&a, 256);
    buf_init(&b, 256);
    format(f, ms, &a);
    switch (f) {
    case TIME_ISO8601:
        if (ms >= ISO_MIN && ms <= ISO_MAX) {
            REQUIRE(timefmt_parse(f, a.ptr, a.len, &back) && back == ms);
            format(f, back, &b);
            REQUIRE(strcmp(buf_str(&a), buf_str(&b)) == 0);
        }
        break;
    case TIME_EPOCH_S:
        if (ms > -999999999999999999LL && ms < 999999999999999999LL) {
            REQUIRE(timefmt_parse(f, a.ptr, a.len, &back));
            REQUIRE(back == floor_div(ms, 1000) * 1000);
        }
        break;
    case TIME_EPOCH_MS:
        if (ms > -999999999999999999LL && ms < 999999999999999999LL)
            REQUIRE(timefmt_parse(f, a.ptr, a.len, &back) && back == ms);
        break;
    }
    buf_release(&a);
    buf_release(&b);
}

static int is_epoch_text(const char *t, size_t n)
{
    size_t i = n && t[0] == '-';
    if (i >= n || n - i > 18)
        return 0;
    for (; i < n; i++)
        if (t[i] < '0' || t[i] > '9')
            return 0;
    return 1;
}

static void check_parse(time_format f, const char *t, size_t n)
{
    int64_t ms = 0, ms2 = 0;
    int ok = timefmt_parse(f, t, n, &ms);
    REQUIRE(ok == 0 || ok == 1);
    REQUIRE(timefmt_parse(f, t, n, &ms2) == ok && (!ok || ms2 == ms));
    if (f != TIME_ISO8601) {
        /* exactly an optionally negative run of at most 18 digits, which
         * epoch_s must also be able to say in int64 milliseconds */
        int64_t v = 0;
        int want = is_epoch_text(t, n);
        for (size_t i = n && t[0] == '-'; want && i < n; i++)
            v = v * 10 + (t[i] - '0');
        if (want && n && t[0] == '-')
            v = -v;
        if (f == TIME_EPOCH_S && (v > INT64_MAX / 1000 || v < INT64_MIN / 1000))
            want = 0;
        REQUIRE(ok == want);
        REQUIRE(!ok || ms == (f == TIME_EPOCH_S ? v * 1000 : v));
    } else if (ok) {
        /* the same text with the other spellings of the separators */
        char *u = malloc(n + 1);
        int64_t ms3 = 0;
        REQUIRE(u != NULL);
        memcpy(u, t, n);
        if (n > 10 && (u[10] == 't' || u[10] == ' '))
            u[10] = 'T';
        if (u[n - 1] == 'z')
            u[n - 1] = 'Z';
        REQUIRE(timefmt_parse(f, u, n, &ms3) && ms3 == ms);
        u[10] = 't';
        REQUIRE(timefmt_parse(f, u, n, &ms3) && ms3 == ms);
        /* a time with its zone cut off names no instant */
        if (u[n - 1] == 'Z')
            REQUIRE(!timefmt_parse(f, u, n - 1, &ms3));
        free(u);
        /* four-digit years, an offset under a day */
        REQUIRE(ms >= ISO_MIN - 86400000LL && ms <= ISO_MAX + 86400000LL);
    }
    if (ok)
        check_format(f, ms);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int which;
    const char *t;
    size_t n;
    uint64_t raw = 0;
    if (size < 1)
        return 0;
    which = data[0] & 3;
    t = (const char *)data + 1;
    n = size - 1;
    for (size_t i = 0; i < 8 && i < n; i++)
        raw = raw << 8 | (uint8_t)t[i];
    for (int f = 0; f < 3; f++) {
        if (which != 3 && f != which)
            continue;
        check_parse((time_format)f, t, n);
        check_format((time_format)f, (int64_t)raw);
    }
    return 0;
}
