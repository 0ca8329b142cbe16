"""The core layer as `sam build` makes it (template.yaml: CoreLayer, layers/core/Makefile): the packages of
its requirement file for the functions' architecture, the mediaflow package, and the bytecode of every
module, since the layer is read-only under /opt and a module without bytecode there is compiled again by
every cold start that imports it. Run through the SAM CLI itself (its makefile build, no container), with
a Python 3.12 from this machine."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.packaging.conftest import ROOT, load_template

pytestmark = pytest.mark.packaging

SAM = ROOT / ".tools" / "sam-venv" / "bin" / "sam"
EM_AARCH64 = 183


def _python_312() -> str | None:
    """A Python 3.12 interpreter on this machine (on PATH, or one pyenv installed)."""
    installed = sorted(str(path) for path in (Path.home() / ".pyenv" / "versions").glob("3.12*/bin/python3.12"))
    candidates = [shutil.which("python3.12"), *installed]
    for candidate in filter(None, candidates):
        done = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2] == (3, 12))"],
                              capture_output=True, text=True, check=False)
        if done.stdout.strip() == "True":
            return candidate
    return None


@pytest.fixture(scope="module")
def python() -> str:
    found = _python_312()
    if found is None:
        pytest.skip("no Python 3.12 on this machine: the layer's bytecode is 3.12's")
    return found


@pytest.fixture(scope="module")
def layer(tmp_path_factory: pytest.TempPathFactory, python: str) -> Path:
    if not SAM.exists():
        pytest.skip("aws-sam-cli is not installed (make setup installs it in .tools/sam-venv)")
    build = tmp_path_factory.mktemp("sam-build")
    done = subprocess.run([str(SAM), "build", "CoreLayer", "--template-file", str(ROOT / "template.yaml"),
                           "--build-dir", str(build)], cwd=ROOT, env={**os.environ, "PYTHON": python,
                                                                     "SAM_CLI_TELEMETRY": "0"},
                          capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return build / "CoreLayer" / "python"


def test_the_template_builds_the_layer_with_its_makefile() -> None:
    metadata = load_template()["Resources"]["CoreLayer"]["Metadata"]
    assert metadata["BuildMethod"] == "makefile"
    assert metadata["BuildArchitecture"] == "arm64"
    assert "build-CoreLayer:" in (ROOT / "layers" / "core" / "Makefile").read_text()


# Run by the layer's Python: the bytecode's magic number and source hash are that interpreter's.
CHECK_BYTECODE = """
import importlib.util, json, sys
from pathlib import Path
report = {"missing": [], "timestamped": [], "stale": []}
for source in sorted(Path(sys.argv[1]).rglob("*.py")):
    compiled = Path(importlib.util.cache_from_source(str(source)))
    name = str(source.relative_to(sys.argv[1]))
    if not compiled.is_file():
        report["missing"].append(name)
        continue
    header = compiled.read_bytes()[:16]
    if header[:4] != importlib.util.MAGIC_NUMBER or int.from_bytes(header[4:8], "little") != 1:
        report["timestamped"].append(name)
    elif header[8:16] != importlib.util.source_hash(source.read_bytes()):
        report["stale"].append(name)
report["modules"] = sum(1 for _ in Path(sys.argv[1]).rglob("*.py"))
print(json.dumps(report))
"""


def test_every_module_of_the_layer_ships_its_bytecode(layer: Path, python: str) -> None:
    """Each module's bytecode, for Python 3.12, hash-based and unchecked (a deployed layer's files keep their
    modification times only to 2 s), matching its source."""
    done = subprocess.run([python, "-c", CHECK_BYTECODE, str(layer)], capture_output=True, text=True,
                          timeout=300, check=True)
    report = json.loads(done.stdout)
    assert report["modules"] > 1000 and (layer / "mediaflow" / "settings.py").is_file()
    for problem in ("missing", "timestamped", "stale"):
        assert not report[problem], f"{problem}: {report[problem][:10]} ({len(report[problem])} modules)"
    assert not list(layer.rglob("*.cpython-311.pyc")), "the checkout's own bytecode came along"


def test_the_layer_has_its_requirements_for_arm64(layer: Path) -> None:
    requirements = [line.split(">")[0].split("[")[0].strip().replace("-", "_").lower()
                    for line in (ROOT / "layers" / "core" / "requirements.txt").read_text().splitlines()
                    if line.strip() and not line.startswith("#")]
    installed = {path.name.split("-")[0].lower() for path in layer.glob("*.dist-info")}
    assert set(requirements) <= installed, set(requirements) - installed
    (binary,) = layer.glob("pydantic_core/_pydantic_core*.so")
    assert int.from_bytes(binary.read_bytes()[18:20], "little") == EM_AARCH64, binary.name
