-- The event log, fynn_tokens.api_token_event: one row per token created,
-- rotated, revoked or deleted, in the same transaction, with
--   action   create | rotate | revoke | delete
--   reason   revoke: request, self, leak_report, cascade, rotation, sql;
--            create: rotation for a successor
--   actor    jwt | api_token (actor_token_id says which) | token_value | sql
--   related_token_id  a rotation's successor or predecessor, a cascade's root
--   db_user  session_user: the login the change came through
-- The log is append-only (42501 for UPDATE, DELETE and TRUNCATE); only
-- prune_api_token_events(older_than) removes rows, those older than given.
-- Changes that end nothing (last_used_at, description) log nothing.
TRUNCATE tok;
-- The user's events so far, ids replaced by labels; in the order they were written.
CREATE VIEW pg_temp.log AS
SELECT e.id AS seq, lbl(token_id) AS token, action, reason, actor, lbl(actor_token_id) AS actor_token,
	lbl(related_token_id) AS related, tenant_id, user_id, db_user = session_user AS by_session_user
FROM fynn_tokens.api_token_event e WHERE user_id = 'ev-user';
-- Events written since a mark.
CREATE TEMP TABLE mark (seq bigint);
CREATE PROCEDURE pg_temp.set_mark() LANGUAGE sql AS $$
	DELETE FROM mark; INSERT INTO mark SELECT coalesce(max(id), 0) FROM fynn_tokens.api_token_event $$;
CREATE VIEW pg_temp.since_mark AS
SELECT token, action, reason, actor, actor_token, related, tenant_id, user_id, by_session_user
FROM pg_temp.log WHERE seq > (SELECT seq FROM mark);

-- Creations: by a JWT, and by an API token (its child).
CALL act_as_writer('ev-user', 't-ev');
CALL pg_temp.set_mark();
SELECT keep('J', fynn_tokens.create_user_api_token('by jwt', NULL));
CALL act_as_token('J');
SELECT keep('J.child', fynn_tokens.create_user_api_token('by token', NULL));
SELECT * FROM pg_temp.since_mark ORDER BY token COLLATE "C";

-- Revocations, one of each reason.
CALL act_as_writer('ev-user', 't-ev');
SELECT keep(l, fynn_tokens.create_user_api_token(l, NULL))
FROM unnest(ARRAY['request', 'request by token', 'self', 'leak', 'sql', 'rotated']) l ORDER BY l;
CALL pg_temp.set_mark();
SELECT fynn_tokens.revoke_user_api_token(id_of('request'));
CALL act_as_token('J');
SELECT fynn_tokens.revoke_user_api_token(id_of('request by token'));
CALL act_as_token('self');
SELECT fynn_tokens.revoke_current_api_token();
CALL act_as('');
SELECT fynn_tokens.revoke_api_token(token_of('leak'));
UPDATE fynn_tokens.api_token SET revoked_at = now() WHERE id = id_of('sql');
CALL act_as_writer('ev-user', 't-ev');
SELECT keep('rotated successor', fynn_tokens.rotate_user_api_token(id_of('rotated')));
-- Revoking J cascades to its child.
SELECT fynn_tokens.revoke_user_api_token(id_of('J'));
SELECT * FROM pg_temp.since_mark ORDER BY token COLLATE "C", action COLLATE "C";

-- A DELETE is logged as such, by whoever ran it.
SELECT keep('deleted', fynn_tokens.create_user_api_token('deleted', NULL));
CALL pg_temp.set_mark();
DELETE FROM fynn_tokens.api_token WHERE id = id_of('deleted');
SELECT * FROM pg_temp.since_mark;
-- So is the DELETE of a revoked token: the row is gone either way.
CALL pg_temp.set_mark();
DELETE FROM fynn_tokens.api_token WHERE id = id_of('sql');
SELECT * FROM pg_temp.since_mark;

-- Changes that end nothing log nothing: last_used_at, description,
-- created_at, and a revoked token's revoked_at moved again.
SELECT keep('quiet', fynn_tokens.create_user_api_token('quiet', NULL));
CALL pg_temp.set_mark();
SELECT fynn_tokens.record_api_token_use(digest(token_of('quiet'), 'sha256')) AS used;
UPDATE fynn_tokens.api_token SET last_used_at = now() - interval '1 hour' WHERE id = id_of('quiet');
UPDATE fynn_tokens.api_token SET description = 'renamed' WHERE id = id_of('quiet');
UPDATE fynn_tokens.api_token SET created_at = created_at - interval '1 day' WHERE id = id_of('quiet');
UPDATE fynn_tokens.api_token SET revoked_at = revoked_at - interval '1 second' WHERE id = id_of('request');
SELECT count(*) AS events_for_quiet_changes FROM pg_temp.since_mark;

-- Refused and rolled-back requests leave no event.
CALL pg_temp.set_mark();
SELECT outcome($$SELECT fynn_tokens.create_user_api_token('ab', NULL)$$) IS NOT NULL AS refused;
BEGIN;
SELECT fynn_tokens.revoke_user_api_token(id_of('quiet'));
SELECT count(*) AS events_in_the_transaction FROM pg_temp.since_mark;
ROLLBACK;
SELECT count(*) AS events_after_rollback FROM pg_temp.since_mark;

