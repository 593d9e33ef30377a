"""The numbers README.md and docs/ quote from runs are the numbers of the committed runs in
results/runs/ (made by the commands of results/README.md, re-made by scripts/remake_results.sh).

Each claim below is a sentence or table row of a document written as a template: ``{NAME.FIELD:FMT}``
is filled from the run NAME (``RUNS``: method label, dataset folder, protocol; exactly one
committed run must match) and the filled text must appear in the document (whitespace
collapsed). A re-made result that moves a quoted number, or an edit of the text that changes
one, fails here, naming the document and the expected text. No shared data needed: the run
records are committed."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
RUNS_DIR = REPO / "results" / "runs"
P = "aflw2000-hopenet-v1"
LABELS, SAMPLE = "AFLW2000-labels", "AFLW2000-sample"

#: name -> (run label, dataset folder name, protocol)
RUNS = {
    "L": ("gt-landmarks", LABELS, P),
    "Lu": ("gt-landmarks (face=u_base.txt)", LABELS, P),
    "Lit": ("gt-landmarks (solver=iterative)", LABELS, P),
    "Lfail": ("gt-landmarks (guard=fail, solver=iterative)", LABELS, P),
    "Lsq": ("gt-landmarks (solver=sqpnp)", LABELS, P),
    "Lep": ("gt-landmarks (solver=epnp)", LABELS, P),
    "Lp": ("gt-landmarks (setup=paper)", LABELS, P),
    "Lpu": ("gt-landmarks (face=u_base.txt, setup=paper)", LABELS, P),
    "D": ("dlib", SAMPLE, P),
    "Dsq": ("dlib (solver=sqpnp)", SAMPLE, P),
    "Dsq10": ("dlib (solver=sqpnp)", SAMPLE, P + "+ds10-v1"),
    "Dp": ("dlib (setup=paper)", SAMPLE, P),
    "Dy": ("dlib (box=yunet, detector_model=yunet_n_dynamic.onnx)", SAMPLE, P),
    "F": ("onnx-headpose (models=1x1,var)", SAMPLE, P),
    "F1": ("onnx-headpose (models=1x1)", SAMPLE, P),
    "Fv": ("onnx-headpose (models=var)", SAMPLE, P),
    "Fy": ("onnx-headpose (box=yunet, detector_model=yunet_n_dynamic.onnx, models=1x1,var)", SAMPLE, P),
    "W": ("whenet (weights=WHENet.h5)", SAMPLE, P),
    "Wvis": ("whenet (crop=visible, weights=WHENet.h5)", SAMPLE, P),
    "Wdemo": ("whenet (crop=demo, weights=WHENet.h5)", SAMPLE, P),
    "Wprot": ("whenet (crop=protocol, weights=WHENet.h5)", SAMPLE, P),
}

ROW = "{0}.yaw:.2f}} / {{{0}.pitch:.2f}} / {{{0}.roll:.2f}} / "  # "yaw / pitch / roll / " of run {0}


def _row(name: str) -> str:
    return "{" + ROW.format(name)


def _cells(name: str) -> str:
    return f"| {{{name}.yaw:.2f}} | {{{name}.pitch:.2f}} | {{{name}.roll:.2f}} | {{{name}.mae:.2f}} |"


#: (document, template) pairs: every number a document quotes from a committed run.
CLAIMS = [
    ("README.md", "On the {L.n} AFLW2000 labels: weak-perspective {L.mae:.2f} MAE ({L.behind} faces behind the camera), paper set-up "
                  "{Lp.mae:.2f} ({Lp.behind} behind the camera, counted in the run record as `behind_camera`)"),
    ("docs/methods.md", "| (defaults) | weak-perspective | " + _row("L") + "**{L.mae:.2f}** | {L.behind} / {L.replaced} |"),
    ("docs/methods.md", "| `face=u_base.txt` | weak-perspective | " + _row("Lu") + "{Lu.mae:.2f} | {Lu.behind} / {Lu.replaced} |"),
    ("docs/methods.md", "| `solver=iterative` (guard `weak`) | custom | " + _row("Lit") + "{Lit.mae:.2f} | {Lit.behind} / {Lit.replaced} |"),
    ("docs/methods.md", "| `solver=iterative guard=fail` | custom | " + _row("Lfail") + "{Lfail.mae:.2f} on {Lfail.n_eval} "
                        "({Lfail.n_failed} recorded failures) | {Lfail.behind} / {Lfail.replaced} |"),
    ("docs/methods.md", "| `solver=sqpnp` (guard `weak`) | custom | " + _row("Lsq") + "{Lsq.mae:.2f} | {Lsq.behind} / {Lsq.replaced} |"),
    ("docs/methods.md", "| `solver=epnp` (guard `weak`) | custom | " + _row("Lep") + "{Lep.mae:.2f} | {Lep.behind} / {Lep.replaced} |"),
    ("docs/methods.md", "| `setup=paper` | paper | " + _row("Lp") + "**{Lp.mae:.2f}** | {Lp.behind} / {Lp.replaced} |"),
    ("docs/methods.md", "| `setup=paper face=u_base.txt` | paper | " + _row("Lpu") + "**{Lpu.mae:.2f}** | {Lpu.behind} / {Lpu.replaced} |"),
    ("docs/methods.md", "`dlib` (HOG detector, {D.n_eval} faces found): weak-perspective {D.mae:.2f}, `solver=sqpnp` {Dsq.mae:.2f}, "
                        "`setup=paper` {Dp.mae:.2f} ({Dp.behind} behind the camera)"),
    ("docs/methods.md", "(sqpnp {Lsq.mae:.2f} vs weak {L.mae:.2f} on the same landmarks;"),
    ("docs/methods.md", "also best for dlib: {D.mae:.2f} vs {Dsq.mae:.2f})."),
    ("docs/methods.md", "({Lfail.mae:.2f} on the {Lfail.n_eval} kept vs {Lit.mae:.2f} with the fallback on all {Lit.n_eval});"),
    ("docs/methods.md", "### The model origin, and why `setup=paper` gives {Lp.mae:.1f} and not the paper's 8.651"),
    ("docs/methods.md", "With that origin the paper set-up gives {Lp.mae:.2f} ({Lp.behind} behind the camera), and with "
                        "`u_base.txt` itself {Lpu.mae:.2f} ({Lpu.behind})."),
    ("docs/methods.md", "The paper's 8.651 lies between our u_base ({Lpu.mae:.2f}) and any sound solver "
                        "({Lit.mae:.1f}-{Lsq.mae:.1f});"),
    ("docs/methods.md", "The weak-perspective default does not depend on the origin ({L.mae:.2f} either way)."),
    ("docs/methods.md", "it scores {Dy.mae:.2f} instead of {D.mae:.2f} on all its faces"),
    ("docs/methods.md", "images without boxes: dlib {D.mae:.2f} ({D.n_eval} found, HOG), FSA-Net {Fy.mae:.2f} with YuNet "
                        "({Fy.n_eval} found)"),
    ("docs/methods.md", "| 1x1 + var (averaged) " + _cells("F") + " {F.ci_lo:.2f}–{F.ci_hi:.2f} |"),
    ("docs/methods.md", "| 1x1 " + _cells("F1") + " {F1.ci_lo:.2f}–{F1.ci_hi:.2f} |"),
    ("docs/methods.md", "| var " + _cells("Fv") + " {Fv.ci_lo:.2f}–{Fv.ci_hi:.2f} |"),
    ("docs/whenet.md", "instead of {W.yaw:.2f} / {W.pitch:.2f} / {W.roll:.2f}. No conversion is applied."),
    ("docs/whenet.md", "| whenet `crop=loose68` (default) " + _cells("W")),
    ("docs/whenet.md", "| whenet `crop=visible` " + _cells("Wvis")),
    ("docs/whenet.md", "| whenet `crop=demo` " + _cells("Wdemo")),
    ("docs/whenet.md", "| whenet `crop=protocol` " + _cells("Wprot")),
    ("docs/whenet.md", "| FSA-Net (onnx-headpose, its authors' crop), same 37 images " + _cells("F")),
    ("docs/whenet.md", "(the run's 95% interval for `loose68` is {W.ci_lo:.2f}–{W.ci_hi:.2f}°)"),
    ("docs/whenet.md", "within 0.6° of its `loose68` run on the same 37 images ({W.mae:.2f})."),
    ("docs/image-studies.md", "`dlib` {Dp.mae:.2f}° with the paper's set-up, {Dp.behind} faces behind the camera, vs "
                              "{Dsq.mae:.2f}° with SQPnP on the {Dsq.n} sample images"),
    ("docs/image-studies.md", "(dlib on the sample: {Dsq.mae:.2f}° at x1 on {Dsq.n_eval} faces, {Dsq10.mae:.2f}° at x10 on "
                              "{Dsq10.n_eval})"),
]


@dataclass(frozen=True)
class Run:
    """The figures of one committed run record (degrees; counts)."""

    yaw: float
    pitch: float
    roll: float
    mae: float
    ci_lo: float
    ci_hi: float
    n: int
    n_eval: int
    n_failed: int
    behind: int
    replaced: int


def _records() -> list[dict]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(RUNS_DIR.glob("*.json"))]


def _run(records: list[dict], label: str, folder: str, protocol: str) -> Run:
    found = [r for r in records if r["label"] == label and Path(r["data_root"]).name == folder and r["protocol"] == protocol]
    assert len(found) == 1, f"{len(found)} committed runs of {label!r} on {folder} [{protocol}]"
    r, s = found[0], found[0]["summary"]
    return Run(s["mae_yaw"], s["mae_pitch"], s["mae_roll"], s["mae"], s["mae_ci95"][0], s["mae_ci95"][1],
               r["n_samples"], r["n_evaluated"], r["n_failed"], r["behind_camera"], r["behind_camera_replaced"])


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


@pytest.fixture(scope="module")
def runs() -> dict[str, Run]:
    records = _records()
    return {name: _run(records, *key) for name, key in RUNS.items()}


@pytest.mark.parametrize("doc,template", CLAIMS, ids=[f"{d}:{i}" for i, (d, _) in enumerate(CLAIMS)])
def test_quoted_number_is_the_committed_run(doc, template, runs):
    text = _flat((REPO / doc).read_text(encoding="utf-8"))
    expected = _flat(template.format(**runs))
    assert expected in text, f"{doc} should say: {expected}"


def test_every_claimed_run_is_used_and_the_templates_name_known_runs():
    used = set()
    for _, template in CLAIMS:
        used.update(re.findall(r"\{(\w+)\.", template))
    assert used <= set(RUNS), used - set(RUNS)
    assert set(RUNS) <= used, set(RUNS) - used
