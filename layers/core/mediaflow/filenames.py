"""Path-safe names for stored objects: one filename component, the current stem of a media, the key
prefix of a node's outputs. Used by the workers, the task dispatch and the node kinds alike."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from mediaflow.sniff import MEDIA_EXTENSIONS

if TYPE_CHECKING:
    from mediaflow.execution.contract import RunContext
    from mediaflow.media import MediaRef

DEFAULT_STEM = "file"

_SEPARATORS = re.compile(r"[/\\]+")
_DOTS = re.compile(r"\.{2,}")
KNOWN_EXTENSIONS = MEDIA_EXTENSIONS | {"json", "txt", "bin", "vtt", "zip"}
"""The extensions a name's stem is told from: every media format's, and the files a run writes beside them."""


@lru_cache(maxsize=4096)  # a Task cleans the same tenant, run and node ids several times
def clean_component(text: str) -> str:
    """One path-safe name: no separators, no control characters, no ``..``, no leading dot or space."""
    text = unicodedata.normalize("NFC", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp"))
    text = _SEPARATORS.sub("_", text)
    text = _DOTS.sub(".", text)
    return text.strip().lstrip(". ").rstrip(" ")


def split_extension(name: str) -> tuple[str, str]:
    """``(stem, extension)`` when ``name`` ends with a known media extension, else ``(name, "")``."""
    stem, dot, ext = name.rpartition(".")
    if dot and stem and ext.lower() in KNOWN_EXTENSIONS:
        return stem, ext
    return name, ""


def original_stem(media: MediaRef) -> str:
    """The current name of ``media`` without its extension (from the filename, else the key)."""
    name = media.filename or PurePosixPath(media.source_key or media.key).name
    stem, _ = split_extension(clean_component(name))
    return stem or DEFAULT_STEM


def run_prefix(tenant: str, run_id: str) -> str:
    """``{tenant}/runs/{runId}``, every part path-safe: the folder of every output of one run."""
    return "/".join(clean_component(part) or "_" for part in (tenant, "runs", run_id))


def node_prefix(run: RunContext, item: int | None, node_id: str) -> str:
    """``{tenant}/runs/{runId}[/item-{i}]/{nodeId}``, every part path-safe: one place per (run, node, item)."""
    parts = [] if item is None else [f"item-{item}"]  # items of one batch never share an output key
    parts.append(node_id)
    return "/".join([run_prefix(run.tenant, run.run_id), *(clean_component(part) or "_" for part in parts)])


def output_file_name(key: str, filename: str, wanted: Any = None) -> str:
    """The name, relative to an input's folder of ``mediaflow run --out`` (local or ``--api``), of the output at
    ``key``: for an object the storage node put under the tenant's outputs, the name it asked for (``wanted``,
    the reference's ``outputName``: prefix included; a ``..`` or absolute one, which the node never writes, is
    not trusted), else the output's file name made safe."""
    from mediaflow.ids import safe_name

    parts = key.split("/")
    if len(parts) > 2 and parts[1] == "outputs":
        relative = "/".join(parts[2:])
        if isinstance(wanted, str) and wanted and not wanted.startswith("/") and ".." not in wanted.split("/"):
            relative = wanted
        return relative
    return safe_name(filename)
