/* quarantine.c - `custody quarantine list [SOURCE] | show ID`. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "core/json.h"
#include "engine/poll.h"
#include "engine/replay.h"
#include "io/sign.h"

struct ctx {
    int json, show;
    long n;
};

/* First error's code and path, for the one-line listing. */
static void first_error(const char *errors, size_t len, char *out, size_t n)
{
    json_doc *d = json_doc_new();
    json_value *v = d ? json_parse(d, errors, len, NULL, NULL) : NULL;
    json_value *e0 = v ? json_at(v, 0) : NULL;
    json_value *code = e0 ? json_get(e0, "code") : NULL, *path = e0 ? json_get(e0, "path") : NULL;
    if (code && path && code->type == JSON_STRING && path->type == JSON_STRING)
        snprintf(out, n, "%s at %s%s", code->u.str, path->u.str, v->len > 1 ? " (+more)" : "");
    else
        snprintf(out, n, "?");
    json_doc_free(d);
}

static int row(void *ud, const store_row *r)
{
    struct ctx *c = ud;
    c->n++;
    if (c->json) {
        printf("{\"id\":%s,\"source\":", r->cols[QUA_ID]);
        cmd_json_string(stdout, r->cols[QUA_SOURCE], r->lens[QUA_SOURCE]);
        printf(",\"reconciliation_key\":\"%s\",\"raw\":", r->cols[QUA_RECON]);
        cmd_json_string(stdout, r->cols[QUA_RAW], r->lens[QUA_RAW]);
        printf(",\"errors\":%s,\"first_seen\":\"%s\",\"last_seen\":\"%s\",\"times_seen\":%s,\"status\":\"%s\"}\n",
               r->cols[QUA_ERRORS], r->cols[QUA_FIRST_SEEN], r->cols[QUA_LAST_SEEN], r->cols[QUA_TIMES],
               r->cols[QUA_STATUS]);
        return 0;
    }
    if (c->show) {
        printf("id:                 %s\nsource:             %s\nstatus:             %s\n"
               "reconciliation key: %s\nfirst seen:         %s\nlast seen:          %s\n"
               "times seen:         %s\nrequest:            %s\nerrors:             %s\nraw record:\n%.*s\n",
               r->cols[QUA_ID], r->cols[QUA_SOURCE], r->cols[QUA_STATUS], r->cols[QUA_RECON],
               r->cols[QUA_FIRST_SEEN], r->cols[QUA_LAST_SEEN], r->cols[QUA_TIMES],
               r->cols[QUA_REQUEST_ID] ? r->cols[QUA_REQUEST_ID] : "", r->cols[QUA_ERRORS],
               (int)r->lens[QUA_RAW], r->cols[QUA_RAW]);
        return 0;
    }
    {
        char first[256];
        if (c->n == 1)
            printf("%-6s %-20s %-6s %-5s %-24s %s\n", "id", "source", "status", "seen", "first seen", "first error");
        first_error(r->cols[QUA_ERRORS], r->lens[QUA_ERRORS], first, sizeof first);
        printf("%-6s %-20s %-6s %-5s %-24s %s\n", r->cols[QUA_ID], r->cols[QUA_SOURCE], r->cols[QUA_STATUS],
               r->cols[QUA_TIMES], r->cols[QUA_FIRST_SEEN], first);
    }
    return 0;
}

static void replay_line(void *ud, int64_t id, const char *source, int passed, const char *errors)
{
    cli *c = ud;
    if (c->json) {
        printf("{\"id\":%lld,\"source\":", (long long)id);
        cmd_json_string(stdout, source, strlen(source));
        printf(",\"passes\":%s", passed ? "true" : "false");
        if (!passed && errors)
            printf(",\"errors\":%s", errors);
        puts("}");
    } else if (!c->quiet) {
        char first[256] = "";
        if (!passed && errors)
            first_error(errors, strlen(errors), first, sizeof first);
        printf("%-6lld %-20s %s%s\n", (long long)id, source, passed ? "passes now" : "still fails: ", first);
    }
}

