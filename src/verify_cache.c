/*
 * verify_cache.c
 *		A backend's memory of the tokens it has verified, so that verifying
 *		the same token again answers without opening the table: the hot path
 *		of every API request, kept as close to a bare query as it can be.
 *
 * An entry is the answer read from a settled row version: committed, and
 * not being updated or deleted by anyone, in a table whose change triggers
 * fire (see store_find_by_hash).  Such a version can only stop being the
 * answer through an UPDATE or DELETE of the columns verify reads, or a
 * TRUNCATE, and each of those fires api_token_changed(), which invalidates
 * the table's relcache entry.  PostgreSQL delivers that invalidation to
 * every backend of the database when the change commits (to hot standbys
 * with the commit record), and every lookup here reads the pending
 * invalidations first, so an entry never outlives the COMMIT that ended its
 * token.  Expiry is judged by the clock at each use, and no entry is older
 * than verify_cache_max_age: the bound on a change made with
 * session_replication_role = replica, which skips the triggers.
 */
#include "fynn_tokens.h"

#include "access/xact.h"
#include "lib/ilist.h"
#include "port/atomics.h"
#include "storage/sinval.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "token_clock.h"

int			fynn_tokens_verify_cache_size = 1024;
int			fynn_tokens_verify_cache_max_age = 60;

typedef struct CachedClaims
{
	uint8		hash[FYNN_TOKENS_HASH_LEN];	/* the key: the token's SHA-256 */
	dlist_node	recency;		/* most recently used first */
	TimestampTz stored_at;
	bool		has_expires_at;
	TimestampTz expires_at;
	text	   *claims;
} CachedClaims;

static MemoryContext cache_context = NULL;
static HTAB *cache = NULL;
static dlist_head recency = DLIST_STATIC_INIT(recency);
/* The token table the entries were read from: its invalidation empties the cache. */
static Oid	cached_relid = InvalidOid;

/* Empties the cache; safe at any point, since nothing outside holds an entry. */
void
verify_cache_reset(void)
{
	if (cache_context != NULL)
		MemoryContextReset(cache_context);
	cache = NULL;
	dlist_init(&recency);
	cached_relid = InvalidOid;
}

/* Relcache callback: a change of the token table (or of everything, InvalidOid) ends every entry. */
static void
forget_verified(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == cached_relid)
		verify_cache_reset();
}

/* The key is a SHA-256 already: its first bytes are as good a hash as any. */
static uint32
hash_of_token_hash(const void *key, Size keysize)
{
	uint32		h;

	memcpy(&h, key, sizeof(h));
	return h;
}

/* The table, created on first use (and after each reset) in the cache's own memory. */
static HTAB *
cache_table(void)
{
	static bool callback_registered = false;
	HASHCTL		ctl;

	if (cache != NULL)
		return cache;
	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(forget_verified, (Datum) 0);
		callback_registered = true;
	}
	if (cache_context == NULL)
		cache_context = AllocSetContextCreate(TopMemoryContext, "fynn_tokens verify cache",
											  ALLOCSET_DEFAULT_SIZES);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = FYNN_TOKENS_HASH_LEN;
	ctl.entrysize = sizeof(CachedClaims);
	ctl.hash = hash_of_token_hash;
	ctl.hcxt = cache_context;
	cache = hash_create("fynn_tokens verify cache", 64, &ctl,
						HASH_ELEM | HASH_FUNCTION | HASH_CONTEXT);
	return cache;
}

/*
 * Whether this call may use the cache at all.  A serializable transaction
 * must read the table: its reads take the predicate locks SSI relies on.
 */
static bool
cache_enabled(void)
{
	return fynn_tokens_verify_cache_size > 0 && fynn_tokens_verify_cache_max_age > 0 &&
		!IsolationIsSerializable();
}

/* Drops one entry. */
static void
forget_entry(CachedClaims *entry)
{
	dlist_delete(&entry->recency);
	pfree(entry->claims);
	(void) hash_search(cache, entry->hash, HASH_REMOVE, NULL);
}

/*
 * The claims of a token verified before and live now, copied into the
 * caller's memory; NULL when the table must be asked.  Invalidations that
 * have arrived are read first: a revocation committed before this call
 * has emptied the cache by the time it is searched.
 */
text *
verify_cache_lookup(const uint8 hash[FYNN_TOKENS_HASH_LEN], TimestampTz now)
{
	CachedClaims *entry;

	if (!cache_enabled())
		return NULL;
	/*
	 * The queue's has-messages flag is read without a lock, trusting a
	 * recent lock acquisition for the memory barrier; this path takes none.
	 */
	pg_memory_barrier();
	AcceptInvalidationMessages();
	if (cache == NULL)
		return NULL;
	entry = hash_search(cache, hash, HASH_FIND, NULL);
	if (entry == NULL)
		return NULL;
	if (!api_token_live_at(false, entry->has_expires_at, entry->expires_at, now) ||
		now - entry->stored_at >= (int64) fynn_tokens_verify_cache_max_age * USECS_PER_SEC)
	{
		forget_entry(entry);
		return NULL;
	}
	dlist_move_head(&recency, &entry->recency);
	return DatumGetTextPCopy(PointerGetDatum(entry->claims));
}

/*
 * Remembers the claims of a live token read from a settled row version;
 * anything else is not kept.  The least recently used entry makes room.
 */
void
verify_cache_store(const uint8 hash[FYNN_TOKENS_HASH_LEN], const StoredToken *stored,
				   const text *claims, TimestampTz now)
{
	CachedClaims *entry;
	bool		found;

	if (!cache_enabled() || !stored->settled)
		return;
	if (cache != NULL && stored->relid != cached_relid)
		verify_cache_reset();
	if (cache != NULL && hash_get_num_entries(cache) >= fynn_tokens_verify_cache_size)
		forget_entry(dlist_tail_element(CachedClaims, recency, &recency));
	entry = hash_search(cache_table(), hash, HASH_ENTER, &found);
	if (found)
	{
		dlist_delete(&entry->recency);
		pfree(entry->claims);
	}
	cached_relid = stored->relid;
	entry->stored_at = now;
	entry->has_expires_at = stored->has_expires_at;
	entry->expires_at = stored->expires_at;
	entry->claims = (text *) MemoryContextAlloc(cache_context, VARSIZE_ANY(claims));
	memcpy(entry->claims, claims, VARSIZE_ANY(claims));
	dlist_push_head(&recency, &entry->recency);
}
