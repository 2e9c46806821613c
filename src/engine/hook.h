/* hook.h - what a verified webhook delivery does to the store. The payload
 * goes through the source's webhook contract; its key names the record it
 * changes, and its fields laid over the record's latest version make a new
 * version (audited record.version with the delivery's id as its request).
 * A payload whose record has not arrived yet is held durably and applied in
 * arrival order when a poll ingests the record (hook_release); one still
 * held after webhook.hold_for goes to quarantine (hook_expire). A delivery
 * id seen before changes nothing. Signatures are checked before this, over
 * the raw body (core/webhook.h). Every function here runs inside the
 * caller's transaction. */
#ifndef CUSTODY_HOOK_H
#define CUSTODY_HOOK_H

#include <stdint.h>
#include "config.h"
#include "io/store.h"

typedef enum {
    HOOK_APPLIED = 1,  /* a new version of the record */
    HOOK_UNCHANGED,    /* the record already says this: no new version */
    HOOK_HELD,         /* the record is not here yet: held */
    HOOK_DUPLICATE,    /* this delivery id was seen before: nothing changed */
    HOOK_QUARANTINED   /* the payload failed its contract: kept in quarantine */
} hook_outcome;

const char *hook_outcome_name(hook_outcome o);

typedef struct hook_result {
    hook_outcome outcome;
    char key[512];     /* the record's key (JCS array text), "" when none */
    int64_t version;   /* HOOK_APPLIED: the new version */
    char cycle[33];    /* the delivery's correlation id (in its audit entries) */
} hook_result;

/* Apply one delivery (webhook_id: the scheme's delivery id) of body to src. */
cust_code hook_apply(const config *cfg, const source_cfg *src, store *st, const char *webhook_id, const char *body,
                     size_t len, const char *now, const char *actor, hook_result *out, struct err *e) CUST_WUR;

/* A poll just stored key of src: apply what was held for it, oldest first,
 * as versions of this cycle. *applied counts them. */
cust_code hook_release(const config *cfg, const source_cfg *src, store *st, const char *key, const char *now,
                       const char *actor, const char *cycle, long *applied, struct err *e) CUST_WUR;

/* Move every hold that expired before now to quarantine (audited
 * webhook.expired); *expired counts them. */
cust_code hook_expire(const config *cfg, store *st, const char *now, const char *actor, long *expired,
                      struct err *e) CUST_WUR;

#endif
