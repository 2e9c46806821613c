/* export.c - `custody export SOURCE [--format csv|jsonl|fsma204] ...`: stored
 * records as CSV, JSONL or the FDA FSMA 204 sortable spreadsheet, written
 * atomically to -o FILE (or stdout). fsma204 with --lot reads the lots from
 * the store's lot index when the source keeps one (index:), else every
 * record; the rows are the same. The pure parts are in engine/export.c. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/timefmt.h"
#include "engine/export.h"
#include "engine/recindex.h"

#define EXPORT_MAX_BYTES ((size_t)1 << 32) /* one export held in memory */
#define NOTES_MAX_LISTED 10000             /* neutralised cells named one by one */

enum { FMT_CSV, FMT_JSONL, FMT_FSMA };

struct ctx {
    int format, history;
    const contract *ct;
    int64_t from_ms, to_ms; /* inclusive; INT64_MIN / INT64_MAX when unset */
    const char **lots;
    size_t nlots;
    json_doc *doc;   /* per row (csv/jsonl) or for every row (fsma) */
    buf out, notes;
    size_t rows, neutralised, skipped, listed;
    export_fsma_row *frows;
    size_t nf, capf;
    cust_code rc;
    struct err e;
};

/* A UTC date (YYYY-MM-DD) or an RFC 3339 instant; a date as --to means the
 * whole day. Returns 1 when parsed. */
static int parse_bound(const char *arg, int is_to, int64_t *ms)
{
    char tmp[32];
    size_t n = strlen(arg);
    if (n == 10 && arg[4] == '-' && arg[7] == '-') {
        snprintf(tmp, sizeof tmp, "%sT00:00:00Z", arg);
        if (!timefmt_parse(TIME_ISO8601, tmp, strlen(tmp), ms))
            return 0;
        if (is_to)
            *ms += 86400000 - 1;
        return 1;
    }
    return timefmt_parse(TIME_ISO8601, arg, n, ms);
}

static int in_range(const struct ctx *c, const char *ts)
{
    int64_t ms;
    if (c->from_ms == INT64_MIN && c->to_ms == INT64_MAX)
        return 1;
    if (!timefmt_parse(TIME_ISO8601, ts, strlen(ts), &ms))
        return 0;
    return ms >= c->from_ms && ms <= c->to_ms;
}

static void note_cell(struct ctx *c, const char *column, const char *key, const char *version)
{
    c->neutralised++;
    if (c->listed >= NOTES_MAX_LISTED)
        return;
    c->listed++;
    /* row numbers count the header as row 1, as a spreadsheet shows them */
    if (!c->rc && (c->rc = buf_addf(&c->notes, "  row %zu (key %s, version %s): column %s\n", c->rows + 2, key,
                                    version, column)))
        err_set(&c->e, c->rc, "the notes file is too big");
}

/* One cell: neutralised when a spreadsheet would run it. */
static cust_code cell(struct ctx *c, field_type t, const char *s, size_t len, const char *column, const char *key,
                      const char *version)
{
    int risky = export_must_neutralise(t, s, len);
    if (risky)
        note_cell(c, column, key, version);
    return export_csv_field(&c->out, s, len, risky, NULL);
}

static cust_code csv_header(struct ctx *c)
{
    cust_code rc = buf_adds(&c->out, "key,version,fetched_at,content_hash");
    for (size_t i = 0; !rc && i < c->ct->nfields; i++)
        if (!(rc = buf_addc(&c->out, ',')))
            rc = export_csv_field(&c->out, c->ct->fields[i].name, strlen(c->ct->fields[i].name), 0, NULL);
    for (size_t i = 0; !rc && i < c->ct->ncomputed; i++)
        if (!(rc = buf_addc(&c->out, ',')))
            rc = export_csv_field(&c->out, c->ct->computed[i].name, strlen(c->ct->computed[i].name), 0, NULL);
    if (!rc)
        rc = buf_adds(&c->out, "\r\n");
    return rc;
}

