/*
 * fuzz_identity.c
 *		libFuzzer harness for common/identity.c (see run-fuzz.sh).
 *
 * Every input is tried both as a string claim and as a number text.
 * Compiled with -DFUZZ_IDENTITY_LONG (fuzz_identity_long.c), inputs are
 * first expanded, see expand(), to reach texts of millions of bytes.
 *	- identity_check_string == a straightforward oracle;
 *	- identity_canonical_number == an oracle that works differently from
 *	  the code (it multiplies out digits * 10^scale after stripping zeros
 *	  at both ends, instead of tracking where the point falls), status and
 *	  text; the output buffer is exactly IDENTITY_MAX_BYTES + 1 bytes;
 *	- an OK output is canonical: 1..255 bytes, NUL at outlen, an optional
 *	  '-' and digits, no leading zero except "0" itself, never "-0", a
 *	  valid string identity, and its own canonical form (idempotent).
 */
#include "identity.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAIL(...) \
	do { \
		fprintf(stderr, "fuzz_identity: " __VA_ARGS__); \
		fputc('\n', stderr); \
		abort(); \
	} while (0)

/* Far beyond any input length, so saturating there is exact. */
#define EXP_SATURATE 1000000000000000LL

static identity_status
oracle_string(const uint8_t *s, size_t len)
{
	if (len == 0)
		return IDENTITY_EMPTY;
	if (len > 255)
		return IDENTITY_TOO_LONG;
	for (size_t i = 0; i < len; i++)
		if (s[i] <= 0x1F || s[i] == 0x7F)
			return IDENTITY_CONTROL_CHARACTER;
	if (s[0] == ' ' || s[len - 1] == ' ')
		return IDENTITY_OUTER_SPACE;
	return IDENTITY_OK;
}

static int
dig(uint8_t c)
{
	return c >= '0' && c <= '9';
}

/*
 * -?D+(.D+)?([eE][+-]?D+)?, leading zeros allowed; the value is digits *
 * 10^scale.  out is written only when the result fits in 255 bytes.
 */
