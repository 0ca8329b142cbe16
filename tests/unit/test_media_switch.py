"""The compiled media switch of a `thumbnail` with `source: auto`: where it goes, what it fuses with."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import pytest
from mediaflow.compiler import compile_workflow

pytestmark = pytest.mark.unit


def chain(*nodes: tuple[str, str, dict[str, Any]]) -> dict[str, Any]:
    ids = ["upload", *(node_id for node_id, _, _ in nodes)]
    return {"name": "t", "nodes": [{"id": "upload", "kind": "upload"}, *(
        {"id": node_id, "kind": kind, "config": config} for node_id, kind, config in nodes)],
            "edges": [{"source": a, "target": b} for a, b in pairwise(ids)]}


def states(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: state for name, state in compile_workflow(definition).asl["States"].items()
            if not name.endswith(".Failed")}


def test_a_default_thumbnail_after_the_trigger_sends_videos_through_a_frame_grab() -> None:
    compiled = compile_workflow(chain(("t", "thumbnail", {"width": 320}), ("w", "watermark", {"text": "x"})))
    found = compiled.asl["States"]
    assert compiled.asl["StartAt"] == "t.media" and compiled.execution_type == "EXPRESS"
    switch = found["t.media"]
    assert switch["Type"] == "Choice" and switch["Default"] == "t+w"
    assert switch["Choices"] == [{"Variable": "$.media.mediaType", "StringEquals": "video", "Next": "t.frame"}]
    frame = found["t.frame"]
    assert frame["Resource"] == "${FfmpegFunctionArn}" and frame["Next"] == "t+w"
    (op,) = frame["Parameters"]["ops"]
    assert op["nodeId"] == "t" and op["config"]["source"] == "video" and op["config"]["outputFormat"] == "png"
    assert [o["kind"] for o in found["t+w"]["Parameters"]["ops"]] == ["thumbnail", "watermark"]
    assert [task.quick for task in compiled.tasks] == [False, True]


def test_after_libvips_ops_the_thumbnail_fuses_without_a_switch() -> None:
    assert list(states(chain(("r", "resize", {"width": 500}), ("t", "thumbnail", {})))) == ["r+t"]


def test_after_light_ops_or_another_runtime_the_switch_starts_the_chain() -> None:
    after_light = states(chain(("v", "validate", {"mediaTypes": ["image", "video"]}), ("t", "thumbnail", {})))
    assert after_light["v"]["Next"] == "t.media"
    after_trim = states(chain(("tr", "trim", {"durationSeconds": 2}), ("t", "thumbnail", {})))
    assert after_trim["tr"]["Next"] == "t.media"


@pytest.mark.parametrize("source", ["image", "video"])
def test_an_explicit_source_compiles_without_a_switch(source: str) -> None:
    found = states(chain(("t", "thumbnail", {"source": source})))
    assert not any(state["Type"] == "Choice" for state in found.values())
