/* run.c - `custody run`: the daemon. Takes the store lock (one daemon or
 * poll per store), opens the store and hands over to engine/daemon. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "core/timefmt.h"
#include "engine/daemon.h"
#include "engine/log.h"
#include "io/sign.h"


int cmd_run(cli *c, int argc, char **argv)
{
    config *cfg = NULL;
    store *st = NULL;
    sign_key *signer = NULL;
    daemon_opts o = {0};
    const char *for_text = NULL, *log_text = NULL;
    char self[PATH_MAX], *state = NULL, *uri = NULL, *cfgpath = NULL, *actor = NULL;
    static const char *const flags[] = {"--for", "--log", NULL};
    int n = cmd_parse_common(c, "run", argc, argv, flags), rc = 0, lockfd = -1;
    struct err e = {0};
    ssize_t sl;

    if (n < 0)
        return 2;
    if (cmd_take_value(&n, argv, "--for", &for_text) < 0 || cmd_take_value(&n, argv, "--log", &log_text) < 0)
        return cmd_usage("run", "--for and --log need a value");
    if (n > 1)
        return cmd_usage("run", "unexpected argument \"%s\"", argv[1]);
    if (for_text && (o.run_for_ms = cmd_parse_duration(for_text)) <= 0)
        return cmd_usage("run", "--for \"%s\": give a duration such as 90s, 5m or 2h", for_text);
    if (log_text && strcmp(log_text, "json") != 0 && strcmp(log_text, "text") != 0)
        return cmd_usage("run", "--log \"%s\": json or text", log_text);
    if ((rc = cmd_load_config(c, &cfg)))
        return rc;
    log_set_format(!strcmp(log_text ? log_text : cfg->run.log, "text") ? LOG_TEXT : LOG_JSON);
    if (!strcmp(cfg->path, "(embedded)")) {
        fprintf(stderr, "custody: run: needs a configuration file (-c FILE); the embedded demo is for "
                        "`custody poll`\n");
        config_free(cfg);
        return 2;
    }
    if ((rc = cmd_lock_store(cfg, &lockfd)) || (rc = cmd_open_store(cfg, &st)))
        goto out;
    if (cfg->signing_key && !(signer = sign_key_load_private(cfg->signing_key, &e))) {
        fprintf(stderr, "custody: %s (audit.signing_key)\n", e.msg);
        rc = 2;
        goto out;
    }
    if ((sl = readlink("/proc/self/exe", self, sizeof self - 1)) > 0) {
        self[sl] = '\0';
        o.self_exe = self;
    }
    if (!(uri = config_store_uri(cfg)) || !(cfgpath = realpath(cfg->path, NULL))) {
        fprintf(stderr, "custody: run: cannot resolve %s\n", cfg->path);
        rc = 2;
        goto out;
    }
    state = config_state_path(cfg);
    o.config_path = cfgpath;
    /* the first config goes away on a reload: the actor outlives it */
    if (!(actor = strdup(cfg->actor))) {
        rc = 3;
        goto out;
    }
    o.actor = actor;
    o.signer = signer;
    o.state_path = state;
    if (daemon_run(cfg, st, &o, &e))
        rc = cmd_fail(&e);
    cfg = NULL; /* the daemon owned it */
out:
    sign_key_free(signer);
    store_close(st);
    if (lockfd >= 0)
        close(lockfd);
    config_free(cfg);
    free(state);
    free(uri);
    free(cfgpath);
    free(actor);
    return rc;
}
