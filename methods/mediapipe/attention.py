"""MediaPipe's 478-point face landmark model with attention (``face_landmark_with_attention.tflite``)
on plain LiteRT: its three MediaPipe custom operators done in numpy between runs of the rest of the
graph, then MediaPipe's refinement of the mesh by the lips, eyes and irises. Checked against the
mediapipe package (``tests/methods/test_mediapipe.py``: landmarks within 0.05 px).

The model holds 11 custom operators that only the mediapipe package's own runtime registers
(LiteRT's Python ``Interpreter`` cannot take operators written in Python: its
``InterpreterWithCustomOps`` wants compiled registration functions). Their MediaPipe 0.10.21
sources (``mediapipe/util/tflite/operations/``, Apache-2.0), re-written here in float32 numpy:

* ``Landmarks2TransformMatrix`` v2 (3: lips, left eye, right eye; ``landmarks_to_transform_matrix.cc``):
  rotation ``target - atan2(yR - yL, xR - xL)`` from two landmarks, the subset's landmarks
  rotated by it, their bounding box, its centre rotated back, and the 4x4 matrix
  ``shift(centre) . rotate(-r) . scale(scale * size / output) . shift(-output / 2)``;
* ``TransformTensorBilinear`` v2 (3: a 16x16 crop of the 48x48x32 feature map by each matrix;
  ``transform_tensor_bilinear.cc``): the matrix with the align-corners correction
  ``t3 += 0.5 t0 + 0.5 t1 - 0.5``, bilinear reads, zero outside the map and for points beyond it;
* ``TransformLandmarks`` v2 (5: the refined lips, eyes and irises back to the 192x192 crop;
  ``transform_landmarks.cc``): the 2D points times the matrix's first two rows.

:func:`split_graph` removes the custom operators from the flatbuffer (LiteRT's own
``schema_py_generated`` object API): their outputs become inputs of the graph and their inputs
outputs. :class:`AttentionMesh` runs it three times per face -- the custom operators' inputs of
each stage depend only on the stages before -- with the numpy operators between the runs.

:func:`refine` is ``tensors_to_face_landmarks_with_attention.pbtxt``'s
``LandmarksRefinementCalculator``: the 468 mesh points (x, y, z), the lips' 80 and each eye's 71
points replacing x and y of the mesh points listed there, and each iris's 5 points appended as
points 468-477 with z the mean z of its eye's 16 contour points.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from posebench.detect import NO_FACE
from posebench.errors import SampleFailure, WeightsError
from posebench.litert import _interpreter_class, rotated_rect_to_tensor

from .landmarks import INPUT_SIZE, PRESENCE_THRESHOLD, NormRect, project_normalized

f32 = np.float32
NUM_POINTS = 478
#: The operators :func:`split_graph` replaces, and how many of each the model has.
CUSTOM_OPS = {"Landmarks2TransformMatrix": 3, "TransformTensorBilinear": 3, "TransformLandmarks": 5}

# tensors_to_face_landmarks_with_attention.pbtxt (MediaPipe 0.10.21): mesh indices the lips and eyes refine.
LIPS = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 185, 40, 39, 37, 0, 267, 269, 270, 409, 78, 95, 88, 178, 87,
        14, 317, 402, 318, 324, 308, 191, 80, 81, 82, 13, 312, 311, 310, 415, 76, 77, 90, 180, 85, 16, 315, 404, 320, 307,
        306, 184, 74, 73, 72, 11, 302, 303, 304, 408, 62, 96, 89, 179, 86, 15, 316, 403, 319, 325, 292, 183, 42, 41, 38,
        12, 268, 271, 272, 407)
LEFT_EYE = (33, 7, 163, 144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157, 173, 130, 25, 110, 24, 23, 22, 26,
            112, 243, 247, 30, 29, 27, 28, 56, 190, 226, 31, 228, 229, 230, 231, 232, 233, 244, 113, 225, 224, 223, 222,
            221, 189, 35, 124, 46, 53, 52, 65, 143, 111, 117, 118, 119, 120, 121, 128, 245, 156, 70, 63, 105, 66, 107, 55,
            193)
RIGHT_EYE = (263, 249, 390, 373, 374, 380, 381, 382, 362, 466, 388, 387, 386, 385, 384, 398, 359, 255, 339, 254, 253, 252,
             256, 341, 463, 467, 260, 259, 257, 258, 286, 414, 446, 261, 448, 449, 450, 451, 452, 453, 464, 342, 445, 444,
             443, 442, 441, 413, 265, 353, 276, 283, 282, 295, 372, 340, 346, 347, 348, 349, 350, 357, 465, 383, 300, 293,
             334, 296, 336, 285, 417)
EYE_CONTOUR = 16  # the first 16 eye points (lower and upper contour): their mean z is the iris's z


@dataclass(frozen=True)
class CustomOp:
    """One removed operator: its name, input and output tensor indices and options (FlexBuffers map)."""

    name: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: dict


def split_graph(content: bytes, name: str = "model") -> tuple[bytes, list[CustomOp], list[int], list[int]]:
    """The model without its custom operators (their outputs made graph inputs, their inputs graph
    outputs), the operators removed, and the original graph inputs and outputs. :class:`WeightsError`
    (one line) unless the custom operators are exactly :data:`CUSTOM_OPS`."""
    try:  # flatbuffers: LiteRT's own dependency (its schema module is generated for it)
        import flatbuffers
        from ai_edge_litert import schema_py_generated as schema
        from flatbuffers import flexbuffers
    except ImportError:
        from posebench.litert import INSTALL_HINT

        raise WeightsError(f"MediaPipe's .tflite models need Google's LiteRT runtime: {INSTALL_HINT}") from None
    try:
        model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(content, 0))
    except Exception as exc:  # a file that is no flatbuffer fails in many ways
        raise WeightsError(f"{name} is not a TFLite model: {type(exc).__name__}") from None
    if len(model.subgraphs or []) != 1:
        raise WeightsError(f"{name} is not MediaPipe's attention face landmark model (expected one subgraph)")
    graph = model.subgraphs[0]
    kept, customs = [], []
    for op in graph.operators:
        code = model.operatorCodes[op.opcodeIndex]
        if max(code.builtinCode, code.deprecatedBuiltinCode) == schema.BuiltinOperator.CUSTOM:
            raw = bytes(op.customOptions) if op.customOptions is not None and len(op.customOptions) else b""
            customs.append(CustomOp(code.customCode.decode(), tuple(int(i) for i in op.inputs),
                                    tuple(int(i) for i in op.outputs), dict(flexbuffers.Loads(raw)) if raw else {}))
        else:
            kept.append(op)
    found = {n: sum(c.name == n for c in customs) for n in {c.name for c in customs}}
    if found != CUSTOM_OPS:
        raise WeightsError(f"{name} is not MediaPipe's attention face landmark model (custom operators {found or 'none'}, "
                           f"expected {CUSTOM_OPS})")
    inputs, outputs = [int(i) for i in graph.inputs], [int(i) for i in graph.outputs]
    graph.operators = kept
    graph.inputs = inputs + [o for c in customs for o in c.outputs]
    graph.outputs = outputs + sorted({i for c in customs for i in c.inputs} - set(outputs))
    builder = flatbuffers.Builder(len(content) + 4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output()), customs, inputs, outputs


def _mat4_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``Mat4::operator*=``: float32, each entry summed over k in order from 0."""
    out = np.zeros((4, 4), f32)
    for k in range(4):
        out = (out + a[:, k : k + 1] * b[k : k + 1, :]).astype(f32)
    return out


