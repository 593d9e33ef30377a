"""MediaPipe's facial transformation matrix: a port of its face-geometry pipeline
(``mediapipe/tasks/cc/vision/face_geometry/libs/geometry_pipeline.cc`` and ``procrustes_solver.cc``,
MediaPipe 0.10.21, Apache-2.0), checked against the mediapipe package's
``FaceGeometryPipelineCalculator`` (``tests/methods/test_mediapipe.py``).

:func:`read_metadata` reads ``geometry_pipeline_metadata_landmarks.pbtxt`` (MediaPipe's text
proto): the canonical face mesh (``vertex_buffer``, 5 floats per vertex ``x, y, z, u, v``, in
centimetres, y up, z towards the viewer, **in landmark order** -- unlike the
``canonical_face_model.obj`` found beside some copies) and the Procrustes weights
(``procrustes_landmark_basis``: 33 landmarks, the others weight 0).

:func:`pose_transform` (``ScreenToMetricSpaceConverter::Convert`` with origin top-left and the
perspective camera of MediaPipe's graphs: vertical FOV 63°, near 1): the screen landmarks are
mapped onto the near plane's frustum, a first weighted orthogonal Procrustes fit gives a scale,
z is re-centred and rescaled with it, x and y un-projected, a second fit refines the scale, the
landmarks are un-projected with the total scale and the last fit gives the 4x4 pose transform
(rotation times scale, translation in cm). Float32 throughout, as the C++ (Eigen ``float``).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from posebench.errors import SampleFailure, WeightsError

VERTICAL_FOV_DEGREES = 63.0
NEAR = 1.0
EPS = 1e-9  # procrustes_solver.cc's kAbsoluteErrorEps
COMPACT = 1e-3  # geometry_pipeline.cc's kIsScreenLandmarkListTooCompactThreshold


@dataclass(frozen=True)
class GeometryMetadata:
    """``canonical`` (3, N) float32 mesh in landmark order (cm) and ``weights`` (N,) float32;
    :attr:`source`, their :class:`ProcrustesSource` (computed once)."""

    canonical: np.ndarray
    weights: np.ndarray

    @functools.cached_property
    def source(self) -> ProcrustesSource:
        """The Procrustes source side of the canonical mesh and weights (every fit's sources)."""
        return procrustes_source(self.canonical, self.weights)


def read_metadata(path: str | Path) -> GeometryMetadata:
    """The canonical mesh and Procrustes weights of a ``geometry_pipeline_metadata*.pbtxt``;
    :class:`WeightsError` (one line) for a file that is not one."""
    p = Path(path)
    try:
        text = p.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise WeightsError(f"cannot read {p}: {getattr(exc, 'strerror', None) or exc}") from None
    if "input_source: FACE_LANDMARK_PIPELINE" not in text:
        raise WeightsError(f"{p.name} is not MediaPipe's geometry_pipeline_metadata_landmarks.pbtxt "
                           "(no 'input_source: FACE_LANDMARK_PIPELINE')")
    vertex_type = re.search(r"vertex_type:\s*(\w+)", text)
    if vertex_type is None or vertex_type.group(1) != "VERTEX_PT":
        raise WeightsError(f"{p.name}: expected canonical_mesh vertex_type VERTEX_PT")
    verts = np.array(re.findall(r"vertex_buffer:\s*([-+0-9.eE]+)", text), np.float32)
    if verts.size == 0 or verts.size % 5:
        raise WeightsError(f"{p.name}: canonical_mesh vertex_buffer holds {verts.size} values, not 5 per vertex")
    canonical = verts.reshape(-1, 5)[:, :3].T.copy()
    weights = np.zeros(canonical.shape[1], np.float32)
    for idx, w in re.findall(r"procrustes_landmark_basis\s*\{\s*landmark_id:\s*(\d+)\s+weight:\s*([-+0-9.eE]+)\s*\}", text):
        if int(idx) >= weights.size:
            raise WeightsError(f"{p.name}: procrustes landmark {idx} outside the mesh of {weights.size}")
        weights[int(idx)] = np.float32(w)
    if not np.any(weights > 0):
        raise WeightsError(f"{p.name}: no procrustes_landmark_basis weights")
    return GeometryMetadata(canonical, weights)


@dataclass(frozen=True)
class ProcrustesSource:
    """The source side of :func:`solve_weighted_orthogonal`, which depends on the sources and
    weights only (for MediaPipe, the canonical mesh: the same in every call): ``sqrt_w`` (N,),
    ``weighted`` (3, N) sources times ``sqrt_w``, ``total`` (sum of the weights), ``centred``
    (3, N) weighted sources less their weighted centre, ``denominator`` (``sum(centred * weighted)``),
    all float32 as ``procrustes_solver.cc`` computes them."""

    sqrt_w: np.ndarray
    weighted: np.ndarray
    total: np.float32
    centred: np.ndarray
    denominator: np.float32


def procrustes_source(sources: np.ndarray, weights: np.ndarray) -> ProcrustesSource:
    """:class:`ProcrustesSource` of (3, N) ``sources`` and (N,) ``weights``."""
    f = np.float32
    sqrt_w = np.sqrt(weights.astype(f))
    ws = sources * sqrt_w
    total = f((sqrt_w * sqrt_w).sum(dtype=f))
    centre = (ws * sqrt_w).sum(axis=1, dtype=f) / total
    centred = ws - centre[:, None] * sqrt_w[None, :]
    return ProcrustesSource(sqrt_w, ws, total, centred, f((centred * ws).sum(dtype=f)))


def solve_weighted_orthogonal(sources: np.ndarray, targets: np.ndarray, weights: np.ndarray,
                              source: ProcrustesSource | None = None) -> np.ndarray:
    """``FloatPrecisionProcrustesSolver::SolveWeightedOrthogonalProblem``: the 4x4 similarity
    (scale * rotation, translation) taking (3, N) ``sources`` to ``targets`` with point weights.
    ``source``: :func:`procrustes_source` of ``sources`` and ``weights`` when already computed."""
    f = np.float32
    src = procrustes_source(sources, weights) if source is None else source
    sqrt_w, ws, total, centred = src.sqrt_w, src.weighted, src.total, src.centred
    wt = targets * sqrt_w
    design = (wt @ centred.T).astype(f)
    if not float(np.linalg.norm(design)) > EPS:
        raise SampleFailure("MediaPipe geometry: design matrix norm too small")
    U, _, Vt = np.linalg.svd(design.astype(np.float64))
    U, Vt = U.astype(f), Vt.astype(f)
    if np.linalg.det(U) * np.linalg.det(Vt) < 0:
        U[:, 2] *= -1
    rotation = U @ Vt
    numerator = f(((rotation @ centred) * wt).sum(dtype=f))
    denominator = src.denominator
    if not denominator > EPS or not numerator / denominator > EPS:
        raise SampleFailure("MediaPipe geometry: scale too small")
    rs = (numerator / denominator) * rotation
    translation = ((wt - rs @ ws) * sqrt_w).sum(axis=1, dtype=f) / total
    out = np.eye(4, dtype=f)
    out[:3, :3], out[:3, 3] = rs, translation
    return out


def pose_transform(landmarks: np.ndarray, width: int, height: int, meta: GeometryMetadata) -> np.ndarray:
    """MediaPipe's 4x4 ``pose_transform_matrix`` (float32) of (N, 3) normalised landmarks (the first
    N of the mesh's points: the 468 of either model) in a ``width`` x ``height`` image. Its top-left
    3x3 is a rotation (times a scale near 1) applied to the canonical mesh (y up), i.e. in
    posebench's convention. :class:`SampleFailure` for degenerate landmarks."""
    f = np.float32
    lm = np.asarray(landmarks, f)[: meta.canonical.shape[1]]
    if lm.shape != (meta.canonical.shape[1], 3) or not np.all(np.isfinite(lm)):
        raise SampleFailure(f"MediaPipe geometry needs {meta.canonical.shape[1]} finite landmarks, got {lm.shape}")
    mean = lm[:, :2].mean(axis=0, dtype=f)
    if not float(np.sqrt(((lm[:, :2] - mean) ** 2).sum(axis=1, dtype=f).max())) > COMPACT:
        raise SampleFailure("MediaPipe geometry: the landmarks are too compact")
    height_at_near = f(2) * f(NEAR) * f(np.tan(f(0.5) * (f(np.pi) / f(180)) * f(VERTICAL_FOV_DEGREES)))
    width_at_near = f(width) * height_at_near / f(height)
    left, bottom = f(-0.5) * width_at_near, f(-0.5) * height_at_near
    x_scale, y_scale = width_at_near, height_at_near  # right - left, top - bottom
    screen = lm.T.copy()
    screen[1] = f(1) - screen[1]  # origin top-left
    screen *= np.array([x_scale, y_scale, x_scale], f)[:, None]
    screen += np.array([left, bottom, 0], f)[:, None]
    depth_offset = f(screen[2].mean(dtype=f))

    def rescale_z(points: np.ndarray, scale: np.float32) -> np.ndarray:
        out = points.copy()
        out[2] = (points[2] - depth_offset + f(NEAR)) / scale
        out[0] = out[0] * out[2] / f(NEAR)
        out[1] = out[1] * out[2] / f(NEAR)
        out[2] *= f(-1)  # change of handedness
        return out

    first = screen.copy()
    first[2] *= f(-1)
    s1 = f(np.linalg.norm(solve_weighted_orthogonal(meta.canonical, first, meta.weights, meta.source)[:3, 0]))
    s2 = f(np.linalg.norm(solve_weighted_orthogonal(meta.canonical, rescale_z(screen, s1), meta.weights, meta.source)[:3, 0]))
    metric = rescale_z(screen, f(s1 * s2))
    return solve_weighted_orthogonal(meta.canonical, metric, meta.weights, meta.source)
