-- Expiry is judged by the clock, not by the start of the statement or the
-- transaction: a long procedure (or a pooled session's long transaction)
-- that outlives a token's expiry sees the token as dead from that moment.
-- (Finding 9: verify_api_token must return NULL once expires_at has passed,
-- even inside the CALL that found the token live.)
CALL act_as_writer('clock-user', 't-clock');
CREATE TEMP TABLE clock_result (step text PRIMARY KEY, outcome text);
CREATE PROCEDURE pg_temp.outlive_a_token() LANGUAGE plpgsql AS $$
DECLARE
	answer json;
	claims text;
BEGIN
	answer := fynn_tokens.create_user_api_token('expires in 1.5 s', clock_timestamp() + interval '1.5 seconds');
	COMMIT;
	claims := fynn_tokens.verify_api_token(answer->>'token')::text;
	INSERT INTO clock_result VALUES ('1 verified before expiry', (claims IS NOT NULL)::text);
	PERFORM set_config('request.jwt.claims', claims, false);
	INSERT INTO clock_result VALUES ('2 its claims before expiry',
		outcome($q$SELECT fynn_tokens.list_user_api_tokens()$q$));
	-- The statement and the transaction began before the expiry; the clock passes it.
	PERFORM pg_sleep(1.7);
	INSERT INTO clock_result VALUES ('3 expiry passed by the clock', (clock_timestamp() > (
		SELECT expires_at FROM fynn_tokens.api_token WHERE id = answer->>'id'))::text);
	INSERT INTO clock_result VALUES ('4 now() is still before the expiry', (now() < (
		SELECT expires_at FROM fynn_tokens.api_token WHERE id = answer->>'id'))::text);
	INSERT INTO clock_result VALUES ('5 verified after expiry',
		(fynn_tokens.verify_api_token(answer->>'token') IS NOT NULL)::text);
	INSERT INTO clock_result VALUES ('6 verified by hash after expiry',
		(fynn_tokens.verify_api_token_hash(digest(answer->>'token', 'sha256')) IS NOT NULL)::text);
	INSERT INTO clock_result VALUES ('7 its claims after expiry',
		outcome($q$SELECT fynn_tokens.list_user_api_tokens()$q$));
END $$;
CALL pg_temp.outlive_a_token();
SELECT step, outcome FROM clock_result ORDER BY step COLLATE "C";
