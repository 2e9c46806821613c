/* tz.h - time zones from TZif data (RFC 8536, versions 1 to 4): UTC offsets,
 * UTC <-> local civil time, and the gaps and folds of daylight saving time.
 * Pure: the caller hands in the file's bytes (io/tzload.h reads them); no
 * file I/O, no TZ environment, no libc time zone state. */
#ifndef CUSTODY_TZ_H
#define CUSTODY_TZ_H

#include <stddef.h>
#include <stdint.h>
#include "err.h"

/* Zone names are at most this long including the NUL ("America/New_York"
 * is 17). */
#define TZ_NAME_MAX 64

/* Instants outside years 0001..9999 are clamped to this range by every
 * function here (seconds since the Unix epoch, UTC). */
#define TZ_MIN_S (-62135596800LL) /* 0001-01-01T00:00:00Z */
#define TZ_MAX_S 253402300799LL   /* 9999-12-31T23:59:59Z */

typedef struct tz_zone tz_zone;

/* Parse TZif data (v1, or the 64-bit block of v2+ plus its footer TZ
 * string, which governs instants after the last transition, e.g. 2099).
 * name is copied (truncated to TZ_NAME_MAX - 1 bytes). Malformed input -
 * a bad magic, counts that overrun the data, unsorted transitions, type
 * indexes out of range, offsets beyond +-25:59:59, a bad footer - and
 * leap-second ("right/") data give CUST_ECONFIG with a message naming the
 * zone and the defect; CUST_ENOMEM on allocation failure. *out is set only
 * on success; the caller frees it with tz_free. Never reads past len. */
cust_code tz_parse(const char *name, const unsigned char *data, size_t len, tz_zone **out,
                   struct err *e) CUST_WUR;

/* 1 when name is a well-formed zone name: [A-Za-z0-9_+-]+ parts joined by
 * '/', shorter than TZ_NAME_MAX. No ".", no leading or doubled '/': a
 * configured name cannot reach outside the zone directory. */
int tz_name_ok(const char *name);

/* The built-in UTC zone (named "UTC"): static, tz_free on it is a no-op. */
tz_zone *tz_utc(void);

/* Free a zone from tz_parse/tz_load; NULL and tz_utc() are no-ops. */
void tz_free(tz_zone *z);

/* The name given to tz_parse ("UTC" for tz_utc()). Never NULL. */
const char *tz_name(const tz_zone *z);

/* Seconds east of UTC in effect at utc_s (NULL z: UTC, 0). */
int32_t tz_offset_at(const tz_zone *z, int64_t utc_s);

/* The first instant after utc_s at which the zone's UTC offset changes,
 * INT64_MAX when it never changes again (a transition that only renames
 * the abbreviation or flips the DST flag is not a change). */
int64_t tz_next_transition(const tz_zone *z, int64_t utc_s);

/* Civil (proleptic Gregorian) date and time. month 1-12, day 1-31, hour
 * 0-23, minute 0-59, second 0-59. */
typedef struct tz_civil {
    int year, month, day, hour, minute, second;
} tz_civil;

/* The local civil time at utc_s in zone z (NULL z: UTC). */
void tz_to_local(const tz_zone *z, int64_t utc_s, tz_civil *out);

/* Which UTC instants show local time *c in zone z. Fields out of range are
 * normalised arithmetically (day 32 is the next month's 1st; no error).
 * Returns
 *   1  unique: *first_utc (and *second_utc) = that instant;
 *   2  ambiguous, the clock went back over it (a fold): *first_utc is the
 *      earlier instant, *second_utc the later;
 *   0  nonexistent, the clock jumped over it (a gap): *first_utc =
 *      *second_utc = the instant of the jump, i.e. where the gap ends
 *      (New York 2026-03-08 02:30 gives 07:00Z, when 02:00 EST became
 *      03:00 EDT).
 * Either pointer may be NULL. */
int tz_from_local(const tz_zone *z, const tz_civil *c, int64_t *first_utc, int64_t *second_utc);

/* The same, for a local time given as seconds since 1970-01-01T00:00 of
 * the local calendar (days * 86400 + seconds of the day). */
int tz_from_local_s(const tz_zone *z, int64_t local_s, int64_t *first_utc, int64_t *second_utc);

/* Calendar helpers (proleptic Gregorian, no validation of the input). */
/* Days since 1970-01-01 of y-m-d. */
int64_t tz_days_from_civil(int64_t y, int m, int d);
/* The date of a day number (inverse of tz_days_from_civil). */
void tz_civil_from_days(int64_t days, int64_t *y, int *m, int *d);
/* Day of the week of a day number: 0 = Sunday .. 6 = Saturday. */
int tz_weekday_of_days(int64_t days);
/* Day of the week of c's date: 0 = Sunday .. 6 = Saturday. */
int tz_weekday(const tz_civil *c);
/* 1 for a leap year. */
int tz_is_leap(int64_t y);
/* Days in month m (1-12) of year y. */
int tz_days_in_month(int64_t y, int m);

#endif
