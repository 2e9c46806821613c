/* cursor.c - `custody cursor show|reset SOURCE` and `custody status`: what
 * an operator needs to see and, rarely, to change; a reset is audited with
 * the actor and the reason. */
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "core/json.h"
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
        char now[32];
        buf d;
        store_audit a;
        cust_code r2;
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
    }
out:
    store_close(st);
    config_free(cfg);
    return rc;
}

int cmd_status(cli *c, int argc, char **argv)
{
    config *cfg = NULL;
    store *st = NULL;
    struct err e = {0};
    int rc, n = cmd_parse_common(c, "status", argc, argv, NULL);
    if (n < 0)
        return 2;
    if (n != 1)
        return cmd_usage("status", "status takes no arguments");
    if ((rc = cmd_load_config(c, &cfg)) || (rc = cmd_open_store(cfg, &st)))
        goto out;
    if (c->json)
        fputs("{\"sources\":[", stdout);
    else
        printf("%-24s %-24s %-8s %-10s %8s %10s  %s\n", "source", "last poll", "result", "breaker", "fetched",
               "rejected", "cursor");
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
        if (c->json) {
            printf("%s{\"source\":", i ? "," : "");
            cmd_json_string(stdout, src->name, strlen(src->name));
            printf(",\"last_poll_at\":");
            ss.last_poll_at ? cmd_json_string(stdout, ss.last_poll_at, strlen(ss.last_poll_at)) : (void)fputs("null", stdout);
            printf(",\"last_result\":");
            ss.last_result ? cmd_json_string(stdout, ss.last_result, strlen(ss.last_result)) : (void)fputs("null", stdout);
            printf(",\"breaker\":\"%s\",\"last_poll\":%s,\"cursor\":", brkname, sum && j ? sum : "null");
            ss.cursor ? cmd_json_string(stdout, ss.cursor, strlen(ss.cursor)) : (void)fputs("null", stdout);
            fputc('}', stdout);
        } else {
            printf("%-24s %-24s %-8s %-10s %8s %10s  %.40s\n", src->name, ss.last_poll_at ? ss.last_poll_at : "never",
                   ss.last_result ? ss.last_result : "-", brkname, fetched && fetched->type == JSON_NUMBER ? fetched->u.str : "-",
                   ratio && ratio->type == JSON_NUMBER ? ratio->u.str : "0", ss.cursor ? ss.cursor : "-");
        }
        free(sum);
        free(brk);
        json_doc_free(d);
        store_source_state_release(&ss);
    }
    if (c->json)
        puts("]}");
out:
    store_close(st);
    config_free(cfg);
    return rc;
}
