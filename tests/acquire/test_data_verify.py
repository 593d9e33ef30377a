"""`posebench data verify` and `prepare`: counts, parsable labels, protocol counts, weights."""

from __future__ import annotations

import os
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import scipy.io as sio
from click.testing import CliRunner

from cli_fixtures import run_cli
from data_fixtures import make_aflw2000_folder, write_jpg
from image_damage import build_tree, mark_unreadable
from posebench.acquire.catalogue import get_source
from posebench.acquire.verify import verify_source
from posebench.cli import main


def test_verify_aflw2000_finds_a_missing_mat(tmp_path):
    folder = tmp_path / "aflw2000"
    stems = make_aflw2000_folder(folder)
    (folder / f"{stems[1]}.mat").unlink()
    rep = verify_source(get_source("aflw2000"), tmp_path)  # a data root holding aflw2000/
    assert rep.path == folder
    assert f"{stems[1]}.jpg: no {stems[1]}.mat label file" in rep.problems
    assert rep.counts["labels"] == 4 and rep.counts["images"] == 5
    assert rep.counts["in_protocol"] == 3  # one of the remaining four has yaw 120 deg
    res = CliRunner().invoke(main, ["data", "verify", "aflw2000", "--root", str(folder)])
    assert res.exit_code == 1
    assert f"problem: {stems[1]}.jpg: no {stems[1]}.mat label file" in res.output
    assert "problem: expected 2000 imageXXXXX.mat label files, found 4" in res.output
    assert res.output.strip().splitlines()[-1].startswith("error: 2 problem(s)")


def test_verify_aflw2000_reports_broken_label(tmp_path):
    stems = make_aflw2000_folder(tmp_path, images=False)
    (tmp_path / f"{stems[0]}.mat").write_bytes(b"not a mat file")
    rep = verify_source(get_source("aflw2000"), tmp_path)
    assert f"{stems[0]}.mat: unreadable .mat (ValueError)" in rep.problems or any(
        p.startswith(f"{stems[0]}.mat: unreadable") for p in rep.problems)
    assert rep.counts["parsed"] == 4 and rep.counts["images"] == 0


def test_verify_shared_aflw2000_labels(aflw_labels):
    res = CliRunner().invoke(main, ["data", "verify", "aflw2000", "--root", str(aflw_labels)])
    assert res.exit_code == 0, res.output
    assert "2000 labels (imageXXXXX.mat), 2000 parse" in res.output
    assert "1969 in protocol" in res.output
    assert "0 images" in res.output
    assert "ok: no problems found" in res.output


def test_verify_missing_dataset_is_one_problem(tmp_path):
    rep = verify_source(get_source("biwi"))
    assert len(rep.problems) == 1 and "does not exist" in rep.problems[0]


def _biwi_tree(top: Path, subjects=("01", "02")) -> None:
    rot = np.array([[0.98, 0.0, 0.199], [0.0, 1.0, 0.0], [-0.199, 0.0, 0.98]])
    rot, _ = np.linalg.qr(rot)
    rot = rot * np.sign(np.linalg.det(rot))  # a proper rotation (QR may return a reflection)
    for s in subjects:
        (top / s).mkdir(parents=True)
        for f in (3, 4):
            lines = [" ".join(f"{v:.6f}" for v in row) for row in rot] + ["", "10.0 20.0 900.0"]
            (top / s / f"frame_{f:05d}_pose.txt").write_text("\n".join(lines) + "\n")
            write_jpg(top / s / f"frame_{f:05d}_rgb.png", (64, 48))


def test_prepare_biwi_from_mirror_tarball_and_verify(tmp_path):
    src = tmp_path / "src" / "kinect_head_pose_db" / "hpdb"
    _biwi_tree(src)
    (src / "02" / "frame_00004_rgb.png").unlink()
    tgz = tmp_path / "biwi-mirror.tgz"
    with tarfile.open(tgz, "w:gz") as tf:
        tf.add(tmp_path / "src" / "kinect_head_pose_db", arcname="kinect_head_pose_db")
    res = CliRunner().invoke(main, ["data", "prepare", "biwi", "--from", str(tgz)])
    assert res.exit_code == 1 and "installed at" in res.output, res.output  # installed, with its problems listed
    root = Path(os.environ["POSEBENCH_DATA"])
    assert sorted(p.name for p in (root / "biwi").iterdir()) == ["01", "02"]
    assert "2 sequences, 4 pose files, 3 with an rgb image" in res.output
    assert "problem: 2 sequence folders with pose files, expected 24" in res.output
    assert "problem: 02/frame_00004_pose.txt: no frame_00004_rgb.png" in res.output
    assert tgz.exists()  # the user's file is left alone
    from posebench import create_dataset

    assert len(create_dataset("biwi")) == 4


