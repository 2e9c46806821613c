/* test_jsonschema.c - JSON Schema -> contract: one table row per schema
 * (accepted with the expected field summary, or refused with the expected
 * pointer and message), then schemas compiled and applied to records whose
 * verdict follows from what the schema means. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/contract.h"
#include "core/json.h"
#include "core/jsonschema.h"

struct row {
    int line;
    const char *schema;
    int ok;
    const char *want; /* ok: field summary; else: the start of e.msg ("<pointer>: what") */
};

#define OK(s, w) {__LINE__, s, 1, w}
#define NO(s, w) {__LINE__, s, 0, w}
#define OBJ(props) "{\"type\":\"object\",\"properties\":{" props "}}"
#define OBJR(props, req) "{\"type\":\"object\",\"properties\":{" props "},\"required\":[" req "]}"

static const struct row rows[] = {
    /* ---- types ---- */
    OK(OBJ("\"a\":{\"type\":\"string\"}"), "a:string"),
    OK(OBJ("\"a\":{\"type\":\"number\"}"), "a:number"),
    OK(OBJ("\"a\":{\"type\":\"integer\"}"), "a:integer"),
    OK(OBJ("\"a\":{\"type\":\"boolean\"}"), "a:boolean"),
    OK(OBJ("\"a\":{\"type\":[\"number\",\"integer\"]}"), "a:number"),
    OK(OBJ("\"a\":{\"type\":[\"string\",\"null\"]}"), "a:string?"),
    OK(OBJ("\"a\":{\"type\":[\"null\",\"integer\"]}"), "a:integer?"),
    OK(OBJR("\"a\":{\"type\":\"string\"},\"b\":{\"type\":\"integer\"}", "\"b\""), "a:string b:integer!"),
    OK(OBJ("\"a\":{\"type\":\"string\",\"format\":\"date-time\"}"), "a:datetime"),
    /* ---- enum / const ---- */
    OK(OBJ("\"a\":{\"enum\":[\"x\",\"y\"]}"), "a:enum(x|y)"),
    OK(OBJ("\"a\":{\"type\":\"string\",\"enum\":[\"x\",\"y\"]}"), "a:enum(x|y)"),
    OK(OBJ("\"a\":{\"enum\":[\"x\",null]}"), "a:enum(x)?"),
    OK(OBJ("\"a\":{\"type\":\"string\",\"enum\":[\"x\",null]}"), "a:enum(x)"),
    OK(OBJ("\"a\":{\"type\":[\"string\",\"null\"],\"enum\":[\"x\"]}"), "a:enum(x)"),
    OK(OBJ("\"a\":{\"const\":\"v1\"}"), "a:enum(v1)"),
    NO(OBJ("\"a\":{\"enum\":[1,2]}"), "#/properties/a/enum: item 0 is not a string or null"),
    NO(OBJ("\"a\":{\"enum\":[]}"), "#/properties/a/enum: must be a non-empty array"),
    NO(OBJ("\"a\":{\"enum\":[null]}"), "#/properties/a/enum: allows no string value"),
    NO(OBJ("\"a\":{\"const\":true}"), "#/properties/a/const: value0 is not a string"),
    NO(OBJ("\"a\":{\"type\":\"integer\",\"enum\":[\"1\"]}"), "#/properties/a/enum: enum/const with a type"),
    NO(OBJ("\"a\":{\"enum\":[\"x\"],\"const\":\"x\"}"), "#/properties/a: both enum and const"),
    /* ---- string rules ---- */
    OK(OBJ("\"a\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":8}"), "a:string len[1,8]"),
    OK(OBJ("\"a\":{\"type\":\"string\",\"maxLength\":0}"), "a:string len[,0]"),
    OK(OBJ("\"a\":{\"type\":\"string\",\"pattern\":\"^[A-Z]{3}$\"}"), "a:string pat=^[A-Z]{3}\\z"),
    OK(OBJ("\"a\":{\"type\":\"string\",\"pattern\":\"\\\\d+\\\\.\\\\w\"}"),
       "a:string pat=[0-9]+\\.[A-Za-z0-9_]"),
    OK(OBJ("\"a\":{\"type\":\"string\",\"pattern\":\"[\\\\d.]x.\"}"), "a:string pat=[0-9.]x[^\\n\\r\\x{2028}\\x{2029}]"),
    OK(OBJ("\"a\":{\"type\":\"string\",\"pattern\":\"\\\\u00e9\\\\u{1F600}\"}"), "a:string pat=\\x{00e9}\\x{1F600}"),
    OK(OBJ("\"a\":{\"type\":\"string\",\"pattern\":\"\"}"), "a:string"),
    NO(OBJ("\"a\":{\"type\":\"string\",\"pattern\":\"\\\\bx\"}"), "#/properties/a/pattern: \\b and \\B"),
    NO(OBJ("\"a\":{\"type\":\"string\",\"pattern\":\"(?i)x\"}"), "#/properties/a/pattern: (? group"),
    NO(OBJ("\"a\":{\"type\":\"string\",\"pattern\":\"[^]\"}"), "#/properties/a/pattern: [] and [^]"),
    NO(OBJ("\"a\":{\"type\":\"string\",\"pattern\":\"[[:alpha:]]\"}"), "#/properties/a/pattern: [: [. [="),
    NO(OBJ("\"a\":{\"type\":\"string\",\"pattern\":\"[\\\\D]\"}"), "#/properties/a/pattern: \\D, \\W and \\S"),
    NO(OBJ("\"a\":{\"type\":\"string\",\"pattern\":\"[a\"}"), "#/properties/a/pattern: unterminated"),
    NO(OBJ("\"a\":{\"type\":\"string\",\"pattern\":5}"), "#/properties/a/pattern: must be a string"),
    NO(OBJ("\"a\":{\"type\":\"string\",\"minLength\":-1}"), "#/properties/a/minLength: must be a non-negative"),
    NO(OBJ("\"a\":{\"type\":\"string\",\"minLength\":1.5}"), "#/properties/a/minLength: must be a non-negative"),
    NO(OBJ("\"a\":{\"type\":\"string\",\"minLength\":3,\"maxLength\":2}"), "#/properties/a/minLength: exceeds"),
    NO(OBJ("\"a\":{\"type\":\"integer\",\"maxLength\":2}"), "#/properties/a/maxLength: applies to strings"),
    /* ---- number rules ---- */
    OK(OBJ("\"a\":{\"type\":\"integer\",\"minimum\":0,\"exclusiveMaximum\":10}"), "a:integer ge=0 lt=10"),
    OK(OBJ("\"a\":{\"type\":\"number\",\"exclusiveMinimum\":0.5,\"maximum\":1e3}"), "a:number gt=0.5 le=1000"),
    NO(OBJ("\"a\":{\"type\":\"number\",\"exclusiveMinimum\":true}"), "#/properties/a/exclusiveMinimum: must be a finite number (draft-04"),
    NO(OBJ("\"a\":{\"type\":\"number\",\"maximum\":1e999}"), "#/properties/a/maximum: must be a finite number"),
    NO(OBJ("\"a\":{\"type\":\"string\",\"minimum\":1}"), "#/properties/a/minimum: applies to numbers"),
    NO(OBJ("\"a\":{\"type\":\"number\",\"multipleOf\":2}"), "#/properties/a/multipleOf: unsupported keyword"),
    /* ---- formats ---- */
    OK(OBJ("\"a\":{\"type\":\"string\",\"format\":\"date\"}"), "a:date"),
    OK(OBJ("\"a\":{\"type\":\"string\",\"format\":\"email\"}"), "a:email"),
    OK(OBJ("\"a\":{\"type\":[\"string\",\"null\"],\"format\":\"uuid\"}"), "a:uuid?"),
    NO(OBJ("\"a\":{\"type\":\"string\",\"format\":\"email\",\"maxLength\":254}"),
       "#/properties/a/format: format \"email\" with pattern/minLength/maxLength"),
    NO(OBJ("\"a\":{\"type\":\"string\",\"format\":\"uri\"}"), "#/properties/a/format: format \"uri\" is not supported"),
    NO(OBJ("\"a\":{\"type\":\"string\",\"format\":\"hostname\"}"), "#/properties/a/format: format \"hostname\" is not supported"),
    NO(OBJ("\"a\":{\"type\":\"integer\",\"format\":\"int32\"}"), "#/properties/a/format: format applies to strings"),
    NO(OBJ("\"a\":{\"type\":\"string\",\"format\":\"date-time\",\"maxLength\":5}"), "#/properties/a/format: format \"date-time\" with pattern"),
    NO(OBJ("\"a\":{\"format\":\"date-time\",\"enum\":[\"x\"]}"), "#/properties/a/format: format together with enum"),
    /* ---- nested objects ---- */
    OK(OBJR("\"id\":{\"type\":\"integer\"},\"contact\":{\"type\":\"object\",\"properties\":{"
            "\"email\":{\"type\":\"string\"},\"phone\":{\"type\":\"string\"}},\"required\":[\"email\"]}",
            "\"id\",\"contact\""),
       "id:integer! contact_email:string!@$.contact.email contact_phone:string@$.contact.phone"),
    OK(OBJR("\"a\":{\"type\":\"object\",\"properties\":{\"b.c\":{\"type\":\"object\",\"properties\":{"
            "\"i.t's\":{\"type\":\"boolean\"}},\"required\":[\"i.t's\"]}},\"required\":[\"b.c\"]}",
            "\"a\""),
       "a_b.c_i.t's:boolean!@$.a['b.c'][\"i.t's\"]"),
    NO(OBJ("\"c\":{\"type\":\"object\",\"properties\":{\"e\":{\"type\":\"string\"}},\"required\":[\"e\"]}"),
       "#/properties/c: an optional object with properties cannot be flattened"),
    NO(OBJR("\"c\":{\"type\":\"object\",\"properties\":{\"e\":{\"type\":\"string\"}}}", "\"c\""),
       "#/properties/c: a flattened object needs at least one required"),
    NO(OBJR("\"c\":{\"type\":[\"object\",\"null\"],\"properties\":{\"e\":{\"type\":\"string\"}},\"required\":[\"e\"]}", "\"c\""),
       "#/properties/c: a nullable object with properties"),
    NO(OBJR("\"a_b\":{\"type\":\"string\"},\"a\":{\"type\":\"object\",\"properties\":{\"b\":{\"type\":\"string\"}},"
            "\"required\":[\"b\"]}", "\"a\""),
       "#/properties/a/properties/b: canonical name \"a_b\" is already taken"),
    NO(OBJR("\"a~/\":{\"type\":\"object\",\"properties\":{\"x\":{\"type\":\"string\",\"oneOf\":[]}},\"required\":[\"x\"]}", "\"a~/\""),
       "#/properties/a~0~1/properties/x/oneOf: unsupported keyword"),
    /* ---- root ---- */
    OK("{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\",\"$id\":\"urn:x\",\"title\":\"t\","
       "\"description\":\"d\",\"$comment\":\"c\",\"type\":\"object\",\"additionalProperties\":true,"
       "\"properties\":{\"a\":{\"type\":\"string\",\"title\":\"A\",\"default\":\"z\",\"examples\":[\"q\"]}}}",
       "a:string def=\"z\""),
    OK("{\"type\":\"object\",\"additionalProperties\":{},\"properties\":{\"a\":{\"type\":\"string\"}}}", "a:string"),
    OK("{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{\"a\":{\"type\":\"string\"}}}",
       "a:string unknown=reject"),
    NO("{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"a\"],\"properties\":{\"a\":{"
       "\"type\":\"object\",\"properties\":{\"b\":{\"type\":\"string\"}},\"required\":[\"b\"]}}}",
       "#/additionalProperties: false together with flattened nested objects"),
    NO(OBJR("\"a\":{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{\"b\":{\"type\":\"string\"}},"
            "\"required\":[\"b\"]}", "\"a\""),
       "#/properties/a/additionalProperties: false on a nested object"),
    NO("{\"type\":\"object\",\"additionalProperties\":{\"type\":\"string\"},\"properties\":{\"a\":{\"type\":\"string\"}}}",
       "#/additionalProperties: only true or {}"),
    NO("{\"$schema\":\"http://json-schema.org/draft-04/schema#\",\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"}}}",
       "#/$schema: dialect"),
    NO("{\"properties\":{\"a\":{\"type\":\"string\"}}}", "#: the root needs \"type\": \"object\""),
    NO("{\"type\":\"string\"}", "#/type: the root must be"),
    NO("[1]", "#: a schema must be an object"),
    NO("{\"type\":\"object\"}", "#: an object needs \"properties\""),
    NO("{\"type\":\"object\",\"properties\":{}}", "#/properties: declares no properties"),
    NO(OBJR("\"a\":{\"type\":\"string\"}", "\"b\""), "#/required: \"b\" is not in properties"),
    NO(OBJR("\"a\":{\"type\":\"string\"}", "1"), "#/required: item 0 is not a string"),
    NO("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"}},\"allOf\":[]}", "#/allOf: unsupported keyword"),
    NO("{\"type\":\"object\",\"properties\":{\"a\":{\"$ref\":\"#/$defs/x\"}},\"$defs\":{}}", "#/$defs: unsupported keyword"),
    NO("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"}},\"patternProperties\":{}}",
       "#/patternProperties: unsupported keyword"),
    NO("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"},\"a\":{\"type\":\"integer\"}}}",
       "#/properties: repeats a property name"),
    /* ---- arrays, opaque objects, defaults ---- */
    OK(OBJ("\"a\":{\"type\":\"array\"}"), "a:array"),
    OK(OBJ("\"a\":{\"type\":\"array\",\"items\":{\"type\":\"string\",\"maxLength\":3},\"minItems\":1,\"maxItems\":4}"),
       "a:array<string> len[,3] items[1,4]"),
    OK(OBJ("\"a\":{\"type\":[\"array\",\"null\"],\"items\":{\"enum\":[\"x\",\"y\"]}}"), "a:array<enum>(x|y)?"),
    OK(OBJ("\"a\":{\"type\":\"array\",\"items\":{\"type\":\"integer\",\"minimum\":0}}"), "a:array<integer> ge=0"),
    OK(OBJ("\"a\":{\"type\":\"array\",\"items\":{\"type\":\"string\",\"format\":\"date\"}}"), "a:array<date>"),
    NO(OBJ("\"a\":{\"type\":\"array\",\"items\":{\"type\":\"object\"}}"), "#/properties/a/items: items must have one scalar type"),
    NO(OBJ("\"a\":{\"type\":\"array\",\"items\":{\"type\":[\"string\",\"null\"]}}"), "#/properties/a/items: null items"),
    NO(OBJ("\"a\":{\"type\":\"array\",\"items\":[{\"type\":\"string\"}]}"), "#/properties/a/items: must be a schema object"),
    NO(OBJ("\"a\":{\"type\":\"array\",\"items\":{}}"), "#/properties/a/items: no \"type\""),
    NO(OBJ("\"a\":{\"type\":\"array\",\"uniqueItems\":true}"), "#/properties/a/uniqueItems: unsupported keyword for an array"),
    NO(OBJ("\"a\":{\"type\":\"array\",\"minItems\":3,\"maxItems\":2}"), "#/properties/a/minItems: exceeds maxItems"),
    NO(OBJ("\"a\":{\"type\":\"array\",\"items\":{\"type\":\"string\",\"x\":1}}"), "#/properties/a/items/x: unsupported keyword"),
    OK(OBJ("\"a\":{\"type\":\"object\"}"), "a:object"),
    OK(OBJ("\"a\":{\"type\":[\"object\",\"null\"],\"additionalProperties\":true}"), "a:object?"),
    NO(OBJ("\"a\":{\"type\":\"object\",\"minProperties\":1}"), "#/properties/a/minProperties: unsupported keyword for an object"),
    NO(OBJ("\"a\":{\"type\":\"object\",\"additionalProperties\":false}"), "#/properties/a/additionalProperties: only true or {}"),
    OK(OBJ("\"a\":{\"type\":\"integer\",\"default\":5}"), "a:integer def=5"),
    OK(OBJR("\"a\":{\"type\":\"integer\",\"default\":5}", "\"a\""), "a:integer!"),
    /* ---- properties refused ---- */
    NO(OBJ("\"a\":{\"$ref\":\"#/x\"}"), "#/properties/a: no \"type\""),
    NO(OBJ("\"a\":{\"type\":\"string\",\"$ref\":\"#/x\"}"), "#/properties/a/$ref: unsupported keyword"),
    NO(OBJ("\"a\":{\"type\":\"string\",\"anyOf\":[{}]}"), "#/properties/a/anyOf: unsupported keyword"),
    NO(OBJ("\"a\":{\"type\":\"string\",\"if\":{}}"), "#/properties/a/if: unsupported keyword"),
    NO(OBJ("\"a\":{}"), "#/properties/a: no \"type\""),
    NO(OBJ("\"a\":true"), "#/properties/a: a property schema must be an object"),
    NO(OBJ("\"a\":{\"type\":\"null\"}"), "#/properties/a: a union of types"),
    NO(OBJ("\"a\":{\"type\":[\"string\",\"integer\"]}"), "#/properties/a: a union of types"),
    NO(OBJ("\"a\":{\"type\":\"str\"}"), "#/properties/a/type: not a JSON Schema type name"),
    NO(OBJ("\"a\":{\"type\":[]}"), "#/properties/a/type: empty type list"),
    NO(OBJ("\"a\":{\"type\":\"string\",\"items\":{}}"), "#/properties/a/items: applies to arrays, but the type is not array"),
    NO(OBJ("\"a\":{\"type\":\"string\",\"x-foo\":1}"), "#/properties/a/x-foo: unsupported keyword"),
    NO(OBJ("\"a\":{\"type\":\"string\",\"$schema\":\"x\"}"), "#/properties/a/$schema: unsupported keyword"),
    NO(OBJ("\"\":{\"type\":\"string\"}"), "#/properties/: property names must be non-empty"),
};

