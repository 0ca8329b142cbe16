"""The CLI against a deployed stack (or any `mediaflow serve`): `--api URL` with a key (`--key`,
MEDIAFLOW_API_URL / MEDIAFLOW_API_KEY, or a profile saved by `mediaflow login`).

The commands that make sense remotely (validate, plan, run, runs, workflows, keys) get the remote options;
without a target they keep their local behaviour (DESIGN.md "CLI contract"). Every remote call goes through
``mediaflow.client``."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mediaflow.console import (
    EXIT_RUN_AGAIN,
    LazyConsole,
    Progress,
    Table,
    escape,
    read_workflow_file,
    stdout_console,
)
from mediaflow.procs import resume_collection
from mediaflow.settings import DEFAULT_PROFILE

if TYPE_CHECKING:  # the client (httpx, the API models) is imported when a remote command runs
    import httpx

    from mediaflow.api.models import Run, RunAccepted
    from mediaflow.client import MediaflowClient
    from mediaflow.client.profiles import Target
    from mediaflow.out_manifest import OutputManifest

console = stdout_console()
err = LazyConsole(stderr=True, highlight=False)
REMOTE_COMMANDS = ("validate", "plan", "run", "runs", "workflows", "keys")
# Tests bridge to an API Gateway on moto through this (mediaflow.client.gateway.GatewayTransport).
transport: httpx.BaseTransport | None = None
Handler = Callable[[argparse.Namespace], int]


def table_of(title: str, *columns: str) -> Any:
    grid = Table(title=title)
    for column in columns:
        grid.add_column(column)
    return grid


def _dump(data: Any) -> None:
    from pydantic import BaseModel

    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json", by_alias=True)
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def open_client(target: Target) -> MediaflowClient:
    from mediaflow.client import MediaflowClient

    return MediaflowClient(target.api_url, target.api_key, transport=transport)


def target_of(args: argparse.Namespace) -> Target | None:
    from mediaflow.client.profiles import resolve_target

    return resolve_target(getattr(args, "api", None), getattr(args, "key", None), getattr(args, "profile", None))


# -- workflows -----------------------------------------------------------------------------------------


def workflows(api: MediaflowClient, args: argparse.Namespace) -> int:
    action, ident = args.action, args.id or args.file
    if action == "add":
        body = read_workflow_file(args.file)
        if body is None:
            return 2
        if args.activate:
            body["status"] = "active"
        record = api.workflows.replace(args.id, body) if args.id else api.workflows.create(body)
        if args.json:
            _dump(record)
        else:
            console.print(f"saved workflow {record.id} v{record.version} ({record.status})")
        return 0
    if action == "list":
        records = list(api.workflows.iter())
        if args.json:
            _dump([r.model_dump(mode="json", by_alias=True) for r in records])
            return 0
        table = table_of(f"workflows on {escape(api.base_url)}", "id", "name", "version", "status", "valid")
        for r in records:
            table.add_row(r.id, escape(r.name), str(r.version), r.status, "yes" if r.valid else "no")
        console.print(table)
        return 0
    if not ident:
        err.print(f"[red]error[/] workflows {action} needs a workflow id")
        return 2
    if action == "get":
        _dump(api.workflows.get(ident))
        return 0
    if action == "delete":
        api.workflows.delete(ident)
        console.print(f"deleted workflow {ident} (its runs are kept)")
        return 0
    record = api.workflows.activate(ident) if action == "activate" else api.workflows.pause(ident)
    console.print(f"workflow {record.id} is {record.status}")
    return 0


# -- runs ----------------------------------------------------------------------------------------------


def runs(api: MediaflowClient, args: argparse.Namespace) -> int:
    if args.action == "list":
        ids = [args.workflow] if args.workflow else [w.id for w in api.workflows.iter()]
        found = [r for workflow_id in ids for r in api.runs.list(workflow_id, limit=args.limit).runs]
        found.sort(key=lambda r: r.created_at, reverse=True)
        found = found[:args.limit]
        if args.json:
            _dump([r.model_dump(mode="json", by_alias=True) for r in found])
            return 0
        table = table_of(f"runs on {escape(api.base_url)}", "run", "workflow", "version", "status", "started",
                         "ended")
        for r in found:
            table.add_row(r.run_id, r.workflow_id, str(r.version), r.status, r.started_at or "", r.ended_at or "")
        console.print(table)
        return 0
    if not args.run_id:
        err.print(f"[red]error[/] runs {args.action} needs a run id")
        return 2
    if args.action == "cancel":
        cancelled = api.runs.cancel(args.run_id)
        console.print(f"run {cancelled.run_id}: cancel requested ({cancelled.status})")
        return 0
    if args.action == "retry":
        accepted = api.runs.retry(args.run_id)
        console.print(f"run {args.run_id} retried as {accepted.run_id} ({accepted.status})")
        return 0
    run = api.runs.get(args.run_id)
    if args.json:
        _dump(run)
        return 0
    console.print(f"run {run.run_id}  workflow {run.workflow_id} v{run.version}  [bold]{run.status}[/]")
    if run.error:
        console.print(f"[red]error[/] {escape(json.dumps(run.error)[:400])}")
    table = table_of("steps", "node", "kind", "status", "ms", "error")
    for step in run.steps:
        table.add_row(str(step.get("nodeId", "")), str(step.get("kind", "")), str(step.get("status", "")),
                      f"{float(step.get('durationMs') or 0):.1f}", escape(str(step.get("errorMessage") or "")))
    console.print(table)
    for output in run.outputs:
        console.print(f"output {escape(output.filename)} ({output.size} B, {output.content_type})")
    return 0


def _describe(progress: Any, task: Any, name: str) -> Callable[[Run], None]:
    return lambda run: progress.update(task, description=f"{name}: {run.status}")


def run_files(api: MediaflowClient, args: argparse.Namespace) -> int:
    """Upload each input, run the workflow on it, show progress, download every output to --out: into its input's
    folder under --out and named as its storage node asked, as a local run places them. A workflow that begins
    on the media's bytes skips the files of a folder that hold no media, as a local run does. A run still going
    after ``--timeout`` is left running and listed as pending (exit 75): the same command collects it."""
    from mediaflow.console import media_inputs, only_skipped, out_folder_problem, placed_inputs, waiting_notice
    from mediaflow.out_manifest import writing_to

    placed = placed_inputs(args.inputs)
    missing = [str(path) for path, _ in placed if not path.is_file()]
    if missing or not placed:
        err.print(f"[red]error[/] no such input: {escape(', '.join(missing) or 'nothing given')}")
        return 2
    problem = out_folder_problem(args.out)
    if problem:
        err.print(f"[red]error[/] {problem}")
        return 2
    if Path(args.workflow).is_file():
        err.print(f"[red]error[/] with --api, WORKFLOW is a stored workflow id; save {escape(args.workflow)} first "
                  "with `mediaflow workflows add FILE --api ...`")
        return 2
    inputs, skipped = media_inputs(args.inputs, placed, skip=_begins_on_media(api, args.workflow))
    if not inputs:
        err.print(f"[red]error[/] {only_skipped(skipped)}")
        return 2
    folders, out_dir = dict(placed), Path(args.out)
    started = time.perf_counter()
    results: list[dict[str, Any]] = []
    # One command writes to a folder at a time, as locally: two at once would each upload a large file again.
    with writing_to(out_dir, waiting_notice(args.out)), \
            Progress(console=err, transient=True, disable=args.json) as progress:
        task = progress.add_task("uploading", total=len(inputs))
        accepted = []
        for path in inputs:
            accepted.append((path, *_start(api, args.workflow, path, out_dir, force=args.force)))
            progress.advance(task)
        progress.update(task, description="running", completed=0)
        for path, run_id, reused in accepted:
            results.append(_collected(api, path, run_id, out_dir / folders.get(path, ""), args.timeout,
                                      _describe(progress, task, escape(path.name))) | {"reused": reused})
            progress.advance(task)
    return _summary(api, args, results, skipped, time.perf_counter() - started)


def _collected(api: MediaflowClient, path: Path, run_id: str, folder: Path, timeout: float,
               on_progress: Callable[[Run], None]) -> dict[str, Any]:
    """The result of ``path``'s run once it ended, its outputs downloaded into ``folder``; pending when it is still
    going after ``timeout`` seconds."""
    from mediaflow.client.errors import WaitTimeout

    try:
        run = api.runs.wait(run_id, timeout=timeout, on_progress=on_progress)
    except WaitTimeout as late:
        status = str(getattr(late.last, "status", None) or "running")
        return {"input": str(path), "runId": run_id, "status": status, "error": None, "outputs": []}
    files = api.runs.download_outputs(run, folder, as_asked=True) if run.status == "completed" else []
    return {"input": str(path), "runId": run.run_id, "status": run.status, "error": run.error,
            "outputs": [{"key": o.key, "filename": o.filename, "size": o.size, "contentType": o.content_type,
                         "path": str(p)} for o, p in zip(run.outputs, files, strict=False)]}


def _summary(api: MediaflowClient, args: argparse.Namespace, results: list[dict[str, Any]], skipped: list[Path],
             elapsed: float) -> int:
    """Print the command's results (a table, or JSON with ``--json``); its exit status: 75 when a run is still
    going, else 1 when one failed, else 0."""
    from mediaflow.console import human_size, run_document, run_tail

    completed = sum(1 for r in results if r["status"] == "completed")
    pending = sum(1 for r in results if r["status"] in ("pending", "running"))
    failed = len(results) - completed - pending
    if pending:
        (err if args.json else console).print(
            f"[yellow]still running[/]: {pending} run(s) after --timeout {args.timeout:g} s; run the same command "
            "again to collect them (nothing is started again)")
    if args.json:
        _dump(run_document(args.workflow, len(results), completed, failed, elapsed, results, skipped,
                           **({"pending": pending} if pending else {})))
    else:
        table = table_of(f"{escape(args.workflow)} on {escape(api.base_url)}: {len(results)} file(s)", "input",
                         "run", "status", "outputs", "size")
        for r in results:
            style = {"completed": "green", "pending": "yellow", "running": "yellow"}.get(r["status"], "red")
            table.add_row(escape(Path(r["input"]).name), r["runId"], f"[{style}]{r['status']}[/]",
                          "\n".join(escape(o["path"]) for o in r["outputs"]) or "-",
                          "\n".join(human_size(o["size"]) for o in r["outputs"]) or "-")
        console.print(table)
        for line in run_tail(completed, failed, elapsed, Path(args.out), skipped, still_running=pending):
            console.print(line)
    return EXIT_RUN_AGAIN if pending else 1 if failed else 0


def _start(api: MediaflowClient, workflow_id: str, path: Path, out_dir: Path, *, force: bool) -> tuple[str, bool]:
    """The run of ``path`` and whether it is one an earlier command started. The same command again (the same
    API, workflow, file and ``--out``; the file untouched: its device, inode, size and modification time) gets
    the run it started before, as a local one does: ``--out``'s manifest names it (a failed or cancelled one
    is retried from its failed Task; one the API no longer has starts again), and a start whose answer was
    lost is replayed by the API (the same ``Idempotency-Key``, 24 h). A file too large to go with the request
    is uploaded in parts, starting nothing, and its stored object is noted before the run starts, so it is
    not uploaded twice. ``--force`` starts a new run."""
    from mediaflow.file_stat import file_etag
    from mediaflow.out_manifest import OutputManifest

    manifest = OutputManifest.of(out_dir)
    source, workflow, etag = str(path.absolute()), f"{api.base_url} {workflow_id}", file_etag(path)
    if force:
        run_id = api.runs.start(workflow_id, [path]).run_id
    else:
        with manifest.lock:
            earlier = manifest.inputs.get((source, workflow))
        again = _resumed(api, earlier[1]) if earlier is not None and earlier[0] == etag else None
        if again is not None:
            return again, True
        run_id = _started(api, workflow_id, path, manifest, (source, workflow, etag))
    with manifest.lock:
        manifest.note_input(source, workflow, etag, run_id)
    return run_id, False


def _resumed(api: MediaflowClient, run_id: str) -> str | None:
    """``run_id`` again: as it is, or retried from its failed Task when it failed or was cancelled; None when
    the API no longer has it or cannot retry it."""
    from mediaflow.client.errors import ClientError

    try:
        run = api.runs.get(run_id)
        if run.status in ("failed", "cancelled"):
            return api.runs.retry(run_id).run_id
    except ClientError:
        return None
    return run.run_id


def _started(api: MediaflowClient, workflow_id: str, path: Path, manifest: OutputManifest,
             identity: tuple[str, str, str]) -> str:
    """A new run of ``path`` (see ``_start``), under a key that makes a lost answer's retry the same run."""
    import hashlib

    from mediaflow.client.errors import NotFound, Unprocessable

    source, workflow, etag = identity
    mark = "\0".join([api.base_url, workflow_id, source, str(manifest.folder), etag])
    key = "mediaflow-run-" + hashlib.sha256(mark.encode()).hexdigest()[:40]
    if path.stat().st_size <= api.direct_limit:
        return _keyed(lambda given: api.runs.start(workflow_id, [path], idempotency_key=given), key)
    with manifest.lock:
        stored = manifest.objects.get((source, workflow))
    if stored is not None and stored[0] == etag:
        try:
            return _keyed(lambda given: api.runs.start_objects(workflow_id, [stored[1]], idempotency_key=given), key)
        except (NotFound, Unprocessable):
            pass  # the object is gone: upload the file again
    uploaded = api.uploads.upload(path, start=False).key
    with manifest.lock:
        manifest.note_object(source, workflow, etag, uploaded)
    return _keyed(lambda given: api.runs.start_objects(workflow_id, [uploaded], idempotency_key=given), key)


