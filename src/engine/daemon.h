/* daemon.h - `custody run`: every source on its schedule, in one process.
 *
 * One thread. Each poll cycle runs as a coroutine (engine/coro.h) that
 * suspends where it would wait: HTTP transfers go through one libcurl
 * multi handle, back-offs and rate-limit waits become timers. Commits go
 * through one writer: a cycle that wants to begin a transaction while
 * another holds the store waits its turn (FIFO), and a cycle holding a
 * group open hands the store over at its next page boundary when someone
 * waits, so no one waits longer than one page fetch.
 *
 * Scheduling: per source every / daily / cron (core/schedule.h), tiers
 * (priority: among due sources the lower priority starts first), a fixed
 * per-source jitter, start-up jitter, adaptive intervals; a global cap and
 * per-pool caps on concurrent cycles.
 *
 * Signals: SIGTERM/SIGINT stop starting cycles; running cycles end at their
 * next page boundary (committed); transfers still running after
 * run.shutdown_grace are aborted (their page is not applied); a second
 * signal aborts at once. SIGHUP reloads the configuration (audited with
 * both hashes; a bad file is logged and audited, the old one stays). */
#ifndef CUSTODY_DAEMON_H
#define CUSTODY_DAEMON_H

#include <stdint.h>
#include "config.h"
#include "io/store.h"

struct sign_key;

typedef struct daemon_opts {
    const char *config_path;      /* reloaded on SIGHUP */
    const char *actor;
    const struct sign_key *signer;
    int64_t run_for_ms;           /* stop by itself after this long (tests, benchmarks); 0: until a signal */
    const char *self_exe;         /* this binary, for the audit verify child */
    const char *state_path;       /* the scheduler's view, rewritten atomically; NULL: none */
} daemon_opts;

/* Run until stopped. Takes ownership of cfg (it may be replaced on reload)
 * and uses st (the caller opened it and holds the store lock). Returns
 * CUST_OK after a clean stop, else the error that ended it (e says). */
cust_code daemon_run(config *cfg, store *st, const daemon_opts *o, struct err *e) CUST_WUR;

/* When src is next due by its schedule alone (no adaptation, no jitter),
 * given its last poll (-1: never) and now: what `custody status` shows
 * when no daemon is running. -1 when the schedule does not parse or never
 * fires (custody check says why). */
int64_t daemon_next_due(const config *cfg, const source_cfg *src, int64_t last_poll_ms, int64_t now_ms);

#endif
