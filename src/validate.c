/*
 * validate.c
 *		The rules a token request must satisfy, reported as violations.
 *
 * Every violation of a request is reported at once in one 22023 error, in
 * fields a caller reads without parsing text:
 *	message			the API's "detail": "property: message" lines
 *	detail			the API's "violations" array, as JSON
 *	column name		the violated properties, comma-separated
 *	constraint name	the violation kinds, comma-separated
 */
#include "fynn_tokens.h"

#include "mb/pg_wchar.h"
#include "utils/json.h"
#include "utils/timestamp.h"

typedef struct ViolationKind
{
	const char *property;		/* propertyPath, as in the request body */
	const char *kind;			/* stable name for SQL callers */
	const char *code;			/* stable code for REST clients */
	const char *message;
} ViolationKind;

typedef enum ViolationId
{
	DESCRIPTION_TOO_SHORT,
	DESCRIPTION_TOO_LONG,
	EXPIRES_AT_NOT_IN_FUTURE
} ViolationId;

/* Codes of Symfony's Length and GreaterThan constraints, which the API reports. */
static const ViolationKind violation_kinds[] = {
	[DESCRIPTION_TOO_SHORT] = {"description", "too_short",
		"9ff3fdc4-b214-49db-8718-39c315e33d45",
	"This value is too short. It should have 3 characters or more."},
	[DESCRIPTION_TOO_LONG] = {"description", "too_long",
		"d94b19cc-114f-4f44-9cc4-4138e80a87b9",
	"This value is too long. It should have 255 characters or less."},
	[EXPIRES_AT_NOT_IN_FUTURE] = {"expiresAt", "not_in_future",
		"778b7ae0-84d3-481a-9dec-35fdb64b1d78",
	"This value should be in the future."},
};

#define MAX_VIOLATIONS lengthof(violation_kinds)

/* Raises one 22023 error carrying every violation found. */
static void
report_violations(const ViolationId *found, int n)
{
	StringInfoData lines;
	StringInfoData json;
	StringInfoData properties;
	StringInfoData kinds;

	initStringInfo(&lines);
	initStringInfo(&json);
	initStringInfo(&properties);
	initStringInfo(&kinds);
	appendStringInfoChar(&json, '[');
	for (int i = 0; i < n; i++)
	{
		const ViolationKind *v = &violation_kinds[found[i]];
		const char *sep = (i > 0) ? "," : "";

		appendStringInfo(&lines, "%s%s: %s", (i > 0) ? "\n" : "", v->property, v->message);
		appendStringInfo(&properties, "%s%s", sep, v->property);
		appendStringInfo(&kinds, "%s%s", sep, v->kind);
		appendStringInfo(&json, "%s{\"propertyPath\":", sep);
		escape_json(&json, v->property);
		appendStringInfoString(&json, ",\"message\":");
		escape_json(&json, v->message);
		appendStringInfoString(&json, ",\"code\":");
		escape_json(&json, v->code);
		appendStringInfoChar(&json, '}');
	}
	appendStringInfoChar(&json, ']');

	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg_internal("%s", lines.data),
			 errdetail_internal("%s", json.data),
			 err_generic_string(PG_DIAG_COLUMN_NAME, properties.data),
			 err_generic_string(PG_DIAG_CONSTRAINT_NAME, kinds.data)));
}

/* Checks description length in code points and that expiresAt lies ahead. */
void
validate_token_request(const TokenRequest *request)
{
	ViolationId found[MAX_VIOLATIONS];
	int			n = 0;

	if (request->description != NULL)
	{
		int			chars = pg_mbstrlen_with_len(VARDATA_ANY(request->description),
												 VARSIZE_ANY_EXHDR(request->description));

		if (chars < FYNN_TOKENS_DESCRIPTION_MIN)
			found[n++] = DESCRIPTION_TOO_SHORT;
		else if (chars > FYNN_TOKENS_DESCRIPTION_MAX)
			found[n++] = DESCRIPTION_TOO_LONG;
	}
	if (request->has_expires_at && TIMESTAMP_NOT_FINITE(request->expires_at) &&
		request->expires_at > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("The \"expiresAt\" attribute must be a finite date-time."),
				 errdetail("A token that never expires has a NULL expiresAt."),
				 err_generic_string(PG_DIAG_COLUMN_NAME, "expiresAt")));
	if (request->has_expires_at && request->expires_at <= GetCurrentTimestamp())
		found[n++] = EXPIRES_AT_NOT_IN_FUTURE;

	if (n > 0)
		report_violations(found, n);
}
