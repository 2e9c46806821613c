/* common.c - option parsing, config/store opening and output helpers
 * shared by the subcommands. */
#include "cmd.h"
#include "core/jcs.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/json.h"

int cmd_fail(const struct err *e)
{
    fprintf(stderr, "custody: %s\n", e->msg[0] ? e->msg : cust_strerror(e->code));
    return err_exit_code(e->code);
}

int cmd_usage(const char *verb, const char *fmt, ...)
{
    va_list ap;
    fputs("custody: ", stderr);
    if (verb)
        fprintf(stderr, "%s: ", verb);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(run custody %s --help)\n", verb ? verb : "");
    return 2;
}

static const char *login_user(void)
{
    const char *u = getenv("USER");
    struct passwd *pw;
    if (u && *u)
        return u;
    pw = getpwuid(getuid());
    return pw ? pw->pw_name : "unknown";
}

int cmd_parse_common(cli *c, const char *verb, int argc, char **argv, const char *const *flags)
{
    int out = 1;
    if (!c->actor)
        c->actor = login_user();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int keep = 0;
        if (!strcmp(a, "-c") || !strcmp(a, "--config")) {
            if (i + 1 >= argc) {
                cmd_usage(verb, "%s needs a file name", a);
                return -1;
            }
            c->config_path = argv[++i];
            continue;
        }
        if (!strncmp(a, "--config=", 9)) {
            c->config_path = a + 9;
            continue;
        }
        if (!strcmp(a, "--json")) {
            c->json = 1;
            continue;
        }
        if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            c->quiet = 1;
            continue;
        }
        if (!strcmp(a, "--actor")) {
            if (i + 1 >= argc || !argv[i + 1][0]) {
                cmd_usage(verb, "--actor needs a name");
                return -1;
            }
            c->actor = argv[++i];
            continue;
        }
        for (const char *const *f = flags; f && *f; f++)
            if (!strcmp(a, *f))
                keep = 1;
        if (!keep && a[0] == '-' && a[1] && strcmp(a, "--")) {
            cmd_usage(verb, "unknown option %s", a);
            return -1;
        }
        argv[out++] = argv[i];
    }
    return out;
}

int cmd_load_config(cli *c, config **out)
{
    struct err e = {0};
    const char *path = c->config_path;
    if (!path)
        path = getenv("CUSTODY_CONFIG");
    if (!path || !*path)
        path = "custody.yaml";
    if (config_load(path, out, &e))
        return cmd_fail(&e);
    return 0;
}

int cmd_open_store(const config *cfg, store **out)
{
    return cmd_open_store_ex(cfg, 0, out);
}

int cmd_open_store_ex(const config *cfg, unsigned flags, store **out)
{
    struct err e = {0};
    char *uri = config_store_uri(cfg);
    cust_code rc;
    if (!uri) {
        fprintf(stderr, "custody: out of memory\n");
        return 3;
    }
    rc = store_open_ex(uri, flags, out, &e);
    free(uri);
    if (rc)
        return cmd_fail(&e);
    return 0;
}

void cmd_json_string(FILE *f, const char *s, size_t len)
{
    buf b;
    buf_init(&b, (size_t)1 << 31);
    if (json_write_string(&b, s ? s : "", s ? len : 0) == CUST_OK)
        fwrite(b.ptr, 1, b.len, f);
    else
        fputs("null", f);
    buf_release(&b);
}

/* Turn what the user typed into the stored key form: a JSON array as is
 * (canonicalised), else parts split on '|' (numbers stay numbers). */
char *cmd_key_arg(const char *arg)
{
    json_doc *d = json_doc_new();
    json_value *v = NULL;
    buf out;
    char *res = NULL;
    buf_init(&out, 1 << 20);
    if (!d)
        goto done;
    if (arg[0] == '[') {
        if (!(v = json_parse(d, arg, strlen(arg), NULL, NULL)))
            goto done;
    } else {
        const char *p = arg;
        v = json_new_array(d, 4);
        for (;;) {
            const char *bar = strchr(p, '|');
            size_t len = bar ? (size_t)(bar - p) : strlen(p);
            json_value *part = json_parse(d, p, len, NULL, NULL);
            if (!part || part->type != JSON_NUMBER)
                part = json_new_string(d, p, len);
            if (!part || json_array_push(d, v, part))
                goto done;
            if (!bar)
                break;
            p = bar + 1;
        }
    }
    if (jcs_write(v, &out, NULL) == CUST_OK)
        res = buf_take(&out);
done:
    buf_release(&out);
    json_doc_free(d);
    return res;
}

int cmd_take_value(int *n, char **argv, const char *flag, const char **out)
{
    for (int i = 1; i < *n; i++) {
        if (strcmp(argv[i], flag) != 0)
            continue;
        if (i + 1 >= *n)
            return -1;
        *out = argv[i + 1];
        memmove(&argv[i], &argv[i + 2], (size_t)(*n - i - 2) * sizeof *argv);
        *n -= 2;
        i--;
    }
    return 0;
}

int cmd_lock_store(const config *cfg, int *fd_out)
{
    char *uri;
    char path[4096];
    int fd;
    if (config_store_shared(cfg)) {
        /* many workers on many machines: sources are leased instead */
        *fd_out = -1;
        return 0;
    }
    if (!(uri = config_store_uri(cfg)))
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
        fprintf(stderr, "custody: another custody process (a poll, or a running `custody run` daemon) holds this "
                        "store (%s is locked); wait for it to finish, or stop the daemon\n", path);
        close(fd);
        return 3;
    }
    *fd_out = fd;
    return 0;
}

/* "90s", "5m", "2h", "1d", "250ms" or plain seconds; -1 when malformed. */
int64_t cmd_parse_duration(const char *s)
{
    char *end;
    double v;
    int64_t unit;
    errno = 0;
    v = strtod(s, &end);
    if (end == s || errno || v < 0 || v > 1e9)
        return -1;
    if (!strcmp(end, "ms"))
        unit = 1;
    else if (!strcmp(end, "s") || !*end)
        unit = 1000;
    else if (!strcmp(end, "m"))
        unit = 60000;
    else if (!strcmp(end, "h"))
        unit = 3600000;
    else if (!strcmp(end, "d"))
        unit = 86400000;
    else
        return -1;
    return (int64_t)(v * (double)unit);
}
