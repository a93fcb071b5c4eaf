#include "reqcache.h"

#include <stdlib.h>
#include <string.h>

struct reqcache {
    reqcache_entry_t *map; /* uthash by id; insertion order is seq order */
};

reqcache_t *reqcache_new(void)
{
    return cd_xcalloc(1, sizeof(reqcache_t));
}

static void s_remove(reqcache_t *self, reqcache_entry_t *e)
{
    HASH_DEL(self->map, e);
    free(e->reply);
    free(e);
}

void reqcache_clear(reqcache_t *self)
{
    reqcache_entry_t *e, *tmp;
    HASH_ITER(hh, self->map, e, tmp)
    {
        s_remove(self, e);
    }
}

void reqcache_destroy(reqcache_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    reqcache_clear(*self_p);
    free(*self_p);
    *self_p = NULL;
}

reqcache_entry_t *reqcache_find(const reqcache_t *self, const char *id)
{
    reqcache_entry_t *e = NULL;
    HASH_FIND_STR(self->map, id, e);
    return e;
}

reqcache_entry_t *reqcache_add(reqcache_t *self, const char *id, const char *kind, int64_t seq,
                               int64_t at_ms, const uint8_t *reply, size_t len)
{
    if (reqcache_find(self, id))
        return NULL;
    reqcache_entry_t *e = cd_xcalloc(1, sizeof *e);
    cd_copy(e->id, sizeof e->id, id);
    cd_copy(e->kind, sizeof e->kind, kind);
    e->seq = seq;
    e->at_ms = at_ms;
    e->reply = cd_xmalloc(len);
    if (len)
        memcpy(e->reply, reply, len);
    e->len = len;
    HASH_ADD_STR(self->map, id, e);
    return e;
}

void reqcache_remove(reqcache_t *self, const char *id)
{
    reqcache_entry_t *e = reqcache_find(self, id);
    if (e)
        s_remove(self, e);
}

void reqcache_forget_after(reqcache_t *self, int64_t seq)
{
    if (!self->map)
        return;
    /* Newest entries are at the tail of the insertion order. */
    UT_hash_table *tbl = self->map->hh.tbl;
    while (self->map) {
        reqcache_entry_t *e = (reqcache_entry_t *)((char *)tbl->tail - tbl->hho);
        if (e->seq <= seq)
            break;
        s_remove(self, e);
        if (self->map)
            tbl = self->map->hh.tbl;
    }
}

size_t reqcache_prune(reqcache_t *self, int64_t cutoff_ms)
{
    size_t n = 0;
    while (self->map && self->map->at_ms < cutoff_ms) {
        s_remove(self, self->map);
        n++;
    }
    return n;
}

size_t reqcache_count(const reqcache_t *self)
{
    return HASH_COUNT(self->map);
}
