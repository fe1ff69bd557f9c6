"""The before/after diff on the history and conflict pages."""

from __future__ import annotations

import pytest

pytest.importorskip("markupsafe")

from tasuki.web import _diff
from tasuki.web._diff import diff_html, tokens


def test_changed_word_is_struck_and_inserted_rest_kept() -> None:
    html = diff_html("The quick brown fox\nline two\n", "The quick red fox\nline two\nline 3")
    assert html == "The quick <del>brown</del><ins>red</ins> fox\nline two\n<ins>line 3</ins>"


def test_japanese_diff_is_per_character() -> None:
    html = diff_html("売上の合計です", "売上の平均です")
    assert html == "売上の<del>合計</del><ins>平均</ins>です"


def test_both_texts_are_escaped() -> None:
    html = diff_html("<script>alert(1)</script>", '<img src=x onerror="alert(2)">')
    assert "<script" not in html and "<img" not in html
    assert "&lt;" in html
    assert 'onerror="' not in html  # quotes escaped too: safe inside attributes


def test_none_and_empty() -> None:
    assert diff_html(None, None) == ""
    assert diff_html(None, "x") == "<ins>x</ins>"
    assert diff_html("x", "") == "<del>x</del>"
    assert diff_html("same", "same") == "same"


def test_tokens_join_back_to_the_text() -> None:
    text = "score_v2 は 0〜1 の値。\n  NULL = not scored"
    assert "".join(tokens(text)) == text
    assert "score_v2" in tokens(text)
    assert "値" in tokens(text)


def test_huge_changed_run_falls_back_to_whole_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_diff, "MAX_WORD_TOKENS", 3)
    assert diff_html("a b c d", "a b c e") == "<del>a b c d</del><ins>a b c e</ins>"
