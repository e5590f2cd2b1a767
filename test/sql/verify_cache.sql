-- The verify cache: a backend remembers the claims of the tokens it has
-- verified and answers again without reading the table, until a change
-- could have ended or narrowed them.  What is remembered is observed, not
-- assumed: each check counts the index scans of the token table its own
-- verification made.  Other sessions' changes:
-- test/specs/verify_cache_sessions.spec; a hot standby:
-- test/standby/test-hot-standby.sh.
TRUNCATE tok;
CALL act_as_writer('cache-user', 't-cache');
SELECT keep(l, fynn_tokens.create_user_api_token('cache ' || l, NULL)) AS kept
FROM unnest(ARRAY['a', 'b', 'c', 'd', 'e', 'h', 'parent']) l ORDER BY l;
CALL act_as_token('parent');
SELECT keep('child', fynn_tokens.create_user_api_token('{"description": "cache child"}'::json)) AS kept;

-- What one verification answered, and whether it read the table to answer.
CREATE FUNCTION pg_temp.verified(token text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	scans_before bigint := (SELECT idx_scan FROM pg_stat_xact_user_tables
							WHERE relid = 'fynn_tokens.api_token'::regclass);
	claims json := fynn_tokens.verify_api_token(token);
	scans bigint := (SELECT idx_scan FROM pg_stat_xact_user_tables
					 WHERE relid = 'fynn_tokens.api_token'::regclass) - scans_before;
BEGIN
	RETURN CASE WHEN claims IS NULL THEN 'refused' ELSE 'live ' || (claims->>'permissions') END
		|| CASE scans WHEN 0 THEN ', from memory' WHEN 1 THEN ', read the table' ELSE ', ' || scans || ' scans' END;
END $$;

-- Remembered: the first verification reads the table, the next ones do not,
-- in this transaction or a later one.
SELECT pg_temp.verified(token_of('a')) AS first;
SELECT pg_temp.verified(token_of('a')) AS again;
BEGIN;
SELECT pg_temp.verified(token_of('a')) AS in_a_later_transaction;
COMMIT;

-- This session's own revocation is seen by its next statement, and its
-- rollback brings the token back.
BEGIN;
UPDATE fynn_tokens.api_token SET revoked_at = now() WHERE id = id_of('a');
SELECT pg_temp.verified(token_of('a')) AS revoked_in_this_transaction;
ROLLBACK;
SELECT pg_temp.verified(token_of('a')) AS after_rollback;
SELECT pg_temp.verified(token_of('a')) AS after_rollback_again;

-- Every change that can end or narrow a token, made as an operator would.
SELECT pg_temp.verified(token_of(l)) AS verified FROM unnest(ARRAY['b', 'c', 'd', 'e']) l;
SELECT pg_temp.verified(token_of(l)) AS remembered FROM unnest(ARRAY['b', 'c', 'd', 'e']) l;
UPDATE fynn_tokens.api_token SET permissions = ARRAY['user:api-token:read'] WHERE id = id_of('b');
SELECT pg_temp.verified(token_of('b')) AS narrowed;
UPDATE fynn_tokens.api_token SET expires_at = now() - interval '1 second' WHERE id = id_of('c');
SELECT pg_temp.verified(token_of('c')) AS expired_by_update;
DELETE FROM fynn_tokens.api_token WHERE id = id_of('d');
SELECT pg_temp.verified(token_of('d')) AS deleted;
BEGIN;
TRUNCATE fynn_tokens.api_token;
SELECT pg_temp.verified(token_of('e')) AS truncated;
ROLLBACK;

-- Changes of what verify does not answer leave the memory alone.
SELECT pg_temp.verified(token_of('e')) AS after_truncate_rolled_back;
SELECT pg_temp.verified(token_of('e')) AS remembered;
UPDATE fynn_tokens.api_token SET description = 'renamed', last_used_at = now() WHERE id = id_of('e');
SELECT pg_temp.verified(token_of('e')) AS after_rename_and_use;

-- The extension's own revocation, and its cascade to a child token.
SELECT pg_temp.verified(token_of(l)) AS remembered FROM unnest(ARRAY['child', 'child']) l;
CALL act_as_writer('cache-user', 't-cache');
SELECT fynn_tokens.revoke_user_api_token(id_of('parent')) AS revoked;
SELECT pg_temp.verified(token_of('child')) AS child_of_revoked_parent;

-- A token this transaction created is not remembered (the transaction may
-- roll back), and it is gone after the rollback.
BEGIN;
SELECT fynn_tokens.create_user_api_token('cache uncommitted', NULL)->>'token' AS uncommitted \gset
SELECT pg_temp.verified(:'uncommitted') AS created_here;
SELECT pg_temp.verified(:'uncommitted') AS created_here_again;
ROLLBACK;
SELECT pg_temp.verified(:'uncommitted') AS rolled_back;

-- Expiry is judged by the clock at each use, remembered or not.
SELECT fynn_tokens.create_user_api_token('cache short', clock_timestamp() + interval '1 second')->>'token' AS short \gset
SELECT pg_temp.verified(:'short') AS before_expiry;
SELECT pg_temp.verified(:'short') AS before_expiry_again;
SELECT pg_sleep(1.1);
SELECT pg_temp.verified(:'short') AS after_expiry;

-- The answer follows the claim-name settings, remembered or not.
SELECT pg_temp.verified(token_of(l)) AS verified FROM unnest(ARRAY['e', 'e']) l;
SET fynn_tokens.user_claim = 'uid';
SELECT fynn_tokens.verify_api_token(token_of('e'))::jsonb ? 'uid' AS renamed_claim;
RESET fynn_tokens.user_claim;
SELECT fynn_tokens.verify_api_token(token_of('e'))::jsonb ? 'sub' AS claim_name_restored;

-- A serializable transaction always reads the table: SSI needs its reads.
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT pg_temp.verified(token_of('e')) AS serializable;
SELECT pg_temp.verified(token_of('e')) AS serializable_again;
COMMIT;

-- Size: 0 turns the cache off; otherwise the least recently used token
-- makes room.
SET fynn_tokens.verify_cache_size = 0;
SELECT pg_temp.verified(token_of(l)) AS cache_off FROM unnest(ARRAY['e', 'e']) l;
SET fynn_tokens.verify_cache_size = 2;
SELECT l, pg_temp.verified(token_of(l)) AS size_2
FROM unnest(ARRAY['a', 'e', 'h', 'a', 'h']) WITH ORDINALITY u(l, n) ORDER BY n;
RESET fynn_tokens.verify_cache_size;

-- Age: no answer is remembered longer than verify_cache_max_age.  That is
-- the bound on a change made with session_replication_role = replica (it
-- skips the triggers, so nothing announces it): until then the old answer
-- stands.
SET fynn_tokens.verify_cache_max_age = 1;
SELECT pg_temp.verified(token_of(l)) AS remembered FROM unnest(ARRAY['h', 'h']) l;
SET session_replication_role = replica;
UPDATE fynn_tokens.api_token SET revoked_at = now() WHERE id = id_of('h');
RESET session_replication_role;
SELECT pg_temp.verified(token_of('h')) AS revoked_behind_the_triggers;
SELECT pg_sleep(1.1);
SELECT pg_temp.verified(token_of('h')) AS after_max_age;
SELECT pg_temp.verified(token_of('a')) AS read_again;
SELECT pg_temp.verified(token_of('a')) AS within_max_age;
SELECT pg_sleep(1.1);
SELECT pg_temp.verified(token_of('a')) AS after_max_age;
RESET fynn_tokens.verify_cache_max_age;

-- Nothing is remembered while a change trigger does not fire (disabled
-- here; absent on a 0.1.0 schema: test/upgrade/test-upgrade.sh), since
-- changes then go unannounced; disabling one empties the memory.
SELECT pg_temp.verified(token_of(l)) AS remembered FROM unnest(ARRAY['a', 'a']) l;
ALTER TABLE fynn_tokens.api_token DISABLE TRIGGER api_token_deleted;
SELECT pg_temp.verified(token_of(l)) AS trigger_disabled FROM unnest(ARRAY['a', 'a']) l;
ALTER TABLE fynn_tokens.api_token ENABLE TRIGGER api_token_deleted;
SELECT pg_temp.verified(token_of(l)) AS trigger_enabled FROM unnest(ARRAY['a', 'a']) l;

-- Both settings are the superuser's, like every other.
SELECT name, context, boot_val, unit FROM pg_settings WHERE name LIKE 'fynn_tokens.verify_cache%' ORDER BY name;
