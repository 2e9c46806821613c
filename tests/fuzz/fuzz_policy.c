/* fuzz_policy.c - libFuzzer harness for the header parsers and retry_decide.
 * Input: 12 bytes of parameters (status, attempt, flags, clock, policy),
 * then up to five header values separated by '\n' (Retry-After,
 * X-RateLimit-Remaining, X-RateLimit-Reset, RateLimit, RateLimit-Policy).
 * Properties: no crash; waits in [0, INT64_MAX / 2]; the verdict agrees with
 * the status, the attempt count and max_wait_ms; an upstream wait is a floor
 * on the delay and jitter above it stays within min(10 %, 1 s); decisions
 * are deterministic for a given random state. Any violation abort()s. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/policy.h"

#define REQUIRE(cond) do { \
    if (!(cond)) { \
        fprintf(stderr, "fuzz_policy: property violated: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
        abort(); \
    } \
} while (0)

#define WAIT_MAX (INT64_MAX / 2)
#define NFIELDS 5

static int64_t ceiling(const retry_policy *p, int attempt)
{
    int64_t c = p->base_ms;
    for (int i = 1; i < attempt && c < p->cap_ms; i++)
        c *= 2;
    return c < p->cap_ms ? c : p->cap_ms;
}

static void check_parsers(const char *const *v, int64_t now)
{
    int ok = -1;
    int64_t ra = policy_retry_after_ms(v[0], now, &ok);
    http_outcome o = {0};
    REQUIRE(ok == 0 || ok == 1);
    REQUIRE(ra >= 0 && ra <= WAIT_MAX);
    REQUIRE(ok || ra == 0);
    o.ratelimit_remaining = v[1];
    o.ratelimit_reset = v[2];
    o.ratelimit = v[3];
    o.ratelimit_policy = v[4];
    ra = policy_ratelimit_wait_ms(&o, now);
    REQUIRE(ra >= 0 && ra <= WAIT_MAX);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t prm[12] = {0};
    char *text, *v[NFIELDS] = {NULL};
    size_t n = size < sizeof prm ? size : sizeof prm;
    retry_policy p;
    http_outcome o = {0};
    retry_decision d, d2;
    uint64_t rng, rng2;
    int64_t now, ra, rl, upstream;
    int attempt, attempts, ra_ok;

    memcpy(prm, data, n);
    text = malloc(size - n + 1);
    REQUIRE(text != NULL);
    memcpy(text, data + n, size - n);
    text[size - n] = '\0';
    {
        char *s = text;
        for (int i = 0; i < NFIELDS && s; i++) {
            char *nl = strchr(s, '\n');
            if (nl)
                *nl = '\0';
            if (!(prm[3] & (1u << (3 + i)))) /* flag bits 3..7: header absent */
                v[i] = s;
            s = nl ? nl + 1 : NULL;
        }
    }

    /* clock: around 2023, or anywhere when the top bit asks for it */
    {
        int32_t off = (int32_t)((uint32_t)prm[4] << 24 | (uint32_t)prm[5] << 16 | (uint32_t)prm[6] << 8 | prm[7]);
        now = 1700000000000LL + (int64_t)off * 1000;
        if (prm[2] == 0xff)
            now = off < 0 ? INT64_MIN + (off & 0xffff) : INT64_MAX - off;
    }
    check_parsers((const char *const *)v, now);
    check_parsers((const char *const *)v, INT64_MIN);
    check_parsers((const char *const *)v, INT64_MAX);
    check_parsers((const char *const *)v, 0);

    retry_policy_default(&p);
    p.attempts = 1 + prm[8] % 8;
    p.max_wait_ms = (int64_t)((uint32_t)prm[9] << 8 | prm[10]) * 100;
    p.retry_post = (prm[3] & 4) != 0;
    o.status = (long)(((unsigned)prm[0] << 8 | prm[1]) % 700);
    o.transport_error = (prm[3] & 1) != 0;
    o.is_post = (prm[3] & 2) != 0;
    o.retry_after = v[0];
    o.ratelimit_remaining = v[1];
    o.ratelimit_reset = v[2];
    o.ratelimit = v[3];
    o.ratelimit_policy = v[4];
    attempt = prm[2] == 0xfe ? INT_MAX : prm[2] % 10;
    rng = 0x9E3779B97F4A7C15ull ^ prm[11];
    rng2 = rng;

    d = retry_decide(&p, attempt, &o, now, &rng);
    d2 = retry_decide(&p, attempt, &o, now, &rng2);
    REQUIRE(d.verdict == d2.verdict && d.delay_ms == d2.delay_ms && rng == rng2);
    REQUIRE(d.verdict >= RETRY_DONE && d.verdict <= RETRY_FATAL);
    REQUIRE(d.why != NULL && d.why[0] != '\0');
    REQUIRE(d.delay_ms >= 0 && d.delay_ms <= WAIT_MAX);

    attempts = p.attempts;
    if (attempt < 1)
        attempt = 1;
    ra = policy_retry_after_ms(o.retry_after, now, &ra_ok);
    rl = policy_ratelimit_wait_ms(&o, now);
    upstream = o.transport_error ? 0 : ra_ok && ra > rl ? ra : rl;

    /* DONE exactly for an HTTP 2xx/3xx */
    REQUIRE((d.verdict == RETRY_DONE) == (!o.transport_error && o.status >= 200 && o.status <= 399));
    switch (d.verdict) {
    case RETRY_DONE:
    case RETRY_FATAL:
        REQUIRE(d.delay_ms == 0);
        break;
    case RETRY_AGAIN:
        REQUIRE(!o.is_post || p.retry_post);
        REQUIRE(attempt < attempts);
        if (upstream > 0) {
            int64_t extra = upstream / 10 < 1000 ? upstream / 10 : 1000;
            REQUIRE(upstream <= p.max_wait_ms);
            REQUIRE(d.delay_ms >= upstream);
            REQUIRE(d.delay_ms <= upstream + extra);
            REQUIRE(d.delay_ms <= p.max_wait_ms);
        } else {
            REQUIRE(d.delay_ms <= ceiling(&p, attempt));
        }
        break;
    case RETRY_GIVE_UP:
        REQUIRE(!o.is_post || p.retry_post);
        /* the wait the upstream asked for, and a reason to give up */
        REQUIRE(d.delay_ms == upstream);
        REQUIRE(attempt >= attempts || d.delay_ms > p.max_wait_ms);
        break;
    }

    free(text);
    return 0;
}
