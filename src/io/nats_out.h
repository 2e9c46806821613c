/* nats_out.h - the NATS JetStream sink (libnats): one connection that
 * libnats keeps reconnecting, the stream checked (or created), and batches
 * published asynchronously with every PubAck collected. It knows nothing
 * of the store or the envelope: engine/outbox.c decides what to send. */
#ifndef CUSTODY_NATS_OUT_H
#define CUSTODY_NATS_OUT_H

#include <stdint.h>
#include "core/err.h"
#include "engine/outbox.h"

typedef struct nats_out nats_out;

typedef struct nats_out_opts {
    const char *url;        /* "nats://h:p[,nats://h2:p2]" or tls:// */
    const char *stream;
    const char *subjects;   /* what a created stream binds: "<prefix>.>" */
    const char *token;      /* authorization token, NULL: none (never printed) */
    const char *tls_ca;     /* CA file, NULL: the system's */
    int create_stream;
    int64_t duplicate_window_ms;
    int64_t ack_timeout_ms;
    int64_t connect_timeout_ms;
    /* told about the stream found at connect (its duplicate window is
     * shorter than configured, ...); NULL: not told */
    void (*warn)(void *ud, const char *msg);
    void *warn_ud;
} nats_out_opts;

/* Copies o; connects only when the outbox first asks (outbox_sink.connect).
 * NULL on ENOMEM. */
nats_out *nats_out_new(const nats_out_opts *o);
/* Closes the connection; NULL is a no-op. */
void nats_out_free(nats_out *n);
/* The sink the outbox drives; valid while n lives. */
outbox_sink nats_out_sink(nats_out *n);
/* Release libnats' global state at exit (for valgrind-clean runs). */
void nats_out_shutdown(void);

#endif
