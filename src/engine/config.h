/* config.h - custody's configuration: the structures the YAML file fills
 * and the one option table that parses it, prints it (`custody check`) and
 * generates docs/configuration.md. Secrets are held only as references
 * (environment variable or file name); their values are read at use. */
#ifndef CUSTODY_CONFIG_H
#define CUSTODY_CONFIG_H

#include <stddef.h>
#include <stdio.h>
#include "core/buf.h"
#include "core/contract.h"
#include "core/err.h"
#include "core/paginate.h"
#include "core/policy.h"
#include "io/auth.h"

typedef struct tls_cfg {
    int insecure;         /* no certificate verification: audited loudly */
    char *ca_file;        /* resolved against the config's directory */
    char *client_cert;
    char *client_key;
} tls_cfg;

typedef struct retry_cfg {
    long attempts;
    long base_ms;
    long max_ms;
    long max_wait_ms;
    char **on;            /* statuses as written */
    size_t non;
    int post;             /* POST is safe to repeat */
} retry_cfg;

typedef struct rate_cfg {
    double requests;      /* per `per`; 0: no client-side limit */
    long per_ms;
    long burst;           /* 0: = requests */
    char *pool;           /* share a named budget under `pools` */
} rate_cfg;

typedef struct breaker_ycfg {
    long failures;
    long cooldown_ms;
    long probes;
} breaker_ycfg;

typedef struct files_cfg {
    char *dir;            /* drop directory (relative to the config file) */
    char *pattern;        /* fnmatch pattern of the files to take */
    int format;           /* 0 csv, 1 jsonl */
    char *delimiter;      /* csv */
    int header;           /* csv: first row names the columns */
    char *done_dir;       /* ingested files move here (relative to dir) */
} files_cfg;

typedef struct incremental_cfg {
    char *param;          /* parameter (or body placeholder {since}) carrying the lower bound */
    char *field;          /* JSON path, within a raw record, of its change time */
    int format;           /* time_format: iso8601, epoch_s, epoch_ms */
    int inclusive;        /* the API's bound is >= (true) or > (false) */
    long lookback_ms;     /* re-ask this much before the watermark */
    long horizon_ms;      /* never advance the watermark past now minus this */
    char *initial;        /* the first poll's lower bound; unset: no bound (full history) */
    char *until;          /* an upper bound for backfills: `until_param` = this */
    char *until_param;
} incremental_cfg;

typedef struct retention_cfg {
    long years;           /* 0: keep forever */
    char *from;           /* "created" (the version's fetch time) or "field" */
    char *field;          /* from field: a date/datetime field of the record */
} retention_cfg;

typedef struct pool_cfg {
    char *name;
    double requests;      /* 0: no shared request budget (a concurrency pool only) */
    long per_ms;
    long burst;
    long max_concurrent;  /* custody run: cycles of this pool's sources at once; 0: only the global cap */
    int line;
} pool_cfg;

/* custody run: a named class of sources with an interval and a priority. */
typedef struct tier_cfg {
    char *name;
    long every_ms;
    long priority;        /* lower runs first when more sources are due than may run */
    int line;
} tier_cfg;

typedef struct run_cfg {
    long max_concurrent;  /* cycles at once, all sources */
    long startup_jitter_ms;
    long shutdown_grace_ms;
    long default_every_ms;
    char *log;            /* json or text */
    int adaptive;
    double backoff;
    long max_factor;
    long catch_up_ms;
    long verify_every_ms; /* 0: the daemon does not verify the audit log itself */
    long lease_ttl_ms;    /* shared store: a source's lease */
    char *worker_id;      /* shared store: owner name in leases; NULL: HOST:PID */
} run_cfg;

typedef struct alerts_cfg {
    double rejection_ratio;
    long stale_after_ms;  /* 0: three times the source's interval */
    long cursor_lag_ms;   /* 0: off */
    long stuck_cycles;
    char **command;       /* argv of a command given the alert as JSON on stdin */
    size_t ncommand;
    long command_timeout_ms;
    char *webhook;        /* URL the alert is POSTed to */
    long webhook_attempts;
} alerts_cfg;

/* Webhooks into a source (custody run's server): verified, then applied
 * as a new version of the record with the same key. */
typedef struct webhook_cfg {
    char *scheme;         /* "standard", "stripe", "github"; NULL: no webhooks */
    char **secret_env;    /* environment variables holding the secrets (several: key rotation) */
    size_t nsecret_env;
    long tolerance_ms;
    char *contract_name;  /* the payload's contract: its key names the record */
    const struct contract *contract;
    char contract_hash[65];
    long hold_for_ms;     /* a mutation waits this long for its record, then goes to quarantine */
    long max_body;
} webhook_cfg;

typedef struct serve_cfg {
    char *listen;         /* "127.0.0.1:8650", "[::1]:8650"; NULL: no server */
    char *tls_cert;       /* PEM; with tls_key: HTTPS */
    char *tls_key;
    char *token_env;      /* the operator token for the page's actions */
    char *hosts;          /* host names the page answers to besides localhost and IP addresses */
    long max_connections;
    int port;             /* derived: the port of listen, checked 0..65535 */
} serve_cfg;

/* outbox.nats: committed record versions handed to a NATS JetStream stream
 * by `custody publish` (see docs/outbox.md). stream NULL: no NATS outbox. */
