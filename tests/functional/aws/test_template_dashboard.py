"""The optional dashboard in template.yaml (DeployDashboard=true): a private bucket read only by its CloudFront
distribution, client routes answered with index.html by a CloudFront function (run here with node), hashed
assets cached for a year and pages revalidated, and /v1/* forwarded uncached to the API stage."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.functional.api.aws_backend import load_template

pytestmark = pytest.mark.functional
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"


def dashboard_resources() -> dict[str, dict]:
    return {name: resource for name, resource in load_template()["Resources"].items()
            if name.startswith("Dashboard")}


def test_the_dashboard_is_off_by_default_and_all_of_it_hangs_on_one_condition() -> None:
    template = load_template()
    assert template["Parameters"]["DeployDashboard"]["Default"] == "false"
    assert template["Conditions"]["DeploysDashboard"] == {"Fn::Equals": [{"Ref": "DeployDashboard"}, "true"]}
    resources = dashboard_resources()
    assert {r["Type"] for r in resources.values()} >= {
        "AWS::S3::Bucket", "AWS::S3::BucketPolicy", "AWS::CloudFront::Distribution",
        "AWS::CloudFront::OriginAccessControl", "AWS::CloudFront::Function", "AWS::CloudFront::ResponseHeadersPolicy"}
    assert all(r.get("Condition") == "DeploysDashboard" for r in resources.values())
    outputs = {name: o for name, o in template["Outputs"].items() if name.startswith("Dashboard")}
    assert outputs and all(o.get("Condition") == "DeploysDashboard" for o in outputs.values())
    referenced = json.dumps({k: v for k, v in template["Resources"].items() if not k.startswith("Dashboard")})
    assert "Dashboard" not in referenced  # nothing else depends on it, so the stack deploys without it


def test_only_the_distribution_reads_the_private_bucket() -> None:
    resources = dashboard_resources()
    bucket = resources["DashboardBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    statements = resources["DashboardBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    read = next(s for s in statements if s["Effect"] == "Allow")
    assert read["Principal"] == {"Service": "cloudfront.amazonaws.com"} and read["Action"] == "s3:GetObject"
    assert "distribution/${DashboardDistribution}" in read["Condition"]["StringEquals"]["AWS:SourceArn"]["Fn::Sub"]
    config = resources["DashboardDistribution"]["Properties"]["DistributionConfig"]
    app = next(o for o in config["Origins"] if o["Id"] == "app")
    assert app["OriginAccessControlId"] == {"Fn::GetAtt": ["DashboardOriginAccess", "Id"]}


def test_assets_are_immutable_pages_revalidate_and_the_api_passes_uncached() -> None:
    resources = dashboard_resources()
    config = resources["DashboardDistribution"]["Properties"]["DistributionConfig"]

    def cache_control(policy: str) -> str:
        items = resources[policy]["Properties"]["ResponseHeadersPolicyConfig"]["CustomHeadersConfig"]["Items"]
        return next(i["Value"] for i in items if i["Header"] == "Cache-Control")

    assert config["DefaultCacheBehavior"]["ResponseHeadersPolicyId"] == {"Ref": "DashboardPageHeaders"}
    assert cache_control("DashboardPageHeaders") == "no-cache"
    behaviors = {b["PathPattern"]: b for b in config["CacheBehaviors"]}
    assert behaviors["/assets/*"]["ResponseHeadersPolicyId"] == {"Ref": "DashboardAssetHeaders"}
    assert cache_control("DashboardAssetHeaders") == "public, max-age=31536000, immutable"
    api = behaviors["/v1/*"]
    assert api["TargetOriginId"] == "api" and api["CachePolicyId"] == CACHING_DISABLED
    assert api["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST
    assert set(api["AllowedMethods"]) == {"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"}
    origin = next(o for o in config["Origins"] if o["Id"] == "api")
    assert origin["OriginPath"] == {"Fn::Sub": "/${Stage}"} and "${Api}.execute-api" in origin["DomainName"]["Fn::Sub"]
    csp = resources["DashboardPageHeaders"]["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    assert "frame-ancestors 'none'" in csp["ContentSecurityPolicy"]["ContentSecurityPolicy"]


@pytest.mark.skipif(shutil.which("node") is None, reason="node runs the CloudFront function's code")
def test_the_routes_function_sends_client_routes_to_index_html() -> None:
    code = dashboard_resources()["DashboardRoutes"]["Properties"]["FunctionCode"]
    cases = ["/", "/workflows", "/workflows/wf_1/versions", "/runs/run-1", "/assets/index-Ab12.js",
             "/favicon.svg", "/index.html"]
    script = code + f"\nconsole.log(JSON.stringify({json.dumps(cases)}.map(u => handler({{request: {{uri: u}}}}).uri)))"
    done = subprocess.run(["node", "-e", script], capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(done.stdout) == ["/index.html", "/index.html", "/index.html", "/index.html",
                                       "/assets/index-Ab12.js", "/favicon.svg", "/index.html"]
