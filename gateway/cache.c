/*
 * cache.c
 *		The verify cache (see the header): two chained hash tables over one
 *		set of entries (by token hash, by token id) and an LRU list, under
 *		one mutex held only for pointer work and small copies.
 */
#include "cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "token_clock.h"

/* A use is recorded in the database at most this often per token, as record_api_token_use does. */
#define RECORD_INTERVAL_MS 60000

typedef struct entry
{
	unsigned char hash[CACHE_HASH_LEN];
	char		token_id[CACHE_TOKEN_ID_LEN + 1];
	char	   *claims_json;
	bool		expires;
	long long	expires_at_us;
	long long	inserted_ms;
	long long	recorded_ms;
	char	   *jwt;
	long long	jwt_exp;
	struct entry *by_hash_next;
	struct entry *by_id_next;
	struct entry *lru_prev;		/* towards the most recently used */
	struct entry *lru_next;
} entry;

struct cache
{
	pthread_mutex_t lock;
	int			capacity;
	long long	max_age_ms;
	size_t		nbuckets;		/* a power of two */
	entry	  **by_hash;
	entry	  **by_id;
	entry	   *lru_head;		/* most recently used */
	entry	   *lru_tail;
	int			count;
	bool		listening;
	uint64_t	generation;
	uint64_t	hits;
	uint64_t	misses;
	uint64_t	evictions;
};

/* The first bytes of a SHA-256 are as good a hash as any. */
static size_t
hash_bucket(const cache *c, const unsigned char *hash)
{
	size_t		h;

	memcpy(&h, hash, sizeof(h));
	return h & (c->nbuckets - 1);
}

/* FNV-1a over the id. */
static size_t
id_bucket(const cache *c, const char *id)
{
	uint64_t	h = 1469598103934665603ULL;

	for (; *id; id++)
		h = (h ^ (unsigned char) *id) * 1099511628211ULL;
	return (size_t) h & (c->nbuckets - 1);
}

cache *
cache_create(int capacity, int max_age_seconds)
{
	cache	   *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->capacity = capacity;
	c->max_age_ms = (long long) max_age_seconds * 1000;
	c->nbuckets = 16;
	while (c->nbuckets < (size_t) capacity * 2)
		c->nbuckets *= 2;
	c->by_hash = calloc(c->nbuckets, sizeof(entry *));
	c->by_id = calloc(c->nbuckets, sizeof(entry *));
	if (c->by_hash == NULL || c->by_id == NULL)
	{
		free(c->by_hash);
		free(c->by_id);
		free(c);
		return NULL;
	}
	pthread_mutex_init(&c->lock, NULL);
	return c;
}

/* Frees an entry's memory; the caller unlinked it. */
static void
entry_free(entry *e)
{
	free(e->claims_json);
	free(e->jwt);
	free(e);
}

/* Unlinks an entry from both tables and the LRU list, and frees it. */
static void
remove_entry(cache *c, entry *e)
{
	entry	  **p;

	for (p = &c->by_hash[hash_bucket(c, e->hash)]; *p != e; p = &(*p)->by_hash_next)
		;
	*p = e->by_hash_next;
	for (p = &c->by_id[id_bucket(c, e->token_id)]; *p != e; p = &(*p)->by_id_next)
		;
	*p = e->by_id_next;
	if (e->lru_prev)
		e->lru_prev->lru_next = e->lru_next;
	else
		c->lru_head = e->lru_next;
	if (e->lru_next)
		e->lru_next->lru_prev = e->lru_prev;
	else
		c->lru_tail = e->lru_prev;
	c->count--;
	c->evictions++;
	entry_free(e);
}

/* Drops every entry (the caller holds the lock). */
static void
flush_locked(cache *c)
{
	while (c->lru_head)
		remove_entry(c, c->lru_head);
	c->generation++;
}

void
cache_destroy(cache *c)
{
	if (c == NULL)
		return;
	flush_locked(c);
	pthread_mutex_destroy(&c->lock);
	free(c->by_hash);
	free(c->by_id);
	free(c);
}

uint64_t
cache_generation(cache *c)
{
	uint64_t	g;

	pthread_mutex_lock(&c->lock);
	g = c->generation;
	pthread_mutex_unlock(&c->lock);
	return g;
}

/* The entry for a hash, or NULL (the caller holds the lock). */
static entry *
find(cache *c, const unsigned char *hash)
{
	entry	   *e = c->by_hash[hash_bucket(c, hash)];

	while (e && memcmp(e->hash, hash, CACHE_HASH_LEN) != 0)
		e = e->by_hash_next;
	return e;
}

/* Moves an entry to the front of the LRU list. */
static void
touch(cache *c, entry *e)
{
	if (c->lru_head == e)
		return;
	e->lru_prev->lru_next = e->lru_next;
	if (e->lru_next)
		e->lru_next->lru_prev = e->lru_prev;
	else
		c->lru_tail = e->lru_prev;
	e->lru_prev = NULL;
	e->lru_next = c->lru_head;
	c->lru_head->lru_prev = e;
	c->lru_head = e;
}

/*
 * Copies a live, fresh entry out and marks it used; drops a stale one.
 * True when copied (the caller holds the lock).
 */
