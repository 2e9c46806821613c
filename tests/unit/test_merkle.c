/* test_merkle.c - RFC 9162 hashing: known vectors and frontier == recursive MTH;
 * inclusion and consistency proofs: published vectors, every (index, size)
 * and (m, n) up to 70 leaves, and tampered proofs that must not verify. */
#include "check.h"
#include "core/merkle.h"

#include <stdint.h>

#define NLEAF 70

typedef unsigned char hash_t[MERKLE_HASH];

static void unhex_or_die(const char *hex, unsigned char out[MERKLE_HASH])
{
    int ok = merkle_unhex(hex, out);
    CHECK(ok);
}

/* The eight RFC 6962 reference leaves (certificate-transparency-go,
 * transparency-dev/merkle testdata), hashed. */
static void rfc_leaves(hash_t out[8])
{
    static const unsigned char d1[] = {0x00}, d2[] = {0x10}, d3[] = {0x20, 0x21},
        d4[] = {0x30, 0x31}, d5[] = {0x40, 0x41, 0x42, 0x43},
        d6[] = {0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57},
        d7[] = {0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67,
                0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f};
    const unsigned char *d[8] = {d1, d1, d2, d3, d4, d5, d6, d7};
    size_t len[8] = {0, 1, 1, 2, 2, 4, 8, 16};
    for (int i = 0; i < 8; i++)
        merkle_leaf_hash(d[i], len[i], out[i]);
}

/* Expected proofs from transparency-dev/merkle proof/verify_test.go (data,
 * not code): index is 0-based here; the Go table counts leaves from 1. */
