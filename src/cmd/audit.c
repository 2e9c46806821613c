/* audit.c - `custody audit verify|checkpoint|export|prove|consistency` and
 * `custody keygen`. verify recomputes everything offline and exits 4
 * naming the first bad entry; the others produce evidence an outsider
 * checks with the published algorithms alone (tools/custody_verify.py). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/merkle.h"

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


/* ---- evidence for outsiders: export, inclusion and consistency proofs ---- */

struct log {
    unsigned char (*leaf)[MERKLE_HASH];
    size_t n, cap;
    buf entry;               /* scratch */
    /* for prove: the entry that announced the record */
    const char *want_source, *want_key;
    long want_version;       /* 0: latest */
    int64_t found_seq;
    long found_version;
    char *found_entry;       /* its canonical bytes */
    FILE *out;               /* export: write entry lines here */
    struct ckpt { int64_t size; char root[65], time[40]; char *sig; } *ck;
    size_t nck, ick;
    int failed;
    struct err *e;
};

static int log_ckpt_row(void *ud, const store_row *row)
{
    struct log *L = ud;
    struct ckpt *nv = realloc(L->ck, (L->nck + 1) * sizeof *nv);
    if (!nv)
        return L->failed = 1;
    L->ck = nv;
    nv[L->nck].size = strtoll(row->cols[CKP_SIZE], NULL, 10);
    snprintf(nv[L->nck].root, sizeof nv[L->nck].root, "%s", row->cols[CKP_ROOT] ? row->cols[CKP_ROOT] : "");
    snprintf(nv[L->nck].time, sizeof nv[L->nck].time, "%s", row->cols[CKP_TIME] ? row->cols[CKP_TIME] : "");
    nv[L->nck].sig = row->ncols > CKP_SIG && row->cols[CKP_SIG] ? strdup(row->cols[CKP_SIG]) : NULL;
    L->nck++;
    return 0;
}

static void print_ckpt_json(FILE *f, const struct ckpt *c, int with_type)
{
    fprintf(f, "{%s\"tree_size\":%lld,\"root\":\"%s\",\"time\":", with_type ? "\"type\":\"checkpoint\"," : "",
            (long long)c->size, c->root);
    cmd_json_string(f, c->time, strlen(c->time));
    if (c->sig && strlen(c->sig) > 25) {
        fputs(",\"signature\":", f);
        cmd_json_string(f, c->sig, strlen(c->sig));
        fprintf(f, ",\"key_id\":\"%.16s\"}", c->sig + 8);
    } else {
        fputs(",\"signature\":null,\"key_id\":null}", f);
    }
}

static int log_row(void *ud, const store_row *row)
{
    struct log *L = ud;
    int64_t seq = strtoll(row->cols[AUD_SEQ], NULL, 10);
    store_audit a = {row->cols[AUD_TIME], row->cols[AUD_ACTOR], row->cols[AUD_ACTION], row->cols[AUD_SOURCE],
                     row->cols[AUD_SUBJECT], row->cols[AUD_DETAIL], row->cols[AUD_CYCLE]};
    if (L->n == L->cap) {
        size_t cap = L->cap ? L->cap * 2 : 4096;
        void *nv = realloc(L->leaf, cap * sizeof *L->leaf);
        if (!nv)
            return L->failed = 1;
        L->leaf = nv;
        L->cap = cap;
    }
    if (seq != (int64_t)L->n + 1) {
        err_set(L->e, CUST_EAUDIT, "audit entry %lld follows %zu: the log has gaps; run custody audit verify",
                (long long)seq, L->n);
        return L->failed = 1;
    }
    if (store_audit_entry_bytes(seq, &a, &L->entry, L->e))
        return L->failed = 1;
    merkle_leaf_hash(L->entry.ptr, L->entry.len, L->leaf[L->n]);
    L->n++;
    if (L->out) {
        fwrite(L->entry.ptr, 1, L->entry.len, L->out);
        fputc('\n', L->out);
        while (L->ick < L->nck && L->ck[L->ick].size == (int64_t)L->n)
            print_ckpt_json(L->out, &L->ck[L->ick++], 1), fputc('\n', L->out);
    }
    if (L->want_source && (!strcmp(a.action, "record.new") || !strcmp(a.action, "record.version")) &&
        !strcmp(a.source, L->want_source) && !strcmp(a.subject, L->want_key)) {
        const char *vp = strstr(a.detail, "\"version\":");
        long ver = vp ? strtol(vp + 10, NULL, 10) : 0;
        if (!L->want_version || ver == L->want_version) {
            free(L->found_entry);
            L->found_entry = strndup(L->entry.ptr, L->entry.len);
            L->found_seq = seq;
            L->found_version = ver;
        }
    }
    return 0;
}