def _keyed(start: Callable[[str | None], RunAccepted], key: str) -> str:
    """The run ``start`` starts under ``key``; without a key when the API has seen it with another request."""
    from mediaflow.client.errors import Unprocessable

    try:
        return start(key).run_id
    except Unprocessable as error:
        if error.code != "IdempotencyKeyReused":
            raise
        return start(None).run_id


def _begins_on_media(api: MediaflowClient, workflow_id: str) -> bool:
    """Whether the stored workflow begins on the media's bytes (``catalog.begins_on_media``); False when it
    cannot be read, by a key without `workflows:read` too (its runs then go ahead, or say what is wrong)."""
    from pydantic import ValidationError

    from mediaflow.catalog import begins_on_media
    from mediaflow.client.errors import ClientError
    from mediaflow.definition import WorkflowDefinition

    try:
        stored = api.workflows.get(workflow_id)
        return begins_on_media(WorkflowDefinition.model_validate({"nodes": stored.nodes, "edges": stored.edges}))
    except (ClientError, ValidationError):
        return False


# -- keys, validate, plan ------------------------------------------------------------------------------


def keys(api: MediaflowClient, args: argparse.Namespace) -> int:
    if args.tenant:
        err.print("[yellow]warning[/] --tenant is ignored with --api: keys belong to the tenant of the key used")
    if args.action == "create":
        scopes = [s.strip() for s in (args.scopes or "").split(",") if s.strip()]
        created = api.keys.create(scopes, name=args.name)
        sys.stdout.write(created.key + "\n")
        err.print(f"key {created.key_id} ({', '.join(created.scopes)}); shown once: store it now")
        return 0
    if args.action == "revoke":
        if not args.key_id:
            err.print("[red]error[/] keys revoke needs a key id")
            return 2
        api.keys.revoke(args.key_id)
        console.print(f"revoked key {args.key_id}")
        return 0
    listed = api.keys.list()
    if args.json:
        _dump(listed)
        return 0
    table = table_of("API keys", "key id", "name", "scopes", "created", "revoked")
    for k in listed.keys:
        table.add_row(k.key_id, escape(k.name), ", ".join(k.scopes), k.created_at, k.revoked_at or "")
    console.print(table)
    return 0


