-- Creating a token must behave exactly like an INSERT into
-- fynn_tokens.api_token, whatever a DBA added to the table. The extension
-- inserts directly (a tuple formed in C, every CHECK and NOT NULL checked,
-- defaults filled in, index entries made) only while nothing else could
-- react to an INSERT; otherwise - a trigger on INSERT (a foreign key is
-- one), a rule, forced row-level security, a generated or identity column -
-- it runs a real INSERT as the table's owner. It decides when it (re)reads
-- the table's shape, after every change of the table, and says so at
-- DEBUG1: "fynn_tokens: rows of <table> are inserted directly" or
-- "... inserted by SQL: <reason>". Below, client_min_messages is raised
-- to debug1 for one call at a time, inside create_logged().
--
-- The DBA's objects live in schema public and name what they use with
-- its schema: the extension runs its INSERT with search_path pinned to
-- pg_catalog, pg_temp, as any SECURITY DEFINER function should.
CALL act_as_writer('ins-user', 't-ins');
-- Only this file's statements may make the extension read a shape again:
-- autovacuum's statistics updates would too, so it is off meanwhile.
ALTER TABLE fynn_tokens.api_token SET (autovacuum_enabled = false);
ALTER TABLE fynn_tokens.api_token_event SET (autovacuum_enabled = false);
ALTER TABLE fynn_tokens.tenant_policy SET (autovacuum_enabled = false);
CREATE FUNCTION pg_temp.create_logged(description text) RETURNS text LANGUAGE plpgsql
SET client_min_messages = debug1 AS $$
BEGIN
	RETURN fynn_tokens.create_user_api_token(description, NULL)->>'description';
END $$;
CREATE FUNCTION pg_temp.tokens(description text) RETURNS bigint LANGUAGE sql AS $$
	SELECT count(*) FROM fynn_tokens.api_token WHERE api_token.description = tokens.description $$;
CREATE FUNCTION pg_temp.create_events(description text) RETURNS bigint LANGUAGE sql AS $$
	SELECT count(*) FROM fynn_tokens.api_token_event e JOIN fynn_tokens.api_token t ON t.id = e.token_id
	WHERE t.description = create_events.description AND e.action = 'create' $$;

-- (a) With the extension's own triggers only (AFTER UPDATE, DELETE and
-- TRUNCATE), every table of the extension is written directly; the first
-- call of the session reads all three shapes.
SELECT tgname, tgtype FROM pg_trigger WHERE tgrelid = 'fynn_tokens.api_token'::regclass ORDER BY tgname COLLATE "C";
SELECT pg_temp.create_logged('direct at first');
SELECT pg_temp.create_logged('direct again');

-- (b) A DBA's AFTER INSERT audit trigger sees every token created, a
-- rotation's successor included; the extension's events are written too.
CREATE TABLE public.token_audit (token_id text, tenant_id text, description text);
CREATE FUNCTION public.audit_token() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO public.token_audit VALUES (NEW.id, NEW.tenant_id, NEW.description);
	RETURN NULL;
END $$;
CREATE TRIGGER token_audit AFTER INSERT ON fynn_tokens.api_token
	FOR EACH ROW EXECUTE FUNCTION public.audit_token();
SELECT pg_temp.create_logged('audited 1');
CREATE TEMP TABLE audited AS
SELECT fynn_tokens.create_user_api_token('audited ' || n, NULL)->>'id' AS id FROM generate_series(2, 3) n;
INSERT INTO audited SELECT fynn_tokens.rotate_user_api_token(id)->>'id' FROM audited LIMIT 1;
SELECT t.description, a.tenant_id, a.description = t.description AS audit_matches,
	pg_temp.create_events(t.description) AS create_events
FROM fynn_tokens.api_token t JOIN public.token_audit a ON a.token_id = t.id
ORDER BY t.description COLLATE "C", t.revoked_at NULLS LAST;
SELECT count(*) AS created_in_this_step, count(a.token_id) AS audited
FROM fynn_tokens.api_token t LEFT JOIN public.token_audit a ON a.token_id = t.id
WHERE t.description LIKE 'audited %';
DROP TRIGGER token_audit ON fynn_tokens.api_token;

