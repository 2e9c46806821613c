/* config.c - YAML configuration through one option table. The tables below
 * are the single description of every option: they parse the file, fill
 * defaults, print the effective config and generate the reference docs.
 * Semantic checks that span options live in check_* functions. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <yaml.h>

#include "core/jcs.h"
#include "core/json.h"
#include "core/jsonschema.h"
#include "core/schedule.h"
#include "core/timefmt.h"
#include "io/tzload.h"

typedef enum {
    O_STR,      /* char * */
    O_REF,      /* char *: the name of a secret's holder, never its value */
    O_PATH,     /* char *: JSON path, checked */
    O_ENUM,     /* char *: one of choices */
    O_ENUMI,    /* int: index into choices */
    O_FLAGS,    /* unsigned: bit i set for choices[i]; scalar or list */
    O_DURATION, /* long milliseconds: "250ms", "10s", "5m", "1h", "1d" */
    O_BYTES,    /* long bytes: "512", "64KiB", "64MiB", "1GiB" */
    O_INT,      /* long */
    O_SIZE,     /* size_t */
    O_BOOL,     /* int */
    O_NUM,      /* double */
    O_STRLIST,  /* char ** + size_t count at n_off */
    O_STRMAP,   /* char ** keys at off, char ** values at aux_off, size_t count at n_off */
    O_TABLE,    /* embedded struct described by sub */
    O_LIST,     /* array of sub structs at off, size_t count at n_off */
    O_MAP       /* mapping name -> sub struct; array at off, count at n_off */
} otype;

#define F_REQ 0x1u    /* must be given */
#define F_HIDDEN 0x2u /* parsed but not printed (derived) */

struct otab;
struct opt {
    const char *name;
    otype type;
    size_t off;
    const char *def;          /* default, written as in YAML */
    unsigned flags;
    const struct otab *sub;
    const char *const *choices;
    size_t n_off;
    size_t aux_off;           /* O_STRMAP values; presence marker otherwise */
    unsigned aux_bit;         /* when non-zero: *(unsigned *)(base + aux_off) |= aux_bit */
    const char *help;
};

struct otab {
    const char *name;         /* for docs: "source", "contract field" */
    size_t size;
    const struct opt *opts;
    size_t nopts;
    ptrdiff_t name_off;       /* O_MAP: where the mapping key goes, -1 none */
    ptrdiff_t line_off;       /* int line of the node, -1 none */
    const char *help;
};

#define N(a) (sizeof(a) / sizeof *(a))

static const char *const auth_types[] = {"none", "bearer", "basic", "api_key", "header", "oauth2", NULL};
static const char *const methods[] = {"GET", "POST", NULL};
static const char *const field_types[] = {"string", "number", "integer", "boolean", "datetime", "enum",
                                          "decimal", "date",   "email",   "url",     "uuid",     "array",
                                          "object", NULL};
static const char *const normalizers[] = {"trim", "lower", "upper", "utc", "collapse", "nfc", NULL};
static const char *const pager_types[] = {"none", "cursor", "next_url", "link", "offset", "page", "last_id", NULL};

static const struct opt auth_opts[] = {
    {"type", O_ENUM, offsetof(auth_cfg, type), "none", 0, NULL, auth_types, 0, 0, 0,
     "Scheme: none; bearer (Authorization: Bearer <secret>); basic (username + the secret as "
     "password); api_key (the secret in header `header`, default X-API-Key, or query parameter "
     "`param`); header (the secret as the value of header `header`); oauth2 (client credentials "
     "at token_url with client_id and the secret; the token is cached, renewed refresh_before "
     "its expiry and once on 401)."},
    {"token_env", O_REF, offsetof(auth_cfg, token_env), NULL, 0, NULL, NULL, 0, 0, 0,
     "Name of the environment variable holding the secret (token, password, API key or client "
     "secret). The value is never printed, logged or stored."},
    {"token_file", O_REF, offsetof(auth_cfg, token_file), NULL, 0, NULL, NULL, 0, 0, 0,
     "Path of a file holding the secret (relative to the config file; should be mode 0600)."},
    {"username", O_STR, offsetof(auth_cfg, username), NULL, 0, NULL, NULL, 0, 0, 0,
     "basic: the user name."},
    {"header", O_STR, offsetof(auth_cfg, header), NULL, 0, NULL, NULL, 0, 0, 0,
     "api_key / header: name of the header that carries the secret."},
    {"param", O_STR, offsetof(auth_cfg, param), NULL, 0, NULL, NULL, 0, 0, 0,
     "api_key: query parameter that carries the secret (redacted in the audit log)."},
    {"token_url", O_STR, offsetof(auth_cfg, token_url), NULL, 0, NULL, NULL, 0, 0, 0,
     "oauth2: the token endpoint."},
    {"client_id", O_STR, offsetof(auth_cfg, client_id), NULL, 0, NULL, NULL, 0, 0, 0,
     "oauth2: the client id (the client secret is the secret)."},
    {"scope", O_STR, offsetof(auth_cfg, scope), NULL, 0, NULL, NULL, 0, 0, 0,
     "oauth2: scope to request, optional."},
    {"refresh_before", O_DURATION, offsetof(auth_cfg, refresh_before_ms), "60s", 0, NULL, NULL, 0, 0, 0,
     "oauth2: fetch a new token this long before the current one expires."},
};
static const struct otab auth_tab = {"auth", sizeof(auth_cfg), auth_opts, N(auth_opts), -1,
                                     offsetof(auth_cfg, line), "How requests authenticate."};

static const struct opt tls_opts[] = {
    {"insecure", O_BOOL, offsetof(tls_cfg, insecure), "false", 0, NULL, NULL, 0, 0, 0,
     "Skip certificate verification. For a test bench only: every poll warns and audits it."},
    {"ca_file", O_STR, offsetof(tls_cfg, ca_file), NULL, 0, NULL, NULL, 0, 0, 0,
     "PEM CA bundle to verify the server with, instead of the system's (relative to the config file)."},
    {"client_cert", O_STR, offsetof(tls_cfg, client_cert), NULL, 0, NULL, NULL, 0, 0, 0,
     "PEM client certificate for mutual TLS."},
    {"client_key", O_STR, offsetof(tls_cfg, client_key), NULL, 0, NULL, NULL, 0, 0, 0,
     "PEM private key of client_cert (keep it mode 0600)."},
};
static const struct otab tls_tab = {"tls", sizeof(tls_cfg), tls_opts, N(tls_opts), -1, -1,
                                    "TLS settings (verification is always on unless insecure)."};

static const struct opt retry_opts[] = {
    {"attempts", O_INT, offsetof(retry_cfg, attempts), "5", 0, NULL, NULL, 0, 0, 0,
     "Tries per request, the first included; 1: no retries."},
    {"base", O_DURATION, offsetof(retry_cfg, base_ms), "1s", 0, NULL, NULL, 0, 0, 0,
     "Backoff: the n-th retry waits a random time in [0, min(max, base * 2^(n-1))] (full jitter)."},
    {"max", O_DURATION, offsetof(retry_cfg, max_ms), "60s", 0, NULL, NULL, 0, 0, 0,
     "Longest backoff between two tries."},
    {"max_wait", O_DURATION, offsetof(retry_cfg, max_wait_ms), "5m", 0, NULL, NULL, 0, 0, 0,
     "Longest wait custody accepts from Retry-After or a rate-limit reset; a longer one ends the "
     "cycle (the cursor stays) instead of sleeping."},
    {"on", O_STRLIST, offsetof(retry_cfg, on), NULL, 0, NULL, NULL, offsetof(retry_cfg, non), 0, 0,
     "HTTP statuses to retry (default 408, 425, 429, 500, 502, 503, 504). Network errors and "
     "timeouts are always retried; other 4xx never."},
    {"post", O_BOOL, offsetof(retry_cfg, post), "false", 0, NULL, NULL, 0, 0, 0,
     "Retry POST requests too (only for search-style POSTs that change nothing upstream)."},
};
static const struct otab retry_tab = {"retry", sizeof(retry_cfg), retry_opts, N(retry_opts), -1, -1,
                                      "Retries of one request."};

static const struct opt rate_opts[] = {
    {"requests", O_NUM, offsetof(rate_cfg, requests), "0", 0, NULL, NULL, 0, 0, 0,
     "Requests allowed per `per` (a token bucket); 0: no client-side limit."},
    {"per", O_DURATION, offsetof(rate_cfg, per_ms), "1s", 0, NULL, NULL, 0, 0, 0,
     "The window of `requests`."},
    {"burst", O_INT, offsetof(rate_cfg, burst), "0", 0, NULL, NULL, 0, 0, 0,
     "Bucket capacity; 0: the same as requests (at least 1)."},
    {"pool", O_STR, offsetof(rate_cfg, pool), NULL, 0, NULL, NULL, 0, 0, 0,
     "Name of a budget under `pools` shared with other sources (one vendor account); replaces "
     "requests/per/burst."},
};
static const struct otab rate_tab = {"rate_limit", sizeof(rate_cfg), rate_opts, N(rate_opts), -1, -1,
                                     "Client-side request rate."};

static const struct opt breaker_opts[] = {
    {"failures", O_INT, offsetof(breaker_ycfg, failures), "5", 0, NULL, NULL, 0, 0, 0,
     "Consecutive failed cycles (after retries) that open the breaker; 0: no breaker."},
    {"cooldown", O_DURATION, offsetof(breaker_ycfg, cooldown_ms), "5m", 0, NULL, NULL, 0, 0, 0,
     "How long an open breaker skips the source before a probe cycle."},
    {"probes", O_INT, offsetof(breaker_ycfg, probes), "1", 0, NULL, NULL, 0, 0, 0,
     "Successful half-open cycles that close it again."},
};
static const struct otab breaker_tab = {"breaker", sizeof(breaker_ycfg), breaker_opts, N(breaker_opts),
                                        -1, -1, "Circuit breaker; its state is kept in the store."};

static const char *const file_formats[] = {"csv", "jsonl", NULL};
static const struct opt files_opts[] = {
    {"dir", O_STR, offsetof(files_cfg, dir), NULL, 0, NULL, NULL, 0, 0, 0,
     "Drop directory suppliers put files into (relative to the config file)."},
    {"pattern", O_STR, offsetof(files_cfg, pattern), "*", 0, NULL, NULL, 0, 0, 0,
     "Which files to take (shell pattern, e.g. *.csv); dot files and partial uploads ending in .tmp "
     "or .part are never taken."},
    {"format", O_ENUMI, offsetof(files_cfg, format), "csv", 0, NULL, file_formats, 0, 0, 0,
     "csv (RFC 4180; every value a string: give the contract's fields `from` column names) or jsonl "
     "(one JSON object per line)."},
    {"delimiter", O_STR, offsetof(files_cfg, delimiter), ",", 0, NULL, NULL, 0, 0, 0,
     "csv: the field separator: one ASCII character (\",\", \";\", \"\\t\")."},
    {"header", O_BOOL, offsetof(files_cfg, header), "true", 0, NULL, NULL, 0, 0, 0,
     "csv: the first row names the columns; false: columns are named \"1\", \"2\", ..."},
    {"done_dir", O_STR, offsetof(files_cfg, done_dir), "done", 0, NULL, NULL, 0, 0, 0,
     "Where ingested files move, relative to dir. A file is ingested once, by content hash: the "
     "same bytes dropped again are only moved."},
};
static const struct otab files_tab = {"files", sizeof(files_cfg), files_opts, N(files_opts), -1, -1,
                                      "A file source: CSV or JSONL files dropped into a directory."};

static const char *const time_formats[] = {"iso8601", "epoch_s", "epoch_ms", NULL};
static const char *const on_expired_choices[] = {"fail", "restart", NULL};
static const struct opt incremental_opts[] = {
    {"param", O_STR, offsetof(incremental_cfg, param), NULL, 0, NULL, NULL, 0, 0, 0,
     "Query parameter for the lower bound (e.g. updated_after); with pagination.in: body, the "
     "body template's {since} placeholder instead."},
    {"field", O_PATH, offsetof(incremental_cfg, field), NULL, 0, NULL, NULL, 0, 0, 0,
     "JSON path, within a record, of its change time; the highest seen becomes the next bound."},
    {"format", O_ENUMI, offsetof(incremental_cfg, format), "iso8601", 0, NULL, time_formats, 0, 0, 0,
     "How the field and the bound are written: iso8601 (with a zone), epoch_s or epoch_ms."},
    {"inclusive", O_BOOL, offsetof(incremental_cfg, inclusive), "true", 0, NULL, NULL, 0, 0, 0,
     "The API's bound is >= (true: records at the boundary come again and are deduplicated by key "
     "and content hash, none lost) or > (false: custody sends the watermark minus 1 ms so ties at "
     "the boundary are not lost)."},
    {"lookback", O_DURATION, offsetof(incremental_cfg, lookback_ms), "0s", 0, NULL, NULL, 0, 0, 0,
     "Ask again for this much before the watermark (late-arriving writes upstream)."},
    {"horizon", O_DURATION, offsetof(incremental_cfg, horizon_ms), "0s", 0, NULL, NULL, 0, 0, 0,
     "The API hides the latest changes for this long: the watermark never passes now minus this."},
    {"initial", O_STR, offsetof(incremental_cfg, initial), NULL, 0, NULL, NULL, 0, 0, 0,
     "Lower bound of the very first poll (in `format`); unset: the full history."},
    {"until", O_STR, offsetof(incremental_cfg, until), NULL, 0, NULL, NULL, 0, 0, 0,
     "Upper bound for a backfill (in `format`), sent as until_param."},
    {"until_param", O_STR, offsetof(incremental_cfg, until_param), NULL, 0, NULL, NULL, 0, 0, 0,
     "Query parameter for `until`."},
};
static const struct otab incremental_tab = {"incremental", sizeof(incremental_cfg), incremental_opts,
                                            N(incremental_opts), -1, -1,
                                            "Ask only for what changed since the last poll."};

static const char *const retention_from[] = {"created", "field", NULL};
static const struct opt retention_opts[] = {
    {"years", O_INT, offsetof(retention_cfg, years), "0", 0, NULL, NULL, 0, 0, 0,
     "Keep record versions this many years, then `custody retention --apply` purges their content "
     "(hashes and the audit log stay); 0: keep forever. FSMA 204: 2; 2 CFR 200.334: 3 from closeout."},
    {"from", O_ENUM, offsetof(retention_cfg, from), "created", 0, NULL, retention_from, 0, 0, 0,
     "created: count from when the version was fetched; field: from the date in `field` of the "
     "key's latest version (e.g. a grant's closeout date)."},
    {"field", O_STR, offsetof(retention_cfg, field), NULL, 0, NULL, NULL, 0, 0, 0,
     "from field: the normalised record's date or datetime field."},
};
static const struct otab retention_tab = {"retention", sizeof(retention_cfg), retention_opts,
                                          N(retention_opts), -1, -1,
                                          "How long record versions are kept (legal holds override)."};

