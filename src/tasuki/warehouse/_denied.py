"""Functions a warehouse query may not call, per SQL dialect (see docs/warehouse.md).

They read or write server files, reach other databases or the network, run SQL given as
text, or change server state. Names are matched lowercase, exactly or by prefix.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["DENIED_FUNCTIONS"]

_PG_DENIED = frozenset(
    {
        # server files and directories
        "pg_read_file",
        "pg_read_binary_file",
        "pg_ls_dir",
        "pg_stat_file",
        "pg_ls_logdir",
        "pg_ls_waldir",
        "pg_ls_tmpdir",
        "pg_ls_archive_statusdir",
        "pg_ls_logicalmapdir",
        "pg_ls_logicalsnapdir",
        "pg_ls_replslotdir",
        "pg_file_write",
        "pg_file_rename",
        "pg_file_unlink",
        "pg_file_sync",
        "pg_logdir_ls",
        "pg_current_logfile",
        # large objects (lo_import reads server files, lo_export writes them)
        "loread",
        "lowrite",
        # other databases and arbitrary SQL given as text
        "query_to_xml",
        "query_to_xmlschema",
        "query_to_xml_and_xmlschema",
        "cursor_to_xml",
        "cursor_to_xmlschema",
        # full-text functions that take a query as text and run it (ts_stat leaked a file's
        # words through pg_read_file inside its text; ts_rewrite leaked it in an error)
        "ts_stat",
        "ts_rewrite",
        # backend, server and configuration control
        "pg_terminate_backend",
        "pg_cancel_backend",
        "pg_reload_conf",
        "pg_rotate_logfile",
        "pg_promote",
        "pg_switch_wal",
        "pg_create_restore_point",
        "pg_backup_start",
        "pg_backup_stop",
        "pg_start_backup",
        "pg_stop_backup",
        "pg_wal_replay_pause",
        "pg_wal_replay_resume",
        "pg_create_physical_replication_slot",
        "pg_create_logical_replication_slot",
        "pg_drop_replication_slot",
        "pg_copy_physical_replication_slot",
        "pg_copy_logical_replication_slot",
        "pg_replication_slot_advance",
        "pg_logical_emit_message",
        "pg_import_system_collations",
        "pg_notify",
        "set_config",
        "pg_export_snapshot",
        "pg_log_backend_memory_contexts",
        # write despite READ ONLY: statistics resets and index maintenance
        "brin_summarize_new_values",
        "brin_summarize_range",
        "brin_desummarize_range",
        "gin_clean_pending_list",
        # sequences change state even in a read-only transaction's eyes
        "nextval",
        "setval",
        "txid_current",
        "pg_current_xact_id",
    }
)
_PG_DENIED_PREFIXES = (
    "lo_",
    "dblink",
    "pg_advisory",
    "pg_try_advisory",
    "pg_ls_",
    "pg_stat_reset",
    "pg_stat_statements_reset",
)

_DUCKDB_DENIED = frozenset(
    {
        "read_csv",
        "read_csv_auto",
        "readcsv",
        "read_parquet",
        "readparquet",
        "parquet_scan",
        "parquet_metadata",
        "parquet_schema",
        "parquet_file_metadata",
        "parquet_kv_metadata",
        "parquet_bloom_probe",
        "read_json",
        "read_json_auto",
        "read_json_objects",
        "read_json_objects_auto",
        "read_ndjson",
        "read_ndjson_auto",
        "read_ndjson_objects",
        "read_text",
        "read_blob",
        "read_xlsx",
        "sniff_csv",
        "glob",
        "iceberg_scan",
        "iceberg_metadata",
        "delta_scan",
        "sqlite_scan",
        "sqlite_attach",
        "postgres_scan",
        "postgres_scan_pushdown",
        "postgres_query",
        "postgres_execute",
        "postgres_attach",
        "mysql_query",
        "mysql_execute",
        "st_read",
        "query",
        "query_table",
        "getenv",
        "install_extension",
        "load_extension",
        # sequences: setval persisted on a read-write DuckDB connection
        "nextval",
        "setval",
    }
)
_DUCKDB_DENIED_PREFIXES = ("read_", "http_")

_BIGQUERY_DENIED = frozenset({"external_query", "session_user"})

DENIED_FUNCTIONS: Mapping[str, tuple[frozenset[str], tuple[str, ...]]] = {
    "postgres": (_PG_DENIED, _PG_DENIED_PREFIXES),
    "redshift": (_PG_DENIED, _PG_DENIED_PREFIXES),
    "duckdb": (_DUCKDB_DENIED, _DUCKDB_DENIED_PREFIXES),
    "bigquery": (_BIGQUERY_DENIED, ()),
}
"""Per dialect: (exact function names, name prefixes) that a query may not call."""
