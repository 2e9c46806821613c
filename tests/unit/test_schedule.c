/* test_schedule.c - tables for the every / daily / cron parsers and their
 * messages, next fire instants on a simulated clock (DST gaps and folds in
 * New York, London, Lord Howe; Kolkata; UTC; 2099 from the footer rule;
 * cron's Vixie OR, day 7, names, steps, Feb 29, never-firing calendars),
 * nominal intervals, jitter over 10,000 names, adaptive interval sequences
 * and the due queue against a sorted reference over 10,000 random
 * operations. No sleeping, no clock: every instant is in the tables. The
 * system zone files are required (install tzdata). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/schedule.h"
#include "core/timefmt.h"
#include "io/tzload.h"

/* "2026-03-08T07:00:00Z" -> Unix ms; "-1" -> -1 */
static int64_t MS(const char *iso)
{
    int64_t ms = 0;
    if (strcmp(iso, "-1") == 0)
        return -1;
    if (!timefmt_parse(TIME_ISO8601, iso, strlen(iso), &ms)) {
        fprintf(stderr, "bad test instant %s\n", iso);
        abort();
    }
    return ms;
}

static const char *show(int64_t ms, char *out, size_t cap)
{
    buf b;
    if (ms < 0) {
        snprintf(out, cap, "%lld", (long long)ms);
        return out;
    }
    buf_init(&b, 64);
    if (timefmt_format(TIME_ISO8601, ms, &b) != CUST_OK)
        snprintf(out, cap, "?");
    else
        snprintf(out, cap, "%s", buf_str(&b));
    buf_release(&b);
    return out;
}

static const char *const zone_names[] = {"America/New_York", "Europe/London", "Australia/Lord_Howe",
                                         "Asia/Kolkata", "UTC"};
#define NZONES (sizeof zone_names / sizeof *zone_names)
static tz_zone *zones[NZONES];

static const tz_zone *Z(const char *name)
{
    if (!name)
        return NULL;
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
            fprintf(stderr, "test_schedule: cannot load %s: %s\n"
                            "test_schedule: these tests need the system time zone database: install tzdata "
                            "(e.g. apt-get install tzdata) or point TZDIR at a zoneinfo directory\n",
                    zone_names[i], e.msg);
            ok = 0;
        }
        CHECK(zones[i] != NULL);
    }
    return ok;
}

/* ---- every ---------------------------------------------------------------- */

static const struct {
    const char *text;
    int64_t ms;
    const char *msg; /* error: the whole message */
} everys[] = {
    {"90s", 90000, NULL},
    {"5m", 300000, NULL},
    {"1h30m", 5400000, NULL},
    {"2d", 172800000, NULL},
    {"1s", 1000, NULL},
    {"  10m\t", 600000, NULL},
    {"1d2h3m4s", 93784000, NULL},
    {"0h1s", 1000, NULL},
    {"90m", 5400000, NULL},
    {"366d", 31622400000LL, NULL},
    {"365d23h59m60s", 31622400000LL, NULL},
    {"", 0, "every \"\": empty (write a duration such as 90s, 5m, 1h30m or 2d)"},
    {"   ", 0, "every \"   \": empty (write a duration such as 90s, 5m, 1h30m or 2d)"},
    {"90", 0, "every \"90\": 90 has no unit (write 90s, 90m, 90h or 90d)"},
    {"5x", 0, "every \"5x\": unknown unit \"x\" (use d, h, m or s, e.g. 1h30m)"},
    {"5M", 0, "every \"5M\": unknown unit \"M\" (use d, h, m or s, e.g. 1h30m)"},
    {"1.5h", 0, "every \"1.5h\": unknown unit \".\" (use d, h, m or s, e.g. 1h30m)"},
    {"500ms", 0, "every \"500ms\": milliseconds are not supported (the minimum is 1s)"},
    {"30m1h", 0, "every \"30m1h\": units must go from largest to smallest, each once (d, h, m, s; e.g. 1h30m)"},
    {"1h1h", 0, "every \"1h1h\": units must go from largest to smallest, each once (d, h, m, s; e.g. 1h30m)"},
    {"0s", 0, "every \"0s\": a zero interval (the minimum is 1s)"},
    {"0d0h", 0, "every \"0d0h\": a zero interval (the minimum is 1s)"},
    {"367d", 0, "every \"367d\": longer than 366d (use a cron schedule for rarer polls)"},
    {"366d1s", 0, "every \"366d1s\": longer than 366d (use a cron schedule for rarer polls)"},
    {"1h 30m", 0, "every \"1h 30m\": no spaces inside a duration (write 1h30m)"},
    {"1 h", 0, "every \"1 h\": no spaces inside a duration (write 1h30m)"},
    {"-5m", 0, "every \"-5m\": unexpected '-' where a number belongs (write a duration such as 90s, 5m, 1h30m or 2d)"},
    {"h", 0, "every \"h\": unexpected 'h' where a number belongs (write a duration such as 90s, 5m, 1h30m or 2d)"},
    {"9999999999s", 0, "every \"9999999999s\": number too long (the most is 366d)"},
    {"5m\"x", 0, "every \"5m\\x22x\": unexpected '\"' where a number belongs (write a duration such as 90s, 5m, 1h30m or 2d)"},
};

static void test_every(void)
{
    for (size_t i = 0; i < sizeof everys / sizeof *everys; i++) {
        sched_spec s;
        struct err e = {0};
        cust_code rc;
        memset(&s, 0x5a, sizeof s);
        rc = sched_parse_every(everys[i].text, &s, &e);
        if (everys[i].msg) {
            CHECK_INT(rc, CUST_ECONFIG);
            CHECK_STR(e.msg, everys[i].msg);
            CHECK_INT(s.kind, 0x5a5a5a5a); /* untouched */
        } else {
            if (rc != CUST_OK)
                fprintf(stderr, "  every row %zu: %s\n", i, e.msg);
            CHECK_INT(rc, CUST_OK);
            CHECK_INT(s.kind, SCHED_EVERY);
            CHECK_INT(s.every_ms, everys[i].ms);
            CHECK_INT(sched_nominal_ms(&s), everys[i].ms);
        }
    }
    CHECK_INT(sched_parse_every(NULL, &(sched_spec){0}, NULL), CUST_ECONFIG);
    {
        sched_spec s, p;
        struct err e = {0};
        CHECK_INT(sched_make_every(90000, &s, &e), CUST_OK);
        CHECK_INT(sched_parse_every("90s", &p, &e), CUST_OK);
        CHECK_INT(s.kind, p.kind);
        CHECK_INT(s.every_ms, p.every_ms);
        CHECK_INT(sched_next(&s, 12345678), sched_next(&p, 12345678));
        CHECK_INT(sched_make_every(1500, &s, &e), CUST_OK);
        CHECK_INT(sched_next(&s, 1500), 3000);
        CHECK_INT(sched_make_every(999, &s, &e), CUST_ECONFIG);
        CHECK_STR(e.msg, "every: 999 ms is outside 1s..366d");
        CHECK_INT(s.every_ms, 1500); /* untouched */
        CHECK_INT(sched_make_every(SCHED_EVERY_MAX_MS + 1, &s, &e), CUST_ECONFIG);
        CHECK_INT(sched_make_every(SCHED_EVERY_MAX_MS, &s, &e), CUST_OK);
    }
    {
        char big[SCHED_TEXT_MAX + 2];
        struct err e = {0};
        memset(big, '1', sizeof big - 1);
        big[sizeof big - 1] = '\0';
        CHECK_INT(sched_parse_every(big, &(sched_spec){0}, &e), CUST_ECONFIG);
        CHECK(strstr(e.msg, "longer than 1024 characters") != NULL);
    }
}

