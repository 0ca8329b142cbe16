"""Animated GIF, WebP and AVIF through workflows on the embedded runtime: frames, delays and loop kept by
every image kind that can keep them, the first frame where a kind or a format makes one picture, and
hostile animations (too many frames, too many pixels over all frames) refused with a named error."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from mediaflow.embedded.app import FileResult, LocalService
from mediaflow.settings import Settings
from mediaflow.validation import validate

from tests.e2e.image_support import (
    ANIMATION_COLOURS,
    ANIMATION_DELAYS,
    ANIMATION_LOOP,
    ANIMATION_SIZE,
    animated_image,
    animation_frames,
    linear_workflow,
    read_animation,
    sample_image,
)

pyvips = pytest.importorskip("pyvips")

pytestmark = pytest.mark.e2e
WIDTH, HEIGHT = ANIMATION_SIZE
COLOURS, DELAYS, LOOP = ANIMATION_COLOURS, ANIMATION_DELAYS, ANIMATION_LOOP


def avif_sequence() -> bytes:
    """An AVIF image sequence written by Pillow (libvips here does not read sequences: Pillow decodes it)."""
    from PIL import Image

    pictures = []
    for frame in animation_frames(pyvips.Image.new_from_buffer(animated_image("gif"), "", n=-1)):
        pictures.append(Image.frombytes("RGB", (WIDTH, HEIGHT), frame.extract_band(0, n=3).write_to_memory()))
    buffer = io.BytesIO()
    pictures[0].save(buffer, format="AVIF", save_all=True, append_images=pictures[1:], duration=DELAYS, quality=90)
    return buffer.getvalue()


def top_colour(frame: Any) -> tuple[float, float, float]:
    """Mean colour of the top-left area of a frame (the per-frame solid band)."""
    area = frame.crop(2, 2, max(1, frame.width // 4), max(1, frame.height // 6))
    if area.bands < 3:
        area = area.colourspace("srgb")
    stats = [area.extract_band(band).avg() for band in range(3)]
    return stats[0], stats[1], stats[2]


def assert_colour(actual: tuple[float, ...], expected: tuple[int, ...], tolerance: float = 24) -> None:
    assert all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True)), (actual, expected)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalService]:
    data = tmp_path_factory.mktemp("animated-data")
    with LocalService(Settings(data_dir=data, workers=2), tenant="t1") as running:
        yield running


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("animated-in")
    made = {}
    for fmt in ("gif", "webp"):
        made[fmt] = folder / f"clip.{fmt}"
        made[fmt].write_bytes(animated_image(fmt))
    return made


def run(service: LocalService, source: Path, out: Path, *nodes: tuple[str, dict[str, Any]]) -> FileResult:
    [result] = service.run_files(validate(linear_workflow(*nodes)), [source], out)
    return result


def only_output(result: FileResult) -> bytes:
    assert result.status == "completed", result.error
    [output] = result.outputs
    assert output.path is not None
    return output.path.read_bytes()


def same(colour: tuple[int, int, int]) -> tuple[int, int, int]:
    return colour


def inverted(colour: tuple[int, int, int]) -> tuple[int, int, int]:
    red, green, blue = colour
    return 255 - red, 255 - green, 255 - blue


# (kinds in the chain, frame size out, output format, colour each frame's band should have)
ANIMATED_CASES: dict[str, tuple[list[tuple[str, dict[str, Any]]], tuple[int, int], str | None,
                                Callable[[tuple[int, int, int]], tuple[int, int, int]]]] = {
    "resize": ([("resize", {"width": 48})], (48, 32), None, same),
    "resize-cover-attention": ([("resize", {"width": 40, "height": 40, "fit": "cover", "gravity": "attention"})],
                               (40, 40), None, same),
    "resize-odd-size": ([("resize", {"width": 37, "height": 29, "fit": "fill"})], (37, 29), None, same),
    "convert-gif": ([("convert", {"outputFormat": "gif"})], (WIDTH, HEIGHT), "gif", same),
    "convert-webp": ([("convert", {"outputFormat": "webp", "compressionLevel": 85})], (WIDTH, HEIGHT), "webp",
                     same),
    "compress": ([("compress", {"compressionLevel": 50})], (WIDTH, HEIGHT), None, same),
    "watermark": ([("watermark", {"text": "mediaflow", "position": "southeast", "opacity": 1.0})],
                  (WIDTH, HEIGHT), None, same),
    "strip_metadata": ([("strip_metadata", {})], (WIDTH, HEIGHT), None, same),
    "adjust": ([("adjust", {"invert": True, "sharpen": 1.0})], (WIDTH, HEIGHT), None, inverted),
    "chain": ([("resize", {"width": 64}), ("adjust", {"brightness": 1.0, "contrast": 1.1}),
               ("watermark", {"text": "x", "scale": 0.3}), ("strip_metadata", {}),
               ("convert", {"outputFormat": "webp"})], (64, 43), "webp", same),
}


@pytest.mark.parametrize("source_format", ["gif", "webp"])
@pytest.mark.parametrize("case", sorted(ANIMATED_CASES))
def test_animation_is_kept(service: LocalService, inputs: dict[str, Path], tmp_path: Path, source_format: str,
                           case: str) -> None:
    nodes, (width, height), output_format, colour_of = ANIMATED_CASES[case]
    data = only_output(run(service, inputs[source_format], tmp_path, *nodes))
    assert pyvips.Image.new_from_buffer(data, "").get("vips-loader").startswith(
        f"{output_format or source_format}load")
    frames, delays, loop = read_animation(data)
    assert len(frames) == len(COLOURS), "every frame is kept"
    assert delays == DELAYS
    assert loop == LOOP
    for frame, colour in zip(frames, COLOURS, strict=True):
        assert (frame.width, frame.height) == (width, height)
        assert_colour(top_colour(frame), colour_of(colour))
    assert abs(frames[3].avg() - frames[0].avg()) > 10, "frame 4 still differs from frame 1"


def test_resize_of_each_frame_stays_inside_its_frame(service: LocalService, inputs: dict[str, Path],
                                                     tmp_path: Path) -> None:
    """Each frame is scaled on its own: the bottom rows of a frame hold no colour of the next frame."""
    data = only_output(run(service, inputs["webp"], tmp_path, ("resize", {"width": 30}),
                           ("convert", {"outputFormat": "webp", "lossless": True})))
    frames, _, _ = read_animation(data)
    assert len(frames) == len(COLOURS)
    for frame, colour, following in zip(frames, COLOURS, COLOURS[1:], strict=False):
        edge = frame.crop(0, frame.height - 1, 2, 1)  # left of the white square, last row
        red, green, blue = (edge.extract_band(band).avg() for band in range(3))
        assert_colour((red, green, blue), colour, tolerance=6)
        assert following != colour


@pytest.mark.parametrize(("source_format", "target"), [("gif", "webp"), ("webp", "gif")])
def test_convert_between_animated_formats(service: LocalService, inputs: dict[str, Path], tmp_path: Path,
                                          source_format: str, target: str) -> None:
    result = run(service, inputs[source_format], tmp_path, ("convert", {"outputFormat": target}))
    data = only_output(result)
    assert result.outputs[0].content_type == f"image/{target}"
    frames, delays, loop = read_animation(data)
    assert (len(frames), delays, loop) == (len(COLOURS), DELAYS, LOOP)
    record = service.adapters.runs.get_run("t1", result.run_id)
    assert record["status"] == "completed"


@pytest.mark.parametrize(("nodes", "fmt", "size"), [
    ([("convert", {"outputFormat": "jpeg"})], "jpeg", (WIDTH, HEIGHT)),
    ([("convert", {"outputFormat": "png"})], "png", (WIDTH, HEIGHT)),
    ([("thumbnail", {"width": 32})], "webp", (32, 21)),
    ([("resize", {"width": 48}), ("convert", {"outputFormat": "png"})], "png", (48, 32)),
], ids=["jpeg", "png", "thumbnail", "resize-png"])
@pytest.mark.parametrize("source_format", ["gif", "webp"])
def test_one_picture_outputs_take_the_first_frame(service: LocalService, inputs: dict[str, Path], tmp_path: Path,
                                                  source_format: str, nodes: list[tuple[str, dict[str, Any]]],
                                                  fmt: str, size: tuple[int, int]) -> None:
    result = run(service, inputs[source_format], tmp_path, *nodes)
    image = pyvips.Image.new_from_buffer(only_output(result), "")
    assert image.get("vips-loader").startswith(f"{fmt}load")
    assert not image.get_typeof("n-pages") or image.get("n-pages") == 1
    assert (image.width, image.height) == size
    assert (result.outputs[0].content_type, ) == (f"image/{fmt}", )
    assert_colour(top_colour(image), COLOURS[0])


def test_avif_sequence_keeps_frames_and_delays(service: LocalService, tmp_path: Path) -> None:
    from PIL import features

    if not features.check("avif"):
        pytest.skip("Pillow is built without AVIF")
    source = tmp_path / "clip.avif"
    source.write_bytes(avif_sequence())
    out = tmp_path / "out"
    for nodes, fmt in (([("resize", {"width": 48})], "avif"), ([("convert", {"outputFormat": "gif"})], "gif")):
        data = only_output(run(service, source, out, *nodes))
        frames, delays, _ = read_animation(data)
        assert len(frames) == len(COLOURS)
        assert delays == DELAYS
        assert frames[0].width == (48 if fmt == "avif" else WIDTH)
        for frame, colour in zip(frames, COLOURS, strict=True):
            assert_colour(top_colour(frame), colour)


def test_gif_to_animated_avif(service: LocalService, inputs: dict[str, Path], tmp_path: Path) -> None:
    from PIL import features

    if not features.check("avif"):
        pytest.skip("Pillow is built without AVIF")
    data = only_output(run(service, inputs["gif"], tmp_path, ("convert", {"outputFormat": "avif"})))
    frames, delays, _ = read_animation(data)
    assert (len(frames), delays) == (len(COLOURS), DELAYS)
    assert_colour(top_colour(frames[3]), COLOURS[3])


def ten_thousand_frames() -> bytes:
    """A hostile GIF: 10,000 tiny frames, each different from the one before (none are merged)."""
    count = 10_000
    xyz = pyvips.Image.xyz(4, 4 * count)
    index = (xyz[1] / 4).floor()
    spot = ((xyz[0] + (xyz[1] % 4) * 4 - index % 16).abs() < 0.5).ifthenelse(255, 0)
    roll = spot.bandjoin([spot, spot]).cast("uchar").copy(interpretation="srgb")
    roll.set_type(pyvips.GValue.gint_type, "page-height", 4)
    return bytes(roll.gifsave_buffer())


def _failed(service: LocalService, result: FileResult, source: Path, original: bytes) -> dict[str, Any]:
    assert result.status == "failed"
    assert result.outputs == []
    assert source.read_bytes() == original
    record = service.adapters.runs.get_run("t1", result.run_id)
    assert record["status"] == "failed"
    stored = service.adapters.blobs.local_path(record["input"]["media"]["key"]).read_bytes()
    assert stored == original, "the uploaded original is kept"
    error = record["error"]
    assert isinstance(error, dict)
    [step] = [step for step in service.adapters.runs.steps("t1", result.run_id) if step["status"] == "failed"]
    assert (step["nodeId"], step["error"]) == ("n0-" + step["kind"], error["error"]), "the node failed, named"
    return error


def test_too_many_frames_fails_the_node_by_name(service: LocalService, tmp_path: Path) -> None:
    source = tmp_path / "hostile.gif"
    original = ten_thousand_frames()
    source.write_bytes(original)
    assert pyvips.Image.new_from_buffer(original, "").get("n-pages") == 10_000
    result = run(service, source, tmp_path / "out", ("resize", {"width": 2}))
    error = _failed(service, result, source, original)
    assert error["error"] == "TooManyFrames", error
    assert "10000 frames is over the limit of 1000" in error["message"]


def test_pixel_budget_counts_every_frame(tmp_path: Path, inputs: dict[str, Path]) -> None:
    # One frame (96 x 64 = 6144 px) fits; six frames (36864 px) do not.
    settings = Settings(data_dir=tmp_path / "data", workers=1, max_pixels=20_000)
    with LocalService(settings, tenant="t1") as tight:
        original = inputs["gif"].read_bytes()
        result = run(tight, inputs["gif"], tmp_path / "out", ("convert", {"outputFormat": "webp"}))
        error = _failed(tight, result, inputs["gif"], original)
        assert error["error"] == "MediaTooLarge", error
        assert "6 frames" in error["message"]
        # The budget also bounds the result: six 24 x 16 frames (2304 px) enlarged to 96 x 64 each.
        small = pyvips.Image.new_from_buffer(original, "", n=-1).resize(0.25).copy()
        small.set_type(pyvips.GValue.gint_type, "page-height", HEIGHT // 4)
        tiny = tmp_path / "tiny.gif"
        tiny.write_bytes(bytes(small.gifsave_buffer()))
        result = run(tight, tiny, tmp_path / "out", ("resize", {"width": WIDTH, "withoutEnlargement": False}))
        error = _failed(tight, result, tiny, tiny.read_bytes())
        assert error["error"] == "MediaTooLarge" and "the result" in error["message"], error
        still = tmp_path / "still.png"
        still.write_bytes(bytes(sample_image(WIDTH, HEIGHT).pngsave_buffer()))
        assert run(tight, still, tmp_path / "out", ("convert", {"outputFormat": "webp"})).status == "completed"


def test_smart_crop_region_is_chosen_once_for_every_frame(service: LocalService, tmp_path: Path) -> None:
    """A detailed object moves from the left edge to the right; the entropy crop chosen on the first frame
    (at the left, not the centre) holds for every frame, so the crop does not jump."""
    frames = []
    for index in range(6):
        gradient = (pyvips.Image.xyz(WIDTH, HEIGHT)[0] * 2).cast("uchar")
        # the blue level changes per frame: encoders merge identical consecutive frames
        flat = gradient * 0
        frame = gradient.bandjoin([flat + 100, flat + 60 + index * 20]).cast("uchar").copy(interpretation="srgb")
        noise = (pyvips.Image.gaussnoise(20, 20, sigma=80, mean=128, seed=index)).cast("uchar")
        frame = frame.insert(noise.bandjoin([noise, noise]).copy(interpretation="srgb"), 2 + index * 14, 30)
        frames.append(frame)
    roll = pyvips.Image.arrayjoin(frames, across=1).copy()
    roll.set_type(pyvips.GValue.gint_type, "page-height", HEIGHT)
    roll.set_type(pyvips.GValue.array_int_type, "delay", DELAYS)
    source = tmp_path / "moving.webp"
    source.write_bytes(bytes(roll.webpsave_buffer(lossless=True)))
    data = only_output(run(service, source, tmp_path / "out",
                           ("resize", {"width": 40, "height": HEIGHT, "fit": "cover", "gravity": "entropy"}),
                           ("convert", {"outputFormat": "webp", "lossless": True})))
    out, delays, _ = read_animation(data)
    assert (len(out), delays) == (6, DELAYS)
    lefts = {round(frame.getpoint(0, 0)[0] / 2) for frame in out}  # the gradient row says where each crop began
    assert len(lefts) == 1, f"every frame is cropped at the same place, got lefts {sorted(lefts)}"
    assert lefts.pop() < (WIDTH - 40) // 2, "the region follows the first frame's object, not the centre"


def test_exif_orientation_turns_every_frame(service: LocalService, tmp_path: Path) -> None:
    roll = pyvips.Image.new_from_buffer(animated_image("webp"), "", n=-1).copy()
    roll.set_type(pyvips.GValue.gint_type, "orientation", 6)
    source = tmp_path / "turned.webp"
    source.write_bytes(bytes(roll.webpsave_buffer(Q=90)))
    turned, delays, _ = read_animation(only_output(run(service, source, tmp_path / "a", ("resize", {"width": 32}))))
    assert (len(turned), delays) == (len(COLOURS), DELAYS)
    assert {(frame.width, frame.height) for frame in turned} == {(32, 48)}
    assert_colour(top_colour(turned[2].rot270()), COLOURS[2])
    kept = only_output(run(service, source, tmp_path / "b", ("strip_metadata", {"keepOrientation": True})))
    frames, _, _ = read_animation(kept)
    assert {(frame.width, frame.height) for frame in frames} == {(WIDTH, HEIGHT)}
    assert pyvips.Image.new_from_buffer(kept, "").get("orientation") == 6


_PEAK_PROBE = """
import json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from tests.e2e.image_support import make_env, payload
from mediaflow.workers import image as worker

