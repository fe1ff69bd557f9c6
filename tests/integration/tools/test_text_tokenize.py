"""Tokenising: whitespace, Japanese with janome and Sudachi (their dictionaries ship in the
wheels), normalisation, part-of-speech filter, stop words, the Tokenize task, and a missing
dictionary package."""

from __future__ import annotations

import sys
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

import tasuki
from tasuki.contrib.text import CONTENT_POS, Tokenize, tokenize
from tasuki.errors import ConfigError, ParameterError, TaskFailedError

pytest.importorskip("janome")

JAPANESE = [
    "東京都で形態素解析の勉強会がありました。",
    "昨日は美味しいラーメンを食べた。",
    "ＰｙＴｈｏｎで自然言語処理をする",
]


class Texts(tasuki.Task):
    """A small table of texts (an id and the text) as Parquet, or as an Arrow table."""

    arrow: bool = False

    def output(self) -> Any:
        return self.make_target("texts.parquet")

    def run(self) -> None:
        frame = pd.DataFrame({"id": [1, 2, 3], "body": JAPANESE})
        self.dump(pa.Table.from_pandas(frame) if self.arrow else frame)


def test_janome_splits_known_words_and_the_filter_keeps_content_words_in_base_form():
    plain = tokenize(JAPANESE, tokenizer="janome")
    assert plain[0][:5] == ["東京", "都", "で", "形態素", "解析"]
    assert "を" in plain[1] and "食べ" in plain[1]
    content = tokenize(JAPANESE, tokenizer="janome", pos=CONTENT_POS, base_form=True)
    assert content[1] == ["昨日", "美味しい", "ラーメン", "食べる"]
    assert not {"で", "の", "を", "た", "。"} & {w for row in content for w in row}


def test_nfkc_and_lower_casing_turn_full_width_latin_into_ascii_lower_case():
    assert tokenize(JAPANESE[2:], tokenizer="janome")[0][0] == "python"
    kept = tokenize(JAPANESE[2:], tokenizer="janome", normalize=False, lowercase=False)
    assert kept[0][0] == "ＰｙＴｈｏｎ"


def test_sudachi_keeps_the_longest_units():
    pytest.importorskip("sudachipy")
    pytest.importorskip("sudachidict_core")
    tokens = tokenize(JAPANESE, tokenizer="sudachi", pos=CONTENT_POS, base_form=True)
    assert tokens[0][:3] == ["東京都", "形態素", "解析"]
    assert "食べる" in tokens[1]


def test_whitespace_tokenizer_with_stop_words_and_missing_values():
    rows = tokenize(["The Zen of  PYTHON", None, "ｆｕｌｌ width"], stop_words=("the", "OF"))
    assert rows == [["zen", "python"], [], ["full", "width"]]
    with pytest.raises(ParameterError, match=r"pos=\['名詞'\] needs part-of-speech tags"):
        tokenize(["a b"], pos=("名詞",))
    with pytest.raises(ParameterError, match="unknown tokenizer 'mecab'; use one of whitespace"):
        tokenize(["a b"], tokenizer="mecab")


def test_a_missing_dictionary_package_names_it_and_the_pip_command(monkeypatch):
    # sys.modules[name] = None is how Python marks a module as not importable.
    monkeypatch.setitem(sys.modules, "sudachidict_core", None)
    with pytest.raises(ConfigError) as caught:
        tokenize(JAPANESE, tokenizer="sudachi")
    message = str(caught.value)
    assert "'sudachidict-core'" in message and "`pip install sudachidict-core`" in message
    monkeypatch.setitem(sys.modules, "janome", None)
    with pytest.raises(ConfigError, match=r"package 'janome'.*`pip install janome`"):
        tokenize(JAPANESE, tokenizer="janome")


@pytest.mark.parametrize("arrow", [False, True])
def test_tokenize_task_writes_the_table_with_a_token_list_column(tmp_path, arrow):
    task = Tokenize(data=Texts(arrow=arrow), column="body", tokenizer="janome", pos=CONTENT_POS)
    out = tasuki.build(task, workspace=str(tmp_path / "ws"), progress="off")
    assert list(out.columns) == ["id", "body", "tokens"]
    assert list(out["tokens"][0]) == ["東京", "都", "形態素", "解析", "勉強", "会", "あり"]
    # Parquet's list column comes back as arrays of strings, one per row.
    assert [len(row) for row in out["tokens"]] == [7, 4, 5]


def test_tokenize_task_on_a_missing_column_names_it(tmp_path):
    task = Tokenize(data=Texts(), column="text")
    with pytest.raises(TaskFailedError, match=r"\['text'\].*\['id', 'body'\]"):
        tasuki.build(task, workspace=str(tmp_path / "ws"), progress="off")