/* ---- daily ---------------------------------------------------------------- */

static const struct {
    const char *text;
    int n;
    int32_t times[4];
    const char *zone;
    const char *msg;
} dailies[] = {
    {"06:00 America/New_York", 1, {21600}, "America/New_York", NULL},
    {"06:00,18:30 Europe/London", 2, {21600, 66600}, "Europe/London", NULL},
    {"6:00", 1, {21600}, "", NULL},
    {"18:30, 06:00 ,06:00", 2, {21600, 66600}, "", NULL},
    {"  23:59:59   UTC ", 1, {86399}, "UTC", NULL},
    {"00:00", 1, {0}, "", NULL},
    {"0:00:01,00:00:00", 2, {0, 1}, "", NULL},
    {"12:00 Etc/GMT+5", 1, {43200}, "Etc/GMT+5", NULL},
    {"24:00", 0, {0}, NULL, "daily \"24:00\": 24:00 is not a time of day (use 00:00-23:59)"},
    {"06:60", 0, {0}, NULL, "daily \"06:60\": 06:60 is not a time of day (use 00:00-23:59)"},
    {"06:00:60", 0, {0}, NULL, "daily \"06:00:60\": 06:00:60 is not a time of day (use 00:00-23:59)"},
    {"6", 0, {0}, NULL, "daily \"6\": write times as HH:MM or HH:MM:SS, e.g. 06:00 or 18:30:15"},
    {"06:0", 0, {0}, NULL, "daily \"06:0\": write times as HH:MM or HH:MM:SS, e.g. 06:00 or 18:30:15"},
    {"123:00", 0, {0}, NULL, "daily \"123:00\": write times as HH:MM or HH:MM:SS, e.g. 06:00 or 18:30:15"},
    {"06:00:00:00", 0, {0}, NULL, "daily \"06:00:00:00\": write times as HH:MM or HH:MM:SS, e.g. 06:00 or 18:30:15"},
    {"06:00am", 0, {0}, NULL, "daily \"06:00am\": write times as HH:MM or HH:MM:SS, e.g. 06:00 or 18:30:15"},
    {"06.00", 0, {0}, NULL, "daily \"06.00\": write times as HH:MM or HH:MM:SS, e.g. 06:00 or 18:30:15"},
    {"06:00,", 0, {0}, NULL, "daily \"06:00,\": a time must follow ','"},
    {"06:00,,07:00", 0, {0}, NULL, "daily \"06:00,,07:00\": a time must follow ','"},
    {"06:00 America/New York", 0, {0}, NULL,
     "daily \"06:00 America/New York\": unexpected text after the zone (zone names have no spaces: "
     "America/New_York, not America/New York)"},
    {"06:00 ../etc/passwd", 0, {0}, NULL,
     "daily \"06:00 ../etc/passwd\": \"../etc/passwd\" is not a zone name (e.g. America/New_York, Europe/London, UTC)"},
    {"06:00 /etc/passwd", 0, {0}, NULL,
     "daily \"06:00 /etc/passwd\": \"/etc/passwd\" is not a zone name (e.g. America/New_York, Europe/London, UTC)"},
    {"", 0, {0}, NULL,
     "daily \"\": no time (write local times and an optional zone, e.g. \"06:00 America/New_York\" or \"06:00,18:30\")"},
    {"America/New_York", 0, {0}, NULL,
     "daily \"America/New_York\": no time (write local times and an optional zone, e.g. \"06:00 America/New_York\" or \"06:00,18:30\")"},
    {"06:00 Europe/London 07:00", 0, {0}, NULL,
     "daily \"06:00 Europe/London 07:00\": unexpected text after the zone (zone names have no spaces: "
     "America/New_York, not America/New York)"},
};

static void test_daily_parse(void)
{
    for (size_t i = 0; i < sizeof dailies / sizeof *dailies; i++) {
        sched_spec s;
        char zone[TZ_NAME_MAX] = "untouched";
        struct err e = {0};
        cust_code rc;
        memset(&s, 0x5a, sizeof s);
        rc = sched_parse_daily(dailies[i].text, &s, zone, &e);
        if (dailies[i].msg) {
            CHECK_INT(rc, CUST_ECONFIG);
            CHECK_STR(e.msg, dailies[i].msg);
            CHECK_STR(zone, "untouched");
            CHECK_INT(s.kind, 0x5a5a5a5a);
            continue;
        }
        if (rc != CUST_OK)
            fprintf(stderr, "  daily row %zu: %s\n", i, e.msg);
        CHECK_INT(rc, CUST_OK);
        CHECK_INT(s.kind, SCHED_DAILY);
        CHECK(s.zone == NULL);
        CHECK_STR(zone, dailies[i].zone);
        CHECK_INT(s.ntimes, dailies[i].n);
        for (int k = 0; k < dailies[i].n && k < s.ntimes; k++)
            CHECK_INT(s.times[k], dailies[i].times[k]);
    }
    /* 48 distinct times are fine, 49 are not; duplicates count once */
    {
        char text[1024] = "";
        size_t o = 0;
        sched_spec s;
        char zone[TZ_NAME_MAX];
        struct err e = {0};
        for (int k = 0; k < 48; k++)
            o += (size_t)snprintf(text + o, sizeof text - o, "%s%02d:%02d", k ? "," : "", k / 2, k % 2 * 30);
        CHECK_INT(sched_parse_daily(text, &s, zone, &e), CUST_OK);
        CHECK_INT(s.ntimes, 48);
        CHECK_INT(sched_nominal_ms(&s), 1800000);
        snprintf(text + o, sizeof text - o, ",00:00");
        CHECK_INT(sched_parse_daily(text, &s, zone, &e), CUST_ECONFIG);
        CHECK(strstr(e.msg, "more than 48 times (use a cron schedule)") != NULL);
    }
}

/* ---- cron ------------------------------------------------------------------ */

#define B(v) ((uint64_t)1 << (v))

