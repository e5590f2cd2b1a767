-- Chains. A token created while the caller is authenticated by an API
-- token (claims with "token_id", as verify_api_token returns them) is that
-- token's child: parent_id records it, it holds at most the parent's stored
-- permissions, and it expires no later than the parent (a later or null
-- expiresAt is capped, and the answer shows the cap). Claims naming a
-- revoked, expired or someone else's token are refused (28000). Revoking or
-- deleting a token revokes all its live descendants in the same
-- transaction, and moving its expiry earlier caps theirs: the table's
-- trigger does it, so an operator's plain UPDATE or DELETE cascades too.

-- Every token gets a label (setup.sql's registry); ids are random, so
-- outputs show labels.
TRUNCATE tok;
-- Keeps the token and shows what the chain bounds: its expiry and permissions.
CREATE FUNCTION pg_temp.keep_bounds(label text, answer json) RETURNS json LANGUAGE sql AS $$
	SELECT keep(label, answer);
	SELECT json_build_object('expiresAt', answer->'expiresAt', 'permissions', answer->'permissions') $$;
-- The user's JWT: more permissions than any of the tokens below.
CREATE PROCEDURE pg_temp.act_as_user() LANGUAGE sql AS $$
	SELECT set_config('request.jwt.claims', '{"sub": "chain-user", "tenant_id": "t-chain",
		"permissions": ["user:api-token:read", "user:api-token:write", "invoice:read", "invoice:write"]}', false) $$;
-- A token with no expiry, kept under label, made with the user's JWT or,
-- given parent, with that token's claims (so it is the parent's child); the
-- claims it was made with stay set, as after CALL act_as_token. True once kept.
CREATE FUNCTION pg_temp.new_token(label text, description text, parent text DEFAULT NULL) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
	IF parent IS NULL THEN
		CALL pg_temp.act_as_user();
	ELSE
		CALL act_as_token(parent);
	END IF;
	RETURN keep(label, fynn_tokens.create_user_api_token(description, NULL)) IS NOT NULL;
END $$;
-- Each token as stored now: its parent, expiry and permissions, and whether it verifies.
CREATE VIEW pg_temp.chain AS
SELECT k.label, lbl(t.parent_id) AS parent, t.expires_at, t.permissions,
	t.revoked_at IS NOT NULL AS revoked, fynn_tokens.verify_api_token(k.token) IS NOT NULL AS verifies
FROM tok k JOIN fynn_tokens.api_token t ON t.id = k.id;
SET TIME ZONE 'UTC';

-- The parent P, made with the user's JWT: it records no parent.
CALL pg_temp.act_as_user();
SELECT pg_temp.keep_bounds('P', fynn_tokens.create_user_api_token('parent', '2090-01-01T00:00:00Z',
	ARRAY['user:api-token:read', 'user:api-token:write', 'invoice:read'])) AS p;

-- What P's claims say: its user, tenant, stored permissions and id (shown as a label).
SELECT (claims::jsonb - 'token_id') AS p_claims, lbl(claims::json->>'token_id') AS token_id
FROM tok WHERE label = 'P';

-- Children of P. Expiry: null is capped to P's, later is capped to P's,
-- earlier stays; the answer shows the stored (capped) value.
CALL act_as_token('P');
SELECT pg_temp.keep_bounds('C1', fynn_tokens.create_user_api_token('child, no expiry', NULL)) AS c1_null_expiry;
SELECT pg_temp.keep_bounds('C2', fynn_tokens.create_user_api_token('{"description": "child, later", "expiresAt": "2095-06-01T00:00:00Z"}'::json)) AS c2_later;
SELECT pg_temp.keep_bounds('C3', fynn_tokens.create_user_api_token('child, earlier', '2080-01-01T00:00:00.5Z', ARRAY['invoice:read'])) AS c3_earlier;
-- A grandchild, made with a child's claims.
CALL act_as_token('C1');
SELECT pg_temp.keep_bounds('G1', fynn_tokens.create_user_api_token('grandchild', NULL, ARRAY['invoice:read'])) AS g1;
SELECT label, parent, expires_at, permissions FROM pg_temp.chain ORDER BY label COLLATE "C";

-- Permissions: at most the parent's. The user holds invoice:write, P does not.
CALL act_as_token('P');
SELECT outcome($$SELECT fynn_tokens.create_user_api_token('more than P', NULL, ARRAY['invoice:write'])$$) AS beyond_parent;
-- Claims edited to claim more (same token_id, extra permissions) change
-- nothing: the parent's stored permissions bound the child.
SELECT set_config('request.jwt.claims', (claims_of('P')::jsonb
	|| '{"permissions": ["user:api-token:read", "user:api-token:write", "invoice:read", "invoice:write"]}')::text, false) IS NOT NULL AS forged;
