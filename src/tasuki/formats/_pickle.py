"""``.pkl`` / ``.pickle``: any picklable value, pickle protocol 5."""

from __future__ import annotations

import pickle
from typing import Any, BinaryIO, ClassVar

from tasuki.errors import FormatError
from tasuki.formats._stream import FormatBase, GzipMixin, describe_file
from tasuki.formats._values import cannot_hold, type_name

__all__ = ["GzipPickleFormat", "PickleFormat"]

# Protocol 5 (PEP 574) writes large numpy / pandas / arrow buffers without an extra copy.
PROTOCOL = 5


class PickleFormat(FormatBase):
    """Any picklable Python value, written with pickle protocol 5.

    Loading a pickle runs code named in the file: only load files your own pipeline
    wrote. Lambdas and functions defined inside other functions cannot be pickled.
    """

    name: ClassVar[str] = "pickle"
    extensions: ClassVar[tuple[str, ...]] = (".pkl", ".pickle")
    accepts: ClassVar[str] = "any picklable value"

    def check(self, obj: Any) -> None:
        """Refuse lambdas and local functions early, with a clearer message than pickle's."""
        qualname = getattr(obj, "__qualname__", "")
        local = isinstance(qualname, str) and ("<lambda>" in qualname or "<locals>" in qualname)
        if callable(obj) and local:
            raise cannot_hold(
                obj,
                self.extension,
                self.accepts,
                detail=f"{qualname!r} is a lambda or a local function, which pickle "
                "cannot reference by name",
            )

    def write(self, obj: Any, file: BinaryIO) -> None:
        """Pickle ``obj`` into ``file``."""
        try:
            pickle.dump(obj, file, protocol=PROTOCOL)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            raise cannot_hold(
                obj, self.extension, self.accepts, detail=f"pickle refused it: {exc}"
            ) from exc

    def read(self, file: BinaryIO) -> Any:
        """Unpickle one value from ``file``."""
        try:
            return pickle.load(file)
        except (pickle.UnpicklingError, EOFError, ValueError) as exc:
            raise FormatError(
                f"cannot read {describe_file(file)} as {self.extension}: not a complete pickle "
                f"({type_name(exc)}: {exc}); the file may be truncated or in another format",
                extension=self.extension,
            ) from exc
        except (ImportError, AttributeError) as exc:
            raise FormatError(
                f"cannot read {describe_file(file)} as {self.extension}: the pickle refers to "
                f"code that is not importable here ({type_name(exc)}: {exc}); install the "
                "package or restore the class/function it was written with",
                extension=self.extension,
            ) from exc


class GzipPickleFormat(GzipMixin, PickleFormat):
    """A pickle inside gzip (``.pkl.gz``)."""

    name: ClassVar[str] = "pickle+gzip"
    extensions: ClassVar[tuple[str, ...]] = (".pkl.gz",)
