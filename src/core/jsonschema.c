/* jsonschema.c - JSON Schema (draft 2020-12 subset) -> contract fields.
 * Holds the keyword mapping and the ECMA-262 -> PCRE2 pattern translation;
 * it does not compile or apply contracts (contract.c does).
 *
 * Mapping (property schema -> contract_field):
 *   "type":"string"                       FT_STRING
 *   "format":"date-time" | "date"         FT_DATETIME | FT_DATE
 *   "format":"email" | "uuid"             FT_EMAIL | FT_UUID
 *   "enum":[strings(,null)] / "const":"s" FT_ENUM, values (null -> nullable)
 *   "type":"integer"                      FT_INTEGER
 *   "type":"number" / ["number","integer"] FT_NUMBER
 *   "type":"boolean"                      FT_BOOLEAN
 *   "type":"array","items":{scalar}       FT_ARRAY, items = the item's type,
 *                                         the item's rules on the field
 *   minItems / maxItems                   has_min_items ... / has_max_items ...
 *   "type":"object" without properties    FT_OBJECT
 *   "type":"object" + "properties"        flattened: one field per leaf, name
 *                                         "parent_child", from "$.parent.child"
 *   "type":[T,"null"]                     T with nullable = 1
 *   "required" (root or object)           required = 1 (flattened leaves: the
 *                                         whole chain of objects is required)
 *   minLength/maxLength                   has_min_length/min_length, ...max...
 *   pattern                               pattern (translated, see below)
 *   minimum/maximum                       BOUND_GE ge / BOUND_LE le
 *   exclusiveMinimum/Maximum              BOUND_GT gt / BOUND_LT lt
 *   default (optional fields only)        def = its JSON text
 *   root additionalProperties true / {}   unknown = UNKNOWN_DROP (the canonical
 *                                         record is a projection)
 *   root additionalProperties false       unknown = UNKNOWN_REJECT
 *
 * Where the contract is stricter than the schema (allowed: never weaker):
 * "integer" needs an integer literal fitting int64 (1.0 is refused), numbers
 * beyond binary64 are refused, "format" is asserted (2020-12 only annotates)
 * and email is the contract's addr-spec with a TLD.
 * Where the engine's semantics differ and the converter cannot change them
 * (documented, not hidden): an explicit null in an optional, non-nullable
 * member is treated as absent by contract_apply; numeric bounds are compared
 * in binary64; an integer field takes back the digit-string form of values
 * beyond +-2^53 (contract.h), which "type":"integer" would refuse.
 *
 * Refused: everything else, including allOf/anyOf/oneOf/not/$ref/$defs,
 * if/then/else, patternProperties, unevaluated*, multipleOf, uniqueItems,
 * prefixItems, contains, null or non-scalar items, formats other than the
 * four above (uri too: contract type url is http(s) only), format with
 * pattern/length (those types rewrite their text), optional or nullable
 * objects with properties (their required members would become
 * conditional), flattened objects with no required member (a non-object
 * would pass), additionalProperties false on nested objects or together
 * with flattening (unknown: reject counts output names as known). */
#include "jsonschema.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

#define PTR_MAX 512      /* a JSON pointer in a message; longer ones are cut */
#define NAME_MAX_LEN 256 /* a canonical field name */
#define MAX_NEST 16      /* nested objects flattened */

struct conv {
    contract_field *f;
    size_t n, cap;
    struct err *e;
    int reject_unknown; /* root additionalProperties: false */
};

static cust_code refuse(struct conv *C, const char *ptr, const char *fmt, ...) CUST_PRINTF(3, 4);
static cust_code refuse(struct conv *C, const char *ptr, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return err_set(C->e, CUST_ECONFIG, "%s: %s", ptr, msg);
}

static cust_code nomem(struct conv *C)
{
    return err_set(C->e, CUST_ENOMEM, "out of memory converting a JSON Schema");
}

/* out = base + "/" + tok (RFC 6901 escaped: ~ -> ~0, / -> ~1), cut at n. */
static void ptr_join(char *out, size_t n, const char *base, const char *tok, size_t toklen)
{
    size_t o = 0;
    for (const char *p = base; *p && o + 1 < n; p++)
        out[o++] = *p;
    if (o + 1 < n)
        out[o++] = '/';
    for (size_t i = 0; i < toklen && o + 2 < n; i++) {
        char c = tok[i];
        if (c == '~' || c == '/') {
            out[o++] = '~';
            c = c == '~' ? '0' : '1';
        } else if (c == '\0') {
            c = '?';
        }
        out[o++] = c;
    }
    out[o] = '\0';
}

