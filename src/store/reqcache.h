/*  reqcache.h — the replies of recent state-changing commands, by request id.
 *
 *  A retry with a known request id gets the stored reply and changes nothing.  Entries are
 *  added when a command is applied (before commit), dropped again if their batch fails, and
 *  pruned once older than the retention window; the same replies live in PostgreSQL (in the row
 *  of the command's first event, or in the `requests` table for a command that wrote no
 *  event), which is what makes this survive a restart.
 */
#ifndef REQCACHE_H
#define REQCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uthash.h>

#include "cd_text.h"

/* The command's name, then "@" and the actor when the command belongs to one: up to
 * "status_update@unit:<32-byte unit id>/<32-byte key name>". */
#define REQCACHE_KIND_MAX (CD_ACTOR_MAX + 48)

typedef struct reqcache_entry {
    char id[CD_REQUEST_ID_MAX + 1];
    char kind[REQCACHE_KIND_MAX + 1]; /* the command ("create_call"), to refuse reuse */
    int64_t seq;                      /* the command's last event */
    int64_t at_ms;
    uint8_t *reply; /* owned: the encoded reply envelope */
    size_t len;
    bool in_event; /* the store wrote it into its event's row (migration 0005) */
    UT_hash_handle hh;
} reqcache_entry_t;

typedef struct reqcache reqcache_t;

reqcache_t *reqcache_new(void);
void reqcache_destroy(reqcache_t **self_p);

/* Borrowed pointer, valid until the entry is removed. */
reqcache_entry_t *reqcache_find(const reqcache_t *self, const char *id);

/* Adds a copy of reply under id (replacing nothing: returns NULL if id exists).  Entries must
 * be added in seq order, except at a load, where all are committed.  len 0: the id was used,
 * but its reply is no longer kept. */
reqcache_entry_t *reqcache_add(reqcache_t *self, const char *id, const char *kind, int64_t seq,
                               int64_t at_ms, const uint8_t *reply, size_t len);

/* Removes id's entry, if there is one. */
void reqcache_remove(reqcache_t *self, const char *id);

/* Removes entries with seq > seq (their batch did not commit). */
void reqcache_forget_after(reqcache_t *self, int64_t seq);

/* Removes entries older than cutoff_ms; returns how many. */
size_t reqcache_prune(reqcache_t *self, int64_t cutoff_ms);

void reqcache_clear(reqcache_t *self);
size_t reqcache_count(const reqcache_t *self);

#endif
