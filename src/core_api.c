/*
 * core_api.c
 *		The fynn_tokens.* SQL functions that backend services call: every
 *		problem becomes an error with its SQLSTATE (problem.c).
 *
 * Checks run in the order an HTTP client expects its errors: who is calling
 * (28000), may they (42501), is the input readable (22P02, 22007, 22008),
 * does the token exist (P0002), does the request keep the rules (22023).
 */
#include "fynn_tokens.h"

#include "utils/guc.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(fynn_tokens_create_user_api_token);
PG_FUNCTION_INFO_V1(fynn_tokens_create_user_api_token_permissions);
PG_FUNCTION_INFO_V1(fynn_tokens_create_user_api_token_json);
PG_FUNCTION_INFO_V1(fynn_tokens_list_user_api_tokens);
PG_FUNCTION_INFO_V1(fynn_tokens_get_user_api_token);
PG_FUNCTION_INFO_V1(fynn_tokens_revoke_user_api_token);
PG_FUNCTION_INFO_V1(fynn_tokens_revoke_current_api_token);
PG_FUNCTION_INFO_V1(fynn_tokens_revoke_api_token);
PG_FUNCTION_INFO_V1(fynn_tokens_rotate_user_api_token);

/* The caller, holding permission (when one is named), or the 28000/42501 error. */
static void
authenticate_or_raise(Caller *caller, const char *permission)
{
	ApiProblem	problem;

	problem_init(&problem);
	if (!caller_authenticate(caller, &problem) ||
		(permission && !caller_require(caller, permission, &problem)))
		problem_raise(&problem);
}

/* A text argument as a C string, "" for SQL NULL (which then names no token). */
static char *
text_arg(FunctionCallInfo fcinfo, int n)
{
	return PG_ARGISNULL(n) ? pstrdup("") : text_to_cstring(PG_GETARG_TEXT_PP(n));
}

/* Tells PostgREST (which may still expose these functions) to answer 201. */
static void
set_response_status_created(void)
{
	(void) set_config_option("response.status", "201", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
}

/* The common end of the create functions. */
static Datum
create_or_raise(Caller *caller, CreateRequest *request)
{
	ApiProblem	problem;
	CreatedToken created;

	problem_init(&problem);
	if (!op_create(caller, request, &created, &problem))
		problem_raise(&problem);
	set_response_status_created();
	return PointerGetDatum(created.answer);
}

/* The arguments of the positional create functions. */
static void
read_create_args(FunctionCallInfo fcinfo, CreateRequest *request)
{
	memset(request, 0, sizeof(*request));
	request->description = PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0);
	request->has_expires_at = !PG_ARGISNULL(1);
	request->expires_at = request->has_expires_at ? PG_GETARG_TIMESTAMPTZ(1) : 0;
}

/* create_user_api_token(description text, expires_at timestamptz) */
Datum
fynn_tokens_create_user_api_token(PG_FUNCTION_ARGS)
{
	Caller		caller;
	CreateRequest request;

	authenticate_or_raise(&caller, FYNN_TOKENS_WRITE_PERMISSION);
	read_create_args(fcinfo, &request);
	return create_or_raise(&caller, &request);
}

/* create_user_api_token(description text, expires_at timestamptz, permissions text[]) */
Datum
fynn_tokens_create_user_api_token_permissions(PG_FUNCTION_ARGS)
{
	Caller		caller;
	CreateRequest request;
	ApiProblem	problem;

	authenticate_or_raise(&caller, FYNN_TOKENS_WRITE_PERMISSION);
	read_create_args(fcinfo, &request);
	problem_init(&problem);
	if (!PG_ARGISNULL(2) &&
		!request_read_permissions_array(PG_GETARG_ARRAYTYPE_P(2), &request, &problem))
		problem_raise(&problem);
	return create_or_raise(&caller, &request);
}

/* create_user_api_token(json): the HTTP body {"description", "expiresAt", "permissions"} as is. */
Datum
fynn_tokens_create_user_api_token_json(PG_FUNCTION_ARGS)
{
	Caller		caller;
	CreateRequest request;
	ApiProblem	problem;

	authenticate_or_raise(&caller, FYNN_TOKENS_WRITE_PERMISSION);
	problem_init(&problem);
	if (!request_read_create_body(PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0), &request, &problem))
		problem_raise(&problem);
	return create_or_raise(&caller, &request);
}

