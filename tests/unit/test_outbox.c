/* test_outbox.c - the outbox driver over a real SQLite store and a fake
 * sink: the message id and the canonical envelope (normal, purged,
 * tombstone); the position advances only over the acknowledged prefix,
 * with one outbox.published entry per commit; a failure before the first
 * acknowledgement writes nothing; a second publisher is fenced; a message
 * that can never be sent is final; --once gives up after `attempts`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "core/jcs.h"
#include "engine/outbox.h"
#include "io/store.h"

static char tmpdir[] = "/tmp/custody-test-outbox-XXXXXX";

struct fake {
    size_t ack_limit;   /* acknowledge at most this many per call (then fail) */
    int dup_first;      /* report the first message as a duplicate */
    cust_code fail_rc;  /* what a failing call returns */
    int connect_fails;
    long calls, sent;
    int64_t seqs[64];
    char ids[64][128];
    size_t nseen;
    char last_payload[1024];
};

static cust_code fake_connect(void *ctx, struct err *e)
{
    struct fake *f = ctx;
    if (f->connect_fails > 0) {
        f->connect_fails--;
        return err_set(e, CUST_EHTTP, "fake: cannot connect");
    }
    return CUST_OK;
}

static cust_code fake_publish(void *ctx, outbox_msg *m, size_t n, struct err *e)
{
    struct fake *f = ctx;
    f->calls++;
    for (size_t i = 0; i < n; i++) {
        if (i >= f->ack_limit) {
            snprintf(m[i].why, sizeof m[i].why, "fake refuses");
            continue;
        }
        m[i].acked = f->dup_first && i == 0 ? OUTBOX_DUPLICATE : OUTBOX_STORED;
        if (f->nseen < 64) {
            f->seqs[f->nseen] = m[i].seq;
            snprintf(f->ids[f->nseen], sizeof f->ids[0], "%s", buf_str(&m[i].msg_id));
            f->nseen++;
        }
        snprintf(f->last_payload, sizeof f->last_payload, "%s", buf_str(&m[i].payload));
        f->sent++;
    }
    if (f->ack_limit < n)
        return err_set(e, f->fail_rc ? f->fail_rc : CUST_EHTTP, "fake: %zu of %zu", f->ack_limit, n);
    return CUST_OK;
}

static void fixed_now(char out[32])
{
    snprintf(out, 32, "2026-03-01T00:00:00.000Z");
}

/* Store n versions: key k<i>, with a poll.start before and a poll.end
 * after each, so record entries are seqs 2, 4, 6, ... */
static void fill(store *s, int from, int n, const char *source)
{
    struct err e = {0};
    CHECK_INT(store_begin(s, &e), CUST_OK);
    for (int i = from; i < from + n; i++) {
        char key[32], canon[64], hash[65], detail[256];
        store_record r;
        store_outcome out;
        int64_t version;
        store_audit a = {"2026-03-01T00:00:00.000Z", "t", "poll.start", source, "", "{}", "c"};
        snprintf(key, sizeof key, "[\"k%d\"]", i);
        snprintf(canon, sizeof canon, "{\"id\":\"k%d\",\"n\":%d}", i, i);
        jcs_sha256_hex(canon, strlen(canon), hash);
        r = (store_record){source, key, hash, canon, strlen(canon), hash, "2026-03-01T00:00:00Z", "req", "c", "cfg",
                           "ct"};
        CHECK_INT(s->ops->audit_append(s, &a, NULL, &e), CUST_OK);
        CHECK_INT(s->ops->record_put(s, &r, &out, &version, &e), CUST_OK);
        snprintf(detail, sizeof detail, "{\"contract\":\"ct\",\"hash\":\"%s\",\"raw_hash\":\"%s\",\"request\":\"req\","
                 "\"version\":%lld}", hash, hash, (long long)version);
        a = (store_audit){"2026-03-01T00:00:00.000Z", "t", "record.new", source, key, detail, "c"};
        CHECK_INT(s->ops->audit_append(s, &a, NULL, &e), CUST_OK);
    }
    CHECK_INT(store_commit(s, &e), CUST_OK);
    if (e.msg[0])
        fprintf(stderr, "fill: %s\n", e.msg);
}

