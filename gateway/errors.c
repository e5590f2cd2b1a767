/*
 * errors.c
 *		The gateway's own answers and the mapping of database failures to
 *		HTTP (see the header).  Database errors are classified by SQLSTATE
 *		only, never by message text.
 */
#include "errors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "log.h"
#include "metrics.h"

/* The title API Platform puts on every error body. */
#define PROBLEM_TITLE "An error occurred"

void
reply_set_body(gw_reply *reply, const char *body, size_t len)
{
	free(reply->body);
	reply->body = malloc(len + 1);
	reply->body_len = reply->body ? len : 0;
	if (reply->body)
	{
		memcpy(reply->body, body, len);
		reply->body[len] = '\0';
	}
}

/* Adds a header, replacing one of the same name (case-insensitive), as PostgREST's override does. */
bool
reply_add_header(gw_reply *reply, const char *name, const char *value)
{
	char	   *v = strdup(value);
	int			i;

	if (v == NULL)
		return false;
	for (i = 0; i < reply->nheaders; i++)
		if (strcasecmp(reply->headers[i].name, name) == 0)
		{
			free(reply->headers[i].value);
			reply->headers[i].value = v;
			return true;
		}
	if (reply->nheaders == GW_MAX_HEADERS || (reply->headers[i].name = strdup(name)) == NULL)
	{
		free(v);
		return false;
	}
	reply->headers[i].value = v;
	reply->nheaders++;
	return true;
}

const char *
reply_header(const gw_reply *reply, const char *name)
{
	for (int i = 0; i < reply->nheaders; i++)
		if (strcasecmp(reply->headers[i].name, name) == 0)
			return reply->headers[i].value;
	return NULL;
}

void
reply_free(gw_reply *reply)
{
	free(reply->body);
	for (int i = 0; i < reply->nheaders; i++)
	{
		free(reply->headers[i].name);
		free(reply->headers[i].value);
	}
	reply->body = NULL;
	reply->body_len = 0;
	reply->nheaders = 0;
}

/* Builds the API Platform problem body so clients of the original API see the same shape. */
void
errors_problem(gw_reply *reply, unsigned status, const char *detail)
{
	char		type[32];
	json_t	   *obj;
	char	   *body;

	reply_free(reply);
	snprintf(type, sizeof(type), "/errors/%u", status);
	/* jansson keeps insertion order: the keys come out as the extension writes them. */
	obj = json_pack("{s:s, s:s, s:i, s:s}", "type", type, "title", PROBLEM_TITLE,
					"status", (int) status, "detail", detail ? detail : "");
	body = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
	json_decref(obj);
	reply->status = status;
	if (body == NULL)
		body = strdup("{\"type\":\"/errors/500\",\"title\":\"An error occurred\",\"status\":500}");
	if (body)
	{
		reply->body = body;
		reply->body_len = strlen(body);
	}
	reply_add_header(reply, "Content-Type", CONTENT_TYPE_PROBLEM);
}

/* RFC 6750 section 3: tell the client which scheme to use, and whether its credential was bad. */
void
errors_unauthorized(gw_reply *reply, bool credential_given, const char *detail)
{
	errors_problem(reply, 401, detail);
	reply_add_header(reply, "WWW-Authenticate",
					 credential_given ? "Bearer error=\"invalid_token\"" : "Bearer");
}

void
errors_authentication_required(gw_reply *reply)
{
	errors_unauthorized(reply, false, "Authentication is required.");
}

/* One wording for every "database is away" case, so clients can retry on 503 alone. */
void
errors_unavailable(gw_reply *reply)
{
	metrics_count(METRIC_DB_UNAVAILABLE);
	errors_problem(reply, 503, "The database is unavailable, try again later.");
}

void
errors_timeout(gw_reply *reply)
{
	metrics_count(METRIC_DB_TIMEOUTS);
	errors_problem(reply, 504, "The database did not answer in time.");
}

/* A 500 is a bug: log it loudly, but tell the client nothing internal. */
void
errors_internal(gw_reply *reply, const char *why)
{
	log_error("internal error: %s", why);
	errors_problem(reply, 500, "Internal Server Error");
}

/*
 * A broken connection is 503 whatever the result says: libpq reports lost
 * connections without a SQLSTATE.  A body that is not JSON (22P02 from the
 * argument's ::json cast: the functions never raise it) is the contract's
 * 400 "Syntax error"; statement_timeout is 504; resource shortage, shutdown
 * and lock conflicts ask the client to retry (503); anything else is a bug.
 */
void
errors_from_pgresult(gw_reply *reply, const PGresult *res, PGconn *conn)
{
	const char *sqlstate = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *message = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;

	if (sqlstate)
		snprintf(reply->sqlstate, sizeof(reply->sqlstate), "%s", sqlstate);
	if (conn == NULL || PQstatus(conn) == CONNECTION_BAD || sqlstate == NULL)
	{
		errors_unavailable(reply);
		return;
	}
	if (strcmp(sqlstate, "22P02") == 0)
		errors_problem(reply, 400, "Syntax error");
	else if (strcmp(sqlstate, "57014") == 0)
		errors_timeout(reply);
	else if (strncmp(sqlstate, "08", 2) == 0 ||	/* connection exceptions */
			 strncmp(sqlstate, "57P0", 4) == 0 ||	/* shutdown, crash, starting up */
			 strncmp(sqlstate, "53", 2) == 0 || /* insufficient resources */
			 strcmp(sqlstate, "40001") == 0 ||	/* serialization failure */
			 strcmp(sqlstate, "40P01") == 0 ||	/* deadlock */
			 strcmp(sqlstate, "55P03") == 0)	/* lock not available */
		errors_unavailable(reply);
	else
	{
		metrics_count(METRIC_DB_ERRORS);
		/* Only the SQLSTATE and the primary message: DETAIL and CONTEXT may quote request data. */
		log_error("unexpected database error %s: %s", sqlstate, message ? message : "(no message)");
		errors_problem(reply, 500, "Internal Server Error");
	}
	snprintf(reply->sqlstate, sizeof(reply->sqlstate), "%s", sqlstate);
}
