"""The weight catalogue: every entry says where it comes from, its licence, what it is for and its
checksum (or why it is unknown); the published checksums agree with the reference copies; the
download routes (direct link, Google Drive id, Hugging Face file) are declared by clear fields."""

from __future__ import annotations

import re

import pytest

from cli_fixtures import run_cli
from conftest import SHARED
from posebench.acquire.catalogue import WEIGHTS
from posebench.acquire.source import Source
from posebench.fileio import file_digest


@pytest.mark.parametrize("name", sorted(WEIGHTS))
def test_every_weight_file_says_source_licence_purpose_and_checksum(name):
    s = WEIGHTS[name]
    assert s.kind == "weights" and s.title and s.licence and s.homepage.startswith("https://")
    assert s.downloadable or "posebench data prepare" in s.manual
    assert "posebench data prepare" in s.manual  # the offline / link-down route, always
    if s.sha256 is None:
        assert s.checksum_note.startswith("checksum unknown: ") and len(s.checksum_note) > 30
    else:
        assert re.fullmatch(r"[0-9a-f]{64}", s.sha256) and s.size and s.checksum_note
    assert s.used_by, f"{name}: which method reads it?"


def test_used_by_names_registered_methods_and_detectors():
    from posebench.registry import detectors, methods

    for s in WEIGHTS.values():
        for user in s.used_by:
            kind, _, name = user.rpartition(":")
            registry = detectors if kind == "detector" else methods
            assert name in registry.names(), (s.name, user)


def test_published_checksums_match_the_reference_copies():
    """Every catalogue file that ../shared/models holds has the catalogue's size and SHA-256."""
    models = SHARED / "models"
    if not models.is_dir():
        pytest.skip(f"shared reference models not found: {models} (set POSEBENCH_SHARED)")
    checked = []
    for s in WEIGHTS.values():
        copies = [p for p in models.rglob(s.filename) if p.is_file()]
        if not copies or s.sha256 is None:
            continue
        assert copies[0].stat().st_size == s.size, s.name
        assert file_digest(copies[0]) == s.sha256, s.name
        checked.append(s.name)
    assert {"whenet", "yunet", "3ddfa-v2-mb05", "fsanet-1x1", "fsanet-var", "mediapipe-face-landmark"} <= set(checked)


def test_hopenet_files_download_from_google_drive():
    for name, drive_id in (("hopenet-alpha1", "1EJPu2sOAwrfuamTitTkw2xJ2ipmMsmD3"),
                           ("hopenet-alpha2", "16OZdRULgUpceMKZV6U9PNFiigfjezsCY"),
                           ("hopenet-robust-alpha1", "1m25PrSE7g9D2q2XJVMR6IA7RaCvWSzCR")):
        s = WEIGHTS[name]
        assert s.route == "gdrive" and s.gdrive_id == drive_id and s.downloadable
        assert s.origin == f"https://drive.google.com/file/d/{drive_id}"


def _src(**kw) -> Source:
    return Source(name="x", kind="weights", title="t", homepage="https://example.org", filename="w.pth",
                  licence="MIT", **kw)


def test_source_routes_are_one_of_url_gdrive_hf():
    assert _src(url="https://example.org/w.pth").route == "url"
    hf = _src(hf_repo="owner/model")
    assert hf.route == "hf" and hf.hf_filename == "w.pth" and hf.hf_revision is None
    assert hf.origin == "https://huggingface.co/owner/model/blob/main/w.pth"
    pinned = _src(hf_repo="owner/model", hf_filename="sub/w.pth", hf_revision="a" * 40)
    assert pinned.origin == f"https://huggingface.co/owner/model/blob/{'a' * 40}/sub/w.pth"
    assert _src().route is None and not _src().downloadable and _src().origin == "https://example.org"
    with pytest.raises(ValueError, match="give one of url, gdrive_id, hf_repo"):
        _src(url="https://example.org/w.pth", gdrive_id="1EJPu2sOAwrfuamTitTkw2xJ2ipmMsmD3")
    with pytest.raises(ValueError, match="need hf_repo"):
        _src(hf_filename="w.pth")
    with pytest.raises(ValueError, match="not 'owner/name'"):
        _src(hf_repo="https://huggingface.co/owner/model")
    with pytest.raises(ValueError, match="not a Google Drive file id"):
        _src(gdrive_id="https://drive.google.com/open?id=1EJPu2sOAwrfuamTitTkw2xJ2ipmMsmD3")


def test_data_list_shows_every_weight_file_with_licence_and_checksum():
    res = run_cli("data", "list")
    assert res.exit_code == 0, res.output
    blocks = {b.split()[0]: b for b in re.split(r"\n(?=\S)", res.output) if b.strip()}
    for name, s in WEIGHTS.items():
        block = blocks[name]
        assert f"licence: {s.licence}" in block
        if s.sha256:
            assert f"sha256:  {s.sha256}" in block
        else:
            assert "checksum unknown: " + s.checksum_note.removeprefix("checksum unknown: ") in block
    assert "source:  https://drive.google.com/file/d/16OZdRULgUpceMKZV6U9PNFiigfjezsCY (Google Drive, through gdown)" \
        in blocks["hopenet-alpha2"]
    assert "hopenet-alpha2         weights  download" in res.output


def test_methods_name_lists_its_weight_files_and_how_to_get_them():
    res = run_cli("methods", "hopenet")
    assert res.exit_code == 0, res.output
    for name in ("hopenet-alpha1", "hopenet-alpha2", "hopenet-robust-alpha1"):
        assert f"    {name}: Hopenet ResNet50 weights" in res.output
        assert f"not installed: run `posebench data download {name}`" in res.output
    assert "aflw2000: Ruiz, Chong & Rehg, CVPRW 2018, Table 1, Multi-Loss ResNet50 (alpha=2): 6.47 / 6.559 / 5.436 / " \
           "6.155" in res.output
    res = run_cli("methods", "gt-landmarks")
    assert "weight files (posebench data list): none in the catalogue" in res.output
