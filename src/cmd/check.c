/* check.c - `custody check`: validate the config and print it as custody
 * understood it; `--reference` prints the generated configuration docs. */
#include <stdlib.h>
#include <string.h>

#include "cmd.h"

int cmd_check(cli *c, int argc, char **argv)
{
    static const char *const flags[] = {"--reference", NULL};
    config *cfg = NULL;
    int n = cmd_parse_common(c, "check", argc, argv, flags), rc;
    if (n < 0)
        return 2;
    if (n == 2 && !strcmp(argv[1], "--reference")) {
        config_reference(stdout);
        return 0;
    }
    if (n > 1)
        return cmd_usage("check", "unexpected argument \"%s\"", argv[1]);
    if ((rc = cmd_load_config(c, &cfg)))
        return rc;
    config_print(cfg, stdout);
    /* Secrets are checked for presence, never shown. */
    for (size_t i = 0; i < cfg->nsources; i++) {
        const source_cfg *s = &cfg->sources[i];
        if (s->auth.token_env && !getenv(s->auth.token_env))
            fprintf(stderr, "custody: warning: source %s: environment variable %s (auth.token_env) is "
                            "not set; polls of this source will fail until it is\n",
                    s->name, s->auth.token_env);
    }
    if (!c->quiet)
        fprintf(stderr, "custody: %s: ok (%zu source%s, %zu contract%s)\n", cfg->path, cfg->nsources,
                cfg->nsources == 1 ? "" : "s", cfg->ncontracts, cfg->ncontracts == 1 ? "" : "s");
    config_free(cfg);
    return 0;
}
