"""``load``, ``iter_batches`` and ``as_numpy_batches``: a published split, read like ``tfds.load``.

What is read: the shards the split expression touches (each shard's row count is in the
``dataset_info.json``, so ``train[:10%]`` of a 100-shard split opens about ten), only the
columns asked for (plus those the filter needs), and of a shard that a slice starts or
stops inside, only the row groups holding its rows. Without a filter each shard is read
with ``pyarrow.parquet`` (memory-mapped when local); with one, through ``pyarrow.dataset``
over exactly those files, the filter pushed down to the row groups' statistics. The split
is the first: importing ``pyarrow.dataset`` (or converting a filter's Python values) makes
pyarrow import pandas, about a second and 100 MB in a fresh process, which a plain load to
Arrow never pays. NumPy batches pay it too (pyarrow checks for pandas when it converts to
NumPy).

A plain ``load`` (no filter) reads whole shards through the local cache of decoded shards
(:mod:`tasuki.datasets._arrow_cache`): mapped Arrow IPC files, written the first time a shard
whose hash was checked is read. Streaming and filtered reads use the Parquet shards.

A slice selects rows of the split first; the filter then keeps the rows of that selection
that match (``train[:80%]`` with a filter is "the matching rows among the first 80 %", so
train and test stay disjoint whatever the filter).

Integrity: every shard read is checked against the ``dataset_info.json``: its size on every
read, and its xxh3-128 content hash the first time this process reads it (``verify="once"``,
the default: hashing a memory-mapped local file runs at several GB/s, about a tenth of the
cost of reading it into Arrow; the benchmark measures it). ``verify="always"`` hashes on
every read; ``verify="size"`` never hashes (on a bucket, hashing downloads the whole shard
even when two columns of ten are read). A shard that fails is a :class:`CorruptOutputError`
naming the shard, the dataset version and the fix.
"""

from __future__ import annotations

import logging
import mmap
import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import xxhash

from tasuki.datasets._arrow_cache import cached_table, entry_stamp, write_entry
from tasuki.datasets._info import DatasetInfo, ShardInfo, shard_path
from tasuki.datasets._location import RegistryFiles
from tasuki.datasets._splits import parse_split, resolve_split, shard_ranges
from tasuki.datasets._versions import ResolvedVersion, read_info, resolve
from tasuki.errors import ConfigError, CorruptOutputError

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.dataset as ds

__all__ = ["iter_batches", "load"]

logger = logging.getLogger(__name__)

Verify = Literal["once", "always", "size"]
As = Literal["arrow", "pandas", "polars"]
_VERIFY = ("once", "always", "size")
_AS = ("arrow", "pandas", "polars")
_KEEP = "__tasuki_keep__"

# Shards whose hash this process has checked: (path, size, mtime_ns) locally, (path, size)
# remotely. A local file replaced or rewritten in place changes its mtime and is hashed again.
_verified: set[tuple[Any, ...]] = set()
_verified_lock = threading.Lock()
# Content hashes of the shards this process hashed and found right: the only shards whose
# decoded tables go into the local Arrow cache (tasuki.datasets._arrow_cache).
_hashed: set[str] = set()


@dataclass(frozen=True)
class _Piece:
    """Rows ``[lo, hi)`` of one shard."""

    shard: ShardInfo
    path: str
    lo: int
    hi: int

    @property
    def whole(self) -> bool:
        return self.lo == 0 and self.hi == self.shard.rows


@dataclass
class _Plan:
    """What one load reads: the version, its shards' pieces in order, columns and filter."""

    version: ResolvedVersion
    info: DatasetInfo
    files: RegistryFiles
    split: str
    pieces: list[_Piece]
    columns: list[str] | None
    filter: ds.Expression | None
    verify: str = "once"
    cache: bool = False
    """Read whole shards from the local Arrow cache (``load``; streaming reads row groups)."""
    stamps: dict[str, str] = field(default_factory=dict)
    """Each shard file's size and modification time, as checked (for the cache entries)."""

    @property
    def rows_selected(self) -> int:
        return sum(p.hi - p.lo for p in self.pieces)


