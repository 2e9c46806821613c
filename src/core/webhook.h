/* webhook.h - verification of incoming webhook signatures over the RAW body,
 * before anything parses it: Standard Webhooks (standardwebhooks.com, v1
 * HMAC-SHA256), Stripe (Stripe-Signature, v1) and GitHub
 * (X-Hub-Signature-256). Pure: takes header values, the body bytes and the
 * time; no I/O, no clock, no replay store (the caller dedupes on the id).
 * Uses libcrypto (HMAC-SHA256, constant-time comparison). */
#ifndef CUSTODY_WEBHOOK_H
#define CUSTODY_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>
#include "buf.h"
#include "err.h"

typedef enum wh_scheme {
    WH_STANDARD = 0, /* webhook-id, webhook-timestamp, webhook-signature "v1,<base64>" ... */
    WH_STRIPE,       /* Stripe-Signature "t=<unix>,v1=<hex>[,v1=<hex>][,v0=...]" */
    WH_GITHUB        /* X-Hub-Signature-256 "sha256=<hex>"; X-GitHub-Delivery is the replay key */
} wh_scheme;

/* "standard", "stripe", "github"; "unknown" for any other value. */
const char *wh_scheme_name(wh_scheme s);
/* Parse one of those names (exact, lower case). Returns 1 and sets *out, or
 * 0 leaving *out unchanged (NULL name included). */
int wh_scheme_parse(const char *name, wh_scheme *out);

/* Which request headers a scheme reads, so the HTTP layer knows what to
 * hand over. */
typedef enum wh_field {
    WH_FIELD_ID = 0,    /* wh_request.id */
    WH_FIELD_TIMESTAMP, /* wh_request.timestamp */
    WH_FIELD_SIGNATURE  /* wh_request.signature */
} wh_field;

/* The header name (canonical spelling; HTTP header names match without
 * case) feeding field f under scheme s, or NULL when the scheme has no such
 * header:
 *   standard: webhook-id, webhook-timestamp, webhook-signature (Svix
 *             sends the same scheme as svix-id, svix-timestamp,
 *             svix-signature: the HTTP layer may map those too)
 *   stripe:   NULL (the event id is inside the body: the caller reads it
 *             after verification), NULL (t= is inside Stripe-Signature),
 *             Stripe-Signature
 *   github:   X-GitHub-Delivery, NULL, X-Hub-Signature-256 */
const char *wh_header_name(wh_scheme s, wh_field f);

/* Outcomes of wh_verify. Stable values (they may be logged and audited). */
typedef enum wh_verdict {
    WH_OK = 0,
    WH_MISSING,       /* a header the scheme needs is absent */
    WH_MALFORMED,     /* a header is present but not of the expected shape or
                         over its length cap */
    WH_STALE,         /* authentic, but the timestamp is older than the tolerance */
    WH_FUTURE,        /* authentic, but the timestamp is further ahead than the tolerance */
    WH_BAD_SIGNATURE, /* well formed, but no signature matches any secret (or
                         there is no usable secret) */
    WH_ERROR          /* libcrypto failed (out of memory): nothing was verified;
                         answer 5xx so the sender retries */
} wh_verdict;

/* "ok", "missing", "malformed", "stale", "future", "bad-signature",
 * "error"; "unknown" for any other value. */
const char *wh_verdict_name(wh_verdict v);

/* Caps. A header value longer than WH_HEADER_MAX bytes, an id longer than
 * WH_ID_MAX or a timestamp of more than WH_TIMESTAMP_DIGITS digits is
 * WH_MALFORMED; so is a header carrying more than WH_MAX_SIGNATURES v1
 * signatures. Secret texts are capped at WH_SECRET_MAX bytes. */
#define WH_HEADER_MAX 8192
#define WH_ID_MAX 256
#define WH_TIMESTAMP_DIGITS 18 /* below INT64_MAX: no overflow */
#define WH_MAX_SIGNATURES 16
#define WH_SECRET_MAX 1024
#define WH_TOLERANCE_DEFAULT 300 /* seconds, either side of now */

/* The header values a scheme uses (see wh_header_name), NULL when the
 * request did not carry that header; fields a scheme does not use are
 * ignored. Values are NUL-terminated; optional whitespace (SP, HTAB) at
 * either end is ignored, as HTTP allows. body may be NULL when body_len is
 * 0. Nothing is retained after the call. */
