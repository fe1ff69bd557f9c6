"""Checked, frozen settings objects without pydantic.

:class:`tasuki.config.Settings` is read by every build and every CLI command. As a pydantic
model it cost ~60 ms of every ``import tasuki`` (importing pydantic) and ~25 ms more at the
first build (building its validator), several times what gokart spends on a whole small
build. Settings have about twenty fields of five kinds, so the checks are written out here:
a field declares its kind in its dataclass ``metadata`` (:func:`text`, :func:`number`,
:func:`choice`, :func:`mapping`, or ``{"model": OtherModel}`` for a nested section), and
:class:`SettingsModel` checks and converts every value when an object is made, collecting
every problem into one :class:`Invalid` error, in pydantic's words (the messages users and
tests already know): ``Input should be greater than or equal to 1``, ``Input should be
'rerun', 'warn' or 'ignore'``, ``Extra inputs are not permitted``.

Conversions are pydantic's lax ones that settings need: strings from environment variables
become numbers and booleans (``"2"``, ``"true"``), an integral float an int, an int a float.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

from tasuki._redact import redact
from tasuki.errors import ConfigError

__all__ = [
    "Invalid",
    "SettingsModel",
    "choice",
    "describe",
    "mapping",
    "number",
    "text",
    "texts",
]

_TRUE = {"1", "true", "t", "yes", "y", "on"}
_FALSE = {"0", "false", "f", "no", "n", "off"}


def text(*, optional: bool = False) -> dict[str, Any]:
    """Metadata of a string field (``None`` allowed when ``optional``)."""
    return {"kind": "text", "optional": optional}


def texts() -> dict[str, Any]:
    """Metadata of a ``list[str]`` field; from the environment, a comma-separated string."""
    return {"kind": "texts"}


def number(
    kind: type[int] | type[float] | type[bool],
    *,
    ge: float | None = None,
    gt: float | None = None,
) -> dict[str, Any]:
    """Metadata of an int, float or bool field, with optional lower bounds."""
    return {"kind": kind.__name__, "ge": ge, "gt": gt}


def choice(
    *allowed: str, many: bool = False, yes: str | None = None, no: str | None = None
) -> dict[str, Any]:
    """Metadata of a field holding one of ``allowed`` (a list of them when ``many``).

    ``yes`` / ``no`` name the choices a boolean stands for (``progress=False`` is "off"),
    for fields where a user reads the setting as a switch.
    """
    return {"kind": "choice", "allowed": allowed, "many": many, "yes": yes, "no": no}


def mapping(values: type[str] | type[dict[str, Any]]) -> dict[str, Any]:
    """Metadata of a ``dict[str, str]`` or ``dict[str, dict]`` field."""
    return {"kind": "mapping", "values": values}


class Invalid(ConfigError):
    """One or more values of a settings object are bad.

    Attributes:
        errors: One dict per problem: ``loc`` (the path of the key), ``type``, ``msg``,
            ``input``, and ``ctx`` where there is more to say (``expected``).
    """

    errors: list[dict[str, Any]]

    def __init__(self, errors: list[dict[str, Any]], fields: list[str]) -> None:
        super().__init__(describe(errors, {}, fields), errors=errors, fields=fields)


class _Fields:
    """``Model.model_fields``: name -> dataclass field, in declaration order."""

    def __get__(self, obj: object, owner: type) -> dict[str, dataclasses.Field[Any]]:
        return {f.name: f for f in dataclasses.fields(owner)}


class SettingsModel:
    """Base of settings classes: declare each as ``@dataclass(frozen=True, init=False)``
    (this ``__init__`` checks every value and reports unknown keys by name, where a
    dataclass's own would raise a bare TypeError and check nothing)."""

    model_fields: ClassVar[_Fields] = _Fields()

    def __init__(self, **values: Any) -> None:
        fields = dataclasses.fields(self)  # type: ignore[arg-type]
        names = {f.name for f in fields}
        errors: list[dict[str, Any]] = [
            {"loc": (key,), "type": "extra_forbidden", "msg": "Extra inputs are not permitted"}
            | {"input": value}
            for key, value in values.items()
            if key not in names
        ]
        for f in fields:
            if f.name in values:
                value = _check(f, values[f.name], (f.name,), errors)
            elif f.default is not dataclasses.MISSING:
                value = f.default
            else:
                value = f.default_factory()  # type: ignore[operator]
            object.__setattr__(self, f.name, value)
        if errors:
            raise Invalid(errors, [f.name for f in fields])

    def model_dump(self, *, mode: str = "python") -> dict[str, Any]:
        """The values as plain dicts, lists and scalars (fields marked ``exclude`` left out);
        ``mode`` is accepted for pydantic's signature: every value is JSON-ready already."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            if f.metadata.get("exclude"):
                continue
            value = getattr(self, f.name)
            if isinstance(value, SettingsModel):
                value = value.model_dump(mode=mode)
            elif isinstance(value, dict):
                value = {k: dict(v) if isinstance(v, dict) else v for k, v in value.items()}
            elif isinstance(value, list):
                value = list(value)
            out[f.name] = value
        return out

    def model_copy(self, *, update: Mapping[str, Any] | None = None) -> Any:
        """A copy with ``update`` applied, unchecked (as pydantic's ``model_copy``)."""
        new = object.__new__(type(self))
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            object.__setattr__(new, f.name, getattr(self, f.name))
        for key, value in (update or {}).items():
            object.__setattr__(new, key, value)
        return new


def _check(f: dataclasses.Field[Any], value: Any, loc: tuple[Any, ...], errors: list[Any]) -> Any:
    """``value`` converted for field ``f``, or ``value`` as is with a problem added."""
    meta = f.metadata
    nested = meta.get("model")
    if nested is not None:
        if isinstance(value, nested):
            return value
        if not isinstance(value, Mapping):
            errors.append(_err(loc, "model_type", "Input should be a valid dictionary", value))
            return value
        try:
            return nested(**value)
        except Invalid as exc:
            errors.extend({**e, "loc": loc + tuple(e["loc"])} for e in exc.errors)
            return value
    kind = meta["kind"]
    if kind == "text":
        if value is None and meta["optional"]:
            return None
        if not isinstance(value, str):
            errors.append(_err(loc, "string_type", "Input should be a valid string", value))
        return value
    if kind == "texts":
        if isinstance(value, str):  # TASUKI_WEB__ADMINS="a@x.com,b@x.com"
            return [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            errors.append(_err(loc, "list_type", "Input should be a list of strings", value))
            return value
        return list(value)
    if kind == "choice":
        if meta["many"]:
            if not isinstance(value, list | tuple):
                errors.append(_err(loc, "list_type", "Input should be a valid list", value))
                return value
            return [_one_of(meta["allowed"], v, (*loc, i), errors) for i, v in enumerate(value)]
        if meta.get("yes") is not None and value not in meta["allowed"]:
            switch = _switch(value)
            if switch is not None:
                return meta["yes"] if switch else meta["no"]
        return _one_of(meta["allowed"], value, loc, errors)
    if kind == "mapping":
        return _mapping(meta["values"], value, loc, errors)
    return _number(kind, meta, value, loc, errors)


def _err(loc: tuple[Any, ...], kind: str, msg: str, value: Any, **ctx: Any) -> dict[str, Any]:
    out = {"loc": loc, "type": kind, "msg": msg, "input": value}
    if ctx:
        out["ctx"] = ctx
    return out


def _one_of(allowed: tuple[str, ...], value: Any, loc: tuple[Any, ...], errors: list[Any]) -> Any:
    if isinstance(value, str) and value in allowed:
        return value
    quoted = [repr(a) for a in allowed]
    expected = ", ".join(quoted[:-1]) + f" or {quoted[-1]}" if len(quoted) > 1 else quoted[0]
    errors.append(
        _err(loc, "literal_error", f"Input should be {expected}", value, expected=expected)
    )
    return value


def _switch(value: Any) -> bool | None:
    """``value`` read as a yes or no (a bool, 0 / 1, "true", "off"...), or None."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    return None


def _mapping(values: type, value: Any, loc: tuple[Any, ...], errors: list[Any]) -> Any:
    if not isinstance(value, Mapping):
        errors.append(_err(loc, "dict_type", "Input should be a valid dictionary", value))
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            errors.append(_err((*loc, key), "string_type", "Input should be a valid string", key))
        elif values is str and not isinstance(item, str):
            errors.append(_err((*loc, key), "string_type", "Input should be a valid string", item))
        elif values is dict and not isinstance(item, Mapping):
            msg = "Input should be a valid dictionary"
            errors.append(_err((*loc, key), "dict_type", msg, item))
        else:
            out[key] = dict(item) if isinstance(item, Mapping) else item
    return out


def _number(
    kind: str, meta: Mapping[str, Any], value: Any, loc: tuple[Any, ...], errors: list[Any]
) -> Any:
    if kind == "bool":
        switch = _switch(value)
        if switch is not None:
            return switch
        msg = "Input should be a valid boolean, unable to interpret input"
        errors.append(_err(loc, "bool_parsing", msg, value))
        return value
    got: float | None = None
    if isinstance(value, bool):
        got = None
    elif kind == "int":
        if isinstance(value, int):
            got = value
        elif isinstance(value, float) and value.is_integer():
            got = int(value)
        elif isinstance(value, str):
            try:
                got = int(value.strip())
            except ValueError:
                got = None
    elif isinstance(value, int | float):
        got = float(value)
    elif isinstance(value, str):
        try:
            got = float(value.strip())
        except ValueError:
            got = None
    if got is None:
        what = "integer" if kind == "int" else "number"
        errors.append(_err(loc, f"{kind}_parsing", f"Input should be a valid {what}", value))
        return value
    if meta.get("ge") is not None and not got >= meta["ge"]:
        limit = meta["ge"]
        msg = f"Input should be greater than or equal to {limit:g}"
        errors.append(_err(loc, "greater_than_equal", msg, value, ge=limit))
    elif meta.get("gt") is not None and not got > meta["gt"]:
        limit = meta["gt"]
        errors.append(_err(loc, "greater_than", f"Input should be greater than {limit:g}", value))
    return got


def describe(errors: list[dict[str, Any]], source: Mapping[str, str], fields: list[str]) -> str:
    """The message of a settings error: one line per problem, naming the key, the bad value
    (secrets redacted), where it came from (``source``: top-level key -> where), what is
    allowed, and a close known key for an unknown one."""
    lines = ["invalid tasuki settings:"]
    for err in errors:
        loc = ".".join(str(p) for p in err["loc"])
        top = str(err["loc"][0]) if err["loc"] else ""
        where = source.get(top, "defaults" if source else "arguments")
        if err["type"] == "extra_forbidden":
            hint = _close_matches(top, fields, n=1)
            allowed = ", ".join(f for f in fields if f != "source")
            lines.append(
                f"  - unknown key {loc!r} (from {where})"
                + (f"; did you mean {hint[0]!r}?" if hint else "")
                + f" Known keys: {allowed}."
            )
        else:
            expected = err.get("ctx", {}).get("expected")
            lines.append(
                f"  - {loc} = {redact(repr(err.get('input')))} (from {where}): {redact(err['msg'])}"
                # a choice's message names what is allowed already
                + (f"; allowed: {expected}" if expected and expected not in err["msg"] else "")
            )
    env_hint = "TASUKI_<KEY> or TASUKI_<SECTION>__<KEY>"
    lines.append(f"Set keys in tasuki.toml, [tool.tasuki] in pyproject.toml, or {env_hint}.")
    return "\n".join(lines)


def _close_matches(word: str, possibilities: list[str], n: int) -> list[str]:
    """``difflib.get_close_matches``, imported on this error path only (difflib is a few
    ms of every ``import tasuki`` otherwise)."""
    import difflib

    return difflib.get_close_matches(word, possibilities, n=n)
