"""tasuki."""
