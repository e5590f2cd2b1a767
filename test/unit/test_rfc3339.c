/*
 * test_rfc3339.c
 *		The strict RFC 3339 parser of common/rfc3339.c at every field's
 *		edges.  Every input is parsed from an exact-size heap copy, so a read
 *		past len is an AddressSanitizer failure, not a lucky NUL.
 *
 * Behaviour pinned here that the header leaves implicit:
 *	- second 60 is accepted at any hour and minute (the parser cannot know
 *	  the leap-second table; PostgreSQL rolls it into the next minute);
 *	- the fraction is rounded half up at the 7th digit and not carried, so
 *	  .9999995 gives microsecond 1000000 with the second unchanged;
 *	- an offset is +HH:MM or -HH:MM only, HH 00..23 and MM 00..59; -00:00
 *	  is accepted as 0;
 *	- the date-time separator is T or t only (no space, which RFC 3339
 *	  merely permits).
 */
#include "rfc3339.h"
#include "unit.h"

/* Parses an exact-size heap copy of s[0..len). */
static int
parse_len(const char *s, size_t len, rfc3339_time *t)
{
	char	   *copy = exact_copy(s, len);
	int			ok = rfc3339_parse(copy, len, t);

	free(copy);
	return ok;
}

static int
parse(const char *s, rfc3339_time *t)
{
	return parse_len(s, strlen(s), t);
}

static int
accepts(const char *s)
{
	rfc3339_time t;

	return parse(s, &t);
}

static void
expect_accept(const char *s, const char *why)
{
	checkf(accepts(s), "accept %s (%s)", s, why);
}

static void
expect_reject(const char *s, const char *why)
{
	checkf(!accepts(s), "reject %s (%s)", show(s, strlen(s)), why);
}

/* A date at noon UTC. */
static int
date_ok(int y, int m, int d)
{
	char		s[64];

	snprintf(s, sizeof(s), "%04d-%02d-%02dT12:00:00Z", y, m, d);
	return accepts(s);
}

/* A time on an ordinary day. */
static void
time_case(int h, int mi, int sec, int expected)
{
	char		s[64];

	snprintf(s, sizeof(s), "2021-06-15T%02d:%02d:%02dZ", h, mi, sec);
	if (expected)
		expect_accept(s, "time in range");
	else
		expect_reject(s, "time out of range");
}

static void
test_year_month(void)
{
	expect_reject("0000-01-01T00:00:00Z", "year 0000");
	expect_accept("0001-01-01T00:00:00Z", "year 0001");
	expect_accept("9999-12-31T23:59:59Z", "year 9999");
	expect_reject("10000-01-01T00:00:00Z", "five-digit year");
	expect_reject("999-01-01T00:00:00Z", "three-digit year");
	expect_reject("21-01-01T00:00:00Z", "two-digit year");
	expect_reject("-2021-01-01T00:00:00Z", "signed year");
	expect_reject("+2021-01-01T00:00:00Z", "signed year");
	expect_reject("2021-00-01T00:00:00Z", "month 00");
	expect_accept("2021-01-01T00:00:00Z", "month 01");
	expect_accept("2021-12-01T00:00:00Z", "month 12");
	expect_reject("2021-13-01T00:00:00Z", "month 13");
	expect_reject("2021-99-01T00:00:00Z", "month 99");
	expect_reject("2021-1-01T00:00:00Z", "one-digit month");
	expect_reject("2021-001T00:00:00Z", "ordinal date");
	expect_reject("2021-W01-1T00:00:00Z", "week date");
}

/*
 * Every month of leap and common years, centuries included, at 00, 01, its
 * last day and the day after.  Leap years are listed by hand, not computed.
 */
