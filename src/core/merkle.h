/* merkle.h - RFC 9162 (Certificate Transparency v2) Merkle tree hashing:
 * leaf = SHA-256(0x00 || entry), node = SHA-256(0x01 || left || right),
 * an append-only frontier that yields the root of any prefix size without
 * rereading the leaves, and inclusion/consistency proofs (RFC 9162 2.1.3,
 * 2.1.4). Pure: no I/O; leaves come from the caller. */
#ifndef CUSTODY_MERKLE_H
#define CUSTODY_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#define MERKLE_HASH 32
#define MERKLE_MAX_LEVELS 64

void merkle_leaf_hash(const void *entry, size_t len, unsigned char out[MERKLE_HASH]);
void merkle_node_hash(const unsigned char left[MERKLE_HASH], const unsigned char right[MERKLE_HASH],
                      unsigned char out[MERKLE_HASH]);

/* The roots of the perfect subtrees covering leaves [0, size), largest
 * first: one per set bit of size. */
typedef struct merkle_frontier {
    uint64_t size;
    int n;
    unsigned char h[MERKLE_MAX_LEVELS][MERKLE_HASH];
} merkle_frontier;

void merkle_frontier_init(merkle_frontier *f);
void merkle_frontier_push(merkle_frontier *f, const unsigned char leaf[MERKLE_HASH]);
/* Root hash of the tree of f->size leaves (SHA-256 of "" for size 0). */
void merkle_frontier_root(const merkle_frontier *f, unsigned char out[MERKLE_HASH]);

/* Reference: the RFC 9162 MTH over an array of leaf hashes, computed by the
 * recursive definition (for tests and small trees). */
void merkle_root(const unsigned char (*leaves)[MERKLE_HASH], size_t n, unsigned char out[MERKLE_HASH]);

void merkle_hex(const unsigned char h[MERKLE_HASH], char hex[2 * MERKLE_HASH + 1]);
/* 1 when hex is 64 hex digits (either case) and out is filled, else 0. */
int merkle_unhex(const char *hex, unsigned char out[MERKLE_HASH]);

/* ---- Proofs (RFC 9162 2.1.3 inclusion, 2.1.4 consistency) ----
 *
 * A proof is an array of node hashes, leaf level first, exactly as
 * RFC 9162 PATH()/PROOF() order them. No proof is longer than
 * MERKLE_MAX_PROOF hashes, so a caller buffer of that size always fits.
 *
 * Generators return 0 and set *len on success; -1 on bad arguments
 * (NULL pointers, index >= n, m > n, max too small for the proof: in that
 * case *len is still set to the length needed when len is not NULL);
 * -2 when get_leaf fails. After a failure out may hold partial hashes. */
#define MERKLE_MAX_PROOF 66

/* Fetch leaf hash i (0-based) into out; return 0, or nonzero to abort. */
typedef int (*merkle_get_leaf_fn)(void *ud, uint64_t i, unsigned char out[MERKLE_HASH]);

/* The audit path for leaf index in the tree of the first n leaf hashes.
 * Cost: every proof element is the root of a subtree computed from its
 * leaves, so the callback variant reads n - 1 leaves once each (O(n)
 * SHA-256 calls) but holds only O(log n) hashes in memory: a store with
 * millions of entries streams them instead of loading them. */
int merkle_inclusion_proof(const unsigned char (*leaves)[MERKLE_HASH], uint64_t n, uint64_t index,
                           unsigned char (*out)[MERKLE_HASH], int max, int *len)
    __attribute__((warn_unused_result));
int merkle_inclusion_proof_cb(merkle_get_leaf_fn get_leaf, void *ud, uint64_t n, uint64_t index,
                              unsigned char (*out)[MERKLE_HASH], int max, int *len)
    __attribute__((warn_unused_result));

/* RFC 9162 2.1.3.2: 1 when path proves that leaf (a leaf *hash*) is at
 * index in the tree of size n whose root is root; 0 otherwise, including
 * for index >= n, len < 0, NULL arguments or a path of the wrong length. */
int merkle_inclusion_verify(uint64_t index, uint64_t n, const unsigned char leaf[MERKLE_HASH],
                            const unsigned char (*path)[MERKLE_HASH], int len,
                            const unsigned char root[MERKLE_HASH]);

/* The consistency proof between the tree of the first m leaves and the tree
 * of the first n leaves, m <= n (RFC 9162 2.1.4.1 PROOF(m, D[n])). Note the
 * argument order: the array of n leaves, then n, then the old size m.
 * m == 0 and m == n give the empty proof. Cost as for inclusion: O(n) leaf
 * reads, O(log n) memory. */
int merkle_consistency_proof(const unsigned char (*leaves)[MERKLE_HASH], uint64_t n, uint64_t m,
                             unsigned char (*out)[MERKLE_HASH], int max, int *len)
    __attribute__((warn_unused_result));
int merkle_consistency_proof_cb(merkle_get_leaf_fn get_leaf, void *ud, uint64_t n, uint64_t m,
                                unsigned char (*out)[MERKLE_HASH], int max, int *len)
    __attribute__((warn_unused_result));

/* RFC 9162 2.1.4.2: 1 when proof shows the tree of size n with root
 * new_root extends the tree of size m with root old_root; 0 otherwise
 * (m > n, NULL arguments, len < 0, wrong roots or proof). Beyond the RFC,
 * which assumes 0 < m < n: m == n is valid iff the proof is empty and the
 * roots are equal; m == 0 is valid iff the proof is empty and old_root is
 * the empty-tree root SHA-256(""). */
int merkle_consistency_verify(uint64_t m, uint64_t n, const unsigned char old_root[MERKLE_HASH],
                              const unsigned char new_root[MERKLE_HASH],
                              const unsigned char (*proof)[MERKLE_HASH], int len);

#endif
