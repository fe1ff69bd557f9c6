"""``python -m tasuki`` is the ``tasuki`` command."""

from tasuki.cli import main

main()
