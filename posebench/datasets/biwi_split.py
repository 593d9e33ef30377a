"""BIWI evaluation protocols (paper Tables 2 and 3), and the names of the variants.

``PROTOCOLS`` also holds ``fsa-mtcnn`` (FSA-Net's subset of protocol 1:
:mod:`posebench.datasets.biwi_fsa`) and ``frames`` (a user's frame list); ``CALIBRATIONS`` the
label frames. What each variant changes, and which paper used which: docs/biwi.md.

* **Protocol 1** (``protocol=p1``, the default; protocol name ``biwi-v1``, Table 2): a model
  trained elsewhere (300W-LP) is tested on every BIWI frame. BIWI has no face box, so an image
  method must find the face: its ``box=`` option names the detector (``yunet``, ``dlib-hog``,
  ``dlib-cnn``), and that option is part of every run record and leaderboard label. The paper
  used a Faster R-CNN face detector trained on WIDER FACE (dockerface) with a loose crop; that
  detector is not available to posebench, YuNet is the closest stand-in.
* **Protocol 2** (``protocol=p2-test`` / ``p2-train``, Table 3): a 70/30 split of the
  recordings, drawn with a seed. The units split are BIWI's recording folders (``01`` ... ``24``);
  the paper says "70-30 splits of videos" and averages three splits. BIWI's 24 recordings show
  20 people (four were recorded twice): ``groups=01+14,...`` keeps folders of one person together
  so that no person is on both sides (a split by *subject*); without it each folder is its own
  unit. The split: sorted units, ``numpy.random.default_rng(seed).permutation``, the first
  ``round(test_fraction * n_units)`` units are the test part. The train and test folder lists are
  in the dataset parameters, hence in every run record and study table. Peers (Gu et al., the
  Hopenet authors) used unseeded random splits and did not publish their lists, so their splits
  cannot be re-drawn; posebench's are exactly reproducible from (seed, test_fraction, groups).
"""

from __future__ import annotations

import numpy as np

from posebench.errors import UsageError

PROTOCOLS = ("p1", "fsa-mtcnn", "frames", "p2-test", "p2-train")
#: Label frames: BIWI's depth camera (``none``, as every loader reads it) or the RGB camera (``rgb``).
CALIBRATIONS = ("none", "rgb")


def parse_groups(groups: str, folders: list[str]) -> list[tuple[str, ...]]:
    """Units of the split: ``"01+14,05+20"`` joins folders; every other folder is its own unit."""
    units: list[tuple[str, ...]] = []
    used: set[str] = set()
    for part in [g.strip() for g in str(groups or "").split(",") if g.strip()]:
        members = tuple(sorted(m.strip() for m in part.split("+") if m.strip()))
        unknown = [m for m in members if m not in folders]
        if unknown or used & set(members):
            raise UsageError(f"groups: {part!r} names unknown or repeated folders {unknown or sorted(used & set(members))}")
        used |= set(members)
        units.append(members)
    units += [(f,) for f in folders if f not in used]
    return sorted(units)


def split_units(units: list[tuple[str, ...]], seed: int, test_fraction: float) -> tuple[list[str], list[str]]:
    """(train folders, test folders), each sorted; see the module doc for the rule."""
    if not 0.0 < test_fraction < 1.0:
        raise UsageError(f"test_fraction must be in (0, 1), got {test_fraction}")
    n_test = int(round(test_fraction * len(units)))
    if n_test < 1 or n_test >= len(units):
        raise UsageError(f"{len(units)} recording units cannot be split {1 - test_fraction:.0%}/{test_fraction:.0%}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) <= 2 ** 32 - 1:
        raise UsageError(f"seed must be a whole number in 0 .. 4294967295, got {seed!r}")
    order = np.random.default_rng(int(seed)).permutation(len(units))
    test = sorted(f for i in order[:n_test] for f in units[i])
    train = sorted(f for i in order[n_test:] for f in units[i])
    return train, test
