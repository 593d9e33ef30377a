"""The numbers results/fragility.md quotes are the numbers of the committed study tables
(results/tables/box-jitter-aflw2000.csv, detectors-aflw2000.csv), made by the commands at the top
of that file (and by scripts/remake_results.sh).

Each claim is a sentence of the document written as a template: ``{F.s20.mae:.2f}`` is the
``mae`` of method F (see ``METHODS``) at condition ``s20`` (``c0``: unperturbed; ``s``/``g``/``k``
+ percent: shifted / grown / shrunk by that fraction of the box), ``{F.st_shift.slope:.2f}`` a
stability row, ``{P.F_T_s20.delta:+.2f}`` a pair row (A = F, B = T), ``{Dt.yunet.mae_found:.2f}`` a
detector row. The filled text must appear in the document (whitespace collapsed). A re-made
table that moves a quoted number, or an edit that changes one, fails here."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
TABLES = REPO / "results" / "tables"
DOC = REPO / "results" / "fragility.md"
METHODS = {"D": "dlib", "F": "onnx-headpose", "W": "whenet", "T": "3ddfa-v2", "M": "mediapipe", "L": "gt-landmarks"}
SHORT = {"shift": "s", "grow": "g", "shrink": "k"}

CLAIMS = [
    # box-jitter: the unperturbed errors and their n
    "unperturbed MAE FSA-Net {F.c0.mae:.2f}°, WHENet {W.c0.mae:.2f}°, 3DDFA_V2 {T.c0.mae:.2f}° "
    "(each on all {F.c0.n:.0f} faces)",
    "| shift 0.1 | {F.s10.mae:.2f} | {W.s10.mae:.2f} | {T.s10.mae:.2f} | {M.s10.mae:.2f} ({M.s10.n_evaluated:.0f}) "
    "| {D.s10.mae:.2f} ({D.s10.n_evaluated:.0f}) | {L.s10.mae:.2f} |",
    "| shift 0.2 | {F.s20.mae:.2f} | {W.s20.mae:.2f} | {T.s20.mae:.2f} | {M.s20.mae:.2f} ({M.s20.n_evaluated:.0f}) "
    "| {D.s20.mae:.2f} ({D.s20.n_evaluated:.0f}) | {L.s20.mae:.2f} |",
    "| shift 0.3 | {F.s30.mae:.2f} | {W.s30.mae:.2f} | {T.s30.mae:.2f} | {M.s30.mae:.2f} ({M.s30.n_evaluated:.0f}) "
    "| {D.s30.mae:.2f} ({D.s30.n_evaluated:.0f}) | {L.s30.mae:.2f} |",
    "| shift 0.4 | {F.s40.mae:.2f} | {W.s40.mae:.2f} | {T.s40.mae:.2f} | {M.s40.mae:.2f} ({M.s40.n_evaluated:.0f}) "
    "| {D.s40.mae:.2f} ({D.s40.n_evaluated:.0f}) | {L.s40.mae:.2f} |",
    "| unperturbed | {F.c0.mae:.2f} | {W.c0.mae:.2f} | {T.c0.mae:.2f} | {M.c0.mae:.2f} ({M.c0.n_evaluated:.0f}) "
    "| {D.c0.mae:.2f} ({D.c0.n_evaluated:.0f}) | {L.c0.mae:.2f} |",
    "| grow 0.3 | {F.g30.mae:.2f} | {W.g30.mae:.2f} | {T.g30.mae:.2f} | {M.g30.mae:.2f} ({M.g30.n_evaluated:.0f}) "
    "| {D.g30.mae:.2f} ({D.g30.n_evaluated:.0f}) | {L.g30.mae:.2f} |",
    "| shrink 0.3 | {F.k30.mae:.2f} | {W.k30.mae:.2f} | {T.k30.mae:.2f} | {M.k30.mae:.2f} ({M.k30.n_evaluated:.0f}) "
    "| {D.k30.mae:.2f} ({D.k30.n_evaluated:.0f}) | {L.k30.mae:.2f} |",
    "| slope (deg per 0.1 shift) | {F.st_shift.slope:.2f} | {W.st_shift.slope:.2f} | {T.st_shift.slope:.2f} "
    "| {M.st_shift.slope:.2f} | {D.st_shift.slope:.2f} | {L.st_shift.slope:.2f} |",
    "| MAE doubles at shift | {F.st_shift.double_at:.2f} | {W.st_shift.double_at:.2f} | {T.st_shift.double_at:.2f} "
    "| {M.st_shift.double_at:.2f} | not reached | not reached |",
    # the paired comparisons quoted
    "at a shift of 0.1 only 3DDFA_V2 moves measurably ({T.s10.delta:+.2f}° [{T.s10.delta_lo:+.2f}, "
    "{T.s10.delta_hi:+.2f}] against its unperturbed run; FSA-Net {F.s10.delta:+.2f}° [{F.s10.delta_lo:+.2f}, "
    "{F.s10.delta_hi:+.2f}], WHENet {W.s10.delta:+.2f}° [{W.s10.delta_lo:+.2f}, {W.s10.delta_hi:+.2f}])",
    "its error doubles at a shift of {T.st_shift.double_at:.2f} box sizes and reaches {T.s30.mae:.2f}° at 0.3",
    "Unperturbed, 3DDFA_V2 and FSA-Net are not told apart (FSA-Net minus 3DDFA_V2 {P.F_T_c0.delta:+.2f}° "
    "[{P.F_T_c0.delta_lo:+.2f}, {P.F_T_c0.delta_hi:+.2f}], n = {P.F_T_c0.n_common:.0f}); at a shift of 0.2 "
    "FSA-Net is better by {P.F_T_s20.delta:+.2f}° [{P.F_T_s20.delta_lo:+.2f}, {P.F_T_s20.delta_hi:+.2f}]",
    "dlib fails on {D.s40.n_failed:.0f} of {D.s40.n:.0f} faces at a shift of 0.4; MediaPipe on "
    "{M.c0.n_failed:.0f} of {M.c0.n:.0f} already unperturbed",
    # detectors
    "| gt (protocol box) | {Dt.gt.n_found:.0f} | {Dt.gt.n_failed:.0f} | {Dt.gt.mae_found:.2f} | {Dt.gt.mae_common:.2f} "
    "| {Dt.gt.mae_nopose:.2f} | |",
    "| dlib-hog | {Dt.dlib_hog.n_found:.0f} | {Dt.dlib_hog.n_failed:.0f} | {Dt.dlib_hog.mae_found:.2f} "
    "| {Dt.dlib_hog.mae_common:.2f} | {Dt.dlib_hog.mae_nopose:.2f} | {Dt.dlib_hog.delta:+.2f} "
    "[{Dt.dlib_hog.delta_lo:+.2f}, {Dt.dlib_hog.delta_hi:+.2f}] |",
    "| dlib-cnn | {Dt.dlib_cnn.n_found:.0f} | {Dt.dlib_cnn.n_failed:.0f} | {Dt.dlib_cnn.mae_found:.2f} "
    "| {Dt.dlib_cnn.mae_common:.2f} | {Dt.dlib_cnn.mae_nopose:.2f} | {Dt.dlib_cnn.delta:+.2f} "
    "[{Dt.dlib_cnn.delta_lo:+.2f}, {Dt.dlib_cnn.delta_hi:+.2f}] |",
    "| yunet | {Dt.yunet.n_found:.0f} | {Dt.yunet.n_failed:.0f} | {Dt.yunet.mae_found:.2f} "
    "| {Dt.yunet.mae_common:.2f} | {Dt.yunet.mae_nopose:.2f} | {Dt.yunet.delta:+.2f} "
    "[{Dt.yunet.delta_lo:+.2f}, {Dt.yunet.delta_hi:+.2f}] |",
    "| mediapipe | {Dt.mediapipe.n_found:.0f} | {Dt.mediapipe.n_failed:.0f} | {Dt.mediapipe.mae_found:.2f} "
    "| {Dt.mediapipe.mae_common:.2f} | {Dt.mediapipe.mae_nopose:.2f} | {Dt.mediapipe.delta:+.2f} "
    "[{Dt.mediapipe.delta_lo:+.2f}, {Dt.mediapipe.delta_hi:+.2f}] |",
    "the {Dt.gt.n_common:.0f} faces every detector found",
    "HOG detector misses {Dt.dlib_hog.n_failed:.0f} of the {Dt.dlib_hog.n:.0f} faces",
]


def condition_name(axis: str, level: float) -> str:
    return "c0" if axis == "none" else f"{SHORT[axis]}{round(100 * level):d}"


def _ns(row: pd.Series) -> SimpleNamespace:
    return SimpleNamespace(**row.to_dict())


@pytest.fixture(scope="module")
def values() -> dict[str, SimpleNamespace]:
    bj = pd.read_csv(TABLES / "box-jitter-aflw2000.csv")
    out: dict[str, SimpleNamespace] = {}
    for key, method in METHODS.items():
        rows = bj[bj["method"] == method]
        assert len(rows), f"no {method} rows in box-jitter-aflw2000.csv"
        attrs = {condition_name(r["axis"], r["level"]): _ns(r) for _, r in rows[rows["row"] == "condition"].iterrows()}
        attrs.update({f"st_{r['axis']}": _ns(r) for _, r in rows[rows["row"] == "stability"].iterrows()})
        out[key] = SimpleNamespace(**attrs)
    back = {m: k for k, m in METHODS.items()}
    pairs = bj[bj["row"] == "pair"]
    out["P"] = SimpleNamespace(**{f"{back[r['method']]}_{back[r['method_b']]}_{condition_name(r['axis'], r['level'])}": _ns(r)
                                  for _, r in pairs.iterrows()})
    det = pd.read_csv(TABLES / "detectors-aflw2000.csv")
    out["Dt"] = SimpleNamespace(**{r["detector"].replace("-", "_"): _ns(r) for _, r in det.iterrows()})
    return out


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


@pytest.mark.parametrize("template", CLAIMS, ids=[f"claim{i}" for i in range(len(CLAIMS))])
def test_quoted_number_is_the_committed_table(template, values):
    expected = _flat(template.format(**values))
    assert expected in _flat(DOC.read_text(encoding="utf-8")), f"results/fragility.md should say: {expected}"
