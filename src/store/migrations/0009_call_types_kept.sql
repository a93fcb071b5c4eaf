-- 0009: call types are kept for good, in place of the foreign key calls.type -> call_types.
--
-- The key checked every new call's type with a row lock on its call_types row: a query of
-- its own inside PostgreSQL (an SPI plan run by an after-trigger), a log record and a
-- dirtied page per call.  At one console that was 22-28 us of a call's ~0.4 ms (two fresh
-- servers side by side, 30 alternating rounds of 1,000 calls, faster without it in 26-28 of
-- them; README, Benchmarks), on the target tools/bench.sh missed most often.
--
-- What the key guarded stays guarded another way.  The server writes every calls row, and
-- only with a type from the list it loaded from call_types at start-up (anything else is
-- refused with a clear error before any row is written).  So a type in calls can only go
-- missing from call_types if a row there is deleted or renamed, which these triggers now
-- refuse outright: call types may be added (and their descriptions changed), never removed.
ALTER TABLE calls DROP CONSTRAINT IF EXISTS calls_type_fkey;

CREATE FUNCTION call_types_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'call types are never removed or renamed (% refused): calls refer to them',
        TG_OP;
END $$;
CREATE TRIGGER call_types_kept BEFORE DELETE OR TRUNCATE ON call_types
    FOR EACH STATEMENT EXECUTE FUNCTION call_types_kept();
CREATE TRIGGER call_types_name_kept BEFORE UPDATE OF name ON call_types
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name) EXECUTE FUNCTION call_types_kept();
