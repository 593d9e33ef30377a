"""Faces of bare photos and video frames for the drawing commands: label beside, else detector.

An image ``NAME.jpg`` with an AFLW2000-3D / 300W-LP label ``NAME.mat`` beside it gets that
label's 68 landmarks, sparse points and the protocol box (Hopenet's loose crop, as the
``aflw2000`` dataset builds it), so ``gt-landmarks`` can run and image methods see the
benchmark's box. Any other image gets the face a detector finds (:mod:`posebench.detect`): by
default the method's own face source, as ``Method.estimate`` and ``posebench predict`` find it
(:func:`posebench.facesource.bare_photo_source`: its ``box=`` detector, for ``box=auto`` YuNet where
installed, else dlib's HOG), or any registered detector named by ``detector`` (``--detector-model
PATH`` its file): the largest detection.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from posebench.crop import Box, landmark_box, loose_box_hopenet
from posebench.detect import FaceDetector, check_box_mode, choose_face, make_detector
from posebench.errors import SampleFailure, UsageError
from posebench.facesource import bare_photo_source
from posebench.method import FaceInput, Method
from posebench.pose import Pose


@dataclass
class Label:
    """A ground-truth label read from the ``.mat`` beside an image."""

    pose: Pose
    landmarks: np.ndarray | None
    points: np.ndarray | None
    box: Box | None
    path: Path


def label_beside(image_path: Path) -> Label | None:
    """The ``.mat`` label with the image's stem in its folder, or None (none, or unreadable)."""
    from posebench.datasets.matfile import landmarks68, pose_of, read_mat, sparse_points

    mat = Path(image_path).with_suffix(".mat")
    if not mat.is_file():
        return None
    try:
        m = read_mat(mat)
    except SampleFailure:
        return None
    pts = sparse_points(m)
    box = None
    if pts is not None:
        try:
            box = loose_box_hopenet(landmark_box(pts))
        except ValueError:
            box = None
    return Label(pose_of(m), landmarks68(m, mat.name), pts, box, mat)


class FaceFinder:
    """Builds the :class:`FaceInput` of an image for ``method`` (see the module docstring)."""

    def __init__(self, method: Method, detector: str | None = None, detector_model: str | None = None,
                 use_labels: bool = True):
        if detector is None and detector_model:
            detector = "auto"  # a model file alone: the default rule with that file (YuNet)
        if detector not in (None, "auto"):  # an unknown name is a one-line error now, not at the first image
            check_box_mode(detector, detectors_only=True)
        self.method = method
        self.use_labels = use_labels
        self._source = bare_photo_source(method) if detector is None else None
        self.detector_name = self._source.detector_name if self._source is not None else detector
        self._detector: FaceDetector | None = None
        self._detector_args = (detector, detector_model)

    @property
    def detector(self) -> FaceDetector:
        if self._detector is None:
            self._detector = self._source.detector() if self._source is not None else make_detector(*self._detector_args)
        return self._detector

    def face(self, image: np.ndarray, path: Path | None = None, label: Label | None = None) -> tuple[FaceInput, str]:
        """``(face, box_source)`` for an RGB image; raises SampleFailure when no face is found
        (or the method needs ground-truth landmarks the image does not have)."""
        size = (int(image.shape[1]), int(image.shape[0]))
        if label is None and self.use_labels and path is not None:
            label = label_beside(path)
        if label is not None and label.box is not None:
            return FaceInput(image, size, label.box, label.landmarks, None, Path(path).stem if path else "",
                             label.points), "label"
        if "landmarks" in self.method.needs and "image" not in self.method.needs:
            raise SampleFailure(f"{self.method.name} needs ground-truth landmarks (a .mat label beside the image)")
        box = choose_face(self.detector.detect(image))
        # box_source: the method crops it as a detector's box (its authors' rule) and detects no second time
        return FaceInput(image, size, box, None, None, Path(path).stem if path else "",
                         box_source=self.detector.name), self.detector_name


def check_method_takes_images(method: Method, have_labels: bool) -> None:
    """A one-line usage error when ``method`` cannot run on images without labels."""
    if "image" not in method.needs and "landmarks" in method.needs and not have_labels:
        raise UsageError(f"method {method.name!r} needs ground-truth landmarks; it runs only on images with a "
                         ".mat label beside them")


def drawn_landmarks(method: Method, face: FaceInput) -> np.ndarray | None:
    """The landmarks the method used, where it has them: the detected ones of a method with a
    ``landmarks(image, box)`` call (``dlib``), the given ones of a landmark method."""
    if "image" in method.needs and callable(getattr(method, "landmarks", None)):
        try:
            return np.asarray(method.landmarks(face.image, face.box), float)
        except SampleFailure:
            return None
    if "landmarks" in method.needs:
        return face.landmarks
    return None


def estimate(method: Method, faces: Sequence[FaceInput]) -> list[Pose | SampleFailure]:
    """``method.estimate_batch`` with a batch-level failure applied to every face and a
    non-finite pose turned into a failure (as the runner does)."""
    try:
        outs = method.estimate_batch(list(faces))
    except SampleFailure as exc:
        outs = [exc] * len(faces)
    return [o if isinstance(o, SampleFailure) or o.is_finite() else SampleFailure("non-finite prediction")
            for o in outs]
