-- fynn_tokens 0.1.0: the token table and the functions that create and verify tokens.

\echo Use "CREATE EXTENSION fynn_tokens CASCADE" to load this file. \quit

-- One row per issued token.  The secret itself is never stored: token_hash
-- is SHA-256 of the whole token string, which is all verification needs.
-- Identifiers compare byte-wise (COLLATE "C"): they are not words, and the
-- indexes on them stay cheap whatever the database's locale.
CREATE TABLE @extschema@.api_token (
	id				text COLLATE "C" NOT NULL PRIMARY KEY
		CONSTRAINT api_token_id_shape CHECK (octet_length(id) = 20),
	tenant_id		text COLLATE "C" NOT NULL,
	user_id			text COLLATE "C" NOT NULL,
	description		text
		CONSTRAINT api_token_description_length
		CHECK (char_length(description) BETWEEN 3 AND 255),
	token_hash		bytea		NOT NULL
		CONSTRAINT api_token_token_hash_key UNIQUE
		CONSTRAINT api_token_token_hash_is_sha256 CHECK (octet_length(token_hash) = 32),
	-- The creator's permissions at creation time: a later change of the
	-- user's role does not widen what an already issued token may do.
	permissions		text[]		NOT NULL,
	created_at		timestamptz NOT NULL DEFAULT now(),
	expires_at		timestamptz,
	revoked_at		timestamptz,
	last_used_at	timestamptz
);

COMMENT ON TABLE @extschema@.api_token IS
	'API tokens issued to users; holds SHA-256 of each token, never the token';

-- Listing a user's tokens, newest first.
CREATE INDEX api_token_owner_idx
	ON @extschema@.api_token (tenant_id, user_id, created_at);

-- Rows survive pg_dump/pg_restore although the table belongs to the extension.
SELECT pg_catalog.pg_extension_config_dump('@extschema@.api_token', '');

-- Nobody but the owner (and thereby the SECURITY DEFINER functions) touches
-- the table directly.
REVOKE ALL ON @extschema@.api_token FROM PUBLIC;

-- The caller's identity as the claims name it, NULL when there is none.
-- Used by the row-level security policy and handy for backend queries.
CREATE FUNCTION @extschema@.claimed_user_id() RETURNS text
	AS 'MODULE_PATHNAME', 'fynn_tokens_claimed_user_id'
	LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.claimed_tenant_id() RETURNS text
	AS 'MODULE_PATHNAME', 'fynn_tokens_claimed_tenant_id'
	LANGUAGE C STABLE PARALLEL SAFE;

-- A role that is ever granted access to the table sees only its own rows.
ALTER TABLE @extschema@.api_token ENABLE ROW LEVEL SECURITY;
CREATE POLICY api_token_owner_only ON @extschema@.api_token
	USING (tenant_id = @extschema@.claimed_tenant_id()
		   AND user_id = @extschema@.claimed_user_id())
	WITH CHECK (tenant_id = @extschema@.claimed_tenant_id()
				AND user_id = @extschema@.claimed_user_id());

CREATE FUNCTION @extschema@.create_user_api_token(
	description text,
	expires_at timestamptz)
	RETURNS json
	AS 'MODULE_PATHNAME', 'fynn_tokens_create_user_api_token'
	LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION @extschema@.create_user_api_token(text, timestamptz) IS
	'creates an API token for the user named by request.jwt.claims; the token is returned once and stored hashed';

-- The HTTP body as is: a REST layer passes it through untouched, and
-- PostgREST finds it as the single unnamed json parameter.
CREATE FUNCTION @extschema@.create_user_api_token(json)
	RETURNS json
	AS 'MODULE_PATHNAME', 'fynn_tokens_create_user_api_token_json'
	LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION @extschema@.create_user_api_token(json) IS
	'creates an API token from a request body {"description", "expiresAt"}';

CREATE FUNCTION @extschema@.verify_api_token(token text)
	RETURNS json
	AS 'MODULE_PATHNAME', 'fynn_tokens_verify_api_token'
	LANGUAGE C STABLE STRICT PARALLEL SAFE
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION @extschema@.verify_api_token(text) IS
	'the claims an API token stands for, or NULL when it is malformed, unknown, expired or revoked';

-- The same, given SHA-256 of the token: a gateway sends this instead of the
-- token so that no secret reaches a log through a bind parameter.
CREATE FUNCTION @extschema@.verify_api_token_hash(token_hash bytea)
	RETURNS json
	AS 'MODULE_PATHNAME', 'fynn_tokens_verify_api_token_hash'
	LANGUAGE C STABLE STRICT PARALLEL SAFE
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

COMMENT ON FUNCTION @extschema@.verify_api_token_hash(bytea) IS
	'the claims of the token whose SHA-256 is given, or NULL';

-- Records that a live token authenticated a request, at most once a minute
-- per token, so a busy token costs one small write a minute, not one per
-- request.  Separate from verify, which must stay read-only for standbys.
CREATE FUNCTION @extschema@.record_api_token_use(token_hash bytea)
	RETURNS boolean
	LANGUAGE sql VOLATILE STRICT PARALLEL UNSAFE
	SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	BEGIN ATOMIC
		WITH touched AS (
			UPDATE @extschema@.api_token t SET last_used_at = now()
			WHERE t.token_hash = record_api_token_use.token_hash
				AND t.revoked_at IS NULL
				AND (t.expires_at IS NULL OR t.expires_at > now())
				AND (t.last_used_at IS NULL OR t.last_used_at < now() - interval '1 minute')
			RETURNING 1)
		SELECT count(*) > 0 FROM touched;
	END;

COMMENT ON FUNCTION @extschema@.record_api_token_use(bytea) IS
	'sets last_used_at of the live token with this SHA-256, at one-minute granularity; true when it wrote';

-- Whoever may set request.jwt.claims may act as any user, so only roles the
-- operator trusts (an API role, PostgREST's authenticator) get EXECUTE:
--   GRANT USAGE ON SCHEMA fynn_tokens TO api_role;
--   GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA fynn_tokens TO api_role;
REVOKE ALL ON FUNCTION @extschema@.create_user_api_token(text, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.create_user_api_token(json) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.verify_api_token(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.verify_api_token_hash(bytea) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.record_api_token_use(bytea) FROM PUBLIC;