SELECT outcome($$SELECT fynn_tokens.create_user_api_token('forged, asked', NULL, ARRAY['invoice:write'])$$) AS forged_asked;
SELECT outcome($$SELECT fynn_tokens.create_user_api_token('forged, omitted', NULL)$$) AS forged_omitted;
-- Within the parent's permissions, the forged claims still get no more than asked.
SELECT pg_temp.keep_bounds('C4', fynn_tokens.create_user_api_token('forged, within', NULL, ARRAY['invoice:read'])) AS forged_within;

-- Claims whose token_id is someone else's token: another user, another tenant, or no token at all.
SELECT who, outcome_as(claims, $$SELECT fynn_tokens.create_user_api_token('not my token', NULL)$$) AS outcome
FROM (VALUES
	('another user', (claims_of('P')::jsonb || '{"sub": "someone-else"}')::text),
	('another tenant', (claims_of('P')::jsonb || '{"tenant_id": "t-other"}')::text),
	('unknown id', (claims_of('P')::jsonb || '{"token_id": "00000000000000000000"}')::text)) AS c(who, claims)
ORDER BY who COLLATE "C";

-- Another tree of the same user, which no cascade below may touch.
SELECT pg_temp.new_token('U', 'unrelated') AS u;
SELECT pg_temp.new_token('UC', 'unrelated child', parent => 'U') AS uc;

-- Revoking P through the API revokes its children and grandchildren in the
-- same transaction, and nothing else.
CALL pg_temp.act_as_user();
BEGIN;
SELECT fynn_tokens.revoke_user_api_token(id_of('P'));
SELECT label, revoked, verifies FROM pg_temp.chain ORDER BY label COLLATE "C";
COMMIT;
-- The log: P revoked on request, each descendant by cascade from P (the root).
SELECT lbl(token_id) AS token, action, reason, actor, lbl(actor_token_id) AS actor_token,
	lbl(related_token_id) AS related, db_user = session_user AS db_user_is_session_user
FROM fynn_tokens.api_token_event
WHERE user_id = 'chain-user' AND action = 'revoke' ORDER BY lbl(token_id) COLLATE "C";

-- A revoked parent's claims no longer authenticate anybody (28000), and
-- revoked children's claims neither.
SELECT label, outcome_as(claims, $$SELECT fynn_tokens.create_user_api_token('under a revoked token', NULL)$$) AS outcome
FROM tok WHERE label IN ('P', 'G1') ORDER BY label COLLATE "C";

-- An operator's plain UPDATE cascades the same way, logged as reason sql
-- for the root and cascade for the descendants.
SELECT pg_temp.new_token('P2', 'parent 2') AS p2;
SELECT pg_temp.new_token('P2.C', 'parent 2 child', parent => 'P2') AS p2_c;
SELECT pg_temp.new_token('P2.C.G', 'parent 2 grandchild', parent => 'P2.C') AS p2_c_g;
UPDATE fynn_tokens.api_token SET revoked_at = now() WHERE id = id_of('P2');
SELECT label, revoked, verifies FROM pg_temp.chain WHERE label LIKE 'P2%' OR label LIKE 'U%' ORDER BY label COLLATE "C";
SELECT lbl(token_id) AS token, action, reason, actor, lbl(actor_token_id) AS actor_token,
	lbl(related_token_id) AS related
FROM fynn_tokens.api_token_event
WHERE token_id IN (SELECT id FROM tok WHERE label LIKE 'P2%') AND action <> 'create'
ORDER BY lbl(token_id) COLLATE "C";

-- So does a DELETE of the row: the parent's deletion is logged, its descendants are revoked.
SELECT pg_temp.new_token('P3', 'parent 3') AS p3;
SELECT pg_temp.new_token('P3.C', 'parent 3 child', parent => 'P3') AS p3_c;
SELECT pg_temp.new_token('P3.C.G', 'parent 3 grandchild', parent => 'P3.C') AS p3_c_g;
DELETE FROM fynn_tokens.api_token WHERE id = id_of('P3');
-- (P3 itself is gone from the table.)
SELECT label, revoked, verifies FROM pg_temp.chain WHERE label LIKE 'P3%' OR label LIKE 'U%' ORDER BY label COLLATE "C";
SELECT lbl(token_id) AS token, action, reason, actor, lbl(related_token_id) AS related
FROM fynn_tokens.api_token_event
WHERE token_id IN (SELECT id FROM tok WHERE label LIKE 'P3%') AND action <> 'create'
ORDER BY lbl(token_id) COLLATE "C";
SELECT label, outcome_as(claims, $$SELECT fynn_tokens.create_user_api_token('under a deleted token', NULL)$$) AS outcome
FROM tok WHERE label = 'P3';