env = make_env(Path(sys.argv[2]))
media = env.blobs.put_file("acme/uploads/long.webp", Path(sys.argv[3]), "image/webp")
ops = [("r", "resize", {"width": 240}), ("w", "watermark", {"text": "mediaflow"})]
result = worker.run_chain(payload(media, *ops), env)
hwm_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"peakMb": hwm_kb / 1024, "frames": result.outcomes[-1].output["frames"]}))
"""


@pytest.mark.slow
def test_long_animation_peak_rss_under_250_mb(tmp_path: Path) -> None:
    """120 frames of 480 x 270 (16 MP over all frames) resized and watermarked frame by frame (held open as
    lazy pipelines, these frames took over 800 MB)."""
    import json
    import subprocess
    import sys

    base = sample_image(480, 270)
    roll = pyvips.Image.arrayjoin([base.embed(index * 2, 0, 480, 270, extend="repeat") for index in range(120)],
                                  across=1).copy()
    roll.set_type(pyvips.GValue.gint_type, "page-height", 270)
    source = tmp_path / "long.webp"
    source.write_bytes(bytes(roll.webpsave_buffer(Q=70, effort=0)))
    root = Path(__file__).resolve().parents[2]
    probe = subprocess.run([sys.executable, "-c", _PEAK_PROBE, str(root), str(tmp_path / "run"), str(source)],
                           capture_output=True, text=True, timeout=300, check=True)
    report = json.loads(probe.stdout.strip().splitlines()[-1])
    assert report["frames"] == 120
    assert report["peakMb"] <= 250, report


def test_fan_out_keeps_the_animation_on_one_branch_and_a_still_on_the_other(service: LocalService,
                                                                            inputs: dict[str, Path],
                                                                            tmp_path: Path) -> None:
    definition = {
        "name": "animated fan-out",
        "nodes": [{"id": "upload", "kind": "upload"},
                  {"id": "resize", "kind": "resize", "config": {"width": 48}},
                  {"id": "webp", "kind": "convert", "config": {"outputFormat": "webp"}},
                  {"id": "poster", "kind": "thumbnail", "config": {"width": 24, "outputFormat": "jpeg"}}],
        "edges": [{"source": "upload", "target": "resize"}, {"source": "resize", "target": "webp"},
                  {"source": "resize", "target": "poster"}],
        "trigger": {"onUpload": True, "filters": {"mediaTypes": ["image"]}},
    }
    [result] = service.run_files(validate(definition), [inputs["gif"]], tmp_path)
    assert result.status == "completed", result.error
    by_type = {output.content_type: output.path for output in result.outputs}
    assert set(by_type) == {"image/webp", "image/jpeg"}
    webp, jpeg = by_type["image/webp"], by_type["image/jpeg"]
    assert webp is not None and jpeg is not None
    frames, delays, loop = read_animation(webp.read_bytes())
    assert (len(frames), delays, loop) == (len(COLOURS), DELAYS, LOOP)
    poster = pyvips.Image.new_from_buffer(jpeg.read_bytes(), "")
    assert (poster.width, poster.height) == (24, 16)
    assert_colour(top_colour(poster), COLOURS[0])
