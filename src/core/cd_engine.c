/* The engine's state: reference data, queries, restore from projections, canonical JSON. */
#include <stdlib.h>
#include <string.h>

#include "cd_engine_int.h"
#include "cd_json.h"

static const cd_engine_config_t s_default_config = {
    .speed_kmh = 40.0, .language_bonus_s = 600, .max_missed_acks = 3, .unreachable_after_s = 120};

cd_engine_t *cd_engine_new(void)
{
    cd_engine_t *self = cd_xcalloc(1, sizeof(cd_engine_t));
    self->cfg = s_default_config;
    return self;
}

void cd_engine_set_config(cd_engine_t *self, const cd_engine_config_t *cfg)
{
    self->cfg = *cfg;
    if (!(self->cfg.speed_kmh > 0))
        self->cfg.speed_kmh = s_default_config.speed_kmh;
    if (self->cfg.language_bonus_s < 0)
        self->cfg.language_bonus_s = 0;
    if (self->cfg.max_missed_acks < 1)
        self->cfg.max_missed_acks = s_default_config.max_missed_acks;
    if (self->cfg.unreachable_after_s < 1)
        self->cfg.unreachable_after_s = s_default_config.unreachable_after_s;
}

const cd_engine_config_t *cd_engine_config(const cd_engine_t *self)
{
    return &self->cfg;
}

static void s_free_state(cd_engine_t *self)
{
    cd_call_t *c, *ctmp;
    HASH_ITER(hh, self->calls, c, ctmp)
    {
        HASH_DEL(self->calls, c);
        cd_call_destroy(&c);
    }
    cd_unit_t *u, *utmp;
    HASH_ITER(hh, self->units, u, utmp)
    {
        HASH_DEL(self->units, u);
        free(u);
    }
    cd_assignment_t *a, *atmp;
    HASH_ITER(hh, self->asgs, a, atmp)
    {
        HASH_DEL(self->asgs, a);
        free(a);
    }
    cd__free_keys(self);
    self->open_calls = 0;
    self->n_plans = 0;
    self->n_alerts = 0;
    self->dl_valid = false;
}

void cd_engine_reset(cd_engine_t *self)
{
    s_free_state(self);
    self->last_seq = self->last_call_no = self->last_asg_no = self->last_alert_no = 0;
    cd_event_log_clear(&self->events);
}

static void s_clear_types(char **types, size_t *n)
{
    for (size_t i = 0; i < *n; i++)
        free(types[i]);
    *n = 0;
}

void cd_engine_destroy(cd_engine_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cd_engine_t *self = *self_p;
    s_free_state(self);
    free(self->dl_heap);
    free(self->plans);
    free(self->alerts);
    cd_event_log_release(&self->events);
    s_clear_types(self->call_types, &self->n_call_types);
    s_clear_types(self->unit_types, &self->n_unit_types);
    free(self);
    *self_p = NULL;
}

/* ------------------------------------------------------------------ reference data */

static bool s_type_known(char *const *types, size_t n, const char *name)
{
    for (size_t i = 0; name && i < n; i++)
        if (strcmp(types[i], name) == 0)
            return true;
    return false;
}

static int s_add_type(char **types, size_t *n, const char *name)
{
    if (!name || !cd_text_is_ident(name, CD_TYPE_MAX))
        return CD_EINVAL;
    if (s_type_known(types, *n, name))
        return CD_OK;
    if (*n == CD_MAX_TYPES)
        return CD_EBUSY;
    types[(*n)++] = cd_strdup(name);
    return CD_OK;
}

int cd_engine_add_call_type(cd_engine_t *self, const char *name)
{
    return s_add_type(self->call_types, &self->n_call_types, name);
}

bool cd_engine_call_type_known(const cd_engine_t *self, const char *name)
{
    return s_type_known(self->call_types, self->n_call_types, name);
}

void cd_engine_clear_call_types(cd_engine_t *self)
{
    s_clear_types(self->call_types, &self->n_call_types);
}

int cd_engine_add_unit_type(cd_engine_t *self, const char *name)
{
    return s_add_type(self->unit_types, &self->n_unit_types, name);
}

