/* webhook.c - see webhook.h. Strict parsers for the three signature headers,
 * HMAC-SHA256 through libcrypto's EVP_MAC, and constant-time comparison of
 * every candidate against every secret. No replay store and no body parsing
 * here: the caller does both, after a WH_OK. */
#include "webhook.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAC_LEN 32
#define MAC_HEX (2 * MAC_LEN)
#define MAC_B64 44 /* 4 * ceil(32 / 3), one '=' */

typedef struct slice {
    const char *p;
    size_t n;
} slice;

struct part {
    const void *p;
    size_t n;
};

/* ---- names ------------------------------------------------------------------ */

static const char *const scheme_names[] = {"standard", "stripe", "github"};

const char *wh_scheme_name(wh_scheme s)
{
    return (unsigned)s < sizeof scheme_names / sizeof *scheme_names ? scheme_names[s] : "unknown";
}

int wh_scheme_parse(const char *name, wh_scheme *out)
{
    if (!name)
        return 0;
    for (size_t i = 0; i < sizeof scheme_names / sizeof *scheme_names; i++)
        if (strcmp(name, scheme_names[i]) == 0) {
            *out = (wh_scheme)i;
            return 1;
        }
    return 0;
}

const char *wh_header_name(wh_scheme s, wh_field f)
{
    static const char *const names[3][3] = {
        {"webhook-id", "webhook-timestamp", "webhook-signature"},
        {NULL, NULL, "Stripe-Signature"},
        {"X-GitHub-Delivery", NULL, "X-Hub-Signature-256"},
    };
    if ((unsigned)s >= 3 || (unsigned)f >= 3)
        return NULL;
    return names[s][f];
}

const char *wh_verdict_name(wh_verdict v)
{
    switch (v) {
    case WH_OK: return "ok";
    case WH_MISSING: return "missing";
    case WH_MALFORMED: return "malformed";
    case WH_STALE: return "stale";
    case WH_FUTURE: return "future";
    case WH_BAD_SIGNATURE: return "bad-signature";
    case WH_ERROR: return "error";
    }
    return "unknown";
}

/* ---- small helpers ----------------------------------------------------------- */

CUST_PRINTF(4, 5)
static wh_verdict say(wh_verdict v, char *why, size_t why_len, const char *fmt, ...)
{
    if (why && why_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, why_len, fmt, ap);
        va_end(ap);
    }
    return v;
}

/* A header value with HTTP's optional whitespace trimmed. Returns 0 when
 * the raw value is over WH_HEADER_MAX: strnlen never reads past the cap. */
static int header_value(const char *v, slice *out)
{
    size_t n = strnlen(v, (size_t)WH_HEADER_MAX + 1);
    if (n > WH_HEADER_MAX)
        return 0;
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    while (n && (*v == ' ' || *v == '\t')) {
        v++;
        n--;
    }
    out->p = v;
    out->n = n;
    return 1;
}

static int visible(unsigned char c)
{
    return c >= 0x21 && c <= 0x7e;
}

/* An id: 1..WH_ID_MAX visible ASCII characters. */
static int id_ok(const char *p, size_t n)
{
    if (n == 0 || n > WH_ID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!visible((unsigned char)p[i]))
            return 0;
    return 1;
}

/* Unix seconds as plain digits, no sign, no leading zeros (the reference
 * libraries sign the number re-formatted, so "007" could never verify), at
 * most WH_TIMESTAMP_DIGITS digits so the value cannot overflow. */
