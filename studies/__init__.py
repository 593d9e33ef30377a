"""Built-in studies (installed as ``posebench.studies``): importing this package registers them.

``keypoints`` (paper Figure 3), ``jitter`` (Figure 4), ``stretch`` (Figure 5) and ``solver``
(beyond the paper: which solver / camera guess / model origin explains the error); ``lowres``
(Figure 8), ``box-jitter`` (a perturbed face box) and ``detectors`` (each registered face
detector) run image methods through the cached runner."""

from . import (  # noqa: F401  (registration side effects)
    afw_yaw,
    alpha,
    biwi_p2,
    box_jitter,
    detectors,
    jitter,
    keypoints,
    landmark_count,
    lowres,
    solver,
    stretch,
    yaw_bins,
)