/* list_user_api_tokens(page integer, "limit" integer): NULL means the default. */
Datum
fynn_tokens_list_user_api_tokens(PG_FUNCTION_ARGS)
{
	Caller		caller;
	PageRequest page;
	ApiProblem	problem;
	text	   *answer;

	authenticate_or_raise(&caller, FYNN_TOKENS_READ_PERMISSION);
	problem_init(&problem);
	page.page = PG_ARGISNULL(0) ? 1 : PG_GETARG_INT32(0);
	page.limit = PG_ARGISNULL(1) ? FYNN_TOKENS_PAGE_LIMIT_DEFAULT : PG_GETARG_INT32(1);
	if (!request_check_page(page.page, page.limit, &problem) ||
		!op_list(&caller, &page, &answer, &problem))
		problem_raise(&problem);
	PG_RETURN_TEXT_P(answer);
}

/* get_user_api_token(id text) */
Datum
fynn_tokens_get_user_api_token(PG_FUNCTION_ARGS)
{
	Caller		caller;
	ApiProblem	problem;
	text	   *answer;

	authenticate_or_raise(&caller, FYNN_TOKENS_READ_PERMISSION);
	problem_init(&problem);
	if (!op_get(&caller, text_arg(fcinfo, 0), &answer, &problem))
		problem_raise(&problem);
	PG_RETURN_TEXT_P(answer);
}

/* revoke_user_api_token(id text) */
Datum
fynn_tokens_revoke_user_api_token(PG_FUNCTION_ARGS)
{
	Caller		caller;
	ApiProblem	problem;

	authenticate_or_raise(&caller, FYNN_TOKENS_WRITE_PERMISSION);
	problem_init(&problem);
	if (!op_revoke(&caller, text_arg(fcinfo, 0), &problem))
		problem_raise(&problem);
	PG_RETURN_VOID();
}

/* revoke_current_api_token(): needs no permission, only to be an API token. */
Datum
fynn_tokens_revoke_current_api_token(PG_FUNCTION_ARGS)
{
	Caller		caller;
	ApiProblem	problem;

	authenticate_or_raise(&caller, NULL);
	problem_init(&problem);
	if (!op_revoke_current(&caller, &problem))
		problem_raise(&problem);
	PG_RETURN_VOID();
}

/* revoke_api_token(token text): no identity, knowing the secret is the proof. */
Datum
fynn_tokens_revoke_api_token(PG_FUNCTION_ARGS)
{
	ApiProblem	problem;
	uint8		hash[FYNN_TOKENS_HASH_LEN];
	char	   *token = text_arg(fcinfo, 0);

	problem_init(&problem);
	if (!op_check_token_text(token, strlen(token), hash, &problem))
		problem_raise(&problem);
	op_revoke_by_hash(hash);
	explicit_bzero(token, strlen(token));
	PG_RETURN_VOID();
}

/* rotate_user_api_token(id text, grace_period interval DEFAULT '0'): the successor's create answer. */
Datum
fynn_tokens_rotate_user_api_token(PG_FUNCTION_ARGS)
{
	Caller		caller;
	ApiProblem	problem;
	CreatedToken created;
	int64		grace_us = 0;

	authenticate_or_raise(&caller, FYNN_TOKENS_WRITE_PERMISSION);
	problem_init(&problem);
	if (!PG_ARGISNULL(1))
	{
		Interval   *span = PG_GETARG_INTERVAL_P(1);

		/* Months are not a fixed length: any month is beyond the 7-day bound anyway. */
		grace_us = span->month != 0 ? PG_INT64_MAX
			: span->time + (int64) span->day * USECS_PER_DAY;
	}
	if (!op_rotate(&caller, text_arg(fcinfo, 0), grace_us, &created, &problem))
		problem_raise(&problem);
	set_response_status_created();
	PG_RETURN_TEXT_P(created.answer);
}
