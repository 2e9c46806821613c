/* err.h - custody's one error enum and the detail record failing calls fill.
 * Pure: no I/O. Codes are stable; exit codes of the CLI derive from them. */
#ifndef CUSTODY_ERR_H
#define CUSTODY_ERR_H

#include <stddef.h>

#define CUST_WUR __attribute__((warn_unused_result))
#define CUST_PRINTF(f, a) __attribute__((format(printf, f, a)))

typedef enum {
    CUST_OK = 0,
    CUST_ENOMEM = 1,   /* allocation failed or a buffer cap was hit */
    CUST_EUSAGE = 2,   /* bad command line */
    CUST_ECONFIG = 3,  /* bad configuration file */
    CUST_EJSON = 4,    /* malformed or over-limit JSON */
    CUST_EHTTP = 5,    /* transport failure (connect, timeout, TLS) */
    CUST_EUPSTREAM = 6,/* upstream answered, but not usefully (status, shape) */
    CUST_EDATA = 7,    /* a record failed its contract (normally quarantined) */
    CUST_ESTORE = 8,   /* the store failed or refused */
    CUST_EAUDIT = 9,   /* audit verification failed */
    CUST_EIO = 10,     /* file system */
    CUST_ENOTFOUND = 11,
    CUST_ELIMIT = 12,  /* a size/depth/count bound was exceeded */
    CUST_EFENCED = 13  /* a stale lease or concurrent writer */
} cust_code;

/* Detail of a failure: code, a human message saying what/where/what to do,
 * and the raw cause from the layer below (errno, CURLcode, SQLite extended
 * result code), 0 when none. */
struct err {
    cust_code code;
    long cause;
    char msg[1024];
};

/* Stable short name of a code ("store", "config", ...). Never NULL. */
const char *cust_strerror(cust_code code);

/* Fill e (if non-NULL) and return code. A NULL e is allowed everywhere. */
cust_code err_set(struct err *e, cust_code code, const char *fmt, ...) CUST_PRINTF(3, 4);
cust_code err_setc(struct err *e, cust_code code, long cause, const char *fmt, ...) CUST_PRINTF(4, 5);
/* Prefix an existing message with context ("source fsma: " + msg). */
void err_prefix(struct err *e, const char *fmt, ...) CUST_PRINTF(2, 3);
void err_clear(struct err *e);

/* CLI exit code for a failure: 1 upstream/data, 2 usage/config, 3 store,
 * 4 audit verification. */
int err_exit_code(cust_code code);

#endif