static cust_code csv_row(struct ctx *c, const store_row *r, const json_value *rec)
{
    const char *key = r->cols[REC_KEY], *ver = r->cols[REC_VERSION];
    buf b;
    cust_code rc;
    buf_init(&b, (size_t)64 << 20);
    rc = cell(c, FT_STRING, key, r->lens[REC_KEY], "key", key, ver);
    if (!rc && !(rc = buf_addc(&c->out, ',')))
        rc = buf_add(&c->out, ver, r->lens[REC_VERSION]);
    if (!rc && !(rc = buf_addc(&c->out, ',')))
        rc = export_csv_field(&c->out, r->cols[REC_FETCHED_AT], r->lens[REC_FETCHED_AT], 0, NULL);
    if (!rc && !(rc = buf_addc(&c->out, ',')))
        rc = export_csv_field(&c->out, r->cols[REC_HASH], r->lens[REC_HASH], 0, NULL);
    for (size_t i = 0; !rc && i < c->ct->nfields + c->ct->ncomputed; i++) {
        int comp = i >= c->ct->nfields;
        const char *name = comp ? c->ct->computed[i - c->ct->nfields].name : c->ct->fields[i].name;
        field_type t = comp ? FT_STRING : c->ct->fields[i].type;
        buf_reset(&b);
        if (!(rc = buf_addc(&c->out, ',')) && !(rc = export_cell_text(rec ? json_get(rec, name) : NULL, &b)))
            rc = cell(c, t, buf_str(&b), b.len, name, key, ver);
    }
    if (!rc)
        rc = buf_adds(&c->out, "\r\n");
    buf_release(&b);
    return rc;
}

static cust_code jsonl_row(struct ctx *c, const store_row *r)
{
    cust_code rc = buf_adds(&c->out, "{\"key\":");
    if (!rc)
        rc = buf_add(&c->out, r->cols[REC_KEY], r->lens[REC_KEY]);
    if (!rc)
        rc = buf_addf(&c->out, ",\"version\":%s,\"fetched_at\":", r->cols[REC_VERSION]);
    if (!rc)
        rc = json_write_string(&c->out, r->cols[REC_FETCHED_AT], r->lens[REC_FETCHED_AT]);
    if (!rc)
        rc = buf_addf(&c->out, ",\"content_hash\":\"%s\",\"request_id\":", r->cols[REC_HASH]);
    if (!rc)
        rc = json_write_string(&c->out, r->cols[REC_REQUEST_ID] ? r->cols[REC_REQUEST_ID] : "",
                               r->cols[REC_REQUEST_ID] ? r->lens[REC_REQUEST_ID] : 0);
    if (!rc)
        rc = buf_adds(&c->out, ",\"record\":");
    if (!rc)
        rc = r->lens[REC_CANONICAL] ? buf_add(&c->out, r->cols[REC_CANONICAL], r->lens[REC_CANONICAL])
                                    : buf_adds(&c->out, "null,\"purged\":true");
    if (!rc)
        rc = buf_adds(&c->out, "}\n");
    return rc;
}

