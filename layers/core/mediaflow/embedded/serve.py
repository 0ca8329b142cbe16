"""`mediaflow serve`: the HTTPS API (the same resolver as on Lambda) on a local HTTP server, with the upload
watcher (files dropped in <data dir>/uploads/) running alongside."""

from __future__ import annotations

import dataclasses
import logging
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mediaflow.console import LazyConsole, escape
from mediaflow.embedded.app import LocalService

console = LazyConsole(highlight=False)
FINISHED = frozenset({"completed", "failed", "cancelled"})
SWEEP_SECONDS = 3600.0  # how often serve deletes incomplete multipart uploads past their retention


class UploadWatcher:
    """Polls uploads/ and hands each new, no-longer-growing file to the service."""

    def __init__(self, service: LocalService) -> None:
        self.service = service
        self.root = service.data_dir / "uploads"
        self.root.mkdir(parents=True, exist_ok=True)
        self._sizes: dict[Path, int] = {}

    def scan(self, *, settle: bool = True) -> list[str]:
        started: list[str] = []
        for path in sorted(p for p in self.root.rglob("*") if p.is_file() and not p.name.startswith(".")):
            size = path.stat().st_size
            if settle and self._sizes.get(path) != size:
                self._sizes[path] = size  # still being written, or first seen: look again next poll
                continue
            self._sizes.pop(path, None)
            try:
                run_ids = self.service.handle_upload(path, self.root)
            except Exception as error:  # one bad file never stops the watcher
                console.print(f"[red]error[/] {escape(str(path))}: {escape(str(error))}")
                continue
            for run_id in run_ids:
                console.print(f"started run {run_id} for {escape(path.relative_to(self.root).as_posix())}")
            started.extend(run_ids)
        return started

    def wait(self, run_ids: list[str], timeout: float = 600.0) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        statuses: dict[str, str] = {}
        while time.monotonic() < deadline:
            statuses = {run_id: self.service.adapters.runs.get_run(self.service.tenant, run_id)["status"]
                        for run_id in run_ids}
            if all(status in FINISHED for status in statuses.values()):
                break
            time.sleep(0.1)
        return statuses


@contextmanager
def stop_signals() -> Iterator[threading.Event]:
    """An event set by SIGTERM or SIGINT (a second one of either stops at once). The caller may set the
    event itself to wake its waiting thread (work finished); that is not a signal, so a SIGTERM that
    arrives just after still counts as the first."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    signalled = False

    def handle(signum: int, frame: object) -> None:
        nonlocal signalled
        if signalled:
            raise KeyboardInterrupt
        signalled = True
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def access_log_to_stderr() -> None:
    from mediaflow.dashboard import RedactSecrets

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
    handler.addFilter(RedactSecrets())
    for name in ("uvicorn.access", "uvicorn.error", "mediaflow.server"):
        log = logging.getLogger(name)
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False


def serve(*, host: str = "127.0.0.1", port: int = 8080, data_dir: Path | None = None,
          poll_seconds: float = 1.0, once: bool = False, grace_seconds: float = 30.0,
          rate_per_second: float | None = None, burst: int | None = None) -> int:
    with LocalService(data_dir=data_dir) as service:
        watcher = UploadWatcher(service)
        recovered = service.runtime.recover()
        if recovered["resumed"] or recovered["interrupted"]:
            console.print(f"resumed {len(recovered['resumed'])} run(s) a previous process left in flight; "
                          f"{len(recovered['interrupted'])} ended RuntimeInterrupted")
        if once:
            statuses = watcher.wait(watcher.scan(settle=False))
            for run_id, status in statuses.items():
                console.print(f"{run_id}: {status}")
            return 0 if all(status == "completed" for status in statuses.values()) else 1
        from mediaflow.api import ApiConfig
        from mediaflow.embedded.http_server import local_api

        access_log_to_stderr()
        with stop_signals() as stop:
            defaults = ApiConfig()
            config = dataclasses.replace(
                defaults, rate_per_second=defaults.rate_per_second if rate_per_second is None else rate_per_second,
                burst=defaults.burst if burst is None else burst)
            server = local_api(service, host, port, config, access_log=True, dashboard=True).start()
            service.webhooks.start()
            console.print(f"mediaflow API on {server.url}/v1 (docs {server.url}/v1/docs); "
                          f"watching {escape(str(watcher.root))} (Ctrl-C or SIGTERM stops)")
            assert server.app.site is not None
            # printed, never logged: the link signs one browser in as the service's tenant, then stops working
            browser_url = server.url.replace("//0.0.0.0:", "//127.0.0.1:").replace("//[::]:", "//[::1]:")
            console.print(f"dashboard: open {browser_url}/signin/{server.app.site.sessions.issue_token()} "
                          "(a one-time sign-in link)", soft_wrap=True)
            sweep_due = 0.0
            try:
                while not stop.is_set():
                    watcher.scan()
                    if time.monotonic() >= sweep_due:  # incomplete multipart uploads past their retention
                        sweep_due = time.monotonic() + SWEEP_SECONDS
                        server.context.multipart.sweep(config.multipart_expires_seconds)
                    stop.wait(poll_seconds)
                console.print("stopping: finishing requests and running tasks")
            except KeyboardInterrupt:
                console.print("stopping now")
                grace_seconds = 0.0
            finally:
                server.stop()
                left = service.runtime.drain(grace_seconds)
                if left:
                    console.print(f"{len(left)} run(s) checkpointed; they resume when mediaflow starts again")
    return 0
