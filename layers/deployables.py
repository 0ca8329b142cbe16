"""The deployables' package sets: one declaration (pyproject extras), generated requirement files, and
environments built from exactly those packages.

    python layers/deployables.py write        # regenerate layers/*/requirements.txt from pyproject.toml
    python layers/deployables.py check        # exit 1 when a requirement file differs from its extra
    python layers/deployables.py build [NAME] # build .tools/pkg-envs/NAME-HASH (all when no NAME, with the
                                              # variants that leave one package out)

An environment is built the way its deployable is: ``pip install -r requirements.txt`` into a fresh
virtual environment on this machine's Python (the images add ``--only-binary=:all:`` as their Dockerfiles
do). It is keyed on a hash of the requirement lines and the interpreter, stamped when complete, and built
once under a lock, so test workers and CI runs reuse it; pip's own cache keeps rebuilds off the network.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENVS = ROOT / ".tools" / "pkg-envs"
SELF = "mediaflow"
HEADER = "# Generated from pyproject.toml [project.optional-dependencies] {extra} by `make requirements`: edit there.\n"


# As the Dockerfiles install: wheels only, except pyvips, which PyPI ships as an sdist alone (pure Python in
# cffi's ABI mode; pyvips-binary brings libvips as a wheel).
IMAGE_PIP_ARGS = ("--only-binary=:all:", "--no-binary=pyvips")


@dataclass(frozen=True)
class Deployable:
    name: str
    extra: str
    pip_args: tuple[str, ...]
    summary: str

    @property
    def requirements_file(self) -> Path:
        return ROOT / "layers" / self.name / "requirements.txt"


DEPLOYABLES: dict[str, Deployable] = {d.name: d for d in (
    Deployable("core", "layer-core", (), "the core layer of every zip function (API, authorizer, trigger, runs, "
               "webhooks, light nodes)"),
    Deployable("vips", "image-vips", IMAGE_PIP_ARGS, "the libvips image"),
    Deployable("ffmpeg", "image-ffmpeg", IMAGE_PIP_ARGS, "the ffmpeg image"),
    Deployable("rembg", "image-rembg", IMAGE_PIP_ARGS, "the rembg image"),
)}


# Environments missing one declared package: the packaging tests show each such gap fails by name.
WITHOUT: dict[str, tuple[str, str]] = {
    "core-without-standardwebhooks": ("core", "standardwebhooks"),
    "core-without-pillow": ("core", "pillow"),
}


def _extras(pyproject: Path) -> dict[str, list[str]]:
    extras: dict[str, list[str]] = tomllib.loads(pyproject.read_text())["project"]["optional-dependencies"]
    return extras


def requirements(extra: str, pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """The extra's requirements with ``mediaflow[other]`` references expanded, in declaration order."""
    extras = _extras(pyproject)
    found: list[str] = []

    def expand(name: str) -> None:
        for line in extras[name]:
            reference = re.fullmatch(rf"{SELF}\[([^\]]+)\]", line.strip())
            if reference:
                for inner in reference.group(1).split(","):
                    expand(inner.strip())
            elif line not in found:
                found.append(line)

    expand(extra)
    return found


def render(deployable: Deployable, pyproject: Path = ROOT / "pyproject.toml") -> str:
    return HEADER.format(extra=deployable.extra) + "".join(f"{line}\n" for line in requirements(
        deployable.extra, pyproject))


def stale() -> list[str]:
    """The requirement files that differ from what their extra generates."""
    return [str(d.requirements_file.relative_to(ROOT)) for d in DEPLOYABLES.values()
            if not d.requirements_file.is_file() or d.requirements_file.read_text() != render(d)]


def env_key(lines: list[str], python: str = sys.executable) -> str:
    version = subprocess.run([python, "-c", "import sys; print(sys.version)"], capture_output=True, text=True,
                             check=True).stdout
    return hashlib.sha256(("\n".join(lines) + "\n" + version).encode()).hexdigest()[:12]


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_env(name: str, lines: list[str], pip_args: tuple[str, ...] = (), *, base: Path = ENVS,
              python: str = sys.executable, log: bool = True) -> Path:
    """A virtual environment holding exactly ``lines`` (and what pip resolves for them); built once."""
    target = base / f"{name}-{env_key(lines, python)}"
    stamp = target / ".complete"
    with _locked(base / f".{name}.lock"):
        if stamp.is_file():
            return target
        for old in base.glob(f"{name}-*"):
            if re.fullmatch(rf"{re.escape(name)}-[0-9a-f]{{12}}", old.name):  # not core-without-... for core
                shutil.rmtree(old, ignore_errors=True)
        if log:
            print(f"deployables: building {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}",
                  file=sys.stderr)
        subprocess.run([python, "-m", "venv", str(target)], check=True)
        requirement_file = target / "requirements.txt"
        requirement_file.write_text("".join(f"{line}\n" for line in lines))
        subprocess.run([str(target / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q",
                        *pip_args, "-r", str(requirement_file)], check=True,
                       env={**os.environ, "PIP_NO_INPUT": "1"})
        stamp.write_text("\n".join(lines) + "\n")
    return target


def deployable_env(name: str) -> Path:
    """The environment of a deployable, or of one of the ``WITHOUT`` variants."""
    if name in WITHOUT:
        base, left_out = WITHOUT[name]
        deployable = DEPLOYABLES[base]
        lines = [line for line in requirements(deployable.extra) if _project(line) != left_out]
        return build_env(name, lines, deployable.pip_args)
    deployable = DEPLOYABLES[name]
    return build_env(name, requirements(deployable.extra), deployable.pip_args)


def _project(requirement: str) -> str:
    return re.split(r"[\[<>=!~; ]", requirement.strip(), maxsplit=1)[0].lower()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["write", "check", "build"])
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"one of {', '.join(DEPLOYABLES)}")
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in DEPLOYABLES and name not in WITHOUT]
    if unknown:
        parser.error(f"unknown deployable {unknown[0]!r}")
    if args.command == "write":
        for deployable in DEPLOYABLES.values():
            deployable.requirements_file.write_text(render(deployable))
        return 0
    if args.command == "check":
        differing = stale()
        for path in differing:
            print(f"{path} differs from pyproject.toml: run `make requirements`", file=sys.stderr)
        return 1 if differing else 0
    for name in args.names or [*DEPLOYABLES, *WITHOUT]:
        print(deployable_env(name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
