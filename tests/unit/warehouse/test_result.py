"""Rolling Parquet parts, the manifest, and reading results back."""

from __future__ import annotations

import dataclasses
import decimal
import json
import shutil
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tasuki.errors import WarehouseError
from tasuki.warehouse import Manifest, QueryResult, _parts
from tasuki.warehouse._arrow import INTERVAL_STRUCT, Conformer
from tasuki.warehouse._common import utcnow
from tasuki.warehouse._memory import read_pool
from tasuki.warehouse._parts import PartsRoot, PartWriter
from tasuki.warehouse._result import PartInfo, new_query_id


def _batches(rows: int, size: int) -> list[pa.RecordBatch]:
    out = []
    for start in range(0, rows, size):
        n = min(size, rows - start)
        out.append(
            pa.record_batch(
                {
                    "id": pa.array(range(start, start + n), pa.int64()),
                    "s": pa.array(
                        [
                            "" if i % 3 == 0 else None if i % 3 == 1 else f"v{i}"
                            for i in range(start, start + n)
                        ]
                    ),
                }
            )
        )
    return out


def _result(tmp_path: Path, batches: list[pa.RecordBatch], **writer: object) -> QueryResult:
    directory = str(tmp_path / "q1")
    w = PartWriter(directory, batches[0].schema, **writer)  # type: ignore[arg-type]
    for b in batches:
        w.write(b)
    parts = w.close()
    manifest = Manifest(
        query_id="q1",
        backend="test",
        sql="SELECT 1",
        schema=w.schema,
        parts=tuple(parts),
        snapshot_at=utcnow(),
        finished_at=utcnow(),
        location=directory,
    )
    return QueryResult(manifest)


@pytest.mark.parametrize("threaded", [True, False])
def test_parts_roll_at_the_row_limit(tmp_path: Path, threaded: bool) -> None:
    result = _result(tmp_path, _batches(2_500, 300), part_rows=1_000, threaded=threaded)
    assert [p.rows for p in result.parts] == [1_000, 1_000, 500]
    assert result.num_rows == 2_500
    for part in result.parts:
        meta = pq.ParquetFile(part.path).metadata
        assert meta.num_rows == part.rows
        assert meta.row_group(0).column(0).compression == "ZSTD"
        assert Path(part.path).stat().st_size == part.bytes
    assert [p.path.rsplit("/", 1)[1] for p in result.parts] == [
        "part-00000.parquet",
        "part-00001.parquet",
        "part-00002.parquet",
    ]


def test_parts_roll_at_the_byte_limit(tmp_path: Path) -> None:
    batches = _batches(2_000, 100)
    result = _result(tmp_path, batches, part_bytes=batches[0].nbytes * 5)
    assert len(result.parts) == 4
    assert sum(p.rows for p in result.parts) == 2_000


def test_reading_back_keeps_order_nulls_and_empty_strings(tmp_path: Path) -> None:
    result = _result(tmp_path, _batches(1_000, 128), part_rows=300)
    table = result.to_arrow()
    assert table.column("id").to_pylist() == list(range(1_000))
    values = table.column("s").to_pylist()
    assert values[0] == "" and values[1] is None and values[2] == "v2"
    sizes = [b.num_rows for b in result.iter_batches(batch_size=64)]
    assert max(sizes) <= 64 and sum(sizes) == 1_000
    rows = list(result.iter_rows(columns=["s"]))
    assert rows[:3] == [{"s": ""}, {"s": None}, {"s": "v2"}]
    frame = result.to_pandas()
    assert frame["s"].iloc[0] == "" and frame["s"].isna().tolist()[:3] == [False, True, False]
    polars = result.to_polars()
    assert polars["s"].to_list()[:3] == ["", None, "v2"]


def test_reading_back_keeps_order_across_many_parts_and_row_groups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_parts, "ROW_GROUP_ROWS", 50)  # many row groups, scanned in parallel
    result = _result(tmp_path, _batches(20_000, 37), part_rows=1_000)
    assert len(result.parts) == 20
    assert pq.ParquetFile(result.parts[0].path).num_row_groups >= 10
    assert result.to_arrow().column("id").to_pylist() == list(range(20_000))
    assert result.to_arrow(columns=["s"]).column_names == ["s"]