static int count_cb(void *ctx, const store_row *r)
{
    long *n = ctx;
    if (!strcmp(r->cols[AUD_ACTION], "outbox.published"))
        n[0]++, n[1] = strtol(r->cols[AUD_DETAIL] + strlen("{\"count\":"), NULL, 10);
    return 0;
}

static long published_entries(store *s, long *last_count)
{
    long n[2] = {0, 0};
    struct err e = {0};
    CHECK_INT(s->ops->audit_list(s, count_cb, n, &e), CUST_OK);
    *last_count = n[1];
    return n[0];
}

static void test_pure(void)
{
    buf b;
    struct err e = {0};
    store_row r = {0};
    const char *cols[REC_NCOLS] = {"s1", "[\"a:b\",2]", "3", "abc", "{\"x\":1}", "raw", "2026-03-01T00:00:00Z",
                                   "req", "c", "cfg", "ct"};
    buf_init(&b, 4096);
    CHECK_INT(outbox_msg_id(&b, "s1", "[\"a:b\",2]", 3), CUST_OK);
    CHECK_STR(buf_str(&b), "s1:[\"a:b\",2]:3");
    r.ncols = REC_NCOLS;
    for (int i = 0; i < REC_NCOLS; i++) {
        r.cols[i] = cols[i];
        r.lens[i] = strlen(cols[i]);
    }
    buf_reset(&b);
    CHECK_INT(outbox_envelope(&b, "record.version", 42, &r, &e), CUST_OK);
    CHECK_STR(buf_str(&b), "{\"action\":\"record.version\",\"audit_seq\":42,\"content_hash\":\"abc\",\"fetched_at\":"
                           "\"2026-03-01T00:00:00Z\",\"key\":[\"a:b\",2],\"record\":{\"x\":1},\"source\":\"s1\","
                           "\"version\":3}");
    r.lens[REC_CANONICAL] = 0; /* purged */
    buf_reset(&b);
    CHECK_INT(outbox_envelope(&b, "record.new", 7, &r, &e), CUST_OK);
    CHECK(strstr(buf_str(&b), ",\"purged\":true,\"source\"") != NULL);
    CHECK(strstr(buf_str(&b), "\"record\"") == NULL);
    r.cols[REC_CANONICAL] = "null";
    r.lens[REC_CANONICAL] = 4;
    buf_reset(&b);
    CHECK_INT(outbox_envelope(&b, "record.removed", 8, &r, &e), CUST_OK);
    CHECK(strstr(buf_str(&b), "\"record\":null,\"removed\":true,\"source\"") != NULL);
    buf_release(&b);
}

