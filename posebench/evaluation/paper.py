"""Numbers reported in the paper (Ruiz, Chong, Rehg, CVPRW 2018), degrees: (yaw, pitch, roll, MAE).

Keyed by (posebench method name, dataset name); each entry names the table row it comes from.
Peer methods' published numbers (not from this paper) name their source the same way.
"""

from __future__ import annotations

PAPER: dict[tuple[str, str], list[tuple[str, tuple[float, float, float, float]]]] = {
    ("hopenet", "aflw2000"): [
        ("Table 1, Multi-Loss ResNet50 (alpha=2)", (6.470, 6.559, 5.436, 6.155)),
        ("Table 1, Multi-Loss ResNet50 (alpha=1)", (6.920, 6.637, 5.674, 6.410)),
    ],
    ("fan", "aflw2000"): [("Table 1, FAN (12 points)", (6.358, 12.277, 8.714, 9.116))],
    ("dlib", "aflw2000"): [("Table 1, Dlib (68 points)", (23.153, 13.633, 10.545, 15.777))],
    ("gt-landmarks", "aflw2000"): [("Table 1, Ground truth landmarks", (5.924, 11.756, 8.271, 8.651))],
    ("resnet50-regression", "aflw2000"): [("Table 5, ResNet50 regression only", (13.110, 6.726, 5.799, 8.545))],
    ("hopenet-alexnet", "aflw2000"): [("Table 5, Multi-Loss AlexNet (alpha=1)", (27.650, 8.543, 8.954, 15.049))],
    ("hopenet", "biwi"): [
        ("Table 2, Multi-Loss ResNet50 (alpha=2)", (5.167, 6.975, 3.388, 5.177)),
        ("Table 2, Multi-Loss ResNet50 (alpha=1)", (4.810, 6.606, 3.269, 4.895)),
    ],
    ("fan", "biwi"): [("Table 2, FAN (12 points)", (8.532, 7.483, 7.631, 7.882))],
    # WHENet (Zhou & Gregson, BMVC 2020), as cited in 6DRepNet's README (its comparison table);
    # not checked against the WHENet paper's own table here.
    ("whenet", "aflw2000"): [("WHENet, BMVC 2020 (cited by 6DRepNet)", (5.11, 6.24, 4.92, 5.42))],
    ("whenet", "biwi"): [("WHENet, BMVC 2020 (cited by 6DRepNet)", (3.99, 4.39, 3.06, 3.81))],
    ("dlib", "biwi"): [("Table 2, Dlib (68 points)", (16.756, 13.802, 6.190, 12.249))],
    # SynergyNet (Wu, Xu, Neumann, 3DV 2021): the orientation table of choyingw/SynergyNet's README
    # (demo/orientation.png, the paper's table), row "SynergyNet (our)".
    ("synergynet", "aflw2000"): [("SynergyNet, 3DV 2021 (authors' README table)", (3.42, 4.09, 2.55, 3.35))],
    # 6DRepNet (Hempel et al., ICIP 2022): its README's table "Trained on 300W-LP, Test on AFLW2000
    # and BIWI" (thohemp/6DRepNet at 464b2ba), scored with its min(|d|, |d +- 180|, |d +- 360|) MAE.
    ("6drepnet", "aflw2000"): [("6DRepNet, ICIP 2022 (its README)", (3.63, 4.91, 3.37, 3.97))],
    ("6drepnet", "biwi"): [("6DRepNet, ICIP 2022 (its README)", (3.24, 4.48, 2.68, 3.47))],
    # img2pose (Albiero et al., CVPR 2021): the printed outputs of its evaluation notebooks
    # (vitoralbiero/img2pose fd5473e, evaluation/jupyter_notebooks/aflw_2000_3d_evaluation.ipynb and
    # biwi_evaluation.ipynb; img2pose_v1_ft_300w_lp.pth; their own detection-choice rules, see docs/img2pose.md).
    ("img2pose", "aflw2000"): [("img2pose, CVPR 2021 (its AFLW2000 notebook)", (3.426, 5.034, 3.278, 3.913))],
    ("img2pose", "biwi"): [("img2pose, CVPR 2021 (its BIWI notebook)", (4.567, 3.546, 3.244, 3.786))],
}


