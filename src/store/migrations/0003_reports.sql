-- 0003: programme reports — caller demographics and the report functions.
--
-- Everything here is plain SQL over the tables the server already writes (calls, assignments,
-- units, plans, alerts, events), so analysts can run the very same functions from psql or a BI
-- tool:
--     SELECT * FROM report_response('2026-10-01', '2026-11-01', 'area');
-- Bounds are timestamptz, from inclusive, to exclusive; dates and hours of day are in the
-- session's TimeZone (set it on the database: ALTER DATABASE ... SET timezone = '...').
--
-- Small-cell suppression is done here, not in the clients: a group of fewer than 11 calls has
-- its figures returned as NULL with suppressed = true, and so many more of the smallest groups
-- are suppressed with it that the suppressed cells cannot be recovered from the total.

-- ------------------------------------------------------------------ demographics

-- The categories the county reports.  `declined` (the caller chose not to say), `unknown` (the
-- caller was asked but it could not be determined) and `not_asked` are distinct answers.
CREATE TABLE demographic_categories (
    dimension  text NOT NULL CHECK (dimension IN ('race_ethnicity', 'age_band', 'gender')),
    code       text NOT NULL,
    label      text NOT NULL,
    sort_order integer NOT NULL,
    PRIMARY KEY (dimension, code)
);
INSERT INTO demographic_categories (dimension, code, label, sort_order) VALUES
    ('race_ethnicity', 'hispanic_latino', 'Hispanic or Latino', 1),
    ('race_ethnicity', 'white', 'White', 2),
    ('race_ethnicity', 'black', 'Black or African American', 3),
    ('race_ethnicity', 'asian', 'Asian', 4),
    ('race_ethnicity', 'native_hawaiian_pacific_islander', 'Native Hawaiian or Pacific Islander', 5),
    ('race_ethnicity', 'american_indian_alaska_native', 'American Indian or Alaska Native', 6),
    ('race_ethnicity', 'multiracial', 'Two or more races', 7),
    ('race_ethnicity', 'other', 'Another race or ethnicity', 8),
    ('race_ethnicity', 'unknown', 'Unknown', 90),
    ('race_ethnicity', 'declined', 'Declined to state', 91),
    ('race_ethnicity', 'not_asked', 'Not asked', 92),
    ('age_band', 'under_18', 'Under 18', 1),
    ('age_band', '18_24', '18 to 24', 2),
    ('age_band', '25_34', '25 to 34', 3),
    ('age_band', '35_44', '35 to 44', 4),
    ('age_band', '45_54', '45 to 54', 5),
    ('age_band', '55_64', '55 to 64', 6),
    ('age_band', '65_plus', '65 and over', 7),
    ('age_band', 'unknown', 'Unknown', 90),
    ('age_band', 'declined', 'Declined to state', 91),
    ('age_band', 'not_asked', 'Not asked', 92),
    ('gender', 'female', 'Female', 1),
    ('gender', 'male', 'Male', 2),
    ('gender', 'transgender', 'Transgender', 3),
    ('gender', 'nonbinary', 'Nonbinary', 4),
    ('gender', 'another', 'Another gender identity', 5),
    ('gender', 'unknown', 'Unknown', 90),
    ('gender', 'declined', 'Declined to state', 91),
    ('gender', 'not_asked', 'Not asked', 92);

-- One row per call whose caller was asked; a call without a row counts as `not_asked`.
-- Written only by the SetDemographics command of the control socket (dispatchers); never
-- loaded into the engine, never on the stream, the dashboard or a snapshot.  Only the
-- aggregate report functions below read it.
CREATE TABLE call_demographics (
    call_id        text PRIMARY KEY REFERENCES calls (call_id),
    race_ethnicity text NOT NULL DEFAULT 'not_asked',
    age_band       text NOT NULL DEFAULT 'not_asked',
    gender         text NOT NULL DEFAULT 'not_asked',
    set_at         timestamptz NOT NULL,
    set_by         text NOT NULL,
    request_id     text NOT NULL
);

-- Each answer must be a category of its dimension.
CREATE FUNCTION call_demographics_check() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM demographic_categories
                   WHERE dimension = 'race_ethnicity' AND code = NEW.race_ethnicity) THEN
        RAISE EXCEPTION 'race_ethnicity % is not a reporting category', NEW.race_ethnicity
            USING ERRCODE = 'check_violation', COLUMN = 'race_ethnicity';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM demographic_categories
                   WHERE dimension = 'age_band' AND code = NEW.age_band) THEN
        RAISE EXCEPTION 'age_band % is not a reporting category', NEW.age_band
            USING ERRCODE = 'check_violation', COLUMN = 'age_band';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM demographic_categories
                   WHERE dimension = 'gender' AND code = NEW.gender) THEN
        RAISE EXCEPTION 'gender % is not a reporting category', NEW.gender
            USING ERRCODE = 'check_violation', COLUMN = 'gender';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER call_demographics_check BEFORE INSERT OR UPDATE ON call_demographics
    FOR EACH ROW EXECUTE FUNCTION call_demographics_check();

