"""CLI commands that run media on this machine: run, demo, serve, runs, workflows, keys."""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mediaflow.catalog import begins_on_media
from mediaflow.console import (
    EXIT_RUN_AGAIN,
    Progress,
    Table,
    err,
    escape,
    human_size,
    media_inputs,
    only_skipped,
    out_folder_problem,
    placed_inputs,
    read_workflow_file,
    run_document,
    run_tail,
    stdout_console,
    waiting_notice,
)
from mediaflow.embedded import early
from mediaflow.embedded.app import FileResult, LocalService, missing_runtimes, without_outputs
from mediaflow.out_manifest import writing_to
from mediaflow.procs import resume_collection

if TYPE_CHECKING:
    from mediaflow.compiler import Compiled

console = stdout_console()
VALID_SCOPES = ("workflows:read", "workflows:write", "workflows:execute")


def _service(args: argparse.Namespace) -> LocalService:
    return LocalService(data_dir=Path(args.data_dir) if getattr(args, "data_dir", None) else None,
                        tenant=getattr(args, "tenant", None))


def result_dict(result: FileResult) -> dict[str, Any]:
    return {
        "input": str(result.input), "runId": result.run_id, "status": result.status,
        "seconds": round(result.seconds, 3), "error": result.error, "reused": result.reused,
        "outputs": [{"key": o.key, "filename": o.filename, "size": o.size, "contentType": o.content_type,
                     "path": str(o.path) if o.path else None} for o in result.outputs],
    }


def results_table(results: list[FileResult], title: str) -> Any:
    table = Table(title=title)
    for column in ("input", "status", "outputs", "size", "seconds", "error"):
        table.add_column(column, justify="right" if column in ("size", "seconds") else "left")
    for result in results:
        names = "\n".join(escape(str(o.path or o.filename)) for o in result.outputs) or "-"
        sizes = "\n".join(human_size(o.size) for o in result.outputs) or "-"
        error = ""
        if result.error:
            error = f"{result.error.get('error', '')}: {result.error.get('message', '')}"[:120]
        style = "green" if result.status == "completed" else "red"
        table.add_row(escape(result.input.name), f"[{style}]{result.status}[/]", names, sizes,
                      f"{result.seconds:.2f}", escape(error))
    return table


def cmd_run(args: argparse.Namespace) -> int:
    placed = placed_inputs(args.inputs)
    given = [path for path, _ in placed]
    missing = [str(p) for p in given if not p.is_file()]
    if missing or not given:
        console.print(f"[red]error[/] no such input: {escape(', '.join(missing) or 'nothing given')}")
        return 2
    out_dir = Path(args.out)
    problem = out_folder_problem(args.out)
    if problem:
        console.print(f"[red]error[/] {problem}")
        return 2
    with _service(args) as service:
        plan = _plan(service, args.workflow)
        if isinstance(plan, int):
            return plan
        compiled, meta, on_media = plan
        unavailable = missing_runtimes(compiled)
        if unavailable:
            console.print(f"[red]error[/] this build has no worker for: {', '.join(unavailable)}")
            return 2

        # A workflow that begins on the media's bytes has nothing to do with the other files of a folder.
        media, skipped = media_inputs(args.inputs, placed, skip=on_media)
        if not media:
            console.print(f"[red]error[/] {only_skipped(skipped)}")
            return 2
        with writing_to(out_dir, waiting_notice(args.out)):
            inputs = without_outputs(media, out_dir)
            if not inputs:
                console.print("[red]error[/] no such input: only outputs of earlier runs into --out")
                return 2
            return _run_into_folder(args, service, meta, compiled, inputs, out_dir, dict(placed), skipped)


