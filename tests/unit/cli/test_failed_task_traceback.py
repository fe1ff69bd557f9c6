"""``tasuki run`` logs, and ``tasuki show`` prints, the traceback from a failed task's code."""

from __future__ import annotations

from tests.unit.core.test_failure_traceback import HERE, Divide

M = "tests.unit.core.test_failure_traceback"


def test_run_logs_and_show_prints_the_tasks_traceback(cli, caplog):
    result = cli("run", f"{M}:Divide")
    assert result.exit_code == 1
    failures = [r.getMessage() for r in caplog.records if r.getMessage().startswith("failed")]
    assert failures and "in _ratio" in failures[0]  # the log line of the failure
    uid = Divide().unique_id
    shown = cli("show", uid)
    assert shown.exit_code == 0
    assert "error:       ZeroDivisionError: division by zero" in shown.output
    assert f'File "{HERE}", line' in shown.output and "in _ratio" in shown.output


def test_run_one_prints_it(cli, tmp_path):
    # An Argo step's log is all its user sees of a failure.
    from tasuki.core.code import code_keys
    from tasuki.core.definitions import write_bundle
    from tasuki.core.graph import build_graph
    from tasuki.storage import open_store

    graph = build_graph([Divide()])
    name = write_bundle(
        open_store(str(tmp_path / "ws")), graph, list(graph.order), code_keys(graph)
    )
    result = cli("run-one", Divide().unique_id, "--bundle", name)
    assert result.exit_code == 1
    assert "error: ZeroDivisionError: division by zero" in result.stderr
    assert f'File "{HERE}", line' in result.stderr and "in _ratio" in result.stderr