static const struct opt pool_opts[] = {
    {"requests", O_NUM, offsetof(pool_cfg, requests), "0", 0, NULL, NULL, 0, 0, 0,
     "Requests allowed per `per` across every source in the pool (rate_limit.pool); 0: no shared "
     "budget, the pool only caps concurrency."},
    {"per", O_DURATION, offsetof(pool_cfg, per_ms), "1s", 0, NULL, NULL, 0, 0, 0, "The window."},
    {"burst", O_INT, offsetof(pool_cfg, burst), "0", 0, NULL, NULL, 0, 0, 0,
     "Bucket capacity; 0: the same as requests (at least 1)."},
    {"max_concurrent", O_INT, offsetof(pool_cfg, max_concurrent), "0", 0, NULL, NULL, 0, 0, 0,
     "custody run: at most this many cycles of the pool's sources at once, so one tenant cannot "
     "take every slot; 0: only run.max_concurrent applies."},
};
static const struct otab pool_tab = {"pool", sizeof(pool_cfg), pool_opts, N(pool_opts),
                                     offsetof(pool_cfg, name), offsetof(pool_cfg, line),
                                     "A tenant: a shared request budget and a concurrency cap."};

static const struct opt tier_opts[] = {
    {"every", O_DURATION, offsetof(tier_cfg, every_ms), NULL, F_REQ, NULL, NULL, 0, 0, 0,
     "Interval of the tier's sources (a source's own every/daily/cron wins)."},
    {"priority", O_INT, offsetof(tier_cfg, priority), "5", 0, NULL, NULL, 0, 0, 0,
     "Lower starts first when more sources are due than may run at once (0..9)."},
};
static const struct otab tier_tab = {"tier", sizeof(tier_cfg), tier_opts, N(tier_opts),
                                     offsetof(tier_cfg, name), offsetof(tier_cfg, line),
                                     "A class of sources: interval and priority."};

static const char *const webhook_schemes[] = {"standard", "stripe", "github", NULL};
static const struct opt webhook_opts[] = {
    {"scheme", O_ENUM, offsetof(webhook_cfg, scheme), NULL, F_REQ, NULL, webhook_schemes, 0, 0, 0,
     "How deliveries are signed: standard (Standard Webhooks: webhook-id, webhook-timestamp, "
     "webhook-signature), stripe (Stripe-Signature) or github (X-Hub-Signature-256, X-GitHub-Delivery)."},
    {"secret_env", O_STRLIST, offsetof(webhook_cfg, secret_env), NULL, F_REQ, NULL, NULL,
     offsetof(webhook_cfg, nsecret_env), 0, 0,
     "Environment variables holding the signing secrets; a delivery signed with any of them passes "
     "(list the new one beside the old while rotating)."},
    {"tolerance", O_DURATION, offsetof(webhook_cfg, tolerance_ms), "300s", 0, NULL, NULL, 0, 0, 0,
     "A signed timestamp further than this from the clock (either way) is refused."},
    {"contract", O_STR, offsetof(webhook_cfg, contract_name), NULL, F_REQ, NULL, NULL, 0, 0, 0,
     "The contract a payload must satisfy; its key names the record the payload changes, and its "
     "fields are laid over the record's latest version as a new version."},
    {"hold_for", O_DURATION, offsetof(webhook_cfg, hold_for_ms), "7d", 0, NULL, NULL, 0, 0, 0,
     "A payload whose record has not arrived yet is held this long, applied in arrival order when a "
     "poll ingests the record, then moved to quarantine."},
    {"max_body", O_BYTES, offsetof(webhook_cfg, max_body), "1MiB", 0, NULL, NULL, 0, 0, 0,
     "Larger deliveries are refused with 413 before they are read."},
};
static const struct otab webhook_tab = {"webhook", sizeof(webhook_cfg), webhook_opts, N(webhook_opts), -1, -1,
                                        "Webhooks into this source, served by custody run (see serve)."};

static const struct opt serve_opts[] = {
    {"listen", O_STR, offsetof(serve_cfg, listen), NULL, 0, NULL, NULL, 0, 0, 0,
     "Address:port of custody run's HTTP server (webhooks, /metrics, /healthz, /readyz, the status "
     "page): 127.0.0.1:8650 or [::1]:8650; unset: no server. Anything but loopback needs tls_cert."},
    {"tls_cert", O_STR, offsetof(serve_cfg, tls_cert), NULL, 0, NULL, NULL, 0, 0, 0,
     "PEM certificate (chain) for HTTPS; relative to the config file."},
    {"tls_key", O_STR, offsetof(serve_cfg, tls_key), NULL, 0, NULL, NULL, 0, 0, 0, "Its PEM private key."},
    {"token_env", O_STR, offsetof(serve_cfg, token_env), NULL, 0, NULL, NULL, 0, 0, 0,
     "Environment variable holding the operator token that unlocks the page's actions (resolve, "
     "replay) and raw payloads; unset: the page is read-only."},
    {"hosts", O_STR, offsetof(serve_cfg, hosts), NULL, 0, NULL, NULL, 0, 0, 0,
     "Comma-separated host names the operator page answers to besides localhost and IP addresses "
     "(its Host check defends against DNS rebinding), e.g. custody.example.org."},
    {"max_connections", O_INT, offsetof(serve_cfg, max_connections), "64", 0, NULL, NULL, 0, 0, 0,
     "Connections served at once; more wait in the kernel's backlog."},
};
static const struct otab serve_tab = {"serve", sizeof(serve_cfg), serve_opts, N(serve_opts), -1, -1,
                                      "custody run's HTTP server."};

static const struct opt nats_opts[] = {
    {"url", O_STR, offsetof(nats_cfg, url), "nats://127.0.0.1:4222", 0, NULL, NULL, 0, 0, 0,
     "The NATS server (several, comma-separated, for a cluster); tls://HOST:PORT for TLS."},
    {"stream", O_STR, offsetof(nats_cfg, stream), NULL, F_REQ, NULL, NULL, 0, 0, 0,
     "The JetStream stream that receives the records: letters, digits, '_', '-'."},
    {"subject_prefix", O_STR, offsetof(nats_cfg, subject_prefix), "custody", 0, NULL, NULL, 0, 0, 0,
     "A source's records are published to <subject_prefix>.<source name>."},
    {"batch", O_INT, offsetof(nats_cfg, batch), "256", 0, NULL, NULL, 0, 0, 0,
     "Messages in flight before custody waits for the stream's acknowledgements and records its "
     "position; 1 keeps the stream in audit order even across broker failures."},
    {"ack_timeout", O_DURATION, offsetof(nats_cfg, ack_timeout_ms), "5s", 0, NULL, NULL, 0, 0, 0,
     "How long a batch waits for its acknowledgements; what is not acknowledged by then is sent again."},
    {"connect_timeout", O_DURATION, offsetof(nats_cfg, connect_timeout_ms), "5s", 0, NULL, NULL, 0, 0, 0,
     "Timeout of one connection attempt (and of JetStream API requests)."},
    {"create_stream", O_BOOL, offsetof(nats_cfg, create_stream), "true", 0, NULL, NULL, 0, 0, 0,
     "Create the stream (file storage, subjects <subject_prefix>.>, duplicate_window) when it does "
     "not exist; false: a missing stream is an error."},
    {"duplicate_window", O_DURATION, offsetof(nats_cfg, duplicate_window_ms), "2m", 0, NULL, NULL, 0, 0, 0,
     "The created stream's duplicate window: a message sent again within it (same Nats-Msg-Id) is "
     "dropped by the broker. Keep it longer than custody publish can be down between a publish and "
     "its position commit (see docs/outbox.md)."},
    {"retry_max", O_DURATION, offsetof(nats_cfg, retry_max_ms), "30s", 0, NULL, NULL, 0, 0, 0,
     "Longest back-off between attempts while the broker is unreachable or refuses (full jitter, "
     "doubling from 250ms)."},
    {"attempts", O_INT, offsetof(nats_cfg, attempts), "5", 0, NULL, NULL, 0, 0, 0,
     "custody publish --once gives up (exit 1) after this many failed attempts in a row; --follow "
     "keeps trying."},
    {"token_env", O_REF, offsetof(nats_cfg, token_env), NULL, 0, NULL, NULL, 0, 0, 0,
     "Environment variable holding the server's authorization token; unset: no token."},
    {"tls_ca", O_STR, offsetof(nats_cfg, tls_ca), NULL, 0, NULL, NULL, 0, 0, 0,
     "PEM CA certificates a tls:// server's certificate is checked against (relative to the config "
     "file); unset: the system's."},
};
static const struct otab nats_tab = {"nats", sizeof(nats_cfg), nats_opts, N(nats_opts), -1,
                                     offsetof(nats_cfg, line),
                                     "NATS JetStream: custody publish hands every committed record version to a "
                                     "stream, at least once, and the broker drops duplicates (Nats-Msg-Id)."};

static const struct opt outbox_opts[] = {
    {"nats", O_TABLE, offsetof(outbox_cfg, nats), NULL, 0, &nats_tab, NULL, 0, 0, 0,
     "Publish to NATS JetStream (see outbox.nats)."},
};
static const struct otab outbox_tab = {"outbox", sizeof(outbox_cfg), outbox_opts, N(outbox_opts), -1, -1,
                                       "Hand-off of committed records downstream (custody publish; "
                                       "docs/outbox.md)."};

static const char *const log_formats[] = {"json", "text", NULL};
static const struct opt run_opts[] = {
    {"max_concurrent", O_INT, offsetof(run_cfg, max_concurrent), "32", 0, NULL, NULL, 0, 0, 0,
     "Poll cycles running at once across all sources (they share one thread and libcurl's multi "
     "interface; commits go through one writer)."},
    {"startup_jitter", O_DURATION, offsetof(run_cfg, startup_jitter_ms), "30s", 0, NULL, NULL, 0, 0, 0,
     "Sources due at start-up are spread over this much time (a fixed per-source offset), so a restart "
     "does not hit every upstream at once."},
    {"shutdown_grace", O_DURATION, offsetof(run_cfg, shutdown_grace_ms), "10s", 0, NULL, NULL, 0, 0, 0,
     "On SIGTERM/SIGINT cycles stop at their next page boundary; transfers still running after this "
     "long are aborted (their page is not applied)."},
    {"default_every", O_DURATION, offsetof(run_cfg, default_every_ms), "15m", 0, NULL, NULL, 0, 0, 0,
     "Interval of a source with no every, daily, cron or tier."},
    {"log", O_ENUM, offsetof(run_cfg, log), "json", 0, NULL, log_formats, 0, 0, 0,
     "Log lines on stderr: json (one object a line, with the cycle's correlation id) or text."},
    {"adaptive", O_BOOL, offsetof(run_cfg, adaptive), "true", 0, NULL, NULL, 0, 0, 0,
     "Adapt intervals: slower while a source fails or brings nothing new, again soon while it is "
     "catching up (pages left after max_pages)."},
    {"backoff", O_NUM, offsetof(run_cfg, backoff), "2", 0, NULL, NULL, 0, 0, 0,
     "Factor an interval grows by per failed cycle (idle cycles grow it more gently)."},
    {"max_factor", O_INT, offsetof(run_cfg, max_factor), "8", 0, NULL, NULL, 0, 0, 0,
     "An adapted interval never exceeds the source's interval times this."},
    {"catch_up", O_DURATION, offsetof(run_cfg, catch_up_ms), "1s", 0, NULL, NULL, 0, 0, 0,
     "Delay before the next cycle of a source that stopped with pages left."},
    {"verify_every", O_DURATION, offsetof(run_cfg, verify_every_ms), "0", 0, NULL, NULL, 0, 0, 0,
     "Run `custody audit verify` in a child process this often and alert when it fails; 0: never "
     "(run it from a timer instead, see examples/systemd)."},
    {"lease_ttl", O_DURATION, offsetof(run_cfg, lease_ttl_ms), "60s", 0, NULL, NULL, 0, 0, 0,
     "Shared (PostgreSQL) store: how long a worker's lease on a source lasts. Every commit proves and "
     "extends it; a worker silent for longer (paused, cut off) loses the source to another and can no "
     "longer commit. Keep it above the time between two commits of a cycle."},
    {"worker_id", O_STR, offsetof(run_cfg, worker_id), NULL, 0, NULL, NULL, 0, 0, 0,
     "Shared store: this worker's name in leases and logs (default HOST:PID)."},
};
static const struct otab run_tab = {"run", sizeof(run_cfg), run_opts, N(run_opts), -1, -1,
                                    "The daemon (custody run)."};

static const struct opt alerts_opts[] = {
    {"rejection_ratio", O_NUM, offsetof(alerts_cfg, rejection_ratio), "0.05", 0, NULL, NULL, 0, 0, 0,
     "Alert when more than this fraction of a cycle's records is quarantined."},
    {"stale_after", O_DURATION, offsetof(alerts_cfg, stale_after_ms), "0", 0, NULL, NULL, 0, 0, 0,
     "Alert when a source has had no successful cycle for this long; 0: three times its interval."},
    {"cursor_lag", O_DURATION, offsetof(alerts_cfg, cursor_lag_ms), "0", 0, NULL, NULL, 0, 0, 0,
     "Alert when an incremental source's watermark trails the clock by more than this; 0: off."},
    {"stuck_cycles", O_INT, offsetof(alerts_cfg, stuck_cycles), "3", 0, NULL, NULL, 0, 0, 0,
     "Alert (cursor drift) after this many successful cycles in a row that brought new records but "
     "left the cursor where it was."},
    {"command", O_STRLIST, offsetof(alerts_cfg, command), NULL, 0, NULL, NULL, offsetof(alerts_cfg, ncommand), 0,
     0, "A command (argv list) run for each alert raised or cleared, the alert as JSON on its stdin."},
    {"command_timeout", O_DURATION, offsetof(alerts_cfg, command_timeout_ms), "30s", 0, NULL, NULL, 0, 0, 0,
     "The command is killed after this long (the delivery counts as failed)."},
    {"webhook", O_STR, offsetof(alerts_cfg, webhook), NULL, 0, NULL, NULL, 0, 0, 0,
     "URL each alert is POSTed to as JSON (an incident channel)."},
    {"webhook_attempts", O_INT, offsetof(alerts_cfg, webhook_attempts), "4", 0, NULL, NULL, 0, 0, 0,
     "Attempts per alert, with exponential back-off from 1 s; a 2xx answer ends them."},
};
static const struct otab alerts_tab = {"alerts", sizeof(alerts_cfg), alerts_opts, N(alerts_opts), -1, -1,
                                       "Alerts of custody run: once per episode, audited."};

/* The timeout and request sub-tables write into source_cfg directly. */
static const struct opt timeout_opts[] = {
    {"connect", O_DURATION, offsetof(source_cfg, connect_timeout_ms), "10s", 0, NULL, NULL, 0, 0, 0,
     "Longest wait for the TCP/TLS connection."},
    {"total", O_DURATION, offsetof(source_cfg, total_timeout_ms), "30s", 0, NULL, NULL, 0, 0, 0,
     "Longest time for one whole request, body included."},
    {"low_speed", O_DURATION, offsetof(source_cfg, low_speed_ms), "30s", 0, NULL, NULL, 0, 0, 0,
     "Abort a transfer that moves fewer than low_speed_bytes per second for this long; 0: off."},
    {"low_speed_bytes", O_INT, offsetof(source_cfg, low_speed_bytes), "1", 0, NULL, NULL, 0, 0, 0,
     "See low_speed."},
};
static const struct otab timeout_tab = {"timeout", sizeof(source_cfg), timeout_opts, N(timeout_opts),
                                        -1, -1, "Request time limits."};

