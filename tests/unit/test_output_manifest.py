"""The ``--out`` folder's manifest: which output key each file holds, appended a line per output."""

from __future__ import annotations

import json
from pathlib import Path

from mediaflow.out_manifest import OutputManifest


def fresh(folder: Path) -> OutputManifest:
    return OutputManifest(folder.resolve())  # not the per-process cache: a later process reading the folder


def test_claims_are_appended_once_and_read_back_by_a_later_process(tmp_path: Path) -> None:
    manifest = fresh(tmp_path)
    for index in range(50):
        manifest.claim(tmp_path / f"photo-{index}.webp", f"local/runs/run-{index}/webp/photo-{index}.webp")
    manifest.claim(tmp_path / "photo-0.webp", "local/runs/run-0/webp/photo-0.webp")  # unchanged: no new line
    manifest.claim(tmp_path / "photo-1.webp", "local/runs/run-99/webp/photo-1.webp")  # a new owner wins

    lines = (tmp_path / ".mediaflow-outputs.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 51
    later = fresh(tmp_path)
    assert later.owner(tmp_path / "photo-0.webp") == "local/runs/run-0/webp/photo-0.webp"
    assert later.owner(tmp_path / "photo-1.webp") == "local/runs/run-99/webp/photo-1.webp"
    assert later.owner(tmp_path / "photo-49.webp") == "local/runs/run-49/webp/photo-49.webp"
    assert later.owner(tmp_path / "unknown.webp") is None


def test_a_line_cut_short_by_a_kill_is_skipped_and_the_older_manifest_still_counts(tmp_path: Path) -> None:
    (tmp_path / ".mediaflow-outputs.json").write_text(json.dumps({"old.jpg": "local/runs/run-1/jpeg/old.jpg"}))
    whole = json.dumps({"path": "a.jpg", "key": "local/runs/run-2/jpeg/a.jpg"})
    (tmp_path / ".mediaflow-outputs.jsonl").write_text(whole + "\n" + '{"path": "b.jpg", "ke', encoding="utf-8")

    manifest = fresh(tmp_path)
    assert manifest.owner(tmp_path / "old.jpg") == "local/runs/run-1/jpeg/old.jpg"
    assert manifest.owner(tmp_path / "a.jpg") == "local/runs/run-2/jpeg/a.jpg"
    assert manifest.owner(tmp_path / "b.jpg") is None
    manifest.claim(tmp_path / "b.jpg", "local/runs/run-3/jpeg/b.jpg")
    assert fresh(tmp_path).owner(tmp_path / "b.jpg") == "local/runs/run-3/jpeg/b.jpg"


def test_the_runs_of_inputs_are_remembered_per_workflow_next_to_the_outputs(tmp_path: Path) -> None:
    manifest = fresh(tmp_path)
    manifest.claim(tmp_path / "a.webp", "local/runs/run-1/webp/a.webp")
    manifest.note_input("/photos/a.jpg", "local:wf1", "f-etag-1", "run-1")
    manifest.note_input("/photos/a.jpg", "local:wf1", "f-etag-1", "run-1")  # unchanged: no new line
    manifest.note_input("/photos/a.jpg", "local:wf2", "f-etag-1", "run-7")
    manifest.note_input("/photos/a.jpg", "local:wf1", "f-etag-2", "run-1")  # a copy went back to run-1
    assert len((tmp_path / ".mediaflow-outputs.jsonl").read_text(encoding="utf-8").splitlines()) == 4
    later = fresh(tmp_path)
    assert later.inputs == {("/photos/a.jpg", "local:wf1"): ("f-etag-2", "run-1"),
                            ("/photos/a.jpg", "local:wf2"): ("f-etag-1", "run-7")}
    assert later.owner(tmp_path / "a.webp") == "local/runs/run-1/webp/a.webp"
    assert later.owner(tmp_path / "photos" / "a.jpg") is None  # input lines are not outputs


def test_an_output_keeps_its_place_and_replaces_only_its_own_inputs_earlier_outputs(tmp_path: Path) -> None:
    manifest = fresh(tmp_path)
    manifest.claim(tmp_path / "a.webp", "local/outputs/a.webp", ("/photos/a.jpg", "web"))
    manifest.claim(tmp_path / "a-2.webp", "local/outputs/a-1.webp", ("/photos/a.png", "web"))
    manifest.claim(tmp_path / "a-3.webp", "local/outputs/a-9.webp", ("/photos/a.jpg", "thumbs"))
    (tmp_path / "old.webp").write_bytes(b"written before outputs named their input")
    (tmp_path / ".mediaflow-outputs.jsonl").open("a").write(
        json.dumps({"path": "old.webp", "key": "local/outputs/old.webp"}) + "\n")

    later = fresh(tmp_path)
    assert later.place_of("local/outputs/a.webp") == "a.webp"
    assert later.place_of("local/outputs/old.webp") == "old.webp"  # a line without an input still places it
    assert later.place_of("local/outputs/unknown.webp") is None
    # a new run of a.jpg by the same workflow (--force, an edited workflow) may write over what a.jpg gave
    # before; not over a.png's, another workflow's, an unknown line's or the user's file
    rerun, origin = frozenset({"local/outputs/a-2.webp"}), ("/photos/a.jpg", "web")
    assert later.may_replace(tmp_path / "a.webp", "local/outputs/a-2.webp", origin, rerun)
    for other in ("a-2.webp", "a-3.webp", "old.webp", "mine.webp"):
        assert not later.may_replace(tmp_path / other, "local/outputs/a-2.webp", origin, rerun), other
    # one run's outputs never replace each other, and a file is always its own output's
    both = frozenset({"local/outputs/a.webp", "local/outputs/a-2.webp"})
    assert not later.may_replace(tmp_path / "a.webp", "local/outputs/a-2.webp", origin, both)
    assert later.may_replace(tmp_path / "a.webp", "local/outputs/a.webp", origin, both)

    later.claim(tmp_path / "a.webp", "local/outputs/a-2.webp", origin)
    assert later.place_of("local/outputs/a.webp") is None  # its file is another output's now
    assert fresh(tmp_path).owner(tmp_path / "a.webp") == "local/outputs/a-2.webp"


def test_inputs_and_their_stored_objects_are_read_back_apart(tmp_path: Path) -> None:
    """`mediaflow run --api`: the object a large input went up to, then its run; a later process reads both,
    and a run line does not hide the object line of the same input (nor the other way)."""
    manifest = fresh(tmp_path)
    source, workflow = str(tmp_path / "clip.mov"), "http://127.0.0.1:8000 wf_1"
    manifest.note_object(source, workflow, "etag-1", "demo/uploads/ab/clip.mov")
    manifest.note_object(source, workflow, "etag-1", "demo/uploads/ab/clip.mov")  # unchanged: no new line
    manifest.note_input(source, workflow, "etag-1", "run-1")
    assert len((tmp_path / ".mediaflow-outputs.jsonl").read_text(encoding="utf-8").splitlines()) == 2
    later = fresh(tmp_path)
    assert later.objects[source, workflow] == ("etag-1", "demo/uploads/ab/clip.mov")
    assert later.inputs[source, workflow] == ("etag-1", "run-1")
