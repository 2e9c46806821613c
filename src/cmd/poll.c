/* poll.c - `custody poll`: one cycle of the named (or all) sources, under
 * an exclusive lock on the store so two pollers never interleave cursors. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "engine/lease.h"
#include "engine/fetch.h"
#include "engine/poll.h"
#include "io/sign.h"

/* A stop request: the first SIGINT/SIGTERM ends each cycle at its next
 * page boundary, committed; a second one is the default action. */
static volatile int stop_requested;

static void on_stop(int sig)
{
    stop_requested = 1;
    signal(sig, SIG_DFL);
}

/* The progress line on a terminal, for long backfills: redrawn at most
 * five times a second, only once a cycle has run for a second. */
struct progress {
    int on;
    struct timespec t0, last;
    int drawn;
};

static double since(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

static void on_progress(void *ud, const poll_summary *s, long long total_records, long long total_pages)
{
    struct progress *p = ud;
    struct timespec now;
    double el, rate, eta = -1;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (s->pages == 1)
        p->t0 = now;
    el = since(&p->t0, &now);
    if (el < 1.0 || (p->drawn && since(&p->last, &now) < 0.2))
        return;
    p->last = now;
    p->drawn = 1;
    rate = el > 0 ? (double)s->fetched / el : 0;
    if (total_records > s->fetched && rate > 0)
        eta = (double)(total_records - s->fetched) / rate;
    else if (total_pages > s->pages && s->pages > 0)
        eta = el / (double)s->pages * (double)(total_pages - s->pages);
    fprintf(stderr, "\r\033[K%s: %ld pages", s->source, s->pages);
    if (total_pages > 0)
        fprintf(stderr, "/%lld", total_pages);
    fprintf(stderr, ", %ld records", s->fetched);
    if (total_records > 0)
        fprintf(stderr, "/%lld (%.0f%%)", total_records, 100.0 * (double)s->fetched / (double)total_records);
    fprintf(stderr, ", %.0f rec/s", rate);
    if (eta >= 0)
        fprintf(stderr, ", ETA %d:%02d:%02d", (int)(eta / 3600), (int)(eta / 60) % 60, (int)eta % 60);
    fflush(stderr);
}

static void progress_end(struct progress *p)
{
    if (p->drawn)
        fputs("\r\033[K", stderr);
    p->drawn = 0;
}

static void print_table(const poll_summary *s, size_t n, int color)
{
    printf("%-24s %6s %8s %8s %9s %10s %11s %8s  %s\n", "source", "pages", "fetched", "new", "versions",
           "duplicates", "quarantined", "seconds", "result");
    for (size_t i = 0; i < n; i++) {
        const char *res = s[i].result != CUST_OK ? "FAILED"
                          : s[i].leased_elsewhere ? "skipped (another worker holds its lease)"
                          : s[i].interrupted ? "stopped (resumes next time)"
                          : s[i].not_modified ? "ok (not modified)" : "ok";
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
               "\"snapshot_unchanged\":%s,\"not_modified\":%s,\"interrupted\":%s,\"seconds\":%.3f,\"result\":\"%s\"",
               s[i].cycle, s[i].pages, s[i].fetched, s[i].stored_new, s[i].new_versions, s[i].duplicates,
               s[i].quarantined, s[i].quarantine_new, s[i].removed, s[i].snapshot_unchanged ? "true" : "false",
               s[i].not_modified ? "true" : "false", s[i].interrupted ? "true" : "false", s[i].seconds,
               s[i].result != CUST_OK ? cust_strerror(s[i].result) : s[i].leased_elsewhere ? "skipped" : "ok");
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
    char owner[256];
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
    struct progress prog = {0};

    if (n < 0)
        return 2;
    prog.on = !c->quiet && !c->json && isatty(STDERR_FILENO);
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
    if ((rc = cmd_lock_store(cfg, &lockfd)) || (rc = cmd_open_store(cfg, &st)))
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
    signal(SIGINT, on_stop);
    signal(SIGTERM, on_stop);
    if (cfg->run.worker_id)
        snprintf(owner, sizeof owner, "%s", cfg->run.worker_id);
    else
        lease_owner_default(owner, sizeof owner);
    for (size_t k = 0; k < ntodo; k++) {
        poll_opts o = {0};
        cust_code prc;
        o.actor = cfg->actor;
        o.pools = pools;
        o.signer = signer;
        o.stop = &stop_requested;
        if (prog.on) {
            o.progress = on_progress;
            o.progress_ud = &prog;
        }
        if (stop_requested)
            break;
        err_clear(&e);
        polled++;
        {
            lease_guard lg;
            int held = lease_begin(&lg, st, todo[k]->name, owner, cfg->run.lease_ttl_ms, &e);
            if (held < 0) {
                prc = e.code;
            } else if (held == 0) {
                memset(&sums[k], 0, sizeof sums[k]);
                snprintf(sums[k].source, sizeof sums[k].source, "%s", todo[k]->name);
                sums[k].leased_elsewhere = 1;
                if (!c->quiet)
                    fprintf(stderr, "custody: source %s: another worker (%s) holds its lease and polls it; "
                                    "skipped\n", todo[k]->name, lg.holder[0] ? lg.holder : "unknown");
                continue;
            } else {
                prc = poll_source(cfg, todo[k], st, http, &o, &sums[k], &e);
                lease_end(&lg);
            }
        }
        progress_end(&prog);
        if (prc) {
            int code = err_exit_code(e.code);
            fprintf(stderr, "custody: %s\n", e.msg);
            /* The worst outcome decides: store trouble over config over upstream. */
            if (code == 3 || (code == 2 && rc != 3) || (code == 1 && rc == 0))
                rc = code;
            if (code == 3)
                break; /* the store is unusable: stop before doing more harm */
        }
    }
    if (stop_requested && !c->quiet)
        fprintf(stderr, "custody: stopped on request after %zu of %zu sources; every cycle ended at a "
                        "committed page boundary and resumes there next time\n", polled, ntodo);
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
