/*
 * verify.c
 *		verify_api_token: from a token (or its SHA-256) to the claims it
 *		stands for.  Read-only, so it answers on a hot standby too; it runs
 *		no SQL and resolves no name, so it needs neither SECURITY DEFINER
 *		nor a pinned search_path.
 */
#include "fynn_tokens.h"

#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(fynn_tokens_verify_api_token);
PG_FUNCTION_INFO_V1(fynn_tokens_verify_api_token_hash);

/*
 * The claims of the token with this hash if it is live now, by the clock
 * (a token checked inside a long procedure that outlives its expiry is
 * dead, whatever instant the statement started); NULL otherwise.  A token
 * verified before answers from this backend's cache (verify_cache.c).
 */
text *
verify_claims_for_hash(const uint8 hash[FYNN_TOKENS_HASH_LEN])
{
	TimestampTz now = GetCurrentTimestamp();
	text	   *claims = verify_cache_lookup(hash, now);
	StoredToken stored;

	if (claims != NULL)
		return claims;
	if (!store_find_by_hash(hash, &stored) || !token_is_live_at(&stored, now))
		return NULL;
	claims = json_token_claims(&stored);
	verify_cache_store(hash, &stored, claims, now);
	return claims;
}

/* The SQL answer: the claims, or NULL. */
static Datum
claims_for_hash(FunctionCallInfo fcinfo, const uint8 hash[FYNN_TOKENS_HASH_LEN])
{
	text	   *claims = verify_claims_for_hash(hash);

	if (claims == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(claims);
}

/* verify_api_token(token text): a malformed or checksum-broken token is refused without touching the table. */
Datum
fynn_tokens_verify_api_token(PG_FUNCTION_ARGS)
{
	text	   *token = PG_GETARG_TEXT_PP(0);
	uint8		hash[FYNN_TOKENS_HASH_LEN];

	if (!api_token_is_well_formed(VARDATA_ANY(token), VARSIZE_ANY_EXHDR(token)))
		PG_RETURN_NULL();
	token_sha256(VARDATA_ANY(token), VARSIZE_ANY_EXHDR(token), hash);
	return claims_for_hash(fcinfo, hash);
}

/* verify_api_token_hash(token_hash bytea): for gateways that keep the token out of database logs. */
Datum
fynn_tokens_verify_api_token_hash(PG_FUNCTION_ARGS)
{
	bytea	   *hash = PG_GETARG_BYTEA_PP(0);

	if (VARSIZE_ANY_EXHDR(hash) != FYNN_TOKENS_HASH_LEN)
		PG_RETURN_NULL();
	return claims_for_hash(fcinfo, (const uint8 *) VARDATA_ANY(hash));
}
