/* daemon.c - the scheduler loop of `custody run` (see daemon.h). */
#include "daemon.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alert.h"
#include "coro.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/schedule.h"
#include "core/timefmt.h"
#include "fetch.h"
#include "io/http.h"
#include "lease.h"
#include "io/tzload.h"
#include "log.h"
#include "poll.h"
#include "hook.h"
#include "serve.h"

extern char **environ;

#define NPRIO 10

enum task_state { T_READY, T_HTTP, T_SLEEP, T_WRITER, T_COMMIT, T_DONE };
enum task_kind { K_POLL, K_RELOAD, K_VERIFY, K_SERVE, K_EXPIRE };

struct daemon;
struct gen;

/* One source as the scheduler sees it. */
struct dsrc {
    const source_cfg *sc;
    sched_spec spec;
    tz_zone *zone;           /* owned; NULL for every */
    int64_t base_ms;         /* nominal interval */
    int64_t cur_ms;          /* adapted interval (every) / error retry (daily, cron) */
    int64_t fire_ms;         /* the schedule's instant this source is due for (before jitter) */
    int64_t due_ms;          /* fire + jitter */
    int64_t jitter_ms;       /* fixed per-source delay of each fire */
    int running;
    int waiting;             /* in its pool's wait list */
    int pool;                /* index into gen->pools, -1 none */
    long stuck;              /* cycles with fresh records and an unmoved cursor */
    long cycles;
    double ratios[24];       /* recent rejection ratios, a ring (the page's sparkline) */
    int nratios, ratio_at;
    int64_t last_ok_ms;      /* last successful cycle seen by this daemon (or the store), -1 never */
    int breaker_open;
};

struct pool_state {
    const pool_cfg *pc;
    long running;
    long cap;                /* 0: none */
    int *wait;               /* dsrc indexes, FIFO */
    size_t nwait, capwait, headwait;
};

/* A configuration generation: replaced on SIGHUP, freed when its last
 * running cycle ends. */
struct gen {
    config *cfg;
    int refs;
    struct dsrc *src;
    size_t n;
    struct pool_state *pools;
    size_t npools;
    sched_queue *q[NPRIO];
};

struct task {
    struct daemon *d;
    coro *co;
    http_client *http;
    enum task_state state;
    enum task_kind kind;
    int64_t wake_ms;
    CURL *easy;
    int curl_rc;
    struct gen *gen;
    int src;                 /* dsrc index in gen */
    char name[128];
    char pool[128];
    int64_t due_ms, started_ms;
    poll_summary sum;
    cust_code rc;
    int64_t lease_epoch;     /* shared store: the cycle's lease (0: none) */
    cust_code commit_rc;     /* the round's COMMIT, for a cycle waiting on it */
    struct err commit_err;
    int verify_failed;
    char note[1024];         /* K_RELOAD: what happened */
    void (*fn)(void *);      /* K_SERVE: the server's work */
    void *fn_arg;
    char from_hash[65], to_hash[65];
};

struct daemon {
    const daemon_opts *o;
    struct gen *cur;
    store *st;
    const store_ops *inner;
    store_ops gated;
    CURLM *multi;
    rate_pools *pools;
    struct task **tasks;
    size_t ntasks, captasks;
    long polls_running;
    struct task *running;    /* the task being resumed */
    struct task *writer;     /* the task holding the store's transaction */
    struct task **wq;        /* waiting for the writer, FIFO */
    size_t nwq, capwq;
    struct task **cw;        /* committed their savepoint, waiting for the round's COMMIT */
    size_t ncw, capcw;
    int round_open;          /* the real transaction of this round is open */
    long rounds;
    volatile int stop;       /* poll cycles and fetches watch this */
    int aborting;
    int64_t stop_deadline;
    int64_t started_ms, end_ms;
    int pipefd[2];
    pid_t verify_pid;
    char owner[256];         /* shared store: this worker's name in leases */
    int64_t next_verify_ms;
    int64_t next_state_ms;
    coro **free_coros;
    size_t nfree_coros, capfree_coros;
    http_client **free_http;
    size_t nfree_http, capfree_http;
    int32_t *late;           /* lateness samples (ms), for the summary at exit */
    size_t nlate, caplate;
    long cycles, failures;
    int64_t max_late;
    serve *srv;
    long long http_status[600];  /* upstream responses by status (0: no response) */
    long long rec_new, rec_versions, rec_dup, rec_quar, polls_ok, polls_failed, polls_stopped;
    long long commit_buckets[12]; /* round COMMIT latency histogram (cumulative at render) */
    double commit_sum;
    int64_t next_expire_ms;
    ui_source_live *live;
    size_t nlive;
    char last_verify[256];
    const char *stop_reason;
};

static struct daemon *g_d; /* the writer gate's store callbacks reach the daemon here */
static int g_sigfd = -1;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void iso_ms(int64_t ms, char out[32])
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

static void on_signal(int sig)
{
    char c = sig == SIGHUP ? 'H' : 'T';
    int saved = errno;
    if (g_sigfd >= 0) {
        ssize_t w = write(g_sigfd, &c, 1);
        (void)w; /* a full pipe already holds a wake-up */
    }
    errno = saved;
}

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    void *p;
    size_t nc;
    if (need <= *cap)
        return 0;
    nc = *cap ? *cap * 2 : 16;
    while (nc < need)
        nc *= 2;
    if (!(p = realloc(*arr, nc * elem)))
        return -1;
    *arr = p;
    *cap = nc;
    return 0;
}

/* ---- the task side: suspend on HTTP, timers and the writer ------------- */

static int drive(void *ud, void *easy)
{
    struct task *t = ud;
    struct daemon *d = t->d;
    if (d->aborting)
        return CURLE_ABORTED_BY_CALLBACK;
    curl_easy_setopt(easy, CURLOPT_PRIVATE, t);
    if (curl_multi_add_handle(d->multi, easy) != CURLM_OK)
        return CURLE_FAILED_INIT;
    t->easy = easy;
    t->state = T_HTTP;
    coro_yield();
    {
        long code = 0;
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
        d->http_status[code >= 0 && code < 600 ? code : 0]++;
    }
    return t->curl_rc;
}

static struct task *current_task(void)
{
    return g_d ? g_d->running : NULL;
}

static int64_t task_now(void *ud)
{
    (void)ud;
    return now_ms();
}

static void task_sleep(void *ud, int64_t ms)
{
    struct task *t = current_task();
    (void)ud;
    if (!t || ms <= 0 || g_d->stop)
        return;
    t->wake_ms = now_ms() + ms;
    t->state = T_SLEEP;
    coro_yield();
}

static void writer_release(struct daemon *d)
{
    d->writer = NULL;
    if (d->nwq) {
        struct task *t = d->wq[0];
        memmove(d->wq, d->wq + 1, (d->nwq - 1) * sizeof *d->wq);
        d->nwq--;
        d->writer = t; /* handed over: FIFO */
        t->state = T_READY;
    }
}

/* Group commit. The first transaction of a round opens the real one
 * (BEGIN); each cycle's transaction is a savepoint inside it, taken in
 * turn (one writer). A cycle's commit releases its savepoint and waits for
 * the round's COMMIT, which the loop issues once no cycle is mid-
 * transaction: every cycle that committed in one loop iteration shares one
 * fsync, and none is told "committed" before it is durable. A failed
 * COMMIT fails every transaction of the round, as each would have failed
 * alone. */
static cust_code gated_begin(store *s, struct err *e)
{
    struct daemon *d = g_d;
    struct task *me = current_task();
    cust_code rc;
    if (d->writer && d->writer != me) {
        if (!me) /* the loop itself never waits: it writes only while no task runs */
            return err_set(e, CUST_ESTORE, "internal: the scheduler tried to write while a cycle holds the store");
        if (grow((void **)&d->wq, &d->capwq, d->nwq + 1, sizeof *d->wq))
            return err_set(e, CUST_ENOMEM, "out of memory");
        d->wq[d->nwq++] = me;
        me->state = T_WRITER;
        while (d->writer != me)
            coro_yield();
    }
    d->writer = me;
    if (!d->round_open) {
        if ((rc = d->inner->begin(s, e))) {
            writer_release(d);
            return rc;
        }
        d->round_open = 1;
    }
    if ((rc = d->inner->savepoint(s, STORE_SP_BEGIN, e))) {
        writer_release(d);
        return rc;
    }
    return CUST_OK;
}