-- (c) A BEFORE INSERT trigger that raises makes creation fail with its
-- error, and nothing is written: no token, no event; a rotation refused
-- this way leaves the old token alive.
CREATE FUNCTION public.refuse_token() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.description LIKE 'forbidden%' THEN
		RAISE EXCEPTION 'tokens named % are not allowed', NEW.description USING ERRCODE = 'P0001';
	END IF;
	RETURN NEW;
END $$;
CREATE TEMP TABLE before_refusal AS SELECT count(*) AS events FROM fynn_tokens.api_token_event;
CREATE TEMP TABLE forbidden AS SELECT fynn_tokens.create_user_api_token('forbidden to rotate', NULL) AS answer;
CREATE TRIGGER token_refuse BEFORE INSERT ON fynn_tokens.api_token
	FOR EACH ROW EXECUTE FUNCTION public.refuse_token();
SELECT pg_temp.create_logged('allowed');
SELECT outcome($$SELECT fynn_tokens.create_user_api_token('forbidden', NULL)$$) AS forbidden;
SELECT outcome($$SELECT fynn_tokens.create_user_api_token('{"description": "forbidden json"}'::json)$$) AS forbidden_json;
-- (Not a contract error: the HTTP form raises it too, as INSERT would.)
SELECT outcome($$SELECT fynn_api.create_user_api_token('{"description": "forbidden http"}')$$) AS forbidden_http;
SELECT outcome(format('SELECT fynn_tokens.rotate_user_api_token(%L)', answer->>'id')) AS forbidden_rotation FROM forbidden;
SELECT pg_temp.tokens('forbidden') + pg_temp.tokens('forbidden json') + pg_temp.tokens('forbidden http') AS forbidden_tokens,
	(SELECT count(*) FROM fynn_tokens.api_token WHERE description = 'forbidden to rotate') AS rotate_tokens,
	(SELECT count(*) FROM fynn_tokens.api_token_event) - (SELECT events FROM before_refusal) AS new_events,
	(SELECT fynn_tokens.verify_api_token(answer->>'token') IS NOT NULL FROM forbidden) AS old_token_alive;
DROP TRIGGER token_refuse ON fynn_tokens.api_token;

-- (d) A FOREIGN KEY (tenant_id) REFERENCES a tenants table (its checks are
-- triggers): a token for an unknown tenant is refused (23503), for a known one accepted.
CREATE TABLE public.tenants (tenant_id text COLLATE "C" PRIMARY KEY);
INSERT INTO public.tenants VALUES ('t-ins');
ALTER TABLE fynn_tokens.api_token ADD CONSTRAINT api_token_tenant_fkey
	FOREIGN KEY (tenant_id) REFERENCES public.tenants NOT VALID;
SELECT pg_temp.create_logged('known tenant');
SELECT outcome_as('{"sub": "ins-user", "tenant_id": "t-unknown", "permissions": ["user:api-token:write"]}',
	$$SELECT fynn_tokens.create_user_api_token('unknown tenant', NULL)$$) AS unknown_tenant;
SELECT pg_temp.tokens('known tenant') AS known_tenant_tokens, pg_temp.tokens('unknown tenant') AS unknown_tenant_tokens;
CALL act_as_writer('ins-user', 't-ins');
ALTER TABLE fynn_tokens.api_token DROP CONSTRAINT api_token_tenant_fkey;

-- (e) A CHECK constraint a DBA adds is enforced on the direct path too
-- (no trigger: the direct path), with INSERT's error (23514).
ALTER TABLE fynn_tokens.api_token ADD CONSTRAINT api_token_not_blocked CHECK (tenant_id <> 'blocked') NOT VALID;
SELECT pg_temp.create_logged('check passes');
SELECT split_part(outcome_as('{"sub": "ins-user", "tenant_id": "blocked", "permissions": ["user:api-token:write"]}',
	$$SELECT fynn_tokens.create_user_api_token('check fails', NULL)$$), E'\n', 1) AS blocked_tenant;
SELECT pg_temp.tokens('check fails') AS blocked_tokens,
	(SELECT count(*) FROM fynn_tokens.api_token_event WHERE tenant_id = 'blocked') AS blocked_events;
CALL act_as_writer('ins-user', 't-ins');
ALTER TABLE fynn_tokens.api_token DROP CONSTRAINT api_token_not_blocked;

