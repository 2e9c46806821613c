/* cursor.c - `custody cursor show|reset SOURCE` and `custody status`: what
 * an operator needs to see and, rarely, to change; a reset is audited with
 * the actor and the reason. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "engine/lease.h"
#include "core/json.h"
#include "core/timefmt.h"
#include "engine/daemon.h"
#include "engine/poll.h"

static const char *const kv_shown[] = {"watermark", "window_since", "breaker", "not_before_ms", "etag",
                                       "last_modified", "snapshot_fp", "config_hash", NULL};

static int show_source(cli *c, store *st, const source_cfg *src, struct err *e)
{
    store_source_state ss = {0};
    if (st->ops->source_get(st, src->name, &ss, e))
        return cmd_fail(e);
    if (c->json) {
        fputs("{\"source\":", stdout);
        cmd_json_string(stdout, src->name, strlen(src->name));
        fputs(",\"cursor\":", stdout);
        if (ss.cursor)
            cmd_json_string(stdout, ss.cursor, strlen(ss.cursor));
        else
            fputs("null", stdout);
    } else {
        printf("source:        %s\ncursor:        %s\n", src->name, ss.cursor ? ss.cursor : "(none: the next poll starts "
                                                                               "from the first page)");
    }
    for (const char *const *k = kv_shown; *k; k++) {
        char *v = NULL;
        if (st->ops->kv_get(st, src->name, *k, &v, e)) {
            store_source_state_release(&ss);
            return cmd_fail(e);
        }
        if (v) {
            if (c->json) {
                printf(",\"%s\":", *k);
                cmd_json_string(stdout, v, strlen(v));
            } else {
                printf("%-14s %s\n", *k, v);
            }
        }
        free(v);
    }
    if (c->json)
        puts("}");
    store_source_state_release(&ss);
    return 0;
}

int cmd_cursor(cli *c, int argc, char **argv)
{
    static const char *const flags[] = {"--reason", "--to", NULL};
    config *cfg = NULL;
    store *st = NULL;
    const char *reason = NULL, *to = NULL;
    const source_cfg *src;
    struct err e = {0};
    int rc, n = cmd_parse_common(c, "cursor", argc, argv, flags);
    if (n < 0)
        return 2;
    if (cmd_take_value(&n, argv, "--reason", &reason) || cmd_take_value(&n, argv, "--to", &to) || n != 3 ||
        (strcmp(argv[1], "show") && strcmp(argv[1], "reset")))
        return cmd_usage("cursor", "use: cursor show SOURCE | cursor reset SOURCE [--to VALUE] --reason TEXT");
    if (!strcmp(argv[1], "reset") && (!reason || !*reason))
        return cmd_usage("cursor", "reset needs --reason TEXT: it goes into the audit log");
    if ((rc = cmd_load_config(c, &cfg)))
        return rc;
    if (!(src = config_source(cfg, argv[2]))) {
        rc = cmd_usage("cursor", "no source named \"%s\" in %s", argv[2], cfg->path);
        goto out;
    }
    if ((rc = cmd_open_store(cfg, &st)))
        goto out;
    if (!strcmp(argv[1], "show")) {
        rc = show_source(c, st, src, &e);
        goto out;
    }
    {
        store_source_state ss = {0};
        char now[32], owner[256];
        buf d;
        store_audit a;
        cust_code r2;
        lease_guard lg;
        int held, lockfd = -1;
        /* A poll or daemon running would carry on from its own position and
         * overwrite the reset: SQLite's store lock (the daemon holds it)
         * refuses the reset while one runs; a shared store takes the
         * source's lease instead (its commit is fenced like a cycle's). */
        if ((rc = cmd_lock_store(cfg, &lockfd)))
            goto out;
        if (cfg->run.worker_id)
            snprintf(owner, sizeof owner, "%s", cfg->run.worker_id);
        else
            lease_owner_default(owner, sizeof owner);
        held = lease_begin(&lg, st, src->name, owner, cfg->run.lease_ttl_ms, &e);
        if (held < 0) {
            rc = cmd_fail(&e);
            if (lockfd >= 0)
                close(lockfd);
            goto out;
        }
        if (held == 0) {
            fprintf(stderr, "custody: cursor reset: worker %s holds the lease of source %s (it is polling it or "
                            "polled it in the last run.lease_ttl); stop that worker or retry after its lease "
                            "expires\n", lg.holder[0] ? lg.holder : "(unknown)", src->name);
            rc = 3;
            if (lockfd >= 0)
                close(lockfd);
            goto out;
        }
        buf_init(&d, 1 << 20);
        poll_clock_real(now);
        r2 = st->ops->source_get(st, src->name, &ss, &e);
        if (!r2 && (buf_adds(&d, "{\"from\":") ||
                    (ss.cursor ? json_write_string(&d, ss.cursor, strlen(ss.cursor)) : buf_adds(&d, "null")) ||
                    buf_adds(&d, ",\"reason\":") || json_write_string(&d, reason, strlen(reason)) ||
                    buf_adds(&d, ",\"to\":") || (to ? json_write_string(&d, to, strlen(to)) : buf_adds(&d, "null")) ||
                    buf_addc(&d, '}')))
            r2 = err_set(&e, CUST_ENOMEM, "out of memory");
        a = (store_audit){now, c->actor, "cursor.reset", src->name, "", d.ptr ? d.ptr : "{}", "operator"};
        /* the position's companions go with it: a window bound and the
         * validators of the page it pointed at */
        if (!r2)
            r2 = st->ops->begin(st, &e);
        if (!r2 && !(r2 = st->ops->source_set_cursor(st, src->name, to, &e)) &&
            !(r2 = st->ops->kv_put(st, src->name, "window_since", NULL, &e)) &&
            !(r2 = st->ops->kv_put(st, src->name, "cond_url", NULL, &e)) &&
            !(r2 = st->ops->audit_append(st, &a, NULL, &e)))
            r2 = st->ops->commit(st, &e);
        if (r2) {
            st->ops->rollback(st);
            rc = cmd_fail(&e);
        } else if (!c->quiet) {
            printf("cursor of %s reset from %s to %s (audited)\n", src->name, ss.cursor ? ss.cursor : "(none)",
                   to ? to : "(none: the next poll starts from the first page)");
        }
        store_source_state_release(&ss);
        buf_release(&d);
        lease_end(&lg);
        if (lockfd >= 0)
            close(lockfd);
    }