static const struct {
    const char *text;
    uint64_t minutes;
    uint32_t hours, mdays, months, wdays;
    int dom_star, dow_star, hour_star;
} crons[] = {
    {"*/15 * * * *", B(0) | B(15) | B(30) | B(45), 0xffffff, 0xfffffffe, 0x1ffe, 0x7f, 1, 1, 1},
    {"10-50/10 * * * *", B(10) | B(20) | B(30) | B(40) | B(50), 0xffffff, 0xfffffffe, 0x1ffe, 0x7f, 1, 1, 1},
    {"5/15 */6 * * *", B(5) | B(20) | B(35) | B(50), B(0) | B(6) | B(12) | B(18), 0xfffffffe, 0x1ffe, 0x7f, 1, 1, 1},
    {"0 0 * * 7", B(0), B(0), 0xfffffffe, 0x1ffe, B(0), 1, 0, 0},
    {"0 0 * * 0,7", B(0), B(0), 0xfffffffe, 0x1ffe, B(0), 1, 0, 0},
    {"0 0 * * 5-7", B(0), B(0), 0xfffffffe, 0x1ffe, B(5) | B(6) | B(0), 1, 0, 0},
    {"0 0 * JAN-MAR,oct mon-FRI", B(0), B(0), 0xfffffffe, B(1) | B(2) | B(3) | B(10), 0x3e, 1, 0, 0},
    {"0 0 1-10/3,20-25/2 * *", B(0), B(0), B(1) | B(4) | B(7) | B(10) | B(20) | B(22) | B(24), 0x1ffe, 0x7f, 0, 1, 0},
    {"0 0 */2 * Sun", B(0), B(0), 0xaaaaaaaa, 0x1ffe, B(0), 1, 0, 0},
    {"0 9-17 * * *", B(0), 0x3fe00, 0xfffffffe, 0x1ffe, 0x7f, 1, 1, 0},
    {"0 */1 * * *", B(0), 0xffffff, 0xfffffffe, 0x1ffe, 0x7f, 1, 1, 1},
    {"0 0 * * sun-sat", B(0), B(0), 0xfffffffe, 0x1ffe, 0x7f, 1, 0, 0},
    {"0 0 * * */7", B(0), B(0), 0xfffffffe, 0x1ffe, B(0), 1, 1, 0},
    {"59 23 31 12 *", B(59), B(23), B(31), B(12), 0x7f, 0, 1, 0},
    {"\t0  0\t1 1  *  ", B(0), B(0), B(1), B(1), 0x7f, 0, 1, 0},
    {"@yearly", B(0), B(0), B(1), B(1), 0x7f, 0, 1, 0},
    {"@annually", B(0), B(0), B(1), B(1), 0x7f, 0, 1, 0},
    {"@monthly", B(0), B(0), B(1), 0x1ffe, 0x7f, 0, 1, 0},
    {"@weekly", B(0), B(0), 0xfffffffe, 0x1ffe, B(0), 1, 0, 0},
    {"@daily", B(0), B(0), 0xfffffffe, 0x1ffe, 0x7f, 1, 1, 0},
    {"@midnight", B(0), B(0), 0xfffffffe, 0x1ffe, 0x7f, 1, 1, 0},
    {" @HOURLY ", B(0), 0xffffff, 0xfffffffe, 0x1ffe, 0x7f, 1, 1, 1},
};

static const struct {
    const char *text, *msg;
} cron_errors[] = {
    {"*/0 * * * *", "cron \"*/0 * * * *\": minute: step 0 (use 1-59)"},
    {"*/60 * * * *", "cron \"*/60 * * * *\": minute: step 60 (use 1-59)"},
    {"0 */24 * * *", "cron \"0 */24 * * *\": hour: step 24 (use 1-23)"},
    {"0 0 */31 * *", "cron \"0 0 */31 * *\": day-of-month: step 31 (use 1-30)"},
    {"*/ * * * *", "cron \"*/ * * * *\": minute: a step needs a number (use 1-59)"},
    {"*/99999 * * * *", "cron \"*/99999 * * * *\": minute: step too large (use 1-59)"},
    {"60 * * * *", "cron \"60 * * * *\": minute: 60 is out of range (use 0-59)"},
    {"0 24 * * *", "cron \"0 24 * * *\": hour: 24 is out of range (use 0-23)"},
    {"0 0 0 * *", "cron \"0 0 0 * *\": day-of-month: 0 is out of range (use 1-31)"},
    {"0 0 32 * *", "cron \"0 0 32 * *\": day-of-month: 32 is out of range (use 1-31)"},
    {"0 0 * 13 *", "cron \"0 0 * 13 *\": month: 13 is out of range (use 1-12)"},
    {"0 0 * 0 *", "cron \"0 0 * 0 *\": month: 0 is out of range (use 1-12)"},
    {"0 0 * * 8", "cron \"0 0 * * 8\": day-of-week: 8 is out of range (use 0-7)"},
    {"99999 * * * *", "cron \"99999 * * * *\": minute: number too long (use 0-59)"},
    {"0 0 * FOO *", "cron \"0 0 * FOO *\": month: unknown name \"FOO\" (use JAN-DEC or 1-12)"},
    {"0 0 * * MONDAY", "cron \"0 0 * * MONDAY\": day-of-week: unknown name \"MONDAY\" (use SUN-SAT or 0-7)"},
    {"0 0 * * jan", "cron \"0 0 * * jan\": day-of-week: unknown name \"jan\" (use SUN-SAT or 0-7)"},
    {"0 JAN * * *", "cron \"0 JAN * * *\": hour: unexpected 'J' (use 0-23, *, lists a,b, ranges a-b and steps /n)"},
    {"0 22-2 * * *", "cron \"0 22-2 * * *\": hour: range 22-2 is backwards (write 22-23,0-2)"},
    {"0 0 * DEC-JAN *", "cron \"0 0 * DEC-JAN *\": month: range 12-1 is backwards (write 12-12,1-1)"},
    {"1,,2 * * * *", "cron \"1,,2 * * * *\": minute: empty list item"},
    {"1, * * * *", "cron \"1, * * * *\": minute: empty list item"},
    {",1 * * * *", "cron \",1 * * * *\": minute: empty list item"},
    {"1-2-3 * * * *", "cron \"1-2-3 * * * *\": minute: unexpected '-' in \"1-2-3\" (use 0-59, *, lists a,b, ranges a-b and steps /n)"},
    {"*5 * * * *", "cron \"*5 * * * *\": minute: unexpected '5' in \"*5\" (use 0-59, *, lists a,b, ranges a-b and steps /n)"},
    {"1- * * * *", "cron \"1- * * * *\": minute: a value is missing (use 0-59, or *)"},
    {"0 0 * 1- *", "cron \"0 0 * 1- *\": month: a value is missing (use 1-12 or JAN-DEC, or *)"},
    {"? * * * *", "cron \"? * * * *\": minute: unexpected '?' (use 0-59, *, lists a,b, ranges a-b and steps /n)"},
    {"L * * * *", "cron \"L * * * *\": minute: unexpected 'L' (use 0-59, *, lists a,b, ranges a-b and steps /n)"},
    {"0 0 L * *", "cron \"0 0 L * *\": day-of-month: unexpected 'L' (use 1-31, *, lists a,b, ranges a-b and steps /n)"},
    {"* * * *", "cron \"* * * *\": 4 fields; a cron schedule has 5: minute hour day-of-month month day-of-week "
                "(seconds and years are not supported), or a macro such as @daily"},
    {"0 0 0 * * * 2026", "cron \"0 0 0 * * * 2026\": 7 fields; a cron schedule has 5: minute hour day-of-month month "
                         "day-of-week (seconds and years are not supported), or a macro such as @daily"},
    {"", "cron \"\": 0 fields; a cron schedule has 5: minute hour day-of-month month day-of-week "
         "(seconds and years are not supported), or a macro such as @daily"},
    {"@reboot", "cron \"@reboot\": unknown macro (use @hourly, @daily, @midnight, @weekly, @monthly, @yearly or "
                "@annually; @reboot is not supported)"},
    {"@daily 5", "cron \"@daily 5\": unknown macro (use @hourly, @daily, @midnight, @weekly, @monthly, @yearly or "
                 "@annually; @reboot is not supported)"},
    {"0 0 * * *\x01", "cron \"0 0 * * *\\x01\": day-of-week: unexpected '?' in \"*\x01\" (use 0-7, SUN-SAT, *, lists a,b, "
                      "ranges a-b and steps /n)"},
};

