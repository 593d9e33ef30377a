"""The estimator interface every method plugin implements.

A method turns a face into a canonical :class:`~posebench.pose.Pose` (degrees). Image methods read
``image`` (RGB uint8 HxWx3) and usually a face ``box``; landmark methods read ``landmarks``.
``estimate`` handles one face; ``estimate_batch`` many (override it where batching helps).
A face the method cannot handle raises/returns :class:`~posebench.errors.SampleFailure`.

A bare photo works for every image method: ``estimate(image)`` with no ``box`` lets the method
find the face itself (the largest one; see :mod:`posebench.detect`), and ``estimate_faces(image)``
returns every face the method's detector finds as ``(box, pose)``. A method may return an
:class:`Estimate` (a :class:`Pose` with ``info``: which detector found the face, what the PnP
guard did, ...); the runner counts that information in the run record.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from posebench.crop import Box
from posebench.errors import SampleFailure, UsageError
from posebench.pose import Pose


@dataclass
class FaceInput:
    """What a method may look at for one face. ``image_size`` is ``(width, height)``; the rest
    as in :class:`posebench.datasets.base.Sample`. ``box_source`` says where ``box`` came from:
    ``""`` = the dataset's protocol (or the caller), a detector name (``dlib-hog``, ``yunet``,
    ...) = a raw detection of that detector, which a method then crops as it crops that
    detector's boxes (without detecting again)."""

    image: np.ndarray | None
    image_size: tuple[int, int]
    box: Box | None = None
    landmarks: np.ndarray | None = None
    model_3d: np.ndarray | None = None
    id: str = ""
    points: np.ndarray | None = None
    box_source: str = ""


@dataclass(frozen=True)
class Estimate(Pose):
    """A :class:`Pose` (degrees) with how it was obtained. ``info`` keys used by posebench:
    ``detector`` (the detector that found the face, absent when the protocol's box was used),
    ``box`` (the face box, pixels), ``pnp`` (what the landmark-to-pose guard did: ``ok`` or e.g.
    ``sqpnp behind camera -> weak``), ``behind_camera`` (the solver's own solution put the face
    behind the camera). ``info`` takes no part in equality."""

    info: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, pose: Pose, **info: Any) -> Estimate:
        """``pose`` with ``info`` merged into any it already carries."""
        old = dict(getattr(pose, "info", {}) or {})
        return cls(pose.yaw, pose.pitch, pose.roll, {**old, **info})


def info_of(pose: Any) -> dict[str, Any]:
    """The ``info`` of an :class:`Estimate` (``{}`` for a plain :class:`Pose`)."""
    return dict(getattr(pose, "info", {}) or {})