def landmarks_to_transform_matrix(landmarks: np.ndarray, options: dict) -> np.ndarray:
    """``Landmarks2TransformMatrix`` v2 of (1, N, 3) float32 landmarks: the (1, 4, 4) matrix."""
    lm = np.asarray(landmarks, f32).reshape(-1, 3)
    left, right = lm[int(options["left_rotation_idx"])], lm[int(options["right_rotation_idx"])]
    rotation = f32(options.get("target_rotation_radians", 0.0)) - f32(np.arctan2(right[1] - left[1], right[0] - left[0]))
    pts = lm[np.asarray(options["subset_idxs"], int).ravel()][:, :2]
    c, s = f32(np.cos(rotation)), f32(np.sin(rotation))
    rx = ((f32(0) + c * pts[:, 0]) + (-s) * pts[:, 1]) + f32(0)
    ry = ((f32(0) + s * pts[:, 0]) + c * pts[:, 1]) + f32(0)
    width, height = f32(rx.max() - rx.min()), f32(ry.max() - ry.min())
    mx, my = (rx.min() + rx.max()) / f32(2), (ry.min() + ry.max()) / f32(2)
    ci, si = f32(np.cos(-rotation)), f32(np.sin(-rotation))
    cx = ((f32(0) + ci * mx) + (-si) * my) + f32(0)
    cy = ((f32(0) + si * mx) + ci * my) + f32(0)
    out_w, out_h = int(options["output_width"]), int(options["output_height"])
    shift = np.eye(4, dtype=f32)
    shift[0, 3], shift[1, 3] = cx, cy
    c2, s2 = f32(np.cos(-rotation)), f32(np.sin(-rotation))
    rotate = np.eye(4, dtype=f32)
    rotate[:2, :2] = [[c2, -s2], [s2, c2]]
    scale = np.eye(4, dtype=f32)
    scale[0, 0] = f32(options["scale_x"]) * width / f32(out_w)
    scale[1, 1] = f32(options["scale_y"]) * height / f32(out_h)
    shift2 = np.eye(4, dtype=f32)
    shift2[0, 3], shift2[1, 3] = f32(-(out_w / 2.0)), f32(-(out_h / 2.0))
    t = _mat4_mul(np.eye(4, dtype=f32), shift)
    for m in (rotate, scale, shift2):
        t = _mat4_mul(t, m)
    return t[None]


