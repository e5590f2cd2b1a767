/*
 * test_identity.c
 *		Canonical identity claims (common/identity.c): the string rule at its
 *		edges, and number canonicalisation on hand-picked texts and on
 *		generated spellings of known integers.  Inputs are exact-size heap
 *		copies and the output buffer is exactly IDENTITY_MAX_BYTES + 1 bytes,
 *		so AddressSanitizer sees any read or write past either.
 *
 * Behaviour pinned here that the header leaves implicit:
 *	- a string is checked byte by byte: bytes 0x80..0xFF pass whatever
 *	  they encode (JSON and jsonb have validated the UTF-8 already), and
 *	  only the ASCII space counts as outer space (a leading U+00A0 passes);
 *	- the length check comes first: 256 bytes with a control byte inside
 *	  is TOO_LONG;
 *	- leading zeros, which JSON forbids and neither jansson nor numeric_out
 *	  write, are accepted and dropped: "01" names 1, "-00" names 0;
 *	- "+1", ".5", "1.", "1e" and the like are NOT_A_NUMBER, as in JSON.
 */
#include "identity.h"
#include "unit.h"

/* Every OK output goes through this; see check_idempotent(). */
static int	outputs_checked = 0;
static int	idempotence_bad = 0;

/* The status names, for test names. */
static const char *
status_name(identity_status st)
{
	switch (st)
	{
		case IDENTITY_OK:
			return "OK";
		case IDENTITY_EMPTY:
			return "EMPTY";
		case IDENTITY_TOO_LONG:
			return "TOO_LONG";
		case IDENTITY_CONTROL_CHARACTER:
			return "CONTROL_CHARACTER";
		case IDENTITY_OUTER_SPACE:
			return "OUTER_SPACE";
		case IDENTITY_NOT_INTEGER:
			return "NOT_INTEGER";
		case IDENTITY_NOT_A_NUMBER:
			return "NOT_A_NUMBER";
	}
	return "?";
}

static identity_status
check_string(const char *s, size_t len)
{
	char	   *copy = exact_copy(s, len);
	identity_status st = identity_check_string(copy, len);

	free(copy);
	return st;
}

/* The canonical number of num[0..len), into a malloc'd buffer of exactly 256 bytes. */
static identity_status
canonical_raw(const char *num, size_t len, char **out, size_t *outlen)
{
	char	   *copy = exact_copy(num, len);
	identity_status st;

	*out = malloc(IDENTITY_MAX_BYTES + 1);
	if (*out == NULL)
		exit(2);
	st = identity_canonical_number(copy, len, *out, outlen);
	free(copy);
	return st;
}

/*
 * An OK output must be canonical: at most 255 bytes, NUL-terminated at
 * outlen, an optional '-' then digits without a leading zero, never "-0",
 * a valid string identity too, and its own canonical form.
 */
static void
check_idempotent(const char *out, size_t outlen)
{
	char	   *again;
	size_t		againlen;
	identity_status st;
	size_t		digits_at = (outlen > 0 && out[0] == '-') ? 1 : 0;
	int			shape = outlen >= 1 && outlen <= IDENTITY_MAX_BYTES && out[outlen] == '\0' &&
		strlen(out) == outlen && outlen > digits_at;

	for (size_t i = digits_at; shape && i < outlen; i++)
		shape = out[i] >= '0' && out[i] <= '9';
	if (shape && out[digits_at] == '0')
		shape = outlen == 1;	/* only "0" itself starts with 0 */
	if (shape)
		shape = identity_check_string(out, outlen) == IDENTITY_OK;

	outputs_checked++;
	if (!shape)
	{
		diag(&idempotence_bad, "output %s is not canonical", show(out, outlen));
		return;
	}
	st = canonical_raw(out, outlen, &again, &againlen);
	if (st != IDENTITY_OK || againlen != outlen || memcmp(again, out, outlen) != 0)
		diag(&idempotence_bad, "%s canonicalises to %s %s", show(out, outlen),
			 status_name(st), show(again, againlen));
	free(again);
}

