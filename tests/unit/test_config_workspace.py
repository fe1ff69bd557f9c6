"""A relative workspace is relative to the settings file that set it, not to the cwd."""

from __future__ import annotations

import pytest

from tasuki.config import load_settings, workspace_origin


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
