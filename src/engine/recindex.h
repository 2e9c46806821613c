/* recindex.h - a source's `index:` fields in the store's secondary index
 * (store.h index_put / index_lookup): the terms of one record version, the
 * per-source note of which fields are indexed for every stored version, and
 * the audited rebuild. Not here: what the lookups are used for (src/cmd/
 * export.c, trace.c).
 *
 * Completeness. A reader may trust the index for field F of source S only
 * when every stored version of S has its F terms. The store keeps, in S's
 * source state (kv key RECINDEX_KV), the JSON array of the fields for which
 * that holds. Every writer of versions calls recindex_sync in its
 * transaction before writing them: it narrows the note to the fields its
 * configuration indexes (a version written without F's terms breaks F), and
 * on a source with no records yet sets it to all of them. Only
 * custody index rebuild widens it, after indexing every stored version. */
#ifndef CUSTODY_RECINDEX_H
#define CUSTODY_RECINDEX_H

#include <stddef.h>
#include <stdint.h>
#include "config.h"
#include "core/err.h"
#include "core/json.h"
#include "io/store.h"

#define RECINDEX_KV "index_complete"

/* Inside the open transaction, after record_put stored version `version` of
 * key (STORE_NEW or STORE_VERSION): its index terms, one per string value of
 * each of src's index fields in rec (an array: each string element; other
 * types and absent fields: none). rec NULL or not an object (a tombstone):
 * no terms. No-op when src indexes nothing or the backend has no index.
 * Returns the store's error (the caller rolls back). */
cust_code recindex_put(store *st, const source_cfg *src, const char *key, int64_t version, const json_value *rec,
                       struct err *e) CUST_WUR;

/* Inside the open transaction of a writer of src's versions (poll cycle,
 * webhook, replay), before it writes them: narrow the completeness note to
 * src's index fields, or set it to all of them when src has no records yet
 * (see above). Returns the store's error; the note is unchanged then. */
cust_code recindex_sync(store *st, const source_cfg *src, struct err *e) CUST_WUR;

/* Whether readers may look field up in src's index: src declares it, the
 * backend has an index and the note says every version has its terms.
 * 1 yes, 0 no, -1 on a store error (e filled). */
int recindex_ready(store *st, const source_cfg *src, const char *field, struct err *e);

/* 1 when source has at least one stored version, 0 when none, -1 on a
 * store error (e filled). */
int recindex_has_records(store *st, const char *source, struct err *e);

/* The completeness note of source as a JSON array text (malloc'd, caller
 * frees), or NULL with *unset 1 when it was never written. Store errors: NULL,
 * *unset 0, e filled. */
char *recindex_note(store *st, const char *source, int *unset, struct err *e);

typedef struct recindex_report {
    long sources;  /* sources rebuilt */
    long versions; /* record versions read (purged and tombstones included) */
    long terms;    /* index terms put (existing ones are left as they are) */
} recindex_report;

/* Called once per source rebuilt. */
typedef void (*recindex_cb)(void *ud, const char *source, long versions, long terms);

/* custody index rebuild: for each named source (all when nsources is 0)
 * that declares index:, put the terms of every stored version, set its
 * completeness note to all its fields and audit index.rebuild (fields,
 * versions, terms), in one transaction with a checkpoint. A named source
 * without index: is a CUST_ECONFIG error. On failure nothing changes. */
struct sign_key;
cust_code recindex_rebuild(const config *cfg, store *st, const char *const *sources, size_t nsources,
                           const char *now, const char *actor, const struct sign_key *signer, recindex_cb cb,
                           void *ud, recindex_report *r, struct err *e) CUST_WUR;

#endif