def _plan(
    ref: str | ResolvedVersion,
    split: str,
    *,
    columns: Sequence[str] | None,
    filter: Any,
    config: str | None,
    registry: str | os.PathLike[str] | None,
    verify: str,
    cache: bool = False,
) -> _Plan:
    if verify not in _VERIFY:
        raise ConfigError(
            f"verify={verify!r} is not one of {', '.join(map(repr, _VERIFY))}: 'once' hashes "
            "each shard the first time this process reads it, 'always' on every read, "
            "'size' checks sizes only",
            verify=verify,
        )
    parsed = parse_split(split)  # a malformed split fails before any file is touched
    version = (
        ref if isinstance(ref, ResolvedVersion) else resolve(ref, config=config, registry=registry)
    )
    files = RegistryFiles(version.registry)
    info = read_info(version, files)
    ranges = resolve_split(parsed, info.rows)
    pieces = []
    for name, start, stop in ranges:
        shards = info.splits[name].shards
        for index, lo, hi in shard_ranges([s.rows for s in shards], start, stop):
            shard = shards[index]
            path = shard_path(files.root, version.name, version.config, shard.hash)
            pieces.append(_Piece(shard, path, lo, hi))
    wanted = _check_columns(columns, info, version)
    expression = _filter_expression(filter, info, version)
    cached = cache and expression is None and verify != "always"
    plan = _Plan(version, info, files, split, pieces, wanted, expression, verify, cached)
    _verify(plan, verify)
    return plan


def _check_columns(
    columns: Sequence[str] | None, info: DatasetInfo, version: ResolvedVersion
) -> list[str] | None:
    if columns is None:
        return None
    if isinstance(columns, str):
        columns = [columns]
    known = list(info.columns)
    unknown = [c for c in columns if c not in info.columns]
    if unknown:
        import difflib

        hints = [h for c in unknown for h in difflib.get_close_matches(c, known, n=1)]
        hint = f" Did you mean {', '.join(map(repr, hints))}?" if hints else ""
        raise ConfigError(
            f"dataset {version.ref} has no column {', '.join(map(repr, unknown))}.{hint} "
            f"Its columns: {', '.join(known)}.",
            dataset=version.name,
            version=version.version,
            columns=unknown,
        )
    return list(columns)


_OPS = ("=", "==", "!=", "<", ">", "<=", ">=", "in", "not in")


def _filter_expression(filter: Any, info: DatasetInfo, version: ResolvedVersion) -> Any:
    """``filter`` as a pyarrow expression: one given as is, or a DNF list
    (``[("col", ">", 3), ...]`` ANDed; a list of such lists ORed) converted."""
    if filter is None:
        return None
    import pyarrow.dataset as ds

    if isinstance(filter, ds.Expression):
        return filter
    if not isinstance(filter, list | tuple) or not filter:
        raise ConfigError(
            f"filter must be a pyarrow expression (pyarrow.dataset.field('x') > 3) or a "
            f"non-empty list of (column, op, value) tuples, got {filter!r}",
            filter=repr(filter),
        )
    groups = filter if isinstance(filter[0], list) else [filter]
    for group in groups:
        for clause in group:
            if not (isinstance(clause, tuple | list) and len(clause) == 3):
                raise ConfigError(
                    f"filter clause {clause!r} is not a (column, op, value) triple",
                    filter=repr(filter),
                )
            column, op, _ = clause
            if column not in info.columns:
                raise ConfigError(
                    f"filter names column {column!r}, which dataset {version.ref} does not "
                    f"have; its columns: {', '.join(info.columns)}",
                    column=column,
                    dataset=version.name,
                )
            if op not in _OPS:
                raise ConfigError(
                    f"filter clause {tuple(clause)!r}: operator {op!r} is not one of "
                    f"{', '.join(_OPS)}",
                    filter=repr(filter),
                )
    import pyarrow.parquet as pq

    return pq.filters_to_expression([[tuple(c) for c in g] for g in groups])


