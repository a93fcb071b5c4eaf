-- Demographics request ids are scoped per key, as command request ids are (security): a
-- request id recorded for one actor is refused (CONFLICT) to another, never answered with the
-- first one's reply.  With security off every console is the actor "console", as before.
CREATE OR REPLACE FUNCTION set_call_demographics(p_request_id text, p_call_id text, p_race text,
                                      p_age text, p_gender text, p_actor text)
RETURNS TABLE (call_id text, race_ethnicity text, age_band text, gender text, applied boolean)
LANGUAGE plpgsql AS $$
DECLARE
    prev demographics_requests%ROWTYPE;
BEGIN
    SELECT * INTO prev FROM demographics_requests r WHERE r.request_id = p_request_id;
    IF FOUND THEN
        IF prev.actor <> p_actor THEN
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
