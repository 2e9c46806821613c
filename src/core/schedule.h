/* schedule.h - when sources poll: schedule specs (every / daily / cron),
 * the next fire instant in a time zone with its DST rules, deterministic
 * jitter, the adaptive interval and the due queue of the `custody run`
 * daemon. Pure: the caller passes the time (Unix ms, UTC) and the zone;
 * nothing here reads a clock, sleeps or touches a file.
 *
 * DST rules (daily and cron; `every` is elapsed time and ignores zones):
 *  - A local time that does not exist on a day (the clock springs forward
 *    over it) fires once, at the instant the clock jumps, i.e. where the
 *    gap ends: 02:30 America/New_York on 2026-03-08 fires at 03:00 EDT
 *    (07:00Z). Several times in one gap fire once between them.
 *  - A local time that occurs twice (the clock falls back over it) fires
 *    once, at its first occurrence: 01:30 America/New_York on 2026-11-01
 *    fires at 01:30 EDT (05:30Z), not again at 01:30 EST.
 *  - Except: a cron entry whose hour field starts with '*' ("*", "*\/2")
 *    follows real time, so it fires in both passes of a fold ("*\/30 * * *
 *    *" fires at 01:30 EDT and at 01:30 EST) - ISC cron's rule for
 *    wildcard entries, applied to the hour field only.
 * The zone's own data decides where gaps and folds are, including shifts
 * of 30 minutes (Australia/Lord_Howe) and, past the zone file's table, the
 * POSIX rule in its footer. */
#ifndef CUSTODY_SCHEDULE_H
#define CUSTODY_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>
#include "err.h"
#include "tz.h"

/* Fire instants lie in [SCHED_MIN_MS, SCHED_MAX_MS]: from the Unix epoch
 * to the end of year 9999. */
#define SCHED_MIN_MS 0LL
#define SCHED_MAX_MS (TZ_MAX_S * 1000LL + 999)
#define SCHED_EVERY_MIN_MS 1000LL              /* every: at least 1s */
#define SCHED_EVERY_MAX_MS (366LL * 86400000)  /* every: at most 366d */
#define SCHED_MAX_TIMES 48                     /* daily: times per day */
#define SCHED_TEXT_MAX 1024                    /* longest spec text accepted */

typedef enum sched_kind { SCHED_NONE = 0, SCHED_EVERY, SCHED_DAILY, SCHED_CRON } sched_kind;

/* A parsed spec: a plain value the caller embeds and copies freely. Fill
 * it only with sched_parse_*, sched_make_every and sched_set_zone; treat
 * the fields as read-only. It does not own its zone: the zone must outlive
 * every call that uses the spec. */
typedef struct sched_spec {
    sched_kind kind;
    const tz_zone *zone;               /* daily, cron: NULL means UTC */
    int64_t every_ms;                  /* every: the interval */
    int ntimes;                        /* daily: how many times ... */
    int32_t times[SCHED_MAX_TIMES];    /* ... as ascending, distinct seconds of the day */
    /* cron: bit v set when value v is allowed */
    uint64_t minutes;                  /* bits 0-59 */
    uint32_t hours;                    /* bits 0-23 */
    uint32_t mdays;                    /* bits 1-31 */
    uint32_t months;                   /* bits 1-12 */
    uint32_t wdays;                    /* bits 0-6, 0 = Sunday (7 is folded into 0) */
    int dom_star, dow_star;            /* the field started with '*': Vixie's "unrestricted" */
    int hour_star;                     /* the hour field started with '*': fires in both passes of a fold */
} sched_spec;

/* Parse an `every` duration: numbers with units d, h, m, s from largest to
 * smallest, each once, no spaces ("90s", "5m", "1h30m", "2d"); 1s to 366d.
 * Fires at the multiples of the interval since the Unix epoch (UTC), so
 * the grid is the same after every restart. On error: CUST_ECONFIG with a
 * message such as `every "5x": unknown unit "x" (use d, h, m or s, e.g.
 * 1h30m)`; *out is unchanged. */
