"""`mediaflow demo`: every example workflow on sample media generated here, outputs in ./out."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mediaflow import samples
from mediaflow.compiler import compile_definition
from mediaflow.embedded.app import FileResult, LocalService, missing_runtimes
from mediaflow.errors import InvalidDefinition
from mediaflow.validation import validate

console = Console(highlight=False, width=None if sys.stdout.isatty() else 150)


def make_samples(folder: Path) -> dict[str, list[Path]]:
    """Sample inputs by purpose; video/audio only when ffmpeg is installed."""
    folder.mkdir(parents=True, exist_ok=True)
    made: dict[str, list[Path]] = {
        "photo": [_sample(folder / "photo.jpg", partial(samples.photo, width=3000, height=2000))],
        "subject": [_sample(folder / "portrait.png", samples.subject_on_flat_background)],
        "document": [_sample(folder / "document.pdf", samples.pdf)],
        "batch": [_sample(folder / "batch" / f"shot-{index:02d}.jpg",
                          partial(samples.photo, width=1200, height=800, seed=index)) for index in range(1, 7)],
    }
    if samples.ffmpeg_binary():
        made["video"] = [_sample(folder / "clip.mp4", partial(samples.video, seconds=6.0))]
        made["audio"] = [_sample(folder / "tone.wav", partial(samples.tone, seconds=8.0))]
    return made


def _sample(path: Path, make: Callable[[Path], Path]) -> Path:
    """The sample at ``path``, made once (whole, through a temporary name): a second demo finds the same files,
    so it reuses the runs the first one completed instead of running them again and storing their outputs
    under new names next to the old ones."""
    if path.is_file() and path.stat().st_size > 0:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    making = path.with_name(f".making-{path.name}")
    make(making)
    making.replace(path)
    return path


def inputs_for(name: str, definition: dict[str, Any], made: dict[str, list[Path]]) -> list[Path]:
    media_types = definition.get("trigger", {}).get("filters", {}).get("mediaTypes", [])
    if name.startswith("batch-"):
        return made["batch"]
    if name.startswith("avatar-"):
        return made["subject"]
    if name.startswith("branch-"):
        return made["photo"] + made["document"]
    for media_type in ("video", "audio", "document"):
        if media_type in media_types:
            return made.get(media_type, [])
    return made["photo"]


def run_demo(out: Path, examples: Path, *, data_dir: Path | None = None, as_json: bool = False) -> int:
    started = time.perf_counter()
    Console(stderr=True, highlight=False).print(f"generating sample media in {escape(str(out / 'samples'))} ...")
    made = make_samples(out / "samples")
    rows: list[dict[str, Any]] = []
    with LocalService(data_dir=data_dir or out / "data", tenant="demo") as service:
        for path in sorted(examples.glob("*.json")):
            report = validate(path.read_bytes())
            try:
                compiled = compile_definition(report)
            except InvalidDefinition as error:
                rows.append({"workflow": path.stem, "status": "invalid", "note": str(error.issues[0])})
                continue
            assert compiled.definition is not None
            missing = missing_runtimes(compiled)
            inputs = inputs_for(path.stem, compiled.definition.canonical(), made)
            if missing or not inputs:
                rows.append({"workflow": path.stem, "status": "skipped",
                             "note": f"needs the {', '.join(missing) or 'ffmpeg'} toolchain"})
                continue
            results = service.run_files(report, inputs, out / path.stem, workflow_id=path.stem)
            rows.extend(_row(path.stem, result) for result in results)
    elapsed = time.perf_counter() - started
    (out / "demo-summary.json").write_text(json.dumps({"seconds": round(elapsed, 2), "runs": rows}, indent=2))
    failed = [row for row in rows if row["status"] not in ("completed", "skipped")]
    if as_json:
        sys.stdout.write(json.dumps({"seconds": round(elapsed, 2), "runs": rows}, indent=2) + "\n")
    else:
        console.print(_table(rows))
        ran = sum(1 for row in rows if row["status"] == "completed")
        reused = sum(1 for row in rows if row.get("reused"))
        done_before = f" ({reused} done by an earlier demo: nothing ran again)" if reused else ""
        console.print(f"{ran} run(s) completed{done_before}, {len(failed)} failed, "
                      f"{sum(1 for r in rows if r['status'] == 'skipped')} skipped in {elapsed:.1f} s; "
                      f"outputs in {escape(str(out))}/")
    return 1 if failed else 0


def _row(workflow: str, result: FileResult) -> dict[str, Any]:
    error = result.error or {}
    return {
        "workflow": workflow, "input": result.input.name, "status": result.status,
        "seconds": round(result.seconds, 2), "reused": result.reused,
        "outputs": [{"path": str(o.path), "size": o.size} for o in result.outputs],
        "note": f"{error.get('error', '')}: {error.get('message', '')}" if error else "",
    }


def _table(rows: list[dict[str, Any]]) -> Table:
    from mediaflow.console import human_size

    table = Table(title="mediaflow demo")
    for column in ("workflow", "input", "status", "outputs", "size", "seconds"):
        table.add_column(column, justify="right" if column in ("size", "seconds") else "left")
    for row in rows:
        outputs = row.get("outputs", [])
        style = {"completed": "green", "skipped": "yellow"}.get(row["status"], "red")
        table.add_row(
            row["workflow"], row.get("input", "-"), f"[{style}]{row['status']}[/]",
            "\n".join(escape(o["path"]) for o in outputs) or escape(row.get("note", "")),
            "\n".join(human_size(o["size"]) for o in outputs) or "-",
            f"{row['seconds']:.2f}" if "seconds" in row else "-",
        )
    return table
