-- 10,000 creations give 10,000 distinct ids, tokens and hashes.
CALL act_as_writer('uniqueness-user');
CREATE TEMP TABLE many AS
SELECT fynn_tokens.create_user_api_token(NULL, NULL) AS answer FROM generate_series(1, 10000);

SELECT count(*) AS created,
	count(DISTINCT answer->>'id') AS distinct_ids,
	count(DISTINCT answer->>'token') AS distinct_tokens,
	count(DISTINCT substr(answer->>'token', 5, 32)) AS distinct_random_parts
FROM many;
SELECT count(*) AS rows, count(DISTINCT token_hash) AS distinct_hashes
FROM fynn_tokens.api_token WHERE user_id = 'uniqueness-user';

-- Characters are spread evenly: each of the 62 appears about 1/62 of the
-- time in the random parts (320,000 characters; expected 5,161 each).
SELECT count(*) AS symbols, min(n) > 4500 AND max(n) < 5900 AS uniform
FROM (SELECT c, count(*) AS n
	  FROM many, LATERAL regexp_split_to_table(substr(answer->>'token', 5, 32), '') c
	  GROUP BY c) s;
