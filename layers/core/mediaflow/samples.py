"""Sample media generated on the spot (demo, test runs with ``{"sample": true}``, benchmarks).

Nothing is downloaded: images come from libvips, video and audio from ffmpeg's lavfi sources. The zip API
function has neither (its layer holds Pillow): there images and documents come from Pillow and the audio
tone from the standard library, and a video sample is refused (``SampleUnavailable``, docs/api.md).
"""

from __future__ import annotations

import math
import shutil
import struct
import subprocess
import wave
from pathlib import Path


def photo(path: Path, width: int = 3000, height: int = 2000, *, seed: int = 1, quality: int = 90) -> Path:
    """A photo-like JPEG (smooth gradients, shapes, texture noise) with EXIF incl. GPS."""
    try:
        import pyvips
    except ImportError:
        return _photo_with_pillow(path, width, height, seed=seed, quality=quality)

    x = pyvips.Image.xyz(width, height)
    gx, gy = x[0] / width, x[1] / height
    red = gx * 180 + 40
    green = gy * 150 + 60
    blue = ((gx + gy) / 2) * 120 + 80 + seed % 7 * 5
    image = red.bandjoin([green, blue])
    cx, cy, radius = width * 0.6, height * 0.45, min(width, height) * 0.25
    distance = ((x[0] - cx) ** 2 + (x[1] - cy) ** 2) ** 0.5
    disc = (distance < radius).ifthenelse([230, 200, 60], image)
    noise = pyvips.Image.gaussnoise(width, height, sigma=12, mean=0).bandjoin([
        pyvips.Image.gaussnoise(width, height, sigma=12), pyvips.Image.gaussnoise(width, height, sigma=12)])
    result = (disc + noise).cast("uchar").copy(interpretation="srgb")
    result = result.copy()
    result.set_type(pyvips.GValue.gstr_type, "exif-ifd0-Make", "mediaflow sample")
    result.set_type(pyvips.GValue.gstr_type, "exif-ifd0-Software", "mediaflow")
    result.set_type(pyvips.GValue.gstr_type, "exif-ifd3-GPSLatitudeRef", "N")
    result.set_type(pyvips.GValue.gstr_type, "exif-ifd3-GPSLatitude", "48/1 51/1 2981/100")
    path.parent.mkdir(parents=True, exist_ok=True)
    result.jpegsave(str(path), Q=quality)
    return path


def _photo_with_pillow(path: Path, width: int, height: int, *, seed: int, quality: int) -> Path:
    from PIL import Image, ImageChops, ImageDraw

    across = Image.linear_gradient("L").rotate(90).resize((width, height))
    down = Image.linear_gradient("L").resize((width, height))
    blue = ImageChops.add(across, down, scale=2.0, offset=40 + seed % 7 * 5)
    image = Image.merge("RGB", (across.point(lambda v: v * 180 // 255 + 40),
                                down.point(lambda v: v * 150 // 255 + 60), blue))
    radius, cx, cy = min(width, height) * 0.25, width * 0.6, height * 0.45
    ImageDraw.Draw(image).ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=(230, 200, 60))
    noise = Image.effect_noise((width, height), 12).convert("RGB")
    image = ImageChops.add(image, noise, scale=1.0, offset=-128)
    exif = Image.Exif()
    exif[0x010F] = "mediaflow sample"  # Make
    exif[0x0131] = "mediaflow"  # Software
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 29.81)}  # GPS IFD: latitude
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, "JPEG", quality=quality, exif=exif)
    return path


def subject_on_flat_background(path: Path, size: int = 640) -> Path:
    """A PNG with one clear subject (a shaded disc with a 'head') on a flat light background."""
    import pyvips

    x = pyvips.Image.xyz(size, size)
    body = ((x[0] - size * 0.5) ** 2 / (size * 0.22) ** 2 + (x[1] - size * 0.68) ** 2 / (size * 0.26) ** 2) < 1
    head = ((x[0] - size * 0.5) ** 2 + (x[1] - size * 0.3) ** 2) ** 0.5 < size * 0.14
    subject = body | head
    shade = (x[1] / size * 80 + 60).cast("uchar")
    colour = shade.bandjoin([shade * 0.5, (shade * 0 + 170)]).cast("uchar")
    background = pyvips.Image.black(size, size, bands=3) + [236, 240, 244]  # noqa: RUF005 - pixel arithmetic
    image = subject.ifthenelse(colour, background).cast("uchar").copy(interpretation="srgb")
    path.parent.mkdir(parents=True, exist_ok=True)
    image.pngsave(str(path))
    return path


def ffmpeg_binary() -> str | None:
    return shutil.which("ffmpeg")


def video(path: Path, seconds: float = 6.0, *, size: str = "640x360", audio: bool = True) -> Path:
    """An H.264/AAC MP4 from ffmpeg's testsrc2 and a sine tone."""
    binary = ffmpeg_binary()
    if binary is None:
        raise RuntimeError("ffmpeg is not installed (make setup installs it)")
    path.parent.mkdir(parents=True, exist_ok=True)
    command = [binary, "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
               "-i", f"testsrc2=size={size}:rate=25:duration={seconds}"]
    if audio:
        command += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}"]
    command += ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p"]
    command += ["-c:a", "aac", "-shortest"] if audio else []
    command += ["-movflags", "+faststart", str(path)]
    subprocess.run(command, check=True, timeout=120)
    return path


def tone(path: Path, seconds: float = 8.0) -> Path:
    """A WAV tone with a short silence at the start (for trim and loudness)."""
    binary = ffmpeg_binary()
    path.parent.mkdir(parents=True, exist_ok=True)
    if binary is None:
        return _tone_with_wave(path, seconds)
    subprocess.run([binary, "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
                    "-i", f"sine=frequency=330:sample_rate=44100:duration={seconds}",
                    "-af", "volume=0.3", str(path)], check=True, timeout=60)
    return path


def _tone_with_wave(path: Path, seconds: float, rate: int = 44100) -> Path:
    frames = int(seconds * rate)
    silence = int(0.2 * rate)
    samples = (0 if i < silence else int(0.3 * 32767 * math.sin(2 * math.pi * 330 * i / rate)) for i in range(frames))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"".join(struct.pack("<h", s) for s in samples))
    return path


def pdf(path: Path) -> Path:
    """A one-page PDF (an image page, made with img2pdf; with Pillow where libvips is absent)."""
    try:
        import img2pdf
        import pyvips
    except ImportError:
        return _pdf_with_pillow(path)

    page = pyvips.Image.text("mediaflow sample document", dpi=300, width=1800).gravity(
        "centre", 2480, 3508, extend="white").copy(interpretation="b-w")
    png = page.pngsave_buffer()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(img2pdf.convert(png))
    return path


def _pdf_with_pillow(path: Path) -> Path:
    from PIL import Image, ImageDraw, ImageFont

    page = Image.new("L", (1240, 1754), 255)  # A4 at 150 dpi
    ImageDraw.Draw(page).text((620, 877), "mediaflow sample document", fill=0, anchor="mm",
                              font=ImageFont.load_default(size=64))
    path.parent.mkdir(parents=True, exist_ok=True)
    page.save(path, "PDF", resolution=150.0)
    return path
