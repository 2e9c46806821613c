/* store.h - the durable state of custody behind one table of callbacks:
 * records (versioned, append-only), quarantine, per-source state (cursor),
 * the audit log (Merkle leaves) and checkpoints. store_sqlite.c is the
 * embedded backend; others (PostgreSQL) register the same operations.
 *
 * Transactions: everything a page produces (records, rejections, cursor,
 * audit rows) is written between store_begin and store_commit; nothing is
 * visible or durable before store_commit returns CUST_OK. On any failure
 * inside a transaction call store_rollback: state is as before begin.
 *
 * Several processes may write one store (a poll or the daemon beside
 * `custody publish` or an operator command): begin takes the write lock and
 * every backend continues the audit log from what is stored then, never
 * from what its handle saw at open. Audit seqs are assigned under that lock,
 * so a reader never sees seq N+1 committed while N may still commit: the
 * outbox relies on this to keep one position (a high-water mark). */
#ifndef CUSTODY_STORE_H
#define CUSTODY_STORE_H

#include <stddef.h>
#include <stdint.h>
#include "core/buf.h"
#include "core/err.h"

struct sign_key;
typedef struct store store;

typedef enum {
    STORE_NEW = 1,       /* first version of a key / first sighting of a reject */
    STORE_VERSION = 2,   /* changed content: a new version was appended */
    STORE_DUPLICATE = 3  /* identical to the latest version / reject seen again */
} store_outcome;

typedef struct store_record {
    const char *source;
    const char *key;          /* idempotency key (JCS array text) */
    const char *content_hash; /* hex SHA-256 of canonical */
    const char *canonical;    /* JCS text of the normalised record */
    size_t canonical_len;
    const char *raw_hash;     /* hex SHA-256 of the raw bytes as received */
    const char *fetched_at;   /* UTC RFC 3339 */
    const char *request_id;
    const char *cycle_id;
    const char *config_hash;
    const char *contract_hash; /* the contract that judged it */
} store_record;

typedef struct store_reject {
    const char *source;
    const char *recon_key;    /* hex SHA-256 of the raw record's JCS */
    const char *raw;          /* raw bytes as received */
    size_t raw_len;
    const char *errors_json;  /* JSON array of {path, code, message, value} */
    const char *seen_at;
    const char *request_id;
    const char *cycle_id;
    const char *contract_hash; /* the contract that rejected it */
} store_reject;

typedef struct store_audit {
    const char *time;         /* UTC RFC 3339 with milliseconds */
    const char *actor;
    const char *action;       /* "poll.start", "record.new", ... */
    const char *source;       /* "" when none */
    const char *subject;      /* "" when none */
    const char *detail;       /* JCS JSON object text */
    const char *cycle_id;     /* "" when none */
} store_audit;

typedef struct store_source_state {
    int exists;
    char *cursor;             /* NULL: never advanced (owned, free()) */
    char *last_poll_at;       /* owned, may be NULL */
    char *last_result;        /* owned, may be NULL */
} store_source_state;
void store_source_state_release(store_source_state *st);

/* A row handed to listing callbacks; strings valid only during the call. */
typedef struct store_row {
    const char *cols[16];
    size_t lens[16];
    int ncols;
} store_row;
typedef int (*store_row_cb)(void *ctx, const store_row *row); /* non-zero stops */

