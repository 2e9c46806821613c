/* policy.h - politeness and resilience decisions, pure: retry with full
 * jitter, Retry-After and rate-limit headers, token buckets, the circuit
 * breaker. Every function takes the time (Unix milliseconds) and, where it
 * needs chance, a caller-owned random state; none sleeps or does I/O. */
#ifndef CUSTODY_POLICY_H
#define CUSTODY_POLICY_H

#include <stdint.h>

/* ---- retry -------------------------------------------------------------- */

#define POLICY_MAX_STATUSES 16

typedef struct retry_policy {
    int attempts;          /* total tries per request, first included; >= 1 */
    int64_t base_ms;       /* first backoff ceiling */
    int64_t cap_ms;        /* backoff never exceeds this */
    int64_t max_wait_ms;   /* an upstream-requested wait (Retry-After, a
                              rate-limit reset) longer than this is not slept
                              through: the request gives up for this cycle */
    int statuses[POLICY_MAX_STATUSES]; /* retryable HTTP statuses */
    int nstatuses;
    int retry_post;        /* the source declares its POST safe to repeat */
} retry_policy;

/* attempts 5, base 1 s, cap 60 s, max_wait 300 s, statuses 408 425 429 500
 * 502 503 504, POST not retried. */
void retry_policy_default(retry_policy *p);

/* What one attempt produced, as far as policy cares. Header values are the
 * raw field values (NULL when absent). */
typedef struct http_outcome {
    int transport_error;   /* no HTTP status: connect, reset, timeout, TLS */
    long status;
    int is_post;
    const char *retry_after;          /* Retry-After */
    const char *ratelimit_remaining;  /* X-RateLimit-Remaining */
    const char *ratelimit_reset;      /* X-RateLimit-Reset: epoch seconds or seconds */
    const char *ratelimit;            /* IETF RateLimit field (draft-ietf-httpapi-ratelimit-headers) */
    const char *ratelimit_policy;     /* IETF RateLimit-Policy field */
} http_outcome;

typedef enum retry_verdict {
    RETRY_DONE = 0,   /* success or a final answer: use the response */
    RETRY_AGAIN,      /* wait delay_ms, then try again */
    RETRY_GIVE_UP,    /* retryable, but attempts exhausted or the upstream's
                         wait exceeds max_wait_ms: fail this cycle */
    RETRY_FATAL       /* not retryable (other 4xx, unsafe POST) */
} retry_verdict;

typedef struct retry_decision {
    retry_verdict verdict;
    int64_t delay_ms;      /* for RETRY_AGAIN; for GIVE_UP, the wait the upstream asked for (0 if none) */
    const char *why;       /* static text for logs and audit, e.g. "HTTP 429, Retry-After" */
} retry_decision;

/* Decide after attempt number `attempt` (1 = the first) produced o.
 * Backoff is full jitter: uniform in [0, min(cap, base * 2^(attempt-1))].
 * An upstream wait (Retry-After, rate-limit reset with nothing remaining,
 * 403 with remaining 0) is a floor on the delay, never shortened by jitter.
 * 2xx/3xx are RETRY_DONE. *rng is advanced. */
retry_decision retry_decide(const retry_policy *p, int attempt, const http_outcome *o, int64_t now_ms,
                            uint64_t *rng);

/* Retry-After as delay-seconds or HTTP-date (IMF-fixdate, RFC 850 and
 * asctime forms). Returns the wait in ms (a date in the past: 0) and sets
 * *ok; malformed values give *ok = 0 and 0. Huge values saturate at
 * INT64_MAX / 2 rather than overflow. */
int64_t policy_retry_after_ms(const char *value, int64_t now_ms, int *ok);

/* The wait the rate-limit headers of o impose when the quota is spent
 * (X-RateLimit-Remaining 0 with -Reset as epoch seconds when it is larger
 * than now in seconds minus a day, else seconds from now; or the IETF
 * RateLimit field with r=0 / remaining=0 and its t / reset), 0 when the
 * headers do not say the quota is spent or are absent or malformed. */
int64_t policy_ratelimit_wait_ms(const http_outcome *o, int64_t now_ms);

/* xorshift64* step; seed must be nonzero. Returns a uniform 64-bit value. */
uint64_t policy_rand(uint64_t *state);

/* ---- token bucket --------------------------------------------------------- */

typedef struct token_bucket {
    double rate;       /* tokens per second; <= 0: unlimited */
    double burst;      /* capacity, >= 1 */
    double tokens;
    int64_t last_ms;
} token_bucket;

/* Start full. */
void bucket_init(token_bucket *b, double rate, double burst, int64_t now_ms);

/* Reserve one token: returns 0 when it is available now, else how many ms
 * until it is (the token is reserved either way, so callers that wait the
 * returned time and then send stay within the rate). */
int64_t bucket_take(token_bucket *b, int64_t now_ms);

/* An upstream said its quota is spent until now + wait_ms: empty the bucket
 * so nothing is sent before then. */
void bucket_drain_until(token_bucket *b, int64_t until_ms);

/* ---- circuit breaker ------------------------------------------------------ */

typedef enum breaker_state { BREAKER_CLOSED = 0, BREAKER_OPEN, BREAKER_HALF_OPEN } breaker_state;

typedef struct breaker_cfg {
    int failures;        /* consecutive failed cycles that open it; 0: breaker off */
    int64_t cooldown_ms; /* open this long before probing */
    int probes;          /* successful half-open cycles that close it again */
} breaker_cfg;

/* failures 5, cooldown 5 min, probes 1. */
void breaker_cfg_default(breaker_cfg *c);

typedef struct breaker {
    breaker_state state;
    int failures;        /* consecutive failed cycles while closed */
    int probes_ok;       /* successful cycles while half-open */
    int64_t opened_ms;   /* when it last opened */
} breaker;

/* May a cycle run now? An open breaker whose cooldown has passed moves to
 * half-open and allows it. Returns 1 to allow, 0 to skip; *changed is set
 * when the state changed (the caller audits old -> new). */
int breaker_allow(const breaker_cfg *c, breaker *b, int64_t now_ms, int *changed);

/* Record a cycle's result. A failure while closed counts towards opening
 * (so one 5xx that retries absorb never opens it: only failed cycles
 * count); a failure while half-open reopens; enough successes while
 * half-open close it. Returns 1 when the state changed. */
int breaker_record(const breaker_cfg *c, breaker *b, int success, int64_t now_ms);

const char *breaker_state_name(breaker_state s); /* "closed", "open", "half-open" */
/* Parse a name back; returns 0 and leaves *s alone when unknown. */
int breaker_state_parse(const char *name, breaker_state *s);

#endif
