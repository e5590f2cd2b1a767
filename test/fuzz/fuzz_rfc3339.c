/*
 * fuzz_rfc3339.c
 *		libFuzzer harness for common/rfc3339.c (see run-fuzz.sh).
 *
 * For every input:
 *	- rfc3339_parse reads only data[0..size) (libFuzzer's buffer is exactly
 *	  that big, so ASan catches any over-read) and never crashes;
 *	- it accepts exactly when an independent oracle below does (fixed
 *	  positions checked one by one, month lengths from a day count rather
 *	  than a leap-year rule, rounding as (first 7 digits + 5) / 10), with
 *	  the same fields;
 *	- accepted fields are in range, and formatting them back (two ways)
 *	  and parsing again gives the same fields.
 */
#include "rfc3339.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAIL(...) \
	do { \
		fprintf(stderr, "fuzz_rfc3339: " __VA_ARGS__); \
		fputc('\n', stderr); \
		abort(); \
	} while (0)

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static long
days_from_civil(long y, unsigned m, unsigned d)
{
	long		era;
	unsigned	yoe;
	unsigned	doy;
	unsigned	doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned) (y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (long) doe - 719468;
}

/* Month length as the distance to the first of the next month. */
static int
oracle_days_in_month(int y, int m)
{
	if (m == 12)
		return (int) (days_from_civil(y + 1, 1, 1) - days_from_civil(y, 12, 1));
	return (int) (days_from_civil(y, (unsigned) m + 1, 1) - days_from_civil(y, (unsigned) m, 1));
}

static int
dig(uint8_t c)
{
	return c >= '0' && c <= '9';
}

/* The number in s[at..at+n), all digits (checked by the caller). */
static int
num(const uint8_t *s, size_t at, size_t n)
{
	int			v = 0;

	for (size_t i = 0; i < n; i++)
		v = v * 10 + (s[at + i] - '0');
	return v;
}

/* YYYY-MM-DDTHH:MM:SS[.f+](Z|z|+HH:MM|-HH:MM), by position. */
static int
oracle_parse(const uint8_t *s, size_t len, rfc3339_time *t)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd";
	size_t		i;
	size_t		rest;

	if (len < 20)
		return 0;
	for (i = 0; i < 19; i++)
	{
		if (shape[i] == 'd' && !dig(s[i]))
			return 0;
		if (shape[i] == 'T' && s[i] != 'T' && s[i] != 't')
			return 0;
		if (shape[i] != 'd' && shape[i] != 'T' && s[i] != (uint8_t) shape[i])
			return 0;
	}
	t->year = num(s, 0, 4);
	t->month = num(s, 5, 2);
	t->day = num(s, 8, 2);
	t->hour = num(s, 11, 2);
	t->minute = num(s, 14, 2);
	t->second = num(s, 17, 2);
	t->microsecond = 0;
	if (s[19] == '.')
	{
		int			first7 = 0;
		size_t		j = 20;

		while (j < len && dig(s[j]))
			j++;
		if (j == 20)
			return 0;
		for (size_t k = 0; k < 7; k++)
			first7 = first7 * 10 + (20 + k < j ? s[20 + k] - '0' : 0);
		t->microsecond = (first7 + 5) / 10;
		i = j;
	}
	rest = len - i;
	if (rest == 1 && (s[i] == 'Z' || s[i] == 'z'))
		t->offset_seconds = 0;
	else if (rest == 6 && (s[i] == '+' || s[i] == '-') && dig(s[i + 1]) && dig(s[i + 2]) &&
			 s[i + 3] == ':' && dig(s[i + 4]) && dig(s[i + 5]))
	{
		int			hh = num(s, i + 1, 2);
		int			mm = num(s, i + 4, 2);

		if (hh > 23 || mm > 59)
			return 0;
		t->offset_seconds = (s[i] == '-' ? -1 : 1) * (hh * 3600 + mm * 60);
	}
	else
		return 0;
	return t->year >= 1 && t->month >= 1 && t->month <= 12 && t->day >= 1 &&
		t->day <= oracle_days_in_month(t->year, t->month) &&
		t->hour <= 23 && t->minute <= 59 && t->second <= 60;
}

