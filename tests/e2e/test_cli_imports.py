"""What a local `mediaflow run` imports: nothing of the cloud, the API server, the client or the AI stack.

Start-up is mostly imports, so the command's import set is checked from the outside: a real
`mediaflow run` of an image workflow under ``python -X importtime``, whose report covers the command's own
process and the worker processes (forked from it once it imported the worker modules, or from a fork server
started with the same interpreter flags). Speed itself is measured in bench/ (``start_one_file_overhead_s``),
never here.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from mediaflow.samples import photo, video

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]

# Top-level packages a local image run has no use for (each costs tens to hundreds of milliseconds).
HEAVY = {"rembg", "numba", "onnxruntime", "scipy", "skimage", "cv2", "torch", "boto3", "botocore", "s3transfer",
         "aws_lambda_powertools", "moto", "httpx", "httpcore", "uvicorn", "starlette", "mcp", "anyio",
         "nudenet", "pypdfium2", "img2pdf", "ffmpeg", "PIL", "standardwebhooks", "jsonschema", "numpy"}
# Standard-library packages a local run starts faster without (each 5-25 ms of the imports that the command and
# its workers wait for): the workers talk over ``embedded.channel``, pydantic's plugin lookup is skipped.
START_STDLIB = {"multiprocessing", "importlib.metadata", "email", "socket", "zipfile"}
# mediaflow's own modules that only the API, the client, the AWS side or other node runtimes need.
HEAVY_OWN = ("mediaflow.api", "mediaflow.client.core", "mediaflow.cloud", "mediaflow.adapters.aws",
             "mediaflow.mcp_server", "mediaflow.api_server", "mediaflow.webhooks", "mediaflow.workers.cutout",
             "mediaflow.workers.video", "mediaflow.workers.document")


def _imports(workflow: Path, source: Path, tmp_path: Path, worker_module: str = "mediaflow.workers.image_state",
             *, out: str = "out", files: int = 1) -> set[str]:
    env = {**os.environ, "MEDIAFLOW_DATA_DIR": str(tmp_path / "data"), "MEDIAFLOW_WORKERS": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "core"), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "mediaflow.cli", "run", str(workflow),
                           str(source), "--out", str(tmp_path / out), "--json"],
                          env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f'"completed": {files}' in done.stdout
    names = {match.group(1) for match in re.finditer(r"^import time:\s+\d+ \|\s+\d+ \|\s+([\w.]+)$",
                                                     done.stderr, re.MULTILINE)}
    # (``importlib.import_module`` imports are not reported, the modules they import with ``import`` are)
    assert worker_module in names, "the report covers the workers"
    return names


WORKFLOW = {
    "name": "web sizes", "nodes": [
        {"id": "upload", "kind": "upload"},
        {"id": "resize", "kind": "resize", "config": {"width": 400}},
        {"id": "strip", "kind": "strip_metadata"},
        {"id": "webp", "kind": "convert", "config": {"outputFormat": "webp", "compressionLevel": 80}}],
    "edges": [{"source": "upload", "target": "resize"}, {"source": "resize", "target": "strip"},
              {"source": "strip", "target": "webp"}],
}


def test_an_image_run_imports_no_heavy_module(tmp_path: Path) -> None:
    source = photo(tmp_path / "photo.jpg", 900, 600)
    workflow = tmp_path / "web.json"
    workflow.write_text(json.dumps(WORKFLOW))
    names = _imports(workflow, source, tmp_path)
    heavy = sorted(name for name in names if name.split(".")[0] in HEAVY)
    own = sorted(name for name in names if name.startswith(HEAVY_OWN))
    assert not heavy, f"mediaflow run imported {heavy}"
    assert not own, f"mediaflow run imported {own}"
    assert not START_STDLIB & names, f"mediaflow run imported {sorted(START_STDLIB & names)}"


def test_a_workflow_file_run_again_loads_no_validator_compiler_or_pydantic(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The first `mediaflow run` of a workflow file validates and compiles it and keeps the plan
    (``embedded/plans.py``); the next one on the same bytes reads the plan back: no process of it imports
    pydantic, the definition models, the validator or the compiler, and its output is the first one's."""
    source = photo(tmp_path / "photo.jpg", 900, 600)
    workflow = tmp_path / "web.json"
    workflow.write_text(json.dumps(WORKFLOW))
    plans = tmp_path / "plans"
    monkeypatch.setenv("MEDIAFLOW_PLAN_CACHE", str(plans))
    first = _imports(workflow, source, tmp_path, out="first")
    again = _imports(workflow, source, tmp_path, out="again")
    compiling = {"pydantic", "mediaflow.validation", "mediaflow.definition", "mediaflow.compiler.asl"}
    assert compiling <= first
    assert not compiling & again, f"a kept plan's run imported {sorted(compiling & again)}"
    assert not {name for name in again if name.split(".")[0] in ("pydantic", "pydantic_core")}
    assert len(list(plans.glob("*.json"))) == 1
    [made_first] = (tmp_path / "first").glob("photo*")
    [made_again] = (tmp_path / "again").glob("photo*")
    assert made_first.read_bytes() == made_again.read_bytes()