bool cd_engine_unit_type_known(const cd_engine_t *self, const char *name)
{
    return s_type_known(self->unit_types, self->n_unit_types, name);
}

/* ------------------------------------------------------------------ lookups */

cd_call_t *cd__call(const cd_engine_t *self, const char *id)
{
    cd_call_t *c = NULL;
    if (id)
        HASH_FIND_STR(self->calls, id, c);
    return c;
}

cd_unit_t *cd__unit(const cd_engine_t *self, const char *id)
{
    cd_unit_t *u = NULL;
    if (id)
        HASH_FIND_STR(self->units, id, u);
    return u;
}

cd_assignment_t *cd__asg(const cd_engine_t *self, const char *id)
{
    cd_assignment_t *a = NULL;
    if (id && *id)
        HASH_FIND_STR(self->asgs, id, a);
    return a;
}

cd_plan_t *cd__plan(const cd_engine_t *self, const char *key)
{
    for (int i = 0; key && i < self->n_plans; i++)
        if (strcmp(self->plans[i].key, key) == 0)
            return &self->plans[i];
    return NULL;
}

cd_assignment_t *cd__unit_asg(const cd_engine_t *self, const cd_unit_t *u)
{
    cd_assignment_t *a = cd__asg(self, u->assignment_id);
    return a && cd_assign_is_active(a) ? a : NULL;
}

/* ------------------------------------------------------------------ restore */

void cd_engine_restore_counters(cd_engine_t *self, int64_t last_seq, int64_t last_call_no)
{
    if (last_seq > self->last_seq)
        self->last_seq = last_seq;
    if (last_call_no > self->last_call_no)
        self->last_call_no = last_call_no;
}

void cd_engine_restore_numbers(cd_engine_t *self, int64_t last_assignment_no, int64_t last_alert_no)
{
    if (last_assignment_no > self->last_asg_no)
        self->last_asg_no = last_assignment_no;
    if (last_alert_no > self->last_alert_no)
        self->last_alert_no = last_alert_no;
}

int cd_engine_restore_call(cd_engine_t *self, cd_call_t *call)
{
    self->dl_valid = false; /* the cached earliest deadline is rebuilt on demand */
    if (cd__call(self, call->id)) {
        cd_call_destroy(&call);
        return CD_ECONFLICT;
    }
    HASH_ADD_STR(self->calls, id, call);
    if (cd_call_is_open(call))
        self->open_calls++;
    if (call->no > self->last_call_no)
        self->last_call_no = call->no;
    return CD_OK;
}

int cd_engine_restore_unit(cd_engine_t *self, cd_unit_t *unit)
{
    self->dl_valid = false; /* the cached earliest deadline is rebuilt on demand */
    if (cd__unit(self, unit->id)) {
        free(unit);
        return CD_ECONFLICT;
    }
    HASH_ADD_STR(self->units, id, unit);
    return CD_OK;
}

int cd_engine_restore_plan(cd_engine_t *self, const cd_plan_t *plan)
{
    self->dl_valid = false; /* the cached earliest deadline is rebuilt on demand */
    cd_event_t ev = {.kind = CD_EV_PLAN_SET, .payload = cd_plan_to_json(plan)};
    cd_error_t err;
    /* Reuse the apply path without touching the sequence. */
    int64_t keep = self->last_seq;
    ev.seq = plan->last_seq;
    int rc = cd__apply(self, &ev, &err);
    self->last_seq = keep;
    cJSON_Delete(ev.payload);
    return rc;
}

int cd_engine_restore_assignment(cd_engine_t *self, cd_assignment_t *a)
{
    self->dl_valid = false; /* the cached earliest deadline is rebuilt on demand */
    cd_call_t *c = cd__call(self, a->call_id);
    if (!c || cd__asg(self, a->id)) {
        free(a); /* the call was not loaded (closed long ago): nothing refers to it */
        return CD_ENOTFOUND;
    }
    HASH_ADD_STR(self->asgs, id, a);
    if (a->no > self->last_asg_no)
        self->last_asg_no = a->no;
    if (c->n_asg == c->cap_asg) {
        c->cap_asg = c->cap_asg ? c->cap_asg * 2 : 4;
        c->asg = cd_xrealloc(c->asg, (size_t)c->cap_asg * sizeof *c->asg);
    }
    c->asg[c->n_asg++] = a;
    return CD_OK;
}

