/* store_pg.c - the shared store: one PostgreSQL database many workers on
 * many machines write to, behind the same operations and with the same
 * semantics as store_sqlite.c (same tables, same append-only triggers and
 * messages, same audit leaves).
 *
 * What differs, and why:
 * - Audit entries are numbered at COMMIT, not when appended. The log is one
 *   sequence: every writer must append to it in turn, so the frontier row
 *   is locked (SELECT ... FOR UPDATE) only while the transaction commits,
 *   not while a worker fetches its next pages. Until then entries wait in
 *   memory (savepoints mark and cut that list). audit_append's *seq is 0.
 * - Leases: a source is polled by the worker holding its lease (leases
 *   table: owner, expiry, fencing epoch). Expiry is the database server's
 *   clock, so workers' clocks do not matter. A worker proves its lease in
 *   the transaction it commits (lease_fence); one paused past its expiry is
 *   refused, whoever holds the lease now.
 * - Migrations run under a transaction-scoped advisory lock, so workers
 *   starting together do not race on DDL.
 *
 * Lists use binary results with every number cast to text: text columns
 * arrive as their bytes and the raw bytes of a rejection (bytea) unchanged.
 * libpq ends every value with a NUL byte. */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libpq-fe.h>

#include "sign.h"
#include "core/failpoint.h"
#include "core/json.h"
#include "core/merkle.h"

/* Schema migrations, applied in order; meta.schema_version is the number
 * applied. Never edit a shipped step: add one. */
static const char *const migrations[] = {
    /* 1: the tables of store_sqlite.c's schema 2, plus leases */
    "CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS sources(name TEXT PRIMARY KEY, cursor TEXT, last_poll_at TEXT,"
    " last_result TEXT, updated_at TEXT);"
    "CREATE TABLE IF NOT EXISTS records(id BIGSERIAL PRIMARY KEY, source TEXT NOT NULL,"
    " key TEXT NOT NULL, version BIGINT NOT NULL CHECK(version >= 1), content_hash TEXT NOT NULL,"
    " canonical TEXT NOT NULL, raw_hash TEXT NOT NULL, fetched_at TEXT NOT NULL,"
    " request_id TEXT NOT NULL, cycle_id TEXT NOT NULL, config_hash TEXT NOT NULL, contract_hash TEXT,"
    " UNIQUE(source, key, version));"
    "CREATE TABLE IF NOT EXISTS quarantine(id BIGSERIAL PRIMARY KEY, source TEXT NOT NULL,"
    " recon_key TEXT NOT NULL, raw BYTEA NOT NULL, errors TEXT NOT NULL, first_seen TEXT NOT NULL,"
    " last_seen TEXT NOT NULL, times_seen BIGINT NOT NULL, status TEXT NOT NULL,"
    " request_id TEXT, cycle_id TEXT, resolved_by TEXT, resolved_at TEXT, resolved_why TEXT, contract_hash TEXT,"
    " UNIQUE(source, recon_key));"
    "CREATE TABLE IF NOT EXISTS audit(seq BIGINT PRIMARY KEY, time TEXT NOT NULL,"
    " actor TEXT NOT NULL, action TEXT NOT NULL, source TEXT NOT NULL, subject TEXT NOT NULL,"
    " detail TEXT NOT NULL, cycle_id TEXT NOT NULL, leaf_hash TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS checkpoints(tree_size BIGINT PRIMARY KEY, root TEXT NOT NULL,"
    " time TEXT NOT NULL, signature TEXT);"
    "CREATE TABLE IF NOT EXISTS audit_frontier(level INTEGER PRIMARY KEY, hash TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS source_kv(source TEXT NOT NULL, k TEXT NOT NULL, v TEXT NOT NULL,"
    " PRIMARY KEY(source, k));"
    "CREATE TABLE IF NOT EXISTS purged(record_id BIGINT PRIMARY KEY, source TEXT NOT NULL,"
    " key TEXT NOT NULL, version BIGINT NOT NULL, purged_at TEXT NOT NULL, actor TEXT NOT NULL,"
    " rule TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS webhook_seen(source TEXT NOT NULL, id TEXT NOT NULL, received_at TEXT NOT NULL,"
    " PRIMARY KEY(source, id));"
    "CREATE TABLE IF NOT EXISTS webhook_holds(seq BIGSERIAL PRIMARY KEY, source TEXT NOT NULL, key TEXT NOT NULL,"
    " webhook_id TEXT NOT NULL, payload TEXT NOT NULL, received_at TEXT NOT NULL, expires_at TEXT NOT NULL,"
    " status TEXT NOT NULL DEFAULT 'held', settled_at TEXT);"
    "CREATE INDEX IF NOT EXISTS webhook_holds_key ON webhook_holds(source, key) WHERE status = 'held';"
    "CREATE TABLE IF NOT EXISTS holds(id BIGSERIAL PRIMARY KEY, source TEXT NOT NULL, key TEXT,"
    " reason TEXT NOT NULL, actor TEXT NOT NULL, created_at TEXT NOT NULL, released_at TEXT,"
    " released_by TEXT, release_reason TEXT);"
    "CREATE TABLE IF NOT EXISTS leases(source TEXT PRIMARY KEY, owner TEXT NOT NULL,"
    " epoch BIGINT NOT NULL, expires_at TIMESTAMPTZ NOT NULL);"
    /* append-only, with SQLite's messages */
    "CREATE OR REPLACE FUNCTION custody_refuse() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN RAISE EXCEPTION '%', TG_ARGV[0]; END $$;"
    /* the one update a record may see: the audited retention purge */
    "CREATE OR REPLACE FUNCTION custody_records_update() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    " IF NEW.canonical = '' AND OLD.canonical <> '' AND EXISTS(SELECT 1 FROM purged WHERE record_id = OLD.id)"
    "  AND NEW.id IS NOT DISTINCT FROM OLD.id AND NEW.source IS NOT DISTINCT FROM OLD.source"
    "  AND NEW.key IS NOT DISTINCT FROM OLD.key AND NEW.version IS NOT DISTINCT FROM OLD.version"
    "  AND NEW.content_hash IS NOT DISTINCT FROM OLD.content_hash AND NEW.raw_hash IS NOT DISTINCT FROM OLD.raw_hash"
    "  AND NEW.fetched_at IS NOT DISTINCT FROM OLD.fetched_at AND NEW.request_id IS NOT DISTINCT FROM OLD.request_id"
    "  AND NEW.cycle_id IS NOT DISTINCT FROM OLD.cycle_id AND NEW.config_hash IS NOT DISTINCT FROM OLD.config_hash"
    "  AND NEW.contract_hash IS NOT DISTINCT FROM OLD.contract_hash THEN RETURN NEW; END IF;"
    " RAISE EXCEPTION 'custody: records are append-only: a change is a new version'; END $$;"
    "CREATE TRIGGER records_no_update BEFORE UPDATE ON records FOR EACH ROW EXECUTE FUNCTION custody_records_update();"
    "CREATE TRIGGER records_no_delete BEFORE DELETE ON records FOR EACH ROW EXECUTE FUNCTION"
    " custody_refuse('custody: records are append-only: use the audited retention purge');"
    "CREATE TRIGGER audit_no_update BEFORE UPDATE OR DELETE ON audit FOR EACH ROW EXECUTE FUNCTION"
    " custody_refuse('custody: the audit log is append-only');"
    "CREATE TRIGGER checkpoints_no_update BEFORE UPDATE OR DELETE ON checkpoints FOR EACH ROW EXECUTE FUNCTION"
    " custody_refuse('custody: checkpoints are append-only');"
    "CREATE TRIGGER purged_no_update BEFORE UPDATE OR DELETE ON purged FOR EACH ROW EXECUTE FUNCTION"
    " custody_refuse('custody: purge records are append-only');"
    "CREATE TRIGGER holds_no_delete BEFORE DELETE ON holds FOR EACH ROW EXECUTE FUNCTION"
    " custody_refuse('custody: legal holds are released, never deleted');"
    /* TRUNCATE fires no row trigger */
    "CREATE TRIGGER records_no_truncate BEFORE TRUNCATE ON records FOR EACH STATEMENT EXECUTE FUNCTION"
    " custody_refuse('custody: records are append-only: use the audited retention purge');"
    "CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit FOR EACH STATEMENT EXECUTE FUNCTION"
    " custody_refuse('custody: the audit log is append-only');"
    "CREATE TRIGGER checkpoints_no_truncate BEFORE TRUNCATE ON checkpoints FOR EACH STATEMENT EXECUTE FUNCTION"
    " custody_refuse('custody: checkpoints are append-only');"
    "CREATE TRIGGER purged_no_truncate BEFORE TRUNCATE ON purged FOR EACH STATEMENT EXECUTE FUNCTION"
    " custody_refuse('custody: purge records are append-only');"
    "CREATE TRIGGER holds_no_truncate BEFORE TRUNCATE ON holds FOR EACH STATEMENT EXECUTE FUNCTION"
    " custody_refuse('custody: legal holds are released, never deleted');"
    "INSERT INTO meta(k, v) VALUES('frontier_size', '0') ON CONFLICT DO NOTHING;",
    /* 2: the secondary index (store.h index_put): derived from the records,
     * so not append-only; byte order ("C") like SQLite's */
    "CREATE TABLE IF NOT EXISTS record_index(field TEXT COLLATE \"C\" NOT NULL, value TEXT COLLATE \"C\" NOT NULL,"
    " record_id BIGINT NOT NULL, PRIMARY KEY(field, value, record_id));",
};
#define NMIGRATIONS ((int)(sizeof migrations / sizeof *migrations))
/* pg_advisory_xact_lock key for migrations ("cust" "ody\0") */
#define MIGRATE_LOCK "7311778371633848320"

