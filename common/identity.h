/*
 * identity.h
 *		The canonical form of a user or tenant identity claim, shared by the
 *		extension (which stores it) and the gateway (which forwards it).
 *
 * An identity claim is either
 *	- a JSON string of 1 to IDENTITY_MAX_BYTES bytes with no control
 *	  character and no leading or trailing space, kept byte for byte; or
 *	- a JSON number whose value is an integer, written in plain decimal:
 *	  1e2, 100.0 and 100 all name "100", the same as the string "100".
 * Anything else (1.5, "", " alice", a 3,000-byte string) names nobody.
 *
 * Plain C99 without allocation: the fuzzer compiles it too.
 */
#ifndef IDENTITY_H
#define IDENTITY_H

#include <stdbool.h>
#include <stddef.h>

#define IDENTITY_MAX_BYTES	255

typedef enum identity_status
{
	IDENTITY_OK = 0,
	IDENTITY_EMPTY,				/* "" */
	IDENTITY_TOO_LONG,			/* more than IDENTITY_MAX_BYTES bytes */
	IDENTITY_CONTROL_CHARACTER, /* a byte below 0x20, or 0x7F */
	IDENTITY_OUTER_SPACE,		/* leading or trailing space, or only spaces */
	IDENTITY_NOT_INTEGER,		/* a number with a fractional value */
	IDENTITY_NOT_A_NUMBER		/* not the text of a JSON number */
} identity_status;

/* Checks a string claim; it is its own canonical form when IDENTITY_OK. */
extern identity_status identity_check_string(const char *s, size_t len);

/*
 * Canonicalises the text of a JSON number (as written in JSON, or as
 * PostgreSQL's numeric_out writes it) into out, NUL-terminated; out needs
 * IDENTITY_MAX_BYTES + 1 bytes.  *outlen gets the length.
 */
extern identity_status identity_canonical_number(const char *num, size_t len,
												 char *out, size_t *outlen);

/* A sentence for error details, e.g. "is longer than 255 bytes". */
extern const char *identity_status_text(identity_status status);

#endif							/* IDENTITY_H */
