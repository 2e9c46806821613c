/* store_sqlite.c - the embedded store: one SQLite file in WAL mode with
 * synchronous=FULL, so a commit is on disk when custody says so. Records,
 * audit entries and checkpoints are append-only (triggers refuse UPDATE and
 * DELETE); the audit Merkle frontier is kept beside them in the same
 * transaction so a checkpoint never rereads the log. */
#include "store.h"

#include <fcntl.h>
#include <unistd.h>
#include "sign.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>

#include "core/failpoint.h"
#include "core/jcs.h"
#include "core/json.h"
#include "core/merkle.h"

#define SCHEMA_VERSION "3"

enum {
    ST_Q_STATUS, ST_KV_GET, ST_KV_PUT, ST_KV_DEL, ST_PURGE_MARK, ST_PURGE_REC, ST_HOLD_ADD, ST_HOLD_REL, ST_HEAD, ST_INS_REC, ST_INS_REJ, ST_INS_AUD, ST_SRC_GET, ST_SRC_CUR, ST_SRC_RES, ST_FRONT_PUT,
    ST_FRONT_DEL, ST_META_PUT, ST_CKP, ST_FRONT_SIZE, ST_IX_PUT, ST_IX_REC, ST_IX_PURGE, ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
    [ST_HEAD] = "SELECT version, content_hash FROM records WHERE source=?1 AND key=?2 "
                "ORDER BY version DESC LIMIT 1",
    [ST_INS_REC] = "INSERT INTO records(source,key,version,content_hash,canonical,raw_hash,"
                   "fetched_at,request_id,cycle_id,config_hash,contract_hash) "
                   "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)",
    [ST_INS_REJ] = "INSERT INTO quarantine(source,recon_key,raw,errors,first_seen,last_seen,"
                   "times_seen,status,request_id,cycle_id,contract_hash) VALUES(?1,?2,?3,?4,?5,?5,1,'open',?6,?7,?8) "
                   "ON CONFLICT(source,recon_key) DO UPDATE SET last_seen=excluded.last_seen, "
                   "times_seen=times_seen+1 RETURNING id, times_seen",
    [ST_INS_AUD] = "INSERT INTO audit(seq,time,actor,action,source,subject,detail,cycle_id,leaf_hash) "
                   "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9)",
    [ST_PURGE_MARK] = "INSERT INTO purged(record_id, source, key, version, purged_at, actor, rule) "
                      "SELECT id, source, key, version, ?4, ?5, ?6 FROM records "
                      "WHERE source=?1 AND key=?2 AND version=?3 AND canonical <> ''",
    [ST_PURGE_REC] = "UPDATE records SET canonical='' WHERE source=?1 AND key=?2 AND version=?3 AND canonical <> ''",
    [ST_HOLD_ADD] = "INSERT INTO holds(source, key, reason, actor, created_at) VALUES(?1, ?2, ?3, ?4, ?5)",
    [ST_HOLD_REL] = "UPDATE holds SET released_at=?2, released_by=?3, release_reason=?4 "
                    "WHERE id=?1 AND released_at IS NULL",
    [ST_Q_STATUS] = "UPDATE quarantine SET status=?2, resolved_by=?3, resolved_at=?4, resolved_why=?5 "
                    "WHERE id=?1 AND status='open'",
    [ST_KV_GET] = "SELECT v FROM source_kv WHERE source=?1 AND k=?2",
    [ST_KV_PUT] = "INSERT INTO source_kv(source,k,v) VALUES(?1,?2,?3) ON CONFLICT(source,k) DO UPDATE SET v=excluded.v",
    [ST_KV_DEL] = "DELETE FROM source_kv WHERE source=?1 AND k=?2",
    [ST_SRC_GET] = "SELECT cursor, last_poll_at, last_result FROM sources WHERE name=?1",
    [ST_SRC_CUR] = "INSERT INTO sources(name,cursor,updated_at) VALUES(?1,?2,strftime('%Y-%m-%dT%H:%M:%fZ','now')) "
                   "ON CONFLICT(name) DO UPDATE SET cursor=excluded.cursor, updated_at=excluded.updated_at",
    [ST_SRC_RES] = "INSERT INTO sources(name,last_poll_at,last_result,updated_at) VALUES(?1,?2,?3,?2) "
                   "ON CONFLICT(name) DO UPDATE SET last_poll_at=excluded.last_poll_at, "
                   "last_result=excluded.last_result, updated_at=excluded.updated_at",
    [ST_FRONT_PUT] = "INSERT OR REPLACE INTO audit_frontier(level, hash) VALUES(?1, ?2)",
    [ST_FRONT_DEL] = "DELETE FROM audit_frontier WHERE level >= ?1",
    [ST_META_PUT] = "INSERT OR REPLACE INTO meta(k, v) VALUES(?1, ?2)",
    [ST_FRONT_SIZE] = "SELECT CAST(v AS INTEGER) FROM meta WHERE k='frontier_size'",
    /* the version record_put just wrote is found by its unique index */
    [ST_IX_PUT] = "INSERT OR IGNORE INTO record_index(field, value, record_id) "
                  "SELECT ?4, ?5, id FROM records WHERE source=?1 AND key=?2 AND version=?3",
    [ST_IX_REC] = "SELECT 1 FROM records WHERE source=?1 AND key=?2 AND version=?3",
    [ST_IX_PURGE] = "DELETE FROM record_index WHERE record_id = "
                    "(SELECT id FROM records WHERE source=?1 AND key=?2 AND version=?3)",
    [ST_CKP] = "INSERT INTO checkpoints(tree_size, root, time, signature) SELECT ?1, ?2, ?3, ?4 "
               "WHERE NOT EXISTS(SELECT 1 FROM checkpoints WHERE tree_size = ?1)",
};

static const char schema_tables[] =
    "CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS sources(name TEXT PRIMARY KEY, cursor TEXT, last_poll_at TEXT,"
    " last_result TEXT, updated_at TEXT);"
    "CREATE TABLE IF NOT EXISTS records(id INTEGER PRIMARY KEY, source TEXT NOT NULL,"
    " key TEXT NOT NULL, version INTEGER NOT NULL CHECK(version >= 1), content_hash TEXT NOT NULL,"
    " canonical TEXT NOT NULL, raw_hash TEXT NOT NULL, fetched_at TEXT NOT NULL,"
    " request_id TEXT NOT NULL, cycle_id TEXT NOT NULL, config_hash TEXT NOT NULL,"
    " UNIQUE(source, key, version));"
    "CREATE TABLE IF NOT EXISTS quarantine(id INTEGER PRIMARY KEY, source TEXT NOT NULL,"
    " recon_key TEXT NOT NULL, raw BLOB NOT NULL, errors TEXT NOT NULL, first_seen TEXT NOT NULL,"
    " last_seen TEXT NOT NULL, times_seen INTEGER NOT NULL, status TEXT NOT NULL,"
    " request_id TEXT, cycle_id TEXT, resolved_by TEXT, resolved_at TEXT, resolved_why TEXT,"
    " UNIQUE(source, recon_key));"
    "CREATE TABLE IF NOT EXISTS audit(seq INTEGER PRIMARY KEY, time TEXT NOT NULL,"
    " actor TEXT NOT NULL, action TEXT NOT NULL, source TEXT NOT NULL, subject TEXT NOT NULL,"
    " detail TEXT NOT NULL, cycle_id TEXT NOT NULL, leaf_hash TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS checkpoints(tree_size INTEGER PRIMARY KEY, root TEXT NOT NULL,"
    " time TEXT NOT NULL, signature TEXT);"
    "CREATE TABLE IF NOT EXISTS audit_frontier(level INTEGER PRIMARY KEY, hash TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS source_kv(source TEXT NOT NULL, k TEXT NOT NULL, v TEXT NOT NULL,"
    " PRIMARY KEY(source, k));";

