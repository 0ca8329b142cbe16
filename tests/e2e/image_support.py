"""Helpers for the image worker tests: a folder-backed BlobStore and generated media."""

from __future__ import annotations

import hashlib
import io
import itertools
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mediaflow.errors import NotFound
from mediaflow.execution.contract import TaskEnvironment, TaskPayload
from mediaflow.media import MediaRef
from mediaflow.settings import Settings


class FolderBlobs:
    """The BlobStore protocol over a plain folder; enough for the worker tests."""

    bucket = "test-bucket"

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        assert ".." not in key.split("/") and not key.startswith("/"), key
        return self.root / key

    def _ref(self, key: str, content_type: str) -> MediaRef:
        path = self._path(key)
        return MediaRef(bucket=self.bucket, key=key, content_type=content_type, size=path.stat().st_size,
                        etag=hashlib.md5(path.read_bytes()).hexdigest(), filename=path.name)

    def put_file(self, key: str, path: Path, content_type: str, *, overwrite: bool = True,
                 move: bool = False) -> MediaRef:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        return self._ref(key, content_type)

    def put_bytes(self, key: str, data: bytes, content_type: str, *, overwrite: bool = True) -> MediaRef:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return self._ref(key, content_type)

    def download(self, key: str, path: Path) -> Path:
        source = self._path(key)
        if not source.exists():
            raise NotFound(f"no object {key!r}")
        shutil.copyfile(source, path)
        return path

    def read_range(self, key: str, start: int, length: int) -> bytes:
        with self._path(key).open("rb") as handle:
            handle.seek(start)
            return handle.read(length)

    def head(self, key: str) -> MediaRef:
        return self._ref(key, "application/octet-stream")

    def read_head(self, key: str, length: int) -> tuple[MediaRef, bytes]:
        return self.head(key), self.read_range(key, 0, length)

    def exists(self, key: str) -> bool:
        return self._path(key).exists()

    def list(self, prefix: str) -> Iterator[str]:
        for path in sorted(self.root.rglob("*")):
            key = path.relative_to(self.root).as_posix()
            if path.is_file() and key.startswith(prefix):
                yield key

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def url(self, key: str, expires_seconds: int = 3600) -> str:
        return self._path(key).as_uri()

    def copy(self, source_key: str, key: str, *, content_type: str | None = None,
             overwrite: bool = True) -> MediaRef:
        if not self.exists(source_key):
            raise NotFound(f"no object {source_key!r}")
        return self.put_file(key, self._path(source_key), content_type or "application/octet-stream",
                             overwrite=overwrite)

    def local_path(self, key: str) -> Path | None:
        return None  # like S3: the workers download their inputs

    def presigned_post(self, key: str, *, content_type: str | None, expires_seconds: int, max_bytes: int,
                       fields: dict[str, str] | None = None) -> dict[str, Any] | None:
        return None

    def read(self, key: str) -> bytes:
        return self._path(key).read_bytes()


def make_env(tmp: Path, **settings: Any) -> TaskEnvironment:
    return TaskEnvironment(blobs=FolderBlobs(tmp / "blobs"), workdir=tmp / "work",
                           settings=Settings(data_dir=tmp / "data", **settings))


def upload(env: TaskEnvironment, data: bytes, filename: str, tenant: str = "acme") -> MediaRef:
    key = f"{tenant}/uploads/{filename}"
    ref = env.blobs.put_bytes(key, data, "application/octet-stream")
    return ref.model_copy(update={"filename": filename})


def payload(media: MediaRef, *ops: tuple[str, str, dict[str, Any]], run_id: str = "run-1",
            tenant: str = "acme", started_at: str = "2024-05-06T07:08:09Z") -> TaskPayload:
    return TaskPayload.model_validate({
        "runtime": "vips",
        "run": {"runId": run_id, "tenant": tenant, "workflowId": "wf-1", "startedAt": started_at},
        "media": media.to_state(),
        "ops": [{"nodeId": node_id, "kind": kind, "config": config} for node_id, kind, config in ops],
    })