# ------------------------------------------------------------------------------ integrity


def _hash_file(files: RegistryFiles, path: str, size: int) -> str:
    hasher = xxhash.xxh3_128()
    if files.local:
        if size:
            with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
                hasher.update(m)
        return hasher.hexdigest()
    with files.open(path) as f:
        while chunk := f.read(8 << 20):
            hasher.update(chunk)
    return hasher.hexdigest()


def _damaged(plan: _Plan, piece: _Piece, found: str) -> CorruptOutputError:
    shown = plan.files.show(piece.path)
    want = f"{piece.shard.bytes} bytes, xxh3-128 {piece.shard.hash}"
    return CorruptOutputError(
        f"shard {shown} of dataset {plan.version.ref} ({plan.version.registry}) is damaged: "
        f"its dataset_info.json says {want}, the file has {found}. Shards never change once "
        f"published, so the file was changed, cut short or deleted outside tasuki. Fix: "
        f"re-publish version {plan.version.version} from its builder (publishing writes a "
        f"missing shard again), or delete the damaged file and publish again; other "
        f"versions that share this shard are damaged too until then.",
        key=shown,
        dataset=plan.version.name,
        config=plan.version.config,
        version=plan.version.version,
        shard=piece.shard.hash,
        expected=want,
        found=found,
    )


def _verify(plan: _Plan, mode: str) -> None:
    seen: set[str] = set()
    for piece in plan.pieces:
        if piece.path in seen:
            continue
        seen.add(piece.path)
        files = plan.files
        key: tuple[Any, ...]
        try:
            if files.local:
                st = os.stat(piece.path)
                size, key = st.st_size, (piece.path, st.st_size, st.st_mtime_ns)
            else:
                size = files.size(piece.path)
                key = (files.url, piece.path, size)
        except FileNotFoundError:
            raise _damaged(plan, piece, "no file at all (missing)") from None
        if size != piece.shard.bytes:
            raise _damaged(plan, piece, f"{size} bytes")
        stamp = ":".join(str(k) for k in key[-2:] if isinstance(k, int))
        plan.stamps[piece.path] = stamp
        if mode == "size" or (mode == "once" and key in _verified):
            continue
        if mode == "once" and plan.cache and entry_stamp(piece.shard.hash) == stamp:
            continue  # read from its decoded entry, made from this very file once hashed
        digest = _hash_file(files, piece.path, size)
        if digest != piece.shard.hash:
            raise _damaged(plan, piece, f"{size} bytes, xxh3-128 {digest}")
        with _verified_lock:
            _verified.add(key)
            _hashed.add(digest)


# ------------------------------------------------------------------------------ reading


def _dataset(plan: _Plan, paths: list[str]) -> ds.Dataset:
    """``pyarrow.dataset`` over exactly ``paths`` (the filtered path: predicate push-down)."""
    import pyarrow.dataset as ds

    return ds.dataset(paths, format="parquet", filesystem=plan.files.arrow_filesystem())


def _parquet_file(plan: _Plan, path: str) -> Any:
    """One shard opened with ``pyarrow.parquet`` (memory-mapped when local): the plain path.

    Why not ``pyarrow.dataset`` here too: importing it (and any conversion of Python or
    NumPy values, such as a filter's literals) makes pyarrow import pandas, about a second
    and 100 MB in a fresh process. A load without a filter never needs that.
    """
    import pyarrow.parquet as pq

    if plan.files.local:
        return pq.ParquetFile(path, memory_map=True)
    return pq.ParquetFile(path, filesystem=plan.files.arrow_filesystem())


