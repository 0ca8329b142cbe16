"""A Task opens an image with its sniffed format's libvips loader (``workers/vips_loaders.py``) instead of
libvips' search: only where the search would pick that same loader, so nothing but the search is skipped."""

from __future__ import annotations

from pathlib import Path

import pytest

pyvips = pytest.importorskip("pyvips")


@pytest.mark.parametrize("suffix", [".png", ".webp", ".gif", ".tif", ".jpg"])
def test_a_named_loader_is_the_one_libvips_would_find(tmp_path: Path, suffix: str) -> None:
    from mediaflow.sniff import sniff_file
    from mediaflow.workers import vips_loaders

    path = tmp_path / f"picture{suffix}"
    pyvips.Image.black(24, 16, bands=3).linear([1, 1, 1], [40, 90, 160]).cast("uchar").write_to_file(str(path))
    fmt = sniff_file(path).format
    searched = pyvips.Image.new_from_file(str(path))
    image = vips_loaders.load(path, fmt, access="sequential", fail_on="error")
    assert image.get("vips-loader") == searched.get("vips-loader")
    assert (image.width, image.height, image.bands) == (searched.width, searched.height, searched.bands) != (0, 0, 0)
    assert image.avg() == searched.avg()
    if fmt in vips_loaders.LOADERS:
        assert vips_loaders.LOADERS[fmt] == searched.get("vips-loader")


def test_a_file_that_is_not_its_sniffed_format_fails_in_the_named_loader(tmp_path: Path) -> None:
    from mediaflow.workers import vips_loaders

    path = tmp_path / "broken.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)  # a PNG signature and nothing of a PNG after it
    with pytest.raises(pyvips.Error):
        vips_loaders.load(path, "png", access="sequential", fail_on="error").avg()
