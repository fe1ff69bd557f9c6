"""Runnable tasuki examples (``python -m examples.wine.run`` from the repository root)."""
