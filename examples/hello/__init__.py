"""The two-task pipeline from the tasuki README: ``TaskA`` feeds ``TaskB``."""
