/*  control_reports.c — ReportRequest, ExportCalls and SetDemographics on the control socket.
 *
 *  All three run on the reports connection (reports.c), never on the store's group-commit
 *  connection, and are answered when PostgreSQL has answered: a SetDemographics reply leaves
 *  only after its transaction committed (durable before visible), and a retry with the same
 *  request_id is answered from the recorded row without changing anything (exactly once).
 */
#include <stdlib.h>
#include <string.h>

#include "reports.h"
#include "server_priv.h"

typedef struct s_pending {
    server_t *server;
    route_t to;
    char request_id[CD_REQUEST_ID_MAX + 1];
    bool noted; /* SetDemographics: this request added its id to the store's list */
} s_pending_t;

static s_pending_t *s_pending(server_t *self, const route_t *to, const char *rid)
{
    s_pending_t *p = cd_xcalloc(1, sizeof *p);
    p->server = self;
    p->to = *to;
    cd_copy(p->request_id, sizeof p->request_id, rid);
    return p;
}

bool control_reports_handles(const wire_env_t *env)
{
    return env->body_case == CODISPATCH__V1__ENVELOPE__BODY_SET_DEMOGRAPHICS ||
           env->body_case == CODISPATCH__V1__ENVELOPE__BODY_REPORT ||
           env->body_case == CODISPATCH__V1__ENVELOPE__BODY_EXPORT_CALLS;
}

static void s_fail(server_t *self, const route_t *to, const char *rid, const cd_error_t *err)
{
    /* Nothing here depends on uncommitted engine state. */
    server_reply_error(self, to, rid, 0, err);
}

/* ------------------------------------------------------------------ reports and export */

static void s_on_table(void *arg, const report_table_t *t, const cd_error_t *err)
{
    s_pending_t *p = arg;
    server_t *self = p->server;
    if (!self->control) {
        free(p);
        return;
    }
    if (!t) {
        s_fail(self, &p->to, p->request_id, err);
        free(p);
        return;
    }
    Codispatch__V1__Envelope env = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__ReportReply rep = CODISPATCH__V1__REPORT_REPLY__INIT;
    rep.kind = (char *)t->kind;
    rep.by = (char *)t->by;
    rep.from = (char *)t->from;
    rep.to = (char *)t->to;
    rep.has_min_cell = true;
    rep.min_cell = REPORTS_MIN_CELL;
    rep.n_columns = (size_t)t->ncols;
    rep.columns = t->columns;
    static char *const s_type_names[] = {"text", "number", "bool"};
    char **types = cd_xcalloc((size_t)t->ncols + 1, sizeof *types);
    for (int c = 0; c < t->ncols; c++)
        types[c] = s_type_names[t->types[c]];
    rep.n_types = (size_t)t->ncols;
    rep.types = types;
    size_t ncells = (size_t)t->nrows * (size_t)t->ncols;
    Codispatch__V1__ReportRow *rows = cd_xcalloc((size_t)t->nrows + 1, sizeof *rows);
    Codispatch__V1__ReportRow **rowp = cd_xcalloc((size_t)t->nrows + 1, sizeof *rowp);
    Codispatch__V1__ReportCell *cells = cd_xcalloc(ncells + 1, sizeof *cells);
    Codispatch__V1__ReportCell **cellp = cd_xcalloc(ncells + 1, sizeof *cellp);
    for (size_t i = 0; i < ncells; i++) {
        codispatch__v1__report_cell__init(&cells[i]);
        cells[i].value = t->cells[i];
        if (t->suppressed[i]) {
            cells[i].has_suppressed = true;
            cells[i].suppressed = true;
        }
        cellp[i] = &cells[i];
    }
    for (int r = 0; r < t->nrows; r++) {
        codispatch__v1__report_row__init(&rows[r]);
        rows[r].n_cells = (size_t)t->ncols;
        rows[r].cells = cellp + (size_t)r * (size_t)t->ncols;
        rowp[r] = &rows[r];
    }
    rep.n_rows = (size_t)t->nrows;
    rep.rows = rowp;
    if (t->next_after >= 0) {
        rep.has_next_after = true;
        rep.next_after = (uint64_t)t->next_after;
    }
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_REPORT_REPLY;
    env.report_reply = &rep;
    size_t len;
    uint8_t *buf = wire_pack(&env, p->request_id, (uint64_t)store_committed_seq(self->store), &len);
    free(types);
    free(rows);
    free(rowp);
    free(cells);
    free(cellp);
    /* Read from PostgreSQL: committed already. */
    server_reply(self, &p->to, p->request_id, 0, buf, len);
    free(p);
}

