"""The wheel as users get it: the licence travels with the code, the metadata says what it is."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterator
from email.parser import Parser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
VERSION = PYPROJECT["project"]["version"]
# md5 of https://www.apache.org/licenses/LICENSE-2.0.txt, unchanged: licence scanners match it
APACHE_2_MD5 = "3b83ef96387f14655fc854ddc3c6bd57"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[zipfile.ZipFile]:
    if importlib.util.find_spec("hatchling") is None:
        message = "hatchling is not installed (it is in the dev extra: uv pip install -e '.[dev]')"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    out = tmp_path_factory.mktemp("wheel")
    # The build backend called directly: no build isolation, so no network.
    code = "import sys; from hatchling.build import build_wheel; print(build_wheel(sys.argv[1]))"
    done = subprocess.run(
        [sys.executable, "-c", code, str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    name = done.stdout.strip().splitlines()[-1]
    assert name == f"tasuki-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(out / name) as archive:
        yield archive


def test_licence_files_are_the_standard_apache_text():
    text = (ROOT / "LICENSE").read_bytes()
    assert hashlib.md5(text).hexdigest() == APACHE_2_MD5
    assert PYPROJECT["project"]["license"] == "Apache-2.0"
    assert "Copyright 2026 the tasuki authors" in (ROOT / "NOTICE").read_text()


def test_the_wheel_carries_the_licence_and_notice(wheel: zipfile.ZipFile):
    info = f"tasuki-{VERSION}.dist-info"
    for name in ("LICENSE", "NOTICE"):
        assert wheel.read(f"{info}/licenses/{name}") == (ROOT / name).read_bytes(), name
    metadata = Parser().parsestr(wheel.read(f"{info}/METADATA").decode())
    assert metadata["License-Expression"] == "Apache-2.0"
    assert sorted(metadata.get_all("License-File")) == ["LICENSE", "NOTICE"]
    assert metadata["Requires-Python"] == ">=3.11"


def test_the_wheel_holds_the_package_and_nothing_else(wheel: zipfile.ZipFile):
    names = wheel.namelist()
    assert "tasuki/__init__.py" in names
    assert "tasuki/py.typed" in names
    tops = {n.split("/", 1)[0] for n in names}
    assert tops == {"tasuki", f"tasuki-{VERSION}.dist-info"}, tops


def test_python_classifiers_run_from_the_minimum_without_gaps():
    classifiers = PYPROJECT["project"]["classifiers"]
    prefix = "Programming Language :: Python :: 3."
    minors = sorted(int(c.removeprefix(prefix)) for c in classifiers if c.startswith(prefix))
    assert PYPROJECT["project"]["requires-python"] == f">=3.{minors[0]}"
    assert minors == list(range(minors[0], minors[-1] + 1))
