/* verify.h - offline verification of a store: recompute every audit leaf
 * and the Merkle root at each checkpoint, every record's content hash, and
 * check that records and quarantine entries match the audit entries that
 * announced them. Reads only. */
#ifndef CUSTODY_VERIFY_H
#define CUSTODY_VERIFY_H

#include "io/store.h"

typedef struct verify_report {
    long entries;
    long checkpoints;
    long signed_checkpoints;
    long records;
    long purged;            /* of which content purged by retention */
    long quarantined;
    char root[65];          /* root over all entries */
    long bad_seq;           /* first bad audit entry, 0 if none or not an entry */
} verify_report;

/* CUST_OK when everything holds; CUST_EAUDIT with e naming the first
 * problem (entry seq, record key, what differs); CUST_ESTORE when the store
 * cannot be read. With key, every checkpoint must carry a valid signature
 * by that key. */
struct sign_key;
cust_code verify_store(store *st, const struct sign_key *key, verify_report *r, struct err *e) CUST_WUR;

#endif
