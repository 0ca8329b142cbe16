"""pdf_preview on real PDFs (made with img2pdf and by hand); active content is refused."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import img2pdf
import pytest
from mediaflow.errors import ActiveContentRefused, MediaDecodeError, NodeError, UnsupportedMedia
from mediaflow.execution.tasks import execute_task
from PIL import Image

from tests.e2e.image_support import jpeg_bytes, make_env, payload, upload

pytestmark = pytest.mark.e2e


def pdf_bytes(pages: int = 1, size: tuple[int, int] = (600, 800)) -> bytes:
    images = []
    for index in range(pages):
        buffer = io.BytesIO()
        Image.new("RGB", size, (40 * index % 255, 120, 200)).save(buffer, "PNG")
        images.append(buffer.getvalue())
    return bytes(img2pdf.convert(images))


def javascript_pdf() -> bytes:
    """A minimal one-page PDF whose OpenAction runs JavaScript."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R /OpenAction 4 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
        b"<< /S /JavaScript /JS (app.launchURL\\('http://127.0.0.1:9/x'\\);) >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def test_first_page_to_png_with_width(tmp_path: Path) -> None:
    env = make_env(tmp_path)
    media = upload(env, pdf_bytes(), "report.pdf")
    result = execute_task(payload(media, ("p", "pdf_preview", {"width": 300})), env)
    assert result["contentType"] == "image/png" and result["mediaType"] == "image"
    assert result["filename"] == "report-page-1.png"
    data = env.blobs.read(result["key"])  # type: ignore[attr-defined]
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG" and image.size == (300, 400)


def test_several_pages_as_related_outputs(tmp_path: Path) -> None:
    env = make_env(tmp_path)
    media = upload(env, pdf_bytes(pages=3), "deck.pdf")
    result = execute_task(payload(media, ("p", "pdf_preview", {"pages": [1, 3], "dpi": 36,
                                                                 "outputFormat": "webp"})), env)
    assert result["filename"] == "deck-page-1.webp"
    assert [related["filename"] for related in result["related"]] == ["deck-page-3.webp"]
    for key in (result["key"], result["related"][0]["key"]):
        with Image.open(io.BytesIO(env.blobs.read(key))) as image:  # type: ignore[attr-defined]
            assert image.format == "WEBP" and image.size == (225, 300)  # 450x600 pt at 36 dpi


@pytest.mark.parametrize(("data", "error"), [
    (javascript_pdf(), ActiveContentRefused),
    (pdf_bytes()[:200], MediaDecodeError),
    (jpeg_bytes(64, 64), UnsupportedMedia),
])
def test_hostile_or_wrong_input_fails_with_a_named_error(tmp_path: Path, data: bytes,
                                                         error: type[Exception]) -> None:
    env = make_env(tmp_path)
    media = upload(env, data, "upload.pdf")
    before = hashlib.sha256(env.blobs.read(media.key)).hexdigest()  # type: ignore[attr-defined]
    with pytest.raises(error) as raised:
        execute_task(payload(media, ("p", "pdf_preview", {})), env)
    assert getattr(raised.value, "node_id", None) == "p"
    assert hashlib.sha256(env.blobs.read(media.key)).hexdigest() == before  # type: ignore[attr-defined]


def test_missing_page_is_a_clear_error(tmp_path: Path) -> None:
    env = make_env(tmp_path)
    media = upload(env, pdf_bytes(pages=1), "one.pdf")
    with pytest.raises(NodeError, match="page 4 asked for, the PDF has 1"):
        execute_task(payload(media, ("p", "pdf_preview", {"pages": [4]})), env)