def paper_values(method: str, dataset: str) -> list[tuple[str, tuple[float, float, float, float]]]:
    return PAPER.get((method, dataset), [])


#: The paper whose tables are named "Table N, ..." in :data:`PAPER`.
THIS_PAPER = "Ruiz, Chong & Rehg, CVPRW 2018"


def source_of(label: str) -> str:
    """Where a :data:`PAPER` row comes from, in full: this paper's rows ("Table 1, ...") name it."""
    return f"{THIS_PAPER}, {label}" if label.startswith("Table ") else label


def published_rows(dataset: str) -> list[tuple[str, str, tuple[float, float, float, float]]]:
    """Every published row of ``dataset`` in :data:`PAPER`: ``(method, source, (yaw, pitch, roll,
    MAE))``, degrees, in :data:`PAPER`'s order (the leaderboard lists them as "reported")."""
    return [(m, source_of(label), vals) for (m, ds), rows in PAPER.items() if ds == dataset for label, vals in rows]
#: Paper-only rows whose method has a successor posebench runs, shown beneath the row as
#: "successor, not a reproduction": row label -> (posebench method, why).
SUCCESSORS: dict[str, tuple[str, str]] = {
    "3DDFA [35]": ("3ddfa-v2", "3DDFA_V2 (Guo et al., ECCV 2020) succeeds the paper's 3DDFA (Zhu et al., CVPR 2016): "
                               "another network, beside the row, not a reproduction of it"),
}


# -- every reported row of the paper's result tables -------------------------------------------

