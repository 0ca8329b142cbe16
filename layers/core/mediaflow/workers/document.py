"""PDF pages to images with pypdfium2 (the `pdf_preview` kind, on the vips runtime's image).

PDFs are untrusted: JavaScript, launch actions and embedded files are refused before rendering,
forms are never initialised (pdfium then runs no scripts), and the pixel budget applies per page.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from mediaflow.errors import ActiveContentRefused, MediaDecodeError, MediaTooLarge, NodeError, UnsupportedMedia
from mediaflow.execution.contract import ChainResult, OpOutcome, TaskEnvironment, TaskPayload
from mediaflow.execution.tasks import input_file, output_prefix, scratch_dir
from mediaflow.filenames import clean_component, original_stem
from mediaflow.media import MediaRef
from mediaflow.nodes.pdf_preview import Config
from mediaflow.sniff import sniff_file

ACTIVE_CONTENT = re.compile(rb"/(JavaScript|JS|Launch|EmbeddedFile|RichMedia|OpenAction\s*<<[^>]*/S\s*/JavaScript)\b")
CONTENT_TYPES = {"png": "image/png", "webp": "image/webp", "jpeg": "image/jpeg"}
EXTENSIONS = {"png": "png", "webp": "webp", "jpeg": "jpg"}


def _refuse_active_content(path: Path, pdf: Any, node_id: str) -> None:
    """Scan the raw bytes (uncompressed objects) and ask pdfium (compressed object streams too)."""
    import pypdfium2.raw as pdfium_c

    with path.open("rb") as handle:
        head_and_body = handle.read()
    if ACTIVE_CONTENT.search(head_and_body):
        raise ActiveContentRefused("the PDF carries active content (JavaScript, launch or embedded files)",
                                   node_id=node_id)
    if pdfium_c.FPDFDoc_GetJavaScriptActionCount(pdf.raw) > 0:
        raise ActiveContentRefused("the PDF carries JavaScript actions", node_id=node_id)
    if pdfium_c.FPDFDoc_GetAttachmentCount(pdf.raw) > 0:
        raise ActiveContentRefused("the PDF carries embedded files", node_id=node_id)


def render_pages(path: Path, config: Config, node_id: str, max_pixels: int, workdir: Path) -> list[Path]:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as error:
        raise MediaDecodeError(f"not a readable PDF: {error}", node_id=node_id) from error
    try:
        _refuse_active_content(path, pdf, node_id)
        count = len(pdf)
        outputs = []
        for number in config.pages:
            if number > count:
                raise NodeError(f"page {number} asked for, the PDF has {count}", node_id=node_id,
                                field="config.pages")
            page = pdf[number - 1]
            width, height = page.get_size()
            scale = config.width / width if config.width else config.dpi / 72
            if width * scale * height * scale > max_pixels:
                raise MediaTooLarge(f"page {number} would render to more than {max_pixels} pixels",
                                    node_id=node_id)
            image = page.render(scale=scale, may_draw_forms=False).to_pil()
            target = workdir / f"page-{number}.{EXTENSIONS[config.output_format]}"
            if config.output_format == "jpeg":
                image.convert("RGB").save(target, "JPEG", quality=85, optimize=True)
            elif config.output_format == "webp":
                image.save(target, "WEBP", quality=85, method=4)
            else:
                image.save(target, "PNG", optimize=False, compress_level=6)
            outputs.append(target)
            page.close()
        return outputs
    finally:
        pdf.close()


def run_pdf_preview(task: TaskPayload, env: TaskEnvironment) -> ChainResult:
    op = task.ops[0]
    config = Config.model_validate(op.config)
    started = time.time()
    with scratch_dir(env, "pdf-") as workdir:
        source = workdir / "source.pdf"
        source = input_file(env, task.media.key, source)
        sniffed = sniff_file(source)
        if sniffed.format != "pdf":
            raise UnsupportedMedia(f"pdf_preview needs a PDF, got {sniffed.format}", node_id=op.node_id)
        pages = render_pages(source, config, op.node_id, env.settings.max_pixels, workdir)
        stem = clean_component(original_stem(task.media)) or "document"
        refs: list[MediaRef] = []
        for number, page_path in zip(config.pages, pages, strict=True):
            filename = f"{stem}-page-{number}.{EXTENSIONS[config.output_format]}"
            key = f"{output_prefix(task, op.node_id)}/{filename}"
            stored = env.blobs.put_file(key, page_path, CONTENT_TYPES[config.output_format])
            from PIL import Image

            with Image.open(page_path) as rendered:
                width, height = rendered.size
            refs.append(stored.model_copy(update={
                "media_type": "image", "width": width, "height": height, "filename": filename,
                "metadata": dict(task.media.metadata), "source_key": task.media.source_key or task.media.key,
            }))
        main = refs[0].model_copy(update={"related": [ref.to_state() for ref in refs[1:]]})
        outcome = OpOutcome(op.node_id, "pdf_preview", started, time.time(),
                            {"pages": list(config.pages), "keys": [ref.key for ref in refs]})
        return ChainResult(media=main, outcomes=[outcome])
