"""The node catalog: every kind, its category, runtime, config model and cost assumptions, and every
runtime's worker, label and Lambda resource.

Adding a kind means one module in ``mediaflow.nodes`` (its ``Config`` and the executor its runtime calls,
see the Protocols in :mod:`mediaflow.nodes.base`) plus one entry here. The workers, the compiler, the
validation, the API schema and the docs read the kind from here; nothing else lists kinds.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal, cast

if TYPE_CHECKING:  # the node modules are loaded by name (NodeSpec.module): the catalog sits above them
    from mediaflow.definition import WorkflowDefinition
    from mediaflow.nodes.base import NodeConfig, RoutedByConfig

Category = Literal["trigger", "image", "video", "audio", "document", "logic", "utility", "delivery"]
Runtime = Literal["vips", "ffmpeg", "rembg", "light"]
Role = Literal["trigger", "task", "choice", "gate"]
# What an image kind does with an animated GIF, WebP or AVIF input (mediaflow.workers.animation):
# per_frame: runs on every frame; whole: leaves pixels alone, the animation goes on; first_frame: makes one
# picture from the first frame; view: reads the first frame, the animation goes on unchanged.
AnimationMode = Literal["per_frame", "whole", "first_frame", "view"]
ANIMATION_NOTES: dict[str, str] = {
    "per_frame": "Animated GIF, WebP and AVIF: applied to every frame; frame count, delays and loop are kept "
                 "(a GIF, WebP or AVIF output stays animated, any other format takes the first frame)",
    "whole": "Animated GIF, WebP and AVIF: frame count, delays and loop are kept when the output is GIF, WebP "
             "or AVIF (GIF <-> WebP conversions stay animated); JPEG, PNG and TIFF take the first frame",
    "first_frame": "Animated GIF, WebP and AVIF: made from the first frame",
    "view": "Animated GIF, WebP and AVIF: describes the first frame (`pages` is the frame count); the "
            "animation goes on unchanged",
}


@dataclass(frozen=True)
class RuntimeProfile:
    """A runtime: the worker that runs its ops, its name in messages, its Lambda function (the ``Resource``
    placeholder of compiled Tasks) and what one invocation is assumed to cost (docs/pricing.md)."""

    worker: str
    """``module:function`` of the worker (a :data:`mediaflow.execution.contract.Worker`)."""
    label: str
    resource: str
    memory_mb: int
    seconds_per_task: float
    timeout_seconds: int
    long_running: bool
    ahead: str | None = None
    """``module:function(paths, document)`` that starts some of this runtime's work on a run's first input
    files (``document``: the workflow file as written, not validated) before its Tasks ask, and returns the
    call that hands it over. `mediaflow run` calls it first thing, before it loads its settings and models, so
    the module imports neither (a test checks); the zygote its workers fork from later makes that call once it
    has loaded the worker modules, before it forks them: the call waits for the work (an ffprobe) or registers
    it for the workers to wait on when a Task needs it (a decode, which the zygote would wait for too long)."""
    one_thread: bool = False
    """Whether a Task of this runtime runs on one thread (libvips at ``MEDIAFLOW_VIPS_CONCURRENCY`` 1, a light
    node's calls): a pool of such workers that fills the cores may keep each on one (``pin_workers``). ffmpeg
    and onnxruntime spread a Task over every core its worker may use; pinned, a folder's last Task would run
    alone on one core."""

    @property
    def worker_module(self) -> str:
        return self.worker.partition(":")[0]

    @property
    def placeholder(self) -> str:
        """The template parameter behind :attr:`resource` (``VipsFunctionArn``)."""
        return self.resource[2:-1]


RUNTIMES: dict[str, RuntimeProfile] = {
    "vips": RuntimeProfile(worker="mediaflow.workers.image:run_chain", label="libvips",
                           resource="${VipsFunctionArn}",
                           memory_mb=1769, seconds_per_task=0.8, timeout_seconds=120, long_running=False,
                           ahead="mediaflow.workers.decode_ahead:decode_ahead", one_thread=True),
    "ffmpeg": RuntimeProfile(worker="mediaflow.workers.video:run_chain", label="ffmpeg",
                             resource="${FfmpegFunctionArn}",
                             memory_mb=3008, seconds_per_task=30.0, timeout_seconds=900, long_running=True,
                             ahead="mediaflow.workers.ffmpeg_tools:probe_ahead"),
    "rembg": RuntimeProfile(worker="mediaflow.workers.cutout:run_chain", label="rembg",
                            resource="${RembgFunctionArn}",
                            memory_mb=3008, seconds_per_task=4.0, timeout_seconds=300, long_running=False),
    "light": RuntimeProfile(worker="mediaflow.workers.light:run_chain", label="light",
                            resource="${LightFunctionArn}",
                            memory_mb=256, seconds_per_task=0.1, timeout_seconds=30, long_running=False,
                            one_thread=True),
}


def worker_modules(runtimes: Iterable[str], kinds: Iterable[str] = ()) -> tuple[str, ...]:
    """What workers of ``runtimes`` load before their first task: each runtime's worker module, then the
    node modules of ``kinds`` (their executors and config models), which each worker would otherwise import
    on its first Task instead of once in the process they fork from."""
    runners = (RUNTIMES[name].worker_module for name in sorted(set(runtimes)) if name in RUNTIMES)
    nodes = sorted({spec.module_path for spec in map(get_spec, kinds) if spec is not None})
    return tuple(dict.fromkeys([*runners, *nodes]))


def one_thread_tasks(runtimes: Iterable[str], vips_concurrency: int) -> bool:
    """Whether every Task of a run whose Tasks use ``runtimes`` runs on one thread (``RuntimeProfile.one_thread``;
    libvips only at a concurrency of 1); False when the runtimes are not known."""
    names = set(runtimes)
    if not names or not names <= RUNTIMES.keys():
        return False
    return all(RUNTIMES[name].one_thread for name in names) and (vips_concurrency == 1 or "vips" not in names)


def runtime_label(runtime: str) -> str:
    """The runtime's name in messages (``libvips`` for ``vips``)."""
    profile = RUNTIMES.get(runtime)
    return profile.label if profile else runtime


@dataclass(frozen=True)
class NodeSpec:
    kind: str
    category: Category
    runtime: Runtime
    summary: str
    role: Role = "task"
    fusable: bool = False
    annotation: bool = False
    example: dict[str, Any] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    needs_media: bool = True  # False: runs in a run with no media (one started by an event)
    also_runs_on: tuple[Runtime, ...] = ()
    """Other runtimes whose worker runs this kind when its config says so (see ``runtime_for``)."""
    geometry: bool = False
    """An image op that may start a chain with a downscale: it defines ``load_size`` (shrink-on-load)."""
    passive: bool = False
    """An image op that leaves pixels and geometry alone, so a later downscale may still shrink on load."""
    module_name: str = ""
    """The node module; default ``mediaflow.nodes.<kind>``."""
    makes_media: bool = False  # True: hands on media it fetched itself, so the nodes after it have media
    animation: AnimationMode | None = None

    @property
    def module_path(self) -> str:
        return self.module_name or f"mediaflow.nodes.{self.kind}"

    @property
    def module(self) -> ModuleType:
        return importlib.import_module(self.module_path)

    @property
    def runtimes(self) -> tuple[str, ...]:
        return (self.runtime, *self.also_runs_on)

    @property
    def config_model(self) -> type[NodeConfig]:
        model: type[NodeConfig] = self.module.Config
        return model

    def runtime_for(self, config: NodeConfig) -> str:
        """The runtime a configured node runs on (convert and thumbnail depend on their config)."""
        if not self.also_runs_on:
            return self.runtime
        routed = cast("RoutedByConfig", self.module)
        return routed.runtime_for(config)

    def schema(self) -> dict[str, Any]:
        return self.config_model.model_json_schema(by_alias=True)


_SPECS: tuple[NodeSpec, ...] = (
    NodeSpec("upload", "trigger", "light", "Entry point: an uploaded file or a file posted to the run API",
             role="trigger", needs_media=False),
    NodeSpec("event", "trigger", "light", "Entry point: POST /v1/workflows/events with a matching name",
             role="trigger", example={"eventName": "product.created"}, needs_media=False),
    NodeSpec("email", "trigger", "light", "Entry point: each media attachment of an inbound email starts a run",
             role="trigger", example={"allowedSenders": ["*@example.com"]}, needs_media=False),
    NodeSpec("queue", "trigger", "light", "Entry point: each message on the workflow's queue starts a run",
             role="trigger", example={"mediaKeyField": "objectKey"}, needs_media=False),
    NodeSpec("convert", "image", "vips", "Re-encode to another format (image formats on libvips, video on ffmpeg)",
             fusable=True, example={"outputFormat": "webp", "compressionLevel": 80},
             also_runs_on=("ffmpeg",), passive=True, animation="whole"),
    NodeSpec("compress", "image", "vips", "Re-encode at a lower quality, keeping the format", fusable=True,
             example={"compressionLevel": 60}, passive=True, animation="whole"),
    NodeSpec("resize", "image", "vips", "Scale to fit a box (inside, cover, contain, fill) with gravity",
             fusable=True, example={"width": 1600, "fit": "inside"}, geometry=True, animation="per_frame"),
    NodeSpec("adjust", "image", "vips", "Brightness, saturation, contrast, hue, grayscale, sharpen, invert",
             fusable=True, example={"brightness": 1.2, "saturation": 1.05, "grayscale": False},
             animation="per_frame"),
    NodeSpec("strip_metadata", "image", "vips", "Drop EXIF, XMP, IPTC, GPS and ICC metadata", fusable=True,
             passive=True, animation="whole"),
    NodeSpec("watermark", "image", "vips", "Overlay a text or an image with position and opacity", fusable=True,
             example={"text": "(c) example", "position": "southeast", "opacity": 0.5}, animation="per_frame"),
    NodeSpec("thumbnail", "image", "vips", "A small preview: an image scaled, or a representative frame of a video",
             fusable=True, example={"width": 256, "crop": "attention"},
             also_runs_on=("ffmpeg",), geometry=True, animation="first_frame"),
    NodeSpec("image_to_pdf", "document", "vips", "Wrap an image in a PDF, losslessly where possible",
             fusable=True, example={"pageSize": "a4"}, passive=True, animation="first_frame"),
    NodeSpec("inspect", "image", "vips", "Read format, dimensions, alpha, orientation, ICC, streams",
             example={"includeExif": True}, passive=True, animation="view"),
    NodeSpec("background_remove", "image", "rembg", "Cut out the subject with rembg",
             example={"outputFormat": "png", "model": "small"}, animation="first_frame"),
    NodeSpec("transcode", "video", "ffmpeg", "Video to mp4 (H.264/AAC), webm (VP9/Opus), AV1 or HLS",
             fusable=True, example={"outputFormat": "mp4", "preset": "720p"}),
    NodeSpec("audio", "audio", "ffmpeg", "Audio re-encode with bitrate, channels and loudness", fusable=True,
             example={"outputFormat": "m4a", "compressionLevel": 80}),
    NodeSpec("trim", "video", "ffmpeg", "Keep a time range of a video or audio file", fusable=True,
             example={"startSeconds": 5, "durationSeconds": 30}),
    NodeSpec("poster_frame", "video", "ffmpeg", "One still frame of a video", fusable=True,
             example={"atPercent": 10, "outputFormat": "jpeg"}),
    NodeSpec("storyboard", "video", "ffmpeg", "Sprite sheet of frames plus WebVTT cues", fusable=True,
             example={"intervalSeconds": 5, "columns": 5}),
    NodeSpec("gif", "video", "ffmpeg", "Animated GIF or WebP preview of a video", fusable=True,
             example={"fps": 10, "width": 320, "durationSeconds": 3}),
    NodeSpec("extract_audio", "audio", "ffmpeg", "The audio track of a video as its own file", fusable=True,
             example={"outputFormat": "m4a"}),
    NodeSpec("pdf_preview", "document", "vips", "Render PDF pages to PNG/WebP/JPEG", example={"pages": [1]}),
    NodeSpec("branch", "logic", "light", "Take the `true` or the `false` edge by conditions on the media or event",
             role="choice", needs_media=False,
             example={"conditions": {"logic": "and", "conditions": [
                 {"field": "mediaType", "op": "eq", "value": "image"}]}}),
    NodeSpec("condition", "logic", "light", "Go on only when the conditions hold (else the path is skipped)",
             role="gate", needs_media=False,
             example={"conditions": {"logic": "or", "conditions": [
                 {"field": "size", "op": "gt", "value": 1000000}]}}),
    NodeSpec("validate", "logic", "light", "Fail the path unless the media meets every rule",
             example={"mediaTypes": ["image"], "maxSizeBytes": 20000000}, needs_media=False),
    NodeSpec("transform", "logic", "light", "Set or remove metadata keys", annotation=True,
             example={"set": {"source": "{original}"}}, needs_media=False),
    NodeSpec("ai_generate", "utility", "light", "Generate a text for the media (alt text, caption) with a model",
             example={"prompt": "Write a short alt text.", "field": "altText"}),
    NodeSpec("import_url", "utility", "light", "Fetch media from an https URL (or an allow-listed S3 bucket) "
             "and run the rest of the workflow on it", example={"url": "https://example.com/photo.jpg"},
             needs_media=False, makes_media=True),
    NodeSpec("rename", "utility", "light", "Rewrite the output filename from a pattern", annotation=True,
             example={"pattern": "{original}-web"}),
    NodeSpec("storage", "delivery", "light", "Persist the media under the tenant's outputs",
             example={"prefix": "web/"}),
    NodeSpec("webhook", "delivery", "light", "Emit an event to the tenant's webhooks at this point",
             example={"event": "workflow.completed"}, needs_media=False),
    NodeSpec("notify", "delivery", "light", "Emit a custom notification event with a message",
             example={"event": "workflow.notify", "message": "done"}, needs_media=False),
    NodeSpec("publish", "delivery", "light", "Queue the media for publication to platforms",
             example={"platforms": ["instagram"]}, aliases=("platform",)),
    NodeSpec("aws_rekognition_moderation", "image", "light", "Unsafe-content labels into metadata (Rekognition "
             "on AWS, a local detector embedded)", example={"minConfidence": 60}),
    NodeSpec("aws_rekognition", "image", "light", "What an image shows, as labels in metadata (Rekognition)",
             example={"maxLabels": 10, "minConfidence": 70}),
    NodeSpec("replicate", "utility", "light", "Run a Replicate model on the media (token from settings)",
             example={"model": "nightmareai/real-esrgan", "input": {"scale": 2}, "imageInput": "image"}),
    NodeSpec("replicate_deoldify", "image", "light", "Colourise a black-and-white photo (DeOldify on Replicate)",
             example={"modelName": "Artistic", "renderFactor": 35}),
)

KIND_ALIASES: dict[str, str] = {alias: spec.kind for spec in _SPECS for alias in spec.aliases}

_registry: dict[str, NodeSpec] = {spec.kind: spec for spec in _SPECS}
# _kinds_once's answers, by catalog (``extended`` swaps it, and clears them on the way out) and question.
_KINDS: dict[tuple[int, str], frozenset[str]] = {}


def catalog() -> dict[str, NodeSpec]:
    return _registry


def get_spec(kind: str) -> NodeSpec | None:
    return _registry.get(KIND_ALIASES.get(kind, kind))


@contextmanager
def extended(*specs: NodeSpec) -> Iterator[dict[str, NodeSpec]]:
    """The catalog with ``specs`` added, inside the block only (a test's own kinds run through every layer)."""
    global _registry
    before = _registry
    _registry = {**before, **{spec.kind: spec for spec in specs}}
    try:
        yield _registry
    finally:
        _registry = before
        _KINDS.clear()  # the extended catalog's id may be another's later


def node_module(kind: str) -> Any:
    """The module of ``kind``, typed by the caller as the executor Protocol its runtime expects
    (:mod:`mediaflow.nodes.base`)."""
    spec = get_spec(kind)
    if spec is None:
        raise KeyError(f"no node kind {kind!r} in the catalog")
    return spec.module


def kinds_where(predicate: Callable[[NodeSpec], bool]) -> frozenset[str]:
    return frozenset(spec.kind for spec in _registry.values() if predicate(spec))


def kinds_for(runtime: str) -> frozenset[str]:
    """The kinds whose executor the ``runtime`` worker runs (annotations, which every worker runs, apart)."""
    return _kinds_once(f"runtime:{runtime}", lambda spec: runtime in spec.runtimes and not spec.annotation
                       and spec.role in ("task", "trigger"))


def annotation_kinds() -> frozenset[str]:
    """Kinds that edit the media reference only (``rename``, ``transform``): any worker runs them in chain order."""
    return _kinds_once("annotations", lambda spec: spec.annotation)


MEDIA_CATEGORIES: frozenset[str] = frozenset({"image", "video", "audio", "document"})
"""Categories of the kinds that work on the media's bytes."""


def begins_on_media(definition: WorkflowDefinition) -> bool:
    """Whether every node a run of ``definition`` begins with (each one a trigger leads to, or that no edge
    leads to) works on the media's bytes: such a workflow has nothing to do with a file that holds no media.
    False when one of them may take any file (a storage, a webhook, a validate that says what is wrong) or
    the workflow has no node after its triggers."""
    kinds = {node.id: node.kind for node in definition.nodes}
    triggers = {node_id for node_id, kind in kinds.items() if (spec := get_spec(kind)) and spec.role == "trigger"}
    led_to = {edge.target for edge in definition.edges}
    first = {edge.target for edge in definition.edges if edge.source in triggers}
    first |= {node_id for node_id in kinds if node_id not in led_to and node_id not in triggers}
    specs = [get_spec(kinds[node_id]) for node_id in first if node_id in kinds]
    return bool(specs) and all(spec is not None and spec.category in MEDIA_CATEGORIES for spec in specs)


def _kinds_once(name: str, predicate: Callable[[NodeSpec], bool]) -> frozenset[str]:
    """``kinds_where(predicate)``, worked out once per catalog: every Task asks several times."""
    key = (id(_registry), name)
    kinds = _KINDS.get(key)
    if kinds is None:
        kinds = _KINDS[key] = kinds_where(predicate)
    return kinds


def animation_mode(kind: str) -> AnimationMode | None:
    spec = get_spec(kind)
    return spec.animation if spec else None


def describe_catalog() -> list[dict[str, Any]]:
    """The catalog as JSON-ready dicts (``mediaflow nodes --json``)."""
    return [
        {
            "kind": spec.kind,
            "category": spec.category,
            "runtime": spec.runtime,
            "role": spec.role,
            "fusable": spec.fusable or spec.annotation or (spec.runtime == "light" and spec.role == "task"),
            "summary": spec.summary,
            "animation": ANIMATION_NOTES[spec.animation] if spec.animation else None,
            "example": spec.example,
            "configSchema": spec.schema(),
        }
        for spec in catalog().values()
    ]


def catalog_markdown(entries: list[dict[str, Any]]) -> str:
    """The node reference (docs/nodes.md is this text; a test keeps it current)."""
    lines = ["# Node reference", "", "Generated by `mediaflow nodes --markdown` from the catalog; do not edit.", "",
             "| kind | category | runtime | fuses | what it does |", "|---|---|---|---|---|"]
    lines += [f"| `{e['kind']}` | {e['category']} | {e['runtime']} | {'yes' if e['fusable'] else ''} | "
              f"{e['summary']} |" for e in entries]
    for entry in entries:
        lines += ["", f"## `{entry['kind']}`", "", entry["summary"] + ".", ""]
        if entry.get("animation"):
            lines += [entry["animation"] + ".", ""]
        schema = entry["configSchema"]
        properties = schema.get("properties", {})
        if properties:
            lines += ["| setting | type | default | notes |", "|---|---|---|---|"]
            for name, prop in properties.items():
                kind = prop.get("type") or " or ".join(
                    str(option.get("type", option.get("$ref", "object")).split("/")[-1])
                    for option in prop.get("anyOf", [])) or "object"
                if "enum" in prop:
                    kind = " / ".join(f"`{value}`" for value in prop["enum"])
                default = json.dumps(prop["default"]) if "default" in prop else "required"
                notes = prop.get("description", "")
                bounds = [f"{label} {prop[key]}" for key, label in (("minimum", ">="), ("maximum", "<="),
                                                                     ("exclusiveMinimum", ">")) if key in prop]
                lines.append(f"| `{name}` | {kind} | `{default}` | {'; '.join([notes, *bounds]).strip('; ')} |")
        else:
            lines.append("No settings.")
        lines += ["", "Example config:", "", "```json", json.dumps(entry["example"]), "```"]
    return "\n".join(lines) + "\n"


def catalog_by_category() -> dict[str, Any]:
    """Every kind, and the kinds of each category in the catalog's order (the dashboard's palette)."""
    entries = describe_catalog()
    groups: dict[str, list[str]] = {}
    for entry in entries:
        groups.setdefault(entry["category"], []).append(entry["kind"])
    return {"count": len(entries), "nodes": entries,
            "categories": [{"category": name, "kinds": kinds} for name, kinds in groups.items()]}