/* An audit entry waiting for its number (owned copies). */
struct pend {
    char *f[7]; /* time, actor, action, source, subject, detail, cycle_id */
    int ckp;    /* a checkpoint here instead (f[0]: its time, key: its signer) */
    const struct sign_key *key;
};

typedef struct pg_store {
    struct store base;
    PGconn *c;
    char where[256];  /* host/port/db for messages: never the password */
    int in_tx;
    int front_broken;
    merkle_frontier front;
    struct pend *q;   /* audit entries of the open transaction, in order */
    size_t nq, capq;
    size_t sp_mark;   /* nq at the savepoint */
    int in_sp;        /* inside a savepoint unit */
    int64_t idle_ms;  /* idle_in_transaction_session_timeout set (0: server default) */
    buf entry;
} pg_store;

static cust_code fp_err(pg_store *s, struct err *e, const char *name)
{
    return err_set(e, CUST_ESTORE, "store %s: failpoint %s fired (CUSTODY_FAILPOINT)", s->where, name);
}
#define FAILPOINT(s, e, name) (CUST_FAILPOINT(name) ? fp_err((s), (e), (name)) : CUST_OK)

/* libpq's multi-line message as one line: trailing blanks cut, newlines
 * and tabs made spaces. */
static void one_line(char *msg)
{
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\t')
            *p = ' ';
}

/* The server's message, one line, with what to do for the usual causes. */
static cust_code pg_fail(pg_store *s, PGresult *r, struct err *e, const char *what)
{
    char msg[600];
    const char *m = r ? PQresultErrorMessage(r) : PQerrorMessage(s->c);
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *hint = "";
    snprintf(msg, sizeof msg, "%s", m && *m ? m : "no answer from the server");
    one_line(msg);
    if (PQstatus(s->c) != CONNECTION_OK)
        hint = "; the connection to PostgreSQL was lost: the open transaction was rolled back, rerun";
    else if (state && !strncmp(state, "53", 2))
        hint = "; the database server is out of resources (disk, memory, connections): fix it and rerun";
    else if (state && !strcmp(state, "40001"))
        hint = "; a concurrent writer won: rerun (nothing half-written is visible)";
    if (r)
        PQclear(r);
    return err_set(e, CUST_ESTORE, "store %s: %s: %s%s", s->where, what, msg, hint);
}

/* Run sql with text parameters (NULL entries are SQL NULL); the result
 * must be status want. Returns the result (caller PQclear) or NULL with e set. */
static PGresult *q(pg_store *s, struct err *e, const char *what, ExecStatusType want, const char *sql, int n,
                   const char *const *v)
{
    PGresult *r = PQexecParams(s->c, sql, n, NULL, v, NULL, NULL, 0);
    if (!r || PQresultStatus(r) != want) {
        pg_fail(s, r, e, what);
        return NULL;
    }
    return r;
}

static cust_code exec0(pg_store *s, struct err *e, const char *what, const char *sql, int n, const char *const *v)
{
    PGresult *r = q(s, e, what, PGRES_COMMAND_OK, sql, n, v);
    if (!r)
        return CUST_ESTORE;
    PQclear(r);
    return CUST_OK;
}

/* Rows affected by a command; -1 on failure (e set). */
static long exec_n(pg_store *s, struct err *e, const char *what, const char *sql, int n, const char *const *v)
{
    PGresult *r = q(s, e, what, PGRES_COMMAND_OK, sql, n, v);
    long k;
    if (!r)
        return -1;
    k = strtol(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return k;
}

/* Listing: rows in binary format (see the top of the file). */
static cust_code list(pg_store *s, struct err *e, const char *what, const char *sql, int n, const char *const *v,
                      store_row_cb cb, void *ctx)
{
    PGresult *r = PQexecParams(s->c, sql, n, NULL, v, NULL, NULL, 1);
    int rows, cols;
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK)
        return pg_fail(s, r, e, what);
    rows = PQntuples(r);
    cols = PQnfields(r);
    if (cols > 16)
        cols = 16;
    for (int i = 0; i < rows; i++) {
        store_row row;
        row.ncols = cols;
        for (int j = 0; j < cols; j++) {
            row.cols[j] = PQgetisnull(r, i, j) ? NULL : PQgetvalue(r, i, j);
            row.lens[j] = row.cols[j] ? (size_t)PQgetlength(r, i, j) : 0;
        }
        if (cb(ctx, &row))
            break;
    }
    PQclear(r);
    return CUST_OK;
}

static void pend_free(struct pend *p)
{
    for (int i = 0; i < 7; i++)
        free(p->f[i]);
}

/* Queue p (its strings now owned by the queue); on failure p is freed. */
static cust_code pend_push(pg_store *s, struct pend *p, struct err *e)
{
    if (s->nq == s->capq) {
        size_t cap = s->capq ? s->capq * 2 : 64;
        struct pend *nq = realloc(s->q, cap * sizeof *nq);
        if (!nq) {
            pend_free(p);
            return err_set(e, CUST_ENOMEM, "out of memory");
        }
        s->q = nq;
        s->capq = cap;
    }
    s->q[s->nq++] = *p;
    return CUST_OK;
}

static void pend_cut(pg_store *s, size_t to)
{
    while (s->nq > to)
        pend_free(&s->q[--s->nq]);
}

static void pg_close(store *base)
{
    pg_store *s = (pg_store *)base;
    if (!s)
        return;
    pend_cut(s, 0);
    free(s->q);
    if (s->c)
        PQfinish(s->c); /* an open transaction is rolled back by the server */
    buf_release(&s->entry);
    free(s);
}

/* The frontier as committed (call with the frontier row locked to use it
 * for appending). Rebuilt from the leaves when its size disagrees with the
 * log, as SQLite's backend does. */
