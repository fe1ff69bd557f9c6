"""The split grammar of ``tfds.load(split=...)``, and where a split's rows lie in its shards.

::

    expression := term ( "+" term )*
    term       := SPLIT [ "[" [bound] ":" [bound] "]" ] part*
    bound      := ["-"] DIGITS ["%"]              (DIGITS may hold "_": 1_000)
    part       := "(" K "/" N [ "," "drop_remainder" ] ")"

- ``train`` is the whole split; ``all`` is every split, in the order ``dataset_info.json``
  lists them (by name), unless a split is called ``all``.
- ``train[10:20]``: rows 10 to 19; ``train[-1000:]``: the last 1,000; bounds are row
  numbers or percents of the split (``train[:80%]``), never both in one slice. A bound
  beyond the split's rows is refused (tfds does the same), as is a start after the stop.
- Percents become rows as tfds's default ``closest`` rounding does:
  ``round(percent * rows / 100)`` with Python's :func:`round` (half to even), so
  ``train[:50%]`` of 5 rows is 2 rows and ``train[50%:]`` the other 3; ``[:33%]`` and
  ``[33%:]`` always meet exactly.
- ``term(K/N)`` is the K-th (from 1) of N even parts of what the term selects: the first
  ``rows % N`` parts take one row more (tfds's ``even_splits``), or, with
  ``drop_remainder``, every part takes ``rows // N`` rows and the rest is left out.
  :func:`even_splits` writes these for you.
- ``+`` concatenates, in order.

A malformed expression is a ConfigError that shows the expression with a caret under the
character where it went wrong.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tasuki.errors import ConfigError

__all__ = [
    "Bound",
    "SplitExpression",
    "SplitTerm",
    "even_splits",
    "parse_split",
    "resolve_split",
    "shard_ranges",
]

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
_HELP = (
    "Write SPLIT, SPLIT[a:b] with row numbers or percents (train[:80%], train[-1000:], "
    "train[10:20]), joined with '+' (train[:80%]+test)."
)


@dataclass(frozen=True)
class Bound:
    """One end of a slice: a row number or a percent, maybe negative (from the end)."""

    value: int
    percent: bool

    def __str__(self) -> str:
        return f"{self.value}{'%' if self.percent else ''}"


@dataclass(frozen=True)
class SplitTerm:
    """``train[10%:20%](1/2)``: a split, an optional slice and even parts of the result."""

    split: str
    start: Bound | None = None
    stop: Bound | None = None
    sliced: bool = False
    parts: tuple[tuple[int, int, bool], ...] = ()
    """``(k, n, drop_remainder)``, applied left to right."""
    at: int = 0
    """Where the term starts in the expression (for carets)."""
    slice_at: int = 0

    def __str__(self) -> str:
        out = self.split
        if self.sliced:
            start = "" if self.start is None else str(self.start)
            stop = "" if self.stop is None else str(self.stop)
            out += f"[{start}:{stop}]"
        for k, n, drop in self.parts:
            out += f"({k}/{n}{',drop_remainder' if drop else ''})"
        return out


@dataclass(frozen=True)
class SplitExpression:
    """A parsed split expression: its terms, in order."""

    text: str
    terms: tuple[SplitTerm, ...]

    def __str__(self) -> str:
        return "+".join(str(t) for t in self.terms)


def _caret_error(text: str, at: int, message: str, **fields: object) -> ConfigError:
    at = max(0, min(at, len(text)))
    return ConfigError(
        f"bad split expression {text!r}: {message}\n  {text}\n  {' ' * at}^\n{_HELP}",
        split=text,
        position=at,
        **fields,
    )


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0

    def fail(self, message: str, at: int | None = None) -> ConfigError:
        return _caret_error(self.text, self.i if at is None else at, message)

    def peek(self) -> str:
        return self.text[self.i] if self.i < len(self.text) else ""

    def spaces(self) -> None:
        while self.peek() in (" ", "\t"):
            self.i += 1

    def expect(self, char: str, what: str) -> None:
        self.spaces()
        if self.peek() != char:
            got = repr(self.peek()) if self.peek() else "the end"
            raise self.fail(f"expected {char!r} {what}, found {got}")
        self.i += 1

    def integer(self, what: str) -> int:
        self.spaces()
        start = self.i
        if self.peek() == "-":
            self.i += 1
        digits = self.i
        while self.peek().isdigit() or (self.peek() == "_" and self.i > digits):
            self.i += 1
        body = self.text[digits : self.i]
        if not body.replace("_", "").isdigit() or body.endswith("_") or "__" in body:
            raise self.fail(f"expected {what}", at=start)
        return int(self.text[start : self.i].replace("_", ""))

    def bound(self) -> Bound | None:
        self.spaces()
        if self.peek() in (":", "]", ""):
            return None  # an open end; a missing "]" is reported by the caller
        start = self.i
        if not (self.peek().isdigit() or self.peek() == "-"):
            raise self.fail("expected a row number or a percent such as 80%", at=start)
        value = self.integer("a row number or a percent such as 80%")
        percent = self.peek() == "%"
        if percent:
            self.i += 1
            if abs(value) > 100:
                raise self.fail(f"a percent lies in -100%..100%, got {value}%", at=start)
        return Bound(value, percent)

    def term(self) -> SplitTerm:
        self.spaces()
        at = self.i
        while self.peek() and self.peek() in _NAME_CHARS:
            self.i += 1
        name = self.text[at : self.i]
        if not name:
            found = repr(self.peek()) if self.peek() else "the end"
            raise self.fail(f"expected a split name (letters, digits, '_', '-'), found {found}")
        start = stop = None
        sliced = False
        slice_at = self.i
        self.spaces()
        if self.peek() == "[":
            slice_at = self.i
            sliced = True
            self.i += 1
            start = self.bound()
            colon_at = self.i
            self.expect(":", "between the slice's bounds (a single index is not a slice)")
            stop = self.bound()
            self.expect("]", "to close the slice")
            if start and stop and start.percent != stop.percent:
                raise self.fail(
                    "one bound is a percent and the other a row number: use one unit in a slice",
                    at=colon_at,
                )
        parts: list[tuple[int, int, bool]] = []
        self.spaces()
        while self.peek() == "(":
            part_at = self.i
            self.i += 1
            k = self.integer("a part number K in (K/N)")
            self.expect("/", "in (K/N)")
            n = self.integer("a part count N in (K/N)")
            drop = False
            self.spaces()
            if self.peek() == ",":
                self.i += 1
                self.spaces()
                word_at = self.i
                while self.peek().isalpha() or self.peek() == "_":
                    self.i += 1
                if self.text[word_at : self.i] != "drop_remainder":
                    raise self.fail("the only option of a part is 'drop_remainder'", at=word_at)
                drop = True
            self.expect(")", "to close the part")
            if n < 1 or not 1 <= k <= n:
                raise self.fail(f"part ({k}/{n}) needs 1 <= K <= N", at=part_at)
            parts.append((k, n, drop))
            self.spaces()
        return SplitTerm(name, start, stop, sliced, tuple(parts), at, slice_at)

    def parse(self) -> SplitExpression:
        terms = [self.term()]
        self.spaces()
        while self.peek() == "+":
            self.i += 1
            terms.append(self.term())
            self.spaces()
        if self.i != len(self.text):
            raise self.fail(f"unexpected {self.peek()!r}; join splits with '+'")
        return SplitExpression(self.text, tuple(terms))


def parse_split(text: str) -> SplitExpression:
    """Parse a split expression (see the module docstring).

    Raises:
        ConfigError: malformed, with the expression and a caret under the bad character.

    Example:
        >>> [t.split for t in parse_split("train[:80%]+test").terms]
        ['train', 'test']
    """
    if not isinstance(text, str):
        raise ConfigError(
            f"split must be a string such as 'train[:80%]', got {type(text).__name__}",
            split=repr(text),
        )
    return _Parser(text).parse()


def _rows_of(bound: Bound, rows: int) -> int:
    if bound.percent:
        # tfds's "closest" rounding: float division, then round() (half to even).
        return round(bound.value * rows / 100.0)
    return bound.value


def resolve_split(
    expression: str | SplitExpression, rows: Mapping[str, int]
) -> list[tuple[str, int, int]]:
    """``(split, start, stop)`` row ranges, in order, that ``expression`` selects.

    Args:
        expression: A split expression or its parse.
        rows: Rows per split of the dataset version (its order is the order of ``all``).

    Raises:
        ConfigError: malformed; an unknown split (the splits there listed); a slice beyond
            the split's rows or starting after it stops (caret under the term).

    Example:
        >>> resolve_split("train[:80%]+test", {"train": 10, "test": 4})
        [('train', 0, 8), ('test', 0, 4)]
    """
    parsed = parse_split(expression) if isinstance(expression, str) else expression
    text = parsed.text
    out: list[tuple[str, int, int]] = []
    for term in parsed.terms:
        if term.split not in rows:
            if term.split == "all":
                if term.sliced or term.parts:
                    raise _caret_error(
                        text,
                        term.slice_at,
                        "'all' takes no slice or part; slice each split instead",
                    )
                out.extend((name, 0, n) for name, n in rows.items())
                continue
            close = difflib.get_close_matches(term.split, list(rows), n=2, cutoff=0.5)
            hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
            raise _caret_error(
                text,
                term.at,
                f"no split {term.split!r} in this dataset version.{hint} Its splits: "
                f"{', '.join(rows) or 'none'}",
                splits=list(rows),
            )
        n = rows[term.split]
        start = 0 if term.start is None else _rows_of(term.start, n)
        stop = n if term.stop is None else _rows_of(term.stop, n)
        for bound, value in ((term.start, start), (term.stop, stop)):
            if bound is not None and abs(value) > n:
                raise _caret_error(
                    text,
                    term.slice_at,
                    f"row {bound} is beyond split {term.split!r}, which has {n} rows",
                    rows=n,
                )
        start = start + n if start < 0 else start
        stop = stop + n if stop < 0 else stop
        if start > stop:
            raise _caret_error(
                text,
                term.slice_at,
                f"the slice starts at row {start} and stops at row {stop} of "
                f"{term.split!r} ({n} rows): the start must not come after the stop",
                rows=n,
            )
        for k, count, drop in term.parts:
            start, stop = _even_part(start, stop, k - 1, count, drop)
        out.append((term.split, start, stop))
    return out


def _even_part(start: int, stop: int, index: int, count: int, drop: bool) -> tuple[int, int]:
    """Part ``index`` (from 0) of ``count`` of ``[start, stop)``, as tfds's even splits."""
    total = stop - start
    each = total // count
    lo = start + each * index
    hi = start + each * (index + 1)
    rest = total % count
    if rest and not drop:
        lo += min(index, rest)
        hi += min(index + 1, rest)
    return lo, hi


