"""mediaflow benchmarks: every figure is a ratio against a baseline measured in the same run.

    .venv/bin/python bench/run.py            # everything (`make bench`), about 3-6 minutes on 2 cores
    .venv/bin/python bench/run.py --quick    # a smoke run with fewer repeats, under 2 minutes
    .venv/bin/python bench/run.py --only p3  # one group (p1..p7, scale, folder, start, video, small) or figure

Media is generated with libvips under bench/work/media/ (kept between runs); runs use their own data
dirs under bench/work/data/. Results go to bench/results.json and a table on stdout. Each figure keeps
its raw samples, medians and baseline in ``details``. See bench/README.md for what each one measures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import psutil

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
WORK = BENCH / "work"
WORKFLOWS = BENCH / "workflows"
RESULTS = BENCH / "results.json"

sys.path.insert(0, str(BENCH))

from media import MediaCache  # noqa: E402
from mediaflow.compiler import Compiled, compile_workflow  # noqa: E402
from mediaflow.embedded.app import FileResult, LocalService, file_identity  # noqa: E402
from mediaflow.embedded.workerpool import WorkerPool  # noqa: E402
from mediaflow.settings import Settings  # noqa: E402
from mediaflow.validation import ValidationReport  # noqa: E402
from probes import bare_one_decode_two_encodes, bare_resize_webp, worker_info  # noqa: E402

MB = 1024 * 1024


# -- profiles ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    name: str
    p1_rounds: int
    p1_images: int
    p2_reps: int
    p3_reps: int
    p3_unfused_reps: int
    p4_peak_reps: int
    p4_growth_images: int
    p5_images: int
    p5_rounds: int


FULL = Profile("full", p1_rounds=4, p1_images=4, p2_reps=15, p3_reps=11, p3_unfused_reps=3, p4_peak_reps=3,
               p4_growth_images=100, p5_images=200, p5_rounds=2)
QUICK = Profile("quick", p1_rounds=1, p1_images=2, p2_reps=3, p3_reps=3, p3_unfused_reps=1, p4_peak_reps=1,
                p4_growth_images=30, p5_images=40, p5_rounds=1)


# -- figures ---------------------------------------------------------------------------------------------


@dataclass
class Figure:
    name: str
    value: float
    target: float | None
    op: str  # ">=", "<=" or "" (reported for context, no target)
    unit: str
    measures: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        return self.value >= self.target if self.op == ">=" else self.value <= self.target

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["met"] = self.met
        data["value"] = round(self.value, 4)
        return data


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def spread(values: list[float]) -> dict[str, Any]:
    """Samples (ms) with their median, min and max."""
    return {"median_ms": ms(median(values)), "min_ms": ms(min(values)), "max_ms": ms(max(values)),
            "samples_ms": [ms(v) for v in values]}


def log(message: str) -> None:
    sys.stderr.write(f"[bench {time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


# -- the engine, in this process ---------------------------------------------------------------------


class Engine:
    """A LocalService (the code path of `mediaflow run`) on its own data dir with a fixed worker count.

    libvips runs one thread per worker (vips_concurrency=1) and no operation cache, as the defaults say.
    """

    def __init__(self, name: str, workers: int) -> None:
        self.data_dir = WORK / "data" / name
        shutil.rmtree(self.data_dir, ignore_errors=True)
        settings = Settings(workers=workers, data_dir=self.data_dir, vips_concurrency=1, vips_cache_mb=0)
        self.workers = workers
        self.service = LocalService(settings)
        self._reports: dict[str, ValidationReport] = {}
        self._compiled: dict[str, Compiled] = {}

    def report(self, workflow: str) -> ValidationReport:
        if workflow not in self._reports:
            report = self.service.load_definition(str(WORKFLOWS / workflow))
            if not report.valid or report.definition is None:
                raise SystemExit(f"bench workflow {workflow} is invalid: {report.errors}")
            self._reports[workflow] = report
        return self._reports[workflow]

    def compiled(self, workflow: str) -> Compiled:
        if workflow not in self._compiled:
            report = self.report(workflow)
            assert report.definition is not None
            self._compiled[workflow] = compile_workflow(report.definition, report.configs)
        return self._compiled[workflow]

    def run_batch(self, workflow: str, inputs: list[Path]) -> list[FileResult]:
        """What `mediaflow run WORKFLOW INPUT...` does after start-up: one run per input, several at once."""
        results = self.service.run_files(self.report(workflow), inputs, None, workflow_id=Path(workflow).stem)
        check_completed(results)
        return results

    def run_one(self, workflow: str, source: Path, out_dir: Path | None = None) -> FileResult:
        """One run as `mediaflow run` makes it: the file hashed once (run id and etag), linked in, not copied."""
        compiled = self.compiled(workflow)
        run_id, etag = file_identity(compiled, source, out_dir or WORK, self.service.tenant, force=True)
        result = self.service.run_one(compiled, source, out_dir, workflow_id=Path(workflow).stem, run_id=run_id,
                                      input_etag=etag)
        check_completed([result])
        return result

    @property
    def pool(self) -> WorkerPool:
        """The runtime's own worker processes (started on first use); ``submit`` runs a probe in one."""
        pool: WorkerPool = self.service.runtime._own_invoker.pool
        return pool

    def worker_pids(self) -> list[int]:
        return self.pool.worker_pids()

    def probe_workers(self) -> list[dict[str, Any]]:
        """pid and libvips thread count of every worker (each probe holds its worker for a moment)."""
        futures = [self.pool.submit(worker_info, 0.3) for _ in range(self.workers)]
        return [future.result() for future in futures]

    def step_ms(self, run_id: str) -> dict[str, float]:
        steps = self.service.adapters.runs.steps(self.service.tenant, run_id)
        return {f"{s['nodeId']}": float(s.get("durationMs") or 0.0) for s in steps}

    def close(self) -> None:
        self.service.close()
        shutil.rmtree(self.data_dir, ignore_errors=True)