static cust_code load_frontier(pg_store *s, merkle_frontier *f, struct err *e)
{
    PGresult *r;
    long long size, maxseq;
    int bits = 0;
    merkle_frontier_init(f);
    if (!(r = q(s, e, "reading the audit frontier", PGRES_TUPLES_OK,
                "SELECT (SELECT v FROM meta WHERE k='frontier_size'), (SELECT coalesce(max(seq),0) FROM audit)", 0,
                NULL)))
        return CUST_ESTORE;
    size = PQgetisnull(r, 0, 0) ? 0 : strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    maxseq = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
    PQclear(r);
    if (size != maxseq) {
        if (!(r = q(s, e, "rebuilding the audit frontier", PGRES_TUPLES_OK, "SELECT leaf_hash FROM audit ORDER BY seq",
                    0, NULL)))
            return CUST_ESTORE;
        for (int i = 0; i < PQntuples(r); i++) {
            unsigned char leaf[MERKLE_HASH];
            if (!merkle_unhex(PQgetvalue(r, i, 0), leaf)) {
                PQclear(r);
                return err_set(e, CUST_ESTORE, "store %s: audit leaf hash is malformed; run custody audit verify",
                               s->where);
            }
            merkle_frontier_push(f, leaf);
        }
        PQclear(r);
        return CUST_OK;
    }
    if (!(r = q(s, e, "reading the audit frontier", PGRES_TUPLES_OK,
                "SELECT hash FROM audit_frontier ORDER BY level", 0, NULL)))
        return CUST_ESTORE;
    for (int i = 0; i < PQntuples(r) && f->n < MERKLE_MAX_LEVELS; i++) {
        if (!merkle_unhex(PQgetvalue(r, i, 0), f->h[f->n])) {
            PQclear(r);
            return err_set(e, CUST_ESTORE, "store %s: audit frontier is malformed", s->where);
        }
        f->n++;
    }
    PQclear(r);
    f->size = (uint64_t)size;
    for (uint64_t v = f->size; v; v &= v - 1)
        bits++;
    if (bits != f->n)
        return err_set(e, CUST_ESTORE, "store %s: audit frontier does not match its size", s->where);
    return CUST_OK;
}

/* "host:port/db as user" for messages. */
static void describe(pg_store *s)
{
    const char *h = PQhost(s->c), *p = PQport(s->c), *d = PQdb(s->c), *u = PQuser(s->c);
    snprintf(s->where, sizeof s->where, "postgresql %s%s%s/%s (user %s)", h && *h ? h : "local",
             p && *p ? ":" : "", p && *p ? p : "", d ? d : "?", u ? u : "?");
}

static cust_code session_setup(pg_store *s, struct err *e)
{
    PGresult *r = PQexec(s->c, "SET client_min_messages = warning; SET TIME ZONE 'UTC';"
                               "SET default_transaction_isolation = 'read committed'");
    if (!r || PQresultStatus(r) != PGRES_COMMAND_OK)
        return pg_fail(s, r, e, "setting up the session");
    PQclear(r);
    s->idle_ms = 0;
    return CUST_OK;
}

/* Between transactions, a lost connection (server restart, network, the
 * server ending an idle transaction) is made again. */
static cust_code reconnect(pg_store *s, struct err *e)
{
    if (PQstatus(s->c) == CONNECTION_OK || s->in_tx)
        return CUST_OK;
    PQreset(s->c);
    if (PQstatus(s->c) != CONNECTION_OK)
        return pg_fail(s, NULL, e, "reconnecting");
    return session_setup(s, e);
}

static cust_code migrate(pg_store *s, struct err *e)
{
    PGresult *r;
    int have = 0;
    char num[16];
    const char *v[1] = {num};
    /* under the lock, so concurrent workers see each other's DDL whole */
    if (exec0(s, e, "starting the schema check", "BEGIN", 0, NULL))
        return CUST_ESTORE;
    if (!(r = q(s, e, "locking the schema", PGRES_TUPLES_OK, "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK ")", 0,
                NULL)))
        goto undo;
    PQclear(r);
    if (!(r = q(s, e, "reading the schema", PGRES_TUPLES_OK, "SELECT to_regclass('meta') IS NOT NULL", 0, NULL)))
        goto undo;
    if (!strcmp(PQgetvalue(r, 0, 0), "t")) {
        PQclear(r);
        if (!(r = q(s, e, "reading the schema version", PGRES_TUPLES_OK,
                    "SELECT v FROM meta WHERE k='schema_version'", 0, NULL)))
            goto undo;
        if (PQntuples(r) == 1)
            have = (int)strtol(PQgetvalue(r, 0, 0), NULL, 10);
    }
    PQclear(r);
    if (have > NMIGRATIONS) {
        err_set(e, CUST_ESTORE, "store %s: schema version %d is newer than this custody's (%d): upgrade custody",
                s->where, have, NMIGRATIONS);
        goto undo;
    }
    for (int i = have; i < NMIGRATIONS; i++) {
        r = PQexec(s->c, migrations[i]);
        if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
            pg_fail(s, r, e, "migrating the schema");
            err_prefix(e, "step %d: ", i + 1);
            goto undo;
        }
        PQclear(r);
    }
    snprintf(num, sizeof num, "%d", NMIGRATIONS);
    if (exec0(s, e, "recording the schema version",
              "INSERT INTO meta(k, v) VALUES('schema_version', $1) ON CONFLICT(k) DO UPDATE SET v = excluded.v", 1, v))
        goto undo;
    return exec0(s, e, "committing the schema", "COMMIT", 0, NULL);
undo:
    PQclear(PQexec(s->c, "ROLLBACK"));
    return CUST_ESTORE;
}

static cust_code pg_open(const char *location, unsigned flags, store **out, struct err *e)
{
    pg_store *s = calloc(1, sizeof *s);
    char conninfo[4096];
    cust_code rc;
    *out = NULL;
    if (!s)
        return err_set(e, CUST_ENOMEM, "out of memory");
    s->base.ops = &store_pg_ops;
    buf_init(&s->entry, 64u << 20);
    /* location is what follows "postgresql:": "//host/db?..." is a URI,
     * anything else a keyword/value string ("" for the PG* environment) */
    if (!strncmp(location, "//", 2))
        snprintf(conninfo, sizeof conninfo, "postgresql:%s", location);
    else
        snprintf(conninfo, sizeof conninfo, "%s", location);
    s->c = PQconnectdb(conninfo);
    snprintf(s->where, sizeof s->where, "postgresql");
    if (!s->c) {
        free(s);
        return err_set(e, CUST_ENOMEM, "out of memory");
    }
    if (PQstatus(s->c) != CONNECTION_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", PQerrorMessage(s->c));
        one_line(msg);
        rc = err_set(e, CUST_ESTORE,
                     "store postgresql: cannot connect: %s; check the store: URI in the config (or PGHOST, "
                     "PGPORT, PGUSER, PGPASSWORD, PGDATABASE) and that the server is up",
                     msg);
        goto fail;
    }
    describe(s);
    if ((rc = session_setup(s, e)) || (rc = migrate(s, e)))
        goto fail;
    /* one snapshot: other workers commit while we read */
    if ((rc = exec0(s, e, "reading the audit frontier", "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0,
                    NULL)))
        goto fail;
    rc = load_frontier(s, &s->front, e);
    PQclear(PQexec(s->c, "COMMIT"));
    if (rc) {
        if (!(flags & STORE_OPEN_VERIFY))
            goto fail;
        err_clear(e);
        s->front_broken = 1;
    }
    *out = &s->base;
    return CUST_OK;
fail:
    pg_close(&s->base);
    return rc;
}

static cust_code pg_begin(store *base, struct err *e)
{
    pg_store *s = (pg_store *)base;
    cust_code rc;
    if ((rc = FAILPOINT(s, e, "store.begin.before")) || (rc = reconnect(s, e)) ||
        (rc = exec0(s, e, "starting a transaction", "BEGIN", 0, NULL)))
        return rc;
    s->in_tx = 1;
    s->in_sp = 0;
    pend_cut(s, 0);
    s->sp_mark = 0;
    return CUST_OK;
}

static void pg_rollback(store *base)
{
    pg_store *s = (pg_store *)base;
    if (!s->in_tx)
        return;
    PQclear(PQexec(s->c, "ROLLBACK"));
    s->in_tx = 0;
    s->in_sp = 0;
    pend_cut(s, 0);
}

