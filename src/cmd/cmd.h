/* cmd.h - what the subcommands share: parsed common options, config and
 * store opening with uniform errors, and output helpers. */
#ifndef CUSTODY_CMD_H
#define CUSTODY_CMD_H

#include <stdio.h>
#include "core/err.h"
#include "engine/config.h"
#include "io/store.h"

typedef struct cli {
    const char *config_path; /* -c, $CUSTODY_CONFIG, ./custody.yaml */
    const char *actor;       /* --actor, default login user */
    int json;                /* --json */
    int quiet;
    int color;               /* stdout is a terminal and NO_COLOR unset */
} cli;

typedef struct command {
    const char *name;
    int (*run)(cli *c, int argc, char **argv);
    const char *synopsis;
    const char *summary;
} command;

int cmd_check(cli *c, int argc, char **argv);
int cmd_poll(cli *c, int argc, char **argv);
int cmd_records(cli *c, int argc, char **argv);
int cmd_export(cli *c, int argc, char **argv);
int cmd_trace(cli *c, int argc, char **argv);
int cmd_index(cli *c, int argc, char **argv);
int cmd_quarantine(cli *c, int argc, char **argv);
int cmd_audit(cli *c, int argc, char **argv);
int cmd_keygen(cli *c, int argc, char **argv);
int cmd_cursor(cli *c, int argc, char **argv);
int cmd_status(cli *c, int argc, char **argv);
int cmd_retention(cli *c, int argc, char **argv);
int cmd_hold(cli *c, int argc, char **argv);
int cmd_run(cli *c, int argc, char **argv);
int cmd_publish(cli *c, int argc, char **argv);

/* Print "custody: <msg>" to stderr and return the exit code for e. */
int cmd_fail(const struct err *e);
/* Usage error: message + hint, exit code 2. */
int cmd_usage(const char *verb, const char *fmt, ...) CUST_PRINTF(2, 3);

/* Load the config named by c (exit code on failure, 0 on success). */
int cmd_load_config(cli *c, config **out);
/* Open the config's store; exit code on failure. */
int cmd_open_store(const config *cfg, store **out);
int cmd_open_store_ex(const config *cfg, unsigned flags, store **out);

/* Take the store's exclusive lock (STORE.lock beside it) for a poll or
 * the daemon: two writers never interleave cursors. Exit code on failure
 * (3, after saying who holds it and what to do), 0 with *fd_out set. */
int cmd_lock_store(const config *cfg, int *fd_out);

/* Parse common options out of argv in place: -c/--config FILE, --json,
 * --actor NAME, -q/--quiet. Remaining arguments are compacted to argv[1..]
 * and their count returned; -1 after printing a usage error. Options listed
 * in flags (NULL-terminated, e.g. "--history") are left in place. */
int cmd_parse_common(cli *c, const char *verb, int argc, char **argv, const char *const *flags);

/* A record key as typed (a JSON array, or parts separated by '|') in its
 * stored RFC 8785 form; malloc'd, NULL when it is neither. */
char *cmd_key_arg(const char *arg);

/* Take "FLAG VALUE" out of argv[1..*n) (the last occurrence wins) into
 * *out, compacting argv; *out is untouched when FLAG is absent. Returns -1
 * when FLAG is the last argument (no value). */
int cmd_take_value(int *n, char **argv, const char *flag, const char **out);

/* Write s as a JSON string to f. */
void cmd_json_string(FILE *f, const char *s, size_t len);

/* A --for value: "90s", "5m", "2h", "1d", "250ms" or plain seconds, in ms;
 * -1 when malformed. */
int64_t cmd_parse_duration(const char *s);

#endif
