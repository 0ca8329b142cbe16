"""The stack grants the light function exactly the buckets and roles its ImportBuckets, ExportBuckets and
ExportRoleArns parameters list, and nothing when they are empty (the defaults)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.functional.api.aws_backend import Resolver, load_template

pytestmark = pytest.mark.functional
GRANTS = {"ImportsFromBuckets": "ReadImportBuckets", "ExportsToBuckets": "WriteExportBuckets",
          "ExportsThroughRoles": "AssumeUsersExportRoles"}


def light(**parameters: str) -> tuple[dict[str, Any], Resolver]:
    template = load_template()
    for name, value in parameters.items():
        template["Parameters"][name]["Default"] = value
    return template["Resources"]["LightFunction"]["Properties"], Resolver(template)


def granted(**parameters: str) -> dict[str, dict[str, Any]]:
    """Sid -> statement of the light function's conditional import/export grants."""
    properties, resolve = light(**parameters)
    statements: dict[str, dict[str, Any]] = {}
    for policy in properties["Policies"]:
        condition = policy.get("Fn::If", [None])[0] if isinstance(policy, dict) else None
        if condition in GRANTS:
            resolved = resolve(policy)
            for statement in (resolved or {}).get("Statement", []):
                statements[statement["Sid"]] = statement
    return statements


def test_nothing_is_granted_by_default() -> None:
    assert granted() == {}
    properties, resolve = light()
    variables = properties["Environment"]["Variables"]
    assert resolve(variables["MEDIAFLOW_IMPORT_BUCKETS"]) == resolve(variables["MEDIAFLOW_EXPORT_BUCKETS"]) == ""


def test_listed_buckets_and_roles_are_granted_one_by_one() -> None:
    roles = "arn:aws:iam::111122223333:role/mediaflow-export,arn:aws:iam::444455556666:role/out"
    statements = granted(ImportBuckets="partner-media,archive", ExportBuckets="acme-media", ExportRoleArns=roles)
    assert statements["ReadImportBuckets"]["Action"] == ["s3:GetObject"]
    assert statements["ReadImportBuckets"]["Resource"] == ["arn:aws:s3:::partner-media/*", "arn:aws:s3:::archive/*"]
    assert statements["WriteExportBuckets"]["Action"] == ["s3:PutObject"]
    assert statements["WriteExportBuckets"]["Resource"] == ["arn:aws:s3:::acme-media/*"]
    assert statements["AssumeUsersExportRoles"]["Action"] == ["sts:AssumeRole"]
    assert statements["AssumeUsersExportRoles"]["Resource"] == roles.split(",")
    properties, resolve = light(ImportBuckets="partner-media,archive", ExportBuckets="acme-media")
    variables = properties["Environment"]["Variables"]
    assert resolve(variables["MEDIAFLOW_IMPORT_BUCKETS"]) == "partner-media,archive"
    assert resolve(variables["MEDIAFLOW_EXPORT_BUCKETS"]) == "acme-media"