def _plan(service: LocalService, workflow: str) -> tuple[Compiled, dict[str, Any], bool] | int:
    """The compiled workflow, its meta (id, version) and whether it begins on media: read back from the plan kept
    for a workflow file of the same bytes (``embedded/plans.py``), else validated and compiled (and kept);
    an exit code when the workflow is invalid."""
    from mediaflow.embedded import plans

    path = Path(workflow)
    source = path.read_bytes() if path.is_file() else None
    kept = plans.load(source, service.settings) if source is not None else None
    if kept is not None:
        return kept.compiled, kept.meta, kept.begins_on_media
    report = service.load_definition(workflow)
    if not report.valid or report.definition is None:
        for issue in report.errors:
            console.print(f"[red]error[/] {escape(str(issue))}")
        return 1
    from mediaflow.compiler import compile_definition

    compiled = compile_definition(report)
    on_media = begins_on_media(report.definition)
    if source is not None:
        plans.keep(source, service.settings, compiled, dict(report.meta), on_media)
    return compiled, dict(report.meta), on_media


def _run_into_folder(args: argparse.Namespace, service: LocalService, meta: dict[str, Any],
                     compiled: Compiled, inputs: list[Path], out_dir: Path, folders: dict[Path, str],
                     skipped: list[Path]) -> int:
    """``cmd_run``'s runs, once the workflow is compiled and ``--out`` held; ``skipped``: the files of its
    folders that hold no media, reported."""
    # Started once the workflow is known: the workers fork with its node modules and runtimes loaded.
    service.runtime.prestart_workers(min(len(inputs), service.settings.workers),
                                     runtimes={task.runtime for task in compiled.tasks},
                                     kinds={kind for task in compiled.tasks for kind in task.kinds})
    resume_collection()  # the start is over (mediaflow.cli held the collector off during it)
    workflow_id = str(meta.get("id") or Path(args.workflow).stem)
    version = int(meta.get("version") or 1)
    started = time.perf_counter()
    options: dict[str, Any] = {"workflow_id": workflow_id, "version": version, "force": args.force,
                               "compiled": compiled, "last": early.started_ahead(), "folders": folders}
    if args.json or len(inputs) == 1:
        results, drained = _run_draining(service, args.grace_seconds,
                                         lambda: service.run_files(None, inputs, out_dir, **options))
    else:
        with Progress(console=console, transient=False) as progress:
            task = progress.add_task("running", total=len(inputs))

            def ended(result: FileResult) -> None:
                if result.status in ENDED:  # not one a stop left for the next command
                    progress.advance(task)

            results, drained = _run_draining(
                service, args.grace_seconds,
                lambda: service.run_files(None, inputs, out_dir, on_done=ended, **options))
    elapsed = time.perf_counter() - started
    # A stop leaves the runs it checkpointed, and the files it never started, to the next command.
    pending = sum(1 for r in results if r.status not in ENDED) + len(inputs) - len(results) if drained else 0
    completed = sum(1 for r in results if r.status == "completed")
    failed = len(inputs) - completed - pending
    if drained:
        (err if args.json else console).print(
            f"[yellow]stopped[/]: {pending} run(s) checkpointed; run the same command again to finish them "
            "(nothing done is redone)")
    if args.json:
        document = run_document(args.workflow, len(inputs), completed, failed, elapsed,
                                [result_dict(r) for r in results], skipped,
                                **({"stopped": True, "pending": pending} if drained else {}))
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
    if drained:
        return EXIT_RUN_AGAIN  # stopped on request, nothing lost: the same command finishes it
    if not args.json:
        console.print(results_table(results, f"{escape(args.workflow)}: {len(results)} file(s)"))
        for line in run_tail(completed, failed, elapsed, out_dir, skipped):
            console.print(line)
    return 1 if failed else 0


ENDED = frozenset({"completed", "failed", "cancelled"})