static int row_cb(void *ud, const store_row *r)
{
    struct ctx *c = ud;
    const json_value *rec = NULL;
    export_version ver = {r->cols[REC_SOURCE], r->cols[REC_KEY], r->cols[REC_VERSION], r->cols[REC_HASH],
                          r->cols[REC_FETCHED_AT], r->cols[REC_REQUEST_ID]};
    if (c->format != FMT_FSMA) {
        if (!in_range(c, r->cols[REC_FETCHED_AT]))
            return 0;
        json_doc_reset(c->doc);
    }
    if (r->lens[REC_CANONICAL]) {
        struct err pe = {0};
        rec = json_parse(c->doc, r->cols[REC_CANONICAL], r->lens[REC_CANONICAL], NULL, &pe);
        if (rec && rec->type == JSON_NULL) {
            rec = NULL; /* a snapshot's tombstone: the record was removed upstream */
        } else if (!rec || rec->type != JSON_OBJECT) {
            c->rc = err_set(&c->e, CUST_ESTORE, "stored record %s version %s is not a JSON object (%s); run "
                            "custody audit verify", r->cols[REC_KEY], r->cols[REC_VERSION], pe.msg);
            return 1;
        }
    }
    if (c->format == FMT_FSMA) {
        export_fsma_row fr;
        struct err fe = {0};
        cust_code rc;
        if (!rec) { /* purged or removed: nothing to report */
            c->skipped++;
            return 0;
        }
        rc = export_fsma_row_of(rec, &ver, &export_fsma_default_fields, c->doc, &fr, &fe);
        if (rc == CUST_EDATA) {
            fprintf(stderr, "custody: export: skipped: %s\n", fe.msg);
            c->skipped++;
            return 0;
        }
        if (rc) {
            c->e = fe;
            c->rc = rc;
            return 1;
        }
        if (fr.event_ms < c->from_ms || fr.event_ms > c->to_ms)
            return 0;
        if (c->nlots) {
            size_t i;
            for (i = 0; i < c->nlots && strcmp(c->lots[i], fr.cells[FSMA_LOT]); i++)
                ;
            if (i == c->nlots)
                return 0;
        }
        if (c->nf == c->capf) {
            size_t nc = c->capf ? c->capf * 2 : 1024;
            export_fsma_row *p = realloc(c->frows, nc * sizeof *p);
            if (!p) {
                c->rc = err_set(&c->e, CUST_ENOMEM, "out of memory collecting FSMA 204 rows");
                return 1;
            }
            c->frows = p;
            c->capf = nc;
        }
        c->frows[c->nf++] = fr;
        return 0;
    }
    if ((c->rc = c->format == FMT_CSV ? csv_row(c, r, rec) : jsonl_row(c, r))) {
        err_set(&c->e, c->rc, "the export is larger than %zu bytes; split it with --from/--to", EXPORT_MAX_BYTES);
        return 1;
    }
    c->rows++;
    return 0;
}

static cust_code fsma_write(struct ctx *c)
{
    cust_code rc = CUST_OK;
    export_fsma_sort(c->frows, c->nf);
    for (int k = 0; !rc && k < FSMA_NCOLS; k++)
        if (!(rc = k ? buf_addc(&c->out, ',') : CUST_OK))
            rc = export_csv_field(&c->out, export_fsma_columns[k], strlen(export_fsma_columns[k]), 0, NULL);
    if (!rc)
        rc = buf_adds(&c->out, "\r\n");
    for (size_t i = 0; !rc && i < c->nf; i++) {
        const export_fsma_row *r = &c->frows[i];
        for (int k = 0; !rc && k < FSMA_NCOLS; k++) {
            const char *s = r->cells[k];
            if (k && (rc = buf_addc(&c->out, ',')))
                break;
            rc = cell(c, k == FSMA_QUANTITY && r->quantity_is_number ? FT_NUMBER : FT_STRING, s, strlen(s), export_fsma_columns[k],
                      r->cells[FSMA_CUSTODY_KEY], r->cells[FSMA_CUSTODY_VERSION]);
        }
        if (!rc)
            rc = buf_adds(&c->out, "\r\n");
        c->rows++;
    }
    return rc;
}

/* Write data to path atomically: path.tmp in the same directory, fsync,
 * rename, fsync the directory. Returns 0 or prints what failed and returns
 * the exit code (1). The file is unchanged after a failure. */
