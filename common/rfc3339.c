/*
 * rfc3339.c
 *		Strict RFC 3339 date-time parsing (see the header).
 */
#include "rfc3339.h"

/* A cursor over the input that never reads past its end. */
typedef struct cursor
{
	const char *p;
	const char *end;
} cursor;

/* Reads exactly n decimal digits, advancing; -1 when they are not there. */
static int
read_digits(cursor *c, int n)
{
	int			value = 0;

	if (c->end - c->p < n)
		return -1;
	for (int i = 0; i < n; i++)
	{
		if (c->p[i] < '0' || c->p[i] > '9')
			return -1;
		value = value * 10 + (c->p[i] - '0');
	}
	c->p += n;
	return value;
}

/* Consumes one expected character, either of two spellings. */
static bool
expect_char(cursor *c, char c1, char c2)
{
	if (c->p == c->end || (*c->p != c1 && *c->p != c2))
		return false;
	c->p++;
	return true;
}

/* Reads a number in [min, max] of exactly n digits. */
static bool
read_field(cursor *c, int n, int min, int max, int *out)
{
	*out = read_digits(c, n);
	return *out >= min && *out <= max;
}

/* Reads ".digits" into microseconds, rounding half up at the seventh digit as PostgreSQL does. */
static bool
read_fraction(cursor *c, int *microsecond)
{
	int			ndigits = 0;
	bool		round_up = false;

	*microsecond = 0;
	if (c->p == c->end || *c->p != '.')
		return true;
	for (c->p++; c->p < c->end && *c->p >= '0' && *c->p <= '9'; c->p++, ndigits++)
	{
		if (ndigits < 6)
			*microsecond = *microsecond * 10 + (*c->p - '0');
		else if (ndigits == 6)
			round_up = (*c->p >= '5');
	}
	for (int i = ndigits; i < 6; i++)
		*microsecond *= 10;
	if (round_up)
		(*microsecond)++;
	return ndigits > 0;
}

/* Reads Z or +HH:MM / -HH:MM as seconds east of UTC. */
static bool
read_offset(cursor *c, int *east_seconds)
{
	int			sign;
	int			hours;
	int			minutes;

	if (expect_char(c, 'Z', 'z'))
	{
		*east_seconds = 0;
		return true;
	}
	if (c->p == c->end || (*c->p != '+' && *c->p != '-'))
		return false;
	sign = (*c->p == '-') ? -1 : 1;
	c->p++;
	if (!read_field(c, 2, 0, 23, &hours) || !expect_char(c, ':', ':') ||
		!read_field(c, 2, 0, 59, &minutes))
		return false;
	*east_seconds = sign * (hours * 3600 + minutes * 60);
	return true;
}

/* Gregorian leap years: every fourth, but not centuries unless divisible by 400. */
int
rfc3339_days_in_month(int year, int month)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool		leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	if (month < 1 || month > 12)
		return 0;
	return days[month - 1] + (month == 2 && leap ? 1 : 0);
}

/* Field by field, in order; any deviation from the grammar rejects the whole string. */
bool
rfc3339_parse(const char *s, size_t len, rfc3339_time *out)
{
	cursor		c;

	/* Before any arithmetic on s: NULL + len is undefined behaviour, even for 0. */
	if (s == NULL)
		return false;
	c.p = s;
	c.end = s + len;
	return read_field(&c, 4, 1, 9999, &out->year) && expect_char(&c, '-', '-') &&
		read_field(&c, 2, 1, 12, &out->month) && expect_char(&c, '-', '-') &&
		read_field(&c, 2, 1, rfc3339_days_in_month(out->year, out->month), &out->day) &&
		expect_char(&c, 'T', 't') &&
		read_field(&c, 2, 0, 23, &out->hour) && expect_char(&c, ':', ':') &&
		read_field(&c, 2, 0, 59, &out->minute) && expect_char(&c, ':', ':') &&
		read_field(&c, 2, 0, 60, &out->second) &&
		read_fraction(&c, &out->microsecond) &&
		read_offset(&c, &out->offset_seconds) &&
		c.p == c.end;
}