static cust_code write_checkpoint(pg_store *s, const char *time, const struct sign_key *key, int64_t *tree_size,
                                  char root_hex[65], struct err *e);

/* Number the waiting audit entries: lock the frontier, read it as
 * committed, insert the leaves, save it. The lock is held to COMMIT. */
static cust_code flush_audit(pg_store *s, struct err *e)
{
    PGresult *r;
    cust_code rc;
    char seqs[24], hex[65], lvl[16], num[24];
    if (!s->nq)
        return CUST_OK;
    if (s->front_broken)
        return err_set(e, CUST_ESTORE, "the audit frontier is damaged: run custody audit verify");
    if (!(r = q(s, e, "locking the audit log", PGRES_TUPLES_OK,
                "SELECT v FROM meta WHERE k='frontier_size' FOR UPDATE", 0, NULL)))
        return CUST_ESTORE;
    PQclear(r);
    if ((rc = load_frontier(s, &s->front, e)))
        return rc;
    for (size_t i = 0; i < s->nq; i++) {
        struct pend *p = &s->q[i];
        store_audit a = {p->f[0], p->f[1], p->f[2], p->f[3], p->f[4], p->f[5], p->f[6]};
        int64_t n = (int64_t)s->front.size + 1;
        unsigned char leaf[MERKLE_HASH];
        if (p->ckp) {
            int64_t size;
            char root[65];
            if ((rc = write_checkpoint(s, p->f[0], p->key, &size, root, e)))
                return rc;
            continue;
        }
        if ((rc = store_audit_entry_bytes(n, &a, &s->entry, e)))
            return rc;
        merkle_leaf_hash(s->entry.ptr, s->entry.len, leaf);
        merkle_hex(leaf, hex);
        snprintf(seqs, sizeof seqs, "%lld", (long long)n);
        if ((rc = FAILPOINT(s, e, "store.audit.before")))
            return rc;
        {
            const char *v[9] = {seqs, a.time, a.actor, a.action, a.source, a.subject, a.detail, a.cycle_id, hex};
            if ((rc = exec0(s, e, "appending to the audit log",
                            "INSERT INTO audit(seq,time,actor,action,source,subject,detail,cycle_id,leaf_hash) "
                            "VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9)",
                            9, v)))
                return rc;
        }
        merkle_frontier_push(&s->front, leaf);
    }
    pend_cut(s, 0);
    s->sp_mark = 0;
    if ((rc = FAILPOINT(s, e, "store.frontier.before")) ||
        (rc = exec0(s, e, "saving the audit frontier", "DELETE FROM audit_frontier", 0, NULL)))
        return rc;
    for (int i = 0; i < s->front.n; i++) {
        const char *v[2] = {lvl, hex};
        snprintf(lvl, sizeof lvl, "%d", i);
        merkle_hex(s->front.h[i], hex);
        if ((rc = exec0(s, e, "saving the audit frontier", "INSERT INTO audit_frontier(level, hash) VALUES($1,$2)", 2,
                        v)))
            return rc;
    }
    snprintf(num, sizeof num, "%llu", (unsigned long long)s->front.size);
    {
        const char *v[1] = {num};
        if ((rc = exec0(s, e, "saving the audit frontier", "UPDATE meta SET v=$1 WHERE k='frontier_size'", 1, v)))
            return rc;
    }
    return FAILPOINT(s, e, "store.frontier.after");
}

static cust_code pg_commit(store *base, struct err *e)
{
    pg_store *s = (pg_store *)base;
    cust_code rc;
    if ((rc = flush_audit(s, e)) || (rc = FAILPOINT(s, e, "store.commit.before")) ||
        (rc = exec0(s, e, "committing", "COMMIT", 0, NULL))) {
        pg_rollback(base);
        return rc;
    }
    s->in_tx = 0;
    return FAILPOINT(s, e, "store.commit.after");
}

static cust_code pg_savepoint(store *base, int op, struct err *e)
{
    pg_store *s = (pg_store *)base;
    cust_code rc;
    if (!s->in_tx)
        return err_set(e, CUST_ESTORE, "store %s: internal: a savepoint outside a transaction", s->where);
    switch (op) {
    case STORE_SP_BEGIN:
        if ((rc = exec0(s, e, "marking a savepoint", "SAVEPOINT custody_unit", 0, NULL)))
            return rc;
        s->sp_mark = s->nq;
        s->in_sp = 1;
        return CUST_OK;
    case STORE_SP_RELEASE:
        s->in_sp = 0;
        return exec0(s, e, "releasing a savepoint", "RELEASE SAVEPOINT custody_unit", 0, NULL);
    case STORE_SP_ROLLBACK:
        s->in_sp = 0;
        if ((rc = exec0(s, e, "rolling back to a savepoint", "ROLLBACK TO SAVEPOINT custody_unit", 0, NULL)) ||
            (rc = exec0(s, e, "releasing a savepoint", "RELEASE SAVEPOINT custody_unit", 0, NULL)))
            return rc;
        pend_cut(s, s->sp_mark);
        return CUST_OK;
    default:
        return err_set(e, CUST_ESTORE, "store %s: internal: savepoint op %d", s->where, op);
    }
}

static char *dup_or_null(PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : strdup(PQgetvalue(r, row, col));
}

static cust_code pg_source_get(store *base, const char *source, store_source_state *out, struct err *e)
{
    pg_store *s = (pg_store *)base;
    const char *v[1] = {source};
    PGresult *r;
    memset(out, 0, sizeof *out);
    if (!(r = q(s, e, "reading source state", PGRES_TUPLES_OK,
                "SELECT cursor, last_poll_at, last_result FROM sources WHERE name=$1", 1, v)))
        return CUST_ESTORE;
    if (PQntuples(r) == 1) {
        out->exists = 1;
        out->cursor = dup_or_null(r, 0, 0);
        out->last_poll_at = dup_or_null(r, 0, 1);
        out->last_result = dup_or_null(r, 0, 2);
    }
    PQclear(r);
    return CUST_OK;
}

#define NOW_TEXT "to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

static cust_code pg_source_set_cursor(store *base, const char *source, const char *cursor, struct err *e)
{
    pg_store *s = (pg_store *)base;
    const char *v[2] = {source, cursor};
    cust_code rc;
    if ((rc = FAILPOINT(s, e, "store.cursor.before")) ||
        (rc = exec0(s, e, "saving the cursor",
                    "INSERT INTO sources(name,cursor,updated_at) VALUES($1,$2," NOW_TEXT ") "
                    "ON CONFLICT(name) DO UPDATE SET cursor=excluded.cursor, updated_at=excluded.updated_at",
                    2, v)))
        return rc;
    return FAILPOINT(s, e, "store.cursor.after");
}

static cust_code pg_source_set_result(store *base, const char *source, const char *at, const char *result,
                                      struct err *e)
{
    pg_store *s = (pg_store *)base;
    const char *v[3] = {source, at ? at : "", result ? result : ""};
    cust_code rc;
    if ((rc = FAILPOINT(s, e, "store.result.before")) ||
        (rc = exec0(s, e, "saving the poll result",
                    "INSERT INTO sources(name,last_poll_at,last_result,updated_at) VALUES($1,$2,$3,$2) "
                    "ON CONFLICT(name) DO UPDATE SET last_poll_at=excluded.last_poll_at, "
                    "last_result=excluded.last_result, updated_at=excluded.updated_at",
                    3, v)))
        return rc;
    return FAILPOINT(s, e, "store.result.after");
}

