-- What protects the tokens: EXECUTE on the functions is the only door, and
-- it is closed to PUBLIC on every function; the tables are readable by
-- their owner alone (row-level security with no policy answers no row to a
-- role granted the table, whatever claims it sets); the settings that decide
-- who a caller is are superuser-only; and no function depends on the
-- caller's search_path.

-- Every function of both schemas, not a sample: none is executable by PUBLIC
-- (a NULL proacl would mean the default, EXECUTE for PUBLIC).
SELECT p.oid::regprocedure::text AS function,
	p.proacl IS NOT NULL AND NOT EXISTS (
		SELECT FROM aclexplode(p.proacl) a WHERE a.grantee = 0) AS closed_to_public
FROM pg_proc p
WHERE p.pronamespace IN ('fynn_tokens'::regnamespace, 'fynn_api'::regnamespace)
ORDER BY p.oid::regprocedure::text COLLATE "C";

-- Every table and sequence: no privilege at all for PUBLIC.
SELECT c.oid::regclass::text AS relation, c.relkind,
	c.relacl IS NOT NULL AND NOT EXISTS (
		SELECT FROM aclexplode(c.relacl) a WHERE a.grantee = 0) AS closed_to_public
FROM pg_class c
WHERE c.relnamespace = 'fynn_tokens'::regnamespace AND c.relkind IN ('r', 'S')
ORDER BY c.oid::regclass::text COLLATE "C";