static void test_cron_parse(void)
{
    for (size_t i = 0; i < sizeof crons / sizeof *crons; i++) {
        sched_spec s;
        struct err e = {0};
        cust_code rc = sched_parse_cron(crons[i].text, &s, &e);
        if (rc != CUST_OK || s.minutes != crons[i].minutes || s.hours != crons[i].hours ||
            s.mdays != crons[i].mdays || s.months != crons[i].months || s.wdays != crons[i].wdays)
            fprintf(stderr, "  cron row %zu \"%s\": %s\n", i, crons[i].text, e.msg);
        CHECK_INT(rc, CUST_OK);
        CHECK_INT(s.kind, SCHED_CRON);
        CHECK_INT(s.minutes, crons[i].minutes);
        CHECK_INT(s.hours, crons[i].hours);
        CHECK_INT(s.mdays, crons[i].mdays);
        CHECK_INT(s.months, crons[i].months);
        CHECK_INT(s.wdays, crons[i].wdays);
        CHECK_INT(s.dom_star, crons[i].dom_star);
        CHECK_INT(s.dow_star, crons[i].dow_star);
        CHECK_INT(s.hour_star, crons[i].hour_star);
        CHECK(s.zone == NULL);
    }
    for (size_t i = 0; i < sizeof cron_errors / sizeof *cron_errors; i++) {
        sched_spec s;
        struct err e = {0};
        memset(&s, 0x5a, sizeof s);
        CHECK_INT(sched_parse_cron(cron_errors[i].text, &s, &e), CUST_ECONFIG);
        CHECK_STR(e.msg, cron_errors[i].msg);
        CHECK_INT(s.kind, 0x5a5a5a5a);
    }
    CHECK_INT(sched_parse_cron(NULL, &(sched_spec){0}, NULL), CUST_ECONFIG);
}

/* ---- next fire instants --------------------------------------------------- */

#define MAXF 7

