-- Creating a token needs "user:api-token:write" (42501 otherwise); the
-- creator's permissions are stored with the token as a snapshot.
CALL act_as('{"sub": "user-1", "tenant_id": "t1", "permissions": ["user:api-token:read"]}');
SELECT outcome($$SELECT fynn_tokens.create_user_api_token('reader only', NULL)$$);

CALL act_as('{"sub": "user-1", "tenant_id": "t1"}');
SELECT outcome($$SELECT fynn_tokens.create_user_api_token('no permissions claim', NULL)$$);

CALL act_as('{"sub": "user-1", "tenant_id": "t1", "permissions": "user:api-token:write-all"}');
SELECT outcome($$SELECT fynn_tokens.create_user_api_token('prefix is not enough', NULL)$$);

CALL act_as('{"sub": "user-1", "tenant_id": "t1", "permissions": [1, null, {"a": "user:api-token:write"}]}');
SELECT outcome($$SELECT fynn_tokens.create_user_api_token('non-strings ignored', NULL)$$);

-- The OAuth2 form: a space-separated "scope" string.
CALL act_as('{"sub": "user-1", "tenant_id": "t1", "scope": "openid user:api-token:write  profile"}');
SELECT shape(fynn_tokens.create_user_api_token('scope form', NULL));
SELECT permissions FROM fynn_tokens.api_token WHERE description = 'scope form';

-- "permissions" wins over "scope" when both are present.
CALL act_as('{"sub": "user-1", "tenant_id": "t1", "permissions": ["user:api-token:read"], "scope": "user:api-token:write"}');
SELECT outcome($$SELECT fynn_tokens.create_user_api_token('permissions decide', NULL)$$);

-- The snapshot is exactly the creator's permissions, in order.
CALL act_as('{"sub": "user-1", "tenant_id": "t1", "permissions": ["invoice:read", "user:api-token:write", "user:read"]}');
SELECT shape(fynn_tokens.create_user_api_token('snapshot', NULL));
SELECT permissions FROM fynn_tokens.api_token WHERE description = 'snapshot';

-- A refused call writes nothing.
SELECT count(*) AS refused_rows FROM fynn_tokens.api_token
WHERE description IN ('reader only', 'no permissions claim', 'prefix is not enough',
	'non-strings ignored', 'permissions decide');