static bool s_ready(server_t *self, const route_t *to, const char *rid)
{
    cd_error_t err;
    if (self->stopping) {
        cd_error_set(&err, CD_EUNAVAIL, "", "the server is shutting down; retry shortly");
    } else if (store_state(self->store) != STORE_READY) {
        cd_error_set(&err, CD_EUNAVAIL, "", "the database is unavailable; retry shortly");
    } else {
        return true;
    }
    s_fail(self, to, rid, &err);
    return false;
}

static void s_report(server_t *self, const route_t *to, const char *rid,
                     const Codispatch__V1__ReportRequest *m)
{
    report_query_t q;
    cd_error_t err;
    if (report_query_check(m->kind, m->from, m->to, m->by, &q, &err) != CD_OK) {
        s_fail(self, to, rid, &err);
        return;
    }
    if (!s_ready(self, to, rid))
        return;
    s_pending_t *p = s_pending(self, to, rid);
    if (reports_run(self->reports, &q, s_on_table, p, &err) != CD_OK) {
        free(p);
        s_fail(self, to, rid, &err);
    }
}

static void s_export(server_t *self, const route_t *to, const char *rid,
                     const Codispatch__V1__ExportCalls *m, const sec_peer_t *peer)
{
    cd_error_t err;
    bool with_locations = m->has_with_locations && m->with_locations;
    /* Exact positions are for admins; with security off every local client is trusted, as it
     * may read a call in full. */
    if (with_locations && peer->secured && peer->role != CD_ROLE_ADMIN) {
        metrics_count_command(self, CODISPATCH__V1__ENVELOPE__BODY_EXPORT_CALLS, CD_EPERM);
        cd_error_set(&err, CD_EPERM, "with_locations",
                     "key %s has role %s; with_locations (exact positions) needs an admin key",
                     peer->name, cd_role_name(peer->role));
        s_fail(self, to, rid, &err);
        return;
    }
    if (!s_ready(self, to, rid))
        return;
    s_pending_t *p = s_pending(self, to, rid);
    if (reports_export(self->reports, m->from, m->to, with_locations, m->has_after ? m->after : 0,
                       m->has_limit ? m->limit : 0, s_on_table, p, &err) != CD_OK) {
        free(p);
        s_fail(self, to, rid, &err);
    }
}

/* ------------------------------------------------------------------ demographics */

static void s_on_demographics(void *arg, const report_demographics_t *d, const cd_error_t *err)
{
    s_pending_t *p = arg;
    server_t *self = p->server;
    if (!self->control) {
        free(p);
        return;
    }
    if (!d) {
        /* Refused by PostgreSQL: the id stays free for another command.  Not when the answer
         * was lost (UNAVAILABLE): it may have committed. */
        if (p->noted && err->code != CD_EUNAVAIL)
            store_forget_demographics_id(self->store, p->request_id);
        s_fail(self, &p->to, p->request_id, err);
        free(p);
        return;
    }
    /* Kept again in case a reload in between forgot it (it loads what has committed). */
    store_note_demographics_id(self->store, p->request_id, server_now_ms());
    Codispatch__V1__Envelope env = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__Demographics m = CODISPATCH__V1__DEMOGRAPHICS__INIT;
    m.call_id = (char *)d->call_id;
    m.race_ethnicity = (char *)d->race_ethnicity;
    m.age_band = (char *)d->age_band;
    m.gender = (char *)d->gender;
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_DEMOGRAPHICS;
    env.demographics = &m;
    size_t len;
    uint8_t *buf = wire_pack(&env, p->request_id, (uint64_t)store_committed_seq(self->store), &len);
    server_reply(self, &p->to, p->request_id, 0, buf, len);
    free(p);
}

