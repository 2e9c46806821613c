/* alert.c - alert rules, episodes in the store, and delivery. */
#include "alert.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/json.h"

extern char **environ;

static const char *const kind_names[ALERT_KINDS] = {"rejection_ratio", "cursor_drift", "breaker_open", "stale",
                                                     "audit_verify"};

const char *alert_kind_name(alert_kind k)
{
    return (unsigned)k < ALERT_KINDS ? kind_names[k] : "unknown";
}

static void human_ms(int64_t ms, char *out, size_t n)
{
    if (ms >= 86400000 && ms % 3600000 == 0)
        snprintf(out, n, "%lldh", (long long)(ms / 3600000));
    else if (ms >= 3600000)
        snprintf(out, n, "%.1fh", (double)ms / 3600000.0);
    else if (ms >= 60000)
        snprintf(out, n, "%.1fm", (double)ms / 60000.0);
    else
        snprintf(out, n, "%.1fs", (double)ms / 1000.0);
}

void alert_eval(const alerts_cfg *cfg, const alert_inputs *in, int active[ALERT_KINDS],
                char detail[ALERT_KINDS][256])
{
    char a[32], b[32];
    for (int k = 0; k < ALERT_KINDS; k++) {
        active[k] = -1;
        detail[k][0] = '\0';
    }
    /* rejection ratio: judged on a cycle that saw records */
    if (in->have_cycle && in->cycle_ok) {
        if (in->fetched > 0) {
            double r = (double)in->quarantined / (double)in->fetched;
            active[ALERT_REJECTIONS] = r > cfg->rejection_ratio;
            snprintf(detail[ALERT_REJECTIONS], 256,
                     "%ld of %ld records (%.1f%%) failed the contract; the limit is %.1f%% "
                     "(custody quarantine list shows them)",
                     in->quarantined, in->fetched, 100.0 * r, 100.0 * cfg->rejection_ratio);
        } else {
            active[ALERT_REJECTIONS] = 0;
        }
    }
    if (in->have_cycle)
        active[ALERT_BREAKER] = in->breaker_open;
    if (in->breaker_open)
        snprintf(detail[ALERT_BREAKER], 256, "the circuit breaker is open: consecutive cycles failed; "
                                             "custody status and custody audit show why");
    /* staleness */
    {
        int64_t limit = cfg->stale_after_ms > 0 ? cfg->stale_after_ms : 3 * in->interval_ms;
        int64_t from = in->last_ok_ms >= 0 ? in->last_ok_ms : in->since_ms;
        if (limit > 0 && from >= 0) {
            active[ALERT_STALE] = in->now_ms - from > limit;
            human_ms(in->now_ms - from, a, sizeof a);
            human_ms(limit, b, sizeof b);
            snprintf(detail[ALERT_STALE], 256, "%s %s (limit %s)",
                     in->last_ok_ms >= 0 ? "no successful cycle for" : "never polled successfully in", a, b);
        }
    }
    /* cursor drift: a lagging watermark, or fresh data and a cursor that stays */
    {
        int lag = 0, stuck = 0;
        if (cfg->cursor_lag_ms > 0 && in->watermark_ms >= 0 && in->now_ms - in->watermark_ms > cfg->cursor_lag_ms) {
            lag = 1;
            human_ms(in->now_ms - in->watermark_ms, a, sizeof a);
            human_ms(cfg->cursor_lag_ms, b, sizeof b);
            snprintf(detail[ALERT_CURSOR_DRIFT], 256, "the watermark trails the clock by %s (limit %s)", a, b);
        }
        if (in->stuck >= cfg->stuck_cycles) {
            stuck = 1;
            snprintf(detail[ALERT_CURSOR_DRIFT], 256,
                     "%ld cycles in a row brought new records but the cursor did not move; check the "
                     "pagination settings (custody cursor show)", in->stuck);
        }
        if (in->have_cycle || lag)
            active[ALERT_CURSOR_DRIFT] = lag || stuck;
    }
    if (in->verify_failed >= 0) {
        active[ALERT_VERIFY] = in->verify_failed;
        if (in->verify_failed)
            snprintf(detail[ALERT_VERIFY], 256, "custody audit verify failed: the audit log or the records "
                                                "do not match their hashes; run it by hand to see where");
    }
}

cust_code alert_json(const alert_event *a, buf *out)
{
    buf_reset(out);
    if (buf_adds(out, "{\"alert\":\"") || buf_adds(out, alert_kind_name(a->kind)) || buf_adds(out, "\",\"at\":\"") ||
        buf_adds(out, a->at) || buf_adds(out, "\",\"cycle\":") ||
        (a->cycle[0] ? json_write_string(out, a->cycle, strlen(a->cycle)) : buf_adds(out, "null")) ||
        buf_adds(out, ",\"detail\":") || json_write_string(out, a->detail, strlen(a->detail)) ||
        buf_adds(out, ",\"since\":\"") || buf_adds(out, a->since) || buf_adds(out, "\",\"source\":") ||
        (a->source[0] ? json_write_string(out, a->source, strlen(a->source)) : buf_adds(out, "null")) ||
        buf_adds(out, ",\"state\":\"") || buf_adds(out, a->raised ? "raised" : "cleared") || buf_adds(out, "\"}"))
        return CUST_ENOMEM;
    return CUST_OK;
}