static int load_log(store *st, struct log *L, struct err *e)
{
    buf_init(&L->entry, 64u << 20);
    L->e = e;
    if (st->ops->checkpoints_list(st, log_ckpt_row, L, e) || L->failed ||
        st->ops->audit_list(st, log_row, L, e) || L->failed)
        return e->code ? e->code : CUST_ENOMEM;
    return 0;
}

static void free_log(struct log *L)
{
    for (size_t i = 0; i < L->nck; i++)
        free(L->ck[i].sig);
    free(L->ck);
    free(L->leaf);
    free(L->found_entry);
    buf_release(&L->entry);
}

static void print_hashes(const unsigned char (*h)[MERKLE_HASH], int n)
{
    char hex[65];
    fputc('[', stdout);
    for (int i = 0; i < n; i++) {
        merkle_hex(h[i], hex);
        printf("%s\"%s\"", i ? "," : "", hex);
    }
    fputc(']', stdout);
}

static void root_of(const struct log *L, uint64_t n, char hex[65])
{
    unsigned char r[MERKLE_HASH];
    merkle_frontier f;
    merkle_frontier_init(&f);
    for (uint64_t i = 0; i < n; i++)
        merkle_frontier_push(&f, L->leaf[i]);
    merkle_frontier_root(&f, r);
    merkle_hex(r, hex);
}

static int do_export(store *st, const char *path)
{
    struct log L;
    struct err e = {0};
    int rc = 0;
    memset(&L, 0, sizeof L);
    L.out = path && strcmp(path, "-") ? fopen(path, "wb") : stdout;
    if (!L.out) {
        fprintf(stderr, "custody: audit export: cannot write %s\n", path);
        return 3;
    }
    if (load_log(st, &L, &e))
        rc = cmd_fail(&e);
    if (L.out != stdout && (fflush(L.out) != 0 || fsync(fileno(L.out)) != 0 || fclose(L.out) != 0)) {
        fprintf(stderr, "custody: audit export: writing %s failed\n", path);
        rc = 3;
    } else if (L.out != stdout) {
        fprintf(stderr, "exported %zu entries and %zu checkpoints to %s; check it with "
                        "python3 tools/custody_verify.py export %s\n", L.n, L.nck, path, path);
    }
    free_log(&L);
    return rc;
}

static int do_prove(store *st, const char *source, const char *keyarg, long version)
{
    struct log L;
    struct err e = {0};
    unsigned char path[MERKLE_MAX_PROOF][MERKLE_HASH];
    char *key = cmd_key_arg(keyarg);
    int len = 0, rc = 0;
    char hex[65], root[65];
    const struct ckpt *cp = NULL;
    uint64_t size;
    memset(&L, 0, sizeof L);
    if (!key)
        return cmd_usage("audit", "KEY \"%s\" is neither a JSON array nor key parts separated by '|'", keyarg);
    L.want_source = source;
    L.want_key = key;
    L.want_version = version;
    if (load_log(st, &L, &e)) {
        rc = cmd_fail(&e);
        goto out;
    }
    if (!L.found_entry) {
        fprintf(stderr, "custody: audit prove: no record.new/record.version entry for %s %s%s\n", source, key,
                version ? " at that version" : "");
        rc = 1;
        goto out;
    }
    /* against the latest checkpoint that contains the entry, else the whole log */
    for (size_t i = L.nck; i-- > 0;)
        if (L.ck[i].size >= L.found_seq && (uint64_t)L.ck[i].size <= L.n) {
            cp = &L.ck[i];
            break;
        }
    size = cp ? (uint64_t)cp->size : L.n;
    if (merkle_inclusion_proof(L.leaf, size, (uint64_t)(L.found_seq - 1), path, MERKLE_MAX_PROOF, &len)) {
        fprintf(stderr, "custody: audit prove: cannot build the proof\n");
        rc = 3;
        goto out;
    }
    root_of(&L, size, root);
    if (cp && strcmp(root, cp->root)) {
        fprintf(stderr, "custody: audit prove: the log does not match checkpoint %lld; run custody audit verify\n",
                (long long)cp->size);
        rc = 4;
        goto out;
    }
    merkle_hex(L.leaf[L.found_seq - 1], hex);
    printf("{\"version\":1,\"algorithm\":\"RFC9162-SHA256\",\"tree_size\":%llu,\"leaf_index\":%lld,\"entry\":%s,"
           "\"leaf_hash\":\"%s\",\"path\":",
           (unsigned long long)size, (long long)(L.found_seq - 1), L.found_entry, hex);
    print_hashes((const unsigned char (*)[MERKLE_HASH])path, len);
    printf(",\"root\":\"%s\",\"checkpoint\":", root);
    if (cp)
        print_ckpt_json(stdout, cp, 0);
    else
        fputs("null", stdout);
    puts("}");
out:
    free(key);
    free_log(&L);
    return rc;
}