#: Every row of Tables 1-5 (Ruiz, Chong, Rehg, CVPRW 2018), in the paper's order:
#: ``(table, dataset, row label, posebench method or None, (yaw, pitch, roll, MAE), note)``.
#: ``method`` is the posebench plugin that reproduces the row where one exists; ``None`` marks
#: "paper only" rows (methods posebench cannot run). Table 3's last column is the *sum* of the
#: three errors, as printed. Table 4's AFLW split and Table 3's BIWI splits are the authors'
#: own, unpublished ones.
REPORTED: list[tuple[int, str, str, str | None, tuple[float, float, float, float], str]] = [
    (1, "aflw2000", "Multi-Loss ResNet50 (alpha=2)", "hopenet", (6.470, 6.559, 5.436, 6.155), ""),
    (1, "aflw2000", "Multi-Loss ResNet50 (alpha=1)", "hopenet", (6.920, 6.637, 5.674, 6.410), ""),
    (1, "aflw2000", "3DDFA [35]", None, (5.400, 8.530, 8.250, 7.393), "paper only"),
    (1, "aflw2000", "FAN [2] (12 points)", "fan", (6.358, 12.277, 8.714, 9.116), ""),
    (1, "aflw2000", "Dlib [11] (68 points)", "dlib", (23.153, 13.633, 10.545, 15.777), ""),
    (1, "aflw2000", "Ground truth landmarks", "gt-landmarks", (5.924, 11.756, 8.271, 8.651), ""),
    (2, "biwi", "Multi-Loss ResNet50 (alpha=2)", "hopenet", (5.167, 6.975, 3.388, 5.177), ""),
    (2, "biwi", "Multi-Loss ResNet50 (alpha=1)", "hopenet", (4.810, 6.606, 3.269, 4.895), ""),
    (2, "biwi", "KEPLER [14]", None, (8.084, 17.277, 16.196, 13.852), "paper only; trained on AFLW"),
    (2, "biwi", "Multi-Loss ResNet50 (alpha=1), trained on AFLW", None, (5.785, 11.726, 8.194, 8.568),
     "paper only (AFLW-trained weights not released)"),
    (2, "biwi", "3DMM + Online [33]", None, (2.500, 1.500, 2.200, 2.066), "paper only; uses depth"),
    (2, "biwi", "FAN [2] (12 points)", "fan", (8.532, 7.483, 7.631, 7.882), ""),
    (2, "biwi", "Dlib [11] (68 points)", "dlib", (16.756, 13.802, 6.190, 12.249), ""),
    (2, "biwi", "3DDFA [35]", None, (36.175, 12.252, 8.776, 19.068), "paper only"),
    (3, "biwi", "Multi-Loss ResNet50 (alpha=1), 3 splits", "hopenet", (3.29, 3.39, 3.00, 9.68),
     "trained per split (posebench: `study biwi-p2` with per-split weights); last column = sum"),
    (3, "biwi", "Gu et al. [5], single frame", None, (3.91, 4.03, 3.03, 10.97), "paper only; last column = sum"),
    (4, "aflw", "Multi-Loss ResNet50 (alpha=1)", "hopenet", (6.26, 5.89, 3.82, 5.324), "AFLW-trained weights"),
    (4, "aflw", "AlexNet (alpha=1)", "hopenet-alexnet", (7.79, 7.41, 6.05, 7.084), "AFLW-trained weights"),
    (4, "aflw", "KEPLER [14]", None, (6.45, 5.85, 8.75, 7.017), "paper only"),
    (4, "aflw", "Patacchiola, Cangelosi [19]", None, (11.04, 7.15, 4.4, 7.530), "paper only"),
    (5, "aflw2000", "ResNet50 regression only", "resnet50-regression", (13.110, 6.726, 5.799, 8.545), ""),
    (5, "aflw2000", "Multi-Loss ResNet50 (alpha=4)", "hopenet", (7.087, 6.870, 5.621, 6.526), ""),
    (5, "aflw2000", "Multi-Loss ResNet50 (alpha=2)", "hopenet", (6.470, 6.559, 5.436, 6.155), ""),
    (5, "aflw2000", "Multi-Loss ResNet50 (alpha=1)", "hopenet", (6.920, 6.637, 5.674, 6.410), ""),
    (5, "aflw2000", "Multi-Loss ResNet50 (alpha=0.1)", "hopenet", (10.270, 6.867, 5.420, 7.519), ""),
    (5, "aflw2000", "Multi-Loss ResNet50 (alpha=0.01)", "hopenet", (11.410, 6.847, 5.836, 8.031), ""),
    (5, "aflw2000", "Multi-Loss ResNet50 (alpha=0)", "hopenet", (11.628, 7.119, 5.966, 8.238), ""),
    (5, "aflw2000", "Multi-Loss AlexNet (alpha=1)", "hopenet-alexnet", (27.650, 8.543, 8.954, 15.049), ""),
    (5, "aflw2000", "Multi-Loss AlexNet (alpha=0.1)", "hopenet-alexnet", (30.110, 9.548, 9.273, 16.310), ""),
    (5, "aflw2000", "Multi-Loss AlexNet (alpha=0.01)", "hopenet-alexnet", (25.090, 8.442, 8.287, 13.940), ""),
    (5, "aflw2000", "Multi-Loss AlexNet (alpha=0)", "hopenet-alexnet", (24.469, 8.350, 8.353, 13.724), ""),
]

TABLE_TITLES = {
    1: "Table 1: AFLW2000-3D (1969 faces)",
    2: "Table 2: BIWI, protocol 1 (all frames, models trained on 300W-LP unless marked)",
    3: "Table 3: BIWI, protocol 2 (70/30 splits of the recordings, MAE averaged over 3 splits)",
    4: "Table 4: AFLW test split",
    5: "Table 5: multi-loss ablation on AFLW2000-3D",
}


#: Which stored runs can stand beside a table's rows: protocol name prefix per table.
TABLE_PROTOCOLS = {1: "aflw2000-", 2: "biwi-v1", 3: "biwi-p2-test", 4: "aflw-", 5: "aflw2000-"}


def reported_rows(table: int | None = None) -> list[tuple[int, str, str, str | None, tuple[float, float, float, float], str]]:
    """The rows of :data:`REPORTED`, all or one table's."""
    return [r for r in REPORTED if table is None or r[0] == table]
