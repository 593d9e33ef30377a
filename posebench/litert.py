"""Running MediaPipe's ``.tflite`` models: Google's LiteRT interpreter and MediaPipe's
``ImageToTensorCalculator`` (its CPU/OpenCV path), shared by the MediaPipe face detector
(:mod:`posebench.blazeface`) and the ``mediapipe`` method.

LiteRT (``ai-edge-litert`` on PyPI, Apache-2.0; the successor of ``tflite-runtime``) is an optional
extra: ``pip install posebench[mediapipe]``. Without it, :func:`interpreter` raises one line
(:class:`~posebench.errors.WeightsError`) saying so. A model with MediaPipe's own custom operators
(``face_landmark_with_attention.tflite``: ``Landmarks2TransformMatrix``, ``TransformTensorBilinear``,
``TransformLandmarks``, compiled into the mediapipe package only) is refused in one line as well;
the ``mediapipe`` method runs that model by :mod:`posebench.methods.mediapipe.attention`.

:func:`rotated_rect_to_tensor` is ``ImageToTensorCalculator`` on a rotated rectangle (MediaPipe
0.10.21, ``image_to_tensor_converter_opencv.cc``): the rectangle's corners by ``cv::boxPoints``
(angle = rotation in degrees), ``cv::getPerspectiveTransform`` onto the tensor's corners
``(0, H), (0, 0), (W, 0), (W, H)``, ``cv::warpPerspective`` of the **uint8** image with
``INTER_LINEAR`` and the calculator's border mode (:func:`warp_perspective_u8`: OpenCV's own
fixed-point arithmetic, as MediaPipe's OpenCV computes it), then ``convertTo`` float32 with
``scale = (max - min) / 255``, ``offset = min``. Images are RGB uint8 HxWx3 (MediaPipe's SRGB
input); rectangles are in image pixels, rotation in radians (MediaPipe's ``RotatedRect``).
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from posebench.errors import WeightsError

INSTALL_HINT = "install LiteRT: pip install 'posebench[mediapipe]' (or pip install ai-edge-litert)"


@dataclass(frozen=True)
class RotatedRect:
    """MediaPipe's ``RotatedRect``: centre, size (pixels) and rotation (radians, counter-clockwise
    on screen as MediaPipe's rotation; ``cv::RotatedRect`` takes it in degrees)."""

    center_x: float
    center_y: float
    width: float
    height: float
    rotation: float = 0.0


def _interpreter_class():
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:  # the older name of the same runtime
            from tflite_runtime.interpreter import Interpreter  # type: ignore[no-redef]
        except ImportError:
            raise WeightsError(f"MediaPipe's .tflite models need Google's LiteRT runtime: {INSTALL_HINT}") from None
    return Interpreter


class TFLiteModel:
    """One ``.tflite`` model on LiteRT's CPU interpreter (one interpreter per thread: an
    interpreter keeps state). ``__call__(x)`` runs one float32 input of the model's input shape
    and returns the outputs in the model's output order. :class:`WeightsError` (one line) when the
    runtime is absent or the file is no model it can run."""

    def __init__(self, path: str | Path, threads: int = 1):
        self.path, self.threads = Path(path), max(1, int(threads))
        self._local = threading.local()
        it = self._interpreter()
        self.input_shape = tuple(int(v) for v in it.get_input_details()[0]["shape"])
        self.output_shapes = [tuple(int(v) for v in d["shape"]) for d in it.get_output_details()]

    def __getstate__(self) -> dict:
        return {"path": self.path, "threads": self.threads, "input_shape": self.input_shape, "output_shapes": self.output_shapes}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._local = threading.local()

    def _interpreter(self):
        it = getattr(self._local, "it", None)
        if it is None:
            Interpreter = _interpreter_class()
            try:
                it = Interpreter(model_path=str(self.path), num_threads=self.threads)
                it.allocate_tensors()
            except (ValueError, RuntimeError) as exc:
                text = " ".join(str(exc).split())
                if "custom op" in text:
                    op = text.split("custom op:", 1)[-1].split(".")[0].strip()
                    raise WeightsError(f"{self.path.name} needs MediaPipe's custom operator {op}, which LiteRT does not have "
                                       "(only the mediapipe package's own runtime does; for MediaPipe's attention model "
                                       "use the mediapipe method's -o variant=attention)") from None
                raise WeightsError(f"{self.path.name} is not a TFLite model LiteRT can run: {text[:160]}") from None
            self._local.it = it
            self._local.io = (it.get_input_details()[0]["index"], [d["index"] for d in it.get_output_details()])
        return it

    def __call__(self, x: np.ndarray) -> list[np.ndarray]:
        it = self._interpreter()
        inp, outs = self._local.io  # the tensor indices, read once per interpreter
        it.set_tensor(inp, np.ascontiguousarray(x, np.float32).reshape(self.input_shape))
        it.invoke()
        return [it.get_tensor(i) for i in outs]  # get_tensor returns a copy: the caller owns it


INTER_BITS = 5  # OpenCV's sub-pixel bits for warps (INTER_TAB_SIZE = 32)


