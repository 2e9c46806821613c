#!/usr/bin/env python3
"""The PostgreSQL store from an operator's side (its own server on loopback):

  startup    3 polls started at once on an empty database: the schema is
             created once (migrations under an advisory lock), all succeed,
             the store equals one poll's.
  migrate    a store at an older schema version is brought up to date on
             open, its data intact; a store from a newer custody is refused
             (exit 3, says to upgrade) and left untouched.
  tamper     append-only triggers refuse UPDATE/DELETE/TRUNCATE with
             SQLite's messages; with triggers bypassed (replica role) an
             edit is caught by `custody audit verify` (exit 4); disabled
             triggers are reported by verify.
  index      the lot index on PostgreSQL: export --lot and trace through
             it equal the --scan path byte for byte; index status complete.
  reset      `custody cursor reset` takes the source's lease: refused
             (exit 3, naming the holder) while another worker holds it,
             done and audited once the lease expired.
  connect    settings from the environment: `store: "postgresql:"` with
             PGHOST/PGPORT/PGUSER/PGDATABASE reaches the same store as its URI;
             an unreachable server: exit 3, a message naming the server and
             what to check, never the password; `custody check` does not
             print the password either.
Exit 77 when PostgreSQL is not installed.
"""
import argparse
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import harness  # noqa: E402
import pgserver  # noqa: E402


def cfg(work, name, uri, url):
    text = harness.fsma_config(url, limit=100)
    text, n = harness.replace_store_line(text, uri)
    assert n == 1
    path = os.path.join(work, name + ".yaml")
    with open(path, "w") as f:
        f.write(text)
    return path


