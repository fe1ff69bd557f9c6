"""``tasuki image``: a Dockerfile and ``.dockerignore`` so a component runs in one image.

The image is what an Argo export names: a slim Python base, the project installed with its
lock (``uv.lock`` through uv, else ``requirements*.txt``, else the project alone), ``tasuki``
as the entry point, and a non-root user. No Docker engine is needed to write them; build and
push with ``docker build -t REGISTRY/NAME:VERSION .``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tasuki.argo._errors import ArgoError

__all__ = ["ImageFiles", "dockerfile", "write_image_files"]

DOCKERIGNORE = """\
# written by `tasuki image`: keep the build context to the project itself
.git
.venv
venv
__pycache__
*.pyc
.mypy_cache
.pytest_cache
.ruff_cache
workspace/
.tasuki/
*.egg-info
dist/
build/
.env
"""


@dataclass(frozen=True)
class ImageFiles:
    """The files written, and how the project is installed in the image."""

    dockerfile: Path
    dockerignore: Path
    lock: str  # "uv.lock", "requirements.txt" or "none"


def dockerfile(project: Path, python: str = "3.11") -> tuple[str, str]:
    """The Dockerfile text for ``project`` and the lock it installs from.

    Raises:
        ArgoError: ``project`` has no ``pyproject.toml``.
    """
    if not (project / "pyproject.toml").is_file():
        raise ArgoError(
            f"{project} has no pyproject.toml: `tasuki image` installs the project as a "
            "package; run it in the project's root folder",
            project=str(project),
        )
    head = [
        "# written by `tasuki image`",
        f"FROM python:{python}-slim",
        "ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1",
        "RUN groupadd --system tasuki && useradd --system --gid tasuki --create-home tasuki",
        "WORKDIR /app",
    ]
    if (project / "uv.lock").is_file():
        lock = "uv.lock"
        install = [
            "RUN pip install uv",
            "COPY pyproject.toml uv.lock ./",
            "RUN uv sync --frozen --no-dev --no-install-project",
            "COPY . .",
            "RUN uv sync --frozen --no-dev",
            'ENV PATH="/app/.venv/bin:$PATH"',
        ]
    else:
        reqs = sorted(p.name for p in project.glob("requirements*.txt"))
        lock = "requirements.txt" if "requirements.txt" in reqs else (reqs[0] if reqs else "none")
        install = []
        if lock != "none":
            install += [f"COPY {lock} ./", f"RUN pip install -r {lock}"]
        install += ["COPY . .", "RUN pip install ."]
    tail = ["USER tasuki", 'ENTRYPOINT ["tasuki"]', 'CMD ["--help"]']
    return "\n".join([*head, *install, *tail]) + "\n", lock


def write_image_files(
    project: str | Path = ".", *, python: str = "3.11", force: bool = False
) -> ImageFiles:
    """Write ``Dockerfile`` and ``.dockerignore`` into ``project``.

    Raises:
        ArgoError: a file exists and ``force`` is false, or ``project`` is no Python project.

    Example:
        >>> write_image_files(".").lock
        'uv.lock'
    """
    root = Path(project)
    text, lock = dockerfile(root, python)
    targets = (root / "Dockerfile", root / ".dockerignore")
    existing = [str(p) for p in targets if p.exists()]
    if existing and not force:
        raise ArgoError(
            f"{', '.join(existing)} already exist(s); pass --force to overwrite",
            paths=existing,
        )
    targets[0].write_text(text, encoding="utf-8")
    targets[1].write_text(DOCKERIGNORE, encoding="utf-8")
    return ImageFiles(targets[0], targets[1], lock)
