/* alert.h - the triage rules of the scenarios, as alerts raised once per
 * episode: a condition that starts holding raises an alert (audited as
 * alert.raised, delivered to the incident channel), one that stops holding
 * clears it (alert.cleared, delivered too); while it holds nothing more is
 * said. The open episode lives in the store (source_kv "alert.<kind>"),
 * so de-duplication survives restarts and several daemons agree.
 *
 * alert_eval is pure; alert_update writes the episode changes through the
 * store inside the caller's transaction; alert_deliver runs the command
 * and/or POSTs the webhook. */
#ifndef CUSTODY_ALERT_H
#define CUSTODY_ALERT_H

#include <stdint.h>
#include "config.h"
#include "io/http.h"
#include "io/store.h"

typedef enum {
    ALERT_REJECTIONS,   /* a cycle's quarantined share above alerts.rejection_ratio */
    ALERT_CURSOR_DRIFT, /* new data but a cursor that does not move, or a watermark lagging */
    ALERT_BREAKER,      /* the circuit breaker is open */
    ALERT_STALE,        /* no successful cycle within the limit */
    ALERT_VERIFY,       /* audit verification failed (source "") */
    ALERT_KINDS
} alert_kind;

const char *alert_kind_name(alert_kind k); /* "rejection_ratio", "cursor_drift", ... */

/* What is known of a source after a cycle, for alert_eval. */
typedef struct alert_inputs {
    int64_t now_ms;
    int have_cycle;        /* the fields below describe a cycle that just ended */
    int cycle_ok;
    long fetched, quarantined, fresh; /* fresh: new records + new versions */
    int breaker_open;
    int64_t last_ok_ms;    /* last successful cycle; -1 never */
    int64_t since_ms;      /* watching since (daemon start); staleness of a never-ok source counts from here */
    int64_t interval_ms;   /* the source's nominal interval */
    int64_t watermark_ms;  /* incremental: the stored watermark; -1 none */
    long stuck;            /* successful cycles in a row with fresh records and an unmoved cursor */
    int verify_failed;     /* ALERT_VERIFY only: 1 failed, 0 passed, -1 unknown */
} alert_inputs;

/* Which conditions hold: active[k] 1 holds, 0 does not, -1 unknown (keep
 * the episode as it is). detail[k]: a sentence saying what and how much. */
void alert_eval(const alerts_cfg *cfg, const alert_inputs *in, int active[ALERT_KINDS],
                char detail[ALERT_KINDS][256]);

/* One change of an episode, to deliver after the transaction commits. */
typedef struct alert_event {
    alert_kind kind;
    int raised;            /* 1 raised, 0 cleared */
    char source[128];
    char since[32];        /* when the episode began */
    char at[32];
    char cycle[33];
    char detail[256];
} alert_event;

/* Compare active[] with the stored episodes of source (NULL: the
 * process-wide ALERT_VERIFY) and write the changes: the episode state and
 * an alert.raised / alert.cleared audit entry each. Appends to ev (cap
 * ALERT_KINDS entries) and sets *nev. Must run inside a transaction. */
cust_code alert_update(store *st, const char *source, const char *actor, const char *cycle, const char *now,
                       const int active[ALERT_KINDS], char detail[ALERT_KINDS][256], alert_event *ev,
                       int *nev, struct err *e) CUST_WUR;

/* How many episodes alert_update would open or close (reads only): a
 * caller skips the transaction when there are none. -1 on a store error. */
int alert_changes(store *st, const char *source, const int active[ALERT_KINDS]);

/* The alert as the JSON object delivered (keys sorted). */
cust_code alert_json(const alert_event *a, buf *out) CUST_WUR;

/* How a delivery went. */
typedef struct alert_delivery {
    int attempted;         /* a channel is configured */
    int ok;
    int attempts;
    char what[512];        /* the failure, or "" */
} alert_delivery;

/* Sleep and clock for deliveries (the daemon suspends the task). */
typedef struct alert_io {
    http_client *http;
    void (*sleep_ms)(void *ud, int64_t ms);
    int64_t (*now_ms)(void *ud);
    void *ud;
} alert_io;

/* Run alerts.command (JSON on stdin, killed after command_timeout) and POST
 * alerts.webhook (retried with back-off up to webhook_attempts); ok when
 * every configured channel took it. */
void alert_deliver(const alerts_cfg *cfg, const alert_event *a, const alert_io *io, alert_delivery *out);

#endif
