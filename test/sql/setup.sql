-- Installs the extension and the helpers every other test file uses.
CREATE EXTENSION fynn_tokens CASCADE;

-- Runs a statement and shows the error fields a caller relies on (SQLSTATE,
-- message, column and constraint name), so a test can continue after it.
CREATE FUNCTION outcome(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	state text; msg text; detail text; col text; con text;
BEGIN
	EXECUTE sql;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
		detail = PG_EXCEPTION_DETAIL, col = COLUMN_NAME, con = CONSTRAINT_NAME;
	RETURN state || ': ' || msg
		|| coalesce(' [column ' || nullif(col, '') || ']', '')
		|| coalesce(' [constraint ' || nullif(con, '') || ']', '')
		|| coalesce(E'\n  detail: ' || nullif(detail, ''), '');
END $$;

-- Sets the caller's claims for the session, as a backend service would per transaction.
CREATE PROCEDURE act_as(claims text) LANGUAGE sql AS $$
	SELECT set_config('request.jwt.claims', claims, false) $$;

-- A creator of tenant t1 with the write permission.
CREATE PROCEDURE act_as_writer(sub text DEFAULT 'user-1', tenant text DEFAULT 't1')
LANGUAGE sql AS $$
	CALL act_as(json_build_object('sub', sub, 'tenant_id', tenant,
		'permissions', json_build_array('user:api-token:read', 'user:api-token:write'))::text) $$;

-- The answer with its random values replaced by what they must look like,
-- so expected outputs hold no random value.
CREATE FUNCTION shape(answer json) RETURNS json LANGUAGE sql AS $$
	SELECT json_build_object(
		'id', CASE WHEN answer->>'id' ~ '^[0-9A-Z]{20}$' THEN '<20 of [0-9A-Z]>' ELSE 'BAD: ' || (answer->>'id') END,
		'token', CASE WHEN answer->>'token' ~ '^api_[0-9A-Za-z]{38}$' THEN '<api_ + 38 base62>' ELSE 'BAD: ' || (answer->>'token') END,
		'description', answer->'description',
		'expiresAt', answer->'expiresAt',
		'keys', (SELECT string_agg(k, ',') FROM json_object_keys(answer) k))
$$;

-- The error's detail: for a violation, the JSON array a REST layer answers with.
CREATE FUNCTION error_detail(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	detail text;
BEGIN
	EXECUTE sql;
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
	RETURN detail;
END $$;

-- An independent CRC32 (IEEE) and base62 in SQL, to check the C checksum
-- against, and to forge well-formed tokens that were never issued.
CREATE FUNCTION test_checksum(random_part text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	crc bigint := 4294967295;
	alphabet text := '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
	result text := '';
BEGIN
	FOR i IN 1 .. length(random_part) LOOP
		crc := crc # ascii(substr(random_part, i, 1));
		FOR b IN 1 .. 8 LOOP
			crc := (crc >> 1) # (CASE WHEN crc & 1 = 1 THEN 3988292384 ELSE 0 END);
		END LOOP;
	END LOOP;
	crc := crc # 4294967295;
	FOR i IN 1 .. 6 LOOP
		result := substr(alphabet, (crc % 62)::int + 1, 1) || result;
		crc := crc / 62;
	END LOOP;
	RETURN result;
END $$;

-- Runs sql under the given claims: its error as outcome() shows it, or 'ok'.
-- (A LATERAL set_config would not do: volatile output columns are computed
-- after the sort, so every row would see the last claims set.)
CREATE FUNCTION outcome_as(claims text, sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	PERFORM set_config('request.jwt.claims', claims, false);
	RETURN outcome(sql);
END $$;

-- Runs sql under the given claims and returns its single value as text.
CREATE FUNCTION result_as(claims text, sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	result text;
BEGIN
	PERFORM set_config('request.jwt.claims', claims, false);
	EXECUTE sql INTO result;
	RETURN result;
END $$;

-- The whole HTTP answer of a fynn_api function: the status and headers it
-- left in response.status and response.headers (transaction-local, so read
-- in the same statement) and its body. PL/pgSQL, so that the call in the
-- argument surely runs before the settings are read.
CREATE FUNCTION http_answer(body json) RETURNS json LANGUAGE plpgsql AS $$
BEGIN
	RETURN json_build_object('status', current_setting('response.status', true)::int,
		'headers', current_setting('response.headers', true)::json, 'body', body);
END $$;

-- The token registry. Ids and tokens are random, so a file keeps each token
-- it makes under a label, and its outputs show labels. A plain table, not a
-- temporary one, because this file runs in a session of its own. A file
-- that keeps tokens starts with TRUNCATE tok: it sees only its own labels (a
-- listing of tok, or 'unlabelled' for a token it did not keep, cannot depend
-- on which files ran before) and may use labels another file used.
-- claims: what verify_api_token answered when the token was kept, as text,
-- the way request.jwt.claims holds it.
CREATE TABLE tok (label text PRIMARY KEY, id text UNIQUE, token text, claims text);

-- Keeps a creation's or rotation's answer under label; shows the label.
CREATE FUNCTION keep(label text, answer json) RETURNS text LANGUAGE sql AS $$
	INSERT INTO tok VALUES (label, answer->>'id', answer->>'token',
		fynn_tokens.verify_api_token(answer->>'token')::text);
	SELECT label $$;

-- The label of a token id: NULL for NULL, 'unlabelled' for a token not kept.
CREATE FUNCTION lbl(token_id text) RETURNS text LANGUAGE sql STABLE AS $$
	SELECT CASE WHEN token_id IS NOT NULL
		THEN coalesce((SELECT label FROM tok WHERE id = token_id), 'unlabelled') END $$;

CREATE FUNCTION id_of(label text) RETURNS text LANGUAGE sql STABLE AS $$
	SELECT id FROM tok WHERE tok.label = id_of.label $$;

CREATE FUNCTION token_of(label text) RETURNS text LANGUAGE sql STABLE AS $$
	SELECT token FROM tok WHERE tok.label = token_of.label $$;

CREATE FUNCTION claims_of(label text) RETURNS text LANGUAGE sql STABLE AS $$
	SELECT claims FROM tok WHERE tok.label = claims_of.label $$;

-- Whether the token verifies now.
CREATE FUNCTION live(label text) RETURNS boolean LANGUAGE sql STABLE AS $$
	SELECT fynn_tokens.verify_api_token(token_of(label)) IS NOT NULL $$;

-- Acts as the API token with this label, with the claims it verified to
-- when it was kept: so a test can also present the claims of a token that
-- has since been revoked or has expired.
CREATE PROCEDURE act_as_token(label text) LANGUAGE sql AS $$
	CALL act_as(claims_of(label)) $$;
