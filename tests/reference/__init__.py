"""Reference code from other projects, run unchanged against tasuki's compat layers."""
