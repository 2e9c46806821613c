/* export.c - CSV cells, formula neutralisation, FSMA 204 rows and the
 * chain-of-custody tree (see export.h). Pure: the commands do the I/O. */
#include "engine/export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/timefmt.h"

const export_fsma_fields export_fsma_default_fields = {
    .lot = "traceability_lot_code", .event_type = "event_type", .timestamp = "event_timestamp",
    .product = "product_description", .quantity = "quantity", .unit = "unit_of_measure",
    .origin = "origin_location_id", .destination = "destination_location_id", .supplier = "supplier_id",
    .input_lots = "input_lots",
};

const char *const export_fsma_columns[FSMA_NCOLS] = {
    "Event Type", "Traceability Lot Code", "Product Description", "Quantity", "Unit of Measure",
    "Location", "Previous Source or Recipient", "Traceability Lot Code Source", "Event Date (UTC)",
    "Event Time (UTC)", "Reference Document Type", "Reference Document Number", "Content SHA-256",
    "Custody Source", "Custody Key", "Custody Version",
};

const char *const export_fsma_glossary[FSMA_NCOLS] = {
    "The critical tracking event: harvest, cooling, packing, shipping, receiving or transformation.",
    "The traceability lot code: the identifier that follows this lot of food through the supply chain.",
    "What the food is, as the supplier described it.",
    "How much food the event concerned, in the unit of the next column.",
    "The unit the quantity is counted in (kg, lb, ea, case, pallet, liter, gallon).",
    "Where the event happened: the origin for shipping (where it left), the destination for receiving "
    "(where it arrived), the origin for every other event.",
    "For shipping, the recipient (the destination it was sent to); for receiving, the previous source "
    "(the origin it came from); empty for other events.",
    "The traceability lot code source: the supplier that assigned the lot code (its supplier id).",
    "The day of the event, in UTC (YYYY-MM-DD).",
    "The time of the event, in UTC (HH:MM:SS).",
    "What kind of reference backs this row: a record custody received and stored.",
    "The upstream request custody received the record in (its request id).",
    "The SHA-256 of the stored record version: it proves the row is what was received.",
    "The custody source the record came from.",
    "The record's key in custody (JSON array: lot code, event type, event timestamp).",
    "The stored version of the record. Prove it with: custody audit prove SOURCE KEY --version N.",
};

int export_formula_risky(const char *s, size_t len)
{
    return len > 0 && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' || s[0] == '\r');
}

int export_is_number_text(const char *s, size_t len)
{
    size_t i = 0, d;
    if (i < len && s[i] == '-')
        i++;
    for (d = i; i < len && s[i] >= '0' && s[i] <= '9'; i++)
        ;
    if (i == d)
        return 0;
    if (i < len && s[i] == '.') {
        for (d = ++i; i < len && s[i] >= '0' && s[i] <= '9'; i++)
            ;
        if (i == d)
            return 0;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        for (d = i; i < len && s[i] >= '0' && s[i] <= '9'; i++)
            ;
        if (i == d)
            return 0;
    }
    return i == len;
}

int export_must_neutralise(field_type t, const char *s, size_t len)
{
    if (!export_formula_risky(s, len))
        return 0;
    if ((t == FT_NUMBER || t == FT_INTEGER || t == FT_DECIMAL) && export_is_number_text(s, len))
        return 0;
    return 1;
}

