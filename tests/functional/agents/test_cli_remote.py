"""The remote CLI: the README's remote script verbatim against a real `mediaflow serve`, the same flow
in-process against the API Lambda on moto, and the local `workflows activate|pause ID` fix."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.functional.agents.conftest import ROOT, OnMoto, Served, mediaflow, photo

pytestmark = pytest.mark.functional
EXAMPLE = ROOT / "examples" / "convertly-convert-compress.json"


def readme_block(marker: str) -> str:
    match = re.search(rf"<!-- {marker} -->\n```bash\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.DOTALL)
    assert match, f"README lost its {marker}"
    return match.group(1)


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_readme_remote_script_against_serve(served: Served) -> None:
    folder = served.folder
    (folder / "examples").mkdir(exist_ok=True)
    shutil.copy(EXAMPLE, folder / "examples" / EXAMPLE.name)
    if not (folder / ".venv").exists():
        (folder / ".venv").symlink_to(Path(sys.executable).parent.parent)
    env = {**served.env, "API": served.url}
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", readme_block("remote-cli-script")], cwd=folder,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"workflow wf_\w+ is paused", done.stdout) and re.search(r"workflow wf_\w+ is active",
                                                                              done.stdout)
    assert "1 completed, 0 failed" in done.stdout, done.stdout
    assert (folder / "remote-out" / "photo.webp").read_bytes()[8:12] == b"WEBP"
    profiles = json.loads((folder / "config" / "profiles.json").read_text())
    assert profiles["default"]["api"] == served.url
    assert (folder / "config" / "profiles.json").stat().st_mode & 0o077 == 0


def test_remote_errors_and_keys_against_serve(served: Served, tmp_path: Path) -> None:
    remote = ["--api", served.url, "--key", served.key]
    missing = mediaflow("workflows", "activate", "wf_missing", *remote, cwd=tmp_path, env=served.env)
    assert missing.returncode == 1 and "404 NotFound" in missing.stderr
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "bad", "status": "active", "nodes": [
        {"id": "upload", "kind": "upload"}, {"id": "shrink", "kind": "resize", "config": {"width": -5}}],
        "edges": [{"source": "upload", "target": "shrink"}]}))
    refused = mediaflow("workflows", "add", str(bad), *remote, cwd=tmp_path, env=served.env)
    assert refused.returncode == 1 and "node shrink" in refused.stderr and "width" in refused.stderr
    created = mediaflow("keys", "create", "--scopes", "workflows:read", "--name", "ci", *remote, cwd=tmp_path,
                        env=served.env)
    assert created.returncode == 0, created.stderr
    listed = mediaflow("keys", "list", "--json", *remote, cwd=tmp_path, env=served.env)
    key_id = next(k["keyId"] for k in json.loads(listed.stdout)["keys"] if k["name"] == "ci")
    revoked = mediaflow("keys", "revoke", key_id, *remote, cwd=tmp_path, env=served.env)
    assert revoked.returncode == 0
    denied = mediaflow("workflows", "list", "--api", served.url, "--key", created.stdout.strip(), cwd=tmp_path,
                       env=served.env)
    assert denied.returncode == 1 and "401" in denied.stderr
    photo(tmp_path, "in.jpg")
    (tmp_path / "a-file").write_text("mine")
    into_a_file = mediaflow("run", "wf_any", "in.jpg", "--out", "a-file", *remote, cwd=tmp_path, env=served.env)
    assert into_a_file.returncode == 2 and "--out a-file is a file" in into_a_file.stderr, into_a_file.stderr
    assert (tmp_path / "a-file").read_text() == "mine"
    no_key = mediaflow("workflows", "list", "--api", "http://127.0.0.1:9/", cwd=tmp_path,
                       env={**served.env, "MEDIAFLOW_CONFIG_DIR": str(tmp_path / "empty")})
    assert no_key.returncode == 2 and "no API key" in no_key.stderr


def test_remote_flow_against_the_lambda_on_moto(on_moto: OnMoto, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """The README remote flow, in-process, with the CLI's requests turned into API Gateway events."""
    from mediaflow import cli_remote
    from mediaflow.cli import main

    monkeypatch.setattr(cli_remote, "transport", on_moto.transport)
    monkeypatch.setenv("MEDIAFLOW_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.chdir(tmp_path)
    api = ["--api", on_moto.url]

    def run(*argv: str) -> str:
        capsys.readouterr()
        code = main(list(argv))
        out, err = capsys.readouterr()
        assert code == 0, f"{argv}: {out}{err}"
        # The Lambda handlers run in this process: drop their metrics lines (CloudWatch EMF on stdout).
        return "\n".join(line for line in out.splitlines() if not line.startswith('{"_aws"'))

    run("login", "--api", on_moto.url, "--key", on_moto.key)
    workflow = json.loads(run("workflows", "add", str(EXAMPLE), "--json", *api))
    assert workflow["status"] == "active"
    assert "is paused" in run("workflows", "pause", workflow["id"], "--profile", "default")
    assert "is active" in run("workflows", "activate", workflow["id"], *api)
    assert "valid" in run("validate", workflow["id"], *api)
    assert "executionType" in run("plan", workflow["id"], *api)
    image = photo(tmp_path, "remote-photo.jpg")  # its own name in the package's shared tenant outputs
    report = json.loads(run("run", workflow["id"], str(image), "--out", "remote-out", "--json", *api))
    assert report["completed"] == 1, report
    assert (tmp_path / "remote-out" / "remote-photo.webp").read_bytes()[8:12] == b"WEBP"
    runs = json.loads(run("runs", "list", "--workflow", workflow["id"], "--json", *api))
    assert runs[0]["runId"] == report["results"][0]["runId"] and runs[0]["status"] == "completed"
    assert "completed" in run("runs", "show", runs[0]["runId"], *api)
    listed = json.loads(run("workflows", "list", "--json", *api))
    assert workflow["id"] in [w["id"] for w in listed]
    run("workflows", "delete", workflow["id"], *api)


def test_local_workflows_activate_and_pause_take_the_id(tmp_path: Path) -> None:
    env = {**os.environ, "MEDIAFLOW_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(ROOT / "layers" / "core")}
    env.pop("MEDIAFLOW_API_URL", None)
    added = mediaflow("workflows", "add", str(EXAMPLE), "--id", "web", cwd=tmp_path, env=env)
    assert added.returncode == 0, added.stdout + added.stderr
    paused = mediaflow("workflows", "pause", "web", cwd=tmp_path, env=env)
    assert paused.returncode == 0 and "workflow web is paused" in paused.stdout, paused.stdout + paused.stderr
    active = mediaflow("workflows", "activate", "web", cwd=tmp_path, env=env)
    assert active.returncode == 0 and "workflow web is active" in active.stdout
    shown = mediaflow("workflows", "get", "web", cwd=tmp_path, env=env)
    assert json.loads(shown.stdout)["status"] == "active"
    assert mediaflow("workflows", "delete", "web", cwd=tmp_path, env=env).returncode == 0
    assert "web" not in mediaflow("workflows", "list", "--json", cwd=tmp_path, env=env).stdout


def test_remote_run_places_outputs_as_a_local_run_does(served: Served, tmp_path: Path) -> None:
    """`mediaflow run --api` on a camera card: each output in its input's folder under --out, named as the
    storage node asked (prefix included), the card's XMP sidecar skipped and listed, as a local run does; the
    same files run locally into another --out give the same layout."""
    from mediaflow.samples import photo as make

    remote = ["--api", served.url, "--key", served.key]
    workflow = tmp_path / "web.json"
    workflow.write_text(json.dumps({"name": "web", "status": "active", "nodes": [
        {"id": "upload", "kind": "upload"},
        {"id": "webp", "kind": "convert", "config": {"outputFormat": "webp", "compressionLevel": 70}},
        {"id": "keep", "kind": "storage", "config": {"prefix": "web/"}}],
        "edges": [{"source": "upload", "target": "webp"}, {"source": "webp", "target": "keep"}]}))
    added = mediaflow("workflows", "add", str(workflow), "--json", *remote, cwd=tmp_path, env=served.env)
    assert added.returncode == 0, added.stderr
    workflow_id = json.loads(added.stdout)["workflowId"]
    for seed, name in enumerate(["DCIM/100CANON/IMG_0001.JPG", "DCIM/101CANON/IMG_0001.JPG"]):
        make(tmp_path / "card" / name, 320, 240, seed=seed)
    (tmp_path / "card" / "DCIM" / "100CANON" / "IMG_0001.XMP").write_text('<x:xmpmeta xmlns:x="adobe:ns:meta/"/>')

    done = mediaflow("run", workflow_id, "card", "--out", "remote", "--json", *remote, cwd=tmp_path, env=served.env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    summary = json.loads(done.stdout)
    assert [Path(path).name for path in summary["skipped"]] == ["IMG_0001.XMP"]
    written = sorted(p.relative_to(tmp_path / "remote").as_posix() for p in (tmp_path / "remote").rglob("*")
                     if p.is_file() and not p.name.startswith("."))
    assert written == ["DCIM/100CANON/web/IMG_0001.webp", "DCIM/101CANON/web/IMG_0001.webp"]
    assert all(output["path"].endswith("/web/IMG_0001.webp") for r in summary["results"] for output in r["outputs"])

    local = mediaflow("run", str(workflow), "card", "--out", "local", "--json", cwd=tmp_path,
                      env={**served.env, "MEDIAFLOW_DATA_DIR": str(tmp_path / "data")})
    assert local.returncode == 0, local.stderr[-2000:]
    assert sorted(p.relative_to(tmp_path / "local").as_posix() for p in (tmp_path / "local").rglob("*")
                  if p.is_file() and not p.name.startswith(".")) == written


def test_remote_run_again_waits_for_its_runs_instead_of_starting_them_again(served: Served, tmp_path: Path) -> None:
    """`mediaflow run --api` run again (after a stop, or twice): the API replays each file's start, so the same
    runs come back and no second copy of an output is written; a touched file and --force start new runs."""
    from mediaflow.samples import photo as make

    remote = ["--api", served.url, "--key", served.key]
    added = mediaflow("workflows", "add", str(EXAMPLE), "--json", *remote, cwd=tmp_path, env=served.env)
    assert added.returncode == 0, added.stderr
    workflow_id = json.loads(added.stdout)["workflowId"]
    for seed in range(2):
        make(tmp_path / "in" / f"p{seed}.jpg", 320, 240, seed=seed)

    def run(*extra: str) -> dict[str, str]:
        done = mediaflow("run", workflow_id, "in", "--out", "out", "--json", *extra, *remote, cwd=tmp_path,
                         env=served.env)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        return {Path(r["input"]).name: r["runId"] for r in json.loads(done.stdout)["results"]}

    def written() -> list[str]:
        return sorted(p.name for p in (tmp_path / "out").rglob("*") if p.is_file() and not p.name.startswith("."))

    first = run()
    assert written() == ["p0.webp", "p1.webp"]
    assert run() == first and written() == ["p0.webp", "p1.webp"]
    (tmp_path / "out" / ".mediaflow-outputs.jsonl").unlink()  # a start whose answer was lost: the API replays it
    assert run() == first and written() == ["p0.webp", "p1.webp"]

    touched = tmp_path / "in" / "p1.jpg"
    os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 10**9))
    again = run()
    assert again["p0.jpg"] == first["p0.jpg"] and again["p1.jpg"] != first["p1.jpg"]
    assert written() == ["p0.webp", "p1.webp"]  # the same bytes again: not a second copy

    forced = run("--force")
    assert not set(forced.values()) & set(again.values())


def test_remote_run_of_a_file_past_the_request_limit_runs_it_once_and_again_not_at_all(served: Served,
                                                                                      tmp_path: Path) -> None:
    """A file larger than a run request may carry (9 MiB) goes up in parts and starts nothing by itself: the
    workflow, active with an upload trigger, runs once on it (it ran twice, once for the upload), and a file
    over the server's 10 MiB body limit runs at all (it was refused with 413). A run still going after
    --timeout is left running and listed (exit 75). Run again, the command gets its runs back from --out's
    manifest without uploading anything; a failed file is retried under its run id."""
    import numpy as np
    from mediaflow.samples import photo as make
    from PIL import Image

    remote = ["--api", served.url, "--key", served.key]
    added = mediaflow("workflows", "add", str(EXAMPLE), "--json", *remote, cwd=tmp_path, env=served.env)
    assert added.returncode == 0, added.stderr
    workflow_id = json.loads(added.stdout)["workflowId"]
    (tmp_path / "in").mkdir()
    noise = np.random.default_rng(7).integers(0, 256, (1900, 1900, 3), dtype=np.uint8)
    Image.fromarray(noise).save(tmp_path / "in" / "big.png")
    assert (tmp_path / "in" / "big.png").stat().st_size > 10 * 1024 * 1024
    make(tmp_path / "in" / "small.jpg", 320, 240, seed=3)
    (tmp_path / "in" / "broken.jpg").write_bytes(b"\xff\xd8\xff" + bytes(range(256)) * 8)
    uploads = served.folder / "serve.log"

    def runs_of_tenant() -> set[str]:  # every workflow's: an upload would start the others too
        listed = mediaflow("runs", "list", "--json", *remote, cwd=tmp_path, env=served.env)
        assert listed.returncode == 0, listed.stderr
        return {r["runId"] for r in json.loads(listed.stdout)}

    before = runs_of_tenant()

    def run() -> dict[str, tuple[str, str, bool]]:
        done = mediaflow("run", workflow_id, "in", "--out", "out", "--json", *remote, cwd=tmp_path, env=served.env)
        assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]  # broken.jpg fails
        results = json.loads(done.stdout)["results"]
        return {Path(r["input"]).name: (r["runId"], r["status"], r["reused"]) for r in results}

    timed = mediaflow("run", workflow_id, "in", "--out", "out", "--json", "--timeout", "0.01", *remote,
                      cwd=tmp_path, env=served.env)  # the big file's run is still going: left running, listed
    assert timed.returncode == 75, timed.stdout[-2000:] + timed.stderr[-2000:]
    summary = json.loads(timed.stdout)
    assert summary["pending"] >= 1 and "run the same command again" in timed.stderr
    assert {r["status"] for r in summary["results"] if Path(r["input"]).name == "big.png"} <= {"pending", "running"}

    first = run()  # collects them: nothing started again
    assert first["big.png"][1] == first["small.jpg"][1] == "completed" and first["broken.jpg"][1] == "failed"
    assert {name: run_id for name, (run_id, _, _) in first.items()} == {
        Path(r["input"]).name: r["runId"] for r in summary["results"]}
    assert runs_of_tenant() - before == {run_id for run_id, _, _ in first.values()}  # no run of the upload
    assert sorted(p.name for p in (tmp_path / "out").rglob("*.webp")) == ["big.webp", "small.webp"]
    posts = uploads.read_text().count("POST /v1/uploads")

    again = run()
    assert {name: run_id for name, (run_id, _, _) in again.items()} == {n: r for n, (r, _, _) in first.items()}
    assert all(reused for _, _, reused in again.values()) and again["broken.jpg"][1] == "failed"
    assert uploads.read_text().count("POST /v1/uploads") == posts
    assert "/retry" in uploads.read_text()
    assert runs_of_tenant() - before == {run_id for run_id, _, _ in first.values()}
    assert sorted(p.name for p in (tmp_path / "out").rglob("*.webp")) == ["big.webp", "small.webp"]


