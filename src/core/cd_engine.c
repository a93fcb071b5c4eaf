#include "cd_engine.h"

#include <stdlib.h>
#include <string.h>

#define CD_MAX_CALL_TYPES 64

struct cd_engine {
    cd_call_t *calls; /* uthash by id, in call number order */
    size_t open_calls;
    int64_t last_seq;
    int64_t last_call_no;
    cd_event_log_t events; /* recorded since the last take */
    char *call_types[CD_MAX_CALL_TYPES];
    size_t n_call_types;
    bool request_id_pending; /* the running command has not recorded an event yet */
};

cd_engine_t *cd_engine_new(void)
{
    return cd_xcalloc(1, sizeof(cd_engine_t));
}

static void s_free_calls(cd_engine_t *self)
{
    cd_call_t *c, *tmp;
    HASH_ITER(hh, self->calls, c, tmp)
    {
        HASH_DEL(self->calls, c);
        cd_call_destroy(&c);
    }
    self->open_calls = 0;
}

void cd_engine_reset(cd_engine_t *self)
{
    s_free_calls(self);
    self->last_seq = 0;
    self->last_call_no = 0;
    cd_event_log_clear(&self->events);
}

void cd_engine_destroy(cd_engine_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cd_engine_t *self = *self_p;
    s_free_calls(self);
    cd_event_log_release(&self->events);
    cd_engine_clear_call_types(self);
    free(self);
    *self_p = NULL;
}

/* ------------------------------------------------------------------ reference data */

int cd_engine_add_call_type(cd_engine_t *self, const char *name)
{
    if (!name || !cd_text_is_ident(name, CD_TYPE_MAX))
        return CD_EINVAL;
    if (cd_engine_call_type_known(self, name))
        return CD_OK;
    if (self->n_call_types == CD_MAX_CALL_TYPES)
        return CD_EBUSY;
    self->call_types[self->n_call_types++] = cd_strdup(name);
    return CD_OK;
}

bool cd_engine_call_type_known(const cd_engine_t *self, const char *name)
{
    for (size_t i = 0; i < self->n_call_types; i++)
        if (strcmp(self->call_types[i], name) == 0)
            return true;
    return false;
}

void cd_engine_clear_call_types(cd_engine_t *self)
{
    for (size_t i = 0; i < self->n_call_types; i++)
        free(self->call_types[i]);
    self->n_call_types = 0;
}

/* "mental_health, suicide_risk, ..." for error messages. */
static void s_call_type_list(const cd_engine_t *self, char *out, size_t cap)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < self->n_call_types && used + 1 < cap; i++) {
        size_t n = strlen(self->call_types[i]);
        if (used + n + 3 >= cap)
            break;
        if (i) {
            memcpy(out + used, ", ", 2);
            used += 2;
        }
        memcpy(out + used, self->call_types[i], n);
        used += n;
        out[used] = '\0';
    }
}

/* ------------------------------------------------------------------ state changes
 * Each change is one s_do_* function used both by the live command path and by replay, so
 * the two cannot drift apart. */

static void s_do_insert_call(cd_engine_t *self, cd_call_t *call)
{
    HASH_ADD_STR(self->calls, id, call);
    if (cd_call_is_open(call))
        self->open_calls++;
    if (call->no > self->last_call_no)
        self->last_call_no = call->no;
}

static void s_do_cancel_call(cd_engine_t *self, cd_call_t *call, const char *reason, int64_t at_ms,
                             int64_t seq)
{
    if (cd_call_is_open(call))
        self->open_calls--;
    call->status = CD_CALL_CANCELLED;
    cd_call_set_text(&call->cancel_reason, reason);
    call->updated_ms = at_ms;
    call->closed_ms = at_ms;
    call->last_seq = seq;
}

/* Records an event (assigning its seq) and returns the seq.  Takes ownership of payload. */
static int64_t s_record(cd_engine_t *self, const cd_ctx_t *ctx, cd_event_kind_t kind,
                        const char *call_id, cJSON *payload)
{
    cd_event_t ev = {0};
    ev.seq = ++self->last_seq;
    ev.at_ms = ctx->now_ms;
    ev.kind = kind;
    cd_copy(ev.actor, sizeof ev.actor, ctx->actor ? ctx->actor : "system");
    cd_copy(ev.call_id, sizeof ev.call_id, call_id);
    /* Only the first event of a command carries its request id (events.request_id is
     * unique); a command's later events follow it in seq order. */
    if (self->request_id_pending && ctx->request_id) {
        cd_copy(ev.request_id, sizeof ev.request_id, ctx->request_id);
        self->request_id_pending = false;
    }
    ev.payload = payload;
    cd_event_log_push(&self->events, &ev);
    return ev.seq;
}

