"""Convertly's documented calls (docs 000 and 001), verbatim, on `serve` and on the API Lambda over moto."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.compat import convertly_docs as docs
from tests.compat.conftest import TERMINAL, Product, curl_multipart
from tests.functional.api.conftest import assert_problem

pytestmark = pytest.mark.compat
KIND_ORDER = ["upload", "convert", "compress", "storage"]


def _key(product: Product) -> dict[str, str]:
    return {"$CONVERTLY_API_KEY": product.client.key or ""}


def _create(product: Product) -> dict[str, Any]:
    reply = product.call("POST", "/api/workflows", docs.WORKFLOW_PAYLOAD)
    assert reply.status == 201, reply.content[:600]
    return reply.json()


def _assert_workflow_shape(workflow: dict[str, Any]) -> None:
    assert workflow["id"] and workflow["name"] == "Convert + compress for the web"
    assert workflow["template"] == "convert-compress-post" and workflow["isActive"] is True
    definition = workflow["definition"]
    assert [n["data"]["kind"] for n in definition["nodes"]] == KIND_ORDER
    assert [(e["source"], e["target"]) for e in definition["edges"]] == [
        ("upload", "convert"), ("convert", "compress"), ("compress", "storage")]
    assert definition["outputFormat"] == "webp" and definition["compressionLevel"] == 75
    assert definition["renamePattern"] == "{original}-{format}" and definition["resizeWidth"] == "1920"
    assert definition["storageDestination"] == "convertly-storage" and definition["uploadSource"] == "api"
    convert = next(n for n in definition["nodes"] if n["id"] == "convert")
    assert convert["data"]["config"] == {"outputFormat": "webp", "compressionLevel": 75}


def test_documented_payload_creates_lists_replaces_pauses_and_deletes(product: Product) -> None:
    created = _create(product)
    _assert_workflow_shape(created)
    listed = product.call("GET", "/api/workflows").json()["workflows"]
    _assert_workflow_shape(next(w for w in listed if w["id"] == created["id"]))

    replacement = json.loads(docs.WORKFLOW_PAYLOAD)
    replacement["id"], replacement["name"] = created["id"], "Renamed"
    replaced = product.call("POST", "/api/workflows", replacement)
    assert replaced.status == 200 and replaced.json()["id"] == created["id"]
    assert replaced.json()["name"] == "Renamed" and replaced.json()["version"] == created["version"] + 1

    paused = product.call("PATCH", f"/api/workflows/{created['id']}", '{ "isActive": false }')
    assert paused.status == 200 and paused.json()["isActive"] is False
    resumed = product.call("PATCH", f"/api/workflows/{created['id']}", {"isActive": True})
    assert resumed.json()["isActive"] is True

    deleted = product.call("DELETE", f"/api/workflows/{created['id']}")
    assert deleted.status == 200 and deleted.json()["deleted"] is True
    assert product.call("GET", f"/v1/workflows/{created['id']}").status == 404


def test_run_a_png_returns_the_run_record_and_the_converted_file(product: Product, media: Path) -> None:
    workflow = _create(product)
    reply = product.curl(docs.RUN_FILE, media, {**_key(product), "<workflow-id>": workflow["id"]})
    assert reply.status == 202, reply.content[:600]
    record = reply.json()
    assert record["id"] == record["runId"] and record["workflowId"] == workflow["id"]
    assert record["status"] in ("pending", "running", "completed") and record["createdAt"]

    runs = product.wait(f"/api/workflows/{workflow['id']}/run",
                        lambda data: data["runs"] and data["runs"][0]["status"] in TERMINAL)["runs"]
    assert [r["id"] for r in runs] == [record["id"]]
    run = runs[0]
    assert run["status"] == "completed", run
    output = run["outputs"][0]
    assert output["contentType"] == "image/webp" and output["filename"].endswith(".webp")
    converted = product.client.download(output["url"])
    assert converted.status == 200 and converted.content[:4] == b"RIFF" and converted.content[8:12] == b"WEBP"

    product.call("DELETE", f"/api/workflows/{workflow['id']}")
    assert product.call("GET", f"/v1/runs/{record['id']}").status == 200  # runs are kept


def test_documented_job_is_queued_polled_and_not_cancelled_once_done(product: Product, media: Path) -> None:
    created = product.curl(docs.CREATE_JOB, media, _key(product))
    assert created.status == 202, created.content[:600]
    assert set(created.json()) == {"jobId", "status"} and created.json()["status"] == "pending"
    job_id = created.json()["jobId"]
    substitutions = {**_key(product), docs.JOB_ID: job_id}
    job = product.wait(f"/api/jobs/{job_id}", lambda data: data["status"] in ("completed", "failed"))
    polled = product.curl(docs.POLL_JOB, media, substitutions)
    assert polled.status == 200 and polled.json()["status"] == job["status"] == "completed", job
    (result,) = polled.json()["results"]
    (output,) = result["outputs"]
    assert (output["format"], output["compression"], output["resize"]) == ("webp", 82, "original")
    assert output["contentType"] == "image/webp" and polled.json()["archive"] is None
    refused = product.curl(docs.CANCEL_JOB, media, substitutions)
    assert_problem(refused, 409)


def test_a_2x2x3_job_makes_twelve_labelled_outputs_and_an_archive(product: Product, media: Path) -> None:
    fields = ["jobType=convert", "files=@./input.png", 'formats=["webp","jpeg"]', "compressions=[60,85]",
              'resizes=["original","160","100x100"]', "createArchive=true"]
    body, content_type = curl_multipart(fields, media)
    reply = product.client.request("POST", "/api/jobs", data=body, headers={"Content-Type": content_type})
    assert reply.status == 202, reply.content[:600]
    job = product.wait(f"/api/jobs/{reply.json()['jobId']}", lambda d: d["status"] in ("completed", "failed"),
                       timeout=240)
    assert job["status"] == "completed", job
    outputs = job["results"][0]["outputs"]
    labels = {(o["format"], o["compression"], o["resize"]) for o in outputs}
    assert labels == {(f, q, r) for f in ("webp", "jpeg") for q in (60, 85) for r in ("original", "160", "100x100")}
    for output in outputs:
        assert output["contentType"] == f"image/{output['format']}"
    archive = product.client.download(job["archive"]["url"])
    with zipfile.ZipFile(io.BytesIO(archive.content)) as zipped:
        names = zipped.namelist()
    assert len(names) == 12 and len(set(names)) == 12


def test_fields_that_cannot_be_honoured_are_refused_by_name(product: Product) -> None:
    payload = json.loads(docs.WORKFLOW_PAYLOAD)
    payload["definition"]["watermarkText"] = "(c)"
    body = assert_problem(product.call("POST", "/api/workflows", payload), 422)
    assert any("watermarkText" in str(e["field"]) for e in body["errors"]), body

    payload = json.loads(docs.WORKFLOW_PAYLOAD)
    payload["definition"]["nodes"][1]["data"]["config"] = {"outputFormat": "webp", "dither": True}
    body = assert_problem(product.call("POST", "/api/workflows", payload), 422)
    assert [e["field"] for e in body["errors"]] == ["definition.nodes[1].data.config.dither"], body

    payload = json.loads(docs.WORKFLOW_PAYLOAD)
    payload["definition"]["nodes"][2]["data"]["kind"] = "upscale"
    body = assert_problem(product.call("POST", "/api/workflows", payload), 422)
    assert [e["field"] for e in body["errors"]] == ["definition.nodes[2].data.kind"], body

    body = assert_problem(product.call("PATCH", "/api/workflows/wf_x", {"isActive": True, "paused": 1}), 422)
    assert any("paused" in str(e["field"]) for e in body["errors"]), body


def test_a_key_is_required(product: Product) -> None:
    assert_problem(product.client.with_key(None).request("GET", "/api/workflows"), 401)


@pytest.mark.parametrize("operation", ["convert", "compress"])
def test_synchronous_convert_and_compress_answer_with_the_file_and_keep_nothing(product: Product, media: Path,
                                                                                 operation: str) -> None:
    fields = ["file=@./hero.png", "format=webp", "quality=70"] if operation == "convert" else [
        "file=@./photo.jpg", "quality=40"]
    body, content_type = curl_multipart(fields, media)
    adapters = product.api.deployment.adapters if product.backend == "aws" else product.api.service.adapters
    before = set(adapters.blobs.list("tenant-a/"))
    reply = product.client.request("POST", f"/api/{operation}", data=body, headers={"Content-Type": content_type})
    assert reply.status == 200, reply.content[:600]
    if operation == "convert":
        assert reply.content_type == "image/webp" and reply.content[8:12] == b"WEBP"
    else:
        original = (media / "photo.jpg").read_bytes()
        assert reply.content_type == "image/jpeg" and reply.content[:3] == b"\xff\xd8\xff"
        assert len(reply.content) < len(original)
    assert "attachment" in reply.headers["content-disposition"]
    filename = reply.headers["content-disposition"].split('filename="', 1)[1].rstrip('"')
    added = set(adapters.blobs.list("tenant-a/")) - before
    assert [key for key in added if "/sync/" in key or key.endswith("/" + filename)] == []  # nothing kept


def test_synchronous_conversion_refuses_by_name(product: Product, media: Path) -> None:
    body, content_type = curl_multipart(["file=@./hero.png", "format=webp", "dpi=300"], media)
    refused = assert_problem(product.client.request("POST", "/api/convert", data=body,
                                                    headers={"Content-Type": content_type}), 422)
    assert [e["field"] for e in refused["errors"]] == ["dpi"]
    body, content_type = curl_multipart(["file=@./hero.png"], media)
    refused = assert_problem(product.client.request("POST", "/api/convert", data=body,
                                                    headers={"Content-Type": content_type}), 422)
    assert [e["field"] for e in refused["errors"]] == ["format"]


def test_the_documented_cancel_cancels_a_pending_job(product: Product, media: Path) -> None:
    # A job still pending (queued, no worker yet) under the document's own id, then its curl as printed.
    product.api.jobs.create_job({"tenant": "tenant-a", "jobId": docs.JOB_ID, "jobType": "convert", "files": []})
    cancelled = product.curl(docs.CANCEL_JOB, media, _key(product))
    assert cancelled.status == 200 and cancelled.json() == {"jobId": docs.JOB_ID, "status": "cancelled"}
    polled = product.curl(docs.POLL_JOB, media, _key(product))
    assert polled.json()["status"] == "cancelled"
    assert_problem(product.curl(docs.CANCEL_JOB, media, _key(product)), 409)


def test_a_template_name_is_echoed_and_usable(product: Product) -> None:
    made = product.call("POST", "/api/workflows", {"name": "From a template", "template": "image-web-optimise",
                                                   "isActive": True})
    assert made.status == 201, made.content[:600]
    workflow = made.json()
    assert workflow["template"] == "image-web-optimise" and workflow["isActive"] is True
    assert workflow["name"] == "From a template" and workflow["definition"]["nodes"]
    body = assert_problem(product.call("POST", "/api/workflows", {"name": "x", "template": "no-such-template"}), 422)
    assert [e["field"] for e in body["errors"]] == ["template"]
    product.call("DELETE", f"/api/workflows/{workflow['id']}")


def test_synchronous_conversion_is_bounded_in_size_and_time(embedded_api: Any, media: Path) -> None:
    from mediaflow.api import ApiConfig, create_app
    from mediaflow.embedded.bootstrap import embedded_context

    from tests.functional.api.conftest import GATEWAY, Client

    config = ApiConfig(rate_per_second=10_000, burst=10_000, sync_max_bytes=80_000, sync_timeout_seconds=0.0)
    app = create_app(embedded_context(embedded_api.service, config))
    def resolve(event: dict[str, Any], context: Any) -> dict[str, Any]:
        event["path"] = event["path"].removeprefix("/prod")  # API Gateway strips the stage
        result: dict[str, Any] = app.resolve(event, context)
        return result

    client = Client("lambda", GATEWAY, resolve, embedded_api.keys["a"])
    big = media / "big.bin"
    big.write_bytes(b"\0" * 100_000)
    body, content_type = curl_multipart(["file=@./big.bin", "format=webp"], media)
    refused = assert_problem(client.request("POST", "/api/convert", data=body,
                                            headers={"Content-Type": content_type}), 413)
    assert [e["field"] for e in refused["errors"]] == ["file"]
    body, content_type = curl_multipart(["file=@./photo.jpg", "format=avif"], media)
    late = assert_problem(client.request("POST", "/api/convert", data=body, headers={"Content-Type": content_type}),
                          408)
    assert "POST /api/jobs" in late["detail"]
