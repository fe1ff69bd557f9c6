"""Descriptions rendered from Markdown: formatting kept, HTML and unsafe links never live."""

from __future__ import annotations

import pytest

pytest.importorskip("markdown_it")

from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import Markup

from tasuki.web._markdown import is_plain, is_safe_url, render_markdown, summary


def test_formatting_tables_and_safe_links_render() -> None:
    html = render_markdown(
        "# Scores\n\n**bold** ~~old~~ `code`\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
        "[docs](https://example.com/x?a=1&b=2) [col](/tables/wh/s/t#score) "
        "[me](mailto:a@example.com)"
    )
    assert isinstance(html, Markup)
    assert "<h3>Scores</h3>" in html  # under the page's <h1> and <h2>
    assert "<strong>bold</strong>" in html and "<s>old</s>" in html
    assert "<code>code</code>" in html
    assert "<td>1</td>" in html
    assert '<a href="https://example.com/x?a=1&amp;b=2" rel="nofollow noopener noreferrer">' in html
    # A link inside the catalog keeps the referrer: no rel.
    assert '<a href="/tables/wh/s/t#score">col</a>' in html
    assert '<a href="mailto:a@example.com">me</a>' in html


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        '<a href="javascript:alert(1)">x</a>',
        "<iframe src=https://evil.example></iframe>",
        "<div>\n<script>alert(1)</script>\n</div>",
        "<!-- comment --><style>body{display:none}</style>",
    ],
)
def test_raw_html_is_shown_as_text_never_passed_through(text: str) -> None:
    html = render_markdown(text)
    assert "<script" not in html
    assert "<img" not in html
    assert "<a " not in html
    assert "<iframe" not in html
    assert "<style" not in html
    assert "<div" not in html
    assert "&lt;" in html  # the text is still there for the reader, escaped


@pytest.mark.parametrize(
    "text",
    [
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x](&#106;avascript:alert(1))",
        "[x](java\tscript:alert(1))",
        "[x]( javascript:alert(1))",
        "<javascript:alert(1)>",
        "[x](vbscript:msgbox(1))",
        "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "![i](data:image/png;base64,AAAA)",
        "[x](file:///etc/passwd)",
        "[x][r]\n\n[r]: javascript:alert(1)",
    ],
)
def test_links_with_unsafe_schemes_stay_plain_text(text: str) -> None:
    html = render_markdown(text)
    assert "href" not in html
    assert "src=" not in html


def test_attribute_breakout_in_a_link_is_escaped() -> None:
    html = render_markdown('[t](https://e.com/"onmouseover="alert(1))')
    assert 'onmouseover="' not in html
    assert "%22onmouseover=%22alert(1)" in html


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://example.com", True),
        ("HTTP://example.com", True),
        ("mailto:x@example.com", True),
        ("/tables/wh", True),
        ("#col", True),
        ("page?a=b:c", True),
        ("./a:b", True),
        ("javascript:alert(1)", False),
        (" javascript:alert(1)", False),
        ("java\nscript:alert(1)", False),
        ("data:text/html,x", False),
        ("ftp://example.com", False),
    ],
)
def test_is_safe_url(url: str, ok: bool) -> None:
    assert is_safe_url(url) is ok


def test_headings_move_down_under_the_pages_own() -> None:
    html = render_markdown("# One\n\n## Two\n\n#### Four\n\nSetext\n======")
    assert "<h3>One</h3>" in html and "<h4>Two</h4>" in html and "<h6>Four</h6>" in html
    assert "<h3>Setext</h3>" in html
    assert "<h1>" not in html and "<h2>" not in html


def test_empty_description_renders_nothing() -> None:
    assert render_markdown("") == ""
    assert render_markdown(None) == ""


def test_summary_is_the_first_block_as_plain_text() -> None:
    text = "\n\n## Daily **scores** of [items](https://e.com)\n\nsecond paragraph"
    assert summary(text) == "Daily scores of items"
    assert summary("<script>x</script>") == "<script>x</script>"  # plain text: caller escapes
    assert summary("") == ""
    assert summary("---\n\n") == ""


def test_summary_cuts_long_text_at_a_word_or_mid_japanese() -> None:
    words = "word " * 100
    cut = summary(words, limit=50)
    assert len(cut) <= 50 and cut.endswith("word…")
    assert summary("日本語" * 100, limit=10) == "日本語日本語日本語…"
    with pytest.raises(ValueError, match="at least 1"):
        summary("x", limit=0)


def test_plain_sentences_skip_the_parser_with_the_same_html() -> None:
    assert is_plain("Order total in yen, tax included (2024 onwards)")
    for text in ("1. first", "# head", "- item", "> quote", "a *b*", " padded", "a\nb", "x\ty"):
        assert not is_plain(text), text


# What a plain sentence may hold, and what may start a block or be stripped as space.
_TRICKY = "ab1.-=#+>)\"' \u00a0\u3000売上\t\x0b\x0c"


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from(list(_TRICKY)), max_size=12))
def test_plain_fast_path_renders_exactly_as_markdown_it(text: str) -> None:
    from tasuki.web._markdown import _parser

    if is_plain(text):
        assert render_markdown(text) == _parser().render(text)
        tokens = _parser().parse(text)
        inline = [t for t in tokens if t.type == "inline"]
        expected = " ".join(inline[0].content.split()) if inline else ""
        assert summary(text) == expected


def test_long_descriptions_are_rendered_alike_but_not_kept() -> None:
    from tasuki.web import _markdown

    long_text = "# Title\n\n" + "A *long* description. " * 200
    assert len(long_text) > _markdown.CACHED_CHARS
    before = _markdown._render.cache_info().currsize, _markdown._summary.cache_info().currsize
    html = render_markdown(long_text)
    assert html.startswith("<h3>Title</h3>") and "<em>long</em>" in html
    assert summary(long_text) == "Title"
    after = _markdown._render.cache_info().currsize, _markdown._summary.cache_info().currsize
    assert after == before
    short = "A *short* one."
    render_markdown(short)
    summary(short)
    assert _markdown._render.cache_info().currsize == before[0] + 1
    assert _markdown._summary.cache_info().currsize == before[1] + 1
