"""Helpers shared by the command lines (the embedded one, the one against a deployed stack, the MCP
server): file arguments, sizes, the package version."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

# A batch that lost nothing but is not done (stopped by SIGTERM or Ctrl-C with its runs checkpointed, or runs still
# going on the API after --timeout): the same command finishes or collects it. EX_TEMPFAIL, so that whatever runs
# the command (a script, systemd, a Kubernetes Job, CI) does not take it for a whole batch and can run it again.
EXIT_RUN_AGAIN = 75


class LazyConsole:
    """rich's Console, made on first use: a command that prints nothing rich (``mediaflow run --json``, a
    worker process) never imports rich."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._real: Any = None

    @property
    def real(self) -> Any:
        """The rich Console itself (for rich objects that take one)."""
        if self._real is None:
            from rich.console import Console

            self._real = Console(**self._options)
        return self._real

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def out_folder_problem(out: str) -> str | None:
    """What is wrong with ``--out OUT`` before anything runs (a file where a folder goes), or None."""
    path = Path(out)
    if path.exists() and not path.is_dir():
        return f"--out {escape(out)} is a file; it must be a folder (made when missing)"
    return None


def waiting_notice(out: str) -> Callable[[str], None]:
    """What a command says while another one holds its ``--out`` folder (``out_manifest.writing_to``)."""
    return lambda holder: err.print(f"waiting: another mediaflow run (pid {escape(holder)}) is writing to "
                                    f"{escape(out)}")


def stdout_console() -> LazyConsole:
    """The console of a command's results (a fixed width when piped, so tables do not wrap at 80)."""
    import sys

    return LazyConsole(highlight=False, width=None if sys.stdout.isatty() else 150)


err = LazyConsole(stderr=True, highlight=False)


def escape(text: str) -> str:
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def Table(**options: Any) -> Any:  # noqa: N802 - stands in for rich's class
    from rich.table import Table as RichTable

    return RichTable(**options)


def Progress(*columns: Any, **options: Any) -> Any:  # noqa: N802 - stands in for rich's class
    """rich's Progress with the bar, count and elapsed time after ``columns`` (a description by default)."""
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as RichProgress

    if isinstance(options.get("console"), LazyConsole):
        options["console"] = options["console"].real
    return RichProgress(*(columns or (TextColumn("[bold]{task.description}"),)), BarColumn(),
                        MofNCompleteColumn(), TimeElapsedColumn(), **options)


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mediaflow")
    except PackageNotFoundError:  # a source checkout on PYTHONPATH
        return "0+unknown"


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def expand_inputs(inputs: Iterable[str]) -> list[Path]:
    """Files as given, folders expanded to their files (sorted, hidden files skipped); a path given twice (a
    file and its folder, or ``a.jpg ./a.jpg``) is kept once, where it first comes."""
    return [file for file, _ in placed_inputs(inputs)]


def placed_inputs(inputs: Iterable[str]) -> list[tuple[Path, str]]:
    """``expand_inputs`` with each file's place in an ``--out`` folder: the sub-folder it sits in under the
    folder given (POSIX, ``""`` at the top), so that a folder's layout is kept (a camera's ``DCIM/100CANON``
    and ``DCIM/101CANON`` each have an ``IMG_0001.JPG``); a file given by itself goes to the top."""
    files: list[tuple[Path, str]] = []
    seen: set[str] = set()
    for item in inputs:
        path = Path(item)
        found = ([(file, file.parent.relative_to(path).as_posix()) for file in sorted(_folder_files(path))]
                 if path.is_dir() else [(path, "")])
        for file, folder in found:
            where = os.path.normpath(file.absolute())
            if where not in seen:
                seen.add(where)
                files.append((file, "" if folder == "." else folder))
    return files


def media_inputs(inputs: Iterable[str], placed: list[tuple[Path, str]], *,
                 skip: bool) -> tuple[list[Path], list[Path]]:
    """The files of ``placed`` (``placed_inputs(inputs)``) to run, and, with ``skip`` (a workflow that begins on
    the media's bytes), those found in a folder of ``inputs`` that hold no media (``sniff.holds_media``: a
    camera's XMP and catalog files beside its photos), left out. A file named by itself is never left out, nor
    one that cannot be read (its run says why)."""
    from mediaflow.sniff import holds_media

    named = {os.path.normpath(Path(item).absolute()) for item in inputs if not Path(item).is_dir()}
    kept: list[Path] = []
    skipped: list[Path] = []
    for file, _ in placed:
        try:
            holds = not skip or os.path.normpath(file.absolute()) in named or holds_media(file)
        except OSError:
            holds = True
        (kept if holds else skipped).append(file)
    return kept, skipped


def only_skipped(skipped: list[Path]) -> str:
    """Why nothing is left to run: every file held no media."""
    return f"no such input: {len(skipped)} file(s) that hold no media skipped ({escape(_some_names(skipped))})"


def skipped_notice(skipped: list[Path]) -> str:
    """The summary's line for the files a run left out."""
    return (f"skipped {len(skipped)} file(s) that hold no media: {escape(_some_names(skipped))} (name a file to run "
            "it anyway)")


def run_document(workflow: str, total: int, completed: int, failed: int, elapsed: float, results: list[Any],
                 skipped: list[Path], **more: Any) -> dict[str, Any]:
    """``mediaflow run --json``'s document, local or against an API (``more``: ``pending``, ``stopped``)."""
    return {"workflow": workflow, "total": total, "completed": completed, "failed": failed,
            "seconds": round(elapsed, 3), "results": results, "skipped": [str(path) for path in skipped], **more}


def run_tail(completed: int, failed: int, elapsed: float, out: Path, skipped: list[Path], *,
             still_running: int = 0) -> list[str]:
    """The lines under ``mediaflow run``'s table: the counts, where the outputs are, the files left out."""
    still = f", {still_running} still running" if still_running else ""
    lines = [f"{completed} completed, {failed} failed{still} in {elapsed:.2f} s; outputs in {escape(str(out))}"]
    return [*lines, skipped_notice(skipped)] if skipped else lines


def _some_names(paths: list[Path], shown: int = 5) -> str:
    """``a.xmp, b.ctg and 3 more``: the first ``shown`` file names of ``paths``."""
    names = ", ".join(path.name for path in paths[:shown])
    return names + (f" and {len(paths) - shown} more" if len(paths) > shown else "")


def count_inputs(inputs: Iterable[str], *, up_to: int) -> int:
    """How many files ``expand_inputs`` gives, counted until ``up_to`` (a large folder is not listed whole)."""
    found = 0
    for item in inputs:
        path = Path(item)
        for _ in _folder_files(path) if path.is_dir() else [path]:
            found += 1
            if found >= up_to:
                return found
    return found


def _folder_files(folder: Path) -> Iterator[Path]:
    return (path for path in folder.rglob("*") if path.is_file()
            and not any(part.startswith(".") for part in path.relative_to(folder).parts))


def read_workflow_file(name: str | None) -> dict[str, Any] | None:
    """The JSON object in ``name``, or None after saying what is wrong with it."""
    if not name or not Path(name).is_file():
        missing = f": no such file {escape(name)}" if name else ""
        err.print(f"[red]error[/] workflows add needs a workflow file{missing}")
        return None
    try:
        body = json.loads(Path(name).read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        err.print(f"[red]error[/] {escape(name)} is not JSON: {escape(str(error))}")
        return None
    if not isinstance(body, dict):
        err.print(f"[red]error[/] {escape(name)} holds no JSON object")
        return None
    return body
