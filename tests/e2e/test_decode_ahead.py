"""The decode ahead of a `mediaflow run` (``workers/decode_ahead.py``): what it plans from the workflow file as
written, and that a Task taking its pixels gets exactly what its own decode gives."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from mediaflow.execution.contract import TaskEnvironment
from mediaflow.workers import decode_ahead, jpeg_scaled
from mediaflow.workers import image as image_worker

from tests.e2e.image_support import make_env, payload, upload

pyvips = pytest.importorskip("pyvips")

pytestmark = [pytest.mark.e2e,
              pytest.mark.skipif(not jpeg_scaled.loaded(), reason="libturbojpeg is not installed (make setup)")]

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = {
    "name": "web sizes", "nodes": [
        {"id": "upload", "kind": "upload"},
        {"id": "resize", "kind": "resize", "config": {"width": 400, "height": 400}},
        {"id": "strip", "kind": "strip_metadata"},
        {"id": "jpeg", "kind": "convert", "config": {"outputFormat": "jpeg", "compressionLevel": 80}}],
    "edges": [{"source": "upload", "target": "resize"}, {"source": "resize", "target": "strip"},
              {"source": "strip", "target": "jpeg"}],
}


@pytest.fixture(autouse=True)
def fresh_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test decodes ahead in this process as a command would, once (the module keeps one buffer)."""
    monkeypatch.setattr(decode_ahead, "_BUFFER", [])
    monkeypatch.setattr(decode_ahead, "_AHEAD", {})


def _photo(path: Path, width: int, height: int, *, seed: int = 1, **save: Any) -> Path:
    xy = pyvips.Image.xyz(width, height)
    colour = (xy[0] / width * 200 + 20).bandjoin([xy[1] / height * 180 + 40, (xy[0] + xy[1]) % 97 + 60])
    noise = pyvips.Image.gaussnoise(width, height, sigma=12, seed=seed)
    image = (colour + noise).cast("uchar").copy(interpretation="srgb")
    image.set_type(pyvips.GValue.gint_type, "orientation", 1)
    image.write_to_file(str(path), **save)
    return path


def test_the_frame_header_gives_the_size_of_sequential_jpegs_only(tmp_path: Path) -> None:
    colour = _photo(tmp_path / "colour.jpg", 900, 600, Q=85)
    grey_image = pyvips.Image.new_from_file(str(colour)).colourspace("b-w")
    grey = tmp_path / "grey.jpg"
    grey_image.jpegsave(str(grey))
    progressive = _photo(tmp_path / "progressive.jpg", 900, 600, Q=85, interlace=True)
    png = _photo(tmp_path / "picture.png", 90, 60)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(colour.read_bytes()[:20])
    assert decode_ahead._jpeg_frame(colour) == ((900, 600), 3)
    assert decode_ahead._jpeg_frame(grey) == ((900, 600), 1)
    for other in (progressive, png, cut):
        assert decode_ahead._jpeg_frame(other) is None, other.name


@pytest.mark.parametrize(("config", "box"), [
    ({"width": 400, "height": 300}, (400, 300, False, False)),
    ({"width": 400}, (400, None, False, False)),
    ({"height": 300, "fit": "cover"}, (None, 300, True, False)),
    ({"width": 400, "withoutEnlargement": False}, (400, None, False, True)),
    ({"width": 400, "fit": "fill"}, None),  # not uniform: no guess
    ({"width": "400"}, None),
    ({"fit": "inside"}, None),
])
def test_the_box_is_read_from_the_first_resize_as_written(config: dict[str, Any],
                                                          box: tuple[Any, ...] | None) -> None:
    document = {"nodes": [{"id": "upload", "kind": "upload"}, {"id": "r", "kind": "resize", "config": config}]}
    assert decode_ahead._resize_box(document) == box
    assert decode_ahead._resize_box({"nodes": [{"id": "c", "kind": "convert", "config": {}}]}) is None


