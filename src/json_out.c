/*
 * json_out.c
 *		The JSON answers: a created token and the claims a token stands for.
 *
 * Written directly into a StringInfo: each answer is a handful of known
 * keys, so building a jsonb value first would only cost time.
 */
#include "fynn_tokens.h"

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/timestamp.h"

/* Writes ts in UTC as the API does (2021-01-01T00:00:00+00:00), with a fraction only when there is one. */
void
json_append_rfc3339(StringInfo buf, TimestampTz ts)
{
	struct pg_tm tm;
	fsec_t		fsec;

	if (timestamp2tm(ts, NULL, &tm, &fsec, NULL, NULL) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));

	appendStringInfo(buf, "\"%04d-%02d-%02dT%02d:%02d:%02d",
					 tm.tm_year, tm.tm_mon, tm.tm_mday,
					 tm.tm_hour, tm.tm_min, tm.tm_sec);
	if (fsec != 0)
	{
		char		fraction[8];
		int			len;

		snprintf(fraction, sizeof(fraction), ".%06d", (int) fsec);
		for (len = 7; fraction[len - 1] == '0'; len--)
			;
		appendBinaryStringInfo(buf, fraction, len);
	}
	appendStringInfoString(buf, "+00:00\"");
}

/* Appends a JSON string, or null for a NULL text. */
static void
append_text_or_null(StringInfo buf, const text *value)
{
	if (value == NULL)
		appendStringInfoString(buf, "null");
	else
		escape_json(buf, text_to_cstring(value));
}

/* {"id","token","description","expiresAt"}: the only time the token is shown. */
text *
json_created_token(const NewToken *token, const TokenRequest *request)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"id\":\"%s\",\"token\":\"%s\",\"description\":",
					 token->id, token->token);
	append_text_or_null(&buf, request->description);
	appendStringInfoString(&buf, ",\"expiresAt\":");
	if (request->has_expires_at)
		json_append_rfc3339(&buf, request->expires_at);
	else
		appendStringInfoString(&buf, "null");
	appendStringInfoChar(&buf, '}');

	return cstring_to_text_with_len(buf.data, buf.len);
}

/* The claims a token stands for, under the configured claim names, ready for request.jwt.claims. */
text *
json_token_claims(const StoredToken *stored)
{
	StringInfoData buf;
	Datum	   *perms;
	bool	   *nulls;
	int			nperms;

	deconstruct_array(DatumGetArrayTypeP(stored->permissions), TEXTOID, -1, false,
					  TYPALIGN_INT, &perms, &nulls, &nperms);

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	escape_json(&buf, fynn_tokens_user_claim);
	appendStringInfoChar(&buf, ':');
	escape_json(&buf, stored->user_id);
	appendStringInfoChar(&buf, ',');
	escape_json(&buf, fynn_tokens_tenant_claim);
	appendStringInfoChar(&buf, ':');
	escape_json(&buf, stored->tenant_id);
	appendStringInfoChar(&buf, ',');
	escape_json(&buf, fynn_tokens_permissions_claim);
	appendStringInfoString(&buf, ":[");
	for (int i = 0; i < nperms; i++)
	{
		if (i > 0)
			appendStringInfoChar(&buf, ',');
		escape_json(&buf, TextDatumGetCString(perms[i]));
	}
	appendStringInfoString(&buf, "],\"token_id\":");
	escape_json(&buf, stored->id);
	appendStringInfoChar(&buf, '}');

	return cstring_to_text_with_len(buf.data, buf.len);
}
