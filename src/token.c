/*
 * token.c
 *		The secrets: a random id and token from pg_strong_random (the source
 *		pgcrypto itself uses), and SHA-256, the only form a token is stored in.
 */
#include "fynn_tokens.h"

#include "common/cryptohash.h"

/*
 * Random bytes drawn per token.  Rejection sampling needs on average about
 * 54 bytes for the 20 id and 32 token characters; 128 makes a second draw
 * astronomically rare, and it is handled anyway.
 */
#define RANDOM_POOL_SIZE 128

/* Raises when the operating system's secure random source fails. */
static void
draw_random(uint8 *buf, size_t len)
{
	if (!pg_strong_random(buf, len))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random token"),
				 errdetail("The secure random number source failed.")));
}

/*
 * Fills the id and the token's random part from one draw of the secure
 * source (one system call per token), drawing again in the rare case that
 * rejection sampling used up the pool.
 */
static void
fill_id_and_secret(char *id, char *secret)
{
	uint8		pool[RANDOM_POOL_SIZE];
	size_t		used;

	do
	{
		draw_random(pool, sizeof(pool));
		used = api_token_fill_uniform(id, API_TOKEN_ID_LEN, API_TOKEN_ID_ALPHABET,
									  strlen(API_TOKEN_ID_ALPHABET), pool, sizeof(pool));
		if (used > 0)
			used = api_token_fill_uniform(secret, API_TOKEN_RANDOM_LEN,
										  API_TOKEN_BASE62_ALPHABET,
										  strlen(API_TOKEN_BASE62_ALPHABET),
										  pool + used, sizeof(pool) - used);
	} while (used == 0);
	explicit_bzero(pool, sizeof(pool));
}

/* A new id, token and the token's hash; the token lives only in out. */
void
token_generate(NewToken *out)
{
	char	   *random_part = out->token + API_TOKEN_PREFIX_LEN;

	fill_id_and_secret(out->id, random_part);
	out->id[API_TOKEN_ID_LEN] = '\0';

	memcpy(out->token, API_TOKEN_PREFIX, API_TOKEN_PREFIX_LEN);
	api_token_checksum(random_part, random_part + API_TOKEN_RANDOM_LEN);
	out->token[API_TOKEN_LEN] = '\0';

	token_sha256(out->token, API_TOKEN_LEN, out->hash);
}

/* SHA-256 through PostgreSQL's own crypto layer (OpenSSL in Debian's build). */
void
token_sha256(const char *data, size_t len, uint8 out[FYNN_TOKENS_HASH_LEN])
{
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);

	if (ctx == NULL ||
		pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, (const uint8 *) data, len) < 0 ||
		pg_cryptohash_final(ctx, out, FYNN_TOKENS_HASH_LEN) < 0)
	{
		pg_cryptohash_free(ctx);
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not compute SHA-256 of a token"),
				 errdetail("The cryptographic hash function failed.")));
	}
	pg_cryptohash_free(ctx);
}
