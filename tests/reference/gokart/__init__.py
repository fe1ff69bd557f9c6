"""gokart 1.12.2's own examples and documentation task code (MIT License, Copyright (c) 2018
M3, Inc.), copied verbatim except for the ``import gokart`` / ``import luigi`` lines, which
come from :mod:`tests.reference.gokart._imports` so the same file runs on the real gokart (in
the peer environment) and on ``tasuki.compat``.

:mod:`tests.reference.gokart._run` runs them all and writes the results;
``tests/integration/test_gokart_reference.py`` compares both sides.
"""
