"""Text: tokenising (whitespace, or Japanese with ``janome`` / ``sudachipy``, whose
dictionaries ship in their wheels) and word2vec / fastText training with ``gensim``, kept as
model targets. Install: ``pip install 'tasuki[text]'``; nothing heavy loads until a task
runs. See docs/contrib-text.md.
"""

from tasuki.contrib.text._embeddings import FastTextTask, Word2VecTask, load_vectors
from tasuki.contrib.text._tokenize import (
    CONTENT_POS,
    TOKENIZERS,
    Tokenize,
    TokenizerName,
    tokenize,
)

__all__ = [
    "CONTENT_POS",
    "TOKENIZERS",
    "FastTextTask",
    "Tokenize",
    "TokenizerName",
    "Word2VecTask",
    "load_vectors",
    "tokenize",
]
