"""Extension lookup, runtime registration, entry points, the read-only view."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tasuki.errors import FormatError, UnknownFormatError
from tasuki.formats import (
    CsvFormat,
    Format,
    FormatRegistry,
    GzipCsvFormat,
    PickleFormat,
    TextFormat,
    format_for,
    known_formats,
)
from tasuki.formats.registry import BUILTIN_FORMATS, normalise_extension


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("a.pkl", "pickle"),
        ("a.pickle", "pickle"),
        ("dir/model_3f2a.pkl.gz", "pickle+gzip"),
        ("s3://bucket/deep/x.csv.gz", "csv+gzip"),
        ("memory://ws/x.CSV", "csv"),
        ("C:\\data\\x.Parquet", "parquet"),
        ("x.tsv.gz", "tsv+gzip"),
        ("x.json.gz", "json+gzip"),
        ("x.txt.gz", "text+gzip"),
        ("many.dots.in.name.feather", "feather"),
        ("x.arrow", "arrow"),
        ("x.npy", "npy"),
        ("x.npz", "npz"),
    ],
)
def test_format_for_picks_longest_suffix(path: str, name: str) -> None:
    fmt = format_for(path)
    assert fmt.name == name
    assert isinstance(fmt, Format)


def test_longest_suffix_beats_shorter_registered_one() -> None:
    reg = FormatRegistry(
        {".gz": "tasuki.formats._text:TextFormat", ".csv.gz": "tasuki.formats._csv:GzipCsvFormat"},
        entry_point_group=None,
    )
    assert isinstance(reg.format_for("x.csv.gz"), GzipCsvFormat)
    assert isinstance(reg.format_for("x.gz"), TextFormat)
    assert isinstance(reg.format_for("x.tsv.gz"), TextFormat)


def test_unknown_extension_names_file_lists_known_and_suggests() -> None:
    with pytest.raises(UnknownFormatError) as info:
        format_for("out/data_1234.parq")
    err = info.value
    assert err.name == "data_1234.parq"
    assert err.extension == ".parq"
    assert ".parquet" in err.suggestions
    assert set(BUILTIN_FORMATS) <= set(err.known)
    text = str(err)
    assert "'data_1234.parq'" in text
    assert "Did you mean '.parquet'" in text
    for ext in (".csv", ".feather", ".npz", ".pkl.gz"):
        assert ext in text


def test_unknown_compound_extension_suggests_close_compound() -> None:
    with pytest.raises(UnknownFormatError) as info:
        format_for("x.csv.bz2")
    assert ".csv.gz" in info.value.suggestions


def test_unknown_without_extension_or_close_match() -> None:
    with pytest.raises(UnknownFormatError, match="has no extension"):
        format_for("README")
    with pytest.raises(UnknownFormatError) as info:
        format_for("weights.pt")
    assert info.value.suggestions == ()
    assert "Did you mean" not in str(info.value)


def test_unknown_format_error_pickles() -> None:
    import pickle

    with pytest.raises(UnknownFormatError) as info:
        format_for("x.jsn")
    copy = pickle.loads(pickle.dumps(info.value))
    assert type(copy) is UnknownFormatError
    assert copy.suggestions == info.value.suggestions
    assert str(copy) == str(info.value)


class _Upper:
    """A third-party-style format: no tasuki base class."""

    name = "upper"
    extensions = (".up",)

    def dump(self, obj: object, file: io.BufferedIOBase) -> None:
        file.write(str(obj).upper().encode())

    def load(self, file: io.BufferedIOBase) -> str:
        return file.read().decode()

    def is_empty(self, obj: object) -> bool:
        return not obj


def test_register_class_and_use() -> None:
    reg = FormatRegistry(entry_point_group=None)
    reg.register("UP", _Upper)
    fmt = reg.format_for("notes.up")
    buf = io.BytesIO()
    fmt.dump("hi", buf)
    assert buf.getvalue() == b"HI"
    assert reg.known()[".up"] == f"{__name__}:_Upper"


def test_register_string_is_imported_lazily_and_errors_name_target() -> None:
    reg = FormatRegistry(entry_point_group=None)
    reg.register(".nope", "no_such_module_xyz:Thing")
    assert reg.known()[".nope"] == "no_such_module_xyz:Thing"
    with pytest.raises(FormatError, match=r"\.nope.*no_such_module_xyz:Thing.*ModuleNotFoundError"):
        reg.format_for("a.nope")


def test_register_refuses_to_clobber_without_flag() -> None:
    reg = FormatRegistry(entry_point_group=None)
    with pytest.raises(FormatError) as info:
        reg.register(".csv", _Upper)
    err = info.value
    assert err.extension == ".csv"
    assert err.existing == "tasuki.formats._csv:CsvFormat"
    assert "clobber=True" in str(err) and "built-in" in str(err)
    assert isinstance(reg.format_for("x.csv"), CsvFormat)
    reg.register(".csv", _Upper, clobber=True)
    assert isinstance(reg.format_for("x.csv"), _Upper)


def test_register_same_class_twice_is_a_no_op() -> None:
    reg = FormatRegistry(entry_point_group=None)
    reg.register(".up", _Upper)
    reg.register(".up", _Upper)
    reg.register(".pkl", PickleFormat)
    assert isinstance(reg.format_for("a.up"), _Upper)


@pytest.mark.parametrize("bad", ["", ".", "a/b", "..x", "x.", "a b", 3])
def test_register_rejects_malformed_extensions(bad: object) -> None:
    reg = FormatRegistry(entry_point_group=None)
    with pytest.raises(FormatError, match="extension"):
        reg.register(bad, _Upper)  # type: ignore[arg-type]


def test_register_rejects_instances_and_bad_strings() -> None:
    reg = FormatRegistry(entry_point_group=None)
    with pytest.raises(FormatError, match="not an instance"):
        reg.register(".up", _Upper())  # type: ignore[arg-type]
    with pytest.raises(FormatError, match="module:Class"):
        reg.register(".up", "just_a_module")


def test_registered_class_missing_members_is_refused_on_use() -> None:
    class Half:
        name = "half"

        def dump(self, obj: object, file: object) -> None: ...

    reg = FormatRegistry(entry_point_group=None)
    reg.register(".half", Half)
    with pytest.raises(FormatError, match=r"lacks extensions, load, is_empty"):
        reg.format_for("a.half")


def test_known_formats_is_read_only_and_live() -> None:
    view = known_formats()
    assert view[".parquet"] == "tasuki.formats._arrow:ParquetFormat"
    assert list(view) == sorted(view)
    assert len(view) >= len(BUILTIN_FORMATS)
    with pytest.raises(TypeError):
        view[".x"] = "a:B"  # type: ignore[index]
    with pytest.raises(AttributeError):
        view.clear()  # type: ignore[attr-defined]
    reg = FormatRegistry(entry_point_group=None)
    live = reg.known()
    assert ".up" not in live
    reg.register(".up", _Upper)
    assert ".up" in live


def test_normalise_extension() -> None:
    assert normalise_extension("CSV.GZ") == ".csv.gz"
    assert normalise_extension(" .Parquet ") == ".parquet"


# ------------------------------------------------------------------ entry points

_PLUGIN = """
class YamlishFormat:
    name = "yamlish"
    extensions = (".yamlish",)

    def dump(self, obj, file):
        file.write("\\n".join(f"{k}: {v}" for k, v in obj.items()).encode())

    def load(self, file):
        return dict(line.split(": ", 1) for line in file.read().decode().splitlines())

    def is_empty(self, obj):
        return not obj