typedef struct nats_cfg {
    char *url;            /* nats://host:port[,nats://...]; tls:// for TLS */
    char *stream;
    char *subject_prefix; /* messages go to <prefix>.<source> */
    long batch;           /* messages in flight, and per position commit */
    long ack_timeout_ms;
    long connect_timeout_ms;
    int create_stream;    /* add the stream (subjects <prefix>.>) when missing */
    long duplicate_window_ms;
    long retry_max_ms;    /* cap of the back-off between failed attempts */
    long attempts;        /* --once gives up after this many failed attempts in a row */
    char *token_env;      /* environment variable holding the server's auth token */
    char *tls_ca;         /* CA file for tls:// servers (relative to the config file) */
    int line;
} nats_cfg;

typedef struct outbox_cfg {
    nats_cfg nats;
} outbox_cfg;

typedef struct source_cfg {
    char *name;
    char *url;
    char *method;         /* GET or POST */
    char *body;           /* POST body (JSON text) */
    char **header_names;  /* extra request headers (not secrets) */
    char **header_values;
    size_t nheaders;
    char **fallbacks;     /* mirror URLs tried in order when the primary fails */
    size_t nfallbacks;
    char *proxy;
    tls_cfg tls;
    auth_cfg auth;
    long connect_timeout_ms;
    long total_timeout_ms;
    long low_speed_bytes;
    long low_speed_ms;
    long max_body_bytes;
    int conditional;      /* send If-None-Match / If-Modified-Since */
    retry_cfg retry;
    rate_cfg rate;
    breaker_ycfg breaker;
    retention_cfg retention;
    incremental_cfg incremental;
    files_cfg files;
    int snapshot;         /* the full list every poll: removals become tombstones */
    char *on_expired;     /* cursor refused (410, 400, 422): "fail" or "restart" */
    retry_policy retry_policy;   /* resolved from retry */
    breaker_cfg breaker_policy;  /* resolved from breaker */
    const pool_cfg *pool;        /* resolved rate.pool, NULL: own bucket */
    /* schedule (custody run) */
    long every_ms;        /* 0: unset */
    char *daily;          /* "06:00 America/New_York" */
    char *cron;           /* five fields */
    char *timezone;       /* the zone cron fields are read in */
    char *tier;
    long jitter_ms;       /* each fire is delayed by a fixed per-source amount below this */
    char *pool_name;      /* the tenant pool for concurrency; default rate_limit.pool */
    const pool_cfg *tenant;      /* resolved pool_name, NULL: none */
    long priority;        /* from the tier; 5 without one */
    webhook_cfg webhook;
    char *records;        /* JSON path of the records array */
    char *pagination_type;
    paginate_cfg pagination;
    char *contract_name;
    const contract *contract; /* resolved; points into config.contracts */
    char contract_hash[65];   /* SHA-256 of the contract's effective form: which rules judged a record */
    long commit_pages;    /* pages per transaction (group commit) */
    long max_pages;       /* per cycle; 0 = unbounded */
    char **index;         /* top-level record fields kept in the store's secondary index */
    size_t nindex;
    int line;
} source_cfg;

typedef struct config {
    char *path;           /* file the config came from ("(embedded)" for none) */
    char *dir;            /* its directory: relative paths resolve from here */
    char *store;          /* "sqlite:custody.db" */
    char *actor;          /* default actor of polls */
    source_cfg *sources;
    size_t nsources;
    contract *contracts;
    size_t ncontracts;
    pool_cfg *pools;
    size_t npools;
    char *signing_key;    /* audit: Ed25519 private key (PEM) signing checkpoints */
    char *verify_key;     /* audit: public key verify checks signatures with */
    tier_cfg *tiers;
    size_t ntiers;
    run_cfg run;
    alerts_cfg alerts;
    serve_cfg serve;
    outbox_cfg outbox;
    char hash[65];        /* SHA-256 of the file's bytes */
} config;

/* Load and validate a config file. On failure returns CUST_ECONFIG (or
 * CUST_EIO when unreadable) with e reading "FILE:LINE: key: what is wrong"
 * and *out NULL. ${VAR} and ${VAR:-default} in values are expanded from the
 * environment, except in secret references. */
cust_code config_load(const char *path, config **out, struct err *e) CUST_WUR;
/* Same from a string (the embedded demo config, tests); name is used in messages. */
cust_code config_load_string(const char *text, size_t len, const char *name, config **out,
                             struct err *e) CUST_WUR;
void config_free(config *c); /* NULL is a no-op */

/* Find a source; NULL if absent. */
source_cfg *config_source(config *c, const char *name);

/* Print the effective configuration (defaults filled in) as YAML. Secret
 * references are printed, secret values never. */
void config_print(const config *c, FILE *out);
/* Print the configuration reference (Markdown) generated from the table. */
void config_reference(FILE *out);
/* The same reference as man(7) text (.SS per table, .TP per option), for custody(1). */
void config_reference_roff(FILE *out);

/* Resolve the store location to a path (relative to the config's dir).
 * Returns a malloc'd string. */
/* 1 when the store is shared by many workers (PostgreSQL): no file lock,
 * sources are leased. */
int config_store_shared(const config *c);
/* Where `custody run` keeps its state file (malloc'd): beside a SQLite
 * store, beside the config file for a shared store. */
char *config_state_path(const config *c);
char *config_store_uri(const config *c);

/* Read a source's secret token into out (bounded, trailing newline
 * stripped). CUST_ECONFIG with a message naming the reference (never the
 * value) when unset/unreadable. */
cust_code config_read_secret(const source_cfg *s, buf *out, struct err *e) CUST_WUR;

#endif
