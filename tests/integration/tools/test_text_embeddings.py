"""word2vec and fastText through tasuki: trained on real text (the docstrings of standard
library modules, shipped with Python), repeatable for a seed with one worker, kept as model
targets that load back."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import tasuki
from tasuki.contrib.text import FastTextTask, Tokenize, Word2VecTask, load_vectors
from tasuki.errors import ParameterError, TaskFailedError

pytest.importorskip("gensim")

ROOT = Path(__file__).resolve().parents[3]

MODULES = ["os", "re", "json", "pathlib", "collections", "itertools", "functools", "typing",
           "subprocess", "argparse", "logging", "tempfile", "shutil", "datetime", "decimal",
           "fractions", "statistics", "random", "string", "textwrap", "zipfile", "tarfile",
           "csv", "sqlite3", "threading", "asyncio", "unittest", "inspect", "heapq"]  # fmt: skip


def corpus() -> list[str]:
    """One line per sentence of the docstrings of the modules above and their public
    callables: a few thousand sentences of real English."""
    import importlib

    lines: list[str] = []
    for name in MODULES:
        module = importlib.import_module(name)
        members = [getattr(module, a) for a in sorted(dir(module))]
        # Submodules leave out: dir() gains them as other code imports them, which would
        # change the corpus between two builds.
        docs = [module.__doc__] + [m.__doc__ for m in members if not inspect.ismodule(m)]
        for doc in docs:
            if not isinstance(doc, str):  # some attributes' __doc__ is a descriptor
                continue
            text = " ".join(doc.split())
            lines += [s for s in text.replace("?", ".").split(". ") if len(s.split()) > 3]
    # Distinct and sorted: some modules gain attributes (with docstrings already seen) as
    # other code runs, which would repeat a sentence in one build and not in the next.
    return sorted(set(lines))


class Docstrings(tasuki.Task):
    """The corpus as a table with a ``text`` column."""

    def output(self) -> Any:
        return self.make_target("docstrings.parquet")

    def run(self) -> None:
        self.dump(pd.DataFrame({"text": corpus()}))


TOKENS = Tokenize(data=Docstrings(), stop_words=("the", "a", "an", "of", "to", "is"))
W2V = {"tokens": TOKENS, "vector_size": 32, "window": 4, "min_count": 3, "epochs": 3, "seed": 7}


def _vectors(task: Any, ws: Any) -> np.ndarray:
    tasuki.build(task, workspace=str(ws), progress="off")
    kv = load_vectors(task, workspace=str(ws))
    return np.vstack([kv[w] for w in ("file", "directory", "string", "thread")])


def test_word2vec_loads_back_answers_most_similar_and_repeats_for_a_seed(tmp_path):
    task = Word2VecTask(**W2V)
    first = _vectors(task, tmp_path / "a")
    model = tasuki.load(task, workspace=str(tmp_path / "a"))
    assert model.wv.vector_size == 32 and len(model.wv) > 1000
    similar = model.wv.most_similar("file", topn=10)
    assert len(similar) == 10 and all(-1.0 <= score <= 1.0 for _, score in similar)
    # A fresh workspace trains again: the same seed with one worker gives the same vectors.
    assert np.array_equal(first, _vectors(task, tmp_path / "b"))
    other = Word2VecTask(**{**W2V, "seed": 8})
    assert not np.allclose(first, _vectors(other, tmp_path / "c"))


@pytest.mark.slow
def test_word2vec_repeats_in_another_process_with_another_hash_seed(tmp_path):
    # Python's str hash differs between processes unless PYTHONHASHSEED is fixed (gensim 3
    # seeded each word's vector from it); another process, another hash seed, same vectors.
    here = _vectors(Word2VecTask(**W2V), tmp_path / "a")
    code = (
        f"import json, sys; sys.path.insert(0, {str(ROOT)!r});"
        "from tests.integration.tools.test_text_embeddings import W2V, _vectors;"
        "from tasuki.contrib.text import Word2VecTask;"
        f"print(json.dumps(_vectors(Word2VecTask(**W2V), {str(tmp_path / 'b')!r}).tolist()))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    there = np.array(json.loads(done.stdout.strip().splitlines()[-1]), dtype=np.float32)
    assert np.array_equal(here, there)


def test_fasttext_gives_a_vector_to_an_unseen_word_and_repeats(tmp_path):
    task = FastTextTask(**{**W2V, "epochs": 1, "min_n": 3, "max_n": 4, "bucket": 20_000})
    first = _vectors(task, tmp_path / "a")
    kv = load_vectors(task, workspace=str(tmp_path / "a"))
    assert "directorylike" not in kv.key_to_index
    assert kv["directorylike"].shape == (32,)
    assert kv.most_similar("directorylike", topn=3)
    assert np.array_equal(first, _vectors(task, tmp_path / "b"))


def test_a_min_count_no_word_reaches_is_refused_with_the_fix(tmp_path):
    task = Word2VecTask(tokens=TOKENS, min_count=10**9)
    with pytest.raises(TaskFailedError, match=r"no word occurs min_count=1000000000 times"):
        tasuki.build(task, workspace=str(tmp_path / "ws"), progress="off")
    with pytest.raises(ParameterError, match="expected a Word2VecTask or FastTextTask"):
        load_vectors(TOKENS, workspace=str(tmp_path / "ws"))


def test_without_gensim_the_task_names_the_package_and_the_pip_command(tmp_path, monkeypatch):
    ws = str(tmp_path / "ws")
    tasuki.build(TOKENS, workspace=ws, progress="off")
    # sys.modules[name] = None is how Python marks a module as not importable; the inline
    # executor runs the task in this process, which sees it.
    monkeypatch.setitem(sys.modules, "gensim", None)
    with pytest.raises(TaskFailedError, match=r"package 'gensim'.*`pip install gensim`"):
        tasuki.build(Word2VecTask(tokens=TOKENS), workspace=ws, progress="off", executor="inline")
