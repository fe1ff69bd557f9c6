from __future__ import annotations

from pathlib import Path

import pytest

from tasuki.argo import ArgoError, write_image_files


def _project(tmp_path: Path, *files: str) -> Path:
    root = tmp_path / "proj"
    root.mkdir(parents=True)
    (root / "pyproject.toml").write_text('[project]\nname = "recsys"\nversion = "1.0"\n')
    for name in files:
        (root / name).write_text("")
    return root


def test_dockerfile_with_uv_lock(tmp_path: Path) -> None:
    root = _project(tmp_path, "uv.lock")
    files = write_image_files(root)
    text = files.dockerfile.read_text()
    lines = text.splitlines()
    assert lines[1] == "FROM python:3.11-slim"
    assert "RUN uv sync --frozen --no-dev --no-install-project" in lines
    assert lines.index("COPY pyproject.toml uv.lock ./") < lines.index(
        "COPY . ."
    )  # lock layer first
    assert lines[-3:] == ["USER tasuki", 'ENTRYPOINT ["tasuki"]', 'CMD ["--help"]']
    assert any(line.startswith("RUN groupadd --system tasuki && useradd") for line in lines)
    assert files.lock == "uv.lock"
    ignore = files.dockerignore.read_text().splitlines()
    assert {".git", ".venv", "workspace/", ".env"} <= set(ignore)


def test_dockerfile_with_requirements_or_nothing(tmp_path: Path) -> None:
    root = _project(tmp_path, "requirements.txt")
    files = write_image_files(root, python="3.12")
    text = files.dockerfile.read_text()
    assert "FROM python:3.12-slim" in text
    assert "RUN pip install -r requirements.txt" in text and "RUN pip install ." in text
    bare = _project(tmp_path / "b")
    files = write_image_files(bare)
    assert files.lock == "none" and "requirements" not in files.dockerfile.read_text()


def test_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    root = _project(tmp_path)
    (root / "Dockerfile").write_text("FROM mine\n")
    with pytest.raises(ArgoError, match="--force"):
        write_image_files(root)
    assert (root / "Dockerfile").read_text() == "FROM mine\n"
    write_image_files(root, force=True)
    assert "tasuki" in (root / "Dockerfile").read_text()


def test_needs_a_python_project(tmp_path: Path) -> None:
    with pytest.raises(ArgoError, match=r"no pyproject\.toml"):
        write_image_files(tmp_path)
