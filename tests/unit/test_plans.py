"""Plans kept by a workflow file's content (``embedded/plans.py``): read back only for the same bytes and the same
code, never half-written, and nothing lost when they cannot be kept."""

from __future__ import annotations

from pathlib import Path

import pytest
from mediaflow.catalog import begins_on_media
from mediaflow.compiler import compile_definition
from mediaflow.embedded import plans
from mediaflow.settings import Settings
from mediaflow.validation import validate

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "convertly-convert-compress.json"


def _compiled(source: bytes) -> tuple[object, dict[str, object], bool]:
    report = validate(source)
    assert report.valid and report.definition is not None
    return compile_definition(report), dict(report.meta), begins_on_media(report.definition)


def test_a_kept_plan_reads_back_as_compiled(tmp_path: Path) -> None:
    settings = Settings.trusted({"plan_cache": str(tmp_path)})
    source = EXAMPLE.read_bytes()
    compiled, meta, on_media = _compiled(source)
    assert plans.load(source, settings) is None
    plans.keep(source, settings, compiled, meta, on_media)  # type: ignore[arg-type]
    kept = plans.load(source, settings)
    assert kept is not None
    assert kept.compiled.asl == compiled.asl  # type: ignore[attr-defined]
    assert kept.compiled.tasks == compiled.tasks  # type: ignore[attr-defined]
    assert kept.compiled.execution_type == compiled.execution_type  # type: ignore[attr-defined]
    assert (kept.meta, kept.begins_on_media) == (meta, on_media)
    assert [path.name.startswith(".") for path in tmp_path.iterdir()] == [False]  # no temporary file left


def test_other_bytes_or_other_code_compile_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings.trusted({"plan_cache": str(tmp_path)})
    source = EXAMPLE.read_bytes()
    compiled, meta, on_media = _compiled(source)
    plans.keep(source, settings, compiled, meta, on_media)  # type: ignore[arg-type]
    assert plans.load(source + b"\n", settings) is None
    monkeypatch.setattr(plans, "_code_digest", lambda: "another compiler")
    assert plans.load(source, settings) is None


def test_any_change_to_the_code_makes_another_digest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "package"
    (package / "nodes").mkdir(parents=True)
    (package / "__pycache__").mkdir()
    module = package / "nodes" / "resize.py"
    module.write_text("width = 1\n")
    (package / "settings.py").write_text("x = 1\n")
    monkeypatch.setattr(plans, "_PACKAGE", package)
    before = plans._code_digest()
    (package / "__pycache__" / "settings.cpython-311.pyc").write_bytes(b"compiled")  # not code of its own
    assert plans._code_digest() == before
    module.write_text("width = 22\n")  # any module, not only the validator's and the compiler's
    assert plans._code_digest() != before


def test_a_plan_that_cannot_be_read_compiles_again(tmp_path: Path) -> None:
    settings = Settings.trusted({"plan_cache": str(tmp_path)})
    source = EXAMPLE.read_bytes()
    compiled, meta, on_media = _compiled(source)
    plans.keep(source, settings, compiled, meta, on_media)  # type: ignore[arg-type]
    (kept,) = tmp_path.iterdir()
    kept.write_text('{"format": 1, "asl": {}')  # cut short
    assert plans.load(source, settings) is None


def test_off_keeps_nothing_and_an_unwritable_folder_loses_nothing(tmp_path: Path) -> None:
    source = EXAMPLE.read_bytes()
    compiled, meta, on_media = _compiled(source)
    off = Settings.trusted({"plan_cache": "off"})
    plans.keep(source, off, compiled, meta, on_media)  # type: ignore[arg-type]
    assert plans.load(source, off) is None and plans.folder(off) is None
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    unwritable = Settings.trusted({"plan_cache": str(blocked / "plans")})
    plans.keep(source, unwritable, compiled, meta, on_media)  # type: ignore[arg-type]
    assert plans.load(source, unwritable) is None


def test_the_default_folder_is_the_users_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert plans.folder(Settings.trusted({})) == tmp_path / "mediaflow" / "plans"
