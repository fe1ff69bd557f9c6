"""Run gokart and luigi code on tasuki by changing one import.

>>> import tasuki.compat.gokart as gokart  # doctest: +SKIP
>>> import tasuki.compat.luigi as luigi  # doctest: +SKIP

Every ``TaskOnKart`` subclass is a real :class:`tasuki.Task` (same caching, records, ``why``,
executors); ``tasuki upgrade-gokart`` then rewrites the classes as native typed tasks with the
same unique ids, and ``tasuki adopt-gokart`` reuses outputs gokart already computed. See
``docs/gokart.md``.
"""
