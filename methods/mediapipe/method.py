"""The ``mediapipe`` estimator: MediaPipe Face Mesh's 468 landmarks (:mod:`.landmarks`) and a head
pose from them, by one of two set-ups named in every record (option ``pose``):

* ``matrix`` (default): MediaPipe's own facial transformation matrix (:mod:`.geometry`), its
  rotation used as it is (it rotates the y-up canonical mesh: posebench's convention);
* ``fit``: posebench's landmark-to-pose (:func:`posebench.pnp.solve_pnp_guarded`, the solvers,
  set-ups and guard of the other landmark methods: ``setup``, ``solver``, ``guard``, ``focal``) of
  the 468 image points against the canonical mesh of the geometry metadata (cm, y up).

The face (option ``box``): ``mediapipe`` (default) -- MediaPipe's own detector and ROI rule (the
detection's box grown 1.5 times, square, rotated by its eye keypoints), as the mediapipe package
runs it; any other face source (``auto``, ``gt``, ``yunet`` ...) -- that box made square on its
longer side, unrotated (posebench's rule; recorded in the set-up). ``variant``: ``468``
(``face_landmark.tflite``) or ``attention`` (``face_landmark_with_attention.tflite``, 478 points:
MediaPipe's custom operators done in numpy between runs of the rest of its graph, :mod:`.attention`). Output: (yaw, pitch, roll) degrees,
AFLW2000-3D convention; ``info``: detector, ``pnp`` (fit), face-presence score.
"""

from __future__ import annotations

import json
from functools import lru_cache

import numpy as np

from posebench.detect import choose_face
from posebench.errors import SampleFailure, UsageError
from posebench.imageio import to_rgb
from posebench.method import Estimate, FaceInput, Method
from posebench.pose import Pose, pose_from_matrix

from . import NEEDS, POSES, VARIANTS
from .geometry import pose_transform, read_metadata
from .landmarks import FaceMesh, NormRect, roi_from_box, roi_from_detection, to_pixels
from .weights import resolve_metadata, resolve_model


@lru_cache(maxsize=1)
def map68() -> np.ndarray:
    """(68,) indices into the 468 landmarks of the iBUG 68 points (``map68.json``, measured by
    ``scripts/mediapipe_68_mapping.py``: nearest landmark to AFLW2000-3D's points on frontal faces)."""
    from importlib.resources import files

    data = json.loads(files("posebench.methods.mediapipe").joinpath("map68.json").read_text())
    return np.asarray(data["indices"], int)