def _run_draining(service: LocalService, grace_seconds: float,
                  work: Callable[[], list[FileResult]]) -> tuple[list[FileResult], bool]:
    """Run ``work`` on a thread; SIGTERM or SIGINT drains the runtime (running tasks get ``grace_seconds``,
    the rest is checkpointed). Returns the results and whether a signal stopped the work."""
    from mediaflow.embedded.serve import stop_signals

    box: dict[str, Any] = {}

    with stop_signals() as stop:
        def target() -> None:
            try:
                box["results"] = work()
            except BaseException as error:
                box["error"] = error
            finally:
                box["finished"] = True
                stop.set()  # wakes the waiting main thread at once: no polling interval added to every run

        thread = threading.Thread(target=target, name="mediaflow-run-files", daemon=True)
        thread.start()
        while not stop.wait(1.0):  # a timeout keeps the wait interruptible by signals everywhere
            pass
        drained = not box.get("finished") and thread.is_alive()
        if drained:
            service.runtime.drain(grace_seconds)
        thread.join()
    if "error" in box:
        raise box["error"]
    results: list[FileResult] = box.get("results", [])
    return results, drained


def cmd_demo(args: argparse.Namespace) -> int:
    from mediaflow.embedded.demo import run_demo

    return run_demo(Path(args.out), Path(args.examples), data_dir=Path(args.data_dir) if args.data_dir else None,
                    as_json=args.json)


def cmd_serve(args: argparse.Namespace) -> int:
    from mediaflow.embedded.serve import serve

    return serve(host=args.host, port=args.port, data_dir=Path(args.data_dir) if args.data_dir else None,
                 poll_seconds=args.poll_seconds, once=args.once, grace_seconds=args.grace_seconds,
                 rate_per_second=args.rate_per_second, burst=args.burst)


def cmd_runs(args: argparse.Namespace) -> int:
    with _service(args) as service:
        runs = service.adapters.runs
        if args.action == "list":
            records = runs.list_runs(service.tenant, args.workflow, limit=args.limit)
            if args.json:
                sys.stdout.write(json.dumps(records, indent=2, default=str) + "\n")
                return 0
            table = Table(title=f"runs of tenant {service.tenant}")
            for column in ("run", "workflow", "version", "status", "started", "ended"):
                table.add_column(column)
            for record in records:
                table.add_row(record["runId"], str(record.get("workflowId")), str(record.get("version")),
                              record["status"], str(record.get("startedAt") or ""), str(record.get("endedAt") or ""))
            console.print(table)
            return 0
        if not args.run_id:
            console.print(f"[red]error[/] runs {args.action} needs a run id")
            return 2
        if args.action in ("cancel", "retry"):
            console.print(f"[red]error[/] runs {args.action} acts on a running API: add --api URL "
                          "(e.g. http://127.0.0.1:8080 for `mediaflow serve`)")
            return 2
        record = runs.get_run(service.tenant, args.run_id)
        record["steps"] = runs.steps(service.tenant, args.run_id)
        if args.json:
            sys.stdout.write(json.dumps(record, indent=2, default=str) + "\n")
            return 0
        console.print(f"run {record['runId']}  workflow {record.get('workflowId')} v{record.get('version')}  "
                      f"[bold]{record['status']}[/]")
        if record.get("error"):
            console.print(f"[red]error[/] {escape(json.dumps(record['error'])[:400])}")
        table = Table(title="steps")
        for column in ("node", "kind", "status", "ms", "error"):
            table.add_column(column)
        for step in record["steps"]:
            table.add_row(step.get("nodeId", ""), step.get("kind", ""), step.get("status", ""),
                          f"{step.get('durationMs', 0):.1f}", escape(str(step.get("errorMessage") or "")))
        console.print(table)
        return 0