cust_code sched_parse_every(const char *text, sched_spec *out, struct err *e) CUST_WUR;

/* An `every` spec for an interval the caller already holds as a number
 * (a duration from the config file): every_ms in [SCHED_EVERY_MIN_MS,
 * SCHED_EVERY_MAX_MS], same grid as sched_parse_every. CUST_ECONFIG
 * outside that range; *out is unchanged on error. */
cust_code sched_make_every(int64_t every_ms, sched_spec *out, struct err *e) CUST_WUR;

/* Parse a `daily` spec: local times HH:MM or HH:MM:SS (hour may be one
 * digit) separated by ',' (spaces around ',' allowed), then optionally
 * whitespace and a zone name: "06:00 America/New_York", "06:00,18:30
 * Europe/London", "23:59:30". At most SCHED_MAX_TIMES distinct times.
 * zone_name (TZ_NAME_MAX bytes, not NULL) receives the zone name, or ""
 * when none was given (UTC, unless the caller applies a default); the
 * caller loads it (tz_load) and attaches it with sched_set_zone. The name
 * is checked with tz_name_ok, not looked up. On error: CUST_ECONFIG with a
 * message such as `daily "24:00": 24:00 is not a time of day (use
 * 00:00-23:59)`; *out and zone_name are unchanged. */
cust_code sched_parse_daily(const char *text, sched_spec *out, char zone_name[TZ_NAME_MAX],
                            struct err *e) CUST_WUR;

/* Parse a five-field cron expression: minute (0-59), hour (0-23),
 * day-of-month (1-31), month (1-12 or JAN-DEC), day-of-week (0-7, 0 and 7
 * are Sunday, or SUN-SAT); names in any case. Each field is a
 * comma-separated list of "*", a value, a range "a-b", each optionally
 * with a step "/n" ("*\/15", "10-50/10"; "a/n" means a through the last
 * value, as in cronie). Fields are separated by spaces or tabs. Macros:
 * @yearly @annually (0 0 1 1 *), @monthly (0 0 1 * *), @weekly
 * (0 0 * * 0), @daily @midnight (0 0 * * *), @hourly (0 * * * *).
 * Vixie semantics: when day-of-month and day-of-week both are restricted
 * (neither starts with '*'), a day matches if EITHER matches; otherwise
 * both must. The zone is UTC until sched_set_zone. On error: CUST_ECONFIG
 * naming the field and what it allows, e.g. `cron "*\/0 * * * *": minute:
 * step 0 (use 1-59)`; *out is unchanged. A spec that can never fire ("0 0
 * 30 2 *") parses; sched_next returns -1 for it. */
cust_code sched_parse_cron(const char *text, sched_spec *out, struct err *e) CUST_WUR;

/* Attach a zone (not owned; NULL = UTC) to a daily or cron spec; harmless
 * and ignored for every. */
void sched_set_zone(sched_spec *s, const tz_zone *z);

/* The first fire instant strictly after after_ms (Unix ms, UTC), in
 * [SCHED_MIN_MS, SCHED_MAX_MS]; after_ms before the epoch counts as just
 * before it. Returns -1 when the spec never fires again: nothing before
 * the end of year 9999, or a calendar that never matches (the Gregorian
 * calendar repeats every 400 years, which bounds the search: a call costs
 * at most a few thousand day tests). Daily and cron fires are whole
 * seconds in the spec's zone, with the DST rules above. */
int64_t sched_next(const sched_spec *s, int64_t after_ms);

/* The spec's nominal interval in ms, for staleness defaults: every: its
 * interval; daily: 24h divided by the number of times; cron: the LONGEST
 * gap between consecutive fires over a year of the calendar (from
 * 2001-01-01, evaluated in UTC so DST does not stretch it), so that a
 * "weekdays at 09:00" source is not called stale over the weekend (3 days,
 * where the shortest gap would say 1). -1 for a spec that never fires or
 * an unparsed one. */
int64_t sched_nominal_ms(const sched_spec *s);

/* ---- jitter --------------------------------------------------------------- */

