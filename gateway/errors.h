/*
 * errors.h
 *		Every error response the gateway sends, and the one mapping from
 *		database errors to HTTP statuses.
 */
#ifndef FYNN_GATEWAY_ERRORS_H
#define FYNN_GATEWAY_ERRORS_H

#include <stdbool.h>

#include <libpq-fe.h>

#define CONTENT_TYPE_JSON		"application/json; charset=utf-8"
#define CONTENT_TYPE_PROBLEM	"application/problem+json; charset=utf-8"

/* What http.c turns into an MHD response: built by errors.c or the success paths. */
typedef struct gw_reply
{
	unsigned	status;
	char	   *body;			/* malloc'd; handed to MHD, which frees it */
	const char *content_type;	/* static string */
	char	   *location;		/* malloc'd or NULL */
	const char *www_authenticate;	/* static string or NULL */
	const char *allow;			/* static string or NULL */
	char		sqlstate[6];	/* for the access log; "" when no database error */
} gw_reply;

/* The status a SQLSTATE maps to; 500 for anything not expected from the extension. */
extern unsigned errors_status_for_sqlstate(const char *sqlstate);

/* A problem+json body {"type","title","status","detail"}. */
extern void errors_problem(gw_reply *reply, unsigned status, const char *detail);

/* 401 with WWW-Authenticate; error="invalid_token" only when a credential was sent. */
extern void errors_unauthorized(gw_reply *reply, bool credential_given, const char *detail);

/* 503: the database cannot be reached or is shutting down. */
extern void errors_unavailable(gw_reply *reply);

/* 500 for a gateway bug; logs the reason (never request data). */
extern void errors_internal(gw_reply *reply, const char *why);

/* Maps a failed PGresult (or a broken connection) to the reply. */
extern void errors_from_pgresult(gw_reply *reply, const PGresult *res, PGconn *conn);

/* Releases what a reply owns when it was not handed to MHD. */
extern void errors_reply_free(gw_reply *reply);

#endif							/* FYNN_GATEWAY_ERRORS_H */
