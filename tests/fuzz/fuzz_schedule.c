/* fuzz_schedule.c - libFuzzer harness for the schedule parsers and
 * sched_next. Input: byte 0 picks the kind (every, daily, cron) and byte 1
 * the zone (UTC, America/New_York, Australia/Lord_Howe, loaded once from
 * the system's tzdata; UTC when missing), bytes 2-9 an instant; the rest is
 * the spec text. Properties (abort() on violation): a refusal is
 * CUST_ECONFIG naming the kind, and leaves the spec untouched; from each of
 * a few instants, sched_next is -1 or strictly later, within range,
 * and found again from just before it; an `every` fire is at most one
 * interval away; in UTC a cron fire agrees with a minute-by-minute search
 * of the next two days; the nominal interval is -1 or positive. Every call
 * must return quickly (the 400-year search bound). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/schedule.h"
#include "io/tzload.h"

#define REQUIRE(cond) do { \
    if (!(cond)) { \
        fprintf(stderr, "fuzz_schedule: property violated: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
        abort(); \
    } \
} while (0)

static const tz_zone *zone_for(uint8_t b)
{
    static tz_zone *ny, *lh;
    static int loaded;
    if (!loaded) {
        loaded = 1;
        if (tz_load("America/New_York", &ny, NULL) != CUST_OK)
            ny = NULL;
        if (tz_load("Australia/Lord_Howe", &lh, NULL) != CUST_OK)
            lh = NULL;
    }
    switch (b % 3) {
    case 1: return ny;
    case 2: return lh;
    default: return NULL;
    }
}

/* Vixie matching of one UTC minute, independently of schedule.c */
static int cron_matches(const sched_spec *s, int64_t t_s)
{
    int64_t days = t_s >= 0 ? t_s / 86400 : -((-t_s + 86399) / 86400), y;
    int64_t sod = t_s - days * 86400;
    int m, d, wd = tz_weekday_of_days(days), dom, dow;
    tz_civil_from_days(days, &y, &m, &d);
    if (!(s->minutes >> (sod / 60 % 60) & 1) || !(s->hours >> (sod / 3600) & 1) || !(s->months >> m & 1))
        return 0;
    dom = (int)(s->mdays >> d & 1);
    dow = (int)(s->wdays >> wd & 1);
    return (s->dom_star || s->dow_star) ? dom && dow : dom || dow;
}

static void check_from(const sched_spec *s, int64_t t, int utc)
{
    int64_t n = sched_next(s, t), n2;
    if (n == -1) {
        if (t >= 0 && t < SCHED_MAX_MS - 1000 && s->kind == SCHED_EVERY)
            REQUIRE(t + s->every_ms > SCHED_MAX_MS);
        return;
    }
    REQUIRE(n >= SCHED_MIN_MS && n <= SCHED_MAX_MS);
    REQUIRE(n > t);
    REQUIRE(sched_next(s, n - 1) == n);
    n2 = sched_next(s, n);
    REQUIRE(n2 == -1 || n2 > n);
    if (s->kind == SCHED_EVERY) {
        REQUIRE(n % s->every_ms == 0);
        REQUIRE(t < 0 || n - t <= s->every_ms);
    } else {
        REQUIRE(n % 1000 == 0);
    }
    if (s->kind == SCHED_CRON && utc && t >= 0) {
        /* the first matching minute after t within two days is n */
        int64_t m0 = (t / 60000 + 1) * 60;
        int64_t found = -1;
        for (int64_t k = 0; k < 2 * 1440; k++)
            if (cron_matches(s, m0 + k * 60)) {
                found = (m0 + k * 60) * 1000;
                break;
            }
        if (found >= 0 && found <= SCHED_MAX_MS)
            REQUIRE(n == found);
        else
            REQUIRE(n > (m0 + 2 * 1440 * 60 - 60) * 1000);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int64_t fixed[] = {
        0,
        1772935200000LL,  /* 2026-03-08T02:00:00Z, the day New York springs forward */
        1793509200000LL,  /* 2026-11-01T05:00:00Z, the hour New York repeats */
        1775311200000LL,  /* 2026-04-04T14:00:00Z, Lord Howe's fold */
        4076632800000LL,  /* 2099-03-08T06:00:00Z, footer rule */
        SCHED_MAX_MS - 86400000LL,
    };
    uint8_t prm[10] = {0};
    size_t n = size < sizeof prm ? size : sizeof prm;
    char *text, zone[TZ_NAME_MAX] = "keep";
    sched_spec s, before;
    struct err e = {0};
    cust_code rc;
    const tz_zone *z;
    int64_t t = 0, nominal;
    int kind;

    memcpy(prm, data, n);
    text = malloc(size - n + 1);
    REQUIRE(text != NULL);
    memcpy(text, data + n, size - n);
    text[size - n] = '\0';
    kind = prm[0] % 3;
    z = zone_for(prm[1]);
    for (int i = 2; i < 10; i++)
        t = (int64_t)((uint64_t)t << 8 | prm[i]);

    memset(&s, 0x77, sizeof s);
    memset(&before, 0x77, sizeof before);
    switch (kind) {
    case 0: rc = sched_parse_every(text, &s, &e); break;
    case 1: rc = sched_parse_daily(text, &s, zone, &e); break;
    default: rc = sched_parse_cron(text, &s, &e); break;
    }
    if (rc != CUST_OK) {
        static const char *const prefix[] = {"every \"", "daily \"", "cron \""};
        REQUIRE(rc == CUST_ECONFIG);
        REQUIRE(strncmp(e.msg, prefix[kind], strlen(prefix[kind])) == 0);
        REQUIRE(memcmp(&s, &before, sizeof s) == 0);
        REQUIRE(strcmp(zone, "keep") == 0);
        free(text);
        return 0;
    }
    if (kind == 1)
        REQUIRE(zone[0] == '\0' || tz_name_ok(zone));
    sched_set_zone(&s, z);

    check_from(&s, t, z == NULL);
    check_from(&s, t % (SCHED_MAX_MS + 1), z == NULL);
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
        check_from(&s, fixed[i] + (t & 0xffffff), z == NULL);

    nominal = sched_nominal_ms(&s);
    REQUIRE(nominal == -1 || nominal > 0);
    if (s.kind == SCHED_CRON)
        REQUIRE((nominal == -1) == (sched_next(&s, 978307200000LL) == -1)); /* from 2001 */
    {
        int64_t j = sched_jitter_ms(text, nominal, (uint64_t)t);
        REQUIRE(j >= 0 && (nominal <= 0 ? j == 0 : j < nominal));
    }
    free(text);
    return 0;
}