-- Every SetDemographics command, by its request id: a retry is answered from this row and
-- changes nothing (exactly once), and the row is the audit trail of who set what, when.
CREATE TABLE demographics_requests (
    request_id     text PRIMARY KEY,
    call_id        text NOT NULL REFERENCES calls (call_id),
    race_ethnicity text NOT NULL,
    age_band       text NOT NULL,
    gender         text NOT NULL,
    actor          text NOT NULL,
    at             timestamptz NOT NULL
);

-- Applies one SetDemographics exactly once.  Returns the answer recorded for the request id
-- (the first one's, on a retry) and whether this call applied it.  Refuses (SQLSTATE 23505,
-- 'request_id ...') a request id used by another command, and (P0002) an unknown call.
CREATE FUNCTION set_call_demographics(p_request_id text, p_call_id text, p_race text,
                                      p_age text, p_gender text, p_actor text)
RETURNS TABLE (call_id text, race_ethnicity text, age_band text, gender text, applied boolean)
LANGUAGE plpgsql AS $$
DECLARE
    prev demographics_requests%ROWTYPE;
BEGIN
    SELECT * INTO prev FROM demographics_requests r WHERE r.request_id = p_request_id;
    IF FOUND THEN
        IF prev.actor <> p_actor THEN -- request ids are per key, as command ids are
            RAISE EXCEPTION 'request_id % was already used by another key', p_request_id
                USING ERRCODE = 'unique_violation';
        END IF;
        IF prev.call_id <> p_call_id OR prev.race_ethnicity <> p_race
           OR prev.age_band <> p_age OR prev.gender <> p_gender THEN
            RAISE EXCEPTION 'request_id % was already used for other demographics', p_request_id
                USING ERRCODE = 'unique_violation';
        END IF;
        RETURN QUERY SELECT prev.call_id, prev.race_ethnicity, prev.age_band, prev.gender, false;
        RETURN;
    END IF;
    IF EXISTS (SELECT 1 FROM events e WHERE e.request_id = p_request_id)
       OR EXISTS (SELECT 1 FROM requests q WHERE q.request_id = p_request_id) THEN
        RAISE EXCEPTION 'request_id % was already used for another command', p_request_id
            USING ERRCODE = 'unique_violation';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM calls c WHERE c.call_id = p_call_id) THEN
        RAISE EXCEPTION 'call % does not exist', p_call_id USING ERRCODE = 'no_data_found';
    END IF;
    INSERT INTO demographics_requests VALUES (p_request_id, p_call_id, p_race, p_age, p_gender,
                                              p_actor, now());
    INSERT INTO call_demographics AS d (call_id, race_ethnicity, age_band, gender, set_at,
                                        set_by, request_id)
    VALUES (p_call_id, p_race, p_age, p_gender, now(), p_actor, p_request_id)
    ON CONFLICT ON CONSTRAINT call_demographics_pkey DO UPDATE
        SET race_ethnicity = EXCLUDED.race_ethnicity, age_band = EXCLUDED.age_band,
            gender = EXCLUDED.gender, set_at = EXCLUDED.set_at, set_by = EXCLUDED.set_by,
            request_id = EXCLUDED.request_id;
    RETURN QUERY SELECT p_call_id, p_race, p_age, p_gender, true;
END $$;

-- ------------------------------------------------------------------ facts per call

-- report_call_facts looks up each call's no_eligible_unit alerts.
CREATE INDEX alerts_call_idx ON alerts (call_id) WHERE call_id IS NOT NULL;

-- '2026-11-01' is the start of that day; as an upper bound (is_end) the end of it, so
-- --from 2026-11-01 --to 2026-11-01 is the whole day.  Anything else is a timestamptz.
CREATE FUNCTION report_ts(p text, is_end boolean) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN p ~ '^\d{4}-\d{2}-\d{2}$'
                THEN (p::date + CASE WHEN is_end THEN 1 ELSE 0 END)::timestamptz
                ELSE p::timestamptz END
$$;

