"""Runs inside aws-sam-cli's environment (.tools/sam-venv): prints template.yaml after the SAM transform.

    .tools/sam-venv/bin/python tests/support/sam_transform.py template.yaml

Local code and image locations are replaced by S3 and ECR placeholders first, as `sam package` would.
"""

import json
import os
import sys
from pathlib import Path

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class NoManagedPolicies:
    def load(self) -> dict[str, str]:
        return {}


def main() -> None:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    template = yaml_parse(Path(sys.argv[1]).read_text())
    for resource in template["Resources"].values():
        props = resource.get("Properties") or {}
        if "CodeUri" in props:
            props["CodeUri"] = "s3://artifacts/code.zip"
        if "ContentUri" in props:
            props["ContentUri"] = "s3://artifacts/layer.zip"
        if props.get("PackageType") == "Image":
            props["ImageUri"] = "123456789012.dkr.ecr.us-east-1.amazonaws.com/mediaflow:latest"
    sys.stdout.write(json.dumps(transform(template, {}, NoManagedPolicies())))


if __name__ == "__main__":
    main()
