"""Google BigQuery: ``EXPORT DATA ... format='PARQUET'`` to GCS, then read the parts;
``write_table`` goes the other way, Parquet parts on GCS then ``LOAD DATA``."""

from __future__ import annotations

import concurrent.futures
import logging
import re
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from sqlglot import exp

from tasuki.errors import (
    ConfigError,
    PermissionDeniedError,
    QuerySyntaxError,
    QueryTimeoutError,
    TableNotFoundError,
    WarehouseConnectionError,
    WarehouseError,
)
from tasuki.warehouse._common import (
    DEFAULT_TIMEOUT,
    BaseWarehouse,
    check_timeout,
    timeout_ms,
    utcnow,
)
from tasuki.warehouse._fs import filesystem, join_url
from tasuki.warehouse._parts import DEFAULT_PART_BYTES, DEFAULT_PART_ROWS
from tasuki.warehouse._result import QueryResult, new_query_id
from tasuki.warehouse._staged import describe_parts
from tasuki.warehouse._write import (
    as_reader,
    check_lineage,
    check_mode,
    for_loading,
    remove_staged,
    stage_parts,
    staging_name,
)
from tasuki.warehouse.bigquery._write import (
    bigquery_table,
    create_dataset_sql,
    dataset_exists,
    guard_error,
    load_sql,
    schema_of,
    write_script,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from tasuki.warehouse._safety import CheckedQuery
    from tasuki.warehouse.base import Lineage, Params, WriteMode

__all__ = ["BigQueryWarehouse", "export_sql"]

logger = logging.getLogger(__name__)

PART_PATTERN = "part-*.parquet"
_POSITION = re.compile(r"at \[(\d+):(\d+)\]")


def export_sql(select_sql: str, uri: str) -> str:
    """``EXPORT DATA OPTIONS(uri=..., format='PARQUET', ...) AS <select>``.

    ``uri`` must contain one ``*``, which BigQuery replaces with a 12-digit file number.
    """
    literal = exp.Literal.string(uri).sql("bigquery")
    return (
        f"EXPORT DATA OPTIONS(uri={literal}, format='PARQUET', compression='ZSTD', "
        f"overwrite=true) AS {select_sql}"
    )


class BigQueryWarehouse(BaseWarehouse):
    """BigQuery as a warehouse: each query becomes one ``EXPORT DATA`` job.

    BigQuery writes the result in parallel as zstd Parquet files under
    ``<gcs_staging>/<query_id>/``; the files are then listed and their Parquet footers read
    for row counts. Unqualified table names are qualified with the URL's project and
    dataset. Parameters are rendered as SQL literals by sqlglot (the same rule as Redshift's
    UNLOAD), so values are quoted by the dialect's rules.

    Args:
        project: The Google Cloud project that runs (and pays for) the jobs.
        dataset: Default dataset for unqualified table names.
        gcs_staging: ``gs://bucket/prefix`` for the exported parts (any fsspec URL the
            client can also read, e.g. for tests).
        timeout: Default job timeout in seconds.
        allow_functions: Function names to allow beyond the dialect's allow list (the
            warehouse's own read-only functions); a name refused on every warehouse is
            an error here. See :func:`tasuki.warehouse.check_query`.
        storage_options: fsspec options for reading ``gcs_staging``.
        client: A ``google.cloud.bigquery.Client`` (or anything with ``query(sql,
            job_config=...)`` returning a job with ``result(timeout=...)``); default: a new
            client for ``project``.
        location: BigQuery location for jobs (``"US"``, ``"EU"``, ...).
        part_rows: Rows per Parquet part ``write_table`` stages for ``LOAD DATA``.
        part_bytes: Arrow bytes per staged part.

    ``write_table`` also needs ``client.get_table(ref)`` (to compare the target's columns
    with the data's).
    """

    backend = "bigquery"
    dialect = "bigquery"

    def __init__(
        self,
        project: str,
        dataset: str | None = None,
        *,
        gcs_staging: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        storage_options: Mapping[str, Any] | None = None,
        client: Any = None,
        location: str | None = None,
        part_rows: int = DEFAULT_PART_ROWS,
        part_bytes: int = DEFAULT_PART_BYTES,
        allow_functions: Iterable[str] = (),
    ) -> None:
        if not project:
            raise ConfigError("BigQuery needs a project: bigquery://project/dataset")
        if not gcs_staging or "://" not in gcs_staging:
            raise ConfigError(
                f"BigQuery needs gcs_staging='gs://bucket/prefix' for EXPORT DATA, got "
                f"{gcs_staging!r}",
                gcs_staging=gcs_staging,
            )
        self.project = project
        self.dataset = dataset or None
        self.gcs_staging = gcs_staging.rstrip("/")
        self.timeout = check_timeout(timeout, DEFAULT_TIMEOUT)
        self._allow(allow_functions)
        self.storage_options = dict(storage_options or {})
        self.location = location
        self.part_rows = part_rows
        self.part_bytes = part_bytes
        self._client = client

    @classmethod
    def from_url(
        cls, url: str, *, parts_dir: str | None = None, **options: Any
    ) -> BigQueryWarehouse:
        """``bigquery://project/dataset``; ``parts_dir`` may stand for ``gcs_staging``."""
        rest = url.split("://", 1)[1]
        project, _, dataset = rest.strip("/").partition("/")
        if parts_dir is not None:
            options.setdefault("gcs_staging", parts_dir)
        return cls(project, dataset or None, **options)

    @property
    def url(self) -> str:
        """The warehouse URL."""
        return f"bigquery://{self.project}/{self.dataset or ''}".rstrip("/")

    def __repr__(self) -> str:
        return f"BigQueryWarehouse({self.url!r}, gcs_staging={self.gcs_staging!r})"

    def export_statement(self, sql: str, params: Params | None = None, *, query_id: str) -> str:
        """The EXPORT DATA statement :meth:`query` would send (for review and tests)."""
        checked = self._check(sql)
        return self._statement(checked, params, join_url(self.gcs_staging, query_id))

    def query(
        self, sql: str, params: Params | None = None, *, timeout: float | None = None
    ) -> QueryResult:
        """Run one read-only query as an EXPORT DATA job; see :meth:`Warehouse.query`."""
        checked = self._check(sql)
        seconds = check_timeout(timeout, self.timeout)
        query_id = new_query_id()
        location = join_url(self.gcs_staging, query_id)
        statement = self._statement(checked, params, location)
        snapshot_at = utcnow()
        self._run(statement, seconds)
        fs, path = filesystem(location, self.storage_options)
        from pyarrow.fs import FileSelector

        try:
            infos = fs.get_file_info(FileSelector(path, allow_not_found=True))
        except FileNotFoundError:
            infos = []
        names = sorted(
            i.path.rsplit("/", 1)[-1]
            for i in infos
            if i.path.endswith(".parquet") and i.path.rsplit("/", 1)[-1].startswith("part-")
        )
        urls = [join_url(location, name) for name in names]
        parts, schema = describe_parts(urls, self.storage_options)
        return self._result(
            query_id=query_id,
            checked=checked,
            params=params,
            schema=schema if schema is not None else pa.schema([]),
            parts=parts,
            location=location,
            snapshot_at=snapshot_at,
            storage_options=self.storage_options,
        )

    def write_table(
        self,
        name: str,
        data: Any,
        *,
        mode: WriteMode = "replace",
        key: Sequence[str] | None = None,
        lineage: Lineage | None = None,
    ) -> int:
        """Load ``data`` into ``name`` through GCS: Parquet parts, ``LOAD DATA``, one
        transaction.

        The data is written as zstd Parquet parts under ``<gcs_staging>/write-<id>/``,
        loaded into a staging table in the target's dataset with ``LOAD DATA OVERWRITE ...
        FROM FILES(format = 'PARQUET', ...)``, then replaced (``TRUNCATE`` + ``INSERT``),
        appended or merged (matching ``key`` rows deleted, staging rows inserted) together
        with the ``lineage`` row in ``BEGIN TRANSACTION; ... COMMIT TRANSACTION;``. A
        failing statement rolls the transaction back. The staging table and the parts are
        removed afterwards either way. See :mod:`tasuki.warehouse.bigquery._write`.

        Args:
            name: ``table``, ``dataset.table`` or ``project.dataset.table``.
            data: Arrow table / batch / reader, pandas or polars DataFrame, QueryResult.
            mode: ``"replace"``, ``"append"`` or ``"merge"``.
            key: Key columns for ``"merge"``.
            lineage: A ``tasuki_lineage`` row (in the target's dataset) to write in the
                same transaction.

        Returns:
            Rows written.

        Raises:
            WarehouseError: Bad arguments, an append this lineage already made, or BigQuery
                refused a job.
        """
        lineage = check_lineage(lineage, name)
        reader = for_loading(as_reader(data))
        keys = check_mode(mode, key, reader.schema.names)
        target = bigquery_table(name, self.project, self.dataset)
        stage = staging_name(target)
        location = join_url(self.gcs_staging, f"write-{new_query_id()}")
        client = self._get_client()
        parts, schema = stage_parts(
            reader,
            location,
            self.storage_options,
            table=name,
            part_rows=self.part_rows,
            part_bytes=self.part_bytes,
        )
        rows = sum(p.rows for p in parts)
        loaded = False
        try:
            if not parts:
                # LOAD DATA takes its schema from the files: an empty write stages one
                # empty part so the staging (and a new target) table gets the columns.
                _empty_part(join_url(location, "part-00000.parquet"), schema, self)
            if target.args["db"].name != self.dataset and not dataset_exists(client, target):
                # A dataset named in ``name`` is created when missing, as migrate creates a
                # schema; the URL's own dataset is taken to exist.
                self._job(create_dataset_sql(target, self.location), name, lineage)
            loaded = True
            self._job(load_sql(stage, join_url(location, "part-*.parquet")), name, lineage)
            target_columns = schema_of(client, target)
            script = write_script(
                target=target,
                stage=stage,
                columns=schema.names,
                mode=mode,
                keys=keys,
                target_exists=target_columns is not None,
                same_columns=target_columns == schema_of(client, stage),
                lineage=lineage,
                rows=rows,
            )
            self._job(script, name, lineage)
        finally:
            if loaded:
                self._drop_quietly(stage)
            remove_staged(location, self.storage_options)
        logger.debug("wrote %d rows to %s (%s) through %s", rows, name, mode, location)
        return rows

    def _job(self, statement: str, table: str, lineage: Lineage | None) -> None:
        """Run one write job to completion, translating its failure."""
        client = self._get_client()
        job = None
        try:
            job = client.query(statement, job_config=_job_config(self.timeout))
            job.result(timeout=self.timeout)
        except concurrent.futures.TimeoutError as exc:
            _cancel_quietly(job)
            raise QueryTimeoutError(
                f"writing {table!r} to BigQuery ran past the timeout of {self.timeout:g} s; "
                "the job was cancelled and its transaction rolled back",
                timeout=self.timeout,
                table=table,
            ) from exc
        except Exception as exc:
            guarded = guard_error(exc, lineage)
            if guarded is not None:
                raise guarded from exc
            error = _translate(exc, statement)
            if isinstance(error, QuerySyntaxError):  # BadRequest: the write was refused
                first = str(exc).strip().split("\n", 1)[0]
                raise WarehouseError(
                    f"BigQuery refused the write to {table!r}: {first}",
                    table=table,
                    statement=statement,
                ) from exc
            raise error from exc

    def _drop_quietly(self, stage: exp.Table) -> None:
        try:
            job = self._get_client().query(
                f"DROP TABLE IF EXISTS {stage.sql('bigquery', identify=True)}",
                job_config=_job_config(self.timeout),
            )
            job.result(timeout=self.timeout)
        except Exception:  # it expires by itself within a day (set in the write script)
            logger.warning("could not drop the staging table %s", stage.sql("bigquery"))

    def _statement(self, checked: CheckedQuery, params: Params | None, location: str) -> str:
        tree = checked.expression
        if self.dataset:
            from sqlglot.optimizer.qualify_tables import qualify_tables

            tree = qualify_tables(
                tree.copy(), db=self.dataset, catalog=self.project, dialect="bigquery"
            )
        select = checked.render(params, expression=tree)
        return export_sql(select, join_url(location, PART_PATTERN))

    def _run(self, statement: str, seconds: float) -> None:
        client = self._get_client()
        job = None
        try:
            job = client.query(statement, job_config=_job_config(seconds))
            job.result(timeout=seconds)
        except concurrent.futures.TimeoutError as exc:
            _cancel_quietly(job)
            raise QueryTimeoutError(
                f"the BigQuery export ran past its timeout of {seconds:g} s and was cancelled",
                timeout=seconds,
            ) from exc
        except Exception as exc:
            raise _translate(exc, statement) from exc

    def _get_client(self) -> Any:
        if self._client is None:
            try:
                from google.cloud import bigquery
            except ImportError as exc:
                raise ConfigError(
                    "the BigQuery backend needs google-cloud-bigquery: pip install "
                    "google-cloud-bigquery gcsfs (or pass client=)",
                    missing="google-cloud-bigquery",
                ) from exc
            self._client = bigquery.Client(project=self.project, location=self.location)
        return self._client


def _empty_part(url: str, schema: pa.Schema, wh: BigQueryWarehouse) -> None:
    import pyarrow.parquet as pq

    fs, path = filesystem(url, wh.storage_options)
    with fs.open_output_stream(path) as out:
        pq.write_table(schema.empty_table(), out, compression="zstd")


def _job_config(seconds: float) -> Any:
    try:
        from google.cloud import bigquery
    except ImportError:
        return None
    return bigquery.QueryJobConfig(job_timeout_ms=timeout_ms(seconds))


def _cancel_quietly(job: Any) -> None:
    try:
        if job is not None:
            job.cancel()
    except Exception:
        logger.debug("cancelling the BigQuery job failed", exc_info=True)


def _translate(exc: Exception, statement: str) -> WarehouseError:
    """google.api_core errors by class name (the SDK is optional)."""
    name = type(exc).__name__
    text = str(exc)
    first = text.strip().split("\n", 1)[0]
    if name == "NotFound":
        table = re.search(r"Table ([\w.:-]+)", text)
        return TableNotFoundError(f"BigQuery: {first}", table=table.group(1) if table else None)
    if name in ("Forbidden", "PermissionDenied", "Unauthorized"):
        return PermissionDeniedError(f"BigQuery refused: {first}")
    if name in ("DeadlineExceeded",):
        return QueryTimeoutError(f"BigQuery: {first}")
    if name in ("ServiceUnavailable", "TransportError", "ConnectionError", "RetryError"):
        return WarehouseConnectionError(f"BigQuery could not be reached: {first}")
    if name == "BadRequest":
        match = _POSITION.search(text)
        if match:
            line, column = int(match.group(1)), int(match.group(2))
            return QuerySyntaxError(
                f"BigQuery rejected the query: {first}", line=line, column=column
            )
        return QuerySyntaxError(f"BigQuery rejected the query: {first}", line=None, column=None)
    return WarehouseError(f"BigQuery error ({name}): {first}", statement=statement)
