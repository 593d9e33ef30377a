"""Range checks of ground truth, applied to every dataset the registry creates
(:func:`check_labels`): what a label may hold before a run scores a prediction against it.

The rules and their reasons are in :func:`check_labels` and ``docs/inputs.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from posebench.datasets.base import Dataset

#: A pose angle beyond this (degrees) cannot be a head pose read in the right unit: more than half
#: of a dataset's samples beyond it is a unit mix-up (degrees stored where radians belong read as
#: radians: 30 -> 1718.9). A few are not: 9 of AFLW2000-3D's 2000 official labels reach 351-972.
UNIT_LIMIT_DEG = 180.0


def check_labels(dataset: Dataset) -> Dataset:
    """Range-check every sample's truth, in place, for every dataset (the registry calls it on
    each one it creates, plugins' included):

    * a pose with an infinite angle, or NaN in an angle the dataset labels, is moved to
      ``dataset.invalid`` (a per-sample failure the run records and counts: ``non-finite label
      (yaw=inf, ...)``), never evaluated. An angle that is NaN in every sample is one the dataset
      does not label (AFW gives yaw alone: its pitch and roll are NaN by design) and is left alone;
    * when more than half of the samples (of 2 or more) have an angle beyond
      :data:`UNIT_LIMIT_DEG`, the labels are in the wrong unit: :class:`DataError`, one line
      naming the dataset and the count (a valid-looking run of 1718-degree truths was stored).
      Single out-of-range labels are kept: the protocol's filter decides (AFLW2000's drops
      |angle| > 99).

    Returns ``dataset``."""
    from posebench.errors import DataError

    keep = []
    poses = np.array([np.asarray(s.pose.as_array(), np.float64) for s in dataset.samples]).reshape(-1, 3)
    labelled = ~np.isnan(poses).all(axis=0) if len(poses) else np.ones(3, bool)  # angles the dataset gives
    for s, a in zip(dataset.samples, poses):
        if np.isinf(a).any() or np.isnan(a[labelled]).any():
            values = ", ".join(f"{k}={v:g}" for k, v in zip(("yaw", "pitch", "roll"), a))
            dataset.invalid.append((s.id, f"non-finite label ({values})"))
        else:
            keep.append(s)
    if len(keep) != len(dataset.samples):
        dataset.samples[:] = keep
    beyond = sum(1 for s in keep if np.nanmax(np.abs(np.asarray(s.pose.as_array(), np.float64))) > UNIT_LIMIT_DEG)
    if len(keep) >= 2 and beyond * 2 > len(keep):
        raise DataError(f"dataset {dataset.name!r}: {beyond} of {len(keep)} labels have an angle beyond "
                        f"+-{UNIT_LIMIT_DEG:g} degrees: the labels are in the wrong unit (degrees stored where the "
                        "format has radians?)")
    return dataset
