"""background_remove with rembg + u2netp on a generated subject: background transparent, subject opaque."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import pytest
from mediaflow import samples
from mediaflow.errors import ToolchainError, UnsupportedMedia
from mediaflow.execution.contract import TaskPayload
from mediaflow.execution.tasks import execute_task
from mediaflow.media import MediaRef
from mediaflow.settings import get_settings
from PIL import Image

from tests.e2e.image_support import make_env, payload, upload

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

MODEL_DIR = Path(get_settings().u2net_home)
needs_model = pytest.mark.skipif(not (MODEL_DIR / "u2netp.onnx").is_file(),
                                 reason="u2netp.onnx missing: make setup installs it")


def rembg_payload(media: MediaRef, **config: object) -> TaskPayload:
    task = payload(media, ("cut", "background_remove", config))
    return task.model_copy(update={"runtime": "rembg"})


@needs_model
def test_subject_opaque_background_transparent(tmp_path: Path) -> None:
    source = samples.subject_on_flat_background(tmp_path / "subject.png", 320)
    env = make_env(tmp_path, u2net_home=MODEL_DIR)
    media = upload(env, source.read_bytes(), "subject.png")
    result = execute_task(rembg_payload(media), env)
    assert result["contentType"] == "image/png" and (result["width"], result["height"]) == (320, 320)
    alpha = np.asarray(Image.open(io.BytesIO(env.blobs.read(result["key"]))).convert("RGBA"))[:, :, 3]  # type: ignore[attr-defined]
    corners = np.concatenate([alpha[:20, :20].ravel(), alpha[:20, -20:].ravel(), alpha[-10:, :10].ravel()])
    body = alpha[200:260, 140:180].ravel()  # inside the body ellipse
    head = alpha[85:110, 150:170].ravel()   # inside the head disc
    assert np.mean(corners < 10) > 0.98, f"background not transparent: {np.mean(corners < 10)}"
    assert np.mean(body > 245) > 0.95 and np.mean(head > 245) > 0.95


@needs_model
def test_mask_and_background_colour(tmp_path: Path) -> None:
    source = samples.subject_on_flat_background(tmp_path / "subject.png", 256)
    env = make_env(tmp_path, u2net_home=MODEL_DIR)
    media = upload(env, source.read_bytes(), "subject.png")
    mask = Image.open(io.BytesIO(env.blobs.read(execute_task(rembg_payload(media, onlyMask=True), env)["key"])))  # type: ignore[attr-defined]
    assert mask.mode == "L" and np.asarray(mask)[5, 5] < 10 and np.asarray(mask)[180, 128] > 245
    filled = execute_task(rembg_payload(media, backgroundColor="#ff0000", outputFormat="webp"), env)
    image = np.asarray(Image.open(io.BytesIO(env.blobs.read(filled["key"]))).convert("RGBA"))  # type: ignore[attr-defined]
    assert filled["contentType"] == "image/webp"
    assert tuple(image[5, 5]) == (255, 0, 0, 255)


@needs_model
def test_same_bytes_twice_and_session_reused(tmp_path: Path) -> None:
    from mediaflow.workers import cutout

    source = samples.subject_on_flat_background(tmp_path / "subject.png", 200)
    env = make_env(tmp_path, u2net_home=MODEL_DIR)
    media = upload(env, source.read_bytes(), "subject.png")
    first = execute_task(rembg_payload(media), env)
    session = cutout._SESSIONS["u2netp"]
    second_task = payload(media, ("cut", "background_remove", {}), run_id="run-2")
    second = execute_task(second_task.model_copy(update={"runtime": "rembg"}), env)
    assert cutout._SESSIONS["u2netp"] is session
    assert env.blobs.read(first["key"]) == env.blobs.read(second["key"])  # type: ignore[attr-defined]


def test_missing_model_and_wrong_input_are_named_errors(tmp_path: Path) -> None:
    env = make_env(tmp_path, u2net_home=tmp_path / "no-models")
    pdf = upload(env, b"%PDF-1.4\n%%EOF\n", "doc.png")
    before = hashlib.sha256(env.blobs.read(pdf.key)).hexdigest()  # type: ignore[attr-defined]
    with pytest.raises(UnsupportedMedia):
        execute_task(rembg_payload(pdf), env)
    assert hashlib.sha256(env.blobs.read(pdf.key)).hexdigest() == before  # type: ignore[attr-defined]
    image = upload(env, samples.subject_on_flat_background(tmp_path / "s.png", 64).read_bytes(), "s.png")
    with pytest.raises(ToolchainError, match="missing"):
        execute_task(rembg_payload(image, model="u2net_missing_model"), env)
