"""The estimator interface every method plugin implements.

A method turns a face into a canonical :class:`~posebench.pose.Pose` (degrees). Image methods read
``image`` (RGB uint8 HxWx3) and usually a face ``box``; landmark methods read ``landmarks``.
``estimate`` handles one face; ``estimate_batch`` many (override it where batching helps).
A face the method cannot handle raises/returns :class:`~posebench.errors.SampleFailure`.

A bare photo works for every image method: ``estimate(image)`` with no ``box`` lets the method
find the face itself (the largest one; see :mod:`posebench.detect`), and ``estimate_faces(image)``
returns every face the method's detector finds as ``(box, pose)``; both take an RGB array or an
image file's path. A method may return an
:class:`Estimate` (a :class:`Pose` with ``info``: which detector found the face, what the PnP
guard did, ...); the runner counts that information in the run record.
"""

from __future__ import annotations

from abc import ABC
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from posebench.crop import Box
from posebench.declared import DeclaresOptions, recorded_value
from posebench.errors import SampleFailure, UsageError
from posebench.pose import Pose

if TYPE_CHECKING:
    from posebench.datasets.base import Sample


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

    def rgb(self) -> np.ndarray:
        """The image as RGB uint8 HxWx3 (:func:`posebench.imageio.to_rgb`: gray, alpha and 16-bit
        converted, the array itself when it already is one); :class:`SampleFailure` ``no image``
        when there is none, or for an image posebench cannot read faithfully (empty, other depth)."""
        from posebench.imageio import to_rgb

        if self.image is None:
            raise SampleFailure("no image")
        return to_rgb(self.image)

    @classmethod
    def from_sample(cls, sample: "Sample", image: np.ndarray | None = None, exact: bool = True) -> "FaceInput":
        """The face of a dataset sample (``image``: its decoded RGB image, if the method reads it;
        ``exact=False`` withholds the sample's own 3D face)."""
        return cls(image, sample.image_size, sample.box, sample.landmarks, sample.model_3d if exact else None,
                   sample.id, sample.points)


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


