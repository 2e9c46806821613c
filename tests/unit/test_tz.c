/* test_tz.c - tables for TZif zones read from the system's tzdata (New
 * York, London, Lord Howe's 30-minute shift, Kolkata, UTC, and 2099 from
 * the footer rule), local -> UTC with gaps and folds, hand-built TZif data
 * (v1, footer-only v2 with the POSIX rule forms, negative DST, DST all
 * year), every malformation we refuse, zone names and tz_load's errors.
 * The system zone files are required: without them this fails and says
 * to install tzdata. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/timefmt.h"
#include "core/tz.h"
#include "io/tzload.h"

/* "2026-03-08T07:00:00Z" -> Unix seconds */
static int64_t S(const char *iso)
{
    int64_t ms = 0;
    if (!timefmt_parse(TIME_ISO8601, iso, strlen(iso), &ms)) {
        fprintf(stderr, "bad test instant %s\n", iso);
        abort();
    }
    return ms / 1000;
}

static const char *const zone_names[] = {"America/New_York", "Europe/London", "Australia/Lord_Howe",
                                         "Asia/Kolkata", "UTC"};
#define NZONES (sizeof zone_names / sizeof *zone_names)
static tz_zone *zones[NZONES];

static tz_zone *Z(const char *name)
{
    for (size_t i = 0; i < NZONES; i++)
        if (strcmp(zone_names[i], name) == 0)
            return zones[i];
    abort();
}

static int load_zones(void)
{
    int ok = 1;
    for (size_t i = 0; i < NZONES; i++) {
        struct err e = {0};
        if (tz_load(zone_names[i], &zones[i], &e) != CUST_OK) {
            fprintf(stderr, "test_tz: cannot load %s: %s\n"
                            "test_tz: these tests need the system time zone database: install tzdata "
                            "(e.g. apt-get install tzdata) or point TZDIR at a zoneinfo directory\n",
                    zone_names[i], e.msg);
            ok = 0;
        }
        CHECK(zones[i] != NULL);
    }
    return ok;
}

/* ---- UTC -> offset and local time ---------------------------------------- */

static const struct {
    const char *zone, *utc;
    int32_t off;
    const char *local;
} offsets[] = {
    /* New York: 2026-03-08 07:00Z spring forward, 2026-11-01 06:00Z fall back */
    {"America/New_York", "2026-01-15T12:00:00Z", -18000, "2026-01-15 07:00:00"},
    {"America/New_York", "2026-03-08T06:59:59Z", -18000, "2026-03-08 01:59:59"},
    {"America/New_York", "2026-03-08T07:00:00Z", -14400, "2026-03-08 03:00:00"},
    {"America/New_York", "2026-11-01T05:59:59Z", -14400, "2026-11-01 01:59:59"},
    {"America/New_York", "2026-11-01T06:00:00Z", -18000, "2026-11-01 01:00:00"},
    {"America/New_York", "1883-11-18T16:00:00Z", -17762, "1883-11-18 11:03:58"}, /* LMT, before the first transition */
    /* past the transition table: the footer rule EST5EDT,M3.2.0,M11.1.0 */
    {"America/New_York", "2099-07-01T00:00:00Z", -14400, "2099-06-30 20:00:00"},
    {"America/New_York", "2099-03-08T06:59:59Z", -18000, "2099-03-08 01:59:59"},
    {"America/New_York", "2099-03-08T07:00:00Z", -14400, "2099-03-08 03:00:00"},
    {"America/New_York", "2099-11-01T06:00:00Z", -18000, "2099-11-01 01:00:00"},
    {"America/New_York", "9999-12-31T23:59:59Z", -18000, "9999-12-31 18:59:59"},
    /* London */
    {"Europe/London", "2026-03-29T00:59:59Z", 0, "2026-03-29 00:59:59"},
    {"Europe/London", "2026-03-29T01:00:00Z", 3600, "2026-03-29 02:00:00"},
    {"Europe/London", "2026-10-25T00:59:59Z", 3600, "2026-10-25 01:59:59"},
    {"Europe/London", "2026-10-25T01:00:00Z", 0, "2026-10-25 01:00:00"},
    {"Europe/London", "1970-01-01T00:00:00Z", 3600, "1970-01-01 01:00:00"}, /* British Standard Time, 1968-71 */
    /* Lord Howe: +10:30 standard, +11 summer */
    {"Australia/Lord_Howe", "2026-04-04T14:59:59Z", 39600, "2026-04-05 01:59:59"},
    {"Australia/Lord_Howe", "2026-04-04T15:00:00Z", 37800, "2026-04-05 01:30:00"},
    {"Australia/Lord_Howe", "2026-10-03T15:29:59Z", 37800, "2026-10-04 01:59:59"},
    {"Australia/Lord_Howe", "2026-10-03T15:30:00Z", 39600, "2026-10-04 02:30:00"},
    {"Australia/Lord_Howe", "2099-10-03T15:30:00Z", 39600, "2099-10-04 02:30:00"},
    /* Kolkata: +05:30 all year */
    {"Asia/Kolkata", "2026-01-01T00:00:00Z", 19800, "2026-01-01 05:30:00"},
    {"Asia/Kolkata", "2026-07-01T18:30:00Z", 19800, "2026-07-02 00:00:00"},
    {"Asia/Kolkata", "2099-12-31T18:29:59Z", 19800, "2099-12-31 23:59:59"},
    /* UTC */
    {"UTC", "2026-03-08T07:00:00Z", 0, "2026-03-08 07:00:00"},
    {"UTC", "2000-02-29T23:59:59Z", 0, "2000-02-29 23:59:59"},
};

