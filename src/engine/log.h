/* log.h - the daemon's log lines on stderr: one JSON object a line (for
 * journald, Loki and friends) or plain text, each with the time, level,
 * event, and when there is one the source and the poll cycle's correlation
 * id (the same id its audit entries carry). */
#ifndef CUSTODY_LOG_H
#define CUSTODY_LOG_H

#include "core/err.h"

typedef enum { LOG_JSON = 0, LOG_TEXT = 1 } log_format;
void log_set_format(log_format f);

/* event: a short dotted name ("poll.end", "alert.raised"). source/cycle
 * may be NULL. fields: extra JSON members without braces ("\"pages\":3"),
 * or NULL. msg: a human sentence, printf-style. */
void log_event(const char *level, const char *event, const char *source, const char *cycle,
               const char *fields, const char *fmt, ...) CUST_PRINTF(6, 7);

#endif