def test_a_task_takes_the_pixels_decoded_ahead_and_they_are_its_own(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the baseline JPEGs that the box shrinks are decoded ahead; a decode that takes them gives the
    pixels and metadata its own decode gives, once per file and process."""
    photo = _photo(tmp_path / "photo.jpg", 1600, 1000, Q=90)
    grey = tmp_path / "grey.jpg"
    pyvips.Image.new_from_file(str(photo)).colourspace("b-w").jpegsave(str(grey), Q=90)
    progressive = _photo(tmp_path / "progressive.jpg", 1600, 1000, Q=90, interlace=True)
    small = _photo(tmp_path / "small.jpg", 500, 300, Q=90)  # no DCT scale covers 400 px
    png = _photo(tmp_path / "picture.png", 1600, 1000)
    register = decode_ahead.decode_ahead([photo, grey, progressive, small, png], WORKFLOW)
    register()
    assert sorted(slot.path for slot, _ in decode_ahead._AHEAD.values()) == [str(grey), str(photo)]
    for path in (photo, grey):
        header = pyvips.Image.new_from_file(str(path), access="sequential")
        taken = jpeg_scaled.decode(path, header, (400, 250))
        assert not any(slot.path == str(path) for slot, _ in decode_ahead._AHEAD.values()), "taken once"
        own = jpeg_scaled.decode(path, header, (400, 250))
        assert (taken.width, taken.height, taken.bands) == (own.width, own.height, own.bands) == (
            400, 250, header.bands)
        assert taken.interpretation == own.interpretation
        assert (taken - own).abs().max() == 0
        assert sorted(taken.get_fields()) == sorted(own.get_fields())


def test_a_file_changed_after_its_decode_ahead_decodes_again(tmp_path: Path) -> None:
    photo = _photo(tmp_path / "photo.jpg", 1600, 1000, Q=90, seed=1)
    decode_ahead.decode_ahead([photo], WORKFLOW)()
    assert len(decode_ahead._AHEAD) == 1
    _photo(tmp_path / "other.jpg", 1600, 1000, Q=90, seed=2).replace(photo)  # another file at the same path
    header = pyvips.Image.new_from_file(str(photo), access="sequential")
    decoded = jpeg_scaled.decode(photo, header, (400, 250))
    expected = pyvips.Image.new_from_file(str(photo), shrink=4)
    assert (decoded - expected).abs().max() == 0
    assert len(decode_ahead._AHEAD) == 1, "the slot of the file that was there is not taken"


def test_a_task_waits_for_a_decode_under_way_and_not_for_one_that_failed(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The workers fork without waiting for the decodes ahead: the Task that takes one waits for it, and a
    decode that could not be made (a file cut after its frame header) is decoded by the Task at once."""
    photo = _photo(tmp_path / "photo.jpg", 1600, 1000, Q=90, seed=1)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(photo.read_bytes()[:5000])
    assert decode_ahead._jpeg_frame(cut) == ((1600, 1000), 3)
    slow = decode_ahead._decode_slots

    def decode_late(*args: Any) -> None:
        time.sleep(0.5)
        slow(*args)

    monkeypatch.setattr(decode_ahead, "_decode_slots", decode_late)
    monkeypatch.setattr(decode_ahead, "WAIT_SECONDS", 3.0)
    started = time.monotonic()
    decode_ahead.decode_ahead([photo, cut], WORKFLOW)()
    assert time.monotonic() - started < 0.4, "registered without waiting for the decodes"
    header = pyvips.Image.new_from_file(str(photo), access="sequential")
    assert decode_ahead.take(photo, (1600, 1000), 2) is not None  # 1/4: waited for the decode under way
    assert time.monotonic() - started >= 0.5
    waited_from = time.monotonic()
    assert decode_ahead.take(cut, (1600, 1000), 2) is None  # the decoding process gave up on it
    assert time.monotonic() - waited_from < decode_ahead.WAIT_SECONDS / 2
    assert decode_ahead._AHEAD == {}
    own = jpeg_scaled.decode(photo, header, (400, 250))
    assert (own.width, own.height) == (400, 250)


def test_a_guess_at_another_scale_is_not_taken(tmp_path: Path) -> None:
    photo = _photo(tmp_path / "photo.jpg", 1600, 1000, Q=90)
    decode_ahead.decode_ahead([photo], WORKFLOW)()  # a 400 px box: decoded at 1/4
    header = pyvips.Image.new_from_file(str(photo), access="sequential")
    decoded = jpeg_scaled.decode(photo, header, (190, 119))  # the Task wants 1/8
    assert (decoded.width, decoded.height) == (200, 125)
    assert len(decode_ahead._AHEAD) == 1


@pytest.mark.parametrize("box", [400, 560])  # 1600 x 1000 decoded at 1/4, and at 3/8 (600 x 375)
def test_a_folder_run_gives_the_bytes_a_task_decoding_on_its_own_gives(tmp_path: Path, box: int) -> None:
    """From the outside: `mediaflow run` on a folder (its first files decoded ahead) writes, for every file, the
    bytes of the same chain run in this process, where nothing was decoded ahead."""
    folder = tmp_path / "in"
    folder.mkdir()
    photos = [_photo(folder / f"photo-{seed}.jpg", 1600, 1000, Q=90, seed=seed) for seed in (1, 2, 3)]
    workflow = tmp_path / "web.json"
    document = json.loads(json.dumps(WORKFLOW))
    document["nodes"][1]["config"] = {"width": box, "height": box}
    workflow.write_text(json.dumps(document))
    plan = decode_ahead._plan(photos[0], decode_ahead._resize_box(document), 0)
    assert plan is not None and plan.eighths == (2 if box == 400 else 3)
    env = {**os.environ, "MEDIAFLOW_DATA_DIR": str(tmp_path / "data"),
           "PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "core"), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-m", "mediaflow.cli", "run", str(workflow), str(folder), "--out",
                           str(tmp_path / "out"), "--json"], env=env, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout)["completed"] == 3
    task_env: TaskEnvironment = make_env(tmp_path / "in-process")
    for photo in photos:
        [made] = (tmp_path / "out").glob(f"{photo.stem}*")
        media = upload(task_env, photo.read_bytes(), photo.name)
        result = image_worker.run_chain(payload(media, ("resize", "resize", {"width": box, "height": box}),
                                                ("strip", "strip_metadata", {}),
                                                ("jpeg", "convert", {"outputFormat": "jpeg",
                                                                     "compressionLevel": 80})), task_env)
        assert made.read_bytes() == task_env.blobs.read(result.media.key), photo.name  # type: ignore[attr-defined]
