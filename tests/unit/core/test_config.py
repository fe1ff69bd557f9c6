"""Settings resolution: arguments > environment > file > defaults, and clear errors."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tasuki.config import load_settings
from tasuki.errors import ConfigError


def test_defaults():
    s = load_settings()
    assert s.workspace == "./workspace"
    assert s.workers == 1
    assert s.on_code_change == "rerun"


def test_resolution_order(tmp_path, monkeypatch):
    (tmp_path / "tasuki.toml").write_text('workspace = "from-file"\nworkers = 3\n')
    monkeypatch.chdir(tmp_path)
    assert load_settings().workspace == str(tmp_path.resolve() / "from-file")  # file-relative
    monkeypatch.setenv("TASUKI_WORKSPACE", "from-env")
    s = load_settings()
    assert (s.workspace, s.workers) == ("from-env", 3)
    assert load_settings({"workspace": "from-arg"}).workspace == "from-arg"


def test_pyproject_section_and_nested_env(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.tasuki]\nworkers = 2\n[tool.tasuki.notify]\nwebhook_url = "http://x"\n'
    )
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    monkeypatch.setenv("TASUKI_NOTIFY__ON", '["success", "failure"]')
    s = load_settings()
    assert s.workers == 2
    assert s.notify.webhook_url == "http://x"
    assert s.notify.on == ["success", "failure"]


def test_unknown_key_names_file_and_suggests(tmp_path, monkeypatch):
    (tmp_path / "tasuki.toml").write_text("workspaces = 'x'\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        load_settings()
    msg = str(info.value)
    assert "workspaces" in msg and "tasuki.toml" in msg and "did you mean 'workspace'" in msg


def test_bad_value_names_source_and_allowed(monkeypatch):
    monkeypatch.setenv("TASUKI_ON_CODE_CHANGE", "explode")
    with pytest.raises(ConfigError) as info:
        load_settings()
    msg = str(info.value)
    assert "on_code_change" in msg and "explode" in msg and "environment" in msg
    assert "'rerun', 'warn' or 'ignore'" in msg
    assert msg.count("'rerun', 'warn' or 'ignore'") == 1  # said once, not twice


@pytest.mark.parametrize(
    ("given", "meant"),
    [(False, "off"), (True, "auto"), ("false", "off"), ("0", "off"), ("yes", "auto")],
)
def test_progress_reads_a_yes_or_no_as_a_switch(given, meant, tmp_path):
    """``tasuki.build(task, progress=False)`` was refused as "not 'auto', 'rich'...";
    a user turning progress off writes it as a switch."""
    assert load_settings({"progress": given}).progress == meant
    assert load_settings({"progress": "plain"}).progress == "plain"
    with pytest.raises(ConfigError, match="progress = 2"):
        load_settings({"progress": 2})


def test_broken_toml(tmp_path, monkeypatch):
    (tmp_path / "tasuki.toml").write_text("workspace = \n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings()


def test_nothing_read_at_import(tmp_path):
    # A broken settings file and a bad variable around: importing must not notice them, and
    # load_settings() must (else the setup proves nothing). A fresh process, so that the
    # import really happens here.
    (tmp_path / "tasuki.toml").write_text("workspace = \n")
    code = (
        "import tasuki, tasuki.cli, tasuki.config, tasuki.warehouse\n"
        "try:\n"
        "    tasuki.config.load_settings()\n"
        "except tasuki.errors.ConfigError as exc:\n"
        "    print('load_settings:', type(exc).__name__)\n"
    )
    env = {**os.environ, "TASUKI_WORKERS": "many"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "load_settings: ConfigError"


def test_query_token_variable_is_not_a_setting(monkeypatch):
    monkeypatch.setenv("TASUKI_QUERY_TOKEN", "secret")
    assert load_settings().workspace == "./workspace"


def test_a_migrations_file_given_as_settings_is_a_config_error(tmp_path):
    path = tmp_path / "migrations.toml"
    path.write_text('[source]\nurl = "mysql://root@127.0.0.1/app"\n\n[[tables]]\nname = "t"\n')
    with pytest.raises(ConfigError, match=r"unknown key 'source'.*--migrations"):
        load_settings(config_file=path)


def test_settings_in_effect_nest_restore_and_stay_in_their_context():
    import threading

    from tasuki.config import active_settings, settings_in_effect

    outer, inner = load_settings({"workers": 2}), load_settings({"workers": 3})
    assert active_settings() is None  # outside a build: callers read settings themselves
    with settings_in_effect(outer):
        assert active_settings() is outer
        with pytest.raises(RuntimeError), settings_in_effect(inner):
            assert active_settings() is inner
            raise RuntimeError("a failed build")
        assert active_settings() is outer  # restored even when the block raised
        seen = []
        thread = threading.Thread(target=lambda: seen.append(active_settings()))
        thread.start()
        thread.join()
        assert seen == [None]  # another thread runs another build (or none)
    assert active_settings() is None


@pytest.mark.parametrize(
    ("key", "value", "wanted"),
    [("workers", "two", "a valid integer"), ("lease_ttl", "soon", "a valid number")],
)
def test_a_number_setting_given_text_says_what_it_wants(monkeypatch, key, value, wanted):
    monkeypatch.setenv(f"TASUKI_{key.upper()}", value)
    with pytest.raises(ConfigError) as err:
        load_settings()
    message = str(err.value)
    assert f"{key} = '{value}'" in message
    assert f"Input should be {wanted}" in message
