-- fynn_tokens 0.1.0 -> 0.2.0: a token's whole life (list, get, revoke,
-- rotate, narrow, chains), tenant policies, the event log, change
-- notifications for caches, and the HTTP contract as SQL (schema fynn_api).

\echo Use "ALTER EXTENSION fynn_tokens UPDATE TO '0.2.0'" to load this file. \quit

-- ------------------------------------------------------------------ tokens

-- Appended, so 0.1.0's columns keep the positions its rows were written with:
-- the token that created this one (NULL: created with a JWT), and when the
-- token last changed through the API (set at creation; NULL only for rows
-- 0.1.0 wrote, which the API reads as never changed since created_at).
ALTER TABLE @extschema@.api_token
	ADD COLUMN parent_id text COLLATE "C",
	ADD COLUMN updated_at timestamptz;

-- Listing a user's live tokens, newest first (replaces the 0.1.0 index).
DROP INDEX @extschema@.api_token_owner_idx;
CREATE INDEX api_token_live_owner_idx
	ON @extschema@.api_token (tenant_id, user_id, created_at, id)
	WHERE revoked_at IS NULL;

-- Cascades: the live children of a token.
CREATE INDEX api_token_live_parent_idx
	ON @extschema@.api_token (parent_id)
	WHERE parent_id IS NOT NULL AND revoked_at IS NULL;

