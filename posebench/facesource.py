"""Where an image method's face comes from: one component that every image method uses.

A method's ``box`` option names the face source (see :mod:`posebench.detect`):

* ``gt``: the protocol's box (the sample's ``box``); a sample without one is a recorded failure;
* ``auto``: the protocol's box where the sample has one, else the default detector's face
  (:func:`posebench.detect.default_detector_name`: YuNet when installed, else dlib's HOG);
* any registered detector (``dlib-hog``, ``dlib-cnn``, ``yunet``, or a plugin's): that detector's
  face, always.

``detector_model`` is the detector's ``model`` file and ``upsample`` its pyramid levels, where
the detector declares those options. :meth:`FaceSource.find` returns the face box in image pixels
``(x_min, y_min, x_max, y_max)`` with its source (``""`` = the protocol's box, else the name of
the detector that found it); the method then grows it by its own crop rule (a detector's box and a
protocol box are grown differently; :meth:`FaceSource.reference_scale` is a detector's declared
calibration).

A method builds its face source with :meth:`posebench.method.Method.use_face_source`; the
framework then puts the source's name, its detector's options and the digest of every file the
detector reads into the method's cache key (:meth:`posebench.method.Method.identity`), so no
method can leave them out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from posebench.crop import Box
from posebench.detect import (
    DEFAULT_REFERENCE_SCALE,
    PROTOCOL_MODES,
    FaceDetector,
    check_box_mode,
    default_detector_name,
    detector_options,
    find_face,
    make_detector,
)
from posebench.registry import detectors


class FaceSource:
    """The face of one image under ``box`` (see the module doc). The detector is built now when
    ``box`` names one (a bad ``detector_model`` fails at creation, in one line), else on first
    need (``auto`` builds none while every sample has a protocol box). Picklable: a worker
    process builds its own detector."""

    def __init__(self, box: str = "auto", detector_model: str = "", upsample: int | None = None):
        self.box = check_box_mode(box)
        self.detector_model = str(detector_model or "")
        self.upsample = None if upsample is None else int(upsample)
        self._detector: FaceDetector | None = None
        if box not in PROTOCOL_MODES:
            self._detector = self._build()

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_detector": None}

    @property
    def detector_name(self) -> str:
        """The detector a face without a protocol box goes to: ``box``'s, or for ``auto`` and
        ``gt`` the default rule's (``gt`` uses it only for :meth:`Method.estimate_faces`)."""
        return default_detector_name(self.detector_model or None) if self.box in PROTOCOL_MODES else self.box

    def _build(self) -> FaceDetector:
        if self.box in PROTOCOL_MODES:
            return make_detector("auto", self.detector_model or None)
        return make_detector(self.box, self.detector_model or None, 1 if self.upsample is None else self.upsample)

    def detector(self) -> FaceDetector:
        """The detector (built on first call)."""
        if self._detector is None:
            self._detector = self._build()
        return self._detector

    def find(self, image: np.ndarray, protocol_box: Box | None, box_source: str = "") -> tuple[Box, str]:
        """The face box of an RGB image and its source (``""``: the protocol's box, else the
        detector's name); see :func:`posebench.detect.find_face` (``box_source`` naming a
        detector: ``protocol_box`` already is its detection). :class:`SampleFailure` when none."""
        return find_face(image, self.box, self.detector, protocol_box, box_source)

    def reference_scale(self, source: str) -> float:
        """The calibration declared by detector ``source`` (``reference_scale``; see
        :mod:`posebench.detect`); face-alignment's 195 for a detector that declares none."""
        entry = detectors.get(source)
        return float(getattr(entry.factory, "reference_scale", DEFAULT_REFERENCE_SCALE))

    # -- what the cache key holds -------------------------------------------------------------
    def _keyed_detector(self) -> str | None:
        """The detector a run may use: none for ``gt`` (a sample without a box fails)."""
        return None if self.box == "gt" else self.detector_name

    def _bound(self, name: str) -> dict[str, Any]:
        upsample = 1 if self.upsample is None or self.box in PROTOCOL_MODES else self.upsample
        return detectors.bind(name, detector_options(name, self.detector_model or None, upsample))

    def files(self) -> dict[str, Path]:
        """``{label: path}`` of the files the detector reads (``detector``; ``detector LABEL``
        when it declares several)."""
        name = self._keyed_detector()
        if name is None:
            return {}
        declared = getattr(detectors.get(name).factory, "files", None)
        found = dict(declared(self._bound(name))) if callable(declared) else {}
        return {("detector" if label == "model" else f"detector {label}"): Path(p) for label, p in found.items()}

    def identity(self) -> dict[str, Any]:
        """The face source in the cache key: ``box``, the ``detector`` a run may use and its
        options (a file option by its file name; the bytes are in :meth:`files`)."""
        name = self._keyed_detector()
        if name is None:
            return {"box": self.box}
        opts = {k: (Path(v).name if k == "model" and v else v) for k, v in self._bound(name).items()}
        return {"box": self.box, "detector": name, "options": opts}


def bare_photo_source(method: Any) -> FaceSource:
    """The face source that finds the faces of a bare photo or video frame for ``method`` (a
    :class:`posebench.method.Method`): the method's own (its ``box=`` detector, or for ``box=auto``
    the default rule's) unless it is ``box=gt`` or the method has none; then the default rule's,
    ``FaceSource("auto")`` with the method's ``detector_model`` where it has one. The same rule as
    :meth:`posebench.method.Method.face_detector`; ``posebench predict``, ``draw`` and ``video``
    use it."""
    own = getattr(method, "face_source", None)
    if own is not None and own.box != "gt":
        return own
    model = (own.detector_model if own is not None else "") or str(getattr(method, "detector_model", "") or "")
    return FaceSource("auto", model)
