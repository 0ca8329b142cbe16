"""The light worker: rename/transform annotations, validate, storage and the delivery events."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from mediaflow.adapters.embedded.blobstore import FolderBlobStore
from mediaflow.adapters.embedded.bus import InProcessEventBus
from mediaflow.errors import InvalidDefinition, ValidationFailed
from mediaflow.execution.contract import TaskEnvironment, TaskPayload
from mediaflow.execution.tasks import execute_task
from mediaflow.media import MediaRef
from mediaflow.settings import Settings
from mediaflow.workers.light import run_chain
from PIL import Image

pytestmark = pytest.mark.unit

RUN = {"runId": "run-1", "workflowId": "wf-1", "tenant": "acme", "version": 3,
       "startedAt": "2024-01-02T03:04:05Z"}


def png_bytes(width: int = 40, height: int = 30) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 10, 10)).save(buffer, format="PNG")
    return buffer.getvalue()


class CountingStore(FolderBlobStore):
    """A folder store that counts full downloads (the light kinds should rarely need one)."""

    downloads = 0

    def download(self, key: str, path: Path) -> Path:
        self.downloads += 1
        return super().download(key, path)


@pytest.fixture
def blobs(tmp_path: Path) -> CountingStore:
    return CountingStore(tmp_path / "blobs", bucket="test-bucket", fsync=False)


@pytest.fixture
def bus() -> InProcessEventBus:
    return InProcessEventBus()


@pytest.fixture
def env(blobs: CountingStore, bus: InProcessEventBus, tmp_path: Path) -> TaskEnvironment:
    return TaskEnvironment(blobs=blobs, workdir=tmp_path / "work", bus=bus, settings=Settings())


@pytest.fixture
def upload(blobs: CountingStore) -> MediaRef:
    stored = blobs.put_bytes("acme/uploads/Holiday Photo.png", png_bytes(), "image/png")
    return stored.model_copy(update={"media_type": "image", "filename": "Holiday Photo.png",
                                     "metadata": {"camera": "x100"}, "source_key": stored.key})


def task(media: MediaRef, *ops: tuple[str, str, dict[str, Any]]) -> TaskPayload:
    return TaskPayload.model_validate({
        "runtime": "light", "run": RUN, "media": media.to_state(),
        "ops": [{"nodeId": node_id, "kind": kind, "config": config} for node_id, kind, config in ops],
    })


# -- validate -------------------------------------------------------------------------------------


def test_validate_passes_and_lists_the_rules(env: TaskEnvironment, upload: MediaRef) -> None:
    media = upload.model_copy(update={"width": 40, "height": 30})
    config = {"mediaTypes": ["image"], "contentTypes": ["image/*"], "maxSizeBytes": 10_000_000,
              "minWidth": 10, "maxWidth": 100, "minHeight": 10, "maxHeight": 100,
              "requiredMetadata": ["Camera"]}
    result = run_chain(task(media, ("check", "validate", config)), env)
    assert result.media == media
    assert result.outcomes[0].output == {"passed": [
        "mediaTypes", "contentTypes", "maxSizeBytes", "minWidth", "maxWidth", "minHeight", "maxHeight",
        "requiredMetadata"]}


@pytest.mark.parametrize(("config", "rule"), [
    ({"mediaTypes": ["video"]}, "mediaTypes"),
    ({"contentTypes": ["image/jpeg", "video/*"]}, "contentTypes"),
    ({"maxSizeBytes": 10}, "maxSizeBytes"),
    ({"minWidth": 41}, "minWidth"),
    ({"maxWidth": 39}, "maxWidth"),
    ({"minHeight": 31}, "minHeight"),
    ({"maxHeight": 29}, "maxHeight"),
    ({"maxDurationMs": 1000}, "maxDurationMs"),
    ({"requiredMetadata": ["camera", "sku"]}, "requiredMetadata"),
])
def test_validate_names_the_failed_rule(env: TaskEnvironment, upload: MediaRef, config: dict[str, Any],
                                        rule: str) -> None:
    media = upload.model_copy(update={"width": 40, "height": 30})
    with pytest.raises(ValidationFailed) as caught:
        run_chain(task(media, ("check", "validate", config)), env)
    assert caught.value.field == rule
    assert caught.value.node_id == "check"
    assert caught.value.message.startswith(f"{rule}:")


def test_validate_reads_image_dimensions_from_the_header(env: TaskEnvironment, blobs: CountingStore,
                                                         upload: MediaRef) -> None:
    assert upload.width is None
    result = run_chain(task(upload, ("check", "validate", {"minWidth": 20, "maxHeight": 30})), env)
    assert (result.media.width, result.media.height) == (40, 30)
    assert blobs.downloads == 0
    with pytest.raises(ValidationFailed, match="minWidth"):
        run_chain(task(upload, ("check", "validate", {"minWidth": 41})), env)


def test_validate_fails_when_a_needed_value_is_unknown(env: TaskEnvironment, blobs: CountingStore) -> None:
    other = blobs.put_bytes("acme/uploads/notes.bin", b"\x00\x01 not media", "application/octet-stream")
    with pytest.raises(ValidationFailed, match="width of this media is unknown"):
        run_chain(task(other, ("check", "validate", {"maxWidth": 10})), env)


# -- rename / transform ---------------------------------------------------------------------------


def test_annotations_change_the_reference_only(env: TaskEnvironment, blobs: CountingStore,
                                               upload: MediaRef) -> None:
    result = run_chain(task(
        upload,
        ("name", "rename", {"pattern": "{original}-{runId}"}),
        ("meta", "transform", {"set": {"origin": "{nodeId}@{runId}"}, "remove": ["camera"]}),
    ), env)
    assert result.media.key == upload.key
    assert result.media.filename.startswith("Holiday Photo-run-1")
    assert result.media.filename.endswith(".png")
    assert result.media.metadata == {"origin": "meta@run-1"}
    assert [o.node_id for o in result.outcomes] == ["name", "meta"]
    assert result.outcomes[0].output == {"filename": result.media.filename}
    assert blobs.downloads == 0


# -- storage --------------------------------------------------------------------------------------


def test_storage_copies_under_the_tenant_outputs(env: TaskEnvironment, blobs: CountingStore,
                                                 upload: MediaRef) -> None:
    result = run_chain(task(upload, ("save", "storage", {"prefix": "web/{runId}/"})), env)
    assert result.media.key == "acme/outputs/web/run-1/Holiday Photo.png"
    assert result.outcomes[0].output is not None
    assert result.outcomes[0].output["key"] == result.media.key
    assert blobs.read_range(result.media.key, 0, 1 << 20) == png_bytes()
    assert result.media.size == upload.size
    assert result.media.metadata == upload.metadata
    assert blobs.exists(upload.key)


def test_storage_never_overwrites_unless_asked(env: TaskEnvironment, blobs: CountingStore,
                                               upload: MediaRef) -> None:
    keys = []
    for n in range(3):  # three runs store the same name: each gets its own object
        payload = task(upload, ("save", "storage", {}))
        keys.append(run_chain(payload.model_copy(update={"run": payload.run.model_copy(
            update={"run_id": f"run-{n}"})}), env).media.key)
    assert keys == ["acme/outputs/Holiday Photo.png", "acme/outputs/Holiday Photo-1.png",
                    "acme/outputs/Holiday Photo-2.png"]
    blobs.put_bytes(upload.key, b"new bytes", "image/png")
    again = run_chain(task(upload, ("save", "storage", {"overwrite": True})), env)
    assert again.media.key == "acme/outputs/Holiday Photo.png"
    assert blobs.read_range(again.media.key, 0, 100) == b"new bytes"


def test_storage_run_again_for_the_same_run_node_and_item_keeps_one_object(env: TaskEnvironment,
                                                                           upload: MediaRef) -> None:
    payload = task(upload, ("save", "storage", {}))
    keys = {run_chain(payload, env).media.key for _ in range(3)}  # a retry, a resume, a redrive
    assert keys == {"acme/outputs/Holiday Photo.png"}
    items = [run_chain(payload.model_copy(update={"item": n}), env).media.key for n in (0, 1)]
    assert items == ["acme/outputs/Holiday Photo-1.png", "acme/outputs/Holiday Photo-2.png"]  # one per item
    assert [run_chain(payload.model_copy(update={"item": n}), env).media.key for n in (0, 1)] == items


def test_storage_prefix_cannot_escape_the_outputs(env: TaskEnvironment, upload: MediaRef) -> None:
    result = run_chain(task(upload, ("save", "storage", {"prefix": "../../other/./x/"})), env)
    assert result.media.key == "acme/outputs/other/x/Holiday Photo.png"


def test_rename_then_storage_uses_the_new_name(env: TaskEnvironment, upload: MediaRef) -> None:
    result = run_chain(task(upload, ("name", "rename", {"pattern": "final"}), ("save", "storage", {})), env)
    assert result.media.key == "acme/outputs/final.png"


# -- delivery events ------------------------------------------------------------------------------


def test_webhook_notify_publish_emit_events(env: TaskEnvironment, bus: InProcessEventBus,
                                            upload: MediaRef) -> None:
    result = run_chain(task(
        upload,
        ("hook", "webhook", {"event": "asset.ready"}),
        ("note", "notify", {"message": "done"}),
        ("post", "publish", {"platforms": ["instagram", "x"], "caption": "hi"}),
    ), env)
    assert [e.detail_type for e in bus.events] == ["asset.ready", "workflow.notify", "media.publish"]
    hook, note, post = (e.detail for e in bus.events)
    for detail, node_id in ((hook, "hook"), (note, "note"), (post, "post")):
        assert detail["tenant"] == "acme"
        assert detail["workflowId"] == "wf-1"
        assert detail["version"] == 3
        assert detail["runId"] == "run-1"
        assert detail["nodeId"] == node_id
        assert detail["media"] == upload.to_state()
    assert hook["downloadUrl"].startswith("file://")
    assert note["message"] == "done"
    assert post["platforms"] == ["instagram", "x"]
    assert result.outcomes[2].output == {"event": "media.publish", "published": True,
                                         "platforms": ["instagram", "x"]}


def test_a_webhook_for_the_run_event_publishes_nothing_and_hands_its_data_to_the_run_end(
        env: TaskEnvironment, bus: InProcessEventBus, upload: MediaRef) -> None:
    result = run_chain(task(upload, ("hook", "webhook", {"event": "workflow.completed"})), env)
    assert not bus.events  # the run's one workflow.completed carries it (mediaflow.runs.finish)
    output = result.outcomes[0].output
    assert output is not None and output["published"] is False
    assert output["runEvent"]["media"] == upload.to_state()
    assert output["runEvent"]["downloadUrl"].startswith("file://")


def test_delivery_without_a_bus_is_recorded_as_not_published(env: TaskEnvironment, upload: MediaRef) -> None:
    env.bus = None
    result = run_chain(task(upload, ("hook", "webhook", {}), ("note", "notify", {})), env)
    assert result.media == upload
    assert [o.output["published"] for o in result.outcomes if o.output] == [False, False]


# -- contract -------------------------------------------------------------------------------------


def test_execute_task_returns_the_state_and_names_errors(env: TaskEnvironment, upload: MediaRef) -> None:
    payload = task(upload, ("save", "storage", {"prefix": "out/"})).model_dump(by_alias=True)
    state = execute_task(payload, env)
    assert state["key"] == "acme/outputs/out/Holiday Photo.png"
    assert state["mediaType"] == "image"
    failing = task(upload, ("check", "validate", {"maxSizeBytes": 1})).model_dump(by_alias=True)
    with pytest.raises(ValidationFailed):
        execute_task(failing, env)


def test_bad_chain_is_refused_before_any_side_effect(env: TaskEnvironment, bus: InProcessEventBus,
                                                     upload: MediaRef) -> None:
    with pytest.raises(InvalidDefinition) as caught:
        run_chain(task(upload, ("hook", "webhook", {}), ("bad", "storage", {"overwrite": "sometimes"})), env)
    assert caught.value.node_id == "bad"
    assert caught.value.field == "config.overwrite"
    with pytest.raises(InvalidDefinition, match="light runtime"):
        run_chain(task(upload, ("r", "resize", {"width": 10})), env)
    assert list(bus.events) == []
