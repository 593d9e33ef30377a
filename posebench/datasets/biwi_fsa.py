"""FSA-Net's BIWI test set (the "MTCNN subset" of protocol 1) and its face crop.

FSA-Net (Yang et al., CVPR 2019) and the papers that copy its BIWI numbers test on the frames
its preprocessing keeps: 13,219 of BIWI's 15,678 (HeadPose+ README). The rules, read from the
authors' script (shamangary/FSA-Net, ``data/TYY_create_db_biwi.py``), reproduced here exactly:

1. Recordings ``01`` ... ``24`` in order, frames in sorted file order; each frame is run through
   MTCNN (the ``mtcnn`` PyPI package, ipazc/mtcnn 0.0.x: ``min_face_size=20``, thresholds
   0.6/0.7/0.7, factor 0.709). That package reports ``box = [int(x1), int(y1), int(x2 - x1),
   int(y2 - y1)]`` (whole pixels, truncated): :func:`mtcnn_box`.
2. Detections with ``confidence > 0.90`` are candidates; each gets the crop ``xw1 = max(int(x1 -
   0.4 w), 0)``, ``yw1 = max(int(y1 - 0.4 h), 0)``, ``xw2 = min(int(x2 + 0.4 w), W - 1)``,
   ``yw2 = min(int(y2 + 0.4 h), H - 1)``, the crop being ``img[yw1:yw2 + 1, xw1:xw2 + 1]``
   (:func:`fsa_crop`; as a posebench box ``(xw1, yw1, xw2 + 1, yw2 + 1)``). The candidate whose
   crop corner is nearest ``(2W/3, 2H/3)`` in L1 distance (``|xw1 - 2W/3| + |yw1 - 2H/3|``) wins.
3. A frame with no detection at all is dropped. A frame whose detections are all at or below
   0.90 keeps the script's previous crop variables: the last winning crop (of any earlier
   frame, even of an earlier recording, even one that was then dropped); with none yet, the
   authors' script would fail, posebench drops the frame.
4. Tracking filter: the frame is kept when ``|xw1 - xw1_pre| < 80`` or it is the recording's
   first frame; ``xw1_pre`` is the ``xw1`` of the last *kept* frame, reset to 0 at each
   recording's first frame.

posebench gives the winning detection (whole pixels) as the protocol's face box, which every
method grows by its own crop rule (its honest best); FSA-Net's crop, the image the papers fed
their networks, is each sample's ``meta["fsa_crop"]`` (it follows from the box and image size).

Labels are the script's: ``R = R_b.T``, yaw and roll negated from its ZYX angles, the same
rotation as :func:`posebench.datasets.biwi.biwi_to_canonical` (``F R_b F``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from posebench.crop import Box
from posebench.datasets.base import Sample
from posebench.errors import SampleFailure, UsageError

#: Confidence a detection must exceed (FSA-Net: ``d['confidence'] > 0.90``).
FSA_SCORE = 0.90
#: Crop margin on each side, as a fraction of the detected box's width / height (``--ad 0.4``).
FSA_MARGIN = 0.4
#: Largest allowed jump of the crop's left edge from the last kept frame's, pixels (``< 80``).
FSA_JUMP = 80
#: Version of these rules inside the protocol name.
VERSION = "v1"


def mtcnn_box(box: Box) -> tuple[int, int, int, int]:
    """``(x, y, w, h)`` in whole pixels as ipazc/mtcnn 0.0.x reports a float box ``(x1, y1, x2,
    y2)``: ``int(x1), int(y1), int(x2 - x1), int(y2 - y1)`` (truncation toward zero)."""
    x1, y1, x2, y2 = (float(v) for v in box)
    return int(x1), int(y1), int(x2 - x1), int(y2 - y1)


def fsa_crop(box: Box, image_size: tuple[int, int], margin: float = FSA_MARGIN) -> Box:
    """FSA-Net's crop of a detected box ``(x1, y1, x2, y2)`` (pixels) in an image of ``(W, H)``:
    the rule of the module doc, step 2; returns ``(xw1, yw1, xw2 + 1, yw2 + 1)`` (pixels, the
    half-open box of the authors' slice)."""
    W, H = (int(v) for v in image_size)
    x1, y1, w, h = mtcnn_box(box)
    x2, y2 = x1 + w, y1 + h
    xw1, yw1 = max(int(x1 - margin * w), 0), max(int(y1 - margin * h), 0)
    xw2, yw2 = min(int(x2 + margin * w), W - 1), min(int(y2 + margin * h), H - 1)
    return float(xw1), float(yw1), float(xw2 + 1), float(yw2 + 1)


def fsa_select(recordings: Sequence[Sequence[tuple[tuple[int, int], list[tuple[Box, float]]]]]
               ) -> list[list[tuple[Box, Box] | None]]:
    """FSA-Net's kept frames (module doc, steps 2-4).

    ``recordings``: per recording in order, per frame in order, ``((W, H), detections)`` with
    detections ``[(box (x1, y1, x2, y2) pixels, confidence in [0, 1])]``. Returns the same
    nesting with, per kept frame, ``(face box, crop)``: the winning detection in whole pixels as
    the authors' MTCNN reported it (``(x, y, x + w, y + h)``, :func:`mtcnn_box`) and its
    :func:`fsa_crop`; None where the frame is dropped.
    """
    out: list[list[tuple[Box, Box] | None]] = []
    last: tuple[Box, Box] | None = None  # the script's xw1.. variables: the last winning crop
    for frames in recordings:
        kept: list[tuple[Box, Box] | None] = []
        pre_x = 0.0
        for j, (size, dets) in enumerate(frames):
            if not dets:
                kept.append(None)
                continue
            W, H = size
            found = [(_whole(b), fsa_crop(b, size)) for b, s in dets if float(s) > FSA_SCORE]
            if found:
                last = min(found, key=lambda bc: abs(bc[1][0] - W * 2 / 3) + abs(bc[1][1] - H * 2 / 3))
            if last is None or not (abs(last[1][0] - pre_x) < FSA_JUMP or j == 0):
                kept.append(None)
                continue
            pre_x = last[1][0]
            kept.append(last)
        out.append(kept)
    return out


def _whole(box: Box) -> Box:
    x, y, w, h = mtcnn_box(box)
    return float(x), float(y), float(x + w), float(y + h)


def fsa_subset(samples: Sequence[Sample], detector: str = "mtcnn") -> list[Sample]:
    """The samples FSA-Net keeps, each with the winning MTCNN box (whole pixels) as the protocol
    box (:attr:`Sample.box`, grown by each method's own crop rule) and FSA-Net's crop (the
    authors' test images) in ``meta["fsa_crop"]`` (pixels, half-open): every image run through the registered face detector ``detector``
    (FSA-Net used MTCNN; its scores must be probabilities for the 0.90 threshold to mean the
    same), then :func:`fsa_select` per recording (``meta["subject"]``, in sorted order, frames in
    the given order). A sample without a readable image has no detection (dropped).
    :class:`UsageError` for an unknown detector name."""
    from tqdm.auto import tqdm

    from posebench.detect import make_detector
    from posebench.imageio import read_image

    try:
        det = make_detector(detector)
    except UsageError as exc:
        raise UsageError(f"BIWI protocol=fsa-mtcnn runs a face detector (detector=NAME, FSA-Net used MTCNN): {exc}") from None
    by_rec: dict[str, list[int]] = {}
    for i, s in enumerate(samples):
        by_rec.setdefault(str(s.meta.get("subject", "")), []).append(i)
    order = [by_rec[k] for k in sorted(by_rec)]
    found: dict[int, tuple[tuple[int, int], list[tuple[Box, float]]]] = {}
    with tqdm(total=len(samples), desc=f"BIWI fsa-{detector}: detecting", unit="frame", leave=False) as bar:
        for idx in order:
            for i in idx:
                s = samples[i]
                dets: list[tuple[Box, float]] = []
                if s.image_path is not None:
                    try:
                        image = read_image(s.image_path)
                        dets = list(det.detect(image))
                    except SampleFailure:
                        dets = []
                found[i] = ((int(s.image_size[0]), int(s.image_size[1])), dets)
                bar.update(1)
    chosen = fsa_select([[found[i] for i in idx] for idx in order])
    keep = {i: c for idx, cs in zip(order, chosen) for i, c in zip(idx, cs) if c is not None}
    return [dataclasses.replace(s, box=keep[i][0], meta={**s.meta, "fsa_crop": list(keep[i][1])})
            for i, s in enumerate(samples) if i in keep]