typedef struct store_ops {
    const char *scheme; /* "sqlite" */
    cust_code (*open)(const char *location, unsigned flags, store **out, struct err *e);
    void (*close)(store *s);
    cust_code (*begin)(store *s, struct err *e);
    cust_code (*commit)(store *s, struct err *e);
    void (*rollback)(store *s);
    cust_code (*source_get)(store *s, const char *source, store_source_state *out, struct err *e);
    cust_code (*source_set_cursor)(store *s, const char *source, const char *cursor, struct err *e);
    cust_code (*source_set_result)(store *s, const char *source, const char *at, const char *result,
                                   struct err *e);
    /* Small per-source state kept across runs (ETag, Last-Modified, the
     * breaker): kv_get sets *value to a malloc'd copy or NULL when unset;
     * kv_put with value NULL deletes. Part of the open transaction. Source
     * "" holds store-wide state (the outbox positions, "outbox.nats.STREAM"):
     * a backend must not require a sources row for it. */
    /* Retention: empty one record version's content (hashes stay) and
     * note who purged it under which rule; the caller audits record.purged
     * in the same transaction. The version's index terms (index_put) go
     * with its content. Fails when absent or already purged. */
    cust_code (*record_purge)(store *s, const char *source, const char *key, int64_t version, const char *at,
                              const char *actor, const char *rule, struct err *e);
    /* Legal holds: key NULL holds the whole source. Released, never deleted. */
    cust_code (*hold_add)(store *s, const char *source, const char *key, const char *reason, const char *actor,
                          const char *at, int64_t *id, struct err *e);
    cust_code (*hold_release)(store *s, int64_t id, const char *reason, const char *actor, const char *at,
                              struct err *e);
    /* Quarantine lifecycle: status "replayed" or "resolved", by whom, when, why. */
    cust_code (*quarantine_set_status)(store *s, int64_t id, const char *status, const char *by, const char *at,
                                       const char *why, struct err *e);
    /* Rows: id, source, key, reason, actor, created_at, released_at, released_by, release_reason. */
    cust_code (*holds_list)(store *s, int active_only, store_row_cb cb, void *ctx, struct err *e);
    cust_code (*kv_get)(store *s, const char *source, const char *key, char **value, struct err *e);
    cust_code (*kv_put)(store *s, const char *source, const char *key, const char *value, struct err *e);
    cust_code (*record_put)(store *s, const store_record *r, store_outcome *out, int64_t *version,
                            struct err *e);
    cust_code (*reject_put)(store *s, const store_reject *r, store_outcome *out, int64_t *id,
                            struct err *e);
    cust_code (*audit_append)(store *s, const store_audit *a, int64_t *seq, struct err *e);
    /* Record a checkpoint of the audit tree as it stands in this
     * transaction, signed with key when not NULL (see io/sign.h for the
     * signed text). A checkpoint of an unchanged size is not repeated. */
    cust_code (*checkpoint)(store *s, const char *time, const struct sign_key *key, int64_t *tree_size,
                            char root_hex[65], struct err *e);
    /* Listings, in a stable order, for the CLI and verification. */
    cust_code (*records_list)(store *s, const char *source, const char *key, int history,
                              store_row_cb cb, void *ctx, struct err *e);
    cust_code (*quarantine_list)(store *s, const char *source, int64_t id, store_row_cb cb,
                                 void *ctx, struct err *e);
    cust_code (*audit_list)(store *s, store_row_cb cb, void *ctx, struct err *e);
    /* Audit entries with seq > after, oldest first, at most limit (0: all):
     * the ordered log of commits the outbox hands downstream. */
    cust_code (*audit_list_from)(store *s, int64_t after, int64_t limit, store_row_cb cb, void *ctx,
                                 struct err *e);
    cust_code (*checkpoints_list)(store *s, store_row_cb cb, void *ctx, struct err *e);
    /* The stored audit frontier as rows (level, hash), led by a row
     * (-1, frontier size): verify compares it with its own recomputation. */
    cust_code (*frontier_list)(store *s, store_row_cb cb, void *ctx, struct err *e);
    /* The backend's own consistency check of its files: what[0] == 0 when
     * sound, else the first problem found. */
    cust_code (*integrity)(store *s, char *what, size_t n, struct err *e);
    cust_code (*sources_list)(store *s, store_row_cb cb, void *ctx, struct err *e);
    /* One nested unit inside an open transaction, for group commit (the
     * daemon gives many cycles' transactions one COMMIT, one fsync):
     * STORE_SP_BEGIN marks, STORE_SP_RELEASE keeps the unit's work inside
     * the transaction (durable only at its commit), STORE_SP_ROLLBACK undoes
     * the work since the mark and ends the unit. One level deep. */
    cust_code (*savepoint)(store *s, int op, struct err *e);
    /* Webhooks. A delivery id is recorded once per source: *dup is set
     * when it was already there (the delivery changes nothing then). */
    cust_code (*webhook_seen)(store *s, const char *source, const char *id, const char *at, int *dup,
                              struct err *e);
    /* A mutation whose record has not been ingested yet, held durably;
     * applied (in arrival order) when a poll ingests the record, or moved
     * to quarantine when it expires. */
    cust_code (*webhook_hold)(store *s, const char *source, const char *key, const char *webhook_id,
                              const char *payload, const char *at, const char *expires_at, int64_t *seq,
                              struct err *e);
    /* Held mutations, oldest first: of (source, key) when key is not NULL,
     * else every one still held that expires before `before` (NULL: all
     * held). Rows: seq, source, key, webhook_id, payload, received_at,
     * expires_at. */
    cust_code (*webhook_holds)(store *s, const char *source, const char *key, const char *before, store_row_cb cb,
                               void *ctx, struct err *e);
    /* status "applied" or "expired". */
    cust_code (*webhook_settle)(store *s, int64_t seq, const char *status, const char *at, struct err *e);
    /* Leases, for many workers sharing one store (NULL in a backend one
     * process owns: SQLite's file lock already admits one writer).
     * lease_acquire takes source for owner for ttl_ms when it is free or
     * expired (or already owner's) and bumps the fencing epoch: *epoch is
     * the new epoch, 0 when another worker holds it (its name is then
     * copied to holder, "" when unknown). lease_break expires holder's
     * lease on source at once (a caller that knows holder is dead: see
     * engine/lease.c). lease_fence, inside the transaction about to commit, proves the
     * lease (owner, epoch) is still held and unexpired and extends it by
     * ttl_ms; CUST_EFENCED when it was lost (the caller rolls back: a worker
     * paused past its expiry cannot commit). lease_release frees it early. */
    cust_code (*lease_acquire)(store *s, const char *source, const char *owner, int64_t ttl_ms, int64_t *epoch,
                               char *holder, size_t nholder, struct err *e);
    cust_code (*lease_fence)(store *s, const char *source, const char *owner, int64_t epoch, int64_t ttl_ms,
                             struct err *e);
    cust_code (*lease_release)(store *s, const char *source, const char *owner, int64_t epoch, struct err *e);
    cust_code (*lease_break)(store *s, const char *source, const char *holder, struct err *e);
    /* A read-only consistent view (on 1) for readers that list several
     * tables, such as verify, while writers commit: every listing until
     * snapshot(0) sees the store as of one instant. Not inside a write
     * transaction. */
    cust_code (*snapshot)(store *s, int on, struct err *e);
    /* The secondary index: which record versions have which value for a
     * top-level field of their canonical record (the source's `index:`).
     * Derived data, not evidence: it is not audited row by row and a
     * backend may drop and rebuild it, but it must be exact, because
     * readers that trust it never look at the records it leaves out.
     *
     * index_put, inside the open transaction: record that version `version`
     * of (source, key) has the string `value` for `field`. A version may
     * have several values for one field (an array's elements) and several
     * fields. Putting the same (version, field, value) again changes nothing
     * (CUST_OK). Values are compared byte for byte (no collation, no case
     * folding). CUST_ESTORE when that version does not exist; rolled back
     * with the transaction like everything else. record_purge must remove
     * the purged version's terms in its transaction (emptied content leaves
     * nothing findable behind). Who calls it: every writer of a new version
     * (poll, webhook merge, quarantine replay, custody index rebuild), right
     * after record_put returned STORE_NEW or STORE_VERSION.
     *
     * index_lookup: the versions whose terms hold `value` for `field`, of
     * `source` (NULL: every source), as rows in the REC_ column order of
     * records_list (canonical included), ordered by source, key, version
     * (source and key in byte order, as records_list; PostgreSQL: COLLATE
     * "C").
     * history 0: only keys whose CURRENT (highest) version has that value,
     * and that version only: a key whose later version changed or dropped
     * the value is not listed under the old value. history 1: every version
     * that has the value (older ones included), each once. Reads see the
     * open transaction's writes when called inside one. The callback may
     * stop the listing (non-zero). NULL in a backend without an index:
     * callers then read every record (records_list) instead.
     *
     * Which fields of a source are indexed for EVERY stored version is
     * noted by engine/recindex.c through kv_put (key "index_complete"):
     * a backend needs nothing more than these two operations. */
    cust_code (*index_put)(store *s, const char *source, const char *key, int64_t version, const char *field,
                           const char *value, struct err *e);
    cust_code (*index_lookup)(store *s, const char *source, const char *field, const char *value, int history,
                              store_row_cb cb, void *ctx, struct err *e);
} store_ops;

