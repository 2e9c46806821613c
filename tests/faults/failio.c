/* failio.c - an LD_PRELOAD shim for storage-fault tests: the Nth write,
 * fsync or open of a file whose path contains FAILIO_MATCH fails with
 * FAILIO_ERRNO (EIO or ENOSPC), once (FAILIO_MODE=once) or from then on
 * (persistent). FAILIO_COUNT_FILE, when set, receives the number of
 * matching calls at exit, so a test can sweep N over a whole poll.
 * Test tooling only; never linked into custody. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define MAXFD 4096

static int tracked[MAXFD];
static long calls, fail_at = -1;
static int err_no = EIO, persistent, inited;
static const char *match;

static void init(void)
{
    const char *v;
    if (inited)
        return;
    inited = 1;
    match = getenv("FAILIO_MATCH");
    if ((v = getenv("FAILIO_AT")))
        fail_at = strtol(v, NULL, 10);
    if ((v = getenv("FAILIO_ERRNO")) && !strcmp(v, "ENOSPC"))
        err_no = ENOSPC;
    persistent = (v = getenv("FAILIO_MODE")) && !strcmp(v, "persistent");
}

static void report(void) __attribute__((destructor));
static void report(void)
{
    const char *f = getenv("FAILIO_COUNT_FILE");
    FILE *o;
    if (f && (o = fopen(f, "w"))) {
        fprintf(o, "%ld\n", calls);
        fclose(o);
    }
}

/* 1 when this call is the one (or past the one) to fail */
static int should_fail(void)
{
    long n = ++calls;
    if (fail_at < 0)
        return 0;
    return persistent ? n >= fail_at : n == fail_at;
}

static int track_path(const char *path)
{
    init();
    return match && path && strstr(path, match);
}

typedef int (*open_fn)(const char *, int, ...);
typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);
typedef int (*fd_fn)(int);
#define REAL(name, type) static type real_##name; if (!real_##name) real_##name = (type)dlsym(RTLD_NEXT, #name)

int open(const char *path, int flags, ...)
{
    mode_t mode = 0;
    int fd;
    REAL(open, open_fn);
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = va_arg(ap, mode_t);
        va_end(ap);
    }
    if (track_path(path) && should_fail()) {
        errno = err_no;
        return -1;
    }
    fd = real_open(path, flags, mode);
    if (fd >= 0 && fd < MAXFD)
        tracked[fd] = track_path(path);
    return fd;
}

int open64(const char *path, int flags, ...) __attribute__((alias("open")));

ssize_t write(int fd, const void *buf, size_t n)
{
    REAL(write, write_fn);
    if (fd >= 0 && fd < MAXFD && tracked[fd] && should_fail()) {
        errno = err_no;
        return -1;
    }
    return real_write(fd, buf, n);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    REAL(pwrite, pwrite_fn);
    if (fd >= 0 && fd < MAXFD && tracked[fd] && should_fail()) {
        errno = err_no;
        return -1;
    }
    return real_pwrite(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off) __attribute__((alias("pwrite")));

int fsync(int fd)
{
    REAL(fsync, fd_fn);
    if (fd >= 0 && fd < MAXFD && tracked[fd] && should_fail()) {
        errno = err_no;
        return -1;
    }
    return real_fsync(fd);
}

int fdatasync(int fd)
{
    REAL(fdatasync, fd_fn);
    if (fd >= 0 && fd < MAXFD && tracked[fd] && should_fail()) {
        errno = err_no;
        return -1;
    }
    return real_fdatasync(fd);
}

int close(int fd)
{
    REAL(close, fd_fn);
    if (fd >= 0 && fd < MAXFD)
        tracked[fd] = 0;
    return real_close(fd);
}
