"""open_store: which store a URL gives, and the errors for URLs that cannot work."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

from tasuki.errors import WorkspaceUnreachableError
from tasuki.storage import FsspecStore, LocalStore, open_store


def test_relative_path_is_resolved_against_cwd() -> None:
    store = open_store("ws")
    assert isinstance(store, LocalStore)
    assert store.url == os.path.join(os.getcwd(), "ws")
    assert store.is_local


def test_home_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    store = open_store("~/ws/")
    assert store.url == str(tmp_path / "home" / "ws")


def test_path_objects_and_file_urls(tmp_path: Path) -> None:
    assert open_store(tmp_path / "a").url == str(tmp_path / "a")
    store = open_store(f"file://{tmp_path}/b")
    assert isinstance(store, LocalStore)
    assert store.url == str(tmp_path / "b")


def test_options_reach_the_store(tmp_path: Path) -> None:
    store = open_store(tmp_path, lock_timeout=1.5, redis_url="redis://127.0.0.1:6379/0")
    assert isinstance(store, LocalStore)
    assert store.lock_timeout == 1.5
    assert store.redis_url == "redis://127.0.0.1:6379/0"


def test_memory_url() -> None:
    store = open_store("memory://open-store-test/")
    assert isinstance(store, FsspecStore)
    assert store.url == "memory://open-store-test"
    assert not store.is_local
    assert store.full_path("a/b.bin") == "memory://open-store-test/a/b.bin"


def test_s3_url_does_not_touch_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    # Nothing listens on port 9; building the store must still succeed at once.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    store = open_store("s3://no-such-bucket/prefix", storage_options={"anon": True})
    assert isinstance(store, FsspecStore)
    assert store.url == "s3://no-such-bucket/prefix"
    assert store.full_path("k.bin") == "s3://no-such-bucket/prefix/k.bin"
    assert store._fs is None  # the file system (and any client) is built on first use


@pytest.mark.skipif(importlib.util.find_spec("gcsfs") is not None, reason="gcsfs is installed")
def test_gs_without_gcsfs_names_the_extra() -> None:
    with pytest.raises(WorkspaceUnreachableError) as info:
        open_store("gs://bucket/prefix")
    assert "pip install 'tasuki[gcs]'" in str(info.value)
    assert "gs://bucket/prefix" in str(info.value)
    assert info.value.missing_extra == "gcs"  # type: ignore[attr-defined]
    with pytest.raises(WorkspaceUnreachableError, match=r"tasuki\[gcs\]"):
        FsspecStore("gcs://bucket/prefix")  # built directly, the same advice


def test_unknown_protocol_suggests_a_known_one() -> None:
    with pytest.raises(WorkspaceUnreachableError) as info:
        open_store("s4://bucket/prefix")
    message = str(info.value)
    assert "unknown protocol 's4'" in message
    assert "Did you mean 's3'" in message
    assert "memory" in message  # the list of known protocols


@pytest.mark.parametrize("bad", ["", "   "])
def test_empty_workspace(bad: str) -> None:
    with pytest.raises(WorkspaceUnreachableError, match="folder path or a URL"):
        open_store(bad)


def test_local_store_takes_no_storage_options(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceUnreachableError, match="takes none"):
        open_store(tmp_path, storage_options={"anon": True})


def test_fsspec_store_needs_a_protocol(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceUnreachableError, match="use LocalStore"):
        FsspecStore(str(tmp_path))


def test_windows_style_drive_is_not_a_protocol() -> None:
    store = open_store("C:/data/ws")
    assert isinstance(store, LocalStore)


def test_importing_storage_pulls_no_heavy_modules() -> None:
    code = (
        "import sys, tasuki.storage; "
        "print(sorted(m for m in ('pandas', 'boto3', 's3fs', 'botocore', 'redis') "
        "if m in sys.modules))"
    )
    import subprocess

    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
