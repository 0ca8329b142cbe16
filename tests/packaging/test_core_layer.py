"""The zip functions in the core layer's packages only: a webhook signed and delivered, the API."""

from __future__ import annotations

import time
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from tests.functional.aws.test_webhooks_aws import Receiver
from tests.packaging.conftest import REGION, TENANT, Stack

pytestmark = pytest.mark.packaging


def bus_event(detail_type: str, detail: dict[str, Any]) -> dict[str, Any]:
    return {"version": "0", "id": "e-packaging", "detail-type": detail_type, "source": "mediaflow",
            "account": "123456789012", "time": "2026-12-02T08:00:00Z", "region": REGION, "resources": [],
            "detail": detail}


def test_the_webhooks_function_signs_and_delivers_to_a_loopback_receiver(stack: Stack, api_key: str) -> None:
    receiver = Receiver()
    try:
        loopback = {"MEDIAFLOW_WEBHOOK_ALLOW_LOOPBACK_HTTP": "true"}
        stack.extra_env.update(ApiFunction=loopback, WebhooksFunction=loopback)
        status, created = stack.api("POST", "/v1/webhooks", {"url": receiver.url,
                                                             "eventTypes": ["workflow.completed"]}, key=api_key)
        assert status == 201, created
        detail = {"tenant": TENANT, "workflowId": "wf-1", "version": 1, "runId": "run-1", "status": "completed",
                  "startedAt": "2026-12-02T08:00:00Z", "endedAt": "2026-12-02T08:00:01Z", "error": None,
                  "outputs": []}
        result = stack.invoke("WebhooksFunction", bus_event("workflow.completed", detail))
        assert result == {"deliveries": 1, "attempted": 1}, stack.log("WebhooksFunction")
        deadline = time.monotonic() + 30
        while not receiver.requests and time.monotonic() < deadline:
            time.sleep(0.05)
        [request] = receiver.requests
        verified = Webhook(created["secret"]).verify(request["body"], request["headers"])
        assert verified["type"] == "workflow.completed" and verified["data"]["runId"] == "run-1"
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()


SAMPLE_WORKFLOWS = {
    "image": [{"id": "upload", "kind": "upload"}, {"id": "keep", "kind": "storage", "config": {}}],
    "audio": [{"id": "upload", "kind": "upload"}, {"id": "keep", "kind": "storage", "config": {}}],
    "document": [{"id": "upload", "kind": "upload"}, {"id": "keep", "kind": "storage", "config": {}}],
}


@pytest.mark.parametrize("sample_type", ["image", "audio", "document"])
def test_a_sample_run_through_the_api_function_completes(stack: Stack, api_key: str, sample_type: str) -> None:
    """The API function makes sample media with the core layer's packages alone (no libvips, no ffmpeg)."""
    definition = {"name": f"sample {sample_type}", "nodes": SAMPLE_WORKFLOWS[sample_type],
                  "edges": [{"source": "upload", "target": "keep"}]}
    status, saved = stack.api("POST", "/v1/workflows", definition, key=api_key)
    assert status == 201, saved
    status, accepted = stack.api("POST", f"/v1/workflows/{saved['id']}/runs",
                                 {"sample": True, "sampleType": sample_type}, key=api_key)
    assert status == 202, (accepted, stack.log("ApiFunction")[-3000:])
    result = stack.execute(accepted["runId"])
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    status, run = stack.api("GET", f"/v1/runs/{accepted['runId']}", key=api_key)
    assert status == 200 and run["status"] == "completed", run
    [output] = run["outputs"]
    expected = {"image": "image/jpeg", "audio": "audio/", "document": "application/pdf"}[sample_type]
    assert output["contentType"].startswith(expected), output


def test_a_video_sample_on_the_api_function_is_a_documented_422(stack: Stack, api_key: str) -> None:
    """No ffmpeg in the zip API function: a video sample is refused with the field named, not a 500."""
    definition = {"name": "sample video", "nodes": SAMPLE_WORKFLOWS["image"],
                  "edges": [{"source": "upload", "target": "keep"}]}
    status, saved = stack.api("POST", "/v1/workflows", definition, key=api_key)
    assert status == 201, saved
    status, problem = stack.api("POST", f"/v1/workflows/{saved['id']}/runs",
                                {"sample": True, "sampleType": "video"}, key=api_key)
    assert status == 422, problem
    assert problem["type"].endswith("/SampleUnavailable") and problem["errors"][0]["field"] == "sampleType"
