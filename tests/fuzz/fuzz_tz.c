/* fuzz_tz.c - libFuzzer harness for tz_parse and the conversions. The
 * input is the TZif data itself (the seed corpus holds real zone files).
 * Properties (abort() on violation): a refusal is CUST_ECONFIG naming the
 * zone and leaves *out alone; a parsed zone gives offsets within
 * +-25:59:59; local times from tz_to_local are valid and map back to the
 * instant (uniquely, or as one of a fold's two); tz_next_transition moves
 * forward to an instant where the offset really changes; a gap reported by
 * tz_from_local ends at such a transition. Everything is freed (ASan checks
 * leaks). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/tz.h"

#define REQUIRE(cond) do { \
    if (!(cond)) { \
        fprintf(stderr, "fuzz_tz: property violated: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
        abort(); \
    } \
} while (0)

#define OFF_MAX 93599
#define LO (-62104060800LL) /* 0002-01-01: room for offsets either side */
#define HI 253370764800LL   /* 9998-12-31 */

static void check_at(const tz_zone *z, int64_t t)
{
    tz_civil c;
    int64_t a, b, nt;
    int32_t off = tz_offset_at(z, t);
    int n;
    REQUIRE(off >= -OFF_MAX && off <= OFF_MAX);
    tz_to_local(z, t, &c);
    REQUIRE(c.month >= 1 && c.month <= 12 && c.day >= 1 && c.day <= tz_days_in_month(c.year, c.month));
    REQUIRE(c.hour >= 0 && c.hour < 24 && c.minute >= 0 && c.minute < 60 && c.second >= 0 && c.second < 60);
    n = tz_from_local(z, &c, &a, &b);
    REQUIRE(n == 1 || n == 2);
    if (n == 1)
        REQUIRE(a == t && b == t);
    else
        REQUIRE(a < b && a <= t && t <= b);
    nt = tz_next_transition(z, t);
    REQUIRE(nt > t);
    if (nt != INT64_MAX) {
        REQUIRE(tz_offset_at(z, nt) != tz_offset_at(z, nt - 1));
        /* just after a change, a local time in a gap reports the change */
        {
            int32_t o1 = tz_offset_at(z, nt - 1), o2 = tz_offset_at(z, nt);
            if (o2 > o1) {
                tz_civil g;
                tz_to_local(z, nt - 1, &g); /* the last local second before the jump, +1 */
                g.second += 1;
                n = tz_from_local(z, &g, &a, &b);
                if (n == 0) {
                    REQUIRE(a == b);
                    REQUIRE(tz_offset_at(z, a) != tz_offset_at(z, a - 1));
                }
            }
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int64_t fixed[] = {
        LO, -2208988800LL, -1, 0, 1, 1772953199LL, 1772953200LL, 1793512799LL, 1793512800LL,
        2147483647LL, 2147483648LL, 4076636400LL, 4086547200LL, HI,
    };
    tz_zone *z = (tz_zone *)&z; /* must stay untouched on failure */
    struct err e = {0};
    cust_code rc = tz_parse("Fuzz/Zone", data, size, &z, &e);
    uint64_t h = 1469598103934665603ULL;
    if (rc != CUST_OK) {
        REQUIRE(rc == CUST_ECONFIG);
        REQUIRE(z == (tz_zone *)&z);
        REQUIRE(strstr(e.msg, "time zone \"Fuzz/Zone\": ") == e.msg);
        return 0;
    }
    REQUIRE(strcmp(tz_name(z), "Fuzz/Zone") == 0);
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
        check_at(z, fixed[i]);
    /* a few instants drawn from the data, and a walk over transitions */
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 1099511628211ULL;
    for (int k = 0; k < 8; k++) {
        h = h * 6364136223846793005ULL + 1442695040888963407ULL;
        check_at(z, LO + (int64_t)(h % (uint64_t)(HI - LO)));
    }
    {
        int64_t t = 1577836800LL; /* 2020 */
        for (int k = 0; k < 16 && t < HI; k++) {
            int64_t nt = tz_next_transition(z, t);
            if (nt >= HI)
                break;
            check_at(z, nt);
            check_at(z, nt - 1);
            t = nt;
        }
    }
    tz_free(z);
    return 0;
}