static int has_nul(const char *s, size_t len)
{
    return memchr(s, '\0', len) != NULL;
}

/* Keywords that only annotate: accepted wherever a schema is. */
static int is_annotation(const char *k)
{
    static const char *const a[] = {"$id",     "$comment",   "title",    "description", "examples",
                                    "default", "deprecated", "readOnly", "writeOnly"};
    for (size_t i = 0; i < sizeof a / sizeof *a; i++)
        if (!strcmp(a[i], k))
            return 1;
    return 0;
}

/* ---- patterns ----------------------------------------------------------- */

/* ECMA-262 whitespace and line terminators (\s), as a PCRE2 class body. */
#define ECMA_WS "\\t\\n\\x{0B}\\f\\r \\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}\\x{FEFF}"

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* JSON Schema patterns are ECMA-262 regular expressions, unanchored. The
 * contract compiles PCRE2 with UTF|UCP, where \d \w \s . and $ mean more
 * than in ECMA-262 (Unicode digits, "abc\n" matching ^abc$), which would
 * make the contract weaker. Rewrite those to their ECMA meaning; refuse the
 * constructs whose meaning differs and has no simple rewrite. Returns NULL
 * or why the pattern is refused. */
static const char *translate_pattern(const char *s, size_t n, buf *out)
{
    int cls = 0;
    for (size_t i = 0; i < n;) {
        char c = s[i];
        const char *rep = NULL;
        if (c == '\\') {
            char d;
            if (i + 1 >= n)
                return "ends in a lone backslash";
            d = s[i + 1];
            switch (d) {
            case 'd': rep = cls ? "0-9" : "[0-9]"; break;
            case 'w': rep = cls ? "A-Za-z0-9_" : "[A-Za-z0-9_]"; break;
            case 's': rep = cls ? ECMA_WS : "[" ECMA_WS "]"; break;
            case 'D': rep = cls ? NULL : "[^0-9]"; break;
            case 'W': rep = cls ? NULL : "[^A-Za-z0-9_]"; break;
            case 'S': rep = cls ? NULL : "[^" ECMA_WS "]"; break;
            case 'b':
            case 'B':
                if (!cls)
                    return "\\b and \\B (word boundaries) differ between ECMA-262 and PCRE2";
                break;
            case 'u': {
                size_t j = i + 2, h0, h1;
                if (j < n && s[j] == '{') {
                    h0 = ++j;
                    while (j < n && is_hex(s[j]))
                        j++;
                    if (j >= n || s[j] != '}' || j == h0 || j - h0 > 6)
                        return "bad \\u{...} escape";
                    h1 = j++;
                } else {
                    h0 = j;
                    while (j < n && j - h0 < 4 && is_hex(s[j]))
                        j++;
                    if (j - h0 != 4)
                        return "bad \\uXXXX escape";
                    h1 = j;
                }
                if (buf_adds(out, "\\x{") || buf_add(out, s + h0, h1 - h0) || buf_addc(out, '}'))
                    return "too long";
                i = j;
                continue;
            }
            default: break;
            }
            if ((d == 'D' || d == 'W' || d == 'S') && cls)
                return "\\D, \\W and \\S inside [...] are not supported";
            if (rep) {
                if (buf_adds(out, rep))
                    return "too long";
            } else if (buf_add(out, s + i, 2)) {
                return "too long";
            }
            i += 2;
            continue;
        }
        if (!cls) {
            if (c == '[') {
                size_t j = i + 1;
                if (j < n && s[j] == '^')
                    j++;
                if (j < n && s[j] == ']')
                    return "[] and [^] mean different things in ECMA-262 and PCRE2";
                cls = 1;
                if (buf_add(out, s + i, j - i))
                    return "too long";
                i = j;
                continue;
            }
            if (c == '.')
                rep = "[^\\n\\r\\x{2028}\\x{2029}]";
            else if (c == '$')
                rep = "\\z";
            else if (c == '(' && i + 1 < n && s[i + 1] == '?') {
                const char *g = s + i + 2;
                size_t left = n - i - 2;
                if (!(left >= 1 && (g[0] == ':' || g[0] == '=' || g[0] == '!' || g[0] == '<')))
                    return "(? group of a kind ECMA-262 does not have (inline flags?)";
            }
        } else if (c == ']') {
            cls = 0;
        } else if (c == '[' && i + 1 < n && (s[i + 1] == ':' || s[i + 1] == '.' || s[i + 1] == '=')) {
            return "[: [. [= inside [...] are POSIX classes in PCRE2, literals in ECMA-262";
        }
        if (rep ? buf_adds(out, rep) : buf_addc(out, c))
            return "too long";
        i++;
    }
    if (cls)
        return "unterminated [...]";
    if (!out->ptr && buf_add(out, "", 0))
        return "out of memory";
    return NULL;
}

