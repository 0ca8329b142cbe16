"""``procs.keep_on_core``: a process kept on one CPU only when as many processes as CPUs fill them all, and
``catalog.one_thread_tasks``: only for runs whose Tasks each use one thread.
Each case runs in a forked child, so the test process keeps its own CPUs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from mediaflow.catalog import one_thread_tasks
from mediaflow.cli import PIN_MIN_INPUT_BYTES, _large_inputs, _listed_ahead
from mediaflow.procs import keep_on_core

CPUS = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
pytestmark = pytest.mark.skipif(not CPUS, reason="no CPU affinity calls on this system")


def _in_child(slot: int, processes: int) -> tuple[int | None, list[int]]:
    """``keep_on_core(slot, processes)`` in a forked child: what it returned and the CPUs it may then use."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read)
            cpu = keep_on_core(slot, processes)
            os.write(write, json.dumps([cpu, sorted(os.sched_getaffinity(0))]).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as answer:
        cpu, allowed = json.loads(answer.read())
    os.waitpid(pid, 0)
    return cpu, allowed


@pytest.mark.parametrize("slot", range(len(CPUS) + 1))
def test_a_full_pool_keeps_each_slot_on_one_cpu_in_turn(slot: int) -> None:
    expected = CPUS[slot % len(CPUS)]
    assert _in_child(slot, len(CPUS)) == (expected, [expected])
    assert _in_child(slot, len(CPUS) + 3) == (expected, [expected])


@pytest.mark.skipif(len(CPUS) < 2, reason="one CPU: any pool fills it")
def test_fewer_processes_than_cpus_are_left_free() -> None:
    assert _in_child(0, len(CPUS) - 1) == (None, CPUS)


@pytest.mark.parametrize(("runtimes", "vips_concurrency", "pinned"), [
    ({"vips"}, 1, True),
    ({"vips", "light"}, 1, True),
    ({"light"}, 0, True),
    ({"vips"}, 0, False),  # libvips' own threads
    ({"vips"}, 2, False),
    ({"ffmpeg"}, 1, False),  # ffmpeg's threads follow the cores its worker may use
    ({"vips", "rembg"}, 1, False),  # so do onnxruntime's
    (set(), 1, False),  # a workflow that could not be read ahead
    ({"vips", "unknown"}, 1, False),
])
def test_only_runs_whose_tasks_each_use_one_thread_keep_their_workers_on_a_core(
        runtimes: set[str], vips_concurrency: int, pinned: bool) -> None:
    assert one_thread_tasks(runtimes, vips_concurrency) is pinned


def _folder(tmp_path: Path, sizes: list[int]) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    for n, size in enumerate(sizes):
        (folder / f"f{n}.jpg").write_bytes(b"\xff" * size)
    return folder


@pytest.mark.parametrize(("sizes", "large"), [
    ([300_000, 3_000_000, 4_000_000], True),
    ([3_000, 3_000, 5_000_000], False),  # the median: a folder of thumbnails with one photo
    ([PIN_MIN_INPUT_BYTES], True),
    ([PIN_MIN_INPUT_BYTES - 1], False),
    ([], False),
])
def test_workers_are_kept_on_a_core_for_large_inputs_only(tmp_path: Path, sizes: list[int], large: bool) -> None:
    assert _large_inputs(_listed_ahead(["workflow.json", str(_folder(tmp_path, sizes))])) is large


def test_inputs_that_cannot_be_listed_ahead_leave_the_workers_free(tmp_path: Path) -> None:
    assert _large_inputs(_listed_ahead(["workflow.json", str(tmp_path / "missing")])) is False
    assert _large_inputs(_listed_ahead(["workflow.json"])) is False
