/* fuzz_webhook.c - libFuzzer harness for webhook signature verification.
 * Input: byte 0 = scheme (bits 0-1, mod 3) and absent headers (bit 2 id,
 * bit 3 timestamp, bit 4 signature, bit 5 body pointer NULL); byte 1 = the
 * secret set (bits 0-1: A; B then A; none; an empty one then A) and the
 * tolerance (bits 2-4); byte 2 = the clock as a signed offset from T0 in
 * 7 s steps (-128 and 127: INT64_MIN and INT64_MAX); then id '\n'
 * timestamp '\n' signature '\n' body (raw bytes, the rest of the input).
 * Fixed secrets A and B are those of tests/unit/test_webhook.c, so seeds can
 * carry valid signatures. Properties: no crash or out-of-bounds read; a
 * verdict in range with a terminated, non-empty reason that fits any
 * why_len; deterministic; an OK with a timestamp turns STALE when the clock
 * moves past the tolerance; wh_sign over the same id, time and body always
 * verifies, and fails once a body byte flips; wh_secret_decode of the
 * signature line either fails or yields 1..len bytes. Any violation
 * abort()s. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/webhook.h"

#define REQUIRE(cond) do { \
    if (!(cond)) { \
        fprintf(stderr, "fuzz_webhook: property violated: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
        abort(); \
    } \
} while (0)

#define T0 1674087231LL

static const char *const secret_text[3][2] = {
    {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="},
    {"whsec_test_A_5f2b9c0e1d", "whsec_test_B_81d0e4a7c3"},
    {"It's a Secret to Everybody", "another secret, rotated in"},
};
static wh_secret secrets[3][2];
static int ready;

static void init(void)
{
    for (int s = 0; s < 3; s++)
        for (int k = 0; k < 2; k++)
            REQUIRE(wh_secret_decode((wh_scheme)s, secret_text[s][k], &secrets[s][k], NULL) == CUST_OK);
    ready = 1;
}

/* The verdict, checked for range, termination and fit at several why_len;
 * the same every time. */
