"""What operating the deployed stack needs, read from template.yaml: names within AWS's limits at the
longest parameters, alarms that notify, access logs, CORS, public routes and the per-key usage plan."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.functional.api.aws_backend import ROOT, Resolver, load_template, resources_of

pytestmark = pytest.mark.functional
LONGEST_REGION = "ap-southeast-5"  # 14 characters, as long as any region name
NAME_LIMITS = {"BucketName": 63, "FunctionName": 64, "QueueName": 80, "TableName": 255, "TopicName": 256,
               "AlarmName": 255, "UsagePlanName": 1024}


def longest_names() -> tuple[dict[str, Any], Resolver]:
    template = load_template()
    parameters = template["Parameters"]
    for name in ("NamePrefix", "Stage"):
        longest = int(re.search(r"\{1,(\d+)\}", parameters[name]["AllowedPattern"]).group(1))  # type: ignore[union-attr]
        parameters[name]["Default"] = "a" * longest
    return template, LongestRegion(template)


class LongestRegion(Resolver):
    def ref(self, name: str) -> str:
        return {"AWS::Region": LONGEST_REGION, "AWS::AccountId": "1" * 12}.get(name) or super().ref(name)


def test_every_name_fits_its_limit_with_the_longest_parameters_in_the_longest_region() -> None:
    template, resolve = longest_names()
    checked = 0
    for logical, resource in template["Resources"].items():
        for field, limit in NAME_LIMITS.items():
            value = (resource.get("Properties") or {}).get(field)
            if value is None:
                continue
            name = resolve(value)
            assert LONGEST_REGION in name or "${" not in str(value) or "AWS::Region" not in str(value)
            assert len(name) <= limit, f"{logical}.{field} {name!r} has {len(name)} > {limit} characters"
            checked += 1
    assert checked >= 20
    prefix = resolve({"Fn::Sub": "${NamePrefix}-${Stage}"})
    assert len(f"{prefix}-std-{'0' * 24}") <= 80  # state machine names (adapters/aws/stepfunctions.py)


def _action_targets(alarm: dict[str, Any]) -> Any:
    return alarm["Properties"]["AlarmActions"]


def test_alarms_cover_both_dead_letter_queues_failed_runs_and_every_function() -> None:
    template = load_template()
    resources = template["Resources"]
    alarms = {logical: r for logical, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    queues = {r["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0] for r in alarms.values()
              if r["Properties"].get("Namespace") == "AWS/SQS"}
    assert queues == {"DeadLetterQueue", "WebhookDeadLetterQueue"}
    failed = [r for r in alarms.values() if r["Properties"].get("MetricName") == "RunsFailed"]
    assert failed and failed[0]["Properties"]["Namespace"] == "mediaflow"
    watched = {metric["MetricStat"]["Metric"]["Dimensions"][0]["Value"]["Ref"] for r in alarms.values()
               for metric in r["Properties"].get("Metrics", []) if "MetricStat" in metric}
    assert watched == set(resources_of(template, "AWS::Serverless::Function"))
    for alarm in alarms.values():
        assert _action_targets(alarm) == [{"Fn::If": ["CreateAlarmTopic", {"Ref": "AlarmTopic"},
                                                       {"Ref": "AlarmTopicArn"}]}]
    assert template["Parameters"]["AlarmTopicArn"]["Default"] == ""


def test_the_runs_functions_name_the_metric_the_failed_runs_alarm_watches() -> None:
    from mediaflow.embedded.executor import RUN_STATUS_BY_EXECUTION

    source = "".join((ROOT / "functions" / "runs" / f"{name}.py").read_text() for name in ("handler", "express"))
    assert source.count('f"Runs{detail[\'status\'].capitalize()}"') == 2
    assert {f"Runs{RUN_STATUS_BY_EXECUTION[s].capitalize()}" for s in ("FAILED", "TIMED_OUT")} == {"RunsFailed"}


def test_the_api_logs_access_answers_cors_limits_each_key_and_keeps_health_public() -> None:
    template = load_template()
    api = template["Resources"]["Api"]["Properties"]
    assert api["AccessLogSetting"]["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    assert "$context.requestId" in api["AccessLogSetting"]["Format"]
    assert api["Cors"]["AllowOrigin"] == {"Fn::Sub": "'${CorsAllowOrigin}'"}
    assert api["ApiKeySourceType"] == "AUTHORIZER" and api["Auth"]["ApiKeyRequired"] is True
    assert api["Auth"]["AddApiKeyRequiredToCorsPreflight"] is False  # preflights carry no key
    assert api["Auth"]["AddDefaultAuthorizerToCorsPreflight"] is False
    plan = template["Resources"]["ApiUsagePlan"]["Properties"]
    assert plan["Throttle"] == {"RateLimit": {"Ref": "KeyRateLimit"}, "BurstLimit": {"Ref": "KeyBurstLimit"}}
    assert plan["ApiStages"][0]["ApiId"] == {"Ref": "Api"}
    events = template["Resources"]["ApiFunction"]["Properties"]["Events"]
    public = {(e["Properties"]["Method"], e["Properties"]["Path"]) for e in events.values()
              if e["Properties"].get("Auth") == {"Authorizer": "NONE", "ApiKeyRequired": False}}
    assert public == {("GET", "/v1/health"), ("GET", "/v1/openapi.json")}
    env = template["Resources"]["ApiFunction"]["Properties"]["Environment"]["Variables"]
    assert env["MEDIAFLOW_USAGE_PLAN_ID"] == {"Ref": "ApiUsagePlan"}
    assert env["MEDIAFLOW_CORS_ALLOW_ORIGINS"] == {"Ref": "CorsAllowOrigin"}


def test_on_aws_the_in_process_bucket_is_off_and_the_stack_names_the_origins() -> None:
    from mediaflow.api.config import ApiConfig
    from mediaflow.cloud.bootstrap import aws_config
    from mediaflow.settings import Settings

    config = aws_config(ApiConfig(), Settings(cors_allow_origins="https://a.example, https://b.example"))
    assert config.rate_limited is False
    assert config.cors_allow_origins == ("https://a.example", "https://b.example")
    assert ApiConfig().rate_limited is True  # the local server keeps its token bucket


SAM_PYTHON = ROOT / ".tools" / "sam-venv" / "bin" / "python"


@pytest.mark.skipif(not SAM_PYTHON.exists(), reason="aws-sam-cli is not installed in .tools/sam-venv (.ci/setup.sh)")
def test_after_the_sam_transform_public_routes_and_preflights_need_neither_key_nor_authorizer() -> None:
    import json
    import subprocess

    done = subprocess.run([str(SAM_PYTHON), str(ROOT / "tests" / "support" / "sam_transform.py"),
                           str(ROOT / "template.yaml")], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    resources = json.loads(done.stdout)["Resources"]
    paths = resources["Api"]["Properties"]["Body"]["paths"]
    for path in ("/v1/health", "/v1/openapi.json"):
        assert paths[path]["get"]["security"] == [], path
    for path, operations in paths.items():
        assert not (operations.get("options") or {}).get("security"), f"the {path} preflight needs nothing"
    assert {"ApiKeyAuthorizer": []} in paths["/{proxy+}"]["x-amazon-apigateway-any-method"]["security"]
    assert {"api_key": []} in paths["/{proxy+}"]["x-amazon-apigateway-any-method"]["security"]
    assert resources["Api"]["Properties"]["ApiKeySourceType"] == "AUTHORIZER"
    stage = resources["ApiUsagePlan"]["Properties"]["ApiStages"][0]["Stage"]
    assert resources[stage["Ref"]]["Properties"]["AccessLogSetting"]["DestinationArn"] == {
        "Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
