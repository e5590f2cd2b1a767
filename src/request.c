/*
 * request.c
 *		The JSON request body and its dates.
 *
 * A REST layer passes the HTTP body through untouched, so this file is where
 * bad input is told apart from a broken rule: a wrong JSON type or an
 * unreadable date raises a class 22 error (400 over HTTP) that is never
 * 22023, the code of a rule violation (422).
 */
#include "fynn_tokens.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#define DESCRIPTION_KEY "description"
#define EXPIRES_AT_KEY	"expiresAt"

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

/* Raises the 400-class error for an attribute of the wrong JSON type. */
static void
report_wrong_type(const char *key, const JsonbValue *value)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("The type of the \"%s\" attribute must be \"string\", \"%s\" given.",
					key, json_type_name(value)),
			 errdetail("The attribute \"%s\" must be a JSON string or null.", key),
			 err_generic_string(PG_DIAG_COLUMN_NAME, key)));
}

/* Looks up key: false when absent or null, raises when not a string. */
static bool
string_attribute(Jsonb *body, const char *key, JsonbValue *value)
{
	if (getKeyJsonValueFromContainer(&body->root, key, strlen(key), value) == NULL ||
		value->type == jbvNull)
		return false;
	if (value->type != jbvString)
		report_wrong_type(key, value);
	return true;
}

/* Reads {"description", "expiresAt"}; unknown keys are ignored, as the API does. */
void
request_parse_json(text *body, TokenRequest *out)
{
	Jsonb	   *jb;
	JsonbValue	value;

	jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
											CStringGetDatum(text_to_cstring(body))));
	if (!JB_ROOT_IS_OBJECT(jb) || JB_ROOT_IS_SCALAR(jb))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("The input data is misformatted."),
				 errdetail("The request body must be a JSON object.")));

	out->description = NULL;
	if (string_attribute(jb, DESCRIPTION_KEY, &value))
		out->description = cstring_to_text_with_len(value.val.string.val,
													value.val.string.len);

	out->has_expires_at = false;
	if (string_attribute(jb, EXPIRES_AT_KEY, &value))
	{
		char	   *s = pnstrdup(value.val.string.val, value.val.string.len);

		if (!rfc3339_parse(s, &out->expires_at))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_DATETIME_FORMAT),
					 errmsg("The \"expiresAt\" attribute must be an RFC 3339 date-time such as \"2021-01-01T00:00:00+00:00\"."),
					 errdetail("Only YYYY-MM-DDTHH:MM:SS, an optional fraction and Z or a +HH:MM/-HH:MM offset are accepted."),
					 err_generic_string(PG_DIAG_COLUMN_NAME, EXPIRES_AT_KEY)));
		out->has_expires_at = true;
	}
}

/* Reads exactly n decimal digits at *p, advancing it; -1 when they are not there. */
static int
read_digits(const char **p, int n)
{
	int			value = 0;

	for (int i = 0; i < n; i++)
	{
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return -1;
		value = value * 10 + ((*p)[i] - '0');
	}
	*p += n;
	return value;
}

/* Consumes one expected character. */
static bool
expect_char(const char **p, char c1, char c2)
{
	if (**p != c1 && **p != c2)
		return false;
	(*p)++;
	return true;
}

/* Reads ".digits" into microseconds, rounding at the seventh digit as PostgreSQL does. */
static bool
read_fraction(const char **p, fsec_t *fsec)
{
	int			ndigits = 0;
	bool		round_up = false;

	*fsec = 0;
	if (**p != '.')
		return true;
	for ((*p)++; **p >= '0' && **p <= '9'; (*p)++, ndigits++)
	{
		if (ndigits < 6)
			*fsec = *fsec * 10 + (**p - '0');
		else if (ndigits == 6)
			round_up = (**p >= '5');
	}
	for (int i = ndigits; i < 6; i++)
		*fsec *= 10;
	if (round_up)
		(*fsec)++;
	return ndigits > 0;
}

/* Reads Z or +HH:MM / -HH:MM as seconds east of UTC. */
static bool
read_offset(const char **p, int *east_seconds)
{
	int			sign;
	int			hours;
	int			minutes;

	if (expect_char(p, 'Z', 'z'))
	{
		*east_seconds = 0;
		return true;
	}
	if (**p != '+' && **p != '-')
		return false;
	sign = (**p == '-') ? -1 : 1;
	(*p)++;
	if ((hours = read_digits(p, 2)) < 0 || hours > 23 ||
		!expect_char(p, ':', ':') ||
		(minutes = read_digits(p, 2)) < 0 || minutes > 59)
		return false;
	*east_seconds = sign * (hours * 3600 + minutes * 60);
	return true;
}

/*
 * Strict RFC 3339 date-time, unlike timestamptz_in, which also takes 'now',
 * a missing offset and dates such as 2021-02-31.
 */
bool
rfc3339_parse(const char *s, TimestampTz *result)
{
	const char *p = s;
	struct pg_tm tm = {0};
	fsec_t		fsec;
	int			east_seconds;
	int			tz;

	if ((tm.tm_year = read_digits(&p, 4)) < 1 || !expect_char(&p, '-', '-') ||
		(tm.tm_mon = read_digits(&p, 2)) < 1 || tm.tm_mon > 12 ||
		!expect_char(&p, '-', '-') ||
		(tm.tm_mday = read_digits(&p, 2)) < 1 ||
		tm.tm_mday > day_tab[isleap(tm.tm_year)][tm.tm_mon - 1] ||
		!expect_char(&p, 'T', 't') ||
		(tm.tm_hour = read_digits(&p, 2)) < 0 || tm.tm_hour > 23 ||
		!expect_char(&p, ':', ':') ||
		(tm.tm_min = read_digits(&p, 2)) < 0 || tm.tm_min > 59 ||
		!expect_char(&p, ':', ':') ||
		(tm.tm_sec = read_digits(&p, 2)) < 0 || tm.tm_sec > 60 ||	/* leap second */
		!read_fraction(&p, &fsec) ||
		!read_offset(&p, &east_seconds) ||
		*p != '\0')
		return false;

	tz = -east_seconds;			/* PostgreSQL counts seconds west of UTC */
	return tm2timestamp(&tm, fsec, &tz, result) == 0 && IS_VALID_TIMESTAMP(*result);
}
