"""The Format protocol: object <-> bytes for one family of file extensions."""

from __future__ import annotations

from typing import Any, BinaryIO, ClassVar, Protocol, runtime_checkable

__all__ = ["Format"]


@runtime_checkable
class Format(Protocol):
    """Turns Python values into bytes and back.

    ``extensions`` are matched against the end of a file name, longest first, so
    ``.csv.gz`` wins over ``.gz``. ``dump`` must raise FormatError naming the value's type
    and the extension when it cannot hold the value, before writing anything when it can
    tell. ``load`` raises FormatError when the bytes are not in the format.

    The registry builds one instance per extension with no arguments and shares it, so a
    format keeps no per-call state. A third-party format needs no base class: any class
    with these members works (``tasuki.formats.registry.register`` or an entry point in
    the ``tasuki.formats`` group makes it known).
    """

    name: ClassVar[str]
    extensions: ClassVar[tuple[str, ...]]

    def dump(self, obj: Any, file: BinaryIO) -> None:
        """Write ``obj`` to the binary file object."""

    def load(self, file: BinaryIO) -> Any:
        """Read a value back from the binary file object."""

    def is_empty(self, obj: Any) -> bool:
        """Whether ``obj`` counts as empty (for ``fail_on_empty_dump``)."""
