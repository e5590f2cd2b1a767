/*
 * http_api.c
 *		The fynn_api.* functions: the HTTP contract as SQL, the only schema
 *		PostgREST exposes.  Each returns the whole HTTP answer: the status in
 *		response.status, the headers in response.headers, the body as its
 *		result.  Errors of the contract are returned, never raised, so
 *		PostgREST cannot re-shape them, and fynn-gateway serves the same
 *		bytes by running these very functions.
 *
 * Inputs are json or text, so that every invalid value reaches the function
 * and gets the contract's 400 from it.  The REST routes map onto them as:
 *	POST   /user/api-tokens                 create_user_api_token(body)
 *	GET    /user/api-tokens?page&limit      list_user_api_tokens(page, page_size)
 *	GET    /user/api-tokens/{id}            get_user_api_token(id)
 *	DELETE /user/api-tokens/{id}            revoke_user_api_token({"id": id})
 *	POST   /user/api-tokens/{id}/rotate     rotate_user_api_token({"id": id, "request": body})
 *	DELETE /user/api-tokens/current         revoke_current_api_token({})
 *	POST   /api-tokens/revoke               revoke_leaked_api_token(body)
 * ("limit" is reserved by PostgREST's query syntax, hence page_size.)
 */
#include "fynn_tokens.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/timestamp.h"

#define TOKEN_SHA256_KEY	"token_sha256"
#define API_KEY_HEADER		"x-api-key"
#define PGRST_SQLSTATE		MAKE_SQLSTATE('P','G','R','S','T')

PG_FUNCTION_INFO_V1(fynn_api_create_user_api_token);
PG_FUNCTION_INFO_V1(fynn_api_list_user_api_tokens);
PG_FUNCTION_INFO_V1(fynn_api_get_user_api_token);
PG_FUNCTION_INFO_V1(fynn_api_revoke_user_api_token);
PG_FUNCTION_INFO_V1(fynn_api_rotate_user_api_token);
PG_FUNCTION_INFO_V1(fynn_api_revoke_current_api_token);
PG_FUNCTION_INFO_V1(fynn_api_revoke_leaked_api_token);
PG_FUNCTION_INFO_V1(fynn_api_pre_request);

/* The failed request as its HTTP answer. */
#define RETURN_PROBLEM(problem) PG_RETURN_TEXT_P(problem_http_body(problem))

/* The caller holding permission (when named); false with the 401/403 problem. */
static bool
authenticate(Caller *caller, const char *permission, ApiProblem *problem)
{
	return caller_authenticate(caller, problem) &&
		(permission == NULL || caller_require(caller, permission, problem));
}

/* A json argument as text; SQL NULL only arrives from SQL callers, and is a syntax error. */
static text *
body_arg(FunctionCallInfo fcinfo)
{
	return PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0);
}

/* 201 with Location naming the new token. */
static void
set_created(const char *id)
{
	StringInfoData headers;

	initStringInfo(&headers);
	appendStringInfo(&headers, "[{\"Location\":\"%s/%s\"}]", FYNN_TOKENS_COLLECTION_PATH, id);
	http_set_response(201, headers.data);
}

/* The "id" member of a body the route built from the path; a non-string is a 400. */
static bool
read_id_member(Jsonb *object, char **id, ApiProblem *problem)
{
	if (!request_string_member(object, "id", id, problem))
		return false;
	if (*id == NULL)
		*id = pstrdup("");		/* names no token: 404 */
	return true;
}

/* POST /user/api-tokens */
Datum
fynn_api_create_user_api_token(PG_FUNCTION_ARGS)
{
	ApiProblem	problem;
	Caller		caller;
	CreateRequest request;
	CreatedToken created;

	problem_init(&problem);
	if (!authenticate(&caller, FYNN_TOKENS_WRITE_PERMISSION, &problem) ||
		!request_read_create_body(body_arg(fcinfo), &request, &problem) ||
		!op_create(&caller, &request, &created, &problem))
		RETURN_PROBLEM(&problem);
	set_created(created.id);
	PG_RETURN_TEXT_P(created.answer);
}