class LoudText(YamlishFormat):
    name = "loud"
"""


def _install_fake_distribution(site: Path, module: str, entry_points: str) -> None:
    site.mkdir()
    (site / f"{module}.py").write_text(_PLUGIN)
    info = site / f"{module}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(entry_points)


def test_entry_points_are_read_once_on_first_lookup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = "tasuki_fake_plugin_a"
    _install_fake_distribution(
        tmp_path / "site",
        module,
        textwrap.dedent(
            f"""\
            [tasuki.formats]
            yamlish = {module}:YamlishFormat
            .TXT = {module}:LoudText
            broken = {module}:DoesNotExist
            """
        ),
    )
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.delitem(sys.modules, module, raising=False)

    reg = FormatRegistry()
    assert not reg.entry_points_loaded
    assert ".yamlish" in reg.known()  # the first lookup reads the group...
    assert reg.entry_points_loaded
    assert module not in sys.modules  # ...but imports a plugin only when it is used
    fmt = reg.format_for("conf.yamlish")
    assert module in sys.modules
    assert type(fmt).__name__ == "YamlishFormat"
    buf = io.BytesIO()
    fmt.dump({"a": "1", "b": "two"}, buf)
    buf.seek(0)
    assert fmt.load(buf) == {"a": "1", "b": "two"}

    # An entry point never replaces a built-in (skipped with a warning, see the shared
    # precedence tests); a runtime register() does, when asked to.
    assert isinstance(reg.format_for("x.txt"), TextFormat)
    assert reg.known()[".txt"] == "tasuki.formats._text:TextFormat"
    with pytest.raises(FormatError, match=r"already registered; pass clobber=True"):
        reg.register(".txt", f"{module}:LoudText")
    reg.register(".txt", f"{module}:LoudText", clobber=True)
    assert type(reg.format_for("x.txt")).__name__ == "LoudText"

    with pytest.raises(FormatError) as info:
        reg.format_for("x.broken")
    assert f"{module}:DoesNotExist" in str(info.value)
    assert f"from {module}" in str(info.value)  # names the distribution


def test_default_registry_reads_no_entry_points_at_import() -> None:
    code = (
        "import sys, tasuki.formats as f\n"
        "heavy = [m for m in ('pandas', 'polars', 'pyarrow', 'numpy') if m in sys.modules]\n"
        "print(heavy, f.registry.default_registry.entry_points_loaded)\n"
        "f.format_for('x.parquet')\n"
        "heavy = [m for m in ('pandas', 'polars', 'pyarrow', 'numpy') if m in sys.modules]\n"
        "print(heavy, f.registry.default_registry.entry_points_loaded)\n"
        "f.format_for('x.v2.parquet')\n"
        "print(f.registry.default_registry.entry_points_loaded)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    # A name whose whole suffix is built in never scans (no entry point can replace a
    # built-in); '.v2.parquet' could be an installed package's longer extension: scanned.
    assert out == ["[] False", "[] False", "True"]


def test_conflicting_and_malformed_entry_points_are_skipped_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    first, second = "tasuki_fake_plugin_b", "tasuki_fake_plugin_c"
    _install_fake_distribution(
        tmp_path / "late",
        second,
        f"[tasuki.formats]\nyamlish = {second}:LoudText\n",
    )
    _install_fake_distribution(
        tmp_path / "early",
        first,
        f"[tasuki.formats]\nyamlish = {first}:YamlishFormat\nbad/name = {first}:YamlishFormat\n",
    )
    monkeypatch.syspath_prepend(str(tmp_path / "late"))
    monkeypatch.syspath_prepend(str(tmp_path / "early"))  # now first on sys.path
    reg = FormatRegistry()
    with caplog.at_level("WARNING", logger="tasuki.formats.registry"):
        assert reg.known()[".yamlish"] == f"{first}:YamlishFormat"
    messages = [r.getMessage() for r in caplog.records]
    assert any(
        second in m and first in m and "already provides format '.yamlish'" in m for m in messages
    )
    assert any("bad/name" in m and "is not a valid format extension" in m for m in messages)


def test_the_quick_look_for_entry_points_finds_a_declared_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tasuki._registry import _may_declare

    group = "tasuki.formats.quicklook"
    assert not _may_declare(group)  # nothing installed declares it: no metadata parsing
    _install_fake_distribution(tmp_path / "site", "quicklook_fmt", f"[{group}]\n.ql = x:Y\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    assert _may_declare(group)
