-- PUBLIC can neither read nor write the table, nor call the functions; an
-- API role is granted EXECUTE; a role given the table sees only the rows of
-- its own tenant and user (row-level security).
CREATE ROLE fynn_regress_public;
CREATE ROLE fynn_regress_api;
GRANT USAGE ON SCHEMA fynn_tokens TO fynn_regress_public, fynn_regress_api;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA fynn_tokens TO fynn_regress_api;

SET ROLE fynn_regress_public;
SELECT outcome('SELECT count(*) FROM fynn_tokens.api_token') AS public_read;
SELECT outcome($$INSERT INTO fynn_tokens.api_token (id, tenant_id, user_id, token_hash, permissions) VALUES ('X', 't', 'u', '\x00', '{}')$$) AS public_insert;
SELECT outcome('DELETE FROM fynn_tokens.api_token') AS public_delete;
CALL act_as_writer();
SELECT outcome($$SELECT fynn_tokens.create_user_api_token('public', NULL)$$) AS public_create;
SELECT outcome($$SELECT fynn_tokens.verify_api_token('api_x')$$) AS public_verify;
SELECT outcome($$SELECT fynn_tokens.record_api_token_use('\x00')$$) AS public_record;
RESET ROLE;

-- The API role creates tokens through the function alone.
SET ROLE fynn_regress_api;
CALL act_as_writer('rls-user', 'rls-tenant');
SELECT shape(fynn_tokens.create_user_api_token('made by the api role', NULL))->>'description' AS api_create;
SELECT outcome('SELECT count(*) FROM fynn_tokens.api_token') AS api_read;
RESET ROLE;

-- Row-level security for a role that is granted the table.
GRANT SELECT ON fynn_tokens.api_token TO fynn_regress_api;
SET ROLE fynn_regress_api;
CALL act_as_writer('rls-user', 'rls-tenant');
SELECT count(*) AS own_rows, count(*) FILTER (WHERE user_id <> 'rls-user' OR tenant_id <> 'rls-tenant') AS foreign_rows
FROM fynn_tokens.api_token;
CALL act_as_writer('rls-user', 'another-tenant');
SELECT count(*) AS same_user_other_tenant FROM fynn_tokens.api_token;
CALL act_as('');
SELECT count(*) AS without_claims FROM fynn_tokens.api_token;
RESET ROLE;
REVOKE SELECT ON fynn_tokens.api_token FROM fynn_regress_api;
SELECT count(*) > 1 AS owner_sees_all FROM fynn_tokens.api_token;

-- Every function that touches the table runs as its owner with a pinned search_path.
SELECT p.oid::regprocedure AS function, prosecdef AS security_definer, proconfig
FROM pg_proc p WHERE pronamespace = 'fynn_tokens'::regnamespace ORDER BY 1::text;

-- A caller's search_path cannot redirect the functions.
CREATE SCHEMA evil;
CREATE TABLE evil.api_token (LIKE fynn_tokens.api_token);
SET search_path = evil, public;
CALL act_as_writer('path-user');
SELECT shape(fynn_tokens.create_user_api_token('search path', NULL))->>'description' AS created;
SELECT (SELECT count(*) FROM evil.api_token) AS in_evil, (SELECT count(*) FROM fynn_tokens.api_token WHERE user_id = 'path-user') AS in_fynn_tokens;
RESET search_path;
DROP SCHEMA evil CASCADE;

-- Rows are dumped with the schema although the table belongs to the extension.
SELECT extconfig = ARRAY['fynn_tokens.api_token'::regclass::oid] AS dumped_table, extcondition FROM pg_extension WHERE extname = 'fynn_tokens';

DROP OWNED BY fynn_regress_public, fynn_regress_api;
DROP ROLE fynn_regress_public;
DROP ROLE fynn_regress_api;