static const struct opt request_opts[] = {
    {"url", O_STR, offsetof(source_cfg, url), NULL, 0, NULL, NULL, 0, 0, 0,
     "The endpoint, http:// or https://; pagination parameters are appended to its query."},
    {"method", O_ENUM, offsetof(source_cfg, method), "GET", 0, NULL, methods, 0, 0, 0,
     "GET, or POST for search-style APIs (with body)."},
    {"body", O_STR, offsetof(source_cfg, body), NULL, 0, NULL, NULL, 0, 0, 0,
     "POST: the request body (JSON text)."},
    {"headers", O_STRMAP, offsetof(source_cfg, header_names), NULL, 0, NULL, NULL,
     offsetof(source_cfg, nheaders), offsetof(source_cfg, header_values), 0,
     "Extra request headers, e.g. { Accept-Language: en }. Not for secrets: use auth."},
    {"fallback", O_STRLIST, offsetof(source_cfg, fallbacks), NULL, 0, NULL, NULL,
     offsetof(source_cfg, nfallbacks), 0, 0,
     "Mirror URLs, tried in order when the primary fails after its retries or its breaker is "
     "open; each page's audit entry names the endpoint that served it."},
    {"proxy", O_STR, offsetof(source_cfg, proxy), NULL, 0, NULL, NULL, 0, 0, 0,
     "Proxy URL (http://host:port); unset: libcurl's environment variables apply."},
    {"tls", O_TABLE, offsetof(source_cfg, tls), NULL, 0, &tls_tab, NULL, 0, 0, 0, "TLS (see tls)."},
    {"conditional", O_BOOL, offsetof(source_cfg, conditional), "true", 0, NULL, NULL, 0, 0, 0,
     "Send If-None-Match / If-Modified-Since from the last response; a 304 ends the cycle with "
     "nothing changed."},
    {"auth", O_TABLE, offsetof(source_cfg, auth), NULL, 0, &auth_tab, NULL, 0, 0, 0,
     "Authentication (see auth)."},
    {"timeout", O_TABLE, 0, NULL, 0, &timeout_tab, NULL, 0, 0, 0, "Time limits (see timeout)."},
    {"max_body", O_BYTES, offsetof(source_cfg, max_body_bytes), "64MiB", 0, NULL, NULL, 0, 0, 0,
     "Largest response body accepted; a larger one fails the cycle with a clear error."},
};
static const struct otab request_tab = {"request", sizeof(source_cfg), request_opts,
                                        N(request_opts), -1, -1, "What to fetch and how."};

static const char *const page_ins[] = {"query", "body", NULL};
static const struct opt pagination_opts[] = {
    {"type", O_ENUM, offsetof(source_cfg, pagination_type), "none", 0, NULL, pager_types, 0, 0, 0,
     "Strategy: none (one response holds every record); cursor (a next token at `next`, sent back "
     "as `param`); next_url (a next URL at `next`, absolute or relative); link (the Link header's "
     "rel=\"next\"); offset (`param` = start, start + records so far, ...); page (`param` = start, "
     "start + 1, ...); last_id (`param` = the `id_field` of the page's last record). See "
     "docs/pagination.md for a worked example of each."},
    {"next", O_PATH, offsetof(source_cfg, pagination.next), NULL, 0, NULL, NULL, 0, 0, 0,
     "cursor / next_url: JSON path of the next token or URL; null, absent or empty ends the cycle."},
    {"delta", O_PATH, offsetof(source_cfg, pagination.delta), NULL, 0, NULL, NULL, 0, 0, 0,
     "next_url: JSON path of a delta link on the last page (e.g. $['@odata.deltaLink']): the next poll "
     "starts there and gets only what changed since this one."},
    {"param", O_STR, offsetof(source_cfg, pagination.param), NULL, 0, NULL, NULL, 0, 0, 0,
     "Parameter (or body field) carrying the token, offset, page or id; default cursor, offset, "
     "page or after by strategy."},
    {"in", O_ENUMI, offsetof(source_cfg, pagination.in), "query", 0, NULL, page_ins, 0, 0, 0,
     "Where param and the page size go: query, or body (request.method POST; request.body is the "
     "template, with {cursor}, {offset}, {page}, {limit} placeholders)."},
    {"token_alone", O_BOOL, offsetof(source_cfg, pagination.token_alone), "false", 0, NULL, NULL, 0, 0, 0,
     "cursor: with a token, send only it and the page size (APIs that reject other parameters "
     "beside a page token)."},
    {"limit_param", O_STR, offsetof(source_cfg, pagination.limit_param), NULL, 0, NULL, NULL, 0, 0,
     0, "Parameter for the page size; unset: none is sent."},
    {"limit", O_INT, offsetof(source_cfg, pagination.limit), "0", 0, NULL, NULL, 0, 0, 0,
     "Page size to request; also what a short page is measured against."},
    {"limit_header", O_STR, offsetof(source_cfg, pagination.limit_header), NULL, 0, NULL, NULL, 0, 0, 0,
     "Send the page size in this header instead of a parameter."},
    {"has_more", O_PATH, offsetof(source_cfg, pagination.has_more), NULL, 0, NULL, NULL, 0, 0, 0,
     "JSON path of a flag saying whether more pages follow (has_more, end_of_stream, done)."},
    {"more_when", O_BOOL, offsetof(source_cfg, pagination.more_when), "true", 0, NULL, NULL, 0, 0, 0,
     "The has_more value that means more pages: true (has_more) or false (end_of_stream, done)."},
    {"total", O_PATH, offsetof(source_cfg, pagination.total), NULL, 0, NULL, NULL, 0, 0, 0,
     "offset: JSON path of the total record count; page: of the total page count."},
    {"start", O_INT, offsetof(source_cfg, pagination.start), "-1", 0, NULL, NULL, 0, 0, 0,
     "First offset (0 or 1) or page number; default 0 for offset, 1 for page."},
    {"max_offset", O_INT, offsetof(source_cfg, pagination.max_offset), "0", 0, NULL, NULL, 0, 0, 0,
     "offset: the API refuses offsets beyond this; custody stops with a message instead of asking "
     "(split the window with incremental); 0: no limit."},
    {"id_field", O_PATH, offsetof(source_cfg, pagination.id_field), NULL, 0, NULL, NULL, 0, 0, 0,
     "last_id: JSON path, within a record, of its id."},
};
static const struct otab pagination_tab = {"pagination", sizeof(source_cfg), pagination_opts,
                                           N(pagination_opts), -1, -1, "How pages follow each other."};

static const struct opt source_opts[] = {
    {"name", O_STR, offsetof(source_cfg, name), NULL, F_REQ, NULL, NULL, 0, 0, 0,
     "Unique name: letters, digits, '_', '-', '.'; used in the store and on the command line."},
    {"request", O_TABLE, 0, NULL, 0, &request_tab, NULL, 0, 0, 0,
     "The request (see request); a source has a request or files."},
    {"files", O_TABLE, offsetof(source_cfg, files), NULL, 0, &files_tab, NULL, 0, 0, 0,
     "Files instead of an API (see files)."},
    {"records", O_PATH, offsetof(source_cfg, records), "$", 0, NULL, NULL, 0, 0, 0,
     "JSON path of the records array in each response; \"$\" for a top-level array."},
    {"pagination", O_TABLE, 0, NULL, 0, &pagination_tab, NULL, 0, 0, 0,
     "Pagination (see pagination)."},
    {"contract", O_STR, offsetof(source_cfg, contract_name), NULL, F_REQ, NULL, NULL, 0, 0, 0,
     "Name of the contract under `contracts` that every record must satisfy."},
    {"commit_pages", O_INT, offsetof(source_cfg, commit_pages), "20", 0, NULL, NULL, 0, 0, 0,
     "Pages per transaction (group commit). Records and cursor stay atomic; a larger value "
     "saves fsyncs, a crash re-fetches at most this many pages."},
    {"max_pages", O_INT, offsetof(source_cfg, max_pages), "0", 0, NULL, NULL, 0, 0, 0,
     "Stop a cycle after this many pages (the cursor resumes next cycle); 0: no limit."},
    {"index", O_STRLIST, offsetof(source_cfg, index), NULL, 0, NULL, NULL, offsetof(source_cfg, nindex), 0, 0,
     "Fields of the contract (top-level names of the normalised record) kept in the store's index, "
     "written with each new version: a string value as is, an array by each string element "
     "(input_lots). custody export --lot and custody trace look lots up there instead of reading "
     "every record when traceability_lot_code (and, for trace, input_lots) is indexed. Adding it to "
     "a source that has records: run custody index rebuild (see docs/export.md)."},
    {"retry", O_TABLE, offsetof(source_cfg, retry), NULL, 0, &retry_tab, NULL, 0, 0, 0,
     "Retries (see retry)."},
    {"rate_limit", O_TABLE, offsetof(source_cfg, rate), NULL, 0, &rate_tab, NULL, 0, 0, 0,
     "Client-side rate limit (see rate_limit)."},
    {"breaker", O_TABLE, offsetof(source_cfg, breaker), NULL, 0, &breaker_tab, NULL, 0, 0, 0,
     "Circuit breaker (see breaker)."},
    {"retention", O_TABLE, offsetof(source_cfg, retention), NULL, 0, &retention_tab, NULL, 0, 0, 0,
     "Retention (see retention)."},
    {"incremental", O_TABLE, offsetof(source_cfg, incremental), NULL, 0, &incremental_tab, NULL, 0, 0, 0,
     "Incremental sync (see incremental)."},
    {"snapshot", O_BOOL, offsetof(source_cfg, snapshot), "false", 0, NULL, NULL, 0, 0, 0,
     "The API returns the full list every poll: an identical list (by key and content hash) is an "
     "idempotent skip; a key that disappeared gets a tombstone version (record.removed)."},
    {"every", O_DURATION, offsetof(source_cfg, every_ms), NULL, 0, NULL, NULL, 0, 0, 0,
     "custody run: poll at this interval (see docs/schedule.md). One of every, daily, cron."},
    {"daily", O_STR, offsetof(source_cfg, daily), NULL, 0, NULL, NULL, 0, 0, 0,
     "custody run: poll daily at a local time in a named zone, \"06:00 America/New_York\" (several: "
     "\"06:00,18:00 Europe/London\"); correct across DST changes."},
    {"cron", O_STR, offsetof(source_cfg, cron), NULL, 0, NULL, NULL, 0, 0, 0,
     "custody run: a five-field cron expression (\"*/5 * * * *\"), read in `timezone`."},
    {"timezone", O_STR, offsetof(source_cfg, timezone), "UTC", 0, NULL, NULL, 0, 0, 0,
     "The zone (tz database name) the cron fields are read in."},
    {"tier", O_STR, offsetof(source_cfg, tier), NULL, 0, NULL, NULL, 0, 0, 0,
     "A tier under `tiers`: its interval (unless every/daily/cron is given) and priority."},
    {"jitter", O_DURATION, offsetof(source_cfg, jitter_ms), "0", 0, NULL, NULL, 0, 0, 0,
     "Delay each scheduled fire by a fixed per-source amount below this, to spread sources that "
     "share a schedule."},
    {"webhook", O_TABLE, offsetof(source_cfg, webhook), NULL, 0, &webhook_tab, NULL, 0, 0, 0,
     "Webhooks into this source (see webhook)."},
    {"pool", O_STR, offsetof(source_cfg, pool_name), NULL, 0, NULL, NULL, 0, 0, 0,
     "The tenant pool under `pools` whose max_concurrent this source counts against; default: "
     "rate_limit.pool."},
    {"on_expired", O_ENUM, offsetof(source_cfg, on_expired), "fail", 0, NULL, on_expired_choices, 0, 0, 0,
     "When the API refuses a stored cursor as expired (410, or 400/422 on a request that carried "
     "one): fail (exit 1, cursor kept for an operator) or restart the cycle from the first page "
     "(or the incremental bound), deduplicating what comes again."},
};
static const struct otab source_tab = {"source", sizeof(source_cfg), source_opts, N(source_opts),
                                       -1, offsetof(source_cfg, line), "One upstream API feed."};

static const struct opt field_opts[] = {
    {"type", O_ENUMI, offsetof(contract_field, type), "string", 0, NULL, field_types, 0, 0, 0,
     "string, number, integer (exact 64-bit; beyond 2^53 written as a string), boolean, datetime, enum, decimal "
     "(exact text, output as a string), date, email, url, uuid, array (see items) or object."},
    {"from", O_PATH, offsetof(contract_field, from), NULL, 0, NULL, NULL, 0, 0, 0,
     "JSON path of the value in the raw record (\"contact.email\"); default: the field's name."},
    {"required", O_BOOL, offsetof(contract_field, required), "false", 0, NULL, NULL, 0, 0, 0,
     "Absent or null is an error (code required)."},
    {"nullable", O_BOOL, offsetof(contract_field, nullable), "false", 0, NULL, NULL, 0, 0, 0,
     "An explicit null is kept as null."},
    {"sensitive", O_BOOL, offsetof(contract_field, sensitive), "false", 0, NULL, NULL, 0, 0, 0,
     "Mask the value (***) in rejection errors."},
    {"min_length", O_SIZE, offsetof(contract_field, min_length), NULL, 0, NULL, NULL, 0,
     offsetof(contract_field, has_min_length), 1, "Shortest string, in code points (code length)."},
    {"max_length", O_SIZE, offsetof(contract_field, max_length), NULL, 0, NULL, NULL, 0,
     offsetof(contract_field, has_max_length), 1, "Longest string, in code points (code length)."},
    {"gt", O_NUM, offsetof(contract_field, gt), NULL, 0, NULL, NULL, 0,
     offsetof(contract_field, bounds), BOUND_GT, "Number must be greater (code range)."},
    {"ge", O_NUM, offsetof(contract_field, ge), NULL, 0, NULL, NULL, 0,
     offsetof(contract_field, bounds), BOUND_GE, "Number must be greater or equal."},
    {"lt", O_NUM, offsetof(contract_field, lt), NULL, 0, NULL, NULL, 0,
     offsetof(contract_field, bounds), BOUND_LT, "Number must be less."},
    {"le", O_NUM, offsetof(contract_field, le), NULL, 0, NULL, NULL, 0,
     offsetof(contract_field, bounds), BOUND_LE, "Number must be less or equal."},
    {"pattern", O_STR, offsetof(contract_field, pattern), NULL, 0, NULL, NULL, 0, 0, 0,
     "PCRE2 regular expression the (normalised) string must match; not anchored implicitly."},
    {"values", O_STRLIST, offsetof(contract_field, values), NULL, 0, NULL, NULL,
     offsetof(contract_field, nvalues), 0, 0, "enum: the allowed values."},
    {"map", O_STRMAP, offsetof(contract_field, map_from), NULL, 0, NULL, NULL,
     offsetof(contract_field, nmap), offsetof(contract_field, map_to), 0,
     "Replace exact values (after normalisers), e.g. { GA-2026: GENERAL }."},
    {"fallback", O_STR, offsetof(contract_field, fallback), NULL, 0, NULL, NULL, 0, 0, 0,
     "enum: value used, without error, when the value is not allowed."},
    {"normalize", O_FLAGS, offsetof(contract_field, normalize), NULL, 0, NULL, normalizers, 0, 0, 0,
     "One or a list of: nfc (Unicode NFC), trim, collapse, lower, upper (strings; Unicode case with nfc), "
     "utc (datetimes)."},
    {"format", O_STR, offsetof(contract_field, format), NULL, 0, NULL, NULL, 0, 0, 0,
     "datetime: epoch_s, epoch_ms, or a pattern of %Y %m %d %H %M %S %z and literals (\"%d/%m/%Y %H:%M\")."},
    {"zone", O_STR, offsetof(contract_field, zone), NULL, 0, NULL, NULL, 0, 0, 0,
     "datetime: UTC or an offset (+01:00) for values that carry no zone."},
    {"default", O_STR, offsetof(contract_field, def), NULL, 0, NULL, NULL, 0, 0, 0,
     "Default sentinel: JSON text used when the field is absent (or null and not nullable), then validated; "
     "text that is not JSON is a string."},
    {"items", O_ENUMI, offsetof(contract_field, items), NULL, 0, NULL, field_types, 0,
     offsetof(contract_field, has_items), 1, "array: the scalar type of every item (the field's rules apply per item)."},
    {"min_items", O_SIZE, offsetof(contract_field, min_items), NULL, 0, NULL, NULL, 0,
     offsetof(contract_field, has_min_items), 1, "array: fewest items (code length)."},
    {"max_items", O_SIZE, offsetof(contract_field, max_items), NULL, 0, NULL, NULL, 0,
     offsetof(contract_field, has_max_items), 1, "array: most items (code length)."},
};
static const struct otab field_tab = {"contract field", sizeof(contract_field), field_opts,
                                      N(field_opts), offsetof(contract_field, name),
                                      offsetof(contract_field, line), "One field of a contract."};

