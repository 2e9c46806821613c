/* sha256.h - SHA-256 through libcrypto with the algorithm fetched once and
 * a per-thread context reused: OpenSSL 3 otherwise looks the digest up
 * under a lock on every call, which showed in the ingest profile. */
#ifndef CUSTODY_SHA256_H
#define CUSTODY_SHA256_H

#include <stddef.h>

#define SHA256_LEN 32

/* out = SHA-256(a || b || c); a NULL/0 part is skipped. */
void sha256_parts(const void *a, size_t alen, const void *b, size_t blen, const void *c, size_t clen,
                  unsigned char out[SHA256_LEN]);
void sha256(const void *data, size_t len, unsigned char out[SHA256_LEN]);

#endif
