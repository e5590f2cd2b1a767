/*
 * events.c
 *		The append-only event log, fynn_tokens.api_token_event: every
 *		create, rotate and revoke, with the credential that did it.
 *
 * Revocations are recorded by the token table's trigger (triggers.c), so
 * an operator's plain UPDATE is logged too; creations and rotations are
 * recorded here, by the operation that makes them.
 */
#include "fynn_tokens.h"

/* Appends one event about token on behalf of caller. */
void
events_record(const char *action, const char *reason, const StoredToken *token,
			  const Caller *caller, const char *related_token_id)
{
	EventRow	event;

	event.tenant_id = token->tenant_id;
	event.user_id = token->user_id;
	event.token_id = token->id;
	event.action = action;
	event.reason = reason;
	event.actor = caller_actor(caller);
	event.actor_token_id = caller->by_api_token ? caller->token.id : NULL;
	event.related_token_id = related_token_id;
	store_insert_event(&event);
}
