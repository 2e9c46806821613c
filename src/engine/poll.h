/* poll.h - one poll cycle of one source: fetch pages, apply the contract,
 * and commit records, rejections, cursor and audit entries together. */
#ifndef CUSTODY_POLL_H
#define CUSTODY_POLL_H

#include "config.h"
#include "io/http.h"
#include "io/store.h"

typedef struct poll_summary {
    char source[128];
    char cycle[33];
    long pages;
    long fetched;
    long stored_new;     /* first version of a key */
    long new_versions;   /* changed records */
    long duplicates;     /* unchanged, counted */
    long quarantined;    /* rejected (first sighting + seen again) */
    long quarantine_new; /* of which first sighting */
    long removed;        /* snapshot: keys gone upstream, tombstoned */
    long hooks_applied;  /* held webhooks applied to records this cycle brought */
    int snapshot_unchanged; /* snapshot: the whole set is as last time */
    double seconds;
    int not_modified;    /* the upstream answered 304: nothing changed */
    int more;            /* stopped before the end (max_pages, a stop request): pages wait */
    int interrupted;     /* a stop request ended the cycle at a page boundary */
    int breaker_open;    /* the source's circuit breaker is open after this cycle */
    int leased_elsewhere; /* shared store: another worker holds the source's lease; not polled */
    cust_code result;
    char error[1024];    /* when result != CUST_OK */
} poll_summary;

/* The clock the engine reads; tests may inject a fixed one. Writes a UTC
 * RFC 3339 time with milliseconds ("2026-11-24T10:00:00.123Z"). */
typedef void (*poll_clock)(char out[32]);
/* A fresh correlation id (32 hex digits) for a cycle or a webhook delivery. */
void poll_new_cycle_id(char out[33]);
void poll_clock_real(char out[32]);

struct rate_pools;
struct fetch_clock;

/* Progress of a cycle, after each committed or applied page. total_records
 * / total_pages: what the upstream says there is (offset `total`, page
 * `total`), -1 when unknown. */
typedef void (*poll_progress_fn)(void *ud, const poll_summary *sum, long long total_records,
                                 long long total_pages);

typedef struct poll_opts {
    const char *actor;
    poll_clock clock;     /* NULL: real time */
    struct rate_pools *pools;               /* shared budgets (rate_limit.pool); NULL: none */
    const struct fetch_clock *fetch_clock;  /* NULL: real time and sleep */
    const struct sign_key *signer;          /* signs the cycle's checkpoint; NULL: unsigned */
    /* A stop request (SIGTERM): when *stop is set the cycle ends at the next
     * page boundary, committing what it has, with sum->interrupted. */
    const volatile int *stop;
    /* Another writer waits for the store (the daemon): when this returns
     * non-zero the open group is committed at the page boundary instead of
     * being held across the next fetch. NULL: groups run to commit_pages. */
    int (*tx_wanted)(void *ud);
    void *tx_ud;
    poll_progress_fn progress;              /* NULL: none */
    void *progress_ud;
} poll_opts;

/* Run one cycle. Complete pages are committed as they go (commit_pages per
 * transaction); on failure the open transaction is rolled back, so the
 * cursor never passes uncommitted data, and a poll.end entry records the
 * failure. sum is always filled. Returns the failure code (also in
 * sum->result): CUST_EHTTP/CUST_EUPSTREAM/CUST_EJSON/CUST_ELIMIT for
 * upstream trouble, CUST_ECONFIG for a missing secret, CUST_ESTORE. */
cust_code poll_source(const config *cfg, const source_cfg *src, store *st, http_client *http,
                      const poll_opts *o, poll_summary *sum, struct err *e) CUST_WUR;

#endif
