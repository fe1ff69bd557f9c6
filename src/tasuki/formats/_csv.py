"""``.csv`` and ``.tsv`` (and their ``.gz`` twins): delimited text through pyarrow.

What goes in: a pandas DataFrame, a polars DataFrame or a pyarrow Table.

What comes back: **always a pandas DataFrame**. A CSV file has no place for the kind of
frame that was written, and readers outside tasuki expect plain CSV; use ``.parquet`` or
``.feather`` to get polars and Arrow values back as themselves.

The pandas index is kept (gokart drops it). A default index (an unnamed RangeIndex from
0, step 1) is not written. Any other index is written as the leading column(s), like
``DataFrame.to_csv`` does, with each header cell marked ``__index__<name>``
(``__index__`` alone for an unnamed level), and is restored on load, like
``read_csv(index_col=...)``. Column names starting with ``__index__`` are therefore
reserved. Header names come back as str.

CSV carries values, not dtypes: types are inferred again on load. Integers, floats,
booleans, strings and ISO timestamps are recognised (timestamps with an offset come back
in UTC); an integer or boolean column with missing values comes back as pandas ``Int64``
/ ``boolean`` rather than float / object; a column with no values at all comes back as
float NaN (as ``pandas.read_csv`` does); categoricals come back as strings. A float
column whose values are all whole numbers is written as ``"3.0"`` (quoted) so it does
not come back as integers. Strings are quoted, and ``""`` and a missing value stay
distinct. Writing and reading use pyarrow's multi-threaded CSV code: on the 1 M x 10
benchmark frame pandas' ``to_csv`` was about 10x slower.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, BinaryIO, ClassVar

from tasuki.errors import FormatError
from tasuki.formats._stream import FormatBase, GzipMixin, describe_file
from tasuki.formats._values import cannot_hold, frame_kind, type_name

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["CsvFormat", "GzipCsvFormat", "GzipTsvFormat", "TsvFormat"]

INDEX_PREFIX = "__index__"
_FRAMES = "a pandas DataFrame, polars DataFrame or pyarrow Table (it loads back as pandas)"


def _is_default_index(index: Any) -> bool:
    import pandas as pd

    return (
        isinstance(index, pd.RangeIndex)
        and index.start == 0
        and index.step == 1
        and index.name is None
    )


def _pandas_to_arrow(frame: Any) -> pa.Table:
    import pyarrow as pa

    reserved = [c for c in frame.columns if str(c).startswith(INDEX_PREFIX)]
    if reserved:
        raise FormatError(
            f"cannot write columns {reserved!r} to CSV: names starting with "
            f"{INDEX_PREFIX!r} mark index columns in tasuki's CSV files; rename them",
            columns=reserved,
        )
    if _is_default_index(frame.index):
        return pa.Table.from_pandas(frame, preserve_index=False)
    names = [INDEX_PREFIX + ("" if name is None else str(name)) for name in frame.index.names]
    flat = frame.reset_index(names=[f"__level_{i}__" for i in range(len(names))])
    table = pa.Table.from_pandas(flat, preserve_index=False)
    # pyarrow allows repeated names, which an unnamed MultiIndex needs.
    return table.rename_columns(names + [str(c) for c in frame.columns])


def _quote_whole_floats(table: pa.Table) -> pa.Table:
    """Write whole-number float columns as "3.0" so they load back as floats."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for i, field in enumerate(table.schema):
        if not pa.types.is_floating(field.type):
            continue
        column = table.column(i)
        valid = pc.drop_null(column)
        # Fractions, NaN, inf and exponents already read back as floats.
        if len(valid) and not pc.all(pc.equal(pc.floor(valid), valid)).as_py():
            continue
        text = pc.cast(column, pa.string())
        whole = pc.match_substring_regex(text, r"^-?\d+$")
        fixed = pc.if_else(whole, pc.binary_join_element_wise(text, ".0", ""), text)
        table = table.set_column(i, field.name, fixed)
    return table