static int do_consistency(store *st, const char *a, const char *b)
{
    struct log L;
    struct err e = {0};
    unsigned char proof[MERKLE_MAX_PROOF][MERKLE_HASH];
    char *end, r1[65], r2[65];
    long long m = strtoll(a, &end, 10), n;
    int len = 0, rc = 0;
    if (*end || m < 0)
        return cmd_usage("audit", "consistency A B: tree sizes (custody audit checkpoint prints them)");
    n = strtoll(b, &end, 10);
    if (*end || n < m)
        return cmd_usage("audit", "consistency A B: B must be a tree size at least A");
    memset(&L, 0, sizeof L);
    if (load_log(st, &L, &e)) {
        rc = cmd_fail(&e);
        goto out;
    }
    if ((uint64_t)n > L.n) {
        fprintf(stderr, "custody: audit consistency: the log has %zu entries, fewer than %lld\n", L.n, n);
        rc = 1;
        goto out;
    }
    if (merkle_consistency_proof(L.leaf, (uint64_t)n, (uint64_t)m, proof, MERKLE_MAX_PROOF, &len)) {
        fprintf(stderr, "custody: audit consistency: cannot build the proof\n");
        rc = 3;
        goto out;
    }
    root_of(&L, (uint64_t)m, r1);
    root_of(&L, (uint64_t)n, r2);
    /* roots the store recorded for these sizes must agree with the log */
    for (size_t i = 0; i < L.nck; i++)
        if ((L.ck[i].size == m && strcmp(L.ck[i].root, r1)) || (L.ck[i].size == n && strcmp(L.ck[i].root, r2))) {
            fprintf(stderr, "custody: audit consistency: checkpoint %lld does not match the log; run custody "
                            "audit verify\n", (long long)L.ck[i].size);
            rc = 4;
            goto out;
        }
    printf("{\"version\":1,\"algorithm\":\"RFC9162-SHA256\",\"first\":%lld,\"second\":%lld,\"first_root\":\"%s\","
           "\"second_root\":\"%s\",\"proof\":", m, n, r1, r2);
    print_hashes((const unsigned char (*)[MERKLE_HASH])proof, len);
    puts("}");
out:
    free_log(&L);
    return rc;
}

int cmd_audit(cli *c, int argc, char **argv)
{
    static const char *const flags[] = {"--key", "--version", "-o", NULL};
    config *cfg = NULL;
    store *st = NULL;
    const char *keyfile = NULL;
    int rc, n = cmd_parse_common(c, "audit", argc, argv, flags);
    if (n < 0)
        return 2;
    if (cmd_take_value(&n, argv, "--key", &keyfile))
        return cmd_usage("audit", "--key needs the public key file");
    if (n < 2)
        return cmd_usage("audit", "say verify, checkpoint, export, prove or consistency");
    if (strcmp(argv[1], "verify") && strcmp(argv[1], "checkpoint") && strcmp(argv[1], "export") &&
        strcmp(argv[1], "prove") && strcmp(argv[1], "consistency"))
        return cmd_usage("audit", "unknown action \"%s\"; use verify, checkpoint, export, prove or consistency",
                         argv[1]);
    if (!strcmp(argv[1], "prove") && !(n == 4 || (n == 6 && !strcmp(argv[4], "--version"))))
        return cmd_usage("audit", "use: audit prove SOURCE KEY [--version N]");
    if (!strcmp(argv[1], "consistency") && n != 4)
        return cmd_usage("audit", "use: audit consistency A B (two tree sizes, A <= B)");
    if (!strcmp(argv[1], "export") && !(n == 2 || (n == 4 && !strcmp(argv[2], "-o"))))
        return cmd_usage("audit", "use: audit export [-o FILE]");
    if ((rc = cmd_load_config(c, &cfg)))
        return rc;
    if ((rc = cmd_open_store_ex(cfg, !strcmp(argv[1], "verify") ? STORE_OPEN_VERIFY : 0, &st)))
        goto out;
    if (!strcmp(argv[1], "verify"))
        rc = n == 2 ? do_verify(c, st, cfg, keyfile) : cmd_usage("audit", "verify takes no arguments");
    else if (!strcmp(argv[1], "checkpoint"))
        rc = n == 2 ? do_checkpoint(c, st, cfg) : cmd_usage("audit", "checkpoint takes no arguments");
    else if (!strcmp(argv[1], "export"))
        rc = do_export(st, n == 4 ? argv[3] : NULL);
    else if (!strcmp(argv[1], "prove"))
        rc = do_prove(st, argv[2], argv[3], n == 6 ? strtol(argv[5], NULL, 10) : 0);
    else
        rc = do_consistency(st, argv[2], argv[3]);
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