static void test_offsets(void)
{
    for (size_t i = 0; i < sizeof offsets / sizeof *offsets; i++) {
        tz_zone *z = Z(offsets[i].zone);
        int64_t t = S(offsets[i].utc);
        tz_civil c;
        char got[40];
        tz_to_local(z, t, &c);
        snprintf(got, sizeof got, "%04d-%02d-%02d %02d:%02d:%02d", c.year, c.month, c.day, c.hour, c.minute,
                 c.second);
        if (tz_offset_at(z, t) != offsets[i].off || strcmp(got, offsets[i].local) != 0)
            fprintf(stderr, "  offsets row %zu: %s %s\n", i, offsets[i].zone, offsets[i].utc);
        CHECK_INT(tz_offset_at(z, t), offsets[i].off);
        CHECK_STR(got, offsets[i].local);
    }
    /* NULL is UTC; instants outside years 1-9999 clamp */
    CHECK_INT(tz_offset_at(NULL, 1234567), 0);
    CHECK_INT(tz_offset_at(Z("America/New_York"), INT64_MAX), -18000);
    CHECK_INT(tz_offset_at(Z("America/New_York"), INT64_MIN), -17762);
    {
        tz_civil c;
        tz_to_local(Z("Asia/Kolkata"), INT64_MAX, &c);
        CHECK_INT(c.year, 10000);
        tz_to_local(NULL, INT64_MIN, &c);
        CHECK_INT(c.year, 1);
        CHECK_INT(c.month, 1);
        CHECK_INT(c.day, 1);
    }
    CHECK_STR(tz_name(Z("America/New_York")), "America/New_York");
    CHECK_STR(tz_name(tz_utc()), "UTC");
    CHECK_STR(tz_name(NULL), "UTC");
    tz_free(tz_utc()); /* a no-op */
    tz_free(NULL);
    CHECK_INT(tz_offset_at(tz_utc(), 0), 0);
}

/* ---- next transition ------------------------------------------------------- */

static const struct {
    const char *zone, *after, *want; /* want NULL: never */
} transitions[] = {
    {"America/New_York", "2026-01-01T00:00:00Z", "2026-03-08T07:00:00Z"},
    {"America/New_York", "2026-03-08T07:00:00Z", "2026-11-01T06:00:00Z"},
    {"America/New_York", "2026-03-08T06:59:59Z", "2026-03-08T07:00:00Z"},
    {"America/New_York", "2098-12-01T00:00:00Z", "2099-03-08T07:00:00Z"},
    {"America/New_York", "2099-03-08T07:00:00Z", "2099-11-01T06:00:00Z"},
    {"Europe/London", "2026-06-01T00:00:00Z", "2026-10-25T01:00:00Z"},
    {"Australia/Lord_Howe", "2026-01-01T00:00:00Z", "2026-04-04T15:00:00Z"},
    {"Australia/Lord_Howe", "2026-04-04T15:00:00Z", "2026-10-03T15:30:00Z"},
    {"Asia/Kolkata", "1950-01-01T00:00:00Z", NULL},
    {"UTC", "2026-01-01T00:00:00Z", NULL},
};

static void test_transitions(void)
{
    for (size_t i = 0; i < sizeof transitions / sizeof *transitions; i++) {
        int64_t got = tz_next_transition(Z(transitions[i].zone), S(transitions[i].after));
        int64_t want = transitions[i].want ? S(transitions[i].want) : INT64_MAX;
        if (got != want)
            fprintf(stderr, "  transitions row %zu: %s after %s\n", i, transitions[i].zone, transitions[i].after);
        CHECK_INT(got, want);
    }
    CHECK_INT(tz_next_transition(NULL, 0), INT64_MAX);
    CHECK_INT(tz_next_transition(Z("America/New_York"), INT64_MAX), INT64_MAX);
    CHECK_INT(tz_next_transition(Z("America/New_York"), TZ_MAX_S - 86400 * 30), INT64_MAX); /* 9999-12 */
    /* a walk over 2026-2100 in New York: exactly two changes a year, each
     * flipping between -5h and -4h */
    {
        int64_t t = S("2026-01-01T00:00:00Z"), end = S("2100-01-01T00:00:00Z");
        int n = 0, bad = 0;
        while ((t = tz_next_transition(Z("America/New_York"), t)) < end) {
            int32_t a = tz_offset_at(Z("America/New_York"), t - 1), b = tz_offset_at(Z("America/New_York"), t);
            if (!((a == -18000 && b == -14400) || (a == -14400 && b == -18000)))
                bad++;
            n++;
        }
        CHECK_INT(n, 2 * 74);
        CHECK_INT(bad, 0);
    }
}

/* ---- local -> UTC ---------------------------------------------------------- */

