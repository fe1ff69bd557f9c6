"""gokart's ``gokart.config_params``: ``inherits_config_params``."""

from tasuki.compat._config_class import inherits_config_params

__all__ = ["inherits_config_params"]
