/*
 * body.h
 *		Request bodies: is it JSON, and the arguments a route builds from it.
 *
 * jansson reads a body once, bounded by its parser's depth limit (2048);
 * nothing here re-serialises what a client sent: arguments are assembled
 * from the body's own bytes.
 */
#ifndef FYNN_GATEWAY_BODY_H
#define FYNN_GATEWAY_BODY_H

#include <stdbool.h>
#include <stddef.h>

typedef enum body_syntax
{
	BODY_JSON,					/* valid JSON */
	BODY_NOT_JSON,				/* 400 Syntax error */
	BODY_UNDECIDED				/* valid as far as jansson can tell, but it holds a number
								 * beyond a double or an int64: PostgreSQL's json judges */
} body_syntax;

extern body_syntax body_check_json(const char *body, size_t len);

/* {"id":"<id>"} (malloc'd); the id is JSON-escaped. */
extern char *body_id_object(const char *id);

/*
 * {"request":<body or null>,"id":"<id>"} (malloc'd).  The id comes last: a
 * body that repeats "id" cannot override it, since jsonb keeps the last of
 * duplicate keys.
 */
extern char *body_rotate_object(const char *id, const char *body, size_t len);

/*
 * A leak report {"token": "api_..."} for the database, rebuilt so that no
 * string of the client's body reaches it (bind parameters reach the server
 * log under log_statement = all), with the answer the body would get: a
 * well-formed token becomes {"token_sha256": "<hex>"}, a malformed one
 * {"token": ""}; a token_sha256 that is not 64 hex digits, or a member of
 * the wrong type, keeps only its JSON type; a body that is not an object
 * becomes [], one without a token {}, one with a \u0000 escape a body
 * jsonb refuses as well.  A body jansson cannot read becomes {}.  malloc'd,
 * NULL when out of memory.
 */
extern char *body_leak_report(const char *body, size_t len);

#endif							/* FYNN_GATEWAY_BODY_H */