static void summarise(const contract *c, buf *out)
{
    for (size_t i = 0; i < c->nfields; i++) {
        const contract_field *f = &c->fields[i];
        if (i && buf_addc(out, ' '))
            abort();
        if (buf_addf(out, "%s:%s", f->name, contract_type_name(f->type)))
            abort();
        if (f->type == FT_ARRAY && f->has_items && buf_addf(out, "<%s>", contract_type_name(f->items)))
            abort();
        for (size_t v = 0; v < f->nvalues; v++)
            if (buf_addf(out, "%s%s", v ? "|" : "(", f->values[v]))
                abort();
        if ((f->nvalues && buf_addc(out, ')')) || (f->required && buf_addc(out, '!')) ||
            (f->nullable && buf_addc(out, '?')) || (f->from && buf_addf(out, "@%s", f->from)))
            abort();
        if (f->has_min_length || f->has_max_length) {
            if (buf_adds(out, " len[") || (f->has_min_length && buf_addf(out, "%zu", f->min_length)) ||
                buf_addc(out, ',') || (f->has_max_length && buf_addf(out, "%zu", f->max_length)) ||
                buf_addc(out, ']'))
                abort();
        }
        if ((f->bounds & BOUND_GE) && buf_addf(out, " ge=%g", f->ge))
            abort();
        if ((f->bounds & BOUND_GT) && buf_addf(out, " gt=%g", f->gt))
            abort();
        if ((f->bounds & BOUND_LE) && buf_addf(out, " le=%g", f->le))
            abort();
        if ((f->bounds & BOUND_LT) && buf_addf(out, " lt=%g", f->lt))
            abort();
        if (f->pattern && buf_addf(out, " pat=%s", f->pattern))
            abort();
        if ((f->has_min_items || f->has_max_items) &&
            (buf_adds(out, " items[") || (f->has_min_items && buf_addf(out, "%zu", f->min_items)) ||
             buf_addc(out, ',') || (f->has_max_items && buf_addf(out, "%zu", f->max_items)) || buf_addc(out, ']')))
            abort();
        if (f->def && buf_addf(out, " def=%s", f->def))
            abort();
    }
    if (c->unknown == UNKNOWN_REJECT && buf_adds(out, " unknown=reject"))
        abort();
}

