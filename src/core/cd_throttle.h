/*  cd_throttle.h — a token bucket per key: how often one client may ask for something costly.
 *
 *  Each key (any bytes: a routing id, a key name) starts with `burst` tokens and earns `per_s`
 *  a second up to `burst`; taking a token when none is left is refused with the time until
 *  the next one.  Pure: the caller passes the time (a monotonic clock in milliseconds).
 *
 *  Memory is bounded by max_keys.  When the table is full, keys whose buckets have refilled
 *  (indistinguishable from new ones) are forgotten; if every key is still draining — more
 *  than max_keys clients asked within one refill time — a new key is let through without being
 *  recorded (fail open: legitimate clients are never refused because of others).
 */
#ifndef CD_THROTTLE_H
#define CD_THROTTLE_H

#include <stddef.h>
#include <stdint.h>

#define CD_THROTTLE_KEY_MAX 256 /* longer keys are cut (a ZeroMQ routing id is at most 255) */

typedef struct cd_throttle cd_throttle_t;

/* burst >= 1, per_s > 0, max_keys >= 1. */
cd_throttle_t *cd_throttle_new(double burst, double per_s, size_t max_keys);
void cd_throttle_destroy(cd_throttle_t **self_p);

/* Takes a token for key at now_ms: 0 when granted, else the milliseconds until one will be
 * there (nothing is taken). */
int64_t cd_throttle_take(cd_throttle_t *self, const void *key, size_t len, int64_t now_ms);

/* Keys recorded now (for tests and metrics). */
size_t cd_throttle_size(const cd_throttle_t *self);

#endif
