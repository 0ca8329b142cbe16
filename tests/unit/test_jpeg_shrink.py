"""The JPEG scale choice: libvips' largest DCT shrink (8, 4 or 2) and libjpeg-turbo's smallest covering eighth."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from mediaflow.workers.turbojpeg import EIGHTHS, covering_eighths, covering_shrink, scaled_size


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


def test_libvips_decodes_a_camera_photo_bound_for_web_size_at_half_size() -> None:
    assert covering_shrink((6000, 4000), (1600, 1067)) == 2  # 3000 x 2000, then a 1.875x reduce
    assert covering_shrink((6000, 4000), (750, 500)) == 8
    assert covering_shrink((1200, 800), (600, 400)) == 2  # an exact factor: the decode is the output size
    assert covering_shrink((1201, 801), (600, 400)) == 2
    assert covering_shrink((1201, 801), (601, 401)) == 1  # libvips' 1/2 decode is 600 x 400
    assert covering_shrink((6000, 4000), (3001, 2000)) == 1


@given(st.integers(1, 20_000), st.integers(1, 20_000), st.data())
def test_libjpeg_turbo_decodes_at_the_smallest_eighth_that_covers_the_target(width: int, height: int,
                                                                             data: st.DataObject) -> None:
    """libjpeg-turbo's own scales (1/8, 1/4, 3/8, 1/2, as eighths): the chosen one covers the target with whole
    pixels and no smaller one does; at the scales libvips offers it is libvips' shrink."""
    target = (data.draw(st.integers(1, width)), data.draw(st.integers(1, height)))
    eighths = covering_eighths((width, height), target)
    assert eighths in (*EIGHTHS, 8)
    assert width * eighths // 8 >= target[0] and height * eighths // 8 >= target[1]
    for smaller in (m for m in EIGHTHS if m < eighths):
        assert width * smaller // 8 < target[0] or height * smaller // 8 < target[1]
    if eighths != 3:
        assert covering_shrink((width, height), target) == 8 // eighths
    scaled = scaled_size((width, height), eighths)
    assert scaled[0] - 1 < width * eighths / 8 <= scaled[0] and scaled[1] - 1 < height * eighths / 8 <= scaled[1]


def test_a_camera_photo_to_web_size_decodes_at_three_eighths() -> None:
    assert covering_eighths((6000, 4000), (1600, 1067)) == 3  # 2250 x 1500, then a 1.41x reduce
    assert scaled_size((6000, 4000), 3) == (2250, 1500)
    assert covering_eighths((6000, 4000), (2251, 1500)) == 4
    assert covering_eighths((6000, 4000), (750, 500)) == 1
    assert covering_eighths((6000, 4000), (3001, 2000)) == 8
