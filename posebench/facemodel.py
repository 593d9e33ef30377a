"""68-point 3D face models in the y-up model frame (x right in the image, y up, z to the viewer).

``default_face()`` is posebench's own mean face (``posebench/data/face68.npz``, built by
``scripts/build_face_model.py`` from the AFLW2000-3D labels), in millimetres, with its origin
where the Basel face model (``u_base.txt``, with which the labels were made) has its origin:
inside the head, about 93 mm behind the landmarks' centroid (OpenCV's iterative solver depends
on the origin; rotation does not). ``load_face(path)``
reads a text file of 204 values (x, y, z interleaved) such as the Basel ``u_base.txt``, or a
``.npy``/``.npz`` 68x3 array; ``stretch_face`` scales width/height for the mean-face study.

**One file, one model.** A face file's units must not change a pose, but OpenCV's iterative
solver starts from a DLT on un-normalised points, so the same face in micrometres and in
millimetres can land in different solutions. :func:`load_face` therefore rescales every loaded
face uniformly about its stored origin to the size of posebench's face (:func:`normalise_scale`:
RMS distance of the 68 points from their centroid = that of :func:`default_face`), and every
command (``run``, ``study``, ``bench``) gets its faces from it: a file means one model wherever
it is used, and any uniform scale of the file gives the same model (to rounding) and the same
predictions. :func:`read_face_file` keeps the stored units (for the solver study's
``units=stored`` demonstration only).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

import numpy as np

from posebench.errors import DataError
from posebench.fileio import existing_file


@dataclass(frozen=True)
class ShapeModel:
    """Mean face (68x3, mm) plus principal components (k x 68 x 3) and their std-devs (mm)."""

    mean: np.ndarray
    components: np.ndarray
    stddev: np.ndarray

    @property
    def centroid(self) -> np.ndarray:
        """The mean face's landmark centroid (mm, in the model frame; the origin is the Basel one)."""
        return self.mean.mean(axis=0)

    def sample(self, rng: np.random.Generator, scale: float = 1.0) -> np.ndarray:
        """A random face: mean + sum_k c_k * stddev_k * component_k with c_k ~ N(0, scale^2)."""
        c = rng.standard_normal(len(self.stddev)) * scale * self.stddev
        return self.mean + np.tensordot(c, self.components, axes=1)


@lru_cache(maxsize=1)
def shape_model() -> ShapeModel:
    """posebench's own 68-point shape model (mm)."""
    with files("posebench.data").joinpath("face68.npz").open("rb") as fh:
        d = np.load(fh)
        return ShapeModel(d["mean"].copy(), d["components"].copy(), d["stddev"].copy())


def default_face() -> np.ndarray:
    """posebench's mean face, 68x3 in mm, y-up model frame."""
    return shape_model().mean.copy()


def rms_radius(face: np.ndarray) -> float:
    """RMS distance of a face's points from their centroid (its units), for a 68x3 face."""
    f = np.asarray(face, float).reshape(-1, 3)
    return float(np.sqrt(np.mean(np.sum((f - f.mean(axis=0)) ** 2, axis=-1))))


@lru_cache(maxsize=1)
def _reference_rms() -> float:
    return rms_radius(shape_model().mean)


def normalise_scale(face: np.ndarray) -> np.ndarray:
    """``face`` (68x3) scaled uniformly about its origin so that its RMS radius equals
    posebench's mean face's: the file's units (mm, micrometres, metres) are gone. The result is
    rounded to 1e-9 (far below any landmark's precision) so that the same face stored at any
    scale gives bit-identical models, hence identical solver runs. Raises :class:`DataError` for
    a face with no extent."""
    f = np.asarray(face, float)
    r = rms_radius(f)
    if not (np.isfinite(r) and r > 0):
        raise DataError("face model has no extent (all points coincide)")
    return np.round(f * (_reference_rms() / r), 9)


def load_face(path: str | Path) -> np.ndarray:
    """Read a 68-point face (68x3, y-up model frame) from a text, ``.npy`` or ``.npz`` file,
    scaled to posebench's size by :func:`normalise_scale` (origin kept).

    Text files hold 204 numbers, x, y, z interleaved (the ``u_base.txt`` layout). The stored units
    do not matter: the same face in any units gives the same model. Raises :class:`DataError`.
    """
    return normalise_scale(read_face_file(path))


def read_face_file(path: str | Path) -> np.ndarray:
    """A face file as stored (68x3, the file's units); see :func:`load_face` for the one every
    command uses. Raises :class:`DataError` naming the file when it is not 68x3 finite values."""
    p = existing_file(path, "face model file", DataError)
    try:
        if p.suffix == ".npy":
            arr = np.load(p)
        elif p.suffix == ".npz":
            with np.load(p) as d:
                arr = d["mean"] if "mean" in d else d[list(d.keys())[0]]
        else:
            arr = np.loadtxt(p)
    except Exception as exc:
        raise DataError(f"cannot read face model {p}: {exc}") from None
    arr = np.asarray(arr, dtype=float)
    if arr.size != 204 or not np.all(np.isfinite(arr)):
        raise DataError(f"face model {p} must hold 68x3 finite values, found {arr.size}")
    return arr.reshape(68, 3)


def resolve_face(spec: str | None, units: str = "normalised") -> np.ndarray:
    """``None``/``"default"`` -> posebench's face; anything else is a path for :func:`load_face`
    (``units="stored"``: :func:`read_face_file`, the file's own units)."""
    if spec in (None, "", "default", "posebench"):
        return default_face()
    return read_face_file(spec) if units == "stored" else load_face(spec)


def stretch_face(face: np.ndarray, width: float = 0.0, height: float = 0.0) -> np.ndarray:
    """Stretch a face (68 x 3, or B x 68 x 3) about its centroid: x by ``1 + width``, y by
    ``1 + height`` (0.4 = +40%). The paper's Figure 5 manipulation."""
    f = np.asarray(face, float)
    if not width and not height:  # stretch 0 is the face bit for bit
        return f.copy()
    c = f.mean(axis=-2, keepdims=True)
    return (f - c) * np.array([1.0 + width, 1.0 + height, 1.0]) + c


def face_label(spec: str | Path) -> str:
    """How a face option is recorded and shown: ``default``/``posebench``/``exact`` as given, a
    file by its name (its content is hashed separately)."""
    spec = str(spec)
    return spec if spec in ("default", "exact", "posebench") else Path(spec).name
