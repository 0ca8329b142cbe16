"""The SAM template and every compiled state machine pass the official linters."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from mediaflow.compiler.asl import LONG_ROUTE_PLACEHOLDERS, PLACEHOLDERS

pytestmark = pytest.mark.functional
ROOT = Path(__file__).resolve().parents[3]
CFN_LINT = [str(Path(sys.executable).with_name("cfn-lint"))]
SAM = ROOT / ".tools" / "sam-venv" / "bin" / "sam"


def _lint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CFN_LINT, str(path)], capture_output=True, text=True, timeout=300, check=False)


def test_template_passes_cfn_lint() -> None:
    result = _lint(ROOT / "template.yaml")
    assert result.returncode == 0 and result.stdout == "", result.stdout + result.stderr


def test_every_golden_state_machine_is_valid_for_cloudformation(tmp_path: Path) -> None:
    resources: dict[str, object] = {"Role": {"Type": "AWS::IAM::Role", "Properties": {
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}]}}}}
    golden = sorted((ROOT / "statemachines").glob("*.asl.json"))
    assert golden
    for index, path in enumerate(golden):
        asl = json.loads(path.read_text())
        resources[f"Machine{index}"] = {"Type": "AWS::StepFunctions::StateMachine", "Properties": {
            "StateMachineType": "STANDARD",
            "RoleArn": {"Fn::GetAtt": ["Role", "Arn"]},
            "Definition": asl,
            "DefinitionSubstitutions": {**{name: f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
                                           for name in PLACEHOLDERS},
                                        **{name: f"arn:aws:ecs:us-east-1:123456789012:{name}"
                                           for name in LONG_ROUTE_PLACEHOLDERS}},
        }}
    template = tmp_path / "machines.yaml"
    template.write_text(yaml.safe_dump({"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources}))
    result = _lint(template)
    assert result.returncode == 0 and result.stdout == "", result.stdout + result.stderr


@pytest.mark.skipif(not SAM.exists(), reason="aws-sam-cli lives in .tools/sam-venv (made by `make setup`)")
def test_sam_validate_lint() -> None:
    result = subprocess.run(
        [str(SAM), "validate", "--lint", "--template-file", "template.yaml", "--region", "us-east-1"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "SAM_CLI_TELEMETRY": "0"})
    assert result.returncode == 0 and "is a valid SAM Template" in result.stdout + result.stderr, \
        result.stdout + result.stderr
