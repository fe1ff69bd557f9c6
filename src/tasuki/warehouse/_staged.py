"""Results the warehouse itself wrote to object storage (Redshift UNLOAD, BigQuery EXPORT)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from tasuki.warehouse._fs import filesystem
from tasuki.warehouse._result import PartInfo

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = ["describe_parts"]


def describe_parts(
    urls: Sequence[str],
    storage_options: Mapping[str, Any] | None,
    known: Mapping[str, tuple[int | None, int | None]] | None = None,
) -> tuple[list[PartInfo], pa.Schema | None]:
    """Row counts, sizes and the schema of Parquet parts another system wrote.

    Counts the warehouse reported (``known``: url -> (rows, bytes)) are used as given; the
    rest come from each file's Parquet footer, which is read without reading the data.

    Returns:
        The parts in the order given, and the schema of the first one (None without parts).
    """
    parts: list[PartInfo] = []
    schema: pa.Schema | None = None
    for url in urls:
        rows, size = (known or {}).get(url, (None, None))
        if rows is None or size is None or schema is None:
            fs, path = filesystem(url, storage_options)
            if size is None:
                size = fs.get_file_info(path).size
            with fs.open_input_file(path) as file:
                meta = pq.ParquetFile(file)
                if rows is None:
                    rows = meta.metadata.num_rows
                if schema is None:
                    schema = meta.schema_arrow
        parts.append(PartInfo(path=url, rows=int(rows), bytes=int(size or 0)))
    return parts, schema
