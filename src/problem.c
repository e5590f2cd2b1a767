/*
 * problem.c
 *		A request that cannot be served, described once and rendered twice:
 *		as an error with a SQLSTATE for SQL callers (fynn_tokens.*), and as a
 *		whole HTTP answer for the HTTP API (fynn_api.*), so the contract's
 *		errors live in one place.
 *
 * Rule violations are collected, not raised one by one, so a client learns
 * every problem of its request at once.  As an error they become one 22023
 * whose fields a caller reads without parsing text:
 *	message			the API's "detail": "property: message" lines
 *	detail			the API's "violations" array, as JSON
 *	column name		the violated properties, comma-separated
 *	constraint name	the violation kinds, comma-separated
 */
#include "fynn_tokens.h"

#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"

#define PROBLEM_TITLE			"An error occurred"
#define CONTENT_TYPE_PROBLEM	"application/problem+json; charset=utf-8"

typedef struct ViolationKind
{
	const char *property;		/* propertyPath, as in the request body */
	const char *kind;			/* stable name for SQL callers */
	const char *code;			/* Symfony's constraint code, as the API reports */
} ViolationKind;

static const ViolationKind violation_kinds[NUM_VIOLATION_KINDS] = {
	[VIOLATION_DESCRIPTION_TOO_SHORT] = {"description", "too_short",
	"9ff3fdc4-b214-49db-8718-39c315e33d45"},	/* Length::TOO_SHORT_ERROR */
	[VIOLATION_DESCRIPTION_TOO_LONG] = {"description", "too_long",
	"d94b19cc-114f-4f44-9cc4-4138e80a87b9"},	/* Length::TOO_LONG_ERROR */
	[VIOLATION_EXPIRES_AT_NOT_IN_FUTURE] = {"expiresAt", "not_in_future",
	"778b7ae0-84d3-481a-9dec-35fdb64b1d78"},	/* GreaterThan::TOO_LOW_ERROR */
	[VIOLATION_EXPIRES_AT_NULL] = {"expiresAt", "null_not_allowed",
	"ad32d13f-c3d4-423b-909a-857b961eb720"},	/* NotNull::IS_NULL_ERROR */
	[VIOLATION_EXPIRES_AT_TOO_LATE] = {"expiresAt", "beyond_max_lifetime",
	"30fbb013-d015-4232-8b3b-8f3be97a7e14"},	/* LessThanOrEqual::TOO_HIGH_ERROR */
	[VIOLATION_PERMISSIONS_EMPTY] = {"permissions", "empty",
	"bef8e338-6ae5-4caf-b8e2-50e7b0579e69"},	/* Count::TOO_FEW_ERROR */
	[VIOLATION_PERMISSIONS_NOT_HELD] = {"permissions", "not_held",
	"8e179f1b-97aa-4560-a02f-2a8b42e49df7"},	/* Choice::NO_SUCH_CHOICE_ERROR */
	[VIOLATION_TOO_MANY_TOKENS] = {"", "too_many_tokens",
	"756b1212-697c-468d-a9ad-50dd783bb169"},	/* Count::TOO_MANY_ERROR */
	[VIOLATION_GRACE_PERIOD_RANGE] = {"gracePeriod", "out_of_range",
	"04b91c99-a946-4221-afc5-e65ebac401eb"},	/* Range::NOT_IN_RANGE_ERROR */
};

/* vpsprintf: a formatted string in the current memory context. */
pg_attribute_printf(1, 0)
static char *
format_va(const char *fmt, va_list args)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (;;)
	{
		va_list		copy;
		int			needed;

		va_copy(copy, args);
		needed = appendStringInfoVA(&buf, fmt, copy);
		va_end(copy);
		if (needed == 0)
			break;
		enlargeStringInfo(&buf, needed);
	}
	return buf.data;
}

/* A clean slate: no problem yet. */
void
problem_init(ApiProblem *problem)
{
	memset(problem, 0, sizeof(*problem));
}

/* Records a problem; returns false so that callers can "return problem_set(...)". */
bool
problem_set(ApiProblem *problem, int status, int sqlerrcode, const char *column,
			const char *fmt,...)
{
	va_list		args;

	va_start(args, fmt);
	problem->message = format_va(fmt, args);
	va_end(args);
	problem->status = status;
	problem->sqlerrcode = sqlerrcode;
	problem->column = column;
	problem->sql_message = NULL;
	problem->sql_detail = NULL;
	problem->credential_given = false;
	/* A problem of its own replaces violations collected so far. */
	problem->nviolations = 0;
	return false;
}

/* The errmsg a SQL caller sees, in PostgreSQL's style, where the API's sentence would not fit. */
void
problem_set_sql_message(ApiProblem *problem, const char *fmt,...)
{
	va_list		args;

	va_start(args, fmt);
	problem->sql_message = format_va(fmt, args);
	va_end(args);
}

/* The errdetail a SQL caller sees besides the message; the HTTP body has no room for it. */
void
problem_set_sql_detail(ApiProblem *problem, const char *fmt,...)
{
	va_list		args;

	va_start(args, fmt);
	problem->sql_detail = format_va(fmt, args);
	va_end(args);
}

/* Adds one violation with its formatted message; the request is judged once all are in. */
void
problem_add_violation(ApiProblem *problem, ViolationId id, const char *fmt,...)
{
	va_list		args;

	Assert(problem->nviolations < MAX_VIOLATIONS);
	va_start(args, fmt);
	problem->violations[problem->nviolations].message = format_va(fmt, args);
	va_end(args);
	problem->violations[problem->nviolations].id = id;
	problem->nviolations++;
}