static const struct {
    const char *zone;
    tz_civil local;
    int n;
    const char *first, *second;
} locals[] = {
    /* spring forward: 02:00-02:59 do not exist; the gap ends at 07:00Z */
    {"America/New_York", {2026, 3, 8, 2, 30, 0}, 0, "2026-03-08T07:00:00Z", "2026-03-08T07:00:00Z"},
    {"America/New_York", {2026, 3, 8, 2, 0, 0}, 0, "2026-03-08T07:00:00Z", "2026-03-08T07:00:00Z"},
    {"America/New_York", {2026, 3, 8, 2, 59, 59}, 0, "2026-03-08T07:00:00Z", "2026-03-08T07:00:00Z"},
    {"America/New_York", {2026, 3, 8, 1, 59, 59}, 1, "2026-03-08T06:59:59Z", "2026-03-08T06:59:59Z"},
    {"America/New_York", {2026, 3, 8, 3, 0, 0}, 1, "2026-03-08T07:00:00Z", "2026-03-08T07:00:00Z"},
    {"America/New_York", {2026, 3, 9, 2, 30, 0}, 1, "2026-03-09T06:30:00Z", "2026-03-09T06:30:00Z"},
    /* fall back: 01:00-01:59 happen twice */
    {"America/New_York", {2026, 11, 1, 1, 30, 0}, 2, "2026-11-01T05:30:00Z", "2026-11-01T06:30:00Z"},
    {"America/New_York", {2026, 11, 1, 1, 0, 0}, 2, "2026-11-01T05:00:00Z", "2026-11-01T06:00:00Z"},
    {"America/New_York", {2026, 11, 1, 0, 59, 59}, 1, "2026-11-01T04:59:59Z", "2026-11-01T04:59:59Z"},
    {"America/New_York", {2026, 11, 1, 2, 0, 0}, 1, "2026-11-01T07:00:00Z", "2026-11-01T07:00:00Z"},
    /* 2099, from the footer rule */
    {"America/New_York", {2099, 3, 8, 2, 30, 0}, 0, "2099-03-08T07:00:00Z", "2099-03-08T07:00:00Z"},
    {"America/New_York", {2099, 11, 1, 1, 30, 0}, 2, "2099-11-01T05:30:00Z", "2099-11-01T06:30:00Z"},
    {"America/New_York", {2099, 7, 4, 12, 0, 0}, 1, "2099-07-04T16:00:00Z", "2099-07-04T16:00:00Z"},
    /* London */
    {"Europe/London", {2026, 3, 29, 1, 30, 0}, 0, "2026-03-29T01:00:00Z", "2026-03-29T01:00:00Z"},
    {"Europe/London", {2026, 10, 25, 1, 30, 0}, 2, "2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z"},
    /* Lord Howe: a 30-minute gap and fold */
    {"Australia/Lord_Howe", {2026, 10, 4, 2, 15, 0}, 0, "2026-10-03T15:30:00Z", "2026-10-03T15:30:00Z"},
    {"Australia/Lord_Howe", {2026, 10, 4, 2, 30, 0}, 1, "2026-10-03T15:30:00Z", "2026-10-03T15:30:00Z"},
    {"Australia/Lord_Howe", {2026, 4, 5, 1, 45, 0}, 2, "2026-04-04T14:45:00Z", "2026-04-04T15:15:00Z"},
    {"Australia/Lord_Howe", {2026, 4, 5, 1, 29, 0}, 1, "2026-04-04T14:29:00Z", "2026-04-04T14:29:00Z"},
    {"Australia/Lord_Howe", {2026, 4, 5, 2, 0, 0}, 1, "2026-04-04T15:30:00Z", "2026-04-04T15:30:00Z"},
    /* Kolkata and UTC: always unique */
    {"Asia/Kolkata", {2026, 3, 8, 2, 30, 0}, 1, "2026-03-07T21:00:00Z", "2026-03-07T21:00:00Z"},
    {"UTC", {2026, 11, 1, 1, 30, 0}, 1, "2026-11-01T01:30:00Z", "2026-11-01T01:30:00Z"},
    /* fields out of range carry */
    {"UTC", {2026, 13, 1, 0, 0, 0}, 1, "2027-01-01T00:00:00Z", "2027-01-01T00:00:00Z"},
    {"UTC", {2026, 0, 1, 0, 0, 0}, 1, "2025-12-01T00:00:00Z", "2025-12-01T00:00:00Z"},
    {"UTC", {2026, 2, 29, 24, 0, 0}, 1, "2026-03-02T00:00:00Z", "2026-03-02T00:00:00Z"},
    {"UTC", {2026, 1, 1, 0, -1, 0}, 1, "2025-12-31T23:59:00Z", "2025-12-31T23:59:00Z"},
};

static void test_from_local(void)
{
    for (size_t i = 0; i < sizeof locals / sizeof *locals; i++) {
        int64_t a = -1, b = -1;
        int n = tz_from_local(Z(locals[i].zone), &locals[i].local, &a, &b);
        if (n != locals[i].n || a != S(locals[i].first) || b != S(locals[i].second))
            fprintf(stderr, "  locals row %zu: %s: n=%d %lld %lld\n", i, locals[i].zone, n, (long long)a,
                    (long long)b);
        CHECK_INT(n, locals[i].n);
        CHECK_INT(a, S(locals[i].first));
        CHECK_INT(b, S(locals[i].second));
    }
    /* NULL outputs are allowed */
    CHECK_INT(tz_from_local(NULL, &(tz_civil){2026, 1, 1, 0, 0, 0}, NULL, NULL), 1);
    /* round trip: every quarter hour of 2026 in each zone maps back */
    for (size_t zi = 0; zi < NZONES; zi++) {
        int bad = 0;
        for (int64_t t = S("2026-01-01T00:00:00Z"); t < S("2027-01-01T00:00:00Z"); t += 900) {
            tz_civil c;
            int64_t a, b;
            int n;
            tz_to_local(zones[zi], t, &c);
            n = tz_from_local(zones[zi], &c, &a, &b);
            if (!((n == 1 && a == t) || (n == 2 && (a == t || b == t))))
                bad++;
        }
        CHECK_INT(bad, 0);
    }
}

