"""Functions refused on every warehouse, each with the reason it gives (see docs/warehouse.md).

The guard (:mod:`tasuki.warehouse._functions`) allows a call by its sqlglot kind or by name on
the allow list (:mod:`tasuki.warehouse._allowed`). The functions here are refused before either
is looked at, in every dialect, and cannot be added with ``allow_functions``: they run
SQL given as text (which the guard cannot see into), touch server files, reach other systems,
or change state that a ``READ ONLY`` transaction does not protect. The refusals apply on every
backend because extensions carry names across them: ``pg_duckdb`` gives PostgreSQL DuckDB's
``read_parquet``, ``pg_net`` gives it ``http_get``.

Names are matched lowercase, exactly or by prefix, against both the bare name and the
schema-qualified one (``ml.predict``), so ``pg_catalog.PG_READ_FILE`` is caught.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlglot import exp

__all__ = [
    "CATEGORIES",
    "DENIED_FUNCTIONS",
    "REFUSED_FUNCTIONS",
    "REFUSED_KINDS",
    "REFUSED_PREFIXES",
    "refusal",
]

CATEGORIES: Mapping[str, str] = {
    "sql text": "runs SQL given as text, which this check cannot see into",
    "files": "reads or writes server files",
    "network": "reaches another database or the network",
    "sessions": "controls sessions or backends",
    "sequences": "uses sequences or transaction ids, state that outlives the query",
    "locks": "takes or releases locks",
    "statistics": "reads or resets server statistics, or runs index maintenance",
    "configuration": "reads or changes the server's configuration, environment or secrets",
    "server": "controls the server (WAL, backups, replication, logs, extensions)",
    "models": "runs a machine-learning model or a remote AI service",
}
"""Category -> the reason an error gives (``it <reason>``)."""


def _names(category: str, *names: str) -> dict[str, str]:
    return dict.fromkeys(names, category)


REFUSED_FUNCTIONS: Mapping[str, str] = {
    **_names(
        "sql text",
        # ts_stat leaked a file's words through pg_read_file inside its text; ts_rewrite
        # leaked it in an error message (the probe of issue 10)
        "ts_stat",
        "ts_rewrite",
        "query_to_xml",
        "query_to_xmlschema",
        "query_to_xml_and_xmlschema",
        "cursor_to_xml",
        "cursor_to_xmlschema",
        "connectby",  # tablefunc: builds SQL from its text arguments
        "query",  # DuckDB
        "query_table",  # DuckDB: a table named by a string the guard cannot see
        "json_execute_serialized_sql",
        "json_serialize_sql",
        "json_serialize_plan",
        "json_deserialize_sql",
        "exec",
        "execute",
        "eval",
    ),
    **_names(
        "files",
        "pg_read_file",
        "pg_read_binary_file",
        "pg_stat_file",
        "pg_logdir_ls",
        "pg_current_logfile",
        "loread",
        "lowrite",
        "glob",
        "sniff_csv",
        "st_read",
        "st_read_meta",
        "st_readosm",
        "st_readshp",
        "to_file",
    ),
    **_names(
        "network",
        "external_query",
        "external_object_transform",
        "keys.keyset_chain",
        "keys.new_wrapped_keyset",
        "keys.rewrap_keyset",
        "keys.rotate_wrapped_keyset",
    ),
    **_names(
        "sessions",
        "pg_terminate_backend",
        "pg_cancel_backend",
        "pg_notify",
        "pg_log_backend_memory_contexts",
        "pg_export_snapshot",
        "setseed",
    ),
    **_names(
        "sequences",
        "nextval",
        "setval",
        "currval",
        "lastval",
        "txid_current",
        "txid_current_if_assigned",
        "pg_current_xact_id",
        "pg_current_xact_id_if_assigned",
        "pg_sequence_last_value",
    ),
    **_names(
        "statistics",
        "brin_summarize_new_values",
        "brin_summarize_range",
        "brin_desummarize_range",
        "gin_clean_pending_list",
        "pg_prewarm",
    ),
    **_names(
        "configuration",
        "set_config",
        "pg_reload_conf",
        "pg_show_all_settings",
        "pg_show_all_file_settings",
        "pg_hba_file_rules",
        "pg_ident_file_mappings",
        "pg_config",
        "pg_settings_get_flags",
        "getenv",
        "which_secret",
    ),
    **_names(
        "server",
        "pg_rotate_logfile",
        "pg_promote",
        "pg_switch_wal",
        "pg_create_restore_point",
        "pg_backup_start",
        "pg_backup_stop",
        "pg_start_backup",
        "pg_stop_backup",
        "pg_create_physical_replication_slot",
        "pg_create_logical_replication_slot",
        "pg_drop_replication_slot",
        "pg_copy_physical_replication_slot",
        "pg_copy_logical_replication_slot",
        "pg_import_system_collations",
        "pg_log_standby_snapshot",
        "pg_sync_replication_slots",
        "install_extension",
        "load_extension",
        "checkpoint",
        "force_checkpoint",
    ),
}
"""Exact names (lowercase; schema-qualified where the schema is part of the name)."""

REFUSED_PREFIXES: tuple[tuple[str, str], ...] = (
    ("crosstab", "sql text"),  # tablefunc's crosstab* take their source query as text
    ("pgr_", "sql text"),  # pgRouting takes its edges query as text
    ("run_command_on_", "sql text"),  # Citus
    ("pg_background", "sql text"),
    ("cron.", "sql text"),  # pg_cron schedules SQL text
    ("pg_ls_", "files"),
    ("pg_file_", "files"),  # adminpack
    ("lo_", "files"),  # large objects: lo_import reads server files, lo_export writes them
    ("read_", "files"),  # DuckDB read_csv, read_parquet, read_json, read_text, read_blob, ...
    ("parquet_", "files"),
    ("iceberg_", "files"),
    ("delta_", "files"),
    ("dblink", "network"),
    ("postgres_", "network"),  # DuckDB postgres_scan / _query / _execute / _attach
    ("mysql_", "network"),
    ("sqlite_", "network"),
    ("odbc_", "network"),
    ("http_", "network"),  # DuckDB http_get; pg_net's net.http_get
    ("obj.", "network"),  # BigQuery object tables: signed URLs to Cloud Storage
    ("aws_s3.", "network"),
    ("aws_lambda.", "network"),
    ("pg_advisory", "locks"),
    ("pg_try_advisory", "locks"),
    ("pg_stat_", "statistics"),  # pg_stat_reset*, pg_stat_statements*, pg_stat_get_activity
    ("pg_clear_", "statistics"),  # PostgreSQL 18 writes planner statistics
    ("pg_restore_", "statistics"),
    ("pg_buffercache", "statistics"),
    ("duckdb_", "configuration"),  # duckdb_settings(), duckdb_secrets(), ...
    ("pragma_", "configuration"),
    ("pg_control_", "configuration"),
    ("pg_wal_", "server"),
    ("pg_logical_", "server"),
    ("pg_replication_", "server"),
    ("ml.", "models"),  # BigQuery ML.PREDICT, ML.GENERATE_TEXT, ...
    ("ai.", "models"),
)
"""(prefix, category) pairs; an exact name above wins over a prefix."""

_PREFIXES = tuple(prefix for prefix, _ in REFUSED_PREFIXES)

REFUSED_KINDS: Mapping[type[exp.Func], str] = {
    kind: category
    for category, names in (
        ("files", ("ReadCSV", "ReadParquet", "ToFile")),
        ("sequences", ("NextValueFor", "Seq1", "Seq2", "Seq4", "Seq8")),
        ("configuration", ("Secret",)),
        (
            "models",
            (
                "AIAgg",
                "AIClassify",
                "AIEmbed",
                "AIForecast",
                "AIGenerate",
                "AISimilarity",
                "AISummarizeAgg",
                "FeaturesAtTime",
                "GenerateBool",
                "GenerateDouble",
                "GenerateEmbedding",
                "GenerateInt",
                "GenerateTable",
                "GenerateText",
                "MLForecast",
                "MLTranslate",
                "Predict",
            ),
        ),
    )
    for name in names
    if (kind := getattr(exp, name, None)) is not None
}
"""sqlglot function classes refused whatever name they were written with."""


def refusal(name: str) -> str | None:
    """The category that refuses the lowercase function ``name``, or None.

    Example:
        >>> refusal("pg_stat_reset_shared"), refusal("lower")
        ('statistics', None)
    """
    category = REFUSED_FUNCTIONS.get(name)
    if category is None and name.startswith(_PREFIXES):
        category = next(c for p, c in REFUSED_PREFIXES if name.startswith(p))
    return category


def _legacy() -> Mapping[str, tuple[frozenset[str], tuple[str, ...]]]:
    names = frozenset(REFUSED_FUNCTIONS)
    return {d: (names, _PREFIXES) for d in ("postgres", "redshift", "duckdb", "bigquery")}


DENIED_FUNCTIONS: Mapping[str, tuple[frozenset[str], tuple[str, ...]]] = _legacy()
"""Per dialect: (exact names, prefixes) refused; the same on every dialect. Kept for code
that read the old per-dialect deny lists; :func:`refusal` says why a name is refused."""