static void
test_days(void)
{
	static const struct
	{
		int			year;
		int			leap;
	}			years[] = {
		{1, 0}, {4, 1}, {100, 0}, {400, 1}, {1900, 0}, {2000, 1}, {2023, 0},
		{2024, 1}, {2100, 0}, {2400, 1}, {9996, 1}, {9999, 0},
	};
	static const int common_days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	for (size_t i = 0; i < sizeof(years) / sizeof(years[0]); i++)
	{
		for (int m = 1; m <= 12; m++)
		{
			int			y = years[i].year;
			int			last = common_days[m - 1] + (m == 2 && years[i].leap);

			checkf(!date_ok(y, m, 0) && date_ok(y, m, 1) && date_ok(y, m, last) &&
				   !date_ok(y, m, last + 1) && !date_ok(y, m, 32) &&
				   rfc3339_days_in_month(y, m) == last,
				   "%04d-%02d: day 00 rejected, 01 and %02d accepted, %02d rejected",
				   y, m, last, last + 1);
		}
	}
	check("days_in_month of month 0 is 0", rfc3339_days_in_month(2024, 0) == 0);
	check("days_in_month of month 13 is 0", rfc3339_days_in_month(2024, 13) == 0);
	check("days_in_month of month -1 is 0", rfc3339_days_in_month(2024, -1) == 0);
	expect_reject("2021-02-31T00:00:00Z", "no February 31st");
	expect_reject("2021-01-1T00:00:00Z", "one-digit day");
}

static void
test_time(void)
{
	time_case(0, 0, 0, 1);
	time_case(23, 59, 59, 1);
	time_case(24, 0, 0, 0);
	time_case(99, 0, 0, 0);
	time_case(12, 60, 0, 0);
	time_case(12, 99, 0, 0);
	time_case(23, 59, 60, 1);
	time_case(12, 34, 60, 1);	/* any minute may carry a leap second here */
	time_case(12, 0, 61, 0);
	time_case(12, 0, 99, 0);
	expect_reject("2021-06-15T1:00:00Z", "one-digit hour");
	expect_reject("2021-06-15T12:00Z", "no seconds");
	expect_reject("2021-06-15T120000Z", "basic-format time");
	expect_reject("20210615T12:00:00Z", "basic-format date");
}

static void
test_separators_and_offsets(void)
{
	expect_accept("2021-06-15T12:00:00Z", "T and Z");
	expect_accept("2021-06-15t12:00:00z", "t and z");
	expect_accept("2021-06-15t12:00:00Z", "t and Z");
	expect_accept("2021-06-15T12:00:00z", "T and z");
	expect_reject("2021-06-15 12:00:00Z", "space separator");
	expect_reject("2021-06-15_12:00:00Z", "underscore separator");
	expect_reject("2021/06/15T12:00:00Z", "slashes");
	expect_reject("2021-06-15T12.00.00Z", "dots in the time");
	expect_reject("2021-06-15T12:00:00", "no offset");
	expect_reject("2021-06-15", "date only");
	expect_reject("12:00:00Z", "time only");
	expect_reject("2021-06-15T12:00:00UTC", "UTC");
	expect_reject("2021-06-15T12:00:00GMT", "GMT");
	expect_accept("2021-06-15T12:00:00+23:59", "offset +23:59");
	expect_accept("2021-06-15T12:00:00-23:59", "offset -23:59");
	expect_reject("2021-06-15T12:00:00+24:00", "offset hour 24");
	expect_reject("2021-06-15T12:00:00-24:00", "offset hour 24");
	expect_accept("2021-06-15T12:00:00+00:59", "offset minute 59");
	expect_reject("2021-06-15T12:00:00+00:60", "offset minute 60");
	expect_reject("2021-06-15T12:00:00-00:60", "offset minute 60");
	expect_reject("2021-06-15T12:00:00+01:99", "offset minute 99");
	expect_accept("2021-06-15T12:00:00-00:00", "offset -00:00");
	expect_reject("2021-06-15T12:00:00+0100", "offset +HHMM");
	expect_reject("2021-06-15T12:00:00+01", "offset +HH");
	expect_reject("2021-06-15T12:00:00+1:00", "one-digit offset hour");
	expect_reject("2021-06-15T12:00:00+01:0", "one-digit offset minute");
	expect_reject("2021-06-15T12:00:00+001:00", "three-digit offset hour");
	expect_reject("2021-06-15T12:00:00+01:00:00", "offset seconds");
	expect_reject("2021-06-15T12:00:00+01;00", "offset with ;");
	expect_reject("2021-06-15T12:00:00 +01:00", "space before the offset");
	expect_reject("2021-06-15T12:00:00\xE2\x88\x92" "01:00", "Unicode minus");
	expect_reject("2021-06-15T12:00:00Z+01:00", "Z and an offset");
	expect_reject("2021-06-15T12:00:00ZZ", "two Zs");
	expect_reject("2021-06-15T12:00:00+", "sign alone");
}