def validate_remote(api: MediaflowClient, args: argparse.Namespace) -> int:
    result = api.workflows.validate(args.file)
    if args.json:
        _dump(result)
        return 0 if result.valid else 1
    for issue in result.warnings:
        console.print(f"[yellow]warning[/] {escape(issue.get('message', ''))}")
    if result.valid:
        console.print(f"[green]valid[/] {result.workflow_id}: {result.node_count} nodes, "
                      f"{result.connection_count} edges")
        return 0
    console.print(f"[red]invalid[/] {result.workflow_id}: {len(result.errors)} error(s)")
    for issue in result.errors:
        where = f"node {issue['nodeId']} " if issue.get("nodeId") else ""
        console.print(f"  [red]error[/] {escape(where + str(issue.get('path') or ''))}: "
                      f"{escape(str(issue.get('message')))}")
    return 1


def plan_remote(api: MediaflowClient, args: argparse.Namespace) -> int:
    plan = api.workflows.plan(args.file, items=max(1, args.batch))
    if args.json:
        _dump(plan)
        return 0
    for key in ("executionType", "taskStates", "transitionsPerRun", "lambdaInvocationsPerRun",
                "estimatedCostPer1000RunsUsd"):
        if key in plan:
            console.print(f"{key:<24} {plan[key]}")
    return 0