/* A deterministic delay in [0, max_ms), uniform over sources: the same
 * source_name (NULL counts as "") and seed always give the same value, on
 * every platform (FNV-1a of the name and splitmix64, with rejection so no
 * value is favoured). 0 when max_ms <= 0. */
int64_t sched_jitter_ms(const char *source_name, int64_t max_ms, uint64_t seed);

/* ---- adaptive interval ---------------------------------------------------- */

typedef enum sched_outcome {
    SCHED_OUT_OK = 0, /* new data: back to the base interval */
    SCHED_OUT_IDLE,   /* nothing new: stretch slowly */
    SCHED_OUT_ERROR,  /* the cycle failed: back off */
    SCHED_OUT_BEHIND  /* more pages waiting: catch up soon */
} sched_outcome;

typedef struct sched_adapt {
    int enabled;     /* 0: the interval is always the base */
    double backoff;  /* growth factor on error, > 1 (default 2) */
    int64_t min_ms;  /* interval while catching up (default 1000; at most base) */
    int64_t max_ms;  /* growth stops here (<= 0: 16 x base; never below base) */
} sched_adapt;

/* enabled 0, backoff 2, min_ms 1000, max_ms 0. */
void sched_adapt_default(sched_adapt *a);

/* The interval after a cycle with outcome o, given the base interval and
 * the interval the cycle ran on (current_ms; <= 0 means base):
 *   OK     -> base_ms
 *   IDLE   -> max(current, base) * sqrt(backoff), at most the cap
 *   ERROR  -> max(current, base) * backoff, at most the cap
 *   BEHIND -> min_ms (at most base)
 * Growth rounds up, so it always grows until the cap. Idle grows by the
 * square root (1.41x for backoff 2): two idle cycles stretch as far as one
 * error, since an idle source is healthy and its data may resume at any
 * moment. A NULL a, a disabled one or an unknown outcome give base_ms.
 * base_ms below 1 counts as 1; a backoff that is not a number above 1
 * counts as 2. Pure. */
int64_t sched_adapt_next(const sched_adapt *a, int64_t base_ms, int64_t current_ms, sched_outcome o);

/* ---- due queue ------------------------------------------------------------ */

/* One queued source: served in order of due_ms, then priority (lower
 * first), then seq (the order of pushes: FIFO among equals). */
typedef struct sched_entry {
    int64_t due_ms;
    int priority;
    uint64_t seq;
    int id;
} sched_entry;

typedef struct sched_queue sched_queue;

/* A binary min-heap with an index by id: push, pop, remove and update are
 * O(log n). max_entries caps its size (0: 1,000,000). Returns NULL when
 * out of memory. */
sched_queue *sched_queue_new(size_t max_entries);

/* Free the queue; NULL is a no-op. */
void sched_queue_free(sched_queue *q);

/* Queue source id at due_ms with priority. If id is already queued its
 * entry is replaced (this is the update: reschedule a source), and it
 * takes a new seq, i.e. goes behind entries already queued at the same
 * due_ms and priority. CUST_ELIMIT when a new id would exceed max_entries,
 * CUST_ENOMEM; the queue is unchanged on error. */
cust_code sched_queue_push(sched_queue *q, int id, int64_t due_ms, int priority, struct err *e) CUST_WUR;

/* Copy the first entry to *out (may be NULL) without removing it. Returns
 * 1, or 0 when the queue is empty. */
int sched_queue_peek(const sched_queue *q, sched_entry *out);

/* Remove the first entry, copying it to *out (may be NULL). Returns 1, or
 * 0 when the queue is empty. */
int sched_queue_pop(sched_queue *q, sched_entry *out);

/* Remove id's entry, copying it to *out (may be NULL). Returns 1, or 0
 * when id is not queued. */
int sched_queue_remove(sched_queue *q, int id, sched_entry *out);

/* Copy id's entry to *out (may be NULL). Returns 1, or 0 when id is not
 * queued. */
int sched_queue_get(const sched_queue *q, int id, sched_entry *out);

/* Number of entries. */
size_t sched_queue_len(const sched_queue *q);

#endif
