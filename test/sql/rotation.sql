-- Rotation: rotate_user_api_token(id, grace_period interval = '0') makes a
-- successor with the same description, permissions, parent and expiry (a
-- new id and token), under the rules of a creation by this caller, and
-- answers like a creation. The old token is revoked at once (grace 0) or
-- its expiry becomes least(expiry, now + grace); the grace period is
-- 0..7 days (22023 gracePeriod out_of_range). Another user's, revoked or
-- unknown ids are P0002 (404); rotating needs user:api-token:write.
-- Over HTTP: fynn_api.rotate_user_api_token({"id", "request": {"gracePeriod": seconds}}),
-- 201 with the successor's Location.
TRUNCATE tok;
-- Keeps the token and shows its answer's shape: a successor's answer is
-- compared with a creation's.
CREATE FUNCTION pg_temp.keep_shape(label text, answer json) RETURNS json LANGUAGE sql AS $$
	SELECT keep(label, answer);
	SELECT shape(answer) $$;
CREATE PROCEDURE pg_temp.act_as_owner() LANGUAGE sql AS $$
	SELECT set_config('request.jwt.claims', '{"sub": "rot-user", "tenant_id": "t-rot",
		"permissions": ["user:api-token:read", "user:api-token:write", "invoice:read"]}', false) $$;
-- A token's row as the rules see it.
CREATE VIEW pg_temp.row_of AS
SELECT k.label, t.description, t.permissions, lbl(t.parent_id) AS parent, t.expires_at,
	t.revoked_at IS NOT NULL AS revoked
FROM tok k JOIN fynn_tokens.api_token t ON t.id = k.id;
SET TIME ZONE 'UTC';

CALL pg_temp.act_as_owner();
SELECT pg_temp.keep_shape('A', fynn_tokens.create_user_api_token('rotate me', '2090-01-01T00:00:00.5Z', ARRAY['invoice:read'])) AS a;

-- Grace 0 (the default): a successor like its predecessor, which is revoked at once.
SELECT pg_temp.keep_shape('A2', fynn_tokens.rotate_user_api_token(id_of('A'))) AS successor;
SELECT label, description, permissions, parent, expires_at, revoked FROM pg_temp.row_of
WHERE label IN ('A', 'A2') ORDER BY label COLLATE "C";
SELECT id_of('A') <> id_of('A2') AS new_id, token_of('A') <> token_of('A2') AS new_token,
	live('A') AS old_verifies, live('A2') AS successor_verifies;
-- The log: the successor's creation (reason rotation, related: the old
-- token), the rotation of the old one (related: the successor), and its
-- revocation (reason rotation).
SELECT lbl(token_id) AS token, action, reason, actor, lbl(actor_token_id) AS actor_token,
	lbl(related_token_id) AS related
FROM fynn_tokens.api_token_event WHERE token_id IN (id_of('A'), id_of('A2'))
ORDER BY id;
-- A rotated token is gone: rotating it again is 404.
SELECT outcome(format('SELECT fynn_tokens.rotate_user_api_token(%L)', id_of('A'))) AS rotate_old_again;

-- A grace period: the old token keeps working until now + grace.
SELECT keep('B', fynn_tokens.create_user_api_token('grace', NULL)) IS NOT NULL AS b;
SELECT clock_timestamp() AS before_rotation \gset
SELECT pg_temp.keep_shape('B2', fynn_tokens.rotate_user_api_token(id_of('B'), '1 hour'))->>'expiresAt' AS successor_expires;
SELECT live('B') AS old_verifies, live('B2') AS successor_verifies,
	expires_at BETWEEN :'before_rotation'::timestamptz + interval '1 hour' AND clock_timestamp() + interval '1 hour' AS old_expires_in_an_hour,
	updated_at BETWEEN :'before_rotation' AND clock_timestamp() AS updated_at_set
FROM fynn_tokens.api_token WHERE id = id_of('B');
-- No revocation is logged for it: the old token simply expires.
SELECT lbl(token_id) AS token, action, reason, lbl(related_token_id) AS related
FROM fynn_tokens.api_token_event WHERE token_id IN (id_of('B'), id_of('B2'))
ORDER BY id;
-- It is still listed while the grace lasts.
SELECT count(*) AS old_still_listed FROM json_array_elements(fynn_tokens.list_user_api_tokens(1, 100)->'data') item
WHERE item->>'id' = id_of('B');

