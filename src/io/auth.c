/* auth.c - the registered authentication schemes. */
#include "auth.h"

#include <openssl/crypto.h>
#include <string.h>

static cust_code none_header(const char *secret, buf *out, struct err *e)
{
    return CUST_OK;
}

static cust_code bearer_header(const char *secret, buf *out, struct err *e)
{
    if (buf_adds(out, "Authorization: Bearer ") || buf_adds(out, secret))
        return err_set(e, CUST_ENOMEM, "authorization header too long");
    return CUST_OK;
}

static const auth_scheme schemes[] = {
    {"none", 0, none_header},
    {"bearer", 1, bearer_header},
};

const auth_scheme *auth_lookup(const char *name)
{
    for (size_t i = 0; i < sizeof schemes / sizeof *schemes; i++)
        if (strcmp(schemes[i].name, name) == 0)
            return &schemes[i];
    return NULL;
}

void auth_wipe(buf *b)
{
    if (b->ptr)
        OPENSSL_cleanse(b->ptr, b->cap);
    buf_release(b);
}
