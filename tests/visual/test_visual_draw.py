"""Drawing poses: the axes follow posebench's convention (frontal front axis at the viewer, the
documented sign of yaw, a real label's rotation) and ``posebench draw`` on real images."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io as sio
from click.testing import CliRunner
from test_pose import _similarity_rotation

from posebench.cli import main
from posebench.pose import Pose
from posebench.visual.draw import AXIS_COLOURS, axes_2d, axes_camera, draw_pose


def _unit(v):
    v = np.asarray(v, float)
    return v / np.linalg.norm(v)


def test_frontal_face_front_axis_points_at_the_viewer():
    ax = axes_camera(Pose(0, 0, 0))
    assert np.allclose(ax["front"], [0, 0, -1])  # camera z is away from the viewer
    assert np.allclose(ax["side"], [1, 0, 0])  # image right
    assert np.allclose(ax["down"], [0, 1, 0])  # image down
    assert np.linalg.norm(axes_2d(Pose(0, 0, 0), 100)["front"]) < 1e-9


def test_positive_yaw_turns_the_front_axis_to_image_left_and_positive_pitch_up():
    s = 100 * np.sin(np.radians(30))
    assert np.allclose(axes_2d(Pose(30, 0, 0), 100)["front"], [-s, 0])
    assert np.allclose(axes_2d(Pose(-30, 0, 0), 100)["front"], [s, 0])
    assert np.allclose(axes_2d(Pose(0, 30, 0), 100)["front"], [0, -s])  # +pitch: nose up (image y down)
    # +roll: clockwise tilt as seen in the image: the down axis swings towards image left
    assert axes_2d(Pose(0, 0, 30), 100)["down"][0] < -40


def test_drawn_pixels_follow_the_axes():
    img = np.zeros((300, 300, 3), np.uint8)
    out = draw_pose(img, Pose(40, 0, 0), center=(150, 150), length=100, text=[])
    # the blue front axis runs from the centre to image left; nothing blue on the right
    assert tuple(out[150, 100]) == AXIS_COLOURS["front"]
    assert not np.any(np.all(out[140:160, 170:] == AXIS_COLOURS["front"], axis=-1))
    assert img.sum() == 0  # the input is not modified


def test_drawn_axes_match_a_real_labels_rotation(aflw_sample, u_base):
    """The axes drawn for a real AFLW2000-3D label point where the label's own 3D landmarks
    (``pt3d_68``, image pixels) say the face's axes point: a similarity fit of the mean face to
    them, projected into the image, agrees with the drawn 2D directions within a few degrees, and
    the drawn image has each axis colour along that direction."""
    from posebench.imageio import read_image

    face = np.loadtxt(u_base).reshape(68, 3)
    model_axes = {"side": [1, 0, 0], "down": [0, -1, 0], "front": [0, 0, 1]}
    diffs = []
    checked_pixels = 0
    files = sorted(aflw_sample.glob("*.mat"))
    assert len(files) == 40
    for k, f in enumerate(files):
        stem = f.stem
        m = sio.loadmat(str(f))
        pts = m["pt3d_68"][:3].T.astype(float)
        pts[:, 1] *= -1  # image y down -> y up
        R_fit = _similarity_rotation(face, pts)
        pose = Pose.from_pose_para(m["Pose_Para"])
        drawn = axes_2d(pose, 80.0)
        center = m["pt3d_68"][:2].T.mean(0)
        image = draw_pose(read_image(f.with_suffix(".jpg")), pose, center=center, length=80.0, text=[]) if k < 6 else None
        for name, v in model_axes.items():
            seen = R_fit @ np.asarray(v, float)
            seen_2d = np.array([seen[0], -seen[1]])  # back to image y down
            if np.linalg.norm(seen_2d) < 0.4:  # nearly along the line of sight: direction ill-defined
                continue
            diffs.append(np.degrees(np.arccos(np.clip(_unit(seen_2d) @ _unit(drawn[name]), -1, 1))))
            if image is None:
                continue
            # a pixel 70% of the way along the fitted direction has the axis colour
            x, y = (center + 0.7 * np.linalg.norm(drawn[name]) * _unit(seen_2d)).round().astype(int)
            patch = image[y - 2 : y + 3, x - 2 : x + 3].reshape(-1, 3)
            assert np.any(np.all(patch == AXIS_COLOURS[name], axis=1)), (stem, name)
            checked_pixels += 1
    assert len(diffs) >= 80 and checked_pixels >= 10
    assert np.median(diffs) < 2.0 and max(diffs) < 8.0, diffs  # measured: 0.4 and 2.9 (a flipped yaw: 177)


def test_draw_command_on_real_images(tmp_path, aflw_sample):
    out = tmp_path / "drawn"
    r = CliRunner().invoke(main, ["draw", "-m", "gt-landmarks", "-o", "solver=weak", str(aflw_sample / "image00004.jpg"),
                                  "--out", str(out)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "image00004.jpg: yaw +6" in r.output  # label yaw +68; weak fit of ground-truth landmarks
    from posebench.imageio import read_image

    img = read_image(out / "image00004-gt-landmarks.jpg")
    assert img.shape == (450, 450, 3)
    blue = (img[:, :, 2] > 200) & (img[:, :, 0] < 60) & (img[:, :, 1] < 60)
    assert blue.sum() > 50  # the front axis is there (JPEG: colours approximate)


def test_draw_bad_input_is_one_line_error(tmp_path, aflw_sample):
    bad = tmp_path / "notes.jpg"
    bad.write_text("not an image")
    r = CliRunner().invoke(main, ["draw", "-m", "gt-landmarks", str(bad), "--out", str(tmp_path / "o")])
    assert r.exit_code != 0 and "notes.jpg" in r.output and "Traceback" not in r.output
    assert len(r.output.strip().splitlines()) == 1
    # gt-landmarks on an image with no label beside it: it cannot run
    import shutil

    lone = tmp_path / "lone.jpg"
    shutil.copy(aflw_sample / "image00002.jpg", lone)
    r = CliRunner().invoke(main, ["draw", "-m", "gt-landmarks", str(lone), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "needs ground-truth landmarks" in r.output
    assert not (tmp_path / "o").exists()


def test_text_sits_on_a_backing_inside_the_image():
    """The angle text is written on a dark backing and kept whole inside the image, also beside
    a face at the image's edge and for a line wider than the image (smaller text, not clipped)."""
    from posebench.visual.draw import draw_pose

    img = np.full((160, 160, 3), 200, np.uint8)
    for text in (["yaw +12.3", "pitch -4.5"], ["a label far wider than this small image is"]):
        out = draw_pose(img, None, face=(120, 20, 158, 60), text=text)  # text placed beside this face region
        white = np.argwhere((out > 235).all(axis=2))
        assert len(white), text
        assert white[:, 1].max() < img.shape[1] - 1 and white[:, 1].min() > 0, text  # not cut at an edge
        ys, xs = white[:, 0], white[:, 1]
        around = out[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
        assert (around < 120).all(axis=2).mean() > 0.3, text  # the backing: darker than the 200 grey


@pytest.mark.parametrize("face", [
    (0, 70, 40, 110), (158, 70, 199, 110), (80, 0, 120, 30), (80, 170, 120, 199),  # touching left, right, top, bottom
    (0, 0, 40, 40), (160, 160, 199, 199), (-30, -30, 20, 20), (180, 185, 260, 240),  # corners, and past the edges
])
def test_text_is_kept_whole_inside_the_image_beside_a_face_at_any_edge(face):
    """Beside a face touching (or crossing) any edge of the image, every line of the angle text is
    drawn whole (as many text pixels as the same lines in open space) on its dark backing, and
    nothing of it touches the image border."""
    from posebench.visual.draw import draw_pose

    lines = ["whenet", "yaw +12.3", "pitch -45.6", "roll +7.8"]
    grey = np.full((200, 200, 3), 128, np.uint8)

    def text_pixels(img):
        return (img > 235).all(axis=2)

    out = draw_pose(grey, None, face=face, text=lines)
    ref = draw_pose(grey, None, face=(40, 60, 60, 80), text=lines)  # the same image size: the same text size
    white = text_pixels(out)
    assert white.sum() == text_pixels(ref).sum() > 0, face  # whole: nothing clipped
    ys, xs = np.nonzero(white)
    assert ys.min() > 0 and xs.min() > 0 and ys.max() < 199 and xs.max() < 199, face
    block = out[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    assert ((block < 100).all(axis=2)).mean() > 0.3, face  # on the backing (darker than the grey)


def test_draw_refuses_an_image_above_the_pixel_bound_before_decoding_it(tmp_path):
    """A 13000x13000 PNG (169 Mpx, under PIL's 178,956,970 that was the bound) made `draw` use
    8.2 GB; its header is now refused: one line naming the file, nothing written."""
    import struct
    import zlib

    def chunk(t: bytes, d: bytes) -> bytes:
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    big = tmp_path / "big.png"
    big.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 13000, 13000, 8, 2, 0, 0, 0))
                    + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))
    r = CliRunner().invoke(main, ["draw", "-m", "gt-landmarks", str(big), "--out", str(tmp_path / "o")])
    assert r.exit_code != 0 and "big.png" in r.output and "image too large" in r.output, r.output
    assert len(r.output.strip().splitlines()) == 1 and not (tmp_path / "o").exists()
