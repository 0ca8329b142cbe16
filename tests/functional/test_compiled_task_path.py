"""A worker runs a compiled Task without pydantic (ADR 0010): the embedded pool's path, from the Task on the wire
through its node configs, the decode, resize and encode, the store and the run's step records, in a process that
never imports pydantic; and the same Task validated (as a Lambda takes it) gives the same output and records."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pyvips")

_SCRIPT = """
import json, sys
from pathlib import Path
from mediaflow.adapters.embedded.sqlite import SQLiteDatabase, SQLiteRunStore
from mediaflow.embedded.bootstrap import task_environment
from mediaflow.execution.tasks import execute_task
from mediaflow.settings import Settings

root, photo, compiled = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "compiled"
settings = Settings.trusted({"data_dir": str(root)})  # the command hands its settings to the pool
db = SQLiteDatabase(root / "runs.db")
env = task_environment(settings, root / "tmp", root / "blobs", "local", db)
SQLiteRunStore(db).create_run({"tenant": "local", "runId": "r-1", "workflowId": "wf", "status": "pending"})
source = env.blobs.put_file("local/uploads/photo.jpg", photo, "image/jpeg")
ops = [{"nodeId": "resize", "kind": "resize", "config": {"width": 64, "fit": "inside"}},
       {"nodeId": "webp", "kind": "convert", "config": {"outputFormat": "webp", "compressionLevel": 70}},
       {"nodeId": "store", "kind": "storage", "config": {"destination": "outputs"}}]
payload = {"runtime": "vips", "run": {"runId": "r-1", "tenant": "local", "workflowId": "wf"},
           "media": source.to_state(), "ops": ops}
state = execute_task({**payload, "compiled": 1} if compiled else payload, env, own_runtime=True)
def untimed(value):
    if isinstance(value, dict):
        return {k: untimed(v) for k, v in value.items() if not k.endswith(("At", "Ms"))}
    return [untimed(v) for v in value] if isinstance(value, list) else value
steps = SQLiteRunStore(db).run_and_steps("local", "r-1")[1]
print(json.dumps({"pydantic": "pydantic" in sys.modules, "state": state, "steps": untimed(steps),
                  "bytes": (root / "blobs" / state["key"]).read_bytes().hex()}))
"""


def _run(tmp_path: Path, photo: Path, how: str) -> dict[str, object]:
    root = tmp_path / how
    done = subprocess.run([sys.executable, "-c", _SCRIPT, str(root), str(photo), how], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    seen: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return seen


def test_a_compiled_task_runs_without_pydantic_as_a_validated_one_does(tmp_path: Path) -> None:
    from mediaflow import samples

    photo = samples.photo(tmp_path / "photo.jpg", 320, 240)
    compiled, validated = _run(tmp_path, photo, "compiled"), _run(tmp_path, photo, "validated")
    assert compiled["pydantic"] is False
    assert validated["pydantic"] is True
    state = compiled["state"]
    assert isinstance(state, dict) and state["key"].startswith("local/outputs/") and state["key"].endswith(".webp")
    assert state["width"] == 64
    for seen in ("state", "steps", "bytes"):
        assert compiled[seen] == validated[seen], seen
    assert [step["nodeId"] for step in compiled["steps"]] == ["resize", "webp", "store"]  # type: ignore[index]