static void test_rows(void)
{
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        const struct row *r = &rows[i];
        json_doc *d = json_doc_new();
        struct err e = {0};
        contract c;
        buf sum;
        json_value *s = json_parse(d, r->schema, strlen(r->schema), NULL, &e);
        cust_code rc;
        memset(&c, 0, sizeof c);
        buf_init(&sum, 1 << 16);
        if (!s) {
            fprintf(stderr, "line %d: schema does not parse: %s\n", r->line, e.msg);
            CHECK(0);
            goto next;
        }
        rc = jsonschema_to_contract(s, &c, &e);
        if (r->ok) {
            if (rc != CUST_OK)
                fprintf(stderr, "line %d: refused: %s\n", r->line, e.msg);
            CHECK_INT(rc, CUST_OK);
            summarise(&c, &sum);
            if (strcmp(buf_str(&sum), r->want))
                fprintf(stderr, "line %d:\n", r->line);
            CHECK_STR(buf_str(&sum), r->want);
            /* every accepted contract compiles once a key is given: an
             * extra required string field, so the row's own fields may be
             * nullable, arrays or objects (which keys may not be) */
            c.name = strdup("t");
            c.fields = realloc(c.fields, (c.nfields + 1) * sizeof *c.fields);
            memset(&c.fields[c.nfields], 0, sizeof *c.fields);
            c.fields[c.nfields].name = strdup("k__");
            c.fields[c.nfields].type = FT_STRING;
            c.fields[c.nfields++].required = 1;
            c.key = calloc(1, sizeof *c.key);
            c.key[0] = strdup("k__");
            c.nkey = 1;
            if (contract_compile(&c, &e) != CUST_OK) {
                fprintf(stderr, "line %d: compile: %s\n", r->line, e.msg);
                CHECK(0);
            }
        } else {
            if (rc != CUST_ECONFIG || strncmp(e.msg, r->want, strlen(r->want)))
                fprintf(stderr, "line %d: rc %d, got \"%s\"\n  want \"%s...\"\n", r->line, rc, e.msg, r->want);
            CHECK_INT(rc, CUST_ECONFIG);
            CHECK(strncmp(e.msg, r->want, strlen(r->want)) == 0);
            /* on failure c is unchanged */
            CHECK(c.fields == NULL && c.nfields == 0);
        }
    next:
        contract_release(&c);
        buf_release(&sum);
        json_doc_free(d);
    }
}

