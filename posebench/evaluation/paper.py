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
}


def paper_values(method: str, dataset: str) -> list[tuple[str, tuple[float, float, float, float]]]:
    return PAPER.get((method, dataset), [])
