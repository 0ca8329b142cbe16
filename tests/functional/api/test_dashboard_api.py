"""The operations the dashboard relies on, on every transport: who is calling, the node catalog for the
palette, checking an unsaved definition, sample batches with their inputs, the jobs list and inline downloads."""

from __future__ import annotations

import pytest

from tests.functional.api.conftest import Client, assert_problem, simple_workflow

pytestmark = pytest.mark.functional


def resize_draft(width: int) -> dict:
    return {"name": "draft", "nodes": [{"id": "upload", "kind": "upload"},
                                       {"id": "small", "kind": "resize", "config": {"width": width}},
                                       {"id": "webp", "kind": "convert", "config": {"outputFormat": "webp"}}],
            "edges": [{"source": "upload", "target": "small"}, {"source": "small", "target": "webp"}]}


def test_session_names_the_caller_or_says_signed_out(client: Client) -> None:
    signed_in = client.get("/v1/session")
    assert signed_in.status == 200
    body = signed_in.json()
    assert body["signedIn"] is True and body["tenant"] == "tenant-a" and body["via"] in ("key", "authorizer")
    assert set(body["scopes"]) == {"workflows:read", "workflows:write", "workflows:execute"}
    anonymous = client.with_key(None).get("/v1/session")
    assert anonymous.status == 200 and anonymous.json()["signedIn"] is False and anonymous.json()["tenant"] is None
    bad = client.with_key("mf_not-a-key").get("/v1/session")
    assert bad.status == 200 and bad.json()["signedIn"] is False


def test_node_catalog_lists_every_kind_once_with_its_schema(client: Client) -> None:
    from mediaflow.catalog import catalog

    reply = client.get("/v1/nodes")
    assert reply.status == 200
    body = reply.json()
    kinds = [node["kind"] for node in body["nodes"]]
    assert body["count"] == len(kinds) == len(catalog()) and sorted(kinds) == sorted(catalog())
    grouped = [kind for group in body["categories"] for kind in group["kinds"]]
    assert sorted(grouped) == sorted(kinds)
    assert body["categories"][0]["category"] == "trigger"
    resize = next(node for node in body["nodes"] if node["kind"] == "resize")
    assert resize["category"] == "image" and resize["runtime"] == "vips"
    width = resize["configSchema"]["properties"]["width"]
    assert "minimum" in str(width) or "exclusiveMinimum" in str(width)
    assert_problem(client.with_key(None).get("/v1/nodes"), 401)


def test_check_validates_and_plans_a_draft_without_saving_it(client: Client) -> None:
    before = client.get("/v1/workflows").json()["count"]
    bad = client.post("/v1/workflows/check", resize_draft(0))
    assert bad.status == 200
    body = bad.json()
    assert body["valid"] is False and body["plan"] is None and body["nodeCount"] == 3
    assert any(e["path"] == "nodes[1].config.width" and e["nodeId"] == "small" for e in body["errors"])
    good = client.post("/v1/workflows/check?items=10", resize_draft(320)).json()
    assert good["valid"] is True and good["errors"] == [] and good["connectionCount"] == 2
    plan = good["plan"]
    assert plan["taskStates"] >= 1 and plan["estimatedCostPer1000RunsUsd"] > 0
    assert [task["nodes"] for task in plan["tasks"]] == [["small", "webp"]]  # fused into one Task
    assert client.get("/v1/workflows").json()["count"] == before
    assert_problem(client.post("/v1/workflows/check", [1, 2]), 422)
    assert_problem(client.with_key(None).post("/v1/workflows/check", resize_draft(1)), 401)


def test_a_sample_batch_runs_every_item_and_lists_its_inputs(client: Client) -> None:
    workflow = client.post("/v1/workflows", simple_workflow("sample batch")).json()
    started = client.post(f"/v1/workflows/{workflow['id']}/runs", {"sample": True, "count": 4})
    assert started.status == 202 and started.json()["batch"] is True and started.json()["total"] == 4
    run = client.wait_run(started.json()["runId"], timeout=180)
    assert run["status"] == "completed" and run["progress"]["completed"] == 4
    assert len(run["inputs"]) == 4 and len({i["key"] for i in run["inputs"]}) == 4
    assert all(i["contentType"] == "image/jpeg" and i["size"] > 0 for i in run["inputs"])
    assert client.download(run["inputs"][0]["url"]).content[:3] == b"\xff\xd8\xff"
    assert len(run["outputs"]) == 4
    one = client.wait_run(client.post(f"/v1/workflows/{workflow['id']}/runs", {"sample": True}).json()["runId"])
    assert one["batch"] is False and [i["filename"] for i in one["inputs"]] == ["sample.jpg"]
    too_many = assert_problem(client.post(f"/v1/workflows/{workflow['id']}/runs", {"sample": True, "count": 101}),
                              422)
    assert "count" in str(too_many)


def test_jobs_list_shows_the_tenants_jobs_newest_first(client: Client, other: Client, photo: bytes) -> None:
    files = [("files", ("one.jpg", photo, "image/jpeg"))]
    ids = [client.request("POST", "/v1/jobs", data={"jobType": "convert", "formats": '["webp"]'},
                          files=files).json()["jobId"] for _ in range(2)]
    listing = client.get("/v1/jobs?limit=200").json()
    assert listing["count"] == len(listing["jobs"]) >= 2
    listed = [job["jobId"] for job in listing["jobs"]]
    assert listed.index(ids[1]) < listed.index(ids[0])
    assert all(job["files"] == 1 and job["jobType"] == "convert" for job in listing["jobs"] if job["jobId"] in ids)
    assert not set(ids) & {job["jobId"] for job in other.get("/v1/jobs?limit=200").json()["jobs"]}
    assert_problem(client.get("/v1/jobs?limit=0"), 422)


@pytest.mark.parametrize("client", ["http", "lambda"], indirect=True)
def test_downloads_are_inline_unless_asked_to_download(client: Client) -> None:
    workflow = client.post("/v1/workflows", simple_workflow("inline")).json()
    run = client.wait_run(client.post(f"/v1/workflows/{workflow['id']}/runs", {"sample": True}).json()["runId"])
    url = run["outputs"][0]["url"]
    inline = client.download(url)
    assert inline.status == 200 and inline.headers["content-disposition"].startswith("inline;")
    attached = client.download(url + "?download=1")
    assert attached.headers["content-disposition"].startswith("attachment;")
    assert attached.content == inline.content and inline.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("client", ["http", "lambda"], indirect=True)
def test_an_output_named_in_another_script_downloads_under_its_name(client: Client, photo: bytes) -> None:
    """The upload's name survives to the output (not "t-1"), and the download header carries it as RFC 6266's
    filename* beside an ASCII stand-in, which the Python client reads back."""
    from mediaflow.client.core import disposition_filename

    workflow = client.post("/v1/workflows", simple_workflow("names")).json()
    started = client.request("POST", f"/v1/workflows/{workflow['id']}/runs",
                             files={"file": ("été 写真.jpg", photo, "image/jpeg")})
    run = client.wait_run(started.json()["runId"])
    assert run["status"] == "completed", run
    (output,) = run["outputs"]
    assert output["filename"].startswith("été-写真") and output["filename"].endswith(".webp")  # -1 when taken
    attached = client.download(output["url"] + "?download=1")
    header = attached.headers["content-disposition"]
    assert header.isascii() and header.startswith('attachment; filename="ete')
    assert disposition_filename(header) == output["filename"]
