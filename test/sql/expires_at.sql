-- expires_at: NULL (never expires) or in the future, answered in UTC as
-- 2021-01-01T00:00:00+00:00, with a fraction only when there is one.
CALL act_as_writer();

SELECT shape(fynn_tokens.create_user_api_token('never expires', NULL))->'expiresAt' AS never;
SELECT outcome($$SELECT fynn_tokens.create_user_api_token('in the past', '2021-01-01T00:00:00+00:00')$$) AS past;
SELECT outcome($$SELECT fynn_tokens.create_user_api_token('right now', clock_timestamp())$$) AS now;
SELECT outcome($$SELECT fynn_tokens.create_user_api_token('infinity ago', '-infinity')$$) AS minus_infinity;

-- Infinity is no date: "never" is NULL.
SELECT outcome($$SELECT fynn_tokens.create_user_api_token('infinity', 'infinity')$$) AS infinity;

SELECT fynn_tokens.create_user_api_token('utc', '2099-01-01T00:00:00+00:00')->'expiresAt' AS utc;
SELECT fynn_tokens.create_user_api_token('offset', '2099-06-30T23:30:00-02:00')->'expiresAt' AS converted_to_utc;
SELECT fynn_tokens.create_user_api_token('fraction', '2099-01-01T00:00:00.5Z')->'expiresAt' AS fraction;
SELECT fynn_tokens.create_user_api_token('micro', '2099-01-01T00:00:00.000001Z')->'expiresAt' AS microseconds;
SELECT fynn_tokens.create_user_api_token('tomorrow', now() + interval '1 day')->>'expiresAt' ~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00$' AS tomorrow_shape;

-- Both rules broken at once: both reported in one error.
SELECT outcome($$SELECT fynn_tokens.create_user_api_token('x', '2000-01-01Z')$$) AS both;

-- The stored value is the instant given.
SELECT expires_at = '2099-07-01T01:30:00Z' AS stored_instant FROM fynn_tokens.api_token WHERE description = 'offset';
SELECT count(*) AS past_rows FROM fynn_tokens.api_token WHERE expires_at < created_at;
