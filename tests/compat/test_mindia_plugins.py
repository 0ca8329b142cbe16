"""Mindia's plugins as node kinds, on real generated images: moderation (the local nudenet detector embedded,
Rekognition on the S3 object on AWS, bridged where moto lacks it), labels (Rekognition; PluginUnavailable
embedded), DeOldify and any model on Replicate (a loopback stub with recorded responses)."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.compat import mindia_docs as docs
from tests.compat.conftest import TERMINAL, Product, drawn_figure
from tests.compat.replicate_stub import TOKEN, ReplicateStub
from tests.support.moto_rekognition import RekognitionBridge, rekognition_bridge

pytestmark = pytest.mark.compat
PLUGINS = ["aws_rekognition_moderation", "aws_rekognition", "replicate_deoldify"]


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    from mediaflow import samples
    from PIL import Image

    folder = tmp_path_factory.mktemp("plugin-media")
    photo = samples.photo(folder / "plain.jpg", 320, 240)
    with Image.open(photo) as image:
        image.save(folder / "plain.png")
        image.convert("L").save(folder / "old.png")
        big = image.convert("L").resize((700, 520))
    noise = Image.effect_noise((700, 520), 60).convert("L")
    Image.blend(big, noise, 0.5).save(folder / "big-old.png")  # noisy: > 256 KB, sent through the files API
    return {name: (folder / name).read_bytes() for name in ("plain.png", "old.png", "big-old.png")} | {
        "figure.png": drawn_figure(folder / "figure.png").read_bytes()}


@pytest.fixture
def bridge(product: Product) -> Iterator[RekognitionBridge | None]:
    if product.backend != "aws":
        yield None
        return
    with rekognition_bridge() as found:
        yield found


def _run(product: Product, workflow: dict[str, Any], filename: str, data: bytes) -> dict[str, Any]:
    reply = product.client.request("POST", f"/v1/workflows/{workflow['id']}/runs",
                                   files={"file": (filename, data, "image/png")})
    assert reply.status == 202, reply.content[:600]
    return product.wait_run(reply.json()["runId"])


def _step(run: dict[str, Any], node_id: str) -> dict[str, Any]:
    return next(s for s in run["steps"] if s["nodeId"] == node_id)


def _coloured(png: bytes) -> bool:
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        red, _, blue = image.convert("RGB").resize((1, 1)).getpixel((0, 0))  # type: ignore[misc]
    return red - blue > 20


def test_moderation_flags_the_drawing_passes_the_photo_and_drives_a_branch(
        product: Product, images: dict[str, bytes], bridge: RekognitionBridge | None) -> None:
    workflow = product.call("POST", "/v1/workflows", {
        "name": "moderate then store", "status": "active", "trigger": {"onUpload": False},
        "nodes": [{"id": "upload", "kind": "upload"},
                  {"id": "moderate", "kind": "aws_rekognition_moderation", "config": {"minConfidence": 50}},
                  {"id": "unsafe", "kind": "branch", "config": {"conditions": {"conditions": [
                      {"field": "metadata.moderation_flagged", "op": "eq", "value": "true"}]}}},
                  {"id": "blocked", "kind": "notify", "config": {"event": "media.blocked"}},
                  {"id": "store", "kind": "storage", "config": {"prefix": "safe/"}}],
        "edges": [{"source": "upload", "target": "moderate"}, {"source": "moderate", "target": "unsafe"},
                  {"source": "unsafe", "target": "blocked", "kind": "true"},
                  {"source": "unsafe", "target": "store", "kind": "false"}]}).json()
    if bridge is not None:
        _flag_by_name(bridge, "figure.png")
    flagged = _run(product, workflow, "figure.png", images["figure.png"])
    plain = _run(product, workflow, "plain.png", images["plain.png"])

    assert flagged["status"] == "completed", flagged
    moderation = _step(flagged, "moderate")["output"]
    assert moderation["flagged"] is True and moderation["labels"], moderation
    assert any("Nipple" in label["name"] for label in moderation["labels"]), moderation
    assert {s["nodeId"] for s in flagged["steps"]} >= {"blocked"} and "store" not in {
        s["nodeId"] for s in flagged["steps"]} and flagged["outputs"] == []

    assert plain["status"] == "completed", plain
    assert {k: _step(plain, "moderate")["output"][k] for k in ("flagged", "labels")} == {"flagged": False,
                                                                                         "labels": []}
    assert "blocked" not in {s["nodeId"] for s in plain["steps"]}
    (stored,) = [o["key"].split("/outputs/")[1] for o in plain["outputs"]]
    assert stored.startswith("safe/") and stored.endswith("plain.png")
    if bridge is not None:  # Rekognition was asked about the stored S3 objects themselves
        asked = [p["Image"]["S3Object"] for op, p in bridge.calls if op == "DetectModerationLabels"]
        bucket = product.api.deployment.settings.uploads_bucket
        assert [o["Bucket"] for o in asked] == [bucket, bucket]
        assert asked[0]["Name"].endswith("figure.png") and asked[1]["Name"].endswith("plain.png")


def _flag_by_name(bridge: RekognitionBridge, suffix: str) -> None:
    original = bridge.moderation

    def moderation(params: dict[str, Any]) -> dict[str, Any]:
        if params["Image"]["S3Object"]["Name"].endswith(suffix):
            bridge.flagged_keys.add(params["Image"]["S3Object"]["Name"])
        return original(params)

    bridge.moderation = moderation  # type: ignore[method-assign]


def test_the_documented_workflow_runs_its_three_plugins(
        mindia: Product, images: dict[str, bytes], mindia_upload: Any, bridge: RekognitionBridge | None,
        replicate: ReplicateStub, request: pytest.FixtureRequest) -> None:
    if mindia.backend == "aws":
        request.getfixturevalue("aws_replicate")
        _flag_by_name(bridge, "figure.png")  # type: ignore[arg-type]
    method, path, headers, body = docs.http_request(docs.CREATE, {"<api_key>": mindia.client.key or ""})
    workflow = mindia.client.with_key(None).request(method, path, data=body, headers=headers).json()
    mindia_upload("photos/old.png", images["old.png"])  # its run may be started by an earlier delivery
    execution = mindia.wait(f"/api/v0/workflows/{workflow['id']}/executions",
                            lambda d: d["executions"] and d["executions"][0]["status"] in TERMINAL)["executions"][0]
    steps = {s["plugin_name"]: s for s in execution["steps"]}
    assert steps["aws_rekognition_moderation"]["status"] == "completed"
    assert steps["aws_rekognition_moderation"]["output"]["flagged"] is False
    if mindia.backend == "serve":  # no labels model ships in a wheel: a named error, the next step cancelled
        assert execution["status"] == "failed", execution
        assert steps["aws_rekognition"]["status"] == "failed"
        assert "PluginUnavailable" in json.dumps(execution["error"]) and "Rekognition" in steps["aws_rekognition"][
            "error"]
        assert steps["replicate_deoldify"]["status"] == "cancelled"
    else:
        assert execution["status"] == "completed", execution
        assert steps["aws_rekognition"]["output"]["labels"][0]["name"]
        colourised = mindia.client.download(execution["outputs"][0]["url"]).content
        assert colourised[:8] == b"\x89PNG\r\n\x1a\n" and _coloured(colourised)
        asked = {op: p["Image"]["S3Object"] for op, p in bridge.calls}  # type: ignore[union-attr]
        assert set(asked) == {"DetectModerationLabels", "DetectLabels"}
        assert all(o["Bucket"] == mindia.api.deployment.settings.uploads_bucket and o["Name"].endswith(
            "photos/old.png") for o in asked.values())
    mindia.call("DELETE", f"/api/v0/workflows/{workflow['id']}")


def test_deoldify_and_a_general_model_on_replicate(product: Product, images: dict[str, bytes],
                                                   replicate: ReplicateStub, request: pytest.FixtureRequest) -> None:
    if product.backend == "aws":
        request.getfixturevalue("aws_replicate")
    workflow = product.call("POST", "/v1/workflows", {
        "name": "colourise", "nodes": [
            {"id": "upload", "kind": "upload"},
            {"id": "colour", "kind": "replicate_deoldify", "config": {"renderFactor": 30}},
            {"id": "caption", "kind": "replicate", "config": {
                "model": "salesforce/blip", "input": {"task": "image_captioning"}, "output": "metadata"}},
            {"id": "store", "kind": "storage", "config": {"prefix": "colour/"}}],
        "edges": [{"source": "upload", "target": "colour"}, {"source": "colour", "target": "caption"},
                  {"source": "caption", "target": "store"}]}).json()
    before = len(replicate.requests)
    names = ["old.png", "big-old.png"] if product.backend == "serve" else ["old.png"]
    for name in names:
        run = _run(product, workflow, name, images[name])
        assert run["status"] == "completed", run
        output = product.client.download(run["outputs"][0]["url"]).content
        assert output[:8] == b"\x89PNG\r\n\x1a\n" and _coloured(output)
        assert _step(run, "colour")["output"]["model"] == "arielreplicate/deoldify_image"
        assert _step(run, "caption")["output"]["output"].startswith(replicate.url)
    calls = replicate.requests[before:]
    created = [json.loads(c["body"]) for c in calls if c["method"] == "POST" and c["path"].endswith("/predictions")]
    assert all(c["headers"]["Authorization"] == f"Bearer {TOKEN}" for c in calls if not c["path"].startswith("/pbxt"))
    deoldify = [c["input"] for c in created if "input_image" in c["input"]]
    assert deoldify[0]["render_factor"] == 30 and deoldify[0]["model_name"] == "Artistic"
    if product.backend == "serve":  # small media inline, large media through the files API
        assert deoldify[0]["input_image"].startswith("data:image/png;base64,")
        assert base64.b64decode(deoldify[0]["input_image"].split(",", 1)[1]) == images["old.png"]
        assert deoldify[1]["input_image"].startswith(f"{replicate.url}/v1/files/")
    else:  # the S3 object's presigned URL
        assert deoldify[0]["input_image"].startswith("https://")


def test_a_wrong_token_is_a_named_error(replicate: ReplicateStub, tmp_path: Path) -> None:
    from mediaflow.adapters.replicate import ReplicateClient
    from mediaflow.errors import PluginUnavailable

    with pytest.raises(PluginUnavailable, match="401"):
        ReplicateClient("r8_wrong", replicate.url).predict("owner/model", None, {"x": 1}, 5)
    with pytest.raises(PluginUnavailable, match="MEDIAFLOW_REPLICATE_API_TOKEN"):
        ReplicateClient("", replicate.url)
