"""Safe extraction: members escaping the target (or nested thousands deep) are refused before anything
is written, a dataset's folder rule may not point outside the archive, and the leftovers of killed
processes are cleaned."""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli_fixtures import one_line_error, run_cli
from data_fixtures import (
    make_aflw2000_folder,
)
from posebench.acquire.archive import UnsafeArchiveError, safe_extract
from posebench.acquire.catalogue import get_source
from posebench.acquire.layout import find_dataset_folder
from posebench.cli import main
from posebench.errors import DataError
from posebench.registry import datasets


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name), data)
    return path


def _tar(path: Path, members: list[tarfile.TarInfo | tuple[str, bytes]]) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for m in members:
            if isinstance(m, tarfile.TarInfo):
                tf.addfile(m)
            else:
                info = tarfile.TarInfo(m[0])
                info.size = len(m[1])
                tf.addfile(info, io.BytesIO(m[1]))
    return path


def _link(name: str, target: str, hard: bool = False) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.LNKTYPE if hard else tarfile.SYMTYPE
    info.linkname = target
    return info


def _zip_symlink(path: Path, name: str, target: str) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("data/ok.txt", b"fine")
        info = zipfile.ZipInfo(name)
        info.external_attr = (0o120777 << 16)  # S_IFLNK
        zf.writestr(info, target)
    return path