static void
fraction_case(const char *fraction, int microsecond)
{
	char		s[80];
	rfc3339_time t;
	int			ok;

	snprintf(s, sizeof(s), "2021-06-15T12:00:59%sZ", fraction);
	ok = parse(s, &t);
	checkf(ok && t.microsecond == microsecond && t.second == 59,
		   "%s gives %d us, second 59", s, microsecond);
}

static void
test_fraction(void)
{
	fraction_case("", 0);
	fraction_case(".0", 0);
	fraction_case(".1", 100000);
	fraction_case(".12", 120000);
	fraction_case(".123", 123000);
	fraction_case(".1234", 123400);
	fraction_case(".12345", 123450);
	fraction_case(".123456", 123456);
	fraction_case(".1234564", 123456);
	fraction_case(".1234565", 123457);
	fraction_case(".12345649", 123456);
	fraction_case(".123456499999999", 123456);
	fraction_case(".12345650", 123457);
	fraction_case(".123456789", 123457);
	fraction_case(".000000", 0);
	fraction_case(".0000004", 0);
	fraction_case(".0000005", 1);
	fraction_case(".0000009", 1);
	fraction_case(".9999994", 999999);
	fraction_case(".9999995", 1000000);
	fraction_case(".999999999999999999999999999999", 1000000);
	fraction_case(".000000000000000000000000000001", 0);
	expect_reject("2021-06-15T12:00:00.Z", "a point without digits");
	expect_reject("2021-06-15T12:00:00.", "a point at the end");
	expect_reject("2021-06-15T12:00:00..5Z", "two points");
	expect_reject("2021-06-15T12:00:00.5.5Z", "two fractions");
	expect_reject("2021-06-15T12:00:00,5Z", "comma fraction");
	expect_reject("2021-06-15T12:00.5:00Z", "fraction of the minute");
	expect_reject("2021-06-15T12:00:00.5 Z", "space after the fraction");
	expect_reject("2021-06-15T12:00:00.-5Z", "signed fraction");
}

static void
test_garbage(void)
{
	expect_reject("", "empty");
	expect_reject(" 2021-06-15T12:00:00Z", "leading space");
	expect_reject("2021-06-15T12:00:00Z ", "trailing space");
	expect_reject("2021-06-15T12:00:00Z\n", "trailing newline");
	expect_reject("\t2021-06-15T12:00:00Z", "leading tab");
	expect_reject("x2021-06-15T12:00:00Z", "leading letter");
	expect_reject("2021-06-15T12:00:00Zx", "trailing letter");
	expect_reject("2021-06-15T12:00:00+01:00x", "trailing letter after the offset");
	expect_reject("now", "now");
	expect_reject("infinity", "infinity");
	expect_reject("\xEF\xBC\x92" "021-06-15T12:00:00Z", "fullwidth digit");
	{
		rfc3339_time t;
		const char	s[] = "2021-06-15T12:00:00Z\0";

		check("reject a NUL after Z that len covers", !parse_len(s, sizeof(s) - 1, &t));
		check("the same string without the NUL is accepted", parse_len(s, sizeof(s) - 2, &t));
	}
}

/*
 * Valid strings whose every prefix, every NUL substitution, and every digit
 * replaced by the bytes just outside '0'..'9' must be rejected.
 */