def warp_perspective_u8(image: np.ndarray, matrix: np.ndarray, width: int, height: int, border: str = "replicate") -> np.ndarray:
    """``cv::warpPerspective(INTER_LINEAR)`` of a uint8 HxWxC image as OpenCV computed it up to
    4.10, the version MediaPipe's wheels are built with: each destination pixel's source point
    ``inv(matrix) @ (x, y, 1)`` in double, rounded to 1/32 pixel (``saturate_cast<int>`` of
    ``32 * X / W``), then OpenCV's fixed-point bilinear ``remap`` (weights in units of 2^-15,
    ``(sum + 2^14) >> 15``), which ``cv2.remap`` still runs when given the integer maps
    (``CV_16SC2`` coordinates + ``CV_16UC1`` sub-pixel index) that 4.10's warp built itself.
    (OpenCV 4.11 and later warp in float instead, which moves values by a grey level and
    MediaPipe's detections by up to a pixel; hence this port.) ``border``: ``replicate`` or
    ``zero`` (``BORDER_CONSTANT``, 0)."""
    import cv2

    m = np.ascontiguousarray(matrix, np.float64)
    xy, alpha = _warp_maps(m.tobytes(), int(width), int(height))
    mode = cv2.BORDER_REPLICATE if border == "replicate" else cv2.BORDER_CONSTANT
    return cv2.remap(np.ascontiguousarray(image), xy, alpha, cv2.INTER_LINEAR, borderMode=mode, borderValue=0)


@functools.lru_cache(maxsize=16)
def _warp_maps(matrix_bytes: bytes, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """The integer maps of :func:`warp_perspective_u8` for one 3x3 float64 matrix (its bytes) and
    output size: ``CV_16SC2`` source pixels (``height x width x 2`` int16) and ``CV_16UC1``
    sub-pixel indices (``height x width`` uint16), read-only. Cached: the detector's letterbox of
    every image of one size is the same matrix.

    Each destination pixel ``(x, y)``: ``X = (m00 x + m01 y) + m02`` (likewise ``Y``, ``W``) in
    double with ``m = inv(matrix)``, then ``X * (32 / W)`` (``32 / W`` is 0 where ``W`` is 0;
    ``X * 32`` where ``m`` is affine), rounded half to even and clamped to int32
    (``saturate_cast<int>``); ``X & 31`` / ``Y & 31`` make the sub-pixel index, ``X >> 5`` the
    source pixel, clamped to int16. The products ``m00 x`` and ``m01 y`` are formed once per
    column and row and broadcast, x and y computed as one array: the same doubles, in the same
    order, as a per-pixel evaluation (pinned by ``tests/methods/test_mediapipe.py``)."""
    inv = np.linalg.inv(np.frombuffer(matrix_bytes, np.float64).reshape(3, 3))
    xs, ys = np.arange(int(width), dtype=np.float64), np.arange(int(height), dtype=np.float64)
    xy = (inv[:2, 0, None, None] * xs[None, None, :]) + (inv[:2, 1, None, None] * ys[None, :, None])  # (2, H, W)
    xy += inv[:2, 2, None, None]
    if inv[2, 0] == 0.0 and inv[2, 1] == 0.0 and inv[2, 2] == 1.0:  # affine: W = 1, 32 / W = 32 exactly
        xy *= float(1 << INTER_BITS)
    else:
        w0 = (inv[2, 0] * xs[None, :]) + (inv[2, 1] * ys[:, None])
        w0 += inv[2, 2]
        if w0.all():
            scale = np.divide(float(1 << INTER_BITS), w0, out=w0)
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                scale = np.where(w0 != 0, (1 << INTER_BITS) / np.where(w0 != 0, w0, 1.0), 0.0)
        xy *= scale
    ints = _saturate_int(xy)
    mask = (1 << INTER_BITS) - 1
    frac = ints & mask
    frac[1] <<= INTER_BITS
    frac[1] |= frac[0]
    alpha = frac[1].astype(np.uint16)
    ints >>= INTER_BITS
    if ints.min() < -32768 or ints.max() > 32767:
        np.clip(ints, -32768, 32767, out=ints)
    xy16 = np.empty((int(height), int(width), 2), np.int16)
    xy16[..., 0], xy16[..., 1] = ints
    xy16.flags.writeable = alpha.flags.writeable = False
    return xy16, alpha


def _saturate_int(v: np.ndarray) -> np.ndarray:
    """OpenCV's ``saturate_cast<int>`` of doubles, in place on ``v``: round half to even, clamp to
    int32 (int32 when every value is finite and within int32; else clamped and int64, NaN then
    ``astype``'s value for NaN, as the former ``np.clip`` + ``rint`` + int64 path)."""
    lo, hi = float(np.iinfo(np.int32).min), float(np.iinfo(np.int32).max)
    np.rint(v, out=v)
    if not (v.min() >= lo and v.max() <= hi):  # NaN fails both comparisons
        np.clip(v, lo, hi, out=v)
        return v.astype(np.int64)
    return v.astype(np.int32)


def rotated_rect_to_tensor(image: np.ndarray, rect: RotatedRect, width: int, height: int,
                           value_range: tuple[float, float], border: str = "replicate") -> np.ndarray:
    """``ImageToTensorCalculator``'s (height, width, 3) float32 tensor of ``rect`` in an RGB uint8
    image (see the module doc); ``border``: ``replicate`` (the calculator's default) or ``zero``."""
    import cv2

    box = cv2.RotatedRect((float(rect.center_x), float(rect.center_y)), (float(rect.width), float(rect.height)),
                          float(np.float32(rect.rotation) * np.float32(180.0) / np.pi))
    src = cv2.boxPoints(box).astype(np.float32)
    dst = np.array([[0, height], [0, 0], [width, 0], [width, height]], np.float32)
    matrix = cv2.getPerspectiveTransform(src, dst)
    warped = warp_perspective_u8(image, matrix, int(width), int(height), border)
    lo, hi = (np.float32(v) for v in value_range)
    return warped.astype(np.float32) * ((hi - lo) / np.float32(255.0)) + lo
