from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tasuki.argo import ArgoError, ArgoSettings, SubmitError, submit

TOKEN = "s3cr3t-token-value-1234"


class _Server:
    def __init__(self) -> None:
        self.posts: list[tuple[str, dict, str | None]] = []
        self.refuse_with: str | None = None
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                auth = self.headers.get("Authorization")
                outer.posts.append((self.path, body, auth))
                if auth != f"Bearer {TOKEN}":
                    self._answer(401, {"message": "token not valid"})
                elif outer.refuse_with is not None:
                    self._answer(400, {"message": outer.refuse_with})
                else:
                    kind = next(k for k in ("workflow", "template", "cronWorkflow") if k in body)
                    meta = body[kind]["metadata"]
                    name = meta.get("name") or meta["generateName"] + "x7k2p"
                    self._answer(200, {"metadata": {"name": name}})

            def _answer(self, status: int, doc: dict) -> None:
                data = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"


@pytest.fixture
def server() -> Iterator[_Server]:
    srv = _Server()
    thread = threading.Thread(target=srv.httpd.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


def _docs() -> list[dict]:
    part = {"kind": "WorkflowTemplate", "metadata": {"name": "tasuki-ab-p0"}, "spec": {}}
    parent = {"kind": "Workflow", "metadata": {"generateName": "tasuki-"}, "spec": {}}
    return [part, parent]


def test_posts_each_document_with_the_bearer_token(server: _Server) -> None:
    settings = ArgoSettings.resolve(environ={"ARGO_TOKEN": TOKEN}, server=server.url)
    names = submit(_docs(), settings)
    assert names == ["tasuki-ab-p0", "tasuki-x7k2p"]
    (path1, body1, auth1), (path2, body2, auth2) = server.posts
    assert path1 == "/api/v1/workflow-templates/argo"
    assert body1 == {"namespace": "argo", "template": _docs()[0]}
    assert path2 == "/api/v1/workflows/argo"
    assert body2 == {"namespace": "argo", "workflow": _docs()[1]}
    assert auth1 == auth2 == f"Bearer {TOKEN}"


def test_settings_come_from_the_argo_cli_variables() -> None:
    env = {
        "ARGO_SERVER": "https://argo:2746",
        "ARGO_NAMESPACE": "ml",
        "ARGO_TOKEN": f"Bearer {TOKEN}",
    }
    settings = ArgoSettings.resolve(environ=env, namespace="team")
    assert settings.server == "https://argo:2746" and settings.namespace == "team"
    assert TOKEN not in repr(settings) and TOKEN not in str(settings.model_dump())


def test_the_token_never_reaches_messages_or_logs(
    server: _Server, caplog: pytest.LogCaptureFixture
) -> None:
    server.refuse_with = f"admission webhook denied: bad request from token {TOKEN}"
    settings = ArgoSettings.resolve(
        environ={"ARGO_TOKEN": TOKEN}, server=server.url, namespace="ml"
    )
    with caplog.at_level(logging.DEBUG), pytest.raises(SubmitError) as info:
        submit(_docs()[1:], settings)
    assert info.value.status == 400
    assert "admission webhook denied" in str(info.value)
    text = "\n".join([str(info.value), repr(info.value), caplog.text, repr(info.value.fields)])
    assert TOKEN not in text
    assert SubmitError.retryable


def test_a_wrong_token_and_an_unreachable_server(server: _Server) -> None:
    with pytest.raises(SubmitError, match="401"):
        submit(_docs(), ArgoSettings(server=server.url, token="wrong"))
    with pytest.raises(SubmitError, match="cannot reach"):
        submit(_docs(), ArgoSettings(server="http://127.0.0.1:9", token=TOKEN, timeout=2))
    with pytest.raises(ArgoError, match="ARGO_SERVER"):
        submit(_docs(), ArgoSettings.resolve(environ={}))


def test_submit_command_reads_the_token_from_the_environment(
    server: _Server, tmp_path, monkeypatch
) -> None:
    from typer.testing import CliRunner

    from tasuki.argo import to_yaml
    from tasuki.cli import app

    wf = tmp_path / "wf.yaml"
    wf.write_text(
        to_yaml(
            [
                {
                    "apiVersion": "argoproj.io/v1alpha1",
                    "kind": "Workflow",
                    "metadata": {"generateName": "tasuki-"},
                    "spec": {
                        "entrypoint": "main",
                        "templates": [{"name": "main", "dag": {"tasks": []}}],
                    },
                }
            ]
        )
    )
    monkeypatch.setenv("ARGO_TOKEN", TOKEN)
    result = CliRunner().invoke(
        app, ["argo", "submit", str(wf), "--server", server.url, "--namespace", "ml"]
    )
    assert result.exit_code == 0, result.output
    assert "Workflow tasuki-x7k2p" in result.output
    assert server.posts[0][0] == "/api/v1/workflows/ml"
    server.refuse_with = f"echo {TOKEN}"
    result = CliRunner().invoke(app, ["argo", "submit", str(wf), "--server", server.url])
    assert result.exit_code == 2 and TOKEN not in result.output and "echo ***" in result.output


def test_submit_command_reads_server_namespace_and_token_from_tasuki_settings(
    server: _Server, tmp_path, monkeypatch
) -> None:
    from typer.testing import CliRunner

    from tasuki.argo import to_yaml
    from tasuki.cli import app
    from tasuki.config import load_settings

    wf = tmp_path / "wf.yaml"
    doc = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "tasuki-"},
        "spec": {"entrypoint": "main", "templates": [{"name": "main", "dag": {"tasks": []}}]},
    }
    wf.write_text(to_yaml([doc]))
    (tmp_path / "tasuki.toml").write_text(f'[argo]\nserver = "{server.url}"\nnamespace = "ml"\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TASUKI_ARGO__TOKEN", TOKEN)
    monkeypatch.setenv("ARGO_SERVER", "http://127.0.0.1:9")  # the argo CLI's: ours win
    monkeypatch.setenv("ARGO_TOKEN", "the-argo-cli-token")
    result = CliRunner().invoke(app, ["argo", "submit", str(wf)])
    assert result.exit_code == 0, result.output
    assert server.posts[-1][0] == "/api/v1/workflows/ml"
    assert server.posts[-1][2] == f"Bearer {TOKEN}"
    # A flag still wins over the settings.
    result = CliRunner().invoke(app, ["argo", "submit", str(wf), "--namespace", "other"])
    assert result.exit_code == 0 and server.posts[-1][0] == "/api/v1/workflows/other"
    # The token is in no repr of the settings that hold it.
    settings = load_settings()
    assert settings.argo.token == TOKEN
    assert TOKEN not in repr(settings) and TOKEN not in repr(settings.argo)
