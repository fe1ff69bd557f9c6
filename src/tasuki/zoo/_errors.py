"""Errors of the model zoo.

They sit under :class:`~tasuki.errors.TasukiError` like every tasuki error (fields as
attributes, picklable)::

    ZooError
    ├── ModelNotFoundError      no model of that name in the registry (close names listed)
    ├── VersionNotFoundError    the model has no such version (the versions listed)
    ├── AliasNotFoundError      the model has no such alias (its aliases listed)
    ├── CorruptModelError       an artifact's bytes differ from what version.json says
    ├── ModelLoadError          the recorded format / load function / MLflow flavour failed
    └── MirrorError             the MLflow Model Registry refused or could not be reached
                                (retryable; only ``tasuki zoo mirror`` raises it: a push warns)

and one warning, :class:`MirrorWarning`, that a push gives (once) when its version could not
be mirrored into MLflow.
"""

from __future__ import annotations

from typing import ClassVar

from tasuki.errors import TasukiError

__all__ = [
    "AliasNotFoundError",
    "CorruptModelError",
    "MirrorError",
    "MirrorWarning",
    "ModelLoadError",
    "ModelNotFoundError",
    "VersionNotFoundError",
    "ZooError",
]


class ZooError(TasukiError):
    """Root of the errors of :mod:`tasuki.zoo`."""


class ModelNotFoundError(ZooError):
    """No model called ``model`` in the registry ``registry``; ``known`` lists close names."""


class VersionNotFoundError(ZooError):
    """Model ``model`` has no version ``version``; ``versions`` lists the ones it has."""


class AliasNotFoundError(ZooError):
    """Model ``model`` has no alias ``alias``; ``aliases`` lists the ones it has."""


class CorruptModelError(ZooError):
    """An artifact file of a model version (``model``, ``version``, ``path``) differs from
    what its ``version.json`` says (``expected`` / ``found``)."""


class ModelLoadError(ZooError):
    """Loading model ``model`` version ``version`` through ``loader`` raised; the original
    error is the ``__cause__``."""


class MirrorError(ZooError):
    """The MLflow tracking server ``tracking_uri`` refused the mirror or did not answer."""

    retryable: ClassVar[bool] = True


class MirrorWarning(UserWarning):
    """A pushed version was kept in the registry but not mirrored into MLflow."""