static int write_atomic(const char *path, const char *data, size_t len)
{
    char tmp[4096], dir[4096];
    const char *step = "create";
    int fd = -1, dfd = -1, er;
    size_t off = 0;
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        fprintf(stderr, "custody: export: output path too long: %s\n", path);
        return 2;
    }
    if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
        goto fail;
    step = "write";
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            goto fail;
        off += (size_t)w;
    }
    step = "fsync";
    if (fsync(fd) != 0)
        goto fail;
    step = "close";
    er = close(fd);
    fd = -1;
    if (er != 0)
        goto fail;
    step = "rename";
    if (rename(tmp, path) != 0)
        goto fail;
    snprintf(dir, sizeof dir, "%s", path);
    if ((dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
        if (fsync(dfd) != 0 && errno != EINVAL) {
            step = "fsync the directory of";
            close(dfd);
            er = errno;
            fprintf(stderr, "custody: export: cannot %s %s: %s; the file is written but may not survive a "
                            "crash: check the disk\n", step, path, strerror(er));
            return 1;
        }
        close(dfd);
    }
    return 0;
fail:
    er = errno;
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    fprintf(stderr, "custody: export: cannot %s %s: %s; %s (%s is unchanged)\n", step, tmp, strerror(er),
            er == ENOSPC   ? "free disk space and rerun"
            : er == EACCES ? "check the directory's permissions"
            : er == ENOENT ? "create the directory first"
                           : "check the path and the disk",
            path);
    return 1;
}

static int emit(const char *path, const char *suffix, const char *data, size_t len)
{
    char p[4096];
    if (snprintf(p, sizeof p, "%s%s", path, suffix) >= (int)sizeof p) {
        fprintf(stderr, "custody: export: output path too long: %s\n", path);
        return 2;
    }
    return write_atomic(p, data, len);
}

static cust_code glossary(buf *g, const char *source)
{
    cust_code rc = buf_addf(g, "FSMA 204 electronic sortable spreadsheet: what each column means\n"
                               "Exported by custody from source %s. One row per critical tracking event, "
                               "sorted by event date and time, then traceability lot code.\n\n", source);
    for (int k = 0; !rc && k < FSMA_NCOLS; k++)
        rc = buf_addf(g, "%s\n    %s\n", export_fsma_columns[k], export_fsma_glossary[k]);
    if (!rc)
        rc = buf_adds(g, "\nCells a spreadsheet would read as formulas (beginning with = + - @ TAB or CR) carry a "
                         "leading single quote; see the .notes.txt file when there is one.\n");
    return rc;
}

