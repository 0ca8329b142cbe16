"""Load on `mediaflow serve` over loopback: 20 concurrent clients x 500 GETs and 50 concurrent multipart runs,
with GET latency reported against one client alone measured in the same run.

    .venv/bin/python bench/serve_load.py            # 20 x 500 GETs, 50 runs (about a minute on 2 cores)
    .venv/bin/python bench/serve_load.py --quick    # 20 x 100 GETs, 20 runs

Bounded: every phase has a deadline (``--deadline`` seconds in all). Writes bench/serve_load.json.
Counts connection errors (no response at all) separately from HTTP errors; every run must end.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "serve_load.json"
WORKFLOW: dict[str, Any] = {"name": "load", "nodes": [{"id": "upload", "kind": "upload"},
                                      {"id": "small", "kind": "resize", "config": {"width": 320}},
                                      {"id": "webp", "kind": "convert", "config": {"outputFormat": "webp"}}],
            "edges": [{"source": "upload", "target": "small"}, {"source": "small", "target": "webp"}]}


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))] if ordered else float("nan")


def summary(samples: list[float]) -> dict[str, float]:
    return {"n": len(samples), "p50_ms": round(percentile(samples, 0.5) * 1000, 2),
            "p95_ms": round(percentile(samples, 0.95) * 1000, 2),
            "mean_ms": round(statistics.fmean(samples) * 1000, 2) if samples else float("nan")}


class Serve:
    def __init__(self, data_dir: Path) -> None:
        env = {**os.environ, "MEDIAFLOW_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1",
               "PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "core"), os.environ.get("PYTHONPATH", "")])}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mediaflow.cli", "serve", "--port", "0", "--rate-per-second", "1000000",
             "--burst", "1000000"], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.url = ""
        threading.Thread(target=self._read, daemon=True).start()
        deadline = time.monotonic() + 120
        while not self.url:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("mediaflow serve did not start")
            time.sleep(0.05)

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            found = re.search(r"API on (http://[\d.]+:\d+)/v1", line)
            if found and not self.url:
                self.url = found.group(1)

    def stop(self) -> int:
        self.process.terminate()
        return self.process.wait(120)


def get_loop(url: str, key: str, count: int, deadline: float) -> tuple[list[float], int, int]:
    latencies, http_errors, connection_errors = [], 0, 0
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {key}"
        for _ in range(count):
            if time.monotonic() > deadline:
                break
            started = time.perf_counter()
            try:
                reply = session.get(f"{url}/v1/workflows", timeout=60)
            except requests.ConnectionError:
                connection_errors += 1
                continue
            latencies.append(time.perf_counter() - started)
            http_errors += reply.status_code != 200
    return latencies, http_errors, connection_errors


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--deadline", type=float, default=600.0, help="seconds for the whole bench")
    args = parser.parse_args()
    gets = 100 if args.quick else 500
    runs = 20 if args.quick else 50
    deadline = time.monotonic() + args.deadline
    sys.path.insert(0, str(ROOT / "layers" / "core"))
    from mediaflow import samples
    from mediaflow.embedded.app import LocalService

    with tempfile.TemporaryDirectory(prefix="mediaflow-serve-load-") as tmp:
        data_dir = Path(tmp) / "data"
        with LocalService(data_dir=data_dir) as service:
            key = service.adapters.keys.create_key("local", ["workflows:read", "workflows:write",
                                                             "workflows:execute"])[0]
        photo = samples.photo(Path(tmp) / "photo.jpg", 1200, 900).read_bytes()
        server = Serve(data_dir)
        try:
            headers = {"Authorization": f"Bearer {key}"}
            workflow_id = requests.post(f"{server.url}/v1/workflows", json=WORKFLOW, headers=headers,
                                        timeout=60).json()["id"]
            alone, alone_http, alone_conn = get_loop(server.url, key, gets, deadline)
            with ThreadPoolExecutor(args.clients) as pool:
                started = time.perf_counter()
                parts = list(pool.map(lambda _: get_loop(server.url, key, gets, deadline), range(args.clients)))
                concurrent_seconds = time.perf_counter() - started
            together = [sample for latencies, _, _ in parts for sample in latencies]

            def start_run(n: int) -> tuple[str | None, str]:
                try:
                    reply = requests.post(f"{server.url}/v1/workflows/{workflow_id}/runs", headers=headers,
                                          files={"file": (f"p{n}.jpg", photo)}, timeout=120)
                except requests.ConnectionError as error:
                    return None, f"connection: {error}"
                return (reply.json()["runId"], "") if reply.status_code == 202 else (None, f"http {reply.status_code}")

            with ThreadPoolExecutor(runs) as pool:
                started_runs = list(pool.map(start_run, range(runs)))
            run_ids = [run_id for run_id, _ in started_runs if run_id]
            statuses: dict[str, str] = {}
            while time.monotonic() < deadline and len(statuses) < len(run_ids):
                for run_id in run_ids:
                    if run_id not in statuses:
                        status = requests.get(f"{server.url}/v1/runs/{run_id}", headers=headers,
                                              timeout=60).json()["status"]
                        if status in ("completed", "failed", "cancelled"):
                            statuses[run_id] = status
                time.sleep(0.5)
        finally:
            exit_code = server.stop()
    result: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"), "cpus": os.cpu_count(),
        "one_client": {**summary(alone), "http_errors": alone_http, "connection_errors": alone_conn},
        "concurrent_clients": {"clients": args.clients, **summary(together),
                               "http_errors": sum(p[1] for p in parts),
                               "connection_errors": sum(p[2] for p in parts),
                               "requests_per_second": round(len(together) / concurrent_seconds, 1)},
        "multipart_runs": {"started": len(run_ids), "asked": runs,
                           "refused": [why for run_id, why in started_runs if not run_id],
                           "terminal": len(statuses),
                           "completed": sum(s == "completed" for s in statuses.values())},
        "server_exit_code": exit_code,
    }
    result["p95_ratio_concurrent_vs_alone"] = round(
        result["concurrent_clients"]["p95_ms"] / max(result["one_client"]["p95_ms"], 1e-9), 2)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    ok = (result["concurrent_clients"]["connection_errors"] == 0 and len(run_ids) == runs
          and len(statuses) == len(run_ids))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