/* ---- calendar -------------------------------------------------------------- */

static void test_calendar(void)
{
    int bad = 0;
    CHECK_INT(tz_days_from_civil(1970, 1, 1), 0);
    CHECK_INT(tz_days_from_civil(2000, 3, 1), 11017);
    CHECK_INT(tz_days_from_civil(1, 1, 1), -719162);
    CHECK_INT(tz_days_from_civil(9999, 12, 31), 2932896);
    CHECK_INT(tz_weekday_of_days(0), 4);                              /* Thursday */
    CHECK_INT(tz_weekday(&(tz_civil){2026, 3, 8, 0, 0, 0}), 0);       /* Sunday */
    CHECK_INT(tz_weekday(&(tz_civil){1969, 12, 31, 0, 0, 0}), 3);     /* Wednesday */
    CHECK_INT(tz_weekday(&(tz_civil){1, 1, 1, 0, 0, 0}), 1);          /* Monday */
    CHECK_INT(tz_is_leap(2000), 1);
    CHECK_INT(tz_is_leap(2100), 0);
    CHECK_INT(tz_is_leap(2028), 1);
    CHECK_INT(tz_is_leap(2026), 0);
    CHECK_INT(tz_days_in_month(2028, 2), 29);
    CHECK_INT(tz_days_in_month(2100, 2), 28);
    CHECK_INT(tz_days_in_month(2026, 4), 30);
    CHECK_INT(tz_days_in_month(2026, 13), 0);
    for (int64_t d = -719162; d <= 2932896; d += 7) {
        int64_t y;
        int m, dd;
        tz_civil_from_days(d, &y, &m, &dd);
        if (tz_days_from_civil(y, m, dd) != d || dd < 1 || dd > tz_days_in_month(y, m))
            bad++;
    }
    CHECK_INT(bad, 0);
}

/* ---- hand-built TZif ------------------------------------------------------- */

typedef struct tzb {
    unsigned char b[8192];
    size_t n;
} tzb;

static void put(tzb *t, const void *p, size_t n)
{
    if (n)
        memcpy(t->b + t->n, p, n);
    t->n += n;
}

static void put32(tzb *t, uint32_t v)
{
    unsigned char x[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8),
                          (unsigned char)v};
    put(t, x, 4);
}

static void put64(tzb *t, int64_t v)
{
    put32(t, (uint32_t)((uint64_t)v >> 32));
    put32(t, (uint32_t)v);
}

static void header(tzb *t, char version, uint32_t timecnt, uint32_t typecnt, uint32_t charcnt)
{
    put(t, "TZif", 4);
    put(t, &version, 1);
    put(t, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 15);
    put32(t, 0); /* isutcnt */
    put32(t, 0); /* isstdcnt */
    put32(t, 0); /* leapcnt */
    put32(t, timecnt);
    put32(t, typecnt);
    put32(t, charcnt);
}

/* A zone: ntrans transitions to types idx[], types with offs[]; v1 (version
 * 0) writes 32-bit times and no footer, v2+ a minimal v1 block, the 64-bit
 * block and the footer. */
static void build(tzb *t, char version, const int64_t *trans, const unsigned char *idx, uint32_t ntrans,
                  const int32_t *offs, uint32_t ntypes, const char *footer)
{
    t->n = 0;
    if (version == 0) {
        header(t, 0, ntrans, ntypes, 4);
        for (uint32_t i = 0; i < ntrans; i++)
            put32(t, (uint32_t)(int32_t)trans[i]);
    } else {
        header(t, version, 0, 1, 1);
        put(t, "\0\0\0\0\0\0\0", 7); /* one type, one designation byte */
        header(t, version, ntrans, ntypes, 4);
        for (uint32_t i = 0; i < ntrans; i++)
            put64(t, trans[i]);
    }
    put(t, idx, ntrans);
    for (uint32_t i = 0; i < ntypes; i++) {
        unsigned char rest[2] = {(unsigned char)(i > 0), 0};
        put32(t, (uint32_t)offs[i]);
        put(t, rest, 2);
    }
    put(t, "ABC\0", 4);
    if (version) {
        put(t, "\n", 1);
        put(t, footer, strlen(footer));
        put(t, "\n", 1);
    }
}

static tz_zone *footer_zone(const char *footer)
{
    tzb t;
    tz_zone *z = NULL;
    struct err e = {0};
    int32_t off = 0;
    build(&t, '2', NULL, NULL, 0, &off, 1, footer);
    if (tz_parse("test", t.b, t.n, &z, &e) != CUST_OK) {
        fprintf(stderr, "  footer \"%s\": %s\n", footer, e.msg);
        return NULL;
    }
    return z;
}

