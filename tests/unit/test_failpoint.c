/* test_failpoint.c - the CUSTODY_FAILPOINT grammar (accepted and refused
 * values), the registry, and the runtime in child processes: the Nth hit
 * fires once, kill/exit/error act as documented, a malformed value exits 2,
 * and the trace file holds first hits, the firing and the counts. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "core/failpoint.h"

static const struct {
    const char *in;
    int ok;
    const char *name;
    long long nth;
    failpoint_action action;
    const char *why; /* a word the refusal must contain */
} rows[] = {
    {"store.record.before", 1, "store.record.before", 1, FAILPOINT_KILL, NULL},
    {"store.record.before@1", 1, "store.record.before", 1, FAILPOINT_KILL, NULL},
    {"store.record.before@250", 1, "store.record.before", 250, FAILPOINT_KILL, NULL},
    {"store.commit.after:kill", 1, "store.commit.after", 1, FAILPOINT_KILL, NULL},
    {"store.commit.after:exit", 1, "store.commit.after", 1, FAILPOINT_EXIT, NULL},
    {"store.commit.after:error", 1, "store.commit.after", 1, FAILPOINT_ERROR, NULL},
    {"store.audit.after@7:error", 1, "store.audit.after", 7, FAILPOINT_ERROR, NULL},
    {"store.begin.before@9223372036854775807:exit", 1, "store.begin.before", 9223372036854775807LL,
     FAILPOINT_EXIT, NULL},
    {"", 0, NULL, 0, 0, "name"},
    {"@3", 0, NULL, 0, 0, "name"},
    {":kill", 0, NULL, 0, 0, "name"},
    {"store.record.befor", 0, NULL, 0, 0, "unknown failpoint"},
    {"STORE.RECORD.BEFORE", 0, NULL, 0, 0, "unknown failpoint"},
    {"store.record.before ", 0, NULL, 0, 0, "unknown failpoint"},
    {"store.record.before@", 0, NULL, 0, 0, "hit count"},
    {"store.record.before@0", 0, NULL, 0, 0, "at least 1"},
    {"store.record.before@-1", 0, NULL, 0, 0, "hit count"},
    {"store.record.before@+1", 0, NULL, 0, 0, "hit count"},
    {"store.record.before@ 1", 0, NULL, 0, 0, "hit count"},
    {"store.record.before@0x10", 0, NULL, 0, 0, "hit count"},
    {"store.record.before@1x", 0, NULL, 0, 0, "hit count"},
    {"store.record.before@9223372036854775808", 0, NULL, 0, 0, "too large"},
    {"store.record.before@3@4", 0, NULL, 0, 0, "hit count"},
    {"store.record.before:", 0, NULL, 0, 0, "unknown action"},
    {"store.record.before:abort", 0, NULL, 0, 0, "unknown action"},
    {"store.record.before:Kill", 0, NULL, 0, 0, "unknown action"},
    {"store.record.before:error@3", 0, NULL, 0, 0, "unknown action"},
    {"store.record.before:kill:kill", 0, NULL, 0, 0, "unknown action"},
};

/* In a child: arm spec (and a trace), hit name `hits` times; exit with
 * 10 + the 1-based hit at which CUST_FAILPOINT returned nonzero, or 0. */
static int child_status(const char *spec, const char *trace, const char *name, int hits)
{
    int status = 0;
    pid_t pid = fork();
    if (pid == 0) {
        int fired = 0;
        if (spec)
            setenv("CUSTODY_FAILPOINT", spec, 1);
        else
            unsetenv("CUSTODY_FAILPOINT");
        if (trace)
            setenv("CUSTODY_FAILPOINT_TRACE", trace, 1);
        else
            unsetenv("CUSTODY_FAILPOINT_TRACE");
        for (int i = 1; i <= hits; i++) {
            if (strcmp(name, "store.record.before") == 0 ? CUST_FAILPOINT("store.record.before")
                                                         : CUST_FAILPOINT("store.kv.after")) {
                if (fired) /* fires once only */
                    _exit(99);
                fired = i;
            }
            (void)CUST_FAILPOINT("store.commit.after"); /* another name, never armed here */
        }
        exit(fired ? 10 + fired : 0); /* exit(): atexit writes the counts */
    }
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return -1;
    return status;
}

static char *slurp(const char *path)
{
    static char text[4096];
    FILE *f = fopen(path, "r");
    size_t n = 0;
    text[0] = '\0';
    if (f) {
        n = fread(text, 1, sizeof text - 1, f);
        fclose(f);
    }
    text[n] = '\0';
    return text;
}

