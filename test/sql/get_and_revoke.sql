-- Getting and revoking one token.
--   get_user_api_token(id): the caller's token that is not revoked (an
--     expired one included) as a listing item; any other id (another user's,
--     another tenant's, revoked, unknown, malformed, NULL) is one and the
--     same 404 / P0002, so an id reveals nothing. Needs user:api-token:read.
--   revoke_user_api_token(id): the same 404 for the same ids; a revoked
--     token fails verification at once. Needs user:api-token:write.
--   revoke_current_api_token(): the API token behind the claims revokes
--     itself, no permission needed; with a JWT it is 22000 (HTTP 400).
--   revoke_api_token(token): by the secret itself, for leak reports; no
--     identity; a malformed token is 22P02 without touching the table, and
--     a well-formed one has the same outcome whether or not it existed.
TRUNCATE tok;
-- The item with its server-chosen instants replaced by whether they are well-formed.
CREATE FUNCTION pg_temp.item(answer json) RETURNS jsonb LANGUAGE sql AS $$
	SELECT answer::jsonb || jsonb_build_object('id', lbl(answer->>'id'),
		'createdAt', answer->>'createdAt' ~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$',
		'updatedAt', answer->>'updatedAt' ~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$') $$;
CREATE PROCEDURE pg_temp.act_as_owner() LANGUAGE sql AS $$
	CALL act_as_writer('gr-user', 't-gr') $$;
-- revoke_user_api_token on the labelled token, under the current claims:
-- 'ok', or its error as outcome() shows it.
CREATE FUNCTION pg_temp.revoke_outcome(label text) RETURNS text LANGUAGE sql AS $$
	SELECT outcome(format('SELECT fynn_tokens.revoke_user_api_token(%L)', id_of(label))) $$;

-- Tokens of the caller, of the same user in another tenant, and of another user.
CALL pg_temp.act_as_owner();
SELECT keep('mine', fynn_tokens.create_user_api_token('mine', '2099-01-01T00:00:00Z'));
SELECT keep('expired', fynn_tokens.create_user_api_token('expired', '2099-01-01T00:00:00Z'));
SELECT keep('revoked', fynn_tokens.create_user_api_token('revoked', NULL));
UPDATE fynn_tokens.api_token SET expires_at = '2021-01-01T00:00:00Z' WHERE id = id_of('expired');
UPDATE fynn_tokens.api_token SET revoked_at = now() WHERE id = id_of('revoked');
CALL act_as_writer('gr-user', 't-gr-other');
SELECT keep('other tenant', fynn_tokens.create_user_api_token('other tenant', NULL));
CALL act_as_writer('gr-other-user', 't-gr');
SELECT keep('other user', fynn_tokens.create_user_api_token('other user', NULL));

-- get: the caller's own token, and an expired one, as items.
CALL pg_temp.act_as_owner();
SELECT pg_temp.item(fynn_tokens.get_user_api_token(id_of('mine'))) AS mine;
SELECT pg_temp.item(fynn_tokens.get_user_api_token(id_of('expired'))) AS expired;
-- The same item as the listing shows.
SELECT fynn_tokens.get_user_api_token(id_of('mine'))::text =
	(SELECT item::text FROM json_array_elements(fynn_tokens.list_user_api_tokens()->'data') item
	 WHERE item->>'id' = id_of('mine')) AS same_as_listed;

-- Every other id: one and the same 404.
CREATE TEMP TABLE other_ids AS
SELECT * FROM (VALUES ('another tenant''s', id_of('other tenant')),
	('another user''s', id_of('other user')), ('revoked', id_of('revoked')),
	('unknown', '0000000000000000000Z'), ('malformed: lower case', lower(id_of('mine'))),
	('malformed: too long', id_of('mine') || 'A'), ('malformed: empty', ''),
	('malformed: token', token_of('mine')), ('NULL', NULL)) AS v(kind, id);
SELECT kind, outcome(format('SELECT fynn_tokens.get_user_api_token(%L)', id)) AS get
FROM other_ids ORDER BY kind COLLATE "C";
SELECT count(DISTINCT outcome(format('SELECT fynn_tokens.get_user_api_token(%L)', id))) AS distinct_get_answers FROM other_ids;

-- get needs the read permission; write alone is not enough.
CALL act_as('{"sub": "gr-user", "tenant_id": "t-gr", "permissions": ["user:api-token:write"]}');
SELECT outcome(format('SELECT fynn_tokens.get_user_api_token(%L)', id_of('mine'))) AS get_without_read;

-- revoke: the same 404 for the same ids, and nothing changes.
CALL pg_temp.act_as_owner();
SELECT kind, outcome(format('SELECT fynn_tokens.revoke_user_api_token(%L)', id)) AS revoke
FROM other_ids ORDER BY kind COLLATE "C";
SELECT label, live(label) AS live FROM tok ORDER BY label COLLATE "C";

-- revoke needs the write permission.
CALL act_as('{"sub": "gr-user", "tenant_id": "t-gr", "permissions": ["user:api-token:read"]}');
SELECT pg_temp.revoke_outcome('mine') AS revoke_without_write;

-- A revocation holds at once: in the same transaction, right after the
-- UPDATE, and after commit; it is gone from get and the listing, and a second revocation is 404.
CALL pg_temp.act_as_owner();
BEGIN;
SELECT pg_temp.revoke_outcome('mine') AS revoked;
SELECT live('mine') AS verifies_in_the_transaction;
COMMIT;
SELECT live('mine') AS verifies_after_commit;
SELECT outcome(format('SELECT fynn_tokens.get_user_api_token(%L)', id_of('mine'))) AS get_after_revoke;
SELECT pg_temp.revoke_outcome('mine') AS revoke_again;
SELECT count(*) AS listed_after_revoke
FROM json_array_elements(fynn_tokens.list_user_api_tokens(1, 100)->'data') item WHERE item->>'id' = id_of('mine');
-- The revocation stamps revoked_at and updated_at with the same instant.
SELECT revoked_at = updated_at AS updated_with_revocation, revoked_at > created_at AS after_creation
FROM fynn_tokens.api_token WHERE id = id_of('mine');

-- Rolled back, a revocation never happened.
SELECT keep('rolled back', fynn_tokens.create_user_api_token('rolled back', NULL));
BEGIN;
SELECT pg_temp.revoke_outcome('rolled back') AS revoked;
SELECT live('rolled back') AS verifies_before_rollback;
ROLLBACK;
SELECT live('rolled back') AS verifies_after_rollback;

-- An expired token can still be revoked (it is not revoked yet).
SELECT pg_temp.revoke_outcome('expired') AS revoke_expired;

-- A token may revoke another of its user's tokens when it holds the write permission.
SELECT keep('actor', fynn_tokens.create_user_api_token('actor', NULL));
SELECT keep('target', fynn_tokens.create_user_api_token('target', NULL));
SELECT set_config('request.jwt.claims', fynn_tokens.verify_api_token(token_of('actor'))::text, false) IS NOT NULL AS as_actor;
SELECT pg_temp.revoke_outcome('target') AS token_revokes_sibling;
SELECT live('target') AS target_live, live('actor') AS actor_live;

-- revoke_current_api_token: a JWT names no token (22000) ...
CALL pg_temp.act_as_owner();
SELECT outcome('SELECT fynn_tokens.revoke_current_api_token()') AS current_with_jwt;
CALL act_as('');
SELECT outcome('SELECT fynn_tokens.revoke_current_api_token()') AS current_unauthenticated;
-- ... a token's claims revoke that token, with no permission at all; its
-- claims then no longer authenticate (28000).
CALL pg_temp.act_as_owner();
SELECT keep('self', fynn_tokens.create_user_api_token('self', NULL, ARRAY['user:api-token:read']));
SELECT keep('bystander', fynn_tokens.create_user_api_token('bystander', NULL));
SELECT set_config('request.jwt.claims', (fynn_tokens.verify_api_token(token_of('self'))::jsonb || '{"permissions": []}')::text, false) IS NOT NULL AS as_self_without_permissions;
SELECT outcome('SELECT fynn_tokens.revoke_current_api_token()') AS current_with_token;
SELECT live('self') AS self_live, live('bystander') AS bystander_live;
SELECT outcome('SELECT fynn_tokens.revoke_current_api_token()') AS current_again;

-- revoke_api_token(token): malformed or checksum-broken tokens are 22P02
-- and never touch the table.
CALL pg_temp.act_as_owner();
SELECT keep('leaked', fynn_tokens.create_user_api_token('leaked', NULL));
CALL act_as('');
BEGIN;
SELECT coalesce(sum(idx_scan), 0) + coalesce(sum(seq_scan), 0) AS scans_before
FROM pg_stat_xact_user_tables WHERE relid = 'fynn_tokens.api_token'::regclass \gset
SELECT kind, outcome(format('SELECT fynn_tokens.revoke_api_token(%L)', t)) AS outcome
FROM (SELECT token_of('leaked') AS token) k,
	LATERAL (VALUES ('bad checksum', left(k.token, 41) || CASE WHEN right(k.token, 1) = 'a' THEN 'b' ELSE 'a' END),
		('too short', left(k.token, 41)), ('other prefix', 'tok_' || substr(k.token, 5)),
		('empty', ''), ('NULL', NULL), ('upper-cased', upper(k.token))) AS v(kind, t)
ORDER BY kind COLLATE "C";
SELECT coalesce(sum(idx_scan), 0) + coalesce(sum(seq_scan), 0) - :scans_before AS scans_for_malformed
FROM pg_stat_xact_user_tables WHERE relid = 'fynn_tokens.api_token'::regclass;
-- (The count is real: a well-formed token is looked up.)
SELECT outcome(format('SELECT fynn_tokens.revoke_api_token(%L)', 'api_' || repeat('Y', 32) || test_checksum(repeat('Y', 32)))) AS well_formed;
SELECT coalesce(sum(idx_scan), 0) + coalesce(sum(seq_scan), 0) - :scans_before > 0 AS scans_for_well_formed
FROM pg_stat_xact_user_tables WHERE relid = 'fynn_tokens.api_token'::regclass;
COMMIT;
SELECT live('leaked') AS still_live;

-- A well-formed token that was never issued: no error, nothing changes.
SELECT count(*) FILTER (WHERE revoked_at IS NULL) AS live_before FROM fynn_tokens.api_token \gset
SELECT outcome(format('SELECT fynn_tokens.revoke_api_token(%L)', 'api_' || repeat('Z', 32) || test_checksum(repeat('Z', 32)))) AS unknown_token;
SELECT count(*) FILTER (WHERE revoked_at IS NULL) - :live_before AS live_change FROM fynn_tokens.api_token;
-- A live token: revoked, by anybody who knows it; again: still no error.
SELECT outcome(format('SELECT fynn_tokens.revoke_api_token(%L)', token_of('leaked'))) AS leaked_token;
SELECT live('leaked') AS leaked_live;
SELECT outcome(format('SELECT fynn_tokens.revoke_api_token(%L)', token_of('leaked'))) AS leaked_again;

-- The log of these revocations: why, and by which credential.
SELECT lbl(token_id) AS token, reason, actor, lbl(actor_token_id) AS actor_token
FROM fynn_tokens.api_token_event
WHERE user_id = 'gr-user' AND action = 'revoke' ORDER BY lbl(token_id) COLLATE "C";

-- The HTTP forms answer with statuses, inside the request's transaction.
CALL pg_temp.act_as_owner();
SELECT keep('http get', fynn_tokens.create_user_api_token('http get', NULL));
BEGIN;
SELECT pg_temp.item(fynn_api.get_user_api_token(id_of('http get'))) AS item;
SELECT current_setting('response.status') AS status, current_setting('response.headers') AS headers;
COMMIT;
SELECT kind, http_answer(fynn_api.get_user_api_token(id)) AS answer FROM other_ids ORDER BY kind COLLATE "C";
SELECT http_answer(fynn_api.get_user_api_token()) AS no_argument;

-- DELETE /user/api-tokens/{id}: 204 and no body; the same 404 for every other id.
BEGIN;
SELECT fynn_api.revoke_user_api_token(json_build_object('id', id_of('http get'))) IS NULL AS no_body;
SELECT current_setting('response.status') AS status, current_setting('response.headers') AS headers;
COMMIT;
SELECT live('http get') AS revoked_over_http_live;
SELECT kind, http_answer(fynn_api.revoke_user_api_token(json_build_object('id', id))) AS answer
FROM other_ids ORDER BY kind COLLATE "C";
SELECT body, http_answer(fynn_api.revoke_user_api_token(body::json)) AS answer
FROM unnest(ARRAY['{}', '{"id": null}', '{"id": 5}', '{"id": ["x"]}', '[]', '"id"', '{"id": "a\u0000b"}']) AS body
ORDER BY body COLLATE "C";
SELECT http_answer(fynn_api.revoke_user_api_token(NULL)) AS sql_null_body;

-- DELETE /user/api-tokens/current: 400 with a JWT, 204 with a token, then 401.
SELECT http_answer(fynn_api.revoke_current_api_token('{}')) AS current_with_jwt;
SELECT keep('http self', fynn_tokens.create_user_api_token('http self', NULL));
SELECT set_config('request.jwt.claims', fynn_tokens.verify_api_token(token_of('http self'))::text, false) IS NOT NULL AS as_http_self;
SELECT http_answer(fynn_api.revoke_current_api_token('{}')) AS current_with_token;
SELECT http_answer(fynn_api.revoke_current_api_token('{}')) AS current_again;

-- POST /api-tokens/revoke: no credential; 202 whether or not the token
-- existed; by "token", or by "token_sha256" (64 lower-case hex digits).
CALL pg_temp.act_as_owner();
SELECT keep('http leak 1', fynn_tokens.create_user_api_token('http leak 1', NULL));
SELECT keep('http leak 2', fynn_tokens.create_user_api_token('http leak 2', NULL));
CALL act_as('');
BEGIN;
SELECT fynn_api.revoke_leaked_api_token(json_build_object('token', token_of('http leak 1'))) AS body;
SELECT current_setting('response.status') AS status, current_setting('response.headers') AS headers;
COMMIT;
SELECT http_answer(fynn_api.revoke_leaked_api_token(json_build_object('token_sha256',
	encode(digest(token_of('http leak 2'), 'sha256'), 'hex')))) AS by_sha256;
SELECT live('http leak 1') AS leak_1_live, live('http leak 2') AS leak_2_live;
SELECT http_answer(fynn_api.revoke_leaked_api_token(json_build_object('token', token_of('http leak 1')))) AS already_revoked;
SELECT http_answer(fynn_api.revoke_leaked_api_token(json_build_object('token_sha256', repeat('0', 64)))) AS unknown_sha256;
SELECT http_answer(fynn_api.revoke_leaked_api_token(json_build_object('token',
	'api_' || repeat('Z', 32) || test_checksum(repeat('Z', 32))))) AS unknown_token;
-- Bad input: 400.
CALL pg_temp.act_as_owner();
SELECT keep('http leak 3', fynn_tokens.create_user_api_token('http leak 3', NULL));
CALL act_as('');
SELECT kind, http_answer(fynn_api.revoke_leaked_api_token(body)) AS answer
FROM (SELECT encode(digest(token_of('http leak 3'), 'sha256'), 'hex') AS hex, token_of('http leak 3') AS token) k,
	LATERAL (VALUES
		('sha256 upper-case', json_build_object('token_sha256', upper(k.hex))),
		('sha256 short', json_build_object('token_sha256', left(k.hex, 63))),
		('sha256 long', json_build_object('token_sha256', k.hex || '0')),
		('sha256 not hex', json_build_object('token_sha256', repeat('g', 64))),
		('sha256 a number', json_build_object('token_sha256', 5)),
		('token malformed', json_build_object('token', left(k.token, 41))),
		('token bad checksum', json_build_object('token', left(k.token, 41) || CASE WHEN right(k.token, 1) = 'a' THEN 'b' ELSE 'a' END)),
		('token a number', json_build_object('token', 5)),
		('token an array', json_build_object('token', json_build_array(k.token))),
		('token null', '{"token": null}'::json),
		('empty object', '{}'::json),
		('not an object', json_build_array(k.token)),
		('SQL NULL', NULL::json)) AS v(kind, body)
ORDER BY kind COLLATE "C";
SELECT live('http leak 3') AS leak_3_still_live;
-- "token_sha256" is read first: with both, a bad "token" goes unread.
SELECT http_answer(fynn_api.revoke_leaked_api_token(json_build_object('token_sha256',
	encode(digest(token_of('http leak 3'), 'sha256'), 'hex'), 'token', 'not a token'))) AS both_keys;
SELECT live('http leak 3') AS leak_3_live;
