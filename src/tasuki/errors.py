"""The whole tasuki exception tree.

Every error tasuki raises derives from :class:`TasukiError`. Each carries its fields as
attributes (so callers branch on data, not on message text), pickles across process
boundaries, and says whether retrying may help through the ``retryable`` class attribute::

    TasukiError
    ├── ConfigError                   settings: bad key, bad value, unreadable file
    ├── TaskError                     task definitions and task values
    │   ├── TaskNotFoundError         "mypkg.tasks:Nope" cannot be imported
    │   ├── ParameterError            unknown / missing / wrongly typed parameter
    │   ├── DependencyCycleError      requires() loops back on itself
    │   ├── MissingOutputError        run() finished without writing a declared output
    │   ├── TaskFailedError           run() raised; wraps the original exception
    │   └── RecordNotFoundError       no run record for a unique id
    ├── FormatError                   formats: unknown extension, value the format cannot hold
    │   ├── UnknownFormatError
    │   ├── EmptyOutputError          dump of an empty value with fail_on_empty_dump
    │   └── MissingColumnsError       load_data_frame(required_columns=...) not satisfied
    ├── StorageError                  workspace unreachable, disk full, lock not acquired
    │   ├── WorkspaceUnreachableError
    │   ├── CorruptOutputError        an output's bytes differ from what its record says
    │   ├── OutputGoneError           an output a finished run made is not there (also a
    │   │                             FileNotFoundError)
    │   └── LockTimeoutError          (retryable)
    ├── NotificationError             a webhook refused our POST (retryable)
    ├── WarehouseError                warehouse access (see tasuki.warehouse)
    │   ├── UnsafeQueryError
    │   ├── QuerySyntaxError
    │   ├── QueryTimeoutError         (retryable)
    │   ├── TableNotFoundError
    │   ├── PermissionDeniedError
    │   └── WarehouseConnectionError  (retryable)
    ├── MigrationError                MySQL -> warehouse copies
    │   └── SchemaDriftError
    ├── CatalogError                  the catalog store, its sync and the web app
    │   ├── CatalogNotFoundError      no catalog object (or lineage node) at that path
    │   ├── EditConflictError         an edit started from a version someone else changed
    │   └── AccessDeniedError         the user's role does not allow the action
    └── UnsupportedError              a luigi / gokart construct tasuki.compat cannot run
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "AccessDeniedError",
    "CatalogError",
    "CatalogNotFoundError",
    "ConfigError",
    "CorruptOutputError",
    "DependencyCycleError",
    "EditConflictError",
    "EmptyOutputError",
    "FormatError",
    "LockTimeoutError",
    "MigrationError",
    "MissingColumnsError",
    "MissingOutputError",
    "NotificationError",
    "OutputGoneError",
    "ParameterError",
    "PermissionDeniedError",
    "QuerySyntaxError",
    "QueryTimeoutError",
    "RecordNotFoundError",
    "SchemaDriftError",
    "StorageError",
    "TableNotFoundError",
    "TaskError",
    "TaskFailedError",
    "TaskNotFoundError",
    "TasukiError",
    "UnknownFormatError",
    "UnsafeQueryError",
    "UnsupportedError",
    "WarehouseConnectionError",
    "WarehouseError",
    "WorkspaceUnreachableError",
]


class TasukiError(Exception):
    """Root of every tasuki error.

    Subclasses pass their fields as keyword arguments; they become attributes and survive
    pickling, so an error raised in a worker process arrives intact in the parent.
    """

    retryable: ClassVar[bool] = False

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields
        for key, value in fields.items():
            setattr(self, key, value)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_error, (type(self), self.message, self.fields))

    def __str__(self) -> str:
        return self.message


def _rebuild_error(cls: type[TasukiError], message: str, fields: dict[str, Any]) -> TasukiError:
    err = cls.__new__(cls)
    TasukiError.__init__(err, message, **fields)
    return err


class ConfigError(TasukiError):
    """A setting is unknown, malformed, or a settings file cannot be read."""


class TaskError(TasukiError):
    """Something is wrong with a task definition or a task value."""


class TaskNotFoundError(TaskError):
    """A task path such as ``mypkg.tasks:TaskB`` does not name an importable Task class."""


class ParameterError(TaskError):
    """A task parameter is unknown, missing, or of the wrong type."""


class DependencyCycleError(TaskError):
    """``requires()`` (or task parameters) loop back to a task already on the path."""


class MissingOutputError(TaskError):
    """``run()`` returned without writing one of the outputs it declared."""


class TaskFailedError(TaskError):
    """A task's ``run()`` raised. ``cause_type`` and ``cause_message`` describe the original."""


