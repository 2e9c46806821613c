/* retention.h - the audited retention purge: which record versions have
 * outlived their source's retention rule (and are under no legal hold),
 * and, with apply, emptying their content in one transaction with a
 * record.purged audit entry each. Hashes stay, so the log still verifies. */
#ifndef CUSTODY_RETENTION_H
#define CUSTODY_RETENTION_H

#include "config.h"
#include "io/store.h"

typedef struct retention_report {
    long examined;   /* record versions with content */
    long due;        /* past their retention */
    long held;       /* of which kept by a legal hold */
    long purged;     /* actually purged (apply) */
} retention_report;

/* Called for each due version (held says whether a hold keeps it). */
typedef void (*retention_cb)(void *ud, const char *source, const char *key, long version, const char *since,
                             int held);

/* now: UTC RFC 3339. With apply == 0 nothing changes. On failure nothing
 * is purged (one transaction). */
struct sign_key;
cust_code retention_run(const config *cfg, store *st, const char *now, int apply, const char *actor,
                        const struct sign_key *signer, const char *const *sources, size_t nsources,
                        retention_cb cb, void *ud, retention_report *r, struct err *e) CUST_WUR;

#endif
