/* replay.h - re-validate quarantined records under the current contract:
 * what passes now is ingested (a record.new/record.version entry naming
 * the quarantine id it came from) and the entry is marked replayed; with
 * dry_run nothing changes. One transaction; audited with the operator. */
#ifndef CUSTODY_REPLAY_H
#define CUSTODY_REPLAY_H

#include "config.h"
#include "io/store.h"

typedef struct replay_report {
    long examined;
    long passed;     /* valid under the current contract */
    long ingested;   /* of which stored as a new record or version (not dry run) */
    long duplicates; /* passed, but identical content was already stored */
    long failing;    /* still invalid */
} replay_report;

/* Per entry: id, source, passed, and when it fails, the current errors JSON. */
typedef void (*replay_cb)(void *ud, int64_t id, const char *source, int passed, const char *errors);

/* ids/nids: the entries to replay; nids 0 means every open entry (of
 * source when not NULL). now: UTC RFC 3339. Entries that are not open, or
 * whose source is no longer configured, fail the call with CUST_ECONFIG
 * naming them (nothing is changed). */
struct sign_key;
/* signer (may be NULL) signs the checkpoint the replay ends with. */
cust_code replay_run(const config *cfg, store *st, const int64_t *ids, size_t nids, const char *source, int dry_run,
                     const char *actor, const char *now, const struct sign_key *signer, replay_cb cb, void *ud,
                     replay_report *r, struct err *e) CUST_WUR;

#endif
