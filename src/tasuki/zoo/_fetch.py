"""Reading a version's files back: straight from a local registry, through a temporary
folder or the user's cache from a remote one, each file verified before a loader sees it."""

from __future__ import annotations

import io
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasuki.zoo._artifacts import check_bytes, corrupt, load_files, verify_files
from tasuki.zoo._errors import CorruptModelError, ModelLoadError

if TYPE_CHECKING:
    from tasuki.zoo._store import RegistryStore
    from tasuki.zoo._version import ModelVersion

__all__ = ["download", "load_version", "pull_into"]

logger = logging.getLogger(__name__)


def _base(version: ModelVersion) -> str:
    return f"models/{version.name}/versions/{version.version}/artifacts"


def load_version(reg: RegistryStore, version: ModelVersion) -> Any:
    """The model of ``version`` through its recorded loader (see :func:`tasuki.zoo.load`)."""
    if version.loader.get("kind") == "format" and len(version.files) == 1:
        return _load_one_file(reg, version)
    if reg.is_local:
        root = Path(reg.full_path(_base(version)))
        verify_files(version, root)
        return load_files(version, root)
    if version.loader.get("kind") == "path":
        return _cached_copy(reg, version)
    with tempfile.TemporaryDirectory(prefix="tasuki-zoo-") as tmp:
        download(reg, version, Path(tmp))
        verify_files(version, Path(tmp))
        return load_files(version, Path(tmp))


def _load_one_file(reg: RegistryStore, version: ModelVersion) -> Any:
    """One file in a tasuki format: read whole, hashed, decoded from memory."""
    from tasuki.formats import format_for

    entry = version.files[0]
    data = reg.read(f"{_base(version)}/{entry.path}")
    if data is None:
        raise corrupt(version, entry, "no such file")
    check_bytes(version, entry, data)
    name = version.loader.get("file") or f"model{version.loader['format']}"
    try:
        return format_for(name).load(io.BytesIO(data))
    except Exception as exc:
        raise ModelLoadError(
            f"model {version.ref} (content {version.content_hash[:12]}) could not be "
            f"loaded through its {version.describe_loader()}: {type(exc).__name__}: "
            f"{exc}. Check that the libraries the model was saved with are installed.",
            model=version.name,
            version=version.version,
            loader=version.describe_loader(),
        ) from exc


def download(reg: RegistryStore, version: ModelVersion, folder: Path) -> None:
    """Copy the files of ``version`` into ``folder`` (not verified: callers verify)."""
    base = _base(version)
    for entry in version.files:
        dest = folder / entry.path
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            with reg.open_read(f"{base}/{entry.path}") as src, open(dest, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
        except FileNotFoundError:
            raise corrupt(version, entry, "no such file") from None


def pull_into(reg: RegistryStore, version: ModelVersion, dest: str | os.PathLike[str]) -> None:
    """Copy the verified files of ``version`` into the folder ``dest``."""
    folder = Path(dest)
    folder.mkdir(parents=True, exist_ok=True)
    # Into a temporary beside dest first: a damaged version leaves nothing in dest.
    with tempfile.TemporaryDirectory(prefix=".tasuki-pull-", dir=folder) as tmp:
        download(reg, version, Path(tmp))
        verify_files(version, Path(tmp))
        for entry in version.files:
            target = folder / entry.path
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(Path(tmp) / entry.path, target)


def _cached_copy(reg: RegistryStore, version: ModelVersion) -> Any:
    """A verified local copy of a remote version's files, kept under the user's cache
    (``$XDG_CACHE_HOME/tasuki/zoo/<content hash>``: versions are immutable). A copy changed
    since is found on the next load and fetched again."""
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tasuki" / "zoo"
    final = root / version.content_hash
    if final.is_dir():
        try:
            verify_files(version, final)
            return load_files(version, final)
        except CorruptModelError as exc:
            logger.warning("%s; fetching %s again", exc, version.ref)
            shutil.rmtree(final, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{version.content_hash[:12]}-", dir=root))
    try:
        download(reg, version, tmp)
        verify_files(version, tmp)  # a damaged registry copy never enters the cache
        try:
            tmp.rename(final)
        except OSError:  # another process made it first
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    verify_files(version, final)
    return load_files(version, final)
