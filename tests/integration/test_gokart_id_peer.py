"""gokart's unique ids of tasuki tasks, checked against the real gokart 1.12 (peer venv)."""

from __future__ import annotations

import datetime
import enum
import importlib
import pathlib
import sys
from pathlib import Path
from typing import Any

import pytest

from tasuki.compat._gokart_id import (
    GokartIds,
    gokart_params,
    gokart_unique_id,
    serialize_task_list_parameter,
    serialize_task_parameter,
    serialize_value,
)
from tasuki.errors import TaskError
from tests._gokart_peer import gokart_python, run_peer  # noqa: F401
from tests.integration._gokart_id_cases import (
    CASES,
    COMPAT_ONLY,
    GOKART,
    NATIVE,
    compat_source,
)

_PEER_SCRIPT = f"""
import datetime, importlib, json, pathlib
m = importlib.import_module("gk_ids_gokart")
groups = {{"cases": {CASES}, "extra": {COMPAT_ONLY}}}
print(json.dumps({{
    name: {{k: [t.make_unique_id(), t.to_str_params(only_significant=True)]
           for k, t in group.items()}}
    for name, group in groups.items()
}}))
"""


@pytest.fixture(scope="module")
def peer_all(gokart_python: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:  # noqa: F811
    """``{"cases"|"extra": {case: [gokart id, to_str_params]}}`` as the real gokart has them."""
    folder = tmp_path_factory.mktemp("gokart-ids")
    (folder / "gk_ids_gokart.py").write_text(GOKART)
    result: dict[str, Any] = run_peer(gokart_python, _PEER_SCRIPT, cwd=folder)
    return result


@pytest.fixture(scope="module")
def peer_ids(peer_all: dict[str, Any]) -> dict[str, Any]:
    """``{case: [gokart id, to_str_params]}`` of the cases every kind of task describes."""
    cases: dict[str, Any] = peer_all["cases"]
    return cases


def _load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, source: str, cases: str = CASES
) -> Any:
    (tmp_path / f"{name}.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop(name, None)
    module = importlib.import_module(name)
    return eval(cases, {"m": module, "datetime": datetime, "pathlib": pathlib})


def _compare(cases: dict[str, Any], peer: dict[str, Any]) -> None:
    ids = GokartIds()
    assert set(cases) == set(peer)
    for name, task in cases.items():
        want_id, want_params = peer[name]
        assert ids.params(task) == want_params, name
        assert list(ids.params(task)) == list(want_params), f"{name}: parameter order"
        assert ids.unique_id(task) == want_id, name


def test_native_tasks_have_gokarts_ids(
    peer_ids: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cases = _load(tmp_path, monkeypatch, "gk_ids_native", NATIVE)
    _compare(cases, peer_ids)


def test_compat_tasks_have_gokarts_ids(
    peer_ids: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("tasuki.compat.gokart", reason="the compat layer has not landed yet")
    cases = _load(tmp_path, monkeypatch, "gk_ids_compat", compat_source())
    _compare(cases, peer_ids)


def test_compat_parameter_classes_have_gokarts_ids(
    peer_all: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every luigi parameter class through its compat twin's serialize(), and luigi's order
    # for a parameter a subclass declares again.
    pytest.importorskip("tasuki.compat.gokart", reason="the compat layer has not landed yet")
    cases = _load(tmp_path, monkeypatch, "gk_ids_compat2", compat_source(), COMPAT_ONLY)
    _compare(cases, peer_all["extra"])


def test_task_parameter_texts(
    peer_ids: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What the compat TaskInstanceParameter / ListTaskInstanceParameter serialize with.
    cases = _load(tmp_path, monkeypatch, "gk_ids_native3", NATIVE)
    for name in ("with_instance", "nested_instance"):
        task = cases[name]
        assert serialize_task_parameter(task.up) == peer_ids[name][1]["up"]
        assert serialize_task_list_parameter(task.ups) == peer_ids[name][1]["ups"]


def test_cases_tell_values_apart(peer_ids: dict[str, Any]) -> None:
    # The comparison above can fail: ids differ where any significant input differs, and an
    # insignificant parameter leaves the id alone (as in gokart).
    ids = {name: pair[0] for name, pair in peer_ids.items()}
    assert ids["leaf"] != ids["leaf_v7"]
    assert ids["plain_defaults"] == ids["plain_quiet_differs"]
    assert len(set(ids.values())) == len(ids) - 1


class _E(enum.Enum):
    A = 1
    B = 2


@pytest.mark.parametrize(
    ("value", "annotation", "text"),
    [
        ("x", str, "x"),
        (3, int, "3"),
        (0.1, float, "0.1"),
        (True, bool, "True"),
        (datetime.date(2024, 3, 1), datetime.date, "2024-03-01"),
        (datetime.datetime(2024, 3, 1, 4, 5, 6, 789), datetime.datetime, "2024-03-01T040506"),
        (datetime.timedelta(days=15, seconds=3661), datetime.timedelta, "2 w 1 d 1 h 1 m 1 s"),
        ((1, (2, "3")), tuple[Any, ...], '[1, [2, "3"]]'),
        ({"a": (1,)}, dict[str, Any], '{"a": [1]}'),
        (_E.B, _E, "B"),
        ((_E.A, _E.B), tuple[_E, ...], "A,B"),
        ((), tuple[_E, ...], ""),
        ((), tuple[Any, ...], "[]"),
        (Path("a/b"), Path, "a/b"),
        (None, int | None, ""),
    ],
)
def test_serialize_value(value: Any, annotation: Any, text: str) -> None:
    assert serialize_value(value, annotation) == text


def test_unserializable_value_names_task_and_parameter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "gk_bad.py").write_text(
        "import datetime\nimport tasuki\nfrom typing import Any\n"
        "class Bad(tasuki.Task):\n    days: tuple[Any, ...]\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("gk_bad")
    task = module.Bad(days=(datetime.date(2024, 1, 1),))
    with pytest.raises(TaskError, match=r"gk_bad:Bad: cannot write parameter 'days'"):
        gokart_unique_id(task)


def test_gokart_params_keeps_only_significant(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cases = _load(tmp_path, monkeypatch, "gk_ids_native2", NATIVE)
    params = gokart_params(cases["plain_values"])
    assert "quiet" not in params
    assert params["at"] == "2000-02-29T235958"