-- A grace period longer than the token's remaining life does not lengthen it.
SELECT keep('C', fynn_tokens.create_user_api_token('expires soon', clock_timestamp() + interval '30 minutes')) IS NOT NULL AS c;
SELECT expires_at AS c_expires_at FROM fynn_tokens.api_token WHERE id = id_of('C') \gset
SELECT keep('C2', fynn_tokens.rotate_user_api_token(id_of('C'), '1 day')) IS NOT NULL AS rotated;
SELECT t.expires_at = :'c_expires_at' AS old_expiry_kept, s.expires_at = :'c_expires_at' AS successor_expiry_same
FROM fynn_tokens.api_token t, fynn_tokens.api_token s WHERE t.id = id_of('C') AND s.id = id_of('C2');

-- The bounds of the grace period: 0 to 7 days; months are no fixed length, so out of range.
SELECT keep('D', fynn_tokens.create_user_api_token('bounds', NULL)) IS NOT NULL AS d;
SELECT grace, outcome(format('SELECT fynn_tokens.rotate_user_api_token(%L, %L)', id_of('D'), grace)) AS outcome
FROM unnest(ARRAY['7 days 1 second', '604801 seconds', '8 days', '1 mon', '-1 mon', '1 year', '-1 second', '-1 day 1 hour']) AS grace
ORDER BY grace COLLATE "C";
SELECT live('D') AS d_untouched_by_refusals;
SELECT keep('D2', fynn_tokens.rotate_user_api_token(id_of('D'), '7 days')) IS NOT NULL AS seven_days;
SELECT keep('D3', fynn_tokens.rotate_user_api_token(id_of('D2'), '604800 seconds')) IS NOT NULL AS seconds_of_seven_days;
SELECT keep('D4', fynn_tokens.rotate_user_api_token(id_of('D3'), '1 day -23 hours')) IS NOT NULL AS one_hour_in_days_and_hours;
SELECT keep('D5', fynn_tokens.rotate_user_api_token(id_of('D4'), NULL)) IS NOT NULL AS null_is_zero;
SELECT label, live(label) AS verifies FROM tok WHERE label LIKE 'D%' ORDER BY label COLLATE "C";

-- An expired token cannot be rotated: its successor would be born expired.
SELECT keep('E', fynn_tokens.create_user_api_token('expired', '2090-01-01T00:00:00Z')) IS NOT NULL AS e;
UPDATE fynn_tokens.api_token SET expires_at = now() - interval '1 second' WHERE id = id_of('E');
SELECT outcome(format('SELECT fynn_tokens.rotate_user_api_token(%L)', id_of('E'))) AS rotate_expired;
-- Every violation at once: an expired token and a bad grace period.
SELECT outcome(format('SELECT fynn_tokens.rotate_user_api_token(%L, %L)', id_of('E'), '8 days')) AS two_violations;

-- Another user's, another tenant's, revoked, unknown, malformed and NULL ids: 404.
CALL act_as_writer('rot-other-user', 't-rot');
SELECT keep('other user', fynn_tokens.create_user_api_token('other user', NULL)) IS NOT NULL AS other_user;
CALL act_as_writer('rot-user', 't-rot-other');
SELECT keep('other tenant', fynn_tokens.create_user_api_token('other tenant', NULL)) IS NOT NULL AS other_tenant;
CALL pg_temp.act_as_owner();
SELECT kind, outcome(format('SELECT fynn_tokens.rotate_user_api_token(%L)', id)) AS outcome
FROM (VALUES ('another user''s', id_of('other user')), ('another tenant''s', id_of('other tenant')),
	('revoked', id_of('A')), ('unknown', '0000000000000000000Z'), ('malformed', 'x'), ('NULL', NULL)) AS v(kind, id)
ORDER BY kind COLLATE "C";
SELECT label, live(label) AS verifies FROM tok WHERE label LIKE 'other%' ORDER BY label COLLATE "C";

