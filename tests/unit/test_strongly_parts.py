"""The pure parts behind /api/v1: lifecycle windows on a fake clock, the layered layout, input mappings and
pass-through values, compute-scopes, and ai_generate's Bedrock request (botocore Stubber)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from mediaflow import layout, lifecycle, mappings, scopes
from mediaflow.media import MediaRef

pytestmark = pytest.mark.unit
LA = ZoneInfo("America/Los_Angeles")
OFFICE = {"type": "scheduled-window", "schedule": {"timezone": "America/Los_Angeles", "windows": [
    {"days": [1, 2, 3, 4, 5], "startTime": "09:00", "endTime": "17:00"}]}}


def record(**extra: Any) -> dict[str, Any]:
    return {"id": "wf", "status": "active", "updatedAt": "2026-12-01T00:00:00Z", **extra}


@pytest.mark.parametrize(("at", "allowed"), [
    (datetime(2026, 12, 7, 9, 0, tzinfo=LA), True),      # Monday 09:00
    (datetime(2026, 12, 7, 16, 59, tzinfo=LA), True),
    (datetime(2026, 12, 7, 17, 0, tzinfo=LA), False),    # the end is exclusive
    (datetime(2026, 12, 6, 12, 0, tzinfo=LA), False),    # Sunday
    (datetime(2026, 12, 7, 17, 30, tzinfo=UTC), True),   # 09:30 in Los Angeles
])
def test_a_scheduled_window_reads_the_clock_in_its_timezone(at: datetime, allowed: bool) -> None:
    assert lifecycle.gate(record(lifecycle=OFFICE), at)[0] is allowed


def test_a_window_over_midnight_belongs_to_the_day_it_starts() -> None:
    night = {"type": "scheduled-window", "schedule": {"timezone": "UTC", "windows": [
        {"days": [5], "startTime": "22:00", "endTime": "02:00"}]}}  # Friday night
    friday_late, saturday_early = datetime(2026, 12, 11, 23, 0, tzinfo=UTC), datetime(2026, 12, 12, 1, 0, tzinfo=UTC)
    assert lifecycle.gate(record(lifecycle=night), friday_late)[0]
    assert lifecycle.gate(record(lifecycle=night), saturday_early)[0]
    assert not lifecycle.gate(record(lifecycle=night), saturday_early + timedelta(days=1))[0]


def test_stopped_idle_and_on_demand() -> None:
    at = datetime(2026, 12, 8, 12, 0, tzinfo=UTC)
    assert not lifecycle.gate(record(deploymentStatus="stopped"), at)[0]
    allowed, _, changes = lifecycle.gate(record(deploymentStatus="stopped", lifecycle={"type": "on-demand"}), at)
    assert allowed and changes["deploymentStatus"] == "running"
    idle = {"type": "idle-shutdown", "idleTimeoutMinutes": 30}
    workflow = record(lifecycle=idle, updatedAt="2026-12-08T10:00:00Z")
    assert lifecycle.gate(workflow, at, last_run_at=(at - timedelta(minutes=10)).isoformat())[0]
    allowed, reason, changes = lifecycle.gate(workflow, at, last_run_at=(at - timedelta(minutes=31)).isoformat())
    assert not allowed and "idle" in str(reason) and changes == {"deploymentStatus": "stopped", "stoppedReason": "idle"}
    assert lifecycle.gate(workflow, at)[0]  # an upload is activity: the idle rule waits for the next API trigger
    assert not lifecycle.gate(record(status="draft"), at)[0]


@pytest.mark.parametrize("bad", [
    {"type": "scheduled-window"}, {"type": "idle-shutdown", "idleTimeoutMinutes": 2},
    {"type": "scheduled-window", "schedule": {"timezone": "Mars/Olympus", "windows": [
        {"days": [1], "startTime": "09:00", "endTime": "10:00"}]}},
    {"type": "scheduled-window", "schedule": {"timezone": "UTC", "windows": [
        {"days": [7], "startTime": "09:00", "endTime": "10:00"}]}},
])
def test_policies_that_cannot_work_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        lifecycle.Policy.model_validate(bad)


def test_the_layout_is_layered_left_to_right_and_stable() -> None:
    nodes = [{"id": i} for i in ("store", "a", "in", "b", "join")]
    edges = [{"source": "in", "target": "a"}, {"source": "in", "target": "b"}, {"source": "a", "target": "join"},
             {"source": "b", "target": "join"}, {"source": "join", "target": "store"}]
    placed = layout.layered(nodes, edges)
    columns = {node: placed[node]["x"] for node in placed}
    assert columns["in"] < columns["a"] == columns["b"] < columns["join"] < columns["store"]
    assert placed["a"]["y"] != placed["b"]["y"]
    assert layout.layered(nodes, edges) == placed
    assert layout.layered(nodes, [*edges, {"source": "store", "target": "in"}])  # a cycle still lays out


def test_input_mappings_fill_config_from_the_run_context() -> None:
    resize = {"id": "r", "kind": "resize", "config": {"width": 64},
              "inputMappings": {"width": "inputs.size.w", "height": "metadata.h", "fit": "event.data.fit"}}
    store = {"id": "s", "kind": "storage", "passThroughValues": {"orderId": "order.id", "gone": "missing"}}
    definition: dict[str, Any] = {"nodes": [{"id": "in", "kind": "upload"}, resize, store]}
    media = MediaRef(bucket="b", key="t/uploads/x.png", metadata={"h": "40"})
    resolved, [out] = mappings.prepare(definition, [media], {"size": {"w": 120}, "order": {"id": 7}},
                                       {"name": "e", "data": {"fit": "cover"}})
    assert resolved["nodes"][1]["config"] == {"width": 120, "height": "40", "fit": "cover"}
    assert definition["nodes"][1]["config"] == {"width": 64}  # the saved definition is untouched
    assert out.metadata == {"h": "40", "orderId": "7"}
    unchanged, _ = mappings.prepare(definition, [media], {})
    assert unchanged["nodes"][1]["config"]["width"] == 64
    assert mappings.mapping_problems("resize", {"colour": "inputs.c"})[0][0] == "colour"
    assert mappings.mapping_problems("resize", {"width": "env.SECRET"})[0][0] == "width"
    assert mappings.mapping_problems("resize", {"width": "inputs.w"}) == []


def test_compute_scopes_lists_storage_events_hosts_and_services() -> None:
    definition = {"trigger": {"filters": {"prefixes": ["shop/"]}}, "nodes": [
        {"id": "in", "kind": "upload"}, {"id": "ai", "kind": "ai_generate"},
        {"id": "n", "kind": "notify", "config": {"event": "product.ready"}},
        {"id": "s", "kind": "storage", "config": {"prefix": "web/"}}]}
    found = scopes.compute("wf_1", "acme", definition, ["https://hooks.example.com/x"])
    for scope in ("workflows:execute:wf_1", "storage:read:acme/uploads/shop/", "storage:write:acme/outputs/web/",
                  "events:emit:product.ready", "webhooks:deliver:hooks.example.com", "aws:bedrock:InvokeModel",
                  "aws:lambda:InvokeFunction:light"):
        assert scope in found
    assert found == sorted(found)


def test_ai_generate_calls_bedrock_converse_with_the_image(tmp_path: Path) -> None:
    import boto3
    from botocore.stub import Stubber
    from mediaflow.nodes import ai_generate
    from mediaflow.settings import Settings

    client = boto3.client("bedrock-runtime", region_name="us-east-1")
    config = ai_generate.Config(prompt="alt text", max_tokens=50)
    with Stubber(client) as stub:
        stub.add_response("converse", {
            "output": {"message": {"role": "assistant", "content": [{"text": "A blue square"}]}},
            "stopReason": "end_turn", "usage": {"inputTokens": 1, "outputTokens": 3, "totalTokens": 4},
            "metrics": {"latencyMs": 1}},
            {"modelId": "m", "messages": [{"role": "user", "content": [
                {"text": "alt text"}, {"image": {"format": "png", "source": {"bytes": b"\x89PNG"}}}]}],
             "inferenceConfig": {"maxTokens": 50, "temperature": 0.2}})
        text = ai_generate.call_bedrock(Settings(), "m", "alt text", b"\x89PNG", "image/png", config, client=client)
    assert text == "A blue square"
    with Stubber(client) as stub:
        stub.add_client_error("converse", service_error_code="ThrottlingException")
        with pytest.raises(ai_generate.TransientError):
            ai_generate.call_bedrock(Settings(), "m", "x", None, "image/png", config, client=client)
    assert ai_generate.provider_of(Settings(mode="aws")) == "bedrock"
    assert ai_generate.provider_of(Settings()) == "openai"
    with pytest.raises(ai_generate.AiProviderUnavailable):
        ai_generate.call_openai(Settings(ai_base_url=""), "m", "x", None, "image/png", config)