typedef struct wh_request {
    const char *id;
    const char *timestamp;
    const char *signature;
    const unsigned char *body;
    size_t body_len;
} wh_request;

/* A decoded signing key. key is owned by the struct (malloc); release it
 * with wh_secret_wipe. A {NULL, 0} secret never matches anything. */
typedef struct wh_secret {
    unsigned char *key;
    size_t len;
} wh_secret;

/* Turn a configured secret text into key bytes for scheme s:
 *   standard: "whsec_<base64>" or the bare base64; the key is the decoded
 *             bytes (strict standard base64: '=' padding, no whitespace,
 *             no junk, zero trailing bits). The spec asks senders for 24 to
 *             64 bytes; shorter keys are accepted (the sender chose them).
 *   stripe:   the text verbatim, "whsec_" included, is the key.
 *   github:   the text verbatim is the key.
 * Refused (CUST_ECONFIG, *out unchanged): NULL or empty text, more than
 * WH_SECRET_MAX bytes, control characters (a newline from a secret file),
 * bad base64 for standard. Messages say what is wrong and where (a
 * position), never the secret. CUST_ENOMEM when allocation fails. */
cust_code wh_secret_decode(wh_scheme s, const char *text, wh_secret *out, struct err *e) CUST_WUR;
/* Overwrite the key bytes, free them and zero the struct. NULL is a no-op. */
void wh_secret_wipe(wh_secret *sec);

/* Verify rq under scheme s against every one of the nsecrets secrets (key
 * rotation: any secret matching any v1 signature passes). Checks, in order:
 * the needed headers are present (WH_MISSING), each is well formed
 * (WH_MALFORMED), a signature matches (WH_BAD_SIGNATURE), then the
 * timestamp is within tolerance_s seconds of now_s either way (WH_STALE,
 * WH_FUTURE; GitHub has no timestamp). Signature before time, so STALE and
 * FUTURE are only ever said of authentic requests: clock skew or a replay,
 * never a forgery.
 *
 *   standard: id (webhook-id, 1..WH_ID_MAX visible ASCII), timestamp
 *             (webhook-timestamp: Unix seconds, plain digits without
 *             leading zeros), signature (webhook-signature: space-separated
 *             "<version>,<sig>"; v1 entries must be base64 of 32 bytes,
 *             other versions such as v1a are ignored, at least one v1).
 *             Signed: "<id>.<timestamp>.<body>", HMAC-SHA256.
 *   stripe:   signature (Stripe-Signature: comma-separated key=value, one
 *             t=<Unix seconds>, one or more v1=<64 hex digits>; v0 and
 *             unknown keys ignored). Signed: "<t>.<body>".
 *   github:   id (X-GitHub-Delivery, required: it is the replay key, though
 *             unsigned), signature ("sha256=<64 hex digits>"). Signed: the
 *             body. No timestamp: now_s and tolerance_s are unused.
 *
 * MACs are compared in constant time and every candidate is compared with
 * every secret (no early exit). tolerance_s < 0 counts as 0 (use
 * WH_TOLERANCE_DEFAULT unless configured). why (may be NULL; why_len 0 is
 * allowed) receives a one-line reason naming the header and the expected
 * shape, or on WH_OK which secret matched (for rotation monitoring);
 * secrets and MACs are never written to it. Nothing is retained. */
wh_verdict wh_verify(wh_scheme s, const wh_secret *secrets, size_t nsecrets, const wh_request *rq,
                     int64_t now_s, int64_t tolerance_s, char *why, size_t why_len);

/* The signature header value a sender would send for body under secret at
 * time ts (Unix seconds, >= 0): standard "v1,<base64>" (id required, 1..
 * WH_ID_MAX visible ASCII), stripe "t=<ts>,v1=<hex>", github
 * "sha256=<hex>" (id and ts unused). Appended to header_value (join several
 * standard values with a space to sign with several secrets). Errors:
 * CUST_EUSAGE for a bad id, ts, scheme or empty secret, CUST_ENOMEM when
 * libcrypto or the buffer fails; header_value is unchanged on error. For
 * tests and mock senders. */
cust_code wh_sign(wh_scheme s, const wh_secret *secret, const char *id, int64_t ts, const unsigned char *body,
                  size_t len, buf *header_value, struct err *e) CUST_WUR;

#endif
