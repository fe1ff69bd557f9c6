"""The MLflow Model Registry mirror against a real MLflow tracking server (SQLite backend,
its own process on loopback), and against servers that are down or never answer."""

from __future__ import annotations

import contextlib
import json
import socket
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from tasuki.zoo import MirrorError, MirrorWarning, Zoo
from tests._mlflow import mlflow_server


@pytest.fixture(scope="module")
def tracking_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with mlflow_server(tmp_path_factory.mktemp("mlflow")) as uri:
        yield uri


def _client(uri: str):  # type: ignore[no-untyped-def]
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def test_a_push_registers_a_model_version_with_tags_and_alias(
    tracking_uri: str, tmp_path: Path
) -> None:
    zoo = Zoo(str(tmp_path / "registry"), tracking_uri=tracking_uri)
    with warnings.catch_warnings():
        warnings.simplefilter("error", MirrorWarning)
        v = zoo.push(
            "ranker-a",
            {"coef": [1, 2]},
            alias="champion",
            owner="ml-team",
            description="first ranker",
            metrics={"ndcg": 0.42},
            datasets=["product_a/clicks:1.2.0@abc"],
        )
    client = _client(tracking_uri)
    assert client.get_registered_model("ranker-a").name == "ranker-a"
    state = zoo.mirror_state("ranker-a", 1)
    assert state is not None
    mv = client.get_model_version("ranker-a", state["model_version"])
    assert mv.tags["tasuki.zoo_version"] == "1"
    assert mv.tags["tasuki.content_hash"] == v.content_hash
    assert mv.tags["tasuki.owner"] == "ml-team"
    assert json.loads(mv.tags["tasuki.datasets"]) == ["product_a/clicks:1.2.0@abc"]
    assert json.loads(mv.tags["tasuki.metrics"]) == {"ndcg": 0.42}
    assert mv.description == "first ranker"
    assert client.get_model_version_by_alias("ranker-a", "champion").version == mv.version
    run = client.get_run(mv.run_id)
    assert run.data.metrics == {"ndcg": 0.42}
    assert [a.path for a in client.list_artifacts(mv.run_id, "model")] == ["model/model.pkl"]
    assert zoo.show("ranker-a@champion")["mirror"]["model_version"] == mv.version
    # A second version and an alias move are mirrored too.
    v2 = zoo.push("ranker-a", {"coef": [3]})
    zoo.alias("ranker-a", "champion", 2, reason="better")
    mv2 = client.get_model_version_by_alias("ranker-a", "champion")
    assert mv2.tags["tasuki.content_hash"] == v2.content_hash


def test_task_metadata_reaches_the_tags(tracking_uri: str, tmp_path: Path) -> None:
    import tasuki
    from tests.unit.zoo._models import DatasetInput, Train

    task = Train(data=DatasetInput(ref="product_a/clicks:1.2.0", content_hash="h1"), lr=0.2)
    tasuki.build(task, executor="inline", progress="off")
    zoo = Zoo(str(tmp_path / "registry"), tracking_uri=tracking_uri)
    zoo.push("ranker-task", task)
    state = zoo.mirror_state("ranker-task", 1)
    assert state is not None
    mv = _client(tracking_uri).get_model_version("ranker-task", state["model_version"])
    assert mv.tags["tasuki.task_unique_id"] == task.unique_id
    assert mv.tags["tasuki.task"] == "tests.unit.zoo._models:Train"
    assert json.loads(mv.tags["tasuki.params"])["lr"] == 0.2
    assert json.loads(mv.tags["tasuki.datasets"]) == ["product_a/clicks:1.2.0@h1"]
    run = _client(tracking_uri).get_run(mv.run_id)
    assert run.data.params["lr"] == "0.2"


def _closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


@contextlib.contextmanager
def _silent_server() -> Iterator[str]:
    """A server that accepts connections and never answers: a hung tracking server."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


@pytest.mark.parametrize("kind", ["down", "silent"])
def test_a_server_down_or_silent_makes_push_warn_once_and_succeed(
    kind: str, tracking_uri: str, tmp_path: Path
) -> None:
    name = f"ranker-{kind}"
    registry = str(tmp_path / "registry")
    with contextlib.ExitStack() as stack:
        uri = _closed_port() if kind == "down" else stack.enter_context(_silent_server())
        zoo = Zoo(registry, tracking_uri=uri, mirror_timeout=2.0)
        started = time.monotonic()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            v = zoo.push(name, {"coef": [1]}, alias="champion")
        took = time.monotonic() - started
    mirror_warnings = [w for w in caught if issubclass(w.category, MirrorWarning)]
    assert len(mirror_warnings) == 1, [str(w.message) for w in caught]
    message = str(mirror_warnings[0].message)
    assert f"{name}/1 is pushed" in message and f"tasuki zoo mirror {name}" in message
    assert took < 6.0, took  # bounded: not MLflow's minutes of retries
    assert Zoo(registry, tracking_uri="").load(f"{name}@champion") == {"coef": [1]}
    assert zoo.mirror_state(name, 1) is None
    # Mirroring is redone later against the real server: version and alias arrive.
    done = Zoo(registry, tracking_uri=tracking_uri).mirror(name)
    assert [d["version"] for d in done] == [1]
    client = _client(tracking_uri)
    mv = client.get_model_version_by_alias(name, "champion")
    assert mv.tags["tasuki.content_hash"] == v.content_hash
    # Doing it again finds what is there: no second MLflow version.
    Zoo(registry, tracking_uri=tracking_uri).mirror(name)
    assert len(client.search_model_versions(f"name='{name}'")) == 1
    kind_seen = client.search_model_versions(f"name='{name}'")
    assert all(m.tags["tasuki.content_hash"] == v.content_hash for m in kind_seen)


def test_mirror_command_against_a_down_server_raises(tmp_path: Path) -> None:
    zoo = Zoo(str(tmp_path / "registry"), tracking_uri="")
    zoo.push("m", [1])
    with pytest.raises(MirrorError, match="did not answer"):
        Zoo(str(tmp_path / "registry"), tracking_uri=_closed_port(), mirror_timeout=1).mirror("m")


# MLflow's own notes while it saves and loads a model (type hints, pip requirements).
@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_an_sklearn_flavour_round_trips(tracking_uri: str, tmp_path: Path) -> None:
    sklearn = pytest.importorskip("sklearn.linear_model")
    model = sklearn.LinearRegression().fit([[0.0], [1.0], [2.0]], [0.0, 2.0, 4.0])
    zoo = Zoo(str(tmp_path / "registry"), tracking_uri=tracking_uri)
    v = zoo.push("linreg", model, flavor="sklearn", alias="champion")
    assert v.loader == {"kind": "mlflow", "flavor": "sklearn"}
    assert "MLmodel" in {f.path for f in v.files}
    loaded = zoo.load("linreg@champion")
    assert loaded.predict([[3.0]])[0] == pytest.approx(6.0)
    # The mirrored version is an MLflow model MLflow itself can load.
    import mlflow.sklearn

    mlflow.set_tracking_uri(tracking_uri)
    try:
        again = mlflow.sklearn.load_model("models:/linreg@champion")
    finally:
        mlflow.set_tracking_uri("")
    assert again.predict([[1.5]])[0] == pytest.approx(3.0)
    # A pushed MLflow model folder is recognised by its MLmodel file.
    folder = tmp_path / "pulled"
    zoo.pull("linreg", folder)
    v2 = Zoo(str(tmp_path / "r2"), tracking_uri="").push("linreg", folder)
    assert v2.loader == {"kind": "mlflow", "flavor": "sklearn"}
