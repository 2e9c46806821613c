/* lease.c - see lease.h. */
#include "lease.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static lease_guard *g_active; /* the CLI polls one source at a time */

void lease_owner_default(char *out, size_t n)
{
    char host[128] = "localhost";
    if (gethostname(host, sizeof host - 1) != 0)
        snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';
    snprintf(out, n, "%s:%ld", host, (long)getpid());
}

/* 1 when holder is "HOST:PID" of this host and no such process exists. A
 * reused pid reads as alive: the lease is then waited out (the safe side).
 * Another pid namespace with our host name may read as dead: its lease is
 * broken, and fencing still keeps its late commits out. */
static int holder_dead(const char *holder)
{
    char me[256];
    const char *colon = strrchr(holder, ':');
    char *end;
    long pid;
    lease_owner_default(me, sizeof me);
    if (!colon || (size_t)(colon - holder) != (size_t)(strrchr(me, ':') - me) ||
        strncmp(holder, me, (size_t)(colon - holder)) != 0)
        return 0;
    errno = 0;
    pid = strtol(colon + 1, &end, 10);
    if (errno || *end || pid <= 0 || end == colon + 1)
        return 0;
    return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

cust_code lease_take(store *st, const store_ops *ops, const char *source, const char *owner, int64_t ttl_ms,
                     int64_t *epoch, char *holder, size_t nholder, struct err *e)
{
    cust_code rc;
    holder[0] = '\0';
    if ((rc = ops->lease_acquire(st, source, owner, ttl_ms, epoch, holder, nholder, e)) || *epoch)
        return rc;
    if (!holder[0] || !holder_dead(holder) || !ops->lease_break)
        return CUST_OK;
    if ((rc = ops->lease_break(st, source, holder, e)))
        return rc;
    return ops->lease_acquire(st, source, owner, ttl_ms, epoch, holder, nholder, e);
}

static cust_code fenced_commit(store *s, struct err *e)
{
    lease_guard *g = g_active;
    cust_code rc;
    if (!g || g->st != s)
        return err_set(e, CUST_ESTORE, "internal: a fenced commit without its lease");
    if ((rc = g->inner->lease_fence(s, g->source, g->owner, g->epoch, g->ttl_ms, e))) {
        g->inner->rollback(s);
        return rc;
    }
    return g->inner->commit(s, e);
}

int lease_begin(lease_guard *g, store *st, const char *source, const char *owner, int64_t ttl_ms, struct err *e)
{
    memset(g, 0, sizeof *g);
    g->st = st;
    g->inner = st->ops;
    g->source = source;
    g->owner = owner;
    g->ttl_ms = ttl_ms;
    if (!st->ops->lease_acquire)
        return 1;
    if (g_active) {
        err_set(e, CUST_ESTORE, "internal: two leases at once");
        return -1;
    }
    if (lease_take(st, st->ops, source, owner, ttl_ms, &g->epoch, g->holder, sizeof g->holder, e))
        return -1;
    if (!g->epoch)
        return 0;
    g->fenced = *st->ops;
    g->fenced.commit = fenced_commit;
    st->ops = &g->fenced;
    g_active = g;
    return 1;
}

void lease_end(lease_guard *g)
{
    struct err ignore = {0};
    if (!g->epoch)
        return;
    g->st->ops = g->inner;
    g_active = NULL;
    g->inner->lease_release(g->st, g->source, g->owner, g->epoch, &ignore);
    g->epoch = 0;
}
