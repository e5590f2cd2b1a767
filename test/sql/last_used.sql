-- record_api_token_use: last_used_at of a live token, written at most once
-- a minute per token; revoked, expired and unknown tokens are left alone.
CALL act_as_writer('usage-user');
CREATE TEMP TABLE usage AS
SELECT n, answer->>'id' AS id, digest(answer->>'token', 'sha256') AS hash
FROM (SELECT n, fynn_tokens.create_user_api_token('usage ' || n, NULL) AS answer
	  FROM generate_series(1, 3) n) s;

SELECT last_used_at IS NULL AS unused_at_first FROM fynn_tokens.api_token WHERE id = (SELECT id FROM usage WHERE n = 1);
SELECT fynn_tokens.record_api_token_use(hash) AS first_use_writes FROM usage WHERE n = 1;
SELECT last_used_at BETWEEN created_at AND now() AS set_to_the_time_of_use FROM fynn_tokens.api_token WHERE id = (SELECT id FROM usage WHERE n = 1);
SELECT fynn_tokens.record_api_token_use(hash) AS second_use_within_a_minute_writes FROM usage WHERE n = 1;
UPDATE fynn_tokens.api_token SET last_used_at = now() - interval '59 seconds' WHERE id = (SELECT id FROM usage WHERE n = 1);
SELECT fynn_tokens.record_api_token_use(hash) AS use_59_seconds_later_writes FROM usage WHERE n = 1;

UPDATE fynn_tokens.api_token SET last_used_at = now() - interval '61 seconds' WHERE id = (SELECT id FROM usage WHERE n = 1);
SELECT fynn_tokens.record_api_token_use(hash) AS use_a_minute_later_writes FROM usage WHERE n = 1;

UPDATE fynn_tokens.api_token SET revoked_at = now() WHERE id = (SELECT id FROM usage WHERE n = 2);
SELECT fynn_tokens.record_api_token_use(hash) AS revoked_writes FROM usage WHERE n = 2;
UPDATE fynn_tokens.api_token SET expires_at = now() - interval '1 second' WHERE id = (SELECT id FROM usage WHERE n = 3);
SELECT fynn_tokens.record_api_token_use(hash) AS expired_writes FROM usage WHERE n = 3;
SELECT fynn_tokens.record_api_token_use(digest('api_unknown', 'sha256')) AS unknown_writes;
SELECT count(*) AS untouched FROM fynn_tokens.api_token WHERE id IN (SELECT id FROM usage WHERE n > 1) AND last_used_at IS NULL;
