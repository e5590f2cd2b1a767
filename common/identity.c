/*
 * identity.c
 *		Canonical identity claims (see the header).
 */
#include "identity.h"

#include <string.h>

/* One rule for every string identity: bounded, printable, not space-padded. */
identity_status
identity_check_string(const char *s, size_t len)
{
	if (len == 0)
		return IDENTITY_EMPTY;
	if (len > IDENTITY_MAX_BYTES)
		return IDENTITY_TOO_LONG;
	for (size_t i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c < 0x20 || c == 0x7F)
			return IDENTITY_CONTROL_CHARACTER;
	}
	if (s[0] == ' ' || s[len - 1] == ' ')
		return IDENTITY_OUTER_SPACE;
	return IDENTITY_OK;
}

/* Reads a run of decimal digits; returns how many. */
static size_t
digit_run(const char *p, const char *end)
{
	size_t		n = 0;

	while (p + n < end && p[n] >= '0' && p[n] <= '9')
		n++;
	return n;
}

/*
 * The number is sign, digits D and a decimal point after position point (in
 * D's terms, after the exponent moved it).  It is an integer when every digit
 * after the point is zero; its canonical text is the digits before the point,
 * without leading zeros, and "-" only when not zero.
 */
identity_status
identity_canonical_number(const char *num, size_t len, char *out, size_t *outlen)
{
	const char *p = num;
	const char *end = num + len;
	const char *int_digits;
	const char *frac_digits = NULL;
	size_t		n_int;
	size_t		n_frac = 0;
	bool		negative = false;
	long		exponent = 0;
	long		exponent_cap;
	long		point;
	size_t		n_all;
	size_t		first_nonzero;
	size_t		written = 0;

	*outlen = 0;
	out[0] = '\0';
	if (p < end && *p == '-')
	{
		negative = true;
		p++;
	}
	int_digits = p;
	n_int = digit_run(p, end);
	if (n_int == 0)
		return IDENTITY_NOT_A_NUMBER;
	p += n_int;
	if (p < end && *p == '.')
	{
		frac_digits = ++p;
		n_frac = digit_run(p, end);
		if (n_frac == 0)
			return IDENTITY_NOT_A_NUMBER;
		p += n_frac;
	}
	if (p < end && (*p == 'e' || *p == 'E'))
	{
		bool		exp_negative = false;
		size_t		n_exp;

		p++;
		if (p < end && (*p == '+' || *p == '-'))
			exp_negative = (*p++ == '-');
		n_exp = digit_run(p, end);
		if (n_exp == 0)
			return IDENTITY_NOT_A_NUMBER;
		/*
		 * An exponent past len + IDENTITY_MAX_BYTES decides the answer by
		 * itself: positive, a non-zero integer longer than 255 bytes;
		 * negative, the point before every digit, a fraction.  So it is
		 * read saturating there, and exact below (leading zeros included:
		 * 1e0000002 is 1e2).  A fixed cap is wrong for a mantissa longer
		 * than the cap: 1 followed by 1000001 zeros, e-1000001, is 1.
		 */
		exponent_cap = (long) len + IDENTITY_MAX_BYTES + 1;
		for (size_t i = 0; i < n_exp; i++)
		{
			int			digit = p[i] - '0';

			exponent = (exponent > (exponent_cap - digit) / 10) ?
				exponent_cap : exponent * 10 + digit;
		}
		if (exp_negative)
			exponent = -exponent;
		p += n_exp;
	}
	if (p != end)
		return IDENTITY_NOT_A_NUMBER;

	/* All digits D = int_digits ++ frac_digits, indexed 0..n_all. */
	n_all = n_int + n_frac;
#define DIGIT(i) ((i) < n_int ? int_digits[(i)] : frac_digits[(i) - n_int])
	for (first_nonzero = 0; first_nonzero < n_all && DIGIT(first_nonzero) == '0'; first_nonzero++)
		;
	if (first_nonzero == n_all)
	{
		/* Zero, however written (-0.0e5 included). */
		out[0] = '0';
		out[1] = '\0';
		*outlen = 1;
		return IDENTITY_OK;
	}
	point = (long) n_int + exponent;
	/* A non-zero digit after the point is a fraction. */
	for (size_t i = (point > 0 ? (size_t) point : 0); i < n_all; i++)
		if (DIGIT(i) != '0')
			return IDENTITY_NOT_INTEGER;
	if (point <= (long) first_nonzero)
		return IDENTITY_NOT_INTEGER;	/* only zeros before the point: 0.5e0 */
	if ((size_t) (point - (long) first_nonzero) + (negative ? 1 : 0) > IDENTITY_MAX_BYTES)
		return IDENTITY_TOO_LONG;

	if (negative)
		out[written++] = '-';
	for (long i = (long) first_nonzero; i < point; i++)
		out[written++] = (size_t) i < n_all ? DIGIT((size_t) i) : '0';
#undef DIGIT
	out[written] = '\0';
	*outlen = written;
	return IDENTITY_OK;
}

/* Phrases that complete "The claim ... ". */
const char *
identity_status_text(identity_status status)
{
	switch (status)
	{
		case IDENTITY_OK:
			return "is valid";
		case IDENTITY_EMPTY:
			return "is empty";
		case IDENTITY_TOO_LONG:
			return "is longer than 255 bytes";
		case IDENTITY_CONTROL_CHARACTER:
			return "contains a control character";
		case IDENTITY_OUTER_SPACE:
			return "begins or ends with a space";
		case IDENTITY_NOT_INTEGER:
			return "is a number that is not an integer";
		case IDENTITY_NOT_A_NUMBER:
			return "is not a string or a number";
	}
	return "is invalid";
}