static bool
copy_out_locked(cache *c, entry *e, long long now_us, long long now_ms, cache_hit *out)
{
	/* Expiry is judged at use, by the extension's own rule; age bounds what nothing foresaw. */
	if (!api_token_live_at(false, e->expires, e->expires_at_us, now_us) ||
		now_ms - e->inserted_ms > c->max_age_ms)
	{
		remove_entry(c, e);
		return false;
	}
	out->claims_json = strdup(e->claims_json);
	out->jwt = e->jwt ? strdup(e->jwt) : NULL;
	if (out->claims_json == NULL || (e->jwt != NULL && out->jwt == NULL))
		return false;
	memcpy(out->token_id, e->token_id, sizeof(out->token_id));
	out->expires = e->expires;
	out->expires_at_us = e->expires_at_us;
	out->jwt_exp = e->jwt_exp;
	out->record_due = now_ms - e->recorded_ms >= RECORD_INTERVAL_MS;
	touch(c, e);
	return true;
}

/* Counts the lookup and releases a miss's partial copy. */
static bool
finish_get(cache *c, bool found, cache_hit *out)
{
	if (found)
		c->hits++;
	else
		c->misses++;
	pthread_mutex_unlock(&c->lock);
	if (!found)
		cache_hit_free(out);
	return found;
}

bool
cache_get(cache *c, const unsigned char hash[CACHE_HASH_LEN], long long now_us, long long now_ms,
		  cache_hit *out)
{
	entry	   *e;
	bool		found = false;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&c->lock);
	if (c->listening && (e = find(c, hash)) != NULL)
		found = copy_out_locked(c, e, now_us, now_ms, out);
	return finish_get(c, found, out);
}

bool
cache_get_by_id(cache *c, const char *token_id, long long now_us, long long now_ms, cache_hit *out)
{
	entry	   *e;
	bool		found = false;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&c->lock);
	if (c->listening && strlen(token_id) == CACHE_TOKEN_ID_LEN)
	{
		for (e = c->by_id[id_bucket(c, token_id)]; e && strcmp(e->token_id, token_id) != 0; e = e->by_id_next)
			;
		if (e)
			found = copy_out_locked(c, e, now_us, now_ms, out);
	}
	return finish_get(c, found, out);
}

void
cache_hit_free(cache_hit *hit)
{
	free(hit->claims_json);
	free(hit->jwt);
	hit->claims_json = NULL;
	hit->jwt = NULL;
}

void
cache_put(cache *c, const unsigned char hash[CACHE_HASH_LEN], const char *token_id,
		  const char *claims_json, bool expires, long long expires_at_us,
		  uint64_t generation, long long now_ms)
{
	entry	   *e;

	if (c->capacity == 0 || strlen(token_id) != CACHE_TOKEN_ID_LEN)
		return;
	e = calloc(1, sizeof(*e));
	if (e == NULL || (e->claims_json = strdup(claims_json)) == NULL)
	{
		free(e);
		return;
	}
	memcpy(e->hash, hash, CACHE_HASH_LEN);
	memcpy(e->token_id, token_id, CACHE_TOKEN_ID_LEN + 1);
	e->expires = expires;
	e->expires_at_us = expires_at_us;
	e->inserted_ms = now_ms;
	e->recorded_ms = now_ms;	/* the verification that filled it recorded the use */

	pthread_mutex_lock(&c->lock);
	if (!c->listening || c->generation != generation || find(c, hash) != NULL)
	{
		pthread_mutex_unlock(&c->lock);
		entry_free(e);
		return;
	}
	if (c->count >= c->capacity)
		remove_entry(c, c->lru_tail);
	e->by_hash_next = c->by_hash[hash_bucket(c, hash)];
	c->by_hash[hash_bucket(c, hash)] = e;
	e->by_id_next = c->by_id[id_bucket(c, token_id)];
	c->by_id[id_bucket(c, token_id)] = e;
	e->lru_next = c->lru_head;
	if (c->lru_head)
		c->lru_head->lru_prev = e;
	c->lru_head = e;
	if (c->lru_tail == NULL)
		c->lru_tail = e;
	c->count++;
	pthread_mutex_unlock(&c->lock);
}

void
cache_keep_jwt(cache *c, const unsigned char hash[CACHE_HASH_LEN], const char *jwt, long long jwt_exp)
{
	char	   *copy = strdup(jwt);
	entry	   *e;

	if (copy == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	if ((e = find(c, hash)) != NULL)
	{
		free(e->jwt);
		e->jwt = copy;
		e->jwt_exp = jwt_exp;
		copy = NULL;
	}
	pthread_mutex_unlock(&c->lock);
	free(copy);
}

void
cache_mark_recorded(cache *c, const unsigned char hash[CACHE_HASH_LEN], long long now_ms)
{
	entry	   *e;

	pthread_mutex_lock(&c->lock);
	if ((e = find(c, hash)) != NULL)
		e->recorded_ms = now_ms;
	pthread_mutex_unlock(&c->lock);
}

void
cache_evict_token(cache *c, const char *token_id)
{
	pthread_mutex_lock(&c->lock);
	if (strcmp(token_id, "*") == 0)
		flush_locked(c);
	else
	{
		entry	   *e = c->by_id[id_bucket(c, token_id)];

		while (e && strcmp(e->token_id, token_id) != 0)
			e = e->by_id_next;
		if (e)
			remove_entry(c, e);
		/* Even a token not cached now may be being verified now: its result must not land. */
		c->generation++;
	}
	pthread_mutex_unlock(&c->lock);
}

void
cache_set_listening(cache *c, bool up)
{
	pthread_mutex_lock(&c->lock);
	flush_locked(c);
	c->listening = up;
	pthread_mutex_unlock(&c->lock);
}

void
cache_get_stats(cache *c, cache_stats *out)
{
	pthread_mutex_lock(&c->lock);
	out->hits = c->hits;
	out->misses = c->misses;
	out->evictions = c->evictions;
	out->entries = (uint64_t) c->count;
	out->listening = c->listening;
	pthread_mutex_unlock(&c->lock);
}