cust_code export_csv_field(buf *out, const char *s, size_t len, int neutralise, int *changed)
{
    size_t start = out->len;
    int quote = 0;
    cust_code rc = CUST_OK;
    for (size_t i = 0; i < len; i++)
        if (s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n')
            quote = 1;
    if (quote)
        rc = buf_addc(out, '"');
    if (!rc && neutralise) {
        rc = buf_addc(out, '\'');
        if (!rc && changed)
            *changed = 1;
    }
    for (size_t i = 0; !rc && i < len; i++) {
        if (s[i] == '"')
            rc = buf_addc(out, '"');
        if (!rc)
            rc = buf_addc(out, s[i]);
    }
    if (!rc && quote)
        rc = buf_addc(out, '"');
    if (rc) {
        out->len = start; /* leave the buffer as it was */
        if (out->ptr)
            out->ptr[start] = 0;
    }
    return rc;
}

cust_code export_cell_text(const json_value *v, buf *out)
{
    if (!v || v->type == JSON_NULL)
        return CUST_OK;
    switch (v->type) {
    case JSON_STRING:
    case JSON_NUMBER:
        return buf_add(out, v->u.str, v->len);
    case JSON_TRUE:
        return buf_adds(out, "true");
    case JSON_FALSE:
        return buf_adds(out, "false");
    default:
        return json_write(v, out);
    }
}

/* ---- FSMA 204 rows ---- */

static const char *str_of(const json_value *rec, const char *name)
{
    const json_value *v = name ? json_get(rec, name) : NULL;
    return v && v->type == JSON_STRING ? v->u.str : "";
}

static const char *cell_copy(json_doc *doc, const json_value *rec, const char *name)
{
    const json_value *v = name ? json_get(rec, name) : NULL;
    buf b;
    const char *s;
    buf_init(&b, (size_t)64 << 20);
    if (export_cell_text(v, &b)) {
        buf_release(&b);
        return NULL;
    }
    s = json_strdup(doc, buf_str(&b), b.len);
    buf_release(&b);
    return s;
}

cust_code export_fsma_row_of(const json_value *rec, const export_version *ver, const export_fsma_fields *f,
                             json_doc *doc, export_fsma_row *out, struct err *e)
{
    const char *type, *ts, *lot;
    const char *origin, *dest;
    char date[11], tim[9];
    buf b;
    memset(out, 0, sizeof *out);
    lot = str_of(rec, f->lot);
    ts = str_of(rec, f->timestamp);
    type = str_of(rec, f->event_type);
    if (!*lot)
        return err_set(e, CUST_EDATA, "record %s has no %s", ver->key, f->lot);
    if (!timefmt_parse(TIME_ISO8601, ts, strlen(ts), &out->event_ms))
        return err_set(e, CUST_EDATA, "record %s: %s \"%s\" is not a date-time with a zone", ver->key,
                       f->timestamp, ts);
    /* the UTC date and time of the instant */
    buf_init(&b, 64);
    if (timefmt_format(TIME_ISO8601, out->event_ms, &b) || b.len < 19) {
        buf_release(&b);
        return err_set(e, CUST_ENOMEM, "out of memory");
    }
    memcpy(date, b.ptr, 10);
    date[10] = 0;
    memcpy(tim, b.ptr + 11, 8);
    tim[8] = 0;
    buf_release(&b);
    origin = str_of(rec, f->origin);
    dest = str_of(rec, f->destination);
    out->cells[FSMA_EVENT_TYPE] = json_strdup(doc, type, strlen(type));
    out->cells[FSMA_LOT] = json_strdup(doc, lot, strlen(lot));
    out->cells[FSMA_PRODUCT] = cell_copy(doc, rec, f->product);
    out->cells[FSMA_QUANTITY] = cell_copy(doc, rec, f->quantity);
    {
        const json_value *q = f->quantity ? json_get(rec, f->quantity) : NULL;
        out->quantity_is_number = q && q->type == JSON_NUMBER;
    }
    out->cells[FSMA_UNIT] = cell_copy(doc, rec, f->unit);
    if (!strcmp(type, "receiving")) {
        out->cells[FSMA_LOCATION] = json_strdup(doc, dest, strlen(dest));
        out->cells[FSMA_PREV_OR_NEXT] = json_strdup(doc, origin, strlen(origin));
    } else {
        out->cells[FSMA_LOCATION] = json_strdup(doc, origin, strlen(origin));
        out->cells[FSMA_PREV_OR_NEXT] = !strcmp(type, "shipping") ? json_strdup(doc, dest, strlen(dest))
                                                                   : json_strdup(doc, "", 0);
    }
    out->cells[FSMA_LOT_SOURCE] = cell_copy(doc, rec, f->supplier);
    out->cells[FSMA_EVENT_DATE] = json_strdup(doc, date, 10);
    out->cells[FSMA_EVENT_TIME] = json_strdup(doc, tim, 8);
    out->cells[FSMA_REF_TYPE] = json_strdup(doc, "custody record", 14);
    out->cells[FSMA_REF_NUMBER] = json_strdup(doc, ver->request_id ? ver->request_id : "",
                                              ver->request_id ? strlen(ver->request_id) : 0);
    out->cells[FSMA_CONTENT_HASH] = json_strdup(doc, ver->content_hash, strlen(ver->content_hash));
    out->cells[FSMA_CUSTODY_SOURCE] = json_strdup(doc, ver->source, strlen(ver->source));
    out->cells[FSMA_CUSTODY_KEY] = json_strdup(doc, ver->key, strlen(ver->key));
    out->cells[FSMA_CUSTODY_VERSION] = json_strdup(doc, ver->version, strlen(ver->version));
    for (int i = 0; i < FSMA_NCOLS; i++)
        if (!out->cells[i])
            return err_set(e, CUST_ENOMEM, "out of memory building the FSMA 204 row of %s", ver->key);
    return CUST_OK;
}

static int row_cmp(const void *a, const void *b)
{
    const export_fsma_row *x = a, *y = b;
    int c;
    if (x->event_ms != y->event_ms)
        return x->event_ms < y->event_ms ? -1 : 1;
    if ((c = strcmp(x->cells[FSMA_LOT], y->cells[FSMA_LOT])))
        return c;
    if ((c = strcmp(x->cells[FSMA_CUSTODY_SOURCE], y->cells[FSMA_CUSTODY_SOURCE])))
        return c;
    if ((c = strcmp(x->cells[FSMA_CUSTODY_KEY], y->cells[FSMA_CUSTODY_KEY])))
        return c;
    return strcmp(x->cells[FSMA_CUSTODY_VERSION], y->cells[FSMA_CUSTODY_VERSION]);
}

void export_fsma_sort(export_fsma_row *rows, size_t n)
{
    if (n > 1)
        qsort(rows, n, sizeof *rows, row_cmp);
}

/* ---- the trace index ---- */

struct by_input {
    const char *lot; /* the input lot */
    size_t ev;       /* the transformation event producing from it */
};

struct ixev {
    export_event e;
    size_t orig; /* position when added */
};

struct export_index {
    json_doc *doc;       /* owns every string */
    struct ixev *ev;
    size_t n, cap;
    struct by_input *in;
    size_t nin, capin;
    int sorted;
    /* export_index_add_once: "source\x1fkey" of every event added, open
     * addressing (capacity a power of two, at most half full) */
    const char **seen;
    size_t nseen, capseen;
};

export_index *export_index_new(void)
{
    export_index *ix = calloc(1, sizeof *ix);
    if (ix && !(ix->doc = json_doc_new())) {
        free(ix);
        ix = NULL;
    }
    return ix;
}

void export_index_free(export_index *ix)
{
    if (!ix)
        return;
    free(ix->ev);
    free(ix->in);
    free(ix->seen);
    json_doc_free(ix->doc);
    free(ix);
}

size_t export_index_count(const export_index *ix) { return ix->n; }

static const char *dup_of(json_doc *d, const char *s) { return json_strdup(d, s ? s : "", s ? strlen(s) : 0); }

cust_code export_index_add(export_index *ix, const json_value *rec, const export_version *ver,
                           const export_fsma_fields *f)
{
    const char *lot = str_of(rec, f->lot), *ts = str_of(rec, f->timestamp);
    const json_value *inputs = f->input_lots ? json_get(rec, f->input_lots) : NULL;
    export_event *ev;
    size_t ni = 0;
    if (!*lot)
        return CUST_OK;
    if (ix->n == ix->cap) {
        size_t nc = ix->cap ? ix->cap * 2 : 256;
        struct ixev *p = realloc(ix->ev, nc * sizeof *p);
        if (!p)
            return CUST_ENOMEM;
        ix->ev = p;
        ix->cap = nc;
    }
    memset(&ix->ev[ix->n], 0, sizeof ix->ev[ix->n]);
    ix->ev[ix->n].orig = ix->n;
    ev = &ix->ev[ix->n].e;
    ev->lot = dup_of(ix->doc, lot);
    ev->event_type = dup_of(ix->doc, str_of(rec, f->event_type));
    ev->timestamp = dup_of(ix->doc, ts);
    ev->origin = dup_of(ix->doc, str_of(rec, f->origin));
    ev->destination = dup_of(ix->doc, str_of(rec, f->destination));
    ev->source = dup_of(ix->doc, ver->source);
    ev->key = dup_of(ix->doc, ver->key);
    ev->version = dup_of(ix->doc, ver->version);
    ev->content_hash = dup_of(ix->doc, ver->content_hash);
    if (!timefmt_parse(TIME_ISO8601, ts, strlen(ts), &ev->ms))
        ev->ms = INT64_MAX; /* unknown times sort last */
    if (!ev->lot || !ev->event_type || !ev->timestamp || !ev->origin || !ev->destination || !ev->source ||
        !ev->key || !ev->version || !ev->content_hash)
        return CUST_ENOMEM;
    if (inputs && inputs->type == JSON_ARRAY && inputs->len) {
        for (size_t i = 0; i < inputs->len; i++) {
            const json_value *it = inputs->u.items[i];
            if (!it || it->type != JSON_STRING || !it->len)
                continue;
            if (ix->nin == ix->capin) {
                size_t nc = ix->capin ? ix->capin * 2 : 64;
                struct by_input *p = realloc(ix->in, nc * sizeof *p);
                if (!p)
                    return CUST_ENOMEM;
                ix->in = p;
                ix->capin = nc;
            }
            ix->in[ix->nin].lot = json_strdup(ix->doc, it->u.str, it->len);
            if (!ix->in[ix->nin].lot)
                return CUST_ENOMEM;
            ix->in[ix->nin].ev = ix->n;
            ix->nin++;
            ni++;
        }
    }
    ev->ninputs = ni;
    ix->n++;
    ix->sorted = 0;
    return CUST_OK;
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* Insert id into the seen set: 1 when it was there, 0 added, -1 no memory. */
static int seen_insert(export_index *ix, const char *id)
{
    size_t mask, i;
    if (2 * (ix->nseen + 1) > ix->capseen) {
        size_t nc = ix->capseen ? ix->capseen * 2 : 256;
        const char **t = calloc(nc, sizeof *t);
        if (!t)
            return -1;
        for (size_t k = 0; k < ix->capseen; k++)
            if (ix->seen[k]) {
                for (i = fnv1a(ix->seen[k]) & (nc - 1); t[i]; i = (i + 1) & (nc - 1))
                    ;
                t[i] = ix->seen[k];
            }
        free(ix->seen);
        ix->seen = t;
        ix->capseen = nc;
    }
    mask = ix->capseen - 1;
    for (i = fnv1a(id) & mask; ix->seen[i]; i = (i + 1) & mask)
        if (!strcmp(ix->seen[i], id))
            return 1;
    ix->seen[i] = id;
    ix->nseen++;
    return 0;
}

cust_code export_index_add_once(export_index *ix, const json_value *rec, const export_version *ver,
                                const export_fsma_fields *f)
{
    size_t ls = strlen(ver->source), lk = strlen(ver->key);
    char *tmp = malloc(ls + lk + 2);
    const char *id;
    int r;
    if (!tmp)
        return CUST_ENOMEM;
    memcpy(tmp, ver->source, ls);
    tmp[ls] = '\x1f';
    memcpy(tmp + ls + 1, ver->key, lk);
    id = json_strdup(ix->doc, tmp, ls + 1 + lk);
    free(tmp);
    if (!id || (r = seen_insert(ix, id)) < 0)
        return CUST_ENOMEM;
    return r ? CUST_OK : export_index_add(ix, rec, ver, f);
}

/* Events sort by lot, then time, then key; the input table by lot, then
 * the producing event's position (stable: the events' order). */
static int ev_cmp(const void *a, const void *b)
{
    const export_event *x = &((const struct ixev *)a)->e, *y = &((const struct ixev *)b)->e;
    int c = strcmp(x->lot, y->lot);
    if (c)
        return c;
    if (x->ms != y->ms)
        return x->ms < y->ms ? -1 : 1;
    if ((c = strcmp(x->source, y->source)))
        return c;
    return strcmp(x->key, y->key);
}

static int in_cmp(const void *a, const void *b)
{
    const struct by_input *x = a, *y = b;
    int c = strcmp(x->lot, y->lot);
    if (c)
        return c;
    return x->ev < y->ev ? -1 : x->ev > y->ev;
}

static cust_code index_sort(export_index *ix)
{
    size_t *where;
    if (ix->sorted)
        return CUST_OK;
    if (ix->n) {
        /* the input table names events by position: follow them through the sort */
        if (!(where = malloc(ix->n * sizeof *where)))
            return CUST_ENOMEM;
        qsort(ix->ev, ix->n, sizeof *ix->ev, ev_cmp);
        for (size_t i = 0; i < ix->n; i++)
            where[ix->ev[i].orig] = i;
        for (size_t i = 0; i < ix->n; i++)
            ix->ev[i].orig = i;
        for (size_t k = 0; k < ix->nin; k++)
            ix->in[k].ev = where[ix->in[k].ev];
        free(where);
    }
    if (ix->nin > 1)
        qsort(ix->in, ix->nin, sizeof *ix->in, in_cmp);
    ix->sorted = 1;
    return CUST_OK;
}

/* First event of lot, and how many. */
static size_t events_of(const export_index *ix, const char *lot, size_t *first)
{
    size_t lo = 0, hi = ix->n, n = 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(ix->ev[mid].e.lot, lot) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *first = lo;
    while (lo + n < ix->n && !strcmp(ix->ev[lo + n].e.lot, lot))
        n++;
    return n;
}

static size_t consumers_of(const export_index *ix, const char *lot, size_t *first)
{
    size_t lo = 0, hi = ix->nin, n = 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(ix->in[mid].lot, lot) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *first = lo;
    while (lo + n < ix->nin && !strcmp(ix->in[lo + n].lot, lot))
        n++;
    return n;
}

static int put_str(json_doc *d, json_value *o, const char *k, const char *v)
{
    json_value *s = json_new_string(d, v, strlen(v));
    return !s || json_object_put(d, o, k, strlen(k), s);
}

static json_value *event_json(json_doc *d, const export_event *ev)
{
    json_value *o = json_new_object(d, 10);
    const char *loc = !strcmp(ev->event_type, "receiving") ? ev->destination : ev->origin;
    if (!o || put_str(d, o, "event_type", ev->event_type) || put_str(d, o, "timestamp", ev->timestamp) ||
        put_str(d, o, "location", loc) || put_str(d, o, "origin", ev->origin) ||
        put_str(d, o, "destination", ev->destination) || put_str(d, o, "source", ev->source) ||
        put_str(d, o, "key", ev->key) || put_str(d, o, "version", ev->version) ||
        put_str(d, o, "content_hash", ev->content_hash))
        return NULL;
    return o;
}

struct trace {
    export_index *ix;
    json_doc *d;
    const char **seen; /* lots expanded so far (the visited set) */
    size_t nseen, capseen, max_nodes;
    export_lot_loader load; /* NULL: the index holds every event already */
    void *load_ctx;
    int root_loaded;
    cust_code rc; /* what failed when a node is NULL */
};

static int seen_add(struct trace *t, const char *lot)
{
    for (size_t i = 0; i < t->nseen; i++)
        if (!strcmp(t->seen[i], lot))
            return 1;
    if (t->nseen == t->capseen) {
        size_t nc = t->capseen ? t->capseen * 2 : 32;
        const char **p = realloc(t->seen, nc * sizeof *p);
        if (!p)
            return -1;
        t->seen = p;
        t->capseen = nc;
    }
    t->seen[t->nseen++] = lot;
    return 0;
}

/* The node of lot; recursion depth is bounded by max_nodes (each level
 * expands a lot not seen before). */
static json_value *lot_node(struct trace *t, const char *lot)
{
    json_value *node = json_new_object(t->d, 4), *events, *outputs, *ls;
    size_t first, n, cfirst, nc;
    int s;
    if (!node || !(ls = json_new_string(t->d, lot, strlen(lot))) || json_object_put(t->d, node, "lot", 3, ls))
        return NULL;
    if ((s = seen_add(t, lot)) < 0)
        return NULL;
    if (s == 1 || t->nseen > t->max_nodes) {
        json_value *tv = json_new_bool(t->d, 1);
        if (!tv || json_object_put(t->d, node, s == 1 ? "seen" : "truncated", s == 1 ? 4 : 9, tv))
            return NULL;
        return node;
    }
    if (!(events = json_new_array(t->d, 8)) || !(outputs = json_new_array(t->d, 4)))
        return NULL;
    if (t->load && !t->root_loaded) {
        /* this lot's events and consumers join the index (and re-sort it:
         * no position into it is held across this point) */
        if ((t->rc = t->load(t->load_ctx, t->ix, lot)) || (t->rc = index_sort(t->ix)))
            return NULL;
    }
    t->root_loaded = 0;
    n = events_of(t->ix, lot, &first);
    for (size_t i = first; i < first + n; i++) {
        const export_event *ev = &t->ix->ev[i].e;
        json_value *ej;
        int nested = 0;
        if (!strcmp(ev->event_type, "receiving")) {
            /* shown under its shipping when one of this lot went there */
            for (size_t k = first; k < first + n; k++)
                if (!strcmp(t->ix->ev[k].e.event_type, "shipping") && !strcmp(t->ix->ev[k].e.destination, ev->destination))
                    nested = 1;
        }
        if (nested)
            continue;
        if (!(ej = event_json(t->d, ev)))
            return NULL;
        if (!strcmp(ev->event_type, "shipping")) {
            json_value *rec = json_new_array(t->d, 2);
            if (!rec)
                return NULL;
            for (size_t k = first; k < first + n; k++) {
                const export_event *r = &t->ix->ev[k].e;
                json_value *rj;
                if (strcmp(r->event_type, "receiving") || strcmp(r->destination, ev->destination))
                    continue;
                if (!(rj = event_json(t->d, r)) || json_array_push(t->d, rec, rj))
                    return NULL;
            }
            if (json_object_put(t->d, ej, "received", 8, rec))
                return NULL;
        }
        if (json_array_push(t->d, events, ej))
            return NULL;
    }
    nc = consumers_of(t->ix, lot, &cfirst);
    if (nc) {
        /* the consumers first, then their subtrees: a subtree may load
         * more events and re-sort the index under these positions */
        json_value **via = malloc(nc * sizeof *via);
        const char **outlot = malloc(nc * sizeof *outlot);
        int ok = via && outlot;
        for (size_t i = 0; ok && i < nc; i++) {
            const export_event *ev = &t->ix->ev[t->ix->in[cfirst + i].ev].e;
            outlot[i] = ev->lot; /* strings live in the index's doc: they do not move */
            ok = (via[i] = event_json(t->d, ev)) != NULL;
        }
        for (size_t i = 0; ok && i < nc; i++) {
            json_value *out = lot_node(t, outlot[i]);
            ok = out && !json_object_put(t->d, out, "via", 3, via[i]) && !json_array_push(t->d, outputs, out);
        }
        free(via);
        free(outlot);
        if (!ok)
            return NULL;
    }
    if (json_object_put(t->d, node, "events", 6, events) || json_object_put(t->d, node, "outputs", 7, outputs))
        return NULL;
    return node;
}

json_value *export_trace_lazy(export_index *ix, const char *lot, size_t max_nodes, export_lot_loader load,
                              void *ctx, json_doc *doc, size_t *found, cust_code *rc)
{
    struct trace t = {.ix = ix, .d = doc, .max_nodes = max_nodes ? max_nodes : 5000, .load = load, .load_ctx = ctx};
    json_value *root = NULL;
    size_t first;
    *found = 0;
    if (load && (t.rc = load(ctx, ix, lot)))
        goto out;
    t.root_loaded = load != NULL;
    if ((t.rc = index_sort(ix)))
        goto out;
    *found = events_of(ix, lot, &first);
    if (!(root = lot_node(&t, lot)) && !t.rc)
        t.rc = CUST_ENOMEM;
out:
    free(t.seen);
    if (rc)
        *rc = t.rc;
    return root;
}

json_value *export_trace(export_index *ix, const char *lot, size_t max_nodes, json_doc *doc, size_t *found)
{
    return export_trace_lazy(ix, lot, max_nodes, NULL, NULL, doc, found, NULL);
}

/* ---- rendering ---- */

static const char *sget(const json_value *o, const char *k)
{
    const json_value *v = json_get(o, k);
    return v && v->type == JSON_STRING ? v->u.str : "";
}

static cust_code event_line(buf *out, int depth, const json_value *e, const char *prefix)
{
    const char *type = sget(e, "event_type");
    cust_code rc = buf_addf(out, "%*s%s%s %s", depth * 2, "", prefix, type, sget(e, "timestamp"));
    if (!rc && !strcmp(type, "shipping"))
        rc = buf_addf(out, " from %s to %s", sget(e, "origin"), sget(e, "destination"));
    else if (!rc && !strcmp(type, "receiving"))
        rc = buf_addf(out, " at %s from %s", sget(e, "destination"), sget(e, "origin"));
    else if (!rc)
        rc = buf_addf(out, " at %s", sget(e, "location"));
    if (!rc)
        rc = buf_addf(out, "  [%s %s v%s %.12s]\n", sget(e, "source"), sget(e, "key"), sget(e, "version"),
                      sget(e, "content_hash"));
    return rc;
}

static cust_code text_node(buf *out, const json_value *node, int depth)
{
    const json_value *events = json_get(node, "events"), *outputs = json_get(node, "outputs");
    cust_code rc;
    if (json_get(node, "seen"))
        return buf_addf(out, "%*slot %s (shown above; not expanded again)\n", depth * 2, "", sget(node, "lot"));
    if (json_get(node, "truncated"))
        return buf_addf(out, "%*slot %s (not expanded: too many lots)\n", depth * 2, "", sget(node, "lot"));
    if ((rc = buf_addf(out, "%*slot %s\n", depth * 2, "", sget(node, "lot"))))
        return rc;
    for (size_t i = 0; events && i < events->len; i++) {
        const json_value *e = events->u.items[i], *rec = json_get(e, "received");
        if ((rc = event_line(out, depth + 1, e, "")))
            return rc;
        for (size_t k = 0; rec && k < rec->len; k++)
            if ((rc = event_line(out, depth + 2, rec->u.items[k], "-> ")))
                return rc;
    }
    for (size_t i = 0; outputs && i < outputs->len; i++) {
        const json_value *o = outputs->u.items[i];
        if ((rc = event_line(out, depth + 1, json_get(o, "via"), "=> input to ")) ||
            (rc = text_node(out, o, depth + 2)))
            return rc;
    }
    return CUST_OK;
}

cust_code export_trace_text(const json_value *tree, buf *out) { return text_node(out, tree, 0); }

static cust_code dot_id(buf *out, const char *s)
{
    return json_write_string(out, s, strlen(s)); /* a JSON string is a valid dot ID */
}

/* An event's node id: its source and key (keys are unique per source). */
static const char *ev_id(const json_value *e, char *id, size_t n)
{
    snprintf(id, n, "%s %s", sget(e, "source"), sget(e, "key"));
    return id;
}

static cust_code dot_event(buf *out, const json_value *e)
{
    char id[1024];
    cust_code rc = buf_adds(out, "  ");
    const char *type = sget(e, "event_type");
    char label[1024];
    if (!strcmp(type, "shipping"))
        snprintf(label, sizeof label, "%s\n%s\n%s -> %s", type, sget(e, "timestamp"), sget(e, "origin"),
                 sget(e, "destination"));
    else
        snprintf(label, sizeof label, "%s\n%s\nat %s", type, sget(e, "timestamp"), sget(e, "location"));
    if (!rc)
        rc = dot_id(out, ev_id(e, id, sizeof id));
    if (!rc)
        rc = buf_adds(out, " [shape=ellipse, label=");
    if (!rc)
        rc = dot_id(out, label);
    if (!rc)
        rc = buf_adds(out, "];\n");
    return rc;
}

static cust_code dot_edge(buf *out, const char *a, const char *b, const char *label)
{
    cust_code rc = buf_adds(out, "  ");
    if (!rc)
        rc = dot_id(out, a);
    if (!rc)
        rc = buf_adds(out, " -> ");
    if (!rc)
        rc = dot_id(out, b);
    if (!rc && label)
        rc = buf_addf(out, " [label=\"%s\"]", label);
    if (!rc)
        rc = buf_adds(out, ";\n");
    return rc;
}

static cust_code dot_node(buf *out, const json_value *node)
{
    const json_value *events = json_get(node, "events"), *outputs = json_get(node, "outputs");
    const char *lot = sget(node, "lot");
    char id[600], a[1024], b[1024];
    cust_code rc;
    snprintf(id, sizeof id, "lot %s", lot);
    if (json_get(node, "seen"))
        return CUST_OK; /* drawn where it was first expanded */
    if ((rc = buf_adds(out, "  ")) || (rc = dot_id(out, id)) || (rc = buf_adds(out, " [shape=box, label=")) ||
        (rc = dot_id(out, lot)) || (rc = buf_adds(out, "];\n")))
        return rc;
    for (size_t i = 0; events && i < events->len; i++) {
        const json_value *e = events->u.items[i], *rec = json_get(e, "received");
        if ((rc = dot_event(out, e)) || (rc = dot_edge(out, id, ev_id(e, a, sizeof a), NULL)))
            return rc;
        for (size_t k = 0; rec && k < rec->len; k++)
            if ((rc = dot_event(out, rec->u.items[k])) ||
                (rc = dot_edge(out, a, ev_id(rec->u.items[k], b, sizeof b), "received")))
                return rc;
    }
    for (size_t i = 0; outputs && i < outputs->len; i++) {
        const json_value *o = outputs->u.items[i], *via = json_get(o, "via");
        char oid[600];
        snprintf(oid, sizeof oid, "lot %s", sget(o, "lot"));
        if ((rc = dot_event(out, via)) || (rc = dot_edge(out, id, ev_id(via, a, sizeof a), "input")) ||
            (rc = dot_edge(out, a, oid, "output")) || (rc = dot_node(out, o)))
            return rc;
    }
    return CUST_OK;
}

cust_code export_trace_dot(const json_value *tree, buf *out)
{
    cust_code rc = buf_adds(out, "digraph custody_trace {\n  rankdir=LR;\n");
    if (!rc)
        rc = dot_node(out, tree);
    if (!rc)
        rc = buf_adds(out, "}\n");
    return rc;
}
