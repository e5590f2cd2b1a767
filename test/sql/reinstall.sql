-- A backend that used the extension keeps working after it is dropped and
-- created again: cached relation OIDs are forgotten on invalidation.
CALL act_as_writer('reinstall-user');
SELECT shape(fynn_tokens.create_user_api_token('before reinstall', NULL))->>'description' AS before;
SELECT fynn_tokens.verify_api_token('api_' || repeat('0', 32) || test_checksum(repeat('0', 32))) IS NULL AS verify_before;
DROP EXTENSION fynn_tokens;
CREATE EXTENSION fynn_tokens;
SELECT shape(fynn_tokens.create_user_api_token('after reinstall', NULL))->>'description' AS after;
SELECT count(*) AS rows_after_reinstall FROM fynn_tokens.api_token;
CREATE TEMP TABLE reissued AS SELECT fynn_tokens.create_user_api_token('verify after reinstall', NULL)->>'token' AS token;
SELECT fynn_tokens.verify_api_token(token)->>'sub' AS verify_after FROM reissued;
