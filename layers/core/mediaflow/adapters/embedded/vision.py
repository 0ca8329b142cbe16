"""Image analysis in the embedded mode: moderation with the nudenet 3.4.2 detector (``320n.onnx``, a YOLOv8
model that ships in the nudenet wheel; .ci/setup.sh extracts it, nothing is downloaded at run time) run by
onnxruntime; no local labels model ships in a wheel, so labels raise PluginUnavailable here.

The pre- and post-processing follow nudenet's own (pad to a square at the bottom and right, 320x320 BGR in
0..1, class score >= 0.2, non-maximum suppression at IoU 0.45), with Pillow and numpy instead of OpenCV;
scores match nudenet's to about 1e-6 on a 320x320 image and within a few thousandths on resized ones.
Detector classes map onto Rekognition's moderation taxonomy so that branches read the same names on both
runtimes (docs/compat.md has the table)."""

from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import Any

from mediaflow.errors import MediaDecodeError, MediaTooLarge, PluginUnavailable, UnsupportedMedia
from mediaflow.media import MediaRef
from mediaflow.ports import BlobStore

SIZE = 320
CLASSES = (
    "FEMALE_GENITALIA_COVERED", "FACE_FEMALE", "BUTTOCKS_EXPOSED", "FEMALE_BREAST_EXPOSED",
    "FEMALE_GENITALIA_EXPOSED", "MALE_BREAST_EXPOSED", "ANUS_EXPOSED", "FEET_EXPOSED", "BELLY_COVERED",
    "FEET_COVERED", "ARMPITS_COVERED", "ARMPITS_EXPOSED", "FACE_MALE", "BELLY_EXPOSED", "MALE_GENITALIA_EXPOSED",
    "ANUS_COVERED", "FEMALE_BREAST_COVERED", "BUTTOCKS_COVERED",
)
# detector class -> (Rekognition moderation label, its parent); classes left out are not moderation labels
MODERATION = {
    "FEMALE_GENITALIA_EXPOSED": ("Exposed Female Genitalia", "Explicit Nudity"),
    "MALE_GENITALIA_EXPOSED": ("Exposed Male Genitalia", "Explicit Nudity"),
    "BUTTOCKS_EXPOSED": ("Exposed Buttocks or Anus", "Explicit Nudity"),
    "ANUS_EXPOSED": ("Exposed Buttocks or Anus", "Explicit Nudity"),
    "FEMALE_BREAST_EXPOSED": ("Exposed Female Nipple", "Explicit Nudity"),
    "MALE_BREAST_EXPOSED": ("Exposed Male Nipple", "Non-Explicit Nudity"),
    "FEMALE_BREAST_COVERED": ("Female Swimwear or Underwear", "Swimwear or Underwear"),
    "FEMALE_GENITALIA_COVERED": ("Female Swimwear or Underwear", "Swimwear or Underwear"),
    "BUTTOCKS_COVERED": ("Swimwear or Underwear", "Swimwear or Underwear"),
    "ANUS_COVERED": ("Swimwear or Underwear", "Swimwear or Underwear"),
}
MAX_BYTES = 64 * 1024 * 1024
CANDIDATE_SCORE, NMS_SCORE, NMS_IOU = 0.2, 0.25, 0.45