@contextmanager
def engine(name: str, workers: int) -> Iterator[Engine]:
    instance = Engine(name, workers)
    try:
        yield instance
    finally:
        instance.close()


def check_completed(results: list[FileResult]) -> None:
    for result in results:
        if result.status != "completed":
            raise RuntimeError(f"run {result.run_id} on {result.input} {result.status}: {result.error}")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of this process (all threads) and of the given worker processes."""
    total = sum(psutil.Process().cpu_times()[:2])
    for pid in pids:
        with suppress(psutil.NoSuchProcess):
            total += sum(psutil.Process(pid).cpu_times()[:2])
    return total


def rss_mb(pid: int) -> float:
    return psutil.Process(pid).memory_info().rss / MB


def reset_peak_rss(pid: int) -> bool:
    """Reset the kernel's RSS high-water mark of ``pid`` (Linux: write 5 to /proc/PID/clear_refs)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def peak_rss_mb(pid: int) -> float | None:
    """VmHWM of ``pid`` in MB (Linux), or None where /proc does not say."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class RssSampler:
    """Samples a process's RSS every ``interval`` seconds on a thread; a cross-check of VmHWM."""

    def __init__(self, pid: int, interval: float = 0.002) -> None:
        self.pid, self.interval, self.peak_mb = pid, interval, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        process = psutil.Process(self.pid)
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, process.memory_info().rss / MB)
            time.sleep(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def timed(call: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = call()
    return time.perf_counter() - started, value


# -- p1: mediaflow vs a plain Pillow script -------------------------------------------------------------


def pillow_batch(inputs: list[Path], *, draft: bool = False, processes: int = 1) -> dict[str, Any]:
    """Run bench/pillow_baseline.py over ``inputs`` in ``processes`` parallel processes.

    Interpreter start-up is excluded: each script times its own loop; parallel loops are combined from
    the earliest start to the latest end.
    """
    out_dir = WORK / "pillow-out"
    shutil.rmtree(out_dir, ignore_errors=True)
    chunks = [inputs[i::processes] for i in range(processes)]
    command = [sys.executable, str(BENCH / "pillow_baseline.py"), "--out", str(out_dir)]
    if draft:
        command.append("--draft")
    children = [subprocess.Popen([*command, *map(str, chunk)], stdout=subprocess.PIPE, text=True)
                for chunk in chunks if chunk]
    reports = []
    for child in children:
        stdout, _ = child.communicate(timeout=600)
        if child.returncode != 0:
            raise RuntimeError(f"pillow_baseline.py exited with {child.returncode}")
        reports.append(json.loads(stdout))
    wall = max(r["end"] for r in reports) - min(r["start"] for r in reports)
    return {"per_image": wall / len(inputs), "cpu_per_image": sum(r["cpu"] for r in reports) / len(inputs),
            "size": reports[0]["sizes"][0],
            "bytes": {p.suffix: p.stat().st_size for p in sorted(out_dir.iterdir())[:2]}}


def engine_batch(bench: Engine, workflow: str, inputs: list[Path]) -> dict[str, Any]:
    pids = bench.worker_pids()
    cpu_before = cpu_seconds(pids)
    wall, results = timed(lambda: bench.run_batch(workflow, inputs))
    cpu = cpu_seconds(pids) - cpu_before
    return {"per_image": wall / len(inputs), "cpu_per_image": cpu / len(inputs), "wall": wall,
            "outputs": sorted((o.filename, o.size) for o in results[0].outputs)}


def figure_p1(profile: Profile, media: MediaCache) -> list[Figure]:
    source = media.photo(6000, 4000)
    n = profile.p1_images
    inputs = [source] * n
    workflow = "web-1600-webp-jpeg.json"
    samples: dict[str, list[dict[str, Any]]] = {key: [] for key in
                                                ("mf_w1", "mf_w2", "pil", "pil_draft", "pil_2proc")}
    bare: dict[str, list[float]] = {"one_decode": [], "one_decode_shrink2": []}
    bare_stem = str(WORK / "p1-bare")
    with engine("p1-w1", 1) as one, engine("p1-w2", 2) as two:
        for bench in (one, two):  # start the pools and warm every worker
            bench.run_batch(workflow, [source] * (2 * bench.workers))
        threads = {"w1": one.probe_workers(), "w2": two.probe_workers()}
        for round_no in range(profile.p1_rounds):
            log(f"p1 round {round_no + 1}/{profile.p1_rounds}")
            samples["mf_w1"].append(engine_batch(one, workflow, inputs))
            samples["pil"].append(pillow_batch(inputs))
            samples["pil_draft"].append(pillow_batch(inputs, draft=True))
            samples["mf_w2"].append(engine_batch(two, workflow, inputs))
            samples["pil_2proc"].append(pillow_batch(inputs, processes=2))
            # What the same worker needs for the work with one decode for both outputs (no engine).
            for key, shrink in (("one_decode", 1), ("one_decode_shrink2", 2)):
                bare[key].append(median([one.pool.submit(
                    bare_one_decode_two_encodes, str(source), bare_stem, 1600, 1067, shrink).result()
                    for _ in range(n)]))
    per = {key: median([s["per_image"] for s in values]) for key, values in samples.items()}
    cpu = {key: median([s["cpu_per_image"] for s in values]) for key, values in samples.items()}
    common = {
        "input": f"{source.name} (6000x4000 JPEG q90, {source.stat().st_size / MB:.1f} MB)",
        "images_per_batch": n, "rounds": profile.p1_rounds,
        "how": "mediaflow: LocalService.run_files (the `mediaflow run` batch path) in this process, pool warmed "
               "first, so process start-up is excluded; per image = batch wall / images. Pillow: "
               "bench/pillow_baseline.py, loop time / images. Rounds interleave both; medians.",
        "per_image_ms": {key: ms(value) for key, value in per.items()},
        "cpu_per_image_ms": {key: ms(value) for key, value in cpu.items()},
        "per_image_samples_ms": {key: [ms(s["per_image"]) for s in values] for key, values in samples.items()},
        "mediaflow_outputs": samples["mf_w1"][0]["outputs"],
        "pillow_output_size": samples["pil"][0]["size"], "pillow_output_bytes": samples["pil"][0]["bytes"],
        "worker_threads": threads,
        "tasks_per_image": "1 (the fan-out is one Task: one shrink-on-load decode kept in memory, one encode "
                           "per branch)",
    }
    return [
        Figure("p1_vs_pillow", per["pil"] / per["mf_w1"], 2.0, ">=", "x",
               "Pillow s/image / mediaflow s/image, 24 MP JPEG -> 1600 px WebP + JPEG; one mediaflow worker "
               "(1 libvips thread) vs one Pillow process", {**common, "cpu_ratio": cpu["pil"] / cpu["mf_w1"]}),
        Figure("p1_vs_pillow_draft", per["pil_draft"] / per["mf_w1"], None, "", "x",
               "as p1_vs_pillow, Pillow with draft('RGB', (1600, 1600)) (JPEG DCT scaling)",
               {"per_image_ms": {"mediaflow": ms(per["mf_w1"]), "pillow_draft": ms(per["pil_draft"])}}),
        Figure("p1_vs_pillow_2_workers", per["pil_2proc"] / per["mf_w2"], None, "", "x",
               "both sides on 2 processes: MEDIAFLOW_WORKERS=2 vs two Pillow processes splitting the batch",
               {"per_image_ms": {"mediaflow_2_workers": ms(per["mf_w2"]), "pillow_2_processes":
                                 ms(per["pil_2proc"])}}),
        Figure("p1_vs_pillow_bare_one_decode", per["pil"] / median(bare["one_decode"]), None, "", "x",
               "Pillow / the bare libvips calls for one decode + resize and both encodes, in the same worker "
               "(what one Task with two encodes would cost; no engine)",
               {"bare_ms": {key: ms(median(values)) for key, values in bare.items()},
                "pillow_vs_bare_one_decode_shrink2": round(per["pil"] / median(bare["one_decode_shrink2"]), 3),
                "shrink2": "JPEG decoded at 1/2 scale (DCT scaling) then Lanczos; libvips' thumbnail only "
                           "shrinks on load when a factor of 2 is left for the resample (6000 -> 1600 is 3.75)"}),
        Figure("p1_default_vs_pillow_1_process", per["pil"] / per["mf_w2"], None, "", "x",
               "`mediaflow run` with its default worker count here (2) vs the Pillow script as written "
               "(1 process)", {"per_image_ms": {"mediaflow_2_workers": ms(per["mf_w2"]),
                                                "pillow": ms(per["pil"])}}),
    ]


# -- p2: engine overhead ---------------------------------------------------------------------------------


def figure_p2(profile: Profile, media: MediaCache) -> list[Figure]:
    from mediaflow.nodes.resize import Config as ResizeConfig
    from mediaflow.nodes.resize import scaled_size

    source = media.photo(4000, 3000)
    tiny = media.photo(64, 64)
    workflow = "resize-webp.json"
    width, height = scaled_size(ResizeConfig(width=1600, height=1600, fit="inside"), 4000, 3000)
    out_dir = WORK / "p2-out"
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    bare_target = str(out_dir / "bare.webp")
    runs: list[float] = []
    run_cpu: list[float] = []
    ops: list[float] = []
    bare: list[float] = []
    bare_cpu: list[float] = []
    bare_round_trip: list[float] = []
    ingest: list[float] = []
    download: list[float] = []
    tiny_runs: list[float] = []
    with engine("p2", 1) as bench:
        engine_file = bench.run_one(workflow, source, out_dir / "engine").outputs[0].path
        bench.pool.submit(bare_resize_webp, str(source), bare_target, width, height, 80).result()
        identical = engine_file is not None and engine_file.read_bytes() == Path(bare_target).read_bytes()
        threads = bench.probe_workers()
        pids = bench.worker_pids()

        def one_run() -> None:
            cpu_before = cpu_seconds(pids)
            wall, result = timed(lambda: bench.run_one(workflow, source))
            run_cpu.append(cpu_seconds(pids) - cpu_before)
            runs.append(wall)
            ops.append(sum(bench.step_ms(result.run_id).values()) / 1000)

        def one_bare() -> None:
            cpu_before = cpu_seconds(pids)
            wall, inside = timed(lambda: bench.pool.submit(
                bare_resize_webp, str(source), bare_target, width, height, 80).result())
            bare_cpu.append(cpu_seconds(pids) - cpu_before)
            bare.append(inside)
            bare_round_trip.append(wall)

        for rep in range(profile.p2_reps):
            for call in ((one_run, one_bare) if rep % 2 == 0 else (one_bare, one_run)):
                call()
        # Where the time outside libvips goes: the input copy into the blob store (the CLI's ingest),
        # the worker's copy into its scratch folder, and a whole run on a 64 x 64 image (fixed costs).
        blobs = bench.service.adapters.blobs
        for rep in range(max(3, profile.p2_reps // 2)):
            wall, ref = timed(partial(bench.service.ingest, source, prefix=f"probe-{rep}", link=True))
            ingest.append(wall)
            download.append(timed(partial(blobs.download, ref.key, out_dir / "download"))[0])
            tiny_runs.append(timed(lambda: bench.run_one(workflow, tiny))[0])
    pairs = [run - base for run, base in zip(runs, bare, strict=True)]
    outside = [run - op for run, op in zip(runs, ops, strict=True)]
    bare_s, op_s = median(bare), median(ops)
    cpu_ratio = median(run_cpu) / median(bare_cpu)
    return [Figure(
        "p2_engine_cpu_vs_bare", cpu_ratio, 1.1, "<=", "x",
        "CPU per run (this process + the worker: the whole engine) / CPU of the bare libvips calls in the same "
        "worker, 12 MP JPEG -> 1600 px WebP; the engine's own cost per image is the excess",
        {"cpu_ms": {"run": ms(median(run_cpu)), "bare": ms(median(bare_cpu))},
         "engine_cpu_ms_per_image": ms(median(run_cpu) - median(bare_cpu)),
         "run_cpu_ms": [ms(v) for v in run_cpu], "bare_cpu_ms": [ms(v) for v in bare_cpu]}),
        Figure(
        "p2_engine_overhead", median(outside) / bare_s, 0.05, "<=", "fraction",
        "(workflow run - bare libvips calls) / bare, 12 MP JPEG -> 1600 px WebP, same warm worker",
        {
            "input": f"{source.name} (4000x3000 JPEG q90, {source.stat().st_size / MB:.1f} MB)",
            "workflow": workflow, "reps": profile.p2_reps,
            "how": "run = LocalService.run_one wall in this process (ingest, ASL interpreter, process hop, "
                   "worker download/decode/encode/upload, run records); ops = the worker's own timing of the "
                   "libvips pipeline of the same run (step records: first op to the end of the encode); "
                   "bare = thumbnail + webpsave timed inside the same worker process, right before or after "
                   "each run (alternating). value = median over runs of (run - ops), i.e. the engine time "
                   "outside libvips measured within one run, / median bare. ops_vs_bare checks that the "
                   "pipeline itself costs what the bare calls cost (the outputs are byte-identical); "
                   "paired_overhead (run - the bare call next to it) is the same figure measured across "
                   "two calls, which contention on a shared machine makes far noisier.",
            "run": spread(runs), "bare": spread(bare), "bare_round_trip": spread(bare_round_trip),
            "paired_overhead": spread(pairs),
            "overhead_from_minimums": round((min(runs) - min(bare)) / min(bare), 4),
            "overhead_cpu": round((median(run_cpu) - median(bare_cpu)) / median(bare_cpu), 4),
            "cpu_ms": {"run": ms(median(run_cpu)), "bare": ms(median(bare_cpu))},
            "worker_op_time": spread(ops), "ops_vs_bare": round(op_s / bare_s, 3),
            "outside_ops": spread(outside),
            "overhead_paired": round(median(pairs) / bare_s, 4),
            "breakdown_ms": {"ingest_link": ms(median(ingest)),
                             "worker_download_copy": ms(median(download)),
                             "whole_run_64x64_image": ms(median(tiny_runs))},
            "output_identical_to_bare": identical,
            "output_size": [width, height], "worker_threads": threads,
        })]


# -- p3: fusion ------------------------------------------------------------------------------------------


def single_node_workflows() -> list[tuple[str, Path]]:
    """The five nodes of chain-5.json as five one-node workflows (what running them unfused costs)."""
    chain = json.loads((WORKFLOWS / "chain-5.json").read_text())
    folder = WORK / "workflows"
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for node in chain["nodes"]:
        if node["kind"] == "upload":
            continue
        definition = {"name": f"bench: {node['id']} alone", "nodes": [{"id": "upload", "kind": "upload"}, node],
                      "edges": [{"source": "upload", "target": node["id"]}],
                      "settings": {"stopOnFailure": True}}
        path = folder / f"single-{node['id']}.json"
        path.write_text(json.dumps(definition, indent=2))
        made.append((node["id"], path))
    return made


def figure_p3(profile: Profile, media: MediaCache) -> list[Figure]:
    source = media.photo(1800, 1200)
    chain, colour, single = "chain-5.json", "chain-5-colour.json", "convert-webp.json"
    walls: dict[str, list[float]] = {chain: [], colour: [], single: []}
    chain_steps: list[dict[str, float]] = []
    unfused_runs: list[float] = []
    singles = single_node_workflows()
    with engine("p3", 1) as bench:
        for _ in range(2):
            for workflow in walls:
                bench.run_one(workflow, source)
        for rep in range(profile.p3_reps):
            order = list(walls) if rep % 2 == 0 else list(reversed(walls))
            for workflow in order:
                wall, result = timed(partial(bench.run_one, workflow, source))
                walls[workflow].append(wall)
                if workflow == chain:
                    chain_steps.append(bench.step_ms(result.run_id))
        for rep in range(profile.p3_unfused_reps):
            hop_dir = WORK / "p3-hops" / str(rep)
            shutil.rmtree(hop_dir, ignore_errors=True)
            current, total = source, 0.0
            for node_id, path in singles:
                report = bench.service.load_definition(str(path))
                assert report.definition is not None
                compiled = compile_workflow(report.definition, report.configs)
                wall, result = timed(partial(bench.service.run_one, compiled, current, hop_dir / node_id,
                                             workflow_id=f"single-{node_id}"))
                check_completed([result])
                total += wall
                assert result.outputs[0].path is not None
                current = result.outputs[0].path
            unfused_runs.append(total)
    chain_s, colour_s, single_s = median(walls[chain]), median(walls[colour]), median(walls[single])
    unfused_s = median(unfused_runs)
    per_op = {node: round(median([s.get(node, 0.0) for s in chain_steps]), 1) for node in chain_steps[0]}
    return [
        Figure("p3_fusion_ratio", chain_s / single_s, 1.3, "<=", "x",
               "5-node chain (resize, adjust, strip_metadata, watermark, convert) / 1-node convert, same image",
               {"input": f"{source.name} (1800x1200 JPEG q90)", "reps": profile.p3_reps,
                "how": "LocalService.run_one wall per run on one warm worker, the workflows in turn (order "
                       "reversed every other rep); medians. The chain is one Task (one decode, one encode); "
                       "its resize really resamples (1800x1200 -> 1600x1067: the chain encodes 79 % of the "
                       "pixels the convert encodes); adjust is brightness + contrast (one linear step).",
                "chain": spread(walls[chain]), "convert": spread(walls[single]),
                "chain_op_ms": per_op,
                "note": "ops are lazy: the pixel work of every op shows up in the last op's time (the encode)"}),
        Figure("p3_fusion_ratio_colour_adjust", colour_s / single_s, None, "", "x",
               "as p3_fusion_ratio with saturation (LCh round trip) and sharpen added to the adjust node",
               {"chain_colour": spread(walls[colour]),
                "added_by_saturation_and_sharpen_ms": ms(colour_s - chain_s)}),
        Figure("p3_unfused_ratio", unfused_s / single_s, None, "", "x",
               "the 5 nodes of p3 run as 5 one-node workflows (each decodes the previous output) / 1-node convert",
               {"unfused": spread(unfused_runs), "reps": profile.p3_unfused_reps,
                "fused_vs_unfused": round(chain_s / unfused_s, 3)}),
    ]


# -- p4: memory ------------------------------------------------------------------------------------------


def figure_p4(profile: Profile, media: MediaCache) -> list[Figure]:
    big = media.photo(10000, 10000)
    growth_inputs = [media.photo(1200, 800, seed=1), media.photo(2400, 1600, seed=2), media.photo(4000, 3000),
                     media.photo(1600, 1600, seed=3, fmt="png", alpha=True), media.photo(3000, 2000, seed=4)]
    workflow = "resize-webp.json"
    peaks: list[float] = []
    sampled: list[float] = []
    walls: list[float] = []
    with engine("p4-peak", 1) as bench:
        for path in growth_inputs[:2]:
            bench.run_one(workflow, path)
        pid = bench.probe_workers()[0]["pid"]
        idle = rss_mb(pid)
        hwm_ok = True
        for rep in range(profile.p4_peak_reps):
            log(f"p4 100 MP run {rep + 1}/{profile.p4_peak_reps}")
            hwm_ok = reset_peak_rss(pid) and hwm_ok
            with RssSampler(pid) as sampler:
                wall, _result = timed(lambda: bench.run_one(workflow, big))
            walls.append(wall)
            sampled.append(sampler.peak_mb)
            hwm = peak_rss_mb(pid) if hwm_ok else None
            peaks.append(hwm if hwm is not None else sampler.peak_mb)
        after = rss_mb(pid)
    peak = max(peaks)
    trajectory: dict[int, float] = {}
    n = profile.p4_growth_images
    with engine("p4-growth", 1) as bench:
        pid = bench.probe_workers()[0]["pid"]
        before = rss_mb(pid)
        for index in range(1, n + 1):
            bench.run_one(workflow, growth_inputs[(index - 1) % len(growth_inputs)])
            if index % 10 == 0:
                trajectory[index] = round(rss_mb(pid), 1)
    growth = trajectory[n] / trajectory[10]
    return [
        Figure("p4_peak_rss_mb_100mp", peak, 300, "<=", "MB",
               "peak RSS of the worker process converting a 100 MP JPEG (10000x10000) -> 1600 px WebP",
               {"input": f"{big.name} ({big.stat().st_size / MB:.1f} MB)",
                "how": "VmHWM of the worker (reset through /proc/PID/clear_refs before each run); a 2 ms "
                       "psutil sampler as cross-check. Max over runs.",
                "baseline_idle_worker_rss_mb": round(idle, 1), "peak_above_idle_mb": round(peak - idle, 1),
                "peaks_mb": [round(p, 1) for p in peaks], "sampled_peaks_mb": [round(p, 1) for p in sampled],
                "hwm_used": hwm_ok, "rss_after_mb": round(after, 1), "run": spread(walls)}),
        Figure("p4_rss_growth_100_images", growth, 1.5, "<=", "x",
               f"worker RSS after {n} images / after 10 images, one long-lived worker",
               {"images": n, "inputs": [p.name for p in growth_inputs], "workflow": workflow,
                "rss_before_first_mb": round(before, 1), "rss_every_10_mb": trajectory}),
    ]


# -- p5: batch scaling ---------------------------------------------------------------------------------


class MachineWatch:
    """CPU the rest of the machine used while a block ran (other processes, and time the host stole)."""

    def __init__(self) -> None:
        self.before = psutil.cpu_times()
        self.started = time.perf_counter()

    def stop(self, own_cpu: float) -> dict[str, float]:
        after = psutil.cpu_times()
        wall = time.perf_counter() - self.started
        delta = {name: getattr(after, name) - getattr(self.before, name) for name in after._fields}
        busy = sum(delta.values()) - delta.get("idle", 0.0) - delta.get("iowait", 0.0) - delta.get("steal", 0.0)
        capacity = wall * (psutil.cpu_count(logical=True) or 1)
        return {"others_cpu_share": round(max(0.0, busy - own_cpu) / capacity, 3),
                "steal_share": round(delta.get("steal", 0.0) / capacity, 3)}


def bare_batch(bench: Engine, inputs: list[Path], out_dir: Path, width: int, height: int) -> list[float]:
    """resize + WebP of every input with bare libvips calls, spread over the engine's worker processes."""
    futures = [bench.pool.submit(bare_resize_webp, str(path), str(out_dir / f"{index}.webp"), width, height, 80)
               for index, path in enumerate(inputs)]
    return [future.result() for future in futures]


def figure_p5(profile: Profile, media: MediaCache) -> list[Figure]:
    from mediaflow.nodes.resize import Config as ResizeConfig
    from mediaflow.nodes.resize import scaled_size

    distinct = [media.photo(1200, 800, seed=seed) for seed in range(1, 11)]
    inputs = [distinct[i % len(distinct)] for i in range(profile.p5_images)]
    bare_inputs = inputs[: max(20, len(inputs) // 2)]
    width, height = scaled_size(ResizeConfig(width=800, height=800, fit="inside"), 1200, 800)
    workflow = "batch-800-webp.json"
    throughput: dict[int, list[float]] = {1: [], 2: []}
    bare_throughput: dict[int, list[float]] = {1: [], 2: []}
    cpu: dict[int, list[dict[str, float]]] = {1: [], 2: []}
    out_dir = WORK / "p5-bare"
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    with engine("p5-w1", 1) as one, engine("p5-w2", 2) as two:
        engines = {1: one, 2: two}
        for bench in engines.values():
            bench.run_batch(workflow, distinct[: 4 * bench.workers])
        threads = {workers: bench.probe_workers() for workers, bench in engines.items()}
        for round_no in range(profile.p5_rounds):
            for workers in ((1, 2) if round_no % 2 == 0 else (2, 1)):
                bench = engines[workers]
                log(f"p5 round {round_no + 1}/{profile.p5_rounds}: {len(inputs)} images, {workers} worker(s)")
                pids = bench.worker_pids()
                parent_before = sum(psutil.Process().cpu_times()[:2])
                all_before = cpu_seconds(pids)
                watch = MachineWatch()
                wall, _ = timed(partial(bench.run_batch, workflow, inputs))
                parent = sum(psutil.Process().cpu_times()[:2]) - parent_before
                total = cpu_seconds(pids) - all_before
                throughput[workers].append(len(inputs) / wall)
                cpu[workers].append({"parent_ms_per_image": ms(parent / len(inputs)),
                                     "workers_ms_per_image": ms((total - parent) / len(inputs)),
                                     "wall_s": round(wall, 2), **watch.stop(total)})
                # The same libvips work without the engine, on the same worker processes: how well this
                # machine scales from 1 to 2 processes right now.
                wall, _ = timed(partial(bare_batch, bench, bare_inputs, out_dir, width, height))
                bare_throughput[workers].append(len(bare_inputs) / wall)
    ratio = median(throughput[2]) / median(throughput[1])
    bare_ratio = median(bare_throughput[2]) / median(bare_throughput[1])
    # What the CPU accounting implies for an otherwise idle machine: one worker is bound by its own CPU
    # per image; two workers by the CPU of parent + workers spread over the cores (at most 2 in use).
    cpus = min(2, psutil.cpu_count(logical=True) or 1)
    one_cpu = median([c["workers_ms_per_image"] for c in cpu[1]])
    one_parent = median([c["parent_ms_per_image"] for c in cpu[1]])
    two_cpu = median([c["workers_ms_per_image"] + c["parent_ms_per_image"] for c in cpu[2]])
    two_worker = median([c["workers_ms_per_image"] for c in cpu[2]]) / 2
    projected = max(one_cpu, one_parent) / max(two_cpu / cpus, two_worker)
    return [
        Figure("p5_batch_scaling_2_workers", ratio, 1.7, ">=", "x",
               f"images/s with MEDIAFLOW_WORKERS=2 / with 1, {len(inputs)} images 1200x800 -> 800 px WebP",
               {"how": "LocalService.run_files (the `mediaflow run` batch path), pools warmed first, alternating "
                       "rounds; libvips threads per worker = 1 (vips_concurrency), checked in each worker.",
                "images": len(inputs), "rounds": profile.p5_rounds,
                "images_per_s": {str(k): [round(v, 2) for v in values] for k, values in throughput.items()},
                "cpu": {str(k): values for k, values in cpu.items()}, "worker_threads": threads,
                "cpus": psutil.cpu_count(logical=True),
                "projected_from_cpu_on_idle_machine": round(projected, 3)}),
        Figure("p5_bare_libvips_scaling", bare_ratio, None, "", "x",
               "the same libvips calls submitted straight to the same 2 vs 1 worker processes (no engine): "
               "the scaling this machine allowed during the run",
               {"images": len(bare_inputs),
                "images_per_s": {str(k): [round(v, 2) for v in values] for k, values in bare_throughput.items()},
                "engine_vs_bare_scaling": round(ratio / bare_ratio, 3)}),
    ]


# -- driver -------------------------------------------------------------------------------------------------


def figure_p7(profile: Profile, media: MediaCache) -> list[Figure]:
    from media_kinds import figure_p7 as run_p7

    return run_p7(profile, media)


def figure_scale(profile: Profile, media: MediaCache) -> list[Figure]:
    """The AWS path on moto at volume (bench/scale.py; docs/scale.md reads these figures)."""
    from scale import measure

    uploads = 10_000 if profile is FULL else 2_000
    measured = measure(full_uploads=20, volume_uploads=uploads)
    full, volume = measured["full_path"], measured["volume"]
    return [
        Figure("scale_aws_calls_per_upload", full["aws_calls_per_upload"], SCALE_CALLS_TARGET, "<=", "calls",
               "AWS API calls mediaflow makes per upload through the whole path (trigger, Express runner, vips "
               "node, finishing), all services, one-node image workflow", details=full),
        Figure("scale_trigger_cpu_ms_per_event", volume["trigger_cpu_ms_per_event"]["median"], 5.0, "<=", "ms",
               "trigger handler CPU per upload event, median, excluding the AWS calls themselves",
               details={"uploads": uploads, **volume["trigger_cpu_ms_per_event"],
                        "calls_per_upload_by_service": volume["calls_per_upload_by_service"]}),
        Figure("scale_hot_key_share", volume["hot_key_share"], 0.05, "<=", "share",
               f"largest share of writes on one partition key of any table or index, {uploads} uploads of one "
               "tenant", details=volume["key_distribution"]),
    ]


# The whole path's calls per upload after batching and caching (docs/scale.md lists each remaining call).
SCALE_CALLS_TARGET = 15.0

def figure_folder(profile: Profile, media: MediaCache) -> list[Figure]:
    """A folder of 24 MP camera JPEGs -> 1600 px: mediaflow against sharp, Pillow and bare pyvips (bench/folder.py)."""
    import folder

    images, rounds = (24, 5) if profile is FULL else (6, 1)
    result = folder.measure(media, images=images, rounds=rounds, log=log)
    walls = result["median_wall_s"]
    two_workers = walls["mediaflow-1w/jpeg"] / walls["mediaflow/jpeg"]
    floor_scaling = walls["floor-1p/jpeg"] / walls["floor/jpeg"]
    return [
        Figure("folder_jpeg_vs_sharp_all", folder.ratio(result, "sharp-all", "jpeg"), 1.0, ">=", "x",
               f"{images} camera JPEGs -> 1600 px JPEG q75, whole processes: sharp Promise.all wall / mediaflow run "
               "wall (>1: mediaflow faster)", details=result),
        Figure("folder_jpeg_vs_pillow", folder.ratio(result, "pillow", "jpeg"), 2.5, ">=", "x",
               "the same job: a Pillow loop's wall / mediaflow run's wall", details={}),
        Figure("folder_webp_vs_sharp_all", folder.ratio(result, "sharp-all", "webp"), 1.0, ">=", "x",
               "-> 1600 px WebP q80 effort 4 on both sides: sharp Promise.all wall / mediaflow run wall",
               details={}),
        Figure("folder_jpeg_2_workers_vs_1", two_workers, 1.8, ">=", "x",
               "`mediaflow run` with MEDIAFLOW_WORKERS=1 wall / with the default workers (the cores), JPEG; "
               "whole processes, so start-up counts on both sides", details={}),
        Figure("folder_floor_jpeg_1p_vs_per_core", floor_scaling, None, "", "x",
               "the floor with one process wall / with one process per core: how much a second core gives the job "
               "itself on this machine, no engine (the most two workers can gain over one)", details={}),
        Figure("folder_jpeg_2_workers_share_of_floor_scaling", two_workers / floor_scaling, None, "", "x",
               "folder_jpeg_2_workers_vs_1 / folder_floor_jpeg_1p_vs_per_core: the share of the machine's own "
               "scaling that `mediaflow run` keeps (1: all of it)", details={}),
        Figure("folder_jpeg_vs_bare_vips", folder.ratio(result, "vips-bare", "jpeg"), None, "", "x",
               "bare pyvips as a Python user writes it (one process per core, thumbnail + save) wall / mediaflow "
               "run wall", details={}),
        Figure("folder_jpeg_vs_floor", folder.ratio(result, "floor", "jpeg"), None, "", "x",
               "the floor (a worker's own calls for the job, DCT-scaled decode + one Lanczos3 reduce + save, "
               "one process per core, no engine) wall / mediaflow run wall: 1 - this is the engine's share of the "
               "wall, start-up included", details={}),
        Figure("folder_jpeg_floor_vs_sharp_all", walls["sharp-all/jpeg"] / walls["floor/jpeg"], None, "", "x",
               "sharp Promise.all wall / the floor's wall: how far ahead of sharp the calls themselves are, "
               "before any engine cost", details={}),
        Figure("folder_webp_vs_floor", folder.ratio(result, "floor", "webp"), None, "", "x",
               "as folder_jpeg_vs_floor, WebP q80 effort 4", details={}),
        Figure("folder_jpeg_cpu_vs_sharp_all", folder.ratio(result, "sharp-all", "jpeg", of="median_cpu_s"), None,
               "", "x", "sharp Promise.all's CPU / mediaflow run's, each the whole process tree (user + sys of every "
               "process it started): >1, mediaflow spends less. Steadier than the walls between hours", details={}),
        Figure("folder_jpeg_cpu_vs_floor", folder.ratio(result, "floor", "jpeg", of="median_cpu_s"), None, "", "x",
               "the floor's CPU / mediaflow run's (whole trees): 1 - this is the engine's share of the CPU",
               details={}),
    ]


def figure_start(profile: Profile, media: MediaCache) -> list[Figure]:
    """A one-file `mediaflow run` against a bare pyvips process doing the same thumbnail (bench/speed.py)."""
    import speed

    result = speed.measure_start(media, rounds=7 if profile is FULL else 3, log=log)
    return [Figure("start_one_file_overhead_s", result["overhead_s"], 0.3, "<=", "s",
                   "one 24 MP JPEG -> 1600 px JPEG: `mediaflow run` wall - a bare `python -c` with pyvips making the "
                   "same thumbnail, whole processes, fresh data dir, medians", details=result)]


def figure_video(profile: Profile, media: MediaCache) -> list[Figure]:
    """20 s 1080p H.264 -> 720p H.264 through `mediaflow run` against the same ffmpeg command (bench/speed.py)."""
    import speed

    result = speed.measure_video(rounds=5 if profile is FULL else 1, log=log)
    medians = result["median_wall_s"]
    return [Figure("video_720p_vs_ffmpeg", medians["ffmpeg"] / medians["mediaflow_run"], 0.95, ">=", "x",
                   "20 s 1080p30 H.264 -> 720p H.264/AAC: plain ffmpeg wall (the command mediaflow ran, by hand) / "
                   "`mediaflow run` wall, whole processes (>1: mediaflow faster)", details=result)]


def figure_small(profile: Profile, media: MediaCache) -> list[Figure]:
    """Many 96 x 64 JPEGs through convert, compress and storage (bench/small_files.py): the engine's cost a file."""
    import small_files

    files, rounds = (500, 3) if profile is FULL else (100, 1)
    result = small_files.measure(files, rounds, small_files.default_dir())
    return [
        Figure("small_files_per_s", result["2w"]["files_per_s"], None, "", "files/s",
               f"{files} photos of 96 x 64 -> WebP through `mediaflow run` (convert, compress, storage), the default "
               "workers, a fresh data dir on a tmpfs: files a second, where the engine's cost a file is the job",
               details=result),
        Figure("small_files_2_workers_vs_1", result["2w_vs_1w"], None, "", "x",
               "the same with MEDIAFLOW_WORKERS=1 wall / with the default workers: the command's per-file work, under "
               "one interpreter lock, is what two workers wait for", details={}),
        Figure("small_files_cpu_ms_per_file", result["2w"]["cpu_ms_per_file"], None, "", "ms",
               "the whole process tree's CPU (user + sys) a file with the default workers", details={}),
    ]


GROUPS: dict[str, Callable[[Profile, MediaCache], list[Figure]]] = {
    "p1": figure_p1, "p2": figure_p2, "p3": figure_p3, "p4": figure_p4, "p5": figure_p5, "p7": figure_p7,
    "scale": figure_scale, "folder": figure_folder, "start": figure_start, "video": figure_video,
    "small": figure_small,
}


def fmt_value(figure: Figure) -> str:
    if figure.unit == "fraction":
        return f"{figure.value * 100:+.1f} %"
    if figure.unit == "MB":
        return f"{figure.value:.0f} MB"
    if figure.unit == "share":
        return f"{figure.value:.3f}"
    if figure.unit != "x":
        return f"{figure.value:.2f} {figure.unit}"
    return f"{figure.value:.2f}x"


def fmt_target(figure: Figure) -> str:
    if figure.target is None:
        return "-"
    if figure.unit == "fraction":
        return f"{figure.op} {figure.target * 100:.0f} %"
    if figure.unit == "MB":
        return f"{figure.op} {figure.target:.0f} MB"
    if figure.unit != "x":
        return f"{figure.op} {figure.target:g} {figure.unit}"
    return f"{figure.op} {figure.target:g}x"


def print_table(figures: list[Figure]) -> None:
    rows = [("name", "value", "target", "met?")]
    for figure in figures:
        met = {True: "yes", False: "NO", None: "info"}[figure.met]
        rows.append((figure.name, fmt_value(figure), fmt_target(figure), met))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for index, row in enumerate(rows):
        print("  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row)))
        if index == 0:
            print("  ".join("-" * width for width in widths))


def machine() -> dict[str, Any]:
    import PIL
    import pyvips

    return {"cpus": psutil.cpu_count(logical=True), "platform": platform.platform(),
            "python": platform.python_version(), "pillow": PIL.__version__,
            "libvips": f"{pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)}",
            "memory_gb": round(psutil.virtual_memory().total / 1024**3, 1)}


def source_commit() -> str:
    """The commit the measured code is at, with ``+changes`` when the working tree differs from it (the
    figures of a partial run are merged into results.json, so each says what it measured)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True, timeout=30).stdout.strip()
        changed = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                  f":!{RESULTS.relative_to(ROOT)}"],  # the file this run writes is no change
                                 cwd=ROOT, capture_output=True, text=True, check=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head}+changes" if changed else head


def select(only: str | None) -> list[str]:
    if only is None:
        return list(GROUPS)
    group = only.split("_", 1)[0]
    if group not in GROUPS:
        raise SystemExit(f"--only takes one of {', '.join(GROUPS)} or a figure name, not {only!r}")
    return [group]


def compile_bytecode() -> None:
    """Write the package's bytecode as an installed wheel has it: the editable checkout otherwise compiles
    every module again in every process where PYTHONDONTWRITEBYTECODE is set (about 40 ms of each start)."""
    import compileall

    compileall.compile_dir(str(ROOT / "layers" / "core" / "mediaflow"), quiet=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="mediaflow benchmarks (bench/README.md)")
    parser.add_argument("--quick", action="store_true", help="fewer images and repeats: a smoke run")
    parser.add_argument("--only", metavar="NAME", help="a group (p1..p7, scale, folder, start, video) or a figure name")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    profile = QUICK if args.quick else FULL
    groups = select(args.only)
    WORK.mkdir(parents=True, exist_ok=True)
    compile_bytecode()
    media = MediaCache(WORK / "media")
    started = time.perf_counter()
    load_before = os.getloadavg()
    figures: list[Figure] = []
    timings: dict[str, float] = {}
    for group in groups:
        log(f"{group} ({profile.name})")
        group_started = time.perf_counter()
        made = GROUPS[group](profile, media)
        if args.only and args.only != group:
            made = [figure for figure in made if figure.name == args.only] or made
        figures.extend(made)
        timings[group] = round(time.perf_counter() - group_started, 1)
        log(f"{group} done in {timings[group]} s")
    shutil.rmtree(WORK / "data", ignore_errors=True)
    measured = {"mode": profile.name, "commit": source_commit(),
                "measured_at": datetime.now(UTC).isoformat(timespec="seconds")}
    previous: dict[str, Any] = {}
    if args.only and RESULTS.is_file():
        previous = json.loads(RESULTS.read_text()).get("figures", {})
    results: dict[str, Any] = {
        "generated_at": measured["measured_at"],
        "mode": profile.name,
        "commit": measured["commit"],
        "groups_run": groups,
        "seconds": round(time.perf_counter() - started, 1),
        "group_seconds": timings,
        "machine": {**machine(), "loadavg_before": [round(v, 2) for v in load_before],
                    "loadavg_after": [round(v, 2) for v in os.getloadavg()]},
        "media_generated": media.generated,
        "figures": {**previous, **{figure.name: {**figure.to_json(), **measured} for figure in figures}},
    }
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print_table(figures)
    print(f"\n{profile.name} run in {results['seconds']} s; load average before "
          f"{results['machine']['loadavg_before'][0]:.2f}, after {results['machine']['loadavg_after'][0]:.2f} "
          f"on {results['machine']['cpus']} CPUs; details in {RESULTS.relative_to(ROOT)}")
    missed = [figure.name for figure in figures if figure.met is False]
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
