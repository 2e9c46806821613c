/* jsonschema.h - convert a JSON Schema document (a draft 2020-12 subset) into
 * a data contract's fields. Pure: no I/O. It does not validate records (the
 * contract does) and knows nothing of keys (the config supplies them).
 *
 * Rule: a keyword the converter cannot enforce is refused, never skipped, so
 * a contract is never weaker than its schema. Supported (see jsonschema.c
 * for the full mapping table and the places the contract is stricter):
 *   root: "type":"object", "properties", "required",
 *         "additionalProperties": true / {} (drop unknown members) or false
 *         (unknown: reject)
 *   property: "type" string|number|integer|boolean|array|object, or one of
 *         those plus "null" (nullable); "enum"/"const" (strings, null);
 *         "pattern" (ECMA-262, translated to PCRE2), "minLength",
 *         "maxLength", "minimum", "maximum", "exclusiveMinimum",
 *         "exclusiveMaximum", "format" date-time|date|email|uuid;
 *         arrays: "items" (one scalar schema), "minItems", "maxItems";
 *         "default" on optional fields
 *   nested objects with properties are flattened: property contact.email
 *         becomes the field "contact_email" read from "$.contact.email";
 *         an object without properties is one field of type object
 *   annotations accepted anywhere: $id $comment title description examples
 *         default deprecated readOnly writeOnly ($schema at the root) */
#ifndef CUSTODY_JSONSCHEMA_H
#define CUSTODY_JSONSCHEMA_H

#include "contract.h"
#include "err.h"
#include "json.h"

/* Fill c->fields/c->nfields from schema. c is zeroed by the caller except
 * c->name and c->key/c->nkey, which the caller sets (before or after) and
 * this function does not touch. Every string put in c is malloc'd and owned
 * by c (contract_release frees it). The result still needs contract_compile.
 * Returns CUST_OK; CUST_ECONFIG with e reading "<json pointer>: what is
 * wrong" (the pointer written as "#/properties/age/minimum") for an
 * unsupported keyword or value; CUST_ENOMEM on allocation failure. On any
 * failure c is unchanged. */
cust_code jsonschema_to_contract(const json_value *schema, contract *c, struct err *e) CUST_WUR;

#endif
