"""Rotation conventions: round trips, gimbal lock, camera frame, and the real AFLW2000 files."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io as sio

from posebench.pose import FLIP_YZ, Pose, angle_between, camera_to_model, euler_reading, euler_to_matrix, matrix_to_euler, model_to_camera, rx, ry, rz


def test_elementary_rotations_are_right_handed():
    # Rz(90) takes x to y; Rx(90) takes y to z; Ry(90) takes z to x.
    assert np.allclose(rz(90) @ [1, 0, 0], [0, 1, 0])
    assert np.allclose(rx(90) @ [0, 1, 0], [0, 0, 1])
    assert np.allclose(ry(90) @ [0, 0, 1], [1, 0, 0])


def test_matrix_is_transpose_of_zyx_product():
    y, p, r = 30.0, -20.0, 10.0
    assert np.allclose(euler_to_matrix(y, p, r), (rz(r) @ ry(y) @ rx(p)).T)


@pytest.mark.parametrize("yaw", [-89.999, -89.9, -75.0, -30.0, 0.0, 12.5, 60.0, 89.9, 89.999])
def test_euler_round_trip_including_yaw_near_90(yaw):
    rng = np.random.default_rng(int(abs(yaw) * 1000))
    for _ in range(20):
        pitch, roll = rng.uniform(-179, 179, size=2)
        R = euler_to_matrix(yaw, pitch, roll)
        back = matrix_to_euler(R)
        assert np.allclose(euler_to_matrix(*back), R, atol=1e-9)
        if abs(yaw) < 89.99:
            assert np.allclose(back, [yaw, pitch, roll], atol=1e-6)


def test_gimbal_lock_keeps_the_rotation():
    for yaw in (90.0, -90.0):
        R = euler_to_matrix(yaw, 25.0, 40.0)
        back = matrix_to_euler(R)
        assert back[2] == 0.0
        assert np.allclose(euler_to_matrix(*back), R, atol=1e-9)


def test_batched_round_trip():
    rng = np.random.default_rng(0)
    ypr = np.column_stack([rng.uniform(-89, 89, 500), rng.uniform(-179, 179, 500), rng.uniform(-179, 179, 500)])
    R = euler_to_matrix(ypr[:, 0], ypr[:, 1], ypr[:, 2])
    assert R.shape == (500, 3, 3)
    assert np.allclose(matrix_to_euler(R), ypr, atol=1e-7)


def test_sign_of_each_angle_on_the_nose_direction():
    # Model frame: x = image right, y up, z to the viewer; a frontal nose points along +z.
    z = np.array([0, 0, 1.0])
    s30 = np.sin(np.radians(30))
    assert np.allclose(Pose(30, 0, 0).matrix() @ z, [-s30, 0, np.cos(np.radians(30))])  # +yaw: nose to image left
    assert np.allclose(Pose(0, 30, 0).matrix() @ z, [0, s30, np.cos(np.radians(30))])  # +pitch: nose up
    # +roll: the face's up axis tilts towards image right (a clockwise tilt as seen in the image)
    assert np.allclose(Pose(0, 0, 30).matrix() @ [0, 1.0, 0], [s30, np.cos(np.radians(30)), 0])


def test_camera_frame_conversion_is_an_involution():
    R = Pose(20, -10, 5).matrix()
    assert np.allclose(camera_to_model(model_to_camera(R)), R)
    assert np.allclose(model_to_camera(np.eye(3)), FLIP_YZ)


def test_pose_para_order_is_pitch_yaw_roll_in_radians():
    p = Pose.from_pose_para(np.array([[0.1, -0.2, 0.3, 1, 2, 3, 4]]))
    assert p.pitch == pytest.approx(np.degrees(0.1))
    assert p.yaw == pytest.approx(np.degrees(-0.2))
    assert p.roll == pytest.approx(np.degrees(0.3))


def _similarity_rotation(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    a, b = src - src.mean(0), dst - dst.mean(0)
    U, _, Vt = np.linalg.svd(b.T @ a)
    d = np.sign(np.linalg.det(U @ Vt))
    return U @ np.diag([1.0, 1.0, d]) @ Vt


def test_convention_against_real_aflw2000_files(aflw_sample, u_base):
    """A similarity fit of the BFM mean face to each real file's pt3d_68 (image y flipped to y up)
    recovers the file's Pose_Para rotation: median geodesic error of a few degrees."""
    face = np.loadtxt(u_base).reshape(68, 3)
    errs, wrong_convention = [], []
    files = sorted(aflw_sample.glob("*.mat"))
    assert len(files) == 40
    for f in files:
        m = sio.loadmat(str(f))
        pts = m["pt3d_68"][:3].T.astype(float)
        pts[:, 1] *= -1
        R_fit = _similarity_rotation(face, pts)
        pose = Pose.from_pose_para(m["Pose_Para"])
        errs.append(angle_between(R_fit, pose.matrix()))
        # the same angles composed the other way round (no transpose) must fit worse
        wrong_convention.append(angle_between(R_fit, rz(pose.roll) @ ry(pose.yaw) @ rx(pose.pitch)))
    assert np.median(errs) < 3.0
    assert np.median(wrong_convention) > 3 * np.median(errs)


def test_pyr_reading_is_headposeplus_known_answer():
    # kuhnkeF/headposeplus hpp/calc_error.py _ypr2pyr of (yaw 30, pitch -20, roll 10), run with
    # scipy: Rotation.from_euler('zyx', [-10, -30, 20]).as_euler('xyz') -> p, y, r
    got = euler_reading(np.array([[30.0, -20.0, 10.0], [0.0, 0.0, 0.0]]), "pyr")
    np.testing.assert_allclose(got[0], [-23.78571179, 27.20984858, -21.24565372], atol=1e-7)
    np.testing.assert_allclose(got[1], 0.0, atol=1e-12)
    R = euler_to_matrix(30.0, -20.0, 10.0)
    np.testing.assert_allclose(rz(got[0, 2]) @ ry(got[0, 0]) @ rx(got[0, 1]), R, atol=1e-12)  # R = Rz Ry Rx
    np.testing.assert_allclose(euler_reading(got[:1], "pyr")[0], [30.0, -20.0, 10.0], atol=1e-9)  # an involution
    np.testing.assert_array_equal(euler_reading(got, "ypr"), got)
    with pytest.raises(ValueError, match="Euler order"):
        euler_reading(got, "rpy")
