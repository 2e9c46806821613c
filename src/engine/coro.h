/* coro.h - stackful coroutines (ucontext) for the daemon's tasks: a poll
 * cycle is ordinary blocking code that suspends where it would wait (an
 * HTTP transfer on the shared libcurl multi handle, a retry back-off), so
 * thousands of sources share one thread without the poll engine being
 * rewritten as callbacks. Single-threaded: all coroutines of a process run
 * on the thread that resumes them. */
#ifndef CUSTODY_CORO_H
#define CUSTODY_CORO_H

#include <stddef.h>

typedef struct coro coro;
typedef void (*coro_fn)(void *arg);

/* A suspended coroutine that will run fn(arg) on its own stack of
 * stack_size bytes (0: 256 KiB), with a guard page below it so an
 * overflow faults instead of corrupting the heap. NULL when out of memory. */
coro *coro_new(coro_fn fn, void *arg, size_t stack_size);

/* Run c until it yields or returns; 1 when fn has returned (c may then be
 * freed or reused), 0 when it yielded. Call from outside any coroutine. */
int coro_resume(coro *c);

/* Suspend the running coroutine; its coro_resume returns 0. Must be called
 * from inside a coroutine. */
void coro_yield(void);

/* The running coroutine, NULL outside any. */
coro *coro_current(void);

/* Reuse a finished coroutine (its stack) for another fn(arg). */
void coro_reset(coro *c, coro_fn fn, void *arg);

void coro_free(coro *c); /* NULL is a no-op; never on a running one */

#endif