int main(void)
{
    char why[256];
    char tmpl[] = "/tmp/custody-fp-XXXXXX";
    char trace[sizeof tmpl + 16];
    int st;

    unsetenv("CUSTODY_FAILPOINT"); /* this process itself stays unarmed */
    unsetenv("CUSTODY_FAILPOINT_TRACE");
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        failpoint_spec sp;
        int ok = failpoint_parse(rows[i].in, &sp, why, sizeof why) == 0;
        CHECK_INT(ok, rows[i].ok);
        if (ok != rows[i].ok) {
            fprintf(stderr, "  row %zu: \"%s\": %s\n", i, rows[i].in, why);
            continue;
        }
        if (ok) {
            CHECK_STR(failpoint_names[sp.index], rows[i].name);
            CHECK_INT(sp.nth, rows[i].nth);
            CHECK_INT(sp.action, rows[i].action);
        } else if (!strstr(why, rows[i].why)) {
            CHECK(0);
            fprintf(stderr, "  row %zu: \"%s\": refusal \"%s\" does not say \"%s\"\n", i, rows[i].in, why,
                    rows[i].why);
        }
    }

    /* the registry: NULL-terminated, unique, every name "store.<what>.<before|after>" */
    {
        size_t n = 0;
        for (; failpoint_names[n]; n++) {
            const char *nm = failpoint_names[n];
            size_t len = strlen(nm);
            CHECK(strncmp(nm, "store.", 6) == 0);
            CHECK((len > 7 && strcmp(nm + len - 7, ".before") == 0) || (len > 6 && strcmp(nm + len - 6, ".after") == 0));
            CHECK_INT(failpoint_index(nm), (long long)n);
            for (size_t j = 0; j < n; j++)
                CHECK(strcmp(failpoint_names[j], nm) != 0);
        }
        CHECK_INT(n, 19);
        CHECK_INT(failpoint_index("store.nothing.before"), -1);
        CHECK_STR(failpoint_action_name(FAILPOINT_KILL), "kill");
        CHECK_STR(failpoint_action_name(FAILPOINT_EXIT), "exit");
        CHECK_STR(failpoint_action_name(FAILPOINT_ERROR), "error");
    }

    /* runtime, each case in a child: the environment is read once per process */
    st = child_status(NULL, NULL, "store.record.before", 5);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    st = child_status("", NULL, "store.record.before", 5);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    st = child_status("store.record.before:error", NULL, "store.record.before", 5);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 11);
    st = child_status("store.record.before@4:error", NULL, "store.record.before", 5);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 14);
    st = child_status("store.record.before@6:error", NULL, "store.record.before", 5); /* never reached */
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    st = child_status("store.kv.after@2:error", NULL, "store.record.before", 5); /* another name */
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    st = child_status("store.record.before@3", NULL, "store.record.before", 5);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    st = child_status("store.record.before@2:kill", NULL, "store.record.before", 5);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    st = child_status("store.record.before@2:exit", NULL, "store.record.before", 5);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 70);
    st = child_status("store.record.befor@2:exit", NULL, "store.record.before", 5); /* a typo fails loudly */
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 2);
    st = child_status("store.record.before@2:explode", NULL, "store.record.before", 5);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 2);
    st = child_status(NULL, "/nonexistent-dir/trace", "store.record.before", 1); /* unwritable trace */
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 2);

    /* the trace: first hits at once, the firing, counts at normal exit */
    if (!mkdtemp(tmpl)) {
        CHECK(0);
        return check_report("test_failpoint");
    }
    snprintf(trace, sizeof trace, "%s/trace", tmpl);
    st = child_status("store.kv.after@3:error", trace, "store.kv.after", 4);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 13);
    CHECK_STR(slurp(trace), "store.kv.after\nstore.commit.after\nfired store.kv.after 3 error\n"
                            "count store.kv.after 4\ncount store.commit.after 4\n");
    unlink(trace);
    st = child_status(NULL, trace, "store.record.before", 3); /* tracing alone arms nothing */
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK_STR(slurp(trace), "store.record.before\nstore.commit.after\n"
                            "count store.record.before 3\ncount store.commit.after 3\n");
    unlink(trace);
    st = child_status("store.record.before@2", trace, "store.record.before", 3); /* killed: no counts */
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    CHECK_STR(slurp(trace), "store.record.before\nstore.commit.after\nfired store.record.before 2 kill\n");
    unlink(trace);
    rmdir(tmpl);

    /* this process never armed anything: the fast path answers 0 */
    CHECK_INT(CUST_FAILPOINT("store.record.before"), 0);
    return check_report("test_failpoint");
}
