"""The dashboard as a user drives it in Chromium: sign in through the printed link, build a workflow from a
template with the palette and the generated forms, watch validation and the plan follow the edits, save, run
on generated media, follow a batch live, see a bad value named on its field, replay a webhook delivery, sign in
with an API key, and pass an accessibility check on the main pages."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ConsoleWatch, Served, axe_violations
from tests.support.serve_process import start_serve, stop_serve
from tests.support.webhook_receiver import Receiver

pytestmark = pytest.mark.browser
CHANGE = {"X-Requested-With": "mediaflow"}
PAGES = ("/workflows", "/jobs", "/webhooks", "/keys")


def create_workflow(page: Any, served: Served, body: dict[str, Any]) -> str:
    """A workflow created through the API with the page's own session (its cookie and the CSRF header)."""
    reply = page.request.post(f"{served.url}/v1/workflows", data=body, headers=CHANGE)
    assert reply.status == 201, reply.text()
    return str(reply.json()["id"])


def resize_workflow(name: str, width: int = 320, output_format: str = "webp") -> dict[str, Any]:
    return {"name": name, "nodes": [{"id": "upload", "kind": "upload"},
                                    {"id": "small", "kind": "resize", "config": {"width": width}},
                                    {"id": "encode", "kind": "convert", "config": {"outputFormat": output_format}}],
            "edges": [{"source": "upload", "target": "small"}, {"source": "small", "target": "encode"}]}


def open_builder(page: Any, served: Served, workflow_id: str) -> None:
    page.goto(f"{served.url}/workflows/{workflow_id}")
    expect(page.get_by_test_id("validation-status")).to_have_attribute("data-valid", re.compile("true|false"))


def select_node(page: Any, node_id: str) -> Any:
    page.get_by_label("Edit node").select_option(node_id)
    form = page.get_by_role("form", name=f"Config of {node_id}")
    expect(form).to_be_visible()
    return form


def test_sign_in_through_the_printed_link(page: Any, served: Served, console: ConsoleWatch) -> None:
    page.goto(served.signin_link)
    page.wait_for_url(f"{served.url}/workflows")
    expect(page.get_by_role("heading", name="Workflows", level=1)).to_be_visible()
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Webhooks")).to_be_visible()
    assert "signin" not in page.url
    cookies = page.context.cookies()
    session = next(c for c in cookies if c["name"].startswith("mediaflow_session_"))
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""  # nothing the page's scripts can read
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/signin"))
    expect(page.get_by_label("API key")).to_be_visible()
    # the link worked once: the same link now signs no one in (a 403 page, which Chromium logs)
    console.expect(r"status of 403 .*'url': 'http://127\.0\.0\.1:\d+/signin/")
    page.goto(served.signin_link)
    expect(page.get_by_role("heading", name="This sign-in link is not valid")).to_be_visible()


def test_sign_in_with_a_pasted_api_key(page: Any, served: Served) -> None:
    key = served.api_key()
    page.goto(f"{served.url}/workflows")
    page.wait_for_url(re.compile(r"/signin"))
    expect(page.get_by_label("API key")).to_be_visible()
    assert axe_violations(page) == []
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Workflows", level=1)).to_be_visible()
    assert key not in page.url
    assert page.evaluate("key => Object.values(sessionStorage).some(v => v.includes(key))", key) is True
    assert page.evaluate("key => Object.values(localStorage).some(v => v.includes(key))", key) is False
    page.reload()
    expect(page.get_by_role("heading", name="Workflows", level=1)).to_be_visible()
    served.process.send_signal(2)
    served.process.wait(timeout=30)
    log = "".join(served.stderr)
    assert key not in log and "GET /v1/workflows" in log


