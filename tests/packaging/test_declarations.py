"""One declaration per deployable: the requirement files are generated from pyproject's extras, the images
install them as the environments here are built, and a package left out of a declaration fails by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.functional.aws.test_webhooks_aws import Receiver
from tests.packaging.conftest import ROOT, TENANT, LambdaError, Stack, deployables, load_template
from tests.packaging.test_core_layer import bus_event

pytestmark = pytest.mark.packaging


def test_the_requirement_files_are_generated_from_the_pyproject_extras() -> None:
    assert deployables.stale() == [], "run `make requirements`"
    for deployable in deployables.DEPLOYABLES.values():
        lines = [line for line in deployable.requirements_file.read_text().splitlines() if not line.startswith("#")]
        assert lines == deployables.requirements(deployable.extra)


def test_a_changed_extra_makes_its_requirement_file_stale(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text((ROOT / "pyproject.toml").read_text().replace('  "standardwebhooks>=1.0",\n', ""))
    core = deployables.DEPLOYABLES["core"]
    assert "standardwebhooks>=1.0" not in deployables.render(core, pyproject)
    assert deployables.render(core, pyproject) != core.requirements_file.read_text()


def test_every_function_is_built_from_one_declared_deployable() -> None:
    template = load_template()
    resources = template["Resources"]
    assert resources["CoreLayer"]["Properties"]["ContentUri"] == "layers/core/"
    for logical, resource in resources.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        props = resource["Properties"]
        if props.get("PackageType") == "Image":
            dockerfile = Path(resource["Metadata"]["Dockerfile"])
            deployable = deployables.DEPLOYABLES[dockerfile.parent.name]
            text = (ROOT / dockerfile).read_text()
            assert f"COPY layers/{deployable.name}/requirements.txt /tmp/requirements.txt" in text, logical
            pip = f"pip install {' '.join(deployable.pip_args)} -r /tmp/requirements.txt"
            assert pip in text, f"{dockerfile} installs differently from the packaging environment"
        else:
            assert props["Layers"] == [{"Ref": "CoreLayer"}], logical


def test_every_image_ships_the_bytecode_of_its_task_root() -> None:
    """The task root is read-only in Lambda: a module without bytecode there is compiled again by every cold
    start that imports it (about 55 ms for the modules of one image run), so each image compiles all of it,
    after the package and the handler are copied in."""
    template = load_template()
    images = {Path(resource["Metadata"]["Dockerfile"]) for resource in template["Resources"].values()
              if resource["Type"] == "AWS::Serverless::Function"
              and resource["Properties"].get("PackageType") == "Image"}
    assert images
    for dockerfile in sorted(images):
        text = (ROOT / dockerfile).read_text()
        compiled = text.find('python -m compileall -q "${LAMBDA_TASK_ROOT}"')
        assert compiled != -1, f"{dockerfile} does not compile its task root"
        for copied in ("COPY layers/core/mediaflow ${LAMBDA_TASK_ROOT}/mediaflow",
                       "COPY functions/nodes/handler.py ${LAMBDA_TASK_ROOT}/handler.py"):
            assert -1 < text.find(copied) < compiled, f"{dockerfile}: {copied!r} after the compile"


def test_without_standardwebhooks_the_webhooks_function_fails_naming_it(stack: Stack, api_key: str) -> None:
    receiver = Receiver()
    try:
        loopback = {"MEDIAFLOW_WEBHOOK_ALLOW_LOOPBACK_HTTP": "true"}
        stack.extra_env.update(ApiFunction=loopback, WebhooksFunction=loopback)
        status, created = stack.api("POST", "/v1/webhooks", {"url": receiver.url}, key=api_key)
        assert status == 201, created
        stack.function_envs["WebhooksFunction"] = deployables.deployable_env("core-without-standardwebhooks")
        detail = {"tenant": TENANT, "workflowId": "wf-1", "version": 1, "runId": "run-1", "status": "completed",
                  "startedAt": "2026-12-02T08:00:00Z", "endedAt": "2026-12-02T08:00:01Z", "error": None,
                  "outputs": []}
        with pytest.raises(LambdaError) as failure:
            stack.invoke("WebhooksFunction", bus_event("workflow.completed", detail))
        assert failure.value.error_type == "ModuleNotFoundError"
        assert "standardwebhooks" in failure.value.message
        assert receiver.requests == []
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()


def test_without_pillow_a_validate_size_rule_fails_naming_it(stack: Stack, api_key: str) -> None:
    from mediaflow import samples

    stack.function_envs["LightFunction"] = deployables.deployable_env("core-without-pillow")
    photo = samples.photo(stack.log_dir / "photo.jpg", 64, 48).read_bytes()
    key = f"{TENANT}/uploads/packaging/validate/photo.jpg"
    stack.boto("s3").put_object(Bucket=stack.resolve.physical["UploadsBucket"], Key=key, Body=photo)
    definition = {"name": "validate size", "nodes": [
        {"id": "upload", "kind": "upload"},
        {"id": "check", "kind": "validate", "config": {"mediaTypes": ["image"], "minWidth": 16}},
        {"id": "keep", "kind": "storage", "config": {}}],
        "edges": [{"source": "upload", "target": "check"}, {"source": "check", "target": "keep"}]}
    status, saved = stack.api("POST", "/v1/workflows", definition, key=api_key)
    assert status == 201, saved
    status, accepted = stack.api("POST", f"/v1/workflows/{saved['id']}/runs", {"objects": [key]}, key=api_key)
    assert status == 202, accepted
    stack.execute(accepted["runId"])
    status, run = stack.api("GET", f"/v1/runs/{accepted['runId']}", key=api_key)
    assert run["status"] == "failed", run
    assert "ModuleNotFoundError" in str(run["error"]) and "PIL" in str(run["error"]), run["error"]