def test_prepare_official_name_with_wrong_size_is_refused_but_kept(tmp_path):
    fake = tmp_path / "kinect_head_pose_db.tgz"
    with tarfile.open(fake, "w:gz") as tf:
        tf.add(__file__, arcname="x.py")
    res = CliRunner().invoke(main, ["data", "prepare", "biwi", "--from", str(fake)])
    assert res.exit_code == 1
    assert "expected 6014398431" in res.output and "removed" not in res.output
    assert fake.exists()


def test_prepare_300w_lp_from_zip(tmp_path):
    from data_fixtures import write_aflw2000_mat

    top = tmp_path / "300W_LP"
    for sub in ("AFW", "AFW_Flip"):
        (top / sub).mkdir(parents=True)
        write_aflw2000_mat(top / sub / f"{sub}_134212_1_0.mat", (3.0, 20.0, 1.0))
        m = sio.loadmat(str(top / sub / f"{sub}_134212_1_0.mat"))
        m["pt2d"] = m["pt3d_68"][:2].astype(np.float64)  # 300W-LP: 2x68
        sio.savemat(str(top / sub / f"{sub}_134212_1_0.mat"), {k: v for k, v in m.items() if not k.startswith("__")})
        write_jpg(top / sub / f"{sub}_134212_1_0.jpg")
    zpath = tmp_path / "300W-LP.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for p in sorted(top.rglob("*")):
            zf.write(p, p.relative_to(tmp_path).as_posix())
    res = CliRunner().invoke(main, ["data", "prepare", "300w-lp", "--from", str(zpath)])
    assert res.exit_code == 1 and "installed at" in res.output, res.output  # 2 labels, not the published counts
    assert "AFW: 1 labels (expected 5207)" in res.output
    assert "2 labels in all, 2 images; 2 of a sample of 2 labels parse" in res.output
    from posebench import create_dataset

    ds = create_dataset("300w-lp")
    assert sorted(s.id for s in ds) == ["AFW/AFW_134212_1_0", "AFW_Flip/AFW_Flip_134212_1_0"]


def _fake_hopenet(path: Path) -> None:
    import torch

    from posebench.methods.hopenet import nets

    # every tensor of the network (verify makes the loader's check: no key more or less), without
    # the BatchNorm counters that the 2017 files lack
    state = {k: v for k, v in nets.build("hopenet").state_dict().items() if not k.endswith("num_batches_tracked")}
    torch.save(state, path, _use_new_zipfile_serialization=False)  # legacy format, as the 2017 files


def test_prepare_weights_checks_layout_and_copies(tmp_path):
    given = tmp_path / "hopenet_alpha2.pkl"
    _fake_hopenet(given)
    res = CliRunner().invoke(main, ["data", "prepare", "hopenet-alpha2", "--from", str(given)])
    assert res.exit_code == 0, res.output
    dest = Path(os.environ["POSEBENCH_WEIGHTS"]) / "hopenet_alpha2.pkl"
    assert dest.read_bytes() == given.read_bytes()
    assert "loadable with weights_only=True" in res.output
    res = CliRunner().invoke(main, ["data", "verify", "hopenet-alpha2"])
    assert res.exit_code == 0 and "ok: its structure fits; its content is NOT verified" in res.output


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo owned > /dev/null",))


def test_prepare_weights_refuses_pickled_code_and_wrong_shapes(tmp_path):
    import pickle

    import torch

    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps({"fc_yaw.weight": _Evil()}))
    res = CliRunner().invoke(main, ["data", "prepare", "hopenet-alpha1", "--from", str(evil)])
    assert res.exit_code == 1 and "evil.pkl: not a PyTorch state dict" in res.output  # the loader's own check
    wrong = tmp_path / "wrong.pkl"
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7), "fc_yaw.weight": torch.zeros(10, 2048)}, wrong)
    res = CliRunner().invoke(main, ["data", "prepare", "hopenet-alpha1", "--from", str(wrong)])
    assert res.exit_code == 1 and "1 shape mismatches (first: fc_yaw.weight (10, 2048) != (66, 2048))" in res.output
    assert not (Path(os.environ["POSEBENCH_WEIGHTS"]) / "hopenet_alpha1.pkl").exists()