static const char schema[] =
    /* History is never overwritten (21 CFR 11.10(e)). */
    "CREATE TABLE IF NOT EXISTS purged(record_id INTEGER PRIMARY KEY, source TEXT NOT NULL,"
    " key TEXT NOT NULL, version INTEGER NOT NULL, purged_at TEXT NOT NULL, actor TEXT NOT NULL,"
    " rule TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS webhook_seen(source TEXT NOT NULL, id TEXT NOT NULL, received_at TEXT NOT NULL,"
    " PRIMARY KEY(source, id));"
    "CREATE TABLE IF NOT EXISTS webhook_holds(seq INTEGER PRIMARY KEY, source TEXT NOT NULL, key TEXT NOT NULL,"
    " webhook_id TEXT NOT NULL, payload TEXT NOT NULL, received_at TEXT NOT NULL, expires_at TEXT NOT NULL,"
    " status TEXT NOT NULL DEFAULT 'held', settled_at TEXT);"
    "CREATE INDEX IF NOT EXISTS webhook_holds_key ON webhook_holds(source, key) WHERE status = 'held';"
    "CREATE TABLE IF NOT EXISTS holds(id INTEGER PRIMARY KEY, source TEXT NOT NULL, key TEXT,"
    " reason TEXT NOT NULL, actor TEXT NOT NULL, created_at TEXT NOT NULL, released_at TEXT,"
    " released_by TEXT, release_reason TEXT);"
    /* The secondary index (store.h index_put): derived from the records,
     * so not append-only; the primary key is the lookup order itself. */
    "CREATE TABLE IF NOT EXISTS record_index(field TEXT NOT NULL, value TEXT NOT NULL,"
    " record_id INTEGER NOT NULL, PRIMARY KEY(field, value, record_id)) WITHOUT ROWID;"
    "CREATE TRIGGER IF NOT EXISTS purged_no_update BEFORE UPDATE ON purged BEGIN"
    " SELECT RAISE(ABORT, 'custody: purge records are append-only'); END;"
    "CREATE TRIGGER IF NOT EXISTS purged_no_delete BEFORE DELETE ON purged BEGIN"
    " SELECT RAISE(ABORT, 'custody: purge records are append-only'); END;"
    "CREATE TRIGGER IF NOT EXISTS holds_no_delete BEFORE DELETE ON holds BEGIN"
    " SELECT RAISE(ABORT, 'custody: legal holds are released, never deleted'); END;"
    /* The one update a record may see: the audited retention purge empties
     * its content and keeps every hash, so the log still verifies. */
    "DROP TRIGGER IF EXISTS records_no_update;"
    "CREATE TRIGGER records_no_update BEFORE UPDATE ON records WHEN NOT ("
    " NEW.canonical = '' AND OLD.canonical <> '' AND EXISTS(SELECT 1 FROM purged WHERE record_id = OLD.id)"
    " AND NEW.id IS OLD.id AND NEW.source IS OLD.source AND NEW.key IS OLD.key"
    " AND NEW.version IS OLD.version AND NEW.content_hash IS OLD.content_hash AND NEW.raw_hash IS OLD.raw_hash"
    " AND NEW.fetched_at IS OLD.fetched_at AND NEW.request_id IS OLD.request_id"
    " AND NEW.cycle_id IS OLD.cycle_id AND NEW.config_hash IS OLD.config_hash"
    " AND NEW.contract_hash IS OLD.contract_hash)"
    " BEGIN SELECT RAISE(ABORT, 'custody: records are append-only: a change is a new version'); END;"
    "CREATE TRIGGER IF NOT EXISTS records_no_delete BEFORE DELETE ON records BEGIN"
    " SELECT RAISE(ABORT, 'custody: records are append-only: use the audited retention purge'); END;"
    "CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit BEGIN"
    " SELECT RAISE(ABORT, 'custody: the audit log is append-only'); END;"
    "CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit BEGIN"
    " SELECT RAISE(ABORT, 'custody: the audit log is append-only'); END;"
    "CREATE TRIGGER IF NOT EXISTS checkpoints_no_update BEFORE UPDATE ON checkpoints BEGIN"
    " SELECT RAISE(ABORT, 'custody: checkpoints are append-only'); END;"
    "CREATE TRIGGER IF NOT EXISTS checkpoints_no_delete BEFORE DELETE ON checkpoints BEGIN"
    " SELECT RAISE(ABORT, 'custody: checkpoints are append-only'); END;"
    /* INSERT OR REPLACE deletes the row it collides with without firing
     * DELETE triggers; refuse the collision before it happens. (In a BEFORE
     * INSERT trigger an auto-assigned rowid reads as -1, matching no row.) */
    "CREATE TRIGGER IF NOT EXISTS records_no_replace BEFORE INSERT ON records"
    " WHEN EXISTS(SELECT 1 FROM records WHERE id = NEW.id)"
    " OR EXISTS(SELECT 1 FROM records WHERE source = NEW.source AND key = NEW.key AND version = NEW.version)"
    " BEGIN SELECT RAISE(ABORT, 'custody: records are append-only: a change is a new version'); END;"
    "CREATE TRIGGER IF NOT EXISTS audit_no_replace BEFORE INSERT ON audit"
    " WHEN EXISTS(SELECT 1 FROM audit WHERE seq = NEW.seq)"
    " BEGIN SELECT RAISE(ABORT, 'custody: the audit log is append-only'); END;"
    "CREATE TRIGGER IF NOT EXISTS checkpoints_no_replace BEFORE INSERT ON checkpoints"
    " WHEN EXISTS(SELECT 1 FROM checkpoints WHERE tree_size = NEW.tree_size)"
    " BEGIN SELECT RAISE(ABORT, 'custody: checkpoints are append-only'); END;";

typedef struct sqlite_store {
    struct store base;
    int front_broken;       /* opened for verify with an unusable frontier */
    sqlite3 *db;
    char *path;
    sqlite3_stmt *st[ST_COUNT];
    int in_tx;
    merkle_frontier front;      /* as of the open transaction */
    merkle_frontier front_saved; /* as of its begin, restored on rollback */
    merkle_frontier front_sp;   /* as of the savepoint, restored on rollback to it */
    buf entry;                  /* scratch for audit entry bytes */
} sqlite_store;

/* What an operator does about a storage failure. */
static const char *db_hint(int ext)
{
    switch (ext & 0xff) {
    case SQLITE_FULL:
        return "; free disk space and rerun: the open transaction was rolled back, nothing half-written is "
               "visible";
    case SQLITE_IOERR:
        return "; check the disk (dmesg, SMART) and rerun: the last committed transaction is intact";
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return "; the file is damaged: restore it from a backup and run custody audit verify";
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_CANTOPEN:
        return "; check the store's path and permissions";
    default:
        return "";
    }
}

