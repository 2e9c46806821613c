/* main.c - custody's command line: a table of subcommands, each in
 * src/cmd/<verb>.c. Exit codes: 0 ok; 1 upstream or data failure; 2 usage
 * or config error; 3 store error; 4 audit verification failed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/config.h"

#include "cmd/cmd.h"

static const command commands[] = {
    {"check", cmd_check, "check [-c FILE] [--reference]",
     "validate the config and print the effective configuration"},
    {"poll", cmd_poll, "poll [-c FILE] [--json] [SOURCE...]",
     "run one poll cycle of the named (or all) sources"},
    {"run", cmd_run, "run [-c FILE] [--for DURATION] [--log json|text]",
     "the daemon: every source on its schedule (every / daily / cron, tiers), pool caps,\n"
     "      alerts; SIGTERM stops at page boundaries, SIGHUP reloads the config (audited)"},
    {"publish", cmd_publish, "publish [-c FILE] [--once | --follow [--for DURATION]] [--json] [--log json|text]",
     "hand committed record versions to the NATS JetStream stream of outbox.nats, from the\n"
     "      position kept in the store (at least once; the broker drops duplicates by Nats-Msg-Id);\n"
     "      --follow keeps tailing until SIGTERM/SIGINT or --for"},
    {"records", cmd_records, "records [-c FILE] SOURCE [KEY] [--history] [--json]",
     "show stored records (latest versions, or every version with --history)"},
    {"export", cmd_export, "export [-c FILE] SOURCE [--format csv|jsonl|fsma204] [--history] [--from DATE]\n"
     "        [--to DATE] [--lot CODE]... [--scan] [-o FILE]",
     "export records as CSV (RFC 4180, formula-safe), JSONL or the FDA FSMA 204 sortable\n"
     "      spreadsheet (with a glossary), atomically to FILE or to stdout; --lot uses the\n"
     "      store's lot index when the source keeps one (--scan: read every record instead)"},
    {"trace", cmd_trace, "trace [-c FILE] LOT [--source S] [--json | --format dot] [--scan]",
     "chain of custody of a traceability lot: shipping -> receiving and transformation\n"
     "      inputs -> outputs, as a tree, JSON or Graphviz dot (through the lot index when\n"
     "      the sources keep one; --scan: read every record instead)"},
    {"index", cmd_index, "index [-c FILE] rebuild [SOURCE...] | status [--json]",
     "the store's lot index (a source's index: fields): index the records stored before\n"
     "      index: was declared (audited), or show which sources export and trace can look up"},
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
          "  -V, --version       print the version\n"
          "      --man           print the manual page, custody(1)\n\n"
          "exit codes: 0 ok, 1 upstream or data failure, 2 usage or config error,\n"
          "            3 store error, 4 audit verification failed\n\n"
          "The store defaults to custody.db beside the config file; store: postgresql://USER@HOST/DB\n"
          "shares one PostgreSQL database among many workers (sources leased). Documentation: docs/.\n", f);
}

/* roff-escape a line of the command table (backslashes, leading dots, dashes). */
static void roff(const char *s)
{
    int bol = 1;
    for (; *s; s++) {
        if (*s == '\n') {
            /* the table wraps for the terminal; roff fills lines itself */
            while (s[1] == ' ')
                s++;
            putchar(' ');
            continue;
        }
        if (bol && (*s == '.' || *s == '\''))
            fputs("\\&", stdout);
        if (*s == '\\')
            fputs("\\e", stdout);
        else if (*s == '-')
            fputs("\\-", stdout);
        else
            putchar(*s);
        bol = *s == '\n';
    }
}

/* custody(1), generated from the command table above and the config
 * option table: `custody --man > custody.1` (the build does this). */