-- (f) A rule (CREATE RULE ... ON INSERT ... DO ALSO) fires.
CREATE TABLE public.token_rule_log (token_id text, description text);
CREATE RULE token_rule AS ON INSERT TO fynn_tokens.api_token
	DO ALSO INSERT INTO public.token_rule_log VALUES (NEW.id, NEW.description);
SELECT pg_temp.create_logged('ruled');
SELECT l.description, l.token_id = t.id AS rule_saw_the_row
FROM public.token_rule_log l JOIN fynn_tokens.api_token t ON t.description = l.description;
DROP RULE token_rule ON fynn_tokens.api_token;
-- Once the rule is dropped, the direct path is back (pg_class.relhasrules
-- stays true after the last rule is gone: it cannot be what decides), and
-- a rule on UPDATE only does not concern an INSERT.
SELECT pg_temp.create_logged('rule dropped');
CREATE RULE token_update_rule AS ON UPDATE TO fynn_tokens.api_token
	DO ALSO INSERT INTO public.token_rule_log VALUES (NEW.id, 'updated');
SELECT pg_temp.create_logged('update rule only');
DROP RULE token_update_rule ON fynn_tokens.api_token;

-- (g) Forced row-level security, with a restrictive policy, applies to
-- the owner's INSERT. (Superusers bypass row-level security even when it
-- is forced, and the extension's creator is one: so for this step the
-- table belongs to an ordinary role, as a DBA might arrange.)
SELECT tableowner AS original_owner FROM pg_tables WHERE schemaname = 'fynn_tokens' AND tablename = 'api_token' \gset
CREATE ROLE fynn_regress_owner;
GRANT USAGE ON SCHEMA fynn_tokens TO fynn_regress_owner;
ALTER TABLE fynn_tokens.api_token OWNER TO fynn_regress_owner;
CREATE POLICY dba_all ON fynn_tokens.api_token USING (true) WITH CHECK (true);
CREATE POLICY dba_no_rls_blocked ON fynn_tokens.api_token AS RESTRICTIVE FOR INSERT
	WITH CHECK (tenant_id <> 'rls-blocked');
ALTER TABLE fynn_tokens.api_token FORCE ROW LEVEL SECURITY;
SELECT pg_temp.create_logged('rls passes');
SELECT outcome_as('{"sub": "ins-user", "tenant_id": "rls-blocked", "permissions": ["user:api-token:write"]}',
	$$SELECT fynn_tokens.create_user_api_token('rls fails', NULL)$$) AS rls_blocked;
SELECT pg_temp.tokens('rls passes') AS rls_passes_tokens, pg_temp.tokens('rls fails') AS rls_fails_tokens;
CALL act_as_writer('ins-user', 't-ins');
ALTER TABLE fynn_tokens.api_token NO FORCE ROW LEVEL SECURITY;
DROP POLICY dba_no_rls_blocked ON fynn_tokens.api_token;
DROP POLICY dba_all ON fynn_tokens.api_token;
ALTER TABLE fynn_tokens.api_token OWNER TO :"original_owner";
REVOKE USAGE ON SCHEMA fynn_tokens FROM fynn_regress_owner;
DROP ROLE fynn_regress_owner;

-- (h) A column a DBA adds gets its DEFAULT on the direct path, volatile
-- defaults included; a generated column takes the SQL path and is computed.
CREATE SEQUENCE public.token_serial;
ALTER TABLE fynn_tokens.api_token ADD COLUMN dba_note text DEFAULT 'dba default',
	ADD COLUMN dba_serial bigint DEFAULT nextval('public.token_serial'),
	ADD COLUMN dba_added_at timestamptz DEFAULT clock_timestamp();