static const char *const valid[] = {
	"2021-06-15T12:34:56Z",
	"2024-02-29t23:59:60.123456789z",
	"0001-01-01T00:00:00.5+00:00",
	"9999-12-31T23:59:59.9999995-23:59",
	"2000-02-29T00:00:00+05:30",
};

static void
test_truncations_and_mutations(void)
{
	for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++)
	{
		const char *s = valid[i];
		size_t		len = strlen(s);
		int			bad = 0;
		rfc3339_time t;
		char		buf[64];

		checkf(parse_len(s, len, &t), "accept %s", s);

		for (size_t n = 0; n < len; n++)
			if (parse_len(s, n, &t))
				diag(&bad, "prefix of %zu bytes accepted", n);
		checkf(bad == 0, "all %zu proper prefixes of %s are rejected", len, s);

		bad = 0;
		for (size_t pos = 0; pos < len; pos++)
		{
			memcpy(buf, s, len);
			buf[pos] = '\0';
			if (parse_len(buf, len, &t))
				diag(&bad, "NUL at %zu accepted", pos);
		}
		checkf(bad == 0, "a NUL at any of the %zu positions of %s is rejected", len, s);

		bad = 0;
		for (size_t pos = 0; pos < len; pos++)
		{
			if (s[pos] < '0' || s[pos] > '9')
				continue;
			memcpy(buf, s, len);
			buf[pos] = '/';
			if (parse_len(buf, len, &t))
				diag(&bad, "'/' at %zu accepted", pos);
			buf[pos] = ':';
			if (parse_len(buf, len, &t))
				diag(&bad, "':' at %zu accepted", pos);
		}
		checkf(bad == 0, "'/' or ':' in place of any digit of %s is rejected", s);
	}
}

/* Every field of a few parses, exactly. */
static void
test_fields(void)
{
	static const struct
	{
		const char *s;
		rfc3339_time t;
	}			cases[] = {
		{"2021-06-15T12:34:56Z", {2021, 6, 15, 12, 34, 56, 0, 0}},
		{"2024-02-29t23:59:60.123456789z", {2024, 2, 29, 23, 59, 60, 123457, 0}},
		{"0001-01-01T00:00:00.5+00:00", {1, 1, 1, 0, 0, 0, 500000, 0}},
		{"9999-12-31T23:59:59.9999995-23:59", {9999, 12, 31, 23, 59, 59, 1000000, -86340}},
		{"2000-02-29T00:00:00+05:30", {2000, 2, 29, 0, 0, 0, 0, 19800}},
		{"1970-01-01T00:00:00-08:00", {1970, 1, 1, 0, 0, 0, 0, -28800}},
		{"2016-12-31T23:59:60.000001+23:59", {2016, 12, 31, 23, 59, 60, 1, 86340}},
		{"1900-03-01T01:02:03.04-00:00", {1900, 3, 1, 1, 2, 3, 40000, 0}},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		rfc3339_time t;
		const rfc3339_time *e = &cases[i].t;

		memset(&t, 0x55, sizeof(t));
		checkf(parse(cases[i].s, &t) &&
			   t.year == e->year && t.month == e->month && t.day == e->day &&
			   t.hour == e->hour && t.minute == e->minute && t.second == e->second &&
			   t.microsecond == e->microsecond && t.offset_seconds == e->offset_seconds,
			   "%s: %04d-%02d-%02d %02d:%02d:%02d %dus offset %ds", cases[i].s,
			   e->year, e->month, e->day, e->hour, e->minute, e->second,
			   e->microsecond, e->offset_seconds);
	}
}

static void
test_null(void)
{
	rfc3339_time t;

	check("NULL with length 0 is rejected", !rfc3339_parse(NULL, 0, &t));
	check("NULL with length 20 is rejected", !rfc3339_parse(NULL, 20, &t));
}

int
main(void)
{
	test_year_month();
	test_days();
	test_time();
	test_separators_and_offsets();
	test_fraction();
	test_garbage();
	test_truncations_and_mutations();
	test_fields();
	test_null();
	return unit_done("test_rfc3339");
}
