-- 0001: the event log, the calls projection, idempotency records, call types.
--
-- `events` is the append-only source of truth; `calls` is a projection updated in the same
-- transaction as the events that change it, so reports are plain SQL over it.

CREATE TABLE events (
    seq        bigint PRIMARY KEY,
    at         timestamptz NOT NULL,
    actor      text NOT NULL,
    kind       text NOT NULL,
    call_id    text,
    unit_id    text,
    request_id text UNIQUE,          -- set on the first event of each client command
    payload    jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX events_call_idx ON events (call_id, seq) WHERE call_id IS NOT NULL;
CREATE INDEX events_unit_idx ON events (unit_id, seq) WHERE unit_id IS NOT NULL;

-- The log is append-only: refuse UPDATE, DELETE and TRUNCATE outright.
CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events is append-only (% refused)', TG_OP;
END $$;
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_append_only();

CREATE TABLE call_types (
    name        text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]{0,31}$'),
    description text NOT NULL DEFAULT ''
);
INSERT INTO call_types (name, description) VALUES
    ('mental_health',     'Mental or behavioural health crisis'),
    ('suicide_risk',      'Person at risk of suicide'),
    ('substance',         'Intoxication or substance use'),
    ('welfare_check',     'Check on the wellbeing of a person'),
    ('homeless_outreach', 'Person experiencing homelessness in need of services'),
    ('medical',           'Medical emergency'),
    ('fire',              'Fire'),
    ('violent_crisis',    'Crisis involving violence'),
    ('other',             'Anything else');

CREATE TABLE calls (
    call_id       text PRIMARY KEY,
    call_no       bigint NOT NULL UNIQUE,
    type          text NOT NULL REFERENCES call_types (name),
    priority      smallint NOT NULL CHECK (priority BETWEEN 1 AND 4),
    lat           double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lon           double precision NOT NULL CHECK (lon BETWEEN -180 AND 180),
    address       text NOT NULL DEFAULT '',
    area          text NOT NULL DEFAULT '',
    language      text NOT NULL DEFAULT '',
    risk_flags    text[] NOT NULL DEFAULT '{}',
    summary       text NOT NULL DEFAULT '',
    caller_name   text NOT NULL DEFAULT '',   -- PII
    callback      text NOT NULL DEFAULT '',   -- PII
    status        text NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    closed_at     timestamptz,
    cancel_reason text NOT NULL DEFAULT '',
    last_seq      bigint NOT NULL
);
CREATE INDEX calls_open_idx ON calls (call_no) WHERE status NOT IN ('closed', 'cancelled');
CREATE INDEX calls_created_idx ON calls (created_at);

-- The reply to every successful state-changing command, by its client-chosen request id:
-- a retry gets exactly this reply back and changes nothing.  Rows older than the server's
-- request retention are pruned; events.request_id keeps the key itself forever.
CREATE TABLE requests (
    request_id text PRIMARY KEY,
    kind       text NOT NULL,
    seq        bigint NOT NULL,
    at         timestamptz NOT NULL,
    reply      bytea NOT NULL
);
CREATE INDEX requests_at_idx ON requests (at);