enum { WHH_SEQ, WHH_SOURCE, WHH_KEY, WHH_ID, WHH_PAYLOAD, WHH_RECEIVED, WHH_EXPIRES, WHH_NCOLS };

enum { STORE_SP_BEGIN = 1, STORE_SP_RELEASE = 2, STORE_SP_ROLLBACK = 3 };

/* Every backend's handle starts with this. */
struct store {
    const store_ops *ops;
};

/* Column orders of the listings (documented contract of store_row). */
enum { REC_SOURCE, REC_KEY, REC_VERSION, REC_HASH, REC_CANONICAL, REC_RAW_HASH, REC_FETCHED_AT,
       REC_REQUEST_ID, REC_CYCLE, REC_CONFIG_HASH, REC_CONTRACT_HASH, REC_NCOLS };
enum { QUA_ID, QUA_SOURCE, QUA_RECON, QUA_RAW, QUA_ERRORS, QUA_FIRST_SEEN, QUA_LAST_SEEN,
       QUA_TIMES, QUA_STATUS, QUA_REQUEST_ID, QUA_CYCLE, QUA_CONTRACT_HASH, QUA_NCOLS };
enum { AUD_SEQ, AUD_TIME, AUD_ACTOR, AUD_ACTION, AUD_SOURCE, AUD_SUBJECT, AUD_DETAIL, AUD_CYCLE,
       AUD_LEAF, AUD_NCOLS };