static wh_verdict verify(wh_scheme s, const wh_secret *set, size_t n, const wh_request *rq, int64_t now,
                         int64_t tol)
{
    char why[700], again[700], tiny[24];
    wh_verdict v = wh_verify(s, set, n, rq, now, tol, why, sizeof why);
    REQUIRE(v >= WH_OK && v <= WH_ERROR);
    REQUIRE(memchr(why, '\0', sizeof why) != NULL);
    REQUIRE(why[0] != '\0');
    REQUIRE(strcmp(wh_verdict_name(v), "unknown") != 0);
    REQUIRE(wh_verify(s, set, n, rq, now, tol, again, sizeof again) == v);
    REQUIRE(strcmp(why, again) == 0);
    REQUIRE(wh_verify(s, set, n, rq, now, tol, NULL, 0) == v);
    for (size_t len = 1; len <= 17; len += 8) {
        memset(tiny, 0x5a, sizeof tiny);
        REQUIRE(wh_verify(s, set, n, rq, now, tol, tiny, len) == v);
        REQUIRE(tiny[len - 1] == '\0' || memchr(tiny, '\0', len) != NULL);
        for (size_t i = len; i < sizeof tiny; i++)
            REQUIRE(tiny[i] == 0x5a);
        REQUIRE(strncmp(tiny, why, strlen(tiny)) == 0);
    }
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int64_t tols[8] = {300, 0, 1, -1, 60, 86400, INT64_MAX, INT64_MIN};
    uint8_t prm[3] = {0};
    size_t n = size < sizeof prm ? size : sizeof prm, rest, field[3][2], at;
    char *text;
    const char *hv[3] = {NULL, NULL, NULL};
    unsigned char *body;
    size_t body_len;
    wh_scheme s;
    wh_secret set[2], empty = {NULL, 0};
    size_t nset = 0;
    int64_t now, tol;
    wh_request rq;
    wh_verdict v;

    if (!ready)
        init();
    memcpy(prm, data, n);
    rest = size - n;
    /* one copy: three NUL-terminated header lines, then the body bytes */
    text = malloc(rest + 4);
    REQUIRE(text != NULL);
    memcpy(text, data + n, rest);
    memset(text + rest, 0, 4);
    at = 0;
    for (int i = 0; i < 3; i++) {
        char *nl = at <= rest ? memchr(text + at, '\n', rest - at) : NULL;
        field[i][0] = at;
        if (nl) {
            *nl = '\0';
            field[i][1] = (size_t)(nl - text);
            at = field[i][1] + 1;
        } else {
            field[i][1] = rest;
            at = rest + 1;
        }
        hv[i] = text + field[i][0];
    }
    body = at <= rest ? (unsigned char *)text + at : NULL;
    body_len = at <= rest ? rest - at : 0;

    s = (wh_scheme)((prm[0] & 3) % 3);
    if (prm[0] & 4)
        hv[0] = NULL;
    if (prm[0] & 8)
        hv[1] = NULL;
    if (prm[0] & 16)
        hv[2] = NULL;
    if ((prm[0] & 32) && body_len == 0)
        body = NULL;
    switch (prm[1] & 3) {
    case 0: set[nset++] = secrets[s][0]; break;
    case 1: set[nset++] = secrets[s][1]; set[nset++] = secrets[s][0]; break;
    case 2: break;
    case 3: set[nset++] = empty; set[nset++] = secrets[s][0]; break;
    }
    tol = tols[(prm[1] >> 2) & 7];
    now = prm[2] == 0x80 ? INT64_MIN : prm[2] == 0x7f ? INT64_MAX : T0 + (int64_t)(int8_t)prm[2] * 7;

    rq = (wh_request){hv[0], hv[1], hv[2], body, body_len};
    v = verify(s, set, nset, &rq, now, tol);
    (void)verify((wh_scheme)(prm[0] >> 6), set, nset, &rq, now, tol); /* 3: an unknown scheme */
    if (v == WH_OK) {
        REQUIRE(nset > 0 && (prm[1] & 3) != 2);
        /* past the tolerance, the same request is stale */
        if (s != WH_GITHUB && tol >= 0 && tol < INT64_MAX / 4 && now > INT64_MIN / 4 && now < INT64_MAX / 4)
            REQUIRE(verify(s, set, nset, &rq, now + 2 * tol + 1, tol) == WH_STALE);
    }

    /* round trip: what wh_sign makes for this id, time and body verifies */
    {
        buf b;
        struct err e;
        int64_t ts = now < 0 ? 0 : now > 999999999999999999LL ? 999999999999999999LL : now;
        /* GitHub's delivery id is not signed, but it is required */
        const char *id = s == WH_STANDARD ? hv[0] : "72d3162e-cc78-11e3-81ab-4c9367dc0958";
        buf_init(&b, 1024);
        if (wh_sign(s, &secrets[s][0], id, ts, body, body_len, &b, &e) == CUST_OK) {
            char tsbuf[24];
            snprintf(tsbuf, sizeof tsbuf, "%lld", (long long)ts);
            rq = (wh_request){id, tsbuf, buf_str(&b), body, body_len};
            v = verify(s, set, nset, &rq, ts, 0);
            if (nset)
                REQUIRE(v == WH_OK);
            else
                REQUIRE(v == WH_BAD_SIGNATURE);
            if (body_len && nset) {
                body[body_len / 2] ^= 0x20;
                REQUIRE(verify(s, set, nset, &rq, ts, 0) == WH_BAD_SIGNATURE);
                body[body_len / 2] ^= 0x20;
            }
        } else {
            /* only a bad id (standard) can refuse */
            REQUIRE(s == WH_STANDARD);
        }
        buf_release(&b);
    }

    /* the signature line as a configured secret */
    for (int k = 0; k < 3; k++) {
        wh_secret out = {NULL, 0};
        struct err e;
        const char *t = text + field[2][0];
        cust_code rc = wh_secret_decode((wh_scheme)k, t, &out, &e);
        REQUIRE(rc == CUST_OK || rc == CUST_ECONFIG);
        if (rc == CUST_OK) {
            REQUIRE(out.key != NULL && out.len > 0 && out.len <= strlen(t));
            if (k != WH_STANDARD)
                REQUIRE(out.len == strlen(t) && memcmp(out.key, t, out.len) == 0);
        } else {
            REQUIRE(out.key == NULL && e.msg[0] != '\0');
        }
        wh_secret_wipe(&out);
    }

    free(text);
    return 0;
}