static const struct {
    const char *footer, *utc;
    int32_t off;
} rules[] = {
    /* the real zones' footers, checked against their 2099 transitions */
    {"EST5EDT,M3.2.0,M11.1.0", "2099-03-08T06:59:59Z", -18000},
    {"EST5EDT,M3.2.0,M11.1.0", "2099-03-08T07:00:00Z", -14400},
    {"EST5EDT,M3.2.0,M11.1.0", "2099-11-01T05:59:59Z", -14400},
    {"EST5EDT,M3.2.0,M11.1.0", "2099-11-01T06:00:00Z", -18000},
    {"EST5EDT", "2099-03-08T07:00:00Z", -14400}, /* no rule: the US rules */
    {"EST5EDT", "2099-11-01T06:00:00Z", -18000},
    {"<-02>2<-01>,M3.5.0/-1,M10.5.0/0", "2099-03-29T00:59:59Z", -7200}, /* Nuuk: negative rule time */
    {"<-02>2<-01>,M3.5.0/-1,M10.5.0/0", "2099-03-29T01:00:00Z", -3600},
    {"<-02>2<-01>,M3.5.0/-1,M10.5.0/0", "2099-10-25T01:00:00Z", -7200},
    {"IST-2IDT,M3.4.4/26,M10.5.0", "2099-03-26T23:59:59Z", 7200}, /* Jerusalem: 26:00 */
    {"IST-2IDT,M3.4.4/26,M10.5.0", "2099-03-27T00:00:00Z", 10800},
    {"IST-2IDT,M3.4.4/26,M10.5.0", "2099-10-24T23:00:00Z", 7200},
    {"IST-1GMT0,M10.5.0,M3.5.0/1", "2099-03-29T00:59:59Z", 0}, /* Dublin: negative DST */
    {"IST-1GMT0,M10.5.0,M3.5.0/1", "2099-03-29T01:00:00Z", 3600},
    {"IST-1GMT0,M10.5.0,M3.5.0/1", "2099-10-25T01:00:00Z", 0},
    {"<+1030>-10:30<+11>-11,M10.1.0,M4.1.0", "2099-10-03T15:30:00Z", 39600}, /* Lord Howe */
    {"<+1030>-10:30<+11>-11,M10.1.0,M4.1.0", "2099-04-04T15:00:00Z", 37800},
    {"<+1030>-10:30<+11>-11,M10.1.0,M4.1.0", "2099-04-04T14:59:59Z", 39600},
    {"<+1245>-12:45<+1345>,M9.5.0/2:45,M4.1.0/3:45", "2099-01-01T00:00:00Z", 49500}, /* Chatham */
    {"NST3:30NDT,M3.2.0,M11.1.0", "2099-01-01T00:00:00Z", -12600}, /* St John's */
    {"<+0530>-5:30", "2099-06-01T00:00:00Z", 19800},
    {"UTC0", "2099-06-01T00:00:00Z", 0},
    /* DST all year (RFC 8536 3.3.1's example) */
    {"EST5EDT,0/0,J365/25", "2099-01-01T04:30:00Z", -14400},
    {"EST5EDT,0/0,J365/25", "2099-07-01T00:00:00Z", -14400},
    {"EST5EDT,0/0,J365/25", "2100-01-01T03:59:59Z", -14400},
    {"EST5EDT,0/0,J365/25", "2100-01-01T04:00:00Z", -14400},
    /* Julian days: J60 is Mar 1 every year; 59 is Feb 29 in leap years */
    {"AAA3BBB,J60,J300", "2028-03-01T04:59:59Z", -10800},
    {"AAA3BBB,J60,J300", "2028-03-01T05:00:00Z", -7200},
    {"AAA3BBB,59,300", "2028-02-29T04:59:59Z", -10800},
    {"AAA3BBB,59,300", "2028-02-29T05:00:00Z", -7200},
    {"AAA3BBB,59,300", "2027-03-01T05:00:00Z", -7200},
    {"AAA3BBB,59,300", "2027-02-28T23:00:00Z", -10800},
    /* version 3 rule times beyond 24h */
    {"AAA3BBB,M3.2.0/167,M11.1.0/-167", "2030-03-17T02:00:00Z", -7200},  /* Mar 10 + 167h */
    {"AAA3BBB,M3.2.0/167,M11.1.0/-167", "2030-03-17T01:59:59Z", -10800},
    {"AAA3BBB,M3.2.0/167,M11.1.0/-167", "2030-10-27T02:59:59Z", -7200},  /* Nov 3 - 167h */
    {"AAA3BBB,M3.2.0/167,M11.1.0/-167", "2030-10-27T03:00:00Z", -10800},
};

static void test_rules(void)
{
    for (size_t i = 0; i < sizeof rules / sizeof *rules; i++) {
        tz_zone *z = footer_zone(rules[i].footer);
        CHECK(z != NULL);
        if (!z)
            continue;
        if (tz_offset_at(z, S(rules[i].utc)) != rules[i].off)
            fprintf(stderr, "  rules row %zu: \"%s\" at %s\n", i, rules[i].footer, rules[i].utc);
        CHECK_INT(tz_offset_at(z, S(rules[i].utc)), rules[i].off);
        tz_free(z);
    }
    {
        tz_zone *z = footer_zone("EST5EDT,0/0,J365/25");
        CHECK_INT(tz_next_transition(z, S("2099-01-01T00:00:00Z")), INT64_MAX);
        tz_free(z);
        z = footer_zone("");
        CHECK_INT(tz_offset_at(z, S("2099-01-01T00:00:00Z")), 0); /* empty footer: type 0 */
        tz_free(z);
    }
}