class MediaPipeMethod(Method):
    """MediaPipe Face Mesh on LiteRT. Options: ``pose`` (``matrix`` | ``fit``), ``variant``
    (``468`` | ``attention``), ``model`` (the landmark ``.tflite``; default the variant's file in
    ``<weights folder>/mediapipe/``), ``metadata`` (``geometry_pipeline_metadata_landmarks.pbtxt``;
    default beside the model, else in that folder), ``box`` and ``detector_model`` (the face
    source; ``mediapipe``: MediaPipe's own detector, ``face_detection_short_range.tflite``),
    ``setup``/``solver``/``guard``/``focal`` (the ``fit`` pose, as for the landmark methods),
    ``threads`` (LiteRT's)."""

    name = "mediapipe"
    needs = NEEDS
    version = "1"

    def __init__(self, pose: str = "matrix", variant: str = "468", model: str = "", metadata: str = "", box: str = "mediapipe",
                 detector_model: str = "", setup: str = "weak-perspective", solver: str = "auto", guard: str = "auto", focal: float = 1.0,
                 threads: int = 1):
        from posebench.methods.landmark_pose import SETUP_ALIASES, SETUPS
        from posebench.pnp import GUARDS, SOLVER_NAMES

        if pose not in POSES:
            raise UsageError(f"pose must be one of {', '.join(POSES)}, got {pose!r}")
        if variant not in VARIANTS:
            raise UsageError(f"variant must be one of {', '.join(VARIANTS)}, got {variant!r}")
        setup = SETUP_ALIASES.get(setup, setup)
        if setup not in SETUPS:
            raise UsageError(f"setup must be one of {', '.join(SETUPS)}, got {setup!r}")
        solver = SETUPS[setup]["solver"] if solver in ("auto", "") else solver
        guard = SETUPS[setup]["guard"] if guard in ("auto", "") else guard
        if solver not in SOLVER_NAMES or guard not in GUARDS:
            raise UsageError(f"solver must be one of auto, {', '.join(SOLVER_NAMES)} and guard one of auto, {', '.join(GUARDS)}")
        if not focal > 0:
            raise UsageError(f"focal must be positive, got {focal}")
        super().__init__()
        self.pose_route, self.variant, self.box, self.detector_model = pose, variant, box, detector_model
        self.solver, self.guard, self.focal = solver, guard, float(focal)
        self.setup_name = next((n for n, v in SETUPS.items() if v == {"solver": solver, "guard": guard} and focal == 1.0), "custom")
        self.faces = self.use_face_source(box, detector_model)
        self.model_path = resolve_model(model, variant)
        self.metadata_path = resolve_metadata(metadata, self.model_path)
        self.reads("landmark model", self.model_path)
        self.reads("geometry metadata", self.metadata_path)
        self.meta = read_metadata(self.metadata_path)
        if variant == "attention":
            from .attention import AttentionMesh

            self.mesh = AttentionMesh(self.model_path, threads=max(1, int(threads)))
        else:
            self.mesh = FaceMesh(self.model_path, threads=max(1, int(threads)))

    def describe(self) -> str:
        """The pose set-up and the face, e.g. ``transformation matrix; MediaPipe detector ROI``."""
        if self.pose_route == "matrix":
            how = "transformation matrix (MediaPipe's geometry pipeline)"
        elif self.solver == "weak":
            how = f"fit to the canonical mesh, {self.setup_name}: scaled-orthographic fit"
        else:
            how = f"fit to the canonical mesh, {self.setup_name}: {self.solver}, focal {self.focal:g} x width, guard {self.guard}"
        if self.box == "mediapipe":
            where = "MediaPipe detector ROI (rotated, 1.5 x box)"
        else:
            where = {"auto": "square ROI of the protocol box (a detector on a bare photo)", "gt": "square ROI of the protocol box"}.get(
                self.box, f"square ROI of the {self.box} detector box")
        model = "; 478-point attention model" if self.variant == "attention" else ""
        return f"{how}; {where}{model}"

    def roi_of(self, face: FaceInput, image: np.ndarray) -> tuple[NormRect, str]:
        """The landmark ROI of this face and the detector that found it (``""``: the sample's box)."""
        h, w = image.shape[:2]
        if self.box == "mediapipe" and face.box_source in ("", "mediapipe"):
            dets = self.faces.detector().detections(image)
            if not dets:
                raise SampleFailure("no face found")
            boxes = [(d.pixel_box(w, h), d.score) for d in dets]
            reference = face.box if face.box is not None else None
            chosen = dets[0] if reference is None else dets[[b for b, _ in boxes].index(choose_face(boxes, reference))]
            return roi_from_detection(chosen, w, h), "mediapipe"
        box, source = self.faces.find(image, face.box, face.box_source)
        return roi_from_box(box, w, h), source

    def estimate_one(self, face: FaceInput) -> Pose:
        image = face.rgb()
        h, w = image.shape[:2]
        roi, source = self.roi_of(face, image)
        landmarks, presence = self.mesh.landmarks(image, roi)
        info = {"presence": round(presence, 4)}
        if source:
            info["detector"] = source
        if self.pose_route == "matrix":
            M = pose_transform(landmarks, w, h, self.meta)
            pose = pose_from_matrix(M[:3, :3] / np.linalg.norm(M[:3, 0]))
            if not pose.is_finite():
                raise SampleFailure("MediaPipe's transformation matrix is not finite")
            return Estimate.of(pose, **info)
        from posebench.pnp import solve_pnp_guarded

        mesh = landmarks[: self.meta.canonical.shape[1]]  # the 468 mesh points (the attention model adds 10 iris points)
        res = solve_pnp_guarded(to_pixels(mesh, w, h), self.meta.canonical.T.astype(float), (w, h), self.solver,
                                self.focal, self.guard)
        return Estimate.of(res.pose, pnp=res.note or "ok", behind_camera=bool(res.behind_camera), **info)

    def landmarks68_of(self, image: np.ndarray, box=None) -> np.ndarray:
        """(68, 2) image pixels: the landmarks of :meth:`landmarks_of` at :func:`map68`'s indices,
        in the iBUG 68-point order (a measured correspondence: see ``scripts/mediapipe_68_mapping.py``)."""
        return self.landmarks_of(image, box)[map68()]

    def landmarks_of(self, image: np.ndarray, box=None) -> np.ndarray:
        """(468, 2) -- (478, 2) with the attention model -- image pixels of MediaPipe's landmarks of the face in an RGB image (``box``: the
        face box to use, else the method's face source)."""
        img = to_rgb(image)
        roi, _ = self.roi_of(FaceInput(img, (img.shape[1], img.shape[0]), box), img)
        return to_pixels(self.mesh.landmarks(img, roi)[0], img.shape[1], img.shape[0])
