-- fynn_api.pre_request(), PostgREST's db-pre-request: it authenticates an
-- X-API-Key header (request.headers, names in lower case as PostgREST
-- gives them).
--   No x-api-key: it does nothing.
--   A live, well-formed token: its claims, plus "role", become
--     request.jwt.claims, and the request switches to the role named by
--     fynn_tokens.api_token_role; the use is recorded (last_used_at) unless
--     the transaction is read-only.
--   Anything else (malformed, bad checksum, unknown, revoked, expired), or a
--     JWT and an API key together: RAISE SQLSTATE 'PGRST' with message
--     {"code":"FYNN401","message":...} and detail {"status":401,"headers":...},
--     which PostgREST answers as that 401.
--   fynn_tokens.api_token_role empty: 55000, naming the setting.
-- As in PostgREST, the session's login (the authenticator) is not a
-- superuser and is granted the roles it may switch to.
CREATE ROLE fynn_regress_authenticator NOINHERIT;
CREATE ROLE fynn_regress_anon;
CREATE ROLE fynn_regress_api_user;
GRANT fynn_regress_anon, fynn_regress_api_user TO fynn_regress_authenticator;
GRANT USAGE ON SCHEMA fynn_api TO fynn_regress_anon, fynn_regress_api_user;
GRANT EXECUTE ON FUNCTION fynn_api.pre_request() TO fynn_regress_anon;
GRANT EXECUTE ON FUNCTION fynn_api.list_user_api_tokens(text, text), fynn_api.create_user_api_token(json)
	TO fynn_regress_api_user;

-- Each token with the claims verify_api_token gave for it when it was
-- issued (setup.sql's registry); the authenticator reads it too.
TRUNCATE tok;
GRANT SELECT ON tok TO PUBLIC;
CREATE FUNCTION pg_temp.headers(label text) RETURNS text LANGUAGE sql STABLE AS $$
	SELECT json_build_object('x-api-key', token_of(label), 'accept', 'application/json')::text $$;
-- A request as PostgREST makes it: role and claims of the JWT (here the
-- anonymous ones unless given), the headers, then pre_request(); the
-- outcome is the role and claims it leaves, or the error's fields.
CREATE FUNCTION pg_temp.request(headers text, claims text DEFAULT '{"role": "fynn_regress_anon"}') RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
	state text; msg text; detail text;
	result text;
BEGIN
	PERFORM set_config('role', 'fynn_regress_anon', true);
	PERFORM set_config('request.jwt.claims', claims, true);
	PERFORM set_config('request.headers', headers, true);
	PERFORM fynn_api.pre_request();
	SELECT format('ok: role %s, claims %s', current_user, CASE WHEN c ? 'token_id'
			THEN c || jsonb_build_object('token_id', (SELECT label FROM tok WHERE id = c->>'token_id')) ELSE c END)
		INTO result FROM (SELECT current_setting('request.jwt.claims')::jsonb AS c) s;
	RETURN result;
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL;
	RETURN state || E'\n  message: ' || msg || coalesce(E'\n  detail: ' || nullif(detail, ''), '');
END $$;
-- Whether the token's use is recorded. SECURITY DEFINER (its owner is the
-- superuser running this file), so that the authenticator's session can
-- look between its requests without leaving that session.
CREATE FUNCTION pg_temp.last_used(label text) RETURNS boolean LANGUAGE sql SECURITY DEFINER AS $$
	SELECT last_used_at IS NOT NULL FROM fynn_tokens.api_token t JOIN tok ON tok.id = t.id WHERE tok.label = last_used.label $$;

