/*
 * create.c
 *		create_user_api_token: the SQL entry points that issue a token.
 *
 * Checks run in the order an HTTP client expects its errors: who is calling
 * (28000), may they (42501), is the input readable (22P02/22007), does it
 * keep the rules (22023).  Nothing is written until all have passed.
 */
#include "fynn_tokens.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(fynn_tokens_create_user_api_token);
PG_FUNCTION_INFO_V1(fynn_tokens_create_user_api_token_json);

#define RESPONSE_STATUS_SETTING "response.status"
#define RESPONSE_STATUS_CREATED "201"

/* The caller, who must hold the write permission. */
static const CallerIdentity *
require_token_creator(void)
{
	const CallerIdentity *caller = claims_require_identity();

	if (!caller->can_create_token)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to create an API token"),
				 errdetail("The caller's claims lack the permission \"%s\".",
						   FYNN_TOKENS_WRITE_PERMISSION)));
	return caller;
}

/* Tells PostgREST to answer 201, for this transaction only. */
static void
set_response_status_created(void)
{
	const char *current = GetConfigOption(RESPONSE_STATUS_SETTING, true, false);

	if (current != NULL && strcmp(current, RESPONSE_STATUS_CREATED) == 0)
		return;
	(void) set_config_option(RESPONSE_STATUS_SETTING, RESPONSE_STATUS_CREATED,
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_LOCAL,
							 true, 0, false);
}

/* Validates, draws the secret, stores its hash and answers; the token never leaves this frame but in the answer. */
static text *
issue_token(const CallerIdentity *caller, const TokenRequest *request)
{
	NewToken	token;
	text	   *answer;

	/*
	 * The insert bypasses the executor, and with it the executor's check for
	 * read-only transactions and hot standbys: make it here, with its SQLSTATE.
	 */
	PreventCommandIfReadOnly("create_user_api_token()");
	validate_token_request(request);
	token_generate(&token);
	store_insert_token(&token, caller, request);
	set_response_status_created();
	answer = json_created_token(&token, request);
	explicit_bzero(&token, sizeof(token));
	return answer;
}

/* create_user_api_token(description text, expires_at timestamptz) */
Datum
fynn_tokens_create_user_api_token(PG_FUNCTION_ARGS)
{
	const CallerIdentity *caller = require_token_creator();
	TokenRequest request;

	request.description = PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0);
	request.has_expires_at = !PG_ARGISNULL(1);
	request.expires_at = request.has_expires_at ? PG_GETARG_TIMESTAMPTZ(1) : 0;

	PG_RETURN_TEXT_P(issue_token(caller, &request));
}

/* create_user_api_token(json): the HTTP body as is. */
Datum
fynn_tokens_create_user_api_token_json(PG_FUNCTION_ARGS)
{
	const CallerIdentity *caller = require_token_creator();
	TokenRequest request;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("Syntax error"),
				 errdetail("The request body is missing.")));
	request_parse_json(PG_GETARG_TEXT_PP(0), &request);

	PG_RETURN_TEXT_P(issue_token(caller, &request));
}
