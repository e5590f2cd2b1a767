/*
 * cache.h
 *		The verify cache: what the database said about an API token, keyed
 *		by the token's SHA-256 (never the token), bounded in entries (LRU).
 *
 * It is trusted only while the listener (listener.c) is subscribed to the
 * database's change notifications: a revocation NOTIFYs at commit and the
 * listener evicts.  While the listener is down the cache is empty and
 * disabled, so every request is verified in the database.  Every eviction,
 * flush and change of state bumps a generation: a verification that
 * started before one may not insert its (possibly stale) result.  Entries
 * expire with their token and after max_age seconds regardless.
 */
#ifndef FYNN_GATEWAY_CACHE_H
#define FYNN_GATEWAY_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#define CACHE_HASH_LEN 32
#define CACHE_TOKEN_ID_LEN 20

typedef struct cache cache;

typedef struct cache_hit
{
	char	   *claims_json;	/* malloc'd copy of the database's claims */
	char		token_id[CACHE_TOKEN_ID_LEN + 1];
	bool		expires;
	long long	expires_at_us;	/* Unix epoch, microseconds */
	char	   *jwt;			/* malloc'd: a minted JWT with most of its life left, or NULL */
	long long	jwt_exp;
	bool		record_due;		/* the last recorded use is over a minute old */
} cache_hit;

typedef struct cache_stats
{
	uint64_t	hits;
	uint64_t	misses;
	uint64_t	evictions;		/* by notification, flush, age or LRU */
	uint64_t	entries;
	bool		listening;
} cache_stats;

/* capacity 0 makes a cache that never holds anything. */
extern cache *cache_create(int capacity, int max_age_seconds);
extern void cache_destroy(cache *c);

/* The generation to pass back to cache_put; read it before asking the database. */
extern uint64_t cache_generation(cache *c);

/* A live, fresh entry copied out; false on a miss (counted). */
extern bool cache_get(cache *c, const unsigned char hash[CACHE_HASH_LEN], long long now_us,
					  long long now_ms, cache_hit *out);
/* The same, found by the token's id (a JWT that names an API token); false on a miss (counted). */
extern bool cache_get_by_id(cache *c, const char *token_id, long long now_us, long long now_ms,
							cache_hit *out);
extern void cache_hit_free(cache_hit *hit);

/* Inserts unless disabled or anything was evicted since generation was read. */
extern void cache_put(cache *c, const unsigned char hash[CACHE_HASH_LEN], const char *token_id,
					  const char *claims_json, bool expires, long long expires_at_us,
					  uint64_t generation, long long now_ms);

/* Keeps a minted JWT with its entry, for reuse while it has most of its life. */
extern void cache_keep_jwt(cache *c, const unsigned char hash[CACHE_HASH_LEN], const char *jwt,
						   long long jwt_exp);

/* Notes that the token's use was recorded in the database now. */
extern void cache_mark_recorded(cache *c, const unsigned char hash[CACHE_HASH_LEN], long long now_ms);

/* A notification: the token with this id changed (or "*": everything). */
extern void cache_evict_token(cache *c, const char *token_id);

/* The listener's state: either way the cache is emptied; only while up is it used. */
extern void cache_set_listening(cache *c, bool up);

extern void cache_get_stats(cache *c, cache_stats *out);

#endif							/* FYNN_GATEWAY_CACHE_H */
