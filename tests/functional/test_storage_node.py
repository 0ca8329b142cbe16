"""The storage node run again after its process died mid-way (a retry, a resumed run) stores under the name
it claimed the first time: never a "-1" twin of its own object."""

from __future__ import annotations

from pathlib import Path

import pytest
from mediaflow.adapters.embedded.blobstore import FolderBlobStore
from mediaflow.execution.contract import OpContext, RunContext, TaskEnvironment
from mediaflow.nodes import storage
from mediaflow.settings import Settings


class Killed(BaseException):
    """Stands in for kill -9: nothing after it in the attempt runs."""


@pytest.fixture
def env(tmp_path: Path) -> TaskEnvironment:
    return TaskEnvironment(blobs=FolderBlobStore(tmp_path / "blobs", fsync=False), workdir=tmp_path / "work",
                           settings=Settings(data_dir=tmp_path / "data"))


def test_a_store_killed_after_its_copy_reuses_its_name(env: TaskEnvironment, monkeypatch: pytest.MonkeyPatch) -> None:
    media = env.blobs.put_bytes("acme/runs/run-1/webp/p02.webp", b"RIFF-webp-bytes", "image/webp")
    media = media.model_copy(update={"filename": "p02.webp"})
    ctx = OpContext(node_id="keep", run=RunContext(run_id="run-1", tenant="acme"))
    config = storage.Config(prefix="kept/")
    real_copy = storage._copy

    def copy_then_die(*args: object, **kwargs: object) -> object:
        real_copy(*args, **kwargs)  # type: ignore[arg-type]
        raise Killed

    monkeypatch.setattr(storage, "_copy", copy_then_die)
    with pytest.raises(Killed):
        storage.execute(media, config, ctx, env)
    monkeypatch.setattr(storage, "_copy", real_copy)

    again, output = storage.execute(media, config, ctx, env)

    assert again.key == output["key"] == "acme/outputs/kept/p02.webp"
    assert list(env.blobs.list("acme/outputs/")) == ["acme/outputs/kept/p02.webp"]


def test_a_store_writes_its_marker_once(env: TaskEnvironment, monkeypatch: pytest.MonkeyPatch) -> None:
    """The name is claimed in the marker before the copy; a copy with the claimed name and etag leaves the claim
    as it is (each marker write is a write, a rename and an fsync here, a PUT on S3), and a second run of the
    node reuses the object it names."""
    media = env.blobs.put_bytes("acme/runs/run-2/webp/p03.webp", b"RIFF-more-webp-bytes", "image/webp")
    media = media.model_copy(update={"filename": "p03.webp"})
    ctx = OpContext(node_id="keep", run=RunContext(run_id="run-2", tenant="acme"))
    config = storage.Config(prefix="kept/")
    written: list[str] = []
    real_put_bytes = env.blobs.put_bytes

    def put_bytes(key: str, *args: object, **kwargs: object) -> object:
        written.append(key)
        return real_put_bytes(key, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(env.blobs, "put_bytes", put_bytes)
    stored, _ = storage.execute(media, config, ctx, env)
    again, _ = storage.execute(media, config, ctx, env)

    markers = [key for key in written if key.endswith("/stored.json")]
    assert len(markers) == 1, written
    assert stored.key == again.key == "acme/outputs/kept/p03.webp"
    assert list(env.blobs.list("acme/outputs/")) == ["acme/outputs/kept/p03.webp"]


def test_a_taken_name_gets_a_suffix_in_the_key_and_the_reference_keeps_the_name_asked_for(
        env: TaskEnvironment) -> None:
    """The store never replaces an object: another run's p04.webp makes this one p04-1.webp. The reference says
    which name the node asked for (``outputName``), which `mediaflow run --out` uses: the clash is the store's,
    not the folder's."""
    env.blobs.put_bytes("acme/outputs/kept/p04.webp", b"another run's output", "image/webp")
    media = env.blobs.put_bytes("acme/runs/run-3/webp/p04.webp", b"RIFF-p04-bytes", "image/webp")
    media = media.model_copy(update={"filename": "p04.webp"})
    ctx = OpContext(node_id="keep", run=RunContext(run_id="run-3", tenant="acme"))

    stored, output = storage.execute(media, storage.Config(prefix="kept/"), ctx, env)

    assert stored.key == output["key"] == "acme/outputs/kept/p04-1.webp"
    assert stored.filename == "p04-1.webp"
    assert stored.to_state()["outputName"] == "kept/p04.webp"
    assert "outputName" not in media.to_state()  # set by the storage node only
