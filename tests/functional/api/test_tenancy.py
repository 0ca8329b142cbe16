"""Two tenants: no read, write, run or list crosses tenants (another tenant's ids answer 404)."""

from __future__ import annotations

import pytest

from tests.functional.api.conftest import Api, Client, assert_problem, simple_workflow

pytestmark = pytest.mark.functional


@pytest.fixture
def owned(client: Client, api: Api, photo: bytes) -> dict:
    """Tenant A's workflow (2 versions), a finished failed run, an upload and a job."""
    wf = client.post("/v1/workflows", {**simple_workflow("tenant a"), "tags": ["secret-a"]}).json()
    client.put(f"/v1/workflows/{wf['id']}", simple_workflow("tenant a v2"))
    run = client.request("POST", f"/v1/workflows/{wf['id']}/runs", files={"file": ("p.jpg", photo)}).json()
    client.wait_run(run["runId"])
    target = client.post("/v1/uploads", {"filename": "a.jpg"}).json()
    job = client.request("POST", "/v1/jobs", data={"formats": '["png"]'}, files={"files": ("p.jpg", photo)}).json()
    key = client.post("/v1/keys", {"scopes": ["workflows:read"]}).json()
    return {"wf": wf["id"], "run": run["runId"], "key": target["key"], "job": job["jobId"], "keyId": key["keyId"]}


CROSS = [
    ("GET", "/v1/workflows/{wf}", None), ("PUT", "/v1/workflows/{wf}", simple_workflow("hijack")),
    ("PATCH", "/v1/workflows/{wf}", {"name": "hijack"}), ("DELETE", "/v1/workflows/{wf}", None),
    ("PUT", "/v1/workflows/{wf}/status", {"status": "paused"}), ("POST", "/v1/workflows/{wf}/duplicate", None),
    ("POST", "/v1/workflows/{wf}/validate", None), ("GET", "/v1/workflows/{wf}/plan", None),
    ("GET", "/v1/workflows/{wf}/versions", None), ("POST", "/v1/workflows/{wf}/versions", {"versionTag": "x"}),
    ("GET", "/v1/workflows/{wf}/versions/1", None), ("GET", "/v1/workflows/{wf}/versions/1/diff/2", None),
    ("GET", "/v1/workflows/{wf}/nodes", None), ("POST", "/v1/workflows/{wf}/nodes", {"kind": "resize"}),
    ("PUT", "/v1/workflows/{wf}/nodes/webp", {"config": {}}), ("DELETE", "/v1/workflows/{wf}/nodes/webp", None),
    ("POST", "/v1/workflows/{wf}/connections", {"source": "upload", "target": "store"}),
    ("DELETE", "/v1/workflows/{wf}/connections/upload~webp", None),
    ("POST", "/v1/workflows/{wf}/runs", {"sample": True}), ("GET", "/v1/workflows/{wf}/runs", None),
    ("GET", "/v1/runs/{run}", None), ("POST", "/v1/runs/{run}/cancel", None), ("POST", "/v1/runs/{run}/retry", None),
    ("GET", "/v1/jobs/{job}", None), ("DELETE", "/v1/jobs/{job}", None), ("DELETE", "/v1/keys/{keyId}", None),
]


@pytest.mark.parametrize(("method", "template", "body"), CROSS, ids=[f"{m} {t}" for m, t, _ in CROSS])
def test_other_tenant_gets_404(client: Client, other: Client, owned: dict, method: str, template: str,
                               body: dict | None) -> None:
    assert_problem(other.request(method, template.format(**owned), json_body=body), 404)


def test_lists_stats_objects_and_events_stay_inside_the_tenant(client: Client, other: Client, owned: dict) -> None:
    listed = other.get("/v1/workflows", params={"tag": "secret-a"}).json()
    assert listed["count"] == 0
    assert owned["wf"] not in {w["id"] for w in other.get("/v1/workflows", params={"limit": 100}).json()["workflows"]}
    assert owned["keyId"] not in {k["keyId"] for k in other.get("/v1/keys").json()["keys"]}
    mine = other.post("/v1/workflows", simple_workflow("tenant b")).json()
    assert_problem(other.post(f"/v1/workflows/{mine['id']}/runs", {"objects": [owned["key"]]}), 404)
    assert owned["wf"] in {w["id"] for w in client.get("/v1/workflows", params={"tag": "secret-a"}).json()["workflows"]}
    client.put(f"/v1/workflows/{owned['wf']}/status", {"status": "active"})
    fired = other.post("/v1/workflows/events", {"eventName": "anything"}).json()
    assert all(r["workflowId"] != owned["wf"] for r in fired["results"])
    assert client.get(f"/v1/workflows/{owned['wf']}").json()["name"] == "tenant a v2"