class LocalVision:
    """The ``Vision`` port on this machine; the ONNX session is made on first use, once per process."""

    def __init__(self, blobs: BlobStore, model: Path, *, threads: int = 1, max_pixels: int = 120_000_000) -> None:
        self.blobs, self.model, self.threads, self.max_pixels = blobs, Path(model), threads, max_pixels
        self._session: Any = None
        self._lock = threading.Lock()

    def moderation(self, media: MediaRef, min_confidence: float) -> list[dict[str, Any]]:
        best: dict[str, dict[str, Any]] = {}
        for found in self.detect(self._pixels(media)):
            if found["class"] not in MODERATION:
                continue
            name, parent = MODERATION[found["class"]]
            confidence = round(found["score"] * 100, 2)
            if confidence >= min_confidence and confidence > best.get(name, {}).get("confidence", -1):
                best[name] = {"name": name, "parent": parent, "confidence": confidence, "source": found["class"]}
        return sorted(best.values(), key=lambda label: -label["confidence"])

    def labels(self, media: MediaRef, max_labels: int, min_confidence: float) -> list[dict[str, Any]]:
        raise PluginUnavailable("image labels need Amazon Rekognition: no local labels model ships in a wheel "
                                "(the embedded mode has moderation only; see docs/compat.md)")

    # -- the detector --------------------------------------------------------------------------------
    def session(self) -> Any:
        if self._session is None:
            with self._lock:
                if self._session is None:
                    self._session = self._open()
        return self._session

    def _open(self) -> Any:
        if not self.model.is_file():
            raise PluginUnavailable(f"the moderation model {self.model} is missing: `make setup` extracts it from "
                                    "the nudenet 3.4.2 wheel (or set MEDIAFLOW_MODERATION_MODEL)")
        try:
            import onnxruntime
        except ImportError:
            raise PluginUnavailable("moderation needs onnxruntime: pip install 'mediaflow[rembg]'") from None
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = self.threads
        return onnxruntime.InferenceSession(str(self.model), options, providers=["CPUExecutionProvider"])

    def _pixels(self, media: MediaRef) -> Any:
        from PIL import Image

        if media.media_type != "image":
            raise UnsupportedMedia(f"moderation reads images; this is {media.media_type} ({media.content_type})")
        if media.size > MAX_BYTES:
            raise MediaTooLarge(f"{media.size} bytes: moderation reads images up to {MAX_BYTES} bytes")
        data = self.blobs.read_range(media.key, 0, media.size or MAX_BYTES)
        try:
            with Image.open(io.BytesIO(data)) as image:
                if image.width * image.height > self.max_pixels:
                    raise MediaTooLarge(f"{image.width}x{image.height} is above {self.max_pixels} pixels")
                return image.convert("RGB")
        except (OSError, ValueError, Image.DecompressionBombError) as error:
            raise MediaDecodeError(f"the image could not be decoded: {error}") from None

    def detect(self, image: Any) -> list[dict[str, Any]]:
        """nudenet's detections on a PIL RGB image: ``{"class", "score", "box": [x, y, w, h]}``."""
        import numpy as np
        from PIL import Image

        side = max(image.size)
        square = Image.new("RGB", (side, side))
        square.paste(image, (0, 0))
        # nudenet hands the model BGR (its cvtColor and blobFromImage swaps cancel out), resized as OpenCV does
        pixels = _linear_resize(np.asarray(square, dtype=np.float32)[:, :, ::-1], SIZE)
        blob = (pixels / 255.0).transpose(2, 0, 1)[None].astype(np.float32)
        session = self.session()
        output = session.run(None, {session.get_inputs()[0].name: blob})[0]
        rows = np.transpose(np.squeeze(output))
        scores = rows[:, 4:]
        best = scores.max(axis=1)
        keep = np.nonzero(best >= CANDIDATE_SCORE)[0]
        scale = side / SIZE
        boxes = [(float((rows[i, 0] - rows[i, 2] / 2) * scale), float((rows[i, 1] - rows[i, 3] / 2) * scale),
                  float(rows[i, 2] * scale), float(rows[i, 3] * scale)) for i in keep]
        found = [{"class": CLASSES[int(scores[i].argmax())], "score": float(best[i]), "box": box}
                 for i, box in zip(keep, boxes, strict=True)]
        return _suppress(found)


def _linear_resize(pixels: Any, size: int) -> Any:
    """A square HxWxC array resized to ``size`` like OpenCV's INTER_LINEAR (half-pixel centres, no
    antialiasing), which the detector was run with."""
    import numpy as np

    side = pixels.shape[0]
    if side == size:
        return pixels
    centres = np.clip((np.arange(size) + 0.5) * (side / size) - 0.5, 0, side - 1)
    low = np.floor(centres).astype(int)
    high = np.minimum(low + 1, side - 1)
    weight = (centres - low)[:, None, None]
    rows = pixels[low] * (1 - weight) + pixels[high] * weight
    weight = weight.reshape(1, size, 1)
    return rows[:, low] * (1 - weight) + rows[:, high] * weight


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def _suppress(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Non-maximum suppression over all classes, as OpenCV's NMSBoxes does for nudenet."""
    kept: list[dict[str, Any]] = []
    for candidate in sorted((f for f in found if f["score"] >= NMS_SCORE), key=lambda f: -f["score"]):
        if all(_iou(candidate["box"], other["box"]) <= NMS_IOU for other in kept):
            kept.append(candidate)
    for item in kept:
        item["box"] = [int(v) for v in item["box"]]
    return kept