class Method(DeclaresOptions, ABC):
    """Base class of estimators. Subclasses set ``name`` and ``needs`` and implement
    :meth:`estimate_batch` (or :meth:`estimate_one`).

    Options are declared once: as the keyword parameters of the class's ``__init__`` (or of
    the registered factory). The framework records every declared option with its value in
    :attr:`options` (the cache key), except the run-time-only ones in :attr:`runtime_options`.
    An option whose value names an existing file is recorded by the file's name, and the
    file's content digest (:func:`posebench.fileio.file_digest`) goes into :meth:`identity`;
    files a method finds by itself (default weights, a shipped config) are declared with
    :meth:`reads`. Nothing else is needed for a correct cache key.
    """

    _options_base = True
    name: ClassVar[str] = ""
    needs: ClassVar[frozenset[str]] = frozenset()
    version: ClassVar[str] = "1"  # bump when predictions change, to invalidate caches
    #: Options that never change a prediction (kept out of the cache key and the label).
    runtime_options: ClassVar[frozenset[str]] = frozenset({"workers", "threads", "batch_size", "progress"})
    batch_size: int = 64
    #: Options that make this method cheap to run in the contract tests (tests/test_contracts.py).
    example_options: ClassVar[dict[str, Any]] = {}

    def __init__(self, **options: Any):
        self.options = {**getattr(self, "options", {}), **options}

    def record_options(self, values: dict[str, Any], defaults: dict[str, Any] | None = None) -> None:
        """Record the declared options ``values`` (called by the framework after creation).

        Run-time-only options are dropped; a value naming an existing file is recorded by its
        name and its content digest is added to the files read
        (:func:`posebench.declared.recorded_value`). ``defaults`` (option -> default) decide
        which options the display :meth:`label` shows."""
        opts = dict(getattr(self, "options", {}))
        files = dict(self.__dict__.get("_files", {}))
        for key, value in values.items():
            if key in self.runtime_options:
                opts.pop(key, None)
                continue
            opts[key], path = recorded_value(value, (defaults or {}).get(key))  # Frontal(yaw=5) is keyed as -o yaw=5
            if path is not None:
                files[f"option:{key}"] = path
        self.options = opts
        self.__dict__["_files"] = files
        if defaults is not None:
            self.__dict__["_defaults"] = {**self.__dict__.get("_defaults", {}), **defaults}

    def reads(self, label: str, path: str | Path) -> None:
        """Declare a file the predictions depend on (weights, detector, config, face model);
        its content digest becomes part of :meth:`identity` (and so of the cache key)."""
        self.__dict__.setdefault("_files", {})[label] = Path(path)

    def use_face_source(self, box: str = "auto", detector_model: str = "", upsample: int | None = None):
        """This method's :class:`posebench.facesource.FaceSource` (``box``, ``detector_model``,
        ``upsample`` as the method's options of those names): how it finds the face. Built once
        in ``__init__``; the framework keys it (:meth:`identity`: its name and detector options,
        :meth:`file_digests`: the detector's files). Raises :class:`UsageError` for an unknown
        ``box`` and :class:`WeightsError` for an unusable detector file."""
        from posebench.facesource import FaceSource

        source = FaceSource(box, detector_model, upsample)
        self.__dict__["_face_source"] = source
        return source

    @property
    def face_source(self):
        """The :class:`~posebench.facesource.FaceSource` set by :meth:`use_face_source`, or None."""
        return self.__dict__.get("_face_source")

    def _file_table(self) -> dict[str, str]:
        """``{label: full SHA-256}`` of every file read (declared, named by an option, or read by
        the face source's detector), each file once: a file under several labels keeps the
        declared label (``weights`` over ``option:weights``)."""
        from posebench.fileio import file_digest

        files = dict(self.__dict__.get("_files", {}))
        if self.face_source is not None:
            files.update(self.face_source.files())
        by_path: dict[str, str] = {}
        for label in sorted(files, key=lambda k: (k.startswith("option:"), k)):
            try:
                where = str(Path(files[label]).resolve())
            except (OSError, RuntimeError):
                where = str(files[label])
            by_path.setdefault(where, label)
        return {label: file_digest(files[label]) for label in sorted(by_path.values())}

    def file_digests(self) -> dict[str, str]:
        """``{label: SHA-256 (first 16 hex)}`` of every file the method reads, each file once."""
        return {k: v[:16] for k, v in self._file_table().items()}

    @property
    def weights_hash(self) -> str | None:
        """Content hash of what the predictions depend on that is no file (e.g. the 3D face
        model's array), or None. A hash that is a read file's digest is not repeated in
        :meth:`identity` (the file's digest is there)."""
        return None

    def describe(self) -> str:
        """The set-up in one line of words (stored as the run record's ``setup`` field and the
        identity's ``setup`` key), named in every leaderboard row. The landmark
        pipelines override it (``weak-perspective: scaled-orthographic fit`` vs the paper's ``paper: iterative, ...``);
        for a method with a ``box`` option it says where the face box comes from (``protocol
        box``: the dataset's box, or a detector on a bare photo, cropped as the authors crop;
        ``yunet detector box`` ...); otherwise ``default``."""
        box = self.options.get("box")
        if box is None:
            return "default"
        return "protocol box" if box in ("auto", "gt") else f"{box} detector box"

    def identity(self) -> dict[str, Any]:
        """The method's identity: everything that determines the predictions, hashed into the
        cache key (:func:`posebench.evaluation.runner.run_key`) and copied into the run record: name,
        version, recorded options, weights hash (:attr:`weights_hash`, None when it is a read
        file's digest), set-up (:meth:`describe`), the face source (``faces``: box mode, detector
        and its options; see :meth:`use_face_source`) and the digest of every file read, each
        once (``files``). An object not created by the registry (built by hand) also names its
        class (module and qualified name), so two hand-built classes sharing a ``name`` never
        share predictions."""
        table = self._file_table()
        weights = self.weights_hash
        if weights is not None and weights in table.values():
            weights = None  # the same bytes are in ``files``
        out = {"method": self.name, "version": self.version, "options": self.options, "weights": weights,
               "setup": self.describe()}
        if self.__dict__.get("_registered_as") != self.name:
            out["class"] = f"{type(self).__module__}.{type(self).__qualname__}"
        if self.face_source is not None:
            out["faces"] = self.face_source.identity()
        if table:
            out["files"] = {k: v[:16] for k, v in table.items()}
        return out

    def label(self) -> str:
        """Display name: the method name and the options that differ from their defaults."""
        defaults = self.__dict__.get("_defaults", {})
        shown = ", ".join(
            f"{k}={v}" for k, v in sorted(self.options.items())
            if v not in (None, "", "default") and (k not in defaults or str(defaults[k]) != str(v)))
        return self.name + (f" ({shown})" if shown else "")

    def estimate(
        self,
        image: np.ndarray | str | Path | None = None,
        *,
        box: Box | None = None,
        landmarks: np.ndarray | None = None,
        image_size: tuple[int, int] | None = None,
        model_3d: np.ndarray | None = None,
    ) -> Pose:
        """Pose of one face. ``image`` is an RGB uint8 HxWx3 array (not BGR: convert OpenCV's
        frames first) or the path of an image file (``str`` or :class:`~pathlib.Path`, read by
        :func:`posebench.imageio.read_image`: RGB uint8, any format it decodes). Without
        ``box``, an image method finds the face itself (the largest face its detector finds;
        ``info["detector"]`` of the returned :class:`Estimate` names the detector). Raises
        :class:`SampleFailure` when the face cannot be handled (``"no face found"`` when no
        detector finds one; an unreadable file or array, with its reason); :class:`TypeError`
        for an image that is neither an array nor a path, :class:`ValueError` for an array of
        another depth or layout (:func:`as_image`)."""
        image = as_image(image, strict=True)
        if image_size is None:
            if image is None:
                raise SampleFailure("image_size is needed when no image is given")
            image_size = (int(image.shape[1]), int(image.shape[0]))
        out = self.estimate_batch([FaceInput(image, image_size, box, landmarks, model_3d)])[0]
        if isinstance(out, SampleFailure):
            raise out
        return out

    def face_detector(self):
        """The detector this method uses on a bare photo (:mod:`posebench.detect`): its face
        source's (:meth:`use_face_source`: ``box``'s detector, else the default one), else
        :func:`posebench.detect.default_detector` (YuNet when its model file is installed, else
        dlib's HOG; ``detector_model`` overrides the YuNet file), built on first use."""
        from posebench.detect import make_detector

        if self.face_source is not None:
            return self.face_source.detector()
        det = getattr(self, "detector", None)
        if det is None:
            det = make_detector("auto", getattr(self, "detector_model", "") or None)
            self.detector = det
        return det

    def estimate_faces(self, image: np.ndarray | str | Path) -> list[tuple[Box, Pose]]:
        """Every face in an RGB image (an array or an image file's path, as :meth:`estimate`)
        as ``(box, pose)``, largest face first: the method's
        detector (:meth:`face_detector`) finds the faces, and each box is handled as that
        detector's boxes are. Faces whose pose fails are left out. Raises
        :class:`UsageError` for a method that does not read images."""
        if "image" not in self.needs:
            raise UsageError(f"method {self.name!r} does not read images (it needs {', '.join(sorted(self.needs))})")
        from posebench.detect import sorted_by_area
        from posebench.imageio import to_rgb

        img = to_rgb(as_image(image))
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


