/* merkle.h - RFC 9162 (Certificate Transparency v2) Merkle tree hashing:
 * leaf = SHA-256(0x00 || entry), node = SHA-256(0x01 || left || right),
 * and an append-only frontier that yields the root of any prefix size
 * without rereading the leaves. Pure: no I/O. */
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

#endif
