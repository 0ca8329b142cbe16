"""The CLI's pure commands: validate, plan, nodes (exit codes and JSON shapes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mediaflow.catalog import catalog
from mediaflow.cli import catalog_markdown, expected_run, expected_worker_modules, main

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]


def test_validate_exit_codes_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(ROOT / "examples" / "branch-media-type.json")]) == 0
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"nodes": [{"id": "u", "kind": "upload"}, {"id": "r", "kind": "resize"}],
                               "edges": [{"source": "u", "target": "r"}]}))
    capsys.readouterr()
    assert main(["validate", str(bad), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] is False
    assert report["errors"][0]["nodeId"] == "r" and report["errors"][0]["path"].startswith("nodes[1].config")
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    assert main(["validate", str(broken)]) == 1
    assert main(["validate", str(tmp_path / "missing.json")]) == 1


def test_plan_json_shape(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", str(ROOT / "examples" / "convertly-convert-compress.json"), "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert {"stateMachine", "executionType", "taskStates", "transitionsPerRun",
            "estimatedCostPer1000RunsUsd"} <= set(plan)
    assert plan["executionType"] == "EXPRESS" and plan["taskStates"] <= 2
    assert plan["estimatedCostPer1000RunsUsd"] > 0
    assert main(["plan", str(ROOT / "examples" / "video-poster-preview.json")]) == 0
    assert "STANDARD" in capsys.readouterr().out


def test_nodes_json_lists_every_kind_with_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["nodes", "--json"]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert [e["kind"] for e in entries] == list(catalog())
    for entry in entries:
        assert entry["runtime"] in ("vips", "ffmpeg", "rembg", "light")
        assert entry["configSchema"]["type"] == "object"


def test_node_reference_doc_is_current() -> None:
    from mediaflow.catalog import describe_catalog

    assert (ROOT / "docs" / "nodes.md").read_text() == catalog_markdown(describe_catalog()), \
        "docs/nodes.md is stale: run `.venv/bin/mediaflow nodes --markdown > docs/nodes.md`"


def test_every_example_config_is_valid() -> None:
    for spec in catalog().values():
        spec.config_model.model_validate(spec.example)


def test_the_command_skips_pydantic_plugin_lookup_unless_told(monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    import os

    monkeypatch.delenv("PYDANTIC_DISABLE_PLUGINS", raising=False)
    assert main(["nodes", "--json"]) == 0
    assert os.environ["PYDANTIC_DISABLE_PLUGINS"] == "__all__"  # inherited by the workers it forks
    monkeypatch.setenv("PYDANTIC_DISABLE_PLUGINS", "")  # a user's own value, even empty, is kept
    assert main(["nodes", "--json"]) == 0
    assert os.environ["PYDANTIC_DISABLE_PLUGINS"] == ""
    capsys.readouterr()


_PLUGIN_PROBE = """
import json, os, sys
from mediaflow.cli import _skip_pydantic_plugin_lookup
_skip_pydantic_plugin_lookup()
from mediaflow.execution.contract import TaskPayload
from mediaflow.media import MediaRef
ref = MediaRef.model_validate({"bucket": "b", "key": "k", "contentType": "image/png", "size": 1})
if os.environ.get("THEN_ENABLE"):
    os.environ["PYDANTIC_DISABLE_PLUGINS"] = ""
    from pydantic import BaseModel
    class Late(BaseModel):
        value: int
    Late(value=1)
loader = sys.modules["pydantic.plugin._loader"]
print(json.dumps({"metadata": "importlib.metadata" in sys.modules, "own_loader": hasattr(loader, "entry_points"),
                  "plugins": list(loader.get_plugins()), "key": ref.key}))
