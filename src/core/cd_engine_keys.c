/*  cd_engine_keys.c — the client key table: add, revoke, find, restore.
 *
 *  Keys are engine state like the roster, so their changes are events (key.added,
 *  key.revoked) with an actor, committed in the same batches as everything else, replayed
 *  like everything else, and projected into the `keys` table by a trigger (migration 0004).
 */
#include <stdlib.h>
#include <string.h>

#include "cd_engine_int.h"

const cd_key_t *cd_engine_find_key(const cd_engine_t *self, const char *name)
{
    cd_key_t *k = NULL;
    if (name)
        HASH_FIND_STR(self->keys, name, k);
    return k;
}

const cd_key_t *cd_engine_find_public_key(const cd_engine_t *self, const char *z85)
{
    for (const cd_key_t *k = self->keys; z85 && k; k = k->hh.next)
        if (strcmp(k->public_key, z85) == 0)
            return k;
    return NULL;
}

size_t cd_engine_list_keys(const cd_engine_t *self, const cd_key_t **out, size_t cap)
{
    size_t n = 0;
    for (const cd_key_t *k = self->keys; k && n < cap; k = k->hh.next)
        out[n++] = k;
    return n;
}

size_t cd_engine_key_count(const cd_engine_t *self)
{
    return HASH_COUNT(self->keys);
}

int cd_engine_restore_key(cd_engine_t *self, const cd_key_t *key)
{
    if (cd_engine_find_key(self, key->name))
        return CD_ECONFLICT;
    cd_key_t *k = cd_xmalloc(sizeof *k);
    *k = *key;
    memset(&k->hh, 0, sizeof k->hh);
    HASH_ADD_STR(self->keys, name, k);
    return CD_OK;
}

void cd__free_keys(cd_engine_t *self)
{
    cd_key_t *k, *tmp;
    HASH_ITER(hh, self->keys, k, tmp)
    {
        HASH_DEL(self->keys, k);
        free(k);
    }
}

int cd_engine_add_key(cd_engine_t *self, const cd_ctx_t *ctx, const cd_key_t *key,
                      const cd_key_t **out, cd_error_t *err)
{
    cd__begin(self);
    int rc = cd_key_validate(key, err);
    if (rc)
        return rc;
    if (key->role == CD_ROLE_UNIT) {
        const cd_unit_t *u = cd_engine_find_unit(self, key->unit_id);
        if (!u)
            return cd_error_set(err, CD_ENOTFOUND, "unit_id", "unit %s is not on the roster",
                                key->unit_id);
    }
    if (cd_engine_find_key(self, key->name))
        return cd_error_set(err, CD_ECONFLICT, "name",
                            "a key named %s exists already (names are never reused, even after "
                            "a revocation)",
                            key->name);
    const cd_key_t *same = cd_engine_find_public_key(self, key->public_key);
    if (same)
        return cd_error_set(err, CD_ECONFLICT, "public_key",
                            "this public key is registered already, as %s", same->name);
    cd_key_t k = *key;
    k.created_ms = ctx->now_ms;
    k.revoked_ms = 0;
    cd__emit(self, ctx, CD_EV_KEY_ADDED, NULL, NULL, cd_key_to_json(&k));
    if (out)
        *out = cd_engine_find_key(self, key->name);
    return CD_OK;
}

int cd_engine_revoke_key(cd_engine_t *self, const cd_ctx_t *ctx, const char *name,
                         const cd_key_t **out, cd_error_t *err)
{
    cd__begin(self);
    if (!name || !*name)
        return cd_error_set(err, CD_EINVAL, "name", "name is required");
    const cd_key_t *k = cd_engine_find_key(self, name);
    if (!k)
        return cd_error_set(err, CD_ENOTFOUND, "name", "no key is named %.32s", name);
    if (k->revoked_ms)
        return cd_error_set(err, CD_ECONFLICT, "name", "key %s is revoked already", k->name);
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "name", k->name);
    cd__emit(self, ctx, CD_EV_KEY_REVOKED, NULL, NULL, p);
    if (out)
        *out = cd_engine_find_key(self, name);
    return CD_OK;
}

int cd__key_event(cd_engine_t *self, const cd_event_t *ev, cd_error_t *err)
{
    if (ev->kind == CD_EV_KEY_ADDED) {
        cd_key_t k;
        int rc = cd_key_from_json(ev->payload, &k, err);
        if (rc)
            return rc;
        k.created_ms = ev->at_ms;
        k.last_seq = ev->seq;
        if (cd_engine_restore_key(self, &k) != CD_OK)
            return cd_error_set(err, CD_ECONFLICT, "name", "key %s exists already", k.name);
        return CD_OK;
    }
    cd_key_t *k = NULL;
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ev->payload, "name"));
    if (name)
        HASH_FIND_STR(self->keys, name, k);
    if (!k)
        return cd_error_set(err, CD_ENOTFOUND, "name", "no key is named %.32s", name ? name : "");
    k->revoked_ms = ev->at_ms;
    k->last_seq = ev->seq;
    return CD_OK;
}