REMOTE: dict[str, Callable[[MediaflowClient, argparse.Namespace], int]] = {
    "workflows": workflows, "runs": runs, "run": run_files, "keys": keys, "validate": validate_remote,
    "plan": plan_remote, "upload": lambda api, args: upload_file(api, args),
}


def dispatch(name: str, local: Handler) -> Handler:
    """Run ``name`` remotely when a target is configured, else the local handler."""

    def handle(args: argparse.Namespace) -> int:
        try:
            target = target_of(args)
        except LookupError as error:
            err.print(f"[red]error[/] {escape(str(error))}")
            return 2
        if target is None:
            return local(args)
        resume_collection()  # a remote command's start is short; its waits may be long
        if name in ("validate", "plan") and (args.file == "-" or Path(args.file).is_file()):
            return local(args)  # a file is checked by the same pure validator and compiler, no API needed
        if not target.api_key:
            err.print(f"[red]error[/] no API key for {escape(target.api_url)}: pass --key, set MEDIAFLOW_API_KEY "
                      "or run `mediaflow login`")
            return 2
        return guarded(lambda: _with_client(target, lambda api: REMOTE[name](api, args)))

    return handle


def _with_client(target: Target, action: Callable[[MediaflowClient], int]) -> int:
    with open_client(target) as api:
        return action(api)


