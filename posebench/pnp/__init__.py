"""Landmark-to-pose solvers.

- :mod:`posebench.pnp.single`: one problem through ``cv2.solvePnP`` (or the closed-form
  weak-perspective fit), with the camera guess of the paper (focal = image width).
- :mod:`posebench.pnp.batch`: many problems at once (a replica of OpenCV's ``SOLVEPNP_ITERATIVE``
  and the weak fit), for the studies.
- :mod:`posebench.pnp.kernels`: the compiled (numba) per-problem kernels of the batch solver.

``single`` never imports ``batch``; ``batch`` builds on ``single``.
"""

from posebench.pnp.single import (  # noqa: F401
    GUARDS,
    SOLVER_NAMES,
    SOLVERS,
    PnPResult,
    camera_matrix,
    check_landmarks,
    project,
    solve_pnp,
    solve_pnp_guarded,
    weak_rotation,
)
