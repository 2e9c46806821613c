/* err.c - error codes, messages and their mapping to exit codes. */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *cust_strerror(cust_code code)
{
    switch (code) {
    case CUST_OK: return "ok";
    case CUST_ENOMEM: return "out of memory";
    case CUST_EUSAGE: return "usage";
    case CUST_ECONFIG: return "config";
    case CUST_EJSON: return "json";
    case CUST_EHTTP: return "http";
    case CUST_EUPSTREAM: return "upstream";
    case CUST_EDATA: return "data";
    case CUST_ESTORE: return "store";
    case CUST_EAUDIT: return "audit";
    case CUST_EIO: return "io";
    case CUST_ENOTFOUND: return "not found";
    case CUST_ELIMIT: return "limit";
    case CUST_EFENCED: return "fenced";
    }
    return "unknown";
}

__attribute__((format(printf, 4, 0)))
static cust_code vset(struct err *e, cust_code code, long cause, const char *fmt, va_list ap)
{
    if (!e)
        return code;
    e->code = code;
    e->cause = cause;
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    return code;
}

cust_code err_set(struct err *e, cust_code code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vset(e, code, 0, fmt, ap);
    va_end(ap);
    return code;
}

cust_code err_setc(struct err *e, cust_code code, long cause, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vset(e, code, cause, fmt, ap);
    va_end(ap);
    return code;
}

void err_prefix(struct err *e, const char *fmt, ...)
{
    char pre[512], old[sizeof e->msg];
    va_list ap;
    if (!e)
        return;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    {
        /* Truncation is fine for a message; keep the prefix whole. */
        size_t n = strlen(pre), m = strlen(old);
        if (n >= sizeof e->msg)
            n = sizeof e->msg - 1;
        if (m > sizeof e->msg - 1 - n)
            m = sizeof e->msg - 1 - n;
        memcpy(e->msg, pre, n);
        memcpy(e->msg + n, old, m);
        e->msg[n + m] = '\0';
    }
}

void err_clear(struct err *e)
{
    if (!e)
        return;
    e->code = CUST_OK;
    e->cause = 0;
    e->msg[0] = '\0';
}

int err_exit_code(cust_code code)
{
    switch (code) {
    case CUST_OK: return 0;
    case CUST_EUSAGE:
    case CUST_ECONFIG: return 2;
    case CUST_ESTORE:
    case CUST_EFENCED: return 3;
    case CUST_EAUDIT: return 4;
    default: return 1;
    }
}