static const struct opt computed_opts[] = {
    {"concat", O_STRLIST, offsetof(contract_computed, concat), NULL, F_REQ, NULL, NULL,
     offsetof(contract_computed, nconcat), 0, 0, "Fields whose canonical values are joined, in order."},
    {"sep", O_STR, offsetof(contract_computed, sep), "~", 0, NULL, NULL, 0, 0, 0,
     "Separator; occurrences of it (and \\) inside values are escaped with \\."},
};
static const struct otab computed_tab = {"computed field", sizeof(contract_computed), computed_opts,
                                         N(computed_opts), offsetof(contract_computed, name),
                                         offsetof(contract_computed, line), "A string field computed from others."};

static const struct opt contract_opts[] = {
    {"key", O_STRLIST, offsetof(contract, key), NULL, F_REQ, NULL, NULL, offsetof(contract, nkey), 0,
     0, "Fields forming the idempotency key (in order)."},
    {"schema_file", O_STR, offsetof(contract, schema_file), NULL, 0, NULL, NULL, 0, 0, 0,
     "A JSON Schema (2020-12 subset, see docs/contracts.md) to take the fields from, instead of "
     "`fields`; relative to the config file. Keywords it cannot enforce are refused, never ignored."},
    {"fields", O_MAP, offsetof(contract, fields), NULL, 0, &field_tab, NULL,
     offsetof(contract, nfields), 0, 0, "Field name -> rules (see contract field)."},
    {"unknown", O_ENUMI, offsetof(contract, unknown), "drop", 0, NULL, contract_unknown_policies, 0, 0, 0,
     "Raw members no field reads: drop, keep (copied as is) or reject (error unknown_field)."},
    {"computed", O_MAP, offsetof(contract, computed), NULL, 0, &computed_tab, NULL,
     offsetof(contract, ncomputed), 0, 0, "Name -> { concat: [fields], sep: \"~\" }: string fields usable in key."},
};
static const struct otab contract_tab = {"contract", sizeof(contract), contract_opts,
                                         N(contract_opts), offsetof(contract, name),
                                         offsetof(contract, line), "A data contract."};

static const struct opt audit_opts[] = {
    {"signing_key", O_STR, offsetof(config, signing_key), NULL, 0, NULL, NULL, 0, 0, 0,
     "Ed25519 private key (PEM, from `custody keygen`) that signs every checkpoint; relative to the "
     "config file. Keep it mode 0600, ideally on another machine's mount."},
    {"verify_key", O_STR, offsetof(config, verify_key), NULL, 0, NULL, NULL, 0, 0, 0,
     "Public key `custody audit verify` checks checkpoint signatures with; when set, an unsigned or "
     "wrongly signed checkpoint fails verification."},
};
static const struct otab audit_tab = {"audit", sizeof(config), audit_opts, N(audit_opts), -1, -1,
                                      "Audit log signing."};

static const struct opt top_opts[] = {
    {"store", O_STR, offsetof(config, store), "sqlite:custody.db", 0, NULL, NULL, 0, 0, 0,
     "Where state lives: sqlite:PATH (relative to the config file), or postgresql://USER@HOST:PORT/DB (libpq URI; "
     "PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE fill what it omits) for many workers sharing one database."},
    {"actor", O_STR, offsetof(config, actor), "custody", 0, NULL, NULL, 0, 0, 0,
     "Actor recorded in the audit log for polls."},
    {"sources", O_LIST, offsetof(config, sources), NULL, F_REQ, &source_tab, NULL,
     offsetof(config, nsources), 0, 0, "The feeds to poll (see source)."},
    {"contracts", O_MAP, offsetof(config, contracts), NULL, F_REQ, &contract_tab, NULL,
     offsetof(config, ncontracts), 0, 0, "Contract name -> contract (see contract)."},
    {"audit", O_TABLE, 0, NULL, 0, &audit_tab, NULL, 0, 0, 0, "Checkpoint signing (see audit)."},
    {"pools", O_MAP, offsetof(config, pools), NULL, 0, &pool_tab, NULL, offsetof(config, npools), 0, 0,
     "Pool name -> shared request budget and concurrency cap (see pool), for sources on one vendor "
     "account or of one tenant."},
    {"tiers", O_MAP, offsetof(config, tiers), NULL, 0, &tier_tab, NULL, offsetof(config, ntiers), 0, 0,
     "Tier name -> interval and priority (see tier)."},
    {"run", O_TABLE, offsetof(config, run), NULL, 0, &run_tab, NULL, 0, 0, 0, "The daemon (see run)."},
    {"alerts", O_TABLE, offsetof(config, alerts), NULL, 0, &alerts_tab, NULL, 0, 0, 0,
     "Alerts raised by custody run (see alerts)."},
    {"serve", O_TABLE, offsetof(config, serve), NULL, 0, &serve_tab, NULL, 0, 0, 0,
     "custody run's HTTP server (see serve)."},
    {"outbox", O_TABLE, offsetof(config, outbox), NULL, 0, &outbox_tab, NULL, 0, 0, 0,
     "Committed records handed downstream by custody publish (see outbox)."},
};
static const struct otab top_tab = {"top level", sizeof(config), top_opts, N(top_opts), -1, -1,
                                    "The configuration file."};

/* ---- loading ------------------------------------------------------------ */

struct loader {
    yaml_document_t doc;
    const char *file;
    struct err *e;
};

#define AT(p, type_, off) ((type_ *)((char *)(p) + (off)))

static int node_line(const yaml_node_t *n)
{
    return n ? (int)n->start_mark.line + 1 : 0;
}

static cust_code fail(struct loader *L, const yaml_node_t *n, const char *key, const char *fmt, ...)
    CUST_PRINTF(4, 5);
static cust_code fail(struct loader *L, const yaml_node_t *n, const char *key, const char *fmt, ...)
{
    char what[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return err_set(L->e, CUST_ECONFIG, "%s:%d: %s: %s", L->file, node_line(n), key, what);
}

/* Expand ${VAR} and ${VAR:-default}. Returns a malloc'd string or NULL with
 * the error filled. */
static char *expand(struct loader *L, const yaml_node_t *n, const char *key, const char *s, size_t len)
{
    buf b;
    buf_init(&b, 1 << 20);
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '$' && i + 1 < len && s[i + 1] == '{') {
            const char *end = memchr(s + i + 2, '}', len - i - 2);
            char name[256];
            const char *dflt = NULL, *val;
            size_t nlen, dlen = 0;
            if (!end) {
                fail(L, n, key, "unterminated ${ in value; write $${ for a literal");
                goto bad;
            }
            nlen = (size_t)(end - (s + i + 2));
            for (size_t k = 0; k + 1 < nlen; k++)
                if (s[i + 2 + k] == ':' && s[i + 3 + k] == '-') {
                    dflt = s + i + 4 + k;
                    dlen = nlen - k - 2;
                    nlen = k;
                    break;
                }
            if (nlen == 0 || nlen >= sizeof name) {
                fail(L, n, key, "bad variable reference in ${...}");
                goto bad;
            }
            memcpy(name, s + i + 2, nlen);
            name[nlen] = '\0';
            val = getenv(name);
            if (val && *val) {
                if (buf_adds(&b, val))
                    goto nomem;
            } else if (dflt) {
                if (buf_add(&b, dflt, dlen))
                    goto nomem;
            } else {
                fail(L, n, key, "environment variable %s is not set (write ${%s:-default} for a default)",
                     name, name);
                goto bad;
            }
            i = (size_t)(end - s);
        } else if (buf_addc(&b, s[i])) {
            goto nomem;
        }
    }
    if (!b.ptr && buf_add(&b, "", 0))
        goto nomem;
    return buf_take(&b);
nomem:
    err_set(L->e, CUST_ENOMEM, "out of memory");
bad:
    buf_release(&b);
    return NULL;
}

static const char *scalar(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

static cust_code want(struct loader *L, const yaml_node_t *n, yaml_node_type_t t, const char *key)
{
    static const char *const names[] = {"nothing", "a value", "a list", "a mapping"};
    if (n->type == t)
        return CUST_OK;
    return fail(L, n, key, "expected %s, found %s", names[t], names[n->type]);
}

static cust_code parse_duration(const char *s, long *ms)
{
    char *end;
    double v;
    errno = 0;
    v = strtod(s, &end);
    if (end == s || errno || v < 0)
        return CUST_ECONFIG;
    if (strcmp(end, "ms") == 0)
        ;
    else if (strcmp(end, "s") == 0 || *end == '\0')
        v *= 1000;
    else if (strcmp(end, "m") == 0)
        v *= 60e3;
    else if (strcmp(end, "h") == 0)
        v *= 3600e3;
    else if (strcmp(end, "d") == 0)
        v *= 86400e3;
    else
        return CUST_ECONFIG;
    if (v > (double)LONG_MAX / 2)
        return CUST_ECONFIG;
    *ms = (long)v;
    return CUST_OK;
}

static cust_code parse_bytes(const char *s, long *out)
{
    char *end;
    double v;
    errno = 0;
    v = strtod(s, &end);
    if (end == s || errno || v < 0)
        return CUST_ECONFIG;
    if (*end == '\0' || strcmp(end, "B") == 0)
        ;
    else if (strcmp(end, "KiB") == 0 || strcmp(end, "K") == 0)
        v *= 1024;
    else if (strcmp(end, "MiB") == 0 || strcmp(end, "M") == 0)
        v *= 1024 * 1024;
    else if (strcmp(end, "GiB") == 0 || strcmp(end, "G") == 0)
        v *= 1024.0 * 1024 * 1024;
    else
        return CUST_ECONFIG;
    if (v > (double)LONG_MAX / 2)
        return CUST_ECONFIG;
    *out = (long)v;
    return CUST_OK;
}

static cust_code parse_long(const char *s, long *out)
{
    char *end;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    if (end == s || *end || errno)
        return CUST_ECONFIG;
    *out = v;
    return CUST_OK;
}

static cust_code parse_bool(const char *s, int *out)
{
    if (!strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "on")) {
        *out = 1;
        return CUST_OK;
    }
    if (!strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "off")) {
        *out = 0;
        return CUST_OK;
    }
    return CUST_ECONFIG;
}

static int choice_index(const char *const *choices, const char *s)
{
    for (int i = 0; choices[i]; i++)
        if (strcmp(choices[i], s) == 0)
            return i;
    return -1;
}

static void choices_text(const char *const *choices, char *out, size_t n)
{
    size_t at = 0;
    out[0] = '\0';
    for (int i = 0; choices[i] && at < n; i++)
        at += (size_t)snprintf(out + at, n - at, "%s%s", i ? ", " : "", choices[i]);
}

static cust_code load_table(struct loader *L, const struct otab *t, void *obj, yaml_node_t *map,
                            const char *ctx);

/* Apply one scalar text to an option. */
static cust_code set_scalar(struct loader *L, const struct opt *o, void *obj, const yaml_node_t *n,
                            const char *key, const char *text)
{
    char *s = NULL;
    cust_code rc = CUST_OK;
    char list[256];
    if (o->type == O_REF) {
        /* References are names, not values: never expanded, never resolved here. */
        s = strdup(text);
    } else {
        s = expand(L, n, key, text, strlen(text));
    }
    if (!s)
        return L->e->code ? L->e->code : CUST_ENOMEM;
    switch (o->type) {
    case O_STR:
    case O_REF:
        free(*AT(obj, char *, o->off));
        *AT(obj, char *, o->off) = s;
        s = NULL;
        break;
    case O_PATH: {
        struct err pe = {0};
        if (!json_path_valid(s, &pe)) {
            rc = fail(L, n, key, "not a valid JSON path (%s); write e.g. $.data or $.meta.next", pe.msg);
            break;
        }
        free(*AT(obj, char *, o->off));
        *AT(obj, char *, o->off) = s;
        s = NULL;
        break;
    }
    case O_ENUM:
        if (choice_index(o->choices, s) < 0) {
            choices_text(o->choices, list, sizeof list);
            rc = fail(L, n, key, "unknown value \"%s\"; expected one of: %s", s, list);
            break;
        }
        free(*AT(obj, char *, o->off));
        *AT(obj, char *, o->off) = s;
        s = NULL;
        break;
    case O_ENUMI: {
        int i = choice_index(o->choices, s);
        if (i < 0) {
            choices_text(o->choices, list, sizeof list);
            rc = fail(L, n, key, "unknown value \"%s\"; expected one of: %s", s, list);
            break;
        }
        *AT(obj, int, o->off) = i;
        break;
    }
    case O_FLAGS: {
        int i = choice_index(o->choices, s);
        if (i < 0) {
            choices_text(o->choices, list, sizeof list);
            rc = fail(L, n, key, "unknown value \"%s\"; expected one of: %s", s, list);
            break;
        }
        *AT(obj, unsigned, o->off) |= 1u << i;
        break;
    }
    case O_DURATION:
        if (parse_duration(s, AT(obj, long, o->off)))
            rc = fail(L, n, key, "\"%s\" is not a duration; write e.g. 250ms, 10s, 5m, 1h", s);
        break;
    case O_BYTES:
        if (parse_bytes(s, AT(obj, long, o->off)))
            rc = fail(L, n, key, "\"%s\" is not a size; write e.g. 65536, 512KiB, 64MiB", s);
        break;
    case O_INT:
        if (parse_long(s, AT(obj, long, o->off)))
            rc = fail(L, n, key, "\"%s\" is not an integer", s);
        break;
    case O_SIZE: {
        long v;
        if (parse_long(s, &v) || v < 0)
            rc = fail(L, n, key, "\"%s\" is not a non-negative integer", s);
        else
            *AT(obj, size_t, o->off) = (size_t)v;
        break;
    }
    case O_BOOL:
        if (parse_bool(s, AT(obj, int, o->off)))
            rc = fail(L, n, key, "\"%s\" is not a boolean; write true or false", s);
        break;
    case O_NUM: {
        char *end;
        double v;
        errno = 0;
        v = strtod(s, &end);
        if (end == s || *end || errno)
            rc = fail(L, n, key, "\"%s\" is not a number", s);
        else
            *AT(obj, double, o->off) = v;
        break;
    }
    default:
        rc = fail(L, n, key, "expected a mapping or a list, found a value");
    }
    if (rc == CUST_OK && o->aux_bit)
        *AT(obj, unsigned, o->aux_off) |= o->aux_bit;
    free(s);
    return rc;
}

