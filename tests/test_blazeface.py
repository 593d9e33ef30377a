"""posebench.blazeface without LiteRT: the vectorised decoding and weighted NMS give, bit for bit,
what the one-anchor / one-pair-at-a-time form of MediaPipe's ``TensorsToDetectionsCalculator`` and
``NonMaxSuppressionCalculator`` (the form this port first had, written out below) gives, on raw
outputs with clusters of overlapping boxes, ties and no face at all."""

from __future__ import annotations

import numpy as np
import pytest

from posebench.blazeface import Detection, anchors, decode, weighted_nms

f = np.float32


def decode_each(raw_boxes, raw_scores, min_score=0.5):
    raw = np.asarray(raw_boxes, f).reshape(-1, 16)
    logits = np.clip(np.asarray(raw_scores, f).reshape(-1), f(-100), f(100))
    with np.errstate(over="ignore"):
        scores = (f(1) / (f(1) + np.exp(-logits))).astype(f)
    anc, out = anchors(), []
    for i in np.flatnonzero(scores >= f(min_score)):
        cx, cy = raw[i, 0] / f(128) + anc[i, 0], raw[i, 1] / f(128) + anc[i, 1]
        w, h = raw[i, 2] / f(128), raw[i, 3] / f(128)
        x0, y0, x1, y1 = cx - w / f(2), cy - h / f(2), cx + w / f(2), cy + h / f(2)
        kp = np.stack([raw[i, 4::2] / f(128) + anc[i, 0], raw[i, 5::2] / f(128) + anc[i, 1]], axis=1)
        out.append(Detection(np.array([x0, y0, x1 - x0, y1 - y0], f), kp.astype(f), float(scores[i])))
    return out


def iou_pair(a, b):
    ix = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    iy = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    if ix <= 0 or iy <= 0:
        return 0.0
    inter = f(ix) * f(iy)
    return float(inter / (f(a[2] * a[3]) + f(b[2] * b[3]) - inter))


def nms_each(dets, iou=0.3):
    remaining, out = sorted(dets, key=lambda d: -d.score), []
    while remaining:
        top = remaining[0]
        merged = [d for d in remaining if iou_pair(d.box, top.box) > iou]
        rest = [d for d in remaining if not iou_pair(d.box, top.box) > iou]
        wts = np.array([d.score for d in merged], f)
        total = f(wts.sum(dtype=f))
        corners = np.array([[d.box[0], d.box[1], d.box[0] + d.box[2], d.box[1] + d.box[3]] for d in merged], f)
        c = (corners * wts[:, None]).sum(axis=0, dtype=f) / total
        kp = (np.stack([d.keypoints for d in merged]) * wts[:, None, None]).sum(axis=0, dtype=f) / total
        out.append(Detection(np.array([c[0], c[1], c[2] - c[0], c[3] - c[1]], f), kp.astype(f), top.score))
        if len(rest) == len(remaining):
            break
        remaining = rest
    return out


def _raw(seed: int, faces: int):
    rng = np.random.default_rng(seed)
    raw = rng.normal(0, 3, (896, 16)).astype(f)
    raw[:, 2:4] = np.abs(rng.normal(20, 5, (896, 2)))
    logits = rng.normal(-8, 2, 896).astype(f)
    for _ in range(faces):  # a face: a few neighbouring anchors fire, boxes alike
        k = int(rng.integers(0, 880))
        logits[k:k + int(rng.integers(1, 8))] = rng.normal(3, 2, 1).astype(f) + rng.normal(0, 0.5, 1).astype(f)
    if seed % 7 == 0:
        logits[100:110] = 4.0  # equal scores: the stable order decides
    if seed % 5 == 0:
        logits[:] = -200.0  # clipped to -100: no face
    return raw, logits


def _same(a: list[Detection], b: list[Detection]) -> bool:
    return len(a) == len(b) and all(np.array_equal(x.box, y.box) and np.array_equal(x.keypoints, y.keypoints)
                                    and x.score == y.score and x.box.dtype == y.box.dtype for x, y in zip(a, b))


@pytest.mark.parametrize("seed", range(30))
def test_decode_and_nms_are_the_one_at_a_time_form(seed):
    raw, logits = _raw(seed, faces=1 + seed % 4)
    ours, theirs = decode(raw, logits), decode_each(raw, logits)
    assert _same(ours, theirs)
    assert _same(weighted_nms(ours), nms_each(theirs))
    assert (seed % 5 == 0) == (not ours)
