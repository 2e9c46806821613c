/* tzload.h - finding and reading a time zone by name from the system's
 * zone directory ($TZDIR, else /usr/share/zoneinfo). The parsing is
 * core/tz.c's; this file only validates the name and reads the bytes. */
#ifndef CUSTODY_TZLOAD_H
#define CUSTODY_TZLOAD_H

#include "core/err.h"
#include "core/tz.h"

/* Largest zone file read (real ones are under 4 KiB). */
#define TZLOAD_MAX_BYTES (1024 * 1024)

/* Load the zone called name (e.g. "America/New_York"). "UTC" and
 * "Etc/UTC" are built in and never touch the file system (*out is
 * tz_utc()). Other names must pass tz_name_ok() - so a configured value
 * cannot read an arbitrary file - and are read from $TZDIR/<name> when
 * TZDIR is set and non-empty, else /usr/share/zoneinfo/<name>.
 * Errors, each naming the zone and what to do: CUST_ECONFIG for a
 * malformed name, a directory instead of a zone, or data that is not TZif;
 * CUST_ENOTFOUND when no such file exists (check the spelling, or install
 * tzdata); CUST_EIO (cause: errno) when the file cannot be read;
 * CUST_ELIMIT past TZLOAD_MAX_BYTES; CUST_ENOMEM. *out is set only on
 * success; free it with tz_free. */
cust_code tz_load(const char *name, tz_zone **out, struct err *e) CUST_WUR;

#endif