def _restore_pandas(table: pa.Table) -> Any:
    import pandas as pd
    import pyarrow as pa

    names = table.column_names
    n_index = 0
    while n_index < len(names) and names[n_index].startswith(INDEX_PREFIX):
        n_index += 1
    frame = table.to_pandas()
    # pandas.read_csv's own choices where pyarrow's differ, minus the lossy ones: ints and
    # bools with gaps become nullable dtypes instead of float / object.
    nullable = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}
    for i, column in enumerate(table.columns):
        if pa.types.is_null(column.type):
            frame.isetitem(i, pd.Series(float("nan"), index=frame.index, dtype="float64"))
        elif column.null_count and column.type in nullable:
            frame.isetitem(i, column.to_pandas(types_mapper=nullable.get))
    if not n_index:
        return frame
    levels = [frame.iloc[:, i] for i in range(n_index)]
    level_names = [name[len(INDEX_PREFIX) :] or None for name in names[:n_index]]
    index = (
        pd.Index(levels[0]).rename(level_names[0])
        if n_index == 1
        else pd.MultiIndex.from_arrays(levels, names=level_names)
    )
    frame = frame.iloc[:, n_index:]
    frame.index = index
    return frame


class CsvFormat(FormatBase):
    """Comma-separated values; loads back as a pandas DataFrame with its index."""

    name: ClassVar[str] = "csv"
    extensions: ClassVar[tuple[str, ...]] = (".csv",)
    accepts: ClassVar[str] = _FRAMES
    delimiter: ClassVar[str] = ","

    def check(self, obj: Any) -> None:
        """Accept pandas / polars DataFrames and pyarrow Tables or RecordBatches."""
        if frame_kind(obj) is None:
            raise cannot_hold(obj, self.extension, self.accepts)

    def write(self, obj: Any, file: BinaryIO) -> None:
        """Convert to Arrow (index as leading columns) and write delimited text."""
        import pyarrow as pa
        import pyarrow.csv as pacsv

        kind = frame_kind(obj)
        try:
            if kind == "pandas":
                table = _pandas_to_arrow(obj)
            elif kind == "polars":
                table = obj.to_arrow()
            else:
                table = obj if isinstance(obj, pa.Table) else pa.Table.from_batches([obj])
            table = _quote_whole_floats(table)
            options = pacsv.WriteOptions(delimiter=self.delimiter, quoting_style="needed")
            pacsv.write_csv(table, file, options)
        except (pa.ArrowException, ValueError, TypeError) as exc:
            raise cannot_hold(
                obj,
                self.extension,
                self.accepts,
                detail=f"pyarrow could not write it as text ({type_name(exc)}: {exc}); make "
                "each column hold one type of scalar; .parquet holds nested columns and .pkl "
                "holds any frame",
            ) from exc

    def read(self, file: BinaryIO) -> Any:
        """Parse the text and rebuild a pandas DataFrame (index restored)."""
        import pandas as pd
        import pyarrow as pa
        import pyarrow.csv as pacsv

        data = file.read()
        if not data.strip():
            return pd.DataFrame()
        try:
            table = pacsv.read_csv(
                pa.py_buffer(data),
                parse_options=pacsv.ParseOptions(delimiter=self.delimiter, newlines_in_values=True),
                convert_options=pacsv.ConvertOptions(
                    strings_can_be_null=True, quoted_strings_can_be_null=False
                ),
            )
        except pa.ArrowException as exc:
            raise FormatError(
                f"cannot read {describe_file(file)} as {self.extension}: {exc}",
                extension=self.extension,
            ) from exc
        return _restore_pandas(table)


class TsvFormat(CsvFormat):
    """Tab-separated values; same rules as :class:`CsvFormat`."""

    name: ClassVar[str] = "tsv"
    extensions: ClassVar[tuple[str, ...]] = (".tsv",)
    delimiter: ClassVar[str] = "\t"


class GzipCsvFormat(GzipMixin, CsvFormat):
    """CSV inside gzip (``.csv.gz``)."""

    name: ClassVar[str] = "csv+gzip"
    extensions: ClassVar[tuple[str, ...]] = (".csv.gz",)


class GzipTsvFormat(GzipMixin, TsvFormat):
    """TSV inside gzip (``.tsv.gz``)."""

    name: ClassVar[str] = "tsv+gzip"
    extensions: ClassVar[tuple[str, ...]] = (".tsv.gz",)
