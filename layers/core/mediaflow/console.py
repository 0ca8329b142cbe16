"""Helpers shared by the command lines (the embedded one, the one against a deployed stack, the MCP
server): file arguments, sizes, the package version."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

err = Console(stderr=True, highlight=False)


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
    """Files as given, folders expanded to their files (sorted, hidden files skipped)."""
    files: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.is_file()
                                and not any(part.startswith(".") for part in p.relative_to(path).parts)))
        else:
            files.append(path)
    return files


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