def test_parts_on_two_file_systems_read_back_in_order(tmp_path: Path) -> None:
    fsspec = pytest.importorskip("fsspec")
    result = _result(tmp_path, _batches(1_000, 100), part_rows=250)
    memory = fsspec.filesystem("memory")
    moved = []
    for i, part in enumerate(result.parts):
        if i % 2:  # every other part lives in fsspec's memory file system
            url = f"memory://tasuki-test-{new_query_id()}/{i}.parquet"
            memory.pipe(url, Path(part.path).read_bytes())
            part = PartInfo(path=url, rows=part.rows, bytes=part.bytes)
        moved.append(part)
    mixed = QueryResult(dataclasses.replace(result.manifest, parts=tuple(moved)))
    assert mixed.to_arrow().column("id").to_pylist() == list(range(1_000))


def test_reads_allocate_from_a_pool_without_huge_pages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    read_pool.cache_clear()
    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    try:
        assert read_pool().backend_name in ("jemalloc", "system")
        result = _result(tmp_path, _batches(10, 10))
        system = pa.system_memory_pool()
        assert result.to_pandas(memory_pool=system)["id"].tolist() == list(range(10))
        read_pool.cache_clear()
        monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", "mimalloc")  # the user's choice wins
        assert read_pool() is pa.default_memory_pool() or (
            read_pool().backend_name == pa.default_memory_pool().backend_name
        )
    finally:
        read_pool.cache_clear()


def test_an_empty_result_keeps_its_schema(tmp_path: Path) -> None:
    schema = pa.schema([("a", pa.int64()), ("b", pa.string())])
    w = PartWriter(str(tmp_path / "q"), schema)
    w.write(pa.record_batch([pa.array([], pa.int64()), pa.array([], pa.string())], schema=schema))
    assert w.close() == []
    manifest = Manifest("q", "test", "SELECT", w.schema, (), utcnow(), utcnow(), str(tmp_path))
    result = QueryResult(manifest)
    assert result.to_arrow().schema == schema and result.num_rows == 0
    assert list(result.iter_batches()) == []
    assert result.to_arrow(columns=["b"]).column_names == ["b"]


def test_manifest_round_trips_and_the_folder_can_move(tmp_path: Path) -> None:
    result = _result(tmp_path, _batches(500, 100), part_rows=200)
    path = result.save_manifest()
    before = result.to_arrow()
    data = json.loads(Path(path).read_text())
    assert data["total_rows"] == 500 and data["parts"][0]["path"] == "part-00000.parquet"
    assert data["schema"]["fields"][0] == {"name": "id", "type": "int64", "nullable": True}
    moved = tmp_path / "elsewhere"
    shutil.move(str(tmp_path / "q1"), moved)
    again = QueryResult.from_manifest(str(moved / "_manifest.json"))
    assert again.schema == result.schema
    assert again.to_arrow().equals(before)
    assert again.manifest.total_bytes == result.manifest.total_bytes
    assert again.manifest.snapshot_at == result.manifest.snapshot_at


