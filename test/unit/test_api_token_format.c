/*
 * test_api_token_format.c
 *		The token shape shared by extension and gateway, checked against
 *		known values; built with AddressSanitizer and UBSan (see check-unit
 *		in the Makefile) and run by test/unit/run-unit.sh.
 */
#include "api_token_format.h"
#include "unit.h"

#include <stdint.h>

/* A token with a correct checksum for the given 32-character random part. */
static void
make_token(const char *random_part, char out[API_TOKEN_LEN + 1])
{
	memcpy(out, API_TOKEN_PREFIX, API_TOKEN_PREFIX_LEN);
	memcpy(out + API_TOKEN_PREFIX_LEN, random_part, API_TOKEN_RANDOM_LEN);
	api_token_checksum(random_part, out + API_TOKEN_PREFIX_LEN + API_TOKEN_RANDOM_LEN);
	out[API_TOKEN_LEN] = '\0';
}

/* api_token_is_well_formed on an exact-size heap copy, so over-reads are caught. */
static int
well_formed(const char *s, size_t len)
{
	char	   *copy = exact_copy(s, len);
	int			ok = api_token_is_well_formed(copy, len);

	free(copy);
	return ok;
}

/* api_token_id_is_well_formed on an exact-size heap copy. */
static int
id_well_formed(const char *s, size_t len)
{
	char	   *copy = exact_copy(s, len);
	int			ok = api_token_id_is_well_formed(copy, len);

	free(copy);
	return ok;
}

/*
 * Known vectors, computed outside this code with Python:
 *   import zlib
 *   B = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
 *   def b62(n): return "".join(B[n // 62**i % 62] for i in reversed(range(6)))
 *   crc = zlib.crc32(random_part); print(crc, b62(crc))
 * Two of them have the top bit set, so a signed CRC would show.
 */
static const struct
{
	const char *random_part;
	uint32_t	crc;
	const char *checksum;
}			vectors[] = {
	{"A1B2C3D4E5F6G7H8I9J0abcdefghijkl", 50127209u, "03OKNN"},
	{"00000000000000000000000000000000", 2700251856u, "2wjyrI"},
	{"zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", 4139362634u, "4W8LJS"},
	{"ZyXwVuTsRqPoNmLkJiHgFeDcBa987654", 924964898u, "10b3cg"},
	{"Qm9vbGVhbldoaXRlTm9pc2VHZW5lcmF0", 3414114001u, "3j3H0r"},
};

static void
test_crc_and_checksum(void)
{
	char		checksum[API_TOKEN_CHECKSUM_LEN];
	char		token[API_TOKEN_LEN + 1];

	/* The CRC32 check value every implementation publishes. */
	check("crc32 check value", api_token_crc32((const unsigned char *) "123456789", 9) == 0xCBF43926u);
	check("crc32 of nothing", api_token_crc32((const unsigned char *) "", 0) == 0);

	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++)
	{
		api_token_checksum(vectors[i].random_part, checksum);
		checkf(api_token_crc32((const unsigned char *) vectors[i].random_part, 32) == vectors[i].crc,
			   "crc32 of %s is zlib's %lu", vectors[i].random_part, (unsigned long) vectors[i].crc);
		checkf(memcmp(checksum, vectors[i].checksum, 6) == 0,
			   "checksum of %s is %s", vectors[i].random_part, vectors[i].checksum);
		memcpy(token, "api_", 4);
		memcpy(token + 4, vectors[i].random_part, 32);
		memcpy(token + 36, vectors[i].checksum, 6);
		checkf(well_formed(token, API_TOKEN_LEN), "api_%s%s is well formed",
			   vectors[i].random_part, vectors[i].checksum);
	}
}