/* ------------------------------------------------------------------ commands */

/* Every command starts here, so that its first event carries the request id. */
static void s_begin(cd_engine_t *self)
{
    self->request_id_pending = true;
}

int cd_engine_create_call(cd_engine_t *self, const cd_ctx_t *ctx, const cd_call_input_t *in,
                          const cd_call_t **out, cd_error_t *err)
{
    s_begin(self);
    int rc = cd_call_validate(in, err);
    if (rc)
        return rc;
    if (!cd_engine_call_type_known(self, in->type)) {
        char known[CD_ERROR_MESSAGE_MAX / 2];
        s_call_type_list(self, known, sizeof known);
        return cd_error_set(err, CD_EINVAL, "type", "type '%s' is not a known call type (%s)",
                            in->type, known);
    }
    cd_call_t *c = cd_call_new();
    c->no = self->last_call_no + 1;
    cd_call_format_id(c->id, c->no);
    cd_copy(c->type, sizeof c->type, in->type);
    c->priority = (int)in->priority;
    c->lat = in->lat;
    c->lon = in->lon;
    cd_call_set_text(&c->address, in->address);
    cd_copy(c->area, sizeof c->area, in->area);
    cd_copy(c->language, sizeof c->language, in->language);
    cd_text_language_normalize(c->language);
    c->risk = in->risk;
    cd_call_set_text(&c->summary, in->summary);
    cd_call_set_text(&c->caller_name, in->caller_name);
    cd_copy(c->callback, sizeof c->callback, in->callback);
    c->status = CD_CALL_PENDING;
    c->created_ms = c->updated_ms = ctx->now_ms;
    c->last_seq = self->last_seq + 1;

    s_record(self, ctx, CD_EV_CALL_CREATED, c->id, cd_call_to_json(c));
    s_do_insert_call(self, c);
    if (out)
        *out = c;
    return CD_OK;
}

int cd_engine_cancel_call(cd_engine_t *self, const cd_ctx_t *ctx, const char *call_id,
                          const char *reason, const cd_call_t **out, cd_error_t *err)
{
    s_begin(self);
    if (!call_id || !*call_id)
        return cd_error_set(err, CD_EINVAL, "call_id", "call_id is required");
    if (!reason || !*reason)
        return cd_error_set(err, CD_EINVAL, "reason", "reason is required to cancel a call");
    if (strlen(reason) > CD_REASON_MAX || !cd_text_is_clean(reason, true))
        return cd_error_set(err, CD_EINVAL, "reason",
                            "reason must be UTF-8 text of at most %d bytes", CD_REASON_MAX);
    cd_call_t *c = (cd_call_t *)cd_engine_find_call(self, call_id);
    if (!c)
        return cd_error_set(err, CD_ENOTFOUND, "call_id", "call %.20s does not exist", call_id);
    if (!cd_call_is_open(c))
        return cd_error_set(err, CD_ECONFLICT, "call_id", "call %s is already %s", c->id,
                            cd_call_status_name(c->status));
    cJSON *payload = cJSON_CreateObject();
    cJSON_AddStringToObject(payload, "reason", reason);
    int64_t seq = s_record(self, ctx, CD_EV_CALL_CANCELLED, c->id, payload);
    s_do_cancel_call(self, c, reason, ctx->now_ms, seq);
    if (out)
        *out = c;
    return CD_OK;
}

/* ------------------------------------------------------------------ replay */

