-- 0002: the dispatch engine — unit types, the roster, response plans, assignments, alerts.
--
-- Each projection keeps the engine's own JSON record in `doc` (what the server loads back)
-- next to typed columns for reports and indexes; both are written in the same transaction
-- as the events that changed them.

CREATE TABLE unit_types (
    name        text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]{0,31}$'),
    description text NOT NULL DEFAULT ''
);
INSERT INTO unit_types (name, description) VALUES
    ('mh_team',          'County mental-health clinicians (psychiatric mobile response)'),
    ('apru',             'Fire Advanced Provider Response Unit (NP/PA + firefighter-paramedic)'),
    ('sober',            'SOBER unit (advanced provider, paramedic, substance-use counselor)'),
    ('therapeutic_van',  'Therapeutic transportation van (clinician, peer, driver)'),
    ('smart',            'Police officer + clinician co-response team'),
    ('rescue_ambulance', 'Fire/EMS rescue ambulance'),
    ('fire_engine',      'Fire engine'),
    ('patrol',           'Police patrol');

CREATE TABLE units (
    unit_id    text PRIMARY KEY,
    type       text NOT NULL REFERENCES unit_types (name),
    status     text NOT NULL,
    area       text NOT NULL DEFAULT '',
    removed    boolean NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL DEFAULT now(),
    last_seq   bigint NOT NULL,
    doc        jsonb NOT NULL
);

CREATE TABLE plans (
    key        text PRIMARY KEY,
    mode       text NOT NULL CHECK (mode IN ('base', 'replace', 'add')),
    last_seq   bigint NOT NULL DEFAULT 0,
    doc        jsonb NOT NULL
);

CREATE TABLE assignments (
    assignment_id text PRIMARY KEY,
    assignment_no bigint NOT NULL UNIQUE,
    call_id       text NOT NULL REFERENCES calls (call_id),
    unit_id       text NOT NULL REFERENCES units (unit_id),
    unit_type     text NOT NULL,
    status        text NOT NULL,
    offered_at    timestamptz NOT NULL,
    acked_at      timestamptz,
    en_route_at   timestamptz,
    on_scene_at   timestamptz,
    ended_at      timestamptz,
    end_reason    text NOT NULL DEFAULT '',
    eta_s         integer,
    last_seq      bigint NOT NULL,
    doc           jsonb NOT NULL
);
CREATE INDEX assignments_call_idx ON assignments (call_id, assignment_no);
CREATE INDEX assignments_unit_idx ON assignments (unit_id, assignment_no);

CREATE TABLE alerts (
    alert_no   bigint PRIMARY KEY,
    kind       text NOT NULL,
    call_id    text,
    unit_id    text,
    message    text NOT NULL,
    raised_at  timestamptz NOT NULL,
    cleared_at timestamptz,
    doc        jsonb NOT NULL
);
CREATE INDEX alerts_active_idx ON alerts (alert_no) WHERE cleared_at IS NULL;

ALTER TABLE calls
    ADD COLUMN disposition      text NOT NULL DEFAULT '',
    ADD COLUMN notes            jsonb NOT NULL DEFAULT '[]'::jsonb,
    ADD COLUMN pending_since_ms bigint,
    ADD COLUMN pending_alerted  boolean NOT NULL DEFAULT false;

-- Response plans as the programme runs them today.  Edit with `codispatch plan set`.
-- Clocks per priority 1..4: ack timeout, pending alert, target response (seconds).
INSERT INTO plans (key, mode, doc)
SELECT p.key, p.mode, jsonb_build_object(
    'key', p.key, 'mode', p.mode, 'groups', p.groups, 'forbidden', to_jsonb(p.forbidden),
    'requires', '[]'::jsonb, 'auto_dispatch_max_priority', p.auto,
    'ack_timeout_s', '[45, 60, 90, 120]'::jsonb,
    'pending_alert_s', '[120, 300, 900, 1800]'::jsonb,
    'target_response_s', '[600, 1200, 2400, 3600]'::jsonb,
    'on_scene_alert_s', 5400, 'description', p.description, 'last_seq', 0)
FROM (VALUES
    ('mental_health', 'base', 'mh_team,therapeutic_van>apru', ARRAY['patrol'], 2,
     'A clinician team or a van; an APRU when none is free'),
    ('suicide_risk', 'base', 'mh_team>apru,therapeutic_van', ARRAY['patrol'], 2,
     'A mental-health team first'),
    ('substance', 'base', 'sober>apru,rescue_ambulance', ARRAY['patrol'], 2,
     'A SOBER unit; an APRU or ambulance when none is free'),
    ('welfare_check', 'base', 'therapeutic_van,mh_team>apru', ARRAY['patrol'], 0,
     'Non-urgent: a dispatcher decides'),
    ('homeless_outreach', 'base', 'therapeutic_van>mh_team', ARRAY['patrol'], 0,
     'Outreach by van or team'),
    ('medical', 'base', 'rescue_ambulance,apru>fire_engine', ARRAY['patrol'], 2,
     'Fire/EMS'),
    ('fire', 'base', 'fire_engine;rescue_ambulance', ARRAY['patrol'], 4,
     'An engine and an ambulance'),
    ('violent_crisis', 'base', 'smart;patrol', ARRAY[]::text[], 4,
     'Co-response with police'),
    ('other', 'base', 'mh_team,therapeutic_van,apru', ARRAY['patrol'], 0,
     'A dispatcher decides'),
    ('flag:weapon', 'replace', 'smart;patrol', ARRAY[]::text[], 4,
     'A weapon: SMART co-response and a patrol, whatever the call type'),
    ('flag:violence', 'replace', 'smart>patrol', ARRAY[]::text[], 0,
     'Violence: SMART co-response, a patrol when none is free'),
    ('flag:medical', 'add', 'rescue_ambulance', ARRAY[]::text[], 0,
     'A medical need adds an ambulance')
) AS p(key, mode, groups, forbidden, auto, description);