static void man_page(void)
{
    printf(".TH CUSTODY 1 \"\" \"custody %s\" \"User Commands\"\n", CUSTODY_VERSION);
    puts(".SH NAME\ncustody \\- deterministic, auditable API polling\n"
         ".SH SYNOPSIS\n.B custody\n.I COMMAND\n[\\fIOPTIONS\\fR] [\\fIARGS\\fR]\n"
         ".SH DESCRIPTION\n"
         "custody pulls records from HTTP/JSON APIs on a schedule, validates each against a declared data "
         "contract, normalises it, and commits records, rejections, the cursor and audit entries in one "
         "transaction, so every upstream record is captured exactly once and an auditor can verify, offline, "
         "what was received, when, and what became of it.\n"
         ".PP\nRun it once per schedule with \\fBcustody poll\\fR from cron or a systemd timer, or as a "
         "daemon with \\fBcustody run\\fR.\n.SH COMMANDS");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++) {
        fputs(".TP\n.B custody ", stdout);
        roff(commands[i].synopsis);
        putchar('\n');
        roff(commands[i].summary);
        putchar('\n');
    }
    puts(".SH OPTIONS\n"
         ".TP\n.BR \\-c \", \" \\-\\-config \" \" \\fIFILE\\fR\n"
         "The configuration file (default: $CUSTODY_CONFIG, else ./custody.yaml).\n"
         ".TP\n.B \\-\\-json\nMachine-readable output.\n"
         ".TP\n.BI \\-\\-actor \" NAME\"\nWho is acting, for the audit log (default: the login user).\n"
         ".TP\n.BR \\-q \", \" \\-\\-quiet\nLess output.\n"
         ".TP\n.BR \\-h \", \" \\-\\-help\nHelp; \\fBcustody COMMAND \\-\\-help\\fR for one command.\n"
         ".TP\n.BR \\-V \", \" \\-\\-version\nPrint the version.\n"
         ".TP\n.B \\-\\-man\nPrint this manual page.\n"
         ".SH EXIT STATUS\n"
         ".TP\n.B 0\nSuccess.\n.TP\n.B 1\nAn upstream or data failure (HTTP error, bad JSON, timeout); the cursor "
         "stayed at the last committed page.\n.TP\n.B 2\nUsage or configuration error; the message names "
         "file:line: key.\n.TP\n.B 3\nStore error (disk, lock, corrupt file); nothing half-written is visible.\n"
         ".TP\n.B 4\nAudit verification failed: treat it as an incident.\n"
         ".SH SIGNALS\n"
         ".TP\n.BR SIGTERM \", \" SIGINT\n\\fBpoll\\fR and \\fBrun\\fR end each cycle at its next page "
         "boundary, committed; \\fBrun\\fR aborts transfers still running after run.shutdown_grace. A second "
         "signal stops at once.\n.TP\n.B SIGHUP\n\\fBrun\\fR reloads the configuration (audited with both "
         "hashes); a file that does not load is logged and the running configuration stays.\n"
         ".SH ENVIRONMENT\n.TP\n.B CUSTODY_CONFIG\nThe configuration file when \\-c is not given.\n"
         ".TP\n.BR PGHOST \", \" PGPORT \", \" PGUSER \", \" PGPASSWORD \", \" PGDATABASE\nlibpq's connection "
         "settings for a PostgreSQL store, where its URI leaves them out.\n"
         ".TP\n.B NO_COLOR\nNo colours on a terminal.\n.PP\nSecrets are read from the environment variables "
         "or files the configuration names (token_env, token_file, ...), never from the file itself.\n"
         ".SH FILES\n.TP\n.I custody.db\nThe SQLite store, beside the configuration unless store: says "
         "otherwise.\n.TP\n.I custody.db.lock\nHeld by a poll or the daemon: one writer per store.\n"
         ".TP\n.I custody.db.run.json\nThe running daemon's schedule view, read by custody status (beside the "
         "configuration, as CONFIG.run.json, with a PostgreSQL store).\n"
         ".SH CONFIGURATION\nYAML. Durations: 250ms, 10s, 5m, 1h, 1d; sizes: 65536, 64KiB, 64MiB. Values may "
         "use ${VAR} or ${VAR:\\-default}, except secret references.");
    config_reference_roff(stdout);
    puts(".SH SEE ALSO\nThe documentation under share/doc/custody: operations.md, schedule.md, export.md, "
         "ui.md, configuration.md, postgresql.md, audit.md, outbox.md, proofs.md, resilience.md, pagination.md, contracts.md, security.md; "
         "examples under share/custody/examples.");
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
    if (!strcmp(argv[1], "--man")) {
        man_page();
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
