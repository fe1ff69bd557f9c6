"""The public API is pinned: changing it is a deliberate act (update this list with care)."""

from __future__ import annotations

import tasuki
import tasuki.errors
import tasuki.testing

EXPECTED_TOP = [
    "BuildResult",
    "DirectoryTarget",
    "Executor",
    "FileInput",
    "FileTarget",
    "Hook",
    "ModelTarget",
    "RunRecord",
    "Settings",
    "Target",
    "Task",
    "TaskResult",
    "TasukiError",
    "__version__",
    "build",
    "build_graph",
    "errors",
    "import_task",
    "load",
    "load_output",
    "load_settings",
    "param",
    "run_build",
]


def test_top_level_all_is_pinned():
    assert sorted(tasuki.__all__) == sorted(EXPECTED_TOP)
    for name in tasuki.__all__:
        assert hasattr(tasuki, name), name


def test_every_error_derives_from_the_root_and_pickles():
    import pickle

    for name in tasuki.errors.__all__:
        cls = getattr(tasuki.errors, name)
        assert issubclass(cls, tasuki.errors.TasukiError)
        assert name.endswith("Error")
        err = cls("message", field=1)
        again = pickle.loads(pickle.dumps(err))
        assert type(again) is cls and str(again) == "message" and again.field == 1


def test_testing_helpers_exported():
    assert sorted(tasuki.testing.__all__) == [
        "TaskRun",
        "check_data_frame",
        "run_task",
        "temporary_workspace",
    ]


def test_public_callables_have_docstrings():
    for name in tasuki.__all__:
        obj = getattr(tasuki, name)
        if callable(obj):
            assert obj.__doc__, name


def test_query_client_lives_with_the_warehouse_and_the_service_reexports_it():
    import tasuki.service
    import tasuki.warehouse

    assert tasuki.warehouse.QueryClient is tasuki.service.QueryClient
    assert tasuki.warehouse.RemoteQueryResult is tasuki.service.RemoteQueryResult
    assert issubclass(tasuki.warehouse.RemoteQueryResult, tasuki.warehouse.QueryResult)


def test_warehouse_api_is_pinned():
    import tasuki.warehouse

    assert sorted(tasuki.warehouse.__all__) == [
        "BigQueryWarehouse",
        "CheckedQuery",
        "DuckDBWarehouse",
        "Lineage",
        "Manifest",
        "PartInfo",
        "PostgresWarehouse",
        "QueryClient",
        "QueryResult",
        "QueryTask",
        "RedshiftWarehouse",
        "RemoteQueryResult",
        "TableTarget",
        "Warehouse",
        "WriteTableTask",
        "check_query",
        "connect",
        "read_lineage",
        "register",
    ]
    for name in tasuki.warehouse.__all__:
        assert getattr(tasuki.warehouse, name) is not None, name


def test_hook_events_are_pinned():
    """Hook events are keyword-only; each gives exactly these arguments (add, never remove)."""
    import inspect

    expected = {
        "on_build_start": ["build_id", "graph", "store", "settings"],
        "on_task_start": ["build_id", "task", "uid", "reason", "store"],
        "on_task_end": [
            "build_id",
            "task",
            "uid",
            "result",
            "record",
            "store",
            "resume_command",
        ],
        "on_build_end": ["build_id", "result", "store"],
    }
    for event, names in expected.items():
        params = list(inspect.signature(getattr(tasuki.Hook, event)).parameters.values())[1:]
        assert [p.name for p in params if p.kind is p.KEYWORD_ONLY] == names, event
        assert params[-1].kind is params[-1].VAR_KEYWORD, event
        assert all(p.kind in (p.KEYWORD_ONLY, p.VAR_KEYWORD) for p in params), event


def test_build_ids_and_failed_records_are_pinned():
    import dataclasses

    assert "build_id" in {f.name for f in dataclasses.fields(tasuki.BuildResult)}
    record_fields = [f.name for f in dataclasses.fields(tasuki.RunRecord)]
    assert record_fields == [
        "unique_id",
        "task",
        "params",
        "significant",
        "version",
        "requires",
        "outputs",
        "code_fingerprint",
        "status",
        "started_at",
        "finished_at",
        "duration_s",
        "task_log",
        "log_tail",
        "environment",
        "code_key",
        "schema",
        "build_id",
        "error",
        "metrics",
        "adopted",
        "exact",
        "inputs",
    ]
    assert isinstance(tasuki.RunRecord.done, property)
    assert isinstance(tasuki.RunRecord.state, property)


