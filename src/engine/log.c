/* log.c - structured log lines; one write(2) per line so lines from a
 * child process (the alert command) never interleave inside one. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/json.h"

static log_format fmt_in_use = LOG_JSON;

void log_set_format(log_format f)
{
    fmt_in_use = f;
}

static void now_text(char out[32])
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

void log_event(const char *level, const char *event, const char *source, const char *cycle,
               const char *fields, const char *fmt, ...)
{
    char t[32], msg[2048];
    buf b;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    now_text(t);
    buf_init(&b, 64 * 1024);
    if (fmt_in_use == LOG_JSON) {
        int bad = buf_addf(&b, "{\"time\":\"%s\",\"level\":\"%s\",\"event\":\"%s\"", t, level, event);
        if (source)
            bad |= buf_adds(&b, ",\"source\":") || json_write_string(&b, source, strlen(source));
        if (cycle && *cycle)
            bad |= buf_addf(&b, ",\"cycle\":\"%s\"", cycle);
        if (fields && *fields)
            bad |= buf_addc(&b, ',') || buf_adds(&b, fields);
        bad |= buf_adds(&b, ",\"msg\":") || json_write_string(&b, msg, strlen(msg)) || buf_adds(&b, "}\n");
        if (bad) {
            buf_reset(&b);
            if (buf_addf(&b, "{\"time\":\"%s\",\"level\":\"%s\",\"event\":\"%s\",\"msg\":\"(line too long)\"}\n",
                         t, level, event))
                buf_reset(&b);
        }
    } else {
        int bad = buf_addf(&b, "%s %-5s %s", t, level, event);
        if (source)
            bad |= buf_addf(&b, " source=%s", source);
        if (cycle && *cycle)
            bad |= buf_addf(&b, " cycle=%s", cycle);
        bad |= buf_addf(&b, ": %s", msg);
        if (fields && *fields)
            bad |= buf_addf(&b, " {%s}", fields);
        bad |= buf_addc(&b, '\n');
        if (bad) {
            buf_reset(&b);
            if (buf_addf(&b, "%s %-5s %s: (line too long)\n", t, level, event))
                buf_reset(&b);
        }
    }
    if (b.len) {
        ssize_t w = write(STDERR_FILENO, b.ptr, b.len);
        (void)w; /* nowhere to report a failing stderr */
    }
    buf_release(&b);
}