enum { CKP_SIZE, CKP_ROOT, CKP_TIME, CKP_SIG, CKP_NCOLS };
enum { SRC_NAME, SRC_CURSOR, SRC_LAST_POLL, SRC_LAST_RESULT, SRC_UPDATED, SRC_NCOLS };

/* Open the store named by uri: "sqlite:PATH" or a bare path (SQLite).
 * Relative paths are resolved by the caller. Returns CUST_ESTORE with e
 * saying what failed; *out is NULL then. */
cust_code store_open(const char *uri, store **out, struct err *e) CUST_WUR;
/* STORE_OPEN_VERIFY: open even when the stored audit frontier is damaged
 * (verify recomputes it from the leaves); such a handle refuses to append. */
#define STORE_OPEN_VERIFY 0x1u
cust_code store_open_ex(const char *uri, unsigned flags, store **out, struct err *e) CUST_WUR;
void store_close(store *s); /* NULL is a no-op */

/* Thin dispatchers: see store_ops. */
static inline cust_code store_begin(store *s, struct err *e) { return s->ops->begin(s, e); }
static inline cust_code store_commit(store *s, struct err *e) { return s->ops->commit(s, e); }
static inline void store_rollback(store *s) { s->ops->rollback(s); }

/* The canonical bytes of an audit entry, the Merkle leaf's input: the
 * RFC 8785 form of {"action","actor","cycle","detail","seq","source",
 * "subject","time"} with detail embedded as JSON. detail must already be JCS. */
cust_code store_audit_entry_bytes(int64_t seq, const store_audit *a, buf *out, struct err *e) CUST_WUR;

extern const store_ops store_sqlite_ops;
extern const store_ops store_pg_ops; /* defined when built with libpq (CUSTODY_HAVE_PQ) */

#endif
