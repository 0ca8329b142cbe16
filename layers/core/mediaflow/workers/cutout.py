"""The rembg runtime: background removal with one onnxruntime session per model per worker process.

Models are never downloaded at run time: the file must already be in ``settings.u2net_home``
(``make setup`` places u2netp there; the rembg Lambda image bakes it in).
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mediaflow.errors import MediaDecodeError, MediaTooLarge, ToolchainError, UnsupportedMedia
from mediaflow.execution.contract import ChainResult, OpOutcome, TaskEnvironment, TaskPayload
from mediaflow.execution.tasks import input_file, output_prefix, parse_op, scratch_dir
from mediaflow.filenames import clean_component, original_stem
from mediaflow.settings import Settings
from mediaflow.sniff import sniff_file

if TYPE_CHECKING:
    from mediaflow.nodes.background_remove import Config

RASTER = frozenset({"jpeg", "png", "webp", "gif", "tiff", "bmp", "heic", "avif"})
CONTENT_TYPES = {"png": "image/png", "webp": "image/webp"}

_SESSIONS: dict[str, Any] = {}
_LOCK = threading.Lock()


def providers() -> list[str]:
    """CUDA first when this onnxruntime build has it, else the CPU."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    if "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def _thread_lock_for_numba() -> None:
    """numba guards the start of its thread pool (loading rembg's cached parallel kernels) with a
    multiprocessing RLock wherever the start method's name contains "fork": a named semaphore that the
    resource tracker watches. A worker starts that pool once, runs one task at a time and ends with
    ``os._exit``, so the semaphore outlived it and the tracker reported it as leaked when the command
    ended. A thread lock guards the same start within the one process that runs it."""
    try:
        from numba.np.ufunc import parallel
    except ImportError:
        return
    if getattr(parallel, "_backend_init_process_lock", True) is None:
        parallel._backend_init_process_lock = threading.RLock()  # type: ignore[assignment]


def session_for(model: str, settings: Settings) -> Any:
    """The process-wide session of ``model``, created on first use and reused for every item."""
    with _LOCK:
        if model in _SESSIONS:
            return _SESSIONS[model]
        model_file = Path(settings.u2net_home).expanduser() / f"{model}.onnx"
        if not model_file.is_file():
            raise ToolchainError(f"model file {model_file} is missing (make setup installs u2netp)")
        os.environ["U2NET_HOME"] = str(model_file.parent)
        if settings.numba_cache_dir:
            os.environ.setdefault("NUMBA_CACHE_DIR", str(settings.numba_cache_dir))
        import onnxruntime as ort

        _thread_lock_for_numba()
        from rembg import new_session

        options = ort.SessionOptions()
        options.intra_op_num_threads = settings.rembg_threads  # u2netp gives identical masks at any count
        options.inter_op_num_threads = 1
        try:
            _SESSIONS[model] = new_session(model, sess_opts=options, providers=providers())
        except ValueError as error:
            raise ToolchainError(f"rembg has no model named {model!r}") from error
        return _SESSIONS[model]


def _open_image(path: Path, node_id: str, max_pixels: int) -> Any:
    from PIL import ImageOps

    from mediaflow.workers.pillow_fallback import DECODE_ERRORS, opened

    sniffed = sniff_file(path)
    if sniffed.format not in RASTER:
        raise UnsupportedMedia(f"background_remove needs a raster image, got {sniffed.format}", node_id=node_id)
    try:
        with opened(path, sniffed.format) as image:
            if image.width * image.height > max_pixels:
                raise MediaTooLarge(f"{image.width}x{image.height} is more than {max_pixels} pixels",
                                    node_id=node_id)
            image.load()
            return ImageOps.exif_transpose(image).convert("RGB")
    except DECODE_ERRORS as error:
        raise MediaDecodeError(f"could not decode the image: {error or type(error).__name__}",
                               node_id=node_id) from error


def cut_out(image: Any, config: Config, session: Any) -> Any:
    from rembg import remove

    background = None
    if config.background_color:
        value = config.background_color.lstrip("#")
        channels = [int(value[i:i + 2], 16) for i in range(0, len(value), 2)]
        background = (*channels[:3], channels[3] if len(channels) == 4 else 255)
    return remove(image, session=session, alpha_matting=config.alpha_matting, only_mask=config.only_mask,
                  bgcolor=background)


def run_chain(task: TaskPayload, env: TaskEnvironment) -> ChainResult:
    op = task.ops[0]
    if len(task.ops) != 1 or op.kind != "background_remove":
        raise ToolchainError("the rembg runtime runs one background_remove op per task", node_id=op.node_id)
    _, config = parse_op(op, frozenset({"background_remove"}), "rembg")
    started = time.time()
    with scratch_dir(env, "rembg-") as workdir:
        source = workdir / "source"
        source = input_file(env, task.media.key, source)
        image = _open_image(source, op.node_id, env.settings.max_pixels)
        session = session_for(config.model_name(), env.settings)
        result = cut_out(image, config, session)
        filename = f"{clean_component(original_stem(task.media)) or 'image'}.{config.output_format}"
        target = workdir / filename
        if config.output_format == "webp":
            result.save(target, "WEBP", lossless=True, method=4)
        else:
            result.save(target, "PNG", compress_level=6)
        key = f"{output_prefix(task, op.node_id)}/{filename}"
        stored = env.blobs.put_file(key, target, CONTENT_TYPES[config.output_format], move=True)
        media = task.media.model_copy(update={
            "bucket": stored.bucket, "key": stored.key, "etag": stored.etag, "size": stored.size,
            "content_type": CONTENT_TYPES[config.output_format], "media_type": "image",
            "width": result.width, "height": result.height, "filename": filename,
            "source_key": task.media.source_key or task.media.key, "related": [],
        })
        outcome = OpOutcome(op.node_id, op.kind, started, time.time(),
                            {"model": config.model_name(), "providers": providers(), "key": stored.key})
        return ChainResult(media=media, outcomes=[outcome])