/* transition table then footer; v1 without footer */
static void test_tables(void)
{
    tzb t;
    tz_zone *z = NULL;
    struct err e = {0};
    const int64_t trans[] = {-100000, 0, 100000};
    const unsigned char idx[] = {1, 2, 1};
    const int32_t offs[] = {3600, 7200, -3600};

    build(&t, 0, trans, idx, 3, offs, 3, NULL);
    CHECK_INT(tz_parse("v1", t.b, t.n, &z, &e), CUST_OK);
    CHECK_INT(tz_offset_at(z, -100001), 3600); /* type 0 before the first */
    CHECK_INT(tz_offset_at(z, -100000), 7200);
    CHECK_INT(tz_offset_at(z, -1), 7200);
    CHECK_INT(tz_offset_at(z, 0), -3600);
    CHECK_INT(tz_offset_at(z, 100000), 7200);
    CHECK_INT(tz_offset_at(z, S("2099-01-01T00:00:00Z")), 7200); /* no footer: the last type */
    CHECK_INT(tz_next_transition(z, -200000), -100000);
    CHECK_INT(tz_next_transition(z, -100000), 0);
    CHECK_INT(tz_next_transition(z, 100000), INT64_MAX);
    tz_free(z);
    z = NULL;

    /* v2: the table, then the footer takes over at the last transition */
    build(&t, '2', trans, idx, 3, offs, 3, "AAA-5");
    CHECK_INT(tz_parse("v2", t.b, t.n, &z, &e), CUST_OK);
    CHECK_INT(tz_offset_at(z, 99999), -3600);
    CHECK_INT(tz_offset_at(z, 100000), 18000);
    CHECK_INT(tz_next_transition(z, 0), 100000);
    tz_free(z);
    z = NULL;

    /* a transition that changes nothing is skipped by tz_next_transition */
    {
        const unsigned char same[] = {1, 1, 2};
        const int32_t offs2[] = {0, 3600, 3600};
        build(&t, '3', trans, same, 3, offs2, 3, "");
        CHECK_INT(tz_parse("v3", t.b, t.n, &z, &e), CUST_OK);
        CHECK_INT(tz_next_transition(z, -200000), -100000);
        CHECK_INT(tz_next_transition(z, -100000), INT64_MAX);
        tz_free(z);
        z = NULL;
    }
    /* version 4 and later versions are read like 2 */
    build(&t, '4', trans, idx, 3, offs, 3, "AAA-5");
    CHECK_INT(tz_parse("v4", t.b, t.n, &z, &e), CUST_OK);
    tz_free(z);
    z = NULL;
    /* a long name is truncated, a NULL one named */
    {
        char longname[200];
        memset(longname, 'x', sizeof longname - 1);
        longname[sizeof longname - 1] = '\0';
        CHECK_INT(tz_parse(longname, t.b, t.n, &z, &e), CUST_OK);
        CHECK_INT(strlen(tz_name(z)), TZ_NAME_MAX - 1);
        tz_free(z);
        z = NULL;
        CHECK_INT(tz_parse(NULL, t.b, t.n, &z, &e), CUST_OK);
        CHECK_STR(tz_name(z), "(unnamed)");
        tz_free(z);
        z = NULL;
    }
}

/* ---- malformed TZif -------------------------------------------------------- */

static unsigned char real[16384];
static size_t real_len;

static int read_real(void)
{
    const char *dir = getenv("TZDIR");
    char path[4096];
    FILE *f;
    snprintf(path, sizeof path, "%s/America/New_York", dir && *dir ? dir : "/usr/share/zoneinfo");
    if (!(f = fopen(path, "rb")))
        return 0;
    real_len = fread(real, 1, sizeof real, f);
    fclose(f);
    return real_len > 0;
}

static const struct {
    const char *what;
    int kind;
    const char *footer;
    const char *msg; /* substring of the error */
} malformed[] = {
    {"bad magic", 1, NULL, "no \"TZif\" header"},
    {"bad version", 2, NULL, "unknown TZif version byte 0x31"},
    {"no types", 3, NULL, "0 local time types"},
    {"unsorted", 4, NULL, "transition 1 is not after transition 0"},
    {"type index", 5, NULL, "transition 0 uses type 7 of 2"},
    {"offset", 6, NULL, "UT offset 93600 s"},
    {"dst flag", 7, NULL, "DST flag 2"},
    {"designation", 8, NULL, "names designation 9 of 4"},
    {"leap seconds", 9, NULL, "leap-second"},
    {"trailing", 10, NULL, "bytes after the footer"},
    {"no footer", 11, NULL, "missing footer"},
    {"open footer", 12, NULL, "not closed by a newline"},
    {"footer NUL", 13, NULL, "holds a NUL byte"},
    {"v1 trailing", 14, NULL, "bytes after the data block"},
    {"indicators", 15, NULL, "indicator counts"},
    {"footer", 0, "EST", "is not a POSIX TZ rule"},
    {"footer", 0, "EST5EDT,M3.2.0", "is not a POSIX TZ rule"},
    {"footer", 0, "EST5EDT,M13.1.0,M11.1.0", "is not a POSIX TZ rule"},
    {"footer", 0, "EST5EDT,M3.6.0,M11.1.0", "is not a POSIX TZ rule"},
    {"footer", 0, "EST5EDT,M3.2.7,M11.1.0", "is not a POSIX TZ rule"},
    {"footer", 0, "EST25", "is not a POSIX TZ rule"},
    {"footer", 0, "ES5", "is not a POSIX TZ rule"},
    {"footer", 0, "<E>5", "is not a POSIX TZ rule"},
    {"footer", 0, "<EST5", "is not a POSIX TZ rule"},
    {"footer", 0, "EST5EDT,M3.2.0/168,M11.1.0", "is not a POSIX TZ rule"},
    {"footer", 0, "EST5EDT,J0,J365", "is not a POSIX TZ rule"},
    {"footer", 0, "EST5EDT,366,0", "is not a POSIX TZ rule"},
    {"footer", 0, "EST5 ", "is not a POSIX TZ rule"},
    {"footer", 0, "EST5:60", "is not a POSIX TZ rule"},
    {"footer", 0, "EST5EDT,M3.2.0,M11.1.0,", "is not a POSIX TZ rule"},
    {"footer", 0, "EST5EDT4x", "is not a POSIX TZ rule"},
    {"footer", 0, "EST5EDT,M3.2.0/2:00:00:00,M11.1.0", "is not a POSIX TZ rule"},
    {"footer", 0, "EST5EDT,M3.2.0/1234,M11.1.0", "is not a POSIX TZ rule"},
};