def test_team_sharing_packages_are_pinned_and_light():
    import subprocess
    import sys

    import tasuki.datasets
    import tasuki.lineage
    import tasuki.tracking
    import tasuki.zoo

    assert sorted(tasuki.datasets.__all__) == [
        "ColumnInfo", "DatasetBuilder", "DatasetInfo", "DatasetInput", "ResolvedVersion",
        "ShardInfo", "SplitInfo", "as_numpy_batches", "build", "builder_names", "even_splits",
        "find_builder", "info", "iter_batches", "list_datasets", "list_versions", "load",
        "register_builder", "resolve",
    ]  # fmt: skip
    assert sorted(tasuki.zoo.__all__) == [
        "AliasMove", "AliasNotFoundError", "CorruptModelError", "MirrorError", "MirrorWarning",
        "ModelLoadError", "ModelNotFoundError", "ModelVersion", "VersionNotFoundError", "Zoo",
        "ZooError", "ZooModel", "alias", "find", "history", "load", "ls", "mirror", "pull",
        "push", "show",
    ]  # fmt: skip
    assert sorted(tasuki.lineage.__all__) == [
        "Edge", "Lineage", "Node", "lineage", "to_json", "to_mermaid", "to_text",
    ]  # fmt: skip
    assert sorted(tasuki.tracking.__all__) == [
        "MlflowTracker", "TrackingStats", "register_tracker", "trackers",
    ]  # fmt: skip
    for module in (tasuki.datasets, tasuki.zoo, tasuki.lineage, tasuki.tracking):
        for name in module.__all__:
            assert getattr(module, name) is not None, (module.__name__, name)
    # Importing them pulls in no MLflow, pandas or pyarrow.dataset (a notebook pays on use).
    code = (
        "import sys, tasuki.datasets, tasuki.zoo, tasuki.tracking, tasuki.lineage; "
        "print(sorted(m for m in ('mlflow', 'pandas', 'pyarrow.dataset') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_catalog_web_project_and_contrib_are_pinned():
    import subprocess
    import sys

    import tasuki.catalog
    import tasuki.contrib.datasets
    import tasuki.contrib.evaluate
    import tasuki.contrib.recommend
    import tasuki.contrib.split
    import tasuki.project
    import tasuki.web

    assert sorted(tasuki.catalog.__all__) == [
        "Catalog", "CatalogObject", "ColumnMeta", "Edit", "Event", "LineageReport",
        "MAX_DESCRIPTION", "SearchHit", "SyncCatalogTask", "SyncReport", "TableMeta", "around",
        "downstream", "export_openlineage", "import_openlineage", "push_comments",
        "read_metadata", "record_query_read", "refresh_lineage", "sync", "table_key", "upstream",
    ]  # fmt: skip
    assert tasuki.web.__all__ == ["create_app"]
    assert sorted(tasuki.project.__all__) == [
        "Check", "NewProject", "UpdateResult", "check_package", "doctor", "materialize",
        "new_project", "template_versions", "update_project",
    ]  # fmt: skip
    assert sorted(tasuki.contrib.recommend.__all__) == [
        "ALSRecommender", "BPRRecommender", "FittedRecommender", "ItemKNNRecommender",
        "PopularityRecommender", "Recommender", "build_matrix",
    ]  # fmt: skip
    assert sorted(tasuki.contrib.split.__all__) == [
        "SplitInteractions", "check_interactions", "pick_output", "split_by_time",
        "split_leave_last_n", "split_random",
    ]  # fmt: skip
    assert sorted(tasuki.contrib.evaluate.__all__) == [
        "EvaluateRankings", "PngFormat", "auc", "log_loss", "metrics_chart", "ranking_metrics",
    ]  # fmt: skip
    for module in (tasuki.catalog, tasuki.web, tasuki.project, tasuki.contrib.recommend):
        for name in module.__all__:
            obj = getattr(module, name)
            assert obj is not None, (module.__name__, name)
            if callable(obj):
                assert obj.__doc__, (module.__name__, name)
    # `import tasuki` pulls in none of the catalog's, the web app's or contrib's libraries.
    code = (
        "import sys, tasuki; print(sorted(m for m in ('sqlalchemy', 'fastapi', 'jinja2', "
        "'authlib', 'sqlglot', 'implicit', 'copier') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_gokart_compat_is_pinned_and_light():
    import subprocess
    import sys

    import tasuki.compat.gokart as gokart
    import tasuki.compat.luigi as luigi

    assert sorted(gokart.__all__) == [
        "ExplicitBoolParameter", "GokartBuildError", "ListTaskInstanceParameter",
        "PandasTypeConfig", "PandasTypeError", "SerializableParameter", "TaskInstanceParameter",
        "TaskOnKart", "ZonedDateSecondParameter", "add_config", "build",
        "inherits_config_params", "make_task_info_as_tree_str", "make_tree_info", "run",
    ]  # fmt: skip
    import tasuki.compat

    assert tasuki.compat.__all__ == [
        "AdoptReport",
        "adopt_gokart",
        "gokart_params",
        "gokart_unique_id",
    ]
    for name in tasuki.compat.__all__:
        assert getattr(tasuki.compat, name).__doc__, name
    params = [n for n in luigi.__all__ if n.endswith("Parameter")]
    assert len(params) == 31 and "Config" in luigi.__all__
    assert {"build", "run", "configuration"} <= set(luigi.__all__)
    for module in (gokart, luigi):
        for name in module.__all__:
            obj = getattr(module, name)
            if callable(obj):
                assert obj.__doc__, (module.__name__, name)
    # The compat layer imports neither gokart nor luigi (they need not be installed), nor
    # libcst (only the codemod needs it).
    code = (
        "import sys, tasuki.compat.gokart, tasuki.compat.luigi; "
        "print(sorted(m for m in ('gokart', 'luigi', 'libcst', 'pandas') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_target_methods_are_pinned():
    public = sorted(n for n in vars(tasuki.Target) if not n.startswith("_"))
    assert public == [
        "claim",
        "dump",
        "exists",
        "in_store",
        "info",
        "load",
        "recorded_code_key",
        "remove",
        "touches",
        "touches_any_schema",
    ]
