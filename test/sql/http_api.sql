-- The HTTP contract as SQL: every fynn_api function returns the whole
-- answer, status in response.status and headers in response.headers (both
-- transaction-local, as PostgREST reads them before COMMIT) and the body as
-- its result. Contract errors are returned, never raised, as
-- application/problem+json:
--   401 no credential (no claims, '', PostgREST's anonymous {"role": ...})
--       with WWW-Authenticate: Bearer; bad claims or a dead API token with
--       Bearer error="invalid_token"
--   403 a permission missing; 400 unreadable input; 404 no such token;
--   422 rule violations, all at once, with API Platform's body.
-- Checks run in that order, and nothing is written unless all pass.
TRUNCATE tok;
-- One call under the given claims: the answer with the ids of known tokens
-- replaced by their labels, and a fresh token's id and secret by their shape.
CREATE FUNCTION pg_temp.answer_as(claims text, call text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	answer text;
BEGIN
	PERFORM set_config('request.jwt.claims', claims, false);
	EXECUTE 'SELECT http_answer(' || call || ')::text' INTO answer;
	SELECT regexp_replace(regexp_replace(answer, 'api_[0-9A-Za-z]{38}', '<token>', 'g'),
		'[0-9A-Z]{20}', '<id>', 'g') INTO answer;
	RETURN answer;
END $$;
-- Every function, called as a route would call it, with the permission it needs.
CREATE TEMP TABLE route (route text, call text, permission text);
INSERT INTO route VALUES
	('POST /user/api-tokens', $$fynn_api.create_user_api_token('{"description": "route"}')$$, 'user:api-token:write'),
	('GET /user/api-tokens', $$fynn_api.list_user_api_tokens()$$, 'user:api-token:read'),
	('GET /user/api-tokens/{id}', $$fynn_api.get_user_api_token('0000000000000000000Z')$$, 'user:api-token:read'),
	('DELETE /user/api-tokens/{id}', $$fynn_api.revoke_user_api_token('{"id": "0000000000000000000Z"}')$$, 'user:api-token:write'),
	('POST /user/api-tokens/{id}/rotate', $$fynn_api.rotate_user_api_token('{"id": "0000000000000000000Z", "request": null}')$$, 'user:api-token:write'),
	('DELETE /user/api-tokens/current', $$fynn_api.revoke_current_api_token('{}')$$, NULL);
CREATE PROCEDURE pg_temp.act_as_user(permissions text DEFAULT '["user:api-token:read", "user:api-token:write"]') LANGUAGE sql AS $$
	SELECT set_config('request.jwt.claims', '{"sub": "http-user", "tenant_id": "t-http", "permissions": ' || permissions || '}', false) $$;

-- ------------------------------------------------------------------- 401

-- No credential: the same answer from every route that needs one, byte for byte.
SELECT count(*) AS calls, count(DISTINCT answer) AS distinct_answers, min(answer) AS answer
FROM route, unnest(ARRAY['', '{}', '{"role": "web_anon"}', '{"role": "authenticator"}']) AS claims,
	LATERAL (SELECT pg_temp.answer_as(claims, route.call) AS answer) a;

-- Bad claims: 401 with the reason and Bearer error="invalid_token"; again the same from every route.
CALL pg_temp.act_as_user();
SELECT keep('dead', fynn_tokens.create_user_api_token('dead', NULL));
SELECT set_config('request.jwt.claims', fynn_tokens.verify_api_token(token)::text, false) IS NOT NULL AS as_dead
FROM tok WHERE label = 'dead';
CREATE TEMP TABLE dead_claims AS SELECT current_setting('request.jwt.claims') AS claims;
CALL pg_temp.act_as_user();
SELECT fynn_tokens.revoke_user_api_token(id_of('dead'));
SELECT kind, count(DISTINCT answer) AS distinct_answers, min(answer) AS answer
FROM (VALUES ('not JSON', 'not json'), ('an array', '["sub"]'),
	('no sub', '{"role": "web_user", "tenant_id": "t-http"}'),
	('sub empty', '{"sub": "", "tenant_id": "t-http"}'),
	('no tenant', '{"sub": "http-user"}'),
	('tenant a fraction', '{"sub": "http-user", "tenant_id": 1.5}'),
	('token_id malformed', '{"sub": "http-user", "tenant_id": "t-http", "token_id": "x"}'),
	('token revoked', (SELECT claims FROM dead_claims))) AS c(kind, claims),
	route, LATERAL (SELECT pg_temp.answer_as(c.claims, route.call) AS answer) a
GROUP BY kind ORDER BY kind COLLATE "C";

-- ------------------------------------------------------------------- 403

-- The permission each route needs, named in the answer; none for revoking the current token.
SELECT route, pg_temp.answer_as('{"sub": "http-user", "tenant_id": "t-http", "permissions": ["invoice:read"]}', call) AS answer
FROM route WHERE permission IS NOT NULL ORDER BY route COLLATE "C";
-- Read does not give write, nor write read.
SELECT route, permission, (pg_temp.answer_as('{"sub": "http-user", "tenant_id": "t-http", "permissions": ["user:api-token:read"]}', call)::json->>'status')::int AS with_read,
	(pg_temp.answer_as('{"sub": "http-user", "tenant_id": "t-http", "permissions": ["user:api-token:write"]}', call)::json->>'status')::int AS with_write
FROM route ORDER BY route COLLATE "C";

-- ------------------------------------------------------ the order of checks

-- 401 before 403 before 400 before 404 before 422.
SELECT kind, status FROM (
SELECT kind, (pg_temp.answer_as(claims, call)::json->>'status')::int AS status
FROM (VALUES
	('no credential, no permission, bad body', '{"role": "web_anon"}', $$fynn_api.create_user_api_token('[]')$$),
	('no permission, bad body', '{"sub": "http-user", "tenant_id": "t-http"}', $$fynn_api.create_user_api_token('[]')$$),
	('bad body, unknown id', '{"sub": "http-user", "tenant_id": "t-http", "permissions": ["user:api-token:write"]}', $$fynn_api.revoke_user_api_token('{"id": 5}')$$),
	('bad grace type, unknown id', '{"sub": "http-user", "tenant_id": "t-http", "permissions": ["user:api-token:write"]}', $$fynn_api.rotate_user_api_token('{"id": "0000000000000000000Z", "request": {"gracePeriod": "1"}}')$$),
	('unknown id, grace out of range', '{"sub": "http-user", "tenant_id": "t-http", "permissions": ["user:api-token:write"]}', $$fynn_api.rotate_user_api_token('{"id": "0000000000000000000Z", "request": {"gracePeriod": -1}}')$$),
	('bad expiresAt, too short', '{"sub": "http-user", "tenant_id": "t-http", "permissions": ["user:api-token:write"]}', $$fynn_api.create_user_api_token('{"description": "ab", "expiresAt": "yesterday"}')$$),
	('too short, not held', '{"sub": "http-user", "tenant_id": "t-http", "permissions": ["user:api-token:write"]}', $$fynn_api.create_user_api_token('{"description": "ab", "permissions": ["admin"]}')$$)
	) AS v(kind, claims, call)) s
ORDER BY status, kind COLLATE "C";

-- ------------------------------------------------- success, inside a transaction

-- 201 Created with Location; the answer holds the token, once.
CALL pg_temp.act_as_user();
BEGIN;
SELECT keep('created', fynn_api.create_user_api_token('{"description": "created over http", "expiresAt": "2099-01-01T00:00:00Z"}')) AS created;
SELECT current_setting('response.status') AS status,
	replace(current_setting('response.headers'), id_of('created'), '<id of created>') AS headers;
COMMIT;
SELECT coalesce(current_setting('response.status', true), '') AS status_after_commit,
	coalesce(current_setting('response.headers', true), '') AS headers_after_commit;
SELECT pg_temp.answer_as(current_setting('request.jwt.claims'),
	$$fynn_api.create_user_api_token('{"description": "shape", "expiresAt": "2099-01-01T00:00:00.5+02:00", "permissions": ["user:api-token:read"]}')$$) AS created;

-- 200 for a listing and for one token.
SELECT regexp_replace(pg_temp.answer_as(current_setting('request.jwt.claims'), $$fynn_api.list_user_api_tokens('1', '1')$$),
	'"(createdAt|updatedAt)":"[^"]*"', '"\1":"<now>"', 'g') AS list;
SELECT regexp_replace(pg_temp.answer_as(current_setting('request.jwt.claims'), format('fynn_api.get_user_api_token(%L)', id_of('created'))),
	'"(createdAt|updatedAt)":"[^"]*"', '"\1":"<now>"', 'g') AS get;

-- 201 for a rotation, Location naming the successor; 204 for a revocation, with no body.
SELECT pg_temp.answer_as(current_setting('request.jwt.claims'),
	format('fynn_api.rotate_user_api_token(%L)', json_build_object('id', id_of('created'), 'request', json_build_object('gracePeriod', 60)))) AS rotated;
SELECT pg_temp.answer_as(current_setting('request.jwt.claims'),
	format('fynn_api.revoke_user_api_token(%L)', json_build_object('id', id_of('created')))) AS revoked;
-- DELETE /user/api-tokens/current with a token's claims: 204.
SELECT keep('current', fynn_tokens.create_user_api_token('current', NULL));
SELECT pg_temp.answer_as(fynn_tokens.verify_api_token(token)::text, $$fynn_api.revoke_current_api_token('{}')$$) AS revoked_current
FROM tok WHERE label = 'current';
-- POST /api-tokens/revoke: 202 with a fixed message, with or without a credential.
CALL pg_temp.act_as_user();
SELECT keep('leaked', fynn_tokens.create_user_api_token('leaked', NULL));
SELECT pg_temp.answer_as('', format('fynn_api.revoke_leaked_api_token(%L)', json_build_object('token', token))) AS leak_reported
FROM tok WHERE label = 'leaked';
SELECT pg_temp.answer_as('{"role": "web_anon"}', format('fynn_api.revoke_leaked_api_token(%L)', json_build_object('token', token))) AS reported_again
FROM tok WHERE label = 'leaked';

-- A contract error is an answer, not an error: the transaction goes on.
CALL pg_temp.act_as_user();
BEGIN;
SELECT fynn_api.get_user_api_token('0000000000000000000Z')->>'status' AS not_found;
SELECT current_setting('response.status') AS status;
SELECT fynn_api.list_user_api_tokens('1', '1')->'meta'->'pagination'->>'currentPage' AS then_a_listing;
SELECT current_setting('response.status') AS status;
COMMIT;

-- ---------------------------------------------------------- 400, 404, 422

-- Every 400 body, byte for byte.
CALL pg_temp.act_as_user();
SELECT body, pg_temp.answer_as(current_setting('request.jwt.claims'), format('fynn_api.create_user_api_token(%L)', body)) AS answer
FROM unnest(ARRAY['[]', '"text"', 'null', '{"description": 5}', '{"description": {"a": 1}}',
	'{"expiresAt": "tomorrow"}', '{"expiresAt": 1}', '{"permissions": "user:api-token:read"}',
	'{"permissions": [null]}', '{"description": "a\u0000b"}']) AS body
ORDER BY body COLLATE "C";
SELECT pg_temp.answer_as(current_setting('request.jwt.claims'), 'fynn_api.create_user_api_token(NULL)') AS sql_null_body;

-- 404, the same for a malformed, an unknown and another user's id.
SELECT keep('other user''s', fynn_tokens.create_user_api_token('other', NULL))
FROM (SELECT set_config('request.jwt.claims', '{"sub": "http-other", "tenant_id": "t-http", "permissions": ["user:api-token:write"]}', false)) s;
CALL pg_temp.act_as_user();
SELECT count(DISTINCT answer) AS distinct_answers, min(answer) AS answer
FROM unnest(ARRAY['x', '0000000000000000000Z', id_of('other user''s')]) AS id,
	LATERAL (VALUES (format('fynn_api.get_user_api_token(%L)', id)),
		(format('fynn_api.revoke_user_api_token(%L)', json_build_object('id', id))),
		(format('fynn_api.rotate_user_api_token(%L)', json_build_object('id', id)))) AS c(call),
	LATERAL (SELECT pg_temp.answer_as(current_setting('request.jwt.claims'), c.call) AS answer) a;

-- 422: one violation names its code in "type"; several are numbered there.
SELECT body, pg_temp.answer_as(current_setting('request.jwt.claims'), format('fynn_api.create_user_api_token(%L)', body)) AS answer
FROM unnest(ARRAY['{"description": "ab"}', '{"description": "ab", "expiresAt": "2020-01-01T00:00:00Z", "permissions": ["admin"]}',
	'{"permissions": []}']) AS body
ORDER BY body COLLATE "C";
-- Refused requests wrote nothing.
SELECT count(*) AS refused_rows FROM fynn_tokens.api_token
WHERE user_id = 'http-user' AND (description IN ('ab', 'a') OR description IS NULL OR permissions = '{}');