/* Canonicalises and, when OK, checks the output is canonical. */
static identity_status
canonical(const char *num, size_t len, char **out, size_t *outlen)
{
	identity_status st = canonical_raw(num, len, out, outlen);

	if (st == IDENTITY_OK)
		check_idempotent(*out, *outlen);
	return st;
}

/* One expectation: status, and the output when OK. */
static void
number_case_len(const char *num, size_t len, identity_status expected, const char *expected_out)
{
	char	   *out;
	size_t		outlen;
	identity_status st = canonical(num, len, &out, &outlen);
	int			ok = st == expected;

	if (ok && expected == IDENTITY_OK)
		ok = outlen == strlen(expected_out) && memcmp(out, expected_out, outlen) == 0;
	checkf(ok, "number %s is %s%s%s", show(num, len), status_name(expected),
		   expected == IDENTITY_OK ? " " : "",
		   expected == IDENTITY_OK ? show(expected_out, strlen(expected_out)) : "");
	if (!ok)
		printf("# got %s %s\n", status_name(st), st == IDENTITY_OK ? show(out, outlen) : "");
	free(out);
}

static void
number_case(const char *num, identity_status expected, const char *expected_out)
{
	number_case_len(num, strlen(num), expected, expected_out);
}

/* A string of n copies of c, then tail; the caller frees it. */
static char *
repeat(char c, size_t n, const char *head, const char *tail)
{
	size_t		h = strlen(head);
	size_t		t = strlen(tail);
	char	   *s = malloc(h + n + t + 1);

	if (s == NULL)
		exit(2);
	memcpy(s, head, h);
	memset(s + h, c, n);
	memcpy(s + h + n, tail, t + 1);
	return s;
}

