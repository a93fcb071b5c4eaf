-- 0004: client keys (security).  Who may connect to the ZeroMQ sockets: a CURVE public key,
-- the name it acts under (events.actor), its role and, for a unit key, its unit.
--
-- Rows are a projection of the key.added / key.revoked events, written by a trigger in the
-- same transaction as the event, so the audit trail and the table cannot disagree.  Keys are
-- never deleted: a revoked key keeps its name and public key, neither is reused.
CREATE TABLE keys (
    name       text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$'),
    public_key text NOT NULL UNIQUE CHECK (length(public_key) = 40),
    role       text NOT NULL CHECK (role IN ('admin', 'dispatcher', 'unit', 'viewer')),
    unit_id    text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    created_by text NOT NULL,
    revoked_at timestamptz,
    revoked_by text,
    last_seq   bigint NOT NULL
);

CREATE FUNCTION keys_from_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.kind = 'key.added' THEN
        INSERT INTO keys (name, public_key, role, unit_id, created_at, created_by, last_seq)
        VALUES (NEW.payload->>'name', NEW.payload->>'public_key', NEW.payload->>'role',
                coalesce(NEW.payload->>'unit_id', ''), NEW.at, NEW.actor, NEW.seq);
    ELSIF NEW.kind = 'key.revoked' THEN
        UPDATE keys SET revoked_at = NEW.at, revoked_by = NEW.actor, last_seq = NEW.seq
         WHERE name = NEW.payload->>'name';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER keys_from_events AFTER INSERT ON events
    FOR EACH ROW WHEN (NEW.kind LIKE 'key.%') EXECUTE FUNCTION keys_from_events();
