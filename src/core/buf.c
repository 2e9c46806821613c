/* buf.c - capped growable buffer. */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(buf *b, size_t toobig)
{
    b->ptr = NULL;
    b->len = 0;
    b->cap = 0;
    b->toobig = toobig;
}

void buf_release(buf *b)
{
    free(b->ptr);
    b->ptr = NULL;
    b->len = 0;
    b->cap = 0;
}

void buf_reset(buf *b)
{
    b->len = 0;
    if (b->ptr)
        b->ptr[0] = '\0';
}

static cust_code grow(buf *b, size_t need)
{
    size_t ncap;
    char *p;
    if (need >= b->toobig)
        return CUST_ELIMIT;
    if (need < b->cap)
        return CUST_OK;
    ncap = b->cap ? b->cap : 64;
    while (ncap <= need)
        ncap *= 2;
    if (ncap > b->toobig)
        ncap = b->toobig;
    p = realloc(b->ptr, ncap);
    if (!p)
        return CUST_ENOMEM;
    b->ptr = p;
    b->cap = ncap;
    return CUST_OK;
}

cust_code buf_add(buf *b, const void *data, size_t len)
{
    cust_code rc;
    if (len > b->toobig - b->len)
        return CUST_ELIMIT;
    rc = grow(b, b->len + len);
    if (rc)
        return rc;
    if (len)
        memcpy(b->ptr + b->len, data, len);
    b->len += len;
    b->ptr[b->len] = '\0';
    return CUST_OK;
}

cust_code buf_adds(buf *b, const char *s)
{
    return buf_add(b, s, strlen(s));
}

cust_code buf_addc(buf *b, char c)
{
    if (b->len + 1 < b->cap) {
        b->ptr[b->len++] = c;
        b->ptr[b->len] = '\0';
        return CUST_OK;
    }
    return buf_add(b, &c, 1);
}

cust_code buf_addf(buf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    int n;
    cust_code rc;
    va_start(ap, fmt);
    n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return CUST_ENOMEM;
    if ((size_t)n < sizeof small)
        return buf_add(b, small, (size_t)n);
    if ((size_t)n > b->toobig - b->len)
        return CUST_ELIMIT;
    rc = grow(b, b->len + (size_t)n);
    if (rc)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return CUST_OK;
}

char *buf_take(buf *b)
{
    char *p = b->ptr;
    b->ptr = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}

const char *buf_str(const buf *b)
{
    return b->ptr ? b->ptr : "";
}