out:
    store_close(st);
    config_free(cfg);
    return rc;
}

/* The running daemon's view, when one is running: its state file (beside
 * the store), written by a live process in the last minute. */
static json_value *daemon_state(const config *cfg, json_doc *d, char **text)
{
    char *path = config_state_path(cfg);
    FILE *f;
    buf b;
    json_value *root, *pid, *written;
    char chunk[65536];
    size_t n;
    *text = NULL;
    if (!path)
        return NULL;
    f = fopen(path, "r");
    free(path);
    if (!f)
        return NULL;
    buf_init(&b, 256u << 20);
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (buf_add(&b, chunk, n))
            break;
    fclose(f);
    if (!b.len || !(root = json_parse(d, b.ptr, b.len, NULL, NULL)) || !(pid = json_get(root, "pid")) ||
        !(written = json_get(root, "written_ms")) || kill((pid_t)strtol(pid->u.str, NULL, 10), 0) != 0 ||
        time(NULL) * 1000 - strtoll(written->u.str, NULL, 10) > 60000) {
        buf_release(&b);
        return NULL;
    }
    *text = buf_take(&b);
    return json_get(root, "sources");
}

static int64_t iso_to_ms(const char *t)
{
    int64_t ms;
    return t && timefmt_parse(TIME_ISO8601, t, strlen(t), &ms) ? ms : -1;
}

static void fmt_ms(int64_t ms, char out[32])
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec);
}

static void fmt_lag(int64_t ms, char out[32])
{
    if (ms < 0)
        snprintf(out, 32, "-");
    else if (ms < 120000)
        snprintf(out, 32, "%llds", (long long)(ms / 1000));
    else if (ms < 7200000)
        snprintf(out, 32, "%lldm", (long long)(ms / 60000));
    else if (ms < 172800000)
        snprintf(out, 32, "%lldh", (long long)(ms / 3600000));
    else
        snprintf(out, 32, "%lldd", (long long)(ms / 86400000));
}

