"""Markdown descriptions to safe HTML.

People write table and column descriptions in Markdown; anyone who may edit could try to
put a script in one. The renderer therefore never passes HTML through: raw HTML in the text
is shown as text (markdown-it's ``html`` option off), and a link or image is only made when
its URL is ``http``, ``https``, ``mailto`` or scheme-less (``/tables/wh/s/t#col``,
``#section``, ``other-page``): ``javascript:``, ``data:``, ``vbscript:``, ``file:`` and any
other scheme leave the Markdown as plain text. The check runs on the URL after entity
decoding (``&#106;avascript:`` is ``javascript:``), which is where markdown-it hands it over.

Headings move down two levels (``# Title`` is an ``<h3>``): the page has its own ``<h1>``.

Links that leave the site get ``rel="nofollow noopener noreferrer"``: a catalog page's URL
(which names internal tables) is not sent to the sites a description links to.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

from markdown_it import MarkdownIt
from markupsafe import Markup

if TYPE_CHECKING:
    from markdown_it.renderer import RendererHTML
    from markdown_it.token import Token
    from markdown_it.utils import EnvType, OptionsDict

__all__ = [
    "ALLOWED_SCHEMES",
    "CACHED_CHARS",
    "HEADING_SHIFT",
    "is_plain",
    "is_safe_url",
    "render_markdown",
    "summary",
]

#: Levels a description's headings move down: its ``#`` is an ``<h3>``, under the page's own
#: ``<h1>`` and section ``<h2>`` (one outline for screen readers).
HEADING_SHIFT = 2

#: URL schemes a description may link to; scheme-less (relative) URLs are allowed too.
ALLOWED_SCHEMES = frozenset({"http", "https", "mailto"})


def is_safe_url(url: str) -> bool:
    """True when ``url`` is http(s), mailto or relative: what a description may link to.

    A URL is relative when no ``:`` comes before its first ``/``, ``?`` or ``#``; otherwise
    the text before the ``:`` is its scheme and must be in :data:`ALLOWED_SCHEMES`.
    """
    # An allowlist: browsers ignore tabs and newlines inside a scheme ("java\tscript:"),
    # but such a scheme is not in the list either way, so nothing needs stripping first.
    cleaned = url
    end = len(cleaned)
    for stop in "/?#":
        at = cleaned.find(stop)
        if at != -1:
            end = min(end, at)
    colon = cleaned.find(":", 0, end)
    if colon == -1:
        return True
    return cleaned[:colon].lower() in ALLOWED_SCHEMES


def _is_external(url: str) -> bool:
    lowered = url.lstrip().lower()
    return lowered.startswith(("http:", "https:", "//"))


def _heading(
    self: RendererHTML,
    tokens: Sequence[Token],
    idx: int,
    options: OptionsDict,
    env: EnvType,
) -> str:
    token = tokens[idx]
    level = int(token.tag[1:])
    token.tag = f"h{min(6, level + HEADING_SHIFT)}"
    return self.renderToken(tokens, idx, options, env)


def _link_open(
    self: RendererHTML,
    tokens: Sequence[Token],
    idx: int,
    options: OptionsDict,
    env: EnvType,
) -> str:
    token = tokens[idx]
    href = str(token.attrGet("href") or "")
    if _is_external(href):
        token.attrSet("rel", "nofollow noopener noreferrer")
    return self.renderToken(tokens, idx, options, env)


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "typographer": False})
    # GitHub-style tables and ~~strike~~: what people paste from pull requests.
    md.enable(["table", "strikethrough"])
    md.validateLink = is_safe_url  # type: ignore[method-assign]
    md.add_render_rule("link_open", _link_open)
    md.add_render_rule("heading_open", _heading)
    md.add_render_rule("heading_close", _heading)
    return md


def render_markdown(text: str | None) -> Markup:
    """Render a description's Markdown as HTML that is safe to put in a page.

    Raw HTML in ``text`` comes out escaped (shown, never run); links and images whose URL
    :func:`is_safe_url` refuses stay as their Markdown text. Returns :class:`Markup` so
    Jinja2's autoescaping leaves the result alone; an empty or ``None`` text gives ``""``.
    """
    if not text:
        return Markup("")
    if len(text) > CACHED_CHARS:
        return _render_now(text)
    return _render(text)


#: Descriptions up to this long are kept rendered (and summarised) in memory: a wide
#: table's page renders one per column, ~0.1 ms each, and the same texts are shown again
#: and again. Longer ones are few and rendered each time, so the caches stay small (at
#: most ~40 MB however the catalog is written, a few MB in practice).
CACHED_CHARS = 1000


@lru_cache(maxsize=4096)
def _render(text: str) -> Markup:
    return _render_now(text)


def _render_now(text: str) -> Markup:
    if is_plain(text):
        return Markup("<p>" + text.replace('"', "&quot;") + "</p>\n")
    return Markup(_parser().render(text))


# Characters that may start Markdown syntax anywhere in a line, need HTML escaping, or are
# controls (line breaks, tabs); and what may start a block at the start of a line
# (headings, quotes, lists, setext underlines, ordered lists).
_SYNTAX = re.compile(r"[\\`*_\[\]!<>&~|\x00-\x1f\x7f]")
_BLOCK_START = re.compile(r"#|>|-|\+|=|\d+[.)]")


def is_plain(text: str) -> bool:
    """True when ``text`` is one line that Markdown renders as one plain paragraph: no
    character that could start any syntax, no surrounding spaces. Most column descriptions
    are such a sentence; they skip the parser (the tests check both give the same HTML)."""
    return (
        bool(text)
        and text == text.strip()
        and _SYNTAX.search(text) is None
        and _BLOCK_START.match(text) is None
    )


def summary(text: str | None, *, limit: int = 200) -> str:
    """The first paragraph or heading of a description as plain text, at most ``limit``
    characters (cut at a word with "…"): a link preview's description, a list's one-liner.

    Markdown syntax is dropped (``**bold**`` gives ``bold``, a link gives its text); the
    result is plain text for the caller to escape, never HTML.
    """
    if limit < 1:
        raise ValueError(f"summary limit must be at least 1 character, got {limit!r}")
    if not text:
        return ""
    if len(text) > CACHED_CHARS:
        return _summary_now(text, limit)
    return _summary(text, limit)


# A schema's page summarises each of its tables: room for a few thousand.
@lru_cache(maxsize=8192)
def _summary(text: str, limit: int) -> str:
    return _summary_now(text, limit)


def _summary_now(text: str, limit: int) -> str:
    if is_plain(text):
        return _shorten(" ".join(text.split()), limit)
    # Lists show a summary per row: parse only the first block when that settles it. Not
    # when it has a "[": a reference link's definition may come later in the text.
    head = text.lstrip("\n").split("\n\n", 1)[0]
    if head != text and "[" not in head:
        found = _first_inline(head)
        if found:
            return _shorten(found, limit)
    return _shorten(_first_inline(text), limit)


def _first_inline(text: str) -> str:
    for token in _parser().parse(text):
        if token.type == "inline" and token.children is not None:
            plain = _plain(token.children).strip()
            if plain:
                return " ".join(plain.split())
    return ""


def _plain(children: list[Token]) -> str:
    parts: list[str] = []
    for child in children:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif child.type == "image":
            parts.append(_plain(child.children or []))
    return "".join(parts)


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    # Cut at a word when one ends in the last third; Japanese has no spaces to cut at.
    if space > limit * 2 // 3:
        cut = cut[:space]
    return cut.rstrip() + "…"
