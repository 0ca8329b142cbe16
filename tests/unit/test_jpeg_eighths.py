"""The JPEG scale choice: the smallest of libjpeg-turbo's M/8 decodes that still covers the target."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from mediaflow.workers.jpeg_scaled import covering_eighths


def _decoded(side: int, eighths: int) -> int:
    return -(-side * eighths // 8)  # libjpeg rounds each scaled side up


@given(st.integers(1, 20_000), st.integers(1, 20_000), st.data())
def test_the_chosen_eighth_covers_the_target_and_the_next_smaller_does_not(width: int, height: int,
                                                                           data: st.DataObject) -> None:
    target = (data.draw(st.integers(1, width)), data.draw(st.integers(1, height)))
    eighths = covering_eighths((width, height), target)
    if eighths is None:  # only a full decode covers it
        assert _decoded(width, 7) < target[0] or _decoded(height, 7) < target[1]
        return
    assert 1 <= eighths <= 7
    assert _decoded(width, eighths) >= target[0] and _decoded(height, eighths) >= target[1]
    if eighths > 1:
        assert _decoded(width, eighths - 1) < target[0] or _decoded(height, eighths - 1) < target[1]


def test_a_camera_photo_to_web_size_decodes_at_three_eighths() -> None:
    assert covering_eighths((6000, 4000), (1600, 1067)) == 3
    assert covering_eighths((6000, 4000), (6000, 4000)) is None
