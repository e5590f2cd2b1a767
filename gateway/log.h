/*
 * log.h
 *		Levelled logging to stderr, one line per call.
 *
 * Callers never pass credentials or request bodies: the rule is enforced by
 * what the call sites log (method, path, status, duration, SQLSTATE), and the
 * HTTP test greps every log for every secret it used.
 */
#ifndef FYNN_GATEWAY_LOG_H
#define FYNN_GATEWAY_LOG_H

#include <stdbool.h>

typedef enum log_level
{
	LOG_ERROR = 0,
	LOG_WARN,
	LOG_INFO,
	LOG_DEBUG
} log_level;

/* Parses "error|warn|info|debug"; false for anything else. */
extern bool log_parse_level(const char *name, log_level *out);
extern void log_set_level(log_level level);
extern bool log_enabled(log_level level);
extern void log_msg(log_level level, const char *fmt, ...)
			__attribute__((format(printf, 2, 3)));

#define log_error(...)	log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)	log_msg(LOG_DEBUG, __VA_ARGS__)

#endif							/* FYNN_GATEWAY_LOG_H */
