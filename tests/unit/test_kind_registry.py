"""The catalog is the one list of kinds and runtimes: every kind's module keeps its runtime's executor
contract, and a kind added in a test's own registry (one module + one NodeSpec, nothing else) validates,
compiles and runs on the embedded runtime."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
import pyvips
from mediaflow.adapters.embedded import open_embedded
from mediaflow.catalog import RUNTIMES, NodeSpec, annotation_kinds, catalog, extended, get_spec, kinds_for
from mediaflow.compiler.asl import RESOURCES, compile_workflow
from mediaflow.embedded.executor import EmbeddedRuntime
from mediaflow.execution.contract import TaskEnvironment
from mediaflow.execution.tasks import execute_task
from mediaflow.nodes.base import Annotation, ImageOp, LightOp, RoutedByConfig, ShrinkOnLoad, VideoOp
from mediaflow.runs import output_refs
from mediaflow.settings import Settings
from mediaflow.validation import validate

pytestmark = pytest.mark.unit

# Executors that live in their worker, not in the node module (a whole-file job, no per-op contract).
WORKER_EXECUTED = {"background_remove", "pdf_preview"}
CONTRACTS: dict[str, type] = {"vips": ImageOp, "ffmpeg": VideoOp, "light": LightOp}

NEGATE = NodeSpec("negate", "image", "vips", "Invert the colours (test kind)", fusable=True,
                  module_name="tests.support.kinds.negate", example={"strength": 1})
STAMP = NodeSpec("stamp", "utility", "light", "Set a metadata key (test kind)",
                 module_name="tests.support.kinds.stamp", example={"key": "checked"})


def test_every_runtime_names_an_importable_worker_and_its_lambda_resource() -> None:
    for runtime, profile in RUNTIMES.items():
        assert importlib.util.find_spec(profile.worker_module) is not None, runtime
        assert profile.resource == "${" + profile.placeholder + "}"
    assert {runtime: profile.resource for runtime, profile in RUNTIMES.items()} == RESOURCES


@pytest.mark.parametrize("kind", sorted(catalog()))
def test_every_kind_module_keeps_its_runtime_contract(kind: str) -> None:
    spec = catalog()[kind]
    module = spec.module
    assert module.Config is spec.config_model
    if spec.annotation:
        assert isinstance(module, Annotation)
    elif spec.role == "task" and kind not in WORKER_EXECUTED:
        for runtime in spec.runtimes:
            assert isinstance(module, CONTRACTS[runtime]), f"{kind} lacks the {runtime} executor"
    if spec.geometry:
        assert isinstance(module, ShrinkOnLoad)
    if spec.also_runs_on:
        assert isinstance(module, RoutedByConfig)


def test_worker_kind_sets_come_from_the_catalog() -> None:
    assert annotation_kinds() == {"rename", "transform"}
    assert {"convert", "thumbnail", "transcode"} <= kinds_for("ffmpeg")
    assert kinds_for("rembg") == {"background_remove"}
    assert "negate" not in kinds_for("vips")
    with extended(NEGATE, STAMP):
        assert "negate" in kinds_for("vips") and "stamp" in kinds_for("light")
    assert get_spec("negate") is None  # the test's registry is gone with its block


def _definition(strength: Any = 1) -> dict[str, Any]:
    return {
        "name": "negative",
        "nodes": [{"id": "upload", "kind": "upload"},
                  {"id": "neg", "kind": "negate", "config": {"strength": strength}},
                  {"id": "webp", "kind": "convert", "config": {"outputFormat": "png"}},
                  {"id": "stamp", "kind": "stamp", "config": {"key": "checked"}}],
        "edges": [{"source": "upload", "target": "neg"}, {"source": "neg", "target": "webp"},
                  {"source": "webp", "target": "stamp"}],
    }


def test_a_kind_added_in_a_test_registry_validates_and_compiles() -> None:
    with extended(NEGATE, STAMP):
        refused = validate(_definition(strength=3))
        assert not refused.valid
        assert any(issue.node_id == "neg" and "strength" in issue.path for issue in refused.errors)
        report = validate(_definition())
        assert report.valid, report.errors
        assert report.definition is not None
        compiled = compile_workflow(report.definition, report.configs)
    vips = [task for task in compiled.tasks if task.runtime == "vips"]
    assert [task.kinds for task in vips] == [("negate", "convert", "stamp")]  # fused like any vips kind
    assert compiled.asl["States"][vips[0].state]["Resource"] == "${VipsFunctionArn}"
    assert not validate(_definition()).valid  # outside the block the kind is unknown


def test_a_kind_added_in_a_test_registry_runs_on_the_embedded_runtime(tmp_path: Path) -> None:
    adapters = open_embedded(tmp_path / "data")
    source = pyvips.Image.black(8, 6).new_from_image([200, 40, 10])
    stored = adapters.blobs.put_bytes("t1/uploads/red.png", source.cast("uchar").pngsave_buffer(), "image/png")
    settings = Settings(data_dir=tmp_path / "data", tenant="t1")
    env = TaskEnvironment(blobs=adapters.blobs, workdir=tmp_path / "work", runs=adapters.runs, bus=adapters.bus,
                          settings=settings)
    run = {"runId": "run-1", "workflowId": "wf", "tenant": "t1", "version": 1,
           "startedAt": "2026-01-01T00:00:00.000Z"}
    with extended(NEGATE, STAMP):
        report = validate(_definition())
        assert report.definition is not None
        compiled = compile_workflow(report.definition, report.configs)
        # The workers run in this process here: a pool's worker processes only know the built-in catalog.
        with EmbeddedRuntime(settings, adapters.blobs, adapters.runs, adapters.bus,
                             invoker=lambda resource, payload: execute_task(payload, env)) as runtime:
            result = runtime.start(compiled.asl, {"run": run, "media": stored.to_state()}, "run-1")
    assert result.status == "SUCCEEDED", result.cause
    [output] = output_refs(result.output, exclude={stored.key})
    assert output["metadata"] == {"checked": "yes"}
    image = pyvips.Image.new_from_file(str(adapters.blobs.download(output["key"], tmp_path / "out.png")))
    assert image(0, 0) == [55.0, 215.0, 245.0]  # 255 - (200, 40, 10)
    steps = {step["nodeId"]: step for step in adapters.runs.steps("t1", "run-1")}
    assert steps["neg"]["status"] == "completed" and steps["neg"]["output"]["strength"] == 1
    assert steps["stamp"]["output"] == {"stamped": {"checked": "yes"}, "media": output}


def test_workers_load_their_runtimes_worker_and_the_node_modules_of_the_kinds_they_will_run() -> None:
    from mediaflow.catalog import worker_modules

    assert worker_modules({"vips"}) == ("mediaflow.workers.image",)
    # unknown kinds are left to the Task that meets them
    modules = worker_modules({"vips"}, {"resize", "strip_metadata", "no-such-kind", "convert"})
    assert modules == ("mediaflow.workers.image", "mediaflow.nodes.convert", "mediaflow.nodes.resize",
                       "mediaflow.nodes.strip_metadata")
    for name in modules:
        assert importlib.import_module(name) is not None
    assert worker_modules((), {"transcode"}) == ("mediaflow.nodes.transcode",)
    assert worker_modules((), {"platform", "publish"}) == ("mediaflow.nodes.publish",)  # an alias: one module
