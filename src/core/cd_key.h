/*  cd_key.h — client keys: who may connect (a CURVE public key) and in which role.
 *
 *  A key is registered by an admin (event key.added) and may be revoked (key.revoked); it is
 *  never deleted, so its name and public key are never reused and the audit trail always
 *  resolves.  The engine holds the table (cd_engine_*_key in cd_engine.h); the server keeps a
 *  committed copy for the ZAP handler.
 */
#ifndef CD_KEY_H
#define CD_KEY_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <uthash.h>

#include "cd_error.h"
#include "cd_text.h"

#define CD_KEY_NAME_MAX    32
#define CD_KEY_Z85_LEN     40 /* a CURVE key in Z85 text */
#define CD_KEY_UNIT_ID_MAX 32 /* = CD_UNIT_ID_MAX */

typedef enum cd_role {
    CD_ROLE_NONE = 0,
    CD_ROLE_ADMIN,      /* roster, plans, keys, and everything a dispatcher may do */
    CD_ROLE_DISPATCHER, /* calls, dispatch, notes, close, recommend, alerts, snapshot */
    CD_ROLE_UNIT,       /* its own unit on the units socket */
    CD_ROLE_VIEWER,     /* stream, dashboard, snapshot without caller PII; no commands */
} cd_role_t;

typedef struct cd_key {
    char name[CD_KEY_NAME_MAX + 1];
    char public_key[CD_KEY_Z85_LEN + 1];
    cd_role_t role;
    char unit_id[CD_KEY_UNIT_ID_MAX + 1]; /* role unit: the unit it speaks for; else "" */
    int64_t created_ms, revoked_ms;       /* revoked_ms 0 while valid */
    int64_t last_seq;                     /* event that last changed it */
    UT_hash_handle hh;                    /* by name */
} cd_key_t;

const char *cd_role_name(cd_role_t role);  /* "admin", ...; "none" */
cd_role_t cd_role_parse(const char *name); /* CD_ROLE_NONE when unknown */

/* A key name: 1-32 of [A-Za-z0-9._-], starting with a letter or digit. */
bool cd_key_name_valid(const char *name);

/* Checks the fields a client supplies (name, public key, role, unit id for a unit key). */
int cd_key_validate(const cd_key_t *k, cd_error_t *err);

cJSON *cd_key_to_json(const cd_key_t *k);
int cd_key_from_json(const cJSON *obj, cd_key_t *out, cd_error_t *err);

#endif
