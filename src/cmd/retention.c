/* retention.c - `custody retention [--dry-run|--apply] [SOURCE...]` and
 * `custody hold add|release|list`: the audited purge of record content past
 * its retention, and the legal holds that stop it. */
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "engine/poll.h"
#include "engine/retention.h"
#include "io/sign.h"

static void show_due(void *ud, const char *source, const char *key, long version, const char *since, int held)
{
    cli *c = ud;
    if (c->json) {
        fputs("{\"source\":", stdout);
        cmd_json_string(stdout, source, strlen(source));
        fputs(",\"key\":", stdout);
        cmd_json_string(stdout, key, strlen(key));
        printf(",\"version\":%ld,\"since\":", version);
        cmd_json_string(stdout, since, strlen(since));
        printf(",\"held\":%s}\n", held ? "true" : "false");
    } else if (!c->quiet) {
        printf("%-20s %-50s v%-4ld since %-24s %s\n", source, key, version, since, held ? "HELD" : "");
    }
}

int cmd_retention(cli *c, int argc, char **argv)
{
    static const char *const flags[] = {"--apply", "--dry-run", "--as-of", NULL};
    const char *as_of = NULL;
    config *cfg = NULL;
    store *st = NULL;
    sign_key *signer = NULL;
    const char **names = NULL;
    size_t nnames = 0;
    int apply = 0, dry = 0, rc;
    char now[32];
    retention_report r;
    struct err e = {0};
    int n = cmd_parse_common(c, "retention", argc, argv, flags);
    if (n < 0)
        return 2;
    if (!(names = calloc((size_t)n + 1, sizeof *names)))
        return 3;
    for (int i = 1; i < n; i++) {
        if (!strcmp(argv[i], "--apply"))
            apply = 1;
        else if (!strcmp(argv[i], "--dry-run"))
            dry = 1;
        else if (!strcmp(argv[i], "--as-of") && i + 1 < n)
            as_of = argv[++i];
        else
            names[nnames++] = argv[i];
    }
    if (apply == dry) {
        free(names);
        return cmd_usage("retention", "say --dry-run (list what is due) or --apply (purge it, audited)");
    }
    if (as_of && (apply || strlen(as_of) < 10 || as_of[4] != '-' || as_of[7] != '-')) {
        free(names);
        return cmd_usage("retention", apply ? "--as-of plans ahead with --dry-run only: --apply purges as of now"
                                            : "--as-of takes a date, YYYY-MM-DD or an RFC 3339 time");
    }
    if ((rc = cmd_load_config(c, &cfg)))
        goto out;
    for (size_t i = 0; i < nnames; i++)
        if (!config_source(cfg, names[i])) {
            rc = cmd_usage("retention", "no source named \"%s\" in %s", names[i], cfg->path);
            goto out;
        }
    if (apply && cfg->signing_key && !(signer = sign_key_load_private(cfg->signing_key, &e))) {
        rc = cmd_fail(&e);
        goto out;
    }
    if ((rc = cmd_open_store(cfg, &st)))
        goto out;
    poll_clock_real(now);
    if (as_of)
        snprintf(now, sizeof now, "%s%s", as_of, strlen(as_of) == 10 ? "T00:00:00.000Z" : "");
    if (retention_run(cfg, st, now, apply, c->actor, signer, names, nnames, show_due, c, &r, &e)) {
        rc = cmd_fail(&e);
        goto out;
    }
    if (!c->json)
        printf("retention %s: %ld record versions past retention, %ld kept by legal holds, %ld purged%s\n",
               apply ? "applied" : "dry run", r.due, r.held, r.purged,
               apply ? " (content emptied, hashes and audit entries kept)" : "; --apply purges them");
out:
    sign_key_free(signer);
    store_close(st);
    config_free(cfg);
    free(names);
    return rc;
}