/* ---- records: what the schema means ---------------------------------- */

struct rec {
    const char *raw;
    const char *want; /* NULL: accepted; else the code of the first error */
};

struct app {
    int line;
    const char *schema;
    const char *key;
    struct rec recs[12];
};

static const struct app apps[] = {
    {__LINE__,
     "{\"$schema\":\"https://json-schema.org/draft/2020-12/schema\",\"type\":\"object\","
     "\"required\":[\"id\",\"lot\",\"contact\"],\"properties\":{"
     "\"id\":{\"type\":\"integer\",\"minimum\":1},"
     "\"lot\":{\"type\":\"string\",\"pattern\":\"^[A-Z]{3}-\\\\d+$\",\"maxLength\":10},"
     "\"qty\":{\"type\":\"number\",\"exclusiveMinimum\":0,\"maximum\":100},"
     "\"unit\":{\"enum\":[\"kg\",\"lb\",null]},"
     "\"at\":{\"type\":[\"string\",\"null\"],\"format\":\"date-time\"},"
     "\"ok\":{\"type\":\"boolean\"},"
     "\"contact\":{\"type\":\"object\",\"required\":[\"email\"],\"properties\":{"
     "\"email\":{\"type\":\"string\",\"minLength\":3},\"name\":{\"type\":\"string\"}}}}}",
     "id",
     {{"{\"id\":1,\"lot\":\"ABC-12\",\"contact\":{\"email\":\"a@b\"}}", NULL},
      {"{\"id\":7,\"lot\":\"ABC-1\",\"qty\":100,\"unit\":\"kg\",\"at\":\"2026-03-01T13:15:00Z\",\"ok\":true,"
       "\"contact\":{\"email\":\"x@y.z\",\"name\":\"N\"},\"extra\":[1]}", NULL},
      {"{\"id\":7,\"lot\":\"ABC-1\",\"unit\":null,\"at\":null,\"contact\":{\"email\":\"a@b\"}}", NULL},
      {"{\"id\":0,\"lot\":\"ABC-12\",\"contact\":{\"email\":\"a@b\"}}", "range"},
      {"{\"id\":1.5,\"lot\":\"ABC-12\",\"contact\":{\"email\":\"a@b\"}}", "type"},
      {"{\"id\":1,\"lot\":\"ABC-12\\n\",\"contact\":{\"email\":\"a@b\"}}", "pattern"},   /* $ is the end */
      {"{\"id\":1,\"lot\":\"ABC-\xd9\xa3\",\"contact\":{\"email\":\"a@b\"}}", "pattern"}, /* \d is ASCII */
      {"{\"id\":1,\"lot\":\"ABC-12\",\"qty\":0,\"contact\":{\"email\":\"a@b\"}}", "range"},
      {"{\"id\":1,\"lot\":\"ABC-12\",\"unit\":\"g\",\"contact\":{\"email\":\"a@b\"}}", "enum"},
      {"{\"id\":1,\"lot\":\"ABC-12\",\"at\":\"yesterday\",\"contact\":{\"email\":\"a@b\"}}", "format"},
      {"{\"id\":1,\"lot\":\"ABC-12\",\"contact\":\"a@b\"}", "required"}, /* a non-object contact */
      {"{\"id\":1,\"lot\":\"ABC-12\",\"contact\":{\"email\":\"ab\"}}", "length"}}},
    {__LINE__,
     "{\"type\":\"object\",\"required\":[\"k\",\"n\"],\"properties\":{"
     "\"k\":{\"const\":\"v1\"},\"n\":{\"type\":[\"integer\",\"null\"]},"
     "\"s\":{\"type\":\"string\",\"pattern\":\"a.c\"}}}",
     "k",
     {{"{\"k\":\"v1\",\"n\":null}", NULL},
      {"{\"k\":\"v1\",\"n\":3,\"s\":\"xabcx\"}", NULL},  /* patterns are unanchored */
      {"{\"k\":\"v2\",\"n\":3}", "enum"},
      {"{\"k\":\"v1\"}", "required"},
      {"{\"k\":\"v1\",\"n\":\"3\"}", "type"},
      {"{\"k\":\"v1\",\"n\":1,\"s\":\"a\\nc\"}", "pattern"}, /* . excludes line terminators */
      {"{\"k\":\"v1\",\"n\":1,\"s\":\"a\\rc\"}", "pattern"},
      {"[]", "type"}}},
    /* types from the extended contract.h: date, email, uuid, arrays of
     * scalars, opaque objects, defaults and the unknown-field policy */
    {__LINE__,
     "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"id\"],\"properties\":{"
     "\"id\":{\"type\":\"string\",\"format\":\"uuid\"},"
     "\"day\":{\"type\":\"string\",\"format\":\"date\"},"
     "\"mail\":{\"type\":\"string\",\"format\":\"email\"},"
     "\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\",\"maxLength\":3},\"maxItems\":2},"
     "\"meta\":{\"type\":\"object\"},"
     "\"tier\":{\"enum\":[\"GA\",\"VIP\"],\"default\":\"GA\"}}}",
     "id",
     {{"{\"id\":\"123e4567-e89b-12d3-a456-426614174000\"}", NULL},
      {"{\"id\":\"123e4567-e89b-12d3-a456-426614174000\",\"day\":\"2026-02-28\",\"mail\":\"a@b.example\","
       "\"tags\":[\"x\",\"yz\"],\"meta\":{\"k\":[1]},\"tier\":\"VIP\"}", NULL},
      {"{\"id\":\"123e4567\"}", "format"},
      {"{\"id\":\"123e4567-e89b-12d3-a456-426614174000\",\"day\":\"2026-02-30\"}", "format"},
      {"{\"id\":\"123e4567-e89b-12d3-a456-426614174000\",\"mail\":\"not-an-address\"}", "format"},
      {"{\"id\":\"123e4567-e89b-12d3-a456-426614174000\",\"tags\":[\"long!\"]}", "length"},
      {"{\"id\":\"123e4567-e89b-12d3-a456-426614174000\",\"tags\":\"x\"}", "type"},
      {"{\"id\":\"123e4567-e89b-12d3-a456-426614174000\",\"meta\":[]}", "type"},
      {"{\"id\":\"123e4567-e89b-12d3-a456-426614174000\",\"tier\":\"X\"}", "enum"},
      {"{\"id\":\"123e4567-e89b-12d3-a456-426614174000\",\"other\":1}", "unknown_field"}}},
};

