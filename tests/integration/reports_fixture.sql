-- A day whose report figures are known by construction (test_reports; README "Reports").
-- 2026-10-05, UTC.  60 calls in four areas, three units, their status history as events.
--
--   SPA 4  20 calls  08:10..11:20  mental_health P2  offer +60 s, ack +30 s after the offer,
--                    on scene at 300 + 30*i s (330..900); i <= 2: a patrol (PT-1), else MH-1;
--                    i = 1 transported_involuntary, others resolved_on_scene;
--                    language es for i <= 10
--   SPA 6  20 calls  12:10..15:20  mental_health P2  offer +120, ack +60, on scene +1200;
--                    i <= 8: a patrol, else MH-1; i <= 3 transported_involuntary,
--                    i = 4 police_requested, others resolved_on_scene; language ko for i <= 12
--   SPA 1  12 calls  16:10..18:00  substance P3  offer +300, ack +60, on scene +3000 (over the
--                    2400 s target); VAN-1; referred
--   SPA 8   8 calls  20:10..21:20  substance P3, never dispatched: a no_eligible_unit alert
--                    (no sober unit) for 900 s, closed no_contact at +1800; language es
BEGIN;

INSERT INTO units (unit_id, type, status, area, last_seq, doc) VALUES
    ('MH-1', 'mh_team', 'off_duty', 'SPA 4', 0,
     '{"unit_id":"MH-1","type":"mh_team","status":"off_duty","languages":["es","en"],"area":"SPA 4"}'),
    ('PT-1', 'patrol', 'out_of_service', 'SPA 6', 0,
     '{"unit_id":"PT-1","type":"patrol","status":"out_of_service","languages":["en"],"area":"SPA 6"}'),
    ('VAN-1', 'therapeutic_van', 'available', 'SPA 1', 0,
     '{"unit_id":"VAN-1","type":"therapeutic_van","status":"available","languages":["en"],"area":"SPA 1"}');

-- Status history (the staffing report reads it from the event log):
--   MH-1  available 00-08, busy 08-10, available 10-20, off duty 20-24: 18 h available, 2 busy
--   PT-1  available 06-12, busy 12-13, available 13-18, out of service after: 11 h and 1 h
--   VAN-1 off duty until 16, available 16-24: 8 h and 0
INSERT INTO events (seq, at, actor, kind, call_id, unit_id, payload) VALUES
    (1, '2026-10-05 00:00+00', 'console', 'unit.added', NULL, 'MH-1', '{"status":"available"}'),
    (2, '2026-10-05 00:00+00', 'console', 'unit.added', NULL, 'VAN-1', '{"status":"off_duty"}'),
    (3, '2026-10-05 06:00+00', 'console', 'unit.added', NULL, 'PT-1', '{"status":"available"}'),
    (4, '2026-10-05 08:00+00', 'system', 'assignment.offered', NULL, 'MH-1', '{}'),
    (5, '2026-10-05 10:00+00', 'unit:MH-1', 'assignment.cleared', NULL, 'MH-1', '{"unit_status":""}'),
    (6, '2026-10-05 12:00+00', 'system', 'assignment.offered', NULL, 'PT-1', '{}'),
    (7, '2026-10-05 12:30+00', 'unit:PT-1', 'assignment.progress', NULL, 'PT-1', '{"status":"on_scene"}'),
    (8, '2026-10-05 13:00+00', 'unit:PT-1', 'assignment.cleared', NULL, 'PT-1', '{"unit_status":"available"}'),
    (9, '2026-10-05 16:00+00', 'console', 'unit.status', NULL, 'VAN-1', '{"status":"available"}'),
    (10, '2026-10-05 18:00+00', 'console', 'unit.status', NULL, 'PT-1', '{"status":"out_of_service"}'),
    (11, '2026-10-05 20:00+00', 'console', 'unit.status', NULL, 'MH-1', '{"status":"off_duty"}');

CREATE TEMP TABLE fx (area text, i int, no bigint, created timestamptz, type text, priority int,
                      language text, disposition text, unit text, utype text,
                      offer_s int, ack_s int, scene_s int);
INSERT INTO fx
SELECT 'SPA 4', i, 100 + i, '2026-10-05 08:00+00'::timestamptz + i * interval '10 min',
       'mental_health', 2, CASE WHEN i <= 10 THEN 'es' ELSE '' END,
       CASE WHEN i = 1 THEN 'transported_involuntary' ELSE 'resolved_on_scene' END,
       CASE WHEN i <= 2 THEN 'PT-1' ELSE 'MH-1' END,
       CASE WHEN i <= 2 THEN 'patrol' ELSE 'mh_team' END, 60, 30, 300 + 30 * i
FROM generate_series(1, 20) i
UNION ALL
SELECT 'SPA 6', i, 200 + i, '2026-10-05 12:00+00'::timestamptz + i * interval '10 min',
       'mental_health', 2, CASE WHEN i <= 12 THEN 'ko' ELSE '' END,
       CASE WHEN i <= 3 THEN 'transported_involuntary' WHEN i = 4 THEN 'police_requested'
            ELSE 'resolved_on_scene' END,
       CASE WHEN i <= 8 THEN 'PT-1' ELSE 'MH-1' END,
       CASE WHEN i <= 8 THEN 'patrol' ELSE 'mh_team' END, 120, 60, 1200
FROM generate_series(1, 20) i
UNION ALL
SELECT 'SPA 1', i, 300 + i, '2026-10-05 16:00+00'::timestamptz + i * interval '10 min',
       'substance', 3, '', 'referred', 'VAN-1', 'therapeutic_van', 300, 60, 3000
FROM generate_series(1, 12) i
UNION ALL
SELECT 'SPA 8', i, 400 + i, '2026-10-05 20:00+00'::timestamptz + i * interval '10 min',
       'substance', 3, 'es', 'no_contact', NULL, NULL, NULL, NULL, NULL
FROM generate_series(1, 8) i;

INSERT INTO calls (call_id, call_no, type, priority, lat, lon, area, language, caller_name,
                   callback, status, created_at, updated_at, closed_at, last_seq, disposition)
SELECT 'R-' || no, no, type, priority, 34.0 + i / 100.0, -118.2, area, language,
       'Caller ' || no, '555-01' || no, 'closed', created, created + interval '1 hour',
       created + interval '1 hour', 0, disposition
FROM fx;
-- The calls of SPA 8 closed half an hour after they came in.
UPDATE calls SET closed_at = created_at + interval '30 min' WHERE area = 'SPA 8';

INSERT INTO assignments (assignment_id, assignment_no, call_id, unit_id, unit_type, status,
                         offered_at, acked_at, en_route_at, on_scene_at, ended_at, last_seq, doc)
SELECT 'RA-' || no, no, 'R-' || no, unit, utype, 'cleared',
       created + offer_s * interval '1 s', created + (offer_s + ack_s) * interval '1 s',
       created + (offer_s + ack_s) * interval '1 s', created + scene_s * interval '1 s',
       created + interval '50 min', 0, '{}'
FROM fx WHERE unit IS NOT NULL;

INSERT INTO alerts (alert_no, kind, call_id, message, raised_at, cleared_at, doc)
SELECT no, 'no_eligible_unit', 'R-' || no,
       'call R-' || no || ': no available sober unit (none on the roster)', created,
       created + interval '15 min', '{}'
FROM fx WHERE area = 'SPA 8';

COMMIT;