int cmd_status(cli *c, int argc, char **argv)
{
    config *cfg = NULL;
    store *st = NULL;
    struct err e = {0};
    int rc, n = cmd_parse_common(c, "status", argc, argv, NULL);
    static const char *const alert_keys[] = {"rejection_ratio", "cursor_drift", "breaker_open", "stale", NULL};
    json_doc *sdoc = NULL;
    json_value *dstate = NULL;
    char *dtext = NULL, nextdue[32], lag[32], alerts[96];
    int64_t nowms, lagms = -1;
    if (n < 0)
        return 2;
    if (n != 1)
        return cmd_usage("status", "status takes no arguments");
    if ((rc = cmd_load_config(c, &cfg)) || (rc = cmd_open_store(cfg, &st)))
        goto out;
    if (!(sdoc = json_doc_new())) {
        rc = 3;
        goto out;
    }
    dstate = daemon_state(cfg, sdoc, &dtext);
    nowms = (int64_t)time(NULL) * 1000;
    if (c->json)
        printf("{\"daemon\":%s,\"sources\":[", dstate ? "true" : "false");
    else
        printf("%-24s %-24s %-8s %-9s %8s %9s %-21s %6s %-14s %s\n", "source", "last poll", "result", "breaker",
               "fetched", "rejected", dstate ? "next due (daemon)" : "next due (schedule)", "lag", "alerts", "cursor");
    for (size_t i = 0; i < cfg->nsources; i++) {
        const source_cfg *src = &cfg->sources[i];
        store_source_state ss = {0};
        char *sum = NULL, *brk = NULL;
        json_doc *d = json_doc_new();
        json_value *j = NULL, *fetched = NULL, *ratio = NULL;
        char brkname[16] = "closed";
        if (!d || st->ops->source_get(st, src->name, &ss, &e) ||
            st->ops->kv_get(st, src->name, "last_summary", &sum, &e) ||
            st->ops->kv_get(st, src->name, "breaker", &brk, &e)) {
            json_doc_free(d);
            rc = cmd_fail(&e);
            goto out;
        }
        if (sum && (j = json_parse(d, sum, strlen(sum), NULL, NULL))) {
            fetched = json_get(j, "fetched");
            ratio = json_get(j, "rejection_ratio");
        }
        if (brk)
            snprintf(brkname, sizeof brkname, "%.*s", (int)strcspn(brk, " "), brk);
        {
            /* next due: the daemon's own view, else the schedule's */
            const json_value *ds = dstate ? json_get(dstate, src->name) : NULL, *due = ds ? json_get(ds, "due_ms") : NULL;
            int64_t next = due ? strtoll(due->u.str, NULL, 10)
                               : daemon_next_due(cfg, src, iso_to_ms(ss.last_poll_at), nowms);
            char *v = NULL;
            int64_t ref = -1;
            if (next >= 0)
                fmt_ms(next, nextdue);
            else
                snprintf(nextdue, sizeof nextdue, "never");
            /* lag: how far behind the feed is (watermark, else the last good cycle) */
            if (src->incremental.param && st->ops->kv_get(st, src->name, "watermark", &v, &e) == CUST_OK && v)
                timefmt_parse((time_format)src->incremental.format, v, strlen(v), &ref);
            free(v);
            v = NULL;
            if (ref < 0 && st->ops->kv_get(st, src->name, "last_ok_at", &v, &e) == CUST_OK && v)
                ref = iso_to_ms(v);
            free(v);
            lagms = ref >= 0 ? nowms - ref : -1;
            fmt_lag(lagms, lag);
            alerts[0] = '\0';
            for (const char *const *k = alert_keys; *k; k++) {
                char key[48];
                snprintf(key, sizeof key, "alert.%s", *k);
                v = NULL;
                if (st->ops->kv_get(st, src->name, key, &v, &e) == CUST_OK && v)
                    snprintf(alerts + strlen(alerts), sizeof alerts - strlen(alerts), "%s%s", alerts[0] ? "," : "", *k);
                free(v);
            }
        }
        if (c->json) {
            printf("%s{\"source\":", i ? "," : "");
            cmd_json_string(stdout, src->name, strlen(src->name));
            printf(",\"last_poll_at\":");
            ss.last_poll_at ? cmd_json_string(stdout, ss.last_poll_at, strlen(ss.last_poll_at)) : (void)fputs("null", stdout);
            printf(",\"last_result\":");
            ss.last_result ? cmd_json_string(stdout, ss.last_result, strlen(ss.last_result)) : (void)fputs("null", stdout);
            printf(",\"breaker\":\"%s\",\"last_poll\":%s,\"next_due\":", brkname, sum && j ? sum : "null");
            strcmp(nextdue, "never") ? printf("\"%s\"", nextdue) : fputs("null", stdout);
            printf(",\"lag_seconds\":");
            lagms >= 0 ? printf("%lld", (long long)(lagms / 1000)) : fputs("null", stdout);
            printf(",\"alerts\":[");
            for (const char *a = alerts, *comma; *a; a = *comma ? comma + 1 : comma) {
                comma = a + strcspn(a, ",");
                printf("%s\"%.*s\"", a == alerts ? "" : ",", (int)(comma - a), a);
            }
            printf("],\"cursor\":");
            ss.cursor ? cmd_json_string(stdout, ss.cursor, strlen(ss.cursor)) : (void)fputs("null", stdout);
            fputc('}', stdout);
        } else {
            printf("%-24s %-24s %-8s %-9s %8s %9s %-21s %6s %-14s %.40s\n", src->name,
                   ss.last_poll_at ? ss.last_poll_at : "never", ss.last_result ? ss.last_result : "-", brkname,
                   fetched && fetched->type == JSON_NUMBER ? fetched->u.str : "-",
                   ratio && ratio->type == JSON_NUMBER ? ratio->u.str : "0", nextdue, lag,
                   alerts[0] ? alerts : "-", ss.cursor ? ss.cursor : "-");
        }
        free(sum);
        free(brk);
        json_doc_free(d);
        store_source_state_release(&ss);
    }
    if (c->json)
        puts("]}");
out:
    json_doc_free(sdoc);
    free(dtext);
    store_close(st);
    config_free(cfg);
    return rc;
}
