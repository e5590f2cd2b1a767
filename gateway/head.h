/*
 * head.h
 *		Decisions on a request head alone, before a byte of the body is
 *		read: framing (RFC 9112 section 6), header names, Content-Type.
 *
 * Pure functions over the header fields as libmicrohttpd parsed them, so
 * the fuzzer can drive them without a socket.
 */
#ifndef FYNN_GATEWAY_HEAD_H
#define FYNN_GATEWAY_HEAD_H

#include <stdbool.h>
#include <stddef.h>

typedef struct head_field
{
	const char *name;
	size_t		name_len;
	const char *value;
	size_t		value_len;
} head_field;

typedef enum head_verdict
{
	HEAD_OK,
	HEAD_BAD_REQUEST,			/* 400, and the connection is closed */
	HEAD_NOT_IMPLEMENTED		/* 501 (a transfer coding we do not speak), closed too */
} head_verdict;

typedef struct head_framing
{
	bool		has_length;		/* Content-Length given */
	unsigned long long length;
	bool		chunked;		/* Transfer-Encoding: chunked */
} head_framing;

/*
 * Refuses every framing two parsers could read differently: a header name
 * that is not an RFC 9110 token (so "Content-Length :" never passes as
 * another header), a NUL, CR or LF in a value, more than one
 * Content-Length, a Content-Length that is not plain digits, both
 * Content-Length and Transfer-Encoding, any Transfer-Encoding but a
 * single final "chunked", and more than one Authorization (which
 * credential counts would be a parser's choice).  *why says which, for the 400's detail.
 */
extern head_verdict head_check_framing(const head_field *fields, size_t nfields,
									   head_framing *framing, const char **why);

/*
 * Only application/json with, at most, a UTF-8 charset: the body goes to
 * the database as UTF-8 text.  NULL when acceptable, else the 415 detail,
 * written into buf from printable ASCII only (a header may hold any byte,
 * a JSON string may not).
 */
extern const char *head_content_type_problem(const char *content_type, size_t len,
											 char *buf, size_t buflen);

#endif							/* FYNN_GATEWAY_HEAD_H */