def transform_tensor_bilinear(data: np.ndarray, matrix: np.ndarray, options: dict) -> np.ndarray:
    """``TransformTensorBilinear`` v2: the (1, out_h, out_w, C) crop of a (1, H, W, C) float32
    tensor by a (1, 4, 4) matrix (destination pixel -> source pixel, align-corners corrected)."""
    src = np.asarray(data, f32)[0]
    H, W, _ = src.shape
    m = np.asarray(matrix, f32).reshape(4, 4)
    xt, yt = m[0].copy(), m[1].copy()
    xt[3] = f32(float(xt[3]) + (float(xt[0]) * 0.5 + float(xt[1]) * 0.5 - 0.5))  # C++: float + double
    yt[3] = f32(float(yt[3]) + (float(yt[0]) * 0.5 + float(yt[1]) * 0.5 - 0.5))
    oy, ox = (a.astype(f32) for a in np.mgrid[0 : int(options["output_height"]), 0 : int(options["output_width"])])
    tx = ((xt[0] * ox + xt[1] * oy) + xt[2] * f32(0)) + xt[3]
    ty = ((yt[0] * ox + yt[1] * oy) + yt[2] * f32(0)) + yt[3]
    outside = (tx < 0) | (tx > W - 1) | (ty < 0) | (ty > H - 1)
    fx, fy = np.floor(tx), np.floor(ty)

    def read(h: np.ndarray, w: np.ndarray) -> np.ndarray:
        h, w = h.astype(np.int64), w.astype(np.int64)
        inside = (h >= 0) & (w >= 0) & (h < H) & (w < W)
        return np.where(inside[..., None], src[np.clip(h, 0, H - 1), np.clip(w, 0, W - 1)], f32(0))

    q11, q21, q12, q22 = read(fy, fx), read(fy, fx + 1), read(fy + 1, fx), read(fy + 1, fx + 1)
    right, lower_c = (tx - fx)[..., None], (ty - fy)[..., None]
    upper = ((1.0 - right.astype(np.float64)) * q11 + right * q21).astype(f32)  # C++: 1.0 is a double
    lower = ((1.0 - right.astype(np.float64)) * q12 + right * q22).astype(f32)
    out = (lower_c * lower + (1.0 - lower_c.astype(np.float64)) * upper).astype(f32)
    out[outside] = 0
    return out[None]


