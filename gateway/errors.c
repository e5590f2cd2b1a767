/*
 * errors.c
 *		The single place that decides which HTTP status and which body a
 *		failure becomes, so the contract's error table lives in one file.
 *
 * Database errors are classified by SQLSTATE only, never by message text:
 * the extension owns the messages, the SQLSTATE is the interface.
 */
#include "errors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "log.h"

/* The title API Platform puts on every error body. */
#define PROBLEM_TITLE "An error occurred"

/* Releases a reply's heap parts; used when an earlier reply is replaced. */
void
errors_reply_free(gw_reply *reply)
{
	free(reply->body);
	free(reply->location);
	reply->body = NULL;
	reply->location = NULL;
}

/* Serialises an object compactly, falling back to a fixed body when out of memory. */
static char *
dump_or_fallback(json_t *obj)
{
	char	   *s = json_dumps(obj, JSON_COMPACT);

	if (s == NULL)
		s = strdup("{\"type\":\"/errors/500\",\"title\":\"An error occurred\",\"status\":500}");
	json_decref(obj);
	return s;
}

/* Builds the API Platform problem body so clients of the original API see the same shape. */
void
errors_problem(gw_reply *reply, unsigned status, const char *detail)
{
	char		type[32];
	json_t	   *obj;

	errors_reply_free(reply);
	snprintf(type, sizeof(type), "/errors/%u", status);
	obj = json_pack("{s:s, s:s, s:i, s:s}",
					"type", type,
					"title", PROBLEM_TITLE,
					"status", (int) status,
					"detail", detail ? detail : "");
	reply->status = status;
	reply->content_type = CONTENT_TYPE_PROBLEM;
	reply->body = obj ? dump_or_fallback(obj) : NULL;
	if (reply->body == NULL)
		reply->status = 500;
}

/* RFC 6750 section 3: tell the client which scheme to use, and whether its credential was bad. */
void
errors_unauthorized(gw_reply *reply, bool credential_given, const char *detail)
{
	errors_problem(reply, 401, detail);
	reply->www_authenticate = credential_given
		? "Bearer error=\"invalid_token\""
		: "Bearer";
}

/* One wording for every "database is away" case, so clients can retry on 503 alone. */
void
errors_unavailable(gw_reply *reply)
{
	errors_problem(reply, 503, "The database is unavailable, try again later.");
}

/* A 500 is a bug: log it loudly, but tell the client nothing internal. */
void
errors_internal(gw_reply *reply, const char *why)
{
	log_error("internal error: %s", why);
	errors_problem(reply, 500, "Internal Server Error");
}

/* The SQLSTATE table of the contract; anything unlisted is a bug (500). */
unsigned
errors_status_for_sqlstate(const char *sqlstate)
{
	if (sqlstate == NULL || strlen(sqlstate) != 5)
		return 500;
	if (strcmp(sqlstate, "22023") == 0)
		return 422;				/* validation violations from the extension */
	if (strncmp(sqlstate, "22", 2) == 0)
		return 400;				/* wrong JSON type, bad date, bad escape... */
	if (strcmp(sqlstate, "28000") == 0)
		return 401;				/* claims without a usable identity */
	if (strcmp(sqlstate, "42501") == 0)
		return 403;				/* identity lacks the permission */
	if (strncmp(sqlstate, "08", 2) == 0 ||	/* connection exceptions */
		strcmp(sqlstate, "57P01") == 0 ||	/* admin shutdown */
		strcmp(sqlstate, "57P02") == 0 ||	/* crash shutdown */
		strcmp(sqlstate, "57P03") == 0 ||	/* cannot connect now (starting up) */
		strncmp(sqlstate, "53", 2) == 0)	/* insufficient resources, e.g. too many connections */
		return 503;
	return 500;
}

/*
 * The 422 body: the extension hands over the violations as a JSON array in
 * the error's DETAIL field, so the gateway only re-wraps them.
 */
static void
validation_problem(gw_reply *reply, const PGresult *res)
{
	const char *message = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
	json_t	   *violations = NULL;
	json_t	   *obj;
	char	   *type = NULL;
	size_t		n;
	size_t		typelen;

	if (detail)
		violations = json_loads(detail, JSON_DECODE_ANY, NULL);
	if (!json_is_array(violations) || json_array_size(violations) == 0)
	{
		json_decref(violations);
		errors_internal(reply, "22023 without a JSON array of violations in DETAIL");
		return;
	}

	/* type is /validation_errors/<code>, or 0=<c0>;1=<c1>... for several. */
	n = json_array_size(violations);
	typelen = sizeof("/validation_errors/");
	for (size_t i = 0; i < n; i++)
	{
		const char *code = json_string_value(json_object_get(json_array_get(violations, i), "code"));

		/* ";" + index + "=" + code */
		typelen += 24 + (code ? strlen(code) : 0);
	}
	type = malloc(typelen);
	if (type == NULL)
	{
		json_decref(violations);
		errors_internal(reply, "out of memory");
		return;
	}
	strcpy(type, "/validation_errors/");
	for (size_t i = 0; i < n; i++)
	{
		const char *code = json_string_value(json_object_get(json_array_get(violations, i), "code"));
		size_t		used = strlen(type);

		if (n == 1)
			snprintf(type + used, typelen - used, "%s", code ? code : "");
		else
			snprintf(type + used, typelen - used, "%s%zu=%s", i ? ";" : "", i, code ? code : "");
	}

	errors_reply_free(reply);
	/* "o" steals the violations reference. */
	obj = json_pack("{s:i, s:o, s:s, s:s, s:s}",
					"status", 422,
					"violations", violations,
					"detail", message ? message : "",
					"type", type,
					"title", PROBLEM_TITLE);
	free(type);
	if (obj == NULL)
	{
		errors_internal(reply, "cannot build the 422 body");
		return;
	}
	reply->status = 422;
	reply->content_type = CONTENT_TYPE_PROBLEM;
	reply->body = dump_or_fallback(obj);
}

/*
 * Maps a failed statement to the reply.  A broken connection is 503 whatever
 * the result says: libpq reports lost connections without a SQLSTATE.
 */
void
errors_from_pgresult(gw_reply *reply, const PGresult *res, PGconn *conn)
{
	const char *sqlstate = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *message = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	unsigned	status;

	if (sqlstate)
		snprintf(reply->sqlstate, sizeof(reply->sqlstate), "%s", sqlstate);

	if (conn == NULL || PQstatus(conn) == CONNECTION_BAD)
	{
		errors_unavailable(reply);
		return;
	}

	status = errors_status_for_sqlstate(sqlstate);
	switch (status)
	{
		case 422:
			validation_problem(reply, res);
			break;
		case 400:
		case 403:
			errors_problem(reply, status, message);
			break;
		case 401:
			errors_unauthorized(reply, true, message);
			break;
		case 503:
			errors_unavailable(reply);
			break;
		default:
			/* Only the SQLSTATE and the primary message: DETAIL and CONTEXT may quote request data. */
			log_error("unexpected database error %s: %s",
					  sqlstate ? sqlstate : "(none)", message ? message : "(no message)");
			errors_problem(reply, 500, "Internal Server Error");
			break;
	}
}