static int timestamp_ok(const char *p, size_t n, int64_t *out)
{
    int64_t v = 0;
    if (n == 0 || n > WH_TIMESTAMP_DIGITS || (n > 1 && p[0] == '0'))
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return 0;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return 1;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Exactly MAC_HEX hex digits (either case) into MAC_LEN bytes. */
static int hex_mac(const char *p, size_t n, unsigned char out[MAC_LEN])
{
    if (n != MAC_HEX)
        return 0;
    for (size_t i = 0; i < MAC_LEN; i++) {
        int hi = hexval(p[2 * i]), lo = hexval(p[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return 0;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return 1;
}

static void hex_encode(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Strict standard base64 (RFC 4648 section 4): a multiple of 4 characters,
 * '=' only as the final one or two, unused bits zero (one text per byte
 * string). Writes at most cap bytes; returns the decoded length, or -1. */
static long b64_decode(const char *s, size_t n, unsigned char *out, size_t cap)
{
    size_t o = 0;
    if (n == 0 || n % 4)
        return -1;
    for (size_t i = 0; i < n; i += 4) {
        int v[4], pad = 0;
        uint32_t w;
        size_t k;
        for (int j = 0; j < 4; j++) {
            unsigned char c = (unsigned char)s[i + j];
            if (c == '=') {
                if (i + 4 != n || j < 2)
                    return -1;
                v[j] = 0;
                pad++;
            } else {
                if (pad || (v[j] = b64val(c)) < 0)
                    return -1;
            }
        }
        if ((pad == 2 && (v[1] & 0x0f)) || (pad == 1 && (v[2] & 0x03)))
            return -1;
        w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        k = 3 - (size_t)pad;
        if (o + k > cap)
            return -1;
        out[o++] = (unsigned char)(w >> 16);
        if (k > 1)
            out[o++] = (unsigned char)(w >> 8);
        if (k > 2)
            out[o++] = (unsigned char)w;
    }
    return (long)o;
}

/* ---- HMAC-SHA256 ------------------------------------------------------------- */

static EVP_MAC *hmac_alg;
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;

static void fetch_hmac(void)
{
    hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

/* out = HMAC-SHA256(key, parts concatenated). Returns 0 when libcrypto
 * fails (allocation); keylen must be > 0. */
static int hmac_parts(const unsigned char *key, size_t keylen, const struct part *parts, size_t nparts,
                      unsigned char out[MAC_LEN])
{
    EVP_MAC_CTX *ctx = NULL;
    OSSL_PARAM params[2];
    size_t outl = 0;
    int ok = 0;

    pthread_once(&hmac_once, fetch_hmac);
    if (!hmac_alg || !(ctx = EVP_MAC_CTX_new(hmac_alg)))
        goto done;
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    if (!EVP_MAC_init(ctx, key, keylen, params))
        goto done;
    for (size_t i = 0; i < nparts; i++)
        if (parts[i].n && !EVP_MAC_update(ctx, parts[i].p, parts[i].n))
            goto done;
    if (!EVP_MAC_final(ctx, out, &outl, MAC_LEN) || outl != MAC_LEN)
        goto done;
    ok = 1;
done:
    EVP_MAC_CTX_free(ctx); /* cleanses the key schedule */
    return ok;
}

/* ---- secrets ----------------------------------------------------------------- */

cust_code wh_secret_decode(wh_scheme s, const char *text, wh_secret *out, struct err *e)
{
    const char *name = wh_scheme_name(s);
    unsigned char *key = NULL;
    size_t n, len;

    if ((unsigned)s > WH_GITHUB)
        return err_set(e, CUST_ECONFIG, "webhook secret: unknown scheme %d (expected standard, stripe or github)",
                       (int)s);
    if (!text || !*text)
        return err_set(e, CUST_ECONFIG, "webhook secret (%s) is empty: set the signing secret the sender shows", name);
    n = strnlen(text, (size_t)WH_SECRET_MAX + 1);
    if (n > WH_SECRET_MAX)
        return err_set(e, CUST_ECONFIG, "webhook secret (%s) is over %d bytes: is it the secret, not a file?", name,
                       WH_SECRET_MAX);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c < 0x20 || c == 0x7f)
            return err_set(e, CUST_ECONFIG,
                           "webhook secret (%s): byte %zu of %zu is a control character (a trailing newline "
                           "from a secret file?): remove it",
                           name, i + 1, n);
    }

    if (s == WH_STANDARD) {
        const char *b = text;
        size_t bn = n, off = 0;
        long got;
        if (n >= 6 && memcmp(text, "whsec_", 6) == 0) {
            b += 6;
            bn -= 6;
            off = 6;
        }
        if (bn == 0)
            return err_set(e, CUST_ECONFIG, "webhook secret (standard): nothing after \"whsec_\": expected the "
                                            "base64 of the key bytes");
        if (!(key = malloc(bn / 4 * 3 + 3)))
            return err_set(e, CUST_ENOMEM, "webhook secret (standard): out of memory");
        got = b64_decode(b, bn, key, bn / 4 * 3 + 3);
        if (got <= 0) {
            size_t bad = 0;
            for (size_t i = 0; i < bn && !bad; i++)
                if (b64val((unsigned char)b[i]) < 0 && b[i] != '=')
                    bad = off + i + 1;
            OPENSSL_cleanse(key, bn / 4 * 3 + 3);
            free(key);
            if (bad)
                return err_set(e, CUST_ECONFIG,
                               "webhook secret (standard): character %zu is not standard base64 (A-Z a-z 0-9 + /): "
                               "expected \"whsec_<base64>\" or the bare base64 key",
                               bad);
            return err_set(e, CUST_ECONFIG,
                           "webhook secret (standard): the base64 after %s is %zu characters, not padded with '=' "
                           "to a multiple of 4 or with '=' in the middle: expected \"whsec_<base64>\" or the bare "
                           "base64 key, copied whole",
                           off ? "\"whsec_\"" : "the start", bn);
        }
        len = (size_t)got;
    } else {
        if (!(key = malloc(n)))
            return err_set(e, CUST_ENOMEM, "webhook secret (%s): out of memory", name);
        memcpy(key, text, n);
        len = n;
    }
    out->key = key;
    out->len = len;
    return CUST_OK;
}

void wh_secret_wipe(wh_secret *sec)
{
    if (!sec)
        return;
    if (sec->key) {
        OPENSSL_cleanse(sec->key, sec->len);
        free(sec->key);
    }
    sec->key = NULL;
    sec->len = 0;
}

/* ---- signature headers ------------------------------------------------------- */

typedef struct candidates {
    unsigned char mac[WH_MAX_SIGNATURES][MAC_LEN];
    size_t n;
} candidates;

/* webhook-signature: "<version>,<signature>" entries separated by spaces.
 * v1 entries must be the base64 of 32 bytes; other versions (v1a, a future
 * v2) are skipped, but still have to look like entries. */
static wh_verdict parse_standard_sig(slice s, candidates *c, char *why, size_t wl)
{
    const char *h = "webhook-signature";
    size_t i = 0, entries = 0;

    c->n = 0;
    while (i < s.n) {
        size_t start, end, comma = 0;
        int has_comma = 0;
        if (s.p[i] == ' ') {
            i++;
            continue;
        }
        entries++;
        start = i;
        for (; i < s.n && s.p[i] != ' '; i++) {
            if (!visible((unsigned char)s.p[i]))
                return say(WH_MALFORMED, why, wl,
                           "%s header: byte %zu is not visible ASCII: expected space-separated "
                           "\"v1,<base64>\" entries",
                           h, i + 1);
            if (s.p[i] == ',' && !has_comma) {
                has_comma = 1;
                comma = i;
            }
        }
        end = i;
        if (!has_comma || comma == start || comma + 1 == end)
            return say(WH_MALFORMED, why, wl,
                       "%s header: entry %zu is not \"<version>,<signature>\": expected space-separated "
                       "\"v1,<base64>\" entries",
                       h, entries);
        for (size_t k = start; k < comma; k++)
            if (!((s.p[k] >= 'a' && s.p[k] <= 'z') || (s.p[k] >= '0' && s.p[k] <= '9')))
                return say(WH_MALFORMED, why, wl,
                           "%s header: entry %zu has a version that is not lower-case letters and digits "
                           "(expected \"v1\")",
                           h, entries);
        if (comma - start == 2 && memcmp(s.p + start, "v1", 2) == 0) {
            if (c->n == WH_MAX_SIGNATURES)
                return say(WH_MALFORMED, why, wl, "%s header: more than %d v1 signatures", h, WH_MAX_SIGNATURES);
            if (end - comma - 1 != MAC_B64 || b64_decode(s.p + comma + 1, MAC_B64, c->mac[c->n], MAC_LEN) != MAC_LEN)
                return say(WH_MALFORMED, why, wl,
                           "%s header: the v1 signature in entry %zu is not the base64 of 32 bytes "
                           "(44 characters of A-Z a-z 0-9 + / ending in one '=')",
                           h, entries);
            c->n++;
        }
    }
    if (entries == 0)
        return say(WH_MALFORMED, why, wl, "%s header is empty: expected space-separated \"v1,<base64>\" entries",
                   h);
    if (c->n == 0)
        return say(WH_MALFORMED, why, wl,
                   "%s header has no v1 (HMAC-SHA256) signature among its %zu entries: other versions such as "
                   "v1a (Ed25519) are not verified here",
                   h, entries);
    return WH_OK;
}

/* Stripe-Signature: comma-separated key=value items; exactly one t=, one or
 * more v1=; v0= and unknown keys skipped but still key=value shaped. */
static wh_verdict parse_stripe_sig(slice s, candidates *c, slice *t, int64_t *ts, char *why, size_t wl)
{
    const char *h = "Stripe-Signature";
    const char *shape = "expected \"t=<unix seconds>,v1=<64 hex digits>\"";
    size_t i = 0, items = 0;
    int have_t = 0;

    c->n = 0;
    if (s.n == 0)
        return say(WH_MALFORMED, why, wl, "%s header is empty: %s", h, shape);
    while (i <= s.n) {
        size_t start = i, eq = 0, end;
        int has_eq = 0;
        for (; i < s.n && s.p[i] != ','; i++) {
            if (!visible((unsigned char)s.p[i]))
                return say(WH_MALFORMED, why, wl, "%s header: byte %zu is not visible ASCII: %s", h, i + 1, shape);
            if (s.p[i] == '=' && !has_eq) {
                has_eq = 1;
                eq = i;
            }
        }
        end = i++; /* past the comma (or past the end: the loop stops) */
        items++;
        if (!has_eq || eq == start || eq + 1 == end)
            return say(WH_MALFORMED, why, wl, "%s header: item %zu is not key=value: %s", h, items, shape);
        for (size_t k = start; k < eq; k++)
            if (!((s.p[k] >= 'a' && s.p[k] <= 'z') || (s.p[k] >= '0' && s.p[k] <= '9')))
                return say(WH_MALFORMED, why, wl,
                           "%s header: item %zu has a key that is not lower-case letters and digits: %s", h, items,
                           shape);
        if (eq - start == 1 && s.p[start] == 't') {
            if (have_t)
                return say(WH_MALFORMED, why, wl, "%s header: more than one t=: %s", h, shape);
            if (!timestamp_ok(s.p + eq + 1, end - eq - 1, ts))
                return say(WH_MALFORMED, why, wl,
                           "%s header: t= is not Unix seconds (plain digits, no sign or leading zeros, at most "
                           "%d): %s",
                           h, WH_TIMESTAMP_DIGITS, shape);
            have_t = 1;
            t->p = s.p + eq + 1;
            t->n = end - eq - 1;
        } else if (eq - start == 2 && memcmp(s.p + start, "v1", 2) == 0) {
            if (c->n == WH_MAX_SIGNATURES)
                return say(WH_MALFORMED, why, wl, "%s header: more than %d v1 signatures", h, WH_MAX_SIGNATURES);
            if (!hex_mac(s.p + eq + 1, end - eq - 1, c->mac[c->n]))
                return say(WH_MALFORMED, why, wl,
                           "%s header: v1= in item %zu is not 64 hex digits (an HMAC-SHA256): %s", h, items, shape);
            c->n++;
        }
    }
    if (!have_t)
        return say(WH_MALFORMED, why, wl, "%s header has no t= timestamp: %s", h, shape);
    if (c->n == 0)
        return say(WH_MALFORMED, why, wl,
                   "%s header has no v1= signature (v0 and other schemes are not accepted): %s", h, shape);
    return WH_OK;
}

static wh_verdict parse_github_sig(slice s, candidates *c, char *why, size_t wl)
{
    const char *h = "X-Hub-Signature-256";
    c->n = 0;
    if (s.n >= 5 && memcmp(s.p, "sha1=", 5) == 0)
        return say(WH_MALFORMED, why, wl,
                   "%s header carries a SHA-1 signature: expected \"sha256=<64 hex digits>\" (X-Hub-Signature, "
                   "SHA-1, is not accepted)",
                   h);
    if (s.n < 7 || memcmp(s.p, "sha256=", 7) != 0 || !hex_mac(s.p + 7, s.n - 7, c->mac[0]))
        return say(WH_MALFORMED, why, wl, "%s header: expected \"sha256=<64 hex digits>\"", h);
    c->n = 1;
    return WH_OK;
}

/* ---- matching and time ----------------------------------------------------------- */

/* Does any candidate match the MAC of parts under any secret? Every secret's
 * MAC is computed and compared with every candidate by CRYPTO_memcmp,
 * whatever matched before: the time taken depends on the counts only, not
 * on where a forged MAC first differs. *which is the 1-based index of the
 * first matching secret (0 when none); *usable counts secrets with a key.
 * Returns WH_OK, WH_BAD_SIGNATURE or WH_ERROR. */
static wh_verdict match(const wh_secret *secrets, size_t nsecrets, const candidates *c, const struct part *parts,
                        size_t nparts, size_t *which, size_t *usable)
{
    unsigned char mac[MAC_LEN];
    int any = 0;

    *which = 0;
    *usable = 0;
    for (size_t i = 0; secrets && i < nsecrets; i++) {
        int hit = 0;
        /* An empty key would make forgery trivial for anyone who guessed
         * the configuration was empty: never usable. */
        if (!secrets[i].key || secrets[i].len == 0)
            continue;
        ++*usable;
        if (!hmac_parts(secrets[i].key, secrets[i].len, parts, nparts, mac)) {
            OPENSSL_cleanse(mac, sizeof mac);
            return WH_ERROR;
        }
        for (size_t j = 0; j < c->n; j++)
            hit |= CRYPTO_memcmp(mac, c->mac[j], MAC_LEN) == 0;
        /* Branching on a whole-MAC match leaks nothing about a forged
         * one's bytes; it only names the secret that signed. */
        if (hit && !any)
            *which = i + 1;
        any |= hit;
    }
    OPENSSL_cleanse(mac, sizeof mac);
    return any ? WH_OK : WH_BAD_SIGNATURE;
}

static wh_verdict no_match(wh_verdict v, const char *h, size_t ncand, size_t usable, size_t nsecrets, char *why,
                           size_t wl)
{
    if (v == WH_ERROR)
        return say(v, why, wl, "%s: HMAC-SHA256 failed in libcrypto (out of memory?): nothing verified", h);
    if (nsecrets == 0)
        return say(WH_BAD_SIGNATURE, why, wl, "%s: no webhook secret is configured: nothing can verify", h);
    if (usable == 0)
        return say(WH_BAD_SIGNATURE, why, wl,
                   "%s: none of the %zu configured webhook secrets is usable (all empty): nothing can verify", h,
                   nsecrets);
    return say(WH_BAD_SIGNATURE, why, wl,
               "%s: none of the %zu signature(s) matches any of the %zu secret(s): a wrong or rotated-out "
               "secret, or the body changed after signing (verify the raw bytes, before any parsing)",
               h, ncand, usable);
}

static wh_verdict check_time(const char *h, int64_t ts, int64_t now, int64_t tol, char *why, size_t wl)
{
    /* ts is in [0, 10^18) and now is any int64: the true difference fits
     * in uint64_t, so modular subtraction gives it exactly. */
    if (tol < 0)
        tol = 0;
    if (ts < now) {
        uint64_t age = (uint64_t)now - (uint64_t)ts;
        if (age > (uint64_t)tol)
            return say(WH_STALE, why, wl,
                       "%s%lld is %llu s old, beyond the %lld s tolerance: a replayed request, or this host's "
                       "clock is ahead",
                       h, (long long)ts, (unsigned long long)age, (long long)tol);
    } else {
        uint64_t ahead = (uint64_t)ts - (uint64_t)now;
        if (ahead > (uint64_t)tol)
            return say(WH_FUTURE, why, wl,
                       "%s%lld is %llu s in the future, beyond the %lld s tolerance: this host's clock is "
                       "behind, or the sender's is ahead",
                       h, (long long)ts, (unsigned long long)ahead, (long long)tol);
    }
    return WH_OK;
}

/* ---- the schemes ----------------------------------------------------------------- */

static wh_verdict verify_standard(const wh_secret *secrets, size_t nsecrets, const wh_request *rq, int64_t now,
                                  int64_t tol, char *why, size_t wl)
{
    slice id, ts, sig;
    candidates c;
    int64_t t = 0;
    size_t which, usable;
    wh_verdict v;
    struct part parts[5];

    if (!rq->id || !rq->timestamp || !rq->signature)
        return say(WH_MISSING, why, wl, "%s%s%s%s%s header missing: Standard Webhooks sends webhook-id, "
                                        "webhook-timestamp and webhook-signature",
                   !rq->id ? "webhook-id" : "", !rq->id && (!rq->timestamp || !rq->signature) ? ", " : "",
                   !rq->timestamp ? "webhook-timestamp" : "", !rq->timestamp && !rq->signature ? ", " : "",
                   !rq->signature ? "webhook-signature" : "");
    if (!header_value(rq->id, &id) || !id_ok(id.p, id.n))
        return say(WH_MALFORMED, why, wl,
                   "webhook-id header: expected 1 to %d visible ASCII characters (no spaces or control "
                   "characters)",
                   WH_ID_MAX);
    if (!header_value(rq->timestamp, &ts) || !timestamp_ok(ts.p, ts.n, &t))
        return say(WH_MALFORMED, why, wl,
                   "webhook-timestamp header: expected Unix seconds as plain digits (no sign, fraction or "
                   "leading zeros, at most %d)",
                   WH_TIMESTAMP_DIGITS);
    if (!header_value(rq->signature, &sig))
        return say(WH_MALFORMED, why, wl, "webhook-signature header is over %d bytes", WH_HEADER_MAX);
    if ((v = parse_standard_sig(sig, &c, why, wl)) != WH_OK)
        return v;

    parts[0] = (struct part){id.p, id.n};
    parts[1] = (struct part){".", 1};
    parts[2] = (struct part){ts.p, ts.n};
    parts[3] = (struct part){".", 1};
    parts[4] = (struct part){rq->body, rq->body_len};
    if ((v = match(secrets, nsecrets, &c, parts, 5, &which, &usable)) != WH_OK)
        return no_match(v, "webhook-signature", c.n, usable, nsecrets, why, wl);
    if ((v = check_time("webhook-timestamp ", t, now, tol, why, wl)) != WH_OK)
        return v;
    return say(WH_OK, why, wl, "webhook-signature: v1 signature verified with secret %zu of %zu", which, nsecrets);
}

static wh_verdict verify_stripe(const wh_secret *secrets, size_t nsecrets, const wh_request *rq, int64_t now,
                                int64_t tol, char *why, size_t wl)
{
    slice sig, t = {NULL, 0};
    candidates c;
    int64_t ts = 0;
    size_t which, usable;
    wh_verdict v;
    struct part parts[3];

    if (!rq->signature)
        return say(WH_MISSING, why, wl, "Stripe-Signature header missing");
    if (!header_value(rq->signature, &sig))
        return say(WH_MALFORMED, why, wl, "Stripe-Signature header is over %d bytes", WH_HEADER_MAX);
    if ((v = parse_stripe_sig(sig, &c, &t, &ts, why, wl)) != WH_OK)
        return v;

    parts[0] = (struct part){t.p, t.n};
    parts[1] = (struct part){".", 1};
    parts[2] = (struct part){rq->body, rq->body_len};
    if ((v = match(secrets, nsecrets, &c, parts, 3, &which, &usable)) != WH_OK)
        return no_match(v, "Stripe-Signature", c.n, usable, nsecrets, why, wl);
    if ((v = check_time("Stripe-Signature t=", ts, now, tol, why, wl)) != WH_OK)
        return v;
    return say(WH_OK, why, wl, "Stripe-Signature: v1 signature verified with secret %zu of %zu", which, nsecrets);
}

static wh_verdict verify_github(const wh_secret *secrets, size_t nsecrets, const wh_request *rq, char *why,
                                size_t wl)
{
    slice id, sig;
    candidates c;
    size_t which, usable;
    wh_verdict v;
    struct part parts[1];

    if (!rq->id || !rq->signature)
        return say(WH_MISSING, why, wl, "%s%s%s header missing: GitHub sends X-GitHub-Delivery (the replay key) "
                                        "and X-Hub-Signature-256",
                   !rq->id ? "X-GitHub-Delivery" : "", !rq->id && !rq->signature ? ", " : "",
                   !rq->signature ? "X-Hub-Signature-256" : "");
    if (!header_value(rq->id, &id) || !id_ok(id.p, id.n))
        return say(WH_MALFORMED, why, wl,
                   "X-GitHub-Delivery header: expected 1 to %d visible ASCII characters (a GUID)", WH_ID_MAX);
    if (!header_value(rq->signature, &sig))
        return say(WH_MALFORMED, why, wl, "X-Hub-Signature-256 header is over %d bytes", WH_HEADER_MAX);
    if ((v = parse_github_sig(sig, &c, why, wl)) != WH_OK)
        return v;

    parts[0] = (struct part){rq->body, rq->body_len};
    if ((v = match(secrets, nsecrets, &c, parts, 1, &which, &usable)) != WH_OK)
        return no_match(v, "X-Hub-Signature-256", c.n, usable, nsecrets, why, wl);
    return say(WH_OK, why, wl, "X-Hub-Signature-256: verified with secret %zu of %zu", which, nsecrets);
}

wh_verdict wh_verify(wh_scheme s, const wh_secret *secrets, size_t nsecrets, const wh_request *rq, int64_t now_s,
                     int64_t tolerance_s, char *why, size_t why_len)
{
    if (why && why_len)
        why[0] = '\0';
    if (!rq)
        return say(WH_MISSING, why, why_len, "no request to verify");
    if (!rq->body && rq->body_len)
        return say(WH_MALFORMED, why, why_len, "the body pointer is NULL but its length is %zu", rq->body_len);
    switch (s) {
    case WH_STANDARD: return verify_standard(secrets, nsecrets, rq, now_s, tolerance_s, why, why_len);
    case WH_STRIPE: return verify_stripe(secrets, nsecrets, rq, now_s, tolerance_s, why, why_len);
    case WH_GITHUB: return verify_github(secrets, nsecrets, rq, why, why_len);
    }
    return say(WH_MALFORMED, why, why_len, "unknown webhook scheme %d (expected standard, stripe or github)", (int)s);
}

/* ---- signing ------------------------------------------------------------------- */

cust_code wh_sign(wh_scheme s, const wh_secret *secret, const char *id, int64_t ts, const unsigned char *body,
                  size_t len, buf *header_value_out, struct err *e)
{
    unsigned char mac[MAC_LEN];
    char tsbuf[24], line[16 + MAC_HEX + 24];
    struct part parts[5];
    size_t nparts = 0, idn = 0, tsn = 0;
    cust_code rc;

    if ((unsigned)s > WH_GITHUB)
        return err_set(e, CUST_EUSAGE, "wh_sign: unknown scheme %d", (int)s);
    if (!secret || !secret->key || secret->len == 0)
        return err_set(e, CUST_EUSAGE, "wh_sign (%s): no secret (decode one with wh_secret_decode)",
                       wh_scheme_name(s));
    if (!body && len)
        return err_set(e, CUST_EUSAGE, "wh_sign (%s): body is NULL but its length is %zu", wh_scheme_name(s), len);
    if (s != WH_GITHUB) {
        if (ts < 0 || ts > 999999999999999999LL)
            return err_set(e, CUST_EUSAGE, "wh_sign (%s): timestamp %lld is not Unix seconds in [0, 10^18)",
                           wh_scheme_name(s), (long long)ts);
        tsn = (size_t)snprintf(tsbuf, sizeof tsbuf, "%lld", (long long)ts);
    }
    if (s == WH_STANDARD) {
        idn = id ? strnlen(id, (size_t)WH_ID_MAX + 1) : 0;
        if (!id || !id_ok(id, idn))
            return err_set(e, CUST_EUSAGE, "wh_sign (standard): the id must be 1 to %d visible ASCII characters",
                           WH_ID_MAX);
        parts[nparts++] = (struct part){id, idn};
        parts[nparts++] = (struct part){".", 1};
    }
    if (s != WH_GITHUB) {
        parts[nparts++] = (struct part){tsbuf, tsn};
        parts[nparts++] = (struct part){".", 1};
    }
    parts[nparts++] = (struct part){body, len};
    if (!hmac_parts(secret->key, secret->len, parts, nparts, mac))
        return err_set(e, CUST_ENOMEM, "wh_sign (%s): HMAC-SHA256 failed in libcrypto", wh_scheme_name(s));

    switch (s) {
    case WH_STANDARD:
        memcpy(line, "v1,", 3);
        EVP_EncodeBlock((unsigned char *)line + 3, mac, MAC_LEN); /* NUL-terminates */
        break;
    case WH_STRIPE: {
        char hex[MAC_HEX + 1];
        hex_encode(mac, MAC_LEN, hex);
        snprintf(line, sizeof line, "t=%s,v1=%s", tsbuf, hex);
        break;
    }
    case WH_GITHUB:
        memcpy(line, "sha256=", 7);
        hex_encode(mac, MAC_LEN, line + 7);
        break;
    }
    OPENSSL_cleanse(mac, sizeof mac);
    if ((rc = buf_adds(header_value_out, line)) != CUST_OK)
        return err_set(e, rc, "wh_sign (%s): the header value buffer is full", wh_scheme_name(s));
    return CUST_OK;
}
