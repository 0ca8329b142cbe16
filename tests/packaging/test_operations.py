"""Operating the stack through API Gateway's behaviour: public routes, CORS, per-key limits in the usage plan
(keys made by the API, by `mediaflow keys create --table` and registered by `mediaflow stack sync-keys`)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.packaging.conftest import REGION, ROOT, TENANT, Stack, build_stack

pytestmark = pytest.mark.packaging


@pytest.fixture(scope="module")
def ops(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, str]]:
    """One stack for these checks (they make their own keys): its functions stay warm between them."""
    with pytest.MonkeyPatch.context() as patch, build_stack(moto_endpoint, tmp_path_factory.mktemp("logs"),
                                                             patch) as built:
        yield built, built.create_key()


def mediaflow(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "layers" / "core"), "AWS_ENDPOINT_URL": stack.endpoint,
           "AWS_DEFAULT_REGION": REGION}
    return subprocess.run([sys.executable, "-m", "mediaflow.cli", *args], env=env, capture_output=True, text=True,
                          timeout=300, check=False)


def test_health_and_openapi_are_public_and_everything_else_needs_a_key(ops: tuple[Stack, str]) -> None:
    stack, _ = ops
    assert ("GET", "/v1/health") in stack.public_routes() and ("GET", "/v1/openapi.json") in stack.public_routes()
    status, health = stack.api("GET", "/v1/health")
    assert status == 200, health
    status, document = stack.api("GET", "/v1/openapi.json")
    assert status == 200 and document["openapi"].startswith("3."), document
    assert stack.api("GET", "/v1/workflows")[0] == 401


def test_answers_carry_cors_headers_for_a_browser_origin(ops: tuple[Stack, str]) -> None:
    stack, api_key = ops
    origin = {"Origin": "https://app.example.com", "Authorization": f"Bearer {api_key}"}
    status, headers, _ = stack.gateway("GET", "/v1/workflows", origin, b"")
    assert status == 200 and headers.get("access-control-allow-origin") == "*", headers
    props = stack.template["Resources"]["Api"]["Properties"]
    assert props["Cors"]["AllowOrigin"] == {"Fn::Sub": "'${CorsAllowOrigin}'"}
    for response in ("DEFAULT_4XX", "DEFAULT_5XX"):
        assert "Access-Control-Allow-Origin" in props["GatewayResponses"][response]["ResponseParameters"]["Headers"]


def test_keys_made_by_the_api_join_the_usage_plan_and_leave_it_when_revoked(ops: tuple[Stack, str]) -> None:
    stack, api_key = ops
    status, created = stack.api("POST", "/v1/keys", {"scopes": ["workflows:read"], "name": "reader"}, key=api_key)
    assert status == 201, created
    assert stack.api("GET", "/v1/workflows", key=created["key"])[0] == 200
    status, _ = stack.api("DELETE", f"/v1/keys/{created['keyId']}", key=api_key)
    assert status in (200, 204)
    from mediaflow.cloud.auth import usage_identifier

    assert not stack.in_usage_plan(usage_identifier(created["key"]))


def test_a_key_written_to_the_table_alone_is_refused_until_sync_keys_registers_it(ops: tuple[Stack, str]) -> None:
    stack, _ = ops
    table, plan = stack.resolve.physical["ApiKeysTable"], stack.resolve.physical["ApiUsagePlan"]
    made = mediaflow(stack, "keys", "create", "--table", table, "--tenant", TENANT, "--scopes", "workflows:read")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert stack.api("GET", "/v1/workflows", key=key)[0] == 403  # API Gateway: not in the usage plan

    synced = mediaflow(stack, "stack", "sync-keys", "--table", table, "--usage-plan", plan)
    assert synced.returncode == 0, synced.stderr
    assert stack.api("GET", "/v1/workflows", key=key)[0] == 200


def test_the_root_dockerignore_sends_only_what_the_images_copy() -> None:
    allowed = [line[1:] for line in (ROOT / ".dockerignore").read_text().splitlines() if line.startswith("!")]
    lines = [line for line in (ROOT / ".dockerignore").read_text().splitlines() if line and not line.startswith("#")]
    assert lines[0] == "*", "everything is excluded first"
    for dockerfile in sorted((ROOT / "layers").glob("*/Dockerfile")):
        for source in _copied(dockerfile):
            assert any(Path(source).match(pattern.removesuffix("/**")) or source.startswith(
                pattern.removesuffix("**")) for pattern in allowed), f"{dockerfile}: {source} is not sent"
        rules = [line for line in dockerfile.with_name("Dockerfile.dockerignore").read_text().splitlines()
                 if line and not line.startswith("#")]
        assert set(rules) <= set(lines), f"{dockerfile}: the root ignore file sends what its own one sends"


def _copied(dockerfile: Path) -> list[str]:
    sources: list[str] = []
    for line in dockerfile.read_text().splitlines():
        if line.startswith("COPY ") and "--from=" not in line:
            sources.extend(line.split()[1:-1])
    return sources
