"""Trigger filters and deterministic run names."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mediaflow.definition import Trigger
from mediaflow.media import MediaRef
from mediaflow.triggers import matches, matching_workflows, run_name

pytestmark = pytest.mark.unit

PHOTO = MediaRef(bucket="b", key="t/uploads/incoming/a.jpg", content_type="image/jpeg", size=2_000,
                 media_type="image", width=800, height=600, filename="a.jpg", metadata={"team": "web"})


@pytest.mark.parametrize(("filters", "expected"), [
    ({}, True),
    ({"mediaTypes": ["image"]}, True),
    ({"mediaTypes": ["video", "audio"]}, False),
    ({"prefixes": ["incoming/"]}, True),
    ({"prefixes": ["other/"]}, False),
    ({"contentTypes": ["image/*"]}, True),
    ({"contentTypes": ["image/png"]}, False),
    ({"metadata": {"team": "web"}}, True),
    ({"metadata": {"team": "print"}}, False),
    ({"conditions": {"conditions": [{"field": "width", "op": "gte", "value": 800}]}}, True),
    ({"conditions": {"logic": "or", "conditions": [{"field": "filename", "op": "matches", "value": "*.png"},
                                                   {"field": "size", "op": "gt", "value": 10_000}]}}, False),
])
def test_filters(filters: dict[str, object], expected: bool) -> None:
    assert matches(Trigger.model_validate({"filters": filters}), PHOTO, "incoming/a.jpg") is expected


def test_on_upload_false_never_fires() -> None:
    assert not matches(Trigger(on_upload=False), PHOTO, "incoming/a.jpg")


def test_only_active_workflows_match() -> None:
    workflows = [{"id": "a", "status": "active", "definition": {"trigger": {}}},
                 {"id": "p", "status": "paused", "definition": {"trigger": {}}}]
    assert [w["id"] for w in matching_workflows(workflows, PHOTO, "incoming/a.jpg")] == ["a"]


def test_an_event_workflow_never_runs_on_an_upload() -> None:
    on_event = {"id": "e", "status": "active", "definition": {
        "nodes": [{"id": "ev", "kind": "event"}, {"id": "n", "kind": "notify"}], "trigger": {}}}
    assert matching_workflows([on_event], PHOTO, "incoming/a.jpg") == []


@given(st.text(), st.text(), st.text(), st.integers(min_value=1, max_value=10_000))
def test_run_names_are_deterministic_and_safe(bucket: str, key: str, sequencer: str, version: int) -> None:
    name = run_name(bucket, key, sequencer, version)
    assert name == run_name(bucket, key, sequencer, version)
    assert 1 <= len(name) <= 80
    assert all(c.isascii() and (c.isalnum() or c in "-_") for c in name)
    assert name != run_name(bucket, key, sequencer, version + 1)