class Method(ABC):
    """Base class of estimators. Subclasses set ``name`` and ``needs`` and implement
    :meth:`estimate_batch` (or :meth:`estimate_one`)."""

    name: ClassVar[str] = ""
    needs: ClassVar[frozenset[str]] = frozenset()
    version: ClassVar[str] = "1"  # bump when predictions change, to invalidate caches
    batch_size: int = 64

    def __init__(self, **options: Any):
        self.options = options

    @property
    def weights_hash(self) -> str | None:
        """Content hash of the weights in use (part of the cache key), or None."""
        return None

    def setup(self) -> str:
        """The set-up in words, named in every run record and leaderboard row. The landmark
        pipelines override it (``best: weak perspective`` vs the paper's ``paper: iterative, ...``);
        for a method with a ``box`` option it says where the face box comes from (``protocol
        box``: the dataset's box, or a detector on a bare photo, cropped as the authors crop;
        ``yunet detector box`` ...); otherwise ``default``."""
        box = self.options.get("box")
        if box is None:
            return "default"
        return "protocol box" if box in ("auto", "gt") else f"{box} detector box"

    def settings(self) -> dict[str, Any]:
        """Everything that determines the predictions (cache key and run record)."""
        return {"method": self.name, "version": self.version, "options": self.options, "weights": self.weights_hash,
                "setup": self.setup()}

    def estimate(
        self,
        image: np.ndarray | None = None,
        *,
        box: Box | None = None,
        landmarks: np.ndarray | None = None,
        image_size: tuple[int, int] | None = None,
        model_3d: np.ndarray | None = None,
    ) -> Pose:
        """Pose of one face. Without ``box``, an image method finds the face itself (the
        largest face its detector finds; ``info["detector"]`` of the returned :class:`Estimate`
        names the detector). Raises :class:`SampleFailure` when the face cannot be handled
        (``"no face found"`` when no detector finds one)."""
        if image_size is None:
            if image is None:
                raise SampleFailure("image_size is needed when no image is given")
            image_size = (int(image.shape[1]), int(image.shape[0]))
        out = self.estimate_batch([FaceInput(image, image_size, box, landmarks, model_3d)])[0]
        if isinstance(out, SampleFailure):
            raise out
        return out

    def face_detector(self):
        """The detector this method uses on a bare photo (:mod:`posebench.detect`): its own
        ``detector`` when its ``box`` option names one, else
        :func:`posebench.detect.default_detector` (YuNet when its model file is installed, else
        dlib's HOG; ``detector_model`` overrides the YuNet file), built on first use."""
        from posebench.detect import make_detector

        det = getattr(self, "detector", None)
        if det is None:
            det = make_detector("auto", getattr(self, "detector_model", "") or None)
            self.detector = det
        return det

    def estimate_faces(self, image: np.ndarray) -> list[tuple[Box, Pose]]:
        """Every face in an RGB image as ``(box, pose)``, largest face first: the method's
        detector (:meth:`face_detector`) finds the faces, and each box is handled as that
        detector's boxes are. Faces whose pose fails are left out. Raises
        :class:`UsageError` for a method that does not read images."""
        if "image" not in self.needs:
            raise UsageError(f"method {self.name!r} does not read images (it needs {', '.join(sorted(self.needs))})")
        from posebench.detect import sorted_by_area
        from posebench.imageio import to_rgb

        img = to_rgb(image)
        det = self.face_detector()
        boxes = sorted_by_area(det.detect(img))
        size = (int(img.shape[1]), int(img.shape[0]))
        faces = [FaceInput(img, size, b, box_source=det.name) for b in boxes]
        outs = self.estimate_batch(faces) if faces else []
        return [(b, o) for b, o in zip(boxes, outs) if not isinstance(o, SampleFailure)]

    def estimate_batch(self, faces: Sequence[FaceInput]) -> list[Pose | SampleFailure]:
        """Poses for many faces, one entry per face (a failure in place of a pose)."""
        out: list[Pose | SampleFailure] = []
        for face in faces:
            try:
                out.append(self.estimate_one(face))
            except SampleFailure as exc:
                out.append(exc)
        return out

    def estimate_one(self, face: FaceInput) -> Pose:  # pragma: no cover - overridden
        raise NotImplementedError


def prepare_each(faces: Sequence[FaceInput], prepare) -> tuple[list, list, list[int]]:
    """Run ``prepare(face)`` on each face for a batched method.

    Returns ``(out, items, where)``: ``out`` has one entry per face, holding the
    :class:`SampleFailure` of the faces ``prepare`` refused (the rest are to be filled in);
    ``items`` are the prepared inputs and ``where`` their indices in ``faces``.
    """
    out: list = [None] * len(faces)
    items, where = [], []
    for i, face in enumerate(faces):
        try:
            items.append(prepare(face))
            where.append(i)
        except SampleFailure as exc:
            out[i] = exc
    return out, items, where


def _coerce(value: Any, default: Any, key: str) -> Any:
    if not isinstance(value, str) or default is None or isinstance(default, str):
        return value
    try:
        if isinstance(default, bool):
            if value.lower() in ("1", "true", "yes", "on"):
                return True
            if value.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
    except ValueError:
        raise UsageError(f"option {key}={value!r}: expected {type(default).__name__}") from None
    return value


def bind_options(factory: Any, options: dict[str, Any], what: str) -> dict[str, Any]:
    """Check option keys against ``factory``'s keyword parameters and coerce string values to
    the type of each parameter's default. Unknown key -> :class:`UsageError` naming it."""
    sig = inspect.signature(factory)
    params = {
        n: p for n, p in sig.parameters.items()
        if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and n not in ("self", "data_dir")
    }
    takes_any = any(p.kind == p.VAR_KEYWORD for p in sig.parameters.values())
    out: dict[str, Any] = {}
    for key, value in options.items():
        if key not in params and not takes_any:
            valid = ", ".join(sorted(params)) or "none"
            raise UsageError(f"unknown option {key!r} for {what}; valid options: {valid}")
        default = params[key].default if key in params else None
        out[key] = _coerce(value, None if default is inspect.Parameter.empty else default, key)
    return out


def create_method(name: str, options: dict[str, Any] | None = None) -> Method:
    """Instantiate a registered method with (string) options, validated and coerced."""
    from posebench.registry import methods

    entry = methods.get(name)
    kwargs = bind_options(entry.factory, dict(options or {}), f"method {name!r}")
    return entry.factory(**kwargs)
