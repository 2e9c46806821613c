/* test_retention.c - the audited retention purge with an injected "now":
 * versions past their rule are purged (content emptied, hashes kept, one
 * record.purged entry each), legal holds keep theirs, a dry run changes
 * nothing, and the store still verifies afterwards; emptying a record
 * outside the purge is caught by verify. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/jcs.h"
#include "engine/config.h"
#include "engine/retention.h"
#include "engine/verify.h"
#include "io/store.h"

static const char cfg_text[] =
    "store: sqlite:ret.db\n"
    "sources:\n"
    "  - name: made\n"
    "    request: { url: http://127.0.0.1:9/x }\n"
    "    contract: c\n"
    "    retention: { years: 2 }\n"
    "  - name: closed\n"
    "    request: { url: http://127.0.0.1:9/y }\n"
    "    contract: c\n"
    "    retention: { years: 3, from: field, field: closeout }\n"
    "  - name: forever\n"
    "    request: { url: http://127.0.0.1:9/z }\n"
    "    contract: c\n"
    "contracts:\n"
    "  c:\n"
    "    key: [id]\n"
    "    fields: { id: { required: true }, closeout: { type: string } }\n";

static void put(store *s, const char *source, const char *id, const char *closeout, const char *at)
{
    char canon[256], key[64], hash[65], detail[256];
    store_record r;
    store_outcome out;
    int64_t ver;
    struct err e = {0};
    if (closeout)
        snprintf(canon, sizeof canon, "{\"closeout\":\"%s\",\"id\":\"%s\"}", closeout, id);
    else
        snprintf(canon, sizeof canon, "{\"id\":\"%s\"}", id);
    snprintf(key, sizeof key, "[\"%s\"]", id);
    jcs_sha256_hex(canon, strlen(canon), hash);
    r = (store_record){source, key, hash, canon, strlen(canon), hash, at, "req-1", "cyc", "cfg", "k"};
    CHECK_INT(s->ops->record_put(s, &r, &out, &ver, &e), CUST_OK);
    snprintf(detail, sizeof detail, "{\"contract\":\"k\",\"hash\":\"%s\",\"raw_hash\":\"%s\",\"request\":\"req-1\","
             "\"version\":%lld}", hash, hash, (long long)ver);
    {
        store_audit a = {at, "t", out == STORE_NEW ? "record.new" : "record.version", source, key, detail, "cyc"};
        CHECK_INT(s->ops->audit_append(s, &a, NULL, &e), CUST_OK);
    }
}

static long count(const char *db, const char *sql)
{
    sqlite3 *h;
    sqlite3_stmt *st;
    long n = -1;
    if (sqlite3_open(db, &h) != SQLITE_OK)
        return -1;
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return n;
}

int main(void)
{
    char dir[] = "/tmp/custody-test-retention-XXXXXX", db[256], cmd[300];
    config *cfg = NULL;
    store *s = NULL;
    struct err e = {0};
    retention_report r;
    verify_report vr;
    int64_t size, hold;
    char root[65];
    if (!mkdtemp(dir))
        return 1;
    snprintf(db, sizeof db, "%s/ret.db", dir);
    CHECK_INT(config_load_string(cfg_text, strlen(cfg_text), "ret.yaml", &cfg, &e), CUST_OK);
    if (!cfg) {
        fprintf(stderr, "%s\n", e.msg);
        return check_report("test_retention");
    }
    CHECK_INT(store_open(db, &s, &e), CUST_OK);
    CHECK_INT(s->ops->begin(s, &e), CUST_OK);
    {
        /* the cycle the records claim, with the config hash they carry */
        store_audit a = {"2001-01-01T00:00:00.000Z", "t", "poll.start", "made", "", "{\"config_hash\":\"cfg\"}",
                         "cyc"};
        CHECK_INT(s->ops->audit_append(s, &a, NULL, &e), CUST_OK);
    }
    put(s, "made", "a", NULL, "2020-01-01T00:00:00.000Z");  /* due in 2026 (2 years) */
    put(s, "made", "a", "x", "2025-06-01T00:00:00.000Z");   /* version 2: not due */
    put(s, "made", "b", NULL, "2023-12-31T23:59:59.000Z");  /* due */
    put(s, "made", "c", NULL, "2024-06-01T00:00:00.000Z");  /* exactly inside 2 years: not due */
    put(s, "closed", "g1", "2020-05-01", "2026-01-01T00:00:00.000Z"); /* closed 2020 + 3 < 2026: due */
    put(s, "closed", "g1", "2020-05-01T00:00:00Z", "2026-02-01T00:00:00.000Z"); /* v2 same: both due */
    put(s, "closed", "g2", "2024-01-01", "2026-01-01T00:00:00.000Z"); /* not due */
    put(s, "forever", "f", NULL, "2001-01-01T00:00:00.000Z"); /* no rule: never */
    /* a checkpoint carries the time of the entry that closes it */
    CHECK_INT(s->ops->checkpoint(s, "2001-01-01T00:00:00.000Z", NULL, &size, root, &e), CUST_OK);
    CHECK_INT(s->ops->commit(s, &e), CUST_OK);

    /* a dry run reports and changes nothing */
    CHECK_INT(retention_run(cfg, s, "2026-05-01T00:00:00.000Z", 0, "tester", NULL, NULL, 0, NULL, NULL, &r, &e),
              CUST_OK);
    CHECK_INT(r.due, 4);
    CHECK_INT(r.held, 0);
    CHECK_INT(r.purged, 0);
    CHECK_INT(count(db, "SELECT count(*) FROM records WHERE canonical=''"), 0);

    /* a legal hold on closed/g1 keeps both its versions */
    CHECK_INT(s->ops->begin(s, &e), CUST_OK);
    CHECK_INT(s->ops->hold_add(s, "closed", "[\"g1\"]", "audit by sponsor", "tester", "2026-04-01T00:00:00Z", &hold,
                               &e),
              CUST_OK);
    CHECK_INT(s->ops->commit(s, &e), CUST_OK);
    CHECK_INT(retention_run(cfg, s, "2026-05-01T00:00:00.000Z", 1, "tester", NULL, NULL, 0, NULL, NULL, &r, &e),
              CUST_OK);
    CHECK_INT(r.due, 4);
    CHECK_INT(r.held, 2);
    CHECK_INT(r.purged, 2);
    CHECK_INT(count(db, "SELECT count(*) FROM records WHERE canonical=''"), 2);
    CHECK_INT(count(db, "SELECT count(*) FROM records WHERE canonical='' AND source='made' AND "
                        "((key='[\"a\"]' AND version=1) OR key='[\"b\"]')"), 2);
    CHECK_INT(count(db, "SELECT count(*) FROM audit WHERE action='record.purged'"), 2);
    CHECK_INT(count(db, "SELECT count(*) FROM purged"), 2);
    CHECK_INT(verify_store(s, NULL, &vr, &e), CUST_OK);
    if (e.code)
        fprintf(stderr, "verify: %s\n", e.msg);
    CHECK_INT(vr.purged, 2);
    CHECK_INT(vr.records, 8);

    /* released hold: the next run purges g1's two versions; idempotent after */
    CHECK_INT(s->ops->begin(s, &e), CUST_OK);
    CHECK_INT(s->ops->hold_release(s, hold, "closed", "tester", "2026-04-02T00:00:00Z", &e), CUST_OK);
    CHECK_INT(s->ops->commit(s, &e), CUST_OK);
    CHECK_INT(s->ops->begin(s, &e), CUST_OK);
    CHECK(s->ops->hold_release(s, hold, "again", "tester", "2026-04-02T00:00:00Z", &e) != CUST_OK);
    s->ops->rollback(s);
    CHECK_INT(retention_run(cfg, s, "2026-05-01T00:00:00.000Z", 1, "tester", NULL, NULL, 0, NULL, NULL, &r, &e),
              CUST_OK);
    CHECK_INT(r.purged, 2);
    CHECK_INT(retention_run(cfg, s, "2026-05-01T00:00:00.000Z", 1, "tester", NULL, NULL, 0, NULL, NULL, &r, &e),
              CUST_OK);
    CHECK_INT(r.due, 0);
    CHECK_INT(verify_store(s, NULL, &vr, &e), CUST_OK);
    CHECK_INT(vr.purged, 4);
    store_close(s);
    s = NULL;

    /* the purge is the only way to empty a record: a direct UPDATE is
     * refused, and one made with the trigger dropped is caught by verify */
    {
        sqlite3 *h;
        char *msg = NULL;
        CHECK(sqlite3_open(db, &h) == SQLITE_OK);
        CHECK(sqlite3_exec(h, "UPDATE records SET canonical='' WHERE key='[\"c\"]'", NULL, NULL, &msg) != SQLITE_OK);
        sqlite3_free(msg);
        msg = NULL;
        CHECK(sqlite3_exec(h, "DROP TRIGGER records_no_update; UPDATE records SET canonical='' WHERE key='[\"c\"]'",
                           NULL, NULL, &msg) == SQLITE_OK);
        sqlite3_free(msg);
        sqlite3_close(h);
        CHECK_INT(store_open(db, &s, &e), CUST_OK);
        CHECK_INT(verify_store(s, NULL, &vr, &e), CUST_EAUDIT);
        CHECK(strstr(e.msg, "no record.purged audit entry") != NULL);
        store_close(s);
    }
    config_free(cfg);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return check_report("test_retention");
}