int cmd_export(cli *cl, int argc, char **argv)
{
    static const char *const flags[] = {"--history", "--format", "--from", "--to", "--lot", "-o", "--output",
                                        "--scan", NULL};
    config *cfg = NULL;
    store *st = NULL;
    const source_cfg *src;
    const char *source = NULL, *fmt = "csv", *from = NULL, *to = NULL, *path = NULL;
    struct ctx c = {0};
    int rc = 0, scan = 0, use_index = 0, n = cmd_parse_common(cl, "export", argc, argv, flags);
    buf g;
    buf_init(&g, (size_t)1 << 20);
    buf_init(&c.out, EXPORT_MAX_BYTES);
    buf_init(&c.notes, (size_t)64 << 20);
    c.from_ms = INT64_MIN;
    c.to_ms = INT64_MAX;
    if (n < 0)
        return 2;
    if (cmd_take_value(&n, argv, "--format", &fmt) || cmd_take_value(&n, argv, "--from", &from) ||
        cmd_take_value(&n, argv, "--to", &to) || cmd_take_value(&n, argv, "-o", &path) ||
        cmd_take_value(&n, argv, "--output", &path))
        return cmd_usage("export", "%s needs a value", argv[n - 1]);
    if (!(c.lots = calloc((size_t)n, sizeof *c.lots)))
        return 3;
    for (int i = 1; i < n; i++) {
        if (!strcmp(argv[i], "--history"))
            c.history = 1;
        else if (!strcmp(argv[i], "--scan"))
            scan = 1;
        else if (!strcmp(argv[i], "--lot")) {
            if (i + 1 >= n || !argv[i + 1][0]) {
                rc = cmd_usage("export", "--lot needs a traceability lot code");
                goto out;
            }
            c.lots[c.nlots++] = argv[++i];
        } else if (!source)
            source = argv[i];
        else {
            rc = cmd_usage("export", "unexpected argument \"%s\"", argv[i]);
            goto out;
        }
    }
    if (!source) {
        rc = cmd_usage("export", "name the source: custody export SOURCE [--format csv|jsonl|fsma204]");
        goto out;
    }
    if (!strcmp(fmt, "csv"))
        c.format = FMT_CSV;
    else if (!strcmp(fmt, "jsonl"))
        c.format = FMT_JSONL;
    else if (!strcmp(fmt, "fsma204"))
        c.format = FMT_FSMA;
    else {
        rc = cmd_usage("export", "--format %s: use csv, jsonl or fsma204", fmt);
        goto out;
    }
    if (c.format == FMT_FSMA && c.history) {
        rc = cmd_usage("export", "--history is for csv and jsonl; the FSMA 204 spreadsheet lists current "
                                 "versions (one row per event)");
        goto out;
    }
    if (c.format != FMT_FSMA && c.nlots) {
        rc = cmd_usage("export", "--lot is for --format fsma204");
        goto out;
    }
    if (from && !parse_bound(from, 0, &c.from_ms)) {
        rc = cmd_usage("export", "--from %s: give a UTC date (2026-03-01) or an RFC 3339 time "
                                 "(2026-03-01T08:00:00Z)", from);
        goto out;
    }
    if (to && !parse_bound(to, 1, &c.to_ms)) {
        rc = cmd_usage("export", "--to %s: give a UTC date (2026-03-31) or an RFC 3339 time "
                                 "(2026-03-31T23:59:59Z)", to);
        goto out;
    }
    if (c.from_ms > c.to_ms) {
        rc = cmd_usage("export", "--from %s is after --to %s", from, to);
        goto out;
    }
    if ((rc = cmd_load_config(cl, &cfg)))
        goto out;
    if (!(src = config_source(cfg, source))) {
        fprintf(stderr, "custody: export: no source named \"%s\" in %s; custody check lists them\n", source,
                cfg->path);
        rc = 2;
        goto out;
    }
    if (!(c.ct = src->contract)) {
        fprintf(stderr, "custody: export: source \"%s\" in %s has no contract: the CSV columns come from it\n",
                source, cfg->path);
        rc = 2;
        goto out;
    }
    if (!(c.doc = json_doc_new())) {
        rc = 3;
        goto out;
    }
    if ((rc = cmd_open_store(cfg, &st)))
        goto out;
    {
        /* one consistent view of records and index while pollers commit */
        struct err se = {0};
        if (st->ops->snapshot && st->ops->snapshot(st, 1, &se)) {
            rc = cmd_fail(&se);
            goto out;
        }
    }
    if (c.format == FMT_CSV && (c.rc = csv_header(&c)))
        err_set(&c.e, c.rc, "out of memory");
    if (!c.rc && c.format == FMT_FSMA && c.nlots && !scan) {
        /* the lots from the lot index: only their records are read */
        const char *lotf = export_fsma_default_fields.lot;
        if ((use_index = recindex_ready(st, src, lotf, &c.e)) < 0)
            c.rc = c.e.code ? c.e.code : CUST_ESTORE;
        else if (!use_index && !cl->quiet)
            for (size_t i = 0; i < src->nindex; i++)
                if (!strcmp(src->index[i], lotf) && recindex_has_records(st, source, &c.e) == 1)
                    fprintf(stderr, "custody: export: source %s declares index: [%s] but its index does not "
                                    "cover every stored record; reading every record instead (custody index "
                                    "rebuild %s completes it)\n", source, lotf, source);
    }
    for (size_t i = 0; use_index && !c.rc && i < c.nlots; i++) {
        size_t k;
        for (k = 0; k < i && strcmp(c.lots[k], c.lots[i]); k++)
            ;
        if (k < i)
            continue; /* a lot named twice is read once, as the scan does */
        if (st->ops->index_lookup(st, source, export_fsma_default_fields.lot, c.lots[i], 0, row_cb, &c, &c.e) &&
            !c.rc)
            c.rc = c.e.code ? c.e.code : CUST_ESTORE;
    }
    if (!c.rc && !use_index && st->ops->records_list(st, source, NULL, c.history, row_cb, &c, &c.e) && !c.rc)
        c.rc = c.e.code ? c.e.code : CUST_ESTORE;
    if (!c.rc && c.format == FMT_FSMA && (c.rc = fsma_write(&c)))
        err_set(&c.e, c.rc, "the export is larger than %zu bytes; split it with --from/--to or --lot",
                EXPORT_MAX_BYTES);
    if (c.rc) {
        fprintf(stderr, "custody: export: %s\n", c.e.msg[0] ? c.e.msg : cust_strerror(c.rc));
        rc = err_exit_code(c.rc);
        goto out;
    }
    if (c.neutralised) {
        buf head;
        buf_init(&head, (size_t)80 << 20);
        if (buf_addf(&head,
                     "custody export of source %s: cells changed to protect spreadsheets\n\n"
                     "%zu cell(s) began with = + - @ TAB or CR. Spreadsheet programs (Excel, LibreOffice, "
                     "Google Sheets) may run such a cell as a formula when the file is opened: spreadsheet "
                     "formula injection (CSV injection, CWE-1236). custody put a single quote (') in front of "
                     "each of them in %s, so the spreadsheet shows it as text. Remove that first quote to get "
                     "the value as stored; the stored records are unchanged (custody records, custody audit "
                     "prove). Numbers in fields the contract types as number, integer or decimal (such as -5) "
                     "are data and were not changed.\n\nChanged cells (rows count the header as row 1):\n%s",
                     source, c.neutralised, path ? path : "the output", buf_str(&c.notes)) ||
            (c.listed < c.neutralised &&
             buf_addf(&head, "  ... and %zu more\n", c.neutralised - c.listed))) {
            buf_release(&head);
            fprintf(stderr, "custody: export: out of memory writing the notes\n");
            rc = 1;
            goto out;
        }
        if (path)
            rc = emit(path, ".notes.txt", head.ptr, head.len);
        else
            fprintf(stderr, "custody: export: %zu cell(s) neutralised against spreadsheet formula injection "
                            "(a leading '); with -o FILE the list is written to FILE.notes.txt\n",
                    c.neutralised);
        buf_release(&head);
        if (rc)
            goto out;
    } else if (path) {
        /* a notes file from an earlier export of the same name would now be wrong */
        char p[4096];
        if (snprintf(p, sizeof p, "%s.notes.txt", path) < (int)sizeof p)
            (void)unlink(p);
    }
    if (c.format == FMT_FSMA) {
        if (glossary(&g, source)) {
            rc = 1;
            goto out;
        }
        if (path && (rc = emit(path, ".glossary.txt", g.ptr, g.len)))
            goto out;
    }
    if (path) {
        if ((rc = write_atomic(path, c.out.ptr ? c.out.ptr : "", c.out.len)))
            goto out;
        if (!cl->quiet)
            fprintf(stderr, "custody: export: %zu row(s) of %s written to %s%s%s%s\n", c.rows, source, path,
                    c.neutralised ? " (see " : "", c.neutralised ? path : "",
                    c.neutralised ? ".notes.txt)" : "");
    } else {
        if (c.out.len && fwrite(c.out.ptr, 1, c.out.len, stdout) != c.out.len) {
            fprintf(stderr, "custody: export: cannot write to stdout: %s\n", strerror(errno));
            rc = 1;
        }
        if (fflush(stdout) != 0)
            rc = 1;
    }
    if (c.skipped && !cl->quiet)
        fprintf(stderr, "custody: export: %zu record(s) skipped (purged, or without a lot code or event time)\n",
                c.skipped);
out:
    free(c.lots);
    free(c.frows);
    json_doc_free(c.doc);
    buf_release(&c.out);
    buf_release(&c.notes);
    buf_release(&g);
    store_close(st);
    config_free(cfg);
    return rc;
}
