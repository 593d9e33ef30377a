"""Box calibrations: a detector's box mapped to the box geometry a consumer expects.

A landmark predictor is trained on the boxes of one detector (dlib's 68-point predictor on dlib's
HOG boxes); fed another detector's box it lands its points elsewhere (issue 24: dlib with raw
YuNet boxes, MAE 8.73 deg against 3.24 with HOG). face-alignment carries the same idea as a
detector's reference scale. Here each (detector, consumer) pair has four numbers fitted on data
by ``scripts/fit_box_calibration.py`` and stored with their provenance in
``posebench/data/box_calibrations.json`` (:data:`CALIBRATION_FILE`; a method that applies them
declares the file, so its bytes are in the cache key):

    box (x0, y0, x1, y1), centre (cx, cy), size (w, h)  ->  centre (cx + dx w, cy + dy h), size (sw w, sh h)

All in image pixels.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from posebench.crop import Box
from posebench.errors import DataError

CALIBRATION_FILE = Path(__file__).resolve().parent / "data" / "box_calibrations.json"
KEYS = ("dx", "dy", "sw", "sh")


@lru_cache(maxsize=4)
def _load(path: str) -> dict[str, dict[str, dict[str, float]]]:
    try:
        data = json.loads(Path(path).read_text())
        cals = data["calibrations"]
        for det, targets in cals.items():
            for target, entry in targets.items():
                if not all(isinstance(entry.get(k), (int, float)) for k in KEYS) or entry["sw"] <= 0 or entry["sh"] <= 0:
                    raise ValueError(f"{det} -> {target} needs numbers {', '.join(KEYS)} (sw, sh > 0)")
        return cals
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DataError(f"bad box calibration file {path}: {exc}") from None


def calibration(detector: str, consumer: str, path: Path = CALIBRATION_FILE) -> dict[str, float] | None:
    """The calibration of ``detector``'s boxes to ``consumer``'s geometry (``{"dx", "dy", "sw",
    "sh", ...provenance}``), or None when none is stored (the box is then used as it is)."""
    return _load(str(path)).get(detector, {}).get(consumer)


def calibrate(box: Box, cal: dict[str, float] | None) -> Box:
    """``box`` mapped by ``cal`` (see the module doc); ``box`` itself when ``cal`` is None."""
    if cal is None:
        return box
    x0, y0, x1, y1 = (float(v) for v in box)
    w, h = x1 - x0, y1 - y0
    cx, cy = (x0 + x1) / 2 + cal["dx"] * w, (y0 + y1) / 2 + cal["dy"] * h
    w2, h2 = cal["sw"] * w / 2, cal["sh"] * h / 2
    return (cx - w2, cy - h2, cx + w2, cy + h2)
