"""word2vec and fastText (gensim) trained on a :class:`Tokenize` task's token lists, each
kept as a model target (gensim's own ``save`` / ``load`` inside the zip).

Determinism: gensim 4 draws the initial vectors from a generator seeded with ``seed`` and,
with one worker thread, trains on the sentences in one fixed order, so the same seed gives
the same vectors in every process (Python's per-process string hash plays no part since
gensim 4). With more workers the threads update shared vectors in whatever order they run,
and the result varies: ``workers`` defaults to 1 and is part of the task's id.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tasuki.contrib.split import pick_output
from tasuki.core.params import param
from tasuki.core.task import Task
from tasuki.errors import ConfigError, ParameterError

if TYPE_CHECKING:
    from gensim.models import KeyedVectors

__all__ = ["FastTextTask", "Word2VecTask", "load_vectors"]

_FILE = "model.gensim"


def _save(model: Any, folder: Path) -> None:
    # gensim may put large arrays in separate .npy files beside it: all go into the zip.
    model.save(str(folder / _FILE))


def _load_word2vec(folder: Path) -> Any:
    from gensim.models import Word2Vec

    return Word2Vec.load(str(folder / _FILE))  # no mmap: the folder is removed after this


def _load_fasttext(folder: Path) -> Any:
    from gensim.models import FastText

    return FastText.load(str(folder / _FILE))


class _GensimTask(Task):
    """The shared part: read token lists, train, keep the model."""

    tokens: Task
    tokens_output: str | None = param(default=None, description="which output of `tokens`")
    column: str = param(default="tokens", description="the list column of tokens")
    vector_size: int = 100
    window: int = 5
    min_count: int = param(default=5, description="drop words rarer than this")
    epochs: int = 5
    sg: bool = param(default=False, description="skip-gram (True) or CBOW (False)")
    seed: int = 1
    workers: int = param(default=1, description="threads; only 1 repeats exactly")
    library_versions = ("gensim",)

    def requires(self) -> Any:
        """The tokenising task."""
        return self.tokens

    def output(self) -> Any:
        """``model.zip``, a model target."""
        return self.make_model_target(
            "model.zip", save_function=_save, load_function=self._loader()
        )

    def _loader(self) -> Any:
        raise NotImplementedError

    def make_model(self) -> Any:
        """An untrained gensim model with this task's parameters. Override."""
        raise NotImplementedError

    def run(self) -> None:
        """Build the vocabulary, train, keep the model; the vocabulary size and the train
        time (``train_s``) go into the run record."""
        import importlib.util

        from tasuki.formats import check_columns

        name = type(self).task_name()
        if importlib.util.find_spec("gensim") is None:
            raise ConfigError(
                f"{name} needs the PyPI package 'gensim', which is not installed. Install it "
                "with `pip install gensim` (or `pip install 'tasuki[text]'`)",
                packages=["gensim"],
            )
        frame = pick_output(self.load(), self.tokens_output, where=f"{name} (tokens_output)")
        if hasattr(frame, "to_pandas"):
            frame = frame.to_pandas()
        check_columns(frame, [self.column], where=f"{name} input")
        sentences = [[str(w) for w in row] for row in frame[self.column] if row is not None]
        sentences = [s for s in sentences if s]
        model = self.make_model()
        model.build_vocab(sentences)
        if not model.wv.index_to_key:
            raise ParameterError(
                f"{name}: no word occurs min_count={self.min_count} times in the "
                f"{len(sentences)} non-empty token lists; lower min_count or give more text",
                parameter="min_count",
                value=repr(self.min_count),
            )
        start = time.perf_counter()
        model.train(sentences, total_examples=model.corpus_count, epochs=model.epochs)
        self.log_metric("train_s", time.perf_counter() - start)
        self.task_log.update({"sentences": len(sentences), "vocabulary": len(model.wv)})
        self.dump(model)

    def _common(self) -> dict[str, Any]:
        for key in ("vector_size", "window", "epochs", "workers"):
            if getattr(self, key) < 1:
                raise ParameterError(
                    f"{type(self).task_name()}: {key} must be at least 1, got "
                    f"{getattr(self, key)!r}",
                    parameter=key,
                    value=repr(getattr(self, key)),
                )
        return {
            "vector_size": self.vector_size,
            "window": self.window,
            "min_count": self.min_count,
            "epochs": self.epochs,
            "sg": int(self.sg),
            "seed": self.seed,
            "workers": self.workers,
        }


class Word2VecTask(_GensimTask):
    """word2vec (``gensim.models.Word2Vec``) on a :class:`Tokenize` task's tokens.

    Example:
        >>> tokens = Tokenize(data=Reviews(), column="body", tokenizer="janome")
        >>> w2v = Word2VecTask(tokens=tokens, vector_size=50, min_count=2, seed=7)
    """

    def _loader(self) -> Any:
        return _load_word2vec

    def make_model(self) -> Any:
        """``Word2Vec`` with the task's parameters, vocabulary not built yet."""
        from gensim.models import Word2Vec

        return Word2Vec(**self._common())


class FastTextTask(_GensimTask):
    """fastText (``gensim.models.FastText``): word vectors plus character n-grams
    (``min_n`` to ``max_n``), so a word never seen in training still gets a vector."""

    min_n: int = param(default=3, description="shortest character n-gram")
    max_n: int = param(default=6, description="longest character n-gram; 0 turns n-grams off")
    bucket: int = param(
        default=2_000_000, description="n-gram hash buckets: the model holds bucket x vector_size"
    )

    def _loader(self) -> Any:
        return _load_fasttext

    def make_model(self) -> Any:
        """``FastText`` with the task's parameters, vocabulary not built yet."""
        from gensim.models import FastText

        return FastText(**self._common(), min_n=self.min_n, max_n=self.max_n, bucket=self.bucket)


def load_vectors(task: Task, *, workspace: str | os.PathLike[str] | None = None) -> KeyedVectors:
    """The word vectors (``model.wv``) of a finished :class:`Word2VecTask` or
    :class:`FastTextTask`, e.g. ``load_vectors(w2v).most_similar("東京")``."""
    from tasuki.core.loading import load

    if not isinstance(task, _GensimTask):
        raise ParameterError(
            f"load_vectors: expected a Word2VecTask or FastTextTask, got {type(task).__name__}",
            parameter="task",
            value=type(task).__name__,
        )
    vectors: KeyedVectors = load(task, workspace=workspace).wv
    return vectors
