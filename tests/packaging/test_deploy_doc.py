"""docs/deploy.md followed verbatim: its bash blocks run in order against the stack on the moto server,
with API Gateway on loopback in front of the functions (each in its deployable's environment).

What moto cannot do is bridged and said here: `sam validate --lint` runs for real when aws-sam-cli is in
.tools/sam-venv; `sam build`, `sam deploy` and `sam delete` need Docker and an account, so a `sam` on the
PATH records them and the test deploys the stack itself beforehand (the template's resources, as every
packaging test does, and a CloudFormation stack `mediaflow-dev` carrying the template's outputs); the run's
execution is made by the test between the doc's commands (Stack.execute), as Step Functions would.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.packaging.conftest import REGION, ROOT, Stack

pytestmark = pytest.mark.packaging
DOC = ROOT / "docs" / "deploy.md"
STACK = "mediaflow-dev"
SAM_SHIM = """#!/usr/bin/env bash
echo "sam $*" >> "$SAM_CALLS"
if [[ "$1" == "validate" && -x "$REAL_SAM" ]]; then
  exec "$REAL_SAM" "$@" --template-file "$TEMPLATE" --region us-east-1
fi
"""


class Gateway:
    """API Gateway's stage URL on 127.0.0.1: each request goes through Stack.gateway."""

    def __init__(self, stack: Stack, stage: str = "dev") -> None:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def handle_any(self) -> None:
                path = urlsplit(self.path).path
                if not path.startswith(f"/{stage}/"):
                    self.answer(403, {"content-type": "application/json"}, b'{"message":"Forbidden"}')
                    return
                data = self.rfile.read(int(self.headers.get("content-length") or 0))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                self.answer(*stack.gateway(self.command, path[len(stage) + 1:], headers, data))

            def answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                gateway.requests.append((self.command, self.path, status))

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any  # noqa: N815

            def log_message(self, format: str, *args: object) -> None:
                return

        self.requests: list[tuple[str, str, int]] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/{stage}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gateway(stack: Stack) -> Iterator[Gateway]:
    served = Gateway(stack)
    yield served
    served.close()


def doc_steps() -> dict[str, list[str]]:
    """The commands of each numbered step of the deploy doc's main section, in order."""
    text = DOC.read_text()
    steps: dict[str, list[str]] = {}
    for heading, body in re.findall(r"^### (\d\. [^\n]+)\n(.*?)(?=^### |^## )", text, flags=re.M | re.S):
        commands = [line for block in re.findall(r"```bash\n(.*?)```", body, flags=re.S)
                    for line in block.splitlines() if line.strip()]
        steps[heading] = commands
    return steps


def deploy_outputs(stack: Stack, gateway: Gateway) -> None:
    """What `sam deploy` leaves: a stack whose outputs (as template.yaml declares them) the CLI reads."""
    names = {"ApiUrl": gateway.url, "ResourcePrefix": stack.resolve({"Fn::Sub": "${NamePrefix}-${Stage}"}),
             "ApiKeysTableName": stack.resolve.physical["ApiKeysTable"],
             "UsagePlanId": stack.resolve.physical["ApiUsagePlan"],
             "OutputsBucketName": stack.resolve.physical["OutputsBucket"]}
    assert set(names) <= set(stack.template["Outputs"]), "the doc's outputs are the template's"
    template = {"Resources": {"Marker": {"Type": "AWS::SNS::Topic"}},  # a resource moto can create
                "Outputs": {name: {"Value": value} for name, value in names.items()}}
    stack.boto("cloudformation").create_stack(StackName=STACK, TemplateBody=json.dumps(template))


def shell(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600, check=False)


def test_the_deploy_doc_works_verbatim(stack: Stack, gateway: Gateway, tmp_path: Path) -> None:
    steps = doc_steps()
    assert [heading.split(" ", 1)[1] for heading in steps] == ["Build", "Deploy", "First API key", "First run",
                                                                "Teardown"]
    assert all(steps.values()), "every step is at least one command"
    deploy_outputs(stack, gateway)

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sam").write_text(SAM_SHIM)
    (bin_dir / "sam").chmod(0o755)
    calls = tmp_path / "sam-calls"
    state = tmp_path / "state.sh"
    env = {**os.environ, "PATH": f"{bin_dir}:{Path(sys.executable).parent}:{os.environ['PATH']}",
           "PYTHONPATH": str(ROOT / "layers" / "core"), "AWS_ENDPOINT_URL": stack.endpoint,
           "AWS_DEFAULT_REGION": REGION, "SAM_CALLS": str(calls), "TEMPLATE": str(ROOT / "template.yaml"),
           "REAL_SAM": str(ROOT / ".tools" / "sam-venv" / "bin" / "sam")}
    variables = "MEDIAFLOW_KEY API WORKFLOW RUN"
    build, deploy, first_key, first_run, teardown = steps.values()

    # Build, deploy, first key and the first run up to its start.
    start, poll = first_run[:-1], first_run[-1:]
    before = "\n".join([*build, *deploy, *first_key, *start])
    done = shell(f"{before}\ndeclare -p {variables} > {state}", env)
    assert done.returncode == 0, done.stdout + done.stderr + stack.logs()
    assert calls.read_text().splitlines()[:3] == [
        "sam validate --lint", "sam build --use-container --parallel", deploy[0]]
    values = dict(re.findall(r'declare -x? ?-?-? ?(\w+)="([^"]*)"', state.read_text()))
    assert values["MEDIAFLOW_KEY"].startswith("mf_") or len(values["MEDIAFLOW_KEY"]) > 20, values
    assert values["API"] == gateway.url and values["WORKFLOW"] and values["RUN"]
    assert ("GET", "/dev/v1/health", 200) in gateway.requests  # no key needed

    # Step Functions runs the execution the API started; then the doc's poll finds it completed.
    result = stack.execute(values["RUN"], tenant="acme")
    assert result.status == "SUCCEEDED", (result.error, result.cause, stack.logs())
    polled = shell(f"source {state}\n" + "\n".join(poll), env)
    assert polled.returncode == 0, polled.stdout + polled.stderr
    run = json.loads(polled.stdout)
    assert run["status"] == "completed" and run["outputs"], run

    # Teardown: the app's state machines are found by tag and deleted; sam delete is recorded.
    sfn = stack.boto("stepfunctions")
    prefix = stack.resolve({"Fn::Sub": "${NamePrefix}-${Stage}"})
    before_teardown = [m for m in sfn.list_state_machines()["stateMachines"] if m["name"].startswith(prefix)]
    assert before_teardown, "saving the workflow created its state machine"
    gone = shell("\n".join(teardown), env)
    assert gone.returncode == 0, gone.stdout + gone.stderr
    assert [m for m in sfn.list_state_machines()["stateMachines"] if m["name"].startswith(prefix)] == []
    assert calls.read_text().splitlines()[-1] == "sam delete --stack-name mediaflow-dev --no-prompts"
