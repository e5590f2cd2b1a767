/*
 * test_token_clock.c
 *		When a token is alive, and when a new expiry lies ahead
 *		(common/token_clock.h), at the exact instants where the answer flips.
 */
#include "token_clock.h"
#include "unit.h"

#include <stdint.h>

int
main(void)
{
	static const int64_t nows[] = {0, 1, -1, 1700000000000000, INT64_MIN + 1, INT64_MAX - 1};

	for (size_t i = 0; i < sizeof(nows) / sizeof(nows[0]); i++)
	{
		int64_t		now = nows[i];
		long long	n = (long long) now;

		checkf(!api_token_live_at(false, true, now, now),
			   "now=%lld: expiring exactly now is dead", n);
		checkf(!api_token_live_at(false, true, now - 1, now),
			   "now=%lld: expired a microsecond ago is dead", n);
		checkf(api_token_live_at(false, true, now + 1, now),
			   "now=%lld: expiring a microsecond from now is live", n);
		checkf(!api_token_live_at(true, true, now + 1, now),
			   "now=%lld: revoked with a future expiry is dead", n);
		checkf(!api_token_live_at(true, false, 0, now),
			   "now=%lld: revoked without expiry is dead", n);
		checkf(api_token_live_at(false, false, now, now) &&
			   api_token_live_at(false, false, now - 1, now) &&
			   api_token_live_at(false, false, INT64_MIN, now),
			   "now=%lld: without expiry, expires_at is ignored and the token is live", n);
		checkf(!api_token_expiry_ahead(now, now),
			   "now=%lld: an expiry of now is not ahead", n);
		checkf(!api_token_expiry_ahead(now - 1, now),
			   "now=%lld: an expiry a microsecond ago is not ahead", n);
		checkf(api_token_expiry_ahead(now + 1, now),
			   "now=%lld: an expiry a microsecond from now is ahead", n);
	}
	check("the extremes: INT64_MAX is ahead of INT64_MIN",
		  api_token_expiry_ahead(INT64_MAX, INT64_MIN) &&
		  api_token_live_at(false, true, INT64_MAX, INT64_MIN));
	check("the extremes: INT64_MIN is not ahead of INT64_MAX",
		  !api_token_expiry_ahead(INT64_MIN, INT64_MAX) &&
		  !api_token_live_at(false, true, INT64_MIN, INT64_MAX));
	return unit_done("test_token_clock");
}