def as_image(image: "np.ndarray | str | Path | None", strict: bool = False) -> "np.ndarray | None":
    """A path (``str`` or :class:`os.PathLike`) read as RGB uint8 HxWx3 with
    :func:`posebench.imageio.read_image` (:class:`SampleFailure` naming the file when it cannot
    be); an array (or None) is returned as it is. Anything else is a :class:`TypeError` (a list,
    a PIL image: convert it with ``numpy.asarray``). ``strict``: the array must be one
    :func:`posebench.imageio.to_rgb` converts (uint8 or uint16; HxW, or HxWx1..4), else
    :class:`ValueError` naming its dtype and shape (a float or 4-D array was a sample failure)."""
    import os

    if isinstance(image, (str, os.PathLike)):
        from posebench.imageio import read_image

        return read_image(image)
    if image is None:
        return None
    if not isinstance(image, np.ndarray):
        from posebench.apitypes import got

        raise TypeError(f"image must be an RGB uint8 HxWx3 numpy array or an image file's path, got {got(image)}")
    if strict and not (image.dtype in (np.uint8, np.uint16) and (
            image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (1, 2, 3, 4)))):
        raise ValueError(f"image must be an RGB uint8 HxWx3 array (grey HxW, alpha and 16-bit arrays are converted), "
                         f"got {image.dtype} of shape {image.shape}")
    return image


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


def create_method(name: str, options: dict[str, Any] | None = None) -> Method:
    """Instantiate a registered method with (string) options, validated and coerced
    (same as ``posebench.registry.methods.create(name, options)``)."""
    from posebench.registry import methods

    return methods.create(name, options)