static cust_code db_err(sqlite_store *s, struct err *e, const char *what)
{
    int ext = sqlite3_extended_errcode(s->db);
    return err_setc(e, CUST_ESTORE, ext, "store %s: %s: %s (SQLite error %d)%s", s->path, what,
                    sqlite3_errmsg(s->db), ext, db_hint(ext));
}

static cust_code exec(sqlite_store *s, const char *sql, struct err *e)
{
    char *msg = NULL;
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        cust_code c = err_setc(e, CUST_ESTORE, sqlite3_extended_errcode(s->db), "store %s: %s%s",
                               s->path, msg ? msg : sqlite3_errstr(rc), db_hint(sqlite3_extended_errcode(s->db)));
        sqlite3_free(msg);
        return c;
    }
    return CUST_OK;
}

/* A failpoint armed with "error" fails its write as an I/O error would:
 * CUST_ESTORE through the caller's normal error path. */
static cust_code failpoint_err(sqlite_store *s, struct err *e, const char *name)
{
    return err_set(e, CUST_ESTORE, "store %s: failpoint %s fired (CUSTODY_FAILPOINT)", s->path, name);
}
#define FAILPOINT(s, e, name) (CUST_FAILPOINT(name) ? failpoint_err((s), (e), (name)) : CUST_OK)

static sqlite3_stmt *stmt(sqlite_store *s, int which)
{
    sqlite3_stmt *st = s->st[which];
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
    sqlite3_bind_text(st, i, v ? v : "", -1, SQLITE_STATIC);
}

static cust_code load_frontier(sqlite_store *s, struct err *e)
{
    sqlite3_stmt *st = NULL;
    sqlite3_int64 size = 0, maxseq = 0;
    int rc;
    merkle_frontier_init(&s->front);
    if (sqlite3_prepare_v2(s->db, "SELECT (SELECT v FROM meta WHERE k='frontier_size'),"
                                  " (SELECT coalesce(max(seq),0) FROM audit)", -1, &st, NULL) != SQLITE_OK)
        return db_err(s, e, "reading the audit frontier");
    if (sqlite3_step(st) == SQLITE_ROW) {
        size = sqlite3_column_int64(st, 0);
        maxseq = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    if (size != maxseq) {
        /* The frontier and the log are written in one transaction, so this
         * only happens after someone edited the file: rebuild from leaves. */
        if (sqlite3_prepare_v2(s->db, "SELECT leaf_hash FROM audit ORDER BY seq", -1, &st, NULL) != SQLITE_OK)
            return db_err(s, e, "rebuilding the audit frontier");
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            unsigned char leaf[MERKLE_HASH];
            const char *hex = (const char *)sqlite3_column_text(st, 0);
            if (!hex || !merkle_unhex(hex, leaf)) {
                sqlite3_finalize(st);
                return err_set(e, CUST_ESTORE, "store %s: audit leaf hash is malformed; run custody audit verify",
                               s->path);
            }
            merkle_frontier_push(&s->front, leaf);
        }
        sqlite3_finalize(st);
        return CUST_OK;
    }
    if (sqlite3_prepare_v2(s->db, "SELECT hash FROM audit_frontier ORDER BY level", -1, &st, NULL) != SQLITE_OK)
        return db_err(s, e, "reading the audit frontier");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && s->front.n < MERKLE_MAX_LEVELS) {
        const char *hex = (const char *)sqlite3_column_text(st, 0);
        if (!hex || !merkle_unhex(hex, s->front.h[s->front.n])) {
            sqlite3_finalize(st);
            return err_set(e, CUST_ESTORE, "store %s: audit frontier is malformed", s->path);
        }
        s->front.n++;
    }
    sqlite3_finalize(st);
    s->front.size = (uint64_t)size;
    {
        int bits = 0;
        for (uint64_t v = s->front.size; v; v &= v - 1)
            bits++;
        if (bits != s->front.n)
            return err_set(e, CUST_ESTORE, "store %s: audit frontier does not match its size", s->path);
    }
    return CUST_OK;
}

static void sq_close(store *base)
{
    sqlite_store *s = (sqlite_store *)base;
    if (!s)
        return;
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(s->st[i]);
    if (s->in_tx)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(s->db);
    buf_release(&s->entry);
    free(s->path);
    free(s);
}

/* Bring a store written by an older custody up to SCHEMA_VERSION, inside
 * the opening transaction. 1 -> 2: the contract hash of records and
 * rejections. 2 -> 3: the record_index table (created empty by `schema`;
 * custody index rebuild fills it for the versions already stored). */
static cust_code migrate(sqlite_store *s, struct err *e)
{
    sqlite3_stmt *st;
    int has = 0, has_index = 0;
    cust_code rc;
    if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM pragma_table_info('records') WHERE name='contract_hash'", -1, &st,
                           NULL) != SQLITE_OK)
        return db_err(s, e, "reading the schema");
    has = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM sqlite_master WHERE type='table' AND name='record_index'", -1, &st,
                           NULL) != SQLITE_OK)
        return db_err(s, e, "reading the schema");
    has_index = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    if (!has) {
        rc = exec(s, "DROP TRIGGER IF EXISTS records_no_update;"
                     "ALTER TABLE records ADD COLUMN contract_hash TEXT;"
                     "ALTER TABLE quarantine ADD COLUMN contract_hash TEXT;", e);
        if (rc)
            return rc;
    }
    /* The version moves only with the change that makes it: a store whose
     * tables are already current but whose meta says otherwise was edited,
     * and the integrity check reports it instead of this open hiding it. */
    if (!has_index)
        return exec(s, "UPDATE meta SET v='" SCHEMA_VERSION "' WHERE k='schema_version' AND v IN ('1', '2')", e);
    return CUST_OK;
}