/* ---- fields ------------------------------------------------------------- */

enum { T_STRING = 1, T_NUMBER = 2, T_INTEGER = 4, T_BOOLEAN = 8, T_NULL = 16, T_OBJECT = 32, T_ARRAY = 64 };

static int type_bit(const json_value *v)
{
    static const char *const names[] = {"string", "number", "integer", "boolean", "null", "object", "array"};
    if (!v || v->type != JSON_STRING)
        return 0;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!strcmp(names[i], v->u.str) && strlen(names[i]) == v->len)
            return 1 << i;
    return 0;
}

static contract_field *new_field(struct conv *C)
{
    if (C->n == C->cap) {
        size_t cap = C->cap ? C->cap * 2 : 8;
        contract_field *f = realloc(C->f, cap * sizeof *f);
        if (!f)
            return NULL;
        C->f = f;
        C->cap = cap;
    }
    memset(&C->f[C->n], 0, sizeof C->f[C->n]);
    return &C->f[C->n++];
}

/* A JSON path step for member key: ".key", or "['key']" / "[\"key\"]" when
 * key holds path syntax. Returns 0 when json_path cannot spell it. */
static int path_step(buf *b, const char *key, size_t len)
{
    if (len && !memchr(key, '.', len) && !memchr(key, '[', len))
        return !buf_addc(b, '.') && !buf_add(b, key, len);
    for (int q = 0; q < 2; q++) {
        char qc = q ? '"' : '\'';
        if (!memchr(key, qc, len))
            return !buf_addc(b, '[') && !buf_addc(b, qc) && !buf_add(b, key, len) && !buf_addc(b, qc) &&
                   !buf_addc(b, ']');
    }
    return 0;
}

static int number_of(const json_value *v, double *d)
{
    int ok;
    if (!v || v->type != JSON_NUMBER)
        return 0;
    *d = json_number(v, &ok);
    return ok && isfinite(*d);
}

struct where {
    const char *ptr;  /* JSON pointer of this schema */
    const char *name; /* canonical name prefix ("" at the root) */
    const char *path; /* JSON path of this schema's value ("$" at the root) */
    int required;     /* every object on the way here is required */
    int depth;
};

static cust_code conv_object(struct conv *C, const json_value *s, const struct where *w, int root);

/* The types a schema allows, from "type" and narrowed by enum/const (which
 * hold strings and null only). 0 when neither says. */
