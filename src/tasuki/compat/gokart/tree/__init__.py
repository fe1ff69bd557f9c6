"""gokart's ``gokart.tree``: the dependency tree of a task."""
