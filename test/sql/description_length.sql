-- description: NULL, or 3 to 255 characters counted as code points, so a
-- 4-byte emoji counts once. A violation is 22023 with the property in the
-- column name and the kind in the constraint name.
CALL act_as_writer();

SELECT outcome($$SELECT fynn_tokens.create_user_api_token('', NULL)$$) AS empty;
SELECT outcome($$SELECT fynn_tokens.create_user_api_token('ab', NULL)$$) AS ascii_2;
SELECT shape(fynn_tokens.create_user_api_token('abc', NULL)) AS ascii_3;
SELECT length(shape(fynn_tokens.create_user_api_token(repeat('x', 255), NULL))->>'description') AS ascii_255;
SELECT outcome(format('SELECT fynn_tokens.create_user_api_token(%L, NULL)', repeat('x', 256))) AS ascii_256;

-- U+1F600 is four bytes in UTF-8.
SELECT octet_length(chr(128512)) AS emoji_bytes;
SELECT outcome(format('SELECT fynn_tokens.create_user_api_token(%L, NULL)', repeat(chr(128512), 2))) AS emoji_2;
SELECT shape(fynn_tokens.create_user_api_token(repeat(chr(128512), 3), NULL))->>'description' = repeat(chr(128512), 3) AS emoji_3;
SELECT length(fynn_tokens.create_user_api_token(repeat(chr(128512), 255), NULL)->>'description') AS emoji_255;
SELECT outcome(format('SELECT fynn_tokens.create_user_api_token(%L, NULL)', repeat(chr(128512), 256))) AS emoji_256;

-- NULL skips the length check.
SELECT shape(fynn_tokens.create_user_api_token(NULL, NULL)) AS null_description;

-- Descriptions are returned as given, JSON-escaped.
SELECT fynn_tokens.create_user_api_token(E'quote " backslash \\ tab \t', NULL)->>'description' AS escaped;

-- Only the accepted calls wrote rows.
SELECT count(*) FILTER (WHERE char_length(description) < 3 OR char_length(description) > 255) AS bad_rows,
	count(*) FILTER (WHERE description = repeat(chr(128512), 255)) AS emoji_255_rows
FROM fynn_tokens.api_token;

-- The table holds the same bounds for whoever inserts by SQL (an operator,
-- a restore): its CHECK refuses 2 and 256 characters, takes 3 and 255.
SELECT n, split_part(outcome(format($$INSERT INTO fynn_tokens.api_token (id, tenant_id, user_id, description, token_hash, permissions)
		VALUES (%L, 't-desc-check', 'desc-user', %L, sha256(%L), '{}')$$,
		'DESCRIPTIONCHECK' || lpad(n::text, 4, '0'), repeat(chr(128512), n), convert_to(n::text, 'UTF8'))), E'\n', 1) AS operator_insert
FROM unnest(ARRAY[2, 3, 255, 256]) n ORDER BY n;
DELETE FROM fynn_tokens.api_token WHERE tenant_id = 't-desc-check';
