/* records.c - `custody records SOURCE [KEY] [--history] [--json]`. */
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "core/jcs.h"
#include "core/json.h"

struct ctx {
    int json;
    long n;
};

static int row(void *ud, const store_row *r)
{
    struct ctx *c = ud;
    if (c->json) {
        fputs("{\"source\":", stdout);
        cmd_json_string(stdout, r->cols[REC_SOURCE], r->lens[REC_SOURCE]);
        printf(",\"key\":%s,\"version\":%s,\"content_hash\":\"%s\",\"record\":%s,\"raw_hash\":\"%s\","
               "\"fetched_at\":\"%s\",\"request_id\":\"%s\",\"cycle\":\"%s\",\"config_hash\":\"%s\"}\n",
               r->cols[REC_KEY], r->cols[REC_VERSION], r->cols[REC_HASH], r->cols[REC_CANONICAL],
               r->cols[REC_RAW_HASH], r->cols[REC_FETCHED_AT], r->cols[REC_REQUEST_ID], r->cols[REC_CYCLE],
               r->cols[REC_CONFIG_HASH]);
    } else {
        printf("%-56s v%-3s %.12s  %s\n    %s\n", r->cols[REC_KEY], r->cols[REC_VERSION], r->cols[REC_HASH],
               r->cols[REC_FETCHED_AT], r->cols[REC_CANONICAL]);
    }
    c->n++;
    return 0;
}


int cmd_records(cli *c, int argc, char **argv)
{
    static const char *const flags[] = {"--history", NULL};
    config *cfg = NULL;
    store *st = NULL;
    char *key = NULL;
    const char *source = NULL, *keyarg = NULL;
    int history = 0, rc, n = cmd_parse_common(c, "records", argc, argv, flags);
    struct ctx ctx = {0};
    struct err e = {0};
    if (n < 0)
        return 2;
    for (int i = 1; i < n; i++) {
        if (!strcmp(argv[i], "--history"))
            history = 1;
        else if (!source)
            source = argv[i];
        else if (!keyarg)
            keyarg = argv[i];
        else
            return cmd_usage("records", "unexpected argument \"%s\"", argv[i]);
    }
    if (!source)
        return cmd_usage("records", "name the source: custody records SOURCE [KEY]");
    if ((rc = cmd_load_config(c, &cfg)))
        return rc;
    if (!config_source(cfg, source)) {
        fprintf(stderr, "custody: records: no source named \"%s\" in %s\n", source, cfg->path);
        config_free(cfg);
        return 2;
    }
    if (keyarg && !(key = cmd_key_arg(keyarg))) {
        config_free(cfg);
        return cmd_usage("records", "KEY \"%s\" is neither a JSON array nor key parts separated by '|'", keyarg);
    }
    if ((rc = cmd_open_store(cfg, &st)))
        goto out;
    ctx.json = c->json;
    if (st->ops->records_list(st, source, key, history, row, &ctx, &e)) {
        rc = cmd_fail(&e);
        goto out;
    }
    if (!ctx.n && !c->json) {
        if (key)
            fprintf(stderr, "custody: records: no record of %s with key %s\n", source, key);
        else
            fprintf(stderr, "custody: records: no records of %s yet (run custody poll %s)\n", source, source);
    }
    if (key && !ctx.n)
        rc = 1;
out:
    free(key);
    store_close(st);
    config_free(cfg);
    return rc;
}
