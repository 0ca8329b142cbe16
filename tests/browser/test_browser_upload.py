"""The browser upload example in a real Chromium: the page served by a real `mediaflow serve` on loopback
uploads a generated image in parts with an upload token (no API key in the page), shows its progress,
and the workflow's run completes."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.browser.conftest import chromium
from tests.support.serve_process import Served

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium as the dashboard tests launch it, without their need for the dashboard's build: this page is
    served by the API itself."""
    with chromium() as launched:
        yield launched


def api_key(served: Served) -> str:
    from mediaflow.embedded.app import LocalService

    with LocalService(data_dir=served.data_dir) as service:
        key: str = service.adapters.keys.create_key("tenant-a", ["workflows:read", "workflows:write",
                                                                 "workflows:execute"])[0]
    return key


def test_the_example_page_uploads_an_image_with_a_token_and_the_run_completes(
        served: Served, page: Any, tmp_path: Path) -> None:
    import pyvips

    base, key = served.url, api_key(served)
    api = {"Authorization": f"Bearer {key}"}
    workflow = {"name": "browser-upload", "status": "active",
                "nodes": [{"id": "upload", "kind": "upload"},
                          {"id": "webp", "kind": "convert", "config": {"outputFormat": "webp"}},
                          {"id": "store", "kind": "storage", "config": {"prefix": "browser/"}}],
                "edges": [{"source": "upload", "target": "webp"}, {"source": "webp", "target": "store"}]}
    made = requests.post(f"{base}/v1/workflows", json=workflow, headers=api, timeout=30)
    assert made.status_code == 201, made.text
    workflow_id = made.json()["id"]
    token = requests.post(f"{base}/v1/upload-tokens", headers=api, timeout=30, json={
        "workflowId": workflow_id, "expiresIn": 300, "contentTypes": ["image/*"]}).json()["token"]

    image = tmp_path / "sunset.png"  # noisy pixels: a PNG of about 10 MB, so the page sends two 8 MiB parts
    noise = pyvips.Image.gaussnoise(2000, 1600, mean=128, sigma=60).cast("uchar")
    noise.bandjoin([noise.rot180(), noise.fliphor()]).write_to_file(str(image))
    assert image.stat().st_size > 8 * 1024 * 1024

    page.goto(f"{base}/v1/examples/browser-upload.html?token={token}")
    assert key not in page.content()
    page.set_input_files("#file", str(image))
    page.click("#upload")
    page.wait_for_selector("body[data-uploaded]", timeout=60_000)
    status = page.inner_text("#status")
    assert page.get_attribute("body", "data-uploaded") == "true", status
    assert page.get_attribute("body", "data-parts") == "2"
    assert "started 1 run" in status and page.eval_on_selector("#progress", "e => e.value") == 1
    result = json.loads(page.inner_text("#result"))
    assert result["size"] == image.stat().st_size and result["contentType"] == "image/png"
    [run_id] = result["runIds"]
    deadline = time.monotonic() + 120
    while True:
        run = requests.get(f"{base}/v1/runs/{run_id}", headers=api, timeout=30).json()
        if run["status"] in ("completed", "failed", "cancelled") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert run["status"] == "completed", run
    [output] = run["outputs"]
    assert output["contentType"] == "image/webp" and output["filename"] == "sunset.webp"