/* GET /user/api-tokens?page=&limit= */
Datum
fynn_api_list_user_api_tokens(PG_FUNCTION_ARGS)
{
	ApiProblem	problem;
	Caller		caller;
	PageRequest page;
	text	   *answer;

	problem_init(&problem);
	if (!authenticate(&caller, FYNN_TOKENS_READ_PERMISSION, &problem) ||
		!request_read_page(PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0)),
						   PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1)),
						   &page, &problem) ||
		!op_list(&caller, &page, &answer, &problem))
		RETURN_PROBLEM(&problem);
	http_set_response(200, NULL);
	PG_RETURN_TEXT_P(answer);
}

/* GET /user/api-tokens/{id} */
Datum
fynn_api_get_user_api_token(PG_FUNCTION_ARGS)
{
	ApiProblem	problem;
	Caller		caller;
	text	   *answer;

	problem_init(&problem);
	if (!authenticate(&caller, FYNN_TOKENS_READ_PERMISSION, &problem) ||
		!op_get(&caller, PG_ARGISNULL(0) ? "" : text_to_cstring(PG_GETARG_TEXT_PP(0)),
				&answer, &problem))
		RETURN_PROBLEM(&problem);
	http_set_response(200, NULL);
	PG_RETURN_TEXT_P(answer);
}

/* DELETE /user/api-tokens/{id}: body {"id": id}; 204 and no body. */
Datum
fynn_api_revoke_user_api_token(PG_FUNCTION_ARGS)
{
	ApiProblem	problem;
	Caller		caller;
	Jsonb	   *body;
	char	   *id;

	problem_init(&problem);
	if (!authenticate(&caller, FYNN_TOKENS_WRITE_PERMISSION, &problem) ||
		!request_read_json_object(body_arg(fcinfo), &body, &problem) ||
		!read_id_member(body, &id, &problem) ||
		!op_revoke(&caller, id, &problem))
		RETURN_PROBLEM(&problem);
	http_set_response(204, NULL);
	PG_RETURN_NULL();
}

/*
 * gracePeriod in whole seconds; absent or null is 0.  A value outside
 * 0..7 days is a rule violation (422), so out-of-range numbers come back as
 * a value that fails it rather than as an error.
 */
static bool
read_grace_period(Jsonb *request, int64 *grace_us, ApiProblem *problem)
{
	JsonbValue	value;
	char	   *digits;
	char	   *end;
	long long	seconds;

	*grace_us = 0;
	if (getKeyJsonValueFromContainer(&request->root, "gracePeriod", strlen("gracePeriod"), &value) == NULL ||
		value.type == jbvNull)
		return true;
	if (value.type == jbvNumeric)
	{
		digits = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(value.val.numeric)));
		if (strpbrk(digits, ".eE") == NULL)
		{
			errno = 0;
			seconds = strtoll(digits, &end, 10);
			if (errno != 0 || seconds < 0 || seconds > FYNN_TOKENS_GRACE_MAX_SECONDS)
				seconds = -1;	/* fails the range rule */
			*grace_us = (int64) seconds * USECS_PER_SEC;
			return true;
		}
	}
	problem_set(problem, 400, ERRCODE_INVALID_TEXT_REPRESENTATION, "gracePeriod",
				"The type of the \"gracePeriod\" attribute must be \"int\", \"%s\" given.",
				value.type == jbvNumeric ? "double" :
				value.type == jbvString ? "string" :
				value.type == jbvBool ? "boolean" : "array");
	return false;
}

/* POST /user/api-tokens/{id}/rotate: body {"id": id, "request": the client's body or null}. */
Datum
fynn_api_rotate_user_api_token(PG_FUNCTION_ARGS)
{
	ApiProblem	problem;
	Caller		caller;
	Jsonb	   *body;
	char	   *id;
	int64		grace_us = 0;
	CreatedToken created;
	JsonbValue	value;

	problem_init(&problem);
	if (!authenticate(&caller, FYNN_TOKENS_WRITE_PERMISSION, &problem) ||
		!request_read_json_object(body_arg(fcinfo), &body, &problem) ||
		!read_id_member(body, &id, &problem))
		RETURN_PROBLEM(&problem);
	if (getKeyJsonValueFromContainer(&body->root, "request", strlen("request"), &value) != NULL &&
		value.type != jbvNull)
	{
		Jsonb	   *request;

		if (value.type != jbvBinary || !JsonContainerIsObject(value.val.binary.data))
		{
			problem_set(&problem, 400, ERRCODE_INVALID_TEXT_REPRESENTATION, NULL,
						"The input data is misformatted.");
			RETURN_PROBLEM(&problem);
		}
		request = JsonbValueToJsonb(&value);
		if (!read_grace_period(request, &grace_us, &problem))
			RETURN_PROBLEM(&problem);
	}
	if (!op_rotate(&caller, id, grace_us, &created, &problem))
		RETURN_PROBLEM(&problem);
	set_created(created.id);
	PG_RETURN_TEXT_P(created.answer);
}

