"""The public surface of tasuki.formats is pinned; changing it is deliberate."""

from __future__ import annotations

import tasuki.formats
from tasuki.formats import Format, known_formats

EXPECTED = [
    "ArrowIpcFormat",
    "CsvFormat",
    "FeatherFormat",
    "Format",
    "FormatRegistry",
    "GzipCsvFormat",
    "GzipJsonFormat",
    "GzipPickleFormat",
    "GzipTextFormat",
    "GzipTsvFormat",
    "JsonFormat",
    "NpyFormat",
    "NpzFormat",
    "ParquetFormat",
    "PickleFormat",
    "TextFormat",
    "TsvFormat",
    "check_columns",
    "concat_frames",  # added by core for Task.load_data_frame
    "format_for",
    "is_empty",
    "known_formats",
    "read_dataset",
    "register",
    "write_dataset",
]


def test_all_is_pinned_and_sorted() -> None:
    assert tasuki.formats.__all__ == EXPECTED
    for name in EXPECTED:
        assert hasattr(tasuki.formats, name)


def test_every_builtin_class_is_exported_and_satisfies_the_protocol() -> None:
    for ext, spec in known_formats().items():
        module, _, cls_name = spec.partition(":")
        cls = getattr(tasuki.formats, cls_name)
        assert cls.__module__ == module
        assert ext in cls.extensions
        assert isinstance(cls(), Format)
        assert cls.__doc__
