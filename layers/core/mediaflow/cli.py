"""The `mediaflow` command line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from mediaflow.validation import ValidationReport

# This module is imported again by every worker process (multiprocessing runs the parent's main module in
# its children), so it imports nothing heavy at the top: rich and the validator load when a command uses them.


class _Console:
    """rich's Console, made on first use."""

    _real: Console | None = None

    def __getattr__(self, name: str) -> Any:
        if self._real is None:
            from rich.console import Console

            self._real = Console(stderr=False, highlight=False)
        return getattr(self._real, name)


console: Any = _Console()


def escape(text: str) -> str:
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def Table(**options: Any) -> Any:  # noqa: N802 - stands in for rich's class
    from rich.table import Table as RichTable

    return RichTable(**options)


def _read_definition(path: str) -> tuple[ValidationReport, str]:
    from mediaflow.validation import validate

    source = Path(path)
    if path == "-":
        return validate(sys.stdin.read()), "<stdin>"
    if not source.is_file():
        from mediaflow.validation import Issue, ValidationReport

        report = ValidationReport()
        report.errors.append(Issue("not_found", f"no such file: {path}"))
        return report, path
    return validate(source.read_bytes()), path


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mediaflow")
    except PackageNotFoundError:  # a source checkout on PYTHONPATH
        return "0+unknown"


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def cmd_validate(args: argparse.Namespace) -> int:
    report, name = _read_definition(args.file)
    if args.json:
        data = report.to_dict()
        if report.definition is not None:
            data["definition"] = report.definition.canonical()
        _print_json(data)
        return 0 if report.valid else 1
    for issue in report.warnings:
        console.print(f"[yellow]warning[/] {escape(str(issue))}")
    if report.valid:
        assert report.definition is not None
        console.print(f"[green]valid[/] {name}: {len(report.definition.nodes)} nodes, "
                      f"{len(report.definition.edges)} edges ({report.source} input)")
        return 0
    console.print(f"[red]invalid[/] {name}: {len(report.errors)} error(s)")
    for issue in report.errors:
        console.print(f"  [red]error[/] {escape(str(issue))} [dim]({issue.code})[/]")
    return 1


def cmd_plan(args: argparse.Namespace) -> int:
    from mediaflow.compiler import BatchOptions, plan_workflow

    report, name = _read_definition(args.file)
    if not report.valid or report.definition is None:
        if args.json:
            _print_json(report.to_dict())
        else:
            for issue in report.errors:
                console.print(f"[red]error[/] {escape(str(issue))}")
        return 1
    batch = BatchOptions(expected_items=args.batch) if args.batch else None
    plan = plan_workflow(report.definition, report.configs, batch=batch)
    if args.json:
        _print_json(plan.to_dict())
        return 0
    table = Table(title=f"plan of {name}")
    table.add_column("task state")
    table.add_column("runtime")
    table.add_column("nodes")
    table.add_column("past Lambda's budget")
    for task in plan.compiled.tasks:
        table.add_row(task.state, task.runtime, ", ".join(task.node_ids),
                      f"ECS Fargate: {task.long_route}" if task.long_route else "")
    console.print(table)
    if any(task.long_route for task in plan.compiled.tasks):
        console.print("long route         ffmpeg work estimated past the Lambda budget runs as an ECS Fargate task "
                      "(ecs:runTask.sync, same image; docs/long-video.md)")
    console.print(f"execution type     {plan.compiled.execution_type}")
    console.print(f"task states        {plan.task_states}")
    console.print(f"transitions / run  {plan.transitions_per_run}")
    console.print(f"Lambda calls / run {plan.lambda_invocations_per_run}")
    console.print(f"cost / 1000 runs   ${plan.cost_per_1000_runs_usd:.4f} (assumptions: docs/pricing.md)")
    return 0


def cmd_nodes(args: argparse.Namespace) -> int:
    from mediaflow.catalog import describe_catalog

    entries = describe_catalog()
    if args.markdown:
        sys.stdout.write(catalog_markdown(entries))
        return 0
    if args.json:
        _print_json(entries)
        return 0
    table = Table(title="node kinds")
    for column in ("kind", "category", "runtime", "fuses", "what it does"):
        table.add_column(column)
    for entry in entries:
        table.add_row(entry["kind"], entry["category"], entry["runtime"], "yes" if entry["fusable"] else "",
                      entry["summary"])
    console.print(table)
    return 0