/* DELETE /user/api-tokens/current: the API token that authenticates the request revokes itself. */
Datum
fynn_api_revoke_current_api_token(PG_FUNCTION_ARGS)
{
	ApiProblem	problem;
	Caller		caller;

	problem_init(&problem);
	if (!authenticate(&caller, NULL, &problem) ||
		!op_revoke_current(&caller, &problem))
		RETURN_PROBLEM(&problem);
	http_set_response(204, NULL);
	PG_RETURN_NULL();
}

/* 64 lower-case hex digits, as fynn-gateway sends a token it hashed itself. */
static bool
read_sha256_hex(const char *hex, uint8 hash[FYNN_TOKENS_HASH_LEN])
{
	if (strlen(hex) != 2 * FYNN_TOKENS_HASH_LEN ||
		strspn(hex, "0123456789abcdef") != 2 * FYNN_TOKENS_HASH_LEN)
		return false;
	for (int i = 0; i < FYNN_TOKENS_HASH_LEN; i++)
	{
		char		pair[3] = {hex[2 * i], hex[2 * i + 1], '\0'};

		hash[i] = (uint8) strtoul(pair, NULL, 16);
	}
	return true;
}

/*
 * POST /api-tokens/revoke, body {"token": "api_..."}: no credential, the
 * secret is the proof; 202 whether or not it existed.  fynn-gateway sends
 * {"token_sha256": hex} instead, so that no secret reaches the database's
 * log; a client may do the same.
 */
Datum
fynn_api_revoke_leaked_api_token(PG_FUNCTION_ARGS)
{
	ApiProblem	problem;
	Jsonb	   *body;
	char	   *token;
	char	   *hex;
	uint8		hash[FYNN_TOKENS_HASH_LEN];

	problem_init(&problem);
	if (!request_read_json_object(body_arg(fcinfo), &body, &problem) ||
		!request_string_member(body, TOKEN_SHA256_KEY, &hex, &problem))
		RETURN_PROBLEM(&problem);
	if (hex != NULL)
	{
		if (!read_sha256_hex(hex, hash))
		{
			problem_set(&problem, 400, ERRCODE_INVALID_TEXT_REPRESENTATION, TOKEN_SHA256_KEY,
						"The \"token_sha256\" attribute must be 64 lower-case hexadecimal digits.");
			RETURN_PROBLEM(&problem);
		}
	}
	else
	{
		if (!request_string_member(body, "token", &token, &problem))
			RETURN_PROBLEM(&problem);
		if (token == NULL)
		{
			problem_set(&problem, 400, ERRCODE_NULL_VALUE_NOT_ALLOWED, "token",
						"The \"token\" attribute is required.");
			RETURN_PROBLEM(&problem);
		}
		if (!op_check_token_text(token, strlen(token), hash, &problem))
			RETURN_PROBLEM(&problem);
		explicit_bzero(token, strlen(token));
	}
	op_revoke_by_hash(hash);
	http_set_response(202, NULL);
	PG_RETURN_TEXT_P(cstring_to_text("{\"message\":\"If this token existed, it has been revoked.\"}"));
}

/*
 * Refuses the request in PostgREST's own way (RAISE SQLSTATE 'PGRST'): a
 * pre-request function cannot return an answer, only end the request.
 */