static cust_code pg_kv_get(store *base, const char *source, const char *key, char **value, struct err *e)
{
    pg_store *s = (pg_store *)base;
    const char *v[2] = {source, key};
    PGresult *r;
    *value = NULL;
    /* Inside a transaction the row is locked to its end, as SQLite's
     * write lock would: a read-check-write (the outbox's position, a
     * breaker's state) cannot interleave with another worker's. */
    if (!(r = q(s, e, "reading source state", PGRES_TUPLES_OK,
                s->in_tx ? "SELECT v FROM source_kv WHERE source=$1 AND k=$2 FOR UPDATE"
                         : "SELECT v FROM source_kv WHERE source=$1 AND k=$2",
                2, v)))
        return CUST_ESTORE;
    if (PQntuples(r) == 1 && !(*value = strdup(PQgetvalue(r, 0, 0)))) {
        PQclear(r);
        return err_set(e, CUST_ENOMEM, "out of memory");
    }
    PQclear(r);
    return CUST_OK;
}

static cust_code pg_kv_put(store *base, const char *source, const char *key, const char *value, struct err *e)
{
    pg_store *s = (pg_store *)base;
    const char *v[3] = {source, key, value};
    cust_code rc;
    if ((rc = FAILPOINT(s, e, "store.kv.before")))
        return rc;
    if (value)
        rc = exec0(s, e, "saving source state",
                   "INSERT INTO source_kv(source,k,v) VALUES($1,$2,$3) ON CONFLICT(source,k) DO UPDATE SET v=excluded.v",
                   3, v);
    else
        rc = exec0(s, e, "saving source state", "DELETE FROM source_kv WHERE source=$1 AND k=$2", 2, v);
    return rc ? rc : FAILPOINT(s, e, "store.kv.after");
}

static cust_code pg_record_purge(store *base, const char *source, const char *key, int64_t version, const char *at,
                                 const char *actor, const char *rule, struct err *e)
{
    pg_store *s = (pg_store *)base;
    char ver[24];
    long n;
    snprintf(ver, sizeof ver, "%lld", (long long)version);
    {
        const char *v[6] = {source, key, ver, at, actor, rule};
        n = exec_n(s, e, "marking a record purged",
                   "INSERT INTO purged(record_id, source, key, version, purged_at, actor, rule) "
                   "SELECT id, source, key, version, $4, $5, $6 FROM records "
                   "WHERE source=$1 AND key=$2 AND version=$3 AND canonical <> ''",
                   6, v);
    }
    if (n < 0)
        return CUST_ESTORE;
    if (n != 1)
        return err_set(e, CUST_ESTORE, "record %s %s version %lld: not found or already purged", source, key,
                       (long long)version);
    {
        const char *v[3] = {source, key, ver};
        /* emptied content leaves nothing findable behind */
        if (exec0(s, e, "removing a purged record's index terms",
                  "DELETE FROM record_index WHERE record_id = "
                  "(SELECT id FROM records WHERE source=$1 AND key=$2 AND version=$3)",
                  3, v))
            return CUST_ESTORE;
        return exec0(s, e, "purging a record",
                     "UPDATE records SET canonical='' WHERE source=$1 AND key=$2 AND version=$3 AND canonical <> ''",
                     3, v);
    }
}

static cust_code pg_hold_add(store *base, const char *source, const char *key, const char *reason, const char *actor,
                             const char *at, int64_t *id, struct err *e)
{
    pg_store *s = (pg_store *)base;
    const char *v[5] = {source, key, reason, actor, at};
    PGresult *r;
    if (!(r = q(s, e, "adding a legal hold", PGRES_TUPLES_OK,
                "INSERT INTO holds(source, key, reason, actor, created_at) VALUES($1,$2,$3,$4,$5) RETURNING id", 5, v)))
        return CUST_ESTORE;
    *id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return CUST_OK;
}

static cust_code pg_hold_release(store *base, int64_t id, const char *reason, const char *actor, const char *at,
                                 struct err *e)
{
    pg_store *s = (pg_store *)base;
    char ids[24];
    const char *v[4] = {ids, at, actor, reason};
    long n;
    snprintf(ids, sizeof ids, "%lld", (long long)id);
    n = exec_n(s, e, "releasing a legal hold",
               "UPDATE holds SET released_at=$2, released_by=$3, release_reason=$4 WHERE id=$1 AND released_at IS NULL",
               4, v);
    if (n < 0)
        return CUST_ESTORE;
    if (n != 1)
        return err_set(e, CUST_ESTORE, "no active legal hold with id %lld (custody hold list shows them)",
                       (long long)id);
    return CUST_OK;
}

static cust_code pg_quarantine_set_status(store *base, int64_t id, const char *status, const char *by, const char *at,
                                          const char *why, struct err *e)
{
    pg_store *s = (pg_store *)base;
    char ids[24];
    const char *v[5] = {ids, status, by, at, why};
    long n;
    snprintf(ids, sizeof ids, "%lld", (long long)id);
    n = exec_n(s, e, "updating a quarantine entry",
               "UPDATE quarantine SET status=$2, resolved_by=$3, resolved_at=$4, resolved_why=$5 "
               "WHERE id=$1 AND status='open'",
               5, v);
    if (n < 0)
        return CUST_ESTORE;
    if (n != 1)
        return err_set(e, CUST_ESTORE,
                       "quarantine entry %lld is not open (already replayed or resolved, or no such id: custody "
                       "quarantine list shows them)",
                       (long long)id);
    return CUST_OK;
}

static cust_code pg_holds_list(store *base, int active_only, store_row_cb cb, void *ctx, struct err *e)
{
    pg_store *s = (pg_store *)base;
    return list(s, e, "listing legal holds",
                active_only ? "SELECT id::text, source, key, reason, actor, created_at, released_at, released_by, "
                              "release_reason FROM holds WHERE released_at IS NULL ORDER BY holds.id"
                            : "SELECT id::text, source, key, reason, actor, created_at, released_at, released_by, "
                              "release_reason FROM holds ORDER BY holds.id",
                0, NULL, cb, ctx);
}

static cust_code pg_record_put(store *base, const store_record *r, store_outcome *out, int64_t *version,
                               struct err *e)
{
    pg_store *s = (pg_store *)base;
    const char *hv[2] = {r->source, r->key};
    PGresult *res;
    long long v = 0;
    char next[24];
    cust_code rc;
    if (!(res = q(s, e, "looking up the latest version", PGRES_TUPLES_OK,
                  "SELECT version, content_hash FROM records WHERE source=$1 AND key=$2 ORDER BY version DESC LIMIT 1",
                  2, hv)))
        return CUST_ESTORE;
    if (PQntuples(res) == 1) {
        v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        if (!strcmp(PQgetvalue(res, 0, 1), r->content_hash)) {
            PQclear(res);
            *out = STORE_DUPLICATE;
            *version = v;
            return CUST_OK;
        }
    }
    PQclear(res);
    if ((rc = FAILPOINT(s, e, "store.record.before")))
        return rc;
    snprintf(next, sizeof next, "%lld", v + 1);
    {
        const char *vals[11] = {r->source,     r->key,       next,         r->content_hash, r->canonical,
                                r->raw_hash,   r->fetched_at, r->request_id, r->cycle_id,     r->config_hash,
                                r->contract_hash};
        int lens[11] = {0};
        int fmts[11] = {0};
        /* canonical has a length: send it as binary text (same bytes) */
        lens[4] = (int)r->canonical_len;
        fmts[4] = 1;
        res = PQexecParams(s->c,
                           "INSERT INTO records(source,key,version,content_hash,canonical,raw_hash,fetched_at,"
                           "request_id,cycle_id,config_hash,contract_hash) VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)",
                           11, NULL, vals, lens, fmts, 0);
        if (!res || PQresultStatus(res) != PGRES_COMMAND_OK)
            return pg_fail(s, res, e, "storing a record");
        PQclear(res);
    }
    *out = v ? STORE_VERSION : STORE_NEW;
    *version = v + 1;
    return FAILPOINT(s, e, "store.record.after");
}

