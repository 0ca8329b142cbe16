"""`mediaflow run`'s file identity: the run id and the linked input's etag come from the file's device, inode,
size and modification time, so a folder's inputs are never read before their Tasks, while a changed file is
a new run and an unchanged one keeps its run id."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

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


def _photos(folder: Path, *seeds: int) -> list[Path]:
    from mediaflow.samples import photo as sample_photo

    folder.mkdir(parents=True, exist_ok=True)
    return [sample_photo(folder / f"p{seed}.jpg", 64, 48, seed=seed) for seed in seeds]


def _copied_anew(folder: Path) -> None:
    """The folder's files replaced by copies with the same bytes: new inodes and modification times, as a
    plain `cp`, a checkout or a second download gives."""
    for path in sorted(folder.iterdir()):
        copy = path.with_name(f"copy-{path.name}")
        shutil.copyfile(path, copy)
        copy.replace(path)


def _written(out: Path) -> list[str]:
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("*")
                  if p.is_file() and not p.name.startswith(".mediaflow-"))


def test_a_folder_copied_again_with_the_same_bytes_goes_back_to_its_runs(compiled: Compiled,
                                                                           tmp_path: Path) -> None:
    inputs = _photos(tmp_path / "in", 1, 2)
    out = tmp_path / "out"
    with LocalService(Settings(data_dir=tmp_path / "data", workers=1)) as service:
        first = service.run_files(validate(WORKFLOW), inputs, out, compiled=compiled)
        written = _written(out)
        _copied_anew(tmp_path / "in")
        assert all(file_identity(compiled, path, out, service.tenant)[0] != result.run_id
                   for path, result in zip(inputs, first, strict=True)), "the files' identity did change"
        again = service.run_files(validate(WORKFLOW), inputs, out, compiled=compiled)
    assert [(r.run_id, r.status, r.reused) for r in again] == [(r.run_id, "completed", True) for r in first]
    assert _written(out) == written, "no outputs stored again under new names"


def test_a_file_replaced_by_other_bytes_or_rewritten_in_place_runs_again(compiled: Compiled,
                                                                          tmp_path: Path) -> None:
    replaced, rewritten = _photos(tmp_path / "in", 1, 2)
    out = tmp_path / "out"
    with LocalService(Settings(data_dir=tmp_path / "data", workers=1)) as service:
        first = service.run_files(validate(WORKFLOW), [replaced, rewritten], out, compiled=compiled)
        (other,) = _photos(tmp_path / "other", 3)
        shutil.copyfile(other, tmp_path / "next.jpg")
        (tmp_path / "next.jpg").replace(replaced)  # another file, other bytes
        data = bytearray(rewritten.read_bytes())
        data[-3] ^= 0xFF  # same size, same inode, one byte of the scan changed
        with rewritten.open("r+b") as handle:
            handle.write(data)
        again = service.run_files(validate(WORKFLOW), [replaced, rewritten], out, compiled=compiled)
    assert [r.status for r in again] == ["completed", "completed"]
    assert not any(r.reused for r in again)
    assert {r.run_id for r in again}.isdisjoint(r.run_id for r in first)


def test_another_workflow_into_the_same_folder_never_takes_the_runs_of_the_first(compiled: Compiled,
                                                                                  tmp_path: Path) -> None:
    inputs = _photos(tmp_path / "in", 1)
    other = validate({**WORKFLOW, "nodes": [WORKFLOW["nodes"][0],
                                            {"id": "resize", "kind": "resize", "config": {"width": 32}}]})
    out = tmp_path / "out"
    with LocalService(Settings(data_dir=tmp_path / "data", workers=1)) as service:
        (first,) = service.run_files(validate(WORKFLOW), inputs, out, compiled=compiled)
        _copied_anew(tmp_path / "in")
        (second,) = service.run_files(other, inputs, out)
    assert second.run_id != first.run_id and not second.reused and second.status == "completed"


def test_two_names_of_one_file_are_two_inputs_each_with_its_run_and_outputs(compiled: Compiled,
                                                                              tmp_path: Path) -> None:
    """Hard links share the file's identity, so its run id: each name still gets a run and outputs of its own
    (not one run started twice at once, writing one name's outputs), and keeps them in the next command."""
    (photo,) = _photos(tmp_path / "in", 1)
    os.link(photo, tmp_path / "in" / "second-name.jpg")
    os.link(photo, tmp_path / "in" / "third-name.jpg")
    inputs = sorted((tmp_path / "in").iterdir())
    out = tmp_path / "out"
    with LocalService(Settings(data_dir=tmp_path / "data", workers=2)) as service:
        first = service.run_files(validate(WORKFLOW), inputs, out, compiled=compiled)
        written = _written(out)
        again = service.run_files(validate(WORKFLOW), inputs, out, compiled=compiled)
    assert [r.status for r in first] == ["completed"] * 3 and not any(r.reused for r in first)
    assert len({r.run_id for r in first}) == 3
    assert sorted(Path(name).stem for name in written) == sorted(path.stem for path in inputs)
    assert [(r.run_id, r.status, r.reused) for r in again] == [(r.run_id, "completed", True) for r in first]
    assert _written(out) == written


def test_a_file_whose_run_cannot_go_on_fails_alone(compiled: Compiled, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """An error out of one file's run (here its stored input gone missing) fails that file with the error's
    name; the batch goes on and the others complete."""
    from mediaflow.errors import NotFound

    inputs = _photos(tmp_path / "in", 1, 2, 3)
    real_run_one = LocalService.run_one

    def run_one(self: LocalService, compiled: Compiled, path: Path, *args: Any, **kwargs: Any) -> Any:
        if path.name == "p2.jpg":
            raise NotFound("object 'local/inputs/run-x/p2.jpg' not found", field="key")
        return real_run_one(self, compiled, path, *args, **kwargs)

    monkeypatch.setattr(LocalService, "run_one", run_one)
    with LocalService(Settings(data_dir=tmp_path / "data", workers=2)) as service:
        results = service.run_files(validate(WORKFLOW), inputs, tmp_path / "out", compiled=compiled)
    assert [(r.input.name, r.status, (r.error or {}).get("error")) for r in results] == [
        ("p1.jpg", "completed", None), ("p2.jpg", "failed", "NotFound"), ("p3.jpg", "completed", None)]


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the files whose runs start, in the order they start."""
    names: list[str] = []
    run_one = LocalService.run_one

    def recording(self: LocalService, compiled: Compiled, path: Path, *args: Any, **kwargs: Any) -> Any:
        names.append(Path(path).name)
        return run_one(self, compiled, path, *args, **kwargs)

    monkeypatch.setattr(LocalService, "run_one", recording)
    return names


def test_inputs_whose_work_started_ahead_start_last_and_results_keep_the_inputs_order(
        compiled: Compiled, tmp_path: Path, started: list[str]) -> None:
    """The inputs `mediaflow run` decoded ahead have the shortest Tasks: started last, they fill the end of the
    run instead of leaving one worker alone with a long Task."""
    inputs = _photos(tmp_path / "in", 1, 2, 3, 4)
    with LocalService(Settings(data_dir=tmp_path / "data", workers=1)) as service:  # two files at a time
        results = service.run_files(validate(WORKFLOW), inputs, tmp_path / "out", compiled=compiled,
                                    last={str(inputs[0]), str(inputs[1])})
    assert [r.status for r in results] == ["completed"] * 4
    assert [r.input for r in results] == inputs
    assert set(started[:2]) == {"p3.jpg", "p4.jpg"} and set(started[2:]) == {"p1.jpg", "p2.jpg"}


def test_the_largest_files_start_first(compiled: Compiled, tmp_path: Path, started: list[str]) -> None:
    """Largest first: a large photo does not wait for the end of a folder of small ones, where one worker would
    run it alone while the others have nothing left to do."""
    from mediaflow.samples import photo as sample_photo

    folder = tmp_path / "in"
    folder.mkdir()
    inputs = [sample_photo(folder / f"p{index}.jpg", width, width * 3 // 4, seed=index)
              for index, width in enumerate((64, 96, 640, 320, 48))]
    by_size = [path.name for path in sorted(inputs, key=lambda path: -path.stat().st_size)]
    assert by_size[:2] == ["p2.jpg", "p3.jpg"]
    with LocalService(Settings(data_dir=tmp_path / "data", workers=1)) as service:  # two files at a time
        results = service.run_files(validate(WORKFLOW), inputs, tmp_path / "out", compiled=compiled)
    assert [r.status for r in results] == ["completed"] * 5
    assert [r.input for r in results] == inputs
    assert set(started[:2]) == {"p2.jpg", "p3.jpg"}
    assert by_size[-1] in started[-2:]  # two files at a time: the smallest is among the last two to start


def test_a_name_another_input_claimed_is_taken_before_its_file_is_written(tmp_path: Path) -> None:
    """Runs of a folder copy their outputs at once: x.jpg's run may have claimed out/x.webp in the manifest and
    not written it yet when x.png's run asks for the same name. It gets x-2.webp, never the claimed name."""
    from mediaflow.embedded.app import _Placement
    from mediaflow.out_manifest import OutputManifest

    out = tmp_path / "out"
    with LocalService(Settings(data_dir=tmp_path / "data", workers=1)) as service:
        stored = service.adapters.blobs.put_bytes("local/outputs/x-1.webp", b"RIFF-x-png", "image/webp")
        ref = {**stored.to_state(), "outputName": "x.webp"}
        OutputManifest.of(out).claim(out / "x.webp", "local/outputs/x.webp", (str(tmp_path / "x.jpg"), "web"))
        png = _Placement(tmp_path / "x.png", "web", "", frozenset({stored.key}))
        written = service._output(ref, out, png, replace=True)
        again = service._output(ref, out, png, replace=True)  # the same output again: its own place
    assert written.path == again.path == out / "x-2.webp"
    assert (out / "x-2.webp").read_bytes() == b"RIFF-x-png" and not (out / "x.webp").exists()