static cust_code grow_array(void **arr, size_t *n, size_t elem)
{
    void *p = realloc(*arr, (*n + 1) * elem);
    if (!p)
        return CUST_ENOMEM;
    memset((char *)p + *n * elem, 0, elem);
    *arr = p;
    (*n)++;
    return CUST_OK;
}

static cust_code apply_defaults(struct loader *L, const struct otab *t, void *obj);

static cust_code set_option(struct loader *L, const struct opt *o, void *obj, yaml_node_t *n,
                            const char *key)
{
    cust_code rc;
    switch (o->type) {
    case O_TABLE:
        if ((rc = want(L, n, YAML_MAPPING_NODE, key)))
            return rc;
        if (o->sub->line_off >= 0)
            *AT((char *)obj + o->off, int, (size_t)o->sub->line_off) = node_line(n);
        return load_table(L, o->sub, (char *)obj + o->off, n, key);
    case O_FLAGS:
        if (n->type == YAML_SEQUENCE_NODE) {
            for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
                yaml_node_t *c = yaml_document_get_node(&L->doc, *it);
                if ((rc = want(L, c, YAML_SCALAR_NODE, key)) || (rc = set_scalar(L, o, obj, c, key, scalar(c))))
                    return rc;
            }
            return CUST_OK;
        }
        if ((rc = want(L, n, YAML_SCALAR_NODE, key)))
            return rc;
        return set_scalar(L, o, obj, n, key, scalar(n));
    case O_STRLIST: {
        char ***arr = AT(obj, char **, o->off);
        size_t *cnt = AT(obj, size_t, o->n_off);
        if ((rc = want(L, n, YAML_SEQUENCE_NODE, key)))
            return rc;
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
            yaml_node_t *c = yaml_document_get_node(&L->doc, *it);
            char *s;
            if ((rc = want(L, c, YAML_SCALAR_NODE, key)))
                return rc;
            if (!(s = expand(L, c, key, scalar(c), c->data.scalar.length)))
                return L->e->code;
            if (grow_array((void **)arr, cnt, sizeof(char *))) {
                free(s);
                return err_set(L->e, CUST_ENOMEM, "out of memory");
            }
            (*arr)[*cnt - 1] = s;
        }
        return CUST_OK;
    }
    case O_STRMAP: {
        char ***from = AT(obj, char **, o->off), ***to = AT(obj, char **, o->aux_off);
        size_t *cnt = AT(obj, size_t, o->n_off);
        if ((rc = want(L, n, YAML_MAPPING_NODE, key)))
            return rc;
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
            yaml_node_t *k = yaml_document_get_node(&L->doc, p->key);
            yaml_node_t *v = yaml_document_get_node(&L->doc, p->value);
            size_t m = *cnt;
            char *ks, *vs;
            if ((rc = want(L, k, YAML_SCALAR_NODE, key)) || (rc = want(L, v, YAML_SCALAR_NODE, key)))
                return rc;
            ks = strdup(scalar(k));
            vs = expand(L, v, key, scalar(v), v->data.scalar.length);
            if (!ks || !vs || grow_array((void **)from, cnt, sizeof(char *)) ||
                grow_array((void **)to, &m, sizeof(char *))) {
                free(ks);
                free(vs);
                return L->e->code ? L->e->code : err_set(L->e, CUST_ENOMEM, "out of memory");
            }
            (*from)[*cnt - 1] = ks;
            (*to)[m - 1] = vs;
        }
        return CUST_OK;
    }
    case O_LIST:
    case O_MAP: {
        void **arr = AT(obj, void *, o->off);
        size_t *cnt = AT(obj, size_t, o->n_off);
        int is_map = o->type == O_MAP;
        if ((rc = want(L, n, is_map ? YAML_MAPPING_NODE : YAML_SEQUENCE_NODE, key)))
            return rc;
        if (is_map) {
            for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
                yaml_node_t *k = yaml_document_get_node(&L->doc, p->key);
                yaml_node_t *v = yaml_document_get_node(&L->doc, p->value);
                char ctx[256];
                void *elem;
                if ((rc = want(L, k, YAML_SCALAR_NODE, key)))
                    return rc;
                snprintf(ctx, sizeof ctx, "%s.%s", key, scalar(k));
                for (size_t i = 0; i < *cnt; i++) {
                    char *prev = *AT((char *)*arr + i * o->sub->size, char *, (size_t)o->sub->name_off);
                    if (strcmp(prev, scalar(k)) == 0)
                        return fail(L, k, ctx, "declared twice");
                }
                if (grow_array(arr, cnt, o->sub->size))
                    return err_set(L->e, CUST_ENOMEM, "out of memory");
                elem = (char *)*arr + (*cnt - 1) * o->sub->size;
                if (!(*AT(elem, char *, (size_t)o->sub->name_off) = strdup(scalar(k))))
                    return err_set(L->e, CUST_ENOMEM, "out of memory");
                if (o->sub->line_off >= 0)
                    *AT(elem, int, (size_t)o->sub->line_off) = node_line(k);
                if ((rc = apply_defaults(L, o->sub, elem)))
                    return rc;
                if (v->type == YAML_SCALAR_NODE && v->data.scalar.length == 0)
                    continue; /* "name:" with nothing: all defaults */
                if ((rc = want(L, v, YAML_MAPPING_NODE, ctx)) || (rc = load_table(L, o->sub, elem, v, ctx)))
                    return rc;
            }
            return CUST_OK;
        }
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
            yaml_node_t *c = yaml_document_get_node(&L->doc, *it);
            char ctx[256];
            void *elem;
            snprintf(ctx, sizeof ctx, "%s[%zu]", key, *cnt);
            if ((rc = want(L, c, YAML_MAPPING_NODE, ctx)))
                return rc;
            if (grow_array(arr, cnt, o->sub->size))
                return err_set(L->e, CUST_ENOMEM, "out of memory");
            elem = (char *)*arr + (*cnt - 1) * o->sub->size;
            if (o->sub->line_off >= 0)
                *AT(elem, int, (size_t)o->sub->line_off) = node_line(c);
            if ((rc = apply_defaults(L, o->sub, elem)) || (rc = load_table(L, o->sub, elem, c, ctx)))
                return rc;
        }
        return CUST_OK;
    }
    default:
        if (n->type != YAML_SCALAR_NODE)
            return want(L, n, YAML_SCALAR_NODE, key);
        return set_scalar(L, o, obj, n, key, scalar(n));
    }
}

static cust_code apply_defaults(struct loader *L, const struct otab *t, void *obj)
{
    for (size_t i = 0; i < t->nopts; i++) {
        const struct opt *o = &t->opts[i];
        cust_code rc;
        if (o->type == O_TABLE) {
            if ((rc = apply_defaults(L, o->sub, (char *)obj + o->off)))
                return rc;
        } else if (o->def) {
            unsigned save = 0;
            /* A default does not count as "given" for presence markers. */
            if (o->aux_bit)
                save = *AT(obj, unsigned, o->aux_off);
            if ((rc = set_scalar(L, o, obj, NULL, o->name, o->def)))
                return rc;
            if (o->aux_bit)
                *AT(obj, unsigned, o->aux_off) = save;
        }
    }
    return CUST_OK;
}

static const struct opt *find_opt(const struct otab *t, const char *name)
{
    for (size_t i = 0; i < t->nopts; i++)
        if (strcmp(t->opts[i].name, name) == 0)
            return &t->opts[i];
    return NULL;
}

/* Nearest option name, for "did you mean". */
static const char *suggest(const struct otab *t, const char *name)
{
    const char *best = NULL;
    size_t bestd = 3;
    for (size_t i = 0; i < t->nopts; i++) {
        const char *a = t->opts[i].name;
        size_t la = strlen(a), lb = strlen(name), d;
        size_t prev[64], cur[64];
        if (la >= 63 || lb >= 63)
            continue;
        for (size_t j = 0; j <= lb; j++)
            prev[j] = j;
        for (size_t x = 1; x <= la; x++) {
            cur[0] = x;
            for (size_t j = 1; j <= lb; j++) {
                size_t c = prev[j - 1] + (a[x - 1] != name[j - 1]);
                if (prev[j] + 1 < c)
                    c = prev[j] + 1;
                if (cur[j - 1] + 1 < c)
                    c = cur[j - 1] + 1;
                cur[j] = c;
            }
            memcpy(prev, cur, (lb + 1) * sizeof *cur);
        }
        d = prev[lb];
        if (d < bestd) {
            bestd = d;
            best = a;
        }
    }
    return best;
}

static cust_code load_table(struct loader *L, const struct otab *t, void *obj, yaml_node_t *map,
                            const char *ctx)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(&L->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(&L->doc, p->value);
        const struct opt *o;
        char key[256];
        cust_code rc;
        if (k->type != YAML_SCALAR_NODE)
            return fail(L, k, ctx, "keys must be plain names");
        if (ctx[0])
            snprintf(key, sizeof key, "%s.%s", ctx, scalar(k));
        else
            snprintf(key, sizeof key, "%s", scalar(k));
        for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
            yaml_node_t *k2 = yaml_document_get_node(&L->doc, q->key);
            if (k2->type == YAML_SCALAR_NODE && strcmp(scalar(k2), scalar(k)) == 0)
                return fail(L, k, key, "given twice (first at line %d)", node_line(k2));
        }
        o = find_opt(t, scalar(k));
        if (!o) {
            const char *s = suggest(t, scalar(k));
            if (s)
                return fail(L, k, key, "unknown option; did you mean \"%s\"?", s);
            return fail(L, k, key, "unknown option in %s; see docs/configuration.md", t->name);
        }
        if ((rc = set_option(L, o, obj, v, key)))
            return rc;
    }
    for (size_t i = 0; i < t->nopts; i++) {
        const struct opt *o = &t->opts[i];
        int found = 0;
        if (!(o->flags & F_REQ))
            continue;
        for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
            yaml_node_t *k = yaml_document_get_node(&L->doc, p->key);
            if (strcmp(scalar(k), o->name) == 0)
                found = 1;
        }
        if (!found)
            return fail(L, map, ctx[0] ? ctx : o->name, "missing required option \"%s\" (%s)", o->name, o->help);
    }
    return CUST_OK;
}

/* ---- semantic checks ---------------------------------------------------- */

static void print_table(FILE *out, const struct otab *t, const void *obj, int ind, int first_dash);
/* set while hashing a contract: its fields count even when they came from a schema */
static _Thread_local int print_schema_fields;

/* The contract's effective form, printed by the option table, names
 * exactly the rules a record was judged by: its SHA-256. -1 on ENOMEM. */
static int contract_hash_of(const contract *k, char out[65])
{
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    if (!m)
        return -1;
    print_schema_fields = 1;
    print_table(m, &contract_tab, k, 0, 0);
    print_schema_fields = 0;
    fclose(m);
    jcs_sha256_hex(text ? text : "", len, out);
    free(text);
    return 0;
}

/* A source's schedule must parse and its zone exist, so `custody check`
 * catches "America/New_Yrok" before the daemon runs. */
static cust_code check_schedule(const source_cfg *s, const char *f, struct err *e)
{
    sched_spec spec;
    tz_zone *z = NULL;
    struct err se = {0};
    char zone[TZ_NAME_MAX] = "";
    cust_code rc = CUST_OK;
    if (s->daily)
        rc = sched_parse_daily(s->daily, &spec, zone, &se);
    else if (s->cron)
        rc = sched_parse_cron(s->cron, &spec, &se);
    if (rc)
        return err_set(e, CUST_ECONFIG, "%s:%d: %s.%s: %s", f, s->line, s->name, s->daily ? "daily" : "cron",
                       se.msg);
    if (!s->daily && !s->cron)
        return CUST_OK;
    if ((rc = tz_load(s->daily ? (zone[0] ? zone : "UTC") : s->timezone, &z, &se)))
        return err_set(e, CUST_ECONFIG, "%s:%d: %s.%s: %s", f, s->line, s->name, s->daily ? "daily" : "timezone",
                       se.msg);
    sched_set_zone(&spec, z);
    if (sched_next(&spec, 0) < 0)
        rc = err_set(e, CUST_ECONFIG, "%s:%d: %s.cron: \"%s\" never fires (no such date); check the day and "
                     "month fields", f, s->line, s->name, s->cron);
    tz_free(z);
    return rc;
}