int cd_engine_restore_alert(cd_engine_t *self, const cd_alert_t *alert)
{
    self->dl_valid = false; /* the cached earliest deadline is rebuilt on demand */
    if (self->n_alerts == self->cap_alerts) {
        self->cap_alerts = self->cap_alerts ? self->cap_alerts * 2 : 16;
        self->alerts = cd_xrealloc(self->alerts, self->cap_alerts * sizeof *self->alerts);
    }
    self->alerts[self->n_alerts++] = *alert;
    if (alert->no > self->last_alert_no)
        self->last_alert_no = alert->no;
    return CD_OK;
}

/* ------------------------------------------------------------------ queries */

const cd_call_t *cd_engine_find_call(const cd_engine_t *self, const char *call_id)
{
    return cd__call(self, call_id);
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

static int s_queue_order(const void *a, const void *b)
{
    const cd_call_t *x = *(const cd_call_t *const *)a, *y = *(const cd_call_t *const *)b;
    if (x->priority != y->priority)
        return x->priority - y->priority;
    if (x->pending_since_ms != y->pending_since_ms)
        return x->pending_since_ms < y->pending_since_ms ? -1 : 1;
    return (x->no > y->no) - (x->no < y->no);
}

size_t cd_engine_pending_queue(const cd_engine_t *self, size_t limit, const cd_call_t **out)
{
    size_t n = 0, cap = self->open_calls ? self->open_calls : 1;
    const cd_call_t **all = cd_xcalloc(cap, sizeof *all);
    for (const cd_call_t *c = self->calls; c && n < cap; c = c->hh.next)
        if (c->status == CD_CALL_PENDING)
            all[n++] = c;
    qsort(all, n, sizeof *all, s_queue_order);
    if (n > limit)
        n = limit;
    memcpy(out, all, n * sizeof *out);
    free(all);
    return n;
}

size_t cd_engine_pending_summary(const cd_engine_t *self, uint32_t by_priority[4],
                                 int64_t *oldest_ms)
{
    size_t n = 0;
    *oldest_ms = 0;
    memset(by_priority, 0, 4 * sizeof *by_priority);
    for (const cd_call_t *c = self->calls; c; c = c->hh.next) {
        if (c->status != CD_CALL_PENDING)
            continue;
        n++;
        if (c->priority >= 1 && c->priority <= 4)
            by_priority[c->priority - 1]++;
        if (!*oldest_ms || c->pending_since_ms < *oldest_ms)
            *oldest_ms = c->pending_since_ms;
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

const cd_unit_t *cd_engine_find_unit(const cd_engine_t *self, const char *unit_id)
{
    cd_unit_t *u = cd__unit(self, unit_id);
    return u && !u->removed ? u : NULL;
}

bool cd_engine_unit_reachable(const cd_engine_t *self, const cd_unit_t *u, int64_t now_ms)
{
    if (u->link_up || u->link_ms == 0)
        return true;
    return now_ms - u->link_ms <= (int64_t)self->cfg.unreachable_after_s * 1000;
}

const cd_unit_t *cd_engine_find_unit_any(const cd_engine_t *self, const char *unit_id)
{
    return cd__unit(self, unit_id);
}

static int s_by_unit_id(const void *a, const void *b)
{
    return strcmp((*(const cd_unit_t *const *)a)->id, (*(const cd_unit_t *const *)b)->id);
}

size_t cd_engine_list_units(const cd_engine_t *self, cd_unit_status_t status, size_t limit,
                            const cd_unit_t **out)
{
    size_t total = HASH_COUNT(self->units), n = 0;
    const cd_unit_t **all = cd_xcalloc(total ? total : 1, sizeof *all);
    for (const cd_unit_t *u = self->units; u; u = u->hh.next)
        if (!u->removed && (!status || u->status == status))
            all[n++] = u;
    qsort(all, n, sizeof *all, s_by_unit_id);
    if (n > limit)
        n = limit;
    memcpy(out, all, n * sizeof *out);
    free(all);
    return n;
}

size_t cd_engine_unit_count(const cd_engine_t *self)
{
    size_t n = 0;
    for (const cd_unit_t *u = self->units; u; u = u->hh.next)
        n += !u->removed;
    return n;
}

const cd_assignment_t *cd_engine_find_assignment(const cd_engine_t *self, const char *id)
{
    return cd__asg(self, id);
}

const cd_assignment_t *cd_engine_unit_latest_assignment(const cd_engine_t *self,
                                                        const char *unit_id)
{
    const cd_assignment_t *best = NULL;
    for (const cd_assignment_t *a = self->asgs; unit_id && a; a = a->hh.next)
        if (strcmp(a->unit_id, unit_id) == 0 && (!best || a->no > best->no))
            best = a;
    return best;
}

size_t cd_engine_call_assignments(const cd_engine_t *self, const char *call_id, size_t limit,
                                  const cd_assignment_t **out)
{
    const cd_call_t *c = cd__call(self, call_id);
    size_t n = 0;
    for (int i = 0; c && i < c->n_asg && n < limit; i++)
        out[n++] = c->asg[i];
    return n;
}

const cd_plan_t *cd_engine_find_plan(const cd_engine_t *self, const char *key)
{
    return cd__plan(self, key);
}

size_t cd_engine_list_plans(const cd_engine_t *self, const cd_plan_t **out, size_t limit)
{
    size_t n = 0;
    for (int i = 0; i < self->n_plans && n < limit; i++)
        out[n++] = &self->plans[i];
    return n;
}

const cd_plan_t *cd__base_plan(const cd_engine_t *self, const cd_call_t *call)
{
    const cd_plan_t *base = cd__plan(self, call->type);
    return base ? base : cd__plan(self, "other");
}

void cd_engine_effective_plan(const cd_engine_t *self, const cd_call_t *call, cd_plan_t *out)
{
    const cd_plan_t *flags[3] = {
        (call->risk & CD_RISK_WEAPON) ? cd__plan(self, "flag:weapon") : NULL,
        (call->risk & CD_RISK_VIOLENCE) ? cd__plan(self, "flag:violence") : NULL,
        (call->risk & CD_RISK_MEDICAL) ? cd__plan(self, "flag:medical") : NULL,
    };
    cd_plan_resolve(cd__base_plan(self, call), flags, 3, out);
}

size_t cd_engine_list_alerts(const cd_engine_t *self, const cd_alert_t **out, size_t limit)
{
    size_t n = 0;
    for (size_t i = 0; i < self->n_alerts && n < limit; i++)
        out[n++] = &self->alerts[i];
    return n;
}

const cd_alert_t *cd_engine_find_alert(const cd_engine_t *self, int64_t no)
{
    for (size_t i = 0; i < self->n_alerts; i++)
        if (self->alerts[i].no == no)
            return &self->alerts[i];
    return NULL;
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
    self->dl_valid = false; /* the cached earliest deadline is rebuilt on demand */
    size_t n = 0;
    cd_call_t *c, *tmp;
    HASH_ITER(hh, self->calls, c, tmp)
    {
        if (cd_call_is_open(c) || c->closed_ms >= cutoff_ms)
            continue;
        for (int i = 0; i < c->n_asg; i++) {
            cd_assignment_t *a = c->asg[i];
            HASH_DEL(self->asgs, a);
            free(a);
        }
        HASH_DEL(self->calls, c);
        cd_call_destroy(&c);
        n++;
    }
    return n;
}

/* ------------------------------------------------------------------ alerts as records */

static const char *const s_alert_names[CD_ALERT_KIND_COUNT] = {
    [CD_ALERT_ACK_TIMEOUT] = "ack_timeout",
    [CD_ALERT_DECLINED] = "declined",
    [CD_ALERT_PENDING_TOO_LONG] = "pending_too_long",
    [CD_ALERT_ON_SCENE_TOO_LONG] = "on_scene_too_long",
    [CD_ALERT_NO_ELIGIBLE_UNIT] = "no_eligible_unit",
};

const char *cd_alert_kind_name(cd_alert_kind_t k)
{
    return (k > 0 && k < CD_ALERT_KIND_COUNT) ? s_alert_names[k] : NULL;
}

cd_alert_kind_t cd_alert_kind_parse(const char *name)
{
    for (int k = 1; name && k < CD_ALERT_KIND_COUNT; k++)
        if (strcmp(s_alert_names[k], name) == 0)
            return (cd_alert_kind_t)k;
    return 0;
}

cJSON *cd_alert_to_json(const cd_alert_t *a)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "alert_no", (double)a->no);
    cJSON_AddStringToObject(o, "kind", cd_alert_kind_name(a->kind));
    cJSON_AddStringToObject(o, "call_id", a->call_id);
    cJSON_AddStringToObject(o, "unit_id", a->unit_id);
    cJSON_AddStringToObject(o, "message", a->message);
    cJSON_AddNumberToObject(o, "raised_ms", (double)a->raised_ms);
    cJSON_AddNumberToObject(o, "last_seq", (double)a->last_seq);
    return o;
}

int cd_alert_from_json(const cJSON *o, cd_alert_t *out, cd_error_t *err)
{
    memset(out, 0, sizeof *out);
    out->kind = cd_alert_kind_parse(cd_json_str(o, "kind"));
    out->no = cd_json_int(o, "alert_no", 0);
    if (!out->kind || !out->no)
        return cd_error_set(err, CD_EINVAL, "payload", "alert record lacks alert_no or kind");
    cd_copy(out->call_id, sizeof out->call_id, cd_json_str(o, "call_id"));
    cd_copy(out->unit_id, sizeof out->unit_id, cd_json_str(o, "unit_id"));
    cd_copy(out->message, sizeof out->message, cd_json_str(o, "message"));
    out->raised_ms = cd_json_int(o, "raised_ms", 0);
    out->last_seq = cd_json_int(o, "last_seq", 0);
    return CD_OK;
}

/* ------------------------------------------------------------------ canonical JSON */

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
    cJSON_AddNumberToObject(o, "last_assignment_no", (double)self->last_asg_no);
    cJSON_AddNumberToObject(o, "last_alert_no", (double)self->last_alert_no);
    cJSON_AddNumberToObject(o, "open_calls", (double)self->open_calls);
    size_t n = HASH_COUNT(self->calls), i = 0;
    const cd_call_t **all = cd_xcalloc(n ? n : 1, sizeof *all);
    for (const cd_call_t *c = self->calls; c; c = c->hh.next)
        all[i++] = c;
    qsort(all, n, sizeof *all, s_by_call_no);
    cJSON *calls = cJSON_AddArrayToObject(o, "calls");
    for (i = 0; i < n; i++) {
        cJSON *cj = cd_call_to_json(all[i]);
        cJSON *asg = cJSON_AddArrayToObject(cj, "assignments");
        for (int k = 0; k < all[i]->n_asg; k++)
            cJSON_AddItemToArray(asg, cd_assign_to_json(all[i]->asg[k]));
        cJSON_AddItemToArray(calls, cj);
    }
    free(all);
    n = HASH_COUNT(self->units);
    const cd_unit_t **units = cd_xcalloc(n ? n : 1, sizeof *units);
    i = 0;
    for (const cd_unit_t *u = self->units; u; u = u->hh.next)
        units[i++] = u;
    qsort(units, n, sizeof *units, s_by_unit_id);
    cJSON *ua = cJSON_AddArrayToObject(o, "units");
    for (i = 0; i < n; i++)
        cJSON_AddItemToArray(ua, cd_unit_to_json(units[i]));
    free(units);
    cJSON *pa = cJSON_AddArrayToObject(o, "plans");
    for (int k = 0; k < self->n_plans; k++)
        cJSON_AddItemToArray(pa, cd_plan_to_json(&self->plans[k]));
    cJSON *aa = cJSON_AddArrayToObject(o, "alerts");
    for (i = 0; i < self->n_alerts; i++)
        cJSON_AddItemToArray(aa, cd_alert_to_json(&self->alerts[i]));
    return o;
}