def cmd_workflows(args: argparse.Namespace) -> int:
    with _service(args) as service:
        store = service.adapters.workflows
        if args.action == "add":
            raw = read_workflow_file(args.file)
            if raw is None:
                return 2
            record = service.save_workflow(raw, workflow_id=args.id, status="active" if args.activate else "draft")
            console.print(f"saved workflow {record['id']} v{record['version']} ({record['status']})")
            return 0
        if args.action == "list":
            return _workflow_table(store.list(service.tenant), args.json)
        workflow_id = args.id or args.file  # `workflows activate ID` or `--id ID`
        if not workflow_id:
            console.print(f"[red]error[/] workflows {args.action} needs a workflow id")
            return 2
        if args.action == "get":
            sys.stdout.write(json.dumps(store.get(service.tenant, workflow_id), indent=2, default=str) + "\n")
            return 0
        if args.action == "delete":
            store.delete(service.tenant, workflow_id)
            console.print(f"deleted workflow {workflow_id} (its runs are kept)")
            return 0
        record = store.get(service.tenant, workflow_id)
        record["status"] = "active" if args.action == "activate" else "paused"
        record = store.put(service.tenant, record, expected_version=record["version"])
        console.print(f"workflow {record['id']} is {record['status']}")
        return 0


def _workflow_table(records: list[dict[str, Any]], as_json: bool) -> int:
    if as_json:
        sys.stdout.write(json.dumps(records, indent=2, default=str) + "\n")
        return 0
    table = Table(title="workflows")
    for column in ("id", "name", "version", "status"):
        table.add_column(column)
    for record in records:
        table.add_row(record["id"], escape(str(record.get("name") or "")), str(record["version"]), record["status"])
    console.print(table)
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    if not args.tenant:
        console.print("[red]error[/] keys needs --tenant on this machine (with --api the key decides the tenant)")
        return 2
    if (args.stack or args.table) and args.action != "create":
        console.print(f"[red]error[/] keys {args.action} on a deployed stack goes through its API: add --api URL")
        return 2
    if args.action == "list":
        with _service(args) as service:
            found = service.adapters.keys.list_keys(args.tenant)
        sys.stdout.write(json.dumps(found, indent=2, default=str) + "\n")
        return 0
    if args.action == "revoke":
        if not args.key_id:
            console.print("[red]error[/] keys revoke needs a key id")
            return 2
        with _service(args) as service:
            service.adapters.keys.revoke(args.tenant, args.key_id)
        console.print(f"revoked key {args.key_id}")
        return 0
    scopes = [scope.strip() for scope in (args.scopes or "").split(",") if scope.strip()]
    unknown = [scope for scope in scopes if scope not in VALID_SCOPES]
    if unknown or not scopes:
        console.print(f"[red]error[/] unknown scope(s) {', '.join(unknown) or '(none)'}; "
                      f"use {', '.join(VALID_SCOPES)}")
        return 2
    if args.stack or args.table:
        from mediaflow.cli_stack import create_key

        return create_key(args, scopes)
    with _service(args) as service:
        api_key, record = service.adapters.keys.create_key(args.tenant, scopes, name=args.name)
    sys.stdout.write(api_key + "\n")
    sys.stderr.write(f"key {record['keyId']} for tenant {record['tenant']} ({', '.join(record['scopes'])}); "
                     "shown once: store it now\n")
    return 0