static cust_code schema_types(struct conv *C, const json_value *s, const char *ptr, int *out)
{
    const json_value *t = json_get(s, "type"), *en = json_get(s, "enum"), *cn = json_get(s, "const");
    const json_value *ev = en ? en : cn;
    char kp[PTR_MAX];
    int types = 0, enull = 0, estr = 0;

    if (t && t->type == JSON_ARRAY) {
        ptr_join(kp, sizeof kp, ptr, "type", 4);
        if (t->len == 0)
            return refuse(C, kp, "empty type list");
        for (size_t i = 0; i < t->len; i++) {
            int b = type_bit(json_at(t, i));
            if (!b)
                return refuse(C, kp, "item %zu is not a JSON Schema type name", i);
            types |= b;
        }
    } else if (t) {
        ptr_join(kp, sizeof kp, ptr, "type", 4);
        if (!(types = type_bit(t)))
            return refuse(C, kp, "not a JSON Schema type name");
    }
    if (en && cn)
        return refuse(C, ptr, "both enum and const: use one");
    if (ev) {
        ptr_join(kp, sizeof kp, ptr, en ? "enum" : "const", en ? 4 : 5);
        if (en && (en->type != JSON_ARRAY || en->len == 0))
            return refuse(C, kp, "must be a non-empty array");
        for (size_t i = 0; i < (en ? en->len : 1); i++) {
            const json_value *x = en ? json_at(en, i) : cn;
            if (x->type == JSON_NULL)
                enull = 1;
            else if (x->type == JSON_STRING && !has_nul(x->u.str, x->len))
                estr = 1;
            else
                return refuse(C, kp, "%s%zu is not a string or null; contract enums hold strings only",
                              en ? "item " : "value", en ? i : (size_t)0);
        }
        if (!t)
            types = (estr ? T_STRING : 0) | (enull ? T_NULL : 0);
        else if (types & ~(T_STRING | T_NULL))
            return refuse(C, kp, "enum/const with a type other than string or null is not supported");
        if (!enull)
            types &= ~T_NULL;
        if (!estr)
            types &= ~T_STRING;
        if (!(types & T_STRING))
            return refuse(C, kp, "allows no string value (a null-only field cannot be expressed)");
    }
    *out = types;
    return CUST_OK;
}

/* The scalar part of a schema (a property, or an array's items) onto f:
 * type, enum values, string and number rules. base is T_STRING, T_NUMBER,
 * T_INTEGER or T_BOOLEAN. */