-- Two BCP 47 tags match when their primary language subtags do (the engine's rule).
CREATE FUNCTION report_lang_match(a text, b text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT a <> '' AND b <> '' AND lower(split_part(a, '-', 1)) = lower(split_part(b, '-', 1))
$$;

-- One row per call created in [p_from, p_to): the figures every report is built from.
--   queue_wait_s  first offer - creation           (NULL: never offered)
--   ack_s         first acknowledgement - first offer
--   response_s    first unit on scene - creation   (NULL: nobody reached the scene)
--   target_s      the base plan's target_response_s for the call's priority (current plan)
--   police        a patrol or smart unit acknowledged the call (took part)
--   involuntary   disposition transported_involuntary
--   served_in_language  a unit that reached the scene speaks the caller's language
--                       (NULL when the caller's language is not recorded)
--   waited        the call raised a no_eligible_unit alert (no unit of a plan type free)
--   waited_s      total time under such alerts (to clearing, else closing, else now)
--   wait_types    the unit types those alerts named
CREATE FUNCTION report_call_facts(p_from timestamptz, p_to timestamptz)
RETURNS TABLE (call_id text, call_no bigint, created_at timestamptz, hour integer, area text,
               type text, priority integer, language text, race_ethnicity text, status text,
               disposition text, closed_at timestamptz, lat double precision,
               lon double precision, risk_flags text[], queue_wait_s double precision,
               ack_s double precision, response_s double precision, target_s double precision,
               police boolean, involuntary boolean, served_in_language boolean,
               unit_types text[], waited boolean, waited_s double precision,
               wait_types text[])
LANGUAGE sql STABLE AS $$
    SELECT c.call_id, c.call_no, c.created_at, extract(hour FROM c.created_at)::integer,
           c.area, c.type, c.priority::integer, c.language,
           coalesce(d.race_ethnicity, 'not_asked'), c.status, c.disposition, c.closed_at,
           c.lat, c.lon, c.risk_flags,
           extract(epoch FROM a.first_offer - c.created_at)::double precision,
           extract(epoch FROM a.first_ack - a.first_offer)::double precision,
           extract(epoch FROM a.first_scene - c.created_at)::double precision,
           (p.doc -> 'target_response_s' ->> (c.priority - 1))::double precision,
           coalesce(a.police, false),
           c.disposition = 'transported_involuntary',
           CASE WHEN c.language = '' THEN NULL ELSE coalesce(a.in_language, false) END,
           coalesce(a.unit_types, '{}'),
           w.call_id IS NOT NULL,
           w.waited_s,
           coalesce(w.wait_types, '{}')
    FROM calls c
    LEFT JOIN call_demographics d ON d.call_id = c.call_id
    LEFT JOIN plans p ON p.key = c.type
    LEFT JOIN LATERAL (
        SELECT min(x.offered_at) AS first_offer, min(x.acked_at) AS first_ack,
               min(x.on_scene_at) AS first_scene,
               bool_or(x.unit_type IN ('patrol', 'smart') AND x.acked_at IS NOT NULL) AS police,
               bool_or(x.on_scene_at IS NOT NULL AND EXISTS (
                   SELECT 1 FROM units u, jsonb_array_elements_text(u.doc -> 'languages') l
                   WHERE u.unit_id = x.unit_id AND report_lang_match(l, c.language)))
                   AS in_language,
               array_agg(DISTINCT x.unit_type ORDER BY x.unit_type) AS unit_types
        FROM assignments x WHERE x.call_id = c.call_id) a ON true
    LEFT JOIN LATERAL (
        SELECT al.call_id,
               sum(extract(epoch FROM coalesce(al.cleared_at, c.closed_at, now())
                                      - al.raised_at))::double precision AS waited_s,
               array_agg(DISTINCT t ORDER BY t) FILTER (WHERE t IS NOT NULL) AS wait_types
        FROM alerts al
        LEFT JOIN LATERAL regexp_split_to_table(
            substring(al.message FROM 'no available ([^ ]+) unit'), '[,>;]') AS t ON true
        WHERE al.call_id = c.call_id AND al.kind = 'no_eligible_unit'
        GROUP BY al.call_id) w ON true
    WHERE c.created_at >= p_from AND c.created_at < p_to
$$;

-- The label of a call's group for the `by` dimension.
CREATE FUNCTION report_group(p_by text, area text, type text, priority integer, language text,
                             race_ethnicity text, hour integer) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    RETURN CASE p_by
        WHEN 'area' THEN CASE WHEN area = '' THEN '(none)' ELSE area END
        WHEN 'type' THEN type
        WHEN 'priority' THEN 'P' || priority
        WHEN 'language' THEN CASE WHEN language = '' THEN '(none)' ELSE language END
        WHEN 'race_ethnicity' THEN race_ethnicity
        WHEN 'hour' THEN lpad(hour::text, 2, '0')
        ELSE NULL END;
END $$;

CREATE FUNCTION report_check_by(p_by text, allowed text[]) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF p_by IS NULL OR NOT p_by = ANY (allowed) THEN
        RAISE EXCEPTION 'by must be one of %; got %', array_to_string(allowed, ', '), p_by
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END $$;

-- Small-cell suppression over the groups of one report: a group of fewer than 11 calls is
-- suppressed (primary); when any is, the smallest other groups are suppressed too until at
-- least two groups are suppressed and together count at least 11 calls (complementary), so
-- neither one suppressed group nor a small sum can be had by subtracting from the total.
-- Input: the groups' labels and call counts; output: the labels to suppress.
CREATE FUNCTION report_suppressed(groups text[], counts bigint[]) RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
    WITH g AS (SELECT * FROM unnest(groups, counts) AS t(grp, n)),
    o AS (SELECT grp, n, row_number() OVER w AS rn, sum(n) OVER w AS cum,
                 count(*) FILTER (WHERE n < 11) OVER () AS k
          FROM g WINDOW w AS (ORDER BY n, grp ROWS UNBOUNDED PRECEDING))
    SELECT coalesce(array_agg(grp), '{}') FROM o
    WHERE k > 0 AND (rn <= k OR NOT (rn - 1 >= 2 AND cum - n >= 11))
$$;

-- ------------------------------------------------------------------ the reports
-- Every report returns one row per group, then the total row (grp '(all)'), and a
-- `suppressed` column.  In a suppressed row every call figure is NULL.

-- response: counts and times.  p50/p90 are nearest-rank percentiles (percentile_disc) over
-- the calls that have the figure; within_target = share of calls with a unit on scene whose
-- response_s <= target_s.
CREATE FUNCTION report_response(p_from timestamptz, p_to timestamptz, p_by text)
RETURNS TABLE (grp text, calls bigint, dispatched bigint, on_scene bigint,
               queue_p50_s double precision, queue_p90_s double precision,
               ack_p50_s double precision, ack_p90_s double precision,
               response_p50_s double precision, response_p90_s double precision,
               within_target double precision, suppressed boolean)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
    PERFORM report_check_by(p_by, ARRAY['area', 'type', 'priority', 'language',
                                        'race_ethnicity', 'hour']);
    RETURN QUERY
    WITH f AS (SELECT report_group(p_by, x.area, x.type, x.priority, x.language,
                                   x.race_ethnicity, x.hour) AS g, x.*
               FROM report_call_facts(p_from, p_to) x),
    r AS (SELECT CASE WHEN grouping(f.g) = 1 THEN '(all)' ELSE f.g END AS label,
                 grouping(f.g) = 1 AS total,
                 count(*) AS n,
                 count(f.queue_wait_s) AS n_disp, count(f.response_s) AS n_scene,
                 percentile_disc(0.5) WITHIN GROUP (ORDER BY f.queue_wait_s) AS q50,
                 percentile_disc(0.9) WITHIN GROUP (ORDER BY f.queue_wait_s) AS q90,
                 percentile_disc(0.5) WITHIN GROUP (ORDER BY f.ack_s) AS a50,
                 percentile_disc(0.9) WITHIN GROUP (ORDER BY f.ack_s) AS a90,
                 percentile_disc(0.5) WITHIN GROUP (ORDER BY f.response_s) AS r50,
                 percentile_disc(0.9) WITHIN GROUP (ORDER BY f.response_s) AS r90,
                 round((count(*) FILTER (WHERE f.response_s <= f.target_s))::numeric
                       / nullif(count(f.response_s), 0), 4)::double precision AS wt
          FROM f GROUP BY ROLLUP (f.g)),
    s AS (SELECT report_suppressed(array_agg(r.label), array_agg(r.n)) AS hide
          FROM r WHERE NOT r.total),
    h AS (SELECT r.*, CASE WHEN r.total THEN r.n < 11 ELSE r.label = ANY (s.hide) END AS sup
          FROM r, s)
    SELECT h.label, CASE WHEN h.sup THEN NULL ELSE h.n END,
           CASE WHEN h.sup THEN NULL ELSE h.n_disp END,
           CASE WHEN h.sup THEN NULL ELSE h.n_scene END,
           CASE WHEN h.sup THEN NULL ELSE h.q50 END, CASE WHEN h.sup THEN NULL ELSE h.q90 END,
           CASE WHEN h.sup THEN NULL ELSE h.a50 END, CASE WHEN h.sup THEN NULL ELSE h.a90 END,
           CASE WHEN h.sup THEN NULL ELSE h.r50 END, CASE WHEN h.sup THEN NULL ELSE h.r90 END,
           CASE WHEN h.sup THEN NULL ELSE h.wt END, h.sup
    FROM h ORDER BY h.total, h.label;
END $$;

-- diversion: no_police = share of calls no patrol or smart unit took part in; the
-- disposition shares are over the group's calls closed with a disposition.
CREATE FUNCTION report_diversion(p_from timestamptz, p_to timestamptz, p_by text)
RETURNS TABLE (grp text, calls bigint, no_police double precision, closed bigint,
               resolved_on_scene double precision, transported_voluntary double precision,
               transported_involuntary double precision, referred double precision,
               police_requested double precision, no_contact double precision,
               duplicate double precision, suppressed boolean)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
    PERFORM report_check_by(p_by, ARRAY['area', 'type', 'priority', 'language',
                                        'race_ethnicity', 'hour']);
    RETURN QUERY
    WITH f AS (SELECT report_group(p_by, x.area, x.type, x.priority, x.language,
                                   x.race_ethnicity, x.hour) AS g, x.*
               FROM report_call_facts(p_from, p_to) x),
    r AS (SELECT CASE WHEN grouping(f.g) = 1 THEN '(all)' ELSE f.g END AS label,
                 grouping(f.g) = 1 AS total, count(*) AS n,
                 count(*) FILTER (WHERE NOT f.police) AS n_nopol,
                 count(*) FILTER (WHERE f.disposition <> '') AS n_closed,
                 count(*) FILTER (WHERE f.disposition = 'resolved_on_scene') AS d1,
                 count(*) FILTER (WHERE f.disposition = 'transported_voluntary') AS d2,
                 count(*) FILTER (WHERE f.disposition = 'transported_involuntary') AS d3,
                 count(*) FILTER (WHERE f.disposition = 'referred') AS d4,
                 count(*) FILTER (WHERE f.disposition = 'police_requested') AS d5,
                 count(*) FILTER (WHERE f.disposition = 'no_contact') AS d6,
                 count(*) FILTER (WHERE f.disposition = 'duplicate') AS d7
          FROM f GROUP BY ROLLUP (f.g)),
    s AS (SELECT report_suppressed(array_agg(r.label), array_agg(r.n)) AS hide
          FROM r WHERE NOT r.total),
    h AS (SELECT r.*, CASE WHEN r.total THEN r.n < 11 ELSE r.label = ANY (s.hide) END AS sup
          FROM r, s)
    SELECT h.label, CASE WHEN h.sup THEN NULL ELSE h.n END,
           CASE WHEN h.sup THEN NULL
                ELSE round(h.n_nopol::numeric / h.n, 4)::double precision END,
           CASE WHEN h.sup THEN NULL ELSE h.n_closed END,
           CASE WHEN h.sup THEN NULL
                ELSE round(h.d1::numeric / nullif(h.n_closed, 0), 4)::double precision END,
           CASE WHEN h.sup THEN NULL
                ELSE round(h.d2::numeric / nullif(h.n_closed, 0), 4)::double precision END,
           CASE WHEN h.sup THEN NULL
                ELSE round(h.d3::numeric / nullif(h.n_closed, 0), 4)::double precision END,
           CASE WHEN h.sup THEN NULL
                ELSE round(h.d4::numeric / nullif(h.n_closed, 0), 4)::double precision END,
           CASE WHEN h.sup THEN NULL
                ELSE round(h.d5::numeric / nullif(h.n_closed, 0), 4)::double precision END,
           CASE WHEN h.sup THEN NULL
                ELSE round(h.d6::numeric / nullif(h.n_closed, 0), 4)::double precision END,
           CASE WHEN h.sup THEN NULL
                ELSE round(h.d7::numeric / nullif(h.n_closed, 0), 4)::double precision END,
           h.sup
    FROM h ORDER BY h.total, h.label;
END $$;

-- language: over calls with a recorded caller language.  served = share of them with a unit
-- speaking it on scene; extra_min = mean response of those served in their language minus
-- mean response of those not (both among calls with a unit on scene), in minutes: what the
-- language match cost (negative: it was faster).
CREATE FUNCTION report_language(p_from timestamptz, p_to timestamptz, p_by text)
RETURNS TABLE (grp text, calls bigint, served_in_language double precision,
               response_served_p50_s double precision, response_other_p50_s double precision,
               extra_min double precision, suppressed boolean)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
    PERFORM report_check_by(p_by, ARRAY['area', 'type', 'priority', 'language',
                                        'race_ethnicity', 'hour']);
    RETURN QUERY
    WITH f AS (SELECT report_group(p_by, x.area, x.type, x.priority, x.language,
                                   x.race_ethnicity, x.hour) AS g, x.*
               FROM report_call_facts(p_from, p_to) x WHERE x.language <> ''),
    r AS (SELECT CASE WHEN grouping(f.g) = 1 THEN '(all)' ELSE f.g END AS label,
                 grouping(f.g) = 1 AS total, count(*) AS n,
                 count(*) FILTER (WHERE f.served_in_language) AS n_served,
                 percentile_disc(0.5) WITHIN GROUP (ORDER BY f.response_s)
                     FILTER (WHERE f.served_in_language) AS p_served,
                 percentile_disc(0.5) WITHIN GROUP (ORDER BY f.response_s)
                     FILTER (WHERE NOT f.served_in_language) AS p_other,
                 avg(f.response_s) FILTER (WHERE f.served_in_language) AS m_served,
                 avg(f.response_s) FILTER (WHERE NOT f.served_in_language) AS m_other
          FROM f GROUP BY ROLLUP (f.g)),
    s AS (SELECT report_suppressed(array_agg(r.label), array_agg(r.n)) AS hide
          FROM r WHERE NOT r.total),
    h AS (SELECT r.*, CASE WHEN r.total THEN r.n < 11 ELSE r.label = ANY (s.hide) END AS sup
          FROM r, s)
    SELECT h.label, CASE WHEN h.sup THEN NULL ELSE h.n END,
           CASE WHEN h.sup THEN NULL
                ELSE round(h.n_served::numeric / h.n, 4)::double precision END,
           CASE WHEN h.sup THEN NULL ELSE h.p_served END,
           CASE WHEN h.sup THEN NULL ELSE h.p_other END,
           CASE WHEN h.sup THEN NULL
                ELSE round(((h.m_served - h.m_other) / 60)::numeric, 2)::double precision END,
           h.sup
    FROM h ORDER BY h.total, h.label;
END $$;

-- equity: each group's figure divided by the overall figure (the total row's ratios are 1):
-- p90 response, police share (a patrol or smart unit took part), involuntary transport share.
CREATE FUNCTION report_equity(p_from timestamptz, p_to timestamptz, p_by text)
RETURNS TABLE (grp text, calls bigint, response_p90_s double precision,
               response_p90_ratio double precision, police_share double precision,
               police_ratio double precision, involuntary_share double precision,
               involuntary_ratio double precision, suppressed boolean)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
    PERFORM report_check_by(p_by, ARRAY['area', 'type', 'priority', 'language',
                                        'race_ethnicity', 'hour']);
    RETURN QUERY
    WITH f AS (SELECT report_group(p_by, x.area, x.type, x.priority, x.language,
                                   x.race_ethnicity, x.hour) AS g, x.*
               FROM report_call_facts(p_from, p_to) x),
    r AS (SELECT CASE WHEN grouping(f.g) = 1 THEN '(all)' ELSE f.g END AS label,
                 grouping(f.g) = 1 AS total, count(*) AS n,
                 percentile_disc(0.9) WITHIN GROUP (ORDER BY f.response_s) AS r90,
                 (count(*) FILTER (WHERE f.police))::double precision / count(*) AS pol,
                 (count(*) FILTER (WHERE f.involuntary))::double precision / count(*) AS inv
          FROM f GROUP BY ROLLUP (f.g)),
    o AS (SELECT r.r90 AS o90, r.pol AS opol, r.inv AS oinv FROM r WHERE r.total),
    s AS (SELECT report_suppressed(array_agg(r.label), array_agg(r.n)) AS hide
          FROM r WHERE NOT r.total),
    h AS (SELECT r.*, o.*,
                 CASE WHEN r.total THEN r.n < 11 ELSE r.label = ANY (s.hide) END AS sup
          FROM r, s, o)
    SELECT h.label, CASE WHEN h.sup THEN NULL ELSE h.n END,
           CASE WHEN h.sup THEN NULL ELSE h.r90 END,
           CASE WHEN h.sup THEN NULL
                ELSE round((h.r90 / nullif(h.o90, 0))::numeric, 3)::double precision END,
           CASE WHEN h.sup THEN NULL ELSE round(h.pol::numeric, 4)::double precision END,
           CASE WHEN h.sup THEN NULL
                ELSE round((h.pol / nullif(h.opol, 0))::numeric, 3)::double precision END,
           CASE WHEN h.sup THEN NULL ELSE round(h.inv::numeric, 4)::double precision END,
           CASE WHEN h.sup THEN NULL
                ELSE round((h.inv / nullif(h.oinv, 0))::numeric, 3)::double precision END,
           h.sup
    FROM h ORDER BY h.total, h.label;
END $$;

-- ------------------------------------------------------------------ staffing

-- Every unit's status over time, from the event log: the status each event left it in.
CREATE VIEW report_unit_status_log AS
SELECT e.unit_id, e.seq, e.at,
       CASE e.kind
           WHEN 'unit.added' THEN e.payload ->> 'status'
           WHEN 'unit.status' THEN e.payload ->> 'status'
           WHEN 'assignment.offered' THEN 'assigned'
           WHEN 'assignment.progress' THEN e.payload ->> 'status'
           WHEN 'unit.removed' THEN 'removed'
           ELSE coalesce(nullif(e.payload ->> 'unit_status', ''), 'available')
       END AS status
FROM events e
WHERE e.unit_id IS NOT NULL
  AND e.kind IN ('unit.added', 'unit.status', 'unit.removed', 'assignment.offered',
                 'assignment.progress', 'assignment.declined', 'assignment.timed_out',
                 'assignment.cleared');

-- The intervals [at, until) each unit spent in each status (until: the next change, or now).
CREATE VIEW report_unit_intervals AS
SELECT l.unit_id, u.type AS unit_type, u.area, l.status, l.at,
       coalesce(lead(l.at) OVER (PARTITION BY l.unit_id ORDER BY l.seq), now()) AS until
FROM report_unit_status_log l JOIN units u ON u.unit_id = l.unit_id;

-- staffing: by unit type, area or hour of day.  available_h / busy_h = unit-hours spent
-- `available` / assigned, en route, on scene, transporting or at a facility, clipped to the
-- range; busy_share = busy_h / (available_h + busy_h).  calls = calls of the group (by type:
-- calls a unit of that type was offered, or that waited for one); waited = those that raised a no_eligible_unit alert
-- (by type: an alert naming that type), waited_min = their total minutes under it, and
-- waited_p90_min the nearest-rank p90 of one call's minutes.  Unit-hours are never suppressed
-- (they count no callers); the call figures are, by the rule of every report.
CREATE FUNCTION report_staffing(p_from timestamptz, p_to timestamptz, p_by text)
RETURNS TABLE (grp text, units bigint, available_h double precision, busy_h double precision,
               busy_share double precision, calls bigint, waited bigint,
               waited_min double precision, waited_p90_min double precision,
               suppressed boolean)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
    PERFORM report_check_by(p_by, ARRAY['type', 'area', 'hour']);
    RETURN QUERY
    WITH iv AS (SELECT i.*, greatest(i.at, p_from) AS a, least(i.until, p_to) AS b
                FROM report_unit_intervals i
                WHERE i.until > p_from AND i.at < p_to AND i.until > i.at),
    -- each interval cut at the hour, so hours of the day can be told apart
    pieces AS (SELECT iv.unit_id, iv.unit_type, iv.area, iv.status,
                      extract(hour FROM hs)::integer AS hour,
                      extract(epoch FROM least(iv.b, hs + interval '1 hour')
                                         - greatest(iv.a, hs)) / 3600.0 AS hours
               FROM iv, generate_series(date_trunc('hour', iv.a), iv.b - interval '1 microsecond',
                                        interval '1 hour') AS hs),
    uh AS (SELECT CASE p_by WHEN 'type' THEN p.unit_type
                            WHEN 'area' THEN CASE WHEN p.area = '' THEN '(none)' ELSE p.area END
                            ELSE lpad(p.hour::text, 2, '0') END AS g,
                  p.unit_id,
                  p.hours * (p.status = 'available')::integer AS av,
                  p.hours * (p.status IN ('assigned', 'en_route', 'on_scene', 'transporting',
                                          'at_facility'))::integer AS busy
           FROM pieces p),
    uhg AS (SELECT CASE WHEN grouping(uh.g) = 1 THEN '(all)' ELSE uh.g END AS label,
                   count(DISTINCT uh.unit_id) AS n_units, sum(uh.av) AS av, sum(uh.busy) AS busy
            FROM uh GROUP BY ROLLUP (uh.g)),
    f AS (SELECT x.*, CASE p_by WHEN 'type' THEN NULL
                        ELSE report_group(p_by, x.area, x.type, x.priority, x.language,
                                          x.race_ethnicity, x.hour) END AS g
          FROM report_call_facts(p_from, p_to) x),
    -- by unit type a call belongs to every type it was offered, and waited for the types
    -- its alerts named
    fc AS (SELECT t AS g, f.call_id, f.waited AND t = ANY (f.wait_types) AS waited,
                  CASE WHEN t = ANY (f.wait_types) THEN f.waited_s END AS waited_s
           FROM f, unnest(f.unit_types || f.wait_types) AS t
           WHERE p_by = 'type'
           GROUP BY t, f.call_id, f.waited, f.wait_types, f.waited_s
           UNION ALL
           SELECT f.g, f.call_id, f.waited, f.waited_s FROM f WHERE p_by <> 'type'),
    cg AS (SELECT fc.g AS label, count(DISTINCT fc.call_id) AS n,
                  count(DISTINCT fc.call_id) FILTER (WHERE fc.waited) AS n_waited,
                  sum(fc.waited_s) FILTER (WHERE fc.waited) / 60 AS wmin,
                  percentile_disc(0.9) WITHIN GROUP (ORDER BY fc.waited_s)
                      FILTER (WHERE fc.waited) / 60 AS w90
           FROM fc GROUP BY fc.g
           UNION ALL
           SELECT '(all)', count(*), count(*) FILTER (WHERE f.waited),
                  sum(f.waited_s) FILTER (WHERE f.waited) / 60,
                  percentile_disc(0.9) WITHIN GROUP (ORDER BY f.waited_s)
                      FILTER (WHERE f.waited) / 60
           FROM f),
    r AS (SELECT coalesce(uhg.label, cg.label) AS label,
                 coalesce(uhg.label, cg.label) = '(all)' AS total,
                 coalesce(uhg.n_units, 0) AS n_units, coalesce(uhg.av, 0) AS av,
                 coalesce(uhg.busy, 0) AS busy, coalesce(cg.n, 0) AS n,
                 coalesce(cg.n_waited, 0) AS n_waited, cg.wmin, cg.w90
          FROM uhg FULL JOIN cg ON cg.label = uhg.label),
    s AS (SELECT report_suppressed(array_agg(r.label), array_agg(r.n)) AS hide
          FROM r WHERE NOT r.total),
    h AS (SELECT r.*, CASE WHEN r.total THEN r.n < 11 ELSE r.label = ANY (s.hide) END AS sup
          FROM r, s)
    SELECT h.label, h.n_units, round(h.av::numeric, 2)::double precision,
           round(h.busy::numeric, 2)::double precision,
           round((h.busy / nullif(h.av + h.busy, 0))::numeric, 4)::double precision,
           CASE WHEN h.sup THEN NULL ELSE h.n END,
           CASE WHEN h.sup THEN NULL ELSE h.n_waited END,
           CASE WHEN h.sup THEN NULL ELSE round(h.wmin::numeric, 2)::double precision END,
           CASE WHEN h.sup THEN NULL ELSE round(h.w90::numeric, 2)::double precision END,
           h.sup
    FROM h ORDER BY h.total, h.label;
END $$;

-- ------------------------------------------------------------------ export

-- One row per call for county data systems: no caller name, no callback number, no address,
-- summary or notes (free text), no demographics; the area instead of the position unless
-- p_with_locations.  Paged by call_no (rows after p_after, at most p_limit).
CREATE FUNCTION report_export_calls(p_from timestamptz, p_to timestamptz,
                                    p_with_locations boolean, p_after bigint, p_limit integer)
RETURNS TABLE (call_no bigint, call_id text, created_at text, type text, priority integer,
               area text, language text, risk_flags text, status text, disposition text,
               closed_at text, queue_wait_s double precision, ack_s double precision,
               response_s double precision, target_s double precision, unit_types text,
               police boolean, served_in_language boolean, lat double precision,
               lon double precision)
LANGUAGE sql STABLE AS $$
    SELECT f.call_no, f.call_id,
           to_char(f.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
           f.type, f.priority, f.area, f.language, array_to_string(f.risk_flags, ';'),
           f.status, f.disposition,
           to_char(f.closed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
           f.queue_wait_s, f.ack_s, f.response_s, f.target_s,
           array_to_string(f.unit_types, ';'), f.police, f.served_in_language,
           CASE WHEN p_with_locations THEN f.lat END, CASE WHEN p_with_locations THEN f.lon END
    FROM report_call_facts(p_from, p_to) f
    WHERE f.call_no > p_after
    ORDER BY f.call_no
    LIMIT p_limit
$$;