def _spans(counts: Sequence[int], lo: int, hi: int) -> list[tuple[int, int, int]]:
    """``(row group, first row, end row)`` within each row group holding rows [lo, hi)."""
    out = []
    offset = 0
    for rg, count in enumerate(counts):
        start, end = offset, offset + count
        if start < hi and end > lo:
            out.append((rg, max(lo, start) - start, min(hi, end) - start))
        offset = end
        if offset >= hi:
            break
    return out


def _group_rows(parquet: Any) -> list[int]:
    meta = parquet.metadata
    return [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]


def _projection(plan: _Plan, schema: pa.Schema, keep: bool) -> dict[str, Any] | list[str]:
    import pyarrow.dataset as ds

    names = plan.columns if plan.columns is not None else list(schema.names)
    if not keep:
        return names
    # The filter evaluated as a column, not applied: the rows keep their positions, so the
    # slice can be cut first; only the columns the filter names are read for it.
    out: dict[str, Any] = {n: ds.field(n) for n in names}
    out[_KEEP] = plan.filter
    return out


def _apply_keep(table: pa.Table) -> pa.Table:
    import pyarrow.compute as pc

    mask = pc.fill_null(table.column(_KEEP), False)
    return table.filter(mask).drop_columns([_KEEP])


def _read_piece(plan: _Plan, piece: _Piece, row_groups: list[int] | None = None) -> pa.Table:
    """Rows [lo, hi) of one shard (or of the given row groups of it), projected and
    filtered, reading only the row groups that hold them."""
    if plan.filter is None:
        if plan.cache and row_groups is None:
            cached = _from_cache(plan, piece)
            if cached is not None:
                if plan.columns is not None:
                    cached = cached.select(plan.columns)
                return cached if piece.whole else cached.slice(piece.lo, piece.hi - piece.lo)
        parquet = _parquet_file(plan, piece.path)
        if piece.whole and row_groups is None:
            return parquet.read(columns=plan.columns)
        spans = _spans(_group_rows(parquet), piece.lo, piece.hi)
        if row_groups is not None:
            spans = [s for s in spans if s[0] in row_groups]
        if not spans:
            return _empty(plan, parquet.schema_arrow)
        table = parquet.read_row_groups([s[0] for s in spans], columns=plan.columns)
        return table.slice(spans[0][1], sum(b - a for _, a, b in spans))
    dataset = _dataset(plan, [piece.path])
    fragment = next(iter(dataset.get_fragments()))
    fragment.ensure_complete_metadata()
    spans = _spans([rg.num_rows for rg in fragment.row_groups], piece.lo, piece.hi)
    if row_groups is not None:
        spans = [s for s in spans if s[0] in row_groups]
    if not spans:
        return _empty(plan, dataset.schema)
    # Row group ids of a fragment are their positions in the file.
    sub = fragment.subset(row_group_ids=[s[0] for s in spans])
    table = sub.to_table(schema=dataset.schema, columns=_projection(plan, dataset.schema, True))
    table = table.slice(spans[0][1], sum(b - a for _, a, b in spans))
    return _apply_keep(table)


def _from_cache(plan: _Plan, piece: _Piece) -> pa.Table | None:
    """The whole shard of ``piece`` from the local Arrow cache (memory-mapped), written there
    first (again, when the shard file changed since) once this process checked its hash;
    None when neither applies."""
    digest = piece.shard.hash
    names = list(plan.info.columns)
    stamp = plan.stamps.get(piece.path, "")
    if digest not in _hashed or entry_stamp(digest) == stamp:
        return cached_table(digest, piece.shard.rows, names)
    whole = _parquet_file(plan, piece.path).read()
    if whole.num_rows != piece.shard.rows or not write_entry(digest, whole, stamp):
        return None
    return cached_table(digest, piece.shard.rows, names)


def _empty(plan: _Plan, schema: pa.Schema | None = None) -> pa.Table:
    import pyarrow as pa

    if schema is None:
        schema = _schema(plan)
    names = plan.columns if plan.columns is not None else schema.names
    return pa.schema([schema.field(n) for n in names]).empty_table()