CALL act_as('{"sub": "pre-user", "tenant_id": "t-pre", "permissions": ["user:api-token:read", "user:api-token:write", "invoice:read"]}');
SELECT keep('live', fynn_tokens.create_user_api_token('live', '2099-01-01T00:00:00Z', ARRAY['user:api-token:read', 'invoice:read']));
SELECT keep('second', fynn_tokens.create_user_api_token('second', NULL));
SELECT keep('writer', fynn_tokens.create_user_api_token('writer', NULL));
SELECT keep('revoked', fynn_tokens.create_user_api_token('revoked', NULL));
SELECT keep('expired', fynn_tokens.create_user_api_token('expired', '2099-01-01T00:00:00Z'));
SELECT fynn_tokens.revoke_user_api_token(id) FROM tok WHERE label = 'revoked';
UPDATE fynn_tokens.api_token SET expires_at = now() - interval '1 second' FROM tok WHERE tok.id = api_token.id AND label = 'expired';
CALL act_as('');

-- The setting that names the role is superuser-only; the authenticator
-- cannot point it elsewhere.
SET fynn_tokens.api_token_role = 'fynn_regress_api_user';
SET SESSION AUTHORIZATION fynn_regress_authenticator;
SELECT outcome($$SET fynn_tokens.api_token_role = 'postgres'$$) AS authenticator_sets_role;

-- No x-api-key: nothing happens, the anonymous role and claims stay.
SELECT pg_temp.request(NULL) AS no_headers;
SELECT pg_temp.request('') AS empty_headers;
SELECT pg_temp.request('{"accept": "application/json"}') AS other_headers;
SELECT pg_temp.request('{"x-api-key": null}') AS null_key;
SELECT pg_temp.request('{"x-api-key": 5}') AS number_key;
SELECT pg_temp.request('not json') AS headers_not_json;
-- A JWT's request without a key is left alone too.
SELECT pg_temp.request('{}', '{"role": "fynn_regress_anon", "sub": "jwt-user", "tenant_id": "t-pre"}') AS jwt_without_key;
-- PostgREST gives header names in lower case; another spelling is another header.
SELECT pg_temp.request(json_build_object('X-API-Key', token_of('live'))::text) AS capitalised_name;

-- A live token: its claims with "role", and the role itself.
SELECT pg_temp.request(pg_temp.headers('live')) AS live;
-- Its claims are exactly what verify_api_token says, plus "role".
BEGIN;
SELECT pg_temp.request(pg_temp.headers('second')) IS NOT NULL AS authenticated;
SELECT current_user AS role_in_the_request, session_user = 'fynn_regress_authenticator' AS session_unchanged,
	current_setting('request.jwt.claims')::jsonb
		= (SELECT claims::jsonb || '{"role": "fynn_regress_api_user"}' FROM tok WHERE label = 'second') AS claims_are_verify_plus_role;
-- The request then runs as the token's user, under the token's permissions.
SELECT http_answer(fynn_api.list_user_api_tokens())::jsonb - 'body' AS listed_as_the_token;
COMMIT;
-- Role and claims end with the transaction.
SELECT current_user AS role_after_commit, current_setting('request.jwt.claims', true) AS claims_after_commit;

-- Use is recorded in a read-write transaction, not in a read-only one.
RESET SESSION AUTHORIZATION;
UPDATE fynn_tokens.api_token SET last_used_at = NULL FROM tok WHERE tok.id = api_token.id AND label = 'live';
SET SESSION AUTHORIZATION fynn_regress_authenticator;
BEGIN TRANSACTION READ ONLY;
SELECT pg_temp.request(pg_temp.headers('live')) LIKE 'ok:%' AS read_only_request;
COMMIT;
SELECT pg_temp.last_used('live') AS used_after_read_only;
BEGIN;
SELECT pg_temp.request(pg_temp.headers('live')) LIKE 'ok:%' AS read_write_request;
COMMIT;
SELECT pg_temp.last_used('live') AS used_after_read_write;