static cust_code check_source(struct loader *L, config *c, source_cfg *s, size_t idx)
{
    struct err *e = L->e;
    const char *f = L->file;
    if (!s->name[0] || strspn(s->name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.") !=
                           strlen(s->name) || s->name[0] == '.')
        return err_set(e, CUST_ECONFIG,
                       "%s:%d: sources[%zu].name: \"%s\" is not a valid name; use letters, digits, '_', '-', '.'",
                       f, s->line, idx, s->name);
    for (size_t j = 0; j < idx; j++)
        if (strcmp(c->sources[j].name, s->name) == 0)
            return err_set(e, CUST_ECONFIG, "%s:%d: sources[%zu].name: \"%s\" is already used at line %d",
                           f, s->line, idx, s->name, c->sources[j].line);
    if (!s->url == !s->files.dir)
        return err_set(e, CUST_ECONFIG, "%s:%d: %s: give request.url (an API) or files.dir (a drop "
                       "directory), exactly one", f, s->line, s->name);
    if (s->files.dir) {
        if (strlen(s->files.delimiter) != 1 || strchr("\"\r\n", s->files.delimiter[0]) ||
            (unsigned char)s->files.delimiter[0] >= 0x80)
            return err_set(e, CUST_ECONFIG, "%s:%d: %s.files.delimiter: one ASCII character other than a quote "
                           "or line end", f, s->line, s->name);
        if (!s->files.done_dir[0] || strstr(s->files.done_dir, ".."))
            return err_set(e, CUST_ECONFIG, "%s:%d: %s.files.done_dir: a directory name inside files.dir", f,
                           s->line, s->name);
        if (strcmp(s->pagination_type, "none") != 0 || s->incremental.param || s->snapshot)
            return err_set(e, CUST_ECONFIG, "%s:%d: %s: a file source has no pagination, incremental or "
                           "snapshot", f, s->line, s->name);
    }
    if (s->url && strncmp(s->url, "http://", 7) != 0 && strncmp(s->url, "https://", 8) != 0)
        return err_set(e, CUST_ECONFIG, "%s:%d: %s.request.url: \"%s\" must start with http:// or https://",
                       f, s->line, s->name, s->url);
    for (size_t j = 0; j < s->nfallbacks; j++)
        if (strncmp(s->fallbacks[j], "http://", 7) != 0 && strncmp(s->fallbacks[j], "https://", 8) != 0)
            return err_set(e, CUST_ECONFIG, "%s:%d: %s.request.fallback[%zu]: \"%s\" must start with http:// "
                           "or https://", f, s->line, s->name, j, s->fallbacks[j]);
    if (strcmp(s->method, "POST") == 0 && !s->body)
        return err_set(e, CUST_ECONFIG, "%s:%d: %s.request.body: POST needs a body (the search request, as "
                       "JSON text)", f, s->line, s->name);
    if (s->body && strcmp(s->method, "POST") != 0)
        return err_set(e, CUST_ECONFIG, "%s:%d: %s.request.body: only POST sends a body; set method: POST",
                       f, s->line, s->name);
    for (size_t j = 0; j < s->nheaders; j++) {
        const char *h = s->header_names[j];
        if (!*h || strspn(h, "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") !=
                       strlen(h) || strpbrk(s->header_values[j], "\r\n"))
            return err_set(e, CUST_ECONFIG, "%s:%d: %s.request.headers.%s: not a valid header name or value",
                           f, s->line, s->name, h);
        if (strcasecmp(h, "Authorization") == 0 || strcasecmp(h, "Proxy-Authorization") == 0 ||
            strcasecmp(h, "Cookie") == 0)
            return err_set(e, CUST_ECONFIG, "%s:%d: %s.request.headers.%s: credentials go under auth (by "
                           "reference), never inline", f, s->line, s->name, h);
    }
    if (s->auth.token_env && (!s->auth.token_env[0] || strspn(s->auth.token_env, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                              "abcdefghijklmnopqrstuvwxyz0123456789_") !=
                                                          strlen(s->auth.token_env) ||
                              (s->auth.token_env[0] >= '0' && s->auth.token_env[0] <= '9')))
        /* Never echo it: a secret pasted here by mistake must not reach a log. */
        return err_set(e, CUST_ECONFIG,
                       "%s:%d: %s.request.auth.token_env: not an environment variable name (letters, digits, "
                       "'_'); give the variable's NAME, never the secret itself",
                       f, s->auth.line ? s->auth.line : s->line, s->name);
    if (s->auth.token_file && !s->auth.token_file[0])
        return err_set(e, CUST_ECONFIG, "%s:%d: %s.request.auth.token_file: empty path", f,
                       s->auth.line ? s->auth.line : s->line, s->name);
    {
        struct err ae = {0};
        if (auth_check(&s->auth, &ae))
            return err_set(e, CUST_ECONFIG, "%s:%d: %s.request.auth: %s", f, s->auth.line ? s->auth.line : s->line,
                           s->name, ae.msg);
    }
    if ((s->tls.client_cert == NULL) != (s->tls.client_key == NULL))
        return err_set(e, CUST_ECONFIG, "%s:%d: %s.request.tls: client_cert and client_key go together", f,
                       s->line, s->name);
    /* retry */
    retry_policy_default(&s->retry_policy);
    if (s->retry.attempts < 1 || s->retry.attempts > 100)
        return err_set(e, CUST_ECONFIG, "%s:%d: %s.retry.attempts: %ld is out of range 1..100", f, s->line,
                       s->name, s->retry.attempts);
    if (s->retry.base_ms <= 0 || s->retry.max_ms < s->retry.base_ms || s->retry.max_wait_ms < 0)
        return err_set(e, CUST_ECONFIG, "%s:%d: %s.retry: base must be positive and max at least base", f,
                       s->line, s->name);
    s->retry_policy.attempts = (int)s->retry.attempts;
    s->retry_policy.base_ms = s->retry.base_ms;
    s->retry_policy.cap_ms = s->retry.max_ms;
    s->retry_policy.max_wait_ms = s->retry.max_wait_ms;
    s->retry_policy.retry_post = s->retry.post;
    if (s->retry.non) {
        if (s->retry.non > POLICY_MAX_STATUSES)
            return err_set(e, CUST_ECONFIG, "%s:%d: %s.retry.on: at most %d statuses", f, s->line, s->name,
                           POLICY_MAX_STATUSES);
        s->retry_policy.nstatuses = 0;
        for (size_t j = 0; j < s->retry.non; j++) {
            char *end;
            long v = strtol(s->retry.on[j], &end, 10);
            if (*end || end == s->retry.on[j] || v < 100 || v > 599)
                return err_set(e, CUST_ECONFIG, "%s:%d: %s.retry.on: \"%s\" is not an HTTP status (100..599)",
                               f, s->line, s->name, s->retry.on[j]);
            s->retry_policy.statuses[s->retry_policy.nstatuses++] = (int)v;
        }
    }
    /* rate limit */
    if (s->rate.requests < 0 || s->rate.per_ms <= 0 || s->rate.burst < 0)
        return err_set(e, CUST_ECONFIG, "%s:%d: %s.rate_limit: requests, per and burst must not be negative",
                       f, s->line, s->name);
    if (s->rate.pool) {
        for (size_t j = 0; j < c->npools; j++)
            if (strcmp(c->pools[j].name, s->rate.pool) == 0)
                s->pool = &c->pools[j];
        if (!s->pool)
            return err_set(e, CUST_ECONFIG, "%s:%d: %s.rate_limit.pool: no pool named \"%s\" under pools", f,
                           s->line, s->name, s->rate.pool);
        if (s->rate.requests > 0)
            return err_set(e, CUST_ECONFIG, "%s:%d: %s.rate_limit: give either pool or requests, not both", f,
                           s->line, s->name);
    }
    if (s->pool && s->pool->requests <= 0)
        return err_set(e, CUST_ECONFIG, "%s:%d: %s.rate_limit.pool: pool \"%s\" has no requests budget; give "
                       "pools.%s.requests, or use `pool:` for a concurrency pool only", f, s->line, s->name,
                       s->pool->name, s->pool->name);
    /* tenant pool and schedule (custody run) */
    {
        const char *pn = s->pool_name ? s->pool_name : s->rate.pool;
        if (pn) {
            for (size_t j = 0; j < c->npools; j++)
                if (strcmp(c->pools[j].name, pn) == 0)
                    s->tenant = &c->pools[j];
            if (!s->tenant)
                return err_set(e, CUST_ECONFIG, "%s:%d: %s.pool: no pool named \"%s\" under pools", f, s->line,
                               s->name, pn);
        }
    }
    s->priority = 5;
    if (s->tier) {
        const tier_cfg *t = NULL;
        for (size_t j = 0; j < c->ntiers; j++)
            if (strcmp(c->tiers[j].name, s->tier) == 0)
                t = &c->tiers[j];
        if (!t)
            return err_set(e, CUST_ECONFIG, "%s:%d: %s.tier: no tier named \"%s\" under tiers", f, s->line,
                           s->name, s->tier);
        s->priority = t->priority;
        if (!s->every_ms && !s->daily && !s->cron)
            s->every_ms = t->every_ms;
    }
    if ((s->every_ms != 0) + (s->daily != NULL) + (s->cron != NULL) > 1)
        return err_set(e, CUST_ECONFIG, "%s:%d: %s: give one of every, daily and cron", f, s->line, s->name);
    if (s->every_ms && s->every_ms < 1000)
        return err_set(e, CUST_ECONFIG, "%s:%d: %s.every: at least 1s", f, s->line, s->name);
    if (s->jitter_ms < 0)
        return err_set(e, CUST_ECONFIG, "%s:%d: %s.jitter: must not be negative", f, s->line, s->name);
    if (check_schedule(s, f, e))
        return e->code;
    /* breaker */
    if (s->breaker.failures < 0 || s->breaker.cooldown_ms < 0 || s->breaker.probes < 1)
        return err_set(e, CUST_ECONFIG, "%s:%d: %s.breaker: failures >= 0, cooldown >= 0, probes >= 1", f,
                       s->line, s->name);
    s->breaker_policy.failures = (int)s->breaker.failures;
    s->breaker_policy.cooldown_ms = s->breaker.cooldown_ms;
    s->breaker_policy.probes = (int)s->breaker.probes;
    if (!!s->incremental.param != !!s->incremental.field)
        return err_set(e, CUST_ECONFIG, "%s:%d: %s.incremental: param and field go together (what to send, "
                       "and which record field moves it)", f, s->line, s->name);
    if (s->incremental.initial) {
        int64_t t;
        if (!timefmt_parse((time_format)s->incremental.format, s->incremental.initial,
                           strlen(s->incremental.initial), &t))
            return err_set(e, CUST_ECONFIG, "%s:%d: %s.incremental.initial: \"%s\" is not a %s instant", f,
                           s->line, s->name, s->incremental.initial, time_formats[s->incremental.format]);
    }
    if (!!s->incremental.until != !!s->incremental.until_param)
        return err_set(e, CUST_ECONFIG, "%s:%d: %s.incremental: until and until_param go together", f, s->line,
                       s->name);
    if (s->snapshot && (s->max_pages || s->incremental.param))
        return err_set(e, CUST_ECONFIG, "%s:%d: %s.snapshot: a snapshot is the whole list in one cycle: it "
                       "excludes max_pages and incremental", f, s->line, s->name);
    if (s->retention.years < 0 || s->retention.years > 200)
        return err_set(e, CUST_ECONFIG, "%s:%d: %s.retention.years: %ld is out of range 0..200", f, s->line,
                       s->name, s->retention.years);
    if ((strcmp(s->retention.from, "field") == 0) != (s->retention.field != NULL))
        return err_set(e, CUST_ECONFIG, "%s:%d: %s.retention: from: field needs field: NAME (and field only "
                       "goes with from: field)", f, s->line, s->name);
    if (s->retention.field) {
        int found = 0;
        for (size_t j = 0; j < c->ncontracts; j++)
            if (strcmp(c->contracts[j].name, s->contract_name) == 0)
                for (size_t k = 0; k < c->contracts[j].nfields; k++)
                    found |= strcmp(c->contracts[j].fields[k].name, s->retention.field) == 0;
        if (!found)
            return err_set(e, CUST_ECONFIG, "%s:%d: %s.retention.field: the contract %s has no field \"%s\"",
                           f, s->line, s->name, s->contract_name, s->retention.field);
    }
    if (s->low_speed_ms < 0 || s->low_speed_bytes < 1)
        return err_set(e, CUST_ECONFIG, "%s:%d: %s.request.timeout: low_speed must not be negative and "
                       "low_speed_bytes at least 1", f, s->line, s->name);
    s->pagination.ops = paginate_lookup(s->pagination_type);
    s->pagination.records = s->records;
    s->pagination.body = s->body;
    if (!s->pagination.param) {
        static const char *const def[][2] = {{"cursor", "cursor"}, {"offset", "offset"}, {"page", "page"},
                                            {"last_id", "after"}};
        for (size_t k = 0; k < sizeof def / sizeof *def; k++)
            if (strcmp(s->pagination_type, def[k][0]) == 0 && !(s->pagination.param = strdup(def[k][1])))
                return err_set(e, CUST_ENOMEM, "out of memory");
    }
    if (s->pagination.start < 0)
        s->pagination.start = strcmp(s->pagination_type, "page") == 0 ? 1 : 0;
    if (s->pagination.in == PAGE_IN_BODY && strcmp(s->method, "POST") != 0)
        return err_set(e, CUST_ECONFIG, "%s:%d: %s.pagination.in: body needs request.method: POST and "
                       "request.body as the template", f, s->line, s->name);
    if (s->pagination.ops && s->pagination.ops->check) {
        struct err pe = {0};
        if (s->pagination.ops->check(&s->pagination, &pe))
            return err_set(e, CUST_ECONFIG, "%s:%d: %s.%s", f, s->line, s->name, pe.msg);
    }
    if (s->commit_pages < 1 || s->commit_pages > 10000)
        return err_set(e, CUST_ECONFIG, "%s:%d: %s.commit_pages: %ld is out of range 1..10000", f,
                       s->line, s->name, s->commit_pages);
    if (s->max_pages < 0 || s->pagination.limit < 0)
        return err_set(e, CUST_ECONFIG, "%s:%d: %s: max_pages and pagination.limit must not be negative",
                       f, s->line, s->name);
    if (s->connect_timeout_ms <= 0 || s->total_timeout_ms <= 0)
        return err_set(e, CUST_ECONFIG, "%s:%d: %s.request.timeout: timeouts must be positive", f,
                       s->line, s->name);
    if (s->max_body_bytes < 1024)
        return err_set(e, CUST_ECONFIG, "%s:%d: %s.request.max_body: must be at least 1KiB", f,
                       s->line, s->name);
    for (size_t j = 0; j < c->ncontracts; j++)
        if (strcmp(c->contracts[j].name, s->contract_name) == 0)
            s->contract = &c->contracts[j];
    if (!s->contract)
        return err_set(e, CUST_ECONFIG, "%s:%d: %s.contract: no contract named \"%s\" under contracts",
                       f, s->line, s->name, s->contract_name);
    if (contract_hash_of(s->contract, s->contract_hash))
        return err_set(e, CUST_ENOMEM, "out of memory");
    for (size_t k = 0; k < s->nindex; k++) {
        int found = 0;
        for (size_t j = 0; j < s->contract->nfields; j++)
            found |= strcmp(s->contract->fields[j].name, s->index[k]) == 0;
        for (size_t j = 0; j < s->contract->ncomputed; j++)
            found |= strcmp(s->contract->computed[j].name, s->index[k]) == 0;
        if (!found)
            return err_set(e, CUST_ECONFIG, "%s:%d: %s.index: the contract %s has no field \"%s\"; index names "
                           "the record's own fields (after from: and computed)", f, s->line, s->name,
                           s->contract_name, s->index[k]);
        for (size_t j = 0; j < k; j++)
            if (strcmp(s->index[j], s->index[k]) == 0)
                return err_set(e, CUST_ECONFIG, "%s:%d: %s.index: \"%s\" is listed twice", f, s->line, s->name,
                               s->index[k]);
    }
    if (s->webhook.scheme) {
        for (size_t j = 0; j < c->ncontracts; j++)
            if (strcmp(c->contracts[j].name, s->webhook.contract_name) == 0)
                s->webhook.contract = &c->contracts[j];
        if (!s->webhook.contract)
            return err_set(e, CUST_ECONFIG, "%s:%d: %s.webhook.contract: no contract named \"%s\" under contracts",
                           f, s->line, s->name, s->webhook.contract_name);
        if (contract_hash_of(s->webhook.contract, s->webhook.contract_hash))
            return err_set(e, CUST_ENOMEM, "out of memory");
        if (s->webhook.max_body < 1024 || s->webhook.hold_for_ms < 1000 || s->webhook.tolerance_ms < 1000)
            return err_set(e, CUST_ECONFIG, "%s:%d: %s.webhook: max_body at least 1KiB, hold_for and tolerance at "
                           "least 1s", f, s->line, s->name);
        if (s->files.dir)
            return err_set(e, CUST_ECONFIG, "%s:%d: %s.webhook: a file source takes no webhooks", f, s->line,
                           s->name);
    }
    return CUST_OK;
}

/* fields from a JSON Schema file, named relative to the config file */
static cust_code load_schema(struct loader *L, contract *k)
{
    char path[4096];
    FILE *f;
    buf text;
    char chunk[65536];
    size_t n;
    json_doc *d = NULL;
    json_value *v;
    struct err je = {0};
    cust_code rc = CUST_OK;
    const char *slash = strrchr(L->file, '/');
    if (k->schema_file[0] == '/' || !slash)
        snprintf(path, sizeof path, "%s", k->schema_file);
    else
        snprintf(path, sizeof path, "%.*s/%s", (int)(slash - L->file), L->file, k->schema_file);
    buf_init(&text, 16u << 20);
    if (!(f = fopen(path, "rb")))
        return err_set(L->e, CUST_ECONFIG, "%s:%d: contracts.%s.schema_file: cannot open %s: %s", L->file, k->line,
                       k->name, path, strerror(errno));
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (buf_add(&text, chunk, n)) {
            rc = err_set(L->e, CUST_ECONFIG, "%s:%d: contracts.%s.schema_file: %s is larger than 16 MiB", L->file,
                         k->line, k->name, path);
            break;
        }
    fclose(f);
    if (!rc && !(d = json_doc_new()))
        rc = err_set(L->e, CUST_ENOMEM, "out of memory");
    if (!rc && !(v = json_parse(d, text.ptr ? text.ptr : "", text.len, NULL, &je)))
        rc = err_set(L->e, CUST_ECONFIG, "%s:%d: contracts.%s.schema_file: %s is not JSON: %s", L->file, k->line,
                     k->name, path, je.msg);
    if (!rc && jsonschema_to_contract(v, k, &je))
        rc = err_set(L->e, CUST_ECONFIG, "%s:%d: contracts.%s.schema_file: %s %s", L->file, k->line, k->name, path,
                     je.msg);
    json_doc_free(d);
    buf_release(&text);
    return rc;
}

/* A NATS subject prefix: dot-separated tokens of letters, digits, '_', '-'
 * (no wildcards, no spaces). 1 when valid. */
static int nats_prefix_ok(const char *p)
{
    static const char tok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-";
    size_t n;
    if (!*p || strlen(p) > 200)
        return 0;
    for (;;) {
        n = strspn(p, tok);
        if (!n)
            return 0;
        p += n;
        if (!*p)
            return 1;
        if (*p++ != '.')
            return 0;
    }
}

static cust_code check_nats(struct loader *L, const nats_cfg *n)
{
    const char *f = L->file, *u;
    if (!n->stream)
        return CUST_OK;
    if (!n->stream[0] || strlen(n->stream) > 200 ||
        strspn(n->stream, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != strlen(n->stream))
        return err_set(L->e, CUST_ECONFIG, "%s:%d: outbox.nats.stream: \"%s\" is not a valid stream name; use "
                       "letters, digits, '_', '-' (at most 200)", f, n->line, n->stream);
    if (!nats_prefix_ok(n->subject_prefix))
        return err_set(L->e, CUST_ECONFIG, "%s:%d: outbox.nats.subject_prefix: \"%s\" is not a subject prefix; "
                       "write dot-separated tokens of letters, digits, '_', '-' (custody, or acme.custody)", f,
                       n->line, n->subject_prefix);
    for (u = n->url;;) {
        const char *comma = strchr(u, ',');
        size_t len = comma ? (size_t)(comma - u) : strlen(u);
        while (len && *u == ' ')
            u++, len--;
        if (!((len > 7 && !strncmp(u, "nats://", 7)) || (len > 6 && !strncmp(u, "tls://", 6))) ||
            memchr(u, ' ', len))
            return err_set(L->e, CUST_ECONFIG, "%s:%d: outbox.nats.url: \"%s\": write nats://HOST:PORT or "
                           "tls://HOST:PORT, several separated by commas", f, n->line, n->url);
        if (!comma)
            break;
        u = comma + 1;
    }
    if (n->batch < 1 || n->batch > 65536)
        return err_set(L->e, CUST_ECONFIG, "%s:%d: outbox.nats.batch: %ld; give 1..65536", f, n->line, n->batch);
    if (n->ack_timeout_ms < 100 || n->connect_timeout_ms < 100 || n->retry_max_ms < 250)
        return err_set(L->e, CUST_ECONFIG, "%s:%d: outbox.nats: ack_timeout and connect_timeout must be at least "
                       "100ms, retry_max at least 250ms", f, n->line);
    if (n->duplicate_window_ms < 1000)
        return err_set(L->e, CUST_ECONFIG, "%s:%d: outbox.nats.duplicate_window: at least 1s (the broker's dedupe "
                       "is what makes a resend harmless)", f, n->line);
    if (n->attempts < 1)
        return err_set(L->e, CUST_ECONFIG, "%s:%d: outbox.nats.attempts: at least 1", f, n->line);
    return CUST_OK;
}

static cust_code check_config(struct loader *L, config *c)
{
    cust_code rc;
    if (c->nsources == 0)
        return err_set(L->e, CUST_ECONFIG, "%s:1: sources: at least one source is needed", L->file);
    for (size_t i = 0; i < c->npools; i++)
        if (c->pools[i].requests < 0 || c->pools[i].per_ms <= 0 || c->pools[i].burst < 0 ||
            c->pools[i].max_concurrent < 0)
            return err_set(L->e, CUST_ECONFIG, "%s:%d: pools.%s: requests, burst and max_concurrent must not be "
                           "negative, per must be positive", L->file, c->pools[i].line, c->pools[i].name);
    for (size_t i = 0; i < c->ntiers; i++)
        if (c->tiers[i].every_ms < 1000 || c->tiers[i].priority < 0 || c->tiers[i].priority > 9)
            return err_set(L->e, CUST_ECONFIG, "%s:%d: tiers.%s: every must be at least 1s and priority 0..9",
                           L->file, c->tiers[i].line, c->tiers[i].name);
    if (c->run.lease_ttl_ms < 1000)
        return err_set(L->e, CUST_ECONFIG, "%s:1: run.lease_ttl: at least 1s (a lease must outlive a commit)",
                       L->file);
    if (c->run.max_concurrent < 1 || c->run.max_concurrent > 100000)
        return err_set(L->e, CUST_ECONFIG, "%s:1: run.max_concurrent: %ld; give 1..100000", L->file,
                       c->run.max_concurrent);
    if (c->run.backoff < 1 || c->run.max_factor < 1 || c->run.default_every_ms < 1000 || c->run.catch_up_ms < 0)
        return err_set(L->e, CUST_ECONFIG, "%s:1: run: backoff and max_factor must be at least 1, default_every "
                       "at least 1s", L->file);
    if (c->alerts.rejection_ratio < 0 || c->alerts.rejection_ratio > 1 || c->alerts.stuck_cycles < 1 ||
        c->alerts.webhook_attempts < 1 || c->alerts.command_timeout_ms < 1000)
        return err_set(L->e, CUST_ECONFIG, "%s:1: alerts: rejection_ratio 0..1, stuck_cycles and "
                       "webhook_attempts at least 1, command_timeout at least 1s", L->file);
    if (c->serve.listen) {
        const char *colon = strrchr(c->serve.listen, ':');
        int loop = !strncmp(c->serve.listen, "127.", 4) || !strncmp(c->serve.listen, "[::1]:", 6) ||
                   !strncmp(c->serve.listen, "localhost:", 10);
        char *end = NULL;
        long port = colon ? strtol(colon + 1, &end, 10) : -1;
        if (!colon || colon == c->serve.listen || end == colon + 1 || *end || port < 0 || port > 65535)
            return err_set(L->e, CUST_ECONFIG, "%s:1: serve.listen: \"%s\": write ADDRESS:PORT, e.g. "
                           "127.0.0.1:8650 or [::1]:8650", L->file, c->serve.listen);
        c->serve.port = (int)port;
        if (!!c->serve.tls_cert != !!c->serve.tls_key)
            return err_set(L->e, CUST_ECONFIG, "%s:1: serve: tls_cert and tls_key go together", L->file);
        if (!loop && !c->serve.tls_cert)
            return err_set(L->e, CUST_ECONFIG, "%s:1: serve.listen: %s is not loopback; serving webhooks and the "
                           "operator page beyond this machine needs tls_cert and tls_key", L->file, c->serve.listen);
        if (c->serve.max_connections < 1)
            return err_set(L->e, CUST_ECONFIG, "%s:1: serve.max_connections: at least 1", L->file);
    }
    if (c->alerts.webhook && strncmp(c->alerts.webhook, "http://", 7) != 0 &&
        strncmp(c->alerts.webhook, "https://", 8) != 0)
        return err_set(L->e, CUST_ECONFIG, "%s:1: alerts.webhook: \"%s\" is not an http(s) URL", L->file,
                       c->alerts.webhook);
    if ((rc = check_nats(L, &c->outbox.nats)))
        return rc;
    for (size_t i = 0; i < c->ncontracts; i++) {
        struct err ce = {0};
        contract *k = &c->contracts[i];
        if (!!k->schema_file == !!k->nfields)
            return err_set(L->e, CUST_ECONFIG, "%s:%d: contracts.%s: give fields or schema_file (a JSON Schema), "
                           "exactly one", L->file, k->line, k->name);
        if (k->schema_file && load_schema(L, k))
            return L->e->code;
        if (contract_compile(&c->contracts[i], &ce))
            return err_set(L->e, CUST_ECONFIG, "%s:%d: contracts.%s: %s", L->file, c->contracts[i].line,
                           c->contracts[i].name, ce.msg);
    }
    for (size_t i = 0; i < c->nsources; i++)
        if ((rc = check_source(L, c, &c->sources[i], i)))
            return rc;
    if (strncmp(c->store, "sqlite:", 7) != 0 && !config_store_shared(c))
        return err_set(L->e, CUST_ECONFIG, "%s:1: store: \"%s\" is not supported; write sqlite:PATH or "
                       "postgresql://USER@HOST:PORT/DB",
                       L->file, c->store);
    return CUST_OK;
}

/* ---- public ------------------------------------------------------------- */

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

/* Make *path (owned, may be NULL) absolute against dir; -1 on ENOMEM. */
static int resolve_path(const char *dir, char **path)
{
    char *abs;
    size_t n;
    if (!*path || (*path)[0] == '/')
        return 0;
    n = strlen(dir) + strlen(*path) + 2;
    if (!(abs = malloc(n)))
        return -1;
    snprintf(abs, n, "%s/%s", dir, *path);
    free(*path);
    *path = abs;
    return 0;
}

cust_code config_load_string(const char *text, size_t len, const char *name, config **out,
                             struct err *e)
{
    yaml_parser_t parser;
    struct loader L;
    config *c = NULL;
    yaml_node_t *root;
    cust_code rc = CUST_OK;
    int have_doc = 0;

    struct err local = {0};
    if (!e)
        e = &local; /* the loader reads back the code it set */
    *out = NULL;
    memset(&L, 0, sizeof L);
    L.file = name;
    L.e = e;
    if (!yaml_parser_initialize(&parser))
        return err_set(e, CUST_ENOMEM, "out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &L.doc)) {
        rc = err_set(e, CUST_ECONFIG, "%s:%zu: YAML syntax error: %s%s%s", name,
                     parser.problem_mark.line + 1, parser.problem ? parser.problem : "unknown",
                     parser.context ? " " : "", parser.context ? parser.context : "");
        goto out;
    }
    have_doc = 1;
    root = yaml_document_get_root_node(&L.doc);
    if (!root) {
        rc = err_set(e, CUST_ECONFIG, "%s:1: the file is empty; see examples/ for a starting point", name);
        goto out;
    }
    if (!(c = calloc(1, sizeof *c))) {
        rc = err_set(e, CUST_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = want(&L, root, YAML_MAPPING_NODE, "top level")) || (rc = apply_defaults(&L, &top_tab, c)) ||
        (rc = load_table(&L, &top_tab, c, root, "")) || (rc = check_config(&L, c)))
        goto out;
    if (!(c->path = strdup(name)) || !(c->dir = dir_of(name))) {
        rc = err_set(e, CUST_ENOMEM, "out of memory");
        goto out;
    }
    /* Files the config names (secrets, keys, CAs, drop directories) are
     * relative to the config file, like the store. */
    if (resolve_path(c->dir, &c->signing_key) || resolve_path(c->dir, &c->verify_key) ||
        resolve_path(c->dir, &c->serve.tls_cert) || resolve_path(c->dir, &c->serve.tls_key) ||
        resolve_path(c->dir, &c->outbox.nats.tls_ca)) {
        rc = err_set(e, CUST_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < c->nsources; i++) {
        source_cfg *sc = &c->sources[i];
        char **files[] = {&sc->auth.token_file, &sc->tls.ca_file, &sc->tls.client_cert, &sc->tls.client_key,
                          &sc->files.dir};
        for (size_t k = 0; k < sizeof files / sizeof *files; k++)
            if (resolve_path(c->dir, files[k])) {
                rc = err_set(e, CUST_ENOMEM, "out of memory");
                goto out;
            }
    }
    jcs_sha256_hex(text, len, c->hash);
    *out = c;
    c = NULL;
out:
    config_free(c);
    if (have_doc)
        yaml_document_delete(&L.doc);
    yaml_parser_delete(&parser);
    return rc;
}

cust_code config_load(const char *path, config **out, struct err *e)
{
    FILE *f = fopen(path, "rb");
    buf b;
    char chunk[65536];
    size_t n;
    cust_code rc;
    *out = NULL;
    if (!f)
        return err_setc(e, errno == ENOENT ? CUST_ECONFIG : CUST_EIO, errno,
                        "%s: cannot open config: %s%s", path, strerror(errno),
                        errno == ENOENT ? " (give one with -c FILE or $CUSTODY_CONFIG; examples/ has samples)" : "");
    buf_init(&b, 16u << 20);
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (buf_add(&b, chunk, n)) {
            fclose(f);
            buf_release(&b);
            return err_set(e, CUST_ECONFIG, "%s: config file larger than 16 MiB", path);
        }
    if (ferror(f)) {
        rc = err_setc(e, CUST_EIO, errno, "%s: read error: %s", path, strerror(errno));
        fclose(f);
        buf_release(&b);
        return rc;
    }
    fclose(f);
    rc = config_load_string(buf_str(&b), b.len, path, out, e);
    buf_release(&b);
    return rc;
}

static void free_table(const struct otab *t, void *obj)
{
    for (size_t i = 0; i < t->nopts; i++) {
        const struct opt *o = &t->opts[i];
        switch (o->type) {
        case O_STR:
        case O_REF:
        case O_PATH:
        case O_ENUM:
            free(*AT(obj, char *, o->off));
            *AT(obj, char *, o->off) = NULL;
            break;
        case O_TABLE:
            free_table(o->sub, (char *)obj + o->off);
            break;
        case O_STRLIST:
        case O_STRMAP: {
            size_t n = *AT(obj, size_t, o->n_off);
            char **a = *AT(obj, char **, o->off);
            for (size_t k = 0; k < n; k++)
                free(a[k]);
            free(a);
            *AT(obj, char **, o->off) = NULL;
            if (o->type == O_STRMAP) {
                a = *AT(obj, char **, o->aux_off);
                for (size_t k = 0; k < n; k++)
                    free(a ? a[k] : NULL);
                free(a);
                *AT(obj, char **, o->aux_off) = NULL;
            }
            *AT(obj, size_t, o->n_off) = 0;
            break;
        }
        case O_LIST:
        case O_MAP: {
            size_t n = *AT(obj, size_t, o->n_off);
            char *a = *AT(obj, char *, o->off);
            for (size_t k = 0; k < n; k++) {
                free_table(o->sub, a + k * o->sub->size);
                if (o->sub->name_off >= 0)
                    free(*AT(a + k * o->sub->size, char *, (size_t)o->sub->name_off));
            }
            free(a);
            *AT(obj, char *, o->off) = NULL;
            *AT(obj, size_t, o->n_off) = 0;
            break;
        }
        default:
            break;
        }
    }
}

void config_free(config *c)
{
    if (!c)
        return;
    /* contract_release owns the contracts' strings and compiled patterns. */
    for (size_t i = 0; i < c->ncontracts; i++)
        contract_release(&c->contracts[i]);
    free(c->contracts);
    c->contracts = NULL;
    c->ncontracts = 0;
    free_table(&top_tab, c);
    free(c->path);
    free(c->dir);
    free(c);
}

source_cfg *config_source(config *c, const char *name)
{
    for (size_t i = 0; i < c->nsources; i++)
        if (strcmp(c->sources[i].name, name) == 0)
            return &c->sources[i];
    return NULL;
}

int config_store_shared(const config *c)
{
    return !strncmp(c->store, "postgresql:", 11) || !strncmp(c->store, "postgres:", 9);
}

char *config_state_path(const config *c)
{
    char *uri, *p;
    size_t n;
    if (config_store_shared(c)) {
        /* many workers share the store: each keeps its state beside its config */
        n = strlen(c->path) + sizeof ".run.json";
        if ((p = malloc(n)))
            snprintf(p, n, "%s.run.json", c->path);
        return p;
    }
    if (!(uri = config_store_uri(c)))
        return NULL;
    n = strlen(uri) + sizeof ".run.json";
    if ((p = malloc(n)))
        snprintf(p, n, "%s.run.json", uri);
    free(uri);
    return p;
}

char *config_store_uri(const config *c)
{
    const char *p = c->store + 7; /* after "sqlite:" */
    buf b;
    if (config_store_shared(c))
        return strdup(c->store);
    buf_init(&b, 8192);
    if (p[0] != '/' && strcmp(c->dir, ".") != 0) {
        if (buf_adds(&b, c->dir) || buf_addc(&b, '/'))
            goto nomem;
    }
    if (buf_adds(&b, p))
        goto nomem;
    return buf_take(&b);
nomem:
    buf_release(&b);
    return NULL;
}

cust_code config_read_secret(const source_cfg *s, buf *out, struct err *e)
{
    buf_reset(out);
    if (s->auth.token_env) {
        const char *v = getenv(s->auth.token_env);
        if (!v || !*v)
            return err_set(e, CUST_ECONFIG,
                           "source %s: auth.token_env: environment variable %s is not set; export it "
                           "before running custody",
                           s->name, s->auth.token_env);
        if (buf_adds(out, v))
            return err_set(e, CUST_ECONFIG, "source %s: auth.token_env: %s holds an over-long token",
                           s->name, s->auth.token_env);
    } else if (s->auth.token_file) {
        FILE *f = fopen(s->auth.token_file, "rb");
        char chunk[4096];
        size_t n;
        if (!f)
            return err_setc(e, CUST_ECONFIG, errno, "source %s: auth.token_file: cannot open %s: %s",
                            s->name, s->auth.token_file, strerror(errno));
        while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
            if (buf_add(out, chunk, n)) {
                fclose(f);
                return err_set(e, CUST_ECONFIG, "source %s: auth.token_file: %s is too large for a token",
                               s->name, s->auth.token_file);
            }
        fclose(f);
        while (out->len && (out->ptr[out->len - 1] == '\n' || out->ptr[out->len - 1] == '\r'))
            out->ptr[--out->len] = '\0';
        if (!out->len)
            return err_set(e, CUST_ECONFIG, "source %s: auth.token_file: %s is empty", s->name,
                           s->auth.token_file);
    }
    for (size_t i = 0; i < out->len; i++)
        if ((unsigned char)out->ptr[i] < 0x20 || out->ptr[i] == 0x7f)
            return err_set(e, CUST_ECONFIG,
                           "source %s: the token holds a control character; it would corrupt the "
                           "request header",
                           s->name);
    return CUST_OK;
}

/* ---- printing ----------------------------------------------------------- */

static void print_str(FILE *out, const char *s)
{
    buf b;
    buf_init(&b, 1 << 20);
    if (json_write_string(&b, s, strlen(s)) == CUST_OK)
        fputs(buf_str(&b), out);
    buf_release(&b);
}

/* A store URI as it may be shown: a password in its user info
 * (scheme://user:PASSWORD@host) or a password= parameter (keyword form or
 * query string) becomes ***. */
static void print_store(FILE *out, const char *uri)
{
    buf b;
    const char *p = uri, *sep = strstr(uri, "://");
    int bad = 0;
    buf_init(&b, 1 << 20);
    if (sep) {
        const char *host = sep + 3, *end = host + strcspn(host, "/?"), *at = NULL, *colon;
        for (const char *q = host; q < end; q++)
            if (*q == '@')
                at = q;
        if (at && (colon = memchr(host, ':', (size_t)(at - host)))) {
            bad |= buf_add(&b, uri, (size_t)(colon + 1 - uri)) || buf_adds(&b, "***");
            p = at;
        }
    }
    while (*p && !bad) {
        const char *pw = strstr(p, "password=");
        if (!pw) {
            bad |= buf_adds(&b, p) != CUST_OK;
            break;
        }
        bad |= buf_add(&b, p, (size_t)(pw + 9 - p)) || buf_adds(&b, "***");
        p = pw + 9 + strcspn(pw + 9, " &");
    }
    print_str(out, bad ? "***" : buf_str(&b));
    buf_release(&b);
}

static void indent(FILE *out, int n)
{
    for (int i = 0; i < n; i++)
        fputc(' ', out);
}

static void print_table(FILE *out, const struct otab *t, const void *obj, int ind, int first_dash);

static void print_opt(FILE *out, const struct opt *o, const void *obj, int ind, int *dash)
{
    const char *s;
#define PREFIX() do { if (*dash) { indent(out, ind - 2); fputs("- ", out); *dash = 0; } else indent(out, ind); } while (0)
    if (o->flags & F_HIDDEN)
        return;
    if (o->aux_bit && o->type != O_STRMAP && !(*AT((void *)obj, unsigned, o->aux_off) & o->aux_bit))
        return;
    switch (o->type) {
    case O_STR:
    case O_REF:
    case O_PATH:
    case O_ENUM:
        s = *AT((void *)obj, char *, o->off);
        if (!s)
            return;
        PREFIX();
        fprintf(out, "%s: ", o->name);
        if (o->off == offsetof(config, store) && !strcmp(o->name, "store"))
            print_store(out, s);
        else
            print_str(out, s);
        fputc('\n', out);
        return;
    case O_ENUMI:
        PREFIX();
        fprintf(out, "%s: %s\n", o->name, o->choices[*AT((void *)obj, int, o->off)]);
        return;
    case O_FLAGS: {
        unsigned v = *AT((void *)obj, unsigned, o->off);
        int k = 0;
        if (!v)
            return;
        PREFIX();
        fprintf(out, "%s: [", o->name);
        for (int i = 0; o->choices[i]; i++)
            if (v & (1u << i))
                fprintf(out, "%s%s", k++ ? ", " : "", o->choices[i]);
        fputs("]\n", out);
        return;
    }
    case O_DURATION: {
        long ms = *AT((void *)obj, long, o->off);
        static const struct { long div; const char *unit; } units[] = {
            {86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}, {1, "ms"}};
        PREFIX();
        for (size_t i = 0; i < sizeof units / sizeof *units; i++)
            if (ms % units[i].div == 0 && (ms || units[i].div == 1)) {
                fprintf(out, "%s: %ld%s\n", o->name, ms / units[i].div, units[i].unit);
                break;
            }
        return;
    }
    case O_BYTES:
    case O_INT:
        PREFIX();
        fprintf(out, "%s: %ld\n", o->name, *AT((void *)obj, long, o->off));
        return;
    case O_SIZE:
        PREFIX();
        fprintf(out, "%s: %zu\n", o->name, *AT((void *)obj, size_t, o->off));
        return;
    case O_BOOL:
        PREFIX();
        fprintf(out, "%s: %s\n", o->name, *AT((void *)obj, int, o->off) ? "true" : "false");
        return;
    case O_NUM:
        PREFIX();
        fprintf(out, "%s: %.17g\n", o->name, *AT((void *)obj, double, o->off));
        return;
    case O_STRLIST: {
        size_t n = *AT((void *)obj, size_t, o->n_off);
        char **a = *AT((void *)obj, char **, o->off);
        if (!n)
            return;
        PREFIX();
        fprintf(out, "%s: [", o->name);
        for (size_t i = 0; i < n; i++) {
            if (i)
                fputs(", ", out);
            print_str(out, a[i]);
        }
        fputs("]\n", out);
        return;
    }
    case O_STRMAP: {
        size_t n = *AT((void *)obj, size_t, o->n_off);
        char **a = *AT((void *)obj, char **, o->off), **b = *AT((void *)obj, char **, o->aux_off);
        if (!n)
            return;
        PREFIX();
        fprintf(out, "%s: {", o->name);
        for (size_t i = 0; i < n; i++) {
            fputs(i ? ", " : " ", out);
            print_str(out, a[i]);
            fputs(": ", out);
            print_str(out, b[i]);
        }
        fputs(" }\n", out);
        return;
    }
    case O_TABLE: {
        /* a table whose options are all unset prints nothing at all, nor
         * one whose required string is unset (an absent webhook block) */
        char *text = NULL;
        size_t len = 0;
        FILE *m;
        for (size_t k = 0; k < o->sub->nopts; k++) {
            const struct opt *so = &o->sub->opts[k];
            if ((so->flags & F_REQ) && (so->type == O_STR || so->type == O_ENUM) &&
                !*(char *const *)((const char *)obj + o->off + so->off))
                return;
        }
        m = open_memstream(&text, &len);
        if (!m)
            return;
        print_table(m, o->sub, (const char *)obj + o->off, ind + 2, 0);
        fclose(m);
        if (len) {
            PREFIX();
            fprintf(out, "%s:\n", o->name);
            fputs(text, out);
        }
        free(text);
        return;
    }
    case O_LIST:
    case O_MAP: {
        size_t n = *AT((void *)obj, size_t, o->n_off);
        const char *a = *AT((void *)obj, char *, o->off);
        PREFIX();
        if (!n) {
            fprintf(out, "%s: %s\n", o->name, o->type == O_MAP ? "{}" : "[]");
            return;
        }
        fprintf(out, "%s:\n", o->name);
        for (size_t i = 0; i < n; i++) {
            const void *elem = a + i * o->sub->size;
            if (o->type == O_MAP) {
                indent(out, ind + 2);
                print_str(out, *AT((void *)elem, char *, (size_t)o->sub->name_off));
                fputs(":\n", out);
                print_table(out, o->sub, elem, ind + 4, 0);
            } else {
                print_table(out, o->sub, elem, ind + 4, 1);
            }
        }
        return;
    }
    }
#undef PREFIX
}

static void print_table(FILE *out, const struct otab *t, const void *obj, int ind, int first_dash)
{
    int dash = first_dash;
    for (size_t i = 0; i < t->nopts; i++) {
        /* a contract from a JSON Schema prints as its schema_file: the
         * printed config must load back as it was written */
        if (t == &contract_tab && !print_schema_fields && ((const contract *)obj)->schema_file &&
            strcmp(t->opts[i].name, "fields") == 0)
            continue;
        print_opt(out, &t->opts[i], obj, ind, &dash);
    }
}

void config_print(const config *c, FILE *out)
{
    fprintf(out, "# effective configuration of %s (sha256 %s)\n", c->path, c->hash);
    fputs("# secrets are shown by reference only\n", out);
    print_table(out, &top_tab, c, 0, 0);
}

static const char *type_doc(otype t)
{
    switch (t) {
    case O_STR: return "string";
    case O_REF: return "secret reference";
    case O_PATH: return "JSON path";
    case O_ENUM:
    case O_ENUMI: return "one of";
    case O_FLAGS: return "list of";
    case O_DURATION: return "duration";
    case O_BYTES: return "size";
    case O_INT:
    case O_SIZE: return "integer";
    case O_BOOL: return "boolean";
    case O_NUM: return "number";
    case O_STRLIST: return "list of strings";
    case O_STRMAP: return "mapping of strings";
    case O_TABLE: return "mapping";
    case O_LIST: return "list";
    case O_MAP: return "mapping of name to";
    }
    return "";
}

/* roff text: a backslash is \e, and a line may not start with '.' or '\''. */
static void roff_text(FILE *out, const char *s)
{
    int bol = 1;
    for (; *s; s++) {
        if (bol && (*s == '.' || *s == '\''))
            fputs("\\&", out);
        if (*s == '\\')
            fputs("\\e", out);
        else if (*s == '-')
            fputs("\\-", out);
        else
            fputc(*s, out);
        bol = *s == '\n';
    }
}

static void reference_table(FILE *out, const struct otab *t, const char *where, int roff)
{
    if (roff) {
        fputs(".SS ", out);
        roff_text(out, where);
        fputs("\n", out);
        roff_text(out, t->help);
        fputc('\n', out);
    } else {
        fprintf(out, "## %s\n\n%s", where, t->help);
        fputs("\n\n| option | type | default | meaning |\n|---|---|---|---|\n", out);
    }
    for (size_t i = 0; i < t->nopts; i++) {
        const struct opt *o = &t->opts[i];
        char ty[256];
        snprintf(ty, sizeof ty, "%s", type_doc(o->type));
        if (o->choices) {
            size_t at = strlen(ty);
            at += (size_t)snprintf(ty + at, sizeof ty - at, " ");
            choices_text(o->choices, ty + at, sizeof ty - at);
        }
        if (o->sub)
            snprintf(ty + strlen(ty), sizeof ty - strlen(ty), " %s", o->sub->name);
        if (roff) {
            fputs(".TP\n.B ", out);
            roff_text(out, o->name);
            fputc('\n', out);
            roff_text(out, ty);
            fputs(o->def ? "; default " : (o->flags & F_REQ ? "; required" : ""), out);
            if (o->def)
                roff_text(out, o->def[0] ? o->def : "\"\"");
            fputs(". ", out);
            roff_text(out, o->help);
            fputc('\n', out);
        } else {
            fprintf(out, "| `%s` | %s | %s%s%s | %s%s |\n", o->name, ty, o->def ? "`" : "",
                    o->def ? o->def : (o->flags & F_REQ ? "required" : "—"), o->def ? "`" : "", o->help, "");
        }
    }
    if (!roff)
        fputc('\n', out);
    for (size_t i = 0; i < t->nopts; i++) {
        const struct opt *o = &t->opts[i];
        char sub[256];
        if (!o->sub)
            continue;
        if (o->type == O_MAP)
            snprintf(sub, sizeof sub, "%s.*", where);
        else
            snprintf(sub, sizeof sub, "%s%s%s", strcmp(where, "top level") ? where : "",
                     strcmp(where, "top level") ? "." : "", o->name);
        if (o->type == O_MAP || o->type == O_LIST) {
            snprintf(sub, sizeof sub, "%s", o->sub->name);
        }
        reference_table(out, o->sub, sub, roff);
    }
}

void config_reference_roff(FILE *out)
{
    reference_table(out, &top_tab, "top level", 1);
}

void config_reference(FILE *out)
{
    fputs("# Configuration reference\n\n"
          "Generated by `custody check --reference` from the option table in src/engine/config.c; "
          "do not edit by hand.\n\n"
          "custody reads YAML. Errors name `file:line: key: what is wrong`. Values may use "
          "`${VAR}` or `${VAR:-default}` to take text from the environment, except secret "
          "references, which name where a secret is and are never expanded, printed with its "
          "value, logged or stored.\n\n"
          "Durations: `250ms`, `10s`, `5m`, `1h`, `1d` (a bare number is seconds). Sizes: `65536`, "
          "`512KiB`, `64MiB`, `1GiB`.\n\n",
          out);
    reference_table(out, &top_tab, "top level", 0);
}