static cust_code sq_open(const char *location, unsigned flags, store **out, struct err *e)
{
    sqlite_store *s = calloc(1, sizeof *s);
    cust_code rc;
    *out = NULL;
    if (!s || !(s->path = strdup(location))) {
        free(s);
        return err_set(e, CUST_ENOMEM, "out of memory");
    }
    s->base.ops = &store_sqlite_ops;
    buf_init(&s->entry, 64u << 20);
    {
        /* A new store is readable by its owner only: records may hold
         * personal data. SQLite gives its -wal and -shm files the same
         * mode as the database. An existing file keeps its mode. */
        int fd = open(location, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0)
            close(fd);
    }
    if (sqlite3_open_v2(location, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        rc = s->db ? db_err(s, e, "cannot open") : err_set(e, CUST_ENOMEM, "out of memory");
        goto fail;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, 10000);
    if ((rc = exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;", e)))
        goto fail;
    if ((rc = exec(s, "BEGIN IMMEDIATE", e)))
        goto fail;
    if ((rc = exec(s, schema_tables, e)) || (rc = migrate(s, e)) || (rc = exec(s, schema, e)) ||
        (rc = exec(s, "INSERT OR IGNORE INTO meta(k, v) VALUES('schema_version', '" SCHEMA_VERSION "');"
                      "INSERT OR IGNORE INTO meta(k, v) VALUES('frontier_size', '0');", e))) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        goto fail;
    }
    if ((rc = exec(s, "COMMIT", e)))
        goto fail;
    for (int i = 0; i < ST_COUNT; i++)
        if (sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL) != SQLITE_OK) {
            rc = db_err(s, e, "preparing statements");
            goto fail;
        }
    if ((rc = load_frontier(s, e))) {
        if (!(flags & STORE_OPEN_VERIFY))
            goto fail;
        /* verify recomputes everything from the leaves and reports what is
         * wrong; this handle just must not append on a broken frontier */
        err_clear(e);
        rc = CUST_OK;
        s->front_broken = 1;
    }
    *out = &s->base;
    return CUST_OK;
fail:
    sq_close(&s->base);
    return rc;
}

static void sq_rollback(store *base);

/* Reload the frontier when the stored one has moved on (one indexed read
 * per transaction). Inside the write transaction, so it cannot move again
 * before this transaction commits. */
static cust_code sync_frontier(sqlite_store *s, struct err *e)
{
    sqlite3_stmt *st = stmt(s, ST_FRONT_SIZE);
    sqlite3_int64 size = -1;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        size = sqlite3_column_int64(st, 0);
    else if (rc != SQLITE_DONE)
        return db_err(s, e, "reading the audit frontier");
    sqlite3_reset(st);
    if (size == (sqlite3_int64)s->front.size)
        return CUST_OK;
    return load_frontier(s, e);
}

static cust_code sq_begin(store *base, struct err *e)
{
    sqlite_store *s = (sqlite_store *)base;
    cust_code rc;
    /* IMMEDIATE takes the write lock now, so a concurrent writer waits here
     * (busy timeout) instead of failing at the first insert. */
    if ((rc = FAILPOINT(s, e, "store.begin.before")) || (rc = exec(s, "BEGIN IMMEDIATE", e)))
        return rc;
    s->in_tx = 1;
    /* Another process (a poll beside `custody publish`, an operator command
     * beside the daemon) may have appended since this handle last wrote:
     * under the write lock, continue the log from the stored frontier. */
    if (!s->front_broken && (rc = sync_frontier(s, e))) {
        sq_rollback(base);
        return rc;
    }
    s->front_saved = s->front;
    return CUST_OK;
}

static cust_code save_frontier(sqlite_store *s, struct err *e)
{
    sqlite3_stmt *st;
    char hex[65], num[32];
    cust_code rc;
    if (s->front.size == s->front_saved.size)
        return CUST_OK;
    if ((rc = FAILPOINT(s, e, "store.frontier.before")))
        return rc;
    for (int i = 0; i < s->front.n; i++) {
        st = stmt(s, ST_FRONT_PUT);
        sqlite3_bind_int(st, 1, i);
        merkle_hex(s->front.h[i], hex);
        bind_text(st, 2, hex);
        if (sqlite3_step(st) != SQLITE_DONE)
            return db_err(s, e, "saving the audit frontier");
    }
    st = stmt(s, ST_FRONT_DEL);
    sqlite3_bind_int(st, 1, s->front.n);
    if (sqlite3_step(st) != SQLITE_DONE)
        return db_err(s, e, "saving the audit frontier");
    st = stmt(s, ST_META_PUT);
    snprintf(num, sizeof num, "%llu", (unsigned long long)s->front.size);
    bind_text(st, 1, "frontier_size");
    bind_text(st, 2, num);
    if (sqlite3_step(st) != SQLITE_DONE)
        return db_err(s, e, "saving the audit frontier");
    return FAILPOINT(s, e, "store.frontier.after");
}

static void sq_rollback(store *base)
{
    sqlite_store *s = (sqlite_store *)base;
    if (!s->in_tx)
        return;
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_reset(s->st[i]);
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    s->in_tx = 0;
    s->front = s->front_saved;
}

static cust_code run_list(sqlite_store *s, sqlite3_stmt *st, store_row_cb cb, void *ctx, struct err *e);

static cust_code sq_webhook_seen(store *base, const char *source, const char *id, const char *at, int *dup,
                                 struct err *e)
{
    sqlite_store *s = (sqlite_store *)base;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "INSERT OR IGNORE INTO webhook_seen(source, id, received_at) VALUES(?1,?2,?3)", -1,
                           &st, NULL) != SQLITE_OK)
        return db_err(s, e, "recording a webhook delivery");
    bind_text(st, 1, source);
    bind_text(st, 2, id);
    bind_text(st, 3, at);
    if (sqlite3_step(st) != SQLITE_DONE) {
        sqlite3_finalize(st);
        return db_err(s, e, "recording a webhook delivery");
    }
    *dup = sqlite3_changes(s->db) == 0;
    sqlite3_finalize(st);
    return CUST_OK;
}

static cust_code sq_webhook_hold(store *base, const char *source, const char *key, const char *webhook_id,
                                 const char *payload, const char *at, const char *expires_at, int64_t *seq,
                                 struct err *e)
{
    sqlite_store *s = (sqlite_store *)base;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "INSERT INTO webhook_holds(source, key, webhook_id, payload, received_at, expires_at)"
                           " VALUES(?1,?2,?3,?4,?5,?6)", -1, &st, NULL) != SQLITE_OK)
        return db_err(s, e, "holding a webhook");
    bind_text(st, 1, source);
    bind_text(st, 2, key);
    bind_text(st, 3, webhook_id);
    bind_text(st, 4, payload);
    bind_text(st, 5, at);
    bind_text(st, 6, expires_at);
    if (sqlite3_step(st) != SQLITE_DONE) {
        sqlite3_finalize(st);
        return db_err(s, e, "holding a webhook");
    }
    *seq = sqlite3_last_insert_rowid(s->db);
    sqlite3_finalize(st);
    return CUST_OK;
}

static cust_code sq_webhook_holds(store *base, const char *source, const char *key, const char *before,
                                  store_row_cb cb, void *ctx, struct err *e)
{
    sqlite_store *s = (sqlite_store *)base;
    sqlite3_stmt *st;
    const char *sql = key ? "SELECT seq, source, key, webhook_id, payload, received_at, expires_at FROM webhook_holds"
                            " WHERE source = ?1 AND key = ?2 AND status = 'held' ORDER BY seq"
                          : "SELECT seq, source, key, webhook_id, payload, received_at, expires_at FROM webhook_holds"
                            " WHERE status = 'held' AND (?3 IS NULL OR expires_at < ?3) ORDER BY seq";
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_err(s, e, "listing held webhooks");
    if (key) {
        bind_text(st, 1, source);
        bind_text(st, 2, key);
    } else if (before) {
        bind_text(st, 3, before);
    }
    return run_list(s, st, cb, ctx, e);
}

static cust_code sq_webhook_settle(store *base, int64_t seq, const char *status, const char *at, struct err *e)
{
    sqlite_store *s = (sqlite_store *)base;
    sqlite3_stmt *st;
    int changed;
    if (sqlite3_prepare_v2(s->db, "UPDATE webhook_holds SET status = ?2, settled_at = ?3 WHERE seq = ?1 AND status = "
                           "'held'", -1, &st, NULL) != SQLITE_OK)
        return db_err(s, e, "settling a held webhook");
    sqlite3_bind_int64(st, 1, seq);
    bind_text(st, 2, status);
    bind_text(st, 3, at);
    if (sqlite3_step(st) != SQLITE_DONE) {
        sqlite3_finalize(st);
        return db_err(s, e, "settling a held webhook");
    }
    changed = sqlite3_changes(s->db);
    sqlite3_finalize(st);
    if (changed != 1)
        return err_set(e, CUST_ESTORE, "held webhook %lld is no longer held", (long long)seq);
    return CUST_OK;
}