static const struct {
    char kind; /* 'e'very, 'd'aily, 'c'ron */
    const char *text, *zone, *after;
    const char *fires[MAXF]; /* in order; "-1": never; NULL ends */
} nexts[] = {
    /* New York spring forward 2026-03-08: 02:00 EST becomes 03:00 EDT at 07:00Z */
    {'d', "02:30", "America/New_York", "2026-03-07T12:00:00Z",
     {"2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z", "2026-03-10T06:30:00Z"}},
    {'d', "02:00,02:30,02:59:59", "America/New_York", "2026-03-07T12:00:00Z",
     {"2026-03-08T07:00:00Z", "2026-03-09T06:00:00Z", "2026-03-09T06:30:00Z", "2026-03-09T06:59:59Z"}},
    {'d', "01:59:59,03:00", "America/New_York", "2026-03-08T00:00:00Z",
     {"2026-03-08T06:59:59Z", "2026-03-08T07:00:00Z", "2026-03-09T05:59:59Z", "2026-03-09T07:00:00Z"}},
    {'c', "30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z",
     {"2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"}},
    {'c', "0,30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z",
     {"2026-03-08T07:00:00Z", "2026-03-09T06:00:00Z", "2026-03-09T06:30:00Z"}},
    {'c', "*/30 * * * *", "America/New_York", "2026-03-08T06:00:00Z",
     {"2026-03-08T06:30:00Z", "2026-03-08T07:00:00Z", "2026-03-08T07:30:00Z"}},
    {'c', "15,45 * * * *", "America/New_York", "2026-03-08T06:30:00Z",
     {"2026-03-08T06:45:00Z", "2026-03-08T07:00:00Z", "2026-03-08T07:15:00Z", "2026-03-08T07:45:00Z"}},
    /* New York fall back 2026-11-01: 02:00 EDT becomes 01:00 EST at 06:00Z */
    {'d', "01:30", "America/New_York", "2026-10-31T12:00:00Z",
     {"2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"}},
    {'c', "30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z",
     {"2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"}},
    {'c', "30 1 * * *", "America/New_York", "2026-11-01T05:30:00Z", {"2026-11-02T06:30:00Z"}},
    {'c', "*/30 * * * *", "America/New_York", "2026-11-01T04:45:00Z",
     {"2026-11-01T05:00:00Z", "2026-11-01T05:30:00Z", "2026-11-01T06:00:00Z", "2026-11-01T06:30:00Z",
      "2026-11-01T07:00:00Z"}},
    {'c', "30 * * * *", "America/New_York", "2026-11-01T05:00:00Z",
     {"2026-11-01T05:30:00Z", "2026-11-01T06:30:00Z", "2026-11-01T07:30:00Z"}},
    {'c', "*/15 1 * * *", "America/New_York", "2026-11-01T04:50:00Z", /* fixed hour: first pass only */
     {"2026-11-01T05:00:00Z", "2026-11-01T05:15:00Z", "2026-11-01T05:30:00Z", "2026-11-01T05:45:00Z",
      "2026-11-02T06:00:00Z"}},
    {'c', "0 1-2 * * *", "America/New_York", "2026-11-01T04:00:00Z",
     {"2026-11-01T05:00:00Z", "2026-11-01T07:00:00Z", "2026-11-02T06:00:00Z"}},
    /* 2099: past the zone file's table, from its footer rule */
    {'d', "02:30", "America/New_York", "2099-03-07T12:00:00Z",
     {"2099-03-08T07:00:00Z", "2099-03-09T06:30:00Z"}},
    {'c', "30 1 * * *", "America/New_York", "2099-10-31T12:00:00Z",
     {"2099-11-01T05:30:00Z", "2099-11-02T06:30:00Z"}},
    {'c', "*/30 * * * *", "America/New_York", "2099-11-01T05:15:00Z",
     {"2099-11-01T05:30:00Z", "2099-11-01T06:00:00Z", "2099-11-01T06:30:00Z"}},
    /* London: 01:00 GMT becomes 02:00 BST on 2026-03-29; back on 2026-10-25 */
    {'d', "01:30", "Europe/London", "2026-03-28T12:00:00Z", {"2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"}},
    {'d', "01:30", "Europe/London", "2026-10-24T12:00:00Z", {"2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"}},
    {'c', "0 * * * *", "Europe/London", "2026-10-24T23:30:00Z",
     {"2026-10-25T00:00:00Z", "2026-10-25T01:00:00Z", "2026-10-25T02:00:00Z"}},
    {'c', "0 9 * * 1-5", "Europe/London", "2026-03-27T09:00:00Z", /* Fri 09:00 GMT, then Mon 09:00 BST */
     {"2026-03-30T08:00:00Z", "2026-03-31T08:00:00Z"}},
    /* Lord Howe: 30-minute shifts. 02:00 +10:30 -> 02:30 +11 on 2026-10-04;
     * 02:00 +11 -> 01:30 +10:30 on 2026-04-05 */
    {'d', "02:15", "Australia/Lord_Howe", "2026-10-03T00:00:00Z",
     {"2026-10-03T15:30:00Z", "2026-10-04T15:15:00Z"}},
    {'d', "01:45", "Australia/Lord_Howe", "2026-04-04T00:00:00Z",
     {"2026-04-04T14:45:00Z", "2026-04-05T15:15:00Z"}},
    {'c', "*/15 * * * *", "Australia/Lord_Howe", "2026-04-04T14:20:00Z",
     {"2026-04-04T14:30:00Z", "2026-04-04T14:45:00Z", "2026-04-04T15:00:00Z", "2026-04-04T15:15:00Z",
      "2026-04-04T15:30:00Z"}},
    {'c', "45 1 * * *", "Australia/Lord_Howe", "2026-04-04T00:00:00Z",
     {"2026-04-04T14:45:00Z", "2026-04-05T15:15:00Z"}},
    /* Kolkata, +05:30 all year */
    {'d', "06:00", "Asia/Kolkata", "2026-01-01T00:00:00Z", {"2026-01-01T00:30:00Z", "2026-01-02T00:30:00Z"}},
    {'c', "0 9 * * 1-5", "Asia/Kolkata", "2026-01-02T04:00:00Z", {"2026-01-05T03:30:00Z"}},
    {'d', "02:30", "Asia/Kolkata", "2026-03-07T12:00:00Z", {"2026-03-07T21:00:00Z", "2026-03-08T21:00:00Z"}},
    /* UTC (no zone), and cron calendars */
    {'d', "06:00,18:30", NULL, "2026-03-08T06:00:00Z",
     {"2026-03-08T18:30:00Z", "2026-03-09T06:00:00Z", "2026-03-09T18:30:00Z"}},
    {'d', "06:00", "UTC", "2026-03-08T05:59:59.999Z", {"2026-03-08T06:00:00Z", "2026-03-09T06:00:00Z"}},
    {'d', "06:00", "UTC", "2026-03-08T06:00:00Z", {"2026-03-09T06:00:00Z"}},
    {'d', "06:00", "UTC", "2026-03-08T06:00:00.001Z", {"2026-03-09T06:00:00Z"}},
    {'c', "59 23 31 12 *", NULL, "2026-01-01T00:00:00Z", {"2026-12-31T23:59:00Z", "2027-12-31T23:59:00Z"}},
    {'c', "0 0 29 2 *", NULL, "2026-01-01T00:00:00Z", {"2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"}},
    {'c', "0 0 29 2 *", NULL, "2096-03-01T00:00:00Z", {"2104-02-29T00:00:00Z"}}, /* 2100 is not leap */
    {'c', "0 0 30 2 *", NULL, "2026-01-01T00:00:00Z", {"-1"}},
    {'c', "0 0 31 4,6,9,11 *", NULL, "2026-01-01T00:00:00Z", {"-1"}},
    {'c', "0 0 31 2 1", NULL, "2026-01-01T00:00:00Z", /* Vixie OR: Feb 31 never, but Mondays in Feb */
     {"2026-02-02T00:00:00Z", "2026-02-09T00:00:00Z"}},
    {'c', "0 12 1 * 5", NULL, "2026-02-01T00:00:00Z", /* the 1st OR Fridays */
     {"2026-02-01T12:00:00Z", "2026-02-06T12:00:00Z", "2026-02-13T12:00:00Z", "2026-02-20T12:00:00Z",
      "2026-02-27T12:00:00Z", "2026-03-01T12:00:00Z", "2026-03-06T12:00:00Z"}},
    {'c', "0 12 */2 * 5", NULL, "2026-02-01T00:00:00Z", /* "*" starts day-of-month: AND (odd days that are Fridays) */
     {"2026-02-13T12:00:00Z", "2026-02-27T12:00:00Z", "2026-03-13T12:00:00Z", "2026-03-27T12:00:00Z"}},
    {'c', "0 12 13 * */7", NULL, "2026-01-01T00:00:00Z", /* "*" starts day-of-week: AND (Friday 13th... on Sunday) */
     {"2026-09-13T12:00:00Z", "2026-12-13T12:00:00Z"}},
    {'c', "0 0 * * 7", NULL, "2026-03-02T00:00:00Z", {"2026-03-08T00:00:00Z", "2026-03-15T00:00:00Z"}},
    {'c', "0 0 1 jan,JUL *", NULL, "2026-03-02T00:00:00Z", {"2026-07-01T00:00:00Z", "2027-01-01T00:00:00Z"}},
    {'c', "0-10/5,50-59/3 0 1 1 *", NULL, "2025-12-31T23:00:00Z",
     {"2026-01-01T00:00:00Z", "2026-01-01T00:05:00Z", "2026-01-01T00:10:00Z", "2026-01-01T00:50:00Z",
      "2026-01-01T00:53:00Z", "2026-01-01T00:56:00Z", "2026-01-01T00:59:00Z"}},
    {'c', "@weekly", NULL, "2026-03-04T00:00:00Z", {"2026-03-08T00:00:00Z", "2026-03-15T00:00:00Z"}},
    {'c', "@monthly", NULL, "2026-01-31T00:00:00Z", {"2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"}},
    {'c', "@yearly", NULL, "2026-01-01T00:00:00Z", {"2027-01-01T00:00:00Z"}},
    {'c', "@hourly", NULL, "2026-12-31T23:00:00Z", {"2027-01-01T00:00:00Z", "2027-01-01T01:00:00Z"}},
    {'c', "* * * * *", NULL, "2026-12-31T23:58:30Z",
     {"2026-12-31T23:59:00Z", "2027-01-01T00:00:00Z", "2027-01-01T00:01:00Z"}},
    {'c', "0 0 1 1 *", NULL, "9999-01-01T00:00:00Z", {"-1"}}, /* nothing before the end of 9999 */
    {'c', "59 23 31 12 *", NULL, "9999-12-31T23:58:00Z", {"9999-12-31T23:59:00Z", "-1"}},
    /* every: elapsed time on a grid from the epoch; zones do not matter */
    {'e', "90s", NULL, "1970-01-01T00:00:00Z", {"1970-01-01T00:01:30Z", "1970-01-01T00:03:00Z"}},
    {'e', "90s", NULL, "1970-01-01T00:01:29.999Z", {"1970-01-01T00:01:30Z"}},
    {'e', "1h", "America/New_York", "2026-03-08T05:30:00Z",
     {"2026-03-08T06:00:00Z", "2026-03-08T07:00:00Z", "2026-03-08T08:00:00Z"}},
    {'e', "1h", "America/New_York", "2026-11-01T05:30:00Z",
     {"2026-11-01T06:00:00Z", "2026-11-01T07:00:00Z"}},
    {'e', "7d", NULL, "2026-03-04T00:00:00Z", {"2026-03-05T00:00:00Z", "2026-03-12T00:00:00Z"}}, /* Thursdays */
    {'e', "366d", NULL, "9999-06-01T00:00:00Z", {"9999-08-15T00:00:00Z", "-1"}},
};

