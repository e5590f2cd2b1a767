/*
 * log.c
 *		Levelled logging: a timestamped line per event on stderr.
 *
 * Each line is formatted into a local buffer and written with one write(2),
 * so lines from concurrent request threads never interleave and no lock is
 * needed on the hot path.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* Read by every thread, written once at start-up before threads exist. */
static log_level current_level = LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

/* Lets config.c validate FYNN_LOG_LEVEL with the same names we print. */
bool
log_parse_level(const char *name, log_level *out)
{
	for (int i = LOG_ERROR; i <= LOG_DEBUG; i++)
	{
		if (strcasecmp(name, level_names[i]) == 0)
		{
			*out = (log_level) i;
			return true;
		}
	}
	return false;
}

/* Set once from the configuration, before the server starts. */
void
log_set_level(log_level level)
{
	current_level = level;
}

/* Lets callers skip building expensive messages that would be dropped. */
bool
log_enabled(log_level level)
{
	return level <= current_level;
}

/* One atomic write per line keeps concurrent threads' lines whole. */
void
log_msg(log_level level, const char *fmt, ...)
{
	char		line[1024];
	struct timespec now;
	struct tm	tm;
	size_t		len;
	int			n;
	va_list		ap;

	if (!log_enabled(level))
		return;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	len = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line + len, sizeof(line) - len, ".%03ldZ %-5s ",
				 now.tv_nsec / 1000000L, level_names[level]);
	if (n > 0)
		len += (size_t) n;

	va_start(ap, fmt);
	n = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
	va_end(ap);
	if (n > 0)
		len += (size_t) n;
	/* Truncated lines still end with a newline. */
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	/* Strip a trailing newline the caller may have passed (libpq, MHD messages). */
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	/* One event, one line: multi-line libpq messages would break log parsers. */
	for (size_t i = 0; i < len; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	line[len++] = '\n';

	if (write(STDERR_FILENO, line, len) < 0)
	{
		/* Nowhere left to report a failing stderr. */
	}
}