/* COMMIT the round: called by the loop when no one holds the writer. */
static void round_commit(struct daemon *d)
{
    struct err e = {0};
    cust_code rc;
    struct timespec t0, t1;
    double secs;
    static const double bounds[11] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1};
    if (!d->round_open || d->writer)
        return;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = d->inner->commit(d->st, &e);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    d->commit_sum += secs;
    {
        int b = 0;
        while (b < 11 && secs > bounds[b])
            b++;
        d->commit_buckets[b]++;
    }
    d->round_open = 0;
    d->rounds++;
    for (size_t i = 0; i < d->ncw; i++) {
        struct task *t = d->cw[i];
        t->commit_rc = rc;
        t->commit_err = e;
        t->state = T_READY;
    }
    d->ncw = 0;
}

static cust_code gated_commit(store *s, struct err *e)
{
    struct daemon *d = g_d;
    struct task *me = current_task();
    cust_code rc = CUST_OK;
    /* a shared store: the cycle proves its lease inside the unit it
     * commits, or the unit is undone (a worker paused past its lease) */
    if (me && me->lease_epoch && d->inner->lease_fence)
        rc = d->inner->lease_fence(s, me->name, d->owner, me->lease_epoch, me->gen->cfg->run.lease_ttl_ms, e);
    if (!rc)
        rc = d->inner->savepoint(s, STORE_SP_RELEASE, e);
    if (rc) {
        struct err ignore = {0};
        d->inner->savepoint(s, STORE_SP_ROLLBACK, &ignore);
        writer_release(d);
        return rc;
    }
    writer_release(d);
    if (!me) { /* the loop, between cycles: commit at once */
        round_commit(d);
        return d->round_open ? err_set(e, CUST_ESTORE, "internal: the round did not commit") : CUST_OK;
    }
    if (grow((void **)&d->cw, &d->capcw, d->ncw + 1, sizeof *d->cw)) {
        /* cannot wait for the round: make it now (nobody holds the writer) */
        round_commit(d);
        return CUST_OK;
    }
    d->cw[d->ncw++] = me;
    me->state = T_COMMIT;
    coro_yield();
    if (me->commit_rc && e)
        *e = me->commit_err;
    return me->commit_rc;
}

static void gated_rollback(store *s)
{
    struct daemon *d = g_d;
    struct err ignore = {0};
    if (d->writer != current_task())
        return; /* not inside a transaction (a failed commit already undid it) */
    d->inner->savepoint(s, STORE_SP_ROLLBACK, &ignore);
    writer_release(d);
}

static int writer_wanted(void *ud)
{
    (void)ud;
    return g_d->nwq > 0 || g_d->ncw > 0;
}

/* ---- generations -------------------------------------------------------- */

static void gen_free(struct gen *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->n; i++)
        tz_free(g->src[i].zone);
    for (size_t i = 0; i < g->npools; i++)
        free(g->pools[i].wait);
    for (int p = 0; p < NPRIO; p++)
        sched_queue_free(g->q[p]);
    free(g->src);
    free(g->pools);
    config_free(g->cfg);
    free(g);
}

static void gen_release(struct gen *g)
{
    if (g && --g->refs == 0)
        gen_free(g);
}

static cust_code spec_of(const run_cfg *rc, const source_cfg *s, struct dsrc *ds, struct err *e)
{
    cust_code r;
    if (s->daily) {
        char zone[TZ_NAME_MAX];
        if ((r = sched_parse_daily(s->daily, &ds->spec, zone, e)))
            return r;
        if ((r = tz_load(zone[0] ? zone : "UTC", &ds->zone, e)))
            return r;
        sched_set_zone(&ds->spec, ds->zone);
    } else if (s->cron) {
        if ((r = sched_parse_cron(s->cron, &ds->spec, e)))
            return r;
        if ((r = tz_load(s->timezone, &ds->zone, e)))
            return r;
        sched_set_zone(&ds->spec, ds->zone);
    } else {
        if ((r = sched_make_every(s->every_ms ? s->every_ms : rc->default_every_ms, &ds->spec, e)))
            return r;
    }
    ds->base_ms = sched_nominal_ms(&ds->spec);
    if (ds->base_ms <= 0)
        ds->base_ms = rc->default_every_ms;
    ds->cur_ms = s->daily || s->cron ? 0 : ds->base_ms;
    ds->jitter_ms = sched_jitter_ms(s->name, s->jitter_ms, 0);
    return CUST_OK;
}

int64_t daemon_next_due(const config *cfg, const source_cfg *src, int64_t last_poll_ms, int64_t now)
{
    struct dsrc ds;
    struct err e = {0};
    int64_t next;
    memset(&ds, 0, sizeof ds);
    if (spec_of(&cfg->run, src, &ds, &e)) {
        tz_free(ds.zone);
        return -1;
    }
    if (src->daily || src->cron)
        next = sched_next(&ds.spec, last_poll_ms >= 0 ? last_poll_ms : now);
    else
        next = last_poll_ms >= 0 ? last_poll_ms + ds.base_ms : now;
    if (next >= 0 && next < now)
        next = now; /* overdue: due now */
    if (next >= 0)
        next += ds.jitter_ms;
    tz_free(ds.zone);
    return next;
}

static int64_t parse_iso(const char *t)
{
    int64_t ms;
    if (t && timefmt_parse(TIME_ISO8601, t, strlen(t), &ms))
        return ms;
    return -1;
}

static void queue_push(struct gen *g, int i)
{
    struct dsrc *ds = &g->src[i];
    int p = (int)ds->sc->priority;
    if (p < 0)
        p = 0;
    if (p >= NPRIO)
        p = NPRIO - 1;
    if (sched_queue_push(g->q[p], i, ds->due_ms, p, NULL))
        log_event("error", "schedule", ds->sc->name, NULL, NULL, "out of memory: the source is not scheduled");
}

/* Build a generation for cfg; the first due time of each source comes from
 * its last poll in the store (a restart does not re-poll what is fresh),
 * spread by the start-up jitter when overdue. */
