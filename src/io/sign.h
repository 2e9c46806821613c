/* sign.h - Ed25519 keys (libcrypto) for signed audit checkpoints, and the
 * checkpoint's signed text. A signature is stored as
 * "ed25519:<key id>:<base64>", key id = first 8 bytes (hex) of SHA-256 of
 * the raw 32-byte public key. Files are written atomically; private keys
 * mode 0600. */
#ifndef CUSTODY_SIGN_H
#define CUSTODY_SIGN_H

#include <stddef.h>
#include <stdint.h>
#include "core/buf.h"
#include "core/err.h"

typedef struct sign_key sign_key;

/* Write PREFIX.key (PKCS#8 PEM, 0600) and PREFIX.pub (PEM). Refuses to
 * overwrite an existing key (CUST_EIO). */
cust_code sign_keygen(const char *prefix, char key_id[17], struct err *e) CUST_WUR;

/* Load a private (for signing) or public (for verifying) key from a PEM
 * file. NULL with e filled (CUST_ECONFIG: which file, what is wrong). */
sign_key *sign_key_load_private(const char *path, struct err *e);
sign_key *sign_key_load_public(const char *path, struct err *e);
void sign_key_free(sign_key *k); /* NULL is a no-op */
const char *sign_key_id(const sign_key *k); /* 16 hex digits */

/* The exact bytes a checkpoint signature covers. */
cust_code checkpoint_text(int64_t tree_size, const char *root_hex, const char *time, buf *out) CUST_WUR;

/* The signature of a checkpoint (size, root, time) with k: checkpoint_text
 * signed by sign_data, into sig. */
cust_code checkpoint_sign(const sign_key *k, int64_t tree_size, const char *root_hex, const char *time, buf *sig,
                          struct err *e) CUST_WUR;

/* Sign data: out receives "ed25519:<key id>:<base64>". */
cust_code sign_data(const sign_key *k, const void *data, size_t len, buf *out, struct err *e) CUST_WUR;
/* 1 valid (and made by k), 0 not; a malformed signature string is 0. */
int sign_verify(const sign_key *k, const void *data, size_t len, const char *sig);

#endif