SELECT pg_temp.create_logged('with defaults');
SELECT dba_note, dba_serial = (SELECT last_value FROM public.token_serial) AS serial_drawn, dba_added_at >= created_at AS added_at_set
FROM fynn_tokens.api_token WHERE description = 'with defaults';
ALTER TABLE fynn_tokens.api_token ADD COLUMN dba_tenant_upper text GENERATED ALWAYS AS (upper(tenant_id)) STORED;
SELECT pg_temp.create_logged('with a generated column');
SELECT dba_note, dba_serial = (SELECT last_value FROM public.token_serial) AS serial_drawn, dba_tenant_upper
FROM fynn_tokens.api_token WHERE description = 'with a generated column';
ALTER TABLE fynn_tokens.api_token DROP COLUMN dba_tenant_upper;
-- A NOT NULL column without a default is refused as INSERT refuses it (23502).
ALTER TABLE fynn_tokens.api_token ADD COLUMN dba_required text;
UPDATE fynn_tokens.api_token SET dba_required = 'old row';
ALTER TABLE fynn_tokens.api_token ALTER COLUMN dba_required SET NOT NULL;
SELECT split_part(outcome($$SELECT fynn_tokens.create_user_api_token('not null refused', NULL)$$), E'\n', 1) AS not_null;
SELECT pg_temp.tokens('not null refused') AS not_null_tokens;
ALTER TABLE fynn_tokens.api_token DROP COLUMN dba_required;
-- With the columns dropped again (their slots remain, dropped), the direct path still works.
ALTER TABLE fynn_tokens.api_token DROP COLUMN dba_note, DROP COLUMN dba_serial, DROP COLUMN dba_added_at;
DROP SEQUENCE public.token_serial;
SELECT pg_temp.create_logged('after dropped columns');
SELECT count(*) AS dropped_slots FROM pg_attribute WHERE attrelid = 'fynn_tokens.api_token'::regclass AND attisdropped;
CREATE TEMP TABLE after_drop AS SELECT fynn_tokens.create_user_api_token('verifies after dropped columns', NULL)->>'token' AS token;
SELECT fynn_tokens.verify_api_token(token)->>'sub' AS verified FROM after_drop;

-- (i) Dropping the DBA's objects brings the direct path back at once: the
-- decision follows the table's relcache invalidations.
CREATE TRIGGER token_audit AFTER INSERT ON fynn_tokens.api_token
	FOR EACH ROW EXECUTE FUNCTION public.audit_token();
SELECT pg_temp.create_logged('trigger back');
DROP TRIGGER token_audit ON fynn_tokens.api_token;
SELECT pg_temp.create_logged('trigger gone');
-- Inside one transaction too, including a rollback of the DROP.
BEGIN;
CREATE TRIGGER token_audit AFTER INSERT ON fynn_tokens.api_token
	FOR EACH ROW EXECUTE FUNCTION public.audit_token();
SELECT pg_temp.create_logged('in a transaction, trigger');
SAVEPOINT before_drop;
DROP TRIGGER token_audit ON fynn_tokens.api_token;
SELECT pg_temp.create_logged('in a transaction, dropped');
ROLLBACK TO SAVEPOINT before_drop;
SELECT pg_temp.create_logged('in a transaction, drop rolled back');
COMMIT;
SELECT t.description, a.token_id IS NOT NULL AS audited FROM fynn_tokens.api_token t
LEFT JOIN public.token_audit a ON a.token_id = t.id
WHERE t.description LIKE 'in a transaction%' ORDER BY t.description COLLATE "C";
DROP TRIGGER token_audit ON fynn_tokens.api_token;