def test_build_from_a_template_validate_plan_save_and_run(
        signed_in: Any, served: Served, docs_screenshot: Callable[[str], None]) -> None:
    page = signed_in
    page.get_by_role("button", name="New workflow").click()
    dialog = page.get_by_role("dialog", name="New workflow")
    dialog.get_by_label("Name").fill("Web images from the browser")
    dialog.get_by_label("Convert + compress for the web").check()
    dialog.get_by_role("button", name="Create").click()
    page.wait_for_url(re.compile(r"/workflows/wf_[0-9a-f]+$"))
    status = page.get_by_test_id("validation-status")
    expect(status).to_have_attribute("data-valid", "true")
    task_states = page.get_by_test_id("plan-task-states")
    expect(task_states).to_have_text(re.compile(r"^\d+$"))
    before = page.get_by_test_id("plan-panel").inner_text()

    page.get_by_role("complementary", name="Node palette").get_by_role("button", name="Add resize").click()
    expect(status).to_have_attribute("data-valid", "false")
    new_node = page.get_by_test_id(re.compile(r"^node-resize")).first
    expect(new_node).to_have_attribute("data-status", "invalid")
    node_id = new_node.get_attribute("data-testid").removeprefix("node-")
    form = page.get_by_role("form", name=f"Config of {node_id}")
    expect(form).to_be_visible()
    fit = form.get_by_label(re.compile(r"^Fit"))
    assert fit.evaluate("el => el.tagName") == "SELECT"  # an enum is a select
    form.get_by_label(re.compile(r"^Width")).fill("320")
    expect(page.get_by_test_id("validation-errors")).to_contain_text("not reachable")

    select_node(page, "upload")
    page.get_by_label("Connect to").select_option(node_id)
    page.get_by_role("button", name="Connect", exact=True).click()
    expect(status).to_have_attribute("data-valid", "true")
    expect(status).to_have_text("Valid")
    expect(new_node).to_have_attribute("data-status", "valid")
    expect(page.get_by_test_id("plan-panel")).not_to_have_text(before)
    expect(page.get_by_test_id("plan-panel")).to_contain_text(node_id)
    page.get_by_role("button", name="Auto layout").click()
    select_node(page, node_id)
    expect(page.get_by_test_id(f"node-{node_id}")).to_be_in_viewport()
    docs_screenshot("builder")

    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("save-status")).to_have_text(re.compile(r"Saved version \d+"))
    workflow_id = page.url.rsplit("/", 1)[1]
    saved = page.request.get(f"{served.url}/v1/workflows/{workflow_id}").json()
    resize = next(n for n in saved["nodes"] if n["id"] == node_id)
    assert resize["kind"] == "resize" and resize["config"]["width"] == 320
    assert {"source": "upload", "target": node_id} in [{k: e[k] for k in ("source", "target")} for e in saved["edges"]]

    page.get_by_label("Sample media").select_option("image")
    page.get_by_role("button", name="Run sample").click()
    page.wait_for_url(re.compile(r"/runs/run-[0-9a-f]+$"))
    expect(page.get_by_test_id("run-status")).to_have_attribute("data-status", "completed", timeout=90_000)
    steps = page.get_by_test_id("timeline-step")
    expect(page.locator(f'[data-testid="timeline-step"][data-node-id="{node_id}"]')).to_have_attribute(
        "data-status", "completed")
    assert steps.count() >= 4
    output = page.get_by_test_id("output-image").first
    expect(output).to_be_visible()
    output.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=output.element_handle())
    widths = page.eval_on_selector_all('[data-testid="output-image"]', "els => els.map(e => e.naturalWidth)")
    assert 320 in widths  # the resize branch's output, drawn from the run's signed download URL
    expect(page.get_by_test_id("input-image").first).to_be_visible()
    docs_screenshot("run")


def test_a_batch_of_ten_shows_live_progress(signed_in: Any, served: Served) -> None:
    page = signed_in
    # AVIF encodes slowly enough that the batch is still going when the viewer first draws it
    workflow_id = create_workflow(page, served, resize_workflow("Batch of ten", 640, "avif"))
    open_builder(page, served, workflow_id)
    page.get_by_role("button", name="Run batch of 10 samples").click()
    page.wait_for_url(re.compile(r"/runs/run-[0-9a-f]+$"))
    page.evaluate("window.__sameDocument = true")
    bar = page.get_by_role("progressbar", name="Run progress")
    expect(bar).to_have_attribute("aria-valuemax", "10")
    seen: list[int] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        value = int(bar.get_attribute("aria-valuenow") or 0)
        if not seen or seen[-1] != value:
            seen.append(value)
        if value == 10:
            break
        time.sleep(0.05)
    assert seen[-1] == 10 and seen[0] < 10, seen
    assert seen == sorted(seen), seen  # only forward
    expect(page.get_by_test_id("run-progress")).to_have_text("10/10")
    expect(page.get_by_test_id("run-status")).to_have_attribute("data-status", "completed", timeout=60_000)
    expect(page.get_by_test_id("run-item")).to_have_count(10)
    assert page.evaluate("window.__sameDocument") is True  # updated in place, never reloaded


