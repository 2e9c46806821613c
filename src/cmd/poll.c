/* poll.c - `custody poll`: one cycle of the named (or all) sources, under
 * an exclusive lock on the store so two pollers never interleave cursors. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "cmd.h"
#include "engine/fetch.h"
#include "engine/poll.h"
#include "io/sign.h"

static int take_lock(const config *cfg, int *fd_out)
{
    char *uri = config_store_uri(cfg);
    char path[4096];
    int fd;
    if (!uri)
        return 3;
    snprintf(path, sizeof path, "%s.lock", uri);
    free(uri);
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        int er = errno;
        fprintf(stderr, "custody: store lock file %s: cannot open: %s%s\n", path, strerror(er),
                er == ENOSPC   ? "; free disk space and rerun (nothing was polled)"
                : er == EIO    ? "; check the disk (dmesg, SMART) and rerun (nothing was polled)"
                : er == EACCES ? "; check the store directory's permissions"
                               : "");
        return 3;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        fprintf(stderr, "custody: another custody process is polling this store (%s is locked); "
                        "wait for it to finish or stop it\n", path);
        close(fd);
        return 3;
    }
    *fd_out = fd;
    return 0;
}

static void print_table(const poll_summary *s, size_t n, int color)
{
    printf("%-24s %6s %8s %8s %9s %10s %11s %8s  %s\n", "source", "pages", "fetched", "new", "versions",
           "duplicates", "quarantined", "seconds", "result");
    for (size_t i = 0; i < n; i++) {
        const char *res = s[i].result != CUST_OK ? "FAILED" : s[i].not_modified ? "ok (not modified)" : "ok";
        printf("%-24s %6ld %8ld %8ld %9ld %10ld %11ld %8.2f  %s%s%s\n", s[i].source, s[i].pages,
               s[i].fetched, s[i].stored_new, s[i].new_versions, s[i].duplicates, s[i].quarantined,
               s[i].seconds, color ? (s[i].result ? "\033[31m" : "\033[32m") : "", res,
               color ? "\033[0m" : "");
    }
}

static void print_json(const poll_summary *s, size_t n)
{
    fputs("{\"sources\":[", stdout);
    for (size_t i = 0; i < n; i++) {
        printf("%s{\"source\":", i ? "," : "");
        cmd_json_string(stdout, s[i].source, strlen(s[i].source));
        printf(",\"cycle\":\"%s\",\"pages\":%ld,\"fetched\":%ld,\"new\":%ld,\"new_versions\":%ld,"
               "\"duplicates\":%ld,\"quarantined\":%ld,\"quarantined_new\":%ld,\"removed\":%ld,"
               "\"snapshot_unchanged\":%s,\"not_modified\":%s,\"seconds\":%.3f,\"result\":\"%s\"",
               s[i].cycle, s[i].pages, s[i].fetched, s[i].stored_new, s[i].new_versions, s[i].duplicates,
               s[i].quarantined, s[i].quarantine_new, s[i].removed, s[i].snapshot_unchanged ? "true" : "false",
               s[i].not_modified ? "true" : "false", s[i].seconds,
               s[i].result == CUST_OK ? "ok" : cust_strerror(s[i].result));
        if (s[i].result) {
            fputs(",\"error\":", stdout);
            cmd_json_string(stdout, s[i].error, strlen(s[i].error));
        }
        fputc('}', stdout);
    }
    fputs("]}\n", stdout);
}

int cmd_poll(cli *c, int argc, char **argv)
{
    static const char *const flags[] = {"--once", NULL};
    config *cfg = NULL;
    store *st = NULL;
    http_client *http = NULL;
    rate_pools *pools = NULL;
    sign_key *signer = NULL;
    poll_summary *sums = NULL;
    const source_cfg **todo = NULL;
    size_t ntodo = 0, polled = 0;
    int n = cmd_parse_common(c, "poll", argc, argv, flags), rc = 0, lockfd = -1;
    struct err e = {0};

    if (n < 0)
        return 2;
    if ((rc = cmd_load_config(c, &cfg)))
        return rc;
    todo = calloc(cfg->nsources, sizeof *todo);
    sums = calloc(cfg->nsources, sizeof *sums);
    if (!todo || !sums) {
        rc = 3;
        goto out;
    }
    for (int i = 1; i < n; i++) {
        const source_cfg *s;
        if (!strcmp(argv[i], "--once"))
            continue; /* a poll is always one cycle; accepted for cron scripts */
        s = config_source(cfg, argv[i]);
        if (!s) {
            fprintf(stderr, "custody: poll: no source named \"%s\" in %s; sources are:", argv[i], cfg->path);
            for (size_t k = 0; k < cfg->nsources; k++)
                fprintf(stderr, " %s", cfg->sources[k].name);
            fputc('\n', stderr);
            rc = 2;
            goto out;
        }
        for (size_t k = 0; k < ntodo; k++)
            if (todo[k] == s)
                s = NULL;
        if (s)
            todo[ntodo++] = s;
    }
    if (!ntodo)
        for (size_t k = 0; k < cfg->nsources; k++)
            todo[ntodo++] = &cfg->sources[k];
    if ((rc = take_lock(cfg, &lockfd)) || (rc = cmd_open_store(cfg, &st)))
        goto out;
    if (!(http = http_client_new(&e))) {
        rc = cmd_fail(&e);
        goto out;
    }
    if (cfg->signing_key && !(signer = sign_key_load_private(cfg->signing_key, &e))) {
        fprintf(stderr, "custody: %s (audit.signing_key)\n", e.msg);
        rc = 2;
        goto out;
    }
    if (!(pools = rate_pools_new())) {
        fprintf(stderr, "custody: out of memory\n");
        rc = 3;
        goto out;
    }
    for (size_t k = 0; k < ntodo; k++) {
        poll_opts o = {cfg->actor, NULL, pools, NULL, signer};
        err_clear(&e);
        polled++;
        if (poll_source(cfg, todo[k], st, http, &o, &sums[k], &e)) {
            int code = err_exit_code(e.code);
            fprintf(stderr, "custody: %s\n", e.msg);
            /* The worst outcome decides: store trouble over config over upstream. */
            if (code == 3 || (code == 2 && rc != 3) || (code == 1 && rc == 0))
                rc = code;
            if (code == 3)
                break; /* the store is unusable: stop before doing more harm */
        }
    }
    if (c->json)
        print_json(sums, polled);
    else if (!c->quiet)
        print_table(sums, polled, c->color);
out:
    rate_pools_free(pools);
    sign_key_free(signer);
    http_client_free(http);
    store_close(st);
    if (lockfd >= 0)
        close(lockfd);
    free(todo);
    free(sums);
    config_free(cfg);
    return rc;
}