static void test_apply(void)
{
    for (size_t i = 0; i < sizeof apps / sizeof *apps; i++) {
        const struct app *a = &apps[i];
        json_doc *d = json_doc_new();
        struct err e = {0};
        contract c;
        json_value *s = json_parse(d, a->schema, strlen(a->schema), NULL, &e);
        memset(&c, 0, sizeof c);
        CHECK(s != NULL);
        if (!s) {
            fprintf(stderr, "line %d: %s\n", a->line, e.msg);
            json_doc_free(d);
            continue;
        }
        c.name = strdup("app");
        c.key = calloc(1, sizeof *c.key);
        c.key[0] = strdup(a->key);
        c.nkey = 1;
        if (jsonschema_to_contract(s, &c, &e) != CUST_OK || contract_compile(&c, &e) != CUST_OK) {
            fprintf(stderr, "line %d: %s\n", a->line, e.msg);
            CHECK(0);
            contract_release(&c);
            json_doc_free(d);
            continue;
        }
        for (size_t r = 0; r < sizeof a->recs / sizeof *a->recs && a->recs[r].raw; r++) {
            const struct rec *x = &a->recs[r];
            json_doc *rd = json_doc_new();
            json_value *raw = json_parse(rd, x->raw, strlen(x->raw), NULL, &e), *canon = NULL;
            buf key, errs;
            int rc;
            buf_init(&key, 1 << 16);
            buf_init(&errs, 1 << 16);
            CHECK(raw != NULL);
            rc = raw ? contract_apply(&c, raw, rd, &canon, &key, &errs, &e) : -1;
            if (!x->want) {
                if (rc != 0)
                    fprintf(stderr, "line %d rec %zu: rejected: %s\n", a->line, r, buf_str(&errs));
                CHECK_INT(rc, 0);
            } else {
                char code[64];
                snprintf(code, sizeof code, "{\"code\":\"%s\"", x->want);
                if (rc <= 0 || strncmp(buf_str(&errs) + 1, code, strlen(code)))
                    fprintf(stderr, "line %d rec %zu: rc %d, errors %s, want %s\n", a->line, r, rc, buf_str(&errs),
                            x->want);
                CHECK(rc > 0);
                CHECK(strncmp(buf_str(&errs) + 1, code, strlen(code)) == 0);
            }
            buf_release(&key);
            buf_release(&errs);
            json_doc_free(rd);
        }
        contract_release(&c);
        json_doc_free(d);
    }
}

/* Converting does not touch name and key; a failure after some fields were
 * built frees them (ASan checks the leak). */
static void test_ownership(void)
{
    const char *txt = OBJ("\"a\":{\"type\":\"string\"},\"b\":{\"type\":\"string\"},\"c\":{\"allOf\":[]}");
    json_doc *d = json_doc_new();
    struct err e = {0};
    contract c;
    json_value *s = json_parse(d, txt, strlen(txt), NULL, &e);
    memset(&c, 0, sizeof c);
    c.name = strdup("keep");
    CHECK(s != NULL);
    CHECK_INT(jsonschema_to_contract(s, &c, &e), CUST_ECONFIG);
    CHECK_STR(c.name, "keep");
    CHECK(c.fields == NULL);
    CHECK_INT(jsonschema_to_contract(NULL, &c, &e), CUST_ECONFIG);
    contract_release(&c);
    json_doc_free(d);
}

int main(void)
{
    test_rows();
    test_apply();
    test_ownership();
    return check_report("test_jsonschema");
}
