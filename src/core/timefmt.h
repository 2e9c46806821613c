/* timefmt.h - the instants an incremental sync compares and sends: RFC 3339
 * / ISO 8601 date-times (with Z or an offset, optional fraction), epoch
 * seconds and epoch milliseconds. Pure; no locale, no time zone database. */
#ifndef CUSTODY_TIMEFMT_H
#define CUSTODY_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>
#include "buf.h"
#include "err.h"

typedef enum time_format { TIME_ISO8601 = 0, TIME_EPOCH_S, TIME_EPOCH_MS } time_format;

/* Parse text (len bytes) in format f into Unix milliseconds. Returns 1 on
 * success, 0 when the text is not a valid instant in that format (an ISO
 * time without a zone is refused: it names no instant). */
int timefmt_parse(time_format f, const char *text, size_t len, int64_t *ms);

/* Append the instant in format f: ISO as "YYYY-MM-DDTHH:MM:SS.mmmZ" (the
 * fraction only when non-zero), epochs as integers. CUST_ENOMEM on a full
 * buffer. */
cust_code timefmt_format(time_format f, int64_t ms, buf *out) CUST_WUR;

/* Days since 1970-01-01 of a proleptic Gregorian date (no validation). */
int64_t timefmt_days_from_civil(int64_t y, unsigned m, unsigned d);

#endif
