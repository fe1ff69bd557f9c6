"""Tests that start tools (mypy, a generated project's pytest, tokenizers and word2vec
training): run once in CI, not again under every other Python (tests/test_other_pythons.py)."""