static void
test_strings(void)
{
	char		buf[300];
	int			bad = 0;

	check("\"\" is EMPTY", check_string("", 0) == IDENTITY_EMPTY);
	check("NULL with length 0 is EMPTY", identity_check_string(NULL, 0) == IDENTITY_EMPTY);
	check("\"a\" is OK", check_string("a", 1) == IDENTITY_OK);
	memset(buf, 'a', sizeof(buf));
	check("255 bytes are OK", check_string(buf, 255) == IDENTITY_OK);
	check("256 bytes are TOO_LONG", check_string(buf, 256) == IDENTITY_TOO_LONG);
	check("300 bytes are TOO_LONG", check_string(buf, 300) == IDENTITY_TOO_LONG);
	buf[100] = '\n';
	check("255 bytes with a newline are CONTROL_CHARACTER",
		  check_string(buf, 255) == IDENTITY_CONTROL_CHARACTER);
	check("256 bytes with a newline are TOO_LONG (length first)",
		  check_string(buf, 256) == IDENTITY_TOO_LONG);
	buf[0] = ' ';
	buf[100] = 'a';
	check("256 bytes with a leading space are TOO_LONG", check_string(buf, 256) == IDENTITY_TOO_LONG);

	/* Every control byte, at the start, inside and at the end. */
	for (int c = 0; c < 256; c++)
	{
		int			control = c < 0x20 || c == 0x7F;
		char		s[3];

		for (int pos = 0; pos < 3; pos++)
		{
			identity_status want = control ? IDENTITY_CONTROL_CHARACTER :
				(c == ' ' && pos != 1) ? IDENTITY_OUTER_SPACE : IDENTITY_OK;

			s[0] = 'a';
			s[1] = 'b';
			s[2] = 'c';
			s[pos] = (char) c;
			if (check_string(s, 3) != want)
				diag(&bad, "byte 0x%02X at %d: got %s", c, pos, status_name(check_string(s, 3)));
		}
		if (control && check_string((char[]) {(char) c}, 1) != IDENTITY_CONTROL_CHARACTER)
			diag(&bad, "byte 0x%02X alone", c);
	}
	check("each of 0x00-0x1F and 0x7F anywhere is CONTROL_CHARACTER; every other byte passes", bad == 0);
	check("a NUL inside is CONTROL_CHARACTER", check_string("a\0b", 3) == IDENTITY_CONTROL_CHARACTER);
	check("a tab is CONTROL_CHARACTER", check_string("a\tb", 3) == IDENTITY_CONTROL_CHARACTER);
	check("DEL is CONTROL_CHARACTER", check_string("a\x7F", 2) == IDENTITY_CONTROL_CHARACTER);
	check("a leading space is OUTER_SPACE", check_string(" alice", 6) == IDENTITY_OUTER_SPACE);
	check("a trailing space is OUTER_SPACE", check_string("alice ", 6) == IDENTITY_OUTER_SPACE);
	check("a single space is OUTER_SPACE", check_string(" ", 1) == IDENTITY_OUTER_SPACE);
	check("only spaces are OUTER_SPACE", check_string("   ", 3) == IDENTITY_OUTER_SPACE);
	check("an inner space is OK", check_string("alice smith", 11) == IDENTITY_OK);
	check("UTF-8 \"Zoë\" is OK", check_string("Zo\xC3\xAB", 4) == IDENTITY_OK);
	check("UTF-8 CJK is OK", check_string("\xE6\x97\xA5\xE6\x9C\xAC", 6) == IDENTITY_OK);
	check("UTF-8 emoji is OK", check_string("\xF0\x9F\x98\x80", 4) == IDENTITY_OK);
	check("a leading U+00A0 is not an ASCII space: OK", check_string("\xC2\xA0" "a", 3) == IDENTITY_OK);

	/* 85 three-byte characters are 255 bytes; 86 are 258. */
	for (int i = 0; i < 86; i++)
		memcpy(buf + 3 * i, "\xE6\x97\xA5", 3);
	check("85 three-byte characters (255 bytes) are OK", check_string(buf, 255) == IDENTITY_OK);
	check("86 three-byte characters (258 bytes) are TOO_LONG", check_string(buf, 258) == IDENTITY_TOO_LONG);
	check("the string \"100\" is OK as it is", check_string("100", 3) == IDENTITY_OK);
}

