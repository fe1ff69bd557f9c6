"""End-to-end tests: the tasuki command and the examples, in subprocesses."""
