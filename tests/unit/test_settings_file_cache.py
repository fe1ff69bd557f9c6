"""A settings file is parsed once while it is unchanged, and never read stale.

Importing tomllib compiled its regular expressions: 5 ms of every command and every first
build in a project with a ``tasuki.toml``. The parsed file is kept in the file cache
(``tasuki._file_cache``), keyed by the file's size, modification and change times and inode;
a file changed in the last 2 seconds is not kept (its next write could keep the same times).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from tasuki import _file_cache
from tasuki.config import load_settings

ROOT = Path(__file__).resolve().parents[2]


def _entries() -> list[Path]:
    folder = Path(os.environ["TASUKI_CODE_CACHE"]) / "toml"
    return sorted(folder.glob("*.json")) if folder.exists() else []


def _age(path: Path, seconds: float) -> None:
    old = time.time() - seconds
    os.utime(path, (old, old))


def _write(project: Path, text: str) -> Path:
    project.mkdir(exist_ok=True)
    path = project / "tasuki.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _old_file(project: Path, text: str, wait: float = 0.4) -> Path:
    """A settings file old enough to be kept (RACY_S patched below ``wait``): its
    modification time an hour back; its change time cannot be set back, so it is waited
    out."""
    path = _write(project, text)
    _age(path, 3600)
    time.sleep(wait)
    return path


def test_a_file_rewritten_with_the_same_size_and_times_is_read_again(tmp_path, monkeypatch):
    monkeypatch.setattr(_file_cache, "RACY_S", 0.3)
    project = tmp_path / "p"
    path = _old_file(project, 'workspace = "./aaaa"\n')
    before = set(_entries())
    assert load_settings(cwd=project).workspace == str(project / "aaaa")
    assert len(set(_entries()) - before) == 1  # kept
    assert load_settings(cwd=project).workspace == str(project / "aaaa")  # from the cache
    mtime = path.stat().st_mtime_ns
    path.write_text('workspace = "./bbbb"\n', encoding="utf-8")  # same size
    os.utime(path, ns=(mtime, mtime))  # and the old modification time (tar x, rsync -t)
    assert load_settings(cwd=project).workspace == str(project / "bbbb")


def test_a_file_just_written_is_not_kept(tmp_path):
    project = tmp_path / "p"
    _write(project, 'workspace = "./fresh"\n')
    before = set(_entries())
    assert load_settings(cwd=project).workspace == str(project / "fresh")
    assert set(_entries()) == before


def test_values_json_cannot_hold_are_parsed_every_time(tmp_path, monkeypatch):
    monkeypatch.setattr(_file_cache, "RACY_S", 0.3)
    project = tmp_path / "p"
    _old_file(project, 'workspace = "./w"\n[tasks.mod]\nsince = 2026-01-02\n')
    before = set(_entries())
    settings = load_settings(cwd=project)
    assert settings.workspace == str(project / "w")
    assert set(_entries()) == before  # a date: not kept, and nothing was lost


def test_a_damaged_entry_is_parsed_again_and_replaced(tmp_path, monkeypatch):
    monkeypatch.setattr(_file_cache, "RACY_S", 0.3)
    project = tmp_path / "p"
    _old_file(project, 'workspace = "./w"\n')
    before = set(_entries())
    load_settings(cwd=project)
    (entry,) = set(_entries()) - before
    entry.write_text('{"path": 1', encoding="utf-8")
    assert load_settings(cwd=project).workspace == str(project / "w")
    assert json.loads(entry.read_text(encoding="utf-8"))["toml"] == {"workspace": "./w"}


def test_a_bad_file_is_still_refused_naming_it(tmp_path):
    import pytest

    from tasuki.errors import ConfigError

    project = tmp_path / "p"
    _write(project, "workspace = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(cwd=project)


CHILD = """
import sys
from tasuki import _file_cache
from tasuki.config import load_settings
load_settings(cwd=sys.argv[1])
print("tomllib" in sys.modules)
"""


def test_a_later_process_does_not_import_tomllib(tmp_path):
    project = tmp_path / "p"
    _old_file(project, 'workspace = "./w"\nexecutor = "inline"\n', wait=2.1)

    def child() -> str:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(project)],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip()

    assert child() == "True"  # the first parses it
    assert child() == "False"  # the next finds it parsed


def test_a_removed_current_folder_is_a_clear_error(tmp_path, monkeypatch):
    import pytest

    from tasuki.errors import ConfigError

    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    with pytest.raises(ConfigError, match="current folder no longer exists"):
        load_settings()