static int
same(const rfc3339_time *a, const rfc3339_time *b)
{
	return a->year == b->year && a->month == b->month && a->day == b->day &&
		a->hour == b->hour && a->minute == b->minute && a->second == b->second &&
		a->microsecond == b->microsecond && a->offset_seconds == b->offset_seconds;
}

static void
show(const char *what, const rfc3339_time *t)
{
	fprintf(stderr, "%s: %d-%d-%d %d:%d:%d us=%d off=%d\n", what, t->year, t->month,
			t->day, t->hour, t->minute, t->second, t->microsecond, t->offset_seconds);
}

/*
 * Formats t back; variant 0 is the plain spelling (6-digit fraction, Z),
 * variant 1 lower-case t and z or +00:00, and a 9-digit fraction.  A
 * microsecond of 1000000 (rounded up from .9999995) is written so.
 */
static size_t
format(const rfc3339_time *t, int variant, char *buf, size_t size)
{
	int			n;
	int			off = t->offset_seconds < 0 ? -t->offset_seconds : t->offset_seconds;

	n = snprintf(buf, size, "%04d-%02d-%02d%c%02d:%02d:%02d", t->year, t->month, t->day,
				 variant ? 't' : 'T', t->hour, t->minute, t->second);
	if (t->microsecond == 1000000)
		n += snprintf(buf + n, size - (size_t) n, ".9999995");
	else if (t->microsecond != 0 || variant)
		n += snprintf(buf + n, size - (size_t) n, variant ? ".%06d000" : ".%06d", t->microsecond);
	if (t->offset_seconds == 0)
		n += snprintf(buf + n, size - (size_t) n, variant ? "+00:00" : "Z");
	else
		n += snprintf(buf + n, size - (size_t) n, "%c%02d:%02d",
					  t->offset_seconds < 0 ? '-' : '+', off / 3600, off % 3600 / 60);
	return (size_t) n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	rfc3339_time got;
	rfc3339_time want;
	int			ok = rfc3339_parse((const char *) data, size, &got);
	int			oracle_ok = oracle_parse(data, size, &want);

	if (ok != oracle_ok)
		FAIL("parser says %d, oracle says %d for %zu bytes", ok, oracle_ok, size);
	if (!ok)
		return 0;
	if (!same(&got, &want))
	{
		show("parser", &got);
		show("oracle", &want);
		FAIL("fields differ");
	}
	if (got.year < 1 || got.year > 9999 || got.month < 1 || got.month > 12 ||
		got.day < 1 || got.day > rfc3339_days_in_month(got.year, got.month) ||
		got.hour < 0 || got.hour > 23 || got.minute < 0 || got.minute > 59 ||
		got.second < 0 || got.second > 60 ||
		got.microsecond < 0 || got.microsecond > 1000000 ||
		got.offset_seconds < -86340 || got.offset_seconds > 86340 || got.offset_seconds % 60 != 0)
	{
		show("parser", &got);
		FAIL("a field is out of range");
	}
	for (int variant = 0; variant < 2; variant++)
	{
		char		buf[64];
		size_t		n = format(&got, variant, buf, sizeof(buf));
		char	   *exact = malloc(n);
		rfc3339_time again;
		int			again_ok;

		if (exact == NULL)
			abort();
		memcpy(exact, buf, n);
		again_ok = rfc3339_parse(exact, n, &again);
		free(exact);
		if (!again_ok || !same(&got, &again))
		{
			show("first", &got);
			if (again_ok)
				show("again", &again);
			FAIL("reformatted as %.*s: accepted %d, fields differ", (int) n, buf, again_ok);
		}
	}
	return 0;
}
