"""Inference engines and devices for ONNX networks: onnxruntime (CPU or CUDA provider), OpenVINO
(f32 pinned) and an opt-in int8 path (onnxruntime static QDQ quantization) behind an accuracy gate.

Every engine here takes an ONNX model (bytes) and returns a session with onnxruntime's calling
convention (``run(output_names, feeds) -> [arrays]``, ``get_inputs()``, ``get_outputs()``), so a
method swaps engines without changing its code. What picks the engine and device (the method's
``engine=``, ``device=``, ``precision=`` options) is in the method's options, hence in its cache
key and in every record.

* ``openvino``: Intel OpenVINO's CPU plugin (optional extra ``posebench[openvino]``). Its
  inference precision is pinned to ``f32`` (``INFERENCE_PRECISION_HINT``): on CPUs with AMX or
  AVX512-BF16 OpenVINO defaults to bf16, which moves WHENet's and FSA-Net's angles by tenths of a
  degree (issue 24's measurements: 0.36-0.86 deg); f32 agrees with onnxruntime to ~1e-4 deg.
* ``device=cuda``: onnxruntime's ``CUDAExecutionProvider`` where the installed onnxruntime has it
  (``onnxruntime-gpu``), else a one-line :class:`UsageError`; torch engines use
  :func:`torch_device`.
* ``precision=int8``: :func:`quantize_int8` (onnxruntime's ``quantize_static``, QDQ format,
  ``Conv`` weights per channel int8 (convolutions only), activations uint8 calibrated with MinMax on
  the user's own images), admitted only when :func:`int8_gate` finds it within a stated
  tolerance of fp32 on those images.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from posebench.errors import UsageError, WeightsError

#: Engines for an ONNX model.
ONNX_ENGINES = ("onnxruntime", "openvino")
#: Devices a method may be asked to run on.
DEVICES = ("cpu", "cuda")
#: Numeric precisions of the ONNX path.
PRECISIONS = ("fp32", "int8")
#: The largest wrapped angle difference (degrees) between int8 and fp32 outputs that
#: :func:`int8_gate` admits by default: below the 0.5 deg that separates methods in the
#: field's tables (AFLW2000 MAEs are reported to 0.01 deg; the methods compared differ by > 0.5).
INT8_TOLERANCE_DEG = 0.5
#: Image suffixes an ``int8_images`` folder is searched for: those of
#: :data:`posebench.inference.IMAGE_SUFFIXES` (equal, by a test; not imported: no upward import).
CALIBRATION_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
#: Opset a model is converted to before quantization (per-channel DequantizeLinear needs 13).
QUANT_OPSET = 13


def check_choice(name: str, value: str, choices: Sequence[str]) -> str:
    """``value`` when it is one of ``choices``, else a one-line :class:`UsageError`."""
    if value not in choices:
        raise UsageError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


# -- devices ---------------------------------------------------------------------------------
def onnxruntime_providers(device: str) -> list[str]:
    """onnxruntime execution providers for ``device`` (``cpu`` | ``cuda``). ``cuda`` needs the
    ``CUDAExecutionProvider`` (the ``onnxruntime-gpu`` package): without it a one-line
    :class:`UsageError` names what is installed instead of falling back to the CPU silently."""
    import onnxruntime as ort

    check_choice("device", device, DEVICES)
    if device == "cpu":
        return ["CPUExecutionProvider"]
    have = ort.get_available_providers()
    if "CUDAExecutionProvider" not in have:
        raise UsageError("device=cuda: this onnxruntime has no CUDAExecutionProvider (available: "
                         f"{', '.join(have)}); install onnxruntime-gpu in place of onnxruntime, or use device=cpu")
    return ["CUDAExecutionProvider", "CPUExecutionProvider"]


def torch_device(device: str):
    """The ``torch.device`` for ``device`` (``cpu`` | ``cuda``); ``cuda`` without a CUDA device
    visible to torch is a one-line :class:`UsageError` (never a silent CPU run)."""
    import torch

    check_choice("device", device, DEVICES)
    if device == "cuda" and not torch.cuda.is_available():
        built = torch.version.cuda or "none (a CPU-only build)"
        raise UsageError(f"device=cuda: torch sees no CUDA device (torch {torch.__version__}, CUDA build {built}); use device=cpu")
    return torch.device(device)


# -- sessions --------------------------------------------------------------------------------
def onnxruntime_session(model: bytes, threads: int, device: str = "cpu"):
    """An onnxruntime session of ``model`` (``threads`` intra-op threads, one inter-op, errors-only
    log) on ``device``'s providers (:func:`onnxruntime_providers`)."""
    import onnxruntime as ort

    providers = onnxruntime_providers(device)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = int(threads)
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    return ort.InferenceSession(model, opts, providers=providers)