def transform_landmarks(landmarks: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """``TransformLandmarks`` v2 of (1, N, 2) float32 points by a (1, 4, 4) matrix: (1, N, 2)."""
    p = np.asarray(landmarks, f32)[0]
    m = np.asarray(matrix, f32).reshape(4, 4)
    x = ((m[0, 0] * p[:, 0] + m[0, 1] * p[:, 1]) + m[0, 2] * f32(0)) + m[0, 3]
    y = ((m[1, 0] * p[:, 0] + m[1, 1] * p[:, 1]) + m[1, 2] * f32(0)) + m[1, 3]
    return np.stack([x, y], axis=1).astype(f32)[None]


def refine(mesh: np.ndarray, lips: np.ndarray, left_eye: np.ndarray, right_eye: np.ndarray, left_iris: np.ndarray,
           right_iris: np.ndarray) -> np.ndarray:
    """``LandmarksRefinementCalculator`` of the model's raw outputs (192x192 tensor pixels): (478, 3)
    float32 landmarks normalised to the crop (x, y, z divided by 192, as ``TensorsToLandmarksCalculator``)."""
    size = f32(INPUT_SIZE)
    out = np.zeros((NUM_POINTS, 3), f32)
    out[:468] = np.asarray(mesh, f32).reshape(468, 3) / size
    for raw, idx in ((lips, LIPS), (left_eye, LEFT_EYE), (right_eye, RIGHT_EYE)):
        out[list(idx), :2] = np.asarray(raw, f32).reshape(len(idx), 2) / size
    for raw, first, eye in ((left_iris, 468, LEFT_EYE), (right_iris, 473, RIGHT_EYE)):
        out[first : first + 5, :2] = np.asarray(raw, f32).reshape(5, 2) / size
        out[first : first + 5, 2] = out[list(eye[:EYE_CONTOUR]), 2].mean(dtype=f32)
    return out


class AttentionMesh:
    """``face_landmark_with_attention.tflite`` on LiteRT: :meth:`landmarks` of one ROI, as
    :class:`.landmarks.FaceMesh` (478 points). One interpreter per thread."""

    def __init__(self, model_path: str | Path, threads: int = 1):
        self.path, self.threads = Path(model_path), max(1, int(threads))
        try:
            content = self.path.read_bytes()
        except OSError as exc:
            raise WeightsError(f"cannot read {self.path}: {exc.strerror or exc}") from None
        self.content, self.customs, self.inputs, self.outputs = split_graph(content, self.path.name)
        self._local = threading.local()
        it = self._interpreter()
        shapes = {d["index"]: tuple(int(v) for v in d["shape"]) for d in it.get_output_details()}
        sizes = [int(np.prod(shapes[i])) for i in self.outputs]
        if tuple(int(v) for v in it.get_input_details()[0]["shape"]) != (1, INPUT_SIZE, INPUT_SIZE, 3) or sizes != [
                1404, 160, 142, 142, 10, 10, 1]:
            raise WeightsError(f"{self.path.name} is not MediaPipe's attention face landmark model (outputs {sizes})")

    def __getstate__(self) -> dict:
        return {"path": self.path, "threads": self.threads, "content": self.content, "customs": self.customs,
                "inputs": self.inputs, "outputs": self.outputs}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._local = threading.local()

    def _interpreter(self):
        it = getattr(self._local, "it", None)
        if it is None:
            try:
                it = _interpreter_class()(model_content=self.content, num_threads=self.threads)
                it.allocate_tensors()
            except (ValueError, RuntimeError) as exc:
                raise WeightsError(f"{self.path.name}: LiteRT cannot run its graph: {' '.join(str(exc).split())[:160]}") from None
            self._local.it = it
            self._local.shapes = {d["index"]: tuple(d["shape"]) for d in it.get_input_details()}
        return it

    def raw_outputs(self, x: np.ndarray) -> list[np.ndarray]:
        """The model's 7 outputs (mesh, lips, left eye, right eye, left iris, right iris, face flag)
        for one (1, 192, 192, 3) float32 input: three runs of the graph, the custom operators
        between them (run 1 gives the matrices' landmarks and the feature map, run 2 the refined
        points in crop coordinates, run 3 the outputs)."""
        it = self._interpreter()
        shapes = self._local.shapes
        values = {i: np.zeros(shapes[i], f32) for c in self.customs for i in c.outputs}
        values[self.inputs[0]] = np.ascontiguousarray(x, f32).reshape(shapes[self.inputs[0]])

        def run() -> None:
            for i, v in values.items():
                it.set_tensor(i, v)
            it.invoke()

        def ops(name: str) -> list[CustomOp]:
            return [c for c in self.customs if c.name == name]

        run()
        for c in ops("Landmarks2TransformMatrix"):
            values[c.outputs[0]] = landmarks_to_transform_matrix(it.get_tensor(c.inputs[0]), c.options)
        for c in ops("TransformTensorBilinear"):
            values[c.outputs[0]] = transform_tensor_bilinear(it.get_tensor(c.inputs[0]), values[c.inputs[1]], c.options)
        run()
        for c in ops("TransformLandmarks"):
            values[c.outputs[0]] = transform_landmarks(it.get_tensor(c.inputs[0]), it.get_tensor(c.inputs[1]))
        run()
        return [it.get_tensor(i) for i in self.outputs]

    def landmarks(self, image: np.ndarray, roi: NormRect) -> tuple[np.ndarray, float]:
        """(478, 3) normalised landmarks and the face-presence score, as :meth:`FaceMesh.landmarks`."""
        h, w = image.shape[:2]
        x = rotated_rect_to_tensor(image, roi.pixels(w, h), INPUT_SIZE, INPUT_SIZE, (0.0, 1.0), border="replicate")
        outs = self.raw_outputs(x[None])
        with np.errstate(over="ignore"):
            presence = float(f32(1) / (f32(1) + np.exp(-f32(outs[6].ravel()[0]))))
        if not presence >= PRESENCE_THRESHOLD:
            raise SampleFailure(NO_FACE)
        return project_normalized(refine(*outs[:6]), roi), presence