static void
test_number_table(void)
{
	/* Zero, however written. */
	number_case("0", IDENTITY_OK, "0");
	number_case("-0", IDENTITY_OK, "0");
	number_case("-0.0e5", IDENTITY_OK, "0");
	number_case("0.000", IDENTITY_OK, "0");
	number_case("0e9999999", IDENTITY_OK, "0");
	number_case("-0e-9999999", IDENTITY_OK, "0");
	number_case("0.0e-5", IDENTITY_OK, "0");

	/* Integers in every spelling. */
	number_case("1", IDENTITY_OK, "1");
	number_case("-1", IDENTITY_OK, "-1");
	number_case("1.0", IDENTITY_OK, "1");
	number_case("1e2", IDENTITY_OK, "100");
	number_case("1E2", IDENTITY_OK, "100");
	number_case("1e+2", IDENTITY_OK, "100");
	number_case("1E+2", IDENTITY_OK, "100");
	number_case("1e0", IDENTITY_OK, "1");
	number_case("1e+0", IDENTITY_OK, "1");
	number_case("1e-0", IDENTITY_OK, "1");
	number_case("100", IDENTITY_OK, "100");
	number_case("100.0", IDENTITY_OK, "100");
	number_case("100.000", IDENTITY_OK, "100");
	number_case("0.5e1", IDENTITY_OK, "5");
	number_case("12.30e1", IDENTITY_OK, "123");
	number_case("1.5e1", IDENTITY_OK, "15");
	number_case("-1.5e1", IDENTITY_OK, "-15");
	number_case("100e-2", IDENTITY_OK, "1");
	number_case("120e-1", IDENTITY_OK, "12");
	number_case("1e0000002", IDENTITY_OK, "100");
	number_case("1e0000000000000000000002", IDENTITY_OK, "100");
	number_case("5e-00000000000000000000", IDENTITY_OK, "5");
	number_case("12345678901234567890123", IDENTITY_OK, "12345678901234567890123");
	number_case("-9223372036854775809", IDENTITY_OK, "-9223372036854775809");
	number_case("18446744073709551616", IDENTITY_OK, "18446744073709551616");

	/* Leading zeros: not JSON, accepted and dropped (see the top). */
	number_case("01", IDENTITY_OK, "1");
	number_case("-01", IDENTITY_OK, "-1");
	number_case("00", IDENTITY_OK, "0");
	number_case("-00", IDENTITY_OK, "0");
	number_case("007.000", IDENTITY_OK, "7");

	/* Fractions. */
	number_case("1.5", IDENTITY_NOT_INTEGER, NULL);
	number_case("-1.5", IDENTITY_NOT_INTEGER, NULL);
	number_case("0.5", IDENTITY_NOT_INTEGER, NULL);
	number_case("1e-1", IDENTITY_NOT_INTEGER, NULL);
	number_case("1.55e1", IDENTITY_NOT_INTEGER, NULL);
	number_case("100e-3", IDENTITY_NOT_INTEGER, NULL);
	number_case("1.0000000000000000000001", IDENTITY_NOT_INTEGER, NULL);
	number_case("1e-0000002", IDENTITY_NOT_INTEGER, NULL);
	number_case("1e-999999", IDENTITY_NOT_INTEGER, NULL);
	number_case("1e-1000000", IDENTITY_NOT_INTEGER, NULL);
	number_case("1e-9999999", IDENTITY_NOT_INTEGER, NULL);
	number_case("-1e-99999999999999999999", IDENTITY_NOT_INTEGER, NULL);

	/* Too long: 255 bytes at most, the sign included. */
	number_case("1e255", IDENTITY_TOO_LONG, NULL);
	number_case("1e999999", IDENTITY_TOO_LONG, NULL);
	number_case("1e1000000", IDENTITY_TOO_LONG, NULL);
	number_case("1e9999999", IDENTITY_TOO_LONG, NULL);
	number_case("-1e99999999999999999999", IDENTITY_TOO_LONG, NULL);

	/* Not numbers. */
	{
		static const char *const not_numbers[] = {
			"", "-", "+", "+1", "--1", "-+1", "1.", "-1.", ".5", "-.5", ".", "1e", "1e+",
			"1e-", "1E", "e1", "E1", "1x", "1.5x", "1e5x", "1e1.5", "1e1e1", "1.2.3",
			"0x10", "1_000", "1,5", "1 000", " 1", "1 ", "\t1", "1\n", "NaN", "nan",
			"Infinity", "-Infinity", "inf", "true", "null", "\"1\"", "1..0", "1.e2",
			"\xD9\xA1",			/* U+0661, an Arabic-Indic one */
			"\xEF\xBC\x91",		/* U+FF11, a fullwidth one */
		};

		for (size_t i = 0; i < sizeof(not_numbers) / sizeof(not_numbers[0]); i++)
			number_case(not_numbers[i], IDENTITY_NOT_A_NUMBER, NULL);
		number_case_len("1\0", 2, IDENTITY_NOT_A_NUMBER, NULL);
		number_case_len("\0" "1", 2, IDENTITY_NOT_A_NUMBER, NULL);
		number_case_len("1e\0" "2", 4, IDENTITY_NOT_A_NUMBER, NULL);
	}
}