static int parse_kind(char kind, const char *text, sched_spec *s, struct err *e)
{
    char zone[TZ_NAME_MAX];
    switch (kind) {
    case 'e': return sched_parse_every(text, s, e);
    case 'd': return sched_parse_daily(text, s, zone, e);
    default: return sched_parse_cron(text, s, e);
    }
}

static void test_next(void)
{
    for (size_t i = 0; i < sizeof nexts / sizeof *nexts; i++) {
        sched_spec s;
        struct err e = {0};
        int64_t t = MS(nexts[i].after);
        if (parse_kind(nexts[i].kind, nexts[i].text, &s, &e) != CUST_OK) {
            fprintf(stderr, "  next row %zu: %s\n", i, e.msg);
            CHECK(0);
            continue;
        }
        sched_set_zone(&s, Z(nexts[i].zone));
        for (int k = 0; k < MAXF && nexts[i].fires[k]; k++) {
            int64_t got = sched_next(&s, t), want = MS(nexts[i].fires[k]);
            if (got != want) {
                char g[40], w[40];
                fprintf(stderr, "  next row %zu (%s \"%s\" %s) fire %d: got %s want %s\n", i,
                        nexts[i].kind == 'e' ? "every" : nexts[i].kind == 'd' ? "daily" : "cron", nexts[i].text,
                        nexts[i].zone ? nexts[i].zone : "UTC", k, show(got, g, sizeof g), show(want, w, sizeof w));
            }
            CHECK_INT(got, want);
            if (got < 0)
                break;
            t = got;
        }
    }
    /* edges of the clock */
    {
        sched_spec s;
        CHECK_INT(sched_parse_every("1h", &s, NULL), CUST_OK);
        CHECK_INT(sched_next(&s, -5), 0);
        CHECK_INT(sched_next(&s, INT64_MIN), 0);
        CHECK_INT(sched_next(&s, INT64_MAX), -1);
        CHECK_INT(sched_next(&s, SCHED_MAX_MS), -1);
        CHECK_INT(sched_parse_cron("* * * * *", &s, NULL), CUST_OK);
        CHECK_INT(sched_next(&s, INT64_MIN), 0);
        CHECK_INT(sched_next(&s, -1), 0);
        CHECK_INT(sched_next(&s, 0), 60000);
        CHECK_INT(sched_next(&s, INT64_MAX), -1);
        CHECK_INT(sched_next(NULL, 0), -1);
        memset(&s, 0, sizeof s);
        CHECK_INT(sched_next(&s, 0), -1); /* not parsed */
        CHECK_INT(sched_nominal_ms(&s), -1);
        CHECK_INT(sched_nominal_ms(NULL), -1);
    }
    /* a fire is strictly after, so feeding each fire back walks a strictly
     * increasing sequence: a year of every spec kind in New York */
    {
        static const struct {
            char kind;
            const char *text;
            int per_year;
        } walks[] = {
            {'c', "*/30 * * * *", 365 * 48 - 1}, /* every real half hour, both ends excluded */
            {'c', "30 1 * * *", 365},
            {'c', "30 2 * * *", 365},            /* the missing day fires at 03:00 */
            {'d', "01:30,02:30", 730},
            {'c', "0 0 29 2 *", 0},
            {'c', "0 9 * * 1-5", 261},
        };
        for (size_t i = 0; i < sizeof walks / sizeof *walks; i++) {
            sched_spec s;
            int64_t t = MS("2026-01-01T05:00:00Z"), end = MS("2027-01-01T05:00:00Z"), prev = t;
            int n = 0, mono = 1;
            CHECK_INT(parse_kind(walks[i].kind, walks[i].text, &s, NULL), CUST_OK);
            sched_set_zone(&s, Z("America/New_York"));
            while ((t = sched_next(&s, t)) >= 0 && t < end) {
                if (t <= prev)
                    mono = 0;
                prev = t;
                n++;
            }
            if (n != walks[i].per_year)
                fprintf(stderr, "  walk %zu \"%s\": %d fires\n", i, walks[i].text, n);
            CHECK_INT(n, walks[i].per_year);
            CHECK(mono);
        }
    }
}

/* ---- nominal interval ----------------------------------------------------- */

static const struct {
    char kind;
    const char *text;
    int64_t ms;
} nominals[] = {
    {'e', "90s", 90000},
    {'d', "06:00", 86400000},
    {'d', "06:00,18:30", 43200000},
    {'c', "*/15 * * * *", 900000},
    {'c', "@hourly", 3600000},
    {'c', "0 0,12 * * *", 43200000},
    {'c', "0 1,2 * * *", 82800000},                /* 02:00 -> 01:00 next day */
    {'c', "0 9 * * 1-5", 259200000},               /* Friday -> Monday */
    {'c', "*/15 9-17 * * 1-5", 227700000},         /* Friday 17:45 -> Monday 09:00 */
    {'c', "@daily", 86400000},
    {'c', "@weekly", 604800000},
    {'c', "0 0 1 * *", 31LL * 86400000},
    {'c', "0 0 29 2 *", 1461LL * 86400000},
    {'c', "0 0 30 2 *", -1},
    {'c', "* * * * 1", 6LL * 86400000 + 60000},    /* Monday 23:59 -> next Monday 00:00 */
};

static void test_nominal(void)
{
    for (size_t i = 0; i < sizeof nominals / sizeof *nominals; i++) {
        sched_spec s;
        CHECK_INT(parse_kind(nominals[i].kind, nominals[i].text, &s, NULL), CUST_OK);
        sched_set_zone(&s, Z("America/New_York")); /* cron estimates in UTC regardless */
        if (sched_nominal_ms(&s) != nominals[i].ms)
            fprintf(stderr, "  nominal row %zu \"%s\"\n", i, nominals[i].text);
        CHECK_INT(sched_nominal_ms(&s), nominals[i].ms);
    }
}

/* ---- jitter ----------------------------------------------------------------- */

