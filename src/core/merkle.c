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

/* ---- Proofs ---- */

/* A run of consecutive leaves whose MTH is one proof element. */
struct merkle_range {
    uint64_t start, count;
};

/* RFC 9162 k: the largest power of two smaller than n (n >= 2). Written
 * as k < n - k so that n near 2^64 cannot overflow. */
static uint64_t split_point(uint64_t n)
{
    uint64_t k = 1;
    while (k < n - k)
        k <<= 1;
    return k;
}

/* MTH of leaves [start, start + count), count >= 1, streamed through a
 * frontier: any contiguous run's MTH is the root of a tree of just those
 * leaves, so memory stays O(log count) whatever count is. */
static int range_root(merkle_get_leaf_fn get_leaf, void *ud, struct merkle_range r,
                      unsigned char out[MERKLE_HASH])
{
    merkle_frontier f;
    unsigned char leaf[MERKLE_HASH];
    merkle_frontier_init(&f);
    for (uint64_t i = 0; i < r.count; i++) {
        if (get_leaf(ud, r.start + i, leaf) != 0)
            return -2;
        merkle_frontier_push(&f, leaf);
    }
    merkle_frontier_root(&f, out);
    return 0;
}

/* The ranges were collected descending from the root; RFC order is leaf
 * level first, so emit them reversed. */
static int emit_ranges(merkle_get_leaf_fn get_leaf, void *ud, const struct merkle_range *r, int cnt,
                       unsigned char (*out)[MERKLE_HASH], int max, int *len)
{
    *len = cnt;
    if (cnt > max || (cnt > 0 && !out))
        return -1;
    for (int i = 0; i < cnt; i++)
        if (range_root(get_leaf, ud, r[cnt - 1 - i], out[i]) != 0)
            return -2;
    return 0;
}

int merkle_inclusion_proof_cb(merkle_get_leaf_fn get_leaf, void *ud, uint64_t n, uint64_t index,
                              unsigned char (*out)[MERKLE_HASH], int max, int *len)
{
    struct merkle_range r[MERKLE_MAX_PROOF];
    int cnt = 0;
    uint64_t lo = 0, size = n, idx = index;
    if (!get_leaf || !len || index >= n || max < 0)
        return -1;
    /* PATH(m, D[n]): the sibling subtree at each split on the way down. */
    while (size > 1 && cnt < MERKLE_MAX_PROOF) {
        uint64_t k = split_point(size);
        if (idx < k) {
            r[cnt].start = lo + k;
            r[cnt].count = size - k;
            size = k;
        } else {
            r[cnt].start = lo;
            r[cnt].count = k;
            lo += k;
            idx -= k;
            size -= k;
        }
        cnt++;
    }
    return emit_ranges(get_leaf, ud, r, cnt, out, max, len);
}

int merkle_consistency_proof_cb(merkle_get_leaf_fn get_leaf, void *ud, uint64_t n, uint64_t m,
                                unsigned char (*out)[MERKLE_HASH], int max, int *len)
{
    struct merkle_range r[MERKLE_MAX_PROOF];
    int cnt = 0, whole = 1;
    uint64_t lo = 0, size = n, mm = m;
    if (!get_leaf || !len || m > n || max < 0)
        return -1;
    if (m == 0 || m == n)
        return emit_ranges(get_leaf, ud, NULL, 0, out, max, len);
    /* SUBPROOF(m, D[n], b); whole is b: still the left edge of the tree,
     * where the verifier already knows MTH(D[m]) as the old root. */
    while (cnt < MERKLE_MAX_PROOF) {
        uint64_t k;
        if (mm == size) {
            if (!whole) {
                r[cnt].start = lo;
                r[cnt].count = size;
                cnt++;
            }
            break;
        }
        k = split_point(size);
        if (mm <= k) {
            r[cnt].start = lo + k;
            r[cnt].count = size - k;
            size = k;
        } else {
            r[cnt].start = lo;
            r[cnt].count = k;
            lo += k;
            mm -= k;
            size -= k;
            whole = 0;
        }
        cnt++;
    }
    return emit_ranges(get_leaf, ud, r, cnt, out, max, len);
}

