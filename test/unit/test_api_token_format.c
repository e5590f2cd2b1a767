/*
 * test_api_token_format.c
 *		The token shape shared by extension and gateway, checked against
 *		known values; built with AddressSanitizer and run under the test command.
 */
#include "api_token_format.h"

#include <stdio.h>
#include <string.h>

static int	passed = 0;
static int	failed = 0;

/* Records one named expectation. */
static void
check(const char *name, int ok)
{
	if (ok)
		passed++;
	else
	{
		failed++;
		printf("not ok - %s\n", name);
	}
}

/* A token with a correct checksum for the given 32-character random part. */
static void
make_token(const char *random_part, char out[API_TOKEN_LEN + 1])
{
	memcpy(out, API_TOKEN_PREFIX, API_TOKEN_PREFIX_LEN);
	memcpy(out + API_TOKEN_PREFIX_LEN, random_part, API_TOKEN_RANDOM_LEN);
	api_token_checksum(random_part, out + API_TOKEN_PREFIX_LEN + API_TOKEN_RANDOM_LEN);
	out[API_TOKEN_LEN] = '\0';
}

int
main(void)
{
	const char *random_part = "A1B2C3D4E5F6G7H8I9J0abcdefghijkl";
	char		token[API_TOKEN_LEN + 1];
	char		checksum[API_TOKEN_CHECKSUM_LEN];
	unsigned char pool[64];
	char		out[8];

	/* The CRC32 check value every implementation publishes. */
	check("crc32 check value", api_token_crc32((const unsigned char *) "123456789", 9) == 0xCBF43926u);
	check("crc32 of nothing", api_token_crc32((const unsigned char *) "", 0) == 0);

	/* Python: zlib.crc32(b"A1B2C3D4E5F6G7H8I9J0abcdefghijkl") == 50127209, "03OKNN" in base62. */
	api_token_checksum(random_part, checksum);
	check("checksum is CRC32 in 6 base62 digits",
		  api_token_crc32((const unsigned char *) random_part, 32) == 50127209u &&
		  memcmp(checksum, "03OKNN", 6) == 0);

	make_token(random_part, token);
	check("a made token is well formed", api_token_is_well_formed(token, API_TOKEN_LEN));
	check("length counts", !api_token_is_well_formed(token, API_TOKEN_LEN - 1));
	token[10] ^= 1;
	check("a changed character fails the checksum", !api_token_is_well_formed(token, API_TOKEN_LEN));
	make_token(random_part, token);
	token[0] = 'A';
	check("the prefix is case-sensitive", !api_token_is_well_formed(token, API_TOKEN_LEN));
	make_token(random_part, token);
	token[20] = '-';
	check("only base62 characters", !api_token_is_well_formed(token, API_TOKEN_LEN));
	check("NULL is not a token", !api_token_is_well_formed(NULL, API_TOKEN_LEN));

	/* Rejection sampling: for 62 symbols, bytes 248..255 are dropped. */
	memset(pool, 0, sizeof(pool));
	pool[0] = 255;
	pool[1] = 248;
	pool[2] = 247;
	pool[3] = 61;
	check("bytes past the last full multiple are skipped",
		  api_token_fill_uniform(out, 2, API_TOKEN_BASE62_ALPHABET, 62, pool, 4) == 4 &&
		  out[0] == API_TOKEN_BASE62_ALPHABET[247 % 62] && out[1] == 'z');
	check("a dry pool reports 0",
		  api_token_fill_uniform(out, 8, API_TOKEN_BASE62_ALPHABET, 62, pool, 4) == 0);
	pool[0] = 251;
	pool[1] = 252;
	check("for 36 symbols, 252..255 are skipped",
		  api_token_fill_uniform(out, 1, API_TOKEN_ID_ALPHABET, 36, pool, 2) == 1 &&
		  out[0] == API_TOKEN_ID_ALPHABET[251 % 36]);

	printf("unit: %d passed, %d failed\n", passed, failed);
	return failed == 0 ? 0 : 1;
}