/* The stored episode: {"detail":..,"since":..}. */
static void episode_since(const char *v, char out[32])
{
    json_doc *d = json_doc_new();
    json_value *root = NULL;
    const json_value *s;
    out[0] = '\0';
    if (d && (root = json_parse(d, v, strlen(v), NULL, NULL)) && (s = json_get(root, "since")) &&
        s->type == JSON_STRING)
        snprintf(out, 32, "%.*s", (int)s->len, s->u.str);
    json_doc_free(d);
}

int alert_changes(store *st, const char *source, const int active[ALERT_KINDS])
{
    const char *src = source ? source : "";
    int n = 0;
    for (int k = 0; k < ALERT_KINDS; k++) {
        char key[48], *cur = NULL;
        struct err e = {0};
        if (active[k] < 0 || (k == ALERT_VERIFY) != (source == NULL))
            continue;
        snprintf(key, sizeof key, "alert.%s", kind_names[k]);
        if (st->ops->kv_get(st, src, key, &cur, &e))
            return -1;
        n += !!cur != !!active[k];
        free(cur);
    }
    return n;
}

cust_code alert_update(store *st, const char *source, const char *actor, const char *cycle, const char *now,
                       const int active[ALERT_KINDS], char detail[ALERT_KINDS][256], alert_event *ev,
                       int *nev, struct err *e)
{
    const char *src = source ? source : "";
    buf v;
    cust_code rc = CUST_OK;
    *nev = 0;
    buf_init(&v, 4096);
    for (int k = 0; k < ALERT_KINDS && !rc; k++) {
        char key[48], *cur = NULL;
        alert_event *a;
        if (active[k] < 0 || (k == ALERT_VERIFY) != (source == NULL))
            continue;
        snprintf(key, sizeof key, "alert.%s", kind_names[k]);
        if ((rc = st->ops->kv_get(st, src, key, &cur, e)))
            break;
        if (!!cur == !!active[k]) {
            free(cur); /* no change: the episode goes on, or there is none */
            continue;
        }
        a = &ev[(*nev)++];
        memset(a, 0, sizeof *a);
        a->kind = (alert_kind)k;
        a->raised = active[k];
        snprintf(a->source, sizeof a->source, "%s", src);
        snprintf(a->at, sizeof a->at, "%s", now);
        snprintf(a->cycle, sizeof a->cycle, "%s", cycle ? cycle : "");
        snprintf(a->detail, sizeof a->detail, "%s", detail[k][0] ? detail[k] : "the condition no longer holds");
        if (cur)
            episode_since(cur, a->since);
        else
            snprintf(a->since, sizeof a->since, "%s", now);
        free(cur);
        buf_reset(&v);
        if (buf_adds(&v, "{\"detail\":") || json_write_string(&v, a->detail, strlen(a->detail)) ||
            buf_adds(&v, ",\"since\":\"") || buf_adds(&v, a->since) || buf_adds(&v, "\"}")) {
            rc = err_set(e, CUST_ENOMEM, "out of memory");
            break;
        }
        if ((rc = st->ops->kv_put(st, src, key, a->raised ? v.ptr : NULL, e)))
            break;
        {
            /* the audit detail: the episode and its kind, keys sorted */
            buf d;
            store_audit au = {0};
            int64_t seq;
            buf_init(&d, 4096);
            if (buf_adds(&d, "{\"alert\":\"") || buf_adds(&d, kind_names[k]) || buf_adds(&d, "\",\"detail\":") ||
                json_write_string(&d, a->detail, strlen(a->detail)) || buf_adds(&d, ",\"since\":\"") ||
                buf_adds(&d, a->since) || buf_adds(&d, "\"}")) {
                buf_release(&d);
                rc = err_set(e, CUST_ENOMEM, "out of memory");
                break;
            }
            au.time = now;
            au.actor = actor;
            au.action = a->raised ? "alert.raised" : "alert.cleared";
            au.source = src;
            au.subject = kind_names[k];
            au.detail = d.ptr;
            au.cycle_id = cycle ? cycle : "";
            rc = st->ops->audit_append(st, &au, &seq, e);
            buf_release(&d);
        }
    }
    buf_release(&v);
    return rc;
}