static cust_code sq_savepoint(store *base, int op, struct err *e)
{
    sqlite_store *s = (sqlite_store *)base;
    cust_code rc;
    if (!s->in_tx)
        return err_set(e, CUST_ESTORE, "store %s: internal: a savepoint outside a transaction", s->path);
    switch (op) {
    case STORE_SP_BEGIN:
        if ((rc = exec(s, "SAVEPOINT custody_unit", e)))
            return rc;
        s->front_sp = s->front;
        return CUST_OK;
    case STORE_SP_RELEASE:
        for (int i = 0; i < ST_COUNT; i++)
            sqlite3_reset(s->st[i]);
        return exec(s, "RELEASE custody_unit", e);
    case STORE_SP_ROLLBACK:
        for (int i = 0; i < ST_COUNT; i++)
            sqlite3_reset(s->st[i]);
        if ((rc = exec(s, "ROLLBACK TO custody_unit", e)) || (rc = exec(s, "RELEASE custody_unit", e)))
            return rc;
        s->front = s->front_sp;
        return CUST_OK;
    default:
        return err_set(e, CUST_ESTORE, "store %s: internal: savepoint op %d", s->path, op);
    }
}

static cust_code sq_commit(store *base, struct err *e)
{
    sqlite_store *s = (sqlite_store *)base;
    cust_code rc;
    if ((rc = save_frontier(s, e))) {
        sq_rollback(base);
        return rc;
    }
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_reset(s->st[i]);
    if ((rc = FAILPOINT(s, e, "store.commit.before")) || (rc = exec(s, "COMMIT", e))) {
        sq_rollback(base);
        return rc;
    }
    s->in_tx = 0;
    /* committed and durable, the caller not yet told */
    return FAILPOINT(s, e, "store.commit.after");
}

void store_source_state_release(store_source_state *st)
{
    free(st->cursor);
    free(st->last_poll_at);
    free(st->last_result);
    memset(st, 0, sizeof *st);
}

static char *col_dup(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? strdup((const char *)t) : NULL;
}

static cust_code sq_source_get(store *base, const char *source, store_source_state *out, struct err *e)
{
    sqlite_store *s = (sqlite_store *)base;
    sqlite3_stmt *st = stmt(s, ST_SRC_GET);
    int rc;
    memset(out, 0, sizeof *out);
    bind_text(st, 1, source);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->exists = 1;
        out->cursor = col_dup(st, 0);
        out->last_poll_at = col_dup(st, 1);
        out->last_result = col_dup(st, 2);
    } else if (rc != SQLITE_DONE) {
        return db_err(s, e, "reading source state");
    }
    sqlite3_reset(st);
    return CUST_OK;
}

static cust_code sq_kv_get(store *base, const char *source, const char *key, char **value, struct err *e)
{
    sqlite_store *s = (sqlite_store *)base;
    sqlite3_stmt *st = stmt(s, ST_KV_GET);
    int rc;
    *value = NULL;
    bind_text(st, 1, source);
    bind_text(st, 2, key);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        if (!(*value = col_dup(st, 0))) {
            sqlite3_reset(st);
            return err_set(e, CUST_ENOMEM, "out of memory");
        }
    } else if (rc != SQLITE_DONE) {
        return db_err(s, e, "reading source state");
    }
    sqlite3_reset(st);
    return CUST_OK;
}

static cust_code sq_kv_put(store *base, const char *source, const char *key, const char *value, struct err *e)
{
    sqlite_store *s = (sqlite_store *)base;
    sqlite3_stmt *st;
    cust_code rc;
    if ((rc = FAILPOINT(s, e, "store.kv.before")))
        return rc;
    st = stmt(s, value ? ST_KV_PUT : ST_KV_DEL);
    bind_text(st, 1, source);
    bind_text(st, 2, key);
    if (value)
        bind_text(st, 3, value);
    if (sqlite3_step(st) != SQLITE_DONE)
        return db_err(s, e, "saving source state");
    return FAILPOINT(s, e, "store.kv.after");
}

static cust_code simple_list(store *base, const char *sql, store_row_cb cb, void *ctx, struct err *e);

static cust_code sq_record_purge(store *base, const char *source, const char *key, int64_t version,
                                 const char *at, const char *actor, const char *rule, struct err *e)
{
    sqlite_store *s = (sqlite_store *)base;
    sqlite3_stmt *st = stmt(s, ST_PURGE_MARK);
    bind_text(st, 1, source);
    bind_text(st, 2, key);
    sqlite3_bind_int64(st, 3, version);
    bind_text(st, 4, at);
    bind_text(st, 5, actor);
    bind_text(st, 6, rule);
    if (sqlite3_step(st) != SQLITE_DONE)
        return db_err(s, e, "marking a record purged");
    if (sqlite3_changes(s->db) != 1)
        return err_set(e, CUST_ESTORE, "record %s %s version %lld: not found or already purged", source, key,
                       (long long)version);
    st = stmt(s, ST_IX_PURGE);
    bind_text(st, 1, source);
    bind_text(st, 2, key);
    sqlite3_bind_int64(st, 3, version);
    if (sqlite3_step(st) != SQLITE_DONE)
        return db_err(s, e, "removing a purged record's index terms");
    st = stmt(s, ST_PURGE_REC);
    bind_text(st, 1, source);
    bind_text(st, 2, key);
    sqlite3_bind_int64(st, 3, version);
    if (sqlite3_step(st) != SQLITE_DONE)
        return db_err(s, e, "purging a record");
    return CUST_OK;
}

static cust_code sq_index_put(store *base, const char *source, const char *key, int64_t version, const char *field,
                              const char *value, struct err *e)
{
    sqlite_store *s = (sqlite_store *)base;
    sqlite3_stmt *st = stmt(s, ST_IX_PUT);
    int rc;
    bind_text(st, 1, source);
    bind_text(st, 2, key);
    sqlite3_bind_int64(st, 3, version);
    bind_text(st, 4, field);
    bind_text(st, 5, value);
    if (sqlite3_step(st) != SQLITE_DONE)
        return db_err(s, e, "writing the record index");
    if (sqlite3_changes(s->db) == 1)
        return CUST_OK;
    /* nothing inserted: the term was there already, or there is no such version */
    st = stmt(s, ST_IX_REC);
    bind_text(st, 1, source);
    bind_text(st, 2, key);
    sqlite3_bind_int64(st, 3, version);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return CUST_OK;
    if (rc != SQLITE_DONE)
        return db_err(s, e, "writing the record index");
    return err_set(e, CUST_ESTORE, "store %s: internal: indexing %s %s version %lld, which is not stored", s->path,
                   source, key, (long long)version);
}

