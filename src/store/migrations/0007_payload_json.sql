-- 0007: event payloads as json, not jsonb.
--
-- The log is written once per event and read back rarely (replay, audit, a few report
-- lookups with ->>, which json has too); nothing indexes or searches inside payloads.  jsonb
-- made PostgreSQL parse every payload, build its binary form and sort its keys on every
-- insert (a CreateCall's payload is the whole call record): measurable CPU per command in
-- `tools/bench.sh` profiles.  json keeps the text the server wrote, checked to be valid JSON,
-- byte for byte.  This rewrites the table once.
--
-- The two staffing views read payloads, and PostgreSQL will not change the type of a column
-- a view uses: they are dropped and created again from their own stored definitions.
DO $$
DECLARE
    status_log text := pg_get_viewdef('report_unit_status_log'::regclass);
    intervals  text := pg_get_viewdef('report_unit_intervals'::regclass);
BEGIN
    DROP VIEW report_unit_intervals;
    DROP VIEW report_unit_status_log;
    ALTER TABLE events
        ALTER COLUMN payload TYPE json USING payload::json,
        ALTER COLUMN payload SET DEFAULT '{}'::json;
    EXECUTE 'CREATE VIEW report_unit_status_log AS ' || status_log;
    EXECUTE 'CREATE VIEW report_unit_intervals AS ' || intervals;
END $$;
