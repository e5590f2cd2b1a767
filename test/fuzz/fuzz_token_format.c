/*
 * fuzz_token_format.c
 *		libFuzzer harness for common/api_token_format.c (see run-fuzz.sh).
 *
 * Everything is cross-checked against a straightforward reimplementation
 * here: CRC32 bit by bit from the polynomial (no table), base62 by repeated
 * division, the alphabet by memchr, rejection sampling byte by byte.
 *	- api_token_is_well_formed(data) == the oracle's verdict; and for any
 *	  42-byte input, the same input with the oracle's checksum in its last
 *	  6 bytes is accepted exactly when it has the shape (so the accepting
 *	  path, and a shape check that leaned on the checksum, are exercised
 *	  on every such input, not only when the fuzzer guesses a CRC);
 *	- api_token_id_is_well_formed(data) == the oracle's verdict;
 *	- api_token_crc32 over the whole input, api_token_checksum over its
 *	  first 32 bytes;
 *	- api_token_fill_uniform with alphabet size data[0] + 1, data[1] % 48
 *	  characters and the rest as pool, into an exact-size buffer.
 */
#include "api_token_format.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAIL(...) \
	do { \
		fprintf(stderr, "fuzz_token_format: " __VA_ARGS__); \
		fputc('\n', stderr); \
		abort(); \
	} while (0)

static const char base62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
static const char base36[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

static uint32_t
oracle_crc32(const uint8_t *p, size_t n)
{
	uint32_t	crc = 0xFFFFFFFFu;

	for (size_t i = 0; i < n; i++)
	{
		crc ^= p[i];
		for (int bit = 0; bit < 8; bit++)
			crc = (crc & 1) ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
	}
	return ~crc;
}

static void
oracle_checksum(const uint8_t *random_part, char out[6])
{
	uint32_t	crc = oracle_crc32(random_part, 32);

	for (int i = 5; i >= 0; i--)
	{
		out[i] = base62[crc % 62];
		crc /= 62;
	}
}

/* Every byte of p[0..n) is one of the first k bytes of alphabet (NUL never is). */
static int
all_in(const uint8_t *p, size_t n, const char *alphabet, size_t k)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] == 0 || memchr(alphabet, p[i], k) == NULL)
			return 0;
	return 1;
}

static int
oracle_shape(const uint8_t *s, size_t len)
{
	return len == 42 && memcmp(s, "api_", 4) == 0 && all_in(s + 4, 38, base62, 62);
}

static int
oracle_well_formed(const uint8_t *s, size_t len)
{
	char		sum[6];

	if (!oracle_shape(s, len))
		return 0;
	oracle_checksum(s + 4, sum);
	return memcmp(sum, s + 36, 6) == 0;
}

static size_t
oracle_fill(char *out, size_t out_len, const char *alphabet, size_t n,
			const uint8_t *pool, size_t pool_len)
{
	size_t		filled = 0;
	size_t		i;

	if (out_len == 0)
		return 0;
	for (i = 0; i < pool_len && filled < out_len; i++)
	{
		/* Accept b when b's block of n values [b - b % n, b - b % n + n) fits in a byte. */
		if ((size_t) pool[i] - pool[i] % n + n <= 256)
			out[filled++] = alphabet[pool[i] % n];
	}
	return filled == out_len ? i : 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *) data;
	int			got = api_token_is_well_formed(s, size);
	int			want = oracle_well_formed(data, size);

	if (got != want)
		FAIL("is_well_formed %d, oracle %d, size %zu", got, want, size);
	if (size == 42)
	{
		uint8_t		fixed[42];

		memcpy(fixed, data, 42);
		oracle_checksum(data + 4, (char *) fixed + 36);
		got = api_token_is_well_formed((const char *) fixed, 42);
		want = oracle_shape(fixed, 42);
		if (got != want)
			FAIL("with the oracle's checksum, is_well_formed %d, shape %d: %.42s",
				 got, want, (const char *) fixed);
	}

	got = api_token_id_is_well_formed(s, size);
	want = size == 20 && all_in(data, 20, base36, 36);
	if (got != want)
		FAIL("id_is_well_formed %d, oracle %d, size %zu", got, want, size);

	if (api_token_crc32(data, size) != oracle_crc32(data, size))
		FAIL("crc32 differs");
	if (size >= 32)
	{
		char		a[6];
		char		b[6];

		api_token_checksum(s, a);
		oracle_checksum(data, b);
		if (memcmp(a, b, 6) != 0)
			FAIL("checksum %.6s, oracle %.6s", a, b);
	}

	if (size >= 2)
	{
		static char alphabet[256];
		size_t		n = (size_t) data[0] + 1;
		size_t		out_len = data[1] % 48;
		char	   *out = malloc(out_len);
		char		want_out[48];
		size_t		used;
		size_t		want_used;

		for (int i = 0; i < 256; i++)
			alphabet[i] = (char) (255 - i);
		if (out == NULL && out_len > 0)
			abort();
		used = api_token_fill_uniform(out, out_len, alphabet, n, data + 2, size - 2);
		want_used = oracle_fill(want_out, out_len, alphabet, n, data + 2, size - 2);
		if (used != want_used || (used != 0 && memcmp(out, want_out, out_len) != 0))
			FAIL("fill_uniform n=%zu out_len=%zu: used %zu, oracle %zu", n, out_len, used, want_used);
		free(out);
	}
	return 0;
}
