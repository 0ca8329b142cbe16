"""Media that ordinary users send, through the run API on every transport (the local server over real HTTP,
proxy events to the resolver, and functions/api's Lambda handler with the nodes on moto): valid images that
libvips refuses and Pillow reads (decoded by the fallback), broken BMPs failing as named media errors, and
video kinds (a default thumbnail on a video, a storyboard with its defaults) on a standard clip."""

from __future__ import annotations

import io
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.functional.api.conftest import Api, Client, chain_workflow
from tests.support import odd_images

pytestmark = pytest.mark.functional


def _png_workflow(client: Client, name: str) -> str:
    reply = client.post("/v1/workflows", chain_workflow(name, ("png", "convert", {"outputFormat": "png"}),
                                                        ("store", "storage", {"prefix": "odd/"})))
    assert reply.status == 201, reply.content[:300]
    return str(reply.json()["id"])


def _left_to_right(picture: Image.Image) -> float:
    """How much brighter the right edge is than the left (the made images are horizontal gradients)."""
    first = np.asarray(picture.convert("RGB"), dtype=np.float64)[..., 0]
    return float(first[:, -4:].mean() - first[:, :4].mean())


def test_valid_images_libvips_refuses_are_decoded_by_the_pillow_fallback(client: Client) -> None:
    workflow = _png_workflow(client, "odd-images")
    files = [("files", (name, maker(), "application/octet-stream")) for name, maker in odd_images.VALID.items()]
    started = client.request("POST", f"/v1/workflows/{workflow}/runs", files=files)
    assert started.status == 202, started.content[:300]
    run = client.wait_run(started.json()["runId"], timeout=180)
    assert run["status"] == "completed", (run["error"], [s for s in run["steps"] if s["status"] == "failed"])
    assert run["progress"]["completed"] == len(files) and len(run["outputs"]) == len(files)
    for output in run["outputs"]:
        assert output["contentType"] == "image/png"
        downloaded = client.download(output["url"])
        assert downloaded.status == 200
        with Image.open(io.BytesIO(downloaded.content)) as picture:
            assert picture.format == "PNG" and picture.size == (odd_images.WIDTH, odd_images.HEIGHT)
            assert _left_to_right(picture) > 60, output["filename"]  # the gradient survived the decode


@pytest.mark.parametrize("name, words", [("shortfile.bmp", "truncated"), ("pal8oversizepal.bmp", "palette")])
def test_broken_bmps_fail_as_named_media_errors(client: Client, name: str, words: str) -> None:
    workflow = _png_workflow(client, f"broken-{name}")
    started = client.request("POST", f"/v1/workflows/{workflow}/runs",
                             files={"file": (name, odd_images.BROKEN[name](), "image/bmp")})
    assert started.status == 202, started.content[:300]
    run = client.wait_run(started.json()["runId"], timeout=120)
    assert run["status"] == "failed"
    (failed,) = [step for step in run["steps"] if step["status"] == "failed"]
    assert failed["nodeId"] == "png" and failed["error"] == "MediaDecodeError", failed
    assert words in failed["errorMessage"] and "cannot read the bmp image" in failed["errorMessage"]
    assert "InternalError" not in str(run["error"]) and "ValueError" not in failed["errorMessage"]


def standard_clip(folder: Path) -> bytes:
    """A standard clip: 6 s, 1280x720, 25 fps, H.264 (yuv420p) with AAC audio."""
    path = folder / "standard.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25:duration=6",
                    "-f", "lavfi", "-i", "sine=frequency=440:duration=6", "-c:v", "libx264", "-preset", "ultrafast",
                    "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(path)], check=True, timeout=120)
    return path.read_bytes()


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return standard_clip(tmp_path_factory.mktemp("clip"))


def test_storyboard_with_its_defaults_on_a_standard_clip(client: Client, api: Api, clip: bytes) -> None:
    workflow = client.post("/v1/workflows", chain_workflow("storyboard", ("board", "storyboard", {}))).json()
    started = client.request("POST", f"/v1/workflows/{workflow['id']}/runs",
                             files={"file": ("standard.mp4", clip, "video/mp4")})
    assert started.status == 202, started.content[:300]
    run = client.wait_run(started.json()["runId"], timeout=180)
    assert run["status"] == "completed", [s for s in run["steps"] if s["status"] == "failed"]
    sprite = next(output for output in run["outputs"] if output["contentType"] == "image/jpeg")
    with Image.open(io.BytesIO(client.download(sprite["url"]).content)) as picture:
        assert picture.size == (160, 90)  # one 160 px tile: the default 10 s interval over a 6 s clip
    (step,) = [s for s in run["steps"] if s["nodeId"] == "board"]
    assert step["output"]["frames"] == 1 and step["output"]["intervalSeconds"] == 10
    blobs = api.service.adapters.blobs if api.service is not None else api.deployment.adapters.blobs
    cues = blobs.read_range(sprite["key"].rsplit(".", 1)[0] + ".vtt", 0, 4096).decode()  # the sprite's sidecar
    assert re.match(r"WEBVTT\n\n00:00:00\.000 --> 00:00:0[56]\.\d{3}\n\S+\.jpg#xywh=0,0,160,90\n", cues), cues


def test_a_default_thumbnail_takes_a_video_and_an_image(client: Client, clip: bytes, photo: bytes) -> None:
    workflow = client.post("/v1/workflows", chain_workflow("thumbs", ("thumb", "thumbnail", {}))).json()
    sizes = {}
    for name, data, content_type in (("standard.mp4", clip, "video/mp4"), ("photo.jpg", photo, "image/jpeg")):
        started = client.request("POST", f"/v1/workflows/{workflow['id']}/runs", files={"file": (name, data,
                                                                                                  content_type)})
        assert started.status == 202, started.content[:300]
        run = client.wait_run(started.json()["runId"], timeout=180)
        assert run["status"] == "completed", [s for s in run["steps"] if s["status"] == "failed"]
        (output,) = run["outputs"]
        assert output["contentType"] == "image/webp"
        with Image.open(io.BytesIO(client.download(output["url"]).content)) as picture:
            assert picture.format == "WEBP"
            sizes[name] = picture.size
            if name == "standard.mp4":  # testsrc2 moves: a real frame, not a black or empty picture
                assert np.asarray(picture.convert("L")).std() > 20
    assert sizes == {"standard.mp4": (256, 144), "photo.jpg": (256, 192)}