static cust_code pg_reject_put(store *base, const store_reject *r, store_outcome *out, int64_t *id, struct err *e)
{
    pg_store *s = (pg_store *)base;
    const char *v[8] = {r->source, r->recon_key, r->raw, r->errors_json, r->seen_at,
                        r->request_id, r->cycle_id, r->contract_hash};
    int lens[8] = {0, 0, (int)r->raw_len, 0, 0, 0, 0, 0};
    int fmts[8] = {0, 0, 1, 0, 0, 0, 0, 0};
    PGresult *res;
    cust_code rc;
    if ((rc = FAILPOINT(s, e, "store.reject.before")))
        return rc;
    res = PQexecParams(s->c,
                       "INSERT INTO quarantine(source,recon_key,raw,errors,first_seen,last_seen,times_seen,status,"
                       "request_id,cycle_id,contract_hash) VALUES($1,$2,$3,$4,$5,$5,1,'open',$6,$7,$8) "
                       "ON CONFLICT(source,recon_key) DO UPDATE SET last_seen=excluded.last_seen, "
                       "times_seen=quarantine.times_seen+1 RETURNING id, times_seen",
                       8, NULL, v, lens, fmts, 0);
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
        return pg_fail(s, res, e, "storing a rejection");
    *id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    *out = strtoll(PQgetvalue(res, 0, 1), NULL, 10) == 1 ? STORE_NEW : STORE_DUPLICATE;
    PQclear(res);
    return FAILPOINT(s, e, "store.reject.after");
}

static char *xstrdup(const char *p)
{
    return strdup(p ? p : "");
}

static cust_code pg_audit_append(store *base, const store_audit *a, int64_t *seq, struct err *e)
{
    pg_store *s = (pg_store *)base;
    struct pend p = {{0}, 0, NULL};
    if (s->front_broken)
        return err_set(e, CUST_ESTORE, "the audit frontier is damaged: run custody audit verify");
    if (!s->in_tx)
        return err_set(e, CUST_ESTORE, "store %s: internal: an audit entry outside a transaction", s->where);
    p.f[0] = xstrdup(a->time);
    p.f[1] = xstrdup(a->actor);
    p.f[2] = xstrdup(a->action);
    p.f[3] = xstrdup(a->source);
    p.f[4] = xstrdup(a->subject);
    p.f[5] = xstrdup(a->detail);
    p.f[6] = xstrdup(a->cycle_id);
    for (int i = 0; i < 7; i++)
        if (!p.f[i]) {
            pend_free(&p);
            return err_set(e, CUST_ENOMEM, "out of memory");
        }
    if (pend_push(s, &p, e))
        return CUST_ENOMEM;
    if (seq)
        *seq = 0; /* numbered at commit */
    return CUST_OK;
}

/* Insert the checkpoint of the tree as s->front holds it (the log locked). */
static cust_code write_checkpoint(pg_store *s, const char *time, const struct sign_key *key, int64_t *tree_size,
                                  char root_hex[65], struct err *e)
{
    unsigned char root[MERKLE_HASH];
    buf sig;
    cust_code rc;
    char size[24];
    merkle_frontier_root(&s->front, root);
    merkle_hex(root, root_hex);
    *tree_size = (int64_t)s->front.size;
    snprintf(size, sizeof size, "%lld", (long long)*tree_size);
    buf_init(&sig, 4096);
    if (key && (rc = checkpoint_sign(key, *tree_size, root_hex, time, &sig, e)))
        goto out;
    if ((rc = FAILPOINT(s, e, "store.checkpoint.before")))
        goto out;
    {
        const char *v[4] = {size, root_hex, time, key ? sig.ptr : NULL};
        rc = exec0(s, e, "writing a checkpoint",
                   "INSERT INTO checkpoints(tree_size, root, time, signature) SELECT $1, $2, $3, $4 "
                   "WHERE NOT EXISTS(SELECT 1 FROM checkpoints WHERE tree_size = $1)",
                   4, v);
    }
    if (!rc)
        rc = FAILPOINT(s, e, "store.checkpoint.after");
out:
    buf_release(&sig);
    return rc;
}

/* Inside a savepoint unit (the daemon's group commit) the checkpoint waits
 * in line with the audit entries and is written when they are numbered, at
 * the round's COMMIT: numbering inside the unit would put the earlier
 * units' entries under this unit's savepoint. *tree_size is 0 and root_hex
 * empty then. Elsewhere the tree is numbered now and the checkpoint
 * written at once. */
static cust_code pg_checkpoint(store *base, const char *time, const struct sign_key *key, int64_t *tree_size,
                               char root_hex[65], struct err *e)
{
    pg_store *s = (pg_store *)base;
    cust_code rc;
    if (s->front_broken)
        return err_set(e, CUST_ESTORE, "the audit frontier is damaged: run custody audit verify");
    if (s->in_sp) {
        struct pend p = {{0}, 1, key};
        if (!(p.f[0] = strdup(time)))
            return err_set(e, CUST_ENOMEM, "out of memory");
        if (pend_push(s, &p, e))
            return CUST_ENOMEM;
        *tree_size = 0;
        root_hex[0] = '\0';
        return CUST_OK;
    }
    if (s->nq) {
        if ((rc = flush_audit(s, e)))
            return rc;
    } else {
        PGresult *r = q(s, e, "locking the audit log", PGRES_TUPLES_OK,
                        "SELECT v FROM meta WHERE k='frontier_size' FOR UPDATE", 0, NULL);
        if (!r)
            return CUST_ESTORE;
        PQclear(r);
        if ((rc = load_frontier(s, &s->front, e)))
            return rc;
    }
    return write_checkpoint(s, time, key, tree_size, root_hex, e);
}

#define REC_COLS "records.source,records.key,records.version::text,content_hash,canonical,raw_hash,fetched_at,request_id,cycle_id," \
                 "config_hash,contract_hash"

static cust_code pg_records_list(store *base, const char *source, const char *key, int history, store_row_cb cb,
                                 void *ctx, struct err *e)
{
    pg_store *s = (pg_store *)base;
    const char *v[2] = {source, key};
    if (history)
        return list(s, e, "listing records",
                    "SELECT " REC_COLS " FROM records WHERE ($1::text IS NULL OR records.source=$1) AND "
                    "($2::text IS NULL OR records.key=$2) ORDER BY records.source COLLATE \"C\", records.key COLLATE \"C\", records.version",
                    2, v, cb, ctx);
    return list(s, e, "listing records",
                "SELECT DISTINCT ON (records.source COLLATE \"C\", records.key COLLATE \"C\") " REC_COLS " FROM records "
                "WHERE ($1::text IS NULL OR records.source=$1) AND ($2::text IS NULL OR records.key=$2) "
                "ORDER BY records.source COLLATE \"C\", records.key COLLATE \"C\", records.version DESC",
                2, v, cb, ctx);
}

static cust_code pg_index_put(store *base, const char *source, const char *key, int64_t version, const char *field,
                              const char *value, struct err *e)
{
    pg_store *s = (pg_store *)base;
    char ver[24];
    const char *v[5] = {source, key, ver, field, value};
    PGresult *r;
    long n;
    snprintf(ver, sizeof ver, "%lld", (long long)version);
    n = exec_n(s, e, "writing the record index",
               "INSERT INTO record_index(field, value, record_id) SELECT $4, $5, id FROM records "
               "WHERE source=$1 AND key=$2 AND version=$3 ON CONFLICT DO NOTHING",
               5, v);
    if (n < 0)
        return CUST_ESTORE;
    if (n == 1)
        return CUST_OK;
    /* nothing inserted: the term was there already, or there is no such version */
    if (!(r = q(s, e, "writing the record index", PGRES_TUPLES_OK,
                "SELECT 1 FROM records WHERE source=$1 AND key=$2 AND version=$3", 3, v)))
        return CUST_ESTORE;
    n = PQntuples(r);
    PQclear(r);
    if (n == 1)
        return CUST_OK;
    return err_set(e, CUST_ESTORE, "store %s: internal: indexing %s %s version %lld, which is not stored", s->where,
                   source, key, (long long)version);
}

