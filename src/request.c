/*
 * request.c
 *		Input: the JSON bodies, RFC 3339 dates, paging parameters.
 *
 * This is where bad input is told apart from a broken rule: a body that is
 * not an object, an attribute of the wrong JSON type or an unreadable date
 * is a 400 (a class 22 SQLSTATE other than 22023), a rule violation is a
 * 422 (validate.c).  Unknown keys are ignored, as the API does.
 */
#include "fynn_tokens.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"

#include "rfc3339.h"

#define DESCRIPTION_KEY	"description"
#define EXPIRES_AT_KEY	"expiresAt"
#define PERMISSIONS_KEY	"permissions"

/* The JSON type name as PHP, and thus the original API, reports it. */
static const char *
json_type_name(const JsonbValue *value)
{
	switch (value->type)
	{
		case jbvNull:
			return "null";
		case jbvString:
			return "string";
		case jbvBool:
			return "boolean";
		case jbvNumeric:
			{
				char	   *digits = DatumGetCString(DirectFunctionCall1(numeric_out,
																		 NumericGetDatum(value->val.numeric)));

				return strpbrk(digits, ".eE") ? "double" : "integer";
			}
		default:
			return "array";		/* PHP decodes JSON arrays and objects alike */
	}
}

/*
 * The 400 for an attribute of the wrong JSON type, in the API's wording.
 * Where an array is expected, an object is named "object": PHP's "array"
 * would read "must be \"array\", \"array\" given".
 */
static bool
wrong_type(ApiProblem *problem, const char *key, const char *expected, const JsonbValue *value)
{
	const char *given = json_type_name(value);

	if (strcmp(expected, "array") == 0 && value->type == jbvBinary &&
		JsonContainerIsObject(value->val.binary.data))
		given = "object";
	problem_set(problem, 400, ERRCODE_INVALID_TEXT_REPRESENTATION, key,
				"The type of the \"%s\" attribute must be \"%s\", \"%s\" given.",
				key, expected, given);
	problem_set_sql_detail(problem, "The attribute \"%s\" must be a JSON %s or null.", key, expected);
	return false;
}

/*
 * The body as a jsonb object.  The json type has already checked the
 * syntax; what jsonb cannot hold (a \u0000 escape) is reported as the
 * syntax error it is for PostgreSQL, never raised.
 */
bool
request_read_json_object(text *body, Jsonb **out, ApiProblem *problem)
{
	Jsonb	   *jb;

	if (body == NULL)
		return problem_set(problem, 400, ERRCODE_INVALID_TEXT_REPRESENTATION, NULL, "Syntax error");
	if (!compat_jsonb_parse(text_to_cstring(body), &jb))
	{
		problem_set(problem, 400, ERRCODE_INVALID_TEXT_REPRESENTATION, NULL, "Syntax error");
		problem_set_sql_detail(problem, "The request body cannot be read as jsonb.");
		return false;
	}
	if (!JB_ROOT_IS_OBJECT(jb) || JB_ROOT_IS_SCALAR(jb))
	{
		problem_set(problem, 400, ERRCODE_INVALID_TEXT_REPRESENTATION, NULL,
					"The input data is misformatted.");
		problem_set_sql_detail(problem, "The request body must be a JSON object.");
		return false;
	}
	*out = jb;
	return true;
}

/* A member that must be a string or null; *out is NULL when absent or null. */
bool
request_string_member(Jsonb *object, const char *key, char **out, ApiProblem *problem)
{
	JsonbValue	value;

	*out = NULL;
	if (getKeyJsonValueFromContainer(&object->root, key, strlen(key), &value) == NULL ||
		value.type == jbvNull)
		return true;
	if (value.type != jbvString)
		return wrong_type(problem, key, "string", &value);
	*out = pnstrdup(value.val.string.val, value.val.string.len);
	return true;
}

/* Reads the permissions array; every element must be a string. */
static bool
read_permissions_member(Jsonb *object, CreateRequest *out, ApiProblem *problem)
{
	JsonbValue	value;
	JsonbIterator *it;
	JsonbValue	elem;
	JsonbIteratorToken tok;
	int			capacity = 8;

	out->has_permissions = false;
	if (getKeyJsonValueFromContainer(&object->root, PERMISSIONS_KEY, strlen(PERMISSIONS_KEY), &value) == NULL ||
		value.type == jbvNull)
		return true;
	if (value.type != jbvBinary || !JsonContainerIsArray(value.val.binary.data))
		return wrong_type(problem, PERMISSIONS_KEY, "array", &value);

	out->has_permissions = true;
	out->npermissions = 0;
	out->permissions = palloc(sizeof(char *) * capacity);
	it = JsonbIteratorInit(value.val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &elem, true)) != WJB_DONE)
	{
		if (tok != WJB_ELEM)
			continue;
		if (elem.type != jbvString)
		{
			char	   *key = psprintf("%s[%d]", PERMISSIONS_KEY, out->npermissions);

			wrong_type(problem, key, "string", &elem);
			/* Unlike an attribute, an element may not be null either. */
			problem_set_sql_detail(problem, "Each element of \"%s\" must be a JSON string.", PERMISSIONS_KEY);
			return false;
		}
		if (out->npermissions == capacity)
		{
			capacity *= 2;
			out->permissions = repalloc(out->permissions, sizeof(char *) * capacity);
		}
		out->permissions[out->npermissions++] = pnstrdup(elem.val.string.val, elem.val.string.len);
	}
	return true;
}

