-- The answer is exactly {id, token, description, expiresAt, permissions}; id is 20 of
-- [0-9A-Z]; token is api_ + 32 random base62 + 6 base62 of CRC32; only
-- SHA-256 of the token is stored; the answer tells PostgREST 201.
CALL act_as_writer('format-user');

CREATE TEMP TABLE answers AS
SELECT fynn_tokens.create_user_api_token('format ' || i, NULL) AS answer
FROM generate_series(1, 200) i;

SELECT count(*) AS answers,
	count(*) FILTER (WHERE answer->>'id' ~ '^[0-9A-Z]{20}$') AS ids_well_formed,
	count(*) FILTER (WHERE answer->>'token' ~ '^api_[0-9A-Za-z]{38}$') AS tokens_well_formed,
	count(*) FILTER (WHERE (SELECT array_agg(k ORDER BY k COLLATE "C") FROM json_object_keys(answer) k)
		= ARRAY['description', 'expiresAt', 'id', 'permissions', 'token']) AS exact_keys
FROM answers;

-- Every character class appears somewhere: the alphabets are really used.
SELECT bool_and(ids ~ '[0-9]') AND bool_and(ids ~ '[A-Z]') AS id_alphabet,
	bool_and(toks ~ '[0-9]') AND bool_and(toks ~ '[A-Z]') AND bool_and(toks ~ '[a-z]') AS token_alphabet
FROM (SELECT string_agg(answer->>'id', '') AS ids, string_agg(substr(answer->>'token', 5), '') AS toks FROM answers) s;

-- Each stored hash is SHA-256 of its whole token (pgcrypto's digest agrees).
SELECT count(*) AS hashes_match
FROM answers a JOIN fynn_tokens.api_token t ON t.id = a.answer->>'id'
WHERE t.token_hash = digest(a.answer->>'token', 'sha256');

-- No column of the table holds a returned token, or its random part.
SELECT count(*) AS rows_holding_a_token
FROM answers a JOIN fynn_tokens.api_token t ON t.user_id = 'format-user'
WHERE position(substr(a.answer->>'token', 5, 32) IN t::text) > 0
	OR position(convert_to(substr(a.answer->>'token', 5, 32), 'UTF8') IN t.token_hash) > 0;

-- created_at is the time of creation; the other timestamps start empty.
SELECT count(*) FILTER (WHERE created_at IS NOT NULL AND revoked_at IS NULL AND last_used_at IS NULL) AS fresh_rows
FROM fynn_tokens.api_token WHERE user_id = 'format-user';

-- response.status is 201 after a creation, and only inside the transaction.
BEGIN;
SELECT current_setting('response.status', true) AS before_create;
SELECT shape(fynn_tokens.create_user_api_token('status', NULL)) IS NOT NULL AS created;
SELECT current_setting('response.status') AS inside;
COMMIT;
SELECT coalesce(current_setting('response.status', true), '') AS after_commit;

-- The checksum catches a changed character without a lookup (see verify).
SELECT count(*) AS checksums_verify FROM answers WHERE fynn_tokens.verify_api_token(answer->>'token') IS NOT NULL;

-- A read-only transaction (and so a hot standby) refuses creation with 25006.
BEGIN TRANSACTION READ ONLY;
SELECT outcome($$SELECT fynn_tokens.create_user_api_token('read only', NULL)$$) AS read_only;
COMMIT;
