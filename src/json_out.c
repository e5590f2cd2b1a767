/*
 * json_out.c
 *		The JSON answers: a created token, a token's claims, the listing.
 *
 * Written directly into a StringInfo: each answer is a handful of known
 * keys, so building a jsonb value first would only cost time.  Dates are
 * the API's Y-m-d\TH:i:sP in UTC.
 */
#include "fynn_tokens.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/timestamp.h"

#define MASKED_TOKEN "**********"

/*
 * Writes ts in UTC as the API does (2021-01-01T00:00:00+00:00).  Instants
 * the server chose are whole seconds, as the API's format has them; an
 * expiry a client gave keeps its fraction, so it reads back as sent.
 */
void
json_append_rfc3339(StringInfo buf, TimestampTz ts, bool whole_seconds)
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
	if (fsec != 0 && !whole_seconds)
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

/* A JSON array of C strings. */
static void
append_string_array(StringInfo buf, int n, char *const *items)
{
	appendStringInfoChar(buf, '[');
	for (int i = 0; i < n; i++)
	{
		if (i > 0)
			appendStringInfoChar(buf, ',');
		escape_json(buf, items[i]);
	}
	appendStringInfoChar(buf, ']');
}

/* A JSON array of a text[] datum. */
static void
append_text_array(StringInfo buf, Datum array)
{
	Datum	   *elems;
	int			n;
	char	  **items;

	deconstruct_array(DatumGetArrayTypeP(array), TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, NULL, &n);
	items = palloc(sizeof(char *) * Max(n, 1));
	for (int i = 0; i < n; i++)
		items[i] = TextDatumGetCString(elems[i]);
	append_string_array(buf, n, items);
}

/* {"id","token","description","expiresAt","permissions"}: the only time the token is shown. */
text *
json_created_token(const NewToken *token, const CreateRequest *request)
{
	StringInfoData buf;
	text	   *answer;

	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"id\":\"%s\",\"token\":\"%s\",\"description\":",
					 token->id, token->token);
	append_text_or_null(&buf, request->description);
	appendStringInfoString(&buf, ",\"expiresAt\":");
	if (request->has_expires_at)
		json_append_rfc3339(&buf, request->expires_at, false);
	else
		appendStringInfoString(&buf, "null");
	appendStringInfoString(&buf, ",\"permissions\":");
	append_string_array(&buf, request->npermissions, request->permissions);
	appendStringInfoChar(&buf, '}');

	answer = cstring_to_text_with_len(buf.data, buf.len);
	explicit_bzero(buf.data, buf.len);
	return answer;
}

/*
 * The claims a token stands for, under the configured claim names, ready
 * to be fed back as request.jwt.claims: sub, tenant_id, permissions, the
 * token's id, and exp (seconds since the epoch) when it expires.
 */
text *
json_token_claims(const StoredToken *stored)
{
	StringInfoData buf;

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
	appendStringInfoChar(&buf, ':');
	append_text_array(&buf, stored->permissions);
	appendStringInfoString(&buf, ",\"token_id\":");
	escape_json(&buf, stored->id);
	if (stored->has_expires_at)
		appendStringInfo(&buf, ",\"exp\":" INT64_FORMAT,
						 (int64) ((stored->expires_at - SetEpochTimestamp()) / USECS_PER_SEC));
	appendStringInfoChar(&buf, '}');

	return cstring_to_text_with_len(buf.data, buf.len);
}

/* One item of the listing: the spec's keys, then lastUsedAt and permissions; never the secret. */
void
json_append_token_item(StringInfo buf, const StoredToken *stored)
{
	appendStringInfoString(buf, "{\"id\":");
	escape_json(buf, stored->id);
	appendStringInfoString(buf, ",\"description\":");
	append_text_or_null(buf, stored->description);
	appendStringInfoString(buf, ",\"expiresAt\":");
	if (stored->has_expires_at)
		json_append_rfc3339(buf, stored->expires_at, false);
	else
		appendStringInfoString(buf, "null");
	appendStringInfoString(buf, ",\"createdAt\":");
	json_append_rfc3339(buf, stored->created_at, true);
	appendStringInfoString(buf, ",\"updatedAt\":");
	json_append_rfc3339(buf, stored->has_updated_at ? stored->updated_at : stored->created_at, true);
	appendStringInfoString(buf, ",\"apiToken\":\"" MASKED_TOKEN "\",\"lastUsedAt\":");
	if (stored->has_last_used_at)
		json_append_rfc3339(buf, stored->last_used_at, true);
	else
		appendStringInfoString(buf, "null");
	appendStringInfoString(buf, ",\"permissions\":");
	append_text_array(buf, stored->permissions);
	appendStringInfoChar(buf, '}');
}

/* {"data":[...],"meta":{"pagination":{...}}}, the spec's listing. */
text *
json_token_page(const StoredToken *items, int nitems, int64 total, const PageRequest *page)
{
	StringInfoData buf;
	int64		last_page = Max((total + page->limit - 1) / page->limit, 1);

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"data\":[");
	for (int i = 0; i < nitems; i++)
	{
		if (i > 0)
			appendStringInfoChar(&buf, ',');
		json_append_token_item(&buf, &items[i]);
	}
	appendStringInfo(&buf,
					 "],\"meta\":{\"pagination\":{\"totalItems\":" INT64_FORMAT
					 ",\"itemsPerPage\":%d,\"currentPage\":%d,\"lastPage\":" INT64_FORMAT
					 ",\"pageTotalItems\":%d}}}",
					 total, page->limit, page->page, last_page, nitems);
	return cstring_to_text_with_len(buf.data, buf.len);
}