static cust_code sq_index_lookup(store *base, const char *source, const char *field, const char *value, int history,
                                 store_row_cb cb, void *ctx, struct err *e)
{
    sqlite_store *s = (sqlite_store *)base;
    sqlite3_stmt *st;
    /* The terms of (field, value) are one range of the primary key; each
     * names one version by rowid. */
    const char *sql =
        history ? "SELECT r.source,r.key,r.version,r.content_hash,r.canonical,r.raw_hash,r.fetched_at,r.request_id,"
                  "r.cycle_id,r.config_hash,r.contract_hash FROM record_index i JOIN records r ON r.id = i.record_id "
                  "WHERE i.field=?1 AND i.value=?2 AND (?3 IS NULL OR r.source=?3) ORDER BY r.source, r.key, r.version"
                : "SELECT r.source,r.key,r.version,r.content_hash,r.canonical,r.raw_hash,r.fetched_at,r.request_id,"
                  "r.cycle_id,r.config_hash,r.contract_hash FROM record_index i JOIN records r ON r.id = i.record_id "
                  "WHERE i.field=?1 AND i.value=?2 AND (?3 IS NULL OR r.source=?3) AND r.version=(SELECT max(version) "
                  "FROM records WHERE source=r.source AND key=r.key) ORDER BY r.source, r.key";
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_err(s, e, "looking up the record index");
    bind_text(st, 1, field);
    bind_text(st, 2, value);
    if (source)
        bind_text(st, 3, source);
    return run_list(s, st, cb, ctx, e);
}

static cust_code sq_quarantine_set_status(store *base, int64_t id, const char *status, const char *by,
                                          const char *at, const char *why, struct err *e)
{
    sqlite_store *s = (sqlite_store *)base;
    sqlite3_stmt *st = stmt(s, ST_Q_STATUS);
    sqlite3_bind_int64(st, 1, id);
    bind_text(st, 2, status);
    bind_text(st, 3, by);
    bind_text(st, 4, at);
    bind_text(st, 5, why);
    if (sqlite3_step(st) != SQLITE_DONE)
        return db_err(s, e, "updating a quarantine entry");
    if (sqlite3_changes(s->db) != 1)
        return err_set(e, CUST_ESTORE, "quarantine entry %lld is not open (already replayed or resolved, or no such "
                       "id: custody quarantine list shows them)", (long long)id);
    return CUST_OK;
}

static cust_code sq_hold_add(store *base, const char *source, const char *key, const char *reason,
                             const char *actor, const char *at, int64_t *id, struct err *e)
{
    sqlite_store *s = (sqlite_store *)base;
    sqlite3_stmt *st = stmt(s, ST_HOLD_ADD);
    bind_text(st, 1, source);
    if (key)
        bind_text(st, 2, key);
    else
        sqlite3_bind_null(st, 2);
    bind_text(st, 3, reason);
    bind_text(st, 4, actor);
    bind_text(st, 5, at);
    if (sqlite3_step(st) != SQLITE_DONE)
        return db_err(s, e, "adding a legal hold");
    *id = sqlite3_last_insert_rowid(s->db);
    return CUST_OK;
}

static cust_code sq_hold_release(store *base, int64_t id, const char *reason, const char *actor, const char *at,
                                 struct err *e)
{
    sqlite_store *s = (sqlite_store *)base;
    sqlite3_stmt *st = stmt(s, ST_HOLD_REL);
    sqlite3_bind_int64(st, 1, id);
    bind_text(st, 2, at);
    bind_text(st, 3, actor);
    bind_text(st, 4, reason);
    if (sqlite3_step(st) != SQLITE_DONE)
        return db_err(s, e, "releasing a legal hold");
    if (sqlite3_changes(s->db) != 1)
        return err_set(e, CUST_ESTORE, "no active legal hold with id %lld (custody hold list shows them)",
                       (long long)id);
    return CUST_OK;
}

static cust_code sq_holds_list(store *base, int active_only, store_row_cb cb, void *ctx, struct err *e)
{
    return simple_list(base, active_only
                                 ? "SELECT id, source, key, reason, actor, created_at, released_at, released_by, "
                                   "release_reason FROM holds WHERE released_at IS NULL ORDER BY id"
                                 : "SELECT id, source, key, reason, actor, created_at, released_at, released_by, "
                                   "release_reason FROM holds ORDER BY id",
                       cb, ctx, e);
}

static cust_code sq_source_set_cursor(store *base, const char *source, const char *cursor, struct err *e)
{
    sqlite_store *s = (sqlite_store *)base;
    sqlite3_stmt *st;
    cust_code rc;
    if ((rc = FAILPOINT(s, e, "store.cursor.before")))
        return rc;
    st = stmt(s, ST_SRC_CUR);
    bind_text(st, 1, source);
    if (cursor)
        bind_text(st, 2, cursor);
    else
        sqlite3_bind_null(st, 2);
    if (sqlite3_step(st) != SQLITE_DONE)
        return db_err(s, e, "saving the cursor");
    return FAILPOINT(s, e, "store.cursor.after");
}

static cust_code sq_source_set_result(store *base, const char *source, const char *at, const char *result,
                                      struct err *e)
{
    sqlite_store *s = (sqlite_store *)base;
    sqlite3_stmt *st;
    cust_code rc;
    if ((rc = FAILPOINT(s, e, "store.result.before")))
        return rc;
    st = stmt(s, ST_SRC_RES);
    bind_text(st, 1, source);
    bind_text(st, 2, at);
    bind_text(st, 3, result);
    if (sqlite3_step(st) != SQLITE_DONE)
        return db_err(s, e, "saving the poll result");
    return FAILPOINT(s, e, "store.result.after");
}

static cust_code sq_record_put(store *base, const store_record *r, store_outcome *out, int64_t *version,
                               struct err *e)
{
    sqlite_store *s = (sqlite_store *)base;
    sqlite3_stmt *st = stmt(s, ST_HEAD);
    sqlite3_int64 v = 0;
    cust_code fc;
    int rc;
    bind_text(st, 1, r->source);
    bind_text(st, 2, r->key);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *h = (const char *)sqlite3_column_text(st, 1);
        v = sqlite3_column_int64(st, 0);
        if (h && strcmp(h, r->content_hash) == 0) {
            sqlite3_reset(st);
            *out = STORE_DUPLICATE;
            *version = v;
            return CUST_OK;
        }
    } else if (rc != SQLITE_DONE) {
        return db_err(s, e, "looking up the latest version");
    }
    sqlite3_reset(st);
    if ((fc = FAILPOINT(s, e, "store.record.before")))
        return fc;
    st = stmt(s, ST_INS_REC);
    bind_text(st, 1, r->source);
    bind_text(st, 2, r->key);
    sqlite3_bind_int64(st, 3, v + 1);
    bind_text(st, 4, r->content_hash);
    sqlite3_bind_text(st, 5, r->canonical, (int)r->canonical_len, SQLITE_STATIC);
    bind_text(st, 6, r->raw_hash);
    bind_text(st, 7, r->fetched_at);
    bind_text(st, 8, r->request_id);
    bind_text(st, 9, r->cycle_id);
    bind_text(st, 10, r->config_hash);
    bind_text(st, 11, r->contract_hash);
    if (sqlite3_step(st) != SQLITE_DONE)
        return db_err(s, e, "storing a record");
    *out = v ? STORE_VERSION : STORE_NEW;
    *version = v + 1;
    return FAILPOINT(s, e, "store.record.after");
}

