/*
 * auth.h
 *		Credentials: an Authorization header becomes an identity the
 *		database trusts (verified JWT claims, or the SHA-256 of a well-formed
 *		API token), and forward-auth mints short-lived JWTs.
 */
#ifndef FYNN_GATEWAY_AUTH_H
#define FYNN_GATEWAY_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "config.h"
#include "errors.h"
#include "identity.h"

/* JWT exp/nbf/iat tolerance in seconds, as PostgREST allows for clock skew. */
#define AUTH_CLOCK_LEEWAY	30
/* No legitimate claims nest deeper; the bound keeps every later use of them shallow. */
#define AUTH_MAX_CLAIMS_DEPTH 32
#define AUTH_HASH_LEN		32

typedef enum auth_kind
{
	AUTH_NONE,					/* no Authorization, or not a Bearer one */
	AUTH_JWT,
	AUTH_API_TOKEN
} auth_kind;

typedef struct auth_identity
{
	auth_kind	kind;
	char	   *claims_json;	/* AUTH_JWT: the payload exactly as signed (malloc'd) */
	json_t	   *claims;			/* AUTH_JWT: the same, parsed */
	unsigned char token_hash[AUTH_HASH_LEN];	/* AUTH_API_TOKEN */
} auth_identity;

/*
 * Checks the header without the database.  Returns 0 with id filled in
 * (kind AUTH_NONE when there is no bearer credential), or -1 with a 401
 * reply for a credential that is present and bad.  An API token's
 * existence is the database's to say.
 */
extern int	auth_check(const config *cfg, const char *authorization, auth_identity *id,
					   gw_reply *reply);
extern void auth_identity_free(auth_identity *id);

/* Who the claims name, canonical (common/identity.h), for forward-auth's headers. */
typedef struct auth_subject
{
	char		user[IDENTITY_MAX_BYTES + 1];
	char		tenant[IDENTITY_MAX_BYTES + 1];
	char	   *permissions;	/* space-separated, malloc'd */
	char		token_id[32];	/* "" for a JWT */
} auth_subject;

/*
 * Reads the user, tenant, permissions and token id from claims under the
 * configured claim names; false (with *why) when they name nobody.
 */
extern bool auth_read_subject(const config *cfg, json_t *claims, auth_subject *out,
							  const char **why);
extern void auth_subject_free(auth_subject *subject);

/*
 * Signs a JWT for the upstream: the claims, "role" (kept when the claims
 * have one, else cfg->auth_role), "aud" when one is configured and the
 * claims have none, iat, and exp = the sooner of now + lifetime and
 * not_after (0: none).  malloc'd; NULL on failure.
 */
extern char *auth_mint_jwt(const config *cfg, json_t *claims, long long now, long long not_after,
						   long long *exp_out);

/* The nesting depth of a JSON value, counted without recursion. */
extern int	auth_json_depth(json_t *value, int limit);

#endif							/* FYNN_GATEWAY_AUTH_H */
