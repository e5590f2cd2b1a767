/*
 * db.h
 *		A fixed pool of libpq connections and the one transaction per request.
 */
#ifndef FYNN_GATEWAY_DB_H
#define FYNN_GATEWAY_DB_H

#include <stdbool.h>
#include <stddef.h>

#include "errors.h"

#define DB_TOKEN_HASH_LEN	32	/* SHA-256 */

typedef struct db_pool db_pool;

/* What one POST /user/api-tokens hands to the database. */
typedef struct db_call
{
	const char *claims_json;	/* verified JWT payload, or NULL for an API token */
	const unsigned char *token_hash;	/* SHA-256 of the API token, or NULL for a JWT */
	const char *method;			/* request.method */
	const char *path;			/* request.path */
	const char *headers_json;	/* request.headers, without credentials */
	const char *body;			/* raw request body, NUL-terminated, passed untouched */
} db_call;

/* Creates the pool; connects eagerly but tolerates a database that is down. */
extern db_pool *db_pool_create(const char *uri, int size);
extern void db_pool_destroy(db_pool *pool);

/*
 * Runs the request's transaction.  On success returns 0 and *body_out is the
 * function's JSON (malloc'd); otherwise returns -1 with reply filled in.
 */
extern int	db_create_token(db_pool *pool, const db_call *call, char **body_out,
							gw_reply *reply);

/* True when a pooled connection answers SELECT 1 (for /ready). */
extern bool db_ping(db_pool *pool);

#endif							/* FYNN_GATEWAY_DB_H */
