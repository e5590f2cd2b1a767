/*
 * unit.h
 *		The few helpers every unit test in test/unit/ shares: a TAP-like
 *		"ok - name" / "not ok - name" line per expectation, diagnostics as
 *		"# ..." lines, and exact-size heap copies so AddressSanitizer sees
 *		any read past the length a function was given.
 *
 * Header-only (static functions), so each test stays one file and one
 * binary; test/unit/run-unit.sh adds up the lines of every binary.
 */
#ifndef UNIT_H
#define UNIT_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int	unit_passed = 0;
static int	unit_failed = 0;

/* Records one expectation under its name. */
static inline void
check(const char *name, int ok)
{
	if (ok)
	{
		unit_passed++;
		printf("ok - %s\n", name);
	}
	else
	{
		unit_failed++;
		printf("not ok - %s\n", name);
	}
	fflush(stdout);				/* a sanitizer abort must not eat the lines so far */
}

/* check() with a printf-style name, for table-driven cases. */
static inline void
checkf(int ok, const char *fmt, ...)
{
	char		name[512];
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	check(name, ok);
}

/*
 * A diagnostic for one failing case of a loop whose verdict is a single
 * check(); only the first few per loop are printed, *count counts them all.
 */
static inline void
diag(int *count, const char *fmt, ...)
{
	va_list		ap;

	if ((*count)++ >= 5)
		return;
	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputs("\n", stdout);
}

/*
 * A heap copy of exactly len bytes (no terminator): a function that reads
 * s[len] trips AddressSanitizer instead of finding a helpful NUL.
 */
static inline char *
exact_copy(const char *s, size_t len)
{
	char	   *p = malloc(len);	/* malloc(0) too: ASan flags any read */

	if (p == NULL && len > 0)
	{
		printf("Bail out! out of memory\n");
		exit(2);
	}
	if (len > 0)
		memcpy(p, s, len);
	return p;
}

/* Prints the summary line of one binary and gives its exit status. */
static inline int
unit_done(const char *suite)
{
	printf("# %s: %d passed, %d failed\n", suite, unit_passed, unit_failed);
	return unit_failed == 0 ? 0 : 1;
}

/*
 * A printable rendering for test names; past 48 bytes, the first 24 and
 * the last 16 around the length.  At most 24*4 + 40 + 16*4 bytes.
 */
static inline const char *
show(const char *s, size_t len)
{
	static char buf[4][256];
	static int	which = 0;
	char	   *out = buf[which++ % 4];
	size_t		o = 0;

	for (size_t i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (len > 48 && i == 24)
		{
			o += (size_t) snprintf(out + o, sizeof(buf[0]) - o, "...(%zu bytes)...", len);
			i = len - 16;
			c = (unsigned char) s[i];
		}
		if (c >= 0x20 && c < 0x7F)
			out[o++] = (char) c;
		else
			o += (size_t) snprintf(out + o, sizeof(buf[0]) - o, "\\x%02X", c);
	}
	out[o] = '\0';
	return out;
}

#endif							/* UNIT_H */
