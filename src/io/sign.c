/* sign.c - Ed25519 through libcrypto's EVP interface; see sign.h. */
#include "sign.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/sha256.h"

struct sign_key {
    EVP_PKEY *pkey;
    int private_;
    char id[17];
};

static int compute_id(EVP_PKEY *pk, char id[17])
{
    unsigned char raw[32], h[32];
    size_t n = sizeof raw;
    if (EVP_PKEY_get_raw_public_key(pk, raw, &n) != 1 || n != 32)
        return 0;
    sha256(raw, n, h);
    for (int i = 0; i < 8; i++)
        snprintf(id + 2 * i, 3, "%02x", h[i]);
    return 1;
}

/* temp file beside path, write, fsync, rename, fsync the directory */
static cust_code write_atomic(const char *path, const char *data, size_t len, mode_t mode, struct err *e)
{
    char tmp[4096], dir[4096];
    int fd, dfd;
    const char *slash;
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return err_set(e, CUST_EIO, "%s: path too long", path);
    if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, mode)) < 0)
        return err_setc(e, CUST_EIO, errno, "%s: cannot create: %s", tmp, strerror(errno));
    if (write(fd, data, len) != (ssize_t)len || fsync(fd) != 0) {
        int er = errno;
        close(fd);
        unlink(tmp);
        return err_setc(e, CUST_EIO, er, "%s: cannot write: %s", tmp, strerror(er));
    }
    close(fd);
    if (link(tmp, path) != 0) { /* link, not rename: never replace an existing key */
        int er = errno;
        unlink(tmp);
        return err_setc(e, CUST_EIO, er, "%s: %s%s", path, strerror(er),
                        er == EEXIST ? " (refusing to overwrite a key; move it away first)" : "");
    }
    unlink(tmp);
    slash = strrchr(path, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
    if ((dfd = open(dir[0] ? dir : "/", O_RDONLY | O_DIRECTORY)) >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return CUST_OK;
}

static cust_code pem_of(EVP_PKEY *pk, int priv, buf *out, struct err *e)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *p;
    long n;
    int ok;
    if (!b)
        return err_set(e, CUST_ENOMEM, "out of memory");
    ok = priv ? PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL) : PEM_write_bio_PUBKEY(b, pk);
    n = BIO_get_mem_data(b, &p);
    if (!ok || n <= 0 || buf_add(out, p, (size_t)n)) {
        BIO_free(b);
        return err_set(e, CUST_ENOMEM, "cannot encode the key");
    }
    BIO_free(b);
    return CUST_OK;
}

cust_code sign_keygen(const char *prefix, char key_id[17], struct err *e)
{
    EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    buf priv, pub;
    char path[4096];
    cust_code rc;
    if (!pk)
        return err_set(e, CUST_EIO, "cannot generate an Ed25519 key (libcrypto)");
    buf_init(&priv, 1 << 16);
    buf_init(&pub, 1 << 16);
    if ((rc = pem_of(pk, 1, &priv, e)) || (rc = pem_of(pk, 0, &pub, e)))
        goto out;
    if (!compute_id(pk, key_id)) {
        rc = err_set(e, CUST_EIO, "cannot read the public key back");
        goto out;
    }
    snprintf(path, sizeof path, "%s.key", prefix);
    if ((rc = write_atomic(path, priv.ptr, priv.len, 0600, e)))
        goto out;
    snprintf(path, sizeof path, "%s.pub", prefix);
    rc = write_atomic(path, pub.ptr, pub.len, 0644, e);
out:
    if (priv.ptr)
        OPENSSL_cleanse(priv.ptr, priv.cap);
    buf_release(&priv);
    buf_release(&pub);
    EVP_PKEY_free(pk);
    return rc;
}