def test_one_file_and_folder_runs_decode_without_numpy_and_give_the_same_bytes(tmp_path: Path) -> None:
    """JPEGs decode through libjpeg-turbo's own library, reached through ctypes (no numpy), whether one file
    or a folder comes, and the same photo comes out byte for byte the same either way."""
    folder = tmp_path / "folder"
    folder.mkdir()
    for seed in range(1, 6):
        photo(folder / f"photo-{seed}.jpg", 1203, 803, seed=seed)
    workflow = tmp_path / "web.json"
    workflow.write_text(json.dumps(WORKFLOW))
    alone = _imports(workflow, folder / "photo-3.jpg", tmp_path, out="alone")
    together = _imports(workflow, folder, tmp_path, out="together", files=5)
    assert not {"simplejpeg", "numpy"} & (alone | together)
    [made_alone] = (tmp_path / "alone").glob("photo-3*")
    [made_together] = (tmp_path / "together").glob("photo-3*")
    assert made_alone.read_bytes() == made_together.read_bytes()


def test_a_video_run_never_loads_libvips(tmp_path: Path) -> None:
    source = video(tmp_path / "clip.mp4", 1.0, size="320x240")
    workflow = tmp_path / "small.json"
    workflow.write_text(json.dumps({"name": "small", "nodes": [
        {"id": "upload", "kind": "upload"},
        {"id": "web", "kind": "transcode", "config": {"outputFormat": "mp4", "preset": "240p"}}],
        "edges": [{"source": "upload", "target": "web"}]}))
    names = _imports(workflow, source, tmp_path, worker_module="mediaflow.workers.video_state")
    assert not {"pyvips", "_libvips", "mediaflow.workers.image", "simplejpeg", "numpy"} & names


def test_the_work_ahead_starts_before_the_settings_and_models_load(tmp_path: Path) -> None:
    """`mediaflow run` starts its runtimes' work ahead (an ffprobe of each video) first thing, so the modules
    that start it (the zygote's, the catalog's, each runtime's ``ahead``) must not load pydantic or the
    settings: checked in a fresh interpreter, as the command imports them."""
    from mediaflow.catalog import RUNTIMES

    aheads = sorted({profile.ahead.partition(":")[0] for profile in RUNTIMES.values() if profile.ahead})
    assert aheads, "a runtime starts work ahead"
    script = ("import importlib, sys\n"
              f"for name in {['mediaflow.cli', 'mediaflow.embedded.early', 'mediaflow.catalog', *aheads]!r}:\n"
              "    importlib.import_module(name)\n"
              "print('\\n'.join(sorted(sys.modules)))\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "core"),
                                                        os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120,
                          check=True, cwd=tmp_path)
    loaded = set(done.stdout.split())
    assert "mediaflow.workers.ffmpeg_tools" in loaded
    heavy = sorted(name for name in loaded if name.split(".")[0] in {"pydantic", "pydantic_core", "numpy",
                                                                       "pyvips"}
                   or name in {"mediaflow.settings", "mediaflow.media", "mediaflow.execution.contract"})
    assert not heavy, f"loaded before the work ahead starts: {heavy}"


def test_the_command_starts_its_work_ahead_before_loading_pydantic(tmp_path: Path) -> None:
    """The order on the command's own start path (`mediaflow.cli`'s zygote start, as `main` calls it for
    `mediaflow run`), in a fresh interpreter: the ffmpeg runtime's ``ahead`` is called while neither pydantic
    nor the settings are loaded; both are loaded by the time the zygote forks. (Watching the real command from
    a wrapper binary cannot settle this: the command goes on importing while the wrapper starts.)"""
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\x00\x00\x00\x18ftypmp42")  # the ahead under test records the call and reads nothing
    workflow = tmp_path / "video.json"
    workflow.write_text(json.dumps({
        "nodes": [{"id": "upload", "kind": "upload"},
                  {"id": "small", "kind": "transcode", "config": {"outputFormat": "mp4", "preset": "240p"}}],
        "edges": [{"source": "upload", "target": "small"}]}))
    script = f"""
import dataclasses, json, sys
sys.argv = ["mediaflow", "run", {str(workflow)!r}, {str(clip)!r}]
import mediaflow.catalog as catalog
calls = []
def record(paths, document):
    calls.append({{"paths": [str(path) for path in paths],
                   "loaded": sorted(name for name in sys.modules
                                    if name.split(".")[0] in ("pydantic", "pydantic_core", "numpy")
                                    or name == "mediaflow.settings")}})
    return lambda: None
catalog.RUNTIMES["ffmpeg"] = dataclasses.replace(catalog.RUNTIMES["ffmpeg"], ahead="__main__:record")
import mediaflow.cli as cli
cli._start_worker_zygote()
print(json.dumps({{"calls": calls, "settings_after": "mediaflow.settings" in sys.modules}}))
"""
    env = {**os.environ, "MEDIAFLOW_DATA_DIR": str(tmp_path / "data"),
           "PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "core"), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120,
                          check=True, cwd=tmp_path)
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["calls"] == [{"paths": [str(clip)], "loaded": []}], report
    assert report["settings_after"], "the zygote forks once the settings are loaded"


