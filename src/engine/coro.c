/* coro.c - ucontext coroutines with mmap'd, guarded stacks; AddressSanitizer
 * is told about every stack switch so it does not report false positives. */
#define _GNU_SOURCE
#include "coro.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define CORO_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CORO_ASAN 1
#endif
#endif
#ifdef CORO_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

struct coro {
    ucontext_t ctx;
    ucontext_t caller;
    coro_fn fn;
    void *arg;
    void *map;        /* guard page + stack */
    size_t map_size;
    char *stack;
    size_t stack_size;
    int done;
#ifdef CORO_ASAN
    void *fake_stack;
    const void *caller_bottom;
    size_t caller_size;
#endif
};

static coro *current;
static coro *starting; /* handed to trampoline: makecontext passes only ints */

static void trampoline(void)
{
    coro *c = starting;
#ifdef CORO_ASAN
    __sanitizer_finish_switch_fiber(NULL, &c->caller_bottom, &c->caller_size);
#endif
    c->fn(c->arg);
    c->done = 1;
    current = NULL;
#ifdef CORO_ASAN
    /* the fiber ends: its fake stack goes with it */
    __sanitizer_start_switch_fiber(NULL, c->caller_bottom, c->caller_size);
#endif
    setcontext(&c->caller);
}

static void prepare(coro *c, coro_fn fn, void *arg)
{
    c->fn = fn;
    c->arg = arg;
    c->done = 0;
    getcontext(&c->ctx);
    c->ctx.uc_stack.ss_sp = c->stack;
    c->ctx.uc_stack.ss_size = c->stack_size;
    c->ctx.uc_link = NULL;
    makecontext(&c->ctx, trampoline, 0);
}

coro *coro_new(coro_fn fn, void *arg, size_t stack_size)
{
    long page = sysconf(_SC_PAGESIZE);
    coro *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    if (page <= 0)
        page = 4096;
    if (!stack_size)
        stack_size = 256u * 1024u;
    stack_size = (stack_size + (size_t)page - 1) & ~((size_t)page - 1);
    c->map_size = stack_size + (size_t)page;
    c->map = mmap(NULL, c->map_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (c->map == MAP_FAILED) {
        free(c);
        return NULL;
    }
    mprotect(c->map, (size_t)page, PROT_NONE); /* the stack grows down into this and faults */
    c->stack = (char *)c->map + page;
    c->stack_size = stack_size;
    prepare(c, fn, arg);
    return c;
}

void coro_reset(coro *c, coro_fn fn, void *arg)
{
    prepare(c, fn, arg);
}

int coro_resume(coro *c)
{
    if (c->done)
        return 1;
    current = c;
    starting = c;
#ifdef CORO_ASAN
    {
        void *fake = NULL;
        __sanitizer_start_switch_fiber(&fake, c->stack, c->stack_size);
        swapcontext(&c->caller, &c->ctx);
        __sanitizer_finish_switch_fiber(fake, NULL, NULL);
    }
#else
    swapcontext(&c->caller, &c->ctx);
#endif
    current = NULL;
    return c->done;
}

void coro_yield(void)
{
    coro *c = current;
    if (!c)
        abort(); /* a yield outside a coroutine is a programming error */
    current = NULL;
#ifdef CORO_ASAN
    __sanitizer_start_switch_fiber(&c->fake_stack, c->caller_bottom, c->caller_size);
    swapcontext(&c->ctx, &c->caller);
    __sanitizer_finish_switch_fiber(c->fake_stack, &c->caller_bottom, &c->caller_size);
#else
    swapcontext(&c->ctx, &c->caller);
#endif
    current = c;
}

coro *coro_current(void)
{
    return current;
}

void coro_free(coro *c)
{
    if (!c)
        return;
    munmap(c->map, c->map_size);
    free(c);
}
