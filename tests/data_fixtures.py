"""Helpers for the ``posebench data`` tests: a local HTTP server and small dataset fixtures.

The server listens on 127.0.0.1 only, serves in-memory files with HTTP Range support, can cut
the first response to a path half-way (a dropped connection), and shuts itself down after
``lifetime`` seconds even if a test forgets to stop it.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import scipy.io as sio
from PIL import Image


class FileServer:
    def __init__(self, files: dict[str, bytes], cut_first: tuple[str, ...] = (), ignore_range: bool = False,
                 lifetime: float = 60.0, stall_after: dict[str, int] | None = None, drip: tuple[str, ...] = (),
                 no_length: tuple[str, ...] = ()):
        """``stall_after``: path -> bytes sent before the server stops sending (and holds the
        connection for 5 s); ``drip``: paths sent one byte every 0.05 s; ``no_length``: paths
        sent without a Content-Length (the body ends when the connection closes)."""
        self.stall_after = dict(stall_after or {})
        self.drip = set(drip)
        self.no_length = set(no_length)
        self.files = dict(files)
        self.cut_pending = set(cut_first)
        self.ignore_range = ignore_range
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header)
        self._lock = threading.Lock()
        server_self = self

        class Handler(BaseHTTPRequestHandler):
            timeout = 5
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_GET(self):
                rng = self.headers.get("Range")
                with server_self._lock:
                    server_self.requests.append((self.path, rng))
                    cut = self.path in server_self.cut_pending
                    server_self.cut_pending.discard(self.path)
                data = server_self.files.get(self.path)
                if data is None:
                    self.send_error(404)
                    return
                start = 0
                m = re.fullmatch(r"bytes=(\d+)-", rng or "")
                if m and not server_self.ignore_range:
                    start = int(m.group(1))
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                if self.path in server_self.no_length:
                    self.close_connection = True
                else:
                    self.send_header("Content-Length", str(len(body)))
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()
                if self.path in server_self.stall_after:
                    self.wfile.write(body[: server_self.stall_after[self.path]])
                    self.wfile.flush()
                    time.sleep(5)
                    self.close_connection = True
                    return
                if self.path in server_self.drip:
                    try:
                        for i in range(len(body)):
                            self.wfile.write(body[i : i + 1])
                            self.wfile.flush()
                            time.sleep(0.05)
                    except OSError:  # the client gave up
                        pass
                    self.close_connection = True
                    return
                if cut:  # send half of the body, then drop the connection
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.timer = threading.Timer(lifetime, self.httpd.shutdown)
        self.timer.daemon = True

    def url(self, path: str) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}{path}"

    def __enter__(self) -> "FileServer":
        self.thread.start()
        self.timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self.timer.cancel()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def write_aflw2000_mat(path: Path, pitch_yaw_roll_deg: tuple[float, float, float], seed: int = 0) -> None:
    """One label file in the official AFLW2000-3D field layout (Pose_Para radians, 1x7 float32)."""
    rng = np.random.default_rng(seed)
    pose = np.zeros((1, 7), np.float32)
    pose[0, :3] = np.radians(pitch_yaw_roll_deg)
    pose[0, 6] = 0.001
    x = 225 + 60 * np.cos(np.linspace(0, 2 * np.pi, 68)) + rng.normal(0, 2, 68)
    y = 225 + 80 * np.sin(np.linspace(0, 2 * np.pi, 68)) + rng.normal(0, 2, 68)
    pt3d = np.stack([x, y, rng.normal(0, 10, 68)]).astype(np.float32)
    pt2d = np.stack([x[::3][:21], y[::3][:21]]).astype(np.float64)
    sio.savemat(str(path), {"Pose_Para": pose, "pt3d_68": pt3d, "pt2d": pt2d,
                            "Shape_Para": np.zeros((199, 1), np.float32), "Exp_Para": np.zeros((29, 1), np.float32)})


def write_jpg(path: Path, size: tuple[int, int] = (450, 450)) -> None:
    import cv2

    img = np.full((size[1], size[0], 3), 128, np.uint8)
    cv2.circle(img, (size[0] // 2, size[1] // 2), size[0] // 4, (40, 90, 200), -1)
    assert cv2.imwrite(str(path), img)


# pitch, yaw, roll in degrees; the fourth has |yaw| > 99 and leaves the +-99 deg protocol
AFLW_POSES = [(5.0, 10.0, -3.0), (-20.0, 45.0, 8.0), (12.0, -70.0, 2.0), (0.0, 120.0, 0.0), (-8.0, -15.0, 30.0)]


def make_aflw2000_folder(folder: Path, images: bool = True) -> list[str]:
    """A tiny AFLW2000-3D-layout folder: imageXXXXX.mat (+ .jpg); returns the stems."""
    folder.mkdir(parents=True, exist_ok=True)
    stems = []
    for i, pyr in enumerate(AFLW_POSES):
        stem = f"image{i * 2 + 2:05d}"
        write_aflw2000_mat(folder / f"{stem}.mat", pyr, seed=i)
        if images:
            write_jpg(folder / f"{stem}.jpg")
        stems.append(stem)
    return stems


# (image value, AFW yaw labels of its faces); test_afw.py's test method answers yaw = value - 100
AFW_IMAGES = [(100, [0.0]), (145, [-45.0, -45.0]), (10, [90.0]), (175, [-75.0])]


def write_afw(root, images=AFW_IMAGES):
    """An AFW release in ``root``: one grey jpg per entry of ``images`` and the official ``anno.mat``
    cell array (name, boxes, poses, landmarks) with one face per yaw label."""
    root.mkdir(parents=True, exist_ok=True)
    anno = np.empty((len(images), 4), dtype=object)
    for i, (value, yaws) in enumerate(images):
        name = f"{1000 + i}.jpg"
        Image.fromarray(np.full((120, 160, 3), value, np.uint8)).save(root / name, quality=100)
        boxes = np.empty((1, len(yaws)), dtype=object)
        poses = np.empty((1, len(yaws)), dtype=object)
        lms = np.empty((1, len(yaws)), dtype=object)
        for j, y in enumerate(yaws):
            boxes[0, j] = np.array([[40.0 + j, 30.0], [100.0 + j, 90.0]])
            poses[0, j] = np.array([[y, 0.0, 0.0]])
            lms[0, j] = np.zeros((6, 2))
        anno[i] = [name, boxes, poses, lms]
    sio.savemat(root / "anno.mat", {"anno": anno})
    return root
