"""The tfds split grammar: slices, percents (tfds's rounding), '+', even parts, carets."""

from __future__ import annotations

import pytest

from tasuki.datasets import even_splits
from tasuki.datasets._splits import parse_split, resolve_split, shard_ranges
from tasuki.errors import ConfigError

ROWS = {"train": 1000, "test": 200, "validation": 5}


@pytest.mark.parametrize(
    ("expr", "want"),
    [
        ("train", [("train", 0, 1000)]),
        ("train[:80%]", [("train", 0, 800)]),
        ("train[80%:]", [("train", 800, 1000)]),
        ("train[10:20]", [("train", 10, 20)]),
        ("train[-100:]", [("train", 900, 1000)]),
        ("train[:-10%]", [("train", 0, 900)]),
        ("train[1_0:2_0]", [("train", 10, 20)]),
        ("train[:80%]+test", [("train", 0, 800), ("test", 0, 200)]),
        (" train[ :10% ] + test[-5:] ", [("train", 0, 100), ("test", 195, 200)]),
        ("all", [("train", 0, 1000), ("test", 0, 200), ("validation", 0, 5)]),
        ("train[5:5]", [("train", 5, 5)]),
        ("train[:100%]", [("train", 0, 1000)]),
        ("train[-100%:]", [("train", 0, 1000)]),
    ],
)
def test_expressions(expr, want):
    assert resolve_split(expr, ROWS) == want


def test_percent_rounding_is_tfds_closest_half_to_even():
    # round(p * n / 100), Python's round: 2.5 -> 2, 7.5 -> 8
    assert resolve_split("validation[:50%]", ROWS) == [("validation", 0, 2)]
    assert resolve_split("validation[50%:]", ROWS) == [("validation", 2, 5)]
    assert resolve_split("x[:50%]", {"x": 15}) == [("x", 0, 8)]
    assert resolve_split("x[:33%]", {"x": 10}) == [("x", 0, 3)]
    assert resolve_split("x[:34%]", {"x": 10}) == [("x", 0, 3)]
    assert resolve_split("x[:35%]", {"x": 10}) == [("x", 0, 4)]  # 3.5 -> 4 (even)
    assert resolve_split("x[:25%]", {"x": 10}) == [("x", 0, 2)]  # 2.5 -> 2 (even)
    # adjacent percent slices always meet
    for n in range(1, 60):
        for p in range(0, 101, 7):
            (_, _, a), (_, b, _) = resolve_split(f"x[:{p}%]+x[{p}%:]", {"x": n})
            assert a == b


def test_even_splits_cover_every_row_once():
    parts = even_splits("train", 3)
    assert parts == ["train(1/3)", "train(2/3)", "train(3/3)"]
    got = [resolve_split(p, {"train": 11})[0] for p in parts]
    assert got == [("train", 0, 4), ("train", 4, 8), ("train", 8, 11)]  # 4, 4, 3 as tfds
    dropped = [
        resolve_split(p, {"train": 11})[0] for p in even_splits("train", 3, drop_remainder=True)
    ]
    assert dropped == [("train", 0, 3), ("train", 3, 6), ("train", 6, 9)]


def test_even_splits_of_sliced_and_added_expressions():
    parts = even_splits("train[:80%]+test", 2)
    assert parts == ["train[:80%](1/2)+test(1/2)", "train[:80%](2/2)+test(2/2)"]
    assert resolve_split(parts[1], ROWS) == [("train", 400, 800), ("test", 100, 200)]
    again = even_splits(parts[0], 2)  # parts of parts
    assert resolve_split(again[1], ROWS) == [("train", 200, 400), ("test", 50, 100)]


def test_even_splits_n_must_be_positive():
    with pytest.raises(ConfigError, match="n must be an integer >= 1"):
        even_splits("train", 0)


@pytest.mark.parametrize(
    ("expr", "caret", "message"),
    [
        ("train[:80%+test", 10, "expected ']'"),
        ("train[10:5%]", 8, "one unit in a slice"),
        ("train[5]", 7, "expected ':'"),
        ("train[:80%]++test", 12, "expected a split name"),
        ("train[:101%]", 7, "-100%..100%"),
        ("train[a:]", 6, "row number or a percent"),
        ("train x", 6, "unexpected 'x'"),
        ("", 0, "expected a split name"),
        ("train(0/3)", 5, "1 <= K <= N"),
        ("train(1/3,shuffle)", 10, "drop_remainder"),
        ("train[1__0:]", 6, "row number"),
        ("train[25:", 9, "expected ']' to close the slice, found the end"),
    ],
)
def test_a_bad_expression_points_at_the_character(expr, caret, message):
    with pytest.raises(ConfigError, match="bad split expression") as exc:
        resolve_split(expr, ROWS)
    text = str(exc.value)
    assert message in text
    lines = text.splitlines()
    assert lines[1] == f"  {expr}"
    assert lines[2] == "  " + " " * caret + "^"
    assert exc.value.position == caret


@pytest.mark.parametrize(
    ("expr", "caret", "message"),
    [
        ("trian[:10]", 0, "Did you mean 'train'"),
        ("train+tst", 6, "no split 'tst'"),
        ("train[:2000]", 5, "beyond split 'train', which has 1000 rows"),
        ("train[-1001:]", 5, "beyond split"),
        ("train[20:10]", 5, "start must not come after the stop"),
        ("train[-10:10]", 5, "start must not come after the stop"),
        ("all[:10]", 3, "'all' takes no slice"),
    ],
)
def test_bad_against_the_dataset_points_at_the_term(expr, caret, message):
    with pytest.raises(ConfigError, match="bad split expression") as exc:
        resolve_split(expr, ROWS)
    assert message in str(exc.value)
    assert str(exc.value).splitlines()[2] == "  " + " " * caret + "^"


def test_parse_keeps_the_text_and_round_trips():
    parsed = parse_split("train[:80%](1/2,drop_remainder)+test[-5:]")
    assert str(parsed) == "train[:80%](1/2,drop_remainder)+test[-5:]"
    assert [t.at for t in parsed.terms] == [0, 32]


def test_shard_ranges():
    assert shard_ranges([5, 5, 5], 0, 15) == [(0, 0, 5), (1, 0, 5), (2, 0, 5)]
    assert shard_ranges([5, 5, 5], 3, 11) == [(0, 3, 5), (1, 0, 5), (2, 0, 1)]
    assert shard_ranges([5, 5, 5], 5, 10) == [(1, 0, 5)]
    assert shard_ranges([5, 0, 5], 4, 6) == [(0, 4, 5), (2, 0, 1)]
    assert shard_ranges([5, 5], 3, 3) == []
