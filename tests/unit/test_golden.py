"""The compiler's output for every example is pinned in statemachines/."""

from __future__ import annotations

from pathlib import Path

import pytest
from mediaflow.compiler.check import check_asl
from mediaflow.compiler.golden import golden_texts, main

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]


def test_golden_files_match_the_compiler() -> None:
    texts = golden_texts(ROOT / "examples")
    assert len(texts) >= 8
    for name, text in texts.items():
        golden = ROOT / "statemachines" / name
        assert golden.exists(), f"missing {golden}: run `make golden`"
        assert golden.read_text(encoding="utf-8") == text, f"{name} drifted: run `make golden` and review"


def test_golden_check_detects_drift(tmp_path: Path) -> None:
    out = tmp_path / "sm"
    assert main(["--examples", str(ROOT / "examples"), "--out", str(out)]) == 0
    assert main(["--examples", str(ROOT / "examples"), "--out", str(out), "--check"]) == 0
    victim = next(out.glob("*.asl.json"))
    victim.write_text(victim.read_text().replace("Task", "Pass", 1))
    assert main(["--examples", str(ROOT / "examples"), "--out", str(out), "--check"]) == 1


def test_golden_machines_are_structurally_sound() -> None:
    import json

    for path in sorted((ROOT / "statemachines").glob("*.asl.json")):
        assert check_asl(json.loads(path.read_text())) == [], path.name