-- The request goes on in the same transaction: its token, whose row the
-- recorded use has just updated, creates a child (under a FOR SHARE lock on
-- that very row).
BEGIN;
SELECT pg_temp.request(pg_temp.headers('writer')) LIKE 'ok:%' AS authenticated;
SELECT http_answer(fynn_api.create_user_api_token('{"description": "made in the request"}'))->'status' AS child_created;
COMMIT;
RESET SESSION AUTHORIZATION;
SELECT pg_temp.last_used('writer') AS writer_used, t.parent_id = k.id AS child_of_writer
FROM fynn_tokens.api_token t, tok k WHERE t.description = 'made in the request' AND k.label = 'writer';
SET SESSION AUTHORIZATION fynn_regress_authenticator;

-- Refused keys: PGRST, with PostgREST's 401 in the message and detail.
SELECT kind, pg_temp.request(json_build_object('x-api-key', key)::text) AS outcome
FROM (SELECT token_of('live') AS t) k,
	LATERAL (VALUES
		('malformed', 'api_notatoken'),
		('empty', ''),
		('bearer prefix', 'Bearer ' || k.t),
		('bad checksum', left(k.t, 41) || CASE WHEN right(k.t, 1) = 'a' THEN 'b' ELSE 'a' END),
		('unknown', 'api_' || repeat('Q', 32) || test_checksum(repeat('Q', 32))),
		('revoked', token_of('revoked')),
		('expired', token_of('expired'))) AS v(kind, key)
ORDER BY kind COLLATE "C";
-- A JWT and an API key together: refused, even when both name the same user.
SELECT pg_temp.request(pg_temp.headers('live'),
	'{"role": "fynn_regress_anon", "sub": "pre-user", "tenant_id": "t-pre", "permissions": ["user:api-token:read"]}') AS jwt_and_key;
-- So are claims of a JWT that names nobody valid: a JWT was presented all the same.
SELECT claims, pg_temp.request(pg_temp.headers('live'), claims) AS outcome
FROM unnest(ARRAY['{"role": "fynn_regress_anon", "sub": ""}', '{"role": "fynn_regress_anon", "sub": "pre-user"}',
	'{"role": "fynn_regress_anon", "iss": "https://idp.example"}']) AS claims
ORDER BY claims COLLATE "C";
-- Only PostgREST's anonymous claims, {"role": ...} alone, are no credential.
SELECT pg_temp.request(pg_temp.headers('live'), '{"role": "fynn_regress_anon"}') LIKE 'ok: role fynn_regress_api_user%' AS anonymous_and_key;
SELECT pg_temp.request(pg_temp.headers('live'), '{}') LIKE 'ok: role fynn_regress_api_user%' AS empty_claims_and_key;
-- A refused key changes nothing.
BEGIN;
SELECT pg_temp.request(json_build_object('x-api-key', token_of('revoked'))::text) LIKE 'PGRST%' AS refused;
SELECT current_user AS role_after_refusal;
COMMIT;

-- Without fynn_tokens.api_token_role no token can be used (55000, naming the setting).
RESET SESSION AUTHORIZATION;
SET fynn_tokens.api_token_role = '';
SET SESSION AUTHORIZATION fynn_regress_authenticator;
SELECT pg_temp.request(pg_temp.headers('live')) AS role_not_set;
-- (A bad key is still a 401 first.)
SELECT pg_temp.request('{"x-api-key": "api_x"}') AS bad_key_role_not_set;
-- A role the authenticator was not granted cannot be switched to.
RESET SESSION AUTHORIZATION;
CREATE ROLE fynn_regress_not_granted;
SET fynn_tokens.api_token_role = 'fynn_regress_not_granted';
SET SESSION AUTHORIZATION fynn_regress_authenticator;
SELECT pg_temp.request(pg_temp.headers('live')) AS role_not_granted;

RESET SESSION AUTHORIZATION;
RESET fynn_tokens.api_token_role;
DROP OWNED BY fynn_regress_authenticator, fynn_regress_anon, fynn_regress_api_user;
DROP ROLE fynn_regress_authenticator, fynn_regress_anon, fynn_regress_api_user, fynn_regress_not_granted;
