"""Which workflows begin on the media's bytes: `mediaflow run` skips the files of a folder that hold no media
only for those (console.files_without_media)."""

from __future__ import annotations

from typing import Any

import pytest
from mediaflow.catalog import begins_on_media
from mediaflow.definition import WorkflowDefinition


def workflow(kinds: list[str], edges: list[tuple[int, int]] | None = None, trigger: str | None = "upload") -> Any:
    nodes = ([{"id": "t", "kind": trigger}] if trigger else []) + [
        {"id": f"n{index}", "kind": kind} for index, kind in enumerate(kinds)]
    pairs = edges if edges is not None else [(index, index + 1) for index in range(len(kinds) - 1)]
    links = [{"source": f"n{a}", "target": f"n{b}"} for a, b in pairs]
    if trigger and kinds:
        links.insert(0, {"source": "t", "target": "n0"})
    return WorkflowDefinition.model_validate({"nodes": nodes, "edges": links})


@pytest.mark.parametrize(("kinds", "begins"), [
    (["resize", "convert", "storage"], True),  # the folder job
    (["transcode", "storage"], True),
    (["audio"], True),
    (["pdf_preview"], True),
    (["aws_rekognition_moderation", "storage"], True),  # reads the image, on the light runtime
    (["storage"], False),  # keeps any file
    (["validate", "resize"], False),  # says what is wrong with a file that is not media
    (["webhook"], False),
    (["branch", "resize"], False),
    ([], False),  # nothing after the trigger
])
def test_a_workflow_begins_on_media_when_each_node_after_its_trigger_works_on_the_bytes(
        kinds: list[str], begins: bool) -> None:
    assert begins_on_media(workflow(kinds)) is begins


def test_every_first_node_counts_with_or_without_a_trigger() -> None:
    # two nodes after the trigger: a resize and a storage side by side
    both = WorkflowDefinition.model_validate({
        "nodes": [{"id": "t", "kind": "upload"}, {"id": "r", "kind": "resize"}, {"id": "s", "kind": "storage"}],
        "edges": [{"source": "t", "target": "r"}, {"source": "t", "target": "s"}]})
    assert begins_on_media(both) is False
    assert begins_on_media(workflow(["resize", "storage"], trigger=None)) is True
    assert begins_on_media(workflow(["storage", "resize"], edges=[], trigger=None)) is False
