/* audit.c - `custody audit verify|checkpoint|export|prove|consistency` and
 * `custody keygen`. verify recomputes everything offline and exits 4
 * naming the first bad entry; the others produce evidence an outsider
 * checks with the published algorithms alone (tools/custody_verify.py). */
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "engine/poll.h"
#include "engine/verify.h"
#include "io/sign.h"

static int do_verify(cli *c, store *st, const config *cfg, const char *keyfile)
{
    verify_report r;
    struct err e = {0};
    sign_key *key = NULL;
    cust_code vr;
    int rc = 0;
    if (!keyfile)
        keyfile = cfg->verify_key;
    if (keyfile && !(key = sign_key_load_public(keyfile, &e)))
        return cmd_fail(&e);
    vr = verify_store(st, key, &r, &e);
    if (c->json) {
        printf("{\"ok\":%s,\"entries\":%ld,\"checkpoints\":%ld,\"signed_checkpoints\":%ld,\"signatures_checked\":%s,"
               "\"records\":%ld,\"quarantined\":%ld,\"root\":\"%s\"",
               vr ? "false" : "true", r.entries, r.checkpoints, r.signed_checkpoints, key ? "true" : "false",
               r.records, r.quarantined, r.root);
        if (vr) {
            printf(",\"bad_seq\":%ld,\"error\":", r.bad_seq);
            cmd_json_string(stdout, e.msg, strlen(e.msg));
        }
        puts("}");
    }
    if (vr) {
        fprintf(stderr, "custody: audit verify FAILED: %s\n", e.msg);
        rc = err_exit_code(vr);
    } else if (!c->json) {
        printf("audit verify: OK\n  entries:     %ld\n  checkpoints: %ld (all roots match)\n", r.entries,
               r.checkpoints);
        if (key)
            printf("  signatures:  %ld of %ld checkpoints signed by key %s, all valid\n", r.signed_checkpoints,
                   r.checkpoints, sign_key_id(key));
        else
            printf("  signatures:  %ld signed checkpoints, not checked (give --key FILE or audit.verify_key)\n",
                   r.signed_checkpoints);
        printf("  records:     %ld versions, every content hash recomputed\n  quarantine:  %ld entries\n"
               "  root:        %s\n",
               r.records, r.quarantined, r.root);
    }
    sign_key_free(key);
    return rc;
}

/* A checkpoint now, signed when audit.signing_key is set; printed as the
 * text an operator files elsewhere. */
static int do_checkpoint(cli *c, store *st, const config *cfg)
{
    struct err e = {0};
    sign_key *key = NULL;
    char now[32], root[65];
    int64_t size;
    buf text;
    int rc = 0;
    store_audit a;
    buf_init(&text, 4096);
    if (cfg->signing_key && !(key = sign_key_load_private(cfg->signing_key, &e)))
        return cmd_fail(&e);
    poll_clock_real(now);
    a = (store_audit){now, c->actor, "audit.checkpoint", "", "", "{}", "operator"};
    if (st->ops->begin(st, &e) || st->ops->audit_append(st, &a, NULL, &e) ||
        st->ops->checkpoint(st, now, key, &size, root, &e) || st->ops->commit(st, &e)) {
        st->ops->rollback(st);
        rc = cmd_fail(&e);
        goto out;
    }
    if (checkpoint_text(size, root, now, &text)) {
        rc = 3;
        goto out;
    }
    if (c->json) {
        printf("{\"tree_size\":%lld,\"root\":\"%s\",\"time\":\"%s\",\"signed\":%s", (long long)size, root, now,
               key ? "true" : "false");
        if (key)
            printf(",\"key_id\":\"%s\"", sign_key_id(key));
        puts("}");
    } else {
        fputs(text.ptr, stdout);
        if (key) {
            buf sig;
            buf_init(&sig, 4096);
            if (sign_data(key, text.ptr, text.len, &sig, &e) == CUST_OK)
                printf("signature %s\n", sig.ptr);
            buf_release(&sig);
        } else {
            fprintf(stderr, "custody: note: the checkpoint is unsigned; set audit.signing_key (custody keygen) "
                            "so it can be verified without trusting this store\n");
        }
    }
out:
    buf_release(&text);
    sign_key_free(key);
    return rc;
}

int cmd_audit(cli *c, int argc, char **argv)
{
    static const char *const flags[] = {"--key", NULL};
    config *cfg = NULL;
    store *st = NULL;
    const char *keyfile = NULL;
    int rc, n = cmd_parse_common(c, "audit", argc, argv, flags);
    if (n < 0)
        return 2;
    for (int i = 1; i < n; i++)
        if (!strcmp(argv[i], "--key")) {
            if (i + 1 >= n)
                return cmd_usage("audit", "--key needs the public key file");
            keyfile = argv[i + 1];
            memmove(&argv[i], &argv[i + 2], (size_t)(n - i - 2) * sizeof *argv);
            n -= 2;
            i--;
        }
    if (n < 2)
        return cmd_usage("audit", "say verify, checkpoint, export, prove or consistency");
    if (strcmp(argv[1], "verify") && strcmp(argv[1], "checkpoint"))
        return cmd_usage("audit", "unknown action \"%s\"; use verify, checkpoint, export, prove or consistency",
                         argv[1]);
    if ((rc = cmd_load_config(c, &cfg)))
        return rc;
    if ((rc = cmd_open_store(cfg, &st)))
        goto out;
    if (!strcmp(argv[1], "verify"))
        rc = n == 2 ? do_verify(c, st, cfg, keyfile) : cmd_usage("audit", "verify takes no arguments");
    else
        rc = n == 2 ? do_checkpoint(c, st, cfg) : cmd_usage("audit", "checkpoint takes no arguments");
out:
    store_close(st);
    config_free(cfg);
    return rc;
}

int cmd_keygen(cli *c, int argc, char **argv)
{
    static const char *const flags[] = {"-o", NULL};
    const char *prefix = "custody-signing";
    char id[17];
    struct err e = {0};
    int n = cmd_parse_common(c, "keygen", argc, argv, flags);
    if (n < 0)
        return 2;
    for (int i = 1; i < n; i++) {
        if (!strcmp(argv[i], "-o") && i + 1 < n)
            prefix = argv[++i];
        else
            return cmd_usage("keygen", "unexpected \"%s\"; usage: custody keygen [-o PREFIX]", argv[i]);
    }
    if (sign_keygen(prefix, id, &e))
        return cmd_fail(&e);
    printf("wrote %s.key (private, mode 0600) and %s.pub; key id %s\n"
           "config:  audit: { signing_key: %s.key }   # where custody polls\n"
           "verify:  custody audit verify --key %s.pub  # anywhere, with the public key alone\n",
           prefix, prefix, id, prefix, prefix);
    return 0;
}
