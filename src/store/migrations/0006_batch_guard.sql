-- 0006: the guard of a pipelined batch.
--
-- The server keeps up to two group-commit batches in PostgreSQL's pipeline, so that the next
-- one runs while the server answers the clients of the one that just committed.  Each batch is
-- its own transaction, and PostgreSQL runs the second after the first has ended, whether that
-- one committed or was refused.  A batch sent behind another therefore starts with this check:
-- its events were decided on top of the first batch's, so it must not commit unless the first
-- one did (the server then reloads its state from what is here).
CREATE FUNCTION codispatch_batch_after(prev_seq bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM events WHERE seq = prev_seq) THEN
        RAISE EXCEPTION 'the batch before this one (up to event %) did not commit', prev_seq
            USING ERRCODE = 'serialization_failure';
    END IF;
END $$;