/* Reads {"description", "expiresAt", "permissions"}. */
bool
request_read_create_body(text *body, CreateRequest *out, ApiProblem *problem)
{
	Jsonb	   *jb;
	char	   *description;
	char	   *expires_at;

	memset(out, 0, sizeof(*out));
	if (!request_read_json_object(body, &jb, problem) ||
		!request_string_member(jb, DESCRIPTION_KEY, &description, problem) ||
		!request_string_member(jb, EXPIRES_AT_KEY, &expires_at, problem) ||
		!read_permissions_member(jb, out, problem))
		return false;

	if (description)
		out->description = cstring_to_text(description);
	if (expires_at)
	{
		if (!request_rfc3339(expires_at, strlen(expires_at), &out->expires_at))
		{
			problem_set(problem, 400, ERRCODE_INVALID_DATETIME_FORMAT, EXPIRES_AT_KEY,
						"The \"expiresAt\" attribute must be an RFC 3339 date-time such as \"2021-01-01T00:00:00+00:00\".");
			problem_set_sql_detail(problem, "Only YYYY-MM-DDTHH:MM:SS, an optional fraction and Z or a +HH:MM/-HH:MM offset are accepted.");
			return false;
		}
		out->has_expires_at = true;
	}
	return true;
}

/* The permissions of the SQL signature: a text[] without NULL elements. */
bool
request_read_permissions_array(ArrayType *array, CreateRequest *out, ApiProblem *problem)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	if (ARR_NDIM(array) > 1)
		return problem_set(problem, 400, ERRCODE_ARRAY_SUBSCRIPT_ERROR, PERMISSIONS_KEY,
						   "The \"permissions\" attribute must be a one-dimensional array.");
	deconstruct_array(array, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	out->has_permissions = true;
	out->npermissions = n;
	out->permissions = palloc(sizeof(char *) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		if (nulls[i])
			return problem_set(problem, 400, ERRCODE_NULL_VALUE_NOT_ALLOWED, PERMISSIONS_KEY,
							   "The \"permissions\" attribute must not contain null.");
		out->permissions[i] = TextDatumGetCString(elems[i]);
	}
	return true;
}

/* Strict RFC 3339, unlike timestamptz_in, which also takes 'now', a missing offset and 2021-02-31. */
bool
request_rfc3339(const char *s, size_t len, TimestampTz *result)
{
	rfc3339_time t;
	struct pg_tm tm = {0};
	int			tz;

	if (!rfc3339_parse(s, len, &t))
		return false;
	tm.tm_year = t.year;
	tm.tm_mon = t.month;
	tm.tm_mday = t.day;
	tm.tm_hour = t.hour;
	tm.tm_min = t.minute;
	tm.tm_sec = t.second;
	tz = -t.offset_seconds;		/* PostgreSQL counts seconds west of UTC */
	return tm2timestamp(&tm, t.microsecond, &tz, result) == 0 && IS_VALID_TIMESTAMP(*result);
}

/* A strict base-10 integer; false for anything else (" 1", "1x", "", "1.0"). */
static bool
parse_int(const char *s, int *out)
{
	char	   *end;
	long		v;

	if (s[0] == '\0' || !(s[0] == '-' || (s[0] >= '0' && s[0] <= '9')))
		return false;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < PG_INT32_MIN || v > PG_INT32_MAX)
		return false;
	*out = (int) v;
	return true;
}

/* page >= 1, limit 1..100: the SQL standard's codes for bad OFFSET and LIMIT. */
bool
request_check_page(int page, int limit, ApiProblem *problem)
{
	if (page < 1)
		return problem_set(problem, 400, ERRCODE_INVALID_ROW_COUNT_IN_RESULT_OFFSET_CLAUSE, "page",
						   "The \"page\" parameter must be an integer of 1 or more.");
	if (limit < 1 || limit > FYNN_TOKENS_PAGE_LIMIT_MAX)
		return problem_set(problem, 400, ERRCODE_INVALID_ROW_COUNT_IN_LIMIT_CLAUSE, "limit",
						   "The \"limit\" parameter must be an integer from 1 to %d.",
						   FYNN_TOKENS_PAGE_LIMIT_MAX);
	return true;
}

/* The paging parameters as an HTTP query string has them: text, absent as NULL. */
bool
request_read_page(const char *page, const char *limit, PageRequest *out, ApiProblem *problem)
{
	out->page = 1;
	out->limit = FYNN_TOKENS_PAGE_LIMIT_DEFAULT;
	if (page && !parse_int(page, &out->page))
		out->page = 0;
	if (limit && !parse_int(limit, &out->limit))
		out->limit = 0;
	return request_check_page(out->page, out->limit, problem);
}
