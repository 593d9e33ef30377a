"""Face boxes (:mod:`posebench.crop`): a broken box (empty, NaN, infinite, huge, off the image, the
wrong length) is a :class:`SampleFailure` from the check and from the crop, never a giant
allocation. ``BAD_BOXES`` is also the table the image methods are run on (methods/test_methods_images.py)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from posebench.crop import check_box, crop_box
from posebench.errors import SampleFailure

BAD_BOXES = {
    "empty": (100, 100, 50, 150), "zero-width": (100, 100, 100.5, 200), "nan": (np.nan, 10, 100, 100),
    "inf": (0, 0, np.inf, 100), "huge-1e8": (-1e8, -1e8, 1e8, 1e8), "all-minus-1": (-1, -1, -1, -1),
    "off-image": (500, 500, 600, 600), "three-values": (1, 2, 3),
}


@pytest.mark.parametrize("name", list(BAD_BOXES))
def test_box_check_and_crop_refuse_a_broken_box(name):
    img = np.zeros((120, 160, 3), np.uint8)
    with pytest.raises(SampleFailure):
        check_box(BAD_BOXES[name], (160, 120))
    t0 = time.perf_counter()
    with pytest.raises(SampleFailure):  # never a giant allocation
        crop_box(img, BAD_BOXES[name] if len(BAD_BOXES[name]) == 4 else (0, 0, 0, 0))
    assert time.perf_counter() - t0 < 1.0
