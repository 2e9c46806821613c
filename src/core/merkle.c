/* merkle.c - RFC 9162 tree hashes and the append-only frontier. */
#include "merkle.h"
#include "sha256.h"

#include <stdlib.h>
#include <string.h>

void merkle_leaf_hash(const void *entry, size_t len, unsigned char out[MERKLE_HASH])
{
    static const unsigned char zero = 0x00;
    sha256_parts(&zero, 1, entry, len, NULL, 0, out);
}

void merkle_node_hash(const unsigned char left[MERKLE_HASH], const unsigned char right[MERKLE_HASH],
                      unsigned char out[MERKLE_HASH])
{
    static const unsigned char one = 0x01;
    sha256_parts(&one, 1, left, MERKLE_HASH, right, MERKLE_HASH, out);
}

void merkle_frontier_init(merkle_frontier *f)
{
    memset(f, 0, sizeof *f);
}

void merkle_frontier_push(merkle_frontier *f, const unsigned char leaf[MERKLE_HASH])
{
    unsigned char h[MERKLE_HASH];
    uint64_t n = f->size;
    memcpy(h, leaf, MERKLE_HASH);
    /* Like a binary counter: each trailing one bit is a perfect subtree of
     * the same height as the carry, so they merge. */
    while (n & 1) {
        merkle_node_hash(f->h[--f->n], h, h);
        n >>= 1;
    }
    memcpy(f->h[f->n++], h, MERKLE_HASH);
    f->size++;
}

void merkle_frontier_root(const merkle_frontier *f, unsigned char out[MERKLE_HASH])
{
    unsigned char r[MERKLE_HASH];
    if (f->n == 0) {
        sha256_parts(NULL, 0, NULL, 0, NULL, 0, out);
        return;
    }
    /* RFC 9162 splits at the largest power of two below n, so the root is
     * the right fold of the perfect subtrees, smallest first. */
    memcpy(r, f->h[f->n - 1], MERKLE_HASH);
    for (int i = f->n - 2; i >= 0; i--)
        merkle_node_hash(f->h[i], r, r);
    memcpy(out, r, MERKLE_HASH);
}

void merkle_root(const unsigned char (*leaves)[MERKLE_HASH], size_t n, unsigned char out[MERKLE_HASH])
{
    unsigned char l[MERKLE_HASH], r[MERKLE_HASH];
    size_t k = 1;
    if (n == 0) {
        sha256_parts(NULL, 0, NULL, 0, NULL, 0, out);
        return;
    }
    if (n == 1) {
        memcpy(out, leaves[0], MERKLE_HASH);
        return;
    }
    while (k * 2 < n)
        k *= 2;
    merkle_root(leaves, k, l);
    merkle_root(leaves + k, n - k, r);
    merkle_node_hash(l, r, out);
}

void merkle_hex(const unsigned char h[MERKLE_HASH], char hex[2 * MERKLE_HASH + 1])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < MERKLE_HASH; i++) {
        hex[2 * i] = digits[h[i] >> 4];
        hex[2 * i + 1] = digits[h[i] & 15];
    }
    hex[2 * MERKLE_HASH] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int merkle_unhex(const char *hex, unsigned char out[MERKLE_HASH])
{
    for (int i = 0; i < MERKLE_HASH; i++) {
        int hi = hexval(hex[2 * i]), lo;
        if (hi < 0)
            return 0;
        lo = hexval(hex[2 * i + 1]);
        if (lo < 0)
            return 0;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return hex[2 * MERKLE_HASH] == '\0';
}
