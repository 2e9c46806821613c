/* lease.c - see lease.h. */
#include "lease.h"

#include <stdio.h>
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
    if (st->ops->lease_acquire(st, source, owner, ttl_ms, &g->epoch, e))
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