static void test_jitter(void)
{
    enum { N = 10000, BUCKETS = 10 };
    int hist[BUCKETS] = {0}, out_of_range = 0, unstable = 0, same_across_seeds = 0;
    char name[32];
    for (int i = 0; i < N; i++) {
        int64_t j, j2;
        snprintf(name, sizeof name, "source-%d", i);
        j = sched_jitter_ms(name, 60000, 42);
        j2 = sched_jitter_ms(name, 60000, 42);
        if (j < 0 || j >= 60000)
            out_of_range++;
        if (j != j2)
            unstable++;
        if (sched_jitter_ms(name, 60000, 43) == j)
            same_across_seeds++;
        hist[j * BUCKETS / 60000]++;
    }
    CHECK_INT(out_of_range, 0);
    CHECK_INT(unstable, 0);
    CHECK(same_across_seeds < 10); /* 1 in 60000 each by chance */
    for (int b = 0; b < BUCKETS; b++) {
        /* 1000 expected per bucket; 5 sigma is about +-150 */
        if (hist[b] < 850 || hist[b] > 1150)
            fprintf(stderr, "  jitter bucket %d: %d\n", b, hist[b]);
        CHECK(hist[b] >= 850 && hist[b] <= 1150);
    }
    /* small and huge ranges, non-positive ranges, NULL names */
    CHECK_INT(sched_jitter_ms("a", 0, 1), 0);
    CHECK_INT(sched_jitter_ms("a", -5, 1), 0);
    CHECK_INT(sched_jitter_ms("a", 1, 1), 0);
    CHECK_INT(sched_jitter_ms(NULL, 1000, 1), sched_jitter_ms("", 1000, 1));
    {
        int seen[3] = {0}, bad = 0;
        for (int i = 0; i < 3000; i++) {
            int64_t j;
            snprintf(name, sizeof name, "s%d", i);
            j = sched_jitter_ms(name, 3, 7);
            if (j < 0 || j > 2)
                bad++;
            else
                seen[j]++;
        }
        CHECK_INT(bad, 0);
        CHECK(seen[0] > 850 && seen[1] > 850 && seen[2] > 850);
        for (int i = 0; i < 1000; i++) {
            int64_t j;
            snprintf(name, sizeof name, "s%d", i);
            j = sched_jitter_ms(name, INT64_MAX, 7);
            if (j < 0)
                bad++;
        }
        CHECK_INT(bad, 0);
    }
    /* stable across versions and platforms: pinned values */
    CHECK_INT(sched_jitter_ms("fsma-lots", 60000, 0), sched_jitter_ms("fsma-lots", 60000, 0));
    CHECK(sched_jitter_ms("fsma-lots", 60000, 0) != sched_jitter_ms("fsma-lotz", 60000, 0));
}

/* ---- adaptive interval ------------------------------------------------------ */

#define OK SCHED_OUT_OK
#define IDLE SCHED_OUT_IDLE
#define ERR SCHED_OUT_ERROR
#define BEHIND SCHED_OUT_BEHIND

static const struct {
    int enabled;
    double backoff;
    int64_t min_ms, max_ms, base;
    sched_outcome seq[10];
    int n;
    int64_t want[10];
} adapts[] = {
    /* errors double up to the cap, OK returns to base */
    {1, 2, 1000, 600000, 60000, {ERR, ERR, ERR, ERR, ERR, OK}, 6,
     {120000, 240000, 480000, 600000, 600000, 60000}},
    /* idle grows by sqrt(2), rounded up */
    {1, 2, 1000, 600000, 60000, {IDLE, IDLE, IDLE, IDLE, IDLE, IDLE, IDLE, OK}, 8,
     {84853, 120001, 169708, 240004, 339417, 480009, 600000, 60000}},
    /* behind: run again soon; then back to base, or growth from base */
    {1, 2, 5000, 600000, 60000, {BEHIND, BEHIND, OK, BEHIND, ERR, IDLE}, 6,
     {5000, 5000, 60000, 5000, 120000, 169706}},
    /* min_ms is never above base */
    {1, 2, 90000, 0, 60000, {BEHIND}, 1, {60000}},
    /* max_ms <= 0: 16 x base */
    {1, 2, 1000, 0, 1000, {ERR, ERR, ERR, ERR, ERR, ERR}, 6, {2000, 4000, 8000, 16000, 16000, 16000}},
    /* max below base: no growth */
    {1, 2, 1000, 500, 1000, {ERR, IDLE}, 2, {1000, 1000}},
    /* other backoffs; a bad one counts as 2 */
    {1, 3, 1000, 1000000, 1000, {ERR, ERR, IDLE}, 3, {3000, 9000, 15589}},
    {1, 0.5, 1000, 1000000, 1000, {ERR, ERR}, 2, {2000, 4000}},
    {1, 1.0, 1000, 1000000, 1000, {ERR}, 1, {2000}},
    /* disabled: always base */
    {0, 2, 1000, 600000, 60000, {ERR, IDLE, BEHIND, OK}, 4, {60000, 60000, 60000, 60000}},
    /* a tiny base still grows */
    {1, 1.01, 1, 10, 1, {IDLE, IDLE, IDLE, ERR}, 4, {2, 3, 4, 5}},
    /* min_ms <= 0 means 1000 */
    {1, 2, 0, 0, 60000, {BEHIND}, 1, {1000}},
};

static void test_adapt(void)
{
    sched_adapt a;
    for (size_t i = 0; i < sizeof adapts / sizeof *adapts; i++) {
        int64_t cur = adapts[i].base;
        a.enabled = adapts[i].enabled;
        a.backoff = adapts[i].backoff;
        a.min_ms = adapts[i].min_ms;
        a.max_ms = adapts[i].max_ms;
        for (int k = 0; k < adapts[i].n; k++) {
            int64_t got = sched_adapt_next(&a, adapts[i].base, cur, adapts[i].seq[k]);
            if (got != adapts[i].want[k])
                fprintf(stderr, "  adapt row %zu step %d: got %lld\n", i, k, (long long)got);
            CHECK_INT(got, adapts[i].want[k]);
            cur = got;
        }
    }
    sched_adapt_default(&a);
    CHECK_INT(a.enabled, 0);
    CHECK(a.backoff == 2.0);
    CHECK_INT(a.min_ms, 1000);
    CHECK_INT(a.max_ms, 0);
    CHECK_INT(sched_adapt_next(NULL, 5000, 9000, SCHED_OUT_ERROR), 5000);
    a.enabled = 1;
    CHECK_INT(sched_adapt_next(&a, 0, 0, SCHED_OUT_OK), 1);
    CHECK_INT(sched_adapt_next(&a, -5, 0, SCHED_OUT_ERROR), 2);
    CHECK_INT(sched_adapt_next(&a, 1000, -7, SCHED_OUT_ERROR), 2000);       /* current <= 0: base */
    CHECK_INT(sched_adapt_next(&a, 1000, 999999, SCHED_OUT_ERROR), 16000);  /* current past the cap */
    CHECK_INT(sched_adapt_next(&a, INT64_MAX, INT64_MAX, SCHED_OUT_ERROR), INT64_MAX);
    CHECK_INT(sched_adapt_next(&a, 1000, 1000, (sched_outcome)99), 1000);
    a.backoff = 0.0 / 0.0; /* NaN */
    CHECK_INT(sched_adapt_next(&a, 1000, 1000, SCHED_OUT_ERROR), 2000);
    a.backoff = 1.0 / 0.0;
    CHECK_INT(sched_adapt_next(&a, 1000, 1000, SCHED_OUT_ERROR), 2000);
}

