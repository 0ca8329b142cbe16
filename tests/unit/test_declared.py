"""Declared models (``mediaflow/declared.py``): what the light path does without pydantic is what pydantic does.

Trusted data makes the instance validation makes; dumps, copies, equality and ``repr`` read the same; aliases are
pydantic's; and a process that only takes trusted data and dumps it never imports pydantic."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mediaflow.catalog import catalog
from mediaflow.declared import Declared, to_camel
from mediaflow.execution.contract import Op, RunContext, StepRecord, TaskPayload
from mediaflow.media import MediaRef
from mediaflow.settings import Settings

DUMPS: list[dict[str, Any]] = [{}, {"by_alias": True}, {"mode": "json"}, {"mode": "json", "by_alias": True,
                                                                       "exclude_none": True},
                               {"exclude_unset": True}, {"by_alias": True, "exclude_none": True, "exclude_unset": True}]


def _declared_models() -> list[type[Declared]]:
    models: list[type[Declared]] = [MediaRef, Op, RunContext, TaskPayload, StepRecord, Settings]
    models += [spec.config_model for spec in catalog().values()]
    return models


def _same(light: Declared, validated: Declared) -> None:
    assert light == validated
    assert repr(light) == repr(validated.as_pydantic())
    for options in DUMPS:
        assert light.model_dump(**options) == validated.as_pydantic().model_dump(**options), options


@pytest.mark.parametrize("model", _declared_models(), ids=lambda model: f"{model.__module__}.{model.__name__}")
def test_aliases_are_pydantics(model: type[Declared]) -> None:
    from pydantic.alias_generators import to_camel as pydantic_to_camel

    for name, field in model.model_fields.items():
        assert to_camel(name) == pydantic_to_camel(name)
        if model.pydantic_config().get("alias_generator") is to_camel:
            assert field.alias == to_camel(name)


@given(st.from_regex(r"\A_?[a-z][a-z0-9]*(_[a-z0-9]+){0,4}_?\Z"))
def test_to_camel_is_pydantics_on_any_snake_name(name: str) -> None:
    from pydantic.alias_generators import to_camel as pydantic_to_camel

    assert to_camel(name) == pydantic_to_camel(name)


@pytest.mark.parametrize("kind", sorted(kind for kind, spec in catalog().items() if spec.example))
def test_a_compiled_config_is_taken_as_validated(kind: str) -> None:
    config_model = catalog()[kind].config_model
    validated = config_model.model_validate(catalog()[kind].example)
    for compiled in (validated.model_dump(mode="json", by_alias=True, exclude_none=True),  # as the compiler writes
                     validated.model_dump(by_alias=True, exclude_defaults=True, mode="json")):
        light = config_model.trusted(compiled)
        assert light == config_model.model_validate(compiled) == validated
        assert light.model_dump(by_alias=True, mode="json") == validated.model_dump(by_alias=True, mode="json")


_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
_refs = st.builds(
    lambda **fields: MediaRef.model_validate({key: value for key, value in fields.items() if value is not None}),
    bucket=_text, key=_text, contentType=st.sampled_from(["image/jpeg", "video/mp4"]),
    size=st.integers(0, 2**40), etag=st.none() | _text, mediaType=st.sampled_from(["image", "video", "other"]),
    width=st.none() | st.integers(1, 10_000), durationMs=st.none() | st.integers(0, 10**8), filename=_text,
    metadata=st.none() | st.dictionaries(_text, _text, max_size=3), sourceKey=st.none() | _text,
    related=st.none() | st.lists(st.dictionaries(_text, _text | st.integers(), max_size=2), max_size=2))


@given(_refs)
@settings(max_examples=60, deadline=None)
def test_a_reference_taken_from_its_state_is_the_reference(ref: MediaRef) -> None:
    for data in (ref.to_state(), ref.model_dump(), ref.model_dump(by_alias=True, mode="json")):
        _same(MediaRef.trusted(data), MediaRef.model_validate(data))
        assert MediaRef.trusted(data) == ref


@given(_refs, _text, st.integers(0, 50))
@settings(max_examples=40, deadline=None)
def test_a_copy_with_changes_is_pydantics_copy(ref: MediaRef, key: str, size: int) -> None:
    update = {"key": key, "size": size}
    copied = ref.model_copy(update=update)
    expected = ref.as_pydantic().model_copy(update=update)
    assert copied.model_dump() == expected.model_dump()
    assert copied.model_fields_set == expected.model_fields_set
    assert ref.model_copy(deep=True) == ref


@given(_refs)
@settings(max_examples=30, deadline=None)
def test_a_task_taken_from_the_wire_is_the_validated_task(ref: MediaRef) -> None:
    wire = {"runtime": "vips", "run": {"runId": "r-1", "tenant": "local", "startedAt": "2026-12-05T00:00:00Z"},
            "media": ref.to_state(), "ops": [{"nodeId": "resize", "kind": "resize", "config": {"width": 640}}],
            "branches": [[{"nodeId": "a", "kind": "convert"}]], "item": 3}
    light, validated = TaskPayload.trusted(wire), TaskPayload.model_validate(wire)
    _same(light, validated)
    assert type(light.media) is MediaRef and type(light.ops[0]) is Op and type(light.branches[0][0]) is Op


def test_what_the_light_path_cannot_place_is_validated() -> None:
    event_run = {"runtime": "light", "run": {"runId": "r-2"}, "media": None,
                 "ops": [{"nodeId": "hook", "kind": "webhook", "config": {}}]}
    assert TaskPayload.trusted(event_run).media == TaskPayload.model_validate(event_run).media  # made by a validator
    with pytest.raises(Exception, match="bucket"):
        MediaRef.trusted({"key": "a"})  # a required field missing: validated, and refused
    assert MediaRef.trusted({"bucket": "b", "key": "k"}).model_dump(by_alias=True) == MediaRef(
        bucket="b", key="k").model_dump(by_alias=True)


def test_settings_dump_paths_as_pydantic_does(tmp_path: Path) -> None:
    made = Settings(data_dir=tmp_path)
    assert made.model_dump(mode="json") == made.as_pydantic().model_dump(mode="json")
    assert made.model_dump()["data_dir"] == tmp_path


def test_assignment_follows_pydantic() -> None:
    ref = MediaRef(bucket="b", key="k")
    ref.filename = "a.jpg"
    assert ref.filename == "a.jpg" and "filename" in ref.model_fields_set
    with pytest.raises(ValueError, match="no field"):
        ref.not_a_field = 1  # type: ignore[attr-defined]
    config = catalog()["resize"].config_model.model_validate({"width": 10})
    with pytest.raises(Exception, match="frozen"):
        config.width = 20  # type: ignore[misc]


def test_trusted_data_and_dumps_import_no_pydantic() -> None:
    """What a worker does with a compiled Task: take it, copy its reference, dump the result."""
    script = """
import json, sys
from mediaflow.execution.contract import TaskPayload
from mediaflow.nodes import resize, convert
task = TaskPayload.trusted(json.loads(sys.argv[1]))
config = resize.Config.trusted(task.ops[0].config)
media = task.media.model_copy(update={"key": "out/a.webp", "size": 10})
state = media.to_state()
print(json.dumps({"pydantic": "pydantic" in sys.modules, "width": config.width, "state": state,
                  "repr": repr(task.run)}))
"""
    wire = {"runtime": "vips", "run": {"runId": "r-1"}, "media": {"bucket": "local", "key": "in/a.jpg"},
            "ops": [{"nodeId": "resize", "kind": "resize", "config": {"width": 640}}]}
    done = subprocess.run([sys.executable, "-c", script, json.dumps(wire)], capture_output=True, text=True,
                          check=True)
    seen = json.loads(done.stdout)
    assert seen["pydantic"] is False
    assert seen["width"] == 640
    assert seen["state"] == {"bucket": "local", "key": "out/a.webp", "contentType": "application/octet-stream",
                             "size": 10, "mediaType": "other", "filename": "", "metadata": {}, "related": []}
    assert seen["repr"] == repr(RunContext(run_id="r-1"))
