"""`mediaflow run`'s file identity: the run id and the linked input's etag come from the file's device, inode,
size and modification time, so a folder's inputs are never read before their Tasks, while a changed file is
a new run and an unchanged one keeps its run id."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from mediaflow.compiler import Compiled, compile_definition
from mediaflow.embedded.app import LocalService, file_etag, file_identity
from mediaflow.settings import Settings
from mediaflow.validation import validate

WORKFLOW = {
    "nodes": [{"id": "upload", "kind": "upload"},
              {"id": "resize", "kind": "resize", "config": {"width": 16}}],
    "edges": [{"source": "upload", "target": "resize"}],
}


@pytest.fixture
def compiled() -> Compiled:
    return compile_definition(validate(WORKFLOW))


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "in" / "photo.jpg"
    path.parent.mkdir()
    path.write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 64)
    return path


def test_an_unchanged_file_keeps_its_run_id(compiled: Compiled, photo: Path, tmp_path: Path) -> None:
    first = file_identity(compiled, photo, tmp_path / "out", "local")
    assert file_identity(compiled, photo, tmp_path / "out", "local") == first
    assert first[1] == file_etag(photo)
    os.link(photo, tmp_path / "another-name.jpg")  # a second name for the same bytes: the same file
    assert file_identity(compiled, tmp_path / "another-name.jpg", tmp_path / "out", "local") == first


def test_a_changed_file_is_a_new_run(compiled: Compiled, photo: Path, tmp_path: Path) -> None:
    run_id, etag = file_identity(compiled, photo, tmp_path / "out", "local")
    status = photo.stat()
    os.utime(photo, ns=(status.st_atime_ns, status.st_mtime_ns + 1))  # touched, even by a nanosecond
    touched = file_identity(compiled, photo, tmp_path / "out", "local")
    assert touched[0] != run_id and touched[1] != etag
    photo.write_bytes(photo.read_bytes() + b"\0")  # rewritten
    assert file_identity(compiled, photo, tmp_path / "out", "local")[0] not in (run_id, touched[0])
    copy = shutil.copy2(photo, tmp_path / "copy.jpg")  # same bytes and mtime, another file
    assert file_identity(compiled, Path(copy), tmp_path / "out", "local")[0] != \
        file_identity(compiled, photo, tmp_path / "out", "local")[0]


def test_the_run_id_also_depends_on_workflow_folder_tenant_and_force(compiled: Compiled, photo: Path,
                                                                      tmp_path: Path) -> None:
    base = file_identity(compiled, photo, tmp_path / "out", "local")[0]
    other = compile_definition(validate({**WORKFLOW, "nodes": [WORKFLOW["nodes"][0],
                                                                {"id": "resize", "kind": "resize",
                                                                 "config": {"width": 32}}]}))
    assert file_identity(other, photo, tmp_path / "out", "local")[0] != base
    assert file_identity(compiled, photo, tmp_path / "elsewhere", "local")[0] != base
    assert file_identity(compiled, photo, tmp_path / "out", "acme")[0] != base
    assert file_identity(compiled, photo, tmp_path / "out", "local", force=True)[0] != base


def test_the_linked_input_carries_the_file_etag_and_its_bytes(photo: Path, tmp_path: Path) -> None:
    with LocalService(Settings(data_dir=tmp_path / "data", workers=1)) as service:
        media = service.ingest(photo, prefix="run-x", link=True, etag=file_etag(photo))
        assert media.etag == file_etag(photo)
        assert service.adapters.blobs.head(media.key).etag == file_etag(photo)
        assert service.adapters.blobs.local_path(media.key).read_bytes() == photo.read_bytes()
        assert service.adapters.blobs.local_path(media.key).samefile(photo)  # linked, not copied


def test_a_run_recorded_failed_runs_again_and_completes(compiled: Compiled, tmp_path: Path) -> None:
    """The same command again resumes a failed run (its completed Tasks answered from their checkpoints),
    as docs/durability.md promises: the run record ends completed, not stuck at its first outcome."""
    from mediaflow.samples import photo as sample_photo

    source = sample_photo(tmp_path / "p.jpg", 64, 48)
    out = tmp_path / "out"
    with LocalService(Settings(data_dir=tmp_path / "data", workers=1)) as service:
        (first,) = service.run_files(validate(WORKFLOW), [source], out, compiled=compiled)
        assert first.status == "completed"
        service.adapters.runs.update_run(service.tenant, first.run_id, status="failed",
                                         error={"error": "RuntimeInterrupted", "message": "stopped"})
        (again,) = service.run_files(validate(WORKFLOW), [source], out, compiled=compiled)
        assert (again.run_id, again.status, again.reused) == (first.run_id, "completed", False)
        record = service.adapters.runs.get_run(service.tenant, first.run_id)
        assert record["status"] == "completed" and not record.get("error")
        assert [o.path.name for o in again.outputs if o.path] == [o.path.name for o in first.outputs if o.path]