int cd_engine_apply(cd_engine_t *self, const cd_event_t *ev, cd_error_t *err)
{
    if (ev->seq != self->last_seq + 1)
        return cd_error_set(err, CD_ECONFLICT, "seq", "event seq %lld does not follow %lld",
                            (long long)ev->seq, (long long)self->last_seq);
    switch (ev->kind) {
    case CD_EV_CALL_CREATED: {
        cd_call_t *c = cd_call_from_json(ev->payload, err);
        if (!c)
            return CD_EINVAL;
        if (cd_engine_find_call(self, c->id)) {
            cd_call_destroy(&c);
            return cd_error_set(err, CD_ECONFLICT, "call_id", "call %s exists already",
                                ev->call_id);
        }
        c->last_seq = ev->seq;
        s_do_insert_call(self, c);
        break;
    }
    case CD_EV_CALL_CANCELLED: {
        cd_call_t *c = (cd_call_t *)cd_engine_find_call(self, ev->call_id);
        if (!c)
            return cd_error_set(err, CD_ENOTFOUND, "call_id", "call %s does not exist",
                                ev->call_id);
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(ev->payload, "reason");
        s_do_cancel_call(self, c, cJSON_IsString(r) ? r->valuestring : "", ev->at_ms, ev->seq);
        break;
    }
    default:
        return cd_error_set(err, CD_EINVAL, "kind", "unknown event kind %d", (int)ev->kind);
    }
    self->last_seq = ev->seq;
    return CD_OK;
}

/* ------------------------------------------------------------------ restore */

void cd_engine_restore_counters(cd_engine_t *self, int64_t last_seq, int64_t last_call_no)
{
    if (last_seq > self->last_seq)
        self->last_seq = last_seq;
    if (last_call_no > self->last_call_no)
        self->last_call_no = last_call_no;
}

int cd_engine_restore_call(cd_engine_t *self, cd_call_t *call)
{
    if (cd_engine_find_call(self, call->id)) {
        cd_call_destroy(&call);
        return CD_ECONFLICT;
    }
    s_do_insert_call(self, call);
    return CD_OK;
}

/* ------------------------------------------------------------------ queries */

const cd_call_t *cd_engine_find_call(const cd_engine_t *self, const char *call_id)
{
    cd_call_t *c = NULL;
    if (call_id)
        HASH_FIND_STR(self->calls, call_id, c);
    return c;
}

size_t cd_engine_list_calls(const cd_engine_t *self, bool open_only, size_t limit,
                            const cd_call_t **out)
{
    size_t n = 0;
    if (!self->calls)
        return 0;
    /* uthash keeps insertion (= call number) order; walk it backwards for newest first. */
    UT_hash_table *tbl = self->calls->hh.tbl;
    for (UT_hash_handle *h = tbl->tail; h && n < limit;) {
        cd_call_t *c = (cd_call_t *)((char *)h - tbl->hho);
        if (!open_only || cd_call_is_open(c))
            out[n++] = c;
        h = c->hh.prev ? (UT_hash_handle *)((char *)c->hh.prev + tbl->hho) : NULL;
    }
    return n;
}

size_t cd_engine_open_calls(const cd_engine_t *self)
{
    return self->open_calls;
}

int64_t cd_engine_last_seq(const cd_engine_t *self)
{
    return self->last_seq;
}

const cd_event_log_t *cd_engine_events(const cd_engine_t *self)
{
    return &self->events;
}

void cd_engine_take_events(cd_engine_t *self, cd_event_log_t *dst)
{
    cd_event_log_move(dst, &self->events);
}

size_t cd_engine_evict_closed(cd_engine_t *self, int64_t cutoff_ms)
{
    size_t n = 0;
    cd_call_t *c, *tmp;
    HASH_ITER(hh, self->calls, c, tmp)
    {
        if (!cd_call_is_open(c) && c->closed_ms < cutoff_ms) {
            HASH_DEL(self->calls, c);
            cd_call_destroy(&c);
            n++;
        }
    }
    return n;
}

static int s_by_call_no(const void *a, const void *b)
{
    const cd_call_t *x = *(const cd_call_t *const *)a, *y = *(const cd_call_t *const *)b;
    return (x->no > y->no) - (x->no < y->no);
}

cJSON *cd_engine_state_json(const cd_engine_t *self)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "last_seq", (double)self->last_seq);
    cJSON_AddNumberToObject(o, "last_call_no", (double)self->last_call_no);
    cJSON_AddNumberToObject(o, "open_calls", (double)self->open_calls);
    size_t n = HASH_COUNT(self->calls), i = 0;
    const cd_call_t **all = cd_xcalloc(n ? n : 1, sizeof *all);
    for (const cd_call_t *c = self->calls; c; c = c->hh.next)
        all[i++] = c;
    qsort(all, n, sizeof *all, s_by_call_no);
    cJSON *calls = cJSON_AddArrayToObject(o, "calls");
    for (i = 0; i < n; i++)
        cJSON_AddItemToArray(calls, cd_call_to_json(all[i]));
    free(all);
    return o;
}
