"""gc removes a task's definition (written for ``tasuki run-one``) together with its run,
and keeps definitions of tasks that never ran (an exported workflow may still need them)."""

from __future__ import annotations

import tasuki
from tasuki.core.code import code_keys
from tasuki.core.definitions import definition_key, write_definitions
from tasuki.core.executors import InlineExecutor
from tasuki.core.graph import build_graph
from tasuki.report.inventory import collect_garbage
from tasuki.storage import open_store
from tests.unit.core.tasks_for_tests import TaskA, TaskB


class ById(InlineExecutor):
    travels_by_id = True  # writes definitions, as the dask executor does


def test_gc_removes_definitions_with_their_runs_only(tmp_path):
    ws = str(tmp_path / "ws")
    store = open_store(ws)
    a, b = TaskA(param="x"), TaskB(param="x")
    tasuki.build(b, workspace=ws, progress="off")
    pending = TaskA(param="never-run")
    graph = build_graph([b, pending])  # one file per task (the Dask executor's reopened ones)
    write_definitions(store, graph, list(graph.order), code_keys(graph))
    for uid in (a.unique_id, b.unique_id, pending.unique_id):
        assert store.exists(definition_key(uid))

    dry = collect_garbage(store, [a.unique_id], keep_newer_than=0)
    assert definition_key(b.unique_id) in dry.removed
    assert definition_key(a.unique_id) not in dry.removed  # kept with its root
    assert definition_key(pending.unique_id) not in dry.removed  # never ran
    assert store.exists(definition_key(b.unique_id))  # a dry run deletes nothing

    collect_garbage(store, [a.unique_id], delete=True, keep_newer_than=0)
    assert not store.exists(definition_key(b.unique_id))
    assert store.exists(definition_key(a.unique_id))
    assert store.exists(definition_key(pending.unique_id))


def test_gc_removes_a_bundle_when_every_task_in_it_goes(tmp_path):
    from tasuki.core.definitions import bundle_key, bundle_names, write_bundle

    ws = str(tmp_path / "ws")
    store = open_store(ws)
    a, b = TaskA(param="x"), TaskB(param="x")
    tasuki.build(b, workspace=ws, progress="off", executor=ById())  # one bundle: a and b
    (built,) = bundle_names(store)
    graph = build_graph([TaskA(param="never-run")])
    pending = write_bundle(store, graph, list(graph.order), code_keys(graph))

    # b's run goes, a's stays: its bundle stays with the run that is kept.
    assert bundle_key(built) not in collect_garbage(store, [a.unique_id], keep_newer_than=0).removed
    # Neither kept: the bundle goes; the bundle of a task that never ran stays.
    tasuki.build(TaskA(param="other"), workspace=ws, progress="off")
    gone = collect_garbage(store, [TaskA(param="other").unique_id], delete=True, keep_newer_than=0)
    assert bundle_key(built) in gone.removed
    assert bundle_key(pending) not in gone.removed
    assert bundle_names(store) == [pending]