static identity_status
oracle_number(const uint8_t *s, size_t len, char out[256])
{
	size_t		i = 0;
	int			negative = 0;
	char	   *digits = malloc(len + 1);
	size_t		nd = 0;
	size_t		nfrac = 0;
	long long	exponent = 0;
	long long	scale;
	size_t		first;
	size_t		last;
	long long	outlen;
	identity_status st;

	if (digits == NULL)
		abort();
	if (i < len && s[i] == '-')
		negative = 1, i++;
	if (i == len || !dig(s[i]))
		goto nan;
	while (i < len && dig(s[i]))
		digits[nd++] = (char) s[i++];
	if (i < len && s[i] == '.')
	{
		i++;
		if (i == len || !dig(s[i]))
			goto nan;
		while (i < len && dig(s[i]))
			digits[nd++] = (char) s[i++], nfrac++;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E'))
	{
		int			eneg = 0;

		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			eneg = s[i++] == '-';
		if (i == len || !dig(s[i]))
			goto nan;
		while (i < len && dig(s[i]))
		{
			exponent = exponent * 10 + (s[i++] - '0');
			if (exponent > EXP_SATURATE)
				exponent = EXP_SATURATE;
		}
		if (eneg)
			exponent = -exponent;
	}
	if (i != len)
		goto nan;

	for (first = 0; first < nd && digits[first] == '0'; first++)
		;
	if (first == nd)
	{
		strcpy(out, "0");
		st = IDENTITY_OK;
		goto done;
	}
	scale = exponent - (long long) nfrac;
	for (last = nd; digits[last - 1] == '0'; last--)
		scale++;
	if (scale < 0)
	{
		st = IDENTITY_NOT_INTEGER;
		goto done;
	}
	outlen = negative + (long long) (last - first) + scale;
	if (outlen > 255)
	{
		st = IDENTITY_TOO_LONG;
		goto done;
	}
	{
		size_t		o = 0;

		if (negative)
			out[o++] = '-';
		memcpy(out + o, digits + first, last - first);
		o += last - first;
		memset(out + o, '0', (size_t) scale);
		out[o + (size_t) scale] = '\0';
	}
	st = IDENTITY_OK;
	goto done;
nan:
	st = IDENTITY_NOT_A_NUMBER;
done:
	free(digits);
	return st;
}

/* The properties of a canonical output. */
static void
check_canonical(const char *out, size_t outlen)
{
	size_t		at = (outlen > 0 && out[0] == '-') ? 1 : 0;
	char	   *again = malloc(IDENTITY_MAX_BYTES + 1);
	char	   *copy;
	size_t		againlen;

	if (outlen < 1 || outlen > IDENTITY_MAX_BYTES || out[outlen] != '\0' || strlen(out) != outlen)
		FAIL("output length %zu is wrong", outlen);
	if (at == outlen)
		FAIL("output is a bare sign");
	for (size_t i = at; i < outlen; i++)
		if (!dig((uint8_t) out[i]))
			FAIL("output %s has a non-digit", out);
	if (out[at] == '0' && outlen != 1)
		FAIL("output %s has a leading zero or is -0", out);
	if (identity_check_string(out, outlen) != IDENTITY_OK)
		FAIL("output %s is not a valid string identity", out);
	if (again == NULL || (copy = malloc(outlen)) == NULL)
		abort();
	memcpy(copy, out, outlen);
	if (identity_canonical_number(copy, outlen, again, &againlen) != IDENTITY_OK ||
		againlen != outlen || memcmp(again, out, outlen) != 0)
		FAIL("output %s is not its own canonical form", out);
	free(copy);
	free(again);
}

/* Both checks, on an exact-size buffer s[0..size). */
static void
check_all(const uint8_t *data, size_t size)
{
	identity_status got = identity_check_string((const char *) data, size);
	identity_status want = oracle_string(data, size);
	char	   *out = malloc(IDENTITY_MAX_BYTES + 1);
	char		want_out[256];
	size_t		outlen;

	if (got != want)
		FAIL("check_string %d, oracle %d", (int) got, (int) want);
	if (out == NULL)
		abort();
	got = identity_canonical_number((const char *) data, size, out, &outlen);
	want = oracle_number(data, size, want_out);
	if (got != want)
		FAIL("canonical_number %d, oracle %d, for %zu bytes", (int) got, (int) want, size);
	if (got == IDENTITY_OK)
	{
		if (strcmp(out, want_out) != 0)
			FAIL("canonical_number %s, oracle %s", out, want_out);
		check_canonical(out, outlen);
	}
	free(out);
}

#ifdef FUZZ_IDENTITY_LONG

#define EXPANDED_MAX 2500000

/*
 * fuzz_identity_long only: "*N" (N: 1 to 7 digits) repeats the byte
 * before it N more times, so a 30-byte input stands for a number text of
 * millions of digits: the only way past libFuzzer's max_len to mantissas
 * and exponents beyond a million, where a fixed exponent cap once named
 * the wrong integer.  The text goes into an exact-size buffer; NULL when
 * it would exceed EXPANDED_MAX bytes.
 */
static uint8_t *
expand(const uint8_t *p, size_t n, size_t *outsize)
{
	uint8_t    *out = NULL;

	/* Pass 0 measures, pass 1 writes. */
	for (int pass = 0; pass < 2; pass++)
	{
		size_t		o = 0;

		for (size_t i = 0; i < n; i++)
		{
			if (p[i] == '*' && o > 0 && i + 1 < n && dig(p[i + 1]))
			{
				size_t		count = 0;
				size_t		k;

				for (k = 0; k < 7 && i + 1 + k < n && dig(p[i + 1 + k]); k++)
					count = count * 10 + (p[i + 1 + k] - '0');
				if (count > EXPANDED_MAX - o)
					return NULL;
				if (pass == 1)
					memset(out + o, out[o - 1], count);
				o += count;
				i += k;
			}
			else
			{
				if (o == EXPANDED_MAX)
					return NULL;
				if (pass == 1)
					out[o] = p[i];
				o++;
			}
		}
		if (pass == 0)
		{
			out = malloc(o > 0 ? o : 1);
			if (out == NULL)
				abort();
		}
		*outsize = o;
	}
	return out;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t		n;
	uint8_t    *text = expand(data, size, &n);

	if (text != NULL)
		check_all(text, n);
	free(text);
	return 0;
}

#else

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_all(data, size);
	return 0;
}

#endif
