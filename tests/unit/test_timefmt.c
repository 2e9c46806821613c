/* test_timefmt.c - instants for incremental sync: parsing with zones and
 * fractions, refusals, epoch forms, and format/parse round trips. */
#include <string.h>

#include "check.h"
#include "core/timefmt.h"

static const struct {
    time_format f;
    const char *in;
    int ok;
    long long ms;
} rows[] = {
    {TIME_ISO8601, "1970-01-01T00:00:00Z", 1, 0},
    {TIME_ISO8601, "2026-03-01T00:37:00Z", 1, 1772325420000LL},
    {TIME_ISO8601, "2026-03-01T06:07:00+05:30", 1, 1772325420000LL},
    {TIME_ISO8601, "2026-02-28T19:37:00-05:00", 1, 1772325420000LL},
    {TIME_ISO8601, "2026-03-01T00:37:00.5Z", 1, 1772325420500LL},
    {TIME_ISO8601, "2026-03-01T00:37:00.123456Z", 1, 1772325420123LL},
    {TIME_ISO8601, "2026-03-01T00:37Z", 1, 1772325420000LL},
    {TIME_ISO8601, "2026-03-01 00:37:00Z", 1, 1772325420000LL},
    {TIME_ISO8601, "2026-03-01T00:37:00+0530", 1, 1772305620000LL},
    {TIME_ISO8601, "2028-02-29T00:00:00Z", 1, 1835395200000LL},
    {TIME_ISO8601, "2016-12-31T23:59:60Z", 1, 1483228799000LL},
    {TIME_ISO8601, "2026-02-29T00:00:00Z", 0, 0},
    {TIME_ISO8601, "2026-03-01T00:37:00", 0, 0},
    {TIME_ISO8601, "2026-03-01", 0, 0},
    {TIME_ISO8601, "2026-13-01T00:00:00Z", 0, 0},
    {TIME_ISO8601, "2026-03-01T24:00:00Z", 0, 0},
    {TIME_ISO8601, "2026-03-01T00:37:00Zjunk", 0, 0},
    {TIME_ISO8601, "2026-03-01T00:37:00.Z", 0, 0},
    {TIME_ISO8601, "", 0, 0},
    {TIME_EPOCH_S, "1772325420", 1, 1772325420000LL},
    {TIME_EPOCH_S, "-1", 1, -1000},
    {TIME_EPOCH_S, "17723254201772325420", 0, 0},
    {TIME_EPOCH_S, "1.5", 0, 0},
    {TIME_EPOCH_MS, "1772325420123", 1, 1772325420123LL},
    {TIME_EPOCH_MS, "", 0, 0},
    {TIME_EPOCH_MS, "12a", 0, 0},
};

int main(void)
{
    buf b;
    buf_init(&b, 1024);
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        int64_t ms = 0;
        int ok = timefmt_parse(rows[i].f, rows[i].in, strlen(rows[i].in), &ms);
        CHECK_INT(ok, rows[i].ok);
        if (ok != rows[i].ok)
            fprintf(stderr, "  row %zu: %s\n", i, rows[i].in);
        if (ok && rows[i].ok)
            CHECK_INT(ms, rows[i].ms);
    }
    /* format -> parse round trips, either side of the epoch and across leap days */
    for (int64_t ms = -5000000000000LL; ms < 5000000000000LL; ms += 86399999 * 37LL + 17) {
        for (int f = 0; f < 3; f++) {
            int64_t back = 0;
            buf_reset(&b);
            CHECK_INT(timefmt_format((time_format)f, ms, &b), CUST_OK);
            if (!timefmt_parse((time_format)f, b.ptr, b.len, &back) ||
                back != (f == TIME_EPOCH_S ? (ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000)) * 1000 : ms)) {
                CHECK(0);
                fprintf(stderr, "  round trip %d %lld -> %s -> %lld\n", f, (long long)ms, b.ptr, (long long)back);
                break;
            }
        }
    }
    buf_reset(&b);
    CHECK_INT(timefmt_format(TIME_ISO8601, 1772325420500LL, &b), CUST_OK);
    CHECK_STR(buf_str(&b), "2026-03-01T00:37:00.500Z");
    buf_release(&b);
    return check_report("test_timefmt");
}
