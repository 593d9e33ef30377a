"""Dataset readers against real files and fixtures written in the official formats."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io as sio

from conftest import shared_path
from image_damage import MeanColour, build_tree, check_table, mark_unreadable
from posebench.crop import landmark_box, loose_box_hopenet
from posebench.datasets.aflw2000 import load_aflw2000
from posebench.datasets.biwi import biwi_to_canonical, load_biwi
from posebench.datasets.synthetic import make_synthetic
from posebench.datasets.w300lp import load_300w_lp
from posebench.errors import DataError
from posebench.evaluation.runner import evaluate
from posebench.pose import Pose, euler_to_matrix
from posebench.registry import datasets


def test_aflw2000_labels_protocol_count(aflw_labels):
    ds = load_aflw2000(aflw_labels)
    assert len(ds) == 1969 and ds.excluded == 31 and ds.n_with_images == 0
    assert ds.protocol == "aflw2000-hopenet-v1"
    assert all(s.landmarks.shape == (68, 2) for s in ds.samples[:50])
    assert len(load_aflw2000(aflw_labels, filter="none")) == 2000


def test_aflw2000_sample_reads_real_pose_landmarks_and_box(aflw_sample):
    ds = load_aflw2000(aflw_sample)
    assert ds.n_with_images == len(ds) == 37
    s = next(x for x in ds.samples if x.id == "image00002")
    m = sio.loadmat(str(aflw_sample / "image00002.mat"))
    pitch, yaw, roll = np.degrees(m["Pose_Para"][0, :3])
    assert (s.pose.yaw, s.pose.pitch, s.pose.roll) == pytest.approx((yaw, pitch, roll))
    assert np.allclose(s.landmarks, m["pt3d_68"][:2].T)
    assert s.image_size == (450, 450)
    # Hopenet's crop keeps the -1 of invisible points: this file has one, so x_min starts at -1.
    pt2d = m["pt2d"].T
    assert (pt2d[:, 0] == -1).any()
    assert s.box == pytest.approx(loose_box_hopenet(landmark_box(pt2d)))
    vis = load_aflw2000(aflw_sample, crop="visible")
    assert vis.protocol == "aflw2000-visible-v1"
    assert next(x for x in vis.samples if x.id == "image00002").box[0] > s.box[0]


def test_loose_box_hopenet_numbers():
    # w = h = 100: x_min -= 40, y_min -= 40, x_max += 0.4 * 140, y_max += 0.12 * 140
    assert loose_box_hopenet((100, 100, 200, 200)) == pytest.approx((60, 60, 256, 216.8))


def test_300w_lp_sample():
    root = shared_path("data", "300W_LP-sample")
    ds = load_300w_lp(root)
    assert len(ds) == 1
    s = ds.samples[0]
    assert s.id == "IBUG/IBUG_image_008_1_0" and s.image_path is not None
    m = sio.loadmat(str(root / "IBUG" / "IBUG_image_008_1_0.mat"))
    assert np.allclose(s.landmarks, m["pt2d"].T)
    assert s.pose.yaw == pytest.approx(np.degrees(m["Pose_Para"][0, 1]))


def _write_biwi(root, rotations):
    for i, R in enumerate(rotations):
        d = root / f"{i // 2 + 1:02d}"
        d.mkdir(parents=True, exist_ok=True)
        rows = [" ".join(f"{v:.9f}" for v in row) + " " for row in R]
        (d / f"frame_{i:05d}_pose.txt").write_text("\n".join(rows) + "\n\n" + "12.5 -3.25 980.0 \n")


def _hopenet_biwi_angles(R):
    """Independent reference: the angle extraction of Hopenet's BIWI loader."""
    R = R.T
    roll = -np.degrees(np.arctan2(R[1, 0], R[0, 0]))
    yaw = -np.degrees(np.arctan2(-R[2, 0], np.sqrt(R[2, 1] ** 2 + R[2, 2] ** 2)))
    pitch = np.degrees(np.arctan2(R[2, 1], R[2, 2]))
    return yaw, pitch, roll


def test_biwi_fixture_known_rotations(tmp_path):
    rng = np.random.default_rng(5)
    rotations = [np.eye(3)]
    for _ in range(5):
        y, p, r = rng.uniform(-60, 60), rng.uniform(-50, 50), rng.uniform(-40, 40)
        rotations.append(euler_to_matrix(y, p, r))
    _write_biwi(tmp_path, rotations)
    ds = load_biwi(tmp_path)
    assert len(ds) == 6 and ds.samples[0].pose.as_array() == pytest.approx([0, 0, 0], abs=1e-9)
    for s, R in zip(ds.samples, rotations):
        assert s.pose.as_array() == pytest.approx(_hopenet_biwi_angles(R), abs=1e-6)
        assert s.image_path is None and s.meta["head_centre_mm"] == [12.5, -3.25, 980.0]


