/*
 * api_token_format.h
 *		The public shape of an API token, shared by the extension and the gateway.
 *
 * A token is "api_" + 32 base62 characters of randomness + 6 base62
 * characters of the CRC32 (IEEE) of those 32 characters, GitHub's format:
 * a typo or truncation is caught without touching the database.
 *
 * Plain C99 with no PostgreSQL or libc allocation, so both the backend and
 * the gateway compile the same rules from this one file.
 */
#ifndef API_TOKEN_FORMAT_H
#define API_TOKEN_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define API_TOKEN_PREFIX		"api_"
#define API_TOKEN_PREFIX_LEN	4
#define API_TOKEN_RANDOM_LEN	32
#define API_TOKEN_CHECKSUM_LEN	6
#define API_TOKEN_LEN	(API_TOKEN_PREFIX_LEN + API_TOKEN_RANDOM_LEN + API_TOKEN_CHECKSUM_LEN)

#define API_TOKEN_ID_LEN		20

/* Alphabets: index i of the string is the digit of value i. */
#define API_TOKEN_BASE62_ALPHABET \
	"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
#define API_TOKEN_ID_ALPHABET	"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

/* CRC32 (IEEE 802.3, as zlib) of a buffer. */
extern uint32_t api_token_crc32(const unsigned char *data, size_t len);

/* Writes the 6-character base62 checksum of a 32-character random part. */
extern void api_token_checksum(const char *random_part,
							   char out[API_TOKEN_CHECKSUM_LEN]);

/*
 * Fills out[0..out_len) with characters of alphabet (length alphabet_len,
 * at most 256) drawn from the random bytes in pool by rejection sampling,
 * so every character is uniformly distributed.  Returns the number of pool
 * bytes consumed, or 0 when the pool ran dry (the caller draws a bigger one).
 */
extern size_t api_token_fill_uniform(char *out, size_t out_len,
									 const char *alphabet, size_t alphabet_len,
									 const unsigned char *pool, size_t pool_len);

/* True when s (len bytes) is API_TOKEN_ID_LEN characters of the id alphabet. */
extern bool api_token_id_is_well_formed(const char *s, size_t len);

/* True when s (len bytes) has the exact shape and a matching checksum. */
extern bool api_token_is_well_formed(const char *s, size_t len);

#endif							/* API_TOKEN_FORMAT_H */