static void
test_shape(void)
{
	const char *random_part = vectors[0].random_part;
	char		token[API_TOKEN_LEN + 2];

	make_token(random_part, token);
	check("a made token is well formed", well_formed(token, API_TOKEN_LEN));
	check("one byte short is not", !well_formed(token, API_TOKEN_LEN - 1));
	token[API_TOKEN_LEN] = 'A';
	check("one byte long is not", !well_formed(token, API_TOKEN_LEN + 1));
	check("empty is not", !well_formed(token, 0));
	token[10] ^= 1;
	check("a changed character fails the checksum", !well_formed(token, API_TOKEN_LEN));
	make_token(random_part, token);
	token[0] = 'A';
	check("the prefix is case-sensitive", !well_formed(token, API_TOKEN_LEN));
	make_token(random_part, token);
	token[20] = '-';
	check("only base62 characters", !well_formed(token, API_TOKEN_LEN));
	check("NULL is not a token", !api_token_is_well_formed(NULL, API_TOKEN_LEN));
	check("NULL with length 0 is not a token", !api_token_is_well_formed(NULL, 0));
}

/*
 * CRC32 catches every error burst of up to 32 bits, and base62 of a CRC is
 * injective, so no single-byte change of a token can keep it well formed:
 * in the prefix the shape fails, elsewhere the checksum.
 */
static void
test_mutations(void)
{
	char		token[API_TOKEN_LEN + 1];
	int			bad = 0;
	int			tried = 0;

	make_token(vectors[0].random_part, token);
	for (int pos = 0; pos < API_TOKEN_LEN; pos++)
	{
		char		original = token[pos];

		for (int b = 0; b < 256; b++)
		{
			if ((char) b == original)
				continue;
			token[pos] = (char) b;
			tried++;
			if (well_formed(token, API_TOKEN_LEN))
				diag(&bad, "byte %d at position %d accepted", b, pos);
		}
		token[pos] = original;
	}
	checkf(bad == 0 && tried == API_TOKEN_LEN * 255,
		   "all %d single-byte mutations of a token are rejected", API_TOKEN_LEN * 255);

	/* Swapping two neighbours is the commonest typo after a wrong character. */
	bad = 0;
	for (int pos = 0; pos + 1 < API_TOKEN_LEN; pos++)
	{
		char		t;

		if (token[pos] == token[pos + 1])
			continue;
		t = token[pos];
		token[pos] = token[pos + 1];
		token[pos + 1] = t;
		if (well_formed(token, API_TOKEN_LEN))
			diag(&bad, "swap at %d accepted", pos);
		token[pos + 1] = token[pos];
		token[pos] = t;
	}
	check("every swap of two different neighbours is rejected", bad == 0);
	check("the token is intact after mutating it", well_formed(token, API_TOKEN_LEN));

	/* Deleting or inserting a character changes the length. */
	bad = 0;
	for (int pos = 0; pos < API_TOKEN_LEN; pos++)
	{
		char		shorter[API_TOKEN_LEN];
		char		longer[API_TOKEN_LEN + 1];

		memcpy(shorter, token, pos);
		memcpy(shorter + pos, token + pos + 1, API_TOKEN_LEN - pos - 1);
		if (well_formed(shorter, API_TOKEN_LEN - 1))
			diag(&bad, "deletion at %d accepted", pos);
		memcpy(longer, token, pos);
		longer[pos] = 'x';
		memcpy(longer + pos + 1, token + pos, API_TOKEN_LEN - pos);
		if (well_formed(longer, API_TOKEN_LEN + 1))
			diag(&bad, "insertion at %d accepted", pos);
	}
	check("every deletion and insertion is rejected", bad == 0);
}

/*
 * The shape is checked on its own, not left to the checksum: a random part
 * holding a non-base62 byte, with the checksum made to match, is rejected,
 * and so is a wrong prefix in front of a matching checksum.
 */
