/*
 * rfc3339.h
 *		Strict RFC 3339 date-times, shared by the extension and the fuzzer.
 *
 * Only YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM) is accepted ("T" and
 * "Z" in either case); no "now", no missing offset, no 2021-02-31.  Plain
 * C99 without allocation, so the same rules can be compiled anywhere.
 */
#ifndef RFC3339_H
#define RFC3339_H

#include <stdbool.h>
#include <stddef.h>

typedef struct rfc3339_time
{
	int			year;			/* 1..9999 */
	int			month;			/* 1..12 */
	int			day;			/* 1..days in that month */
	int			hour;			/* 0..23 */
	int			minute;			/* 0..59 */
	int			second;			/* 0..60: a leap second is allowed */
	int			microsecond;	/* 0..1000000: rounded half up at the 7th digit */
	int			offset_seconds; /* east of UTC */
} rfc3339_time;

/* True when s[0..len) is exactly one RFC 3339 date-time; fills out. */
extern bool rfc3339_parse(const char *s, size_t len, rfc3339_time *out);

/* Days in a month of the proleptic Gregorian calendar. */
extern int	rfc3339_days_in_month(int year, int month);

#endif							/* RFC3339_H */
