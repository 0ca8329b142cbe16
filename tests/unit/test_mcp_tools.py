"""The MCP tools' input schemas: generated from the API's models, each with examples that the same model
accepts, and the workflow examples are valid workflows (Convertly's is the seed payload in examples/)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mediaflow.mcp_server import CANONICAL_EXAMPLE, CONVERTLY_EXAMPLE, SPECS, DefinitionIn, Spec
from mediaflow.validation import validate

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.name)
def test_schema_has_examples_the_model_accepts(spec: Spec) -> None:
    schema = spec.model.model_json_schema(by_alias=True)
    assert schema["type"] == "object" and schema["examples"], spec
    for example in schema["examples"]:
        spec.model.model_validate(example)
    assert len(spec.description) > 20


def test_workflow_examples_are_valid_and_convertlys_is_the_seed() -> None:
    assert json.loads((ROOT / "examples" / "convertly-convert-compress.json").read_text()) == CONVERTLY_EXAMPLE
    for example in (CONVERTLY_EXAMPLE, CANONICAL_EXAMPLE):
        assert validate(example).valid, validate(example).errors
    assert all(issubclass(spec.model, DefinitionIn) for spec in SPECS
               if spec.name in ("create_workflow", "update_workflow", "validate_workflow", "plan_workflow"))