static void
test_shape_despite_checksum(void)
{
	char		random_part[API_TOKEN_RANDOM_LEN];
	char		token[API_TOKEN_LEN + 1];
	int			bad = 0;

	for (int pos = 0; pos < API_TOKEN_RANDOM_LEN; pos++)
	{
		for (int b = 0; b < 256; b++)
		{
			int			base62 = memchr(API_TOKEN_BASE62_ALPHABET, b, 62) != NULL && b != 0;

			memcpy(random_part, vectors[0].random_part, API_TOKEN_RANDOM_LEN);
			random_part[pos] = (char) b;
			memcpy(token, "api_", 4);
			memcpy(token + 4, random_part, API_TOKEN_RANDOM_LEN);
			api_token_checksum(random_part, token + 4 + API_TOKEN_RANDOM_LEN);
			if (well_formed(token, API_TOKEN_LEN) != base62)
				diag(&bad, "byte %d at %d with its checksum: got %d", b, pos, !base62);
		}
	}
	check("a random part with a non-base62 byte is rejected even with its checksum; base62 accepted",
		  bad == 0);

	make_token(vectors[0].random_part, token);
	bad = 0;
	for (int pos = 0; pos < API_TOKEN_PREFIX_LEN; pos++)
	{
		static const char others[] = "API_ap_xpi-\0 ";

		for (size_t k = 0; k < sizeof(others); k++)
		{
			char		original = token[pos];

			if (others[k] == original)
				continue;
			token[pos] = others[k];
			if (well_formed(token, API_TOKEN_LEN))
				diag(&bad, "prefix byte %d at %d accepted", others[k], pos);
			token[pos] = original;
		}
	}
	check("a wrong prefix is rejected in front of a matching checksum", bad == 0);
}

/* Ids: exactly 20 characters of 0-9A-Z, nothing else. */
static void
test_id(void)
{
	const char *id = "0123456789ABCDEFGHIZ";
	char		buf[32];
	int			bad = 0;

	check("a 20-character id is well formed", id_well_formed(id, 20));
	check("19 characters are not an id", !id_well_formed(id, 19));
	memcpy(buf, id, 20);
	buf[20] = 'A';
	check("21 characters are not an id", !id_well_formed(buf, 21));
	check("empty is not an id", !id_well_formed(id, 0));
	check("NULL is not an id", !api_token_id_is_well_formed(NULL, 20));
	check("NULL with length 0 is not an id", !api_token_id_is_well_formed(NULL, 0));
	check("lower case is not an id", !id_well_formed("0123456789abcdefghiz", 20));
	check("an id with a NUL inside is not an id", !id_well_formed("0123456789\0BCDEFGHIZ", 20));

	/* Every byte value at every position: accepted exactly for 0-9 and A-Z. */
	for (int pos = 0; pos < 20; pos++)
	{
		for (int b = 0; b < 256; b++)
		{
			int			expected = (b >= '0' && b <= '9') || (b >= 'A' && b <= 'Z');

			memcpy(buf, id, 20);
			buf[pos] = (char) b;
			if (id_well_formed(buf, 20) != expected)
				diag(&bad, "byte %d at position %d: expected %d", b, pos, expected);
		}
	}
	check("every byte at every position of an id: only 0-9 and A-Z pass", bad == 0);
}