def even_splits(split: str, n: int, *, drop_remainder: bool = False) -> list[str]:
    """``n`` split expressions that cut ``split`` into even, non-overlapping parts.

    Each term of ``split`` is cut (``train+test`` gives ``train(1/2)+test(1/2)`` and
    ``train(2/2)+test(2/2)``); parts differ by at most one row, the first ones taking the
    remainder, unless ``drop_remainder`` leaves it out. The strings go to ``split=`` of
    :func:`tasuki.datasets.load` and can be cut again or joined with ``+``.

    Raises:
        ConfigError: ``split`` is malformed, or ``n`` < 1.

    Example:
        >>> even_splits("train[:80%]", 3)
        ['train[:80%](1/3)', 'train[:80%](2/3)', 'train[:80%](3/3)']
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"even_splits: n must be an integer >= 1, got {n!r}", n=repr(n))
    parsed = parse_split(split)
    out = []
    for k in range(1, n + 1):
        terms = [
            SplitTerm(
                t.split,
                t.start,
                t.stop,
                t.sliced,
                (*t.parts, (k, n, drop_remainder)),
                t.at,
                t.slice_at,
            )
            for t in parsed.terms
        ]
        out.append("+".join(str(t) for t in terms))
    return out


def shard_ranges(shard_rows: Sequence[int], start: int, stop: int) -> list[tuple[int, int, int]]:
    """``(shard index, first row, end row)`` inside each shard that rows ``[start, stop)`` of
    a split touch, in order; shards outside the range are not listed.

    Example:
        >>> shard_ranges([5, 5, 5], 3, 11)
        [(0, 3, 5), (1, 0, 5), (2, 0, 1)]
    """
    out = []
    offset = 0
    for index, count in enumerate(shard_rows):
        lo, hi = max(start, offset), min(stop, offset + count)
        if lo < hi:
            out.append((index, lo - offset, hi - offset))
        offset += count
        if offset >= stop:
            break
    return out