/* Lengths at the 255-byte edge, built at run time. */
static void
test_number_lengths(void)
{
	char	   *expected;
	char	   *s;

	expected = repeat('0', 254, "1", "");	/* 1 and 254 zeros: 255 bytes */
	number_case("1e254", IDENTITY_OK, expected);
	number_case("10e253", IDENTITY_OK, expected);
	number_case("0.1e255", IDENTITY_OK, expected);
	free(expected);
	number_case("-1e254", IDENTITY_TOO_LONG, NULL);	/* the sign makes 256 */
	expected = repeat('0', 253, "-1", "");
	number_case("-1e253", IDENTITY_OK, expected);
	free(expected);
	expected = repeat('0', 252, "999", "");
	number_case("9.99e254", IDENTITY_OK, expected);
	free(expected);
	number_case("9.99e255", IDENTITY_TOO_LONG, NULL);

	expected = repeat('9', 255, "", "");
	number_case(expected, IDENTITY_OK, expected);
	s = repeat('9', 255, "0", "");
	number_case(s, IDENTITY_OK, expected);	/* a leading zero does not count */
	free(s);
	s = repeat('9', 255, "", ".000");
	number_case(s, IDENTITY_OK, expected);
	free(s);
	s = repeat('9', 255, "-", "");
	number_case(s, IDENTITY_TOO_LONG, NULL);
	free(s);
	s = repeat('9', 256, "", "");
	number_case(s, IDENTITY_TOO_LONG, NULL);
	free(s);
	free(expected);

	/* Long mantissas that an exponent brings back into range. */
	s = repeat('0', 300, "1", "e-299");
	number_case(s, IDENTITY_OK, "10");
	free(s);
	s = repeat('0', 300, "0.", "1e301");
	number_case(s, IDENTITY_OK, "1");
	free(s);
	s = repeat('0', 300, "0.", "1e300");
	number_case(s, IDENTITY_NOT_INTEGER, NULL);
	free(s);
	s = repeat('0', 5000, "42.", "");
	number_case(s, IDENTITY_OK, "42");
	free(s);
}

/*
 * Exponents of seven or more digits on mantissas of a million digits or
 * more.  Until the fix, an exponent of 7+ digits was read as exactly
 * 1000000, so these named the wrong integer: the value 1 gave "10", 10
 * gave "1", and 10^-8999999 gave "1".  No caller sends such texts today
 * (numeric_out writes no exponent), but the function promises JSON texts.
 */
static void
test_huge_mantissas(void)
{
	char	   *s;
	char	   *want;

	s = repeat('0', 1000001, "1", "e-1000001");
	number_case(s, IDENTITY_OK, "1");
	free(s);
	s = repeat('0', 999999, "0.", "1e1000001");
	number_case(s, IDENTITY_OK, "10");
	free(s);
	s = repeat('0', 1000000, "1", "e-9999999");
	number_case(s, IDENTITY_NOT_INTEGER, NULL);
	free(s);
	s = repeat('0', 1000000, "1", "e-1000000");
	number_case(s, IDENTITY_OK, "1");
	free(s);
	s = repeat('0', 2000000, "-1", "e-1999990");
	number_case(s, IDENTITY_OK, "-10000000000");
	free(s);
	s = repeat('0', 2000000, "1", "e-99999999999999999999999999");
	number_case(s, IDENTITY_NOT_INTEGER, NULL);
	free(s);
	s = repeat('0', 2000000, "0.", "1e2000000");
	number_case(s, IDENTITY_NOT_INTEGER, NULL);
	free(s);
	s = repeat('0', 2000000, "0.", "1e2000001");
	number_case(s, IDENTITY_OK, "1");
	free(s);
	s = repeat('0', 2000000, "0.", "1e2000255");
	want = repeat('0', 254, "1", "");
	number_case(s, IDENTITY_OK, want);
	free(want);
	free(s);
	s = repeat('0', 2000000, "0.", "1e2000256");
	number_case(s, IDENTITY_TOO_LONG, NULL);
	free(s);
	s = repeat('0', 2000000, "0.", "1e9999999999999999999999");
	number_case(s, IDENTITY_TOO_LONG, NULL);
	free(s);

	/*
	 * What fuzz_identity_long found in under a second on the old code
	 * ("10*999999e-99*999", test/fuzz/corpus/fuzz_identity_long/
	 * found_exponent_cap_1e6): 1, a million zeros, e-, 1001 nines.  The
	 * old code said OK "1".
	 */
	{
		char	   *nines = repeat('9', 1001, "", "");

		s = repeat('0', 1000000, "1", "e-");
		want = malloc(strlen(s) + 1001 + 1);
		if (want == NULL)
			exit(2);
		strcpy(want, s);
		strcat(want, nines);
		number_case(want, IDENTITY_NOT_INTEGER, NULL);
		free(want);
		free(s);
		free(nines);
	}
}