def test_the_collector_is_held_off_during_the_start_only(tmp_path: Path) -> None:
    """A whole `mediaflow run` process starts with the cyclic collector paused (its imports allocate objects
    that live as long as it does), forks its zygote with what it loaded kept out of future collections, and
    collects again once its runs start, as every worker does while it runs a Task."""
    photos = tmp_path / "in"
    photos.mkdir()
    for seed in (1, 2, 3):
        photo(photos / f"p{seed}.jpg", 320, 240, seed=seed)
    workflow = tmp_path / "web.json"
    workflow.write_text(json.dumps(WORKFLOW))
    log = tmp_path / "gc.jsonl"
    script = f"""
import gc, json, os, sys
sys.argv = ["mediaflow", "run", {str(workflow)!r}, {str(photos)!r}, "--out", {str(tmp_path / "out")!r}, "--json"]
def note(where):
    with open({str(log)!r}, "a") as out:
        out.write(json.dumps({{"where": where, "pid": os.getpid(), "collecting": gc.isenabled(),
                              "kept": gc.get_freeze_count()}}) + "\\n")
import mediaflow.embedded.early as early
import mediaflow.embedded.workerpool as workerpool
import mediaflow.embedded.app as app
fork_zygote, run_task, run_files = early.start, workerpool._run_in_worker, app.LocalService.run_files
early.start = lambda *args, **kwargs: (note("zygote fork"), fork_zygote(*args, **kwargs))[1]
workerpool._run_in_worker = lambda payload: (note("task"), run_task(payload))[1]
app.LocalService.run_files = lambda self, *args, **kwargs: (note("runs"), run_files(self, *args, **kwargs))[1]
import mediaflow.cli as cli
sys.exit(cli.main())
"""
    env = {**os.environ, "MEDIAFLOW_DATA_DIR": str(tmp_path / "data"), "MEDIAFLOW_WORKERS": "2",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "core"), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300,
                          check=False, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout)["completed"] == 3
    notes = [json.loads(line) for line in log.read_text().splitlines()]
    by_place = {where: [n for n in notes if n["where"] == where] for where in ("zygote fork", "runs", "task")}
    assert [n["collecting"] for n in by_place["zygote fork"]] == [False], notes
    assert [n["collecting"] for n in by_place["runs"]] == [True], notes
    command = by_place["runs"][0]["pid"]
    tasks = by_place["task"]
    assert len(tasks) == 3 and all(n["pid"] != command for n in tasks), notes
    assert all(n["collecting"] and n["kept"] > 0 for n in tasks), notes
    assert by_place["runs"][0]["kept"] > 0, notes


def test_the_zygote_forks_before_the_command_loads_its_argument_parser(tmp_path: Path) -> None:
    """What the command loads before it forks its workers' zygote, the zygote waits for too: the argument
    parser, which only the command uses, loads after the fork."""
    source = photo(tmp_path / "p.jpg", 320, 240)
    workflow = tmp_path / "web.json"
    workflow.write_text(json.dumps(WORKFLOW))
    script = f"""
import json, sys
sys.argv = ["mediaflow", "run", {str(workflow)!r}, {str(source)!r}]
import mediaflow.embedded.early as early
seen = []
fork_zygote = early.start
early.start = lambda *args, **kwargs: (seen.append(sorted(sys.modules)), fork_zygote(*args, **kwargs))[1]
import mediaflow.cli as cli
cli._start_worker_zygote()
print(json.dumps(seen))
"""
    env = {**os.environ, "MEDIAFLOW_DATA_DIR": str(tmp_path / "data"),
           "PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "core"), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120,
                          check=True, cwd=tmp_path)
    [loaded] = json.loads(done.stdout.splitlines()[-1])
    assert "mediaflow.execution.contract" in loaded, "the zygote forks once the shared modules are loaded"
    assert "argparse" not in loaded
