"""A relative workspace is relative to the settings file that set it, not to the cwd."""

from __future__ import annotations

import pytest

import tasuki
from tasuki.config import load_settings, with_overrides, workspace_origin


@pytest.fixture
def project(tmp_path, monkeypatch):
    root = tmp_path / "proj"
    sub = root / "notebooks" / "deep"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    return root


def test_tasuki_toml_in_a_parent_folder(project):
    (project / "tasuki.toml").write_text('workspace = "cache"\n')
    s = load_settings()
    assert s.workspace == str(project.resolve() / "cache")
    assert workspace_origin(s) == str(project.resolve() / "tasuki.toml")


def test_pyproject_section_in_a_parent_folder(project):
    (project / "pyproject.toml").write_text('[tool.tasuki]\nworkspace = "./data/ws"\n')
    assert load_settings().workspace == str(project.resolve() / "data" / "ws")


def test_explicit_config_file(project, tmp_path):
    conf = tmp_path / "elsewhere" / "tasuki.toml"
    conf.parent.mkdir()
    conf.write_text('workspace = "ws"\n')
    assert load_settings(config_file=conf).workspace == str(conf.parent.resolve() / "ws")


def test_home_absolute_and_urls_are_kept(project, monkeypatch):
    monkeypatch.setenv("HOME", str(project / "home"))
    for value, expected in [
        ("s3://bucket/prefix", "s3://bucket/prefix"),
        ("memory://x", "memory://x"),
        ("/abs/ws", "/abs/ws"),
        ("~/ws", str(project / "home" / "ws")),
    ]:
        (project / "tasuki.toml").write_text(f'workspace = "{value}"\n')
        assert load_settings().workspace == expected


def test_environment_and_arguments_stay_relative_to_cwd(project, monkeypatch):
    (project / "tasuki.toml").write_text('workspace = "cache"\n')
    monkeypatch.setenv("TASUKI_WORKSPACE", "from-env")
    s = load_settings()
    assert s.workspace == "from-env"
    assert workspace_origin(s) == "TASUKI_WORKSPACE"
    s = load_settings({"workspace": "from-arg"})
    assert s.workspace == "from-arg"
    assert workspace_origin(s) == "arguments"


def test_default_origin(project):
    s = load_settings()
    assert s.workspace == "./workspace"
    assert workspace_origin(s) == "default"


def test_a_relative_registry_is_relative_to_its_settings_file_too(project, monkeypatch):
    (project / "tasuki.toml").write_text('registry = "shared/registry"\n')
    assert load_settings().registry == str(project.resolve() / "shared" / "registry")
    (project / "tasuki.toml").write_text('registry = "s3://team/registry"\n')
    assert load_settings().registry == "s3://team/registry"
    monkeypatch.setenv("TASUKI_REGISTRY", "here")
    assert load_settings().registry == "here"  # the environment: relative to the cwd


class Answer(tasuki.Task):
    def run(self) -> None:
        self.dump(42)


def test_a_path_object_is_taken_wherever_a_folder_is_an_argument(tmp_path):
    """``workspace=tmp_path`` was refused ("Input should be a valid string")."""
    ws = tmp_path / "ws"
    assert tasuki.build(Answer(), workspace=ws, progress="off") == 42
    assert tasuki.load(Answer(), workspace=ws) == 42
    assert tasuki.load_output(Answer().unique_id, workspace=ws) == 42
    assert load_settings({"workspace": ws, "registry": tmp_path / "reg"}).workspace == str(ws)
    given = with_overrides(load_settings(), {"workspace": ws})
    assert given.workspace == str(ws) and given.source["workspace"] == "arguments"
    assert tasuki.load(Answer(), workspace=ws, settings=given) == 42
