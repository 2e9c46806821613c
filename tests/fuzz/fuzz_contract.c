/* fuzz_contract.c - libFuzzer harness for contract_apply: one fixed contract
 * using every field type and rule; the input is parsed as a raw record.
 * Properties (abort() on violation): no crash or internal failure; errors
 * are a JSON array of rc objects; a canonical record is JSON whose JCS form
 * is stable; applying the contract to the canonical record gives it back
 * (idempotence) with the same key.
 *
 * Idempotence holds by design only for a contract whose output is its own
 * input shape: fields read with from: are written under their name, so the
 * second pass uses the same contract with from: cleared; and every map
 * target and the fallback are fixed points of the normalisers and the map
 * (true of the contract below). Declared datetime formats and zones are
 * cleared too: the canonical record holds RFC 3339 text, which the ISO
 * parser reads back to the same text. The contract keeps unknown members
 * (they come back unchanged); a third copy with unknown: reject is applied
 * for its errors only. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/contract.h"
#include "core/jcs.h"
#include "core/json.h"

#define STRS(...) ((char *[]){__VA_ARGS__})
#define NSTRS(...) (sizeof((char *[]){__VA_ARGS__}) / sizeof(char *))
#define VALUES(...) .values = STRS(__VA_ARGS__), .nvalues = NSTRS(__VA_ARGS__)

static const contract_field templ[] = {
    {.name = "id", .type = FT_INTEGER, .required = 1, .bounds = BOUND_GE, .ge = 0},
    {.name = "lot", .type = FT_STRING, .required = 1, .normalize = NORM_TRIM | NORM_COLLAPSE | NORM_UPPER,
     .has_min_length = 1, .min_length = 1, .has_max_length = 1, .max_length = 64, .pattern = "^[A-Z0-9 -]+$"},
    {.name = "qty", .type = FT_NUMBER, .bounds = BOUND_GT | BOUND_LE, .gt = 0, .le = 1e9},
    {.name = "unit", .type = FT_ENUM, VALUES("kg", "lb", "ea", "unknown"), .normalize = NORM_TRIM | NORM_LOWER,
     .map_from = STRS("kilogram", "pound"), .map_to = STRS("kg", "lb"), .nmap = 2, .fallback = "unknown"},
    {.name = "at", .type = FT_DATETIME, .normalize = NORM_UTC},
    {.name = "seen", .type = FT_DATETIME, .nullable = 1},
    {.name = "ok", .type = FT_BOOLEAN, .nullable = 1},
    {.name = "email", .from = "contact.email", .type = FT_STRING, .normalize = NORM_TRIM | NORM_LOWER,
     .sensitive = 1, .pattern = "^[^@\\s]+@[^@\\s]+$", .has_max_length = 1, .max_length = 254},
    {.name = "note", .type = FT_STRING, .normalize = NORM_COLLAPSE, .nullable = 1, .has_max_length = 1,
     .max_length = 200},
    {.name = "tier", .type = FT_ENUM, VALUES("GENERAL", "VIP", "UNKNOWN_TIER"), .map_from = STRS("GA-2026"),
     .map_to = STRS("GENERAL"), .nmap = 1, .fallback = "UNKNOWN_TIER"},
    {.name = "code", .type = FT_STRING, .normalize = NORM_LOWER, .has_min_length = 1, .min_length = 2},
    {.name = "n", .type = FT_INTEGER, .bounds = BOUND_GT | BOUND_LT, .gt = -1000, .lt = 1e18},
    {.name = "x", .type = FT_NUMBER},
    {.name = "amount", .type = FT_DECIMAL, .bounds = BOUND_GE | BOUND_LT, .ge = -1e6, .lt = 1e12,
     .normalize = NORM_TRIM},
    {.name = "day", .type = FT_DATE, .def = "2026-01-01"},
    {.name = "mail", .type = FT_EMAIL, .normalize = NORM_TRIM | NORM_NFC},
    {.name = "link", .type = FT_URL},
    {.name = "uid", .type = FT_UUID},
    {.name = "tags", .type = FT_ARRAY, .has_items = 1, .items = FT_STRING, .normalize = NORM_NFC | NORM_LOWER,
     .has_max_items = 1, .max_items = 16, .nullable = 1},
    {.name = "ids", .type = FT_ARRAY, .has_items = 1, .items = FT_INTEGER},
    {.name = "raw", .type = FT_ARRAY},
    {.name = "meta", .type = FT_OBJECT},
    {.name = "ts", .type = FT_DATETIME, .format = "epoch_ms", .normalize = NORM_UTC},
    {.name = "local", .type = FT_DATETIME, .format = "%d/%m/%Y %H:%M", .zone = "+05:45"},
    {.name = "iso", .type = FT_DATETIME, .zone = "-03:00"},
    {.name = "title", .type = FT_STRING, .normalize = NORM_NFC | NORM_TRIM | NORM_COLLAPSE | NORM_UPPER,
     .def = "UNTITLED"},
};
static char *const key[] = {"ck", "at"};
static char *const ck_parts[] = {"id", "lot", "amount"};

static char **dupv(char *const *a, size_t n)
{
    char **r = n ? calloc(n, sizeof *r) : NULL;
    for (size_t i = 0; i < n; i++)
        r[i] = strdup(a[i]);
    return r;
}

static void build(contract *c, int with_from)
{
    size_t n = sizeof templ / sizeof *templ;
    struct err e = {0};
    memset(c, 0, sizeof *c);
    c->name = strdup(with_from ? "fuzz" : "fuzz-canonical");
    c->fields = calloc(n, sizeof *c->fields);
    c->nfields = n;
    for (size_t i = 0; i < n; i++) {
        contract_field *f = &c->fields[i];
        *f = templ[i];
        f->name = strdup(templ[i].name);
        f->from = with_from && templ[i].from ? strdup(templ[i].from) : NULL;
        f->pattern = templ[i].pattern ? strdup(templ[i].pattern) : NULL;
        f->values = dupv(templ[i].values, templ[i].nvalues);
        f->map_from = dupv(templ[i].map_from, templ[i].nmap);
        f->map_to = dupv(templ[i].map_to, templ[i].nmap);
        f->fallback = templ[i].fallback ? strdup(templ[i].fallback) : NULL;
        f->format = with_from && templ[i].format ? strdup(templ[i].format) : NULL;
        f->zone = with_from && templ[i].zone ? strdup(templ[i].zone) : NULL;
        f->def = templ[i].def ? strdup(templ[i].def) : NULL;
    }
    c->computed = calloc(1, sizeof *c->computed);
    c->ncomputed = 1;
    c->computed[0].name = strdup("ck");
    c->computed[0].concat = dupv(ck_parts, sizeof ck_parts / sizeof *ck_parts);
    c->computed[0].nconcat = sizeof ck_parts / sizeof *ck_parts;
    c->computed[0].sep = strdup("|");
    c->unknown = with_from == 2 ? UNKNOWN_REJECT : UNKNOWN_KEEP;
    c->key = dupv(key, sizeof key / sizeof *key);
    c->nkey = sizeof key / sizeof *key;
    if (contract_compile(c, &e) != CUST_OK)
        abort();
}

static contract raw_c, canon_c, reject_c;
static int built;

static void release_all(void)
{
    contract_release(&raw_c);
    contract_release(&canon_c);
    contract_release(&reject_c);
}

static void jcs_of(const json_value *v, buf *out)
{
    struct err e = {0};
    if (jcs_write(v, out, &e) != CUST_OK)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_doc *d1 = json_doc_new(), *d2 = json_doc_new();
    buf key1, key2, err1, err2, out1, out2, j1, j2;
    struct err e = {0};
    json_value *raw, *canon = NULL, *again, *canon2 = NULL;
    int rc;

    if (!built) {
        build(&raw_c, 1);
        build(&canon_c, 0);
        build(&reject_c, 2);
        atexit(release_all);
        built = 1;
    }
    if (!d1 || !d2)
        abort();
    buf_init(&key1, 1 << 20);
    buf_init(&key2, 1 << 20);
    buf_init(&err1, 1 << 24);
    buf_init(&err2, 1 << 24);
    buf_init(&out1, 1 << 24);
    buf_init(&out2, 1 << 24);
    buf_init(&j1, 1 << 24);
    buf_init(&j2, 1 << 24);

    raw = json_parse(d1, (const char *)data, size, NULL, &e);
    if (!raw)
        goto done;
    /* unknown: reject: only no crash, no internal failure, rc errors */
    rc = contract_apply(&reject_c, raw, d1, &canon, &key1, &err1, &e);
    if (rc < 0 || (rc > 0 && (canon || key1.len)))
        abort();
    buf_reset(&key1);
    buf_reset(&err1);
    canon = NULL;
    rc = contract_apply(&raw_c, raw, d1, &canon, &key1, &err1, &e);
    if (rc < 0)
        abort(); /* no internal failure on inputs this small */
    if (rc > 0) {
        /* the rejection is a JSON array of rc error objects */
        json_value *ev = json_parse(d2, err1.ptr, err1.len, NULL, &e);
        if (!ev || ev->type != JSON_ARRAY || ev->len != (size_t)rc || canon || key1.len)
            abort();
        for (size_t i = 0; i < ev->len; i++) {
            json_value *o = json_at(ev, i), *code = json_get(o, "code"), *path = json_get(o, "path");
            if (!o || o->type != JSON_OBJECT || !code || code->type != JSON_STRING || !path ||
                path->type != JSON_STRING || path->u.str[0] != '$')
                abort();
        }
        goto done;
    }
    if (!canon || canon->type != JSON_OBJECT || err1.len)
        abort();

    /* Canonical record: valid JSON, JCS stable across a round trip. */
    if (json_write(canon, &out1))
        abort();
    jcs_of(canon, &j1);
    {
        json_value *p = json_parse(d2, j1.ptr, j1.len, NULL, &e);
        if (!p)
            abort();
        jcs_of(p, &j2);
        if (j1.len != j2.len || memcmp(j1.ptr, j2.ptr, j1.len))
            abort();
    }
    /* The key is a JCS array, parseable. */
    {
        json_value *k = json_parse(d2, key1.ptr, key1.len, NULL, &e);
        if (!k || k->type != JSON_ARRAY || k->len != canon_c.nkey)
            abort();
    }

    /* Idempotence: the canonical record passes the canonical contract and
     * comes back byte for byte, with the same key. */
    again = json_parse(d2, out1.ptr, out1.len, NULL, &e);
    if (!again)
        abort();
    rc = contract_apply(&canon_c, again, d2, &canon2, &key2, &err2, &e);
    if (rc != 0 || !canon2)
        abort();
    if (json_write(canon2, &out2))
        abort();
    if (out1.len != out2.len || memcmp(out1.ptr, out2.ptr, out1.len))
        abort();
    if (key1.len != key2.len || memcmp(key1.ptr, key2.ptr, key1.len))
        abort();

done:
    buf_release(&key1);
    buf_release(&key2);
    buf_release(&err1);
    buf_release(&err2);
    buf_release(&out1);
    buf_release(&out2);
    buf_release(&j1);
    buf_release(&j2);
    json_doc_free(d1);
    json_doc_free(d2);
    return 0;
}