static int array_leaf(void *ud, uint64_t i, unsigned char out[MERKLE_HASH])
{
    const unsigned char (*leaves)[MERKLE_HASH] = (const unsigned char (*)[MERKLE_HASH])ud;
    memcpy(out, leaves[i], MERKLE_HASH);
    return 0;
}

int merkle_inclusion_proof(const unsigned char (*leaves)[MERKLE_HASH], uint64_t n, uint64_t index,
                           unsigned char (*out)[MERKLE_HASH], int max, int *len)
{
    if (!leaves)
        return -1;
    return merkle_inclusion_proof_cb(array_leaf, (void *)leaves, n, index, out, max, len);
}

int merkle_consistency_proof(const unsigned char (*leaves)[MERKLE_HASH], uint64_t n, uint64_t m,
                             unsigned char (*out)[MERKLE_HASH], int max, int *len)
{
    if (!leaves && n > 0)
        return -1;
    return merkle_consistency_proof_cb(array_leaf, (void *)leaves, n, m, out, max, len);
}

int merkle_inclusion_verify(uint64_t index, uint64_t n, const unsigned char leaf[MERKLE_HASH],
                            const unsigned char (*path)[MERKLE_HASH], int len,
                            const unsigned char root[MERKLE_HASH])
{
    unsigned char r[MERKLE_HASH];
    uint64_t fn, sn;
    if (!leaf || !root || len < 0 || (len > 0 && !path) || index >= n)
        return 0;
    fn = index;
    sn = n - 1;
    memcpy(r, leaf, MERKLE_HASH);
    for (int i = 0; i < len; i++) {
        if (sn == 0)
            return 0;
        if ((fn & 1) || fn == sn) {
            merkle_node_hash(path[i], r, r);
            /* A right edge shorter than the rest: skip the levels where
             * this node has no sibling. */
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            merkle_node_hash(r, path[i], r);
        }
        fn >>= 1;
        sn >>= 1;
    }
    return sn == 0 && memcmp(r, root, MERKLE_HASH) == 0;
}

int merkle_consistency_verify(uint64_t m, uint64_t n, const unsigned char old_root[MERKLE_HASH],
                              const unsigned char new_root[MERKLE_HASH],
                              const unsigned char (*proof)[MERKLE_HASH], int len)
{
    unsigned char fr[MERKLE_HASH], sr[MERKLE_HASH];
    uint64_t fn, sn;
    int i;
    if (!old_root || !new_root || len < 0 || (len > 0 && !proof) || m > n)
        return 0;
    if (m == n)
        return len == 0 && memcmp(old_root, new_root, MERKLE_HASH) == 0;
    if (m == 0) {
        unsigned char empty[MERKLE_HASH];
        sha256_parts(NULL, 0, NULL, 0, NULL, 0, empty);
        return len == 0 && memcmp(old_root, empty, MERKLE_HASH) == 0;
    }
    if (len == 0)
        return 0;
    /* A power-of-two old tree is a whole left subtree of the new one, so
     * its root is the proof's implicit first element. */
    if ((m & (m - 1)) == 0) {
        memcpy(fr, old_root, MERKLE_HASH);
        i = 0;
    } else {
        memcpy(fr, proof[0], MERKLE_HASH);
        i = 1;
    }
    memcpy(sr, fr, MERKLE_HASH);
    fn = m - 1;
    sn = n - 1;
    while (fn & 1) {
        fn >>= 1;
        sn >>= 1;
    }
    for (; i < len; i++) {
        if (sn == 0)
            return 0;
        if ((fn & 1) || fn == sn) {
            merkle_node_hash(proof[i], fr, fr);
            merkle_node_hash(proof[i], sr, sr);
            while (!(fn & 1) && fn != 0) {
                fn >>= 1;
                sn >>= 1;
            }
        } else {
            merkle_node_hash(sr, proof[i], sr);
        }
        fn >>= 1;
        sn >>= 1;
    }
    return sn == 0 && memcmp(fr, old_root, MERKLE_HASH) == 0 &&
           memcmp(sr, new_root, MERKLE_HASH) == 0;
}