static int s_category(const char *field, const char *value, char *out, size_t cap, cd_error_t *err)
{
    if (!value || !*value) {
        cd_copy(out, cap, "not_asked");
        return CD_OK;
    }
    if (!report_category_ok(field, value))
        return cd_error_set(err, CD_EINVAL, field,
                            "%s '%.48s' is not one of the reporting categories (see "
                            "demographic_categories; not_asked, declined or unknown when there "
                            "is no answer)",
                            field, value);
    cd_copy(out, cap, value);
    return CD_OK;
}

static void s_set_demographics(server_t *self, const route_t *to, const char *rid,
                               const Codispatch__V1__SetDemographics *m, const sec_peer_t *peer)
{
    report_demographics_t d;
    cd_error_t err;
    memset(&d, 0, sizeof d);
    if (!m->call_id || !*m->call_id) {
        cd_error_set(&err, CD_EINVAL, "call_id", "call_id is required");
        s_fail(self, to, rid, &err);
        return;
    }
    if (!cd_text_is_token(m->call_id, CD_CALL_ID_MAX)) {
        cd_error_set(&err, CD_EINVAL, "call_id",
                     "call_id must look like C-000123 (at most 15 printable characters)");
        s_fail(self, to, rid, &err);
        return;
    }
    cd_copy(d.call_id, sizeof d.call_id, m->call_id);
    if (s_category("race_ethnicity", m->race_ethnicity, d.race_ethnicity, sizeof d.race_ethnicity,
                   &err) ||
        s_category("age_band", m->age_band, d.age_band, sizeof d.age_band, &err) ||
        s_category("gender", m->gender, d.gender, sizeof d.gender, &err)) {
        s_fail(self, to, rid, &err);
        return;
    }
    if (!s_ready(self, to, rid))
        return;
    /* A request id of a command still in a batch is not in PostgreSQL yet: ask the cache. */
    const reqcache_entry_t *prev = store_find_request(self->store, rid);
    if (prev) {
        cd_error_set(&err, CD_ECONFLICT, "request_id",
                     "request_id %s was already used for a %s command; use a new request_id", rid,
                     prev->kind);
        s_fail(self, to, rid, &err);
        return;
    }
    char actor[CD_ACTOR_MAX + 1];
    security_actor(peer, NULL, actor, sizeof actor);
    s_pending_t *p = s_pending(self, to, rid);
    /* Taken from now on: a command with this id while it runs would be applied too. */
    p->noted = store_note_demographics_id(self->store, rid, server_now_ms());
    if (reports_set_demographics(self->reports, rid, &d, actor, s_on_demographics, p, &err) !=
        CD_OK) {
        if (p->noted)
            store_forget_demographics_id(self->store, rid);
        free(p);
        s_fail(self, to, rid, &err);
    }
}

void control_reports(server_t *self, const route_t *to, const wire_env_t *env,
                     const sec_peer_t *peer)
{
    const char *rid = env->request_id;
    switch (env->body_case) {
    case CODISPATCH__V1__ENVELOPE__BODY_SET_DEMOGRAPHICS:
        s_set_demographics(self, to, rid, env->set_demographics, peer);
        break;
    case CODISPATCH__V1__ENVELOPE__BODY_REPORT:
        s_report(self, to, rid, env->report);
        break;
    case CODISPATCH__V1__ENVELOPE__BODY_EXPORT_CALLS:
        s_export(self, to, rid, env->export_calls, peer);
        break;
    default:
        break;
    }
}