class RecordNotFoundError(TaskError):
    """No run record matches a unique id (or id prefix) in the workspace."""


class FormatError(TasukiError):
    """A value cannot be written or read in the format its file extension selects."""


class UnknownFormatError(FormatError):
    """No registered format handles a file extension."""


class EmptyOutputError(FormatError):
    """An empty value was dumped while ``fail_on_empty_dump`` is on."""


class MissingColumnsError(FormatError):
    """A loaded data frame lacks columns the caller said it requires."""


class StorageError(TasukiError):
    """The workspace (or a results folder) cannot be read or written.

    A full, over-quota, read-only or forbidden disk met while writing carries ``path`` (the
    file), ``root`` (its workspace or results folder), ``errno_name`` (``"ENOSPC"`` ...) and
    ``reason``.
    """


class WorkspaceUnreachableError(StorageError):
    """The workspace URL cannot be reached or created."""


class CorruptOutputError(StorageError):
    """An output's size or content hash differs from what its run record says.

    Fields: ``key`` (the file), ``uid`` and ``task`` (the task that made it), ``expected``
    and ``found`` (``"<size> bytes, xxh3 <hash>"``). A build reruns that task.
    """


class OutputGoneError(StorageError, FileNotFoundError):
    """An output that a finished run made (or that a build took as made) is not in the
    workspace any more: removed since (``tasuki gc``, a person), or its run's record is
    gone or failed since. Also a :class:`FileNotFoundError`.

    Fields: ``key`` (the file) and ``uid`` and ``task`` (the task that made it). A build
    whose task finds one while loading what it requires runs that task again, then itself.
    """


class LockTimeoutError(StorageError):
    """A per-task lease could not be acquired in time."""

    retryable = True


class NotificationError(TasukiError):
    """A notification endpoint refused or could not be reached."""

    retryable = True


class WarehouseError(TasukiError):
    """Base of warehouse access errors."""


class UnsafeQueryError(WarehouseError):
    """A statement is not a single read-only SELECT / WITH query."""


class QuerySyntaxError(WarehouseError):
    """The warehouse or the parser rejected the SQL; ``position`` says where when known."""


class QueryTimeoutError(WarehouseError):
    """The statement ran past its timeout."""

    retryable = True


class TableNotFoundError(WarehouseError):
    """A relation named in the query does not exist."""


class PermissionDeniedError(WarehouseError):
    """The warehouse user may not read or write a relation."""


class WarehouseConnectionError(WarehouseError):
    """The warehouse could not be reached, or the connection dropped."""

    retryable = True


class MigrationError(TasukiError):
    """A MySQL -> warehouse table copy failed."""


class SchemaDriftError(MigrationError):
    """The source table's columns differ from the target's and the policy is to fail."""


class CatalogError(TasukiError):
    """The catalog store, a metadata sync, lineage or the web app failed."""


class CatalogNotFoundError(CatalogError):
    """No catalog object or lineage node at the path or key given (``path`` attribute)."""


class EditConflictError(CatalogError):
    """An edit named a version of the object that is no longer current: someone else edited
    it meanwhile. ``path``, ``expected_version``, ``current_version`` and ``current`` (the
    text now stored) let the editor merge and retry; nothing was written."""

    path: str
    expected_version: int
    current_version: int
    current: Any
    """The :class:`~tasuki.catalog.CatalogObject` as stored now."""


class AccessDeniedError(CatalogError):
    """The user's role does not allow the action (``user``, ``role``, ``needed``)."""


class UnsupportedError(TasukiError):
    """A luigi or gokart construct with no tasuki equivalent (luigi's central scheduler,
    ``luigi.contrib``...). ``construct`` names it; the message names the tasuki way."""
