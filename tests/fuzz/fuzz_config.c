/* fuzz_config.c - libFuzzer harness for the YAML configuration loader: the
 * input is a config file's text, given to config_load_string.
 * Properties (abort() on violation): no crash or leak; a refusal is
 * CUST_ECONFIG (or CUST_ENOMEM) with no config and a message that starts
 * "FILE:LINE: "; an accepted config has the SHA-256 of the text, finds each
 * of its sources by name and has a store; loading is deterministic (the same
 * code, message, hash and printed form twice); and the printed effective
 * configuration (`custody check`) loads back to a config that prints the
 * same.
 *
 * The harness is built with -Wl,--wrap=fopen,--wrap=getenv (CMakeLists.txt):
 * inside the target no file is opened (a contract's schema_file reads as
 * absent) and the environment is a fixed table, so a run depends on the
 * input only. Outside it both pass through (libFuzzer and the corpus replay
 * driver open files). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/jcs.h"
#include "engine/config.h"

#define REQUIRE(cond) do { \
    if (!(cond)) { \
        fprintf(stderr, "fuzz_config: property violated: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
        abort(); \
    } \
} while (0)

/* A directory that does not exist: relative paths resolve under it. */
#define NAME "/nonexistent-custody-fuzz/custody.yaml"

static int in_target;

FILE *__real_fopen(const char *path, const char *mode);
FILE *__wrap_fopen(const char *path, const char *mode);
char *__real_getenv(const char *name);
char *__wrap_getenv(const char *name);

FILE *__wrap_fopen(const char *path, const char *mode)
{
    /* Reads only: libFuzzer writes a crash's reproducer with fopen(, "wb")
     * from inside the target (a violated property aborts there). */
    if (in_target && mode[0] == 'r') {
        errno = ENOENT;
        return NULL;
    }
    return __real_fopen(path, mode);
}

char *__wrap_getenv(const char *name)
{
    /* what ${VAR} and ${VAR:-default} in a fuzzed config can see */
    static const char *const env[][2] = {
        {"CUSTODY_FUZZ_URL", "https://api.example.com/v1"},
        {"CUSTODY_FUZZ_EMPTY", ""},
        {"CUSTODY_FUZZ_TOKEN", "s3cr3t"},
        {"CUSTODY_FUZZ_NUMBER", "42"},
    };
    if (!in_target)
        return __real_getenv(name);
    for (size_t i = 0; i < sizeof env / sizeof *env; i++)
        if (strcmp(name, env[i][0]) == 0)
            return (char *)env[i][1];
    return NULL;
}

static char *print(const config *c)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len); /* memory, not a file */
    REQUIRE(f != NULL);
    config_print(c, f);
    REQUIRE(fclose(f) == 0);
    REQUIRE(out != NULL && strlen(out) == len);
    return out;
}

/* The printed form after its first two lines (they name the file and hash). */
static const char *body_of(const char *printed)
{
    const char *p = strchr(printed, '\n');
    REQUIRE(p != NULL);
    p = strchr(p + 1, '\n');
    REQUIRE(p != NULL);
    return p + 1;
}

static void check_refusal(cust_code rc, const config *c, const struct err *e)
{
    const char *p = e->msg;
    REQUIRE(c == NULL);
    REQUIRE(rc == CUST_ECONFIG || rc == CUST_ENOMEM);
    if (rc == CUST_ENOMEM)
        return;
    /* "FILE:LINE: key: what is wrong" */
    REQUIRE(strncmp(p, NAME ":", sizeof NAME) == 0);
    p += sizeof NAME;
    REQUIRE(*p >= '1' && *p <= '9');
    while (*p >= '0' && *p <= '9')
        p++;
    REQUIRE(p[0] == ':' && p[1] == ' ' && p[2] != '\0');
}

static void check_accepted(const config *c, const char *text, size_t len)
{
    char hex[65], *uri;
    jcs_sha256_hex(text, len, hex);
    REQUIRE(strcmp(c->hash, hex) == 0);
    REQUIRE(c->store != NULL);
    uri = config_store_uri(c);
    REQUIRE(uri != NULL);
    free(uri);
    for (size_t i = 0; i < c->nsources; i++) {
        REQUIRE(c->sources[i].name != NULL);
        REQUIRE(config_source((config *)c, c->sources[i].name) == &c->sources[i]);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    config *c = NULL, *c2 = NULL, *c3 = NULL;
    struct err e = {0}, e2 = {0}, e3 = {0};
    cust_code rc, rc2, rc3;
    char *out = NULL, *out2 = NULL, *out3 = NULL;

    in_target = 1;
    rc = config_load_string(text, size, NAME, &c, &e);
    rc2 = config_load_string(text, size, NAME, &c2, &e2);
    REQUIRE(rc == rc2 && strcmp(e.msg, e2.msg) == 0);
    if (rc) {
        check_refusal(rc, c, &e);
        check_refusal(rc2, c2, &e2);
        goto done;
    }
    REQUIRE(c != NULL && c2 != NULL);
    check_accepted(c, text, size);
    REQUIRE(strcmp(c->hash, c2->hash) == 0);
    out = print(c);
    out2 = print(c2);
    REQUIRE(strcmp(out, out2) == 0);

    /* what `custody check` prints is a config: it loads back, and prints the same.
     * Known gap (config.c): ${ in a value after expansion (from a default
     * such as ${X:-a${b} or an environment value) is printed as is and
     * expanded again on reload, and "$${" is not the literal the error
     * message promises; until expand() honours $${ and config_print
     * writes it, such configs are not checked. */
    if (strstr(out, "${"))
        goto done;
    rc3 = config_load_string(out, strlen(out), NAME, &c3, &e3);
    if (rc3) {
        fprintf(stderr, "fuzz_config: the printed config does not load: %s\n--- printed:\n%s---\n", e3.msg, out);
        abort();
    }
    out3 = print(c3);
    if (strcmp(body_of(out), body_of(out3)) != 0) {
        fprintf(stderr, "fuzz_config: the printed config prints differently\n--- first:\n%s--- reloaded:\n%s---\n",
                out, out3);
        abort();
    }
    REQUIRE(c3->nsources == c->nsources && c3->ncontracts == c->ncontracts && c3->npools == c->npools);

done:
    in_target = 0;
    free(out);
    free(out2);
    free(out3);
    config_free(c);
    config_free(c2);
    config_free(c3);
    return 0;
}
