/* tzload.c - reads a zone file by name from $TZDIR or /usr/share/zoneinfo
 * and hands the bytes to tz_parse. The only file I/O of the time zone code;
 * names are validated first so a config value cannot name another file. */
#include "tzload.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_TZDIR "/usr/share/zoneinfo"
#define EXAMPLE "e.g. \"America/New_York\" or \"Europe/London\""

/* A name that failed validation may hold anything: show it escaped and
 * short. */
static void shown(const char *name, char *out, size_t cap)
{
    size_t o = 0;
    for (const char *p = name; *p && o + 5 < cap; p++) {
        unsigned char c = (unsigned char)*p;
        if (p - name >= 80) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
    }
    out[o] = '\0';
}

cust_code tz_load(const char *name, tz_zone **out, struct err *e)
{
    const char *dir = getenv("TZDIR");
    char path[4096], nm[128];
    unsigned char *data = NULL;
    size_t len = 0, cap = 0;
    struct stat st;
    int fd = -1, n;
    cust_code rc = CUST_OK;

    if (!name)
        name = "";
    if (strcmp(name, "UTC") == 0 || strcmp(name, "Etc/UTC") == 0) {
        *out = tz_utc();
        return CUST_OK;
    }
    if (!tz_name_ok(name)) {
        shown(name, nm, sizeof nm);
        return err_set(e, CUST_ECONFIG,
                       "time zone \"%s\": not a zone name (parts of letters, digits, '_', '+' and '-' joined "
                       "by '/', under %d characters; " EXAMPLE ", or \"UTC\")",
                       nm, TZ_NAME_MAX);
    }
    if (!dir || !*dir)
        dir = DEFAULT_TZDIR;
    n = snprintf(path, sizeof path, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= sizeof path)
        return err_set(e, CUST_ECONFIG, "time zone \"%s\": zone directory path too long (TZDIR=%.100s...)", name,
                       dir);
    /* O_NONBLOCK: a FIFO planted in the zone directory must not hang us */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return err_setc(e, CUST_ENOTFOUND, errno,
                            "time zone \"%s\": no such zone in %s (check the spelling, " EXAMPLE
                            "; if the name is right, install the tzdata package)",
                            name, dir);
        return err_setc(e, CUST_EIO, errno, "time zone \"%s\": cannot open %s: %s (install tzdata or check "
                        "the file's permissions)", name, path, strerror(errno));
    }
    if (fstat(fd, &st) != 0) {
        rc = err_setc(e, CUST_EIO, errno, "time zone \"%s\": cannot stat %s: %s", name, path, strerror(errno));
        goto done;
    }
    if (S_ISDIR(st.st_mode)) {
        rc = err_set(e, CUST_ECONFIG, "time zone \"%s\": %s is a directory of zones, not a zone (name a city "
                     "in it, " EXAMPLE ")", name, path);
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = err_set(e, CUST_ECONFIG, "time zone \"%s\": %s is not a regular file (reinstall tzdata)", name, path);
        goto done;
    }
    if (st.st_size > TZLOAD_MAX_BYTES) {
        rc = err_set(e, CUST_ELIMIT, "time zone \"%s\": %s is %lld bytes, more than a zone file can be (%d); "
                     "reinstall tzdata", name, path, (long long)st.st_size, TZLOAD_MAX_BYTES);
        goto done;
    }
    cap = (size_t)st.st_size + 1; /* +1 sees a file that grew while we read */
    if (!(data = malloc(cap))) {
        rc = err_set(e, CUST_ENOMEM, "time zone \"%s\": out of memory (%zu bytes)", name, cap);
        goto done;
    }
    while (len < cap) {
        ssize_t r = read(fd, data + len, cap - len);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            rc = err_setc(e, CUST_EIO, errno, "time zone \"%s\": cannot read %s: %s", name, path, strerror(errno));
            goto done;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    if (len == cap) {
        rc = err_set(e, CUST_EIO, "time zone \"%s\": %s changed while it was read; try again", name, path);
        goto done;
    }
    rc = tz_parse(name, data, len, out, e);
    if (rc != CUST_OK)
        err_prefix(e, "%s: ", path);
done:
    free(data);
    if (fd >= 0)
        close(fd);
    return rc;
}
