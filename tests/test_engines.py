"""posebench.engines: device selection and its refusals, OpenVINO (f32) against onnxruntime on a
small ONNX network, int8 quantization and the gate's known answers."""

from __future__ import annotations

import numpy as np
import pytest

from posebench.engines import (
    OpenVinoSession,
    angle_error,
    calibration_faces,
    int8_gate,
    make_session,
    onnxruntime_providers,
    quantize_int8,
    torch_device,
)
from posebench.errors import UsageError


def conv_model(seed: int = 0) -> bytes:
    """A small ONNX network: input ``x`` [N, 3, 16, 16] -> Conv 3x3 (8) -> Relu -> global mean
    -> MatMul to 3 outputs ``y`` [N, 3], weights from ``seed``."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    w = numpy_helper.from_array(rng.normal(0, 0.3, (8, 3, 3, 3)).astype(np.float32), "w")
    b = numpy_helper.from_array(rng.normal(0, 0.1, 8).astype(np.float32), "b")
    m = numpy_helper.from_array(rng.normal(0, 1.0, (8, 3)).astype(np.float32) * 30, "m")
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]), helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("GlobalAveragePool", ["r"], ["g"]), helper.make_node("Flatten", ["g"], ["f"]),
             helper.make_node("MatMul", ["f", "m"], ["y"])]
    graph = helper.make_graph(nodes, "small", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 16, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])], [w, b, m])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def batch(n: int = 4, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 1, (n, 3, 16, 16)).astype(np.float32)


def test_cpu_device_and_cuda_refusal_on_a_machine_without_one():
    import onnxruntime as ort
    import torch

    assert onnxruntime_providers("cpu") == ["CPUExecutionProvider"]
    assert torch_device("cpu").type == "cpu"
    if "CUDAExecutionProvider" in ort.get_available_providers():
        assert onnxruntime_providers("cuda")[0] == "CUDAExecutionProvider"
    else:
        with pytest.raises(UsageError, match="device=cuda: this onnxruntime has no CUDAExecutionProvider"):
            onnxruntime_providers("cuda")
    if torch.cuda.is_available():
        assert torch_device("cuda").type == "cuda"
    else:
        with pytest.raises(UsageError, match="device=cuda: torch sees no CUDA device"):
            torch_device("cuda")
    with pytest.raises(UsageError, match="device must be one of cpu, cuda, got 'tpu'"):
        torch_device("tpu")
    with pytest.raises(UsageError, match="engine=openvino runs on the CPU"):
        make_session(conv_model(), "openvino", 1, "cuda")


def test_openvino_is_pinned_to_f32_and_agrees_with_onnxruntime():
    model, x = conv_model(), batch()
    ov = OpenVinoSession(model, threads=1)
    assert "f32" in ov.precision.lower() or "float32" in ov.precision.lower()
    assert [p.name for p in ov.get_inputs()] == ["x"] and [p.name for p in ov.get_outputs()] == ["y"]
    want = make_session(model, "onnxruntime", 1).run(["y"], {"x": x})[0]
    got = ov.run(["y"], {"x": x})[0]
    assert got.shape == (4, 3) and np.abs(got).max() > 1.0  # a real output, not zeros
    assert np.abs(got - want).max() < 1e-4


def test_int8_quantization_stays_close_on_a_small_convnet_and_is_really_int8():
    import onnx

    model, x = conv_model(), batch(8)
    q = quantize_int8(model, "x", [x[:4], x[4:]])
    ops = {n.op_type for n in onnx.load_from_string(q).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    fp32, int8 = make_session(model, "onnxruntime", 1), make_session(q, "onnxruntime", 1)
    a, b = fp32.run(["y"], {"x": x})[0], int8.run(["y"], {"x": x})[0]
    assert 0 < np.abs(a - b).max() < 0.05 * np.abs(a).max()  # changed (quantized), but close
    with pytest.raises(UsageError, match="needs calibration images"):
        quantize_int8(model, "x", [])


def test_gate_known_answers_and_wrapping():
    x = [np.zeros((2, 3)), np.zeros((1, 3))]
    assert angle_error(np.array([179.0]), np.array([-179.0]))[0] == pytest.approx(2.0)
    assert int8_gate(lambda b: b + 170.0, lambda b: b - 189.5, x, "m") == pytest.approx(0.5)  # 359.5 apart = 0.5
    with pytest.raises(UsageError, match=r"precision=int8 refused for m: its int8 network is 1 deg .* on the 3 face\(s\) checked \(limit 0.5"):
        int8_gate(lambda b: b, lambda b: b + 1.0, x, "m")
    with pytest.raises(UsageError, match="refused"):
        int8_gate(lambda b: b, lambda b: b * np.nan, x, "m")


def test_calibration_faces_reads_images_and_refuses_an_empty_folder(tmp_path):
    import cv2

    with pytest.raises(UsageError, match="no readable image"):
        calibration_faces(tmp_path)
    with pytest.raises(UsageError, match="no such folder"):
        calibration_faces(tmp_path / "missing")
    img = np.zeros((20, 30, 3), np.uint8)
    img[:, :, 0] = 255  # BGR blue on disk -> RGB (0, 0, 255) inside
    cv2.imwrite(str(tmp_path / "b.png"), img)
    (tmp_path / "a.jpg").write_bytes(b"not a jpeg")
    from posebench.engines import CALIBRATION_SUFFIXES
    from posebench.inference import IMAGE_SUFFIXES

    assert CALIBRATION_SUFFIXES == IMAGE_SUFFIXES
    found = calibration_faces(tmp_path)
    assert [p.name for p, _ in found] == ["b.png"]
    face = found[0][1]
    assert face.image_size == (30, 20) and face.box is None and tuple(face.image[0, 0]) == (0, 0, 255)