def _schema(plan: _Plan) -> pa.Schema:
    import pyarrow as pa

    if plan.info.schema_ipc:
        import base64

        return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(plan.info.schema_ipc)))
    for split in plan.info.splits.values():
        for shard in split.shards:
            path = shard_path(plan.files.root, plan.version.name, plan.version.config, shard.hash)
            return _parquet_file(plan, path).schema_arrow
    return pa.schema(
        [pa.field(n, pa.type_for_alias(c.type), c.nullable) for n, c in plan.info.columns.items()]
    )


def _groups(pieces: list[_Piece]) -> Iterator[tuple[bool, list[_Piece]]]:
    """Runs of whole shards (read as one dataset) and single partial pieces, in order."""
    run: list[_Piece] = []
    for piece in pieces:
        if piece.whole:
            run.append(piece)
            continue
        if run:
            yield True, run
            run = []
        yield False, [piece]
    if run:
        yield True, run


def _read_table(plan: _Plan) -> pa.Table:
    import pyarrow as pa

    tables = []
    for whole, pieces in _groups(plan.pieces):
        if whole and plan.filter is not None:
            # Whole shards with a filter: one scan over them, row groups skipped by their
            # statistics, files read in parallel.
            dataset = _dataset(plan, [p.path for p in pieces])
            tables.append(
                dataset.to_table(
                    columns=_projection(plan, dataset.schema, False), filter=plan.filter
                )
            )
        else:
            tables.extend(_read_piece(plan, p) for p in pieces)
    if not tables:
        return _empty(plan)
    if len(tables) == 1:
        return tables[0]
    return pa.concat_tables(tables)


def _convert(table: pa.Table, as_: str) -> Any:
    if as_ == "arrow":
        return table
    if as_ == "pandas":
        return table.to_pandas()
    import polars as pl

    return pl.from_arrow(table)


def load(
    ref: str,
    split: str,
    *,
    columns: Sequence[str] | None = None,
    filter: Any = None,
    config: str | None = None,
    registry: str | os.PathLike[str] | None = None,
    as_: As = "arrow",
    verify: Verify = "once",
) -> Any:
    """Read a split of a published dataset version.

    Args:
        ref: ``NAME[#CONFIG][:VERSION]``: ``product_a/clicks:1.2.0``, ``...:1.2.*``,
            ``...:1.*``, ``...:latest`` (see :func:`tasuki.datasets.resolve`).
        split: A split expression: ``train``, ``train[:80%]``, ``train[-1000:]``,
            ``train[:80%]+test``, a part from :func:`tasuki.datasets.even_splits`.
        columns: Columns to read (default: all), in this order.
        filter: Rows to keep: a pyarrow expression (``pyarrow.dataset.field("clicks") > 3``)
            or a DNF list: ``[("clicks", ">", 3), ("country", "in", ["jp"])]`` (ANDed), or a
            list of such lists (ORed). Pushed down to the Parquet row groups.
        config: The config, when not in ``ref`` (``product_a/clicks#jp_only``).
        registry: Folder or URL of the registry; default: the ``registry`` setting.
        as_: ``"arrow"`` (a ``pyarrow.Table``), ``"pandas"`` or ``"polars"``.
        verify: ``"once"`` (hash each shard the first time this process reads it, sizes
            always), ``"always"`` or ``"size"``.

    Returns:
        The rows, in split order, as ``as_`` says.

    Raises:
        ConfigError: unknown dataset, config, version, split, column or filter column; a
            malformed split expression (with a caret under the bad character).
        CorruptOutputError: a shard's size or content hash differs from the
            ``dataset_info.json`` (names the shard, the version and the fix).

    Example:
        >>> train = tasuki.datasets.load(
        ...     "product_a/clicks:1.2.*", "train[:80%]", columns=["user_id", "clicks"],
        ...     filter=[("clicks", ">", 0)],
        ... )  # doctest: +SKIP
    """
    if as_ not in _AS:
        raise ConfigError(
            f"as_={as_!r} is not one of {', '.join(map(repr, _AS))}", as_=as_, allowed=_AS
        )
    plan = _plan(
        ref,
        split,
        columns=columns,
        filter=filter,
        config=config,
        registry=registry,
        verify=verify,
        cache=True,
    )
    try:
        table = _read_table(plan)
    except (OSError, ValueError) as exc:
        raise _read_error(plan, exc) from exc
    logger.debug(
        "loaded %s %s: %d of %d selected rows from %d shard pieces",
        plan.version.ref,
        split,
        table.num_rows,
        plan.rows_selected,
        len(plan.pieces),
    )
    return _convert(table, as_)


