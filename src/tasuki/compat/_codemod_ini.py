"""luigi ``.ini`` parameter defaults -> ``tasuki.toml``, for ``tasuki upgrade-gokart --ini``.

``[ClassName] key = value`` sections of the classes the codemod converted become
``[tasks."module:ClassName"]`` tables, each value typed by its parameter's class (int,
float, bool, JSON lists and dicts, dates and date-times as ISO strings, durations as
seconds); ``[TaskOnKart] workspace_directory`` becomes the top-level ``workspace``. What
cannot be mapped (an unknown section or key, a value of the wrong type, interpolation, a
class left unconverted) is reported, naming the file, section and key, and left out.
"""

from __future__ import annotations

import configparser
import datetime as dt
import json
import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tasuki.compat._codemod import ClassFacts

__all__ = ["IniConversion", "convert_ini", "merge_toml"]

# luigi's text forms of dates (luigi/parameter.py date_format of each class).
_DATE_FORMATS = {
    "DateParameter": ("%Y-%m-%d",),
    "MonthParameter": ("%Y-%m",),
    "YearParameter": ("%Y",),
}
_DATETIME_FORMATS = {
    "DateHourParameter": ("%Y-%m-%dT%H",),
    "DateMinuteParameter": ("%Y-%m-%dT%H%M", "%Y-%m-%dT%Hh%M"),
    "DateSecondParameter": ("%Y-%m-%dT%H%M%S",),
    "ZonedDateSecondParameter": ("%Y-%m-%dT%H%M%S%z",),
}
_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
_SIMPLE_DELTA = re.compile(
    r"\s*(\d+)\s*(w|weeks?|d|days?|h|hours?|m|minutes?|s|seconds?)\s*", re.IGNORECASE
)
_ISO_DELTA = re.compile(
    r"P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$"
)


# Sections luigi reads for itself (luigi/interface.py, worker.py, scheduler.py...).
_LUIGI_SECTIONS = frozenset(
    {"core", "worker", "scheduler", "retcode", "email", "smtp", "batch_notifier", "logging"}
)


class _BadValueError(ValueError):
    """A value that does not parse as its parameter's type (the message says why)."""


@dataclass
class IniConversion:
    """What the ``.ini`` files become: ``tables`` (``"module:Class"`` -> values),
    ``workspace`` and the ``problems`` (one line each, naming file, section and key)."""

    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    workspace: str | None = None
    problems: list[str] = field(default_factory=list)


def _timedelta_seconds(text: str) -> float:
    iso = _ISO_DELTA.match(text.strip())
    if iso and any(iso.groups()):
        w, d, h, m, s = (float(g) if g else 0.0 for g in iso.groups())
        return w * 604800 + d * 86400 + h * 3600 + m * 60 + s
    pos, total, matched = 0, 0.0, False
    stripped = text.strip()
    while pos < len(stripped):
        part = _SIMPLE_DELTA.match(stripped, pos)
        if part is None:
            raise _BadValueError("write a duration such as '1 d 2 h' or P1DT2H")
        total += int(part.group(1)) * _UNITS[part.group(2)[0].lower()]
        pos, matched = part.end(), True
    if not matched:
        raise _BadValueError("write a duration such as '1 d 2 h' or P1DT2H")
    return total


def _typed(cls_name: str, text: str) -> Any:
    """The TOML value of ``text`` for a parameter of class ``cls_name`` (canonical name)."""
    short = cls_name.rsplit(".", 1)[-1]
    if short.startswith("Optional") and short != "OptionalParameter":
        short = short.replace("Optional", "", 1)
        if text == "":
            raise _BadValueError("an empty value means None, which TOML cannot hold")
    elif short == "OptionalParameter":
        if text == "":
            raise _BadValueError("an empty value means None, which TOML cannot hold")
        short = "Parameter"
    if short in ("Parameter", "StrParameter", "PathParameter", "EnumParameter"):
        return text
    if short == "IntParameter":
        return int(text)
    if short == "FloatParameter":
        return float(text)
    if short in ("BoolParameter", "ExplicitBoolParameter"):
        lowered = text.strip().lower()
        if lowered not in ("true", "false"):
            raise _BadValueError("write true or false")
        return lowered == "true"
    if short in _DATE_FORMATS:
        return _parse_time(text, _DATE_FORMATS[short]).date().isoformat()
    if short in _DATETIME_FORMATS:
        return _parse_time(text, _DATETIME_FORMATS[short]).isoformat()
    if short == "TimeDeltaParameter":
        seconds = _timedelta_seconds(text)
        return int(seconds) if seconds.is_integer() else seconds
    if short in ("ListParameter", "TupleParameter", "DictParameter"):
        value = json.loads(text)
        want = dict if short == "DictParameter" else list
        if not isinstance(value, want):
            raise _BadValueError(f"expected a JSON {'object' if want is dict else 'array'}")
        return value
    if short == "EnumListParameter":
        return [part.strip() for part in text.split(",") if part.strip()]
    if short in ("ChoiceParameter", "NumericalParameter"):
        return text  # var_type is in the code; tasuki converts the text when it reads it
    raise _BadValueError(f"{short} values cannot be set in tasuki.toml")


def _parse_time(text: str, formats: Sequence[str]) -> dt.datetime:
    for fmt in formats:
        try:
            return dt.datetime.strptime(text.strip(), fmt)
        except ValueError:
            continue
    raise _BadValueError(f"expected the form {' or '.join(formats)}")


