"""An ``--out`` folder's manifest (which file there holds which output, and which run each input went to) and
its lock (one command writes to a folder at a time)."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


class OutputManifest:
    """Which output key each file of an ``--out`` folder holds, and from which input and workflow:
    ``.mediaflow-outputs.jsonl`` in the folder, one ``{"path": ..., "key": ..., "input": ..., "workflowId": ...}``
    line appended per output written (the last line for a path wins; lines written before outputs named their
    input have neither), so a folder of N outputs costs N short appends, not N rewrites of an ever longer file.
    A line cut short by a kill is skipped; the older whole-file ``.mediaflow-outputs.json`` is still read.

    It also remembers which run of a workflow each input file went to (``{"input": ..., "workflow": ...,
    "etag": ..., "run": ...}``), so that a file copied, checked out or replaced by one with the same bytes goes
    back to its run (``LocalService.run_files``) instead of starting a new one that would store its outputs
    again under new names; and, for ``mediaflow run --api``, the object each large input was uploaded to
    (``{"input": ..., "workflow": ..., "etag": ..., "object": ...}``), so that a command stopped between the
    upload and the run's start does not upload it again."""

    _open: dict[Path, OutputManifest] = {}
    _open_lock = threading.Lock()

    def __init__(self, folder: Path) -> None:
        self.path = folder / ".mediaflow-outputs.jsonl"
        self.folder = folder
        self.lock = threading.Lock()
        self.owners: dict[str, str] = {}
        self.origins: dict[str, tuple[str, str]] = {}  # path -> (input, workflow id) of the run that wrote it
        self.places: dict[str, str] = {}  # key -> the path it was written to last
        self.inputs: dict[tuple[str, str], tuple[str, str]] = {}
        self.objects: dict[tuple[str, str], tuple[str, str]] = {}  # (input, workflow) -> (etag, stored key)
        self._resolved: dict[Path, Path] = {}  # a sub-folder as named -> as resolved (asked for every output)
        try:
            legacy = json.loads((folder / ".mediaflow-outputs.json").read_text(encoding="utf-8"))
            if isinstance(legacy, dict):
                self.owners.update({str(path): str(key) for path, key in legacy.items()})
                self.places.update({str(key): str(path) for path, key in legacy.items()})
        except (OSError, ValueError):
            pass
        try:
            text = self.path.read_text(encoding="utf-8")
        except OSError:
            text = ""
        self._torn = bool(text) and not text.endswith("\n")  # the next line must not continue a cut one
        for line in text.splitlines():
            try:
                entry = json.loads(line)
                if "path" in entry:
                    origin = (str(entry["input"]), str(entry.get("workflowId", ""))) if "input" in entry else None
                    self._own(str(entry["path"]), str(entry["key"]), origin)
                elif "object" in entry:
                    self.objects[str(entry["input"]), str(entry["workflow"])] = (str(entry["etag"]),
                                                                                 str(entry["object"]))
                else:
                    self.inputs[str(entry["input"]), str(entry["workflow"])] = (str(entry["etag"]), str(entry["run"]))
            except (ValueError, KeyError, TypeError):
                continue

    @classmethod
    def of(cls, folder: Path) -> OutputManifest:
        # Found by the folder as given (made absolute) before resolving its links: asked twice per file.
        given = Path(folder).absolute()
        with cls._open_lock:
            manifest = cls._open.get(given)
            if manifest is None:
                resolved = folder.resolve()
                manifest = cls._open.get(resolved) or cls(resolved)
                cls._open[resolved] = cls._open[given] = manifest
            return manifest

    def owner(self, target: Path) -> str | None:
        return self.owners.get(self._relative(target))

    def place_of(self, key: str) -> str | None:
        """Where in the folder (relative) ``key`` was written last, if that file is still recorded as its."""
        relative = self.places.get(key)
        return relative if relative is not None and self.owners.get(relative) == key else None

    def may_replace(self, target: Path, key: str, origin: tuple[str, str], keys: frozenset[str]) -> bool:
        """Whether ``key``, an output of a run of ``origin`` (the input's absolute path, the workflow's id) that
        made ``keys``, may be written over the file at ``target``: the file is ``key``'s, or an output of the
        same input and workflow that this run did not make (an earlier run's, before ``--force`` or an edit of
        the workflow). A file of another input's or another workflow's, or one the folder's manifest does not
        know (the user's own), is never written over."""
        return self._replaceable(self._relative(target), key, origin, keys)

    def may_write(self, target: Path, key: str, origin: tuple[str, str], keys: frozenset[str], *,
                  replace: bool) -> bool:
        """Whether ``key`` may be written at ``target``: no file is there and no other output claimed the name
        (a claim comes before its file: a folder's runs copy at once), or, with ``replace``, ``may_replace``."""
        relative = self._relative(target)
        if relative not in self.owners and not target.exists():
            return True
        return replace and self._replaceable(relative, key, origin, keys)

    def _replaceable(self, relative: str, key: str, origin: tuple[str, str], keys: frozenset[str]) -> bool:
        owner = self.owners.get(relative)
        return owner == key or (owner is not None and owner not in keys and self.origins.get(relative) == origin)

    def claim(self, target: Path, key: str, origin: tuple[str, str] | None = None) -> None:
        """Record ``target`` as ``key``'s file, written by a run of ``origin`` (one appended line)."""
        relative = self._relative(target)
        if self.owners.get(relative) == key and self.origins.get(relative) == origin:
            return
        self._own(relative, key, origin)
        written = {"input": origin[0], "workflowId": origin[1]} if origin is not None else {}
        self._append({"path": relative, "key": key, **written})

    def _own(self, relative: str, key: str, origin: tuple[str, str] | None) -> None:
        self.owners[relative] = key
        self.places[key] = relative
        if origin is not None:
            self.origins[relative] = origin
        else:
            self.origins.pop(relative, None)

    def _relative(self, target: Path) -> str:
        """``target``'s path in the folder, its links resolved. Its folder's resolution is kept (each output of
        a run asks two or three times, and resolving walks every folder above it); the file itself is
        resolved anew when it is a link."""
        if target.is_symlink():
            return target.resolve().relative_to(self.folder).as_posix()
        parent = self._resolved.get(target.parent)
        if parent is None:
            parent = self._resolved[target.parent] = target.parent.resolve()
        return (parent / target.name).relative_to(self.folder).as_posix()

    def note_input(self, source: str, workflow: str, etag: str, run_id: str) -> None:
        """Record that the input file at ``source`` (absolute), as identified by ``etag``, is run ``run_id`` of
        ``workflow`` (the tenant and the compiled workflow's digest)."""
        if self.inputs.get((source, workflow)) == (etag, run_id):
            return
        self.inputs[source, workflow] = (etag, run_id)
        self._append({"input": source, "workflow": workflow, "etag": etag, "run": run_id})

    def note_object(self, source: str, workflow: str, etag: str, key: str) -> None:
        """Record that the input file at ``source``, as identified by ``etag``, was uploaded to the stored object
        ``key`` to be run by ``workflow`` (``mediaflow run --api``: the API and the workflow's id)."""
        if self.objects.get((source, workflow)) == (etag, key):
            return
        self.objects[source, workflow] = (etag, key)
        self._append({"input": source, "workflow": workflow, "etag": etag, "object": key})

    def _append(self, entry: dict[str, str]) -> None:
        line = ("\n" if self._torn else "") + json.dumps(entry) + "\n"
        try:
            log = self.path.open("a", encoding="utf-8")
        except FileNotFoundError:  # the folder is made with its first line (or again, when removed meanwhile)
            self.folder.mkdir(parents=True, exist_ok=True)
            log = self.path.open("a", encoding="utf-8")
        with log:
            log.write(line)
        self._torn = False


OUTPUT_LOCK = ".mediaflow-lock"


@contextmanager
def writing_to(folder: Path, on_wait: Callable[[str], None]) -> Iterator[None]:
    """Hold ``folder`` (a ``mediaflow run --out``) for this command: one command writes to a folder at a time.
    A second one waits (``on_wait`` gets the first's pid), then finds the first's runs done and reuses them;
    at once, both ran the same runs and copied each output twice (``photo-2.jpg``). The lock is an ``flock`` on
    ``.mediaflow-lock`` in the folder, released by the kernel however the command ends (kill -9 included)."""
    import fcntl

    folder.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(folder / OUTPUT_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            on_wait(os.pread(descriptor, 32, 0).decode(errors="replace").strip() or "?")
            fcntl.flock(descriptor, fcntl.LOCK_EX)
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(descriptor)