-- (j) Both paths write the same row for the same request: every column
-- but id, token_hash, created_at and updated_at is equal (and
-- updated_at = created_at in both), and so are their create events.
-- A no-op trigger sends the second of each pair down the SQL path; the
-- pairs cover a NULL and a set description, expiry and permissions, and a
-- child token (parent_id); a DBA column with a default is in both rows.
CREATE FUNCTION public.no_op() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
ALTER TABLE fynn_tokens.api_token ADD COLUMN dba_note text DEFAULT 'dba default';
CREATE TEMP TABLE pair (path text, request text, id text, token text);
CREATE FUNCTION pg_temp.create_pair_member(path text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	parent json;
BEGIN
	PERFORM set_config('request.jwt.claims', '{"sub": "ins-pair", "tenant_id": "t-ins", "permissions": ["user:api-token:write", "invoice:read"]}', false);
	INSERT INTO pair SELECT path, 'nulls', a->>'id', a->>'token'
		FROM fynn_tokens.create_user_api_token(NULL, NULL) a;
	INSERT INTO pair SELECT path, 'all set', a->>'id', a->>'token'
		FROM fynn_tokens.create_user_api_token('equivalent', '2099-01-01T00:00:00.123456Z', ARRAY['invoice:read']) a;
	INSERT INTO pair SELECT path, 'json', a->>'id', a->>'token'
		FROM fynn_tokens.create_user_api_token('{"description": "equivalent json", "expiresAt": "2098-06-30T12:00:00+02:00"}'::json) a;
	parent := fynn_tokens.create_user_api_token('equivalent parent', '2097-01-01T00:00:00Z');
	PERFORM set_config('request.jwt.claims', fynn_tokens.verify_api_token(parent->>'token')::text, false);
	INSERT INTO pair SELECT path, 'child', a->>'id', a->>'token'
		FROM fynn_tokens.create_user_api_token('equivalent child', NULL) a;
END $$;
SELECT pg_temp.create_pair_member('direct');
CREATE TRIGGER token_no_op AFTER INSERT ON fynn_tokens.api_token FOR EACH ROW EXECUTE FUNCTION public.no_op();
SELECT pg_temp.create_logged('the SQL path now');
SELECT pg_temp.create_pair_member('sql');
DROP TRIGGER token_no_op ON fynn_tokens.api_token;
-- The child's parent differs (each path made its own parent): compare
-- who the parent (and the creating token) is instead.
CREATE TEMP VIEW pair_row AS
SELECT p.path, p.request,
	to_jsonb(t) - 'id' - 'token_hash' - 'created_at' - 'updated_at' - 'parent_id'
		|| jsonb_build_object('parent', (SELECT description FROM fynn_tokens.api_token WHERE id = t.parent_id)) AS row,
	t.updated_at = t.created_at AS updated_is_created, t.token_hash = digest(p.token, 'sha256') AS hash_of_token,
	(SELECT to_jsonb(e) - 'id' - 'occurred_at' - 'token_id' - 'actor_token_id'
		|| jsonb_build_object('actor_token', (SELECT description FROM fynn_tokens.api_token WHERE id = e.actor_token_id))
	 FROM fynn_tokens.api_token_event e WHERE e.token_id = t.id) AS event
FROM pair p JOIN fynn_tokens.api_token t ON t.id = p.id;
SELECT d.request, d.row = s.row AS same_row, d.event = s.event AS same_event,
	d.updated_is_created AND s.updated_is_created AS updated_is_created, d.hash_of_token AND s.hash_of_token AS hashes_of_tokens
FROM pair_row d JOIN pair_row s ON s.request = d.request AND s.path = 'sql'
WHERE d.path = 'direct' ORDER BY d.request COLLATE "C";
SELECT request, row, event - 'db_user' AS event FROM pair_row WHERE path = 'direct' ORDER BY request COLLATE "C";

-- Clean up: the table is as the extension made it.
CALL act_as_writer('ins-user', 't-ins');
ALTER TABLE fynn_tokens.api_token DROP COLUMN dba_note;
DROP FUNCTION public.no_op(), public.audit_token(), public.refuse_token();
DROP TABLE public.token_audit, public.tenants, public.token_rule_log;
ALTER TABLE fynn_tokens.api_token RESET (autovacuum_enabled);
ALTER TABLE fynn_tokens.api_token_event RESET (autovacuum_enabled);
ALTER TABLE fynn_tokens.tenant_policy RESET (autovacuum_enabled);
SELECT pg_temp.create_logged('direct at the end');
-- Nothing the test added is left (NOT NULL, a constraint of its own from 18 on, not counted).
SELECT (SELECT count(*) FROM pg_trigger WHERE tgrelid = 'fynn_tokens.api_token'::regclass) AS triggers,
	(SELECT count(*) FROM pg_policy WHERE polrelid = 'fynn_tokens.api_token'::regclass) AS policies,
	(SELECT count(*) FROM pg_rewrite WHERE ev_class = 'fynn_tokens.api_token'::regclass) AS rules,
	(SELECT relforcerowsecurity FROM pg_class WHERE oid = 'fynn_tokens.api_token'::regclass) AS forced_rls,
	(SELECT count(*) FROM pg_constraint WHERE conrelid = 'fynn_tokens.api_token'::regclass AND contype <> 'n') AS constraints,
	(SELECT count(*) FROM pg_class WHERE relnamespace = 'fynn_tokens'::regnamespace AND reloptions IS NOT NULL) AS reloptions;
