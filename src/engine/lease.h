/* lease.h - one poll cycle under a lease, for stores many workers share
 * (PostgreSQL). The cycle runs only when this worker holds the source's
 * lease, and every commit it makes first proves the lease in the same
 * transaction (store_ops.lease_fence): a worker that lost its lease while
 * paused or cut off has its transaction rolled back instead of committed.
 * With a store one process owns (SQLite: its file lock), all of this is a
 * no-op. */
#ifndef CUSTODY_LEASE_H
#define CUSTODY_LEASE_H

#include <stddef.h>
#include <stdint.h>
#include "core/err.h"
#include "io/store.h"

/* "HOST:PID" (or configured), the owner name in leases. */
void lease_owner_default(char *out, size_t n);

/* Take source's lease for owner (st->ops must have lease_acquire): *epoch
 * is the new fencing epoch, 0 when another worker holds it (its name in
 * holder). A holder named HOST:PID on this host whose process is gone (a
 * poll killed with kill -9) is known dead: its lease is broken at once
 * instead of waited out. Usable inside or outside a transaction. */
cust_code lease_take(store *st, const store_ops *ops, const char *source, const char *owner, int64_t ttl_ms,
                     int64_t *epoch, char *holder, size_t nholder, struct err *e) CUST_WUR;

typedef struct lease_guard {
    store *st;
    const store_ops *inner;
    store_ops fenced;     /* inner, with commit proving the lease first */
    const char *source;
    const char *owner;
    int64_t epoch;        /* 0: no lease held */
    int64_t ttl_ms;
    char holder[256];     /* after lease_begin returned 0: who holds it */
} lease_guard;

/* Take source's lease for owner. Returns 1 when held (st's commits are now
 * fenced until lease_end), 0 when another worker holds it (nothing
 * changed), -1 on a store failure (e set). A store without leases: 1, and
 * nothing is wrapped. One guard at a time per process. */
int lease_begin(lease_guard *g, store *st, const char *source, const char *owner, int64_t ttl_ms, struct err *e);
/* Restore st's operations and let the lease go (so the next due worker
 * need not wait for its expiry). */
void lease_end(lease_guard *g);

#endif
