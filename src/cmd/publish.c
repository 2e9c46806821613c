/* publish.c - `custody publish [--once | --follow] [--for DURATION]`: hand
 * every committed record version to the NATS JetStream stream of
 * outbox.nats, from the position kept in the store (engine/outbox.c over
 * io/nats_out.c). Takes no poll lock: it runs beside polls and the daemon;
 * a lock file per stream keeps a second publisher away. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "cmd.h"
#include "engine/log.h"
#include "engine/outbox.h"
#include "engine/poll.h"
#include "io/nats_out.h"

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
    stop_requested = 1;
    signal(sig, SIG_DFL); /* a second signal stops at once: what was sent is sent again next time */
}


/* --follow logs every batch; --once (and -q) only what went wrong. */
static void log_cb(void *ud, const char *level, const char *event, const char *fields, const char *msg)
{
    const int *quiet = ud;
    if (*quiet && !strcmp(level, "info"))
        return;
    log_event(level, event, NULL, NULL, fields, "%s", msg);
}

static void warn_cb(void *ud, const char *msg)
{
    log_event("warn", "outbox.stream", NULL, NULL, NULL, "%s", msg);
}

/* One publisher per stream and store: STORE.outbox-STREAM.lock (SQLite
 * stores; a shared database relies on the position check in the commit). */
static int lock_stream(const config *cfg, const char *stream, int *fd_out)
{
    char *uri = config_store_uri(cfg);
    char path[4096];
    int fd;
    *fd_out = -1;
    if (!uri)
        return 3;
    if (strstr(uri, "://")) {
        free(uri);
        return 0;
    }
    snprintf(path, sizeof path, "%s.outbox-%s.lock", uri, stream);
    free(uri);
    if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
        fprintf(stderr, "custody: publish: cannot open the lock file %s: %s; check the store directory's "
                        "permissions\n", path, strerror(errno));
        return 3;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        fprintf(stderr, "custody: publish: another custody publish is running for stream %s (%s is locked); run "
                        "one publisher per stream\n", stream, path);
        close(fd);
        return 3;
    }
    *fd_out = fd;
    return 0;
}

int cmd_publish(cli *c, int argc, char **argv)
{
    static const char *const flags[] = {"--once", "--follow", "--for", "--log", NULL};
    config *cfg = NULL;
    store *st = NULL;
    nats_out *nat = NULL;
    outbox *ob = NULL;
    outbox_sink sink;
    outbox_opts o = {0};
    outbox_report r = {0};
    const nats_cfg *nc;
    const char *for_text = NULL, *log_text = NULL, *token = NULL;
    int once = 0, follow = 0, rc = 0, lockfd = -1, quiet;
    int n = cmd_parse_common(c, "publish", argc, argv, flags);
    struct err e = {0};
    cust_code crc;

    if (n < 0)
        return 2;
    if (cmd_take_value(&n, argv, "--for", &for_text) < 0 || cmd_take_value(&n, argv, "--log", &log_text) < 0)
        return cmd_usage("publish", "--for and --log need a value");
    for (int i = 1; i < n; i++) {
        if (!strcmp(argv[i], "--once"))
            once = 1;
        else if (!strcmp(argv[i], "--follow"))
            follow = 1;
        else
            return cmd_usage("publish", "unexpected argument \"%s\"", argv[i]);
    }
    if (once && follow)
        return cmd_usage("publish", "--once and --follow exclude each other");
    if (for_text && !follow)
        return cmd_usage("publish", "--for goes with --follow");
    if (for_text && (o.for_ms = cmd_parse_duration(for_text)) <= 0)
        return cmd_usage("publish", "--for \"%s\": give a duration such as 90s, 5m or 2h", for_text);
    if (log_text && strcmp(log_text, "json") != 0 && strcmp(log_text, "text") != 0)
        return cmd_usage("publish", "--log \"%s\": json or text", log_text);
    if ((rc = cmd_load_config(c, &cfg)))
        return rc;
    nc = &cfg->outbox.nats;
    if (!nc->stream) {
        fprintf(stderr, "custody: publish: %s has no outbox.nats (at least outbox: { nats: { stream: NAME } }); see "
                        "docs/outbox.md\n", cfg->path);
        rc = 2;
        goto out;
    }
    if (nc->token_env && !((token = getenv(nc->token_env)) && *token)) {
        fprintf(stderr, "custody: publish: outbox.nats.token_env names %s, which is not set in the environment\n",
                nc->token_env);
        rc = 2;
        goto out;
    }
    /* the daemon's log format, unless asked; --once talks to a person */
    log_set_format(log_text ? (!strcmp(log_text, "text") ? LOG_TEXT : LOG_JSON)
                   : follow ? (!strcmp(cfg->run.log, "text") ? LOG_TEXT : LOG_JSON) : LOG_TEXT);
    if ((rc = lock_stream(cfg, nc->stream, &lockfd)) || (rc = cmd_open_store(cfg, &st)))
        goto out;
    {
        char subjects[256];
        nats_out_opts no;
        snprintf(subjects, sizeof subjects, "%s.>", nc->subject_prefix);
        no = (nats_out_opts){nc->url, nc->stream, subjects, token, nc->tls_ca, nc->create_stream,
                             nc->duplicate_window_ms, nc->ack_timeout_ms, nc->connect_timeout_ms, warn_cb, NULL};
        if (!(nat = nats_out_new(&no))) {
            rc = 3;
            goto out;
        }
    }
    sink = nats_out_sink(nat);
    quiet = c->quiet || !follow;
    o.subject_prefix = nc->subject_prefix;
    o.batch = (size_t)nc->batch;
    o.actor = c->actor;
    o.now = poll_clock_real;
    o.follow = follow;
    o.idle_ms = 1000;
    o.attempts = nc->attempts;
    o.retry_max_ms = nc->retry_max_ms;
    o.stop = &stop_requested;
    o.log = log_cb;
    o.log_ud = &quiet;
    if (!(ob = outbox_new(st, &sink, &o))) {
        fprintf(stderr, "custody: publish: out of memory\n");
        rc = 3;
        goto out;
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_stop);
    signal(SIGTERM, on_stop);
    crc = outbox_run(ob, &r, &e);
    if (c->json) {
        printf("{\"stream\":\"%s\",\"published\":%ld,\"duplicates\":%ld,\"position\":%" PRId64 ",\"from\":%" PRId64
               ",\"failures\":%ld,\"result\":\"%s\"}\n",
               nc->stream, r.published, r.duplicates, r.position, r.start, r.failures, crc ? "failed" : "ok");
    } else if (!c->quiet || crc) {
        printf("published %ld message(s) to stream %s (%ld already there), position %" PRId64 " (was %" PRId64 ")%s\n",
               r.published + r.duplicates, nc->stream, r.duplicates, r.position, r.start,
               crc ? ", stopped by the failure below" : stop_requested ? ", stopped on request" : "");
    }
    fflush(stdout);
    if (crc) {
        err_prefix(&e, "publish: ");
        rc = cmd_fail(&e);
    }
out:
    outbox_free(ob);
    nats_out_free(nat);
    store_close(st);
    if (lockfd >= 0)
        close(lockfd);
    config_free(cfg);
    nats_out_shutdown();
    return rc;
}
