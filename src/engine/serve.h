/* serve.h - custody run's HTTP server (libmicrohttpd, driven by the
 * daemon's own loop: no threads). Routes:
 *   POST /hooks/<source>   a webhook: verified over the raw body before any
 *                          parsing (core/webhook.h), then applied in a task
 *                          through the one writer (engine/hook.h); the 2xx is
 *                          sent only after the effect is committed
 *   GET  /metrics          Prometheus text format
 *   GET  /healthz          the process is alive
 *   GET  /readyz           the store is open and the daemon is not stopping
 *   /, /quarantine, ...    the operator page (engine/ui.h)
 * Loopback by default; HTTPS with serve.tls_cert/tls_key. */
#ifndef CUSTODY_SERVE_H
#define CUSTODY_SERVE_H

#include <stdint.h>
#include "config.h"
#include "core/buf.h"
#include "io/store.h"
#include "ui.h"

struct sign_key;

/* Webhook outcomes, counted for /metrics. */
enum { SV_APPLIED, SV_UNCHANGED, SV_HELD, SV_DUPLICATE, SV_QUARANTINED, SV_REFUSED, SV_MALFORMED,
       SV_TOO_LARGE, SV_UNKNOWN, SV_FAILED, SV_NOUTCOMES };
extern const char *const serve_outcome_names[SV_NOUTCOMES];

/* What the daemon lends the server. */
typedef struct serve_host {
    void *ud;
    /* Run fn(arg) as a daemon task (it may write the store). 0 or -1. */
    int (*spawn)(void *ud, void (*fn)(void *), void *arg);
    const config *(*config)(void *ud);      /* the running configuration */
    store *st;
    const char *actor;
    const struct sign_key *signer;
    int (*ready)(void *ud);                 /* 1 ready, 0 stopping */
    void (*metrics)(void *ud, buf *out);    /* the daemon's own metrics, text format */
    /* The page's live view of sources; the arrays stay valid until the next call. */
    void (*live)(void *ud, const ui_source_live **out, size_t *n, const char **last_verify);
} serve_host;

typedef struct serve serve;

/* Listen on cfg->listen. *out NULL when cfg->listen is unset. */
cust_code serve_start(const serve_cfg *cfg, const serve_host *host, serve **out, struct err *e) CUST_WUR;
/* The port listened on (after "127.0.0.1:0" the one the kernel chose). */
int serve_port(const serve *s);
/* The descriptor to wait on for readiness (an epoll set), -1 none. */
int serve_fd(const serve *s);
/* Longest wait before serve_run is due anyway, ms; -1 none. */
int64_t serve_timeout_ms(serve *s);
/* Do what is ready: accept, read, answer. Never blocks. */
void serve_run(serve *s);
void serve_stop(serve *s); /* NULL is a no-op */

#endif
