"""The estimator interface every method plugin implements.

A method turns a face into a canonical :class:`~posebench.pose.Pose` (degrees). Image methods read
``image`` (RGB uint8 HxWx3) and usually a face ``box``; landmark methods read ``landmarks``.
``estimate`` handles one face; ``estimate_batch`` many (override it where batching helps).
A face the method cannot handle raises/returns :class:`~posebench.errors.SampleFailure`.
"""

from __future__ import annotations

import functools
import inspect
from abc import ABC
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Sequence

import numpy as np

from posebench.crop import Box
from posebench.errors import SampleFailure
from posebench.pose import Pose

if TYPE_CHECKING:
    from posebench.datasets.base import Sample


@dataclass
class FaceInput:
    """What a method may look at for one face. ``image_size`` is ``(width, height)``; the rest
    as in :class:`posebench.datasets.base.Sample`."""

    image: np.ndarray | None
    image_size: tuple[int, int]
    box: Box | None = None
    landmarks: np.ndarray | None = None
    model_3d: np.ndarray | None = None
    id: str = ""
    points: np.ndarray | None = None

    @classmethod
    def from_sample(cls, sample: "Sample", image: np.ndarray | None = None, exact: bool = True) -> "FaceInput":
        """The face of a dataset sample (``image``: its decoded RGB image, if the method reads it;
        ``exact=False`` withholds the sample's own 3D face)."""
        return cls(image, sample.image_size, sample.box, sample.landmarks, sample.model_3d if exact else None,
                   sample.id, sample.points)


class Method(ABC):
    """Base class of estimators. Subclasses set ``name`` and ``needs`` and implement
    :meth:`estimate_batch` (or :meth:`estimate_one`).

    Options are declared once: as the keyword parameters of the class's ``__init__`` (or of
    the registered factory). The framework records every declared option with its value in
    :attr:`options` (the cache key), except the run-time-only ones in :attr:`runtime_options`.
    An option whose value names an existing file is recorded by the file's name, and the
    file's content digest (:func:`posebench.fileio.file_digest`) goes into :meth:`settings`;
    files a method finds by itself (default weights, a shipped config) are declared with
    :meth:`reads`. Nothing else is needed for a correct cache key.
    """

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

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is None or getattr(init, "_records_options", False):
            return

        @functools.wraps(init)
        def recording_init(self, *args: Any, **kw: Any) -> None:
            outer = not self.__dict__.get("_in_init", False)
            self.__dict__["_in_init"] = True
            try:
                init(self, *args, **kw)
            finally:
                if outer:
                    self.__dict__["_in_init"] = False
            if outer:
                bound = inspect.signature(init).bind(self, *args, **kw)
                bound.apply_defaults()
                params = inspect.signature(init).parameters
                declared = {k: v for k, v in bound.arguments.items()
                            if k != "self" and params[k].kind not in (params[k].VAR_KEYWORD, params[k].VAR_POSITIONAL)}
                defaults = {k: p.default for k, p in params.items() if p.default is not inspect.Parameter.empty}
                self.record_options(declared, defaults)

        recording_init._records_options = True  # type: ignore[attr-defined]
        cls.__init__ = recording_init  # type: ignore[method-assign]

    def record_options(self, values: dict[str, Any], defaults: dict[str, Any] | None = None) -> None:
        """Record the declared options ``values`` (called by the framework after creation).

        Run-time-only options are dropped; a value naming an existing file is recorded by its
        name and its content digest is added to the files read. ``defaults`` (option ->
        default) decide which options the display :meth:`label` shows."""
        from posebench.fileio import file_digest

        opts = dict(getattr(self, "options", {}))
        files = dict(self.__dict__.get("_files", {}))
        for key, value in values.items():
            if key in self.runtime_options:
                opts.pop(key, None)
                continue
            if isinstance(value, (str, Path)) and str(value) and _is_file(value):
                files[f"option:{key}"] = Path(value)
                file_digest(value)  # fail now, not later, if it cannot be read
                value = Path(value).name
            elif isinstance(value, Path):
                value = str(value)
            opts[key] = value
        self.options = opts
        self.__dict__["_files"] = files
        if defaults is not None:
            self.__dict__["_defaults"] = {**self.__dict__.get("_defaults", {}), **defaults}

    def reads(self, label: str, path: str | Path) -> None:
        """Declare a file the predictions depend on (weights, detector, config, face model);
        its content digest becomes part of :meth:`settings` (and so of the cache key)."""
        self.__dict__.setdefault("_files", {})[label] = Path(path)

    def file_digests(self) -> dict[str, str]:
        """``{label: SHA-256 (first 16 hex)}`` of every file the method reads."""
        from posebench.fileio import file_digest

        return {k: file_digest(p)[:16] for k, p in sorted(self.__dict__.get("_files", {}).items())}

    @property
    def weights_hash(self) -> str | None:
        """Content hash of the weights in use (part of the cache key), or None."""
        return None

    def settings(self) -> dict[str, Any]:
        """Everything that determines the predictions (cache key and run record): name,
        version, recorded options, weights hash and the digest of every file read."""
        out = {"method": self.name, "version": self.version, "options": self.options, "weights": self.weights_hash}
        files = self.file_digests()
        if files:
            out["files"] = files
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
        image: np.ndarray | None = None,
        *,
        box: Box | None = None,
        landmarks: np.ndarray | None = None,
        image_size: tuple[int, int] | None = None,
        model_3d: np.ndarray | None = None,
    ) -> Pose:
        """Pose of one face. Raises :class:`SampleFailure` when the face cannot be handled."""
        if image_size is None:
            if image is None:
                raise SampleFailure("image_size is needed when no image is given")
            image_size = (int(image.shape[1]), int(image.shape[0]))
        out = self.estimate_batch([FaceInput(image, image_size, box, landmarks, model_3d)])[0]
        if isinstance(out, SampleFailure):
            raise out
        return out

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


def bind_options(factory: Any, options: dict[str, Any], what: str) -> dict[str, Any]:
    """Kept for old importers: see :func:`posebench.options.bind_options` (only the given keys)."""
    from posebench.options import bind_options as bind

    bound = bind(factory, options, what)
    return {k: bound[k] for k in options}


def create_method(name: str, options: dict[str, Any] | None = None) -> Method:
    """Instantiate a registered method with (string) options, validated and coerced
    (same as ``posebench.registry.methods.create(name, options)``)."""
    from posebench.registry import methods

    return methods.create(name, options)


def _is_file(value: str | Path) -> bool:
    try:
        return Path(value).is_file()
    except (OSError, ValueError):
        return False
