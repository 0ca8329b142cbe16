"""Every kind of the catalog, saved and started through the API function, its compiled machine run with
each Task in the environment of the function the compiler assigned it to, on media generated here."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from mediaflow import samples
from mediaflow.catalog import catalog

from tests.compat.api_v1.conftest import ChatStub
from tests.compat.replicate_stub import TOKEN, ReplicateStub
from tests.packaging.conftest import TENANT, Stack, build_stack, resources_of

pytestmark = pytest.mark.packaging

# The media each kind is given (its category's), and configs beyond the catalog example for the kinds
# whose runtime or code path depends on their config.
MEDIA = {"image": "photo.jpg", "video": "clip.mp4", "audio": "tone.wav", "document": "photo.jpg",
         "logic": "photo.jpg", "utility": "photo.jpg", "delivery": "photo.jpg"}
CASES: list[tuple[str, dict[str, Any] | None, str | None]] = [
    (kind, None, None) for kind, spec in catalog().items() if spec.role != "trigger"
] + [
    ("validate", {"mediaTypes": ["image"], "minWidth": 16, "maxHeight": 4000}, None),  # Pillow reads the size
    ("background_remove", {"outputFormat": "png"}, "subject.heic"),  # pillow-heif in the rembg image
    ("thumbnail", {"source": "video", "width": 160}, "clip.mp4"),
    ("convert", {"outputFormat": "webm"}, "clip.mp4"),
    ("condition", {"conditions": {"logic": "and", "conditions": [
        {"field": "mediaType", "op": "eq", "value": "image"}]}}, None),  # a gate that holds
]
KIND_MEDIA = {"pdf_preview": "doc.pdf"}
# Kinds whose provider moto does not answer (DetectModerationLabels is not in moto 5.2, and with the
# OpenAI-compatible stand-in configured below Bedrock is not asked): in its function's environment the kind
# must reach the provider call, its packages imported, and fail with the provider's named error, not an
# import error. Replicate and the OpenAI-compatible provider have loopback stand-ins, so those kinds succeed.
PROVIDER_GAPS = {"aws_rekognition_moderation": ("TransientError", "Rekognition")}


def case_id(case: tuple[str, dict[str, Any] | None, str | None]) -> str:
    kind, config, media = case
    return kind if config is None else f"{kind}-{media or 'configured'}"


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("media")
    made = {"photo.jpg": samples.photo(folder / "photo.jpg", 320, 240),
            "clip.mp4": samples.video(folder / "clip.mp4", 6.5, size="160x90"),
            "tone.wav": samples.tone(folder / "tone.wav", 1.5),
            "doc.pdf": samples.pdf(folder / "doc.pdf"),
            "subject.png": samples.subject_on_flat_background(folder / "subject.png", 192)}
    found = {name: path.read_bytes() for name, path in made.items()}
    found["subject.heic"] = heic(found["subject.png"])
    return found


def heic(png: bytes) -> bytes:
    import pillow_heif
    from PIL import Image

    pillow_heif.register_heif_opener()
    out = io.BytesIO()
    Image.open(io.BytesIO(png)).convert("RGB").save(out, format="HEIF", quality=80)
    return out.getvalue()


@pytest.fixture(scope="module")
def stand_ins() -> Iterator[tuple[ReplicateStub, ChatStub]]:
    """Replicate (the recorded responses of tests/compat/replicate/) and an OpenAI-compatible chat endpoint,
    answering on loopback."""
    chat = ChatStub().start()
    with ReplicateStub() as replicate:
        yield replicate, chat
    chat.stop()


@pytest.fixture(scope="module")
def media_source(media: dict[str, bytes]) -> Iterator[str]:
    """The generated media over plain HTTP on loopback (import_url's source)."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            body = media.get(self.path.lstrip("/"))
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def shared(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory,
           stand_ins: tuple[ReplicateStub, ChatStub]) -> Iterator[tuple[Stack, str]]:
    """One stack for all the kinds: its function processes stay warm between cases, as containers do.
    Every function is given the stand-ins' URLs and tokens as its settings variables."""
    replicate, chat = stand_ins
    with pytest.MonkeyPatch.context() as patch, build_stack(moto_endpoint, tmp_path_factory.mktemp("logs"),
                                                             patch) as built:
        providers = {"MEDIAFLOW_REPLICATE_API_TOKEN": TOKEN, "MEDIAFLOW_REPLICATE_BASE_URL": replicate.url,
                     "MEDIAFLOW_REPLICATE_WAIT_SECONDS": "60", "MEDIAFLOW_AI_PROVIDER": "openai",
                     "MEDIAFLOW_AI_BASE_URL": chat.url, "MEDIAFLOW_AI_API_KEY": "stub-token",
                     "MEDIAFLOW_AI_MODEL": "stub-model", "MEDIAFLOW_IMPORT_ALLOW_LOOPBACK": "true"}
        for logical in resources_of(built.template, "AWS::Serverless::Function"):
            built.extra_env[logical] = dict(providers)
        yield built, built.create_key()


def workflow(kind: str, config: dict[str, Any] | None) -> dict[str, Any]:
    spec = catalog()[kind]
    node = {"id": "node", "kind": kind, "config": config if config is not None else spec.example}
    nodes = [{"id": "upload", "kind": "upload"}, node, {"id": "keep", "kind": "storage", "config": {}}]
    edges = [{"source": "upload", "target": "node"}]
    if spec.role == "choice":
        edges += [{"source": "node", "target": "keep", "kind": "true"},
                  {"source": "node", "target": "other", "kind": "false"}]
        nodes.append({"id": "other", "kind": "storage", "config": {"prefix": "other/"}})
    elif kind == "storage":
        nodes.pop()
    else:
        edges.append({"source": "node", "target": "keep"})
    return {"name": f"packaging {kind}", "nodes": nodes, "edges": edges}


@pytest.mark.parametrize("case", CASES, ids=[case_id(c) for c in CASES])
def test_each_kind_runs_in_its_functions_environment(
        case: tuple[str, dict[str, Any] | None, str | None], shared: tuple[Stack, str],
        media: dict[str, bytes], stand_ins: tuple[ReplicateStub, ChatStub], media_source: str) -> None:
    stack, key = shared
    replicate, chat = stand_ins
    asked_before = len(replicate.requests), len(chat.requests)
    kind, config, media_name = case
    name = media_name or KIND_MEDIA.get(kind) or MEDIA[catalog()[kind].category]
    object_key = f"{TENANT}/uploads/packaging/{kind}/{name}"
    stack.boto("s3").put_object(Bucket=stack.resolve.physical["UploadsBucket"], Key=object_key, Body=media[name])

    if kind == "import_url":  # fetched from a loopback server, the light function's loopback allowance on
        config = {"url": f"{media_source}/{name}"}
    status, saved = stack.api("POST", "/v1/workflows", workflow(kind, config), key=key)
    assert status == 201, saved
    status, accepted = stack.api("POST", f"/v1/workflows/{saved['id']}/runs", {"objects": [object_key]}, key=key)
    assert status == 202, accepted

    result = stack.execute(accepted["runId"])
    if kind in PROVIDER_GAPS:
        error, provider = PROVIDER_GAPS[kind]
        reported = json.dumps([result.error, result.cause, result.output])
        assert error in reported and provider in reported, (reported, stack.logs())
        assert "ImportError" not in reported and "ModuleNotFoundError" not in reported, reported
        return
    assert result.status == "SUCCEEDED", (result.error, result.cause, stack.logs())
    assert not _failures(result.output), (result.output, stack.logs())
    status, run = stack.api("GET", f"/v1/runs/{accepted['runId']}", key=key)
    assert status == 200 and run["status"] == "completed", (run, stack.logs())
    if kind.startswith("replicate"):  # the function's own HTTP client reached the stand-in
        assert len(replicate.requests) > asked_before[0]
    if kind == "ai_generate":
        assert len(chat.requests) > asked_before[1]
    tasks = [e for e in result.history if e["type"] == "TaskScheduled"]
    assert tasks or kind == "condition", "a workflow whose path is not skipped runs its storage Task"
    for output in run.get("outputs") or []:
        head = stack.boto("s3").head_object(Bucket=output.get("bucket") or stack.resolve.physical["OutputsBucket"],
                                            Key=output["key"])
        assert head["ContentLength"] > 0


def _failures(output: Any) -> list[Any]:
    text = json.dumps(output)
    return [text] if '"failure"' in text and '"failure": null' not in text else []


def test_choice_kinds_compile_to_states_without_a_function(shared: tuple[Stack, str]) -> None:
    """branch and condition run in Step Functions itself: no function, so no package set to hold them."""
    from mediaflow.compiler.asl import compile_workflow
    from mediaflow.validation import validate

    for kind in ("branch", "condition"):
        report = validate(workflow(kind, None))
        assert report.definition is not None
        asl = json.dumps(compile_workflow(report.definition).asl)
        assert '"Choice"' in asl


def test_the_heic_input_is_heic(media: dict[str, bytes]) -> None:
    from PIL import Image

    assert media["subject.heic"][4:12] in (b"ftypheic", b"ftypmif1")
    assert Image.open(io.BytesIO(media["photo.jpg"])).size == (320, 240)


def test_an_event_trigger_starts_its_workflow_through_the_api(shared: tuple[Stack, str]) -> None:
    """The other trigger kind: POST /v1/workflows/events starts the active workflow whose event matches."""
    stack, key = shared
    definition = {"name": "packaging event", "status": "active", "nodes": [
        {"id": "on", "kind": "event", "config": {"eventName": "product.created"}},
        {"id": "say", "kind": "notify", "config": {"event": "workflow.notify", "message": "product made"}}],
        "edges": [{"source": "on", "target": "say"}]}
    status, saved = stack.api("POST", "/v1/workflows", definition, key=key)
    assert status == 201 and saved["status"] == "active", saved
    status, fired = stack.api("POST", "/v1/workflows/events", {"eventName": "product.created",
                                                                "data": {"sku": "A-1"}}, key=key)
    assert status in (200, 202), fired
    [started] = [r for r in fired["results"] if r["workflowId"] == saved["id"]]
    result = stack.execute(started["runId"])
    assert result.status == "SUCCEEDED", (result.error, result.cause, stack.logs())
    assert [e for e in result.history if e["type"] == "TaskScheduled"], "notify runs in the light function"
    status, run = stack.api("GET", f"/v1/runs/{started['runId']}", key=key)
    assert run["status"] == "completed", run