def _snapshot(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


CASES = {
    "zip-dotdot": lambda p: _zip(p / "a.zip", {"data/ok.txt": b"fine", "../evil.txt": b"owned"}),
    "zip-nested-dotdot": lambda p: _zip(p / "a.zip", {"data/../../evil.txt": b"owned"}),
    "zip-absolute": lambda p: _zip(p / "a.zip", {"data/ok.txt": b"fine", "/tmp/evil.txt": b"owned"}),
    "zip-symlink-out": lambda p: _zip_symlink(p / "a.zip", "data/link", "../../outside"),
    "tar-dotdot": lambda p: _tar(p / "a.tgz", [("data/ok.txt", b"fine"), ("../evil.txt", b"owned")]),
    "tar-absolute": lambda p: _tar(p / "a.tgz", [("/tmp/evil.txt", b"owned")]),
    "tar-symlink-out": lambda p: _tar(p / "a.tgz", [_link("data/link", "../../outside"),
                                                     ("data/link/evil.txt", b"owned")]),
    "tar-symlink-absolute": lambda p: _tar(p / "a.tgz", [_link("data/passwd", "/etc/passwd")]),
    "tar-hardlink-out": lambda p: _tar(p / "a.tgz", [_link("data/h", "../outside.txt", hard=True)]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_malicious_archive_is_refused_and_nothing_is_written(tmp_path, case):
    src = tmp_path / "src"
    src.mkdir()
    archive = CASES[case](src)
    work = tmp_path / "work" / "root"
    work.mkdir(parents=True)
    before = _snapshot(tmp_path)
    with pytest.raises(UnsafeArchiveError, match="refused") as info:
        safe_extract(archive, work, progress=False)
    assert "\n" not in str(info.value)
    assert _snapshot(tmp_path) == before  # no member, no temporary folder, nothing outside
    assert not Path("/tmp/evil.txt").exists()


def test_benign_tar_with_inner_symlink_extracts(tmp_path):
    archive = _tar(tmp_path / "ok.tgz", [("top/a/x.txt", b"x"), _link("top/b", "a/x.txt")])
    out = safe_extract(archive, tmp_path / "root", progress=False)
    assert (out / "top" / "a" / "x.txt").read_bytes() == b"x"
    assert (out / "top" / "b").is_symlink() and (out / "top" / "b").read_bytes() == b"x"
    assert out.parent == tmp_path / "root" and out.name.startswith(".extract-")


def test_not_an_archive_is_a_data_error(tmp_path):
    from posebench.errors import DataError

    p = tmp_path / "x.zip"
    p.write_bytes(b"this is not an archive")
    with pytest.raises(DataError, match="not a zip or tar archive"):
        safe_extract(p, tmp_path / "root", progress=False)


def test_layout_finds_each_readers_folder(tmp_path):
    (tmp_path / "a" / "AFLW2000").mkdir(parents=True)
    for i in (2, 4):
        (tmp_path / "a" / "AFLW2000" / f"image{i:05d}.mat").write_bytes(b"")
    (tmp_path / "a" / "AFLW2000" / "Code").mkdir()
    assert find_dataset_folder(get_source("aflw2000"), tmp_path / "a") == tmp_path / "a" / "AFLW2000"

    lp = tmp_path / "b" / "300W_LP"
    for sub in ("AFW", "IBUG_Flip"):
        (lp / sub).mkdir(parents=True)
        (lp / sub / f"{sub}_1.mat").write_bytes(b"")
    (lp / "landmarks" / "AFW").mkdir(parents=True)
    (lp / "landmarks" / "AFW" / "AFW_1_pts.mat").write_bytes(b"")
    assert find_dataset_folder(get_source("300w-lp"), tmp_path / "b") == lp

    hp = tmp_path / "c" / "kinect_head_pose_db" / "hpdb"
    for subj in ("01", "02"):
        (hp / subj).mkdir(parents=True)
        (hp / subj / "frame_00003_pose.txt").write_text("")
    assert find_dataset_folder(get_source("biwi"), tmp_path / "c") == hp


@pytest.mark.parametrize("kind", ["zip-deep", "tar-deep", "zip-long-name"])
def test_deep_archive_is_refused_in_one_line(tmp_path, kind):
    import io
    import tarfile

    deep = "a/" * 2000 + "f.mat" if kind != "zip-long-name" else "b" * 3000 + "/f.mat"
    if kind.startswith("zip"):
        arch = tmp_path / "deep.zip"
        with zipfile.ZipFile(arch, "w") as zf:
            zf.writestr(deep, b"x")
    else:
        arch = tmp_path / "deep.tar"
        with tarfile.open(arch, "w", format=tarfile.PAX_FORMAT) as tf:
            info = tarfile.TarInfo(deep)
            info.size = 1
            tf.addfile(info, io.BytesIO(b"x"))
    res = CliRunner().invoke(main, ["data", "prepare", "aflw2000", "--from", str(arch), "--root", str(tmp_path / "d")])
    assert "refused member" in one_line_error(res, 1)
    assert not [p for p in (tmp_path / "d").iterdir() if p.name.startswith(".extract")]


def test_leftovers_of_killed_processes_are_cleaned(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        root = tmp_path / "data"
        (root / ".downloads").mkdir(parents=True)
        gone = [root / f".extract-AFLW2000-3D.zip-{dead.pid}-abc123", root / f".copy-aflw2000-{dead.pid}",
                root / f".aflw2000.old-{dead.pid}", root / ".downloads" / f".x.pkl.tmp{dead.pid}"]
        kept = [root / f".extract-AFLW2000-3D.zip-{live.pid}-abc123", root / ".user-folder"]
        for p in gone + kept:
            p.mkdir() if not p.name.startswith(".x") else p.write_bytes(b"")
        (gone[0] / "big.bin").write_bytes(b"\0" * 1000)
        src = tmp_path / "src"
        make_aflw2000_folder(src, images=False)
        res = CliRunner().invoke(main, ["data", "download", "aflw2000", "--root", str(root), "--url", "notaurl"])
        assert res.exit_code == 2  # even a refused call cleans up first
        assert not any(p.exists() for p in gone) and all(p.exists() for p in kept)
    finally:
        live.kill()
        live.wait()


def test_dataset_rule_outside_the_archive_is_refused_and_moves_nothing(faulty_plugin, monkeypatch):
    victim = faulty_plugin / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("mine")
    monkeypatch.setenv("FAULT_VICTIM", str(victim))
    z = faulty_plugin / "pkg" / "g.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("g/poses.csv", "x")
    src = datasets.get("grabby").source
    from posebench.acquire.layout import find_dataset_folder

    with pytest.raises(DataError, match="not inside"):
        find_dataset_folder(src, faulty_plugin / "pkg")
    res = run_cli("data", "prepare", "grabby", "--from", str(z))
    assert res.exit_code == 1 and "refused" in res.output
    assert (victim / "precious.txt").read_text() == "mine"
    res = run_cli("data", "prepare", "raising", "--from", str(z))
    assert res.exit_code == 1 and "the folder rule of raising failed: ZeroDivisionError" in res.output
    assert "Traceback" not in res.output


def test_links_are_bounded_by_the_dataset_folder_not_the_extraction_root(tmp_path):
    """Issue 25: ``data/link -> ../other/secret`` stays inside the extracted archive, so the
    archive check let it through, but it leaves the dataset folder that gets installed."""
    from posebench.acquire.install import check_links_inside

    tgz = _tar(tmp_path / "a.tgz", [("data/a.txt", b"a"), ("other/secret", b"s"), _link("data/link", "../other/secret"),
                                    _link("data/inner", "a.txt")])
    out = safe_extract(tgz, tmp_path / "work", progress=False)  # inside the extraction root: extracted
    assert (out / "data" / "link").is_symlink()
    with pytest.raises(UnsafeArchiveError, match=r"refused link 'link' -> '../other/secret' \(points outside the dataset folder data\)"):
        check_links_inside(out / "data", "a.tgz")
    (out / "data" / "link").unlink()
    check_links_inside(out / "data", "a.tgz")  # a link within the folder is fine
