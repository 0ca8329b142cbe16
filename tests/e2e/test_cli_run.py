"""The CLI on the embedded runtime: batches with per-file errors, run records, the upload watcher, demo."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from mediaflow import samples

pytestmark = [pytest.mark.e2e]
ROOT = Path(__file__).resolve().parents[2]


def mediaflow(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mediaflow.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env={"PATH": "/usr/bin:/bin", "MEDIAFLOW_WORKERS": "2",
                                                           "HOME": str(cwd)})


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_batch_keeps_going_past_bad_files(tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    for index in range(3):
        samples.photo(inputs / f"good-{index}.jpg", 400, 300, seed=index)
    (inputs / "broken.jpg").write_bytes((inputs / "good-0.jpg").read_bytes()[:1500])
    (inputs / "empty.png").write_bytes(b"")
    (inputs / "drawing.png").write_text('<svg xmlns="http://www.w3.org/2000/svg"></svg>')
    before = {path.name: digest(path) for path in inputs.iterdir()}
    done = mediaflow("run", str(ROOT / "examples" / "convertly-convert-compress.json"), str(inputs),
                     "--out", "out", "--json", cwd=tmp_path)
    assert done.returncode == 1 and done.stdout.startswith("{"), done.stderr[-3000:]
    summary = json.loads(done.stdout)
    assert (summary["total"], summary["completed"], summary["failed"]) == (6, 3, 3)
    errors = {Path(r["input"]).name: (r["error"] or {}).get("error") for r in summary["results"]}
    assert errors == {"good-0.jpg": None, "good-1.jpg": None, "good-2.jpg": None,
                      "broken.jpg": "MediaDecodeError", "empty.png": "EmptyMedia",
                      "drawing.png": "UnsupportedMedia"}
    # media outputs only: --out also keeps the run's manifest (.mediaflow-outputs.jsonl, see docs/durability.md)
    outputs = sorted(p.name for p in (tmp_path / "out").rglob("*") if p.is_file() and not p.name.startswith("."))
    assert outputs == ["good-0.webp", "good-1.webp", "good-2.webp"]
    assert {path.name: digest(path) for path in inputs.iterdir()} == before

    failed_run = next(r["runId"] for r in summary["results"] if Path(r["input"]).name == "broken.jpg")
    shown = mediaflow("runs", "show", failed_run, "--json", cwd=tmp_path)
    record = json.loads(shown.stdout)
    assert record["status"] == "failed" and record["error"]["error"] == "MediaDecodeError"
    assert [(s["nodeId"], s["status"]) for s in record["steps"]] == [
        ("convert", "failed"), ("compress", "skipped"), ("storage", "skipped")]
    listed = json.loads(mediaflow("runs", "list", "--json", cwd=tmp_path).stdout)
    assert len(listed) == 6


def test_upload_watcher_starts_matching_workflows_once(tmp_path: Path) -> None:
    assert mediaflow("workflows", "add", str(ROOT / "examples" / "mindia-linear-steps.json"), "--activate",
                     "--id", "photos", cwd=tmp_path).returncode == 0
    uploads = tmp_path / "data" / "uploads"
    samples.photo(uploads / "local" / "cam" / "a.jpg", 500, 400)  # uploads/<tenant>/...
    samples.pdf(uploads / "notes.pdf")
    first = mediaflow("serve", "--once", cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    assert first.stdout.count("completed") == 1  # the PDF does not match the image filter
    again = mediaflow("serve", "--once", cwd=tmp_path)
    assert "started run" not in again.stdout
    stored = list((tmp_path / "data" / "blobs").rglob("outputs/photos/a.jpg"))
    assert len(stored) == 1


@pytest.mark.slow
def test_demo_runs_every_example(tmp_path: Path) -> None:
    done = mediaflow("demo", "--examples", str(ROOT / "examples"), "--out", "out", "--json", cwd=tmp_path,
                     timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "leaked" not in done.stderr, done.stderr[-2000:]  # no semaphore left behind by a worker's libraries
    report = json.loads(done.stdout)
    by_workflow: dict[str, set[str]] = {}
    for row in report["runs"]:
        by_workflow.setdefault(row["workflow"], set()).add(row["status"])
    assert {"completed"} == by_workflow["convertly-convert-compress"] == by_workflow["image-web-optimise"]
    assert all(statuses <= {"completed", "skipped"} for statuses in by_workflow.values())
    for row in report["runs"]:
        for output in row.get("outputs", []):
            assert Path(tmp_path / output["path"]).stat().st_size == output["size"] > 0
    again = mediaflow("demo", "--examples", str(ROOT / "examples"), "--out", "out", "--json", cwd=tmp_path,
                      timeout=600)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    second = json.loads(again.stdout)
    completed = [row for row in second["runs"] if row["status"] == "completed"]
    assert completed and all(row["reused"] for row in completed), "a second demo runs nothing again"
    assert sorted(map(_outputs, second["runs"])) == sorted(map(_outputs, report["runs"])), "the same files"
    written = sorted(str(path.relative_to(tmp_path)) for path in (tmp_path / "out").rglob("*")
                     if path.is_file() and "data" not in path.relative_to(tmp_path / "out").parts[:1]
                     and "samples" not in path.relative_to(tmp_path / "out").parts[:1]
                     and path.name != "demo-summary.json" and not path.name.startswith(".mediaflow-"))
    assert written == sorted(output["path"] for row in report["runs"] for output in row.get("outputs", [])), \
        "no copies under new names"


def _outputs(row: dict[str, Any]) -> list[str]:
    return sorted(output["path"] for output in row.get("outputs", []))


def test_each_name_of_a_file_is_one_input_and_a_path_given_twice_runs_once(tmp_path: Path) -> None:
    """Two names of one file (a hard link) are two inputs with their own outputs; the same path given again (a
    file and its folder) is one input. The second command reuses every run."""
    import os

    inputs = tmp_path / "in"
    samples.photo(inputs / "a.jpg", 400, 300, seed=1)
    samples.photo(inputs / "c.jpg", 400, 300, seed=3)
    os.link(inputs / "a.jpg", inputs / "b.jpg")
    workflow = str(ROOT / "examples" / "convertly-convert-compress.json")
    arguments = ("run", workflow, "in", "in/a.jpg", "./in/c.jpg", "--out", "out", "--json")
    first = mediaflow(*arguments, cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    summary = json.loads(first.stdout)
    assert [Path(r["input"]).name for r in summary["results"]] == ["a.jpg", "b.jpg", "c.jpg"]
    assert (summary["total"], summary["completed"]) == (3, 3)
    assert len({r["runId"] for r in summary["results"]}) == 3
    outputs = sorted(p.name for p in (tmp_path / "out").rglob("*") if p.is_file() and not p.name.startswith("."))
    assert outputs == ["a.webp", "b.webp", "c.webp"]
    assert digest(tmp_path / "out" / "a.webp") == digest(tmp_path / "out" / "b.webp")  # the same bytes, twice

    again = json.loads(mediaflow(*arguments, cwd=tmp_path).stdout)
    assert [(r["runId"], r["status"], r["reused"]) for r in again["results"]] == [
        (r["runId"], "completed", True) for r in summary["results"]]


@pytest.mark.parametrize("out", ["in/web", "in"])
def test_outputs_written_into_the_input_folder_are_not_inputs_the_next_time(tmp_path: Path, out: str) -> None:
    """`--out` inside the input folder, or the input folder itself: the next command finds the outputs there,
    and leaves them alone (they are not converted again under new names); a file put there by hand stays an
    input."""
    inputs = tmp_path / "in"
    samples.photo(inputs / "a.jpg", 400, 300, seed=1)
    samples.photo(inputs / "b.jpg", 400, 300, seed=2)
    arguments = ("run", str(ROOT / "examples" / "convertly-convert-compress.json"), "in", "--out", out, "--json")
    first = json.loads(mediaflow(*arguments, cwd=tmp_path).stdout)
    files = sorted(p.relative_to(tmp_path).as_posix() for p in inputs.rglob("*") if p.is_file())
    again = json.loads(mediaflow(*arguments, cwd=tmp_path).stdout)
    assert [Path(r["input"]).name for r in first["results"]] == ["a.jpg", "b.jpg"]
    assert [(r["input"], r["runId"], r["reused"]) for r in again["results"]] == [
        (r["input"], r["runId"], True) for r in first["results"]]
    assert sorted(p.relative_to(tmp_path).as_posix() for p in inputs.rglob("*") if p.is_file()) == files

    samples.photo(tmp_path / out / "by-hand.jpg", 400, 300, seed=3)
    third = json.loads(mediaflow(*arguments, cwd=tmp_path).stdout)
    assert sorted(Path(r["input"]).name for r in third["results"]) == ["a.jpg", "b.jpg", "by-hand.jpg"]
    only_outputs = mediaflow("run", arguments[1], f"{out}/a.webp", "--out", out, cwd=tmp_path)
    assert only_outputs.returncode == 2 and "only outputs of earlier runs" in only_outputs.stdout + only_outputs.stderr


def test_a_symbolic_link_in_the_folder_runs_the_file_it_names(tmp_path: Path) -> None:
    """A relative symbolic link to a photo in another folder: linked into the store as the photo itself, its
    run completes with an output of its own, and the next command reuses it."""
    inputs = tmp_path / "in"
    samples.photo(inputs / "a" / "x.jpg", 400, 300, seed=1)
    (inputs / "b").mkdir()
    (inputs / "b" / "link.jpg").symlink_to("../a/x.jpg")
    arguments = ("run", str(ROOT / "examples" / "convertly-convert-compress.json"), "in", "--out", "out", "--json")
    first = mediaflow(*arguments, cwd=tmp_path)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    results = {Path(r["input"]).name: r for r in json.loads(first.stdout)["results"]}
    assert {name: r["status"] for name, r in results.items()} == {"x.jpg": "completed", "link.jpg": "completed"}
    assert sorted(Path(o["path"]).name for r in results.values() for o in r["outputs"]) == ["link.webp", "x.webp"]
    again = json.loads(mediaflow(*arguments, cwd=tmp_path).stdout)
    assert all(r["reused"] for r in again["results"])


def test_outputs_keep_the_names_of_their_inputs_in_any_script(tmp_path: Path) -> None:
    """"été 1.jpg" gives "été-1.webp" (it gave "t-1.webp"), "写真.jpg" "写真.webp", a decomposed name (as macOS
    writes them) the composed one."""
    import unicodedata

    inputs = tmp_path / "in"
    for seed, name in enumerate(["été 1.jpg", "写真.jpg", unicodedata.normalize("NFD", "Café.jpg")]):
        samples.photo(inputs / name, 300, 200, seed=seed)
    done = mediaflow("run", str(ROOT / "examples" / "convertly-convert-compress.json"), "in", "--out", "out",
                     "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    written = sorted(p.name for p in (tmp_path / "out").rglob("*") if p.is_file() and not p.name.startswith("."))
    assert written == sorted(["été-1.webp", "写真.webp", "Café.webp"])


def _written(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): digest(p) for p in folder.rglob("*")
            if p.is_file() and not p.name.startswith(".")}


def test_out_keeps_the_folders_layout_and_the_names_asked_for_and_a_forced_run_replaces_its_outputs(
        tmp_path: Path) -> None:
    """A camera's folders (an IMG_0001.JPG in each of DCIM/100CANON and DCIM/101CANON) keep their layout in
    --out; a name another run took in the data dir's store (another folder's IMG_0001) is not suffixed in a
    --out that does not hold it; --force replaces each input's earlier outputs instead of writing -2, -3 beside
    them; a file of the user's in --out is never written over, two inputs wanting one name get two files, and
    another workflow into the same --out writes beside the first one's outputs."""
    workflow = str(ROOT / "examples" / "convertly-convert-compress.json")
    for seed, name in enumerate(["DCIM/100CANON/IMG_0001.JPG", "DCIM/100CANON/IMG_0002.JPG",
                                 "DCIM/101CANON/IMG_0001.JPG", "x.jpg"]):
        samples.photo(tmp_path / "card" / name, 320, 240, seed=seed)
    samples.photo(tmp_path / "card" / "x.png", 320, 240, seed=9)
    samples.photo(tmp_path / "trip" / "IMG_0001.JPG", 320, 240, seed=7)
    mine = tmp_path / "web" / "DCIM" / "100CANON" / "IMG_0002.webp"
    mine.parent.mkdir(parents=True)
    mine.write_bytes(b"the user's own file")

    first = mediaflow("run", workflow, "card", "--out", "web", "--json", cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    written = _written(tmp_path / "web")
    assert sorted(written) == ["DCIM/100CANON/IMG_0001.webp", "DCIM/100CANON/IMG_0002-2.webp",
                               "DCIM/100CANON/IMG_0002.webp", "DCIM/101CANON/IMG_0001.webp", "x-2.webp", "x.webp"]
    assert mine.read_bytes() == b"the user's own file"
    by_input = {Path(r["input"]).relative_to("card").as_posix(): [o["path"] for o in r["outputs"]]
                for r in json.loads(first.stdout)["results"]}
    assert by_input["DCIM/101CANON/IMG_0001.JPG"] == ["web/DCIM/101CANON/IMG_0001.webp"]
    assert sorted(by_input["x.jpg"] + by_input["x.png"]) == ["web/x-2.webp", "web/x.webp"]

    other = mediaflow("run", workflow, "trip", "--out", "trip-web", "--json", cwd=tmp_path)
    assert other.returncode == 0, other.stderr[-3000:]
    stored = sorted(p.name for p in (tmp_path / "data").rglob("outputs/IMG_0001*.webp"))
    assert stored == ["IMG_0001-1.webp", "IMG_0001-2.webp", "IMG_0001.webp"]  # the store keeps every object
    assert sorted(_written(tmp_path / "trip-web")) == ["IMG_0001.webp"]

    forced = mediaflow("run", workflow, "card", "--out", "web", "--force", "--json", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr[-3000:]
    assert not any(r["reused"] for r in json.loads(forced.stdout)["results"])
    assert _written(tmp_path / "web") == written  # the same files, replaced in place: no copies under new names
    again = json.loads(mediaflow("run", workflow, "card", "--out", "web", "--json", cwd=tmp_path).stdout)
    assert all(r["reused"] for r in again["results"]) and _written(tmp_path / "web") == written

    # another workflow into the same folder wants the same names: it writes beside them, never over them
    smaller = json.loads(Path(workflow).read_text(encoding="utf-8"))
    smaller["definition"]["compressionLevel"] = 40
    (tmp_path / "smaller.json").write_text(json.dumps(smaller), encoding="utf-8")
    beside = mediaflow("run", "smaller.json", "card", "--out", "web", "--json", cwd=tmp_path)
    assert beside.returncode == 0, beside.stderr[-3000:]
    both = _written(tmp_path / "web")
    assert {path: both[path] for path in written} == written and len(both) == len(written) + 5


def test_a_second_command_into_the_same_folder_waits_and_reuses_the_first_ones_runs(tmp_path: Path) -> None:
    """Two `mediaflow run`s started together into one --out folder: one runs every file, the other waits for it
    and reuses every run; each output is written once (at once, both ran each file and copied every output
    twice, as photo-2.jpg)."""
    inputs = tmp_path / "in"
    for seed in range(6):
        samples.photo(inputs / f"p{seed}.jpg", 800, 600, seed=seed)
    argv = [sys.executable, "-m", "mediaflow.cli", "run", str(ROOT / "examples" / "convertly-convert-compress.json"),
            "in", "--out", "out", "--json"]
    env = {"PATH": "/usr/bin:/bin", "MEDIAFLOW_WORKERS": "2", "HOME": str(tmp_path)}
    both = [subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    summaries = [json.loads(process.communicate(timeout=300)[0]) for process in both]
    assert all(process.returncode == 0 for process in both)
    assert sorted(sum(r["reused"] for r in summary["results"]) for summary in summaries) == [0, 6]
    written = sorted(p.name for p in (tmp_path / "out").iterdir() if not p.name.startswith("."))
    assert written == [f"p{seed}.webp" for seed in range(6)]

    # a command that finds the folder held waits, says so, and goes on once it is free
    import fcntl

    with (tmp_path / "out" / ".mediaflow-lock").open("r+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        waiting = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True)
        line = waiting.stderr.readline() if waiting.stderr else ""
        assert line.startswith("waiting: another mediaflow run") and "out" in line
        assert waiting.poll() is None, "it waits while the folder is held"
        fcntl.flock(held, fcntl.LOCK_UN)
    out, _ = waiting.communicate(timeout=300)
    assert waiting.returncode == 0 and all(r["reused"] for r in json.loads(out)["results"])
    assert sorted(p.name for p in (tmp_path / "out").iterdir() if not p.name.endswith(".webp")) == [
        ".mediaflow-lock", ".mediaflow-outputs.jsonl"]


def test_a_command_that_cannot_run_says_why_and_leaves_no_out_folder(tmp_path: Path) -> None:
    samples.photo(tmp_path / "in" / "a.jpg", 300, 200, seed=1)
    workflow = str(ROOT / "examples" / "convertly-convert-compress.json")
    (tmp_path / "a-file").write_text("not a folder")
    into_a_file = mediaflow("run", workflow, "in", "--out", "a-file", cwd=tmp_path)
    assert into_a_file.returncode == 2 and "--out a-file is a file" in into_a_file.stdout
    no_workflow = mediaflow("run", "no-such-workflow.json", "in", "--out", "out", cwd=tmp_path)
    assert no_workflow.returncode == 1 and "no-such-workflow.json" in no_workflow.stdout
    no_input = mediaflow("run", workflow, "missing.jpg", "--out", "out", cwd=tmp_path)
    assert no_input.returncode == 2 and "no such input: missing.jpg" in no_input.stdout
    assert not (tmp_path / "out").exists()


def test_the_files_of_a_folder_that_hold_no_media_are_skipped_and_named(tmp_path: Path) -> None:
    """A camera card's folder holds more than photos: XMP sidecars, the camera's catalog, an iPhone's AAE edits.
    A workflow that begins on the media's bytes skips them (listed, exit 0) instead of failing a run for each on
    every command; a file named as media whose bytes are not still fails by name, a file named on the command
    line always runs, and a workflow that keeps any file (a storage) takes them all."""
    card = tmp_path / "card" / "DCIM" / "100CANON"
    samples.photo(card / "IMG_0001.JPG", 320, 240, seed=1)
    (card / "IMG_0001.XMP").write_text('<x:xmpmeta xmlns:x="adobe:ns:meta/"></x:xmpmeta>')
    (card / "CANONMSC.CTG").write_bytes(b"\x00\x01catalog")
    (card / "IMG_0002.AAE").write_text('<?xml version="1.0"?><plist version="1.0"><dict/></plist>')
    workflow = str(ROOT / "examples" / "convertly-convert-compress.json")

    done = mediaflow("run", workflow, "card", "--out", "web", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    summary = json.loads(done.stdout)
    assert (summary["total"], summary["completed"]) == (1, 1)
    assert sorted(Path(path).name for path in summary["skipped"]) == ["CANONMSC.CTG", "IMG_0001.XMP", "IMG_0002.AAE"]
    assert (tmp_path / "web" / "DCIM" / "100CANON" / "IMG_0001.webp").is_file()

    shown = mediaflow("run", workflow, "card", "--out", "web", cwd=tmp_path)
    assert shown.returncode == 0 and "skipped 3 file(s) that hold no media" in shown.stdout, shown.stdout[-2000:]

    (card / "broken.jpg").write_bytes(b"these bytes are no JPEG")
    named = mediaflow("run", workflow, "card", str(card / "IMG_0001.XMP"), "--out", "web", "--json", cwd=tmp_path)
    assert named.returncode == 1, named.stderr[-2000:]
    rows = {Path(r["input"]).name: (r["status"], (r["error"] or {}).get("error"))
            for r in json.loads(named.stdout)["results"]}
    assert rows == {"IMG_0001.JPG": ("completed", None), "IMG_0001.XMP": ("failed", "UnsupportedMedia"),
                    "broken.jpg": ("failed", "UnsupportedMedia")}

    keep_all = tmp_path / "keep-all.json"
    keep_all.write_text(json.dumps({"name": "archive", "nodes": [
        {"id": "upload", "kind": "upload"}, {"id": "keep", "kind": "storage", "config": {"prefix": "archive/"}}],
        "edges": [{"source": "upload", "target": "keep"}]}))
    archived = mediaflow("run", str(keep_all), "card", "--out", "archive", "--json", cwd=tmp_path)
    kept = json.loads(archived.stdout)
    assert (kept["total"], kept["skipped"]) == (5, []), archived.stdout[-2000:]
    assert {Path(r["input"]).name for r in kept["results"] if r["status"] == "completed"} >= {
        "IMG_0001.XMP", "CANONMSC.CTG", "IMG_0002.AAE"}


def test_a_folder_of_no_media_runs_nothing_and_says_so(tmp_path: Path) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("buy film")
    workflow = str(ROOT / "examples" / "convertly-convert-compress.json")
    done = mediaflow("run", workflow, "notes", "--out", "out", cwd=tmp_path)
    assert done.returncode == 2 and "1 file(s) that hold no media skipped (todo.txt)" in done.stdout, done.stdout
    assert not (tmp_path / "out").exists()
