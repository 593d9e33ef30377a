"""Named subsets of the 68-point iBUG 300-W markup, and the one parser of landmark selections.

Indices are 0-based (0-16 jaw, 17-26 brows, 27-35 nose, 36-47 eyes, 48-67 mouth; image-left
before image-right). Used by the landmark methods (``gt-landmarks``, ``fan``, ``points=``
option) and by the studies (``subsets=`` option), so that a name means the same points
everywhere.

**Which 12 points are "FAN (12 points)".** The paper (Ruiz et al. 2018, Table 1 and Figures 3-4)
reports FAN with 12 points and a 12-point curve in Figure 3 but does not list the points.
posebench uses one set for both, :data:`SUBSETS` ``["12"]``: the four eye corners (36, 39, 42,
45), the nose tip and base (30, 31, 33, 35), the mouth corners (48, 54) and the lip centres
(51, 57). Reasons: (1) the FAN row and the figure's 12-point curve then measure the same
points; (2) it holds no jaw point — FAN (like any 2D detector) places jaw points on the visible
outline, which moves against a 3D mean face as the head turns — and no brow point (brows move
with expression); (3) it is left-right symmetric. An earlier release used a different set for
``fan`` (with the chin 8 and the nose bridge 27, both less stable); no committed result used it.
"""

from __future__ import annotations

import numpy as np

from posebench.errors import UsageError

N_POINTS = 68

#: Named keypoint subsets (0-based indices into the 68-point markup).
SUBSETS: dict[str, tuple[int, ...]] = {
    # outer eye corners, nose tip, mouth corners
    "5": (36, 45, 30, 48, 54),
    # the classic 6-point head-pose set: nose tip, chin, outer eye corners, mouth corners
    "6": (30, 8, 36, 45, 48, 54),
    # the paper's "FAN (12 points)" and Figure 3's 12 (see the module docstring): four eye corners,
    # nose tip and base (3), mouth corners, lip centres
    "12": (36, 39, 42, 45, 30, 31, 33, 35, 48, 54, 51, 57),
    # the AFLW 21-point scheme mapped to the 68-point markup: brows (6), eye corners (4) with the
    # upper-lid points 38/43 standing in for AFLW's eye centres, jaw ends 0/16 for the ears,
    # nose left/tip/right, mouth corners and centre (62), chin
    "21": (17, 19, 21, 22, 24, 26, 36, 38, 39, 42, 43, 45, 0, 16, 31, 30, 35, 48, 62, 54, 8),
    "68": tuple(range(N_POINTS)),
}

#: The 12 points that stand for the paper's "FAN (12 points)".
FAN_12_POINTS: tuple[int, ...] = SUBSETS["12"]


def parse_points(spec: str | None) -> np.ndarray | None:
    """A landmark selection -> 0-based indices, or None for all 68 in order.

    ``spec``: ``all``/``68``/empty (all), a subset name of :data:`SUBSETS` (``5``, ``6``, ``12``,
    ``21``), or comma-separated indices (at least 4 distinct, each in 0..67). Raises
    :class:`UsageError` (one line) otherwise."""
    text = "" if spec is None else str(spec).strip()
    if text in ("", "all", "68"):
        return None
    if text in SUBSETS:
        return np.array(SUBSETS[text], dtype=int)
    try:
        idx = np.array([int(v) for v in text.split(",")], dtype=int)
    except ValueError:
        raise UsageError(f"points must be a subset name ({', '.join(SUBSETS)}) or comma-separated indices "
                         f"0..67, got {spec!r}") from None
    if idx.size < 4 or idx.min() < 0 or idx.max() >= N_POINTS or len(set(idx.tolist())) != idx.size:
        raise UsageError("points must be at least 4 distinct indices in 0..67")
    return idx


def parse_subsets(value: str) -> list[str]:
    """``"6,12,68"`` -> subset names, each checked against :data:`SUBSETS`."""
    names = [v.strip() for v in str(value).split(",") if v.strip()]
    if not names:
        raise UsageError("subsets: empty list")
    bad = [n for n in names if n not in SUBSETS]
    if bad:
        raise UsageError(f"unknown keypoint subset(s) {bad}; available: {', '.join(SUBSETS)}")
    return names
