/* sha256.c - see sha256.h. */
#include "sha256.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>

static EVP_MD *md;
static pthread_once_t md_once = PTHREAD_ONCE_INIT;
static _Thread_local EVP_MD_CTX *tctx;

static void fetch_md(void)
{
    md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

void sha256_parts(const void *a, size_t alen, const void *b, size_t blen, const void *c, size_t clen,
                  unsigned char out[SHA256_LEN])
{
    unsigned int n = 0;
    pthread_once(&md_once, fetch_md);
    if (!tctx)
        tctx = EVP_MD_CTX_new();
    /* A missing SHA-256 or a failed 200-byte allocation leaves nothing
     * sane to hash with; every evidence path depends on it. */
    if (!md || !tctx || !EVP_DigestInit_ex(tctx, md, NULL) || (alen && !EVP_DigestUpdate(tctx, a, alen)) ||
        (blen && !EVP_DigestUpdate(tctx, b, blen)) || (clen && !EVP_DigestUpdate(tctx, c, clen)) ||
        !EVP_DigestFinal_ex(tctx, out, &n))
        abort();
}

void sha256(const void *data, size_t len, unsigned char out[SHA256_LEN])
{
    sha256_parts(data, len, NULL, 0, NULL, 0, out);
}