static void test_driver(void)
{
    char path[300];
    store *s = NULL, *s2 = NULL;
    struct err e = {0};
    struct fake f = {0};
    outbox_sink sink = {"nats", "STREAM", &f, fake_connect, fake_publish};
    outbox_opts o = {0};
    outbox_report r = {0};
    outbox *ob, *ob2;
    int64_t pos = -1;
    long last = 0;
    int more = 0;

    snprintf(path, sizeof path, "%s/o.db", tmpdir);
    CHECK_INT(store_open(path, &s, &e), CUST_OK);
    if (!s)
        return;
    fill(s, 0, 10, "src"); /* record entries at seqs 2..20 (even) */
    o.subject_prefix = "custody";
    o.batch = 4;
    o.actor = "tester";
    o.now = fixed_now;
    o.attempts = 2;
    o.retry_max_ms = 250;
    f.ack_limit = 100;
    ob = outbox_new(s, &sink, &o);
    CHECK(ob != NULL);
    if (!ob)
        goto out;
    CHECK_INT(outbox_position(s, &sink, &pos, &e), CUST_OK);
    CHECK_INT(pos, 0);

    /* a full batch: the position is the batch's last record entry */
    CHECK_INT(outbox_step(ob, &r, &more, &e), CUST_OK);
    CHECK_INT(more, 1);
    CHECK_INT(r.position, 8);
    CHECK_INT(r.published, 4);
    CHECK_INT(f.seqs[0], 2);
    CHECK_STR(f.ids[0], "src:[\"k0\"]:1");
    CHECK(strstr(f.last_payload, "\"audit_seq\":8,") != NULL);
    CHECK_INT(published_entries(s, &last), 1);
    CHECK_INT(last, 4);

    /* two of four acknowledged: the position stops before the third */
    f.ack_limit = 2;
    CHECK_INT(outbox_step(ob, &r, &more, &e), CUST_EHTTP);
    CHECK(strstr(e.msg, "2 of 4 message(s) acknowledged") != NULL);
    CHECK_INT(outbox_position(s, &sink, &pos, &e), CUST_OK);
    CHECK_INT(pos, 13); /* entries 10, 12 acknowledged; 14 not */
    CHECK_INT(published_entries(s, &last), 2);
    CHECK_INT(last, 2);

    /* nothing acknowledged: nothing written */
    f.ack_limit = 0;
    err_clear(&e);
    CHECK_INT(outbox_step(ob, &r, &more, &e), CUST_EHTTP);
    CHECK_INT(outbox_position(s, &sink, &pos, &e), CUST_OK);
    CHECK_INT(pos, 13);
    CHECK_INT(published_entries(s, &last), 2);

    /* --once: gives up after `attempts` failed attempts in a row */
    f.calls = 0;
    err_clear(&e);
    CHECK_INT(outbox_run(ob, &r, &e), CUST_EHTTP);
    CHECK_INT(f.calls, 2);

    /* a message that can never be sent is final at once */
    f.fail_rc = CUST_ELIMIT;
    f.calls = 0;
    CHECK_INT(outbox_run(ob, &r, &e), CUST_ELIMIT);
    CHECK_INT(f.calls, 1);
    f.fail_rc = 0;

    /* the rest, the first of a batch a duplicate (sent before a crash) */
    f.ack_limit = 100;
    f.dup_first = 1;
    f.connect_fails = 1; /* retried */
    err_clear(&e);
    memset(&r, 0, sizeof r);
    CHECK_INT(outbox_run(ob, &r, &e), CUST_OK);
    CHECK_INT(r.failures, 1);
    CHECK_INT(r.position, 20);
    CHECK_INT(r.published + r.duplicates, 4);
    CHECK(r.duplicates >= 1);

    /* caught up: a second run sends and writes nothing */
    f.calls = 0;
    {
        long before = published_entries(s, &last);
        memset(&r, 0, sizeof r);
        CHECK_INT(outbox_run(ob, &r, &e), CUST_OK);
        CHECK_INT(f.calls, 0);
        CHECK_INT(published_entries(s, &last), before);
    }

    /* caught up and the broker unreachable: --once says so all the same */
    f.connect_fails = 5;
    memset(&r, 0, sizeof r);
    CHECK_INT(outbox_run(ob, &r, &e), CUST_EHTTP);
    CHECK(strstr(e.msg, "fake: cannot connect") != NULL);
    f.connect_fails = 0;
    err_clear(&e);

    /* a second publisher on the same stream is fenced by the position check */
    fill(s, 10, 2, "src");
    CHECK_INT(store_open(path, &s2, &e), CUST_OK);
    if (s2) {
        ob2 = outbox_new(s2, &sink, &o);
        memset(&r, 0, sizeof r);
        CHECK_INT(outbox_step(ob2, &r, &more, &e), CUST_OK); /* loads 20, publishes the two new ones */
        memset(&r, 0, sizeof r);
        err_clear(&e);
        f.dup_first = 0;
        CHECK_INT(outbox_step(ob, &r, &more, &e), CUST_EFENCED);
        CHECK(strstr(e.msg, "another custody publish") != NULL);
        outbox_free(ob2);
        store_close(s2);
    }
out:
    outbox_free(ob);
    store_close(s);
}

int main(void)
{
    char cmd[300];
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 2;
    }
    test_pure();
    test_driver();
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    return check_report("test_outbox");
}