static cust_code pg_index_lookup(store *base, const char *source, const char *field, const char *value, int history,
                                 store_row_cb cb, void *ctx, struct err *e)
{
    pg_store *s = (pg_store *)base;
    const char *v[3] = {field, value, source};
    if (history)
        return list(s, e, "looking up the record index",
                    "SELECT " REC_COLS " FROM record_index i JOIN records ON records.id = i.record_id "
                    "WHERE i.field=$1 AND i.value=$2 AND ($3::text IS NULL OR records.source=$3) "
                    "ORDER BY records.source COLLATE \"C\", records.key COLLATE \"C\", records.version",
                    3, v, cb, ctx);
    return list(s, e, "looking up the record index",
                "SELECT " REC_COLS " FROM record_index i JOIN records ON records.id = i.record_id "
                "WHERE i.field=$1 AND i.value=$2 AND ($3::text IS NULL OR records.source=$3) "
                "AND records.version = (SELECT max(r2.version) FROM records r2 "
                "WHERE r2.source = records.source AND r2.key = records.key) "
                "ORDER BY records.source COLLATE \"C\", records.key COLLATE \"C\"",
                3, v, cb, ctx);
}

static cust_code pg_quarantine_list(store *base, const char *source, int64_t id, store_row_cb cb, void *ctx,
                                    struct err *e)
{
    pg_store *s = (pg_store *)base;
    char ids[24];
    const char *v[2] = {source, id > 0 ? ids : NULL};
    snprintf(ids, sizeof ids, "%lld", (long long)id);
    return list(s, e, "listing quarantine",
                "SELECT id::text,source,recon_key,raw,errors,first_seen,last_seen,times_seen::text,status,request_id,"
                "cycle_id,contract_hash FROM quarantine WHERE ($1::text IS NULL OR source=$1) "
                "AND ($2::bigint IS NULL OR quarantine.id=$2) ORDER BY quarantine.id",
                2, v, cb, ctx);
}

#define AUD_COLS "seq::text,time,actor,action,source,subject,detail,cycle_id,leaf_hash"

static cust_code pg_audit_list(store *base, store_row_cb cb, void *ctx, struct err *e)
{
    pg_store *s = (pg_store *)base;
    return list(s, e, "listing the audit log", "SELECT " AUD_COLS " FROM audit ORDER BY audit.seq", 0, NULL, cb, ctx);
}

static cust_code pg_audit_list_from(store *base, int64_t after, int64_t limit, store_row_cb cb, void *ctx,
                                    struct err *e)
{
    pg_store *s = (pg_store *)base;
    char a[24], l[24];
    const char *v[2] = {a, limit > 0 ? l : NULL};
    snprintf(a, sizeof a, "%lld", (long long)after);
    snprintf(l, sizeof l, "%lld", (long long)limit);
    return list(s, e, "listing the audit log",
                "SELECT " AUD_COLS " FROM audit WHERE audit.seq > $1 ORDER BY audit.seq LIMIT $2::bigint", 2, v, cb, ctx);
}

static cust_code pg_checkpoints_list(store *base, store_row_cb cb, void *ctx, struct err *e)
{
    pg_store *s = (pg_store *)base;
    return list(s, e, "listing checkpoints",
                "SELECT tree_size::text, root, time, signature FROM checkpoints ORDER BY checkpoints.tree_size", 0, NULL, cb, ctx);
}

/* Rows (level, hash) led by (-1, size); all text. */
static cust_code pg_frontier_list_text(store *base, store_row_cb cb, void *ctx, struct err *e)
{
    pg_store *s = (pg_store *)base;
    return list(s, e, "reading the audit frontier",
                "SELECT level::text, v FROM (SELECT -1 AS level, v FROM meta WHERE k='frontier_size' "
                "UNION ALL SELECT level, hash FROM audit_frontier) f ORDER BY f.level",
                0, NULL, cb, ctx);
}

static cust_code pg_integrity(store *base, char *what, size_t n, struct err *e)
{
    pg_store *s = (pg_store *)base;
    PGresult *r;
    char want[16];
    what[0] = '\0';
    snprintf(want, sizeof want, "%d", NMIGRATIONS);
    if (!(r = q(s, e, "checking the schema version", PGRES_TUPLES_OK,
                "SELECT (SELECT v FROM meta WHERE k='schema_version'),"
                " (SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
                "  WHERE c.relname IN ('records','audit','checkpoints','purged','holds') AND NOT t.tgisinternal"
                "  AND t.tgenabled <> 'D')::text",
                0, NULL)))
        return CUST_ESTORE;
    if (PQgetisnull(r, 0, 0) || strcmp(PQgetvalue(r, 0, 0), want) != 0)
        snprintf(what, n, "meta schema_version is %s, this custody writes %s",
                 PQgetisnull(r, 0, 0) ? "missing" : PQgetvalue(r, 0, 0), want);
    else if (strtol(PQgetvalue(r, 0, 1), NULL, 10) < 11)
        snprintf(what, n, "append-only triggers are missing or disabled (%s of 11 active): someone altered the "
                 "schema; restore it and run custody audit verify", PQgetvalue(r, 0, 1));
    PQclear(r);
    return CUST_OK;
}

static cust_code pg_sources_list(store *base, store_row_cb cb, void *ctx, struct err *e)
{
    pg_store *s = (pg_store *)base;
    return list(s, e, "listing sources",
                "SELECT name, cursor, last_poll_at, last_result, updated_at FROM sources ORDER BY name COLLATE \"C\"",
                0, NULL, cb, ctx);
}

static cust_code pg_webhook_seen(store *base, const char *source, const char *id, const char *at, int *dup,
                                 struct err *e)
{
    pg_store *s = (pg_store *)base;
    const char *v[3] = {source, id, at};
    long n = exec_n(s, e, "recording a webhook delivery",
                    "INSERT INTO webhook_seen(source, id, received_at) VALUES($1,$2,$3) ON CONFLICT DO NOTHING", 3, v);
    if (n < 0)
        return CUST_ESTORE;
    *dup = n == 0;
    return CUST_OK;
}

static cust_code pg_webhook_hold(store *base, const char *source, const char *key, const char *webhook_id,
                                 const char *payload, const char *at, const char *expires_at, int64_t *seq,
                                 struct err *e)
{
    pg_store *s = (pg_store *)base;
    const char *v[6] = {source, key, webhook_id, payload, at, expires_at};
    PGresult *r;
    if (!(r = q(s, e, "holding a webhook", PGRES_TUPLES_OK,
                "INSERT INTO webhook_holds(source, key, webhook_id, payload, received_at, expires_at) "
                "VALUES($1,$2,$3,$4,$5,$6) RETURNING seq",
                6, v)))
        return CUST_ESTORE;
    *seq = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return CUST_OK;
}

static cust_code pg_webhook_holds(store *base, const char *source, const char *key, const char *before,
                                  store_row_cb cb, void *ctx, struct err *e)
{
    pg_store *s = (pg_store *)base;
    if (key) {
        const char *v[2] = {source, key};
        return list(s, e, "listing held webhooks",
                    "SELECT seq::text, source, key, webhook_id, payload, received_at, expires_at FROM webhook_holds "
                    "WHERE source = $1 AND key = $2 AND status = 'held' ORDER BY webhook_holds.seq",
                    2, v, cb, ctx);
    }
    {
        const char *v[1] = {before};
        return list(s, e, "listing held webhooks",
                    "SELECT seq::text, source, key, webhook_id, payload, received_at, expires_at FROM webhook_holds "
                    "WHERE status = 'held' AND ($1::text IS NULL OR expires_at < $1) ORDER BY webhook_holds.seq",
                    1, v, cb, ctx);
    }
}

static cust_code pg_webhook_settle(store *base, int64_t seq, const char *status, const char *at, struct err *e)
{
    pg_store *s = (pg_store *)base;
    char ids[24];
    const char *v[3] = {ids, status, at};
    long n;
    snprintf(ids, sizeof ids, "%lld", (long long)seq);
    n = exec_n(s, e, "settling a held webhook",
               "UPDATE webhook_holds SET status = $2, settled_at = $3 WHERE seq = $1 AND status = 'held'", 3, v);
    if (n < 0)
        return CUST_ESTORE;
    if (n != 1)
        return err_set(e, CUST_ESTORE, "held webhook %lld is no longer held", (long long)seq);
    return CUST_OK;
}

