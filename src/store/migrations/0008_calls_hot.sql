-- 0008: calls without the open-calls index, and room on each page for updates in place.
--
-- calls_open_idx (call_no of calls not closed or cancelled) was read by nothing: the start-up
-- load asks for open calls OR calls closed recently, which PostgreSQL answers from the call_no
-- key (EXPLAIN), and reports go by created_at.  It cost an index entry per new call, and since
-- its predicate reads `status`, every status change of a call was an update that could not
-- stay on its page (not HOT), writing new entries into all four of the table's indexes.
-- Without it, no column an update changes is indexed, and with a tenth of each new page left
-- free, a call's many updates (dispatched, en route, on scene, cleared, closed) usually stay
-- on its page and touch no index.
DROP INDEX calls_open_idx;
ALTER TABLE calls SET (fillfactor = 90);
