/*
 * db.h
 *		A fixed pool of libpq connections and the one transaction per request.
 */
#ifndef FYNN_GATEWAY_DB_H
#define FYNN_GATEWAY_DB_H

#include <stdbool.h>
#include <stddef.h>

#include "errors.h"
#include "routes.h"

#define DB_TOKEN_HASH_LEN	32	/* SHA-256 */
#define DB_MAX_ARGS			2

typedef struct db_pool db_pool;

/* What one request hands to the database. */
typedef struct db_call
{
	const route *route;
	const char *args[DB_MAX_ARGS];	/* text arguments in the function's order; NULL = SQL NULL */
	const char *claims_json;	/* verified JWT payload, "" for no credential, or NULL for an API token */
	const unsigned char *token_hash;	/* SHA-256 of the API token, or NULL */
	const char *method;			/* request.method */
	const char *path;			/* request.path */
	const char *headers_json;	/* request.headers, the allow-listed ones */
	const char *barrier;		/* notified after the commit (see listener.h), or NULL */
} db_call;

/* Creates the pool; connects eagerly but tolerates a database that is down. */
extern db_pool *db_pool_create(const char *uri, int size, int timeout_seconds);
extern void db_pool_destroy(db_pool *pool);

/*
 * Runs the route's function in one transaction (one round trip) and fills
 * reply with the answer it set: status, headers and body.  An API token the
 * database does not know is a 401; a failure of the database a 503/504.
 */
extern void db_call_route(db_pool *pool, const db_call *call, gw_reply *reply);

/*
 * Forward-auth's question: the claims of the live token with this hash
 * (malloc'd, *claims_out NULL when there is none), and records its use.
 * Returns false with reply filled when the database cannot answer.
 */
extern bool db_verify_token(db_pool *pool, const unsigned char hash[DB_TOKEN_HASH_LEN],
							char **claims_out, gw_reply *reply);

/* Records a token's use (at most once a minute is written); failures are only logged. */
extern void db_record_use(db_pool *pool, const unsigned char hash[DB_TOKEN_HASH_LEN]);

/* True when a pooled connection answers SELECT 1 (for /ready). */
extern bool db_ping(db_pool *pool);

#endif							/* FYNN_GATEWAY_DB_H */
