/* failpoint.c - the failpoint registry, the CUSTODY_FAILPOINT parser and the
 * slow path an armed or traced failpoint takes. Where failpoints sit is the
 * callers' business (io/store_sqlite.c); see failpoint.h for the rules. */
#include "failpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *const failpoint_names[] = {
    "store.begin.before",
    "store.record.before",
    "store.record.after",
    "store.reject.before",
    "store.reject.after",
    "store.cursor.before",
    "store.cursor.after",
    "store.result.before",
    "store.result.after",
    "store.kv.before",
    "store.kv.after",
    "store.audit.before",
    "store.audit.after",
    "store.checkpoint.before",
    "store.checkpoint.after",
    "store.frontier.before",
    "store.frontier.after",
    "store.commit.before",
    "store.commit.after",
    NULL,
};

#define FP_COUNT (sizeof failpoint_names / sizeof *failpoint_names - 1)

/* 1 until the environment has been read: the first failpoint reached takes
 * the slow path once, which clears it when nothing is armed or traced. */
int failpoint_active = 1;

static int fp_ready, fp_armed, fp_trace_fd = -1;
static failpoint_spec fp_spec;
static int64_t fp_hits[FP_COUNT];

int failpoint_index(const char *name)
{
    for (size_t i = 0; i < FP_COUNT; i++)
        if (strcmp(failpoint_names[i], name) == 0)
            return (int)i;
    return -1;
}

const char *failpoint_action_name(failpoint_action a)
{
    switch (a) {
    case FAILPOINT_KILL:
        return "kill";
    case FAILPOINT_EXIT:
        return "exit";
    case FAILPOINT_ERROR:
        return "error";
    }
    return "?";
}

int failpoint_parse(const char *spec, failpoint_spec *out, char *why, size_t why_len)
{
    size_t nlen = strcspn(spec, "@:");
    const char *p = spec + nlen;
    char name[128];
    why[0] = '\0';
    out->nth = 1;
    out->action = FAILPOINT_KILL;
    if (nlen == 0) {
        snprintf(why, why_len, "no failpoint name before \"%s\"", p);
        return -1;
    }
    if (nlen >= sizeof name) {
        snprintf(why, why_len, "failpoint name too long (%zu characters)", nlen);
        return -1;
    }
    memcpy(name, spec, nlen);
    name[nlen] = '\0';
    if ((out->index = failpoint_index(name)) < 0) {
        snprintf(why, why_len, "unknown failpoint \"%s\" (the names are listed in src/core/failpoint.c)", name);
        return -1;
    }
    if (*p == '@') {
        int64_t n = 0;
        const char *d = ++p;
        /* digits only: no sign, no blanks, no hex, no empty count */
        while (*p >= '0' && *p <= '9') {
            if (n > (INT64_MAX - (*p - '0')) / 10) {
                snprintf(why, why_len, "hit count after @ is too large");
                return -1;
            }
            n = n * 10 + (*p++ - '0');
        }
        if (p == d || (*p && *p != ':')) {
            snprintf(why, why_len, "expected a decimal hit count after @, got \"%s\"", d);
            return -1;
        }
        if (n < 1) {
            snprintf(why, why_len, "hit count must be at least 1 (hits are counted from 1)");
            return -1;
        }
        out->nth = n;
    }
    if (*p == ':') {
        p++;
        if (strcmp(p, "kill") == 0)
            out->action = FAILPOINT_KILL;
        else if (strcmp(p, "exit") == 0)
            out->action = FAILPOINT_EXIT;
        else if (strcmp(p, "error") == 0)
            out->action = FAILPOINT_ERROR;
        else {
            snprintf(why, why_len, "unknown action \"%s\" after ':' (kill, exit or error)", p);
            return -1;
        }
    } else if (*p) {
        snprintf(why, why_len, "unexpected \"%s\" (the form is NAME[@N][:ACTION])", p);
        return -1;
    }
    return 0;
}

/* One write(2) per line to an O_APPEND descriptor: lines from earlier hits
 * are in the file even when a later one kills the process. */
static void trace_write(const char *line, int len, size_t cap)
{
    if (fp_trace_fd < 0 || len < 0 || (size_t)len >= cap)
        return;
    while (write(fp_trace_fd, line, (size_t)len) < 0 && errno == EINTR)
        ;
}

static void trace_counts(void)
{
    char line[192];
    for (size_t i = 0; i < FP_COUNT; i++)
        if (fp_hits[i])
            trace_write(line, snprintf(line, sizeof line, "count %s %lld\n", failpoint_names[i],
                                       (long long)fp_hits[i]), sizeof line);
}

static void fp_init(void)
{
    const char *spec = getenv("CUSTODY_FAILPOINT");
    const char *trace = getenv("CUSTODY_FAILPOINT_TRACE");
    char why[256];
    fp_ready = 1;
    if (spec && *spec) {
        if (failpoint_parse(spec, &fp_spec, why, sizeof why)) {
            fprintf(stderr, "custody: CUSTODY_FAILPOINT=\"%s\": %s\n", spec, why);
            fflush(stderr);
            _exit(2);
        }
        fp_armed = 1;
    }
    if (trace && *trace) {
        fp_trace_fd = open(trace, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fp_trace_fd < 0) {
            fprintf(stderr, "custody: CUSTODY_FAILPOINT_TRACE=\"%s\": %s\n", trace, strerror(errno));
            fflush(stderr);
            _exit(2);
        }
        atexit(trace_counts);
    }
    failpoint_active = fp_armed || fp_trace_fd >= 0;
}

int failpoint_hit_slow(const char *name)
{
    char line[192];
    int i;
    if (!fp_ready) {
        fp_init();
        if (!failpoint_active)
            return 0;
    }
    if ((i = failpoint_index(name)) < 0) {
        /* a call site the registry (and the torture script) does not know */
        fprintf(stderr, "custody: failpoint \"%s\" is not listed in failpoint_names[]\n", name);
        fflush(stderr);
        _exit(2);
    }
    if (fp_hits[i]++ == 0)
        trace_write(line, snprintf(line, sizeof line, "%s\n", failpoint_names[i]), sizeof line);
    if (!fp_armed || i != fp_spec.index || fp_hits[i] != fp_spec.nth)
        return 0;
    trace_write(line, snprintf(line, sizeof line, "fired %s %lld %s\n", failpoint_names[i],
                               (long long)fp_spec.nth, failpoint_action_name(fp_spec.action)), sizeof line);
    switch (fp_spec.action) {
    case FAILPOINT_KILL:
        raise(SIGKILL);
        _exit(137); /* not reached */
    case FAILPOINT_EXIT:
        _exit(70);
    case FAILPOINT_ERROR:
        return 1;
    }
    return 0;
}