class _Port:
    """A named input or output (onnxruntime's ``NodeArg`` shape of it: ``.name``)."""

    def __init__(self, name: str):
        self.name = name


class OpenVinoSession:
    """An ONNX model compiled by OpenVINO for the CPU at f32 inference precision, called like an
    onnxruntime session. ``threads`` = ``INFERENCE_NUM_THREADS`` (0 = OpenVINO's choice).

    Raises :class:`UsageError` when OpenVINO is not installed, :class:`WeightsError` when it
    cannot read or compile the model."""

    def __init__(self, model: bytes, threads: int = 0):
        try:
            import openvino as ov
        except ImportError:
            raise UsageError("engine=openvino needs OpenVINO: pip install 'posebench[openvino]'") from None
        core = ov.Core()
        config: dict[str, Any] = {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY"}
        if threads:
            config["INFERENCE_NUM_THREADS"] = int(threads)
        with tempfile.TemporaryDirectory(prefix="posebench-ov-") as tmp:  # read_model takes a file for ONNX
            path = Path(tmp) / "model.onnx"
            path.write_bytes(model)
            try:
                net = core.read_model(str(path))
                self.compiled = core.compile_model(net, "CPU", config)
            except Exception as exc:  # noqa: BLE001 - OpenVINO raises RuntimeError and its own types
                first = (str(exc).strip().splitlines() or [""])[0][:200]
                raise WeightsError(f"OpenVINO cannot compile this model ({type(exc).__name__}: {first})") from None
        self.precision = str(self.compiled.get_property("INFERENCE_PRECISION_HINT"))
        self._inputs = [p.get_any_name() for p in self.compiled.inputs]
        self._outputs = [p.get_any_name() for p in self.compiled.outputs]
        self.request = self.compiled.create_infer_request()

    def get_inputs(self) -> list[_Port]:
        return [_Port(n) for n in self._inputs]

    def get_outputs(self) -> list[_Port]:
        return [_Port(n) for n in self._outputs]

    def run(self, output_names: Sequence[str] | None, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        """onnxruntime's ``run``: the named outputs (all when ``None``) for ``feeds``."""
        result = self.request.infer({k: np.ascontiguousarray(v) for k, v in feeds.items()})
        by_name = {}
        for port, value in result.items():
            for name in port.get_names():
                by_name[name] = np.array(value)
        names = list(output_names) if output_names else self._outputs
        return [by_name[n] for n in names]


def make_session(model: bytes, engine: str, threads: int, device: str = "cpu"):
    """A session of ONNX ``model`` on ``engine`` (:data:`ONNX_ENGINES`) and ``device``.
    OpenVINO runs on the CPU only here: ``engine=openvino device=cuda`` is a :class:`UsageError`."""
    check_choice("engine", engine, ONNX_ENGINES)
    if engine == "openvino":
        if device != "cpu":
            raise UsageError("engine=openvino runs on the CPU here; use engine=onnxruntime device=cuda for a GPU")
        return OpenVinoSession(model, threads)
    return onnxruntime_session(model, threads, device)


# -- int8 ------------------------------------------------------------------------------------
def quantize_int8(model: bytes, input_name: str, batches: Sequence[np.ndarray]) -> bytes:
    """``model`` statically quantized to int8 by onnxruntime (``quantize_static``: QDQ format,
    ``Conv`` weights int8 per channel, activations uint8, MinMax calibration on
    ``batches``, each an input tensor for ``input_name``). Source: onnxruntime's quantization
    guide (static quantization, QDQ, CNNs on x86 with VNNI). Raises :class:`UsageError` without
    calibration data."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    if not batches:
        raise UsageError("precision=int8 needs calibration images (int8_images=FOLDER with at least one face)")

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.items = iter([{input_name: np.ascontiguousarray(b, np.float32)} for b in batches])

        def get_next(self):
            return next(self.items, None)

    import logging

    import onnx

    proto = onnx.load_from_string(model)
    opset = max((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), default=0)
    if opset < QUANT_OPSET:  # per-channel QDQ needs DequantizeLinear's axis (opset 13)
        from onnx import version_converter

        model = version_converter.convert_version(proto, QUANT_OPSET).SerializeToString()
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # quantize_static logs advice at WARNING on the root logger
    try:
        with tempfile.TemporaryDirectory(prefix="posebench-int8-") as tmp:
            src, dst = os.path.join(tmp, "fp32.onnx"), os.path.join(tmp, "int8.onnx")
            Path(src).write_bytes(model)
            quantize_static(src, dst, Reader(), quant_format=QuantFormat.QDQ, op_types_to_quantize=["Conv"],
                            per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
            return Path(dst).read_bytes()
    finally:
        root.setLevel(level)


def angle_error(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-element wrapped difference of two angle arrays in degrees, in [0, 180]."""
    d = (np.asarray(a, float) - np.asarray(b, float) + 180.0) % 360.0 - 180.0
    return np.abs(d)


def int8_gate(fp32: Callable[[np.ndarray], np.ndarray], int8: Callable[[np.ndarray], np.ndarray],
              batches: Sequence[np.ndarray], method: str, tolerance: float = INT8_TOLERANCE_DEG) -> float:
    """The largest wrapped angle difference (degrees) between the int8 and fp32 networks on
    ``batches`` (the user's own faces); a :class:`UsageError` refusing int8 for ``method`` when it
    exceeds ``tolerance`` degrees (e.g. WHENet, whose int8 variants are 64-105 deg off)."""
    worst = 0.0
    n = 0
    for b in batches:
        err = angle_error(fp32(b), int8(b))
        worst = max(worst, float(err.max()) if np.isfinite(err).all() else float("inf"))  # NaN: refused
        n += len(b)
    if not np.isfinite(worst) or worst > tolerance:
        raise UsageError(f"precision=int8 refused for {method}: its int8 network is {worst:.3g} deg from fp32 at most on "
                         f"the {n} face(s) checked (limit {tolerance:g} deg); use precision=fp32")
    return worst


def calibration_faces(folder: str | Path, limit: int = 64) -> list[tuple[Path, Any]]:
    """Up to ``limit`` images of ``folder`` (sorted, recursively; :data:`CALIBRATION_SUFFIXES`)
    as bare-photo faces ``(path, FaceInput)``, for int8 calibration and its gate. Unreadable images
    are skipped; none readable is a one-line :class:`UsageError`."""
    from posebench.errors import SampleFailure
    from posebench.imageio import read_image
    from posebench.method import FaceInput

    root = Path(folder).expanduser()
    if not root.is_dir():
        raise UsageError(f"int8_images: no such folder: {folder}")
    out = []
    for p in sorted(q for q in root.rglob("*") if q.suffix.lower() in CALIBRATION_SUFFIXES and q.is_file()):
        try:
            img = read_image(p)
        except SampleFailure:
            continue
        out.append((p, FaceInput(img, (img.shape[1], img.shape[0]))))
        if len(out) >= limit:
            break
    if not out:
        raise UsageError(f"int8_images: no readable image in {folder}")
    return out


class SessionEngine:
    """A network exported to ONNX, run by a session of :func:`make_session` (or an int8 one):
    called on a float32 (N, 3, H, W) batch (numpy array or CPU torch tensor), returns the
    ``output`` array as float64. ``channels_last`` is False (the ONNX input is NCHW)."""

    channels_last = False

    def __init__(self, session, input_name: str, output_name: str):
        self.session, self.input_name, self.output_name = session, input_name, output_name

    def __call__(self, x) -> np.ndarray:
        arr = x.numpy() if hasattr(x, "numpy") else np.asarray(x)
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        return np.asarray(self.session.run([self.output_name], {self.input_name: arr})[0], np.float64)