/* quarantine replay [ID...|--all [SOURCE]] [--dry-run] and resolve ID --reason TEXT */
static int replay_or_resolve(cli *c, int n, char **argv)
{
    config *cfg = NULL;
    store *st = NULL;
    struct err e = {0};
    int rc, all = 0, dry = 0;
    const char *reason = NULL, *source = NULL;
    int64_t *ids = calloc((size_t)n + 1, sizeof *ids);
    size_t nids = 0;
    char now[32];
    if (!ids)
        return 3;
    for (int i = 2; i < n; i++) {
        char *end;
        long long v;
        if (!strcmp(argv[i], "--all")) {
            all = 1;
        } else if (!strcmp(argv[i], "--dry-run")) {
            dry = 1;
        } else if (!strcmp(argv[i], "--reason") && i + 1 < n) {
            reason = argv[++i];
        } else {
            errno = 0;
            v = strtoll(argv[i], &end, 10);
            if (*end || errno || v <= 0) {
                if (all && !source) {
                    source = argv[i];
                    continue;
                }
                free(ids);
                return cmd_usage("quarantine", "\"%s\" is not a quarantine ID (a positive number)", argv[i]);
            }
            ids[nids++] = v;
        }
    }
    if (!strcmp(argv[1], "resolve")) {
        if (nids != 1 || !reason || !*reason || all || dry) {
            free(ids);
            return cmd_usage("quarantine", "use: quarantine resolve ID --reason TEXT (the reason goes into the "
                                           "audit log)");
        }
    } else if ((nids > 0) == all) {
        free(ids);
        return cmd_usage("quarantine", "use: quarantine replay ID... | --all [SOURCE]  [--dry-run]");
    }
    if ((rc = cmd_load_config(c, &cfg)) || (rc = cmd_open_store(cfg, &st)))
        goto out;
    poll_clock_real(now);
    if (!strcmp(argv[1], "resolve")) {
        buf d;
        store_audit a;
        buf_init(&d, 1 << 20);
        if (buf_addf(&d, "{\"quarantine_id\":%lld,\"reason\":", (long long)ids[0]) ||
            json_write_string(&d, reason, strlen(reason)) || buf_addc(&d, '}')) {
            buf_release(&d);
            rc = 3;
            goto out;
        }
        a = (store_audit){now, c->actor, "quarantine.resolve", "", "", d.ptr, "operator"};
        if (st->ops->begin(st, &e) || st->ops->quarantine_set_status(st, ids[0], "resolved", c->actor, now, reason, &e) ||
            st->ops->audit_append(st, &a, NULL, &e) || st->ops->commit(st, &e)) {
            st->ops->rollback(st);
            rc = cmd_fail(&e);
        } else if (!c->quiet) {
            printf("quarantine entry %lld resolved\n", (long long)ids[0]);
        }
        buf_release(&d);
    } else {
        replay_report r;
        sign_key *signer = NULL;
        if (!dry && cfg->signing_key && !(signer = sign_key_load_private(cfg->signing_key, &e))) {
            rc = cmd_fail(&e);
            goto out;
        }
        rc = replay_run(cfg, st, ids, nids, source, dry, c->actor, now, signer, replay_line, c, &r, &e);
        sign_key_free(signer);
        if (rc) {
            rc = cmd_fail(&e);
            goto out;
        }
        if (!c->json)
            printf("replay%s: %ld examined, %ld pass under the current contract (%ld stored, %ld already stored), "
                   "%ld still fail%s\n", dry ? " (dry run)" : "", r.examined, r.passed, r.ingested, r.duplicates,
                   r.failing, dry ? "; run without --dry-run to ingest them" : "");
    }
out:
    free(ids);
    store_close(st);
    config_free(cfg);
    return rc;
}

int cmd_quarantine(cli *c, int argc, char **argv)
{
    static const char *const flags[] = {"--all", "--dry-run", "--reason", NULL};
    config *cfg = NULL;
    store *st = NULL;
    int rc, n = cmd_parse_common(c, "quarantine", argc, argv, flags);
    struct ctx ctx = {0};
    struct err e = {0};
    const char *source = NULL;
    long long id = 0;
    if (n < 0)
        return 2;
    if (n < 2)
        return cmd_usage("quarantine", "say list, show ID, replay or resolve");
    if (!strcmp(argv[1], "replay") || !strcmp(argv[1], "resolve"))
        return replay_or_resolve(c, n, argv);
    if (!strcmp(argv[1], "list")) {
        if (n > 3)
            return cmd_usage("quarantine", "list takes at most a source name");
        source = n == 3 ? argv[2] : NULL;
    } else if (!strcmp(argv[1], "show")) {
        char *end;
        if (n != 3)
            return cmd_usage("quarantine", "show needs one ID (see quarantine list)");
        errno = 0;
        id = strtoll(argv[2], &end, 10);
        if (*end || errno || id <= 0)
            return cmd_usage("quarantine", "\"%s\" is not a quarantine ID (a positive number)", argv[2]);
        ctx.show = 1;
    } else {
        return cmd_usage("quarantine", "unknown action \"%s\"; use list, show, replay or resolve", argv[1]);
    }
    if ((rc = cmd_load_config(c, &cfg)))
        return rc;
    if ((rc = cmd_open_store(cfg, &st)))
        goto out;
    ctx.json = c->json;
    if (st->ops->quarantine_list(st, source, id, row, &ctx, &e)) {
        rc = cmd_fail(&e);
        goto out;
    }
    if (!ctx.n) {
        if (ctx.show) {
            fprintf(stderr, "custody: quarantine: no entry %lld\n", id);
            rc = 1;
        } else if (!c->json) {
            fprintf(stderr, "custody: quarantine is empty%s%s\n", source ? " for " : "", source ? source : "");
        }
    }
out:
    store_close(st);
    config_free(cfg);
    return rc;
}