"""


def _plugin_probe(**env: str) -> dict[str, object]:
    import os
    import subprocess
    import sys

    environment = {key: value for key, value in os.environ.items() if key != "PYDANTIC_DISABLE_PLUGINS"}
    completed = subprocess.run([sys.executable, "-c", _PLUGIN_PROBE], env={**environment, **env},
                               capture_output=True, text=True, check=True)
    return dict(json.loads(completed.stdout))


def test_with_plugins_off_pydantic_builds_and_validates_models_without_importing_package_metadata() -> None:
    probe = _plugin_probe()
    assert probe == {"metadata": False, "own_loader": False, "plugins": [], "key": "k"}


def test_a_users_own_plugin_setting_gets_pydantics_own_loader() -> None:
    probe = _plugin_probe(PYDANTIC_DISABLE_PLUGINS="")
    assert probe["own_loader"] is True and probe["metadata"] is True and probe["key"] == "k"


def test_plugins_wanted_later_in_the_process_hand_over_to_pydantics_own_loader() -> None:
    probe = _plugin_probe(THEN_ENABLE="1")
    assert probe["own_loader"] is True and probe["metadata"] is True and probe["plugins"] == []


def test_the_zygote_reads_which_workers_to_load_from_the_workflow_file(tmp_path: Path) -> None:
    images = tmp_path / "images.json"
    images.write_text(json.dumps({"nodes": [{"id": "upload", "kind": "upload"},
                                            {"id": "small", "kind": "resize", "config": {"width": 9}}]}))
    clips = tmp_path / "clips.json"
    clips.write_text(json.dumps({"nodes": [{"id": "web", "kind": "transcode", "config": {}}]}))
    folder = tmp_path / "in"
    folder.mkdir()
    for n in range(5):
        (folder / f"{n}.jpg").write_bytes(b"x")
    # the runtime's worker, then the node modules of the kinds that run as Tasks (not upload, an input)
    image_modules = ("mediaflow.workers.image", "mediaflow.nodes.resize")
    assert expected_worker_modules([str(images), str(folder / "0.jpg")]) == image_modules
    assert expected_worker_modules([str(images), str(folder), "--out", "o"]) == image_modules
    video_modules = ("mediaflow.workers.video", "mediaflow.nodes.transcode")
    assert expected_worker_modules([str(clips), str(folder)]) == video_modules
    for arguments in ([], [str(images)], ["--out", "o", str(images), str(folder)], ["stored-id", str(folder)],
                      [str(tmp_path / "in" / "0.jpg"), str(folder)]):
        assert expected_worker_modules(arguments) == ()
    runtimes, inputs = expected_run([str(clips), str(folder), str(tmp_path / "missing.mp4")])
    assert runtimes == {"ffmpeg"} and [path.name for path in inputs] == [f"{n}.jpg" for n in range(5)]
    assert expected_run([str(clips), str(folder)], with_inputs=False) == ({"ffmpeg"}, [])  # no folder listing


recorded_aheads: list[tuple[list[str], object]] = []


def record_ahead(paths: list[Path], document: object) -> object:
    recorded_aheads.append(([path.name for path in paths], document))
    return lambda: None


def test_the_work_ahead_gets_the_first_inputs_and_the_workflow_unless_the_folder_is_large(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import mediaflow.cli as cli
    from mediaflow.embedded import early

    workflow = tmp_path / "images.json"
    document = {"nodes": [{"id": "small", "kind": "resize", "config": {"width": 9}}]}
    workflow.write_text(json.dumps(document))
    folder = tmp_path / "in"
    folder.mkdir()
    for n in range(4):
        (folder / f"{n}.jpg").write_bytes(b"x")
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    monkeypatch.setattr(cli, "AHEAD_LISTING_LIMIT", 4)
    monkeypatch.setattr(early, "_AHEAD", set())
    recorded_aheads.clear()
    target = f"{__name__}:record_ahead"
    arguments = [str(workflow), str(folder), "--out", "o"]
    assert len(cli._start_ahead([target], arguments, cli._listed_ahead(arguments))) == 1
    assert recorded_aheads == [(["0.jpg", "1.jpg"], document)]
    assert early.started_ahead() == {str(folder / "0.jpg"), str(folder / "1.jpg")}  # the command starts them last
    (folder / "4.jpg").write_bytes(b"x")  # one more than the limit: the folder is not listed before the imports
    arguments = [str(workflow), str(folder)]
    assert cli._start_ahead([target], arguments, cli._listed_ahead(arguments)) == []
    assert len(recorded_aheads) == 1
