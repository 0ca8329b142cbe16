"""The embedded moderation detector reproduces nudenet 3.4.2's own NudeDetector: the reference values
below were printed by ``nudenet.NudeDetector().detect()`` (with OpenCV) on the same generated drawing."""

from __future__ import annotations

from pathlib import Path

import pytest
from mediaflow.settings import get_settings

from tests.compat.conftest import drawn_figure

pytestmark = pytest.mark.unit
NUDENET_REFERENCE = [("FEMALE_BREAST_EXPOSED", 0.6221509, [28, 99, 139, 158]),
                     ("FEMALE_BREAST_EXPOSED", 0.5907455, [151, 100, 135, 159])]


@pytest.fixture(scope="module")
def vision() -> object:
    from mediaflow.adapters.embedded.vision import LocalVision

    model = get_settings().moderation_model
    if not model.is_file():
        pytest.skip(f"{model} is missing: make setup extracts it")
    return LocalVision(None, model)  # type: ignore[arg-type]


def test_the_drawing_gives_nudenets_detections(vision: object, tmp_path: Path) -> None:
    from PIL import Image

    found = vision.detect(Image.open(drawn_figure(tmp_path / "figure.png")).convert("RGB"))  # type: ignore[attr-defined]
    assert [f["class"] for f in found] == [name for name, _, _ in NUDENET_REFERENCE]
    for detection, (_, score, box) in zip(found, NUDENET_REFERENCE, strict=True):
        assert detection["score"] == pytest.approx(score, abs=1e-4)
        assert all(abs(a - b) <= 1 for a, b in zip(detection["box"], box, strict=True))


def test_a_plain_photo_gives_nothing(vision: object, tmp_path: Path) -> None:
    from mediaflow import samples
    from PIL import Image

    photo = samples.photo(tmp_path / "plain.jpg", 320, 240)
    assert vision.detect(Image.open(photo).convert("RGB")) == []  # type: ignore[attr-defined]