def custody(binary, path, *args, timeout=300, pgenv=None):
    env = dict(os.environ, SUPPLIER_API_KEY=harness.TOKEN, NO_COLOR="1")
    for k in ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE"):
        env.pop(k, None)
    env.update(pgenv or {})
    p = subprocess.run([binary, *args, "-c", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                       timeout=timeout)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def snapshot(pg, db):
    return (pg.query(db, "SELECT source, key, version, content_hash FROM records ORDER BY 1, 2, 3"),
            pg.query(db, "SELECT source, recon_key, times_seen FROM quarantine ORDER BY 1, 2"))


def test_startup(binary, pg, portal, work):
    ref = cfg(work, "ref", pg.create_database("ref"), portal.url)
    code, out, err = custody(binary, ref, "poll")
    assert code == 0, err
    path = cfg(work, "startup", pg.create_database("startup"), portal.url)
    env = dict(os.environ, SUPPLIER_API_KEY=harness.TOKEN, NO_COLOR="1")
    procs = [subprocess.Popen([binary, "poll", "-c", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
             for _ in range(3)]
    results = [(p.wait(timeout=300), p.stdout.read().decode(), p.stderr.read().decode()) for p in procs]
    for code, out, err in results:
        assert code == 0, "a concurrent first poll failed (%d):\n%s\n%s" % (code, out, err)
    polled = sum(1 for _, out, _ in results if "skipped" not in out)
    assert polled >= 1, "no poll took the lease:\n%r" % results
    assert snapshot(pg, "startup")[0] == snapshot(pg, "ref")[0], "records differ from one poll's"
    code, out, err = custody(binary, path, "audit", "verify")
    assert code == 0, out + err
    ver = pg.query("startup", "SELECT v FROM meta WHERE k = 'schema_version'")
    print("startup: ok (3 concurrent first polls, %d polled, schema version %s)" % (polled, ver[0][0]))


def test_migrate(binary, pg, portal, work):
    path = cfg(work, "migrate", pg.create_database("migrate"), portal.url)
    code, out, err = custody(binary, path, "poll")
    assert code == 0, err
    current = pg.query("migrate", "SELECT v FROM meta WHERE k = 'schema_version'")[0][0]
    before = snapshot(pg, "migrate")
    # an older store: the leases table did not exist yet at "version 0"
    # (as custody before it would have left it); opening migrates again
    if int(current) > 1:
        pg.query("migrate", "UPDATE meta SET v = '1' WHERE k = 'schema_version'")
        code, out, err = custody(binary, path, "status")
        assert code == 0, "opening an older schema failed:\n" + err
        assert pg.query("migrate", "SELECT v FROM meta WHERE k = 'schema_version'")[0][0] == current
    assert snapshot(pg, "migrate") == before, "data changed across a migration"
    pg.query("migrate", "UPDATE meta SET v = '99' WHERE k = 'schema_version'")
    code, out, err = custody(binary, path, "poll")
    assert code == 3, "a newer schema was not refused (%d): %s" % (code, err)
    assert "newer" in err and "upgrade custody" in err, err
    assert pg.query("migrate", "SELECT v FROM meta WHERE k = 'schema_version'")[0][0] == "99", "refused store altered"
    assert snapshot(pg, "migrate") == before
    print("migrate: ok (version %s; newer refused: %s)" % (current, err.strip()[:120]))


def test_tamper(binary, pg, portal, work):
    path = cfg(work, "tamper", pg.create_database("tamper"), portal.url)
    code, out, err = custody(binary, path, "poll")
    assert code == 0, err
    for sql, msg in [("UPDATE records SET canonical = '{}' WHERE id = 1", "records are append-only"),
                     ("DELETE FROM records WHERE id = 1", "records are append-only"),
                     ("TRUNCATE records", "records are append-only"),
                     ("UPDATE audit SET actor = 'mallory' WHERE seq = 2", "audit log is append-only"),
                     ("DELETE FROM audit WHERE seq = 2", "audit log is append-only"),
                     ("TRUNCATE audit CASCADE", "audit log is append-only"),
                     ("DELETE FROM checkpoints", "checkpoints are append-only")]:
        code, out, perr = pg.psql("tamper", sql)
        assert code != 0 and msg in perr, "%s was not refused with %r: %s" % (sql, msg, perr)
    code, out, err = custody(binary, path, "audit", "verify")
    assert code == 0, out + err
    # an attacker with superuser: triggers bypassed
    code, out, perr = pg.psql("tamper", "SET session_replication_role = replica;"
                                        "UPDATE audit SET actor = 'mallory' WHERE seq = 3;", script=True)
    assert code == 0, perr
    code, out, err = custody(binary, path, "audit", "verify")
    assert code == 4 and "FAILED" in err, "an edited audit entry went unnoticed (%d):\n%s%s" % (code, out, err)
    # disabled triggers are reported even when the data is intact
    path2 = cfg(work, "tamper2", pg.create_database("tamper2"), portal.url)
    assert custody(binary, path2, "poll")[0] == 0
    pg.query("tamper2", "ALTER TABLE records DISABLE TRIGGER USER")
    code, out, err = custody(binary, path2, "audit", "verify")
    assert code == 4 and "trigger" in (out + err), "disabled triggers not reported (%d):\n%s%s" % (code, out, err)
    print("tamper: ok (refusals, edit caught, disabled triggers reported)")


def test_index(binary, pg, portal, work):
    path = cfg(work, "ref", pg.uri("ref"), portal.url)  # the startup scenario's reference store
    code, out, err = custody(binary, path, "index", "status")
    assert code == 0 and "complete for" in out, "index status (%d):\n%s%s" % (code, out, err)
    lots = [r[0] for r in pg.query("ref", "SELECT DISTINCT value FROM record_index WHERE field = "
                                          "'traceability_lot_code' ORDER BY 1 LIMIT 5")]
    assert lots, "no lot was indexed"
    for lot in lots:
        outs = []
        for extra in ([], ["--scan"]):
            f = os.path.join(work, "lot%s.csv" % len(outs))
            code, out, err = custody(binary, path, "export", "supplier_8842", "--format", "fsma204", "--lot", lot,
                                     "-o", f, *extra)
            assert code == 0, err
            with open(f, "rb") as fh:
                data = fh.read()
            code, tout, err = custody(binary, path, "trace", lot, "--json", *extra)
            assert code == 0, err
            outs.append((data, tout))
        assert outs[0] == outs[1], "lot %s: the index and the scan disagree" % lot
    print("index: ok (%d lots: export and trace identical through the index and by scan)" % len(lots))


def test_reset(binary, pg, portal, work):
    path = cfg(work, "reset", pg.create_database("reset"), portal.url)
    assert custody(binary, path, "poll")[0] == 0
    pg.query("reset", "UPDATE leases SET owner = 'elsewhere:1', expires_at = clock_timestamp() + interval '1 hour'")
    code, out, err = custody(binary, path, "cursor", "reset", "supplier_8842", "--reason", "test")
    assert code == 3 and "elsewhere:1" in err, "reset under a foreign lease (%d):\n%s" % (code, err)
    assert pg.query("reset", "SELECT count(*) FROM audit WHERE action = 'cursor.reset'")[0][0] == "0"
    assert pg.query("reset", "SELECT count(*) FROM sources WHERE cursor IS NOT NULL")[0][0] == "1"
    pg.query("reset", "UPDATE leases SET expires_at = clock_timestamp() - interval '1 second'")
    code, out, err = custody(binary, path, "cursor", "reset", "supplier_8842", "--reason", "test")
    assert code == 0, err
    assert pg.query("reset", "SELECT count(*) FROM audit WHERE action = 'cursor.reset'")[0][0] == "1"
    assert pg.query("reset", "SELECT count(*) FROM sources WHERE cursor IS NOT NULL")[0][0] == "0"
    print("reset: ok (refused: %s)" % err.strip()[:100] if err else "reset: ok")


def test_connect(binary, pg, portal, work):
    # the connection from the environment alone (the ref database of startup)
    path = cfg(work, "fromenv", "\"postgresql:\"", portal.url)
    code, out, err = custody(binary, path, "records", "supplier_8842", "--json",
                             pgenv={"PGHOST": "127.0.0.1", "PGPORT": str(pg.port), "PGUSER": "postgres",
                                    "PGDATABASE": "ref"})
    n = int(pg.query("ref", "SELECT count(DISTINCT key) FROM records")[0][0])
    assert code == 0 and out.count('"key"') == n, "store from PG* variables (%d, %d keys of %d):\n%s" % (
        code, out.count('"key"'), n, err)
    dead = "postgresql://custody:s3cret-pw@127.0.0.1:%d/nowhere" % pgserver._free_port()
    path = cfg(work, "dead", dead, portal.url)
    code, out, err = custody(binary, path, "poll")
    assert code == 3, "unreachable server: exit %d, expected 3:\n%s" % (code, err)
    assert "cannot connect" in err and "127.0.0.1" in err and "check the store" in err, err
    assert "s3cret-pw" not in out + err, "the password was printed:\n" + err
    said = err.strip()
    code, out, err = custody(binary, path, "check")
    assert "s3cret-pw" not in out + err, "custody check printed the password:\n" + out
    assert "custody:***@" in out, "custody check does not show the redacted store:\n" + out
    print("connect: ok (%s)" % said[:200])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--custody", required=True)
    a = ap.parse_args()
    try:
        pg = pgserver.PgServer()
        pg.start()
    except pgserver.Unavailable as ex:
        print("skip: %s" % ex)
        return 77
    work = tempfile.mkdtemp(prefix="custody-pgstore-")
    try:
        with harness.Portal("--fsma-events", "600") as portal:
            test_startup(a.custody, pg, portal, work)
            test_migrate(a.custody, pg, portal, work)
            test_tamper(a.custody, pg, portal, work)
            test_index(a.custody, pg, portal, work)
            test_reset(a.custody, pg, portal, work)
            test_connect(a.custody, pg, portal, work)
    finally:
        pg.stop()
    print("pg_store: all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