pg_noreturn static void
pgrst_unauthorized(const char *message)
{
	StringInfoData body;

	initStringInfo(&body);
	appendStringInfoString(&body, "{\"code\":\"FYNN401\",\"message\":");
	escape_json(&body, message);
	appendStringInfoChar(&body, '}');
	ereport(ERROR,
			(errcode(PGRST_SQLSTATE),
			 errmsg_internal("%s", body.data),
			 errdetail_internal("{\"status\":401,\"headers\":{\"WWW-Authenticate\":\"Bearer error=\\\"invalid_token\\\"\"}}")));
	pg_unreachable();
}

/* The X-API-Key header from request.headers, or NULL. */
static char *
api_key_header(void)
{
	const char *headers = GetConfigOption("request.headers", true, false);
	Jsonb	   *jb;
	JsonbValue	value;

	if (headers == NULL || headers[0] == '\0' || !compat_jsonb_parse(headers, &jb))
		return NULL;
	if (!JB_ROOT_IS_OBJECT(jb) ||
		getKeyJsonValueFromContainer(&jb->root, API_KEY_HEADER, strlen(API_KEY_HEADER), &value) == NULL ||
		value.type != jbvString)
		return NULL;
	return pnstrdup(value.val.string.val, value.val.string.len);
}

/* Records the use of a token as record_api_token_use() does, unless the transaction is read-only. */
static void
record_use(const uint8 hash[FYNN_TOKENS_HASH_LEN])
{
	static const char *sql = "SELECT fynn_tokens.record_api_token_use($1)";
	Oid			types[1] = {BYTEAOID};
	Datum		values[1];
	bytea	   *b;
	OwnerSql   *owner;

	if (XactReadOnly)
		return;
	b = palloc(VARHDRSZ + FYNN_TOKENS_HASH_LEN);
	SET_VARSIZE(b, VARHDRSZ + FYNN_TOKENS_HASH_LEN);
	memcpy(VARDATA(b), hash, FYNN_TOKENS_HASH_LEN);
	values[0] = PointerGetDatum(b);
	owner_sql_begin(&owner);
	owner_sql_exec(sql, 1, types, values, NULL, false);
	owner_sql_end(owner);
}

/*
 * db-pre-request for PostgREST: authenticates an X-API-Key: api_... header
 * (PostgREST itself refuses "Bearer api_..." as a malformed JWT).  Without
 * the header it does nothing; with it, the token's claims become
 * request.jwt.claims and the request switches to fynn_tokens.api_token_role.
 * It must not be SECURITY DEFINER: PostgreSQL refuses SET ROLE there.
 */
Datum
fynn_api_pre_request(PG_FUNCTION_ARGS)
{
	char	   *key = api_key_header();
	const CallerIdentity *identity;
	char	   *why;
	uint8		hash[FYNN_TOKENS_HASH_LEN];
	StringInfoData claims;
	text	   *token_claims;

	if (key == NULL)
		PG_RETURN_VOID();
	/* Any claims beyond PostgREST's anonymous {"role"} came from a JWT, valid identity or not. */
	if (claims_identity(&identity, &why) != CLAIMS_NO_CREDENTIAL)
		pgrst_unauthorized("Send one credential: an API key or a JWT, not both.");
	if (!api_token_is_well_formed(key, strlen(key)))
		pgrst_unauthorized("Invalid API token");
	token_sha256(key, strlen(key), hash);
	explicit_bzero(key, strlen(key));
	token_claims = verify_claims_for_hash(hash);
	if (token_claims == NULL)
		pgrst_unauthorized("Invalid API token");
	if (fynn_tokens_api_token_role[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("fynn_tokens.api_token_role is not set"),
				 errdetail("An API token was presented, and the role such requests run as is not configured."),
				 errhint("ALTER ROLE authenticator SET fynn_tokens.api_token_role = 'your_api_role';")));

	record_use(hash);
	/* The token's claims with PostgREST's "role" added, as PostgREST adds it to a JWT's. */
	initStringInfo(&claims);
	appendBinaryStringInfo(&claims, VARDATA_ANY(token_claims), VARSIZE_ANY_EXHDR(token_claims) - 1);
	appendStringInfoString(&claims, ",\"role\":");
	escape_json(&claims, fynn_tokens_api_token_role);
	appendStringInfoChar(&claims, '}');
	(void) set_config_option("request.jwt.claims", claims.data, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
	(void) set_config_option("role", fynn_tokens_api_token_role, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
	PG_RETURN_VOID();
}