/* "property: message" lines, the API's detail; a class-level violation has no property. */
static char *
violation_lines(const ApiProblem *problem)
{
	StringInfoData lines;

	initStringInfo(&lines);
	for (int i = 0; i < problem->nviolations; i++)
	{
		const Violation *v = &problem->violations[i];
		const char *property = violation_kinds[v->id].property;

		if (i > 0)
			appendStringInfoChar(&lines, '\n');
		if (property[0] != '\0')
			appendStringInfo(&lines, "%s: ", property);
		appendStringInfoString(&lines, v->message);
	}
	return lines.data;
}

/* The API's violations array. */
static void
append_violations_json(StringInfo json, const ApiProblem *problem)
{
	appendStringInfoChar(json, '[');
	for (int i = 0; i < problem->nviolations; i++)
	{
		const Violation *v = &problem->violations[i];
		const ViolationKind *kind = &violation_kinds[v->id];

		if (i > 0)
			appendStringInfoChar(json, ',');
		appendStringInfoString(json, "{\"propertyPath\":");
		escape_json(json, kind->property);
		appendStringInfoString(json, ",\"message\":");
		escape_json(json, v->message);
		appendStringInfoString(json, ",\"code\":");
		escape_json(json, kind->code);
		appendStringInfoChar(json, '}');
	}
	appendStringInfoChar(json, ']');
}

/* Turns the collected violations into the problem: 422 over HTTP, 22023 in SQL. */
bool
problem_close_violations(ApiProblem *problem)
{
	if (problem->nviolations == 0)
		return true;
	problem->status = 422;
	problem->sqlerrcode = ERRCODE_INVALID_PARAMETER_VALUE;
	problem->message = violation_lines(problem);
	return false;
}

/* Comma-separated properties or kinds of the violations, for the error's fields. */
static char *
violation_field(const ApiProblem *problem, bool kinds)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; i < problem->nviolations; i++)
	{
		const ViolationKind *kind = &violation_kinds[problem->violations[i].id];

		appendStringInfo(&buf, "%s%s", i > 0 ? "," : "", kinds ? kind->kind : kind->property);
	}
	return buf.data;
}

/* The SQL rendering: an error with the problem's SQLSTATE and fields. */
void
problem_raise(const ApiProblem *problem)
{
	if (problem->nviolations > 0)
	{
		StringInfoData json;

		initStringInfo(&json);
		append_violations_json(&json, problem);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg_internal("%s", problem->message),
				 errdetail_internal("%s", json.data),
				 err_generic_string(PG_DIAG_COLUMN_NAME, violation_field(problem, false)),
				 err_generic_string(PG_DIAG_CONSTRAINT_NAME, violation_field(problem, true))));
	}
	ereport(ERROR,
			(errcode(problem->sqlerrcode),
			 errmsg_internal("%s", problem->sql_message ? problem->sql_message : problem->message),
			 problem->sql_detail ? errdetail_internal("%s", problem->sql_detail) : 0,
			 problem->column ? err_generic_string(PG_DIAG_COLUMN_NAME, problem->column) : 0));
	pg_unreachable();
}

/* Sets a transaction-local setting, as set_config(name, value, true) does. */
static void
set_local(const char *name, const char *value)
{
	(void) set_config_option(name, value, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
}

/*
 * The status and headers of the HTTP answer, in PostgREST's settings:
 * response.status as a decimal, response.headers as a JSON array of
 * single-key objects.  Both are transaction-local, like PostgREST's own.
 */
void
http_set_response(int status, const char *headers_json)
{
	char		digits[12];

	snprintf(digits, sizeof(digits), "%d", status);
	set_local("response.status", digits);
	set_local("response.headers", headers_json ? headers_json : "[]");
}

/* The HTTP rendering: status and headers set, the problem+json body returned. */
text *
problem_http_body(const ApiProblem *problem)
{
	StringInfoData body;
	StringInfoData headers;

	initStringInfo(&body);
	if (problem->nviolations > 0)
	{
		/* API Platform's key order: status, violations, detail, type, title. */
		appendStringInfoString(&body, "{\"status\":422,\"violations\":");
		append_violations_json(&body, problem);
		appendStringInfoString(&body, ",\"detail\":");
		escape_json(&body, problem->message);
		appendStringInfoString(&body, ",\"type\":\"/validation_errors/");
		for (int i = 0; i < problem->nviolations; i++)
		{
			const char *code = violation_kinds[problem->violations[i].id].code;

			if (problem->nviolations == 1)
				appendStringInfoString(&body, code);
			else
				appendStringInfo(&body, "%s%d=%s", i > 0 ? ";" : "", i, code);
		}
		appendStringInfoString(&body, "\",\"title\":\"" PROBLEM_TITLE "\"}");
	}
	else
	{
		appendStringInfo(&body, "{\"type\":\"/errors/%d\",\"title\":\"" PROBLEM_TITLE "\",\"status\":%d,\"detail\":",
						 problem->status, problem->status);
		escape_json(&body, problem->message);
		appendStringInfoChar(&body, '}');
	}

	initStringInfo(&headers);
	appendStringInfoString(&headers, "[{\"Content-Type\":\"" CONTENT_TYPE_PROBLEM "\"}");
	if (problem->status == 401)
		appendStringInfo(&headers, ",{\"WWW-Authenticate\":\"%s\"}",
						 problem->credential_given ? "Bearer error=\\\"invalid_token\\\"" : "Bearer");
	appendStringInfoChar(&headers, ']');
	http_set_response(problem->status, headers.data);

	return cstring_to_text_with_len(body.data, body.len);
}