def _read_error(plan: _Plan, exc: BaseException) -> Exception:
    """What a failed read means: damaged bytes often fail the decoder before anything else
    (a shard read with ``verify="size"``, or hashed once and damaged since), so the shards
    are hashed again and a damaged one is named; otherwise the request was wrong."""
    try:
        _verify(plan, "always")
    except CorruptOutputError as damaged:
        return damaged
    return ConfigError(
        f"reading dataset {plan.version.ref} split {plan.split!r} failed: "
        f"{type(exc).__name__}: {exc}. A filter must name existing columns and compare them "
        "with values of their type.",
        dataset=plan.version.name,
        version=plan.version.version,
    )


def _batches(plan: _Plan, batch_size: int) -> Iterator[pa.RecordBatch]:
    for whole, pieces in _groups(plan.pieces):
        if whole and plan.filter is not None:
            dataset = _dataset(plan, [p.path for p in pieces])
            yield from dataset.to_batches(
                columns=_projection(plan, dataset.schema, False),
                filter=plan.filter,
                batch_size=batch_size,
            )
            continue
        for piece in pieces:
            if whole:
                parquet = _parquet_file(plan, piece.path)
                yield from parquet.iter_batches(batch_size=batch_size, columns=plan.columns)
                continue
            # A partial shard: one row group at a time, so memory stays at a row group.
            for rg, _, _ in _piece_row_groups(plan, piece):
                table = _read_piece(plan, piece, [rg])
                yield from table.to_batches(max_chunksize=batch_size)


def _piece_row_groups(plan: _Plan, piece: _Piece) -> list[tuple[int, int, int]]:
    return _spans(_group_rows(_parquet_file(plan, piece.path)), piece.lo, piece.hi)


def iter_batches(
    ref: str,
    split: str,
    *,
    columns: Sequence[str] | None = None,
    filter: Any = None,
    batch_size: int = 65_536,
    config: str | None = None,
    registry: str | os.PathLike[str] | None = None,
    verify: Verify = "once",
) -> Iterator[pa.RecordBatch]:
    """Stream a split as ``pyarrow.RecordBatch`` es of at most ``batch_size`` rows, in order.

    Memory stays at a few batches per file read ahead, whatever the split's size. Arguments
    as for :func:`load`. The reference is resolved, the split checked and the shards
    verified when this is called, before the first batch.

    Example:
        >>> for batch in iter_batches("product_a/clicks:1.*", "train"):  # doctest: +SKIP
        ...     consume(batch)
    """
    _check_batch_size(batch_size)
    plan = _plan(
        ref,
        split,
        columns=columns,
        filter=filter,
        config=config,
        registry=registry,
        verify=verify,
    )
    return _guarded(plan, _batches(plan, batch_size))


def _guarded(plan: _Plan, batches: Iterator[Any]) -> Iterator[Any]:
    try:
        yield from batches
    except (OSError, ValueError) as exc:
        raise _read_error(plan, exc) from exc


def _check_batch_size(batch_size: int) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(
            f"batch_size must be a positive integer, got {batch_size!r}",
            batch_size=repr(batch_size),
        )
