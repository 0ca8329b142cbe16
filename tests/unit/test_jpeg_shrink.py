"""The JPEG scale choice: the largest DCT shrink (8, 4 or 2) whose decode still covers the target."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from mediaflow.workers.turbojpeg import covering_shrink


def _decoded(side: int, shrink: int) -> int:
    return side // shrink  # libvips' loader keeps the whole pixels of libjpeg's scaled decode


@given(st.integers(1, 20_000), st.integers(1, 20_000), st.data())
def test_the_chosen_shrink_covers_the_target_and_the_next_larger_does_not(width: int, height: int,
                                                                          data: st.DataObject) -> None:
    target = (data.draw(st.integers(1, width)), data.draw(st.integers(1, height)))
    shrink = covering_shrink((width, height), target)
    assert shrink in (1, 2, 4, 8)
    assert _decoded(width, shrink) >= target[0] and _decoded(height, shrink) >= target[1]
    if shrink < 8:
        assert _decoded(width, shrink * 2) < target[0] or _decoded(height, shrink * 2) < target[1]


def test_a_camera_photo_to_web_size_decodes_at_half_size() -> None:
    assert covering_shrink((6000, 4000), (1600, 1067)) == 2  # 3000 x 2000, then a 1.875x reduce
    assert covering_shrink((6000, 4000), (750, 500)) == 8
    assert covering_shrink((1200, 800), (600, 400)) == 2  # an exact factor: the decode is the output size
    assert covering_shrink((1201, 801), (600, 400)) == 2
    assert covering_shrink((1201, 801), (601, 401)) == 1  # libvips' 1/2 decode is 600 x 400
    assert covering_shrink((6000, 4000), (3001, 2000)) == 1
