/*  cd_throttle.c — token buckets by key (see cd_throttle.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <uthash.h>

#include "cd_text.h"
#include "cd_throttle.h"

typedef struct s_bucket {
    uint8_t key[CD_THROTTLE_KEY_MAX];
    size_t len;
    double tokens;
    int64_t at_ms; /* when tokens was last brought up to date */
    UT_hash_handle hh;
} s_bucket_t;

struct cd_throttle {
    double burst, per_ms;
    size_t max_keys;
    s_bucket_t *map;
};

cd_throttle_t *cd_throttle_new(double burst, double per_s, size_t max_keys)
{
    cd_throttle_t *self = cd_xcalloc(1, sizeof *self);
    self->burst = burst < 1 ? 1 : burst;
    self->per_ms = (per_s > 0 ? per_s : 1) / 1000.0;
    self->max_keys = max_keys ? max_keys : 1;
    return self;
}

void cd_throttle_destroy(cd_throttle_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cd_throttle_t *self = *self_p;
    s_bucket_t *b, *tmp;
    HASH_ITER(hh, self->map, b, tmp)
    {
        HASH_DEL(self->map, b);
        free(b);
    }
    free(self);
    *self_p = NULL;
}

/* b's tokens as of now_ms (a clock that went back earns nothing). */
static double s_tokens(const cd_throttle_t *self, const s_bucket_t *b, int64_t now_ms)
{
    double earned = now_ms > b->at_ms ? (double)(now_ms - b->at_ms) * self->per_ms : 0;
    double t = b->tokens + earned;
    return t > self->burst ? self->burst : t;
}

/* Forgets the buckets that are full again: a new one would start the same. */
static void s_prune(cd_throttle_t *self, int64_t now_ms)
{
    s_bucket_t *b, *tmp;
    HASH_ITER(hh, self->map, b, tmp)
    {
        if (s_tokens(self, b, now_ms) >= self->burst) {
            HASH_DEL(self->map, b);
            free(b);
        }
    }
}

int64_t cd_throttle_take(cd_throttle_t *self, const void *key, size_t len, int64_t now_ms)
{
    if (len > CD_THROTTLE_KEY_MAX)
        len = CD_THROTTLE_KEY_MAX;
    s_bucket_t *b = NULL;
    HASH_FIND(hh, self->map, key, len, b);
    if (!b) {
        if (HASH_COUNT(self->map) >= self->max_keys)
            s_prune(self, now_ms);
        if (HASH_COUNT(self->map) >= self->max_keys)
            return 0; /* fail open; see the header */
        b = cd_xcalloc(1, sizeof *b);
        memcpy(b->key, key, len);
        b->len = len;
        b->tokens = self->burst;
        b->at_ms = now_ms;
        HASH_ADD(hh, self->map, key, len, b);
    }
    b->tokens = s_tokens(self, b, now_ms);
    if (now_ms > b->at_ms)
        b->at_ms = now_ms;
    if (b->tokens >= 1) {
        b->tokens -= 1;
        return 0;
    }
    int64_t wait = (int64_t)ceil((1 - b->tokens) / self->per_ms);
    return wait > 0 ? wait : 1;
}

size_t cd_throttle_size(const cd_throttle_t *self)
{
    return HASH_COUNT(self->map);
}
