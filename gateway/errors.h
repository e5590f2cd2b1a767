/*
 * errors.h
 *		The answers the gateway gives itself, and the one place that maps a
 *		failure to an HTTP status.
 *
 * Everything the contract says about a request that reached the database
 * is the fynn_api functions' to answer; the gateway answers only what comes
 * before the database (credentials, routing, framing, size, media type,
 * body syntax) and what keeps the database from answering (503, 504).
 */
#ifndef FYNN_GATEWAY_ERRORS_H
#define FYNN_GATEWAY_ERRORS_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#define CONTENT_TYPE_JSON		"application/json; charset=utf-8"
#define CONTENT_TYPE_PROBLEM	"application/problem+json; charset=utf-8"
#define CONTENT_TYPE_METRICS	"text/plain; version=0.0.4; charset=utf-8"
#define GW_MAX_HEADERS			12

typedef struct gw_header
{
	char	   *name;
	char	   *value;
} gw_header;

/* An answer, built here or from a fynn_api function's response settings. */
typedef struct gw_reply
{
	unsigned	status;
	char	   *body;			/* malloc'd, or NULL for none */
	size_t		body_len;
	gw_header	headers[GW_MAX_HEADERS];	/* malloc'd strings */
	int			nheaders;
	bool		close;			/* answer with Connection: close */
	char		sqlstate[6];	/* for the access log; "" when no database error */
} gw_reply;

extern void reply_set_body(gw_reply *reply, const char *body, size_t len);
extern bool reply_add_header(gw_reply *reply, const char *name, const char *value);
extern const char *reply_header(const gw_reply *reply, const char *name);
extern void reply_free(gw_reply *reply);

/* A problem+json body {"type","title","status","detail"}, byte for byte as the extension writes it. */
extern void errors_problem(gw_reply *reply, unsigned status, const char *detail);

/* 401 with WWW-Authenticate; error="invalid_token" only when a credential was sent. */
extern void errors_unauthorized(gw_reply *reply, bool credential_given, const char *detail);

/* No credential at all: the same answer the fynn_api functions give. */
extern void errors_authentication_required(gw_reply *reply);

/* 503: the database cannot be reached, or no connection came free in time. */
extern void errors_unavailable(gw_reply *reply);

/* 504: the database did not answer within FYNN_DB_TIMEOUT. */
extern void errors_timeout(gw_reply *reply);

/* 500 for a gateway bug; logs the reason (never request data). */
extern void errors_internal(gw_reply *reply, const char *why);

/* Maps a statement that raised an error (a contract answer is never raised) to the reply. */
extern void errors_from_pgresult(gw_reply *reply, const PGresult *res, PGconn *conn);

#endif							/* FYNN_GATEWAY_ERRORS_H */
