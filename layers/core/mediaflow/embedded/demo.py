"""`mediaflow demo`: every example workflow on sample media generated here, outputs in ./out."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mediaflow import samples
from mediaflow.compiler import compile_workflow
from mediaflow.embedded.app import FileResult, LocalService, missing_runtimes
from mediaflow.validation import validate

console = Console(highlight=False, width=None if sys.stdout.isatty() else 150)


def make_samples(folder: Path) -> dict[str, list[Path]]:
    """Sample inputs by purpose; video/audio only when ffmpeg is installed."""
    folder.mkdir(parents=True, exist_ok=True)
    made: dict[str, list[Path]] = {
        "photo": [samples.photo(folder / "photo.jpg", 3000, 2000)],
        "subject": [samples.subject_on_flat_background(folder / "portrait.png")],
        "document": [samples.pdf(folder / "document.pdf")],
        "batch": [samples.photo(folder / "batch" / f"shot-{index:02d}.jpg", 1200, 800, seed=index)
                  for index in range(1, 7)],
    }
    if samples.ffmpeg_binary():
        made["video"] = [samples.video(folder / "clip.mp4", 6.0)]
        made["audio"] = [samples.tone(folder / "tone.wav", 8.0)]
    return made


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
            if not report.valid or report.definition is None:
                rows.append({"workflow": path.stem, "status": "invalid", "note": str(report.errors[0])})
                continue
            compiled = compile_workflow(report.definition, report.configs)
            missing = missing_runtimes(compiled)
            inputs = inputs_for(path.stem, report.definition.canonical(), made)
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
        console.print(f"{ran} run(s) completed, {len(failed)} failed, "
                      f"{sum(1 for r in rows if r['status'] == 'skipped')} skipped in {elapsed:.1f} s; "
                      f"outputs in {escape(str(out))}/")
    return 1 if failed else 0


def _row(workflow: str, result: FileResult) -> dict[str, Any]:
    error = result.error or {}
    return {
        "workflow": workflow, "input": result.input.name, "status": result.status,
        "seconds": round(result.seconds, 2),
        "outputs": [{"path": str(o.path), "size": o.size} for o in result.outputs],
        "note": f"{error.get('error', '')}: {error.get('message', '')}" if error else "",
    }


def _table(rows: list[dict[str, Any]]) -> Table:
    from mediaflow.embedded.cli import human_size

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
