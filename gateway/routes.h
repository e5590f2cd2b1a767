/*
 * routes.h
 *		The route table: what the gateway answers itself and which fynn_api
 *		function runs each REST route, with how the request becomes its
 *		arguments.
 */
#ifndef FYNN_GATEWAY_ROUTES_H
#define FYNN_GATEWAY_ROUTES_H

#include <stdbool.h>
#include <stddef.h>

#include "api_token_format.h"

typedef enum route_kind
{
	ROUTE_CALL,					/* a fynn_api function in one transaction */
	ROUTE_AUTH,					/* forward-auth: verify, mint a JWT */
	ROUTE_HEALTH,				/* the process is up */
	ROUTE_LIVE,					/* the same, PostgREST 12's admin name */
	ROUTE_READY,				/* the database answers */
	ROUTE_METRICS				/* Prometheus text */
} route_kind;

/* How a request becomes the function's arguments (all text or json). */
typedef enum route_args
{
	ARGS_BODY,					/* the body, a JSON value, as is */
	ARGS_LEAK_REPORT,			/* the body, with a well-formed token replaced by its SHA-256 */
	ARGS_PAGE,					/* query page and limit, as text (absent: NULL) */
	ARGS_PATH_ID,				/* the {id} of the path */
	ARGS_ID_OBJECT,				/* {"id": <the {id} of the path>} */
	ARGS_ROTATE_OBJECT,			/* {"request": <the body or null>, "id": <{id}>} */
	ARGS_EMPTY_OBJECT			/* {} */
} route_args;

/*
 * What a route's success means for the verify cache.  A revocation NOTIFYs
 * at commit and the listener evicts, but that arrives after the answer may
 * have reached the client: a route that can revoke tokens or shorten their
 * life must not leave this gateway answering /auth from before it.
 */
typedef enum route_cache_effect
{
	CACHE_UNAFFECTED,
	CACHE_FLUSH,				/* authenticated revocations: which tokens a cascade reached is unknown here */
	CACHE_EVICT_REPORTED		/* a leak report: the reported token only (anyone may send one, so no flush on demand) */
} route_cache_effect;

/* Which listener serves a route: probes move to the admin port when there is one. */
typedef enum route_listener
{
	ON_MAIN,
	ON_ADMIN,
	ON_BOTH
} route_listener;

typedef struct route
{
	const char *method;			/* NULL: any method */
	const char *pattern;		/* "/user/api-tokens/{id}" */
	route_kind	kind;
	route_listener listener;
	const char *function;		/* ROUTE_CALL: fynn_api.<function> */
	route_args	args;
	bool		needs_credential;	/* 401 before the database without one */
	bool		read_only;		/* BEGIN READ ONLY, as PostgREST runs a GET */
	route_cache_effect cache_effect;	/* on a 2xx answer */
	const char *name;			/* label for metrics and logs */
} route;

extern const route route_table[];
extern const size_t route_count;

/* The id captured from a {id} segment; ids are at most this long to be found. */
#define ROUTE_MAX_ID_LEN 64

typedef struct route_match
{
	const route *route;			/* NULL: no route for this method */
	char		id[ROUTE_MAX_ID_LEN + 1];	/* the {id} segment, when the pattern has one */
	char		allow[64];		/* no route for the method: the methods the path has ("" = 404) */
} route_match;

/*
 * Matches a raw request path (undecoded, without the query string) and a
 * method.  A path with a percent-escape or a byte outside RFC 3986's path
 * characters matches nothing: no route needs one, and decoding would let
 * "%00" or "%2F" reach a route under another name.
 */
extern void route_lookup(const char *method, const char *path, bool admin_listener,
						 bool has_admin_listener, route_match *out);

#endif							/* FYNN_GATEWAY_ROUTES_H */