-- 0.1.0's policy compared rows with request.jwt.claims, which any role can
-- set: it protected nothing from a role granted the table.  Row-level
-- security stays enabled with no policy at all, so such a role reads no row
-- whatever it sets; the owner (and the extension's functions) see all.
DROP POLICY api_token_owner_only ON @extschema@.api_token;

COMMENT ON TABLE @extschema@.api_token IS
	'API tokens issued to users; holds SHA-256 of each token, never the token; only its owner reads it';

-- -------------------------------------------------------------- policies

CREATE TABLE @extschema@.tenant_policy (
	tenant_id		text COLLATE "C" NOT NULL PRIMARY KEY,
	-- Longest lifetime of a new token; a token without expiry is refused too.
	max_lifetime	interval
		CONSTRAINT tenant_policy_max_lifetime_positive CHECK (max_lifetime > interval '0'),
	-- Most live (not revoked, not expired) tokens one user may hold.
	max_live_tokens integer
		CONSTRAINT tenant_policy_max_live_tokens_positive CHECK (max_live_tokens > 0)
);

COMMENT ON TABLE @extschema@.tenant_policy IS
	'per-tenant limits for new API tokens; a NULL column falls back to the fynn_tokens.default_* setting';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.tenant_policy', '');
REVOKE ALL ON @extschema@.tenant_policy FROM PUBLIC;

-- ------------------------------------------------------------- event log

CREATE SEQUENCE @extschema@.api_token_event_id_seq;

CREATE TABLE @extschema@.api_token_event (
	id				bigint NOT NULL
		DEFAULT nextval('@extschema@.api_token_event_id_seq') PRIMARY KEY,
	occurred_at		timestamptz NOT NULL,
	tenant_id		text COLLATE "C" NOT NULL,
	user_id			text COLLATE "C" NOT NULL,
	token_id		text COLLATE "C" NOT NULL,
	action			text NOT NULL
		CONSTRAINT api_token_event_action CHECK (action IN ('create', 'rotate', 'revoke', 'delete')),
	-- Why: for a revocation request, self, leak_report, cascade, rotation or
	-- sql (an operator's statement); rotation for a rotation's successor.
	reason			text
		CONSTRAINT api_token_event_reason
		CHECK (reason IN ('request', 'self', 'leak_report', 'cascade', 'rotation', 'sql')),
	-- The credential that did it: a JWT, an API token (actor_token_id says
	-- which), the token's own secret (a leak report), or plain SQL.
	actor			text NOT NULL
		CONSTRAINT api_token_event_actor CHECK (actor IN ('jwt', 'api_token', 'token_value', 'sql')),
	actor_token_id	text COLLATE "C",
	-- The other token involved: a rotation's successor or predecessor, a cascade's root.
	related_token_id text COLLATE "C",
	-- The database login the change came through (the gateway's, PostgREST's, an operator's).
	db_user			name NOT NULL DEFAULT session_user
);

ALTER SEQUENCE @extschema@.api_token_event_id_seq OWNED BY @extschema@.api_token_event.id;

COMMENT ON TABLE @extschema@.api_token_event IS
	'append-only log of every API token created, rotated, revoked or deleted; readable by its owner';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.api_token_event', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.api_token_event_id_seq', '');
REVOKE ALL ON @extschema@.api_token_event FROM PUBLIC;
REVOKE ALL ON SEQUENCE @extschema@.api_token_event_id_seq FROM PUBLIC;

CREATE FUNCTION @extschema@.api_token_event_append_only() RETURNS trigger
	AS 'MODULE_PATHNAME', 'fynn_tokens_event_append_only'
	LANGUAGE C;

CREATE TRIGGER api_token_event_append_only
	BEFORE UPDATE OR DELETE ON @extschema@.api_token_event
	FOR EACH ROW EXECUTE FUNCTION @extschema@.api_token_event_append_only();

CREATE TRIGGER api_token_event_no_truncate
	BEFORE TRUNCATE ON @extschema@.api_token_event
	FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.api_token_event_append_only();

CREATE FUNCTION @extschema@.prune_api_token_events(older_than timestamptz)
	RETURNS bigint
	AS 'MODULE_PATHNAME', 'fynn_tokens_prune_api_token_events'
	LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.prune_api_token_events(timestamptz) IS
	'removes events that occurred before older_than: the only way to shorten the log';

-- --------------------------------------------- what a change of a token sets off

-- Every change that can end or narrow a token NOTIFYs its id on channel
-- fynn_tokens_changes at commit, cascades to descendant tokens, and logs a
-- revocation; updates of last_used_at or description alone set off nothing.
CREATE FUNCTION @extschema@.api_token_changed() RETURNS trigger
	AS 'MODULE_PATHNAME', 'fynn_tokens_api_token_changed'
	LANGUAGE C;

CREATE TRIGGER api_token_changed
	AFTER UPDATE ON @extschema@.api_token
	FOR EACH ROW
	WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at
		  OR OLD.expires_at IS DISTINCT FROM NEW.expires_at
		  OR OLD.permissions IS DISTINCT FROM NEW.permissions
		  OR OLD.tenant_id IS DISTINCT FROM NEW.tenant_id
		  OR OLD.user_id IS DISTINCT FROM NEW.user_id
		  OR OLD.token_hash IS DISTINCT FROM NEW.token_hash
		  OR OLD.id IS DISTINCT FROM NEW.id
		  OR OLD.parent_id IS DISTINCT FROM NEW.parent_id)
	EXECUTE FUNCTION @extschema@.api_token_changed();

CREATE TRIGGER api_token_deleted
	AFTER DELETE ON @extschema@.api_token
	FOR EACH ROW EXECUTE FUNCTION @extschema@.api_token_changed();

CREATE TRIGGER api_token_truncated
	AFTER TRUNCATE ON @extschema@.api_token
	FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.api_token_changed();

-- ------------------------------------------------------ the core functions

-- The C functions touch the tables directly and resolve no names, so they
-- need neither SECURITY DEFINER nor a pinned search_path (each costs time on
-- every call); where they run SQL they do it as the table's owner with
-- search_path pinned, for that statement only.  EXECUTE is the boundary.
ALTER FUNCTION @extschema@.create_user_api_token(text, timestamptz) SECURITY INVOKER RESET search_path;
ALTER FUNCTION @extschema@.create_user_api_token(json) SECURITY INVOKER RESET search_path;
ALTER FUNCTION @extschema@.verify_api_token(text) SECURITY INVOKER RESET search_path;
ALTER FUNCTION @extschema@.verify_api_token_hash(bytea) SECURITY INVOKER RESET search_path;

COMMENT ON FUNCTION @extschema@.create_user_api_token(json) IS
	'creates an API token from a request body {"description", "expiresAt", "permissions"}';
COMMENT ON FUNCTION @extschema@.verify_api_token(text) IS
	'the claims an API token stands for (sub, tenant_id, permissions, token_id, exp), or NULL unless it is live';

CREATE FUNCTION @extschema@.create_user_api_token(
	description text,
	expires_at timestamptz,
	permissions text[])
	RETURNS json
	AS 'MODULE_PATHNAME', 'fynn_tokens_create_user_api_token_permissions'
	LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.create_user_api_token(text, timestamptz, text[]) IS
	'creates an API token holding the given subset of the caller''s permissions (NULL: all of them)';

CREATE FUNCTION @extschema@.list_user_api_tokens(page integer DEFAULT 1, "limit" integer DEFAULT 30)
	RETURNS json
	AS 'MODULE_PATHNAME', 'fynn_tokens_list_user_api_tokens'
	LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.list_user_api_tokens(integer, integer) IS
	'one page of the caller''s tokens that are not revoked, newest first, with the total';

CREATE FUNCTION @extschema@.get_user_api_token(id text)
	RETURNS json
	AS 'MODULE_PATHNAME', 'fynn_tokens_get_user_api_token'
	LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.get_user_api_token(text) IS
	'one of the caller''s tokens that is not revoked; P0002 for any other id';

CREATE FUNCTION @extschema@.revoke_user_api_token(id text)
	RETURNS void
	AS 'MODULE_PATHNAME', 'fynn_tokens_revoke_user_api_token'
	LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.revoke_user_api_token(text) IS
	'revokes one of the caller''s tokens and its descendants, effective at commit';

CREATE FUNCTION @extschema@.revoke_current_api_token()
	RETURNS void
	AS 'MODULE_PATHNAME', 'fynn_tokens_revoke_current_api_token'
	LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.revoke_current_api_token() IS
	'the API token named by the claims'' token_id revokes itself; needs no permission';

CREATE FUNCTION @extschema@.revoke_api_token(token text)
	RETURNS void
	AS 'MODULE_PATHNAME', 'fynn_tokens_revoke_api_token'
	LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.revoke_api_token(text) IS
	'revokes a token by its value, for leak reports: no identity needed, the same outcome whether or not it existed';

CREATE FUNCTION @extschema@.rotate_user_api_token(id text, grace_period interval DEFAULT interval '0')
	RETURNS json
	AS 'MODULE_PATHNAME', 'fynn_tokens_rotate_user_api_token'
	LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.rotate_user_api_token(text, interval) IS
	'replaces one of the caller''s tokens by a successor; the old one stays valid for the grace period (at most 7 days)';

REVOKE ALL ON FUNCTION @extschema@.create_user_api_token(text, timestamptz, text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.list_user_api_tokens(integer, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.get_user_api_token(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.revoke_user_api_token(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.revoke_current_api_token() FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.revoke_api_token(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.rotate_user_api_token(text, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.prune_api_token_events(timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.api_token_changed() FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.api_token_event_append_only() FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.claimed_user_id() FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.claimed_tenant_id() FROM PUBLIC;

-- -------------------------------------------------- the HTTP contract as SQL

-- The only schema PostgREST exposes.  Each function returns the whole HTTP
-- answer (response.status, response.headers, the body) for success and for
-- every error of the contract; fynn-gateway runs the same functions.
CREATE SCHEMA fynn_api;
COMMENT ON SCHEMA fynn_api IS
	'the HTTP contract of API tokens: the schema PostgREST exposes and fynn-gateway runs';

CREATE FUNCTION fynn_api.create_user_api_token(json)
	RETURNS json
	AS 'MODULE_PATHNAME', 'fynn_api_create_user_api_token'
	LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;

CREATE FUNCTION fynn_api.list_user_api_tokens(page text DEFAULT NULL, page_size text DEFAULT NULL)
	RETURNS json
	AS 'MODULE_PATHNAME', 'fynn_api_list_user_api_tokens'
	LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL UNSAFE;

CREATE FUNCTION fynn_api.get_user_api_token(id text DEFAULT NULL)
	RETURNS json
	AS 'MODULE_PATHNAME', 'fynn_api_get_user_api_token'
	LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL UNSAFE;

CREATE FUNCTION fynn_api.revoke_user_api_token(json)
	RETURNS json
	AS 'MODULE_PATHNAME', 'fynn_api_revoke_user_api_token'
	LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;

CREATE FUNCTION fynn_api.rotate_user_api_token(json)
	RETURNS json
	AS 'MODULE_PATHNAME', 'fynn_api_rotate_user_api_token'
	LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;

CREATE FUNCTION fynn_api.revoke_current_api_token(json)
	RETURNS json
	AS 'MODULE_PATHNAME', 'fynn_api_revoke_current_api_token'
	LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;

CREATE FUNCTION fynn_api.revoke_leaked_api_token(json)
	RETURNS json
	AS 'MODULE_PATHNAME', 'fynn_api_revoke_leaked_api_token'
	LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;

-- PostgREST's db-pre-request: authenticates X-API-Key.  Not SECURITY
-- DEFINER, since it switches role.
CREATE FUNCTION fynn_api.pre_request()
	RETURNS void
	AS 'MODULE_PATHNAME', 'fynn_api_pre_request'
	LANGUAGE C VOLATILE PARALLEL UNSAFE;

REVOKE ALL ON FUNCTION fynn_api.create_user_api_token(json) FROM PUBLIC;
REVOKE ALL ON FUNCTION fynn_api.list_user_api_tokens(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION fynn_api.get_user_api_token(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION fynn_api.revoke_user_api_token(json) FROM PUBLIC;
REVOKE ALL ON FUNCTION fynn_api.rotate_user_api_token(json) FROM PUBLIC;
REVOKE ALL ON FUNCTION fynn_api.revoke_current_api_token(json) FROM PUBLIC;
REVOKE ALL ON FUNCTION fynn_api.revoke_leaked_api_token(json) FROM PUBLIC;
REVOKE ALL ON FUNCTION fynn_api.pre_request() FROM PUBLIC;
