"""Parity: the same compiled workflows on the embedded executor and on moto's Step Functions
interpreter (Lambda Tasks routed to the same workers in-process) end in the same status, enter the
same states and write byte-identical outputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from mediaflow import samples
from mediaflow.adapters.embedded import open_embedded
from mediaflow.compiler import compile_workflow
from mediaflow.embedded.app import LocalService, missing_runtimes
from mediaflow.runs import output_refs
from mediaflow.settings import Settings
from mediaflow.validation import validate

from tests.support.moto_sfn import run_on_moto, workers_in_process

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.json"))
RUN_ID = "run-parity-0001"


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("media")
    made = {
        "photo": samples.photo(folder / "photo.jpg", 900, 600),
        "subject": samples.subject_on_flat_background(folder / "portrait.png", 320),
        "document": samples.pdf(folder / "document.pdf"),
    }
    if samples.ffmpeg_binary():
        made["video"] = samples.video(folder / "clip.mp4", 3.0, size="320x240")
        made["audio"] = samples.tone(folder / "tone.wav", 4.0)
    broken = folder / "broken.jpg"
    broken.write_bytes(made["photo"].read_bytes()[:3000])
    made["broken"] = broken
    return made


def input_for(example: Path, media: dict[str, Path]) -> Path | None:
    definition = validate(example.read_bytes()).definition
    assert definition is not None
    media_types = definition.trigger.filters.media_types
    if example.stem.startswith("avatar-"):
        return media["subject"]
    for kind in ("video", "audio", "document"):
        if kind in media_types:
            return media.get(kind)
    return media["photo"]


def run_both(example: Path, source: Path, tmp_path: Path) -> tuple[Any, Any, dict[str, bytes], dict[str, bytes]]:
    report = validate(example.read_bytes())
    assert report.valid and report.definition is not None
    compiled = compile_workflow(report.definition, report.configs)
    settings = Settings(data_dir=tmp_path / "embedded", workers=2)
    run = {"runId": RUN_ID, "workflowId": example.stem, "tenant": "t1", "version": 1,
           "startedAt": "2026-01-01T00:00:00.000Z"}

    with LocalService(settings, tenant="t1") as service:
        ref = service.ingest(source, key=f"t1/uploads/{source.name}")
        execution_input = {"run": run, "media": ref.to_state()}
        embedded = service.runtime.start(compiled.asl, execution_input, RUN_ID)
        embedded_blobs = {r["key"]: service.adapters.blobs.local_path(r["key"]).read_bytes()
                          for r in output_refs(embedded.output, exclude={ref.key})}

    moto_dir = tmp_path / "moto"
    adapters = open_embedded(moto_dir)
    moto_ref = adapters.blobs.put_file(f"t1/uploads/{source.name}", source, ref.content_type, overwrite=False)
    assert moto_ref.key == ref.key
    handler = workers_in_process(adapters, moto_dir / "work", Settings(data_dir=moto_dir, workers=1))

    on_moto = run_on_moto(compiled.asl, execution_input, handler, name=RUN_ID,
                          machine_type=compiled.execution_type)
    moto_blobs = {r["key"]: adapters.blobs.local_path(r["key"]).read_bytes()
                  for r in output_refs(on_moto.output, exclude={ref.key})} if on_moto.output else {}
    return embedded, on_moto, embedded_blobs, moto_blobs


def runnable(example: Path) -> bool:
    return not missing_runtimes(compile_workflow(json.loads(example.read_text())))


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.stem for e in EXAMPLES])
def test_example_parity(example: Path, media: dict[str, Path], tmp_path: Path) -> None:
    if not runnable(example):
        pytest.skip(f"{example.stem} needs a worker this build does not have")
    source = input_for(example, media)
    if source is None:
        pytest.skip("ffmpeg is not installed")
    embedded, on_moto, embedded_blobs, moto_blobs = run_both(example, source, tmp_path)
    assert embedded.status == on_moto.status == "SUCCEEDED", (embedded.error, embedded.cause, on_moto.cause)
    if any(state["Type"] == "Parallel" for state in compile_workflow(json.loads(example.read_text()))
           .asl["States"].values()):
        assert sorted(embedded.states_entered()) == sorted(on_moto.states)
    else:
        assert embedded.states_entered() == on_moto.states
    assert embedded_blobs, "the run produced outputs"
    assert embedded_blobs.keys() == moto_blobs.keys()
    for key, data in embedded_blobs.items():
        assert data == moto_blobs[key], f"{key} differs between runtimes"


def test_failure_parity_on_a_broken_file(media: dict[str, Path], tmp_path: Path) -> None:
    example = ROOT / "examples" / "convertly-convert-compress.json"
    embedded, on_moto, embedded_blobs, moto_blobs = run_both(example, media["broken"], tmp_path)
    assert embedded.status == on_moto.status == "FAILED"
    assert embedded.error == on_moto.error == "MediaDecodeError"
    assert json.loads(embedded.cause or "{}")["errorType"] == json.loads(on_moto.cause or "{}")["errorType"]
    assert embedded.states_entered() == on_moto.states
    assert embedded_blobs == moto_blobs == {}


def test_animated_gif_parity(tmp_path: Path) -> None:
    """An animated GIF through resize, watermark and convert to WebP: the same animated bytes on both runtimes."""
    from tests.e2e.image_support import (
        ANIMATION_COLOURS,
        ANIMATION_DELAYS,
        ANIMATION_LOOP,
        animated_image,
        linear_workflow,
        read_animation,
    )

    source = tmp_path / "clip.gif"
    source.write_bytes(animated_image("gif"))
    definition = tmp_path / "animated.json"
    definition.write_text(json.dumps(linear_workflow(
        ("resize", {"width": 48}), ("watermark", {"text": "m"}), ("convert", {"outputFormat": "webp"}))))
    embedded, on_moto, embedded_blobs, moto_blobs = run_both(definition, source, tmp_path)
    assert embedded.status == on_moto.status == "SUCCEEDED", (embedded.error, embedded.cause, on_moto.cause)
    assert embedded_blobs.keys() == moto_blobs.keys()
    [(key, data)] = embedded_blobs.items()
    assert data == moto_blobs[key]
    frames, delays, loop = read_animation(data)
    assert (len(frames), delays, loop) == (len(ANIMATION_COLOURS), ANIMATION_DELAYS, ANIMATION_LOOP)
    assert {(frame.width, frame.height) for frame in frames} == {(48, 32)}