def test_biwi_rotation_about_vertical_axis_is_yaw():
    # A head turning about the camera's vertical axis is pure yaw: F Ry(a) F = Ry(-a) = Ry(a).T.
    c, s = np.cos(np.radians(20)), np.sin(np.radians(20))
    R_b = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    assert biwi_to_canonical(R_b).as_array() == pytest.approx([20, 0, 0], abs=1e-9)


def test_biwi_bad_pose_file_is_recorded(tmp_path):
    _write_biwi(tmp_path, [np.eye(3)])
    (tmp_path / "01" / "frame_00009_pose.txt").write_text("1 2 3\nnot numbers\n")
    ds = load_biwi(tmp_path)
    assert len(ds) == 1 and len(ds.invalid) == 1 and "unreadable" in ds.invalid[0][1]


def test_synthetic_is_deterministic_and_exact():
    a, b = make_synthetic(n=20, seed=7), make_synthetic(n=20, seed=7)
    assert a.fingerprint() == b.fingerprint()
    assert make_synthetic(n=20, seed=8).fingerprint() != a.fingerprint()
    for s in a.samples:
        assert -90 <= s.pose.yaw <= 90 and s.image_path is None and s.model_3d.shape == (68, 3)


@pytest.mark.parametrize("make", ["missing", "file", "empty"])
def test_missing_or_empty_folder_is_a_data_error(tmp_path, make):
    target = tmp_path / "x"
    if make == "file":
        target.write_text("")
    elif make == "empty":
        target.mkdir()
    with pytest.raises(DataError, match=str(target.name)):
        load_aflw2000(target)


def test_mat_without_pose_para_is_recorded_not_fatal(tmp_path):
    face = np.stack([np.linspace(150, 300, 68), np.linspace(120, 330, 68) ** 1.01, np.zeros(68)])
    sio.savemat(str(tmp_path / "image00001.mat"), {"Pose_Para": np.array([[0.1, 0.2, 0.3, 0, 0, 0, 1]], np.float32),
                                                   "pt3d_68": face.astype(np.float32),
                                                   "pt2d": np.ones((2, 21), np.float32) * 50})
    sio.savemat(str(tmp_path / "image00002.mat"), {"pt3d_68": np.zeros((3, 68), np.float32)})
    (tmp_path / "image00003.mat").write_bytes(b"not a mat file")
    ds = load_aflw2000(tmp_path)
    assert [s.id for s in ds.samples] == ["image00001"]
    assert dict(ds.invalid) == {"image00002": "image00002.mat: no Pose_Para field",
                                "image00003": "image00003.mat: unreadable .mat (MatReadError)"}


def test_pose_from_pose_para_matches_reader(aflw_labels):
    ds = load_aflw2000(aflw_labels)
    m = sio.loadmat(str(aflw_labels / f"{ds.samples[0].id}.mat"))
    assert ds.samples[0].pose == Pose.from_pose_para(m["Pose_Para"])


@pytest.mark.parametrize("reader", ["aflw2000", "300w-lp", "biwi"])
def test_damaged_images_in_every_reader(reader, damaged_images, tmp_path, unreadable):
    cs, mat = damaged_images
    root = tmp_path / reader
    ids = build_tree(root, reader, cs, mat)
    mark_unreadable(unreadable, root, ids, reader)
    ds = datasets.create(reader, data_dir=str(root))
    res = evaluate(MeanColour(), ds, tmp_path / "res", progress=False)
    check_table(res.samples, ids, cs, reader, tol=1e-9)
    assert sum(b["n"] for b in res.record["by_yaw_bin"].values()) == res.record["n_evaluated"]


def test_biwi_reflection_huge_and_unreadable_pose_files_are_recorded(tmp_path):
    from posebench.datasets.biwi import load_biwi

    d = tmp_path / "01"
    d.mkdir()
    good = np.eye(3)
    rows = {"good": good, "reflection": np.diag([1.0, 1.0, -1.0]), "huge": np.eye(3) * 1e8}
    for i, (name, R) in enumerate(rows.items()):
        (d / f"frame_{i:05d}_pose.txt").write_text("\n".join(" ".join(str(v) for v in r) for r in R) + "\n1 2 3\n")
    (d / "frame_00003_pose.txt").write_bytes(b"\xff\xfe\x00garbage")
    (d / "frame_00004_pose.txt").mkdir()
    ds = load_biwi(tmp_path)
    reasons = dict(ds.invalid)
    assert [s.id for s in ds.samples] == ["01/frame_00000"]
    assert "reflection" in reasons["01/frame_00001"] and "orthonormal" in reasons["01/frame_00002"]
    assert "unreadable" in reasons["01/frame_00003"] and "unreadable" in reasons["01/frame_00004"]
