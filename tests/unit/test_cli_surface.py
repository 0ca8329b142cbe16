"""The CLI's surface: `--version`, a help text on every flag of every command, and the remote options on
the commands that make sense against a deployed stack."""

from __future__ import annotations

import argparse

import pytest
from mediaflow.cli import build_parser, main

pytestmark = pytest.mark.unit


def commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.startswith("mediaflow ")


def without_help(name: str, parser: argparse.ArgumentParser) -> list[str]:
    missing = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        if not (action.help or "").strip():
            missing.append(f"{name} {action.dest}")
        if isinstance(action, argparse._SubParsersAction):
            for child, sub in action.choices.items():
                missing += without_help(f"{name} {child}", sub)
    return missing


def test_every_flag_and_argument_has_help() -> None:
    missing = [m for name, parser in commands().items() for m in without_help(name, parser)]
    assert not missing, missing


def test_remote_options_where_they_make_sense() -> None:
    found = commands()
    for name in ("validate", "plan", "run", "runs", "workflows", "keys", "mcp"):
        options = {o for a in found[name]._actions for o in a.option_strings}
        assert {"--api", "--key", "--profile"} <= options, name
    for name in ("nodes", "serve", "demo"):
        assert "--api" not in {o for a in found[name]._actions for o in a.option_strings}, name
    assert {"login", "logout", "mcp"} <= set(found)