def guarded(action: Callable[[], int], refused: str = "") -> int:
    """Run ``action``; an API error prints its problem (exit 1), an unreachable API exits 2."""
    from mediaflow.client import ApiError, ClientError

    try:
        return action()
    except ApiError as error:
        err.print(f"[red]error[/] {escape(refused)}{escape(str(error))}")
        return 1
    except ClientError as error:
        err.print(f"[red]error[/] {escape(str(error))}")
        return 2


# -- login / logout ------------------------------------------------------------------------------------


def _check_key(api: MediaflowClient) -> int:
    api.workflows.list(limit=1)
    return 0


def cmd_login(args: argparse.Namespace) -> int:
    key = args.key or (sys.stdin.readline().strip() if not sys.stdin.isatty() else getpass.getpass("API key: "))
    if not key:
        err.print("[red]error[/] no API key given")
        return 2
    from mediaflow.client.profiles import Target, save_profile

    code = guarded(lambda: _with_client(Target(args.api, key, "--api"), _check_key),
                   refused=f"{args.api} refused the key: ")
    if code:
        return code
    path = save_profile(args.profile, args.api, key)
    console.print(f"logged in to {escape(args.api)} as profile {escape(args.profile)} ({escape(str(path))}); "
                  f"use --profile {escape(args.profile)} or --api {escape(args.api.rstrip('/'))}")
    return 0


def cmd_logout(args: argparse.Namespace) -> int:
    from mediaflow.client.profiles import profiles_path, remove_profile

    if remove_profile(args.profile):
        console.print(f"removed profile {escape(args.profile)} from {escape(str(profiles_path()))}")
        return 0
    err.print(f"[yellow]no profile {escape(args.profile)}[/]")
    return 1