static cust_code sq_reject_put(store *base, const store_reject *r, store_outcome *out, int64_t *id,
                               struct err *e)
{
    sqlite_store *s = (sqlite_store *)base;
    sqlite3_stmt *st;
    cust_code rc;
    if ((rc = FAILPOINT(s, e, "store.reject.before")))
        return rc;
    st = stmt(s, ST_INS_REJ);
    bind_text(st, 1, r->source);
    bind_text(st, 2, r->recon_key);
    sqlite3_bind_blob(st, 3, r->raw, (int)r->raw_len, SQLITE_STATIC);
    bind_text(st, 4, r->errors_json);
    bind_text(st, 5, r->seen_at);
    bind_text(st, 6, r->request_id);
    bind_text(st, 7, r->cycle_id);
    bind_text(st, 8, r->contract_hash);
    if (sqlite3_step(st) != SQLITE_ROW)
        return db_err(s, e, "storing a rejection");
    *id = sqlite3_column_int64(st, 0);
    *out = sqlite3_column_int64(st, 1) == 1 ? STORE_NEW : STORE_DUPLICATE;
    sqlite3_reset(st);
    return FAILPOINT(s, e, "store.reject.after");
}

cust_code store_audit_entry_bytes(int64_t seq, const store_audit *a, buf *out, struct err *e)
{
    /* Member names are ASCII and written in sorted order, so this is the
     * RFC 8785 form provided detail is itself canonical. */
    buf_reset(out);
    if (buf_adds(out, "{\"action\":") || json_write_string(out, a->action, strlen(a->action)) ||
        buf_adds(out, ",\"actor\":") || json_write_string(out, a->actor, strlen(a->actor)) ||
        buf_adds(out, ",\"cycle\":") || json_write_string(out, a->cycle_id, strlen(a->cycle_id)) ||
        buf_adds(out, ",\"detail\":") || buf_adds(out, a->detail) ||
        buf_addf(out, ",\"seq\":%lld", (long long)seq) ||
        buf_adds(out, ",\"source\":") || json_write_string(out, a->source, strlen(a->source)) ||
        buf_adds(out, ",\"subject\":") || json_write_string(out, a->subject, strlen(a->subject)) ||
        buf_adds(out, ",\"time\":") || json_write_string(out, a->time, strlen(a->time)) ||
        buf_addc(out, '}'))
        return err_set(e, CUST_ENOMEM, "audit entry too large");
    return CUST_OK;
}

static cust_code sq_audit_append(store *base, const store_audit *a, int64_t *seq, struct err *e)
{
    if (((sqlite_store *)base)->front_broken)
        return err_set(e, CUST_ESTORE, "the audit frontier is damaged: run custody audit verify");
    sqlite_store *s = (sqlite_store *)base;
    sqlite3_stmt *st;
    unsigned char leaf[MERKLE_HASH];
    char hex[65];
    int64_t n = (int64_t)s->front.size + 1;
    cust_code rc;
    if ((rc = store_audit_entry_bytes(n, a, &s->entry, e)))
        return rc;
    merkle_leaf_hash(s->entry.ptr, s->entry.len, leaf);
    merkle_hex(leaf, hex);
    if ((rc = FAILPOINT(s, e, "store.audit.before")))
        return rc;
    st = stmt(s, ST_INS_AUD);
    sqlite3_bind_int64(st, 1, n);
    bind_text(st, 2, a->time);
    bind_text(st, 3, a->actor);
    bind_text(st, 4, a->action);
    bind_text(st, 5, a->source);
    bind_text(st, 6, a->subject);
    bind_text(st, 7, a->detail);
    bind_text(st, 8, a->cycle_id);
    bind_text(st, 9, hex);
    if (sqlite3_step(st) != SQLITE_DONE)
        return db_err(s, e, "appending to the audit log");
    merkle_frontier_push(&s->front, leaf);
    if (seq)
        *seq = n;
    return FAILPOINT(s, e, "store.audit.after");
}

static cust_code sq_checkpoint(store *base, const char *time, const struct sign_key *key, int64_t *tree_size,
                               char root_hex[65], struct err *e)
{
    sqlite_store *s = (sqlite_store *)base;
    sqlite3_stmt *st;
    unsigned char root[MERKLE_HASH];
    buf sig;
    cust_code rc = CUST_OK;
    if (s->front_broken)
        return err_set(e, CUST_ESTORE, "the audit frontier is damaged: run custody audit verify");
    merkle_frontier_root(&s->front, root);
    merkle_hex(root, root_hex);
    *tree_size = (int64_t)s->front.size;
    buf_init(&sig, 4096);
    if (key && (rc = checkpoint_sign(key, *tree_size, root_hex, time, &sig, e)))
        goto out;
    if ((rc = FAILPOINT(s, e, "store.checkpoint.before")))
        goto out;
    st = stmt(s, ST_CKP);
    sqlite3_bind_int64(st, 1, *tree_size);
    bind_text(st, 2, root_hex);
    bind_text(st, 3, time);
    if (key)
        bind_text(st, 4, sig.ptr);
    else
        sqlite3_bind_null(st, 4);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = db_err(s, e, "writing a checkpoint");
    else
        rc = FAILPOINT(s, e, "store.checkpoint.after");
out:
    buf_release(&sig);
    return rc;
}

static cust_code run_list(sqlite_store *s, sqlite3_stmt *st, store_row_cb cb, void *ctx, struct err *e)
{
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_row row;
        row.ncols = sqlite3_column_count(st);
        if (row.ncols > 16)
            row.ncols = 16;
        for (int i = 0; i < row.ncols; i++) {
            row.cols[i] = (const char *)sqlite3_column_text(st, i);
            row.lens[i] = (size_t)sqlite3_column_bytes(st, i);
        }
        if (cb(ctx, &row))
            break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        cust_code c = db_err(s, e, "listing");
        sqlite3_finalize(st);
        return c;
    }
    sqlite3_finalize(st);
    return CUST_OK;
}

static cust_code sq_records_list(store *base, const char *source, const char *key, int history,
                                 store_row_cb cb, void *ctx, struct err *e)
{
    sqlite_store *s = (sqlite_store *)base;
    sqlite3_stmt *st;
    const char *cols = "source,key,version,content_hash,canonical,raw_hash,fetched_at,request_id,"
                       "cycle_id,config_hash,contract_hash";
    char sql[1024];
    /* "?1 IS NULL OR source=?1" is planned before the binding: a full scan
     * for every lookup of one key (the outbox does one per message). Name
     * only the columns given, so the (source, key, version) index serves. */
    const char *where = source && key ? "source=?1 AND key=?2" : source ? "source=?1" : key ? "key=?2" : "1";
    if (history)
        snprintf(sql, sizeof sql, "SELECT %s FROM records WHERE %s ORDER BY source, key, version", cols, where);
    else
        snprintf(sql, sizeof sql, "SELECT %s FROM records r WHERE %s AND version=(SELECT max(version) FROM records "
                                  "WHERE source=r.source AND key=r.key) ORDER BY source, key", cols, where);
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_err(s, e, "listing records");
    if (source)
        bind_text(st, 1, source);
    if (key)
        bind_text(st, 2, key);
    return run_list(s, st, cb, ctx, e);
}

