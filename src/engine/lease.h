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

typedef struct lease_guard {
    store *st;
    const store_ops *inner;
    store_ops fenced;     /* inner, with commit proving the lease first */
    const char *source;
    const char *owner;
    int64_t epoch;        /* 0: no lease held */
    int64_t ttl_ms;
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