static void test_malformed(void)
{
    const int64_t trans[] = {10, 20};
    const unsigned char idx[] = {1, 0};
    const int32_t offs[] = {0, 3600};
    for (size_t i = 0; i < sizeof malformed / sizeof *malformed; i++) {
        tzb t;
        tz_zone *z = (tz_zone *)1; /* must stay untouched */
        struct err e = {0};
        size_t v2 = 44 + 7; /* the second header's offset in build()'s v2 files */
        build(&t, '2', trans, idx, 2, offs, 2, malformed[i].footer ? malformed[i].footer : "AAA0");
        switch (malformed[i].kind) {
        case 1: t.b[1] = 'X'; break;
        case 2: t.b[4] = '1'; break;
        case 3: memset(t.b + v2 + 36, 0, 4); break;
        case 4: memset(t.b + v2 + 44 + 8, 0, 8); break;
        case 5: t.b[v2 + 44 + 16] = 7; break;
        case 7: t.b[v2 + 44 + 18 + 4] = 2; break;
        case 8: t.b[v2 + 44 + 18 + 5] = 9; break;
        case 9: t.b[v2 + 31] = 1; break;
        case 10: t.b[t.n++] = 'x'; break;
        case 11: t.n -= strlen("AAA0") + 2; break;
        case 12: t.n--; break;
        case 13: t.b[t.n - 3] = '\0'; break;
        case 14: build(&t, 0, trans, idx, 2, offs, 2, NULL); t.b[t.n++] = 0; break;
        case 15: t.b[v2 + 23] = 1; break;
        default: break;
        }
        if (malformed[i].kind == 6) {
            /* type 1's offset: 93600 = 0x00016da0, just past 25:59:59 */
            t.b[v2 + 44 + 18 + 6] = 0x00;
            t.b[v2 + 44 + 18 + 7] = 0x01;
            t.b[v2 + 44 + 18 + 8] = 0x6d;
            t.b[v2 + 44 + 18 + 9] = 0xa0;
        }
        CHECK_INT(tz_parse("Test/Zone", t.b, t.n, &z, &e), CUST_ECONFIG);
        CHECK(z == (tz_zone *)1);
        if (!strstr(e.msg, malformed[i].msg) || !strstr(e.msg, "time zone \"Test/Zone\"") ||
            !strstr(e.msg, "reinstall tzdata"))
            fprintf(stderr, "  malformed row %zu (%s): got \"%s\"\n", i, malformed[i].what, e.msg);
        CHECK(strstr(e.msg, malformed[i].msg) != NULL);
        CHECK(strstr(e.msg, "time zone \"Test/Zone\"") != NULL);
        CHECK(strstr(e.msg, "reinstall tzdata") != NULL);
    }
    /* every truncation of a real zone file is refused (and ASan sees no
     * read past the end); so is every single-byte corruption of the header
     * counts, or it parses */
    if (!read_real()) {
        fprintf(stderr, "test_tz: cannot read America/New_York: install tzdata\n");
        CHECK(0);
        return;
    }
    {
        int refused = 0, parsed = 0;
        for (size_t n = 0; n < real_len; n++) {
            tz_zone *z = NULL;
            unsigned char *copy = malloc(n ? n : 1);
            memcpy(copy, real, n);
            if (tz_parse("cut", copy, n, &z, NULL) == CUST_ECONFIG && !z)
                refused++;
            free(copy);
        }
        CHECK_INT(refused, (long long)real_len);
        for (size_t pos = 0; pos < real_len; pos++) {
            for (int bit = 0; bit < 8; bit += 3) {
                tz_zone *z = NULL;
                unsigned char *copy = malloc(real_len);
                memcpy(copy, real, real_len);
                copy[pos] ^= (unsigned char)(1u << bit);
                if (tz_parse("flip", copy, real_len, &z, NULL) == CUST_OK) {
                    tz_civil c;
                    int64_t a, b;
                    tz_to_local(z, 4000000000LL, &c);
                    tz_from_local(z, &c, &a, &b);
                    tz_next_transition(z, 0);
                    tz_free(z);
                    parsed++;
                }
                free(copy);
            }
        }
        CHECK(parsed > 0);
    }
    CHECK_INT(tz_parse("null", NULL, 0, &(tz_zone *){NULL}, NULL), CUST_ECONFIG);
}

