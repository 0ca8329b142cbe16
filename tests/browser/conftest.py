"""The dashboard in real headless Chromium (Debian's, driven by playwright) against a real `mediaflow serve`
process on loopback with its own data dir. Every test fails on a browser console error or page error and
leaves a screenshot in tests-output/browser/<test>.png; with MEDIAFLOW_DOCS_SCREENSHOTS=1 the tests that
show a page documented in docs/dashboard.md also write docs/img/dashboard-<name>.png."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.serve_process import Served

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
DIST = ROOT / "layers" / "core" / "mediaflow" / "dashboard_dist"
AXE = ROOT / "dashboard" / "node_modules" / "axe-core" / "axe.min.js"
OUTPUT = ROOT / "tests-output" / "browser"
DOCS_IMG = ROOT / "docs" / "img"
VIEWPORT = {"width": 1280, "height": 800}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in item.nodeid.replace("\\", "/"):
            item.add_marker(pytest.mark.browser)


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by playwright (which never downloads a browser of its own)."""
    if not CHROMIUM.exists():
        pytest.fail("no /usr/bin/chromium: run make setup (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not (DIST / "index.html").is_file():
        pytest.fail("the dashboard is not built (layers/core/mediaflow/dashboard_dist): run make setup")
    with chromium() as launched:
        yield launched


@dataclass
class ConsoleWatch:
    """Console errors and page errors of a page; ``expect(pattern)`` allows one kind the test provokes."""

    errors: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def expect(self, pattern: str) -> None:
        self.allowed.append(re.compile(pattern))

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(p.search(e) for p in self.allowed)]


@pytest.fixture
def console() -> ConsoleWatch:
    return ConsoleWatch()


def _screenshot_name(request: pytest.FixtureRequest) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)[:150] + ".png"


@pytest.fixture
def page(browser: Any, console: ConsoleWatch, request: pytest.FixtureRequest) -> Iterator[Any]:
    for server in ("served", "served_with_loopback_webhooks"):  # up before the page, so down after its screenshot
        if server in request.fixturenames:
            request.getfixturevalue(server)
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(20_000)
    tab = context.new_page()
    tab.on("console", lambda msg: console.errors.append(f"console.{msg.type}: {msg.text} @ {msg.location}")
           if msg.type == "error" else None)
    tab.on("pageerror", lambda error: console.errors.append(f"pageerror: {error}"))
    try:
        yield tab
    finally:
        OUTPUT.mkdir(parents=True, exist_ok=True)
        try:
            tab.screenshot(path=str(OUTPUT / _screenshot_name(request)), full_page=True)
        finally:
            context.close()
    unexpected = console.unexpected()
    assert not unexpected, "browser console errors:\n" + "\n".join(unexpected)


@pytest.fixture
def signed_in(page: Any, served: Served) -> Any:
    """The page after following the printed sign-in link: the app's workflow list, signed in by cookie."""
    page.goto(served.signin_link)
    page.wait_for_url(re.compile(r"/workflows$"))
    page.get_by_role("heading", name="Workflows", level=1).wait_for()
    return page


@pytest.fixture
def docs_screenshot(page: Any) -> Callable[[str], None]:
    """``docs_screenshot("builder")`` writes docs/img/dashboard-builder.png when MEDIAFLOW_DOCS_SCREENSHOTS=1."""

    def take(name: str) -> None:
        if os.environ.get("MEDIAFLOW_DOCS_SCREENSHOTS") == "1":
            DOCS_IMG.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(DOCS_IMG / f"dashboard-{name}.png"))

    return take


def axe_violations(page: Any, serious_only: bool = True) -> list[dict[str, Any]]:
    """axe-core (from dashboard/node_modules) run on the page; serious and critical violations by default."""
    page.evaluate(AXE.read_text(encoding="utf-8"))  # evaluated through the devtools protocol: the CSP allows it
    result: dict[str, Any] = page.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations']})")
    found = result["violations"]
    return [v for v in found if not serious_only or v.get("impact") in ("serious", "critical")]