/* ---- leases ------------------------------------------------------------- */

static cust_code pg_lease_acquire(store *base, const char *source, const char *owner, int64_t ttl_ms,
                                  int64_t *epoch, char *holder, size_t nholder, struct err *e)
{
    pg_store *s = (pg_store *)base;
    char ttl[24];
    const char *v[3] = {source, owner, ttl};
    PGresult *r;
    *epoch = 0;
    snprintf(ttl, sizeof ttl, "%lld", (long long)ttl_ms);
    if (s->idle_ms != ttl_ms) {
        /* A worker stopped inside a transaction (SIGSTOP, a VM pause)
         * holds row locks the next holder of its lease would wait on. A
         * transaction idle for a whole lease cannot pass its fence any
         * more (its last proof is older than the lease), so the server may
         * as well end it then and free the locks. */
        char set[96];
        snprintf(set, sizeof set, "SET idle_in_transaction_session_timeout = %lld",
                 (long long)(ttl_ms));
        if (exec0(s, e, "setting the idle transaction timeout", set, 0, NULL))
            return CUST_ESTORE;
        s->idle_ms = ttl_ms;
    }
    /* One statement (its own transaction): make sure the row exists, then
     * take it when free, expired or ours. SKIP LOCKED: a lease another
     * worker is proving or taking right now is simply not ours to take. */
    if (!(r = q(s, e, "taking a lease", PGRES_TUPLES_OK,
                "WITH ins AS (INSERT INTO leases(source, owner, epoch, expires_at) "
                "  VALUES($1, '', 0, '-infinity') ON CONFLICT DO NOTHING), "
                "cand AS (SELECT source FROM leases WHERE source = $1 "
                "  AND (expires_at < clock_timestamp() OR owner = $2) FOR UPDATE SKIP LOCKED) "
                "UPDATE leases l SET owner = $2, epoch = l.epoch + 1, "
                "  expires_at = clock_timestamp() + $3::bigint * interval '1 millisecond' "
                "FROM cand WHERE l.source = cand.source RETURNING l.epoch::text",
                3, v)))
        return CUST_ESTORE;
    if (PQntuples(r) == 1) {
        *epoch = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
        return CUST_OK;
    }
    PQclear(r);
    /* a first-ever lease: the INSERT and the SELECT of one statement see
     * the same snapshot, so the new row was invisible; ask once more */
    if (!(r = q(s, e, "taking a lease", PGRES_TUPLES_OK,
                "WITH cand AS (SELECT source FROM leases WHERE source = $1 "
                "  AND (expires_at < clock_timestamp() OR owner = $2) FOR UPDATE SKIP LOCKED) "
                "UPDATE leases l SET owner = $2, epoch = l.epoch + 1, "
                "  expires_at = clock_timestamp() + $3::bigint * interval '1 millisecond' "
                "FROM cand WHERE l.source = cand.source RETURNING l.epoch::text",
                3, v)))
        return CUST_ESTORE;
    if (PQntuples(r) == 1)
        *epoch = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    if (!*epoch && holder && nholder) {
        const char *hv[1] = {source};
        holder[0] = '\0';
        if (!(r = q(s, e, "reading a lease", PGRES_TUPLES_OK, "SELECT owner FROM leases WHERE source = $1", 1, hv)))
            return CUST_ESTORE;
        if (PQntuples(r) == 1)
            snprintf(holder, nholder, "%s", PQgetvalue(r, 0, 0));
        PQclear(r);
    }
    return CUST_OK;
}

static cust_code pg_lease_break(store *base, const char *source, const char *holder, struct err *e)
{
    pg_store *s = (pg_store *)base;
    const char *v[2] = {source, holder};
    return exec_n(s, e, "breaking a dead worker's lease",
                  "UPDATE leases SET expires_at = '-infinity' WHERE source = $1 AND owner = $2", 2, v) < 0
               ? CUST_ESTORE
               : CUST_OK;
}

static cust_code pg_lease_fence(store *base, const char *source, const char *owner, int64_t epoch, int64_t ttl_ms,
                                struct err *e)
{
    pg_store *s = (pg_store *)base;
    char ep[24], ttl[24];
    const char *v[4] = {source, owner, ep, ttl};
    long n;
    snprintf(ep, sizeof ep, "%lld", (long long)epoch);
    snprintf(ttl, sizeof ttl, "%lld", (long long)ttl_ms);
    n = exec_n(s, e, "proving the lease",
               "UPDATE leases SET expires_at = clock_timestamp() + $4::bigint * interval '1 millisecond' "
               "WHERE source = $1 AND owner = $2 AND epoch = $3 AND expires_at > clock_timestamp()",
               4, v);
    if (n < 0)
        return CUST_ESTORE;
    if (n != 1)
        return err_set(e, CUST_EFENCED,
                       "source %s: lease lost (epoch %lld of worker %s expired or was taken over): this "
                       "transaction is rolled back, the lease holder polls the source",
                       source, (long long)epoch, owner);
    return CUST_OK;
}

static cust_code pg_lease_release(store *base, const char *source, const char *owner, int64_t epoch, struct err *e)
{
    pg_store *s = (pg_store *)base;
    char ep[24];
    const char *v[3] = {source, owner, ep};
    snprintf(ep, sizeof ep, "%lld", (long long)epoch);
    return exec_n(s, e, "releasing a lease",
                  "UPDATE leases SET expires_at = '-infinity' WHERE source = $1 AND owner = $2 AND epoch = $3", 3,
                  v) < 0
               ? CUST_ESTORE
               : CUST_OK;
}

static cust_code pg_snapshot(store *base, int on, struct err *e)
{
    pg_store *s = (pg_store *)base;
    if (!on)
        return exec0(s, e, "ending a snapshot", "COMMIT", 0, NULL);
    if (s->in_tx)
        return err_set(e, CUST_ESTORE, "store %s: internal: a snapshot inside a write transaction", s->where);
    if (reconnect(s, e))
        return CUST_ESTORE;
    return exec0(s, e, "starting a snapshot", "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL);
}

const store_ops store_pg_ops = {
    .scheme = "postgresql",
    .open = pg_open,
    .close = pg_close,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .source_get = pg_source_get,
    .source_set_cursor = pg_source_set_cursor,
    .source_set_result = pg_source_set_result,
    .record_purge = pg_record_purge,
    .hold_add = pg_hold_add,
    .hold_release = pg_hold_release,
    .quarantine_set_status = pg_quarantine_set_status,
    .holds_list = pg_holds_list,
    .kv_get = pg_kv_get,
    .kv_put = pg_kv_put,
    .record_put = pg_record_put,
    .reject_put = pg_reject_put,
    .audit_append = pg_audit_append,
    .checkpoint = pg_checkpoint,
    .records_list = pg_records_list,
    .quarantine_list = pg_quarantine_list,
    .audit_list = pg_audit_list,
    .audit_list_from = pg_audit_list_from,
    .checkpoints_list = pg_checkpoints_list,
    .frontier_list = pg_frontier_list_text,
    .integrity = pg_integrity,
    .sources_list = pg_sources_list,
    .savepoint = pg_savepoint,
    .webhook_seen = pg_webhook_seen,
    .webhook_hold = pg_webhook_hold,
    .webhook_holds = pg_webhook_holds,
    .webhook_settle = pg_webhook_settle,
    .lease_acquire = pg_lease_acquire,
    .lease_fence = pg_lease_fence,
    .lease_release = pg_lease_release,
    .lease_break = pg_lease_break,
    .snapshot = pg_snapshot,
    .index_put = pg_index_put,
    .index_lookup = pg_index_lookup,
};