def register(sub: Any) -> None:
    def data_dir_option(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--data-dir", default=None, help="data dir (default MEDIAFLOW_DATA_DIR or ./data)")
        parser.add_argument("--tenant", default=None, help="tenant (default MEDIAFLOW_TENANT or local)")

    json_help = "print JSON instead of tables"
    p = sub.add_parser("run", help="run a workflow on files or folders (a batch when several)",
                       epilog="exit status: 0 every run completed (a folder's files that hold no media skipped "
                              "and listed), 1 a run failed or the workflow is invalid, 2 it could not start, 75 "
                              "SIGTERM or Ctrl-C stopped it (the rest checkpointed: the same command finishes "
                              "it) or, with --api, a run was still going after --timeout (the same command "
                              "collects it)")
    p.add_argument("workflow", help="workflow file or stored workflow id (with --api: a stored id)")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="files or folders")
    p.add_argument("--out", required=True, help="folder for the outputs")
    p.add_argument("--json", action="store_true", help=json_help)
    p.add_argument("--force", action="store_true",
                   help="run every file again (by default a file this workflow version already completed into "
                        "--out is not run again, and an interrupted run resumes)")
    p.add_argument("--grace-seconds", type=float, default=30.0,
                   help="on SIGTERM/Ctrl-C, how long running tasks may finish before the rest is checkpointed")
    data_dir_option(p)
    p.set_defaults(handler=cmd_run, exit_at_once=True)

    p = sub.add_parser("demo", help="run the example workflows on generated sample media")
    p.add_argument("--out", default="out", help="folder for the outputs (default out)")
    p.add_argument("--examples", default="examples", help="folder of example workflows (default examples)")
    p.add_argument("--data-dir", default=None, help="data dir (default MEDIAFLOW_DATA_DIR or ./data)")
    p.add_argument("--json", action="store_true", help=json_help)
    p.set_defaults(handler=cmd_demo)

    p = sub.add_parser("serve", help="local API and upload watcher (files dropped in <data dir>/uploads/<tenant>/)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080)")
    p.add_argument("--data-dir", default=None, help="data dir (default MEDIAFLOW_DATA_DIR or ./data)")
    p.add_argument("--poll-seconds", type=float, default=1.0, help="how often uploads/ is scanned (default 1)")
    p.add_argument("--once", action="store_true", help="handle what is in uploads/ now, then exit")
    p.add_argument("--rate-per-second", type=float, default=None,
                   help="requests per second per API key (token bucket; default 20)")
    p.add_argument("--burst", type=int, default=None, help="burst per API key (default 40)")
    p.add_argument("--grace-seconds", type=float, default=30.0,
                   help="on SIGTERM/Ctrl-C, how long running tasks may finish before the rest is checkpointed")
    p.set_defaults(handler=cmd_serve)

    p = sub.add_parser("runs", help="list runs, show one with its steps, cancel or retry one")
    p.add_argument("action", choices=["list", "show", "cancel", "retry"], help="what to do")
    p.add_argument("run_id", nargs="?", help="run id (show, cancel, retry)")
    p.add_argument("--workflow", default=None, help="only the runs of this workflow id")
    p.add_argument("--limit", type=int, default=50, help="at most this many runs (default 50)")
    p.add_argument("--json", action="store_true", help=json_help)
    data_dir_option(p)
    p.set_defaults(handler=cmd_runs)

    p = sub.add_parser("workflows", help="save, list, show, activate, pause or delete stored workflows")
    p.add_argument("action", choices=["add", "list", "get", "activate", "pause", "delete"], help="what to do")
    p.add_argument("file", nargs="?", metavar="FILE|ID", help="workflow file (add) or workflow id (the others)")
    p.add_argument("--id", default=None, help="workflow id (add: replace this workflow)")
    p.add_argument("--activate", action="store_true", help="add: save as active (runs on uploads)")
    p.add_argument("--json", action="store_true", help=json_help)
    data_dir_option(p)
    p.set_defaults(handler=cmd_workflows)

    p = sub.add_parser("keys", help="create (printed once), list or revoke API keys")
    p.add_argument("action", choices=["create", "list", "revoke"], help="what to do")
    p.add_argument("key_id", nargs="?", help="key id (revoke)")
    p.add_argument("--tenant", default=None, help="tenant of the key (this machine or --stack; with --api the key's "
                                                  "own)")
    p.add_argument("--scopes", default=None, help=f"create: comma-separated: {','.join(VALID_SCOPES)}")
    p.add_argument("--name", default="", help="create: a label for the key")
    p.add_argument("--json", action="store_true", help=json_help)
    p.add_argument("--data-dir", default=None, help="data dir (default MEDIAFLOW_DATA_DIR or ./data)")
    from mediaflow.cli_stack import stack_options

    stack_options(p, table=True)  # --stack / --table: a key on a deployed stack (docs/deploy.md)
    p.add_argument("--usage-plan", default=None, help="usage plan id to register the key with, with --table")
    p.set_defaults(handler=cmd_keys)