-- PUBLIC has no USAGE on the HTTP schema either (PostgREST's roles get it by grant).
SELECT has_schema_privilege('public', 'fynn_api', 'USAGE') AS public_uses_fynn_api;

-- Only record_api_token_use runs as the owner (it is plain SQL); the C
-- functions need neither SECURITY DEFINER nor a pinned search_path.
SELECT p.oid::regprocedure::text AS function, prosecdef AS security_definer, proconfig
FROM pg_proc p
WHERE pronamespace IN ('fynn_tokens'::regnamespace, 'fynn_api'::regnamespace)
	AND (prosecdef OR proconfig IS NOT NULL)
ORDER BY p.oid::regprocedure::text COLLATE "C";

-- Every setting of the extension decides who a caller is or what a tenant
-- may do: only a superuser sets them.
LOAD 'fynn_tokens';
SELECT name, context FROM pg_settings WHERE name LIKE 'fynn\_tokens.%' ORDER BY name COLLATE "C";

CREATE ROLE fynn_regress_public;
CREATE ROLE fynn_regress_api;
GRANT USAGE ON SCHEMA fynn_tokens TO fynn_regress_public, fynn_regress_api;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA fynn_tokens TO fynn_regress_api;

-- A role with nothing granted: no table, no function.
SET ROLE fynn_regress_public;
SELECT outcome('SELECT count(*) FROM fynn_tokens.api_token') AS public_read;
SELECT outcome($$INSERT INTO fynn_tokens.api_token (id, tenant_id, user_id, token_hash, permissions) VALUES ('X', 't', 'u', '\x00', '{}')$$) AS public_insert;
SELECT outcome('DELETE FROM fynn_tokens.api_token') AS public_delete;
SELECT outcome('SELECT count(*) FROM fynn_tokens.api_token_event') AS public_read_events;
SELECT outcome('SELECT count(*) FROM fynn_tokens.tenant_policy') AS public_read_policies;
CALL act_as_writer();
SELECT outcome($$SELECT fynn_tokens.create_user_api_token('public', NULL)$$) AS public_create;
SELECT outcome($$SELECT fynn_tokens.verify_api_token('api_x')$$) AS public_verify;
SELECT outcome($$SELECT fynn_tokens.record_api_token_use('\x00')$$) AS public_record;
SELECT outcome($$SELECT fynn_tokens.list_user_api_tokens()$$) AS public_list;
RESET ROLE;

-- A role with EXECUTE only, and no right on any table or sequence, uses
-- every function: nothing depends on SECURITY DEFINER.
SET ROLE fynn_regress_api;
CALL act_as_writer('exec-user', 'exec-tenant');
CREATE TEMP TABLE exec_issued AS
SELECT fynn_tokens.create_user_api_token('made by the api role', NULL) AS answer;
SELECT (fynn_tokens.verify_api_token(answer->>'token')->>'sub') AS verified_sub FROM exec_issued;
SELECT json_array_length(fynn_tokens.list_user_api_tokens()->'data') AS listed;
SELECT fynn_tokens.get_user_api_token(answer->>'id')->>'description' AS got FROM exec_issued;
SELECT shape(fynn_tokens.rotate_user_api_token(answer->>'id')) ->> 'description' AS rotated FROM exec_issued;
SELECT outcome(format('SELECT fynn_tokens.revoke_api_token(%L)', answer->>'token')) AS revoked_by_value FROM exec_issued;
SELECT outcome('SELECT count(*) FROM fynn_tokens.api_token') AS api_role_reads_table;
RESET ROLE;
SELECT action, reason, actor FROM fynn_tokens.api_token_event WHERE user_id = 'exec-user' ORDER BY id;

-- A role granted the table reads no row, whatever claims it forges: the
-- claims are a setting any role can set, so no policy trusts them.
GRANT SELECT, UPDATE, DELETE ON fynn_tokens.api_token TO fynn_regress_api;
SET ROLE fynn_regress_api;
CALL act_as_writer('exec-user', 'exec-tenant');
SELECT count(*) AS rows_seen_as_their_owner FROM fynn_tokens.api_token;
SELECT set_config('request.jwt.claims', '{"sub":"exec-user","tenant_id":"exec-tenant"}', false) IS NOT NULL AS forged;
SELECT count(*) AS rows_seen_with_forged_claims FROM fynn_tokens.api_token;
UPDATE fynn_tokens.api_token SET revoked_at = now();
DELETE FROM fynn_tokens.api_token;
RESET ROLE;
REVOKE SELECT, UPDATE, DELETE ON fynn_tokens.api_token FROM fynn_regress_api;
SELECT count(*) FILTER (WHERE revoked_at IS NULL) AS still_live_after_their_update_and_delete
FROM fynn_tokens.api_token WHERE user_id = 'exec-user';

-- A caller's search_path cannot redirect any function: a schema that
-- shadows the table, now() and the text equality operator changes nothing.
CREATE SCHEMA evil;
CREATE TABLE evil.api_token (LIKE fynn_tokens.api_token);
CREATE FUNCTION evil.now() RETURNS timestamptz LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'evil.now() was called'; END $$;
CREATE FUNCTION evil.text_eq(text, text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'evil = was called'; END $$;
CREATE OPERATOR evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.text_eq);
GRANT USAGE ON SCHEMA evil TO fynn_regress_api;
GRANT ALL ON ALL TABLES IN SCHEMA evil TO fynn_regress_api;
SET ROLE fynn_regress_api;
CALL act_as_writer('path-user');
SET search_path = evil, pg_catalog;
CREATE TEMP TABLE path_issued AS SELECT fynn_tokens.create_user_api_token('search path', NULL) AS answer;
SELECT fynn_tokens.verify_api_token(answer->>'token')->>'sub' AS verified FROM path_issued;
SELECT json_array_length(fynn_tokens.list_user_api_tokens()->'data') AS listed;
SELECT outcome(format('SELECT fynn_tokens.revoke_user_api_token(%L)', answer->>'id')) AS revoked FROM path_issued;
RESET search_path;
RESET ROLE;
SELECT (SELECT count(*) FROM evil.api_token) AS in_evil,
	(SELECT count(*) FROM fynn_tokens.api_token WHERE user_id = 'path-user' AND revoked_at IS NOT NULL) AS revoked_in_fynn_tokens;
DROP SCHEMA evil CASCADE;

-- Rows are dumped with the schema although the tables belong to the extension.
SELECT c.oid::regclass::text AS dumped, e.extcondition[array_position(e.extconfig, c.oid)] AS condition
FROM pg_extension e JOIN pg_class c ON c.oid = ANY (e.extconfig)
WHERE e.extname = 'fynn_tokens' ORDER BY c.oid::regclass::text COLLATE "C";

DROP OWNED BY fynn_regress_public, fynn_regress_api;
DROP ROLE fynn_regress_public;
DROP ROLE fynn_regress_api;