def catalog_markdown(entries: list[dict[str, Any]]) -> str:
    """The node reference (docs/nodes.md is this text; a test keeps it current)."""
    lines = ["# Node reference", "", "Generated by `mediaflow nodes --markdown` from the catalog; do not edit.", "",
             "| kind | category | runtime | fuses | what it does |", "|---|---|---|---|---|"]
    lines += [f"| `{e['kind']}` | {e['category']} | {e['runtime']} | {'yes' if e['fusable'] else ''} | "
              f"{e['summary']} |" for e in entries]
    for entry in entries:
        lines += ["", f"## `{entry['kind']}`", "", entry["summary"] + ".", ""]
        if entry.get("animation"):
            lines += [entry["animation"] + ".", ""]
        schema = entry["configSchema"]
        properties = schema.get("properties", {})
        if properties:
            lines += ["| setting | type | default | notes |", "|---|---|---|---|"]
            for name, prop in properties.items():
                kind = prop.get("type") or " or ".join(
                    str(option.get("type", option.get("$ref", "object")).split("/")[-1])
                    for option in prop.get("anyOf", [])) or "object"
                if "enum" in prop:
                    kind = " / ".join(f"`{value}`" for value in prop["enum"])
                default = json.dumps(prop["default"]) if "default" in prop else "required"
                notes = prop.get("description", "")
                bounds = [f"{label} {prop[key]}" for key, label in (("minimum", ">="), ("maximum", "<="),
                                                                     ("exclusiveMinimum", ">")) if key in prop]
                lines.append(f"| `{name}` | {kind} | `{default}` | {'; '.join([notes, *bounds]).strip('; ')} |")
        else:
            lines.append("No settings.")
        lines += ["", "Example config:", "", "```json", json.dumps(entry["example"]), "```"]
    return "\n".join(lines) + "\n"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mediaflow", description="Serverless media workflows, also on one machine")
    parser.add_argument("--version", action="version", version=f"mediaflow {package_version()}",
                        help="print the version and exit")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="check a workflow file (exit 0 valid, 1 invalid)")
    p.add_argument("file", help="workflow JSON (canonical, Convertly or Mindia shape); - for stdin; "
                                "with --api: a stored workflow id")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(handler=cmd_validate)

    p = sub.add_parser("plan", help="compile to Step Functions ASL and estimate the cost")
    p.add_argument("file", help="workflow JSON; with --api: a stored workflow id")
    p.add_argument("--json", action="store_true", help="print the plan (with the ASL) as JSON")
    p.add_argument("--batch", type=int, default=0, metavar="N", help="plan a batch run of N items")
    p.set_defaults(handler=cmd_plan)

    p = sub.add_parser("nodes", help="list the node catalog")
    p.add_argument("--json", action="store_true", help="print the catalog with config schemas as JSON")
    p.add_argument("--markdown", action="store_true", help="print the node reference as Markdown")
    p.set_defaults(handler=cmd_nodes)

    from mediaflow import cli_remote, cli_stack
    from mediaflow.embedded import cli as embedded_cli

    embedded_cli.register(sub)
    cli_stack.register(sub)
    cli_remote.register(sub)
    cli_remote.register_mcp(sub)
    return parser


def _starts_workers(argv: Sequence[str]) -> bool:
    """A local ``mediaflow run``: its worker processes may start booting before the command's own imports."""
    import os

    remote = any(arg.split("=", 1)[0] in ("--api", "--profile") for arg in argv) or os.environ.get(
        "MEDIAFLOW_API_URL")
    return bool(argv) and argv[0] == "run" and not remote


def main(argv: Sequence[str] | None = None) -> int:
    if _starts_workers(list(sys.argv[1:] if argv is None else argv)):
        from mediaflow.procs import start_fork_server

        start_fork_server()
    parser = build_parser()
    args = parser.parse_args(argv)
    from mediaflow.errors import MediaflowError

    try:
        code: int = args.handler(args)
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/]")
        return 130
    except MediaflowError as error:
        console.print(f"[red]error[/] {error.code}: {escape(error.message)}")
        return 1
    return code


if __name__ == "__main__":
    raise SystemExit(main())
