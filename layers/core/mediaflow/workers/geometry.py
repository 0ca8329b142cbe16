"""Sizes the image ops share: how a box fits an image (``resize``, ``thumbnail`` and the decode ahead)."""

from __future__ import annotations


def fit_scale(target_w: int | None, target_h: int | None, width: int, height: int, *, cover: bool,
              enlarge: bool) -> tuple[int, int]:
    """Size of ``width`` x ``height`` scaled uniformly to fit inside (or cover) the target box."""
    scales = [(target_w / width, "w")] if target_w else []
    if target_h:
        scales.append((target_h / height, "h"))
    scale, limit = max(scales) if cover else min(scales)
    if not enlarge and scale >= 1.0:
        return width, height
    if limit == "w" and target_w:
        out_w, out_h = target_w, round(height * scale)
        if cover and target_h:
            out_h = max(out_h, target_h)
    else:
        out_w, out_h = round(width * scale), target_h or round(height * scale)
        if cover and target_w:
            out_w = max(out_w, target_w)
    return max(1, out_w), max(1, out_h)