def convert_ini(
    paths: Sequence[Path], classes: Mapping[str, list[tuple[str, ClassFacts]]]
) -> IniConversion:
    """Read luigi ``.ini`` files and map their sections onto the converted classes.

    Args:
        paths: The ``.ini`` files, in luigi's order (a later file wins).
        classes: luigi task family -> ``(module name, facts)`` of each gokart class the
            codemod saw with that family.

    Returns:
        The tables, workspace and problems. Files that cannot be read are problems too.
    """
    out = IniConversion()
    for path in paths:
        parser = configparser.ConfigParser(interpolation=None, default_section="\0none")
        try:
            with path.open(encoding="utf-8") as fh:
                parser.read_file(fh)
        except (OSError, configparser.Error) as exc:
            out.problems.append(f"{path}: cannot read: {exc}")
            continue
        for section in parser.sections():
            _section(path, section, parser[section], classes, out)
    return out


def _section(
    path: Path,
    section: str,
    values: Mapping[str, str],
    classes: Mapping[str, list[tuple[str, ClassFacts]]],
    out: IniConversion,
) -> None:
    where = f"{path} [{section}]"
    if section == "TaskOnKart":
        for key, text in values.items():
            if key == "workspace_directory" and not _interpolated(text):
                out.workspace = text
            else:
                out.problems.append(
                    f"{where} {key}: no tasuki setting; left out (tasuki.toml holds settings "
                    "such as workspace, see docs)"
                )
        return
    found = classes.get(section, [])
    if not found and section in _LUIGI_SECTIONS:
        out.problems.append(
            f"{where}: luigi's own settings, not task parameters; left out (tasuki's settings "
            "are in docs/guide.md)"
        )
        return
    if not found:
        out.problems.append(
            f"{where}: no gokart class named {section} in the converted files; section left out"
        )
        return
    if len(found) > 1:
        modules = ", ".join(m for m, _ in found)
        out.problems.append(
            f"{where}: {section} is defined in several modules ({modules}); left out"
        )
        return
    module, facts = found[0]
    if not facts.converted:
        out.problems.append(
            f"{where}: {facts.name} was not converted; keep this section in the .ini"
        )
        return
    params = {name.lower(): (name, cls) for name, cls in facts.params.items()}
    table = out.tables.setdefault(f"{module}:{facts.name}", {})
    for key, text in values.items():
        found_param = params.get(key.replace("-", "_"))
        if found_param is None:
            known = ", ".join(facts.params) or "none"
            out.problems.append(
                f"{where} {key}: {facts.name} has no parameter {key} (parameters: {known}); "
                "left out"
            )
            continue
        name, cls_name = found_param
        if _interpolated(text):
            out.problems.append(
                f"{where} {key}: {text!r} uses interpolation (%(...)s or ${{...}}), which "
                "tasuki.toml does not have; left out"
            )
            continue
        try:
            table[name] = _typed(cls_name, text)
        except (ValueError, json.JSONDecodeError) as exc:
            out.problems.append(
                f"{where} {key}: {text!r} is not a valid {cls_name.rsplit('.', 1)[-1]} value "
                f"({exc}); left out"
            )
    if not table:
        del out.tables[f"{module}:{facts.name}"]


def _interpolated(text: str) -> bool:
    return "%(" in text or "${" in text


# -------------------------------------------------------------------- TOML text


def _key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        items = ", ".join(f"{_key(str(k))} = {_toml_value(v)}" for k, v in value.items())
        return "{ " + items + " }" if items else "{}"
    raise _BadValueError(f"TOML cannot hold {type(value).__name__} {value!r}")


def merge_toml(existing: str, conversion: IniConversion, where: str) -> str:
    """``existing`` tasuki.toml text with the converted workspace and tables added.

    What the file sets already is kept and reported in ``conversion.problems`` (``where``
    names the file); new text goes at the end, a new ``workspace`` line at the top.
    """
    try:
        current = tomllib.loads(existing) if existing.strip() else {}
    except tomllib.TOMLDecodeError as exc:
        conversion.problems.append(f"{where}: cannot read ({exc}); nothing added to it")
        return existing
    text = existing
    tasks = current.get("tasks", {}) if isinstance(current.get("tasks"), dict) else {}
    blocks: list[str] = []
    for name, values in conversion.tables.items():
        if name in tasks:
            conversion.problems.append(
                f'{where}: [tasks."{name}"] exists already; kept as it is, the .ini values left out'
            )
            continue
        lines = [f"[tasks.{json.dumps(name)}]"]
        lines += [f"{_key(k)} = {_toml_value(v)}" for k, v in values.items()]
        blocks.append("\n".join(lines) + "\n")
    if blocks:
        sep = "" if not text or text.endswith("\n\n") else ("\n" if text.endswith("\n") else "\n\n")
        text = text + sep + "\n".join(blocks)
    if conversion.workspace is not None:
        if "workspace" in current:
            conversion.problems.append(
                f"{where}: workspace is set already ({current['workspace']!r}); the .ini's "
                f"{conversion.workspace!r} left out"
            )
        else:
            text = f"workspace = {_toml_value(conversion.workspace)}\n" + (
                "\n" + text if text else ""
            )
    return text