-- An expired parent's claims are refused too.
CALL pg_temp.act_as_user();
SELECT keep('P4', fynn_tokens.create_user_api_token('parent 4', '2090-01-01T00:00:00Z')) IS NOT NULL AS p4;
UPDATE fynn_tokens.api_token SET expires_at = now() - interval '1 second' WHERE id = id_of('P4');
SELECT label, outcome_as(claims, $$SELECT fynn_tokens.create_user_api_token('under an expired token', NULL)$$) AS outcome
FROM tok WHERE label = 'P4';

-- Moving a parent's expiry earlier by a plain UPDATE caps every live
-- descendant that would outlive it; moving it later (or to never) does not
-- lengthen theirs.
SELECT pg_temp.new_token('P5', 'parent 5') AS p5;
CALL act_as_token('P5');
SELECT pg_temp.keep_bounds('P5.C1', fynn_tokens.create_user_api_token('parent 5 child, never', NULL)) AS p5_c1;
SELECT pg_temp.keep_bounds('P5.C2', fynn_tokens.create_user_api_token('parent 5 child, 2080', '2080-01-01T00:00:00Z')) AS p5_c2;
CALL act_as_token('P5.C1');
SELECT pg_temp.keep_bounds('P5.C1.G', fynn_tokens.create_user_api_token('parent 5 grandchild', NULL)) AS p5_c1_g;
UPDATE fynn_tokens.api_token SET expires_at = '2090-01-01T00:00:00Z' WHERE id = id_of('P5');
SELECT label, parent, expires_at FROM pg_temp.chain WHERE label LIKE 'P5%' ORDER BY label COLLATE "C";
UPDATE fynn_tokens.api_token SET expires_at = '2085-01-01T00:00:00Z' WHERE id = id_of('P5');
SELECT label, parent, expires_at FROM pg_temp.chain WHERE label LIKE 'P5%' ORDER BY label COLLATE "C";
UPDATE fynn_tokens.api_token SET expires_at = '2095-01-01T00:00:00Z' WHERE id = id_of('P5');
SELECT label, parent, expires_at FROM pg_temp.chain WHERE label LIKE 'P5%' ORDER BY label COLLATE "C";
UPDATE fynn_tokens.api_token SET expires_at = NULL WHERE id = id_of('P5');
SELECT label, parent, expires_at FROM pg_temp.chain WHERE label LIKE 'P5%' ORDER BY label COLLATE "C";
-- A cap is not a revocation: nothing is logged for it.
SELECT count(*) AS events_for_caps FROM fynn_tokens.api_token_event
WHERE token_id IN (SELECT id FROM tok WHERE label LIKE 'P5%') AND action <> 'create';

-- Rotating a parent with a grace period caps its children to the old
-- token's new expiry (now + grace); the successor has no children.
SELECT pg_temp.new_token('P6', 'parent 6') AS p6;
CALL act_as_token('P6');
SELECT pg_temp.keep_bounds('P6.C', fynn_tokens.create_user_api_token('parent 6 child', NULL)) AS p6_c;
CALL pg_temp.act_as_user();
SELECT clock_timestamp() AS before_rotation \gset
SELECT keep('P6 successor', fynn_tokens.rotate_user_api_token(id_of('P6'), '1 hour')) IS NOT NULL AS rotated;
SELECT p.expires_at BETWEEN :'before_rotation'::timestamptz + interval '1 hour' AND clock_timestamp() + interval '1 hour'
		AS parent_expires_in_an_hour,
	c.expires_at = p.expires_at AS child_capped_to_parent, c.revoked_at IS NULL AS child_still_live
FROM fynn_tokens.api_token p, fynn_tokens.api_token c
WHERE p.id = id_of('P6') AND c.id = id_of('P6.C');
SELECT count(*) AS successor_children FROM fynn_tokens.api_token WHERE parent_id = id_of('P6 successor');

-- The unrelated tree lived through all of it.
SELECT label, revoked, verifies FROM pg_temp.chain WHERE label LIKE 'U%' ORDER BY label COLLATE "C";
RESET TIME ZONE;
