"""Safe extraction: members escaping the target are refused before anything is written."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from posebench.acquire.archive import UnsafeArchiveError, safe_extract
from posebench.acquire.catalogue import get_source
from posebench.acquire.layout import find_dataset_folder


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
