/*
 * api_token_format.c
 *		Shape, checksum and uniform encoding of API tokens (see the header).
 */
#include "api_token_format.h"

#include <string.h>

/* Reflected CRC32 polynomial of IEEE 802.3, as zlib and GitHub use. */
#define CRC32_POLY 0xEDB88320u

/* Bitwise CRC32: 32 bytes per token make a table pointless. */
uint32_t
api_token_crc32(const unsigned char *data, size_t len)
{
	uint32_t	crc = 0xFFFFFFFFu;

	for (size_t i = 0; i < len; i++)
	{
		crc ^= data[i];
		for (int bit = 0; bit < 8; bit++)
			crc = (crc >> 1) ^ (CRC32_POLY & (0u - (crc & 1u)));
	}
	return crc ^ 0xFFFFFFFFu;
}

/* Big-endian base62 of the CRC, zero-padded, so the checksum has a fixed width. */
void
api_token_checksum(const char *random_part, char out[API_TOKEN_CHECKSUM_LEN])
{
	static const char alphabet[] = API_TOKEN_BASE62_ALPHABET;
	uint32_t	crc = api_token_crc32((const unsigned char *) random_part,
									  API_TOKEN_RANDOM_LEN);

	for (int i = API_TOKEN_CHECKSUM_LEN - 1; i >= 0; i--)
	{
		out[i] = alphabet[crc % 62];
		crc /= 62;
	}
}

/* Rejection sampling keeps every character uniform: no modulo bias. */
size_t
api_token_fill_uniform(char *out, size_t out_len,
					   const char *alphabet, size_t alphabet_len,
					   const unsigned char *pool, size_t pool_len)
{
	/* Largest multiple of alphabet_len not above 256: bytes at or past it are dropped. */
	unsigned	limit = 256 - (256 % (unsigned) alphabet_len);
	size_t		used = 0;
	size_t		filled = 0;

	while (filled < out_len)
	{
		if (used == pool_len)
			return 0;
		if (pool[used] < limit)
			out[filled++] = alphabet[pool[used] % alphabet_len];
		used++;
	}
	return used;
}

/* The value of a base62 digit, or -1 for any other byte. */
static int
base62_digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'Z')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 36;
	return -1;
}

/* Checks shape first, then the checksum, without any allocation. */
bool
api_token_is_well_formed(const char *s, size_t len)
{
	char		expected[API_TOKEN_CHECKSUM_LEN];
	const char *random_part = s + API_TOKEN_PREFIX_LEN;

	if (s == NULL || len != API_TOKEN_LEN)
		return false;
	if (memcmp(s, API_TOKEN_PREFIX, API_TOKEN_PREFIX_LEN) != 0)
		return false;
	for (size_t i = API_TOKEN_PREFIX_LEN; i < len; i++)
		if (base62_digit_value(s[i]) < 0)
			return false;

	api_token_checksum(random_part, expected);
	return memcmp(expected, random_part + API_TOKEN_RANDOM_LEN,
				  API_TOKEN_CHECKSUM_LEN) == 0;
}