def sample_image(width: int = 640, height: int = 480, *, alpha: bool = False) -> Any:
    """A deterministic colourful test picture (gradients plus shapes) as a pyvips image."""
    import pyvips

    xyz = pyvips.Image.xyz(width, height)
    x = xyz[0]
    y = xyz[1]
    red = (x * (255.0 / max(1, width - 1)))
    green = (y * (255.0 / max(1, height - 1)))
    blue = ((x + y) % 256)
    image = red.bandjoin([green, blue]).cast("uchar").copy(interpretation="srgb")
    image = image.draw_rect([250, 250, 20], width // 4, height // 4, width // 3, height // 3, fill=True)
    image = image.draw_circle([20, 40, 230], width * 2 // 3, height * 2 // 3, min(width, height) // 6, fill=True)
    if alpha:
        image = image.bandjoin((x * 0 + 200).cast("uchar"))
    return image


def jpeg_bytes(width: int = 640, height: int = 480, *, quality: int = 90, **fields: Any) -> bytes:
    image = sample_image(width, height)
    return bytes(image.jpegsave_buffer(Q=quality, **fields))


def exif_with_gps(orientation: int = 1) -> bytes:
    """An EXIF block (``Exif\\0\\0`` + TIFF) with camera fields, an orientation and GPS coordinates."""
    from PIL import Image as PILImage

    exif = PILImage.Exif()
    exif[0x010F] = "TestCam"
    exif[0x0110] = "Model 1"
    exif[0x0112] = orientation
    gps = {1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 36.0)}
    exif[0x8825] = gps
    data = exif.tobytes()
    return data if data.startswith(b"Exif") else b"Exif\x00\x00" + data


def jpeg_with_exif(width: int = 640, height: int = 480, orientation: int = 1, icc: str | None = None) -> bytes:
    """A JPEG carrying EXIF (camera, orientation, GPS), made with Pillow from a pyvips picture."""
    from PIL import Image as PILImage

    picture = sample_image(width, height)
    if icc:
        picture = picture.icc_transform(icc)
    png = picture.pngsave_buffer()
    with PILImage.open(io.BytesIO(png)) as handle:
        out = io.BytesIO()
        extra: dict[str, Any] = {}
        if icc:
            import pyvips

            extra["icc_profile"] = pyvips.Image.new_from_buffer(png, "").get("icc-profile-data")
        handle.convert("RGB").save(out, "JPEG", quality=90, exif=exif_with_gps(orientation), **extra)
        return out.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------------------------------
# Animations

ANIMATION_SIZE = (96, 64)
ANIMATION_DELAYS = [40, 80, 120, 160, 200, 240]  # ms; GIF stores centiseconds, so multiples of 10 survive exactly
ANIMATION_LOOP = 3
# One solid colour per frame in the top band (the sampled region); a white square moves along the bottom.
ANIMATION_COLOURS = [(230, 30, 30), (30, 200, 40), (40, 60, 230), (240, 220, 30), (200, 40, 210), (30, 210, 220)]


def animated_image(fmt: str) -> bytes:
    """Six distinct frames with their own delays and a loop count, written by libvips."""
    import pyvips

    frames = []
    for index, colour in enumerate(ANIMATION_COLOURS):
        frame = (pyvips.Image.black(*ANIMATION_SIZE) + list(colour)).cast("uchar").copy(interpretation="srgb")
        frame = frame.draw_rect([255, 255, 255], 4 + index * 14, ANIMATION_SIZE[1] - 20, 12, 12, fill=True)
        frames.append(frame)
    roll = pyvips.Image.arrayjoin(frames, across=1).copy()
    roll.set_type(pyvips.GValue.gint_type, "page-height", ANIMATION_SIZE[1])
    roll.set_type(pyvips.GValue.array_int_type, "delay", ANIMATION_DELAYS)
    roll.set_type(pyvips.GValue.gint_type, "loop", ANIMATION_LOOP)
    if fmt == "gif":
        return bytes(roll.gifsave_buffer())
    return bytes(roll.webpsave_buffer(Q=90))


def animation_frames(roll: Any) -> list[Any]:
    height = roll.get("page-height") if roll.get_typeof("page-height") else roll.height
    return [roll.crop(0, top, roll.width, height) for top in range(0, roll.height, height)]


def read_animation(data: bytes) -> tuple[list[Any], list[int], int]:
    """Frames, per-frame delays and loop count as libvips reads the output (Pillow for AVIF sequences)."""
    import pyvips

    try:
        roll = pyvips.Image.new_from_buffer(data, "", n=-1)
    except pyvips.Error:
        from mediaflow.workers.pillow_fallback import to_vips
        from PIL import Image

        handle = Image.open(io.BytesIO(data))
        frames, delays = [], []
        for index in range(handle.n_frames):
            handle.seek(index)
            handle.load()
            frames.append(to_vips(handle.copy()))
            delays.append(int(handle.info["duration"]))
        return frames, delays, 0
    delays = list(roll.get("delay")) if roll.get_typeof("delay") else []
    loop = int(roll.get("loop")) if roll.get_typeof("loop") else 0
    return animation_frames(roll), delays, loop


def linear_workflow(*nodes: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    steps = [{"id": "upload", "kind": "upload"}] + [
        {"id": f"n{index}-{kind}", "kind": kind, "config": config} for index, (kind, config) in enumerate(nodes)]
    edges = [{"source": a["id"], "target": b["id"]} for a, b in itertools.pairwise(steps)]
    return {"name": "animated", "nodes": steps, "edges": edges,
            "trigger": {"onUpload": True, "filters": {"mediaTypes": ["image"]}}}
