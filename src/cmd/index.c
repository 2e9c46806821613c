/* index.c - `custody index rebuild [SOURCE...]` and `custody index status`:
 * the store's lot index (a source's index: fields) for records stored before
 * it was declared, and whether export and trace can use it. The work is in
 * engine/recindex.c. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "engine/poll.h"
#include "engine/recindex.h"
#include "io/sign.h"

static void rebuilt(void *ud, const char *source, long versions, long terms)
{
    cli *c = ud;
    if (c->json) {
        fputs("{\"source\":", stdout);
        cmd_json_string(stdout, source, strlen(source));
        printf(",\"versions\":%ld,\"terms\":%ld}\n", versions, terms);
    } else if (!c->quiet) {
        printf("%-30s %ld record versions read, %ld index terms\n", source, versions, terms);
    }
}

static int rebuild(cli *c, config *cfg, const char **names, size_t nnames)
{
    store *st = NULL;
    sign_key *signer = NULL;
    recindex_report r;
    struct err e = {0};
    char now[32];
    int rc, lockfd = -1;
    if (cfg->signing_key && !(signer = sign_key_load_private(cfg->signing_key, &e)))
        return cmd_fail(&e);
    /* one writer: a rebuild holds the write lock for as long as it reads */
    if ((rc = cmd_lock_store(cfg, &lockfd)) || (rc = cmd_open_store(cfg, &st)))
        goto out;
    poll_clock_real(now);
    if (recindex_rebuild(cfg, st, names, nnames, now, c->actor, signer, rebuilt, c, &r, &e)) {
        rc = cmd_fail(&e);
        goto out;
    }
    if (!c->json && !c->quiet)
        printf("index rebuilt: %ld source(s), %ld record versions, %ld terms (audited: index.rebuild)\n", r.sources,
               r.versions, r.terms);
out:
    store_close(st);
    if (lockfd >= 0)
        close(lockfd);
    sign_key_free(signer);
    return rc;
}

static int status(cli *c, config *cfg)
{
    store *st = NULL;
    struct err e = {0};
    int rc;
    if ((rc = cmd_open_store(cfg, &st)))
        return rc;
    for (size_t i = 0; i < cfg->nsources; i++) {
        const source_cfg *src = &cfg->sources[i];
        int unset = 0;
        char *note = recindex_note(st, src->name, &unset, &e);
        if (!note && !unset) {
            rc = cmd_fail(&e);
            break;
        }
        if (c->json) {
            fputs("{\"source\":", stdout);
            cmd_json_string(stdout, src->name, strlen(src->name));
            fputs(",\"declared\":[", stdout);
            for (size_t k = 0; k < src->nindex; k++) {
                if (k)
                    fputc(',', stdout);
                cmd_json_string(stdout, src->index[k], strlen(src->index[k]));
            }
            printf("],\"complete\":%s}\n", note ? note : "[]");
        } else {
            printf("%-30s index:", src->name);
            for (size_t k = 0; k < src->nindex; k++)
                printf("%s%s", k ? ", " : " ", src->index[k]);
            if (!src->nindex)
                fputs(" (none)", stdout);
            printf("  complete for: %s", note ? note : "[]");
            for (size_t k = 0; k < src->nindex; k++) {
                int ready = recindex_ready(st, src, src->index[k], &e);
                if (ready < 0) {
                    rc = cmd_fail(&e);
                    break;
                }
                if (!ready) {
                    printf("  (incomplete: custody index rebuild %s)", src->name);
                    break;
                }
            }
            putchar('\n');
        }
        free(note);
        if (rc)
            break;
    }
    store_close(st);
    return rc;
}

int cmd_index(cli *c, int argc, char **argv)
{
    config *cfg = NULL;
    const char **names = NULL;
    int rc, n = cmd_parse_common(c, "index", argc, argv, NULL);
    if (n < 0)
        return 2;
    if (n < 2 || (strcmp(argv[1], "rebuild") && strcmp(argv[1], "status")))
        return cmd_usage("index", "use: index rebuild [SOURCE...] | index status");
    if (!strcmp(argv[1], "status") && n > 2)
        return cmd_usage("index", "index status takes no arguments");
    if ((rc = cmd_load_config(c, &cfg)))
        return rc;
    if (!strcmp(argv[1], "status")) {
        rc = status(c, cfg);
    } else if (!(names = calloc((size_t)n, sizeof *names))) {
        fprintf(stderr, "custody: out of memory\n");
        rc = 3;
    } else {
        for (int i = 2; i < n; i++)
            names[i - 2] = argv[i];
        rc = rebuild(c, cfg, names, (size_t)(n - 2));
    }
    free(names);
    config_free(cfg);
    return rc;
}