/* The canonical text of the integer with decimal digits v (no sign), signed. */
static void
canonical_of(const char *v, int negative, char *out)
{
	while (v[0] == '0' && v[1] != '\0')
		v++;
	if (strcmp(v, "0") == 0)
		negative = 0;
	sprintf(out, "%s%s", negative ? "-" : "", v);
}

/*
 * Known integers written every way JSON allows: as they are, with a zero
 * fraction, with the point moved left and an exponent moving it back, with
 * trailing zeros and a negative exponent; each must give the integer.  A 5
 * appended after the point must give NOT_INTEGER.
 */
static void
test_generated_spellings(void)
{
	static const char *const values[] = {
		"0", "1", "7", "10", "42", "100", "123", "1000", "2147483648",
		"9876543210123456789", "100000000000000000000000000000000000001",
	};
	static const char *const exp_marks[] = {"e", "E", "e+", "E+", "e0", "e+000"};
	int			bad = 0;
	int			cases = 0;

	for (size_t vi = 0; vi < sizeof(values) / sizeof(values[0]); vi++)
	{
		for (int negative = 0; negative <= 1; negative++)
		{
			const char *v = values[vi];
			size_t		vlen = strlen(v);
			const char *sign = negative ? "-" : "";
			char		want[300];
			char		s[600];
			char	   *out;
			size_t		outlen;
			identity_status st;

#define EXPECT(status, expected_out) \
			do { \
				cases++; \
				st = canonical(s, strlen(s), &out, &outlen); \
				if (st != (status) || ((status) == IDENTITY_OK && strcmp(out, (expected_out)) != 0)) \
					diag(&bad, "%s: got %s %s", s, status_name(st), st == IDENTITY_OK ? out : ""); \
				free(out); \
			} while (0)

			canonical_of(v, negative, want);
			sprintf(s, "%s%s", sign, v);
			EXPECT(IDENTITY_OK, want);
			sprintf(s, "%s%s.0", sign, v);
			EXPECT(IDENTITY_OK, want);
			sprintf(s, "%s%s.000000", sign, v);
			EXPECT(IDENTITY_OK, want);
			sprintf(s, "%s00%s", sign, v);
			EXPECT(IDENTITY_OK, want);
			sprintf(s, "%s%s.5", sign, v);
			EXPECT(IDENTITY_NOT_INTEGER, "");

			/* The point moved j places left (zeros padded in front), then j back. */
			for (size_t j = 1; j <= vlen + 3; j++)
			{
				for (size_t m = 0; m < sizeof(exp_marks) / sizeof(exp_marks[0]); m++)
				{
					char		mantissa[300];

					if (j >= vlen)
						sprintf(mantissa, "0.%0*d%s", (int) (j - vlen), 0, v);
					else
						sprintf(mantissa, "%.*s.%s", (int) (vlen - j), v, v + vlen - j);
					if (j == vlen)
						sprintf(mantissa, "0.%s", v);
					sprintf(s, "%s%s%s%zu", sign, mantissa, exp_marks[m], j);
					EXPECT(IDENTITY_OK, want);
					/* One place short: a fraction unless the last digit is 0. */
					sprintf(s, "%s%s%s%zu", sign, mantissa, exp_marks[m], j - 1);
					if (v[vlen - 1] != '0')
						EXPECT(IDENTITY_NOT_INTEGER, "");
				}
				/* Trailing zeros and a negative exponent. */
				sprintf(s, "%s%s%0*de-%zu", sign, v, (int) j, 0, j);
				EXPECT(IDENTITY_OK, want);
				sprintf(s, "%s%s%0*dE-00%zu", sign, v, (int) j, 0, j);
				EXPECT(IDENTITY_OK, want);
				sprintf(s, "%s%s%0*de-%zu", sign, v, (int) j, 0, j + 1);
				if (v[vlen - 1] != '0')
					EXPECT(IDENTITY_NOT_INTEGER, "");
			}
#undef EXPECT
		}
	}
	checkf(bad == 0, "%d generated spellings of %zu integers give the integer or NOT_INTEGER",
		   cases, sizeof(values) / sizeof(values[0]));
}