static void
test_fill_uniform(void)
{
	unsigned char pool[512];
	char		out[64];
	char		alphabet[256];

	/* For 62 symbols, bytes 248..255 are dropped. */
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

	/* Only rejected bytes: the pool runs dry however big it is. */
	memset(pool, 248, sizeof(pool));
	check("a pool of rejected bytes only runs dry",
		  api_token_fill_uniform(out, 1, API_TOKEN_BASE62_ALPHABET, 62, pool, sizeof(pool)) == 0);
	check("an empty pool runs dry",
		  api_token_fill_uniform(out, 1, API_TOKEN_BASE62_ALPHABET, 62, pool, 0) == 0);

	/* Exactly enough bytes: all consumed; one fewer: dry; the count stops at the last needed byte. */
	for (int i = 0; i < 32; i++)
		pool[i] = (unsigned char) (i * 7);
	pool[32] = 1;
	check("exactly enough accepted bytes are all consumed",
		  api_token_fill_uniform(out, 32, API_TOKEN_BASE62_ALPHABET, 62, pool, 32) == 32);
	check("one byte short runs dry",
		  api_token_fill_uniform(out, 32, API_TOKEN_BASE62_ALPHABET, 62, pool, 31) == 0);
	check("bytes after the last needed one are not counted",
		  api_token_fill_uniform(out, 32, API_TOKEN_BASE62_ALPHABET, 62, pool, 33) == 32);
	memset(pool, 255, 10);
	pool[10] = 5;
	check("skipped bytes count as consumed",
		  api_token_fill_uniform(out, 1, API_TOKEN_BASE62_ALPHABET, 62, pool, 11) == 11 &&
		  out[0] == '5');

	/*
	 * Asking for nothing returns 0, which reads as "dry": no caller asks
	 * for 0 characters, so this documents the current answer only.
	 */
	check("asking for 0 characters returns 0",
		  api_token_fill_uniform(out, 0, API_TOKEN_BASE62_ALPHABET, 62, pool, 11) == 0);

	/* It writes exactly out_len characters: ASan watches an exact buffer. */
	{
		char	   *exact = malloc(5);

		for (int i = 0; i < 16; i++)
			pool[i] = (unsigned char) (i + 40);
		check("writes exactly out_len characters, the i-th accepted byte mod n",
			  exact != NULL &&
			  api_token_fill_uniform(exact, 5, API_TOKEN_BASE62_ALPHABET, 62, pool, 16) == 5 &&
			  memcmp(exact, "efghi", 5) == 0);
		free(exact);
	}

	/*
	 * Uniformity, for every alphabet size 1..256: over the 256 byte values,
	 * exactly 256 - 256 % n are accepted, byte b gives symbol b % n, and
	 * every symbol is given by exactly 256 / n byte values.
	 */
	{
		int			bad = 0;

		for (int i = 0; i < 256; i++)
			alphabet[i] = (char) i;
		for (int n = 1; n <= 256; n++)
		{
			int			counts[256] = {0};
			int			accepted = 0;

			for (int b = 0; b < 256; b++)
			{
				unsigned char one = (unsigned char) b;
				char		symbol;
				size_t		used = api_token_fill_uniform(&symbol, 1, alphabet, (size_t) n, &one, 1);

				if (used == 1)
				{
					accepted++;
					counts[(unsigned char) symbol]++;
					if ((unsigned char) symbol != b % n)
						diag(&bad, "n=%d: byte %d gave symbol %d", n, b, (unsigned char) symbol);
				}
				else if (used != 0)
					diag(&bad, "n=%d: byte %d consumed %zu", n, b, used);
				else if (b < 256 - 256 % n)
					diag(&bad, "n=%d: byte %d rejected below the limit", n, b);
			}
			if (accepted != 256 - 256 % n)
				diag(&bad, "n=%d: %d bytes accepted", n, accepted);
			for (int s = 0; s < n; s++)
				if (counts[s] != 256 / n)
					diag(&bad, "n=%d: symbol %d from %d bytes", n, s, counts[s]);
		}
		check("every alphabet size 1..256: each symbol from exactly 256/n byte values", bad == 0);
	}

	/* The same over the real alphabets, in one call over all 256 bytes. */
	{
		int			counts[62] = {0};
		unsigned char all[256];
		char		symbols[248];
		int			ok = 1;

		for (int b = 0; b < 256; b++)
			all[b] = (unsigned char) b;
		ok = api_token_fill_uniform(symbols, 248, API_TOKEN_BASE62_ALPHABET, 62, all, 256) == 248;
		for (int i = 0; ok && i < 248; i++)
		{
			const char *at = memchr(API_TOKEN_BASE62_ALPHABET, symbols[i], 62);

			ok = at != NULL;
			if (ok)
				counts[at - API_TOKEN_BASE62_ALPHABET]++;
		}
		for (int s = 0; ok && s < 62; s++)
			ok = counts[s] == 4;
		check("base62: 248 of 256 byte values accepted, 4 per symbol", ok);
	}
}

int
main(void)
{
	test_crc_and_checksum();
	test_shape();
	test_mutations();
	test_shape_despite_checksum();
	test_id();
	test_fill_uniform();
	return unit_done("test_api_token_format");
}