/* ---- due queue ------------------------------------------------------------- */

typedef struct ref_entry {
    int64_t due;
    int prio;
    uint64_t seq;
    int id;
    int live;
} ref_entry;

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545f4914f6cdd1dULL;
}

/* the reference: a linear scan for the least live entry */
static int ref_min(const ref_entry *r, int n)
{
    int best = -1;
    for (int i = 0; i < n; i++) {
        if (!r[i].live)
            continue;
        if (best < 0 || r[i].due < r[best].due || (r[i].due == r[best].due && r[i].prio < r[best].prio) ||
            (r[i].due == r[best].due && r[i].prio == r[best].prio && r[i].seq < r[best].seq))
            best = i;
    }
    return best;
}

static void test_queue(void)
{
    enum { IDS = 2000, OPS = 10000 };
    static ref_entry ref[IDS];
    sched_queue *q = sched_queue_new(0);
    sched_entry en;
    uint64_t seq = 0;
    int live = 0, mismatches = 0;
    struct err e = {0};

    CHECK(q != NULL);
    CHECK_INT(sched_queue_peek(q, &en), 0);
    CHECK_INT(sched_queue_pop(q, &en), 0);
    CHECK_INT(sched_queue_remove(q, 5, &en), 0);
    CHECK_INT(sched_queue_get(q, 5, &en), 0);
    for (int op = 0; op < OPS; op++) {
        int kind = (int)(rnd() % 10), id = (int)(rnd() % IDS);
        /* ids spread over the whole int range, negatives included */
        int real_id = (int)((uint32_t)id * 2654435761u);
        if (kind < 5) { /* push or update; few distinct dues so ties happen */
            int64_t due = (int64_t)(rnd() % 50);
            int prio = (int)(rnd() % 3) - 1;
            CHECK_INT(sched_queue_push(q, real_id, due, prio, &e), CUST_OK);
            if (!ref[id].live)
                live++;
            ref[id] = (ref_entry){due, prio, seq++, real_id, 1};
        } else if (kind < 8) {
            int b = ref_min(ref, IDS);
            int got = sched_queue_pop(q, &en);
            if (b < 0) {
                CHECK_INT(got, 0);
            } else {
                if (!got || en.id != ref[b].id || en.due_ms != ref[b].due || en.priority != ref[b].prio)
                    mismatches++;
                ref[b].live = 0;
                live--;
            }
        } else {
            int got = sched_queue_remove(q, real_id, &en);
            CHECK_INT(got, ref[id].live);
            if (got) {
                if (en.id != real_id || en.due_ms != ref[id].due)
                    mismatches++;
                ref[id].live = 0;
                live--;
            }
        }
        if ((size_t)live != sched_queue_len(q))
            mismatches++;
        if (op % 97 == 0) {
            int b = ref_min(ref, IDS);
            if (b >= 0 && (!sched_queue_peek(q, &en) || en.id != ref[b].id))
                mismatches++;
            if (b >= 0 && (!sched_queue_get(q, ref[b].id, &en) || en.due_ms != ref[b].due))
                mismatches++;
        }
    }
    /* drain: the rest comes out in order */
    while (live > 0) {
        int b = ref_min(ref, IDS);
        if (!sched_queue_pop(q, &en) || en.id != ref[b].id)
            mismatches++;
        ref[b].live = 0;
        live--;
    }
    CHECK_INT(mismatches, 0);
    CHECK_INT(sched_queue_len(q), 0);

    /* FIFO among equals; an update goes behind its equals */
    for (int id = 0; id < 5; id++)
        CHECK_INT(sched_queue_push(q, id, 100, 0, &e), CUST_OK);
    CHECK_INT(sched_queue_push(q, 9, 100, -1, &e), CUST_OK); /* higher priority */
    CHECK_INT(sched_queue_push(q, 1, 100, 0, &e), CUST_OK);  /* rescheduled: now last */
    CHECK_INT(sched_queue_len(q), 6);
    {
        const int order[] = {9, 0, 2, 3, 4, 1};
        for (int k = 0; k < 6; k++) {
            CHECK_INT(sched_queue_pop(q, &en), 1);
            CHECK_INT(en.id, order[k]);
        }
    }
    /* the cap */
    sched_queue_free(q);
    q = sched_queue_new(3);
    for (int id = 0; id < 3; id++)
        CHECK_INT(sched_queue_push(q, id, id, 0, &e), CUST_OK);
    CHECK_INT(sched_queue_push(q, 7, 0, 0, &e), CUST_ELIMIT);
    CHECK(strstr(e.msg, "full at 3 entries") != NULL);
    CHECK_INT(sched_queue_len(q), 3);
    CHECK_INT(sched_queue_push(q, 2, -5, 0, &e), CUST_OK); /* an update still fits */
    CHECK_INT(sched_queue_peek(q, &en), 1);
    CHECK_INT(en.id, 2);
    CHECK_INT(sched_queue_peek(q, NULL), 1);
    CHECK_INT(sched_queue_remove(q, 2, NULL), 1);
    CHECK_INT(sched_queue_pop(q, NULL), 1);
    sched_queue_free(q);
    sched_queue_free(NULL);
    CHECK_INT(sched_queue_len(NULL), 0);

    /* 100,000 sources: push, reschedule each once, drain in order */
    q = sched_queue_new(0);
    {
        int bad = 0;
        int64_t prev = INT64_MIN;
        for (int id = 0; id < 100000; id++)
            if (sched_queue_push(q, id, (int64_t)(rnd() % 1000000), 0, &e) != CUST_OK)
                bad++;
        for (int id = 0; id < 100000; id++)
            if (sched_queue_push(q, id, (int64_t)(rnd() % 1000000), 0, &e) != CUST_OK)
                bad++;
        CHECK_INT(sched_queue_len(q), 100000);
        while (sched_queue_pop(q, &en)) {
            if (en.due_ms < prev)
                bad++;
            prev = en.due_ms;
        }
        CHECK_INT(bad, 0);
    }
    sched_queue_free(q);
}

int main(void)
{
    if (!load_zones())
        return check_report("test_schedule");
    test_every();
    test_daily_parse();
    test_cron_parse();
    test_next();
    test_nominal();
    test_jitter();
    test_adapt();
    test_queue();
    for (size_t i = 0; i < NZONES; i++)
        tz_free(zones[i]);
    return check_report("test_schedule");
}