-- Rotating needs the write permission; the order of checks puts it before the 404.
CALL act_as('{"sub": "rot-user", "tenant_id": "t-rot", "permissions": ["user:api-token:read"]}');
SELECT outcome(format('SELECT fynn_tokens.rotate_user_api_token(%L)', id_of('B2'))) AS without_write;
SELECT outcome($$SELECT fynn_tokens.rotate_user_api_token('unknown')$$) AS without_write_unknown_id;

-- A token-authenticated caller rotates under its own bounds: it cannot
-- rotate a sibling that holds a permission it lacks (not_held) ...
CALL pg_temp.act_as_owner();
SELECT keep('T', fynn_tokens.create_user_api_token('writer token', '2080-01-01T00:00:00Z', ARRAY['user:api-token:write'])) IS NOT NULL AS t;
SELECT keep('S', fynn_tokens.create_user_api_token('sibling', NULL, ARRAY['user:api-token:write', 'invoice:read'])) IS NOT NULL AS s;
SELECT set_config('request.jwt.claims', fynn_tokens.verify_api_token(token_of('T'))::text, false) IS NOT NULL AS as_t;
SELECT outcome(format('SELECT fynn_tokens.rotate_user_api_token(%L)', id_of('S'))) AS sibling_with_more;
SELECT live('S') AS sibling_untouched;
-- ... and a sibling it may rotate gets at most its own expiry.
CALL pg_temp.act_as_owner();
SELECT keep('S1', fynn_tokens.create_user_api_token('sibling, writer only', NULL, ARRAY['user:api-token:write'])) IS NOT NULL AS s1;
SELECT set_config('request.jwt.claims', fynn_tokens.verify_api_token(token_of('T'))::text, false) IS NOT NULL AS as_t;
SELECT pg_temp.keep_shape('S1 successor', fynn_tokens.rotate_user_api_token(id_of('S1'))) AS sibling_successor;
-- Its parent stays the rotated token's parent (none), not the caller.
SELECT label, permissions, parent, expires_at, revoked FROM pg_temp.row_of
WHERE label IN ('S1', 'S1 successor') ORDER BY label COLLATE "C";
SELECT lbl(token_id) AS token, action, reason, actor, lbl(actor_token_id) AS actor_token,
	lbl(related_token_id) AS related
FROM fynn_tokens.api_token_event WHERE token_id IN (id_of('S1'), id_of('S1 successor'))
ORDER BY id;

-- A child's successor keeps the parent; a token may rotate itself.
SELECT keep('T.child', fynn_tokens.create_user_api_token('child of T', NULL)) IS NOT NULL AS t_child;
CALL pg_temp.act_as_owner();
SELECT keep('T.child successor', fynn_tokens.rotate_user_api_token(id_of('T.child'))) IS NOT NULL AS rotated_by_jwt;
SELECT set_config('request.jwt.claims', fynn_tokens.verify_api_token(token_of('T'))::text, false) IS NOT NULL AS as_t;
SELECT keep('T successor', fynn_tokens.rotate_user_api_token(id_of('T'), '10 minutes')) IS NOT NULL AS t_rotates_itself;
-- And a token rotates its own child (the parent it locks for the successor is itself).
SELECT keep('T.child successor 2', fynn_tokens.rotate_user_api_token(id_of('T.child successor'))) IS NOT NULL AS t_rotates_its_child;
-- T's grace moved its expiry earlier, which capped its live child (the
-- rotated child's successor) too; T's own successor keeps T's old expiry.
SELECT label, parent, CASE WHEN expires_at = (SELECT expires_at FROM pg_temp.row_of WHERE label = 'T') THEN 'T''s grace end'
	ELSE expires_at::text END AS expires_at, revoked
FROM pg_temp.row_of WHERE label LIKE 'T%' ORDER BY label COLLATE "C";
SELECT expires_at > now() + interval '9 minutes' AND expires_at <= clock_timestamp() + interval '10 minutes' AS t_grace_ends_in_ten_minutes
FROM pg_temp.row_of WHERE label = 'T';

