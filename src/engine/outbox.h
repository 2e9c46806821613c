/* outbox.h - the transactional outbox: every committed record version,
 * taken in audit-log order from a position kept in the store, handed to a
 * sink (NATS JetStream: io/nats_out.h) and the position advanced, with an
 * outbox.published audit entry, only past what the sink acknowledged.
 * At least once from custody; the sink drops duplicates by message id.
 * No libnats here: the sink is a table of callbacks (tests use a fake). */
#ifndef CUSTODY_OUTBOX_H
#define CUSTODY_OUTBOX_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include "core/buf.h"
#include "core/err.h"
#include "io/store.h"

/* One message: what the outbox fills in, and what the sink answers. */
typedef struct outbox_msg {
    int64_t seq;      /* audit seq of the record's record.new/.version/.removed entry */
    buf subject;      /* <prefix>.<source> */
    buf msg_id;       /* the dedupe id: see outbox_msg_id */
    buf payload;      /* the JCS envelope: see outbox_envelope */
    char seq_text[24];
    /* set by the sink: */
    int acked;        /* 0 not acknowledged, OUTBOX_STORED, OUTBOX_DUPLICATE */
    char why[256];    /* when not acknowledged, the sink's words, if any */
} outbox_msg;

enum { OUTBOX_STORED = 1, OUTBOX_DUPLICATE = 2 };

/* A sink. connect is called before every batch and returns at once when
 * already connected: CUST_EHTTP for a transient failure (retried with
 * back-off), anything else is final (CUST_ECONFIG: the sink is set up
 * wrong). publish sends m[0..n) in order and sets each one's acked; it
 * returns CUST_OK only when every message was acknowledged, CUST_ELIMIT
 * when a message can never be sent (too large; final), else CUST_EHTTP. */
typedef struct outbox_sink {
    const char *kind;   /* "nats": the position is kept under kv "outbox.<kind>.<target>" */
    const char *target; /* the stream */
    void *ctx;
    cust_code (*connect)(void *ctx, struct err *e);
    cust_code (*publish)(void *ctx, outbox_msg *m, size_t n, struct err *e);
} outbox_sink;

/* Events for the log: level "info"/"warn", event "outbox.published",
 * "outbox.retry", ...; fields are JSON members without braces. */
typedef void (*outbox_log_fn)(void *ud, const char *level, const char *event, const char *fields,
                              const char *msg);

typedef struct outbox_opts {
    const char *subject_prefix;
    size_t batch;                 /* messages per sink call and per position commit */
    const char *actor;            /* of the outbox.published audit entries */
    void (*now)(char out[32]);    /* UTC RFC 3339 with milliseconds */
    /* run loop */
    int follow;                   /* keep tailing the log */
    int64_t for_ms;               /* stop after this long; 0: no limit */
    int64_t idle_ms;              /* follow: poll the store this often when caught up */
    long attempts;                /* once: give up after this many failed attempts in a row */
    int64_t retry_max_ms;         /* back-off cap (full jitter, doubling from 250 ms) */
    volatile sig_atomic_t *stop;  /* set by a signal handler: finish the batch and return */
    outbox_log_fn log;
    void *log_ud;
} outbox_opts;

typedef struct outbox_report {
    int64_t start;       /* the position when the run began */
    int64_t position;    /* the position now */
    long published;      /* messages acknowledged as stored */
    long duplicates;     /* acknowledged as already there (sent before, e.g. before a crash) */
    long batches;        /* position commits */
    long failures;       /* failed attempts (retried or final) */
} outbox_report;

typedef struct outbox outbox;

/* A driver over st and sink (both borrowed; they outlive it). NULL on
 * ENOMEM. */
outbox *outbox_new(store *st, const outbox_sink *sink, const outbox_opts *o);
void outbox_free(outbox *ob); /* NULL is a no-op */

/* The stored position (0: nothing handed over yet). */
cust_code outbox_position(store *st, const outbox_sink *sink, int64_t *pos, struct err *e) CUST_WUR;

/* One batch: read the log after the position, send up to batch record
 * versions, and advance the position (one transaction, with its audit
 * entry) over the acknowledged prefix. *more is set when the log holds
 * more after this batch. On failure the position is where the
 * acknowledgements allow (never past an unacknowledged message) and e says
 * what failed; CUST_EHTTP is worth retrying. */
cust_code outbox_step(outbox *ob, outbox_report *r, int *more, struct err *e) CUST_WUR;

/* Steps until caught up (once) or until stopped / for_ms elapsed (follow),
 * retrying transient failures with back-off. Returns the last failure when
 * it gave up, CUST_OK otherwise; r is filled in either case. */
cust_code outbox_run(outbox *ob, outbox_report *r, struct err *e) CUST_WUR;

/* Pure parts (exposed for tests). */
/* The dedupe id: "<source>:<key>:<version>" with the key in its stored
 * RFC 8785 form. Unambiguous: a source name has no ':' and the version is
 * the digits after the last ':'. */
cust_code outbox_msg_id(buf *out, const char *source, const char *key, int64_t version) CUST_WUR;
/* The payload, RFC 8785 canonical JSON: {action, audit_seq, content_hash,
 * fetched_at, key, record, source, version}, with "purged":true and no
 * record for a purged version and "removed":true (record null) for a
 * tombstone. rec is a records_list row (REC_* columns). */
cust_code outbox_envelope(buf *out, const char *action, int64_t seq, const store_row *rec,
                          struct err *e) CUST_WUR;

#endif
