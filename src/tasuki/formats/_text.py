"""``.json`` and ``.txt`` (and their ``.gz`` twins): UTF-8 text formats.

JSON holds JSON values only: dicts with str keys, lists, tuples (they come back as
lists), str, int, float, bool and None; numpy scalars are written as plain numbers. It
does not take data frames: they would come back as a list of records, not as the frame
you wrote, so dump refuses them and points to ``.parquet`` (or ``.csv``). Convert
explicitly (``df.to_dict("records")``) if records are what you want. NaN and infinities
are refused because they are not valid JSON and other tools reject them; ``.pkl`` keeps
them. Non-str dict keys are refused rather than silently turned into strings.

Text holds a str, written as is, or a list of str written one per line (each followed by
``"\\n"``). It always loads back as one str; call ``.splitlines()`` for the lines.
"""

from __future__ import annotations

import json
import math
from typing import Any, BinaryIO, ClassVar

from tasuki.errors import FormatError
from tasuki.formats._stream import FormatBase, GzipMixin, describe_file
from tasuki.formats._values import a_type, cannot_hold, is_numpy_scalar, type_name

__all__ = ["GzipJsonFormat", "GzipTextFormat", "JsonFormat", "TextFormat"]


def _find_non_json(obj: Any, path: str, active: set[int]) -> tuple[str, Any, str] | None:
    """The first part of ``obj`` JSON cannot hold: (where, the part, why), or None."""
    if obj is None or isinstance(obj, str | bool | int):
        return None
    if isinstance(obj, float):
        if math.isfinite(obj):
            return None
        return path, obj, f" ({obj!r}; NaN and infinities are not valid JSON)"
    if is_numpy_scalar(obj):
        return _find_non_json(obj.item(), path, active)
    if isinstance(obj, list | tuple | dict):
        if id(obj) in active:
            return path, obj, " that contains itself (a reference cycle)"
        active.add(id(obj))
        if isinstance(obj, dict):
            for key, value in obj.items():
                if not isinstance(key, str):
                    return (
                        path,
                        obj,
                        f" with the key {key!r}, {a_type(key)} (keys must be str)",
                    )
                found = _find_non_json(value, f"{path}[{key!r}]", active)
                if found is not None:
                    return found
        else:
            for i, item in enumerate(obj):
                found = _find_non_json(item, f"{path}[{i}]", active)
                if found is not None:
                    return found
        active.discard(id(obj))
        return None
    return path, obj, ""


def _numpy_default(obj: Any) -> Any:
    if is_numpy_scalar(obj):
        return obj.item()
    raise TypeError(f"{type_name(obj)} is not JSON serialisable")


class JsonFormat(FormatBase):
    """JSON values (dict with str keys, list, str, int, float, bool, None), UTF-8."""

    name: ClassVar[str] = "json"
    extensions: ClassVar[tuple[str, ...]] = (".json",)
    accepts: ClassVar[str] = (
        "JSON values (dict with str keys, list, tuple, str, int, float, bool, None; "
        "numpy scalars become numbers)"
    )

    def check(self, obj: Any) -> None:
        """Walk ``obj`` and name the first part JSON cannot hold, with its path."""
        try:
            found = _find_non_json(obj, "value", set())
        except RecursionError as exc:
            raise cannot_hold(
                obj, self.extension, self.accepts, detail="it is nested too deeply"
            ) from exc
        if found is None:
            return
        where, part, why = found
        detail = f"{where} is {a_type(part)}{why}" if where != "value" or why else None
        raise cannot_hold(obj, self.extension, self.accepts, detail=detail)

    def write(self, obj: Any, file: BinaryIO) -> None:
        """Write compact UTF-8 JSON followed by a newline."""
        text = json.dumps(obj, ensure_ascii=False, allow_nan=False, default=_numpy_default)
        file.write(text.encode("utf-8") + b"\n")

    def read(self, file: BinaryIO) -> Any:
        """Parse the whole file as one JSON document."""
        data = file.read()
        try:
            return json.loads(data)
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            raise FormatError(
                f"cannot read {describe_file(file)} as {self.extension}: {exc}",
                extension=self.extension,
            ) from exc


class TextFormat(FormatBase):
    """A str, or a list of str written one per line; loads back as one str."""

    name: ClassVar[str] = "text"
    extensions: ClassVar[tuple[str, ...]] = (".txt",)
    accepts: ClassVar[str] = "a str or a list of str (one per line)"

    def check(self, obj: Any) -> None:
        """Accept a str, or a list/tuple of str with no newline inside an item."""
        if isinstance(obj, str):
            return
        if not isinstance(obj, list | tuple):
            raise cannot_hold(obj, self.extension, self.accepts)
        for i, line in enumerate(obj):
            if not isinstance(line, str):
                raise cannot_hold(
                    obj,
                    self.extension,
                    self.accepts,
                    detail=f"item {i} is {a_type(line)}, not a str",
                )
            if "\n" in line:
                raise cannot_hold(
                    obj,
                    self.extension,
                    self.accepts,
                    detail=f"item {i} contains a newline, so it would not load back as one "
                    "line; join the text yourself and dump a str",
                )

    def write(self, obj: Any, file: BinaryIO) -> None:
        """Write UTF-8 text; a list becomes lines, each ending with a newline."""
        text = obj if isinstance(obj, str) else "".join(f"{line}\n" for line in obj)
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise cannot_hold(
                obj, self.extension, self.accepts, detail=f"it is not valid Unicode ({exc})"
            ) from exc
        file.write(data)

    def read(self, file: BinaryIO) -> str:
        """The whole file decoded as UTF-8."""
        data = file.read()
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FormatError(
                f"cannot read {describe_file(file)} as {self.extension}: not UTF-8 ({exc})",
                extension=self.extension,
            ) from exc


class GzipJsonFormat(GzipMixin, JsonFormat):
    """JSON inside gzip (``.json.gz``)."""

    name: ClassVar[str] = "json+gzip"
    extensions: ClassVar[tuple[str, ...]] = (".json.gz",)


class GzipTextFormat(GzipMixin, TextFormat):
    """Text inside gzip (``.txt.gz``)."""

    name: ClassVar[str] = "text+gzip"
    extensions: ClassVar[tuple[str, ...]] = (".txt.gz",)