static int show_hold(void *ud, const store_row *row)
{
    cli *c = ud;
    if (c->json) {
        static const char *const names[] = {"id", "source", "key", "reason", "actor", "created_at",
                                            "released_at", "released_by", "release_reason"};
        fputc('{', stdout);
        for (int i = 0; i < row->ncols && i < 9; i++) {
            printf("%s\"%s\":", i ? "," : "", names[i]);
            if (!row->cols[i])
                fputs("null", stdout);
            else if (i == 0)
                fputs(row->cols[i], stdout);
            else
                cmd_json_string(stdout, row->cols[i], row->lens[i]);
        }
        puts("}");
    } else {
        printf("%-5s %-20s %-40s %-10s by %s at %s: %s\n", row->cols[0], row->cols[1],
               row->cols[2] ? row->cols[2] : "(whole source)", row->cols[6] ? "released" : "ACTIVE", row->cols[4],
               row->cols[5], row->cols[3]);
    }
    return 0;
}

int cmd_hold(cli *c, int argc, char **argv)
{
    static const char *const flags[] = {"--reason", NULL};
    config *cfg = NULL;
    store *st = NULL;
    const char *reason = NULL;
    char now[32];
    struct err e = {0};
    int rc, n = cmd_parse_common(c, "hold", argc, argv, flags);
    if (n < 0)
        return 2;
    if (cmd_take_value(&n, argv, "--reason", &reason) || (reason && !reason[0]))
        return cmd_usage("hold", "--reason needs the text (who asked, the matter or case)");
    if (n < 2 || (strcmp(argv[1], "add") && strcmp(argv[1], "release") && strcmp(argv[1], "list")))
        return cmd_usage("hold", "use: hold add SOURCE [KEY] --reason TEXT | hold release ID --reason TEXT | "
                                 "hold list");
    if (strcmp(argv[1], "list") && !reason)
        return cmd_usage("hold", "%s needs --reason TEXT: it goes into the audit log", argv[1]);
    if ((!strcmp(argv[1], "add") && (n < 3 || n > 4)) || (!strcmp(argv[1], "release") && n != 3))
        return cmd_usage("hold", "use: hold add SOURCE [KEY] --reason TEXT | hold release ID --reason TEXT");
    if ((rc = cmd_load_config(c, &cfg)))
        return rc;
    if (!strcmp(argv[1], "add") && !config_source(cfg, argv[2])) {
        rc = cmd_usage("hold", "no source named \"%s\" in %s", argv[2], cfg->path);
        goto out;
    }
    if ((rc = cmd_open_store(cfg, &st)))
        goto out;
    poll_clock_real(now);
    if (!strcmp(argv[1], "list")) {
        if (st->ops->holds_list(st, 0, show_hold, c, &e))
            rc = cmd_fail(&e);
        goto out;
    }
    {
        buf d;
        int64_t id = 0;
        char *end;
        const char *key = n == 4 ? argv[3] : NULL;
        cust_code r2;
        buf_init(&d, 1 << 20);
        if (!strcmp(argv[1], "release")) {
            id = strtoll(argv[2], &end, 10);
            if (*end || id <= 0) {
                buf_release(&d);
                rc = cmd_usage("hold", "\"%s\" is not a hold id (custody hold list shows them)", argv[2]);
                goto out;
            }
        }
        r2 = st->ops->begin(st, &e);
        if (!r2 && !strcmp(argv[1], "add"))
            r2 = st->ops->hold_add(st, argv[2], key, reason, c->actor, now, &id, &e);
        else if (!r2)
            r2 = st->ops->hold_release(st, id, reason, c->actor, now, &e);
        if (!r2 && (buf_addf(&d, "{\"hold\":%lld,\"reason\":", (long long)id) ||
                    json_write_string(&d, reason, strlen(reason)) || buf_addc(&d, '}')))
            r2 = err_set(&e, CUST_ENOMEM, "out of memory");
        if (!r2) {
            store_audit a = {now, c->actor, !strcmp(argv[1], "add") ? "hold.add" : "hold.release",
                             !strcmp(argv[1], "add") ? argv[2] : "", key ? key : "", d.ptr, "operator"};
            r2 = st->ops->audit_append(st, &a, NULL, &e);
        }
        if (!r2)
            r2 = st->ops->commit(st, &e);
        if (r2) {
            st->ops->rollback(st);
            rc = cmd_fail(&e);
        } else if (!c->quiet) {
            printf("hold %lld %s\n", (long long)id, !strcmp(argv[1], "add") ? "added" : "released");
        }
        buf_release(&d);
    }
out:
    store_close(st);
    config_free(cfg);
    return rc;
}
