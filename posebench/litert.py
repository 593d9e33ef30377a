"""Running MediaPipe's ``.tflite`` models: Google's LiteRT interpreter and MediaPipe's
``ImageToTensorCalculator`` (its CPU/OpenCV path), shared by the MediaPipe face detector
(:mod:`posebench.blazeface`) and the ``mediapipe`` method.

LiteRT (``ai-edge-litert`` on PyPI, Apache-2.0; the successor of ``tflite-runtime``) is an optional
extra: ``pip install posebench[mediapipe]``. Without it, :func:`interpreter` raises one line
(:class:`~posebench.errors.WeightsError`) saying so. A model with MediaPipe's own custom operators
(``face_landmark_with_attention.tflite``: ``Landmarks2TransformMatrix``, ``TransformTensorBilinear``,
``TransformLandmarks``, compiled into the mediapipe package only) is refused in one line as well.

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
                                       "(only the mediapipe package's own runtime does)") from None
                raise WeightsError(f"{self.path.name} is not a TFLite model LiteRT can run: {text[:160]}") from None
            self._local.it = it
        return it

    def __call__(self, x: np.ndarray) -> list[np.ndarray]:
        it = self._interpreter()
        it.set_tensor(it.get_input_details()[0]["index"], np.ascontiguousarray(x, np.float32).reshape(self.input_shape))
        it.invoke()
        return [np.array(it.get_tensor(d["index"])) for d in it.get_output_details()]


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
    output size: ``CV_16SC2`` source pixels and ``CV_16UC1`` sub-pixel indices, read-only. Cached:
    the detector's letterbox of every image of one size is the same matrix."""
    matrix = np.frombuffer(matrix_bytes, np.float64).reshape(3, 3)
    inv = np.linalg.inv(np.asarray(matrix, np.float64))
    xs, ys = _grid(int(width), int(height))
    X0 = inv[0, 0] * xs + inv[0, 1] * ys + inv[0, 2]
    Y0 = inv[1, 0] * xs + inv[1, 1] * ys + inv[1, 2]
    if inv[2, 0] == 0.0 and inv[2, 1] == 0.0 and inv[2, 2] == 1.0:  # affine: W = 1, 32 / W = 32 exactly
        X0 *= 1 << INTER_BITS
        Y0 *= 1 << INTER_BITS
    else:
        W0 = inv[2, 0] * xs + inv[2, 1] * ys + inv[2, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(W0 != 0, (1 << INTER_BITS) / np.where(W0 != 0, W0, 1.0), 0.0)
        X0 *= scale
        Y0 *= scale
    X, Y = _saturate_int(X0), _saturate_int(Y0)
    mask = (1 << INTER_BITS) - 1
    alpha = ((Y & mask) << INTER_BITS | (X & mask)).astype(np.uint16)
    X >>= INTER_BITS
    Y >>= INTER_BITS
    if min(X.min(), Y.min()) < -32768 or max(X.max(), Y.max()) > 32767:
        np.clip(X, -32768, 32767, out=X)
        np.clip(Y, -32768, 32767, out=Y)
    xy = np.empty((*X.shape, 2), np.int16)
    xy[..., 0], xy[..., 1] = X, Y
    xy.flags.writeable = alpha.flags.writeable = False
    return xy, alpha


@functools.lru_cache(maxsize=8)
def _grid(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Destination pixel coordinates (x, y), float64 ``height x width`` each (read-only, shared)."""
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64))
    xs.flags.writeable = ys.flags.writeable = False
    return xs, ys


def _saturate_int(v: np.ndarray) -> np.ndarray:
    """OpenCV's ``saturate_cast<int>`` of doubles: round half to even, clamp to int32 (NaN -> the
    clamp of ``rint``; as the former ``np.clip`` + ``rint`` + int64 path)."""
    lo, hi = float(np.iinfo(np.int32).min), float(np.iinfo(np.int32).max)
    np.rint(v, out=v)
    if not (np.isfinite(v).all() and v.min() >= lo and v.max() <= hi):
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