static const struct {
    uint64_t a, n; /* inclusion: index, size; consistency: m, n */
    int len;
    const char *h[3];
} incl_vec[] = {
    {0, 1, 0, {NULL}},
    {0, 8, 3, {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
               "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
               "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
    {5, 8, 3, {"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
               "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
               "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    {2, 3, 1, {"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"}},
    {1, 5, 3, {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
               "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
               "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
}, cons_vec[] = {
    {1, 1, 0, {NULL}},
    {1, 8, 3, {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
               "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
               "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
    {6, 8, 3, {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
               "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
               "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    {2, 5, 2, {"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
               "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
    {6, 7, 3, {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
               "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
               "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
};

static void test_known_vectors(void)
{
    hash_t leaves[8], roots[9], proof[MERKLE_MAX_PROOF], want;
    int len, rc;
    rfc_leaves(leaves);
    for (size_t n = 0; n <= 8; n++)
        merkle_root((const hash_t *)leaves, n, roots[n]);
    for (size_t v = 0; v < sizeof incl_vec / sizeof incl_vec[0]; v++) {
        rc = merkle_inclusion_proof((const hash_t *)leaves, incl_vec[v].n, incl_vec[v].a, proof,
                                    MERKLE_MAX_PROOF, &len);
        CHECK_INT(rc, 0);
        CHECK_INT(len, incl_vec[v].len);
        for (int i = 0; i < len && i < incl_vec[v].len; i++) {
            unhex_or_die(incl_vec[v].h[i], want);
            CHECK(memcmp(proof[i], want, MERKLE_HASH) == 0);
        }
        CHECK(merkle_inclusion_verify(incl_vec[v].a, incl_vec[v].n, leaves[incl_vec[v].a],
                                      (const hash_t *)proof, len, roots[incl_vec[v].n]) == 1);
    }
    for (size_t v = 0; v < sizeof cons_vec / sizeof cons_vec[0]; v++) {
        rc = merkle_consistency_proof((const hash_t *)leaves, cons_vec[v].n, cons_vec[v].a, proof,
                                      MERKLE_MAX_PROOF, &len);
        CHECK_INT(rc, 0);
        CHECK_INT(len, cons_vec[v].len);
        for (int i = 0; i < len && i < cons_vec[v].len; i++) {
            unhex_or_die(cons_vec[v].h[i], want);
            CHECK(memcmp(proof[i], want, MERKLE_HASH) == 0);
        }
        CHECK(merkle_consistency_verify(cons_vec[v].a, cons_vec[v].n, roots[cons_vec[v].a],
                                        roots[cons_vec[v].n], (const hash_t *)proof, len) == 1);
    }
}

/* A callback store over an array that counts reads and can be told to
 * fail on the k-th read. */
struct leaf_src {
    const hash_t *leaves;
    uint64_t n, reads, fail_at;
};

static int src_get(void *ud, uint64_t i, unsigned char out[MERKLE_HASH])
{
    struct leaf_src *s = ud;
    if (i >= s->n)
        return -1; /* would be a bug in the generator: caught below */
    if (++s->reads == s->fail_at)
        return -1;
    memcpy(out, s->leaves[i], MERKLE_HASH);
    return 0;
}

static int ceil_log2(uint64_t n)
{
    int d = 0;
    while (((uint64_t)1 << d) < n)
        d++;
    return d;
}

static void test_inclusion_exhaustive(const hash_t *leaves, const hash_t *roots)
{
    long bad_gen = 0, bad_ok = 0, bad_tamper = 0, bad_index = 0, bad_size = 0, verified = 0;
    for (uint64_t n = 1; n <= NLEAF; n++) {
        for (uint64_t i = 0; i < n; i++) {
            hash_t p[MERKLE_MAX_PROOF], q[MERKLE_MAX_PROOF], t;
            int len = -1, len2 = -1, rc, rc2;
            struct leaf_src src = {leaves, n, 0, 0};
            rc = merkle_inclusion_proof(leaves, n, i, p, MERKLE_MAX_PROOF, &len);
            rc2 = merkle_inclusion_proof_cb(src_get, &src, n, i, q, MERKLE_MAX_PROOF, &len2);
            /* Every sibling subtree is read once: all leaves but index. */
            if (rc || rc2 || len != len2 || memcmp(p, q, (size_t)len * MERKLE_HASH) != 0 ||
                src.reads != n - 1 || len > ceil_log2(n)) {
                fprintf(stderr, "inclusion gen n=%llu i=%llu rc=%d/%d len=%d/%d reads=%llu\n",
                        (unsigned long long)n, (unsigned long long)i, rc, rc2, len, len2,
                        (unsigned long long)src.reads);
                bad_gen++;
                continue;
            }
            if (merkle_inclusion_verify(i, n, leaves[i], (const hash_t *)p, len, roots[n]) != 1) {
                fprintf(stderr, "inclusion verify n=%llu i=%llu\n", (unsigned long long)n,
                        (unsigned long long)i);
                bad_ok++;
            }
            verified++;
            /* One flipped byte anywhere: proof, leaf, root. */
            for (int k = 0; k < len; k++)
                for (int b = 0; b < MERKLE_HASH; b += 7) {
                    p[k][b] ^= 0x20;
                    bad_tamper += merkle_inclusion_verify(i, n, leaves[i], (const hash_t *)p, len, roots[n]);
                    p[k][b] ^= 0x20;
                }
            memcpy(t, leaves[i], MERKLE_HASH);
            t[31] ^= 1;
            bad_tamper += merkle_inclusion_verify(i, n, t, (const hash_t *)p, len, roots[n]);
            memcpy(t, roots[n], MERKLE_HASH);
            t[0] ^= 0x80;
            bad_tamper += merkle_inclusion_verify(i, n, leaves[i], (const hash_t *)p, len, t);
            /* Truncated, extended, and with an element inserted in front. */
            if (len > 0)
                bad_tamper += merkle_inclusion_verify(i, n, leaves[i], (const hash_t *)p, len - 1, roots[n]);
            memcpy(p[len], roots[n], MERKLE_HASH);
            bad_tamper += merkle_inclusion_verify(i, n, leaves[i], (const hash_t *)p, len + 1, roots[n]);
            memcpy(q[0], leaves[i], MERKLE_HASH);
            memcpy(q + 1, p, (size_t)len * MERKLE_HASH);
            bad_tamper += merkle_inclusion_verify(i, n, leaves[i], (const hash_t *)q, len + 1, roots[n]);
            /* Another index: both the leaf that is there and this leaf. */
            for (uint64_t j = 0; j < n; j++) {
                if (j == i)
                    continue;
                bad_index += merkle_inclusion_verify(j, n, leaves[i], (const hash_t *)p, len, roots[n]);
                bad_index += merkle_inclusion_verify(j, n, leaves[j], (const hash_t *)p, len, roots[n]);
            }
            bad_index += merkle_inclusion_verify(n, n, leaves[i], (const hash_t *)p, len, roots[n]);
            /* Another size, with that size's true root. */
            for (uint64_t n2 = 1; n2 <= NLEAF; n2++)
                if (n2 != n && i < n2)
                    bad_size += merkle_inclusion_verify(i, n2, leaves[i], (const hash_t *)p, len, roots[n2]);
        }
    }
    CHECK_INT(bad_gen, 0);
    CHECK_INT(bad_ok, 0);
    CHECK_INT(verified, NLEAF * (NLEAF + 1) / 2);
    CHECK_INT(bad_tamper, 0);
    CHECK_INT(bad_index, 0);
    CHECK_INT(bad_size, 0);
}

static void test_consistency_exhaustive(const hash_t *leaves, const hash_t *roots)
{
    long bad_gen = 0, bad_ok = 0, bad_tamper = 0, bad_size = 0, verified = 0;
    for (uint64_t n = 1; n <= NLEAF; n++) {
        for (uint64_t m = 0; m <= n; m++) {
            hash_t p[MERKLE_MAX_PROOF + 1], q[MERKLE_MAX_PROOF + 1], t;
            int len = -1, len2 = -1, rc, rc2;
            struct leaf_src src = {leaves, n, 0, 0};
            rc = merkle_consistency_proof(leaves, n, m, p, MERKLE_MAX_PROOF, &len);
            rc2 = merkle_consistency_proof_cb(src_get, &src, n, m, q, MERKLE_MAX_PROOF, &len2);
            if (rc || rc2 || len != len2 || memcmp(p, q, (size_t)len * MERKLE_HASH) != 0 ||
                src.reads > n || len > ceil_log2(n) + 1 || ((m == 0 || m == n) && len != 0)) {
                fprintf(stderr, "consistency gen n=%llu m=%llu rc=%d/%d len=%d/%d\n",
                        (unsigned long long)n, (unsigned long long)m, rc, rc2, len, len2);
                bad_gen++;
                continue;
            }
            if (merkle_consistency_verify(m, n, roots[m], roots[n], (const hash_t *)p, len) != 1) {
                fprintf(stderr, "consistency verify m=%llu n=%llu\n", (unsigned long long)m,
                        (unsigned long long)n);
                bad_ok++;
            }
            verified++;
            for (int k = 0; k < len; k++)
                for (int b = 0; b < MERKLE_HASH; b += 7) {
                    p[k][b] ^= 0x10;
                    bad_tamper += merkle_consistency_verify(m, n, roots[m], roots[n], (const hash_t *)p, len);
                    p[k][b] ^= 0x10;
                }
            memcpy(t, roots[m], MERKLE_HASH);
            t[5] ^= 4;
            bad_tamper += merkle_consistency_verify(m, n, t, roots[n], (const hash_t *)p, len);
            /* With m == 0 any new tree extends the empty one. */
            if (m > 0) {
                memcpy(t, roots[n], MERKLE_HASH);
                t[17] ^= 4;
                bad_tamper += merkle_consistency_verify(m, n, roots[m], t, (const hash_t *)p, len);
            }
            if (m != n)
                bad_tamper += merkle_consistency_verify(m, n, roots[n], roots[m], (const hash_t *)p, len);
            if (len > 0)
                bad_tamper += merkle_consistency_verify(m, n, roots[m], roots[n], (const hash_t *)p, len - 1);
            memcpy(p[len], roots[m], MERKLE_HASH);
            bad_tamper += merkle_consistency_verify(m, n, roots[m], roots[n], (const hash_t *)p, len + 1);
            memcpy(p[len], roots[n], MERKLE_HASH);
            bad_tamper += merkle_consistency_verify(m, n, roots[m], roots[n], (const hash_t *)p, len + 1);
            memcpy(q[0], len > 0 ? p[0] : roots[m], MERKLE_HASH);
            memcpy(q + 1, p, (size_t)len * MERKLE_HASH);
            bad_tamper += merkle_consistency_verify(m, n, roots[m], roots[n], (const hash_t *)q, len + 1);
            /* Other sizes, each with its true root: the proof is for (m, n) only. */
            /* Except where the empty proof is genuinely right for the
             * other pair too: (0, x) and (x, x). */
            for (uint64_t m2 = 0; m2 <= n; m2++)
                if (m2 != m && !(len == 0 && (m2 == 0 || m2 == n)))
                    bad_size += merkle_consistency_verify(m2, n, roots[m2], roots[n], (const hash_t *)p, len);
            for (uint64_t n2 = m; n2 <= NLEAF; n2++)
                if (n2 != n && !(len == 0 && m == 0))
                    bad_size += merkle_consistency_verify(m, n2, roots[m], roots[n2], (const hash_t *)p, len);
            bad_size += merkle_consistency_verify(n + 1, n, roots[m], roots[n], (const hash_t *)p, len);
        }
    }
    CHECK_INT(bad_gen, 0);
    CHECK_INT(bad_ok, 0);
    CHECK_INT(verified, NLEAF * (NLEAF + 3) / 2);
    CHECK_INT(bad_tamper, 0);
    CHECK_INT(bad_size, 0);
}

static void test_bad_arguments(const hash_t *leaves, const hash_t *roots)
{
    hash_t p[MERKLE_MAX_PROOF];
    int len = -1;
    struct leaf_src src = {leaves, 70, 0, 0};
    /* Inclusion: empty tree, index out of range, NULLs, short buffer. */
    CHECK_INT(merkle_inclusion_proof(leaves, 0, 0, p, MERKLE_MAX_PROOF, &len), -1);
    CHECK_INT(merkle_inclusion_proof(leaves, 5, 5, p, MERKLE_MAX_PROOF, &len), -1);
    CHECK_INT(merkle_inclusion_proof(NULL, 5, 1, p, MERKLE_MAX_PROOF, &len), -1);
    CHECK_INT(merkle_inclusion_proof(leaves, 5, 1, p, MERKLE_MAX_PROOF, NULL), -1);
    CHECK_INT(merkle_inclusion_proof(leaves, 5, 1, NULL, 0, &len), -1);
    CHECK_INT(len, 3); /* the length needed is still reported */
    CHECK_INT(merkle_inclusion_proof(leaves, 70, 3, p, 6, &len), -1);
    CHECK_INT(len, 7);
    CHECK_INT(merkle_inclusion_proof(leaves, 1, 0, NULL, 0, &len), 0);
    CHECK_INT(len, 0);
    CHECK_INT(merkle_inclusion_proof_cb(NULL, NULL, 5, 1, p, MERKLE_MAX_PROOF, &len), -1);
    src.fail_at = 10;
    CHECK_INT(merkle_inclusion_proof_cb(src_get, &src, 70, 3, p, MERKLE_MAX_PROOF, &len), -2);
    /* Consistency: m > n, short buffer, failing store. */
    CHECK_INT(merkle_consistency_proof(leaves, 5, 6, p, MERKLE_MAX_PROOF, &len), -1);
    CHECK_INT(merkle_consistency_proof(leaves, 70, 3, p, 1, &len), -1);
    CHECK(len > 1);
    CHECK_INT(merkle_consistency_proof(NULL, 0, 0, NULL, 0, &len), 0);
    CHECK_INT(len, 0);
    src.reads = 0;
    src.fail_at = 1;
    CHECK_INT(merkle_consistency_proof_cb(src_get, &src, 70, 3, p, MERKLE_MAX_PROOF, &len), -2);
    /* Verify: index >= n, n == 0, negative len, NULLs, m > n, empty proofs. */
    CHECK_INT(merkle_inclusion_verify(0, 0, roots[0], NULL, 0, roots[0]), 0);
    CHECK_INT(merkle_inclusion_verify(1, 1, leaves[0], NULL, 0, roots[1]), 0);
    CHECK_INT(merkle_inclusion_verify(0, 1, leaves[0], NULL, 0, roots[1]), 1);
    CHECK_INT(merkle_inclusion_verify(0, 1, leaves[0], NULL, -1, roots[1]), 0);
    CHECK_INT(merkle_inclusion_verify(0, 2, leaves[0], NULL, 1, roots[2]), 0);
    CHECK_INT(merkle_inclusion_verify(0, 1, NULL, NULL, 0, roots[1]), 0);
    CHECK_INT(merkle_inclusion_verify(0, 1, leaves[0], NULL, 0, NULL), 0);
    CHECK_INT(merkle_consistency_verify(0, 0, roots[0], roots[0], NULL, 0), 1);
    CHECK_INT(merkle_consistency_verify(0, 5, roots[0], roots[5], NULL, 0), 1);
    CHECK_INT(merkle_consistency_verify(0, 5, roots[1], roots[5], NULL, 0), 0);
    CHECK_INT(merkle_consistency_verify(0, 5, roots[0], roots[5], (const hash_t *)roots, 1), 0);
    CHECK_INT(merkle_consistency_verify(5, 5, roots[5], roots[5], NULL, 0), 1);
    CHECK_INT(merkle_consistency_verify(5, 5, roots[5], roots[4], NULL, 0), 0);
    CHECK_INT(merkle_consistency_verify(5, 5, roots[5], roots[5], (const hash_t *)roots, 1), 0);
    CHECK_INT(merkle_consistency_verify(6, 5, roots[6], roots[5], NULL, 0), 0);
    CHECK_INT(merkle_consistency_verify(4, 5, roots[4], roots[5], NULL, 0), 0);
    CHECK_INT(merkle_consistency_verify(4, 5, roots[4], roots[5], (const hash_t *)roots, -1), 0);
    CHECK_INT(merkle_consistency_verify(4, 5, NULL, roots[5], (const hash_t *)roots, 1), 0);
}

/* Sizes far beyond memory: only the proof lengths are computed (max 0
 * stops before any leaf is read), and they fit MERKLE_MAX_PROOF. */
static int const_leaf(void *ud, uint64_t i, unsigned char out[MERKLE_HASH])
{
    (void)ud;
    memset(out, 0, MERKLE_HASH);
    memcpy(out, &i, sizeof i);
    return 0;
}

static void test_large_sizes(void)
{
    hash_t p[MERKLE_MAX_PROOF];
    int len = -1;
    CHECK_INT(merkle_inclusion_proof_cb(const_leaf, NULL, UINT64_MAX, UINT64_MAX, p, MERKLE_MAX_PROOF, &len), -1);
    CHECK_INT(merkle_inclusion_proof_cb(const_leaf, NULL, UINT64_MAX, 0, p, 0, &len), -1);
    CHECK_INT(len, 64);
    CHECK_INT(merkle_consistency_proof_cb(const_leaf, NULL, UINT64_MAX, 3, p, 0, &len), -1);
    CHECK(len >= 64 && len <= MERKLE_MAX_PROOF);
    CHECK_INT(merkle_consistency_proof_cb(const_leaf, NULL, UINT64_MAX, UINT64_MAX - 1, p, 0, &len), -1);
    CHECK(len >= 1 && len <= MERKLE_MAX_PROOF);
}

int main(void)
{
    unsigned char leaves[70][MERKLE_HASH], a[MERKLE_HASH], b[MERKLE_HASH];
    char hex[65];
    merkle_frontier f;

    /* Empty tree: SHA-256 of the empty string. */
    merkle_frontier_init(&f);
    merkle_frontier_root(&f, a);
    merkle_hex(a, hex);
    CHECK_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    /* Leaf of the empty entry: SHA-256(0x00), the RFC 6962 test vector. */
    merkle_leaf_hash("", 0, a);
    merkle_hex(a, hex);
    CHECK_STR(hex, "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");

    /* RFC 6962 reference vectors (certificate-transparency-go testdata): the
     * eight leaves "", 0x00, 0x10, 0x2021, 0x3031, 0x40414243, 0x5051525354555657,
     * 0x606162636465666768696a6b6c6d6e6f, and the root of all eight. */
    {
        static const unsigned char d0[] = {0}, d1[] = {0x00}, d2[] = {0x10}, d3[] = {0x20, 0x21},
            d4[] = {0x30, 0x31}, d5[] = {0x40, 0x41, 0x42, 0x43},
            d6[] = {0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57},
            d7[] = {0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67,
                    0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f};
        const unsigned char *d[8] = {d0, d1, d2, d3, d4, d5, d6, d7};
        size_t len[8] = {0, 1, 1, 2, 2, 4, 8, 16};
        static const char *roots[8] = {
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        };
        merkle_frontier_init(&f);
        for (int i = 0; i < 8; i++) {
            merkle_leaf_hash(d[i], len[i], leaves[i]);
            merkle_frontier_push(&f, leaves[i]);
            merkle_frontier_root(&f, a);
            merkle_hex(a, hex);
            CHECK_STR(hex, roots[i]);
        }
    }

    /* Frontier root equals the recursive definition for every size 0..70. */
    for (int i = 0; i < 70; i++) {
        unsigned char byte = (unsigned char)i;
        merkle_leaf_hash(&byte, 1, leaves[i]);
    }
    merkle_frontier_init(&f);
    for (size_t n = 0; n <= 70; n++) {
        merkle_frontier_root(&f, a);
        merkle_root((const unsigned char (*)[MERKLE_HASH])leaves, n, b);
        CHECK(memcmp(a, b, MERKLE_HASH) == 0);
        CHECK_INT(f.size, n);
        if (n < 70)
            merkle_frontier_push(&f, leaves[n]);
    }

    CHECK(merkle_unhex("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d", a));
    CHECK(!merkle_unhex("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01", a));
    CHECK(!merkle_unhex("zz340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d", a));
    {
        hash_t roots[NLEAF + 1];
        for (size_t n = 0; n <= NLEAF; n++)
            merkle_root((const hash_t *)leaves, n, roots[n]);
        test_known_vectors();
        test_inclusion_exhaustive((const hash_t *)leaves, (const hash_t *)roots);
        test_consistency_exhaustive((const hash_t *)leaves, (const hash_t *)roots);
        test_bad_arguments((const hash_t *)leaves, (const hash_t *)roots);
        test_large_sizes();
    }
    return check_report("test_merkle");
}
