/* failpoint.h - named failpoints compiled into every build, for crash and
 * error torture (tests/crash/test_torture.py). Not pure like the rest of
 * core/: an armed failpoint reads the environment, writes a trace file and
 * may kill the process. Unarmed, a failpoint costs one load and one branch.
 *
 * Arming: CUSTODY_FAILPOINT="NAME[@N][:ACTION]"
 *   NAME    one of failpoint_names[] (an unknown name is an error)
 *   N       fire on the Nth hit of NAME in this process (decimal, >= 1; default 1)
 *   ACTION  kill   raise(SIGKILL): the process dies as under kill -9 (default)
 *           exit   _exit(70): no atexit handlers, no stdio flush
 *           error  CUST_FAILPOINT() evaluates to nonzero once, at that hit;
 *                  the caller fails as on an I/O error
 * An empty value arms nothing. A malformed value is never ignored: the first
 * failpoint reached prints what is wrong on stderr and exits with status 2,
 * so a typo cannot make a torture run silently test nothing.
 *
 * Tracing: CUSTODY_FAILPOINT_TRACE=FILE appends to FILE, one line each:
 *   NAME                        the first hit of NAME in this process, written
 *                               at once (it survives kill -9)
 *   fired NAME N ACTION         the armed failpoint fires (written before acting)
 *   count NAME HITS             at normal exit: hits of every name reached
 *
 * Both variables are read once, at the first failpoint reached; the process
 * is assumed single-threaded (custody is). */
#ifndef CUSTODY_FAILPOINT_H
#define CUSTODY_FAILPOINT_H

#include <stddef.h>
#include <stdint.h>

/* Every failpoint name, NULL-terminated; the torture script keeps the same
 * list and checks that a reference poll reaches each of them. */
extern const char *const failpoint_names[];

typedef enum { FAILPOINT_KILL = 0, FAILPOINT_EXIT = 1, FAILPOINT_ERROR = 2 } failpoint_action;

typedef struct failpoint_spec {
    int index;               /* into failpoint_names[] */
    int64_t nth;             /* >= 1 */
    failpoint_action action;
} failpoint_spec;

/* Index of name in failpoint_names[], or -1. */
int failpoint_index(const char *name);

/* Parse a CUSTODY_FAILPOINT value. Returns 0 and fills *out, or -1 with
 * why[] saying what is wrong (*out is then unspecified). Pure. */
int failpoint_parse(const char *spec, failpoint_spec *out, char *why, size_t why_len);

/* Name of an action ("kill", "exit", "error"). */
const char *failpoint_action_name(failpoint_action a);

/* Internal to CUST_FAILPOINT: nonzero while a failpoint may need the slow
 * path (before the environment is read, or while armed or tracing). */
extern int failpoint_active;
int failpoint_hit_slow(const char *name);

/* Evaluates to nonzero when the failpoint name fires with action "error";
 * kill and exit do not return. name: a string in failpoint_names[]. */
#define CUST_FAILPOINT(name) (__builtin_expect(failpoint_active, 0) ? failpoint_hit_slow(name) : 0)

#endif