/* ---- names and loading ------------------------------------------------------ */

static const struct {
    const char *name;
    int ok;
} names[] = {
    {"America/New_York", 1},
    {"America/Argentina/Buenos_Aires", 1},
    {"Etc/GMT+5", 1},
    {"Etc/GMT-14", 1},
    {"UTC", 1},
    {"EST5EDT", 1},
    {"", 0},
    {"/etc/passwd", 0},
    {"../etc/passwd", 0},
    {"America/../../etc/passwd", 0},
    {"America//New_York", 0},
    {"America/New_York/", 0},
    {"America/New York", 0},
    {"America/New_York.bak", 0},
    {"America\\New_York", 0},
    {"Amérique/Montréal", 0},
    {"0123456789012345678901234567890123456789012345678901234567890123", 0}, /* 64 */
    {"012345678901234567890123456789012345678901234567890123456789012", 1},  /* 63 */
};

static const struct {
    const char *name;
    cust_code code;
    const char *msg1, *msg2;
} loads[] = {
    {"America/New_Yrok", CUST_ENOTFOUND, "time zone \"America/New_Yrok\": no such zone", "install the tzdata package"},
    {"Mars/Olympus_Mons", CUST_ENOTFOUND, "check the spelling, e.g. \"America/New_York\"", "tzdata"},
    {"America/New_York/x", CUST_ENOTFOUND, "no such zone", "tzdata"},
    {"../etc/passwd", CUST_ECONFIG, "time zone \"../etc/passwd\": not a zone name", "\"America/New_York\""},
    {"/etc/passwd", CUST_ECONFIG, "not a zone name", "UTC"},
    {"", CUST_ECONFIG, "time zone \"\": not a zone name", "America/New_York"},
    {"bad\nname", CUST_ECONFIG, "time zone \"bad\\x0aname\": not a zone name", "America/New_York"},
    {"America", CUST_ECONFIG, "is a directory of zones, not a zone", "America/New_York"},
};

static void test_load(void)
{
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        if (tz_name_ok(names[i].name) != names[i].ok)
            fprintf(stderr, "  names row %zu: \"%s\"\n", i, names[i].name);
        CHECK_INT(tz_name_ok(names[i].name), names[i].ok);
    }
    CHECK_INT(tz_name_ok(NULL), 0);
    for (size_t i = 0; i < sizeof loads / sizeof *loads; i++) {
        tz_zone *z = NULL;
        struct err e = {0};
        CHECK_INT(tz_load(loads[i].name, &z, &e), loads[i].code);
        CHECK(z == NULL);
        if (!strstr(e.msg, loads[i].msg1) || !strstr(e.msg, loads[i].msg2))
            fprintf(stderr, "  loads row %zu: got \"%s\"\n", i, e.msg);
        CHECK(strstr(e.msg, loads[i].msg1) != NULL);
        CHECK(strstr(e.msg, loads[i].msg2) != NULL);
    }
    {
        tz_zone *z = NULL;
        CHECK_INT(tz_load("UTC", &z, NULL), CUST_OK);
        CHECK(z == tz_utc());
        CHECK_INT(tz_load("Etc/UTC", &z, NULL), CUST_OK);
        CHECK(z == tz_utc());
        CHECK_INT(tz_load(NULL, &z, NULL), CUST_ECONFIG);
    }
    /* TZDIR is honoured: the fuzz corpus holds copies of real zone files
     * (found from this file's path, so the test runs from any directory) */
    {
        const char *old = getenv("TZDIR"), *cut = strstr(__FILE__, "tests/unit/test_tz.c");
        char saved[4096] = "", dir[4096], want[4400];
        tz_zone *z = NULL;
        struct err e = {0};
        if (old)
            snprintf(saved, sizeof saved, "%s", old);
        snprintf(dir, sizeof dir, "%.*stests/fuzz/corpus/tz", cut ? (int)(cut - __FILE__) : 0, __FILE__);
        setenv("TZDIR", dir, 1);
        CHECK_INT(tz_load("America_New_York", &z, &e), CUST_OK);
        if (z) {
            CHECK_INT(tz_offset_at(z, S("2026-07-01T00:00:00Z")), -14400);
            CHECK_STR(tz_name(z), "America_New_York");
        }
        tz_free(z);
        z = NULL;
        CHECK_INT(tz_load("America/New_York", &z, &e), CUST_ENOTFOUND);
        snprintf(want, sizeof want, "no such zone in %s (", dir);
        CHECK(strstr(e.msg, want) != NULL);
        CHECK_INT(tz_load("not-tzif", &z, &e), CUST_ECONFIG);
        snprintf(want, sizeof want, "%s/not-tzif: time zone \"not-tzif\": no \"TZif\" header", dir);
        CHECK(strstr(e.msg, want) != NULL);
        if (old)
            setenv("TZDIR", saved, 1);
        else
            unsetenv("TZDIR");
    }
}

int main(void)
{
    if (!load_zones())
        return check_report("test_tz");
    test_offsets();
    test_transitions();
    test_from_local();
    test_calendar();
    test_rules();
    test_tables();
    test_malformed();
    test_load();
    for (size_t i = 0; i < NZONES; i++)
        tz_free(zones[i]);
    return check_report("test_tz");
}
