/* auth.h - authentication schemes as a table: each turns a source's auth
 * settings and its secret into request header lines. Secrets pass through
 * here only into the header buffer, which the caller wipes after use. */
#ifndef CUSTODY_AUTH_H
#define CUSTODY_AUTH_H

#include "core/buf.h"
#include "core/err.h"

typedef struct auth_scheme {
    const char *name;
    int needs_secret;
    /* Append one "Name: value" header line (no CRLF) to out, or nothing. */
    cust_code (*header)(const char *secret, buf *out, struct err *e);
} auth_scheme;

const auth_scheme *auth_lookup(const char *name); /* NULL if unknown */

/* Overwrite a buffer that held a secret before releasing it. */
void auth_wipe(buf *b);

#endif
