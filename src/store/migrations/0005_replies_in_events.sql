-- 0005: the recorded reply of a command goes into the row of the command's first event.
--
-- Every CreateCall used to write three rows (events, calls, requests) and the requests row
-- alone, with its two indexes, was about a fifth of PostgreSQL's work per call (README,
-- Benchmarks).  The event row already carries the request id (UNIQUE), so it now carries the
-- reply too: one heap tuple and two index entries fewer per command.  `requests` stays for
-- commands that record a reply without writing an event, and for rows written before this
-- migration; its retention pruning is unchanged.  The reply in an event row is never pruned
-- (the log is append-only): the retention window only decides which replies are loaded back
-- into memory at start-up.  Adding nullable columns rewrites nothing.
ALTER TABLE events
    ADD COLUMN reply_kind text,   -- the command ("create_call"), as in requests.kind
    ADD COLUMN reply      bytea;  -- the encoded reply envelope, as in requests.reply