static sign_key *load(const char *path, int priv, struct err *e)
{
    FILE *f = fopen(path, "rb");
    sign_key *k;
    EVP_PKEY *pk;
    struct stat st;
    if (!f) {
        err_setc(e, CUST_ECONFIG, errno, "%s: cannot open the %s key: %s", path, priv ? "signing" : "public",
                 strerror(errno));
        return NULL;
    }
    if (priv && fstat(fileno(f), &st) == 0 && (st.st_mode & 077))
        fprintf(stderr, "custody: warning: %s: the signing key is readable by others (chmod 600 it)\n", path);
    pk = priv ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : PEM_read_PUBKEY(f, NULL, NULL, NULL);
    fclose(f);
    if (!pk || EVP_PKEY_get_base_id(pk) != EVP_PKEY_ED25519) {
        EVP_PKEY_free(pk);
        err_set(e, CUST_ECONFIG, "%s: not an Ed25519 %s key in PEM form (make one with custody keygen)", path,
                priv ? "private" : "public");
        return NULL;
    }
    if (!(k = calloc(1, sizeof *k)) || !compute_id(pk, k->id)) {
        free(k);
        EVP_PKEY_free(pk);
        err_set(e, CUST_ENOMEM, "out of memory");
        return NULL;
    }
    k->pkey = pk;
    k->private_ = priv;
    return k;
}

sign_key *sign_key_load_private(const char *path, struct err *e)
{
    return load(path, 1, e);
}

sign_key *sign_key_load_public(const char *path, struct err *e)
{
    return load(path, 0, e);
}

void sign_key_free(sign_key *k)
{
    if (!k)
        return;
    EVP_PKEY_free(k->pkey);
    free(k);
}

const char *sign_key_id(const sign_key *k)
{
    return k->id;
}

cust_code checkpoint_text(int64_t tree_size, const char *root_hex, const char *time, buf *out)
{
    buf_reset(out);
    return buf_addf(out, "custody checkpoint v1\ntree_size %lld\nroot %s\ntime %s\n", (long long)tree_size,
                    root_hex, time)
               ? CUST_ENOMEM
               : CUST_OK;
}

cust_code checkpoint_sign(const sign_key *k, int64_t tree_size, const char *root_hex, const char *time, buf *sig,
                          struct err *e)
{
    buf text;
    cust_code rc;
    buf_init(&text, 4096);
    if ((rc = checkpoint_text(tree_size, root_hex, time, &text)))
        rc = err_set(e, rc, "out of memory");
    else
        rc = sign_data(k, text.ptr, text.len, sig, e);
    buf_release(&text);
    return rc;
}

cust_code sign_data(const sign_key *k, const void *data, size_t len, buf *out, struct err *e)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char sig[64], b64[96];
    size_t n = sizeof sig;
    if (!k->private_)
        return err_set(e, CUST_ECONFIG, "a public key cannot sign");
    if (!ctx || EVP_DigestSignInit(ctx, NULL, NULL, NULL, k->pkey) != 1 ||
        EVP_DigestSign(ctx, sig, &n, data, len) != 1 || n != 64) {
        EVP_MD_CTX_free(ctx);
        return err_set(e, CUST_EIO, "Ed25519 signing failed (libcrypto)");
    }
    EVP_MD_CTX_free(ctx);
    EVP_EncodeBlock(b64, sig, 64);
    buf_reset(out);
    return buf_addf(out, "ed25519:%s:%s", k->id, (char *)b64) ? err_set(e, CUST_ENOMEM, "out of memory") : CUST_OK;
}

int sign_verify(const sign_key *k, const void *data, size_t len, const char *s)
{
    unsigned char sig[66];
    EVP_MD_CTX *ctx;
    int n, ok;
    size_t b64len;
    if (!s || strncmp(s, "ed25519:", 8) != 0 || strncmp(s + 8, k->id, 16) != 0 || s[24] != ':')
        return 0;
    s += 25;
    b64len = strlen(s);
    if (b64len != 88)
        return 0;
    n = EVP_DecodeBlock(sig, (const unsigned char *)s, (int)b64len);
    if (n != 66) /* 64 bytes + 2 of padding */
        return 0;
    if (!(ctx = EVP_MD_CTX_new()))
        return 0;
    ok = EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k->pkey) == 1 &&
         EVP_DigestVerify(ctx, sig, 64, data, len) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}