-- The HTTP form: POST /user/api-tokens/{id}/rotate with the client's body
-- (or none) under "request"; 201 with Location naming the successor.
CALL pg_temp.act_as_owner();
SELECT keep('H', fynn_tokens.create_user_api_token('http', NULL)) IS NOT NULL AS h;
BEGIN;
SELECT pg_temp.keep_shape('H2', fynn_api.rotate_user_api_token(json_build_object('id', id_of('H'), 'request', json_build_object('gracePeriod', 3600)))) AS successor;
SELECT current_setting('response.status') AS status,
	replace(current_setting('response.headers'), id_of('H2'), '<H2>') AS headers;
COMMIT;
SELECT live('H') AS old_in_grace, live('H2') AS successor_live;
-- No body, a null body, an empty one and a null gracePeriod all mean grace 0.
SELECT keep('H ' || n, fynn_tokens.create_user_api_token('http ' || n, NULL)) IS NOT NULL AS created
FROM generate_series(1, 5) n;
SELECT body, a->'status' AS status,
	a->'headers' = json_build_array(json_build_object('Location', '/user/api-tokens/' || (a->'body'->>'id')))::jsonb AS location_names_successor,
	shape((a->>'body')::json)->>'keys' AS body_keys, live(label) AS old_verifies
FROM (VALUES ('H 1', '{"id": "<id>", "request": null}'), ('H 2', '{"id": "<id>"}'),
	('H 3', '{"id": "<id>", "request": {}}'), ('H 4', '{"id": "<id>", "request": {"gracePeriod": null}}'),
	('H 5', '{"id": "<id>", "request": {"gracePeriod": 0, "other": "ignored"}}')) AS v(label, body),
	LATERAL (SELECT http_answer(fynn_api.rotate_user_api_token(replace(v.body, '<id>', id_of(v.label))::json))::jsonb AS a) r
ORDER BY label;

-- Bad bodies: wrong types are 400, a number out of 0..604800 is 422, an
-- id that is not the caller's live token 404; nothing is rotated.
SELECT keep('X', fynn_tokens.create_user_api_token('http refusals', NULL)) IS NOT NULL AS x;
SELECT body, http_answer(fynn_api.rotate_user_api_token(replace(body, '<id>', id_of('X'))::json)) AS answer
FROM unnest(ARRAY[
	'{"id": "<id>", "request": {"gracePeriod": "10"}}',
	'{"id": "<id>", "request": {"gracePeriod": 1.5}}',
	'{"id": "<id>", "request": {"gracePeriod": 10.0}}',
	'{"id": "<id>", "request": {"gracePeriod": true}}',
	'{"id": "<id>", "request": {"gracePeriod": [10]}}',
	'{"id": "<id>", "request": {"gracePeriod": -1}}',
	'{"id": "<id>", "request": {"gracePeriod": 604801}}',
	'{"id": "<id>", "request": {"gracePeriod": 99999999999999999999}}',
	'{"id": "<id>", "request": {"gracePeriod": 18446744073710}}',
	'{"id": "<id>", "request": "gracePeriod"}',
	'{"id": "<id>", "request": [3600]}',
	'{"id": 5}',
	'{"request": {"gracePeriod": 10}}',
	'{"id": "0000000000000000000Z"}',
	'[]']) AS body
ORDER BY body COLLATE "C";
SELECT http_answer(fynn_api.rotate_user_api_token(NULL)) AS sql_null_body;
SELECT live('X') AS x_untouched,
	(SELECT count(*) FROM fynn_tokens.api_token_event WHERE related_token_id = id_of('X')) AS x_events;
-- The largest grace over HTTP, 604800 seconds, is fine.
SELECT http_answer(fynn_api.rotate_user_api_token(json_build_object('id', id_of('X'),
	'request', json_build_object('gracePeriod', 604800))))->'status' AS seven_days;

-- HTTP: 401 and 403 come first.
CALL act_as('');
SELECT http_answer(fynn_api.rotate_user_api_token('[]')) AS unauthenticated;
CALL act_as('{"sub": "rot-user", "tenant_id": "t-rot", "permissions": ["user:api-token:read"]}');
SELECT http_answer(fynn_api.rotate_user_api_token('[]')) AS forbidden;
RESET TIME ZONE;
