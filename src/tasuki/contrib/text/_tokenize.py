"""Tokenising a text column: whitespace, or Japanese morphological analysis with a
dictionary that ships inside a PyPI wheel (``janome``: pure Python, IPADIC in the wheel;
``sudachipy`` with ``sudachidict-core``).

:func:`tokenize` works on strings; :class:`Tokenize` is the task that runs it on a column
of another task's table and writes the table back with the tokens as a list column.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import unicodedata
from collections.abc import Callable, Iterable
from typing import Any, Literal

from tasuki.contrib.split import pick_output
from tasuki.core.params import param
from tasuki.core.task import Task
from tasuki.errors import ConfigError, ParameterError, TaskError

__all__ = ["CONTENT_POS", "TOKENIZERS", "Tokenize", "TokenizerName", "tokenize"]

TokenizerName = Literal["whitespace", "janome", "sudachi"]
TOKENIZERS: tuple[str, ...] = ("whitespace", "janome", "sudachi")
#: Nouns, verbs and adjectives: the first part-of-speech field of both dictionaries
#: (IPADIC's for janome, UniDic's for Sudachi) uses these names.
CONTENT_POS: tuple[str, ...] = ("名詞", "動詞", "形容詞")

#: (module to import, PyPI package that provides it) for each tokenizer; the dictionary is
#: part of the package, so a missing package is a missing dictionary.
_NEEDS: dict[str, list[tuple[str, str]]] = {
    "whitespace": [],
    "janome": [("janome", "janome")],
    "sudachi": [("sudachipy", "sudachipy"), ("sudachidict_core", "sudachidict-core")],
}

#: A morpheme: (surface form, dictionary form, first part-of-speech field).
Morpheme = tuple[str, str, str]


def _require(tokenizer: str) -> None:
    """Raise ConfigError naming each package the tokenizer needs and does not find."""
    missing = [pkg for module, pkg in _NEEDS[tokenizer] if importlib.util.find_spec(module) is None]
    if missing:
        names = " and ".join(repr(p) for p in missing)
        raise ConfigError(
            f"tokenizer={tokenizer!r} needs the PyPI package {names} (its dictionary ships "
            f"inside the wheel), which is not installed. Install it with "
            f"`pip install {' '.join(missing)}`, or pick another tokenizer: "
            f"{', '.join(TOKENIZERS)}",
            tokenizer=tokenizer,
            packages=missing,
        )


@functools.cache
def _janome() -> Callable[[str], list[Morpheme]]:
    # Loading the dictionary takes a moment: once per process.
    from janome.tokenizer import Tokenizer

    analyser = Tokenizer()

    def run(text: str) -> list[Morpheme]:
        out = []
        for token in analyser.tokenize(text):
            if isinstance(token, str):  # only with wakati=True, which is not used here
                out.append((token, token, ""))
                continue
            base = token.base_form if token.base_form != "*" else token.surface
            out.append((token.surface, base, token.part_of_speech.split(",", 1)[0]))
        return out

    return run


@functools.cache
def _sudachi() -> Callable[[str], list[Morpheme]]:
    from sudachipy import Dictionary, SplitMode

    analyser = Dictionary(dict="core").create()

    def run(text: str) -> list[Morpheme]:
        # Mode C: the longest units (東京都 stays one word), as a search index would want.
        return [
            (m.surface(), m.dictionary_form(), m.part_of_speech()[0])
            for m in analyser.tokenize(text, SplitMode.C)
        ]

    return run


def _whitespace(text: str) -> list[Morpheme]:
    return [(word, word, "") for word in text.split()]


def _analyser(tokenizer: str) -> Callable[[str], list[Morpheme]]:
    if tokenizer not in _NEEDS:
        raise ParameterError(
            f"tokenize: unknown tokenizer {tokenizer!r}; use one of {', '.join(TOKENIZERS)}",
            parameter="tokenizer",
            value=repr(tokenizer),
        )
    _require(tokenizer)
    if tokenizer == "janome":
        return _janome()
    if tokenizer == "sudachi":
        return _sudachi()
    return _whitespace


def tokenize(
    texts: Iterable[str | None],
    *,
    tokenizer: str = "whitespace",
    normalize: bool = True,
    lowercase: bool = True,
    pos: Iterable[str] = (),
    base_form: bool = False,
    stop_words: Iterable[str] = (),
) -> list[list[str]]:
    """The tokens of each text.

    Args:
        texts: The texts; None gives an empty list.
        tokenizer: ``whitespace``, ``janome`` or ``sudachi``.
        normalize: Unicode NFKC first (full-width letters and digits to ASCII, half-width
            kana to full-width).
        lowercase: Lower-case after normalising.
        pos: Keep only morphemes whose first part-of-speech field is one of these
            (e.g. :data:`CONTENT_POS`); empty keeps all. Japanese tokenizers only.
        base_form: The dictionary form (食べた → 食べる) instead of the surface.
        stop_words: Tokens to drop, compared after normalising and lower-casing.

    Raises:
        ConfigError: the tokenizer's package (and dictionary) is not installed.
        ParameterError: an unknown tokenizer, or ``pos`` with ``whitespace``.
    """
    analyse = _analyser(tokenizer)
    keep = frozenset(pos)
    if keep and tokenizer == "whitespace":
        raise ParameterError(
            f"tokenize: pos={sorted(keep)!r} needs part-of-speech tags, which the "
            "'whitespace' tokenizer has none of; use tokenizer='janome' or 'sudachi', or pos=()",
            parameter="pos",
            value=repr(sorted(keep)),
        )
    stop = frozenset(_clean(w, normalize, lowercase) for w in stop_words)
    result: list[list[str]] = []
    for text in texts:
        if text is None or text != text:  # None or NaN: a missing value
            result.append([])
            continue
        if not isinstance(text, str):
            raise TaskError(
                f"tokenize: expected text, got {type(text).__name__} {text!r}; "
                "the column must hold strings",
                value=repr(text),
            )
        text = unicodedata.normalize("NFKC", text) if normalize else text
        tokens = []
        for surface, base, tag in analyse(text):
            if keep and tag not in keep:
                continue
            word = (base if base_form else surface).strip()
            word = word.lower() if lowercase else word
            if word and word not in stop:
                tokens.append(word)
        result.append(tokens)
    return result


def _clean(word: str, normalize: bool, lowercase: bool) -> str:
    word = unicodedata.normalize("NFKC", word) if normalize else word
    return word.lower() if lowercase else word


class Tokenize(Task):
    """Tokenise a text column of another task's table; writes ``tokens.parquet``: the input
    table with the tokens added as a list column (``output_column``).

    Example:
        >>> Tokenize(data=Reviews(), column="body", tokenizer="janome",
        ...          pos=CONTENT_POS, base_form=True, stop_words=("する", "なる"))
    """

    data: Task
    data_output: str | None = param(default=None, description="which output of `data`")
    column: str = param(default="text", description="the text column")
    tokenizer: TokenizerName = "whitespace"
    normalize: bool = param(default=True, description="Unicode NFKC before tokenising")
    lowercase: bool = True
    pos: tuple[str, ...] = param(
        default=(), description="keep these parts of speech (Japanese), e.g. CONTENT_POS"
    )
    base_form: bool = param(default=False, description="dictionary form instead of surface")
    stop_words: tuple[str, ...] = ()
    output_column: str = param(default="tokens", description="the list column written")
    library_versions = ("janome", "sudachipy", "sudachidict-core")

    def requires(self) -> Any:
        """The task whose table holds the texts."""
        return self.data

    def output(self) -> Any:
        """``tokens.parquet``."""
        return self.make_target("tokens.parquet")

    def run(self) -> None:
        """Tokenise the column and write the table; row and token counts go into the run
        record."""
        where = f"{type(self).task_name()} input"
        frame = pick_output(self.load(), self.data_output, where=f"{where} (data_output)")
        if hasattr(frame, "to_pandas"):  # an Arrow table
            frame = frame.to_pandas()
        from tasuki.formats import check_columns

        check_columns(frame, [self.column], where=where)
        tokens = tokenize(
            frame[self.column].tolist(),
            tokenizer=self.tokenizer,
            normalize=self.normalize,
            lowercase=self.lowercase,
            pos=self.pos,
            base_form=self.base_form,
            stop_words=self.stop_words,
        )
        out = frame.copy()
        out[self.output_column] = tokens
        self.task_log.update({"rows": len(out), "tokens": sum(map(len, tokens))})
        self.dump(out)
