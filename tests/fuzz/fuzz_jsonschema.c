/* fuzz_jsonschema.c - libFuzzer harness for jsonschema_to_contract: the
 * input is parsed as a schema, converted, and (when accepted) compiled with
 * the first field as key, then released. Properties (abort() on violation):
 * no crash or leak; a refusal is CUST_ECONFIG with a message starting with a
 * "#" pointer and leaves the contract untouched; an accepted contract has
 * fields with malloc'd names and either compiles or is refused by
 * contract_compile with CUST_ECONFIG. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/contract.h"
#include "core/json.h"
#include "core/jsonschema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_doc *d = json_doc_new();
    struct err e = {0};
    json_value *s;
    contract c;
    cust_code rc;

    if (!d)
        abort();
    memset(&c, 0, sizeof c);
    s = json_parse(d, (const char *)data, size, NULL, &e);
    if (!s)
        goto done;
    rc = jsonschema_to_contract(s, &c, &e);
    if (rc != CUST_OK) {
        if (rc != CUST_ECONFIG || e.msg[0] != '#' || c.fields || c.nfields)
            abort();
        goto done;
    }
    if (!c.fields || !c.nfields)
        abort();
    for (size_t i = 0; i < c.nfields; i++)
        if (!c.fields[i].name)
            abort();
    c.name = strdup("fuzz");
    c.key = calloc(1, sizeof *c.key);
    if (!c.name || !c.key || !(c.key[0] = strdup(c.fields[0].name)))
        abort();
    c.nkey = 1;
    if (contract_compile(&c, &e) != CUST_OK && e.code != CUST_ECONFIG)
        abort();
done:
    contract_release(&c);
    json_doc_free(d);
    return 0;
}