/*
 * d * 10^e for small d and every e in -300..300: integer exactly when e is
 * at least minus d's trailing zeros, then d's digits and e zeros, TOO_LONG
 * past 255 bytes.
 */
static void
test_generated_range(void)
{
	static const int mantissas[] = {0, 1, 5, 10, 123, 1000, 9990};
	int			bad = 0;
	int			cases = 0;

	for (size_t mi = 0; mi < sizeof(mantissas) / sizeof(mantissas[0]); mi++)
	{
		for (int e = -300; e <= 300; e++)
		{
			for (int negative = 0; negative <= 1; negative++)
			{
				int			d = mantissas[mi];
				int			stripped = d;
				int			tz = 0;
				char		s[64];
				char		want[700];
				identity_status want_st;
				char	   *out;
				size_t		outlen;
				identity_status st;

				while (stripped != 0 && stripped % 10 == 0)
					stripped /= 10, tz++;
				if (d == 0)
				{
					want_st = IDENTITY_OK;
					strcpy(want, "0");
				}
				else if (e < -tz)
					want_st = IDENTITY_NOT_INTEGER;
				else
				{
					int			n = sprintf(want, "%s%d", negative ? "-" : "", stripped);

					memset(want + n, '0', (size_t) (e + tz));
					want[n + e + tz] = '\0';
					want_st = strlen(want) > IDENTITY_MAX_BYTES ? IDENTITY_TOO_LONG : IDENTITY_OK;
				}
				sprintf(s, "%s%de%d", negative ? "-" : "", d, e);
				cases++;
				st = canonical(s, strlen(s), &out, &outlen);
				if (st != want_st || (st == IDENTITY_OK && strcmp(out, want) != 0))
					diag(&bad, "%s: got %s, expected %s", s, status_name(st), status_name(want_st));
				free(out);
			}
		}
	}
	checkf(bad == 0, "%d numbers d*10^e, e in -300..300, canonicalise as computed", cases);
	for (int i = -1000; i <= 1000; i++)
	{
		char		s[32];
		char		want[32];
		char	   *out;
		size_t		outlen;

		sprintf(s, "%d", i);
		sprintf(want, "%d", i);
		cases++;
		if (canonical(s, strlen(s), &out, &outlen) != IDENTITY_OK || strcmp(out, want) != 0)
			diag(&bad, "%s changed", s);
		free(out);
	}
	check("every integer -1000..1000 is its own canonical form", bad == 0);
}

int
main(void)
{
	test_strings();
	test_number_table();
	test_number_lengths();
	test_huge_mantissas();
	test_generated_spellings();
	test_generated_range();
	checkf(idempotence_bad == 0 && outputs_checked > 1000,
		   "all %d OK outputs are canonical and canonicalise to themselves", outputs_checked);
	return unit_done("test_identity");
}
