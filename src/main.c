/* main.c - custody's command line: a table of subcommands, each in
 * src/cmd/<verb>.c. Exit codes: 0 ok; 1 upstream or data failure; 2 usage
 * or config error; 3 store error; 4 audit verification failed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd.h"

static const command commands[] = {
    {"check", cmd_check, "check [-c FILE] [--reference]",
     "validate the config and print the effective configuration"},
    {"poll", cmd_poll, "poll [-c FILE] [--json] [SOURCE...]",
     "run one poll cycle of the named (or all) sources"},
    {"records", cmd_records, "records [-c FILE] SOURCE [KEY] [--history] [--json]",
     "show stored records (latest versions, or every version with --history)"},
    {"quarantine", cmd_quarantine, "quarantine [-c FILE] list [SOURCE] | show ID [--json]\n"
     "        | replay ID...|--all [SOURCE] [--dry-run] | resolve ID --reason TEXT",
     "review records that failed their contract; re-validate them under the current contract\n"
     "      and ingest what passes now, or close one with a reason (both audited)"},
    {"audit", cmd_audit, "audit [-c FILE] verify [--key PUB] | checkpoint | export [-o FILE]\n"
     "        | prove SOURCE KEY [--version N] | consistency A B",
     "verify the log, checkpoints (and signatures) and every record's content hash; record a\n"
     "      (signed) checkpoint now; export the log as JSONL; print RFC 9162 inclusion and\n"
     "      consistency proofs (check them with tools/custody_verify.py)"},
    {"retention", cmd_retention, "retention [-c FILE] --dry-run [--as-of DATE] | --apply [SOURCE...]",
     "list, or purge (audited), record versions past their source's retention; holds override"},
    {"hold", cmd_hold, "hold [-c FILE] add SOURCE [KEY] --reason TEXT | release ID --reason TEXT | list",
     "legal holds: keep a source or one record from the retention purge"},
    {"status", cmd_status, "status [-c FILE] [--json]",
     "per source: last poll, result, breaker, records fetched, rejection ratio, cursor"},
    {"cursor", cmd_cursor, "cursor [-c FILE] show SOURCE | reset SOURCE [--to VALUE] --reason TEXT",
     "see a source's position (cursor, watermark, breaker, validators) or reset it (audited)"},
    {"keygen", cmd_keygen, "keygen [-o PREFIX]",
     "make an Ed25519 key pair (PREFIX.key, PREFIX.pub) for signed checkpoints"},
};

static void usage(FILE *f)
{
    fputs("custody - deterministic, auditable API polling\n\n"
          "usage: custody COMMAND [OPTIONS] [ARGS]\n\ncommands:\n", f);
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(f, "  %-60s\n      %s\n", commands[i].synopsis, commands[i].summary);
    fputs("\ncommon options:\n"
          "  -c, --config FILE   config file (default: $CUSTODY_CONFIG, else ./custody.yaml)\n"
          "      --json          machine-readable output\n"
          "      --actor NAME    who is acting, for the audit log (default: login user)\n"
          "  -q, --quiet         less output\n"
          "  -h, --help          this help;  custody COMMAND --help for one command\n"
          "  -V, --version       print the version\n\n"
          "exit codes: 0 ok, 1 upstream or data failure, 2 usage or config error,\n"
          "            3 store error, 4 audit verification failed\n\n"
          "The store defaults to custody.db beside the config file. Documentation: docs/.\n", f);
}

int main(int argc, char **argv)
{
    cli c = {0};
    const char *nc = getenv("NO_COLOR");
    c.color = isatty(STDOUT_FILENO) && !(nc && *nc);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        if (argc > 2) {
            for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
                if (!strcmp(commands[i].name, argv[2])) {
                    printf("usage: custody %s\n  %s\n", commands[i].synopsis, commands[i].summary);
                    return 0;
                }
        }
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
        printf("custody %s\n", CUSTODY_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++) {
        if (strcmp(commands[i].name, argv[1]) != 0)
            continue;
        for (int k = 2; k < argc; k++)
            if (!strcmp(argv[k], "-h") || !strcmp(argv[k], "--help")) {
                printf("usage: custody %s\n  %s\n", commands[i].synopsis, commands[i].summary);
                return 0;
            }
        return commands[i].run(&c, argc - 1, argv + 1);
    }
    fprintf(stderr, "custody: unknown command \"%s\"; run custody --help for the list\n", argv[1]);
    return 2;
}