def test_prepare_afw_finds_anno_and_verifies_counts(tmp_path):
    """AFW's own source (posebench.datasets.afw): the folder holding anno.mat is found inside the
    archive, the copy is checked by the reader (images, faces) against the published 205 / 468,
    and `posebench run -d afw` then finds it without --data-dir."""
    from data_fixtures import write_afw

    src = write_afw(tmp_path / "release" / "testimages")  # 4 images, 5 faces
    zpath = tmp_path / "AFW.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for p in src.iterdir():
            zf.write(p, f"AFW/testimages/{p.name}")
    res = CliRunner().invoke(main, ["data", "prepare", "afw", "--from", str(zpath)])
    assert res.exit_code == 1 and "but the check found 1 problem(s)" in res.output, res.output
    dest = Path(os.environ["POSEBENCH_DATA"]) / "afw"
    assert (dest / "anno.mat").is_file() and (dest / "1000.jpg").is_file()
    assert "anno.mat: 4 images, 5 faces (published: 205 and 468); 4 images present" in res.output
    assert "problem: anno.mat lists 4 images with 5 faces, expected 205 with 468" in res.output
    (dest / "1002.jpg").unlink()
    res = CliRunner().invoke(main, ["data", "verify", "afw"])
    assert res.exit_code == 1 and "problem: 1002.jpg: image missing" in res.output
    res = CliRunner().invoke(main, ["run", "-m", "gt-landmarks", "-d", "afw", "--json"])
    assert "no --data-dir given" not in res.output  # found in <data root>/afw


@pytest.mark.parametrize("name", ["aflw2000", "hopenet-alpha1"])
def test_prepare_from_missing_file_is_one_line(tmp_path, name):
    res = CliRunner().invoke(main, ["data", "prepare", name, "--from", str(tmp_path / "nope.zip")])
    assert res.exit_code == 1 and res.output.count("\n") == 1 and "does not exist" in res.output


@pytest.mark.parametrize("reader", ["aflw2000", "300w-lp", "biwi"])
def test_data_verify_names_every_damaged_image(reader, damaged_images, tmp_path, unreadable, monkeypatch):
    import posebench.acquire.source as source

    cs, mat = damaged_images
    root = tmp_path / reader
    ids = build_tree(root, reader, cs, mat)
    mark_unreadable(unreadable, root, ids, reader)
    monkeypatch.setattr(source, "IMAGE_SAMPLE", 1000)  # decode every image, not a spread of 5
    res = CliRunner().invoke(main, ["data", "verify", reader, "--root", str(root)])
    if res.exception and not isinstance(res.exception, SystemExit):
        raise res.exception
    assert res.exit_code == 1 and res.output.strip().splitlines()[-1].startswith("error:")
    problems = [line for line in res.output.splitlines() if line.startswith("problem:")]
    for name, (_, data, (kind, _)) in cs.items():
        if kind != "fail" or data is None:
            continue
        stem = Path(ids[name]).name
        hit = any(stem in line for line in problems)
        assert hit, f"{name} ({stem}) not reported by verify: {problems}"
    for name, (ext, _, (kind, _)) in cs.items():
        if kind == "same":
            file = {"aflw2000": Path(ids[name]).name + ext, "300w-lp": Path(ids[name]).name + ".jpg",
                    "biwi": Path(ids[name]).name + "_rgb.png"}[reader]
            assert not any(f"{file}:" in line for line in problems), (name, problems)


def test_prepare_from_a_link_to_a_folder_installs_it(tmp_path):
    from data_fixtures import make_aflw2000_folder

    real = tmp_path / "real"
    make_aflw2000_folder(real, images=False)
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    res = run_cli("data", "prepare", "aflw2000", "--from", str(link))
    assert "installed at" in res.output and "not a folder" not in res.output, res.output


def test_interrupt_during_the_check_says_the_copy_is_installed(tmp_path, monkeypatch):
    import posebench.acquire.verify as verify
    from data_fixtures import make_aflw2000_folder

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(verify, "verify_source", interrupted)
    src = tmp_path / "src"
    make_aflw2000_folder(src, images=False)
    res = run_cli("data", "prepare", "aflw2000", "--from", str(src))
    assert res.exit_code == 130 and "aflw2000 is installed at" in res.output
    assert "posebench data verify aflw2000" in res.output and "nothing was installed" not in res.output


