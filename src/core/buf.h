/* buf.h - a growable byte buffer with a hard cap (curl's dynbuf idea).
 * Always NUL-terminated after a successful add. Pure: no I/O. */
#ifndef CUSTODY_BUF_H
#define CUSTODY_BUF_H

#include <stddef.h>
#include "err.h"

typedef struct buf {
    char *ptr;     /* NULL until the first add */
    size_t len;
    size_t cap;    /* allocated */
    size_t toobig; /* adds that would reach this many bytes fail */
} buf;

void buf_init(buf *b, size_t toobig);
/* Free the memory; the buffer is empty and usable again. */
void buf_release(buf *b);
/* Empty without freeing. */
void buf_reset(buf *b);
/* On error (CUST_ENOMEM, or CUST_ELIMIT past toobig) the buffer is unchanged. */
cust_code buf_add(buf *b, const void *data, size_t len) CUST_WUR;
cust_code buf_adds(buf *b, const char *s) CUST_WUR;
cust_code buf_addc(buf *b, char c) CUST_WUR;
cust_code buf_addf(buf *b, const char *fmt, ...) CUST_PRINTF(2, 3) CUST_WUR;
/* Hand the contents over: caller owns the returned pointer (free()); the
 * buffer is left empty. Returns NULL for an empty buffer. */
char *buf_take(buf *b);
/* Pointer to contents, "" when empty. Valid until the next add/release. */
const char *buf_str(const buf *b);

#endif
