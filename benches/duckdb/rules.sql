-- The reference rules of shared/reference-rules.md as DuckDB SQL.
--
-- Input : the DuckDB variables `input_path` (a JSONL file) and `current_year`
--         (the UTC calendar year), set by benches/duckdb/run.py with
--         SET VARIABLE before these statements run.
-- Output: two temp tables,
--           line_rules(line BIGINT, rules VARCHAR[])  one row per non-blank input
--                                                     line with at least one rule
--                                                     (reject or company-scope flag)
--           dataset_rules(rule VARCHAR)               the dataset-level findings
--         and read_count(n) = the number of non-blank lines.
--
-- The statements run in order; each `-- @stage NAME` line starts a statement
-- that run.py times separately. Everything is plain SQL over built-in
-- functions (json, regexp, lists, a recursive CTE): no UDF, no Python.
--
-- Why not read_json(format='newline_delimited')? It cannot see a malformed
-- line (it either fails or, with ignore_errors, drops the line), it gives no
-- line numbers, and DuckDB's JSON reader (yyjson) is more lenient than RFC 8259
-- (trailing commas, NaN/Infinity, out-of-range numbers). So the file is read as
-- bytes, split at \n in SQL, and every line is validated here. What the SQL
-- does not express is listed under LIMITS at the end of this file.

-- @stage split_lines
-- read_blob gives the raw bytes; casting a BLOB to VARCHAR escapes every byte
-- that is not printable ASCII, plus '"' and '\', as \xNN. A literal '\x0A' in
-- that text therefore comes only from a real newline byte (every backslash of
-- the escaped text starts a \xNN escape), so splitting on it is exact, and
-- CAST(part AS BLOB) gives the line's bytes back. A UTF-8 BOM (\xEF\xBB\xBF) at
-- the start of the file is dropped. Invalid UTF-8 survives this step and is
-- caught below, line by line.
CREATE OR REPLACE TEMP TABLE raw_lines AS
WITH f AS (
    SELECT CAST(content AS VARCHAR) AS e
    FROM read_blob(getvariable('input_path'))
), parts AS (
    SELECT string_split(
               CASE WHEN starts_with(e, '\xEF\xBB\xBF') THEN substr(e, 13) ELSE e END,
               '\x0A') AS p
    FROM f
)
SELECT generate_subscripts(p, 1) AS line, unnest(p) AS esc
FROM parts;

