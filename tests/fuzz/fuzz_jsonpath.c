/* fuzz_jsonpath.c - libFuzzer harness for the JSON path syntax a config
 * names records, cursors, ids and contract fields with ($.data,
 * $['@odata.nextLink'], items[0].id), and its evaluation on upstream bodies.
 * Input: the path, a newline, a JSON document.
 * Properties (abort() on violation): no crash; json_path_valid and
 * json_path agree (a refused path finds nothing in any document, with a
 * message saying why); evaluation is deterministic; "$" is the root and
 * "$" + p finds what p does; and every value of the document is found by the
 * paths that name it: "$" + ".key" (when the key allows it), "['key']" or
 * "[\"key\"]", "[i]" (of duplicate keys, the last one is the member). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/json.h"

#define REQUIRE(cond) do { \
    if (!(cond)) { \
        fprintf(stderr, "fuzz_jsonpath: property violated: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
        abort(); \
    } \
} while (0)

#define MAX_CHECKS 512 /* paths checked per input: keeps one run fast */

static int checks;

static void check_found(const json_value *root, const buf *path, const json_value *want)
{
    struct err e = {0};
    REQUIRE(json_path_valid(buf_str(path), &e) == 1);
    REQUIRE(json_path(root, buf_str(path)) == want);
}

/* Every value under v (reached by path) is found by its paths. */
static void walk(const json_value *root, const json_value *v, buf *path)
{
    size_t mark = path->len;
    if (++checks > MAX_CHECKS)
        return;
    check_found(root, path, v);
    if (v->type == JSON_ARRAY) {
        for (size_t i = 0; i < v->len && checks <= MAX_CHECKS; i++) {
            if (buf_addf(path, "[%zu]", i))
                return;
            walk(root, v->u.items[i], path);
            path->len = mark;
            path->ptr[mark] = '\0';
        }
    } else if (v->type == JSON_OBJECT) {
        for (size_t i = 0; i < v->len && checks <= MAX_CHECKS; i++) {
            const json_member *m = &v->u.members[i];
            const char *k = m->key;
            size_t kl = m->key_len;
            char q;
            if (memchr(k, '\0', kl) || json_getn(v, k, kl) != m->value)
                continue; /* not nameable in a C string / shadowed by a later duplicate */
            /* the first quote after the opening one ends the name */
            q = !memchr(k, '\'', kl) ? '\'' : !memchr(k, '"', kl) ? '"' : 0;
            if (q) {
                if (buf_addc(path, '[') || buf_addc(path, q) || buf_add(path, k, kl) || buf_addc(path, q) ||
                    buf_addc(path, ']'))
                    return;
                walk(root, m->value, path);
                path->len = mark;
                path->ptr[mark] = '\0';
            }
            if (kl && !strpbrk(k, ".[")) {
                if (buf_addc(path, '.') || buf_add(path, k, kl))
                    return;
                check_found(root, path, m->value);
                path->len = mark;
                path->ptr[mark] = '\0';
            }
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *nl = memchr(data, '\n', size);
    size_t plen = nl ? (size_t)(nl - (const char *)data) : size;
    char *path = malloc(plen + 2);
    json_doc *doc = json_doc_new();
    json_value *root = NULL, *found;
    struct err e = {0}, pe = {0};
    int valid;

    REQUIRE(path != NULL && doc != NULL);
    memcpy(path, data, plen);
    path[plen] = '\0';
    if (nl)
        root = json_parse(doc, nl + 1, size - plen - 1, NULL, &e);

    valid = json_path_valid(path, &pe);
    REQUIRE(valid == 0 || valid == 1);
    REQUIRE(valid || pe.msg[0] != '\0');
    if (root) {
        found = json_path(root, path);
        REQUIRE(json_path(root, path) == found);
        if (!valid)
            REQUIRE(found == NULL);
        REQUIRE(json_path(root, "$") == root);
        /* "$" + a path starting with '.' or '[' is the same path */
        if (path[0] == '.' || path[0] == '[') {
            char *abs = malloc(plen + 2);
            REQUIRE(abs != NULL);
            abs[0] = '$';
            memcpy(abs + 1, path, plen + 1);
            REQUIRE(json_path(root, abs) == found);
            REQUIRE(json_path_valid(abs, &pe) == valid);
            free(abs);
        }
        {
            buf p;
            buf_init(&p, 1 << 16);
            if (buf_addc(&p, '$') == CUST_OK) {
                checks = 0;
                walk(root, root, &p);
            }
            buf_release(&p);
        }
    }
    json_doc_free(doc);
    free(path);
    return 0;
}
