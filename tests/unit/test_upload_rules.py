"""Pure rules of uploads: which workflows an upload for one workflow starts, the part size chosen for a
file, and what an upload token lets through (docs/uploads.md)."""

from __future__ import annotations

from typing import Any

import pytest
from mediaflow.api.config import ApiConfig
from mediaflow.api.context import ApiContext
from mediaflow.api.models import MultipartIn
from mediaflow.api.problems import ApiProblem
from mediaflow.api.security import UPLOAD_SCOPE, Principal
from mediaflow.api.uploads import part_size_for, scoped_metadata
from mediaflow.media import MediaRef
from mediaflow.starts import ACCEPT_METADATA, START_METADATA, WORKFLOW_METADATA, start_upload

pytestmark = pytest.mark.unit

MIB = 1024 * 1024


def workflow(workflow_id: str) -> dict[str, Any]:
    return {"id": workflow_id, "version": 1, "status": "active",
            "definition": {"name": workflow_id, "trigger": {},
                           "nodes": [{"id": "upload", "kind": "upload"},
                                     {"id": "store", "kind": "storage", "config": {}}],
                           "edges": [{"source": "upload", "target": "store"}]}}


class Recorder:
    def __init__(self) -> None:
        self.started: list[str] = []

    def check(self, compiled: Any) -> None:
        return None

    def start(self, tenant: str, asl: dict[str, Any], execution_input: dict[str, Any], run_id: str, *,
              machine_type: str | None = None) -> str:
        self.started.append(execution_input["run"]["workflowId"])
        return run_id


def started_by(metadata: dict[str, str], content_type: str = "image/png") -> list[str]:
    media = MediaRef(bucket="b", key="t/uploads/u/a.png", content_type=content_type, size=10, media_type="image",
                     filename="a.png", metadata=metadata)
    launcher = Recorder()
    start_upload("t", media, "u/a.png", workflows=[workflow("wf_a"), workflow("wf_b")], launcher=launcher,
                 run_id_for=lambda record: f"run-{record['id']}")
    return launcher.started


def test_an_upload_for_one_workflow_starts_that_one_only() -> None:
    assert started_by({}) == ["wf_a", "wf_b"]
    assert started_by({WORKFLOW_METADATA: "wf_b"}) == ["wf_b"]
    assert started_by({WORKFLOW_METADATA: "wf_gone"}) == []


def test_a_file_that_sniffs_as_a_type_the_token_refuses_starts_nothing() -> None:
    accepted = {WORKFLOW_METADATA: "wf_a", ACCEPT_METADATA: "image/*,application/pdf"}
    assert started_by(accepted) == ["wf_a"]
    assert started_by(accepted, "application/pdf") == ["wf_a"]
    assert started_by(accepted, "video/mp4") == []


def test_an_upload_stored_to_be_run_by_its_key_starts_nothing() -> None:
    assert started_by({START_METADATA: "none"}) == []
    assert started_by({START_METADATA: "none", "team": "web"}) == []


def test_start_false_marks_the_upload_and_refuses_an_upload_for_one_workflow() -> None:
    key = Principal("t", "k", frozenset({"workflows:execute"}))
    token = Principal("t", "upload-token:1", frozenset({UPLOAD_SCOPE}),
                      grant={"workflowId": "wf_a", "maxBytes": 5 * MIB, "contentTypes": []})
    body = MultipartIn(filename="a.png", size=10, start=False)
    assert scoped_metadata(key, body, 50 * MIB) == ({START_METADATA: "none"}, 50 * MIB)
    for principal, change in ((key, {"workflow_id": "wf_a"}), (token, {})):
        with pytest.raises(ApiProblem) as raised:
            scoped_metadata(principal, body.model_copy(update=change), 50 * MIB)
        assert raised.value.http_status == 422 and raised.value.errors[0]["field"] == "start"


def context(**config: Any) -> ApiContext:
    return ApiContext(workflows=None, runs=None, keys=None, jobs=None, idempotency=None, blobs=None,  # type: ignore[arg-type]
                      launcher=None, config=ApiConfig(**config))  # type: ignore[arg-type]


@pytest.mark.parametrize(("size", "asked", "expected"), [
    (1, None, 8 * MIB),
    (200 * MIB, None, 8 * MIB),
    (50 * 1024 * MIB, None, 8 * MIB),  # 6,400 parts
    (100 * 1024 * MIB, None, 11 * MIB),  # 8 MiB parts would be more than 10,000
    (200 * MIB, 5 * MIB, 5 * MIB),
])
def test_the_part_size_keeps_a_file_within_ten_thousand_parts(size: int, asked: int | None, expected: int) -> None:
    assert part_size_for(context(), size, asked) == expected


@pytest.mark.parametrize(("size", "asked", "field"), [(10, MIB, "partSize"), (10, 6 * 1024**3, "partSize"),
                                                      (100 * 1024**3, 5 * MIB, "partSize")])
def test_a_part_size_outside_the_rules_is_a_problem_naming_it(size: int, asked: int, field: str) -> None:
    with pytest.raises(ApiProblem) as raised:
        part_size_for(context(), size, asked)
    assert raised.value.errors[0]["field"] == field


def test_an_upload_token_fixes_the_workflow_size_and_types() -> None:
    key = Principal("t", "k", frozenset({"workflows:execute"}))
    token = Principal("t", "upload-token:1", frozenset({UPLOAD_SCOPE}),
                      grant={"workflowId": "wf_a", "maxBytes": 5 * MIB, "contentTypes": ["image/*"]})
    body = MultipartIn(filename="a.png", size=10, content_type="image/png", metadata={"team": "web"})
    assert scoped_metadata(key, body, 50 * MIB) == ({"team": "web"}, 50 * MIB)
    assert scoped_metadata(token, body, 50 * MIB) == (
        {"team": "web", WORKFLOW_METADATA: "wf_a", ACCEPT_METADATA: "image/*"}, 5 * MIB)
    for change, status, field in (({"workflow_id": "wf_b"}, 403, "workflowId"),
                                  ({"content_type": "text/html"}, 415, "contentType"),
                                  ({"content_type": None}, 415, "contentType")):
        with pytest.raises(ApiProblem) as raised:
            scoped_metadata(token, body.model_copy(update=change), 50 * MIB)
        assert raised.value.http_status == status and raised.value.errors[0]["field"] == field
    token.require(UPLOAD_SCOPE)
    key.require(UPLOAD_SCOPE)
    with pytest.raises(ApiProblem):
        token.require("workflows:execute")