def test_two_remote_runs_into_one_out_folder_take_turns(served: Served, tmp_path: Path) -> None:
    """Two `mediaflow run --api` into the same --out at once: the second waits for the first (as two local runs
    do), then gets every run back from the folder's manifest; each output is written once."""
    from mediaflow.samples import photo as make

    remote = ["--api", served.url, "--key", served.key]
    added = mediaflow("workflows", "add", str(EXAMPLE), "--json", *remote, cwd=tmp_path, env=served.env)
    workflow_id = json.loads(added.stdout)["workflowId"]
    for seed in range(3):
        make(tmp_path / "in" / f"t{seed}.jpg", 320, 240, seed=seed)
    argv = [sys.executable, "-m", "mediaflow.cli", "run", workflow_id, "in", "--out", "out", "--json", *remote]
    both = [subprocess.Popen(argv, cwd=tmp_path, env=served.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for _ in range(2)]
    answers = [process.communicate(timeout=300) for process in both]
    assert [process.returncode for process in both] == [0, 0], [err[-2000:] for _, err in answers]
    summaries = [json.loads(out) for out, _ in answers]
    assert sorted(sum(r["reused"] for r in summary["results"]) for summary in summaries) == [0, 3]
    first, second = ({r["runId"] for r in summary["results"]} for summary in summaries)
    assert first == second
    assert any("waiting: another mediaflow run" in err for _, err in answers)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        ".mediaflow-lock", ".mediaflow-outputs.jsonl", "t0.webp", "t1.webp", "t2.webp"]