def remote_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("remote (a deployed stack or a running `mediaflow serve`)")
    group.add_argument("--api", metavar="URL", default=None,
                       help="API root, e.g. https://abc.execute-api.eu-west-1.amazonaws.com/prod "
                            "(default MEDIAFLOW_API_URL; unset = this machine's data dir)")
    group.add_argument("--key", default=None, help="API key (default MEDIAFLOW_API_KEY, else the login profile)")
    group.add_argument("--profile", default=None,
                       help="profile saved by `mediaflow login` (default MEDIAFLOW_PROFILE)")


def register(sub: Any) -> None:
    """Add the remote options to the commands that have a remote meaning, and login/logout."""
    for name in REMOTE_COMMANDS:
        parser: argparse.ArgumentParser = sub.choices[name]
        remote_options(parser)
        parser.set_defaults(handler=dispatch(name, parser.get_default("handler")))
        if name == "run":
            parser.add_argument("--timeout", type=float, default=900.0, metavar="SECONDS",
                                help="remote: how long to wait for each run (default 900); a run still going then is "
                                     "left running and listed as pending (exit 75: the same command collects it)")

    p = sub.add_parser("login", help="save an API URL and key as a profile in the user's config dir")
    p.add_argument("--api", metavar="URL", required=True, help="API root of the stack")
    p.add_argument("--key", default=None, help="API key (default: read from stdin or prompted)")
    p.add_argument("--profile", default=DEFAULT_PROFILE, help="profile name (default: default)")
    p.set_defaults(handler=cmd_login)

    p = sub.add_parser("logout", help="forget a saved profile")
    p.add_argument("--profile", default=DEFAULT_PROFILE, help="profile name (default: default)")
    p.set_defaults(handler=cmd_logout)


# -- upload --------------------------------------------------------------------------------------------


def upload_needs_an_api(args: argparse.Namespace) -> int:
    err.print("[red]error[/] upload needs an API: pass --api and --key, set MEDIAFLOW_API_URL and MEDIAFLOW_API_KEY, "
              "or run `mediaflow login` (locally, drop files in <data dir>/uploads/)")
    return 2


def upload_file(api: MediaflowClient, args: argparse.Namespace) -> int:
    """Upload a file in parts; run again after an interruption, it sends only the missing parts."""
    path = Path(args.file)
    if not path.is_file():
        err.print(f"[red]error[/] no such file: {escape(args.file)}")
        return 2
    metadata = dict(item.split("=", 1) for item in args.metadata or [] if "=" in item)
    from rich.progress import TextColumn

    with Progress(TextColumn("{task.description}"), console=err, transient=not sys.stderr.isatty()) as progress:
        task = progress.add_task(escape(path.name), total=None)

        def resumed(done: int, total: int) -> None:
            err.print(f"resuming: {done} of {total} parts already uploaded")

        def part_done(number: int, done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        completed = api.uploads.upload(path, workflow_id=args.workflow, prefix=args.prefix, metadata=metadata,
                                       part_size=args.part_size, on_part=part_done, on_resume=resumed)
    if args.json:
        _dump(completed)
        return 0
    console.print(f"uploaded {escape(completed.key)} ({completed.size} bytes, {escape(completed.content_type)})")
    for run_id in completed.run_ids:
        console.print(f"started run {escape(run_id)}")
    return 0


def register_upload(sub: Any) -> None:
    p = sub.add_parser("upload", help="upload a large file in parts to the API (resumes an interrupted upload)")
    p.add_argument("file", help="the file to upload")
    p.add_argument("--workflow", default=None, metavar="ID", help="start only this workflow (default: every "
                   "active workflow whose upload trigger matches)")
    p.add_argument("--prefix", default="", help="folder below the tenant's uploads, e.g. incoming/")
    p.add_argument("--metadata", action="append", metavar="NAME=VALUE", help="object metadata (repeatable)")
    p.add_argument("--part-size", type=int, default=None, metavar="BYTES", help="bytes per part (default 8 MiB)")
    p.add_argument("--json", action="store_true", help="print the completed upload as JSON")
    remote_options(p)
    p.set_defaults(handler=dispatch("upload", upload_needs_an_api))

