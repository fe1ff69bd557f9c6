"""What changed between two texts, as HTML with ``<ins>`` and ``<del>``.

The history page and the edit-conflict page show a description before and after. Texts are
compared line by line first (a long description with one changed paragraph stays cheap and
readable), then word by word inside each changed run of lines, so a fixed typo shows as one
word struck out and one inserted. Japanese and Chinese have no spaces between words: each
such character is its own token, so one changed character is not a whole sentence redone.

Every piece of either text is HTML-escaped; the only markup in the result is the diff's own
``<ins>``/``<del>``. Show it in an element with ``white-space: pre-wrap`` to keep line breaks.
"""

from __future__ import annotations

import difflib
import re
from html import escape

from markupsafe import Markup

__all__ = ["MAX_WORD_TOKENS", "diff_html", "tokens"]

#: Past this many tokens on either side of a changed run of lines, the run is shown as whole
#: lines deleted and inserted: word matching is quadratic in the worst case.
MAX_WORD_TOKENS = 4000

# A run of word characters that are not CJK, a run of spaces, or any single character
# (each CJK character, each punctuation mark).
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f\uac00-\ud7af"
_TOKEN = re.compile(rf"(?:(?![{_CJK}])\w)+|[^\S\n]+|\n|.", re.DOTALL)


def tokens(text: str) -> list[str]:
    """Split ``text`` into the pieces the word diff compares; joined they give ``text``."""
    return _TOKEN.findall(text)


def diff_html(before: str | None, after: str | None) -> Markup:
    """HTML showing how ``before`` became ``after``: removed text in ``<del>``, added in
    ``<ins>``, unchanged text as is; all of it escaped. ``None`` counts as empty.
    """
    old = (before or "").splitlines(keepends=True)
    new = (after or "").splitlines(keepends=True)
    out: list[str] = []
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        left = "".join(old[i1:i2])
        right = "".join(new[j1:j2])
        if op == "equal":
            out.append(escape(left))
        elif op == "delete":
            out.append(_wrap("del", left))
        elif op == "insert":
            out.append(_wrap("ins", right))
        else:
            out.append(_words(left, right))
    return Markup("".join(out))


def _words(left: str, right: str) -> str:
    a = tokens(left)
    b = tokens(right)
    if len(a) > MAX_WORD_TOKENS or len(b) > MAX_WORD_TOKENS:
        return _wrap("del", left) + _wrap("ins", right)
    out: list[str] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            out.append(escape("".join(a[i1:i2])))
            continue
        if op in ("delete", "replace"):
            out.append(_wrap("del", "".join(a[i1:i2])))
        if op in ("insert", "replace"):
            out.append(_wrap("ins", "".join(b[j1:j2])))
    return "".join(out)


def _wrap(tag: str, text: str) -> str:
    return f"<{tag}>{escape(text)}</{tag}>" if text else ""