-- @stage decode_lines
-- One \r before the line end is dropped; blank lines (only spaces, tabs, \r)
-- are skipped; `txt` is the line as UTF-8 text, NULL when it is not UTF-8.
CREATE OR REPLACE TEMP TABLE lines AS
WITH l AS (
    SELECT line,
           CASE WHEN ends_with(esc, '\x0D') THEN left(esc, length(esc) - 4) ELSE esc END AS esc
    FROM raw_lines
)
SELECT line, try(decode(CAST(esc AS BLOB))) AS txt
FROM l
WHERE NOT (esc = '' OR (left(esc, 1) IN (' ', '\') AND regexp_full_match(esc, '( |\\x09|\\x0D)*')));

DROP TABLE raw_lines;

-- @stage json_check
-- `json`: json_valid (yyjson) rejects most non-JSON, but DuckDB reads with
-- yyjson's trailing-comma and NaN/Infinity extensions and accepts numbers beyond
-- the range of a double. Those three are detected on the line with its string
-- literals blanked out (`bare`), which is only computed for the few lines where
-- a cheap regular expression says one of them may be present. The value must
-- be an object.
CREATE OR REPLACE MACRO blank_strings(txt) AS regexp_replace(txt, '"(?:[^"\\]|\\.)*"', '""', 'g');
CREATE OR REPLACE MACRO json_extension_used(txt) AS
    regexp_matches(blank_strings(txt), ',[ \t\r\n]*[\]}]')
    OR regexp_matches(regexp_replace(blank_strings(txt), 'true|false|null|[0-9][eE]', '', 'g'), '[A-Za-z]')
    OR coalesce(list_bool_or(list_transform(
           regexp_extract_all(blank_strings(txt), '[0-9]+(?:\.[0-9]+)?[eE][+-]?[0-9]+|[0-9]{309,}'),
           lambda x: isinf(CAST(x AS DOUBLE)))), false);

CREATE OR REPLACE TEMP TABLE checked AS
SELECT line, txt,
       CASE WHEN txt IS NULL OR NOT json_valid(txt) THEN false
            WHEN json_type(txt) <> 'OBJECT' THEN false
            -- a trailing comma, nan/inf, an exponent of 3+ digits, 100+ digits in a row
            WHEN NOT regexp_matches(txt, '(?i),[ \t\r\n]*[\]}]|nan|inf|[0-9][eE][+-]?[0-9]{3}|[0-9]{100}') THEN true
            ELSE NOT json_extension_used(txt)
       END AS is_object
FROM lines;

-- Nesting: like serde_json (the reference parser of the oracle), an object
-- nested 128 levels deep or more (the line's own object is level 1) is not
-- accepted; yyjson has no such limit. The depth is computed, with a window
-- sum over the brackets outside strings, only on lines that hold at least 128
-- opening brackets.
CREATE OR REPLACE TEMP TABLE too_deep AS
WITH cand AS (
    SELECT line, string_split(regexp_replace(blank_strings(txt), '[^\[\]{}]', '', 'g'), '') AS br
    FROM checked
    WHERE is_object AND length(txt) - length(replace(replace(txt, '[', ''), '{', '')) >= 128
), ch AS (
    SELECT line, unnest(br) AS c, generate_subscripts(br, 1) AS pos FROM cand
)
SELECT line FROM (
    SELECT line, sum(CASE WHEN c IN ('[', '{') THEN 1 ELSE -1 END) OVER (PARTITION BY line ORDER BY pos) AS depth
    FROM ch
)
GROUP BY line HAVING max(depth) >= 128;

UPDATE checked SET is_object = false WHERE line IN (SELECT line FROM too_deep);

-- @stage dedup_keys
-- Duplicate keys: JSON's last one wins, yyjson's lookup returns the first.
-- The rules read the top-level fields and the fields of `owners` and
-- `segments` items (nothing deeper), so an object with a duplicate key at one
-- of those two levels is rebuilt from json_each keeping the last occurrence of
-- every key (the rare slow path); other lines are used as they are. For the
-- items, an object of at most 2 keys is never rebuilt: if its keys repeat it
-- has a single distinct key, so it lacks `stake` or `id` (`name` or `revenue`)
-- and fails `schema` whichever occurrence wins.
CREATE OR REPLACE TEMP TABLE objs AS
WITH k AS (
    SELECT line, txt, json_keys(txt) AS k FROM checked WHERE is_object
), o AS (
    SELECT line, txt,
           len(k) <> list_unique(k)
           OR ((list_contains(k, 'owners') OR list_contains(k, 'segments'))
               AND coalesce(list_bool_or(list_transform(
                       list_concat(json_extract(txt, '$.owners[*]'), json_extract(txt, '$.segments[*]')),
                       lambda i: len(json_keys(i)) > 2)), false)) AS dup
    FROM k
), top AS (
    SELECT o.line, e.key, e.value
    FROM o, json_each(o.txt) AS e
    WHERE o.dup
    QUALIFY row_number() OVER (PARTITION BY o.line, e.key ORDER BY e.id DESC) = 1
), item_fields AS (
    -- fields of the object items of `owners` and `segments`, last one wins
    SELECT t.line, t.key, CAST(i.key AS BIGINT) AS idx, f.key AS fkey, f.value AS fvalue
    FROM top t, json_each(t.value) AS i, json_each(i.value) AS f
    WHERE t.key IN ('owners', 'segments') AND json_type(t.value) = 'ARRAY'
      AND json_type(i.value) = 'OBJECT'
    QUALIFY row_number() OVER (PARTITION BY t.line, t.key, i.key, f.key ORDER BY f.id DESC) = 1
), items AS (
    -- every item of those arrays: rebuilt objects, other items as they are
    SELECT t.line, t.key, CAST(i.key AS BIGINT) AS idx, i.value AS item
    FROM top t, json_each(t.value) AS i
    WHERE t.key IN ('owners', 'segments') AND json_type(t.value) = 'ARRAY'
      AND json_type(i.value) <> 'OBJECT'
    UNION ALL
    SELECT line, key, idx, json_group_object(fkey, fvalue) FROM item_fields GROUP BY line, key, idx
    UNION ALL
    -- empty objects have no field rows
    SELECT t.line, t.key, CAST(i.key AS BIGINT), '{}'::JSON
    FROM top t, json_each(t.value) AS i
    WHERE t.key IN ('owners', 'segments') AND json_type(t.value) = 'ARRAY'
      AND json_type(i.value) = 'OBJECT' AND len(json_keys(i.value)) = 0
), arrays AS (
    SELECT line, key, CAST(list(item ORDER BY idx) AS JSON) AS value FROM items GROUP BY line, key
), rebuilt AS (
    SELECT t.line, CAST(json_group_object(t.key, coalesce(a.value, t.value)) AS VARCHAR) AS obj
    FROM top t LEFT JOIN arrays a ON a.line = t.line AND a.key = t.key
    GROUP BY t.line
)
SELECT o.line, coalesce(r.obj, o.txt) AS obj
FROM o LEFT JOIN rebuilt r USING (line);

CREATE OR REPLACE TEMP TABLE read_count AS SELECT count(*) AS n FROM lines;
CREATE OR REPLACE TEMP TABLE json_bad AS SELECT line FROM checked WHERE NOT is_object;
DROP TABLE lines;
DROP TABLE checked;

-- @stage extract_fields
-- Every field of the format, typed. For each field: its value when it passes
-- `schema` (NULL when an optional field is absent/null), and `<field>_bad`
-- when it fails `schema`. JSON numbers become DOUBLE, as in the contract.
CREATE OR REPLACE MACRO jnum(j) AS json_type(j) IN ('BIGINT', 'UBIGINT', 'DOUBLE', 'HUGEINT');
CREATE OR REPLACE MACRO jabsent(j) AS j IS NULL OR json_type(j) = 'NULL';

CREATE OR REPLACE TEMP TABLE f AS
WITH x AS (
    SELECT line, json_extract(obj, [
        '$.id', '$.name', '$.industry', '$.country', '$.founded_year', '$.public',
        '$.exchange', '$.ticker', '$.fiscal_year_end', '$.currency',
        '$.employee_count', '$.standalone_revenue', '$.consolidated_revenue',
        '$.intercompany_eliminations', '$.equity_method_income', '$.gross_margin',
        '$.arr', '$.segments', '$.owners', '$.behaviour_class', '$.plausibility_flags'
    ]) AS j
    FROM objs
), y AS (
    SELECT line,
        j[1] AS j_id, j[2] AS j_name, j[3] AS j_industry, j[4] AS j_country,
        j[5] AS j_founded, j[6] AS j_public, j[7] AS j_exchange, j[8] AS j_ticker,
        j[9] AS j_fye, j[10] AS j_currency, j[11] AS j_emp, j[12] AS j_sr,
        j[13] AS j_cr, j[14] AS j_ie, j[15] AS j_emi, j[16] AS j_gm, j[17] AS j_arr,
        j[18] AS j_segments, j[19] AS j_owners, j[20] AS j_bc, j[21] AS j_flags
    FROM x
), z AS (
    SELECT line,
        -- required strings
        CASE WHEN json_type(j_id) = 'VARCHAR' THEN json_extract_string(j_id, '$') END AS id,
        coalesce(json_type(j_name) <> 'VARCHAR', true) AS name_bad,
        CASE WHEN json_type(j_industry) = 'VARCHAR' THEN json_extract_string(j_industry, '$') END AS industry,
        CASE WHEN json_type(j_country) = 'VARCHAR' THEN json_extract_string(j_country, '$') END AS country,
        CASE WHEN json_type(j_fye) = 'VARCHAR' THEN json_extract_string(j_fye, '$') END AS fye,
        coalesce(json_type(j_currency) <> 'VARCHAR', true) AS currency_bad,
        -- required integers (any JSON number whose value is whole)
        CASE WHEN jnum(j_founded) AND TRY_CAST(j_founded AS DOUBLE) = floor(TRY_CAST(j_founded AS DOUBLE))
             THEN TRY_CAST(j_founded AS DOUBLE) END AS founded,
        CASE WHEN jnum(j_emp) AND TRY_CAST(j_emp AS DOUBLE) = floor(TRY_CAST(j_emp AS DOUBLE))
             THEN TRY_CAST(j_emp AS DOUBLE) END AS emp,
        -- required boolean
        CASE WHEN json_type(j_public) = 'BOOLEAN' THEN CAST(j_public AS BOOLEAN) END AS public,
        -- required numbers
        CASE WHEN jnum(j_sr) THEN TRY_CAST(j_sr AS DOUBLE) END AS sr,
        CASE WHEN jnum(j_cr) THEN TRY_CAST(j_cr AS DOUBLE) END AS cr,
        CASE WHEN jnum(j_gm) THEN TRY_CAST(j_gm AS DOUBLE) END AS gm,
        -- optional strings
        CASE WHEN json_type(j_exchange) = 'VARCHAR' THEN json_extract_string(j_exchange, '$') END AS exchange,
        NOT jabsent(j_exchange) AND json_type(j_exchange) <> 'VARCHAR' AS exchange_bad,
        CASE WHEN json_type(j_ticker) = 'VARCHAR' THEN json_extract_string(j_ticker, '$') END AS ticker,
        NOT jabsent(j_ticker) AND json_type(j_ticker) <> 'VARCHAR' AS ticker_bad,
        CASE WHEN json_type(j_bc) = 'VARCHAR' THEN json_extract_string(j_bc, '$') END AS bc,
        NOT jabsent(j_bc) AND json_type(j_bc) <> 'VARCHAR' AS bc_bad,
        -- optional numbers
        CASE WHEN jnum(j_ie) THEN TRY_CAST(j_ie AS DOUBLE) END AS ie,
        NOT jabsent(j_ie) AND NOT jnum(j_ie) AS ie_bad,
        CASE WHEN jnum(j_emi) THEN TRY_CAST(j_emi AS DOUBLE) END AS emi,
        NOT jabsent(j_emi) AND NOT jnum(j_emi) AS emi_bad,
        CASE WHEN jnum(j_arr) THEN TRY_CAST(j_arr AS DOUBLE) END AS arr,
        NOT jabsent(j_arr) AND NOT jnum(j_arr) AS arr_bad,
        -- optional arrays
        j_segments, j_owners, j_flags,
        CASE WHEN json_type(j_segments) = 'ARRAY' THEN json_extract(j_segments, '$[*]') END AS seg_items,
        CASE WHEN json_type(j_owners) = 'ARRAY' THEN json_extract(j_owners, '$[*]') END AS own_items,
        CASE WHEN json_type(j_flags) = 'ARRAY' THEN json_extract(j_flags, '$[*]') END AS flag_items
    FROM y
)
SELECT line, id, name_bad, industry, country, fye, currency_bad, founded, emp, public,
    sr, cr, gm, exchange, exchange_bad, ticker, ticker_bad, bc, bc_bad,
    ie, ie_bad, emi, emi_bad, arr, arr_bad,
    -- segments: array of {name: string, revenue: number}
    NOT jabsent(j_segments) AND (json_type(j_segments) <> 'ARRAY' OR NOT coalesce(list_bool_and(
        list_transform(seg_items, lambda s: json_type(s) = 'OBJECT'
            AND coalesce(json_type(s, '$.name') = 'VARCHAR', false)
            AND coalesce(jnum(json_extract(s, '$.revenue')), false))), true)) AS segments_bad,
    list_transform(seg_items, lambda s: TRY_CAST(json_extract(s, '$.revenue') AS DOUBLE)) AS seg_rev,
    -- owners: array of {id: string, stake: number}
    NOT jabsent(j_owners) AND (json_type(j_owners) <> 'ARRAY' OR NOT coalesce(list_bool_and(
        list_transform(own_items, lambda o: json_type(o) = 'OBJECT'
            AND coalesce(json_type(o, '$.id') = 'VARCHAR', false)
            AND coalesce(jnum(json_extract(o, '$.stake')), false))), true)) AS owners_bad,
    list_transform(own_items, lambda o: {'id': json_extract_string(o, '$.id'),
                                    'stake': TRY_CAST(json_extract(o, '$.stake') AS DOUBLE)}) AS own,
    -- plausibility_flags: array of strings
    NOT jabsent(j_flags) AND (json_type(j_flags) <> 'ARRAY' OR NOT coalesce(list_bool_and(
        list_transform(flag_items, lambda g: json_type(g) = 'VARCHAR')), true)) AS flags_bad,
    list_transform(flag_items, lambda g: json_extract_string(g, '$')) AS flags
FROM z;

-- (list_bool_and of an empty list is NULL, hence coalesce(..., true): an
-- empty array is a valid array.)

DROP TABLE objs;

-- @stage company_rules
-- `schema` plus every rule that reads one company alone. A rule reading a
-- field that failed `schema` does not apply (its value is NULL here, and
-- each rule tests that its inputs are usable).
CREATE OR REPLACE TEMP TABLE c AS
SELECT *,
    (id IS NULL OR name_bad OR industry IS NULL OR country IS NULL OR founded IS NULL
     OR public IS NULL OR exchange_bad OR ticker_bad OR fye IS NULL OR currency_bad
     OR emp IS NULL OR sr IS NULL OR cr IS NULL OR ie_bad OR emi_bad OR gm IS NULL
     OR arr_bad OR segments_bad OR owners_bad OR bc_bad OR flags_bad) AS schema_bad,
    CASE WHEN NOT owners_bad THEN own END AS owners_ok,
    CASE WHEN NOT segments_bad THEN seg_rev END AS segs_ok,
    CASE WHEN NOT flags_bad THEN flags END AS flags_ok
FROM f;

CREATE OR REPLACE TEMP TABLE company_fired AS
SELECT line, list_filter([
    CASE WHEN schema_bad THEN 'schema' END,
    -- field rules
    CASE WHEN emp IS NOT NULL AND NOT (emp >= 1 AND emp <= 10000000) THEN 'employee-count-range' END,
    CASE WHEN founded IS NOT NULL AND NOT (founded >= 1600 AND founded <= getvariable('current_year'))
         THEN 'founded-year-not-future' END,
    CASE WHEN cr IS NOT NULL AND NOT (cr > 0) THEN 'consolidated-revenue-positive' END,
    CASE WHEN sr IS NOT NULL AND NOT (sr >= 0) THEN 'standalone-revenue-non-negative' END,
    CASE WHEN gm IS NOT NULL AND NOT (gm >= -1 AND gm <= 1) THEN 'gross-margin-range' END,
    CASE WHEN fye IS NOT NULL AND NOT regexp_full_match(fye,
              '(0[13578]|1[02])-(0[1-9]|[12][0-9]|3[01])|(0[469]|11)-(0[1-9]|[12][0-9]|30)|02-(0[1-9]|[12][0-9])')
         THEN 'fiscal-year-end-valid' END,
    CASE WHEN country IS NOT NULL AND NOT regexp_full_match(country, '[A-Z]{2}') THEN 'country-code-format' END,
    CASE WHEN industry IS NOT NULL AND industry NOT IN ('SaaS', 'Manufacturing', 'Retail', 'Bank',
              'Insurance', 'Holding', 'Energy', 'Healthcare', 'Media', 'Other')
         THEN 'industry-known' END,
    CASE WHEN owners_ok IS NOT NULL
              AND coalesce(list_bool_or(list_transform(owners_ok, lambda o: NOT (o.stake > 0 AND o.stake <= 1))), false)
         THEN 'stake-range' END,
    CASE WHEN owners_ok IS NOT NULL
              AND NOT (coalesce(list_sum(list_transform(owners_ok, lambda o: o.stake)), 0) <= 1 + 1e-9)
         THEN 'stakes-at-most-whole' END,
    -- cross-field rules
    CASE WHEN industry = 'SaaS' AND gm IS NOT NULL AND NOT (gm > 0.6) THEN 'saas-gross-margin' END,
    CASE WHEN public AND NOT exchange_bad AND NOT ticker_bad AND NOT coalesce(
              CASE exchange
                  WHEN 'NYSE'     THEN regexp_full_match(ticker, '[A-Z]{1,4}(\.[A-Z])?')
                  WHEN 'NASDAQ'   THEN regexp_full_match(ticker, '[A-Z]{1,5}')
                  WHEN 'LSE'      THEN regexp_full_match(ticker, '[A-Z]{2,4}')
                  WHEN 'XETRA'    THEN regexp_full_match(ticker, '[A-Z0-9]{2,4}')
                  WHEN 'EURONEXT' THEN regexp_full_match(ticker, '[A-Z]{2,5}')
                  WHEN 'TSE'      THEN regexp_full_match(ticker, '[0-9]{4}')
                  WHEN 'HKEX'     THEN regexp_full_match(ticker, '[0-9]{4,5}')
                  ELSE false
              END, false)
         THEN 'public-listing-valid' END,
    CASE WHEN public = false AND NOT exchange_bad AND NOT ticker_bad
              AND (exchange IS NOT NULL OR ticker IS NOT NULL)
         THEN 'private-has-no-listing' END,
    CASE WHEN segs_ok IS NOT NULL AND len(segs_ok) > 0 AND cr IS NOT NULL
              AND NOT (cr > 0 AND abs(list_sum(segs_ok) - cr) <= 0.01 * cr)
         THEN 'segments-sum-to-revenue' END,
    CASE WHEN sr IS NOT NULL AND cr IS NOT NULL AND NOT ie_bad AND NOT (sr <= cr + coalesce(ie, 0))
         THEN 'standalone-within-consolidated' END,
    CASE WHEN arr IS NOT NULL AND industry IS NOT NULL AND industry <> 'SaaS'
         THEN 'arr-only-for-subscription' END,
    -- company-scope plausibility (flag)
    CASE WHEN industry = 'SaaS' AND arr > 100000000 AND emp <= 50 THEN 'saas-scale-needs-staff' END,
    CASE WHEN cr IS NOT NULL AND emp IS NOT NULL AND emp <> 0
              AND (cr / emp < 5000 OR cr / emp > 5000000)
         THEN 'revenue-per-employee' END
], lambda r: r IS NOT NULL) AS rules
FROM c;

-- @stage graph
-- Ids: every JSON object whose `id` is a string, whatever its verdict.
CREATE OR REPLACE TEMP TABLE ids AS
SELECT id, count(*) AS cnt FROM c WHERE id IS NOT NULL GROUP BY id;

-- The ownership graph: companies passing `schema` and `unique-id`.
CREATE OR REPLACE TEMP TABLE nodes AS
SELECT c.line, c.id, c.industry, c.fye, c.sr, c.cr, c.ie, c.emi, c.flags_ok, c.owners_ok
FROM c JOIN ids USING (id)
WHERE NOT c.schema_bad AND ids.cnt = 1;

-- Edges owner -> child, several entries for the same owner merged.
CREATE OR REPLACE TEMP TABLE edges AS
WITH u AS (
    SELECT n.id AS child, unnest(n.owners_ok) AS o FROM nodes n WHERE len(n.owners_ok) > 0
), e AS (
    SELECT child, o.id AS owner, o.stake AS stake FROM u
)
SELECT e.owner, e.child,
       bool_or(e.stake > 0.5) AS controlled,
       bool_or(e.stake >= 0.2 AND e.stake <= 0.5) AS investee
FROM e JOIN nodes p ON p.id = e.owner
GROUP BY e.owner, e.child;

-- @stage cycles
-- A node is on a cycle iff it reaches itself through at least one edge (a
-- self-edge included): that is exactly "in a strongly connected component of
-- more than one company, or owns itself". Computed as the set of (start, node)
-- pairs reachable from every start; UNION (not UNION ALL) keeps each pair once,
-- so the recursion stops on cycles. Only nodes that both own and are owned can
-- lie on a cycle, so the search is restricted to them (the others are pruned
-- once, not iteratively). Cost: the size of the transitive closure of that
-- subgraph — small for groups of a few companies, quadratic for one long chain.
CREATE OR REPLACE TEMP TABLE core_edges AS
SELECT owner, child FROM edges
WHERE owner IN (SELECT child FROM edges) AND child IN (SELECT owner FROM edges);

CREATE OR REPLACE TEMP TABLE on_cycle AS
WITH RECURSIVE reach(start, node) AS (
    SELECT owner, child FROM core_edges
    UNION
    SELECT r.start, e.child FROM reach r JOIN core_edges e ON e.owner = r.node
    WHERE r.node <> r.start
)
SELECT DISTINCT start AS id FROM reach WHERE node = start;

-- @stage entity_rules
CREATE OR REPLACE TEMP TABLE agg AS
SELECT e.owner AS id,
       bool_or(e.controlled) AS has_controlled,
       bool_or(e.investee) AS has_investee,
       sum(CASE WHEN e.controlled THEN ch.sr ELSE 0 END) AS sum_ctrl_sr,
       sum(CASE WHEN e.controlled THEN ch.cr ELSE 0 END) AS sum_ctrl_cr
FROM edges e JOIN nodes ch ON ch.id = e.child
GROUP BY e.owner;

-- owners-exist: some owner id is the id of no JSON object of the input.
CREATE OR REPLACE TEMP TABLE owner_missing AS
WITH u AS (
    SELECT line, unnest(owners_ok) AS o FROM c WHERE len(owners_ok) > 0
)
SELECT DISTINCT u.line FROM u LEFT JOIN ids ON ids.id = u.o.id WHERE ids.id IS NULL;

CREATE OR REPLACE TEMP TABLE entity_fired AS
SELECT c.line, list_filter([
    CASE WHEN om.line IS NOT NULL THEN 'owners-exist' END,
    CASE WHEN c.id IS NOT NULL AND i.cnt > 1 THEN 'unique-id' END,
    CASE WHEN n.id IS NOT NULL AND oc.id IS NOT NULL THEN 'ownership-acyclic' END,
    CASE WHEN n.id IS NOT NULL AND NOT (n.cr >= coalesce(a.sum_ctrl_sr, 0) - coalesce(n.ie, 0))
         THEN 'consolidation-covers-subsidiaries' END,
    CASE WHEN n.id IS NOT NULL AND NOT (n.cr <= 1.01 * (n.sr + coalesce(a.sum_ctrl_cr, 0)))
         THEN 'minority-stakes-not-consolidated' END,
    CASE WHEN n.id IS NOT NULL AND coalesce(a.has_investee, false) AND n.emi IS NULL
         THEN 'equity-method-income-reported' END,
    CASE WHEN n.id IS NOT NULL AND n.industry = 'Holding' AND NOT coalesce(a.has_controlled, false)
              AND n.flags_ok IS NOT NULL AND NOT list_contains(n.flags_ok, 'holdco-without-operations')
         THEN 'holdco-without-operations' END
], lambda r: r IS NOT NULL) AS rules
FROM c
LEFT JOIN ids i ON i.id = c.id
LEFT JOIN nodes n ON n.line = c.line
LEFT JOIN agg a ON a.id = n.id
LEFT JOIN on_cycle oc ON oc.id = n.id
LEFT JOIN owner_missing om ON om.line = c.line;

-- @stage collect
CREATE OR REPLACE TEMP TABLE line_rules AS
SELECT line, list_sort(list_distinct(flatten(list(r)))) AS rules
FROM (
    SELECT line, ['json'] AS r FROM json_bad
    UNION ALL SELECT line, rules FROM company_fired WHERE len(rules) > 0
    UNION ALL SELECT line, rules FROM entity_fired WHERE len(rules) > 0
)
GROUP BY line;

-- @stage dataset_rules
-- Groups: weakly connected components of the graph, by label propagation:
-- every node starts with its own id as label and repeatedly takes the
-- smallest label of its neighbours (edges taken in both directions). USING KEY
-- keeps one row per node, replaced when its label drops, and each round only
-- looks at the nodes whose label changed in the previous one; the number of
-- rounds is at most the longest shortest path inside a group.
CREATE OR REPLACE TEMP TABLE und AS
SELECT owner AS a, child AS b FROM edges WHERE owner <> child
UNION SELECT child, owner FROM edges WHERE owner <> child;

CREATE OR REPLACE TEMP TABLE grp AS
WITH RECURSIVE lab(node, label) USING KEY (node) AS (
    SELECT id, id FROM nodes
    UNION
    SELECT u.b, min(l.label)
    FROM lab l
    JOIN und u ON u.a = l.node
    JOIN recurring.lab cur ON cur.node = u.b
    GROUP BY u.b, cur.label
    HAVING min(l.label) < cur.label
)
SELECT node, label AS g FROM lab;

CREATE OR REPLACE TEMP TABLE dataset_stats AS
WITH big_saas AS (
    SELECT count(*) AS n, count(*) FILTER (WHERE emp > 50) AS ok
    FROM c WHERE industry = 'SaaS' AND arr > 100000000 AND emp IS NOT NULL
), groups AS (
    SELECT g, count(*) AS size FROM grp GROUP BY g
), mismatched AS (
    SELECT DISTINCT gp.g
    FROM edges e
    JOIN nodes p ON p.id = e.owner
    JOIN nodes ch ON ch.id = e.child
    JOIN grp gp ON gp.node = e.owner
    WHERE e.controlled AND p.fye <> ch.fye
), fy AS (
    SELECT count(*) AS n, count(*) FILTER (WHERE g IN (SELECT g FROM mismatched)) AS m
    FROM groups WHERE size >= 2
), classes AS (
    SELECT k.cls, count(c.bc) AS cnt
    FROM (VALUES ('happy-path'), ('fiscal-year-mismatch'), ('minority-stake'),
                 ('deep-hierarchy'), ('holdco-without-operations')) k(cls)
    LEFT JOIN c ON c.bc = k.cls
    GROUP BY k.cls
)
SELECT big_saas.n AS big_saas, big_saas.ok AS big_saas_staffed,
       fy.n AS multi_groups, fy.m AS mismatched_groups,
       (SELECT map(list(cls), list(cnt)) FROM classes) AS class_counts
FROM big_saas, fy;

CREATE OR REPLACE TEMP TABLE dataset_rules AS
SELECT 'saas-scale-staffing-share' AS rule FROM dataset_stats
WHERE big_saas >= 20 AND 20 * big_saas_staffed < 19 * big_saas
UNION ALL
SELECT 'fiscal-year-mismatch-share' FROM dataset_stats
WHERE multi_groups >= 20 AND (20 * mismatched_groups < multi_groups OR 4 * mismatched_groups > multi_groups)
UNION ALL
SELECT 'behaviour-class-coverage' FROM dataset_stats
WHERE list_min(map_values(class_counts)) < 3;

-- LIMITS: what this SQL does not express, or expresses at a cost.
--
-- * JSON validity is yyjson's (json_valid) plus SQL checks for what DuckDB's
--   reader accepts beyond RFC 8259: trailing commas, NaN/Infinity (any case),
--   numbers beyond the range of a double, nesting of 128 levels or more
--   (serde_json's limit, the oracle's reading). Other leniencies of yyjson, if
--   any, are not checked for. Like serde_json, yyjson rejects lone UTF-16
--   surrogate escapes (the oracle's reading). Decimal-to-double conversion is
--   DuckDB's; a number within one ulp of a rule boundary could in principle be
--   rounded differently from skillc's parser.
-- * Duplicate keys (last one wins) are resolved at the top level and inside the
--   object items of `owners` and `segments`, the only places a rule reads; a
--   duplicate deeper down changes nothing any rule reads.
-- * Sums over controlled subsidiaries use SUM() in DuckDB's order, not input
--   order: floating-point addition is not associative, so a sum that lands
--   within rounding error of a boundary (consolidation-covers-subsidiaries,
--   minority-stakes-not-consolidated) could differ from skillc's. Sums inside
--   one company (stakes, segments) are list sums in input order.
-- * ownership-acyclic is a transitive closure (recursive CTE with UNION) over
--   the companies that both own and are owned: its size is the number of
--   (start, reachable company) pairs of that subgraph. Linear for the shallow
--   groups of the generator; quadratic for long ownership chains (a chain of
--   100k companies would need ~5e9 rows and does not finish).
-- * Groups use label propagation with USING KEY (DuckDB >= 1.3): rounds = the
--   longest shortest path inside a group.
-- * Only rule ids are computed: no reasons, values, hints, cycle listings or
--   schema field names (compare.py compares rule-id sets per line, the dataset
--   findings and the populations the dataset rules count).
-- * Reading: the whole file is one BLOB (read_blob), escaped to text and split
--   in one thread; memory is several times the file size.