-- db_user is the session's login, not a role set within it.
CREATE ROLE fynn_regress_events;
GRANT USAGE ON SCHEMA fynn_tokens TO fynn_regress_events;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA fynn_tokens TO fynn_regress_events;
SET ROLE fynn_regress_events;
CALL act_as_writer('ev-user', 't-ev');
SELECT fynn_tokens.create_user_api_token('as another role', NULL) IS NOT NULL AS created_as_another_role;
RESET ROLE;
SELECT db_user = session_user AS is_session_user, db_user <> 'fynn_regress_events' AS not_the_role
FROM fynn_tokens.api_token_event e JOIN fynn_tokens.api_token t ON t.id = e.token_id
WHERE t.description = 'as another role';
DROP OWNED BY fynn_regress_events;
DROP ROLE fynn_regress_events;

-- The log is append-only, for its owner too.
SELECT outcome($$UPDATE fynn_tokens.api_token_event SET reason = 'sql' WHERE user_id = 'ev-user'$$) AS update_events;
SELECT outcome($$DELETE FROM fynn_tokens.api_token_event WHERE user_id = 'ev-user'$$) AS delete_events;
SELECT outcome($$TRUNCATE fynn_tokens.api_token_event$$) AS truncate_events;
-- (The refusal explains the way out.)
DO $$
DECLARE
	hint text;
BEGIN
	DELETE FROM fynn_tokens.api_token_event;
EXCEPTION WHEN insufficient_privilege THEN
	GET STACKED DIAGNOSTICS hint = PG_EXCEPTION_HINT;
	RAISE NOTICE 'hint: %', hint;
END $$;
-- Appending is allowed: an operator may record an event of their own.
INSERT INTO fynn_tokens.api_token_event (occurred_at, tenant_id, user_id, token_id, action, reason, actor)
VALUES ('1999-12-31T23:59:59Z', 't-ev', 'ev-prune', 'OLD1', 'revoke', 'sql', 'sql'),
	('2000-01-01T00:00:00Z', 't-ev', 'ev-prune', 'OLD2', 'revoke', 'sql', 'sql'),
	('1970-01-01T00:00:00Z', 't-ev', 'ev-prune', 'OLD3', 'delete', 'sql', 'sql');
-- The CHECK constraints name the allowed values (the failing row, with its id and time, is left out).
SELECT split_part(outcome($$INSERT INTO fynn_tokens.api_token_event (occurred_at, tenant_id, user_id, token_id, action, actor)
	VALUES (now(), 't', 'u', 'X', 'undo', 'sql')$$), E'\n', 1) AS bad_action;
SELECT split_part(outcome($$INSERT INTO fynn_tokens.api_token_event (occurred_at, tenant_id, user_id, token_id, action, reason, actor)
	VALUES (now(), 't', 'u', 'X', 'revoke', 'boredom', 'sql')$$), E'\n', 1) AS bad_reason;
SELECT split_part(outcome($$INSERT INTO fynn_tokens.api_token_event (occurred_at, tenant_id, user_id, token_id, action, actor)
	VALUES (now(), 't', 'u', 'X', 'revoke', 'cron')$$), E'\n', 1) AS bad_actor;

-- prune_api_token_events(older_than): removes exactly the events that
-- occurred before it (not at it) and says how many.
SELECT count(*) AS events_before_prune FROM fynn_tokens.api_token_event \gset
SELECT fynn_tokens.prune_api_token_events('2000-01-01T00:00:00Z') AS pruned;
SELECT :events_before_prune - count(*) AS removed FROM fynn_tokens.api_token_event;
SELECT token_id, occurred_at FROM fynn_tokens.api_token_event WHERE user_id = 'ev-prune' ORDER BY token_id COLLATE "C";
SELECT fynn_tokens.prune_api_token_events('2000-01-01T00:00:00Z') AS pruned_again;
SELECT fynn_tokens.prune_api_token_events(NULL) AS pruned_null;
-- Pruning opens no door: the log is append-only again right after.
SELECT outcome($$DELETE FROM fynn_tokens.api_token_event WHERE user_id = 'ev-prune'$$) AS delete_after_prune;
-- Nor does a prune that fails half-way (here a DBA's trigger refuses one row).
INSERT INTO fynn_tokens.api_token_event (occurred_at, tenant_id, user_id, token_id, action, reason, actor)
VALUES ('1980-01-01T00:00:00Z', 't-ev', 'ev-prune', 'FAIL', 'revoke', 'sql', 'sql');
CREATE FUNCTION pg_temp.refuse_fail() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF OLD.token_id = 'FAIL' THEN RAISE EXCEPTION 'this row may not go'; END IF;
	RETURN OLD;
END $$;
CREATE TRIGGER zz_refuse_fail BEFORE DELETE ON fynn_tokens.api_token_event
	FOR EACH ROW EXECUTE FUNCTION pg_temp.refuse_fail();
SELECT outcome($$SELECT fynn_tokens.prune_api_token_events('2000-01-01T00:00:00Z')$$) AS failed_prune;
SELECT outcome($$DELETE FROM fynn_tokens.api_token_event WHERE user_id = 'ev-prune'$$) AS delete_after_failed_prune;
DROP TRIGGER zz_refuse_fail ON fynn_tokens.api_token_event;
SELECT fynn_tokens.prune_api_token_events('2000-01-01T00:00:00Z') AS pruned_after_all;

-- The user's events survived.
SELECT count(*) > 0 AS users_events_kept FROM pg_temp.log;