def test_an_installed_whenet_file_must_be_the_published_bytes(tmp_path):
    from posebench.acquire.catalogue import get_source
    from posebench.acquire.verify import verify_source

    (tmp_path / "whenet").mkdir()
    (tmp_path / "whenet" / "WHENet.h5").write_bytes(b"\x89HDF\r\n\x1a\nnot the authors' file")
    rep = verify_source(get_source("whenet"), tmp_path)
    assert rep.problems and "expected the published 8f8bcf924447f712" in rep.problems[0]


# -- the catalogue's FSA-Net, FAN and MediaPipe files ------------------------------------------------

def _shared_models() -> Path:
    from conftest import SHARED

    return Path(SHARED) / "models"


@pytest.mark.parametrize("name, folder, filename", [
    ("fsanet-1x1", "fsanet", "fsanet-1x1-iter-688590.onnx"), ("fsanet-var", "fsanet", "fsanet-var-iter-688590.onnx"),
    ("mediapipe-face-landmark", "mediapipe", "face_landmark.tflite"),
    ("mediapipe-face-landmark-attention", "mediapipe", "face_landmark_with_attention.tflite"),
    ("mediapipe-face-detector", "mediapipe", "face_detection_short_range.tflite"),
    ("mediapipe-geometry", "mediapipe", "geometry_pipeline_metadata_landmarks.pbtxt"),
])
def test_catalogue_checksums_are_those_of_the_measured_files(name, folder, filename):
    """The size and SHA-256 in the catalogue are those of the copies posebench's figures were made with."""
    from posebench.fileio import file_digest

    src = get_source(name)
    assert src.filename == filename and src.target == f"{folder}/{filename}"
    path = _shared_models() / folder / filename
    if not path.is_file():
        pytest.skip(f"{path} absent")
    assert (src.size, src.sha256) == (path.stat().st_size, file_digest(path))


def test_fan_is_catalogued_and_its_download_is_the_default(tmp_path, monkeypatch):
    from posebench.methods.fan import FAN_FILE, default_weights_path

    src = get_source("fan")
    assert src.target == f"fan/{FAN_FILE}" and src.sha256 is None and src.verify is not None
    monkeypatch.setenv("POSEBENCH_WEIGHTS", str(tmp_path))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    assert default_weights_path() == tmp_path / "torch" / "hub" / "checkpoints" / FAN_FILE  # face-alignment's place
    (tmp_path / "fan").mkdir()
    (tmp_path / "fan" / FAN_FILE).write_bytes(b"x")
    assert default_weights_path() == tmp_path / "fan" / FAN_FILE  # the catalogue's place first


def test_weights_without_a_published_checksum_are_never_said_verified(tmp_path):
    """`data prepare hopenet-alpha2 --from` any checkpoint of Hopenet's shapes said "ok: no problems
    found" and installed it under the paper's name: now the ok line says the content is not
    verified (with the copy's SHA-256), and another entry's official file name is refused."""
    import hashlib

    import torch

    from cli_fixtures import one_line_error, run_cli
    from posebench.methods.hopenet import nets

    seeded = tmp_path / "mine.pkl"
    torch.save(nets.seeded_weights("hopenet", seed=0), seeded)
    root = tmp_path / "w"
    r = run_cli("data", "prepare", "hopenet-alpha2", "--from", str(seeded), "--root", str(root))
    assert r.exit_code == 0, r.output
    digest = hashlib.sha256(seeded.read_bytes()).hexdigest()
    assert ("ok: its structure fits; its content is NOT verified (no published checksum for hopenet-alpha2): "
            f"SHA-256 of this copy {digest}") in r.output and "no problems found" not in r.output
    alpha1 = tmp_path / "hopenet_alpha1.pkl"
    alpha1.write_bytes(seeded.read_bytes())
    line = one_line_error(run_cli("data", "prepare", "hopenet-alpha2", "--from", str(alpha1), "--root",
                                  str(tmp_path / "w2")), 2)
    assert "--from hopenet_alpha1.pkl is the file name of hopenet-alpha1" in line
    assert not (tmp_path / "w2" / "hopenet_alpha2.pkl").exists()
