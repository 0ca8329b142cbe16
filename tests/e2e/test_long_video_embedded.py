"""The embedded runtime runs ffmpeg Tasks in its worker pool even where the AWS functions would hand them
to the long route: the compiled machine has the Fargate states, the embedded runtime never takes them."""

from __future__ import annotations

from pathlib import Path

import pytest
from mediaflow import samples
from mediaflow.embedded.app import LocalService
from mediaflow.settings import Settings, get_settings
from mediaflow.validation import validate

pytestmark = pytest.mark.e2e
WORKFLOW = {
    "nodes": [{"id": "upload", "kind": "upload"},
              {"id": "web", "kind": "transcode", "config": {"outputFormat": "mp4", "preset": "480p"}},
              {"id": "store", "kind": "storage", "config": {"prefix": "video/"}}],
    "edges": [{"source": "upload", "target": "web"}, {"source": "web", "target": "store"}],
}


def test_embedded_runs_ffmpeg_work_past_the_lambda_budget_in_its_worker_pool(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDIAFLOW_FFMPEG_LONG_ROUTE", "fargate")
    monkeypatch.setenv("MEDIAFLOW_FFMPEG_LAMBDA_BUDGET_SECONDS", "0")  # every estimate is past it
    get_settings.cache_clear()
    clip = samples.video(tmp_path / "clip.mp4", 3.0, size="320x240")
    report = validate(WORKFLOW)
    with LocalService(Settings(data_dir=tmp_path / "data", workers=1)) as service:
        [result] = service.run_files(report, [clip], tmp_path / "out")
    get_settings.cache_clear()
    assert result.status == "completed", result.error
    assert result.nodes == ["web+store"]
    [output] = result.outputs
    assert output.path is not None and output.path.stat().st_size > 0 and output.path.suffix == ".mp4"
