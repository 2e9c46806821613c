/* test_merkle.c - RFC 9162 hashing: known vectors and frontier == recursive MTH. */
#include "check.h"
#include "core/merkle.h"

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
    return check_report("test_merkle");
}