def test_a_bad_value_is_shown_on_its_field(signed_in: Any, served: Served) -> None:
    page = signed_in
    workflow_id = create_workflow(page, served, resize_workflow("Bad width"))
    open_builder(page, served, workflow_id)
    expect(page.get_by_test_id("validation-status")).to_have_attribute("data-valid", "true")
    form = select_node(page, "small")
    width = form.get_by_label(re.compile(r"^Width"))
    width.fill("0")
    expect(page.get_by_test_id("validation-status")).to_have_attribute("data-valid", "false")
    expect(width).to_have_attribute("aria-invalid", "true")
    error = page.get_by_test_id("field-error-width")
    expect(error).to_be_visible()
    assert width.get_attribute("aria-describedby") and error.get_attribute("id") in \
        width.get_attribute("aria-describedby").split()
    expect(page.get_by_test_id("node-small")).to_have_attribute("data-status", "invalid")
    expect(form.get_by_label(re.compile(r"^Height"))).not_to_have_attribute("aria-invalid", "true")
    width.fill("200")
    expect(page.get_by_test_id("validation-status")).to_have_attribute("data-valid", "true")
    expect(page.get_by_test_id("field-error-width")).to_have_count(0)


@pytest.fixture
def served_with_loopback_webhooks(tmp_path: Path) -> Iterator[Served]:
    server = start_serve(tmp_path / "data", {"MEDIAFLOW_WEBHOOK_ALLOW_LOOPBACK_HTTP": "true"})
    try:
        yield server
    finally:
        stop_serve(server.process)


def test_the_webhook_page_replays_a_delivery(page: Any, served_with_loopback_webhooks: Served,
                                             receiver: Receiver) -> None:
    served = served_with_loopback_webhooks
    page.goto(served.signin_link)
    page.wait_for_url(f"{served.url}/workflows")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Webhooks").click()
    form = page.get_by_role("form", name="New webhook")
    form.get_by_label("URL").fill(receiver.url)
    form.get_by_role("button", name="Add webhook").click()
    expect(page.get_by_test_id("webhook-secret")).not_to_be_empty()
    page.get_by_role("button", name=f"Send ping to {receiver.url}").click()
    deadline = time.monotonic() + 30
    while not receiver.requests and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(receiver.requests) == 1
    page.get_by_role("button", name=f"Deliveries of {receiver.url}").click()
    row = page.get_by_test_id("delivery-row").first
    expect(row).to_have_attribute("data-status", re.compile("delivered|succeeded|success"))
    delivery_id = row.get_attribute("data-delivery-id")
    page.get_by_role("button", name=f"Replay delivery {delivery_id}").click()
    expect(page.get_by_test_id("replay-status")).to_contain_text("Replayed")
    deadline = time.monotonic() + 30
    while len(receiver.requests) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(receiver.requests) == 2 and receiver.requests[1]["body"] == receiver.requests[0]["body"]


def test_main_pages_have_no_serious_accessibility_violations(
        signed_in: Any, served: Served, docs_screenshot: Callable[[str], None]) -> None:
    page = signed_in
    for name in ("Resize for the web", "Thumbnails"):
        create_workflow(page, served, resize_workflow(name))
    workflow_id = create_workflow(page, served, resize_workflow("Accessible"))
    page.goto(f"{served.url}/workflows")
    expect(page.get_by_test_id("workflow-row")).to_have_count(3)
    docs_screenshot("list")
    reports: dict[str, list[str]] = {}
    run = page.request.post(f"{served.url}/v1/workflows/{workflow_id}/runs", data={"sample": True},
                            headers=CHANGE).json()
    for path in (*PAGES, f"/workflows/{workflow_id}", f"/runs/{run['runId']}"):
        page.goto(served.url + path)
        page.get_by_role("heading", level=1).first.wait_for()
        page.wait_for_load_state("networkidle")
        found = axe_violations(page)
        reports[path] = [f"{v['id']} ({v['impact']}): {v['help']} -> {[n['target'] for n in v['nodes']][:3]}"
                         for v in found]
    assert not any(reports.values()), reports


def test_phone_width_and_keyboard(signed_in: Any, served: Served) -> None:
    page = signed_in
    workflow_id = create_workflow(page, served, resize_workflow("Small screens"))
    page.set_viewport_size({"width": 390, "height": 844})
    for path in (*PAGES, f"/workflows/{workflow_id}"):
        page.goto(served.url + path)
        page.get_by_role("heading", level=1).first.wait_for()
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{path} is {overflow}px wider than a phone screen"
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{served.url}/workflows")
    new = page.get_by_role("button", name="New workflow")
    for _ in range(30):  # reach the button with Tab alone
        page.keyboard.press("Tab")
        if new.evaluate("el => el === document.activeElement"):
            break
    else:
        raise AssertionError("Tab never reached the New workflow button")
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="New workflow")
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