static cust_code conv_scalar(struct conv *C, const json_value *s, const char *ptr, int base, contract_field *f)
{
    const json_value *en = json_get(s, "enum"), *cn = json_get(s, "const"), *fmt = json_get(s, "format");
    char kp[PTR_MAX];

    for (size_t i = 0; i < s->len; i++) {
        const json_member *m = &s->u.members[i];
        const char *k = m->key;
        int strk = !strcmp(k, "pattern") || !strcmp(k, "minLength") || !strcmp(k, "maxLength");
        int numk = !strcmp(k, "minimum") || !strcmp(k, "maximum") || !strcmp(k, "exclusiveMinimum") ||
                   !strcmp(k, "exclusiveMaximum");
        ptr_join(kp, sizeof kp, ptr, k, m->key_len);
        if (has_nul(k, m->key_len))
            return refuse(C, kp, "unsupported keyword");
        if (is_annotation(k) || !strcmp(k, "type") || !strcmp(k, "enum") || !strcmp(k, "const"))
            continue;
        if (strk && base != T_STRING)
            return refuse(C, kp, "applies to strings, but the type is not string");
        if (numk && base != T_NUMBER && base != T_INTEGER)
            return refuse(C, kp, "applies to numbers, but the type is not number or integer");
        if (!strcmp(k, "format")) {
            if (base != T_STRING)
                return refuse(C, kp, "format applies to strings, but the type is not string");
            if (m->value->type != JSON_STRING)
                return refuse(C, kp, "must be a string");
            continue;
        }
        if (strk || numk)
            continue;
        if (!strcmp(k, "additionalProperties") || !strcmp(k, "properties") || !strcmp(k, "required"))
            return refuse(C, kp, "applies to objects, but the type is not object");
        if (!strcmp(k, "items") || !strcmp(k, "prefixItems") || !strcmp(k, "minItems") || !strcmp(k, "maxItems"))
            return refuse(C, kp, "applies to arrays, but the type is not array");
        return refuse(C, kp, "unsupported keyword (refused so the contract is never weaker than the schema)");
    }

    f->type = base == T_STRING ? FT_STRING : base == T_NUMBER ? FT_NUMBER : base == T_INTEGER ? FT_INTEGER
                                                                                              : FT_BOOLEAN;
    if (fmt) {
        /* format asserts here (2020-12 only annotates by default): stricter */
        static const struct {
            const char *name;
            field_type t;
        } fm[] = {{"date-time", FT_DATETIME}, {"date", FT_DATE}, {"email", FT_EMAIL}, {"uuid", FT_UUID}};
        size_t j = 0;
        ptr_join(kp, sizeof kp, ptr, "format", 6);
        while (j < sizeof fm / sizeof *fm && strcmp(fm[j].name, fmt->u.str))
            j++;
        if (j == sizeof fm / sizeof *fm) {
            if (!strcmp(fmt->u.str, "uri"))
                return refuse(C, kp, "format \"uri\" is not supported (contract type url takes http(s) only, "
                                     "narrower than a URI)");
            return refuse(C, kp, "format \"%.64s\" is not supported", fmt->u.str);
        }
        if (en || cn)
            return refuse(C, kp, "format together with enum/const is not supported");
        /* these types check and rewrite the text themselves (uuid and email
         * domains are lower-cased): a pattern or length would be judged on
         * another text than the schema's */
        if (json_get(s, "pattern") || json_get(s, "minLength") || json_get(s, "maxLength"))
            return refuse(C, kp, "format \"%s\" with pattern/minLength/maxLength is not supported", fm[j].name);
        f->type = fm[j].t;
    }
    if (en || cn) {
        const json_value *ev = en ? en : cn;
        size_t nv = en ? en->len : 1, k = 0;
        f->type = FT_ENUM;
        if (!(f->values = calloc(nv, sizeof *f->values)))
            return nomem(C);
        for (size_t i = 0; i < nv; i++) {
            const json_value *x = en ? json_at(ev, i) : ev;
            if (x->type != JSON_STRING)
                continue;
            if (!(f->values[k] = strdup(x->u.str)))
                return nomem(C);
            f->nvalues = ++k;
        }
    }

    /* string rules */
    {
        static const char *const lk[] = {"minLength", "maxLength"};
        for (int i = 0; i < 2; i++) {
            const json_value *v = json_get(s, lk[i]);
            if (!v)
                continue;
            ptr_join(kp, sizeof kp, ptr, lk[i], strlen(lk[i]));
            if (v->type != JSON_NUMBER || !(v->flags & JSON_F_INT64) || v->i64 < 0)
                return refuse(C, kp, "must be a non-negative integer");
            if (i == 0) {
                f->has_min_length = 1;
                f->min_length = (size_t)v->i64;
            } else {
                f->has_max_length = 1;
                f->max_length = (size_t)v->i64;
            }
        }
        if (f->has_min_length && f->has_max_length && f->min_length > f->max_length) {
            ptr_join(kp, sizeof kp, ptr, "minLength", 9);
            return refuse(C, kp, "exceeds maxLength: no string passes");
        }
    }
    {
        const json_value *p = json_get(s, "pattern");
        if (p) {
            buf pat;
            const char *why;
            ptr_join(kp, sizeof kp, ptr, "pattern", 7);
            if (p->type != JSON_STRING || has_nul(p->u.str, p->len))
                return refuse(C, kp, "must be a string without NUL");
            buf_init(&pat, 1u << 20);
            why = translate_pattern(p->u.str, p->len, &pat);
            if (why) {
                buf_release(&pat);
                return refuse(C, kp, "%s", why);
            }
            if (pat.len && !(f->pattern = buf_take(&pat)))
                return nomem(C);
            buf_release(&pat); /* an empty pattern matches everything */
        }
    }
    /* number rules */
    {
        static const char *const nk[] = {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"};
        static const unsigned nb[] = {BOUND_GE, BOUND_LE, BOUND_GT, BOUND_LT};
        double *dst[] = {&f->ge, &f->le, &f->gt, &f->lt};
        for (int i = 0; i < 4; i++) {
            const json_value *v = json_get(s, nk[i]);
            if (!v)
                continue;
            ptr_join(kp, sizeof kp, ptr, nk[i], strlen(nk[i]));
            if (!number_of(v, dst[i]))
                return refuse(C, kp, "must be a finite number%s",
                              (v->type == JSON_TRUE || v->type == JSON_FALSE) ? " (draft-04 boolean form)" : "");
            f->bounds |= nb[i];
        }
    }
    return CUST_OK;
}

static int is_scalar(int base)
{
    return base == T_STRING || base == T_NUMBER || base == T_INTEGER || base == T_BOOLEAN;
}

/* Keywords of a container schema (array or opaque object) other than the
 * allowed ones are refused. */
static cust_code only_keywords(struct conv *C, const json_value *s, const char *ptr, const char *const *ok,
                               const char *what)
{
    char kp[PTR_MAX];
    for (size_t i = 0; i < s->len; i++) {
        const json_member *m = &s->u.members[i];
        int fine = !has_nul(m->key, m->key_len) && (is_annotation(m->key) || !strcmp(m->key, "type"));
        for (size_t j = 0; !fine && ok[j]; j++)
            fine = !has_nul(m->key, m->key_len) && !strcmp(m->key, ok[j]);
        if (!fine) {
            ptr_join(kp, sizeof kp, ptr, m->key, m->key_len);
            return refuse(C, kp, "unsupported keyword for %s (refused so the contract is never weaker than the "
                                 "schema)", what);
        }
    }
    return CUST_OK;
}

static cust_code conv_property(struct conv *C, const json_value *s, const struct where *w)
{
    int types = 0, base, nullable;
    const json_value *def;
    char kp[PTR_MAX];
    contract_field *f;
    cust_code rc;

    if (!s || s->type != JSON_OBJECT)
        return refuse(C, w->ptr, "a property schema must be an object (true/false schemas are not supported)");
    if (s->flags & JSON_F_DUPKEYS)
        return refuse(C, w->ptr, "repeats a member name");
    if ((rc = schema_types(C, s, w->ptr, &types)))
        return rc;
    if (!types)
        return refuse(C, w->ptr, "no \"type\": a contract field needs one");
    nullable = (types & T_NULL) != 0;
    base = types & ~T_NULL;
    if (base == (T_NUMBER | T_INTEGER))
        base = T_NUMBER;
    if (!is_scalar(base) && base != T_OBJECT && base != T_ARRAY)
        return refuse(C, w->ptr, "a union of types other than T or [T, \"null\"] cannot be expressed");

    if (base == T_OBJECT && json_get(s, "properties")) {
        struct where sub = *w;
        if (nullable)
            return refuse(C, w->ptr, "a nullable object with properties cannot be flattened into fields");
        if (!w->required)
            return refuse(C, w->ptr,
                          "an optional object with properties cannot be flattened (its required members would "
                          "become conditional): list it in required");
        if (w->depth >= MAX_NEST)
            return refuse(C, w->ptr, "objects nested deeper than %d", MAX_NEST);
        sub.depth++;
        return conv_object(C, s, &sub, 0);
    }

    if (!(f = new_field(C)))
        return nomem(C);
    if (!(f->name = strdup(w->name)) || (w->depth > 0 && !(f->from = strdup(w->path))))
        return nomem(C);
    f->required = w->required;
    f->nullable = nullable;

    if (base == T_OBJECT) {
        /* no properties: any object, kept whole */
        static const char *const ok[] = {"additionalProperties", NULL};
        const json_value *ap = json_get(s, "additionalProperties");
        if ((rc = only_keywords(C, s, w->ptr, ok, "an object without properties")))
            return rc;
        if (ap && !(ap->type == JSON_TRUE || (ap->type == JSON_OBJECT && ap->len == 0))) {
            ptr_join(kp, sizeof kp, w->ptr, "additionalProperties", 20);
            return refuse(C, kp, "only true or {} is supported on an object without properties");
        }
        f->type = FT_OBJECT;
    } else if (base == T_ARRAY) {
        static const char *const ok[] = {"items", "minItems", "maxItems", NULL};
        static const char *const ik[] = {"minItems", "maxItems"};
        const json_value *it = json_get(s, "items");
        if ((rc = only_keywords(C, s, w->ptr, ok, "an array")))
            return rc;
        for (int i = 0; i < 2; i++) {
            const json_value *v = json_get(s, ik[i]);
            if (!v)
                continue;
            ptr_join(kp, sizeof kp, w->ptr, ik[i], 8);
            if (v->type != JSON_NUMBER || !(v->flags & JSON_F_INT64) || v->i64 < 0)
                return refuse(C, kp, "must be a non-negative integer");
            if (i == 0) {
                f->has_min_items = 1;
                f->min_items = (size_t)v->i64;
            } else {
                f->has_max_items = 1;
                f->max_items = (size_t)v->i64;
            }
        }
        if (f->has_min_items && f->has_max_items && f->min_items > f->max_items) {
            ptr_join(kp, sizeof kp, w->ptr, "minItems", 8);
            return refuse(C, kp, "exceeds maxItems: no array passes");
        }
        if (it) {
            int it_types = 0, it_base;
            char ip[PTR_MAX];
            ptr_join(ip, sizeof ip, w->ptr, "items", 5);
            if (it->type != JSON_OBJECT)
                return refuse(C, ip, "must be a schema object (true/false schemas are not supported)");
            if (it->flags & JSON_F_DUPKEYS)
                return refuse(C, ip, "repeats a member name");
            if ((rc = schema_types(C, it, ip, &it_types)))
                return rc;
            if (!it_types)
                return refuse(C, ip, "no \"type\": array items need one");
            if (it_types & T_NULL)
                return refuse(C, ip, "null items cannot be expressed");
            it_base = it_types == (T_NUMBER | T_INTEGER) ? T_NUMBER : it_types;
            if (!is_scalar(it_base))
                return refuse(C, ip, "items must have one scalar type (string, number, integer, boolean)");
            if ((rc = conv_scalar(C, it, ip, it_base, f)))
                return rc;
            f->items = f->type; /* the item rules stay on f: they apply per item */
            f->has_items = 1;
        }
        f->type = FT_ARRAY;
    } else if ((rc = conv_scalar(C, s, w->ptr, base, f))) {
        return rc;
    }

    /* default fills an absent member; on a required field that would let a
     * record the schema refuses pass, so there it stays an annotation */
    if ((def = json_get(s, "default")) && !f->required) {
        buf b;
        buf_init(&b, 1u << 16);
        if (json_write(def, &b) || !(f->def = buf_take(&b))) {
            buf_release(&b);
            ptr_join(kp, sizeof kp, w->ptr, "default", 7);
            return refuse(C, kp, "too large");
        }
    }
    return CUST_OK;
}

static cust_code conv_object(struct conv *C, const json_value *s, const struct where *w, int root)
{
    const json_value *t = json_get(s, "type"), *props = json_get(s, "properties"), *req = json_get(s, "required");
    const json_value *ap = json_get(s, "additionalProperties");
    char kp[PTR_MAX], pp[PTR_MAX];
    int nreq_child = 0;

    if (!s || s->type != JSON_OBJECT)
        return refuse(C, w->ptr, "a schema must be an object");
    if (s->flags & JSON_F_DUPKEYS)
        return refuse(C, w->ptr, "repeats a member name");
    if (root) {
        ptr_join(kp, sizeof kp, w->ptr, "type", 4);
        if (!t)
            return refuse(C, w->ptr, "the root needs \"type\": \"object\"");
        if (type_bit(t) != T_OBJECT)
            return refuse(C, kp, "the root must be \"type\": \"object\"");
    }
    for (size_t i = 0; i < s->len; i++) {
        const json_member *m = &s->u.members[i];
        const char *k = m->key;
        ptr_join(kp, sizeof kp, w->ptr, k, m->key_len);
        if (has_nul(k, m->key_len))
            return refuse(C, kp, "unsupported keyword");
        if (!strcmp(k, "$schema") && root) {
            const json_value *v = m->value;
            if (v->type != JSON_STRING)
                return refuse(C, kp, "must be a string");
            if (!strstr(v->u.str, "/2020-12/") && !strstr(v->u.str, "/2019-09/") && !strstr(v->u.str, "draft-07") &&
                !strstr(v->u.str, "draft-06"))
                return refuse(C, kp, "dialect %.128s is not supported (use draft 2020-12)", v->u.str);
            continue;
        }
        if (is_annotation(k) || !strcmp(k, "type") || !strcmp(k, "properties") || !strcmp(k, "required"))
            continue;
        if (!strcmp(k, "additionalProperties")) {
            if (ap->type == JSON_TRUE || (ap->type == JSON_OBJECT && ap->len == 0))
                continue;
            if (ap->type == JSON_FALSE && root) {
                C->reject_unknown = 1;
                continue;
            }
            if (ap->type == JSON_FALSE)
                return refuse(C, kp, "false on a nested object cannot be expressed (the contract's unknown-field "
                                     "policy covers the record's top level only)");
            return refuse(C, kp, "only true or {} is supported");
        }
        if (!strcmp(k, "enum") || !strcmp(k, "const"))
            return refuse(C, kp, "enum/const on an object is not supported");
        return refuse(C, kp, "unsupported keyword (refused so the contract is never weaker than the schema)");
    }
    ptr_join(pp, sizeof pp, w->ptr, "properties", 10);
    if (!props)
        return refuse(C, w->ptr, "an object needs \"properties\"");
    if (props->type != JSON_OBJECT)
        return refuse(C, pp, "must be an object");
    if (props->flags & JSON_F_DUPKEYS)
        return refuse(C, pp, "repeats a property name");
    if (props->len == 0)
        return refuse(C, pp, "declares no properties");
    if (req) {
        ptr_join(kp, sizeof kp, w->ptr, "required", 8);
        if (req->type != JSON_ARRAY)
            return refuse(C, kp, "must be an array of property names");
        for (size_t i = 0; i < req->len; i++) {
            const json_value *r = json_at(req, i);
            if (r->type != JSON_STRING)
                return refuse(C, kp, "item %zu is not a string", i);
            if (!json_getn(props, r->u.str, r->len))
                return refuse(C, kp, "\"%.128s\" is not in properties (a contract cannot require an undeclared "
                                     "member)", r->u.str);
            nreq_child++;
        }
    }
    if (!root && nreq_child == 0)
        return refuse(C, w->ptr,
                      "a flattened object needs at least one required property (otherwise a non-object value "
                      "would pass)");

    for (size_t i = 0; i < props->len; i++) {
        const json_member *m = &props->u.members[i];
        struct where sub = *w;
        char cp[PTR_MAX];
        buf name, path;
        int isreq = 0;
        cust_code rc;
        ptr_join(cp, sizeof cp, pp, m->key, m->key_len);
        if (m->key_len == 0 || has_nul(m->key, m->key_len))
            return refuse(C, cp, "property names must be non-empty and hold no NUL");
        for (size_t r = 0; req && r < req->len; r++) {
            const json_value *rv = json_at(req, r);
            isreq |= rv->len == m->key_len && !memcmp(rv->u.str, m->key, m->key_len);
        }
        buf_init(&name, NAME_MAX_LEN);
        buf_init(&path, 4096);
        if ((!root && (buf_adds(&name, w->name) || buf_addc(&name, '_'))) || buf_add(&name, m->key, m->key_len)) {
            rc = refuse(C, cp, "canonical name longer than %d bytes", NAME_MAX_LEN - 1);
            goto next;
        }
        if (buf_adds(&path, w->path) || !path_step(&path, m->key, m->key_len)) {
            rc = refuse(C, cp, "name cannot be written as a JSON path step");
            goto next;
        }
        for (size_t j = 0; j < C->n; j++)
            if (!strcmp(C->f[j].name, name.ptr)) {
                rc = refuse(C, cp, "canonical name \"%s\" is already taken by another field", name.ptr);
                goto next;
            }
        sub.ptr = cp;
        sub.name = name.ptr;
        sub.path = path.ptr;
        sub.required = w->required && isreq;
        rc = conv_property(C, m->value, &sub);
    next:
        buf_release(&name);
        buf_release(&path);
        if (rc)
            return rc;
    }
    return CUST_OK;
}

cust_code jsonschema_to_contract(const json_value *schema, contract *c, struct err *e)
{
    struct conv C = {NULL, 0, 0, e, 0};
    struct where w = {"#", "", "$", 1, 0};
    cust_code rc = conv_object(&C, schema, &w, 1);
    /* unknown: reject counts a member as read when it is a field's output
     * name: with flattened fields, a raw member called "contact_email" would
     * pass although the schema refuses it */
    for (size_t i = 0; rc == CUST_OK && C.reject_unknown && i < C.n; i++)
        if (C.f[i].from)
            rc = refuse(&C, "#/additionalProperties",
                        "false together with flattened nested objects cannot be expressed (a raw member named "
                        "like the field \"%s\" would count as known)", C.f[i].name);
    if (rc == CUST_OK) {
        c->fields = C.f;
        c->nfields = C.n;
        if (C.reject_unknown)
            c->unknown = UNKNOWN_REJECT;
    } else {
        /* contract_release knows how each member is freed */
        contract tmp;
        memset(&tmp, 0, sizeof tmp);
        tmp.fields = C.f;
        tmp.nfields = C.n;
        contract_release(&tmp);
    }
    return rc;
}