static cust_code gen_new(struct daemon *d, config *cfg, struct gen **out, struct err *e)
{
    struct gen *g = calloc(1, sizeof *g);
    int64_t now = now_ms();
    cust_code rc = CUST_OK;
    if (!g)
        return err_set(e, CUST_ENOMEM, "out of memory");
    g->cfg = cfg;
    g->refs = 1;
    g->n = cfg->nsources;
    g->npools = cfg->npools;
    for (int p = 0; p < NPRIO; p++)
        if (!(g->q[p] = sched_queue_new(g->n + 1))) {
            g->cfg = NULL;
            gen_free(g);
            return err_set(e, CUST_ENOMEM, "out of memory");
        }
    if (!(g->src = calloc(g->n ? g->n : 1, sizeof *g->src)) ||
        !(g->pools = calloc(g->npools ? g->npools : 1, sizeof *g->pools))) {
        g->cfg = NULL;
        gen_free(g);
        return err_set(e, CUST_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < g->npools; i++) {
        g->pools[i].pc = &cfg->pools[i];
        g->pools[i].cap = cfg->pools[i].max_concurrent;
    }
    for (size_t i = 0; i < g->n && !rc; i++) {
        struct dsrc *ds = &g->src[i];
        const source_cfg *s = &cfg->sources[i];
        store_source_state ss = {0};
        int64_t last = -1, next;
        ds->sc = s;
        ds->pool = -1;
        if (s->tenant)
            ds->pool = (int)(s->tenant - cfg->pools);
        if ((rc = spec_of(&cfg->run, s, ds, e))) {
            err_prefix(e, "source %s: ", s->name);
            break;
        }
        if ((rc = d->st->ops->source_get(d->st, s->name, &ss, e)))
            break;
        last = parse_iso(ss.last_poll_at);
        store_source_state_release(&ss);
        ds->last_ok_ms = -1;
        {
            char *v = NULL;
            if (d->st->ops->kv_get(d->st, s->name, "last_ok_at", &v, e) == CUST_OK && v)
                ds->last_ok_ms = parse_iso(v);
            free(v);
            err_clear(e);
        }
        if (s->daily || s->cron) {
            next = sched_next(&ds->spec, last >= 0 ? last : now);
            if (next < 0)
                next = INT64_MAX / 2; /* never fires: check warned */
        } else {
            next = last >= 0 ? last + ds->base_ms : now;
        }
        ds->fire_ms = next;
        if (next <= now) {
            int64_t spread = cfg->run.startup_jitter_ms < ds->base_ms ? cfg->run.startup_jitter_ms : ds->base_ms;
            /* the start-up offset becomes the source's phase: fixed-rate fires
             * keep it, so the sources stay spread after the first round */
            ds->fire_ms = ds->due_ms = now + sched_jitter_ms(s->name, spread, 1);
        } else {
            ds->due_ms = next + ds->jitter_ms;
        }
    }
    if (rc) {
        g->cfg = NULL; /* the caller still owns cfg */
        gen_free(g);
        return rc;
    }
    /* cycles of the old generation still running keep their sources and
     * pool slots taken */
    for (size_t k = 0; k < d->ntasks; k++) {
        struct task *t = d->tasks[k];
        if (t->kind != K_POLL)
            continue;
        for (size_t i = 0; i < g->n; i++)
            if (!strcmp(g->src[i].sc->name, t->name))
                g->src[i].running = 1;
        for (size_t i = 0; i < g->npools; i++)
            if (!strcmp(g->pools[i].pc->name, t->pool))
                g->pools[i].running++;
    }
    for (size_t i = 0; i < g->n; i++)
        if (!g->src[i].running)
            queue_push(g, (int)i);
    *out = g;
    return CUST_OK;
}

/* ---- tasks -------------------------------------------------------------- */

static struct task *task_new(struct daemon *d, enum task_kind kind, coro_fn fn)
{
    struct task *t = calloc(1, sizeof *t);
    struct err e = {0};
    if (!t || grow((void **)&d->tasks, &d->captasks, d->ntasks + 1, sizeof *d->tasks)) {
        free(t);
        return NULL;
    }
    t->d = d;
    t->kind = kind;
    t->state = T_READY;
    if (d->nfree_http)
        t->http = d->free_http[--d->nfree_http];
    else if (!(t->http = http_client_new(&e))) {
        free(t);
        return NULL;
    }
    http_client_set_driver(t->http, drive, t);
    if (d->nfree_coros) {
        t->co = d->free_coros[--d->nfree_coros];
        coro_reset(t->co, fn, t);
    } else if (!(t->co = coro_new(fn, t, 0))) {
        http_client_free(t->http);
        free(t);
        return NULL;
    }
    d->tasks[d->ntasks++] = t;
    return t;
}

static void task_free(struct daemon *d, struct task *t)
{
    for (size_t k = 0; k < d->ntasks; k++)
        if (d->tasks[k] == t) {
            d->tasks[k] = d->tasks[--d->ntasks];
            break;
        }
    if (!grow((void **)&d->free_coros, &d->capfree_coros, d->nfree_coros + 1, sizeof *d->free_coros))
        d->free_coros[d->nfree_coros++] = t->co;
    else
        coro_free(t->co);
    if (!grow((void **)&d->free_http, &d->capfree_http, d->nfree_http + 1, sizeof *d->free_http))
        d->free_http[d->nfree_http++] = t->http;
    else
        http_client_free(t->http);
    gen_release(t->gen);
    free(t);
}

/* The position a cycle should move: the cursor, or for incremental
 * sources the watermark. malloc'd or NULL. */
static char *position_of(store *st, const source_cfg *s)
{
    char *v = NULL;
    struct err e = {0};
    if (s->incremental.param) {
        if (st->ops->kv_get(st, s->name, "watermark", &v, &e))
            return NULL;
        return v;
    } else {
        store_source_state ss = {0};
        if (st->ops->source_get(st, s->name, &ss, &e))
            return NULL;
        v = ss.cursor;
        ss.cursor = NULL;
        store_source_state_release(&ss);
        return v;
    }
}

static void deliver_all(struct task *t, const alerts_cfg *ac, alert_event *ev, int nev)
{
    struct daemon *d = t->d;
    alert_io io = {t->http, task_sleep, task_now, t};
    for (int i = 0; i < nev; i++) {
        alert_delivery del;
        char fields[512];
        struct err e = {0};
        snprintf(fields, sizeof fields, "\"alert\":\"%s\",\"state\":\"%s\"", alert_kind_name(ev[i].kind),
                 ev[i].raised ? "raised" : "cleared");
        log_event(ev[i].raised ? "warn" : "info", ev[i].raised ? "alert.raised" : "alert.cleared",
                  ev[i].source[0] ? ev[i].source : NULL, ev[i].cycle, fields, "%s", ev[i].detail);
        alert_deliver(ac, &ev[i], &io, &del);
        if (!del.attempted)
            continue;
        if (!del.ok)
            log_event("error", "alert.delivery_failed", ev[i].source[0] ? ev[i].source : NULL, ev[i].cycle,
                      fields, "%s", del.what);
        /* the delivery is evidence too */
        {
            buf dj;
            char at[32];
            store_audit au = {0};
            int64_t seq;
            buf_init(&dj, 4096);
            iso_ms(now_ms(), at);
            if (!buf_addf(&dj, "{\"alert\":\"%s\",\"attempts\":%d,\"error\":", alert_kind_name(ev[i].kind),
                          del.attempts) &&
                !(del.ok ? buf_adds(&dj, "null") : json_write_string(&dj, del.what, strlen(del.what))) &&
                !buf_addf(&dj, ",\"state\":\"%s\"}", ev[i].raised ? "raised" : "cleared")) {
                au.time = at;
                au.actor = d->o->actor;
                au.action = del.ok ? "alert.delivered" : "alert.delivery_failed";
                au.source = ev[i].source;
                au.subject = alert_kind_name(ev[i].kind);
                au.detail = dj.ptr;
                au.cycle_id = ev[i].cycle;
                if (d->st->ops->begin(d->st, &e) == CUST_OK) {
                    if (d->st->ops->audit_append(d->st, &au, &seq, &e) || d->st->ops->commit(d->st, &e))
                        d->st->ops->rollback(d->st);
                }
            }
            buf_release(&dj);
        }
    }
}

/* Judge a source after its cycle and write episode changes. */
static void alerts_after_cycle(struct task *t, struct dsrc *ds, const char *pos_before)
{
    struct daemon *d = t->d;
    const config *cfg = t->gen->cfg;
    const source_cfg *s = ds->sc;
    alert_inputs in = {0};
    int active[ALERT_KINDS];
    char detail[ALERT_KINDS][256];
    alert_event ev[ALERT_KINDS];
    int nev = 0;
    char *v = NULL, *pos_after;
    char now[32];
    struct err e = {0};
    in.now_ms = now_ms();
    in.have_cycle = 1;
    in.cycle_ok = t->sum.result == CUST_OK;
    in.fetched = t->sum.fetched;
    in.quarantined = t->sum.quarantined;
    in.fresh = t->sum.stored_new + t->sum.new_versions;
    in.breaker_open = t->sum.breaker_open;
    in.since_ms = d->started_ms;
    in.interval_ms = ds->base_ms;
    in.last_ok_ms = -1;
    in.watermark_ms = -1;
    in.verify_failed = -1;
    if (d->st->ops->kv_get(d->st, s->name, "last_ok_at", &v, &e) == CUST_OK && v)
        in.last_ok_ms = parse_iso(v);
    free(v);
    v = NULL;
    if (s->incremental.param && d->st->ops->kv_get(d->st, s->name, "watermark", &v, &e) == CUST_OK && v) {
        int64_t ms;
        if (timefmt_parse((time_format)s->incremental.format, v, strlen(v), &ms))
            in.watermark_ms = ms;
    }
    free(v);
    /* a cursor that does not move although new records keep coming */
    pos_after = position_of(d->st, s);
    if (in.cycle_ok && !t->sum.interrupted && in.fresh > 0 && !s->snapshot && pos_before &&
        strcmp(s->pagination_type, "none") != 0) {
        if (pos_after && strcmp(pos_before, pos_after) == 0)
            ds->stuck++;
        else
            ds->stuck = 0;
    } else if (in.cycle_ok) {
        ds->stuck = 0;
    }
    free(pos_after);
    in.stuck = ds->stuck;
    alert_eval(&cfg->alerts, &in, active, detail);
    iso_ms(in.now_ms, now);
    if (alert_changes(d->st, s->name, active) == 0)
        return; /* the usual case: nothing opens or closes, no transaction */
    if (d->st->ops->begin(d->st, &e) != CUST_OK) {
        log_event("error", "alert.store", s->name, t->sum.cycle, NULL, "%s", e.msg);
        return;
    }
    if (alert_update(d->st, s->name, d->o->actor, t->sum.cycle, now, active, detail, ev, &nev, &e) ||
        d->st->ops->commit(d->st, &e)) {
        d->st->ops->rollback(d->st);
        log_event("error", "alert.store", s->name, t->sum.cycle, NULL, "alerts not recorded: %s", e.msg);
        return;
    }
    deliver_all(t, &cfg->alerts, ev, nev);
}

/* A shared store: take (or keep) the source's lease in a unit of its own.
 * 0 when another worker holds it (or the store failed: said in the log).
 * The lease is kept after the cycle: the next one here renews it, and
 * another worker takes over only once it expires. */
static int take_lease(struct task *t)
{
    struct daemon *d = t->d;
    struct err e = {0};
    int64_t epoch = 0;
    if (d->st->ops->begin(d->st, &e) == CUST_OK) {
        char holder[256];
        if (lease_take(d->st, d->inner, t->name, d->owner, t->gen->cfg->run.lease_ttl_ms, &epoch, holder,
                       sizeof holder, &e)) {
            d->st->ops->rollback(d->st);
            epoch = 0;
        } else {
            t->lease_epoch = epoch;
            if (d->st->ops->commit(d->st, &e))
                epoch = 0;
        }
    }
    t->lease_epoch = epoch;
    if (e.code)
        log_event("error", "lease", t->name, NULL, NULL, "cannot take the lease: %s", e.msg);
    else if (!epoch)
        log_event("debug", "lease", t->name, NULL, NULL, "another worker holds the lease; skipped");
    return epoch != 0;
}

static void run_poll(void *arg)
{
    struct task *t = arg;
    struct daemon *d = t->d;
    struct dsrc *ds = &t->gen->src[t->src];
    poll_opts o = {0};
    fetch_clock fc = {task_now, task_sleep, t, &d->stop};
    struct err e = {0};
    char fields[1024], *pos_before;
    o.actor = d->o->actor;
    o.pools = d->pools;
    o.fetch_clock = &fc;
    o.signer = d->o->signer;
    o.stop = &d->stop;
    o.tx_wanted = writer_wanted;
    if (d->inner->lease_acquire && !take_lease(t)) {
        snprintf(t->sum.source, sizeof t->sum.source, "%s", ds->sc->name);
        t->sum.leased_elsewhere = 1;
        t->rc = CUST_OK;
        return;
    }
    pos_before = position_of(d->st, ds->sc);
    t->rc = poll_source(t->gen->cfg, ds->sc, d->st, t->http, &o, &t->sum, &e);
    snprintf(fields, sizeof fields,
             "\"pages\":%ld,\"fetched\":%ld,\"new\":%ld,\"new_versions\":%ld,\"duplicates\":%ld,"
             "\"quarantined\":%ld,\"seconds\":%.3f,\"late_ms\":%lld,\"result\":\"%s\"%s%s",
             t->sum.pages, t->sum.fetched, t->sum.stored_new, t->sum.new_versions, t->sum.duplicates,
             t->sum.quarantined, t->sum.seconds, (long long)(t->started_ms - t->due_ms),
             t->rc ? cust_strerror(t->rc) : "ok", t->sum.interrupted ? ",\"interrupted\":true" : "",
             t->sum.more && !t->sum.interrupted ? ",\"more\":true" : "");
    if (t->rc)
        log_event("error", "poll.end", ds->sc->name, t->sum.cycle, fields, "%s", t->sum.error);
    else
        log_event("info", "poll.end", ds->sc->name, t->sum.cycle, fields, "%s",
                  t->sum.interrupted ? "stopped at a page boundary (shutdown); resumes there next time"
                                     : "cycle complete");
    if (!(d->stop && t->rc))
        alerts_after_cycle(t, ds, pos_before);
    free(pos_before);
}

static void audit_simple(struct daemon *d, const char *action, const char *detail, struct err *e)
{
    store_audit au = {0};
    char at[32];
    int64_t seq;
    iso_ms(now_ms(), at);
    au.time = at;
    au.actor = d->o->actor;
    au.action = action;
    au.source = "";
    au.subject = "";
    au.detail = detail;
    au.cycle_id = "";
    if (d->st->ops->begin(d->st, e) == CUST_OK) {
        if (d->st->ops->audit_append(d->st, &au, &seq, e) || d->st->ops->commit(d->st, e))
            d->st->ops->rollback(d->st);
    }
}

static void run_reload_audit(void *arg)
{
    struct task *t = arg;
    buf b;
    struct err e = {0};
    const char *path = t->d->o->config_path ? t->d->o->config_path : "";
    buf_init(&b, 8192);
    if (t->rc == CUST_OK) {
        if (!buf_adds(&b, "{\"from\":\"") && !buf_adds(&b, t->from_hash) && !buf_adds(&b, "\",\"path\":") &&
            !json_write_string(&b, path, strlen(path)) && !buf_adds(&b, ",\"to\":\"") &&
            !buf_adds(&b, t->to_hash) && !buf_adds(&b, "\"}"))
            audit_simple(t->d, "config.reload", b.ptr, &e);
    } else {
        if (!buf_adds(&b, "{\"error\":") && !json_write_string(&b, t->note, strlen(t->note)) &&
            !buf_adds(&b, ",\"kept\":\"") && !buf_adds(&b, t->from_hash) && !buf_adds(&b, "\",\"path\":") &&
            !json_write_string(&b, path, strlen(path)) && !buf_addc(&b, '}'))
            audit_simple(t->d, "config.reload_failed", b.ptr, &e);
    }
    if (e.code)
        log_event("error", "config.reload", NULL, NULL, NULL, "could not audit the reload: %s", e.msg);
    buf_release(&b);
}

static void run_verify_alert(void *arg)
{
    struct task *t = arg;
    struct daemon *d = t->d;
    alert_inputs in = {0};
    int active[ALERT_KINDS];
    char detail[ALERT_KINDS][256];
    alert_event ev[ALERT_KINDS];
    int nev = 0;
    char now[32];
    struct err e = {0};
    in.now_ms = now_ms();
    in.last_ok_ms = in.watermark_ms = in.since_ms = -1;
    in.verify_failed = t->verify_failed;
    alert_eval(&t->gen->cfg->alerts, &in, active, detail);
    for (int k = 0; k < ALERT_KINDS; k++)
        if (k != ALERT_VERIFY)
            active[k] = -1;
    iso_ms(in.now_ms, now);
    if (d->st->ops->begin(d->st, &e) != CUST_OK)
        return;
    if (alert_update(d->st, NULL, d->o->actor, NULL, now, active, detail, ev, &nev, &e) ||
        d->st->ops->commit(d->st, &e)) {
        d->st->ops->rollback(d->st);
        log_event("error", "alert.store", NULL, NULL, NULL, "alerts not recorded: %s", e.msg);
        return;
    }
    deliver_all(t, &t->gen->cfg->alerts, ev, nev);
}

static void run_serve(void *arg)
{
    struct task *t = arg;
    t->fn(t->fn_arg);
}

static void run_expire(void *arg)
{
    struct task *t = arg;
    struct daemon *d = t->d;
    char now[32];
    long n = 0;
    struct err e = {0};
    iso_ms(now_ms(), now);
    if (d->st->ops->begin(d->st, &e) != CUST_OK)
        return;
    if (hook_expire(t->gen->cfg, d->st, now, d->o->actor, &n, &e) || d->st->ops->commit(d->st, &e)) {
        d->st->ops->rollback(d->st);
        log_event("error", "webhook.expire", NULL, NULL, NULL, "held webhooks not expired: %s", e.msg);
        return;
    }
    if (n)
        log_event("warn", "webhook.expired", NULL, NULL, NULL,
                  "%ld held webhook(s) waited past webhook.hold_for for their records: moved to quarantine", n);
}

/* ---- scheduling ----------------------------------------------------------- */

static sched_outcome outcome_of(const struct task *t)
{
    if (t->sum.leased_elsewhere)
        return SCHED_OUT_OK; /* stay on time: the holder may stop any moment */
    if (t->rc != CUST_OK)
        return SCHED_OUT_ERROR;
    if (t->sum.more)
        return SCHED_OUT_BEHIND;
    if (t->sum.stored_new + t->sum.new_versions + t->sum.quarantine_new + t->sum.removed == 0)
        return SCHED_OUT_IDLE;
    return SCHED_OUT_OK;
}

/* When a source is due again after a cycle that ended at `now`. */
static void reschedule(struct daemon *d, struct gen *g, struct dsrc *ds, const struct task *t, int64_t now)
{
    const run_cfg *rc = &g->cfg->run;
    sched_outcome out = outcome_of(t);
    sched_adapt ad = {rc->adaptive, rc->backoff, rc->catch_up_ms, ds->base_ms * rc->max_factor};
    int64_t fire;
    if (d->stop || t->sum.interrupted)
        out = SCHED_OUT_OK;
    if (ds->sc->daily || ds->sc->cron) {
        fire = sched_next(&ds->spec, now);
        if (fire < 0)
            fire = INT64_MAX / 2;
        if (rc->adaptive && out == SCHED_OUT_BEHIND) {
            fire = now + rc->catch_up_ms;
        } else if (rc->adaptive && out == SCHED_OUT_ERROR) {
            /* a daily feed that failed is tried again well before tomorrow */
            int64_t retry = ds->cur_ms ? (int64_t)((double)ds->cur_ms * rc->backoff) : 60000;
            if (retry > ds->base_ms / 4)
                retry = ds->base_ms / 4 > 60000 ? ds->base_ms / 4 : 60000;
            ds->cur_ms = retry;
            if (now + retry < fire)
                fire = now + retry;
        } else {
            ds->cur_ms = 0;
        }
    } else {
        ds->cur_ms = sched_adapt_next(&ad, ds->base_ms, ds->cur_ms, out);
        if (rc->adaptive && out == SCHED_OUT_BEHIND)
            fire = now + rc->catch_up_ms;
        else {
            fire = ds->fire_ms + ds->cur_ms; /* fixed rate: lateness does not accumulate */
            if (fire < now)
                fire = now; /* missed fires are not made up in a burst */
        }
    }
    ds->fire_ms = fire;
    ds->due_ms = fire + (fire == now ? 0 : ds->jitter_ms);
}

static void pool_wait_push(struct pool_state *p, int i)
{
    if (grow((void **)&p->wait, &p->capwait, p->nwait + 1, sizeof *p->wait))
        return; /* out of memory: the source is retried when the queue is rebuilt */
    p->wait[p->nwait++] = i;
}

static void start_poll(struct daemon *d, struct gen *g, int i, int64_t now)
{
    struct dsrc *ds = &g->src[i];
    struct task *t = task_new(d, K_POLL, run_poll);
    if (!t) {
        log_event("error", "poll.start", ds->sc->name, NULL, NULL, "out of memory; retrying in a second");
        ds->due_ms = now + 1000;
        queue_push(g, i);
        return;
    }
    t->gen = g;
    g->refs++;
    t->src = i;
    snprintf(t->name, sizeof t->name, "%s", ds->sc->name);
    if (ds->pool >= 0) {
        snprintf(t->pool, sizeof t->pool, "%s", g->pools[ds->pool].pc->name);
        g->pools[ds->pool].running++;
    }
    t->due_ms = ds->due_ms;
    t->started_ms = now;
    ds->running = 1;
    ds->cycles++;
    d->polls_running++;
    if (!grow((void **)&d->late, &d->caplate, d->nlate + 1, sizeof *d->late)) {
        int64_t l = now - ds->due_ms;
        d->late[d->nlate++] = (int32_t)(l > INT32_MAX ? INT32_MAX : l < 0 ? 0 : l);
        if (l > d->max_late)
            d->max_late = l;
    }
}

/* Start what is due, lower priority first, within the global and pool caps. */
static void start_due(struct daemon *d, int64_t now)
{
    struct gen *g = d->cur;
    long cap = g->cfg->run.max_concurrent;
    for (int p = 0; p < NPRIO && d->polls_running < cap; p++) {
        sched_entry e;
        while (d->polls_running < cap && sched_queue_peek(g->q[p], &e) && e.due_ms <= now) {
            struct dsrc *ds;
            sched_queue_pop(g->q[p], &e);
            ds = &g->src[e.id];
            if (ds->running)
                continue;
            if (ds->pool >= 0 && g->pools[ds->pool].cap > 0 &&
                g->pools[ds->pool].running >= g->pools[ds->pool].cap) {
                ds->waiting = 1;
                pool_wait_push(&g->pools[ds->pool], e.id);
                continue;
            }
            start_poll(d, g, e.id, now);
        }
    }
}

static void finish_task(struct daemon *d, struct task *t)
{
    int64_t now = now_ms();
    if (t->kind == K_POLL) {
        struct gen *g = d->cur;
        struct dsrc *ds = NULL;
        int idx = -1;
        d->polls_running--;
        d->cycles++;
        if (t->rc)
            d->failures++;
        if (t->sum.interrupted)
            d->polls_stopped++;
        else if (t->rc)
            d->polls_failed++;
        else
            d->polls_ok++;
        d->rec_new += t->sum.stored_new;
        d->rec_versions += t->sum.new_versions;
        d->rec_dup += t->sum.duplicates;
        d->rec_quar += t->sum.quarantined;
        if (t->gen == g) {
            idx = t->src;
        } else {
            for (size_t i = 0; i < g->n; i++)
                if (!strcmp(g->src[i].sc->name, t->name))
                    idx = (int)i;
        }
        if (idx >= 0) {
            ds = &g->src[idx];
            ds->running = 0;
            if (t->gen != g) {
                /* carry the timing over to the new generation's source */
                ds->fire_ms = t->gen->src[t->src].fire_ms;
                ds->cur_ms = t->gen->src[t->src].cur_ms;
            }
            reschedule(d, g, ds, t, now);
            if (t->sum.fetched > 0) {
                ds->ratios[ds->ratio_at] = (double)t->sum.quarantined / (double)t->sum.fetched;
                ds->ratio_at = (ds->ratio_at + 1) % 24;
                if (ds->nratios < 24)
                    ds->nratios++;
            }
            if (t->rc == CUST_OK)
                ds->last_ok_ms = now;
            ds->breaker_open = t->sum.breaker_open;
            if (!ds->waiting)
                queue_push(g, idx);
        }
        for (size_t i = 0; t->pool[0] && i < g->npools; i++) {
            struct pool_state *p = &g->pools[i];
            if (strcmp(p->pc->name, t->pool) != 0)
                continue;
            if (p->running > 0)
                p->running--;
            if (p->headwait < p->nwait) {
                /* the pool's longest waiter goes back in line with its own due time */
                int w = p->wait[p->headwait++];
                g->src[w].waiting = 0;
                if (!g->src[w].running)
                    queue_push(g, w);
                if (p->headwait == p->nwait)
                    p->headwait = p->nwait = 0;
            }
        }
    }
    task_free(d, t);
}

/* ---- the loop --------------------------------------------------------- */

static void spawn_verify(struct daemon *d)
{
    char *argv[8];
    int n = 0;
    posix_spawn_file_actions_t fa;
    if (!d->o->self_exe || !d->o->config_path)
        return;
    argv[n++] = (char *)d->o->self_exe;
    argv[n++] = "audit";
    argv[n++] = "-q";
    argv[n++] = "-c";
    argv[n++] = (char *)d->o->config_path;
    argv[n++] = "verify";
    argv[n] = NULL;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    if ((errno = posix_spawn(&d->verify_pid, d->o->self_exe, &fa, NULL, argv, environ)) != 0) {
        log_event("error", "audit.verify", NULL, NULL, NULL, "cannot start %s audit verify: %s", d->o->self_exe,
                  strerror(errno));
        d->verify_pid = 0;
    } else {
        log_event("info", "audit.verify", NULL, NULL, NULL, "started (pid %ld)", (long)d->verify_pid);
    }
    posix_spawn_file_actions_destroy(&fa);
}

static void reap_verify(struct daemon *d)
{
    int status;
    pid_t r;
    struct task *t;
    if (!d->verify_pid || (r = waitpid(d->verify_pid, &status, WNOHANG)) == 0)
        return;
    d->verify_pid = 0;
    if (r < 0)
        return;
    if (!(t = task_new(d, K_VERIFY, run_verify_alert)))
        return;
    t->gen = d->cur;
    d->cur->refs++;
    t->verify_failed = WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : WIFEXITED(status) && WEXITSTATUS(status) == 4 ? 1 : -1;
    {
        char at[32];
        iso_ms(now_ms(), at);
        snprintf(d->last_verify, sizeof d->last_verify, "%s at %s",
                 t->verify_failed == 0 ? "passed" : t->verify_failed == 1 ? "FAILED" : "could not run", at);
    }
    log_event(t->verify_failed ? "error" : "info", "audit.verify", NULL, NULL, NULL, "%s",
              t->verify_failed == 0 ? "the audit log verifies" :
              t->verify_failed == 1 ? "the audit log does NOT verify" :
              "the verifier could not run to the end (store or config error); see its output above");
}

static void reload(struct daemon *d)
{
    config *nc = NULL;
    struct gen *ng = NULL;
    struct err e = {0};
    struct task *t;
    char *old_uri = config_store_uri(d->cur->cfg), *new_uri = NULL;
    cust_code rc = config_load(d->o->config_path, &nc, &e);
    if (!rc && (!(new_uri = config_store_uri(nc)) || !old_uri || strcmp(old_uri, new_uri) != 0))
        rc = err_set(&e, CUST_ECONFIG, "%s: the store changed (%s -> %s); a reload keeps the store: restart "
                     "custody run to switch stores", d->o->config_path, old_uri ? old_uri : "?",
                     new_uri ? new_uri : "?");
    free(old_uri);
    free(new_uri);
    if (!rc)
        rc = gen_new(d, nc, &ng, &e); /* on failure nc is still ours */
    t = task_new(d, K_RELOAD, run_reload_audit);
    if (t) {
        t->gen = d->cur;
        d->cur->refs++;
        t->rc = rc;
        snprintf(t->from_hash, sizeof t->from_hash, "%s", d->cur->cfg->hash);
        snprintf(t->note, sizeof t->note, "%s", e.msg);
        if (!rc)
            snprintf(t->to_hash, sizeof t->to_hash, "%s", nc->hash);
    }
    if (rc) {
        config_free(nc);
        log_event("error", "config.reload", NULL, NULL, NULL, "kept the running configuration: %s", e.msg);
        return;
    }
    log_event("info", "config.reload", NULL, NULL, NULL, "configuration reloaded: %zu sources (hash %.12s)",
              nc->nsources, nc->hash);
    gen_release(d->cur);
    d->cur = ng;
}

static void abort_transfers(struct daemon *d)
{
    d->aborting = 1;
    for (size_t k = 0; k < d->ntasks; k++) {
        struct task *t = d->tasks[k];
        if (t->state == T_HTTP && t->easy) {
            curl_multi_remove_handle(d->multi, t->easy);
            t->easy = NULL;
            t->curl_rc = CURLE_ABORTED_BY_CALLBACK;
            t->state = T_READY;
        }
    }
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

static void write_state(struct daemon *d, int64_t now)
{
    char tmp[4200];
    FILE *f;
    struct gen *g = d->cur;
    if (!d->o->state_path)
        return;
    snprintf(tmp, sizeof tmp, "%s.tmp", d->o->state_path);
    if (!(f = fopen(tmp, "w")))
        return;
    fprintf(f, "{\"pid\":%ld,\"config_hash\":\"%s\",\"written_ms\":%lld,\"started_ms\":%lld,\"cycles\":%ld,"
               "\"running\":%ld,\"sources\":{",
            (long)getpid(), g->cfg->hash, (long long)now, (long long)d->started_ms, d->cycles, d->polls_running);
    for (size_t i = 0; i < g->n; i++) {
        const struct dsrc *ds = &g->src[i];
        fprintf(f, "%s\n\"", i ? "," : "");
        fputs(ds->sc->name, f); /* names are [A-Za-z0-9_.-]: no escaping needed */
        fprintf(f, "\":{\"due_ms\":%lld,\"interval_ms\":%lld,\"running\":%s,\"waiting\":%s,\"cycles\":%ld}",
                (long long)ds->due_ms, (long long)(ds->cur_ms ? ds->cur_ms : ds->base_ms),
                ds->running ? "true" : "false", ds->waiting ? "true" : "false", ds->cycles);
    }
    fputs("}}\n", f);
    if (fclose(f) == 0)
        rename(tmp, d->o->state_path);
    else
        unlink(tmp);
}

static int64_t next_wake(struct daemon *d, int64_t now)
{
    int64_t w = now + 1000;
    struct gen *g = d->cur;
    if (!d->stop && d->polls_running < g->cfg->run.max_concurrent)
        for (int p = 0; p < NPRIO; p++) {
            sched_entry e;
            if (sched_queue_peek(g->q[p], &e) && e.due_ms < w)
                w = e.due_ms;
        }
    for (size_t k = 0; k < d->ntasks; k++)
        if (d->tasks[k]->state == T_SLEEP && d->tasks[k]->wake_ms < w)
            w = d->tasks[k]->wake_ms;
    if (d->stop && !d->aborting && d->stop_deadline < w)
        w = d->stop_deadline;
    if (d->o->run_for_ms && !d->stop && d->end_ms < w)
        w = d->end_ms;
    return w;
}

/* ---- what the server borrows ------------------------------------------ */

static int host_spawn(void *ud, void (*fn)(void *), void *arg)
{
    struct daemon *d = ud;
    struct task *t;
    if (d->stop || !(t = task_new(d, K_SERVE, run_serve)))
        return -1;
    t->gen = d->cur;
    d->cur->refs++;
    t->fn = fn;
    t->fn_arg = arg;
    return 0;
}

static const config *host_config(void *ud)
{
    return ((struct daemon *)ud)->cur->cfg;
}

static int host_ready(void *ud)
{
    return !((struct daemon *)ud)->stop;
}

static void host_live(void *ud, const ui_source_live **out, size_t *n, const char **last_verify)
{
    struct daemon *d = ud;
    struct gen *g = d->cur;
    static double ratios[1]; /* placeholder for sources without any */
    if (d->nlive < g->n) {
        ui_source_live *p = realloc(d->live, g->n * sizeof *p);
        if (!p) {
            *out = NULL;
            *n = 0;
            return;
        }
        d->live = p;
    }
    d->nlive = g->n;
    for (size_t i = 0; i < g->n; i++) {
        struct dsrc *ds = &g->src[i];
        /* unroll the ring to oldest-first, in place */
        double tmp[24];
        for (int k = 0; k < ds->nratios; k++)
            tmp[k] = ds->ratios[(ds->ratio_at - ds->nratios + k + 24) % 24];
        memcpy(ds->ratios, tmp, (size_t)ds->nratios * sizeof *tmp);
        ds->ratio_at = ds->nratios % 24;
        d->live[i].name = ds->sc->name;
        d->live[i].due_ms = ds->running ? -1 : ds->due_ms;
        d->live[i].running = ds->running;
        d->live[i].ratios = ds->nratios ? ds->ratios : ratios;
        d->live[i].nratios = (size_t)ds->nratios;
    }
    *out = d->live;
    *n = d->nlive;
    *last_verify = d->last_verify[0] ? d->last_verify : NULL;
}

static void metric_label(buf *b, const char *v)
{
    for (; *v; v++) {
        int bad = 0;
        if (*v == '\\' || *v == '"')
            bad = buf_addc(b, '\\') || buf_addc(b, *v);
        else if (*v == '\n')
            bad = buf_adds(b, "\\n");
        else
            bad = buf_addc(b, *v);
        if (bad)
            return;
    }
}

void serve_metrics(buf *out);

static void host_metrics(void *ud, buf *b)
{
    struct daemon *d = ud;
    struct gen *g = d->cur;
    static const char *const bounds[11] = {"0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
                                           "0.25", "0.5", "1"};
    int64_t now = now_ms();
    long long cum = 0;
    int bad = 0;
    bad |= buf_adds(b, "# HELP custody_up The daemon is running.\n# TYPE custody_up gauge\ncustody_up 1\n");
    bad |= buf_addf(b, "# HELP custody_polls_total Poll cycles by result.\n# TYPE custody_polls_total counter\n"
                       "custody_polls_total{result=\"ok\"} %lld\ncustody_polls_total{result=\"error\"} %lld\n"
                       "custody_polls_total{result=\"interrupted\"} %lld\n",
                    d->polls_ok, d->polls_failed, d->polls_stopped);
    bad |= buf_addf(b, "# HELP custody_cycles_running Poll cycles running now.\n# TYPE custody_cycles_running gauge\n"
                       "custody_cycles_running %ld\n", d->polls_running);
    bad |= buf_adds(b, "# HELP custody_http_requests_total Upstream HTTP responses by status (0: no response).\n"
                       "# TYPE custody_http_requests_total counter\n");
    for (int i = 0; i < 600; i++)
        if (d->http_status[i])
            bad |= buf_addf(b, "custody_http_requests_total{status=\"%d\"} %lld\n", i, d->http_status[i]);
    bad |= buf_addf(b, "# HELP custody_records_total Records fetched, by what became of them.\n"
                       "# TYPE custody_records_total counter\n"
                       "custody_records_total{outcome=\"new\"} %lld\ncustody_records_total{outcome=\"version\"} %lld\n"
                       "custody_records_total{outcome=\"duplicate\"} %lld\n"
                       "custody_records_total{outcome=\"quarantined\"} %lld\n",
                    d->rec_new, d->rec_versions, d->rec_dup, d->rec_quar);
    bad |= buf_adds(b, "# HELP custody_commit_seconds Latency of the store's COMMIT (one per round of cycles).\n"
                       "# TYPE custody_commit_seconds histogram\n");
    for (int i = 0; i < 11; i++) {
        cum += d->commit_buckets[i];
        bad |= buf_addf(b, "custody_commit_seconds_bucket{le=\"%s\"} %lld\n", bounds[i], cum);
    }
    cum += d->commit_buckets[11];
    bad |= buf_addf(b, "custody_commit_seconds_bucket{le=\"+Inf\"} %lld\ncustody_commit_seconds_sum %.6f\n"
                       "custody_commit_seconds_count %lld\n", cum, d->commit_sum, cum);
    bad |= buf_adds(b, "# HELP custody_source_breaker_open The source's circuit breaker is open.\n"
                       "# TYPE custody_source_breaker_open gauge\n");
    for (size_t i = 0; i < g->n; i++) {
        bad |= buf_adds(b, "custody_source_breaker_open{source=\"");
        metric_label(b, g->src[i].sc->name);
        bad |= buf_addf(b, "\"} %d\n", g->src[i].breaker_open);
    }
    bad |= buf_adds(b, "# HELP custody_source_lag_seconds Time since the source's last successful cycle.\n"
                       "# TYPE custody_source_lag_seconds gauge\n");
    for (size_t i = 0; i < g->n; i++) {
        if (g->src[i].last_ok_ms < 0)
            continue;
        bad |= buf_adds(b, "custody_source_lag_seconds{source=\"");
        metric_label(b, g->src[i].sc->name);
        bad |= buf_addf(b, "\"} %.3f\n", (double)(now - g->src[i].last_ok_ms) / 1000.0);
    }
    bad |= buf_adds(b, "# HELP custody_source_rejection_ratio Quarantined share of the source's last cycle.\n"
                       "# TYPE custody_source_rejection_ratio gauge\n");
    for (size_t i = 0; i < g->n; i++) {
        const struct dsrc *ds = &g->src[i];
        if (!ds->nratios)
            continue;
        bad |= buf_adds(b, "custody_source_rejection_ratio{source=\"");
        metric_label(b, ds->sc->name);
        bad |= buf_addf(b, "\"} %.4f\n", ds->ratios[(ds->ratio_at + 23) % 24]);
    }
    (void)bad;
    serve_metrics(b);
}

static void begin_stop(struct daemon *d, const char *why, int64_t now)
{
    if (d->stop) {
        if (!d->aborting) {
            log_event("warn", "daemon.stop", NULL, NULL, NULL, "second stop request: aborting transfers now");
            abort_transfers(d);
        }
        return;
    }
    d->stop = 1;
    d->stop_reason = why;
    d->stop_deadline = now + d->cur->cfg->run.shutdown_grace_ms;
    log_event("info", "daemon.stop", NULL, NULL, NULL,
              "%s: no new cycles; %ld running end at their next page boundary (transfers aborted after %lld ms)",
              why, d->polls_running, (long long)d->cur->cfg->run.shutdown_grace_ms);
}

cust_code daemon_run(config *cfg, store *st, const daemon_opts *o, struct err *e)
{
    struct daemon dd, *d = &dd;
    struct sigaction sa;
    cust_code rc = CUST_OK;
    char detail[512];
    int64_t now;

    memset(d, 0, sizeof *d);
    d->o = o;
    if (cfg->run.worker_id)
        snprintf(d->owner, sizeof d->owner, "%s", cfg->run.worker_id);
    else
        lease_owner_default(d->owner, sizeof d->owner);
    d->st = st;
    d->inner = st->ops;
    d->gated = *st->ops;
    d->gated.begin = gated_begin;
    d->gated.commit = gated_commit;
    d->gated.rollback = gated_rollback;
    d->pipefd[0] = d->pipefd[1] = -1;
    g_d = d;
    d->started_ms = now_ms();
    d->end_ms = d->started_ms + o->run_for_ms;
    if (!(d->multi = curl_multi_init()) || !(d->pools = rate_pools_new())) {
        rc = err_set(e, CUST_ENOMEM, "cannot set up the transfer loop");
        goto out_nocfg;
    }
    curl_multi_setopt(d->multi, CURLMOPT_MAXCONNECTS, (long)(cfg->run.max_concurrent * 2 + 8));
    if ((rc = gen_new(d, cfg, &d->cur, e)))
        goto out_nocfg;
    cfg = NULL; /* owned by the generation now */
    st->ops = &d->gated;
    if (pipe(d->pipefd) != 0) {
        rc = err_set(e, CUST_EIO, "pipe: %s", strerror(errno));
        goto out;
    }
    fcntl(d->pipefd[0], F_SETFL, O_NONBLOCK);
    fcntl(d->pipefd[1], F_SETFL, O_NONBLOCK);
    fcntl(d->pipefd[0], F_SETFD, FD_CLOEXEC);
    fcntl(d->pipefd[1], F_SETFD, FD_CLOEXEC);
    g_sigfd = d->pipefd[1];
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    snprintf(detail, sizeof detail, "{\"config_hash\":\"%s\",\"pid\":%ld,\"sources\":%zu,\"version\":\"%s\"}",
             d->cur->cfg->hash, (long)getpid(), d->cur->n, CUSTODY_VERSION);
    audit_simple(d, "daemon.start", detail, e);
    if (e->code) {
        rc = e->code;
        goto out;
    }
    if (d->cur->cfg->serve.listen) {
        serve_host h = {d, host_spawn, host_config, st, o->actor, o->signer, host_ready, host_metrics, host_live};
        if ((rc = serve_start(&d->cur->cfg->serve, &h, &d->srv, e)))
            goto out;
        {
            char f[64];
            snprintf(f, sizeof f, "\"port\":%d", serve_port(d->srv));
            log_event("info", "serve.start", NULL, NULL, f, "serving on %s (port %d)%s", d->cur->cfg->serve.listen,
                      serve_port(d->srv), d->cur->cfg->serve.tls_cert ? " over TLS" : "");
        }
    }
    log_event("info", "daemon.start", NULL, NULL, NULL,
              "custody run: %zu sources, up to %ld cycles at once, pid %ld", d->cur->n,
              d->cur->cfg->run.max_concurrent, (long)getpid());
    if (d->cur->cfg->run.verify_every_ms > 0)
        d->next_verify_ms = d->started_ms + d->cur->cfg->run.verify_every_ms;

    for (;;) {
        int ready = 0, numfds = 0, still, nw = 1;
        struct curl_waitfd wfd[2];
        CURLMsg *msg;
        int64_t wake;
        char c;

        now = now_ms();
        while (read(d->pipefd[0], &c, 1) == 1) {
            if (c == 'H' && !d->stop)
                reload(d);
            else if (c == 'T')
                begin_stop(d, "signal", now);
        }
        if (o->run_for_ms && now >= d->end_ms && !d->stop)
            begin_stop(d, "run time over (--for)", now);
        if (d->stop) {
            if (d->ntasks == 0 && !d->verify_pid)
                break;
            if (!d->aborting && now >= d->stop_deadline) {
                log_event("warn", "daemon.stop", NULL, NULL, NULL,
                          "shutdown grace over: aborting transfers; their pages are not applied");
                abort_transfers(d);
            }
            if (d->verify_pid && now >= d->stop_deadline) {
                kill(d->verify_pid, SIGTERM);
                waitpid(d->verify_pid, NULL, 0);
                d->verify_pid = 0;
            }
        } else {
            start_due(d, now);
            if (now >= d->next_expire_ms) {
                int hooks = 0;
                for (size_t i = 0; i < d->cur->n && !hooks; i++)
                    hooks = d->cur->src[i].sc->webhook.scheme != NULL;
                if (hooks) {
                    struct task *xt = task_new(d, K_EXPIRE, run_expire);
                    if (xt) {
                        xt->gen = d->cur;
                        d->cur->refs++;
                    }
                }
                d->next_expire_ms = now + 60000;
            }
            if (d->next_verify_ms && now >= d->next_verify_ms && !d->verify_pid) {
                spawn_verify(d);
                d->next_verify_ms = now + d->cur->cfg->run.verify_every_ms;
            }
        }
        reap_verify(d);
        for (size_t k = 0; k < d->ntasks; k++)
            if (d->tasks[k]->state == T_SLEEP && (d->tasks[k]->wake_ms <= now || d->stop))
                d->tasks[k]->state = T_READY;
        /* run what can run; a finished task leaves the array */
        for (size_t k = 0; k < d->ntasks;) {
            struct task *t = d->tasks[k];
            if (t->state != T_READY) {
                k++;
                continue;
            }
            d->running = t;
            if (coro_resume(t->co)) {
                d->running = NULL;
                if (d->writer == t) {
                    /* a cycle never ends holding the store; if it does, undo its part */
                    struct err ignore = {0};
                    d->inner->savepoint(st, STORE_SP_ROLLBACK, &ignore);
                    writer_release(d);
                }
                finish_task(d, t);
                continue; /* the array was compacted: look at index k again */
            }
            d->running = NULL;
            k++;
        }
        round_commit(d); /* one fsync for every cycle that committed in this pass */
        curl_multi_perform(d->multi, &still);
        while ((msg = curl_multi_info_read(d->multi, &still))) {
            struct task *t = NULL;
            if (msg->msg != CURLMSG_DONE)
                continue;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
            curl_multi_remove_handle(d->multi, msg->easy_handle);
            if (t) {
                t->curl_rc = msg->data.result;
                t->easy = NULL;
                t->state = T_READY;
                ready = 1;
            }
        }
        for (size_t k = 0; k < d->ntasks && !ready; k++)
            ready = d->tasks[k]->state == T_READY;
        if (now >= d->next_state_ms) {
            write_state(d, now);
            d->next_state_ms = now + 2000;
        }
        if (ready)
            continue;
        wake = next_wake(d, now) - now_ms();
        if (wake < 0)
            wake = 0;
        memset(wfd, 0, sizeof wfd);
        wfd[0].fd = d->pipefd[0];
        wfd[0].events = CURL_WAIT_POLLIN;
        if (d->srv && serve_fd(d->srv) >= 0) {
            int64_t st_ms = serve_timeout_ms(d->srv);
            wfd[1].fd = serve_fd(d->srv);
            wfd[1].events = CURL_WAIT_POLLIN;
            nw = 2;
            if (st_ms >= 0 && st_ms < wake)
                wake = st_ms;
        }
        curl_multi_poll(d->multi, wfd, (unsigned)nw, (int)(wake > 1000 ? 1000 : wake), &numfds);
        serve_run(d->srv);
    }

    round_commit(d);
    now = now_ms();
    write_state(d, now);
    {
        int64_t p50 = 0, p99 = 0;
        if (d->nlate) {
            qsort(d->late, d->nlate, sizeof *d->late, cmp_i32);
            p50 = d->late[d->nlate / 2];
            p99 = d->late[(d->nlate * 99) / 100 < d->nlate ? (d->nlate * 99) / 100 : d->nlate - 1];
        }
        snprintf(detail, sizeof detail,
                 "{\"commits\":%ld,\"cycles\":%ld,\"failed\":%ld,\"late_ms_max\":%lld,\"late_ms_p50\":%lld,"
                 "\"late_ms_p99\":%lld,\"reason\":\"%s\"}",
                 d->rounds, d->cycles, d->failures, (long long)d->max_late, (long long)p50, (long long)p99,
                 d->stop_reason ? d->stop_reason : "stopped");
        {
            struct err ae = {0};
            audit_simple(d, "daemon.stop", detail, &ae);
            if (ae.code)
                log_event("error", "daemon.stop", NULL, NULL, NULL, "could not audit the stop: %s", ae.msg);
        }
        detail[strlen(detail) - 1] = '\0'; /* the members, for the log line */
        log_event("info", "daemon.stop", NULL, NULL, detail + 1, "stopped cleanly after %ld cycles (%ld failed)",
                  d->cycles, d->failures);
    }
out:
    serve_stop(d->srv);
    st->ops = d->inner;
    g_sigfd = -1;
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    if (d->pipefd[0] >= 0)
        close(d->pipefd[0]);
    if (d->pipefd[1] >= 0)
        close(d->pipefd[1]);
    while (d->ntasks) /* only after an error before the loop */
        task_free(d, d->tasks[d->ntasks - 1]);
    gen_release(d->cur);
out_nocfg:
    config_free(cfg);
    for (size_t i = 0; i < d->nfree_coros; i++)
        coro_free(d->free_coros[i]);
    for (size_t i = 0; i < d->nfree_http; i++)
        http_client_free(d->free_http[i]);
    free(d->free_coros);
    free(d->free_http);
    free(d->tasks);
    free(d->wq);
    free(d->cw);
    free(d->late);
    free(d->live);
    rate_pools_free(d->pools);
    if (d->multi)
        curl_multi_cleanup(d->multi);
    g_d = NULL;
    return rc;
}
