/*
 * clock.h
 *		The monotonic clock, for deadlines and durations: NTP cannot move it.
 */
#ifndef GW_CLOCK_H
#define GW_CLOCK_H

#include <time.h>

/* Microseconds since an arbitrary fixed point. */
static inline long long
monotonic_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Milliseconds since the same point. */
static inline long long
monotonic_ms(void)
{
	return monotonic_us() / 1000;
}

#endif							/* GW_CLOCK_H */
