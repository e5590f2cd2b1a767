/*
 * token_clock.h
 *		When a token is alive, judged the same way by the extension and the
 *		gateway's cache, at an instant the caller reads from the clock.
 *
 * Instants are microseconds on any one scale (PostgreSQL's, or the Unix
 * epoch's): only their order matters here.
 */
#ifndef TOKEN_CLOCK_H
#define TOKEN_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

/* Live at now: not revoked, and expiring strictly after now (at its expiry it is dead). */
static inline bool
api_token_live_at(bool revoked, bool expires, int64_t expires_at, int64_t now)
{
	return !revoked && (!expires || expires_at > now);
}

/* A new token's expiry must lie strictly ahead: one that expires now is born dead. */
static inline bool
api_token_expiry_ahead(int64_t expires_at, int64_t now)
{
	return expires_at > now;
}

#endif							/* TOKEN_CLOCK_H */
