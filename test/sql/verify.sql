-- verify_api_token: the claims a token stands for, or NULL when it is
-- malformed, fails its checksum (without touching the table), is unknown,
-- expired or revoked. Read-only, so it works on a hot standby.
CALL act_as('{"sub": "verify-user", "tenant_id": "t-verify", "permissions": ["user:api-token:write", "invoice:read"]}');
CREATE TEMP TABLE issued AS
SELECT fynn_tokens.create_user_api_token('verify ' || i, CASE WHEN i = 3 THEN now() + interval '1 hour' END) AS answer
FROM generate_series(1, 4) i;
CREATE TEMP VIEW tok AS
SELECT replace(answer->>'description', 'verify ', '')::int AS n, answer->>'id' AS id, answer->>'token' AS token FROM issued;

-- A live token: its user, tenant and permissions snapshot, and its id.
SELECT (fynn_tokens.verify_api_token(token)::jsonb - 'token_id') AS claims,
	fynn_tokens.verify_api_token(token)->>'token_id' = id AS token_id_matches
FROM tok WHERE n = 1;

-- The checksum is CRC32 of the random part in base62: an independent implementation agrees.
SELECT bool_and(right(token, 6) = test_checksum(substr(token, 5, 32))) AS checksum_agrees FROM tok;

-- Later claims of the session do not change what a token stands for.
CALL act_as('{"sub": "someone-else", "tenant_id": "t-other", "permissions": []}');
SELECT fynn_tokens.verify_api_token(token)->>'sub' AS still_verify_user FROM tok WHERE n = 1;

-- Expired: expires_at passed.
UPDATE fynn_tokens.api_token SET expires_at = now() - interval '1 second'
WHERE id = (SELECT id FROM tok WHERE n = 3);
SELECT fynn_tokens.verify_api_token(token) IS NULL AS expired_is_null FROM tok WHERE n = 3;

-- Revoked: revoked_at set.
UPDATE fynn_tokens.api_token SET revoked_at = now() WHERE id = (SELECT id FROM tok WHERE n = 2);
SELECT fynn_tokens.verify_api_token(token) IS NULL AS revoked_is_null FROM tok WHERE n = 2;

-- Tampered: one random character changed and the checksum forged to match:
-- well-formed, so it costs one index lookup, and unknown.
CREATE TEMP VIEW forged AS
SELECT 'api_' || tampered || test_checksum(tampered) AS token
FROM (SELECT overlay(substr(token, 5, 32) PLACING
		CASE WHEN substr(token, 10, 1) = 'A' THEN 'B' ELSE 'A' END FROM 6 FOR 1) AS tampered
	  FROM tok WHERE n = 4) s;
SELECT fynn_tokens.verify_api_token(token) IS NULL AS forged_is_null FROM forged;

-- Checksum-broken: the last character changed.
SELECT fynn_tokens.verify_api_token(left(token, 41) || CASE WHEN right(token, 1) = 'a' THEN 'b' ELSE 'a' END) IS NULL
	AS bad_checksum_is_null FROM tok WHERE n = 4;

-- Malformed tokens, and NULL.
SELECT kind AS malformed, fynn_tokens.verify_api_token(t) IS NULL AS is_null
FROM (SELECT token FROM tok WHERE n = 4) k,
	LATERAL (VALUES ('empty', ''), ('prefix only', 'api_'),
		('upper-case prefix', 'API_' || substr(k.token, 5)), ('other prefix', 'tok_' || substr(k.token, 5)),
		('one character more', k.token || 'x'), ('one character less', left(k.token, 41)),
		('not base62', overlay(k.token PLACING '-' FROM 8 FOR 1)), ('upper-cased', upper(k.token)),
		('surrounding space', ' ' || k.token)) AS v(kind, t)
WHERE t <> k.token;
SELECT fynn_tokens.verify_api_token(NULL) IS NULL AS null_is_null;

-- Malformed and checksum-broken tokens never touch the table; a well-formed one does exactly one index scan.
BEGIN;
SELECT idx_scan AS before FROM pg_stat_xact_user_tables WHERE relid = 'fynn_tokens.api_token'::regclass \gset
SELECT fynn_tokens.verify_api_token(left(token, 41) || CASE WHEN right(token, 1) = 'a' THEN 'b' ELSE 'a' END) FROM tok WHERE n = 4;
SELECT fynn_tokens.verify_api_token('api_short');
SELECT idx_scan - :before AS scans_for_rejected FROM pg_stat_xact_user_tables WHERE relid = 'fynn_tokens.api_token'::regclass;
SELECT fynn_tokens.verify_api_token(token) IS NOT NULL AS live FROM tok WHERE n = 4;
SELECT idx_scan - :before AS scans_for_one_verify FROM pg_stat_xact_user_tables WHERE relid = 'fynn_tokens.api_token'::regclass;
COMMIT;

-- The hash form, for gateways that keep the token out of database logs.
SELECT fynn_tokens.verify_api_token_hash(digest(token, 'sha256'))::text = fynn_tokens.verify_api_token(token)::text AS hash_form_agrees
FROM tok WHERE n = 4;
SELECT fynn_tokens.verify_api_token_hash(substr(digest(token, 'sha256'), 1, 31)) IS NULL AS short_hash_is_null FROM tok WHERE n = 4;
SELECT fynn_tokens.verify_api_token_hash(digest(token, 'sha256')) IS NULL AS revoked_hash_is_null FROM tok WHERE n = 2;

-- Read-only: it works in a read-only transaction, as on a hot standby.
BEGIN TRANSACTION READ ONLY;
SELECT fynn_tokens.verify_api_token(token)->>'tenant_id' AS read_only_tenant FROM tok WHERE n = 4;
COMMIT;
SELECT proname, provolatile FROM pg_proc
WHERE pronamespace = 'fynn_tokens'::regnamespace AND proname LIKE 'verify%' ORDER BY 1;

-- The claim names follow the settings, so the answer can be fed back as request.jwt.claims.
SET fynn_tokens.user_claim = 'uid';
SELECT fynn_tokens.verify_api_token(token)::jsonb ? 'uid' AS uses_configured_name FROM tok WHERE n = 4;
RESET fynn_tokens.user_claim;
SELECT set_config('request.jwt.claims', fynn_tokens.verify_api_token(token)::text, false) IS NOT NULL AS fed_back FROM tok WHERE n = 4;
SELECT shape(fynn_tokens.create_user_api_token('made with a token''s claims', NULL))->>'description' AS chained;
SELECT user_id, tenant_id FROM fynn_tokens.api_token WHERE description = 'made with a token''s claims';
