"""The workers of a `mediaflow run` process come from its zygote (``mediaflow.embedded.early``): forked before
the command's own imports, they are the zygote's children, not the command's. Checked from the outside, on
the real command: who forked whom, a worker killed mid-task (the command sees it go through its pidfd and runs
the task again), and nothing left once the command ends or is killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil
import pytest
from mediaflow.cli import PIN_MIN_INPUT_BYTES

from tests.faults.conftest import SLOW_FIRST_TASK, cli_env, descendants, wait_for, wait_gone

pytestmark = [pytest.mark.faults, pytest.mark.slow]


def _start(tmp_path: Path, data_dir: Path, big: bytes, files: int) -> tuple[subprocess.Popen[str], Path]:
    folder = tmp_path / "in"
    folder.mkdir()
    for n in range(files):  # distinct bytes per file (a JPEG comment), so each is a run of its own
        (folder / f"b{n}.jpg").write_bytes(big[:2] + b"\xff\xfe\x00\x08" + f"{n:06d}".encode() + big[2:])
    workflow = tmp_path / "slow.json"
    workflow.write_text(json.dumps(SLOW_FIRST_TASK))
    command = [sys.executable, "-m", "mediaflow.cli", "run", str(workflow), str(folder), "--out",
               str(tmp_path / "out"), "--json", "--data-dir", str(data_dir)]
    process = subprocess.Popen(command, env=cli_env(data_dir), cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    return process, folder


def _busy_workers(process: subprocess.Popen[str]) -> list[psutil.Process]:
    """The command's workers, once both exist and one runs a task (found as its zygote's children)."""
    found: list[psutil.Process] = []

    def ready() -> bool:
        nonlocal found
        zygotes = psutil.Process(process.pid).children()
        found = [worker for zygote in zygotes for worker in zygote.children()]
        return len(found) == 2 and any(worker.cpu_percent(0.05) > 0 for worker in found)

    wait_for(ready, 120, "two workers, one of them busy")
    return found


def test_the_workers_are_the_zygotes_children_and_end_with_the_command(tmp_path: Path, data_dir: Path,
                                                                      big: bytes) -> None:
    process, _ = _start(tmp_path, data_dir, big, files=2)
    workers = _busy_workers(process)
    (zygote,) = psutil.Process(process.pid).children()
    assert {worker.ppid() for worker in workers} == {zygote.pid}
    assert {os.getpgid(worker.pid) for worker in workers} == {worker.pid for worker in workers}, \
        "each worker leads its own process group"
    out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err[-2000:]
    assert json.loads(out)["completed"] == 2
    assert wait_gone([zygote.pid, *(worker.pid for worker in workers)], timeout=30) == []


def test_a_worker_killed_mid_task_is_replaced_and_its_task_runs_again(tmp_path: Path, data_dir: Path,
                                                                      big: bytes) -> None:
    process, _ = _start(tmp_path, data_dir, big, files=2)
    workers = _busy_workers(process)
    busy = max(workers, key=lambda worker: worker.cpu_percent(0.1))
    busy.send_signal(signal.SIGKILL)
    out, err = process.communicate(timeout=600)
    report = json.loads(out)
    assert process.returncode == 0, err[-2000:]
    assert (report["completed"], report["failed"]) == (2, 0)
    assert "running it again" in err  # the pool saw the worker go (its pidfd) and ran the task on another


def test_killing_the_command_leaves_no_zygote_and_no_worker(tmp_path: Path, data_dir: Path, big: bytes) -> None:
    process, _ = _start(tmp_path, data_dir, big, files=4)
    _busy_workers(process)
    family = descendants(process.pid)
    assert len(family) == 3  # the zygote and its two workers
    process.send_signal(signal.SIGKILL)
    process.wait(30)
    assert wait_gone(family, timeout=30) == []


def test_a_video_is_probed_once_by_the_command_itself(tmp_path: Path, data_dir: Path) -> None:
    """The ffmpeg runtime's work ahead: the command starts ffprobe on the input (before it loads its settings
    and models: tests/e2e/test_cli_imports.py), the zygote (forked afterwards) waits for the answer, and the
    worker (the zygote's child) takes it instead of probing again."""
    from mediaflow import samples

    if samples.ffmpeg_binary() is None:
        pytest.skip("ffmpeg is not installed")
    clip = samples.video(tmp_path / "clip.mp4", 1.0, size="320x180")
    log = tmp_path / "ffprobe.log"
    wrapper = tmp_path / "ffprobe"
    wrapper.write_text(f'#!/bin/sh\necho "$PPID $(cut -d" " -f4 /proc/$PPID/stat) $*" >> {log}\nexec ffprobe "$@"\n')
    wrapper.chmod(0o755)
    workflow = tmp_path / "video.json"
    workflow.write_text(json.dumps({
        "nodes": [{"id": "upload", "kind": "upload"},
                  {"id": "small", "kind": "transcode", "config": {"outputFormat": "mp4", "preset": "240p"}}],
        "edges": [{"source": "upload", "target": "small"}]}))
    command = [sys.executable, "-m", "mediaflow.cli", "run", str(workflow), str(clip), "--out",
               str(tmp_path / "out"), "--json", "--data-dir", str(data_dir)]
    process = subprocess.Popen(command, env={**cli_env(data_dir), "MEDIAFLOW_FFPROBE_PATH": str(wrapper)},
                               cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err[-2000:]
    assert json.loads(out)["completed"] == 1
    probes = [line.split() for line in log.read_text().splitlines()]  # the output's size and duration are known
    assert len(probes) == 1 and probes[0][-1] == str(clip), probes
    parent, *_ = probes[0]
    assert int(parent) == process.pid, "started by the command itself"


def _workers_of(process: subprocess.Popen[str], count: int) -> list[psutil.Process]:
    """The command's ``count`` workers, once its zygote has forked them all."""
    found: list[psutil.Process] = []

    def ready() -> bool:
        nonlocal found
        found = [worker for zygote in psutil.Process(process.pid).children() for worker in zygote.children()]
        return len(found) == count

    wait_for(ready, 120, f"{count} workers")
    return found


def _run_and_read_cores(tmp_path: Path, data_dir: Path, inputs: dict[str, bytes], workflow: dict[str, Any],
                        workers: int, **settings: str) -> list[set[int]]:
    """The CPUs each worker of a `mediaflow run` of ``workflow`` on ``inputs`` (file name: bytes) may run on, read
    while they run; the run must then complete every file."""
    folder = tmp_path / "in"
    folder.mkdir(parents=True)
    for name, data in inputs.items():
        (folder / name).write_bytes(data)
    workflow_file = tmp_path / "workflow.json"
    workflow_file.write_text(json.dumps(workflow))
    command = [sys.executable, "-m", "mediaflow.cli", "run", str(workflow_file), str(folder), "--out",
               str(tmp_path / "out"), "--json", "--data-dir", str(data_dir)]
    env = {**cli_env(data_dir, workers=workers), **settings}
    process = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        cores = [set(worker.cpu_affinity()) for worker in _workers_of(process, workers)]
    finally:
        out, err = process.communicate(timeout=600)
    assert process.returncode == 0, err[-2000:]
    assert json.loads(out)["completed"] == len(inputs)
    return cores


def _photos(photo: bytes, workers: int) -> dict[str, bytes]:
    """Three distinct copies of the 2-megapixel photo a worker: a lossless WebP of each (``SLOW_FIRST_TASK``)
    keeps the workers about a second."""
    assert len(photo) >= PIN_MIN_INPUT_BYTES  # inputs a full pool is kept on its cores for
    return {f"p{n}.jpg": photo[:2] + b"\xff\xfe\x00\x08" + f"{n:06d}".encode() + photo[2:]
            for n in range(3 * workers)}


_CPUS = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []


@pytest.mark.skipif(not 1 < len(_CPUS) <= 8, reason="a full pool here is 2 to 8 workers")
def test_workers_that_fill_the_cores_are_each_kept_on_a_core_of_their_own(tmp_path: Path, data_dir: Path,
                                                                          photo: bytes) -> None:
    cores = _run_and_read_cores(tmp_path, data_dir, _photos(photo, len(_CPUS)), SLOW_FIRST_TASK, len(_CPUS))
    assert all(len(allowed) == 1 for allowed in cores), cores
    assert set().union(*cores) == set(_CPUS), f"one worker on each core: {cores}"


@pytest.mark.skipif(len(_CPUS) < 2, reason="one core: a lone worker fills it")
def test_fewer_workers_than_cores_and_a_pool_told_not_to_are_left_to_the_scheduler(tmp_path: Path,
                                                                                  data_dir: Path,
                                                                                  photo: bytes) -> None:
    (lone,) = _run_and_read_cores(tmp_path / "lone", data_dir / "lone", _photos(photo, 1), SLOW_FIRST_TASK, 1)
    assert lone == set(_CPUS)
    told = _run_and_read_cores(tmp_path / "told", data_dir / "told", _photos(photo, len(_CPUS)), SLOW_FIRST_TASK,
                               len(_CPUS), MEDIAFLOW_PIN_WORKERS="false")
    assert told == [set(_CPUS)] * len(_CPUS)


_TRANSCODE: dict[str, Any] = {
    "name": "faults-transcode", "nodes": [
        {"id": "upload", "kind": "upload"},
        {"id": "mp4", "kind": "transcode", "config": {"outputFormat": "mp4", "videoCodec": "h264", "preset": "720p"}}],
    "edges": [{"source": "upload", "target": "mp4"}],
}


@pytest.mark.skipif(not 1 < len(_CPUS) <= 8, reason="a full pool here is 2 to 8 workers")
def test_a_full_pool_of_video_workers_is_left_free_for_ffmpegs_threads(tmp_path: Path, data_dir: Path) -> None:
    clip = tmp_path / "clip.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25:duration=6",
                    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(clip)], check=True,
                   timeout=120)
    assert clip.stat().st_size >= PIN_MIN_INPUT_BYTES  # large enough to be kept on a core, were it libvips
    inputs = {f"c{n}.mp4": clip.read_bytes() for n in range(len(_CPUS))}
    cores = _run_and_read_cores(tmp_path / "run", data_dir, inputs, _TRANSCODE, len(_CPUS))
    assert cores == [set(_CPUS)] * len(_CPUS)