static int run_command(const alerts_cfg *cfg, const char *json, const alert_io *io, char *what, size_t n)
{
    int fds[2], status = 0;
    pid_t pid;
    posix_spawn_file_actions_t fa;
    char **argv;
    int64_t deadline;
    size_t len = strlen(json);
    if (!(argv = calloc(cfg->ncommand + 1, sizeof *argv))) {
        snprintf(what, n, "out of memory");
        return 0;
    }
    for (size_t i = 0; i < cfg->ncommand; i++)
        argv[i] = cfg->command[i];
    if (pipe(fds) != 0) {
        snprintf(what, n, "alerts.command: pipe: %s", strerror(errno));
        free(argv);
        return 0;
    }
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[0], STDIN_FILENO);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_adddup2(&fa, STDERR_FILENO, STDOUT_FILENO); /* its output joins our log */
    if ((errno = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ)) != 0) {
        snprintf(what, n, "alerts.command: cannot run %s: %s (check the path)", argv[0], strerror(errno));
        posix_spawn_file_actions_destroy(&fa);
        close(fds[0]);
        close(fds[1]);
        free(argv);
        return 0;
    }
    posix_spawn_file_actions_destroy(&fa);
    free(argv);
    close(fds[0]);
    {
        /* an alert is far below a pipe's buffer, so this does not block;
         * a command that does not read its stdin gets EPIPE, ignored */
        void (*old)(int) = signal(SIGPIPE, SIG_IGN);
        size_t off = 0;
        while (off < len) {
            ssize_t w = write(fds[1], json + off, len - off);
            if (w <= 0)
                break;
            off += (size_t)w;
        }
        signal(SIGPIPE, old);
    }
    close(fds[1]);
    deadline = io->now_ms(io->ud) + cfg->command_timeout_ms;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR) {
            snprintf(what, n, "alerts.command: waitpid: %s", strerror(errno));
            return 0;
        }
        if (io->now_ms(io->ud) >= deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            snprintf(what, n, "alerts.command %s: killed after %lld ms (alerts.command_timeout)", cfg->command[0],
                     (long long)cfg->command_timeout_ms);
            return 0;
        }
        io->sleep_ms(io->ud, 20);
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 1;
    if (WIFEXITED(status))
        snprintf(what, n, "alerts.command %s: exit status %d", cfg->command[0], WEXITSTATUS(status));
    else
        snprintf(what, n, "alerts.command %s: killed by signal %d", cfg->command[0],
                 WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    return 0;
}

static int post_webhook(const alerts_cfg *cfg, const char *json, const alert_io *io, int *attempts, char *what,
                        size_t n)
{
    http_response resp;
    int ok = 0;
    int64_t delay = 1000;
    http_response_init(&resp);
    for (int i = 0; i < cfg->webhook_attempts && !ok; i++) {
        http_request rq = {0};
        struct err e = {0};
        char where[256];
        rq.method = "POST";
        rq.url = cfg->webhook;
        rq.body = json;
        rq.body_len = strlen(json);
        rq.connect_timeout_ms = 5000;
        rq.total_timeout_ms = 10000;
        rq.max_body = 64 * 1024;
        (*attempts)++;
        http_url_for_log(cfg->webhook, where, sizeof where);
        if (http_perform(io->http, &rq, &resp, &e) != CUST_OK)
            snprintf(what, n, "alerts.webhook: %s", e.msg);
        else if (resp.status >= 200 && resp.status < 300)
            ok = 1;
        else
            snprintf(what, n, "alerts.webhook %s: HTTP %ld", where, resp.status);
        if (!ok && i + 1 < cfg->webhook_attempts) {
            io->sleep_ms(io->ud, delay);
            delay *= 2;
        }
    }
    http_response_release(&resp);
    if (ok)
        what[0] = '\0';
    return ok;
}

void alert_deliver(const alerts_cfg *cfg, const alert_event *a, const alert_io *io, alert_delivery *out)
{
    buf j;
    memset(out, 0, sizeof *out);
    out->attempted = cfg->ncommand > 0 || cfg->webhook;
    if (!out->attempted)
        return;
    buf_init(&j, 64 * 1024);
    if (alert_json(a, &j)) {
        snprintf(out->what, sizeof out->what, "out of memory");
        buf_release(&j);
        return;
    }
    out->ok = 1;
    if (cfg->ncommand > 0) {
        out->attempts++;
        if (!run_command(cfg, j.ptr, io, out->what, sizeof out->what))
            out->ok = 0;
    }
    if (cfg->webhook && io->http) {
        char w[512] = "";
        if (!post_webhook(cfg, j.ptr, io, &out->attempts, w, sizeof w)) {
            out->ok = 0;
            snprintf(out->what + strlen(out->what), sizeof out->what - strlen(out->what), "%s%s",
                     out->what[0] ? "; " : "", w);
        }
    }
    buf_release(&j);
}