static cust_code sq_quarantine_list(store *base, const char *source, int64_t id, store_row_cb cb, void *ctx,
                                    struct err *e)
{
    sqlite_store *s = (sqlite_store *)base;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT id,source,recon_key,raw,errors,first_seen,last_seen,times_seen,"
                                  "status,request_id,cycle_id,contract_hash FROM quarantine WHERE (?1 IS NULL OR source=?1)"
                                  " AND (?2 IS NULL OR id=?2) ORDER BY id", -1, &st, NULL) != SQLITE_OK)
        return db_err(s, e, "listing quarantine");
    if (source)
        bind_text(st, 1, source);
    if (id > 0)
        sqlite3_bind_int64(st, 2, id);
    return run_list(s, st, cb, ctx, e);
}

static cust_code simple_list(store *base, const char *sql, store_row_cb cb, void *ctx, struct err *e)
{
    sqlite_store *s = (sqlite_store *)base;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_err(s, e, "listing");
    return run_list(s, st, cb, ctx, e);
}

static cust_code sq_audit_list(store *base, store_row_cb cb, void *ctx, struct err *e)
{
    return simple_list(base, "SELECT seq,time,actor,action,source,subject,detail,cycle_id,leaf_hash "
                             "FROM audit ORDER BY seq", cb, ctx, e);
}

static cust_code sq_audit_list_from(store *base, int64_t after, int64_t limit, store_row_cb cb, void *ctx,
                                    struct err *e)
{
    sqlite_store *s = (sqlite_store *)base;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT seq,time,actor,action,source,subject,detail,cycle_id,leaf_hash "
                                  "FROM audit WHERE seq > ?1 ORDER BY seq LIMIT ?2", -1, &st, NULL) != SQLITE_OK)
        return db_err(s, e, "listing the audit log");
    sqlite3_bind_int64(st, 1, after);
    sqlite3_bind_int64(st, 2, limit > 0 ? limit : -1);
    return run_list(s, st, cb, ctx, e);
}

static cust_code sq_snapshot(store *base, int on, struct err *e)
{
    sqlite_store *s = (sqlite_store *)base;
    cust_code rc;
    if (!on)
        return exec(s, "COMMIT", e);
    if (s->in_tx)
        return err_set(e, CUST_ESTORE, "store %s: internal: a snapshot inside a write transaction", s->path);
    /* WAL: a read transaction's snapshot starts at its first read */
    if ((rc = exec(s, "BEGIN DEFERRED; SELECT count(*) FROM meta;", e)))
        return rc;
    return CUST_OK;
}

static cust_code sq_checkpoints_list(store *base, store_row_cb cb, void *ctx, struct err *e)
{
    return simple_list(base, "SELECT tree_size, root, time, signature FROM checkpoints ORDER BY tree_size", cb, ctx, e);
}

static cust_code sq_frontier_list(store *base, store_row_cb cb, void *ctx, struct err *e)
{
    return simple_list(base, "SELECT -1, v FROM meta WHERE k='frontier_size' "
                             "UNION ALL SELECT level, hash FROM audit_frontier ORDER BY 1", cb, ctx, e);
}

static cust_code sq_integrity(store *base, char *what, size_t n, struct err *e)
{
    sqlite_store *s = (sqlite_store *)base;
    sqlite3_stmt *st;
    int rc;
    what[0] = '\0';
    if (sqlite3_prepare_v2(s->db, "PRAGMA integrity_check(1)", -1, &st, NULL) != SQLITE_OK)
        return db_err(s, e, "checking the database file");
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *r = (const char *)sqlite3_column_text(st, 0);
        if (!r || strcmp(r, "ok") != 0)
            snprintf(what, n, "%s", r ? r : "no answer");
    } else if (rc != SQLITE_DONE) {
        snprintf(what, n, "%s", sqlite3_errmsg(s->db));
    }
    sqlite3_finalize(st);
    if (!what[0]) {
        /* the schema version decides how every row is read */
        if (sqlite3_prepare_v2(s->db, "SELECT v FROM meta WHERE k='schema_version'", -1, &st, NULL) != SQLITE_OK)
            return db_err(s, e, "checking the schema version");
        if (sqlite3_step(st) != SQLITE_ROW || !sqlite3_column_text(st, 0) ||
            strcmp((const char *)sqlite3_column_text(st, 0), SCHEMA_VERSION) != 0)
            snprintf(what, n, "meta schema_version is %s, this custody writes %s",
                     sqlite3_column_text(st, 0) ? (const char *)sqlite3_column_text(st, 0) : "missing",
                     SCHEMA_VERSION);
        sqlite3_finalize(st);
    }
    return CUST_OK;
}

static cust_code sq_sources_list(store *base, store_row_cb cb, void *ctx, struct err *e)
{
    return simple_list(base, "SELECT name, cursor, last_poll_at, last_result, updated_at FROM sources "
                             "ORDER BY name", cb, ctx, e);
}

const store_ops store_sqlite_ops = {
    .scheme = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .source_get = sq_source_get,
    .source_set_cursor = sq_source_set_cursor,
    .source_set_result = sq_source_set_result,
    .record_purge = sq_record_purge,
    .hold_add = sq_hold_add,
    .quarantine_set_status = sq_quarantine_set_status,
    .hold_release = sq_hold_release,
    .holds_list = sq_holds_list,
    .kv_get = sq_kv_get,
    .kv_put = sq_kv_put,
    .record_put = sq_record_put,
    .reject_put = sq_reject_put,
    .audit_append = sq_audit_append,
    .checkpoint = sq_checkpoint,
    .records_list = sq_records_list,
    .quarantine_list = sq_quarantine_list,
    .audit_list = sq_audit_list,
    .audit_list_from = sq_audit_list_from,
    .snapshot = sq_snapshot,
    .checkpoints_list = sq_checkpoints_list,
    .sources_list = sq_sources_list,
    .frontier_list = sq_frontier_list,
    .integrity = sq_integrity,
    .savepoint = sq_savepoint,
    .webhook_seen = sq_webhook_seen,
    .webhook_hold = sq_webhook_hold,
    .webhook_holds = sq_webhook_holds,
    .webhook_settle = sq_webhook_settle,
    .index_put = sq_index_put,
    .index_lookup = sq_index_lookup,
};

static const store_ops *const backends[] = {&store_sqlite_ops, &store_pg_ops};

cust_code store_open_ex(const char *uri, unsigned flags, store **out, struct err *e)
{
    const char *colon = strchr(uri, ':');
    *out = NULL;
    if (!strncmp(uri, "postgres:", 9)) /* libpq's other spelling */
        return store_pg_ops.open(uri + 9, flags, out, e);
    if (colon) {
        size_t n = (size_t)(colon - uri);
        for (size_t i = 0; i < sizeof backends / sizeof *backends; i++)
            if (strlen(backends[i]->scheme) == n && strncmp(uri, backends[i]->scheme, n) == 0)
                return backends[i]->open(colon + 1, flags, out, e);
        /* "C:/x" or "dir:name/x" may be plain paths; "kind:" without a
         * slash after it names a store kind we do not have. */
        if (colon[1] != '/' && !strchr(uri, '/'))
            return err_set(e, CUST_ESTORE, "store %s: unknown store kind \"%.*s\"; use sqlite:PATH or postgresql://HOST/DB", uri,
                           (int)n, uri);
    }
    return store_sqlite_ops.open(uri, flags, out, e);
}

cust_code store_open(const char *uri, store **out, struct err *e)
{
    return store_open_ex(uri, 0, out, e);
}

void store_close(store *s)
{
    if (s)
        s->ops->close(s);
}
