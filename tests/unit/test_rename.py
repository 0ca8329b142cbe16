"""Filename patterns of `rename` and metadata templates of `transform`."""

from __future__ import annotations

import pytest
from mediaflow.errors import NodeError
from mediaflow.execution.contract import OpContext, RunContext
from mediaflow.media import MediaRef
from mediaflow.nodes import rename, transform
from mediaflow.nodes.rename import MAX_FILENAME, render_filename, timestamp_token

pytestmark = pytest.mark.unit

RUN = RunContext(run_id="run-42", tenant="acme", started_at="2024-05-06T07:08:09.123Z")
CTX = OpContext(node_id="rename-1", run=RUN)


def _render(pattern: str, original: str = "photo", fmt: str = "webp", ext: str = "webp") -> str:
    return render_filename(pattern, original=original, fmt=fmt, ext=ext, node_id="n1", run_id="r1",
                           timestamp="20240506T070809Z")


def test_tokens() -> None:
    assert _render("{original}-{format}-{nodeId}-{runId}-{timestamp}") == \
        "photo-webp-n1-r1-20240506T070809Z.webp"
    assert _render("{original}.{ext}") == "photo.webp"


def test_extension_is_set_or_fixed() -> None:
    assert _render("{original}-web") == "photo-web.webp"
    assert _render("{original}.jpg") == "photo.webp"
    assert _render("{original}.WEBP") == "photo.webp"
    assert _render("v1.2 {original}") == "v1.2 photo.webp"


@pytest.mark.parametrize("pattern", ["../../etc/{original}", "a/b\\c", "..", ".hidden", "/abs/{original}",
                                     "x\x00y\x1fz\u202e", "{original}\n"])
def test_result_is_path_safe(pattern: str) -> None:
    name = _render(pattern)
    assert "/" not in name and "\\" not in name
    assert ".." not in name
    assert not name.startswith(".")
    assert all(ch.isprintable() for ch in name)
    assert name.endswith(".webp")


def test_long_names_keep_the_extension() -> None:
    name = _render("{original}" * 5, original="x" * 100)
    assert len(name) <= MAX_FILENAME
    assert name.endswith(".webp")


def test_empty_result_gets_a_stem() -> None:
    assert _render("///", original="") == "_.webp"
    assert _render("{original}", original="") == "file.webp"


def test_unknown_tokens_stay_literal() -> None:
    assert _render("{original}-{size}") == "photo-{size}.webp"


def test_timestamp_token_is_derived_from_the_run() -> None:
    assert timestamp_token("2024-05-06T07:08:09.123Z") == "20240506T070809Z"
    assert timestamp_token("2024-05-06T09:08:09+02:00") == "20240506T070809Z"
    assert timestamp_token("") == "00000000T000000Z"
    assert timestamp_token("garbage") == "00000000T000000Z"


def _media(**fields: object) -> MediaRef:
    base = {"bucket": "b", "key": "acme/uploads/Holiday Pic.JPG", "content_type": "image/jpeg",
            "filename": "Holiday Pic.JPG"}
    return MediaRef.model_validate({**base, **fields})


def test_apply_renames_media_ref() -> None:
    renamed = rename.apply(_media(), rename.Config(pattern="{original}-{timestamp}"), CTX)
    assert renamed.filename == "Holiday Pic-20240506T070809Z.jpg"
    assert renamed.key == "acme/uploads/Holiday Pic.JPG"
    again = rename.apply(_media(), rename.Config(pattern="{original}-{timestamp}"), CTX)
    assert again == renamed


def test_apply_without_filename_uses_the_key() -> None:
    renamed = rename.apply(_media(filename="", content_type="image/webp"), rename.Config(pattern="{original}"),
                           CTX)
    assert renamed.filename == "Holiday Pic.webp"


def test_transform_sets_and_removes_keys() -> None:
    media = _media(metadata={"keep": "1", "drop": "2"})
    config = transform.Config.model_validate({"set": {"source": "{original}.{ext}", "by": "{nodeId}@{runId}"},
                                              "remove": ["drop"]})
    out = transform.apply(media, config, CTX)
    assert out.metadata == {"keep": "1", "source": "Holiday Pic.jpg", "by": "rename-1@run-42"}
    assert media.metadata == {"keep": "1", "drop": "2"}


def test_transform_refuses_bad_keys() -> None:
    config = transform.Config.model_validate({"set": {"bad key/..": "x"}})
    with pytest.raises(NodeError) as caught:
        transform.apply(_media(), config, CTX)
    assert caught.value.node_id == "rename-1"