def test_a_manifest_saved_elsewhere_names_its_parts_absolutely(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _result(tmp_path, _batches(500, 100), part_rows=200)
    before = result.to_arrow()
    # In place: relative part paths (the folder stays movable).
    in_place = json.loads(Path(result.save_manifest()).read_text())
    assert in_place["parts"][0]["path"] == "part-00000.parquet"
    # Elsewhere: absolute part paths, which the copy resolves from its own place.
    other = tmp_path / "catalog" / "q1.json"
    assert result.save_manifest(str(other)) == str(other)
    data = json.loads(other.read_text())
    assert data["parts"][0]["path"] == str(tmp_path / "q1" / "part-00000.parquet")
    assert data["location"] == str(tmp_path / "q1")
    again = QueryResult.from_manifest(str(other))
    assert again.to_arrow().equals(before)
    assert [p.rows for p in again.parts] == [p.rows for p in result.parts]
    # A result opened through a relative path is saved elsewhere with absolute paths too,
    # so it still opens after the working directory changes.
    monkeypatch.chdir(tmp_path)
    relative = QueryResult.from_manifest("q1/_manifest.json")
    assert relative.parts[0].path == "q1/part-00000.parquet"
    relative.save_manifest(str(tmp_path / "catalog" / "rel.json"))
    monkeypatch.chdir(tmp_path / "catalog")
    assert QueryResult.from_manifest("rel.json").to_arrow().equals(before)
    # Saving a reopened result back into its own folder keeps relative paths.
    in_folder = QueryResult.from_manifest(str(tmp_path / "q1" / "_manifest.json"))
    in_folder.save_manifest(str(tmp_path / "q1" / "_manifest.json"))
    kept = json.loads((tmp_path / "q1" / "_manifest.json").read_text())
    assert kept["parts"][0]["path"] == "part-00000.parquet"


def test_from_manifest_refuses_other_files(tmp_path: Path) -> None:
    (tmp_path / "m.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(WarehouseError, match="not a tasuki query manifest"):
        QueryResult.from_manifest(str(tmp_path / "m.json"))
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(WarehouseError, match="not a JSON query manifest"):
        QueryResult.from_manifest(str(tmp_path / "bad.json"))
    with pytest.raises(FileNotFoundError):
        QueryResult.from_manifest(str(tmp_path / "missing.json"))


def test_abort_removes_what_was_written(tmp_path: Path) -> None:
    w = PartWriter(str(tmp_path / "q"), _batches(10, 10)[0].schema, part_rows=3)
    for b in _batches(10, 2):
        w.write(b)
    w.abort()
    assert not (tmp_path / "q").exists()


def test_writer_errors_reach_the_producer(tmp_path: Path) -> None:
    source = pa.schema([pa.field("n", pa.string())])
    w = PartWriter(str(tmp_path / "q"), source)
    bad = pa.record_batch([pa.array([1, 2])], names=["other"])  # wrong schema
    w.write(bad)
    with pytest.raises(pa.ArrowInvalid, match="Schema at index 0 was different"):
        w.close()
    w.abort()
    assert not (tmp_path / "q").exists()


def test_writer_thread_errors_reach_the_producer_on_its_next_write(tmp_path: Path) -> None:
    # part_rows=1 makes the writer thread flush, and fail, on the first batch: the producer must
    # hear of it on a later write, not carry on feeding a dead writer until close.
    source = pa.schema([pa.field("n", pa.string())])
    w = PartWriter(str(tmp_path / "q"), source, part_rows=1)
    bad = pa.record_batch([pa.array([1, 2])], names=["other"])
    deadline = time.monotonic() + 30  # a bound: the thread fails within milliseconds
    with pytest.raises(pa.ArrowInvalid, match="Schema at index 0 was different"):
        while time.monotonic() < deadline:
            w.write(bad)
            time.sleep(0.01)
    w.abort()
    assert not (tmp_path / "q").exists()


def test_invalid_limits_are_refused(tmp_path: Path) -> None:
    with pytest.raises(WarehouseError, match="must be positive"):
        PartWriter(str(tmp_path / "q"), pa.schema([("a", pa.int8())]), part_rows=0)


def test_parts_root_owns_only_its_temporary_directory(tmp_path: Path) -> None:
    own = PartsRoot(None, None)
    temp = Path(own.url)
    assert temp.is_dir()
    own.cleanup()
    assert not temp.exists()
    given = PartsRoot(tmp_path / "keep", None)
    assert given.query_dir("x") == str(tmp_path / "keep" / "x")
    given.cleanup()
    assert tmp_path.exists()


def test_query_ids_are_unique_and_sort_by_time() -> None:
    ids = [new_query_id() for _ in range(50)]
    assert len(set(ids)) == 50
    assert all(len(i.split("-")[0]) == 15 for i in ids)


# -- type conformance -------------------------------------------------------------------------


def _numeric_field(name: str, typmod: int) -> pa.Field:
    typ = pa.opaque(pa.string(), "numeric", "PostgreSQL")
    return pa.field(name, typ, metadata={"POSTGRESQL:typmod": str(typmod)})


def test_numeric_with_precision_becomes_decimal_else_string() -> None:
    fields = [
        _numeric_field("money", ((12 << 16) | 2) + 4),
        _numeric_field("free", -1),
        _numeric_field("huge", ((50 << 16) | 2) + 4),
    ]
    conformer = Conformer(pa.schema(fields))
    assert conformer.schema.field("money").type == pa.decimal128(12, 2)
    assert conformer.schema.field("free").type == pa.string()
    assert conformer.schema.field("huge").type == pa.string()
    storage = pa.array(["1.50", None, "-3.25"])
    batch = pa.RecordBatch.from_arrays(
        [pa.ExtensionArray.from_storage(f.type, storage) for f in fields],
        schema=pa.schema(fields),
    )
    out = conformer.convert(batch)
    assert out.column("money").to_pylist() == [
        decimal.Decimal("1.50"),
        None,
        decimal.Decimal("-3.25"),
    ]
    assert out.column("free").to_pylist() == ["1.50", None, "-3.25"]


def test_a_value_that_does_not_fit_the_decimal_is_named() -> None:
    field = _numeric_field("price", ((12 << 16) | 2) + 4)
    batch = pa.RecordBatch.from_arrays(
        [pa.ExtensionArray.from_storage(field.type, pa.array(["1.00", "NaN"]))],
        schema=pa.schema([field]),
    )
    with pytest.raises(WarehouseError, match=r"'NaN'.*price::text"):
        Conformer(batch.schema).convert(batch)


def test_json_intervals_and_lists_of_extension_types() -> None:
    json_type = pa.json_()
    numeric = pa.opaque(pa.string(), "numeric", "PostgreSQL")
    schema = pa.schema(
        [
            ("j", json_type),
            ("i", pa.month_day_nano_interval()),
            ("l", pa.list_(numeric)),
            ("v", pa.string_view()),
        ]
    )
    conformer = Conformer(schema)
    assert conformer.schema.types == [
        pa.string(),
        INTERVAL_STRUCT,
        pa.list_(pa.string()),
        pa.string(),
    ]
    values = pa.ExtensionArray.from_storage(numeric, pa.array(["1", "2", "3"]))
    batch = pa.RecordBatch.from_arrays(
        [
            pa.ExtensionArray.from_storage(json_type, pa.array(['{"a": 1}', None])),
            pa.array([pa.MonthDayNano([1, 2, 3]), None], pa.month_day_nano_interval()),
            pa.ListArray.from_arrays(pa.array([0, 2, 3]), values),
            pa.array(["x", None], pa.string_view()),
        ],
        schema=schema,
    ).slice(0, 2)
    out = conformer.convert(batch)
    assert out.to_pylist() == [
        {
            "j": '{"a": 1}',
            "i": {"months": 1, "days": 2, "nanoseconds": 3},
            "l": ["1", "2"],
            "v": "x",
        },
        {"j": None, "i": None, "l": ["3"], "v": None},
    ]


def test_dictionary_encoding_only_for_repetitive_text(tmp_path: Path) -> None:
    n = 40_000
    batch = pa.record_batch(
        {
            "status": pa.array(["open", "closed", "pending", None] * (n // 4)),
            "token": pa.array([f"t{i:08d}" for i in range(n)]),
            "empty": pa.array([None] * n, pa.string()),
        }
    )
    writer = PartWriter(str(tmp_path / "q"), batch.schema, threaded=False)
    writer.write(batch)
    (part,) = writer.close()
    columns = pq.ParquetFile(part.path).metadata.row_group(0)
    encodings = {columns.column(i).path_in_schema: columns.column(i).encodings for i in range(3)}
    assert "RLE_DICTIONARY" in encodings["status"]
    assert "RLE_DICTIONARY" not in encodings["token"]
    assert "RLE_DICTIONARY" not in encodings["empty"]
    assert pq.read_table(part.path).equals(pa.Table.from_batches([batch]))
