"""Resumable downloads, checksums and `posebench data download` against a local HTTP server."""

from __future__ import annotations

import hashlib
import http.server
import io
import os
import threading
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli_fixtures import one_line_error, run_cli
from data_fixtures import (
    FileServer,
    make_aflw2000_folder,
)
from posebench.acquire.catalogue import get_source
from posebench.acquire.download import ChecksumError, DownloadError, fetch
from posebench.cli import main

PAYLOAD = os.urandom(300_000)
SHA = hashlib.sha256(PAYLOAD).hexdigest()


def test_cut_connection_then_resume_with_range(tmp_path):
    dest = tmp_path / "blob.bin"
    with FileServer({"/blob.bin": PAYLOAD}, cut_first=("/blob.bin",)) as srv:
        with pytest.raises(DownloadError, match="run the same command again to resume"):
            fetch(srv.url("/blob.bin"), dest, size=len(PAYLOAD), sha256=SHA, retries=0, progress=False)
        part = tmp_path / "blob.bin.part"
        assert not dest.exists()
        assert part.stat().st_size == len(PAYLOAD) // 2
        fetch(srv.url("/blob.bin"), dest, size=len(PAYLOAD), sha256=SHA, retries=0, progress=False)
        assert srv.requests == [("/blob.bin", None), ("/blob.bin", f"bytes={len(PAYLOAD) // 2}-")]
    assert dest.read_bytes() == PAYLOAD
    assert not part.exists()


def test_resume_happens_within_one_call(tmp_path):
    dest = tmp_path / "blob.bin"
    with FileServer({"/blob.bin": PAYLOAD}, cut_first=("/blob.bin",)) as srv:
        fetch(srv.url("/blob.bin"), dest, sha256=SHA, progress=False)
        assert [r for _, r in srv.requests] == [None, f"bytes={len(PAYLOAD) // 2}-"]
    assert dest.read_bytes() == PAYLOAD


def test_server_ignoring_range_restarts_from_zero(tmp_path):
    dest = tmp_path / "blob.bin"
    (tmp_path / "blob.bin.part").write_bytes(b"stale bytes from another file")
    with FileServer({"/blob.bin": PAYLOAD}, ignore_range=True) as srv:
        fetch(srv.url("/blob.bin"), dest, sha256=SHA, progress=False)
        assert srv.requests[0][1] == "bytes=29-"  # asked to resume, got the whole file (200)
    assert dest.read_bytes() == PAYLOAD


def test_complete_part_file_gets_416_and_is_kept(tmp_path):
    dest = tmp_path / "blob.bin"
    (tmp_path / "blob.bin.part").write_bytes(PAYLOAD)
    with FileServer({"/blob.bin": PAYLOAD}) as srv:
        fetch(srv.url("/blob.bin"), dest, sha256=SHA, progress=False)
        assert srv.requests == [("/blob.bin", f"bytes={len(PAYLOAD)}-")]
    assert dest.read_bytes() == PAYLOAD


@pytest.mark.parametrize("size,sha,msg", [(None, "0" * 64, "SHA-256"), (len(PAYLOAD) + 1, None, "size")])
def test_bad_checksum_or_size_removes_the_file(tmp_path, size, sha, msg):
    dest = tmp_path / "blob.bin"
    with FileServer({"/blob.bin": PAYLOAD}) as srv:
        with pytest.raises(ChecksumError, match=msg) as info:
            fetch(srv.url("/blob.bin"), dest, size=size, sha256=sha, progress=False)
    assert "removed" in str(info.value) and "\n" not in str(info.value)
    assert not dest.exists() and not (tmp_path / "blob.bin.part").exists()


def test_http_error_and_unreachable_server_are_one_line(tmp_path):
    with FileServer({}) as srv:
        with pytest.raises(DownloadError, match="HTTP 404"):
            fetch(srv.url("/missing.zip"), tmp_path / "x.zip", progress=False)
        url = srv.url("/x.zip")
    with pytest.raises(DownloadError, match="cannot reach"):
        fetch(url, tmp_path / "x.zip", progress=False, retries=0, timeout=2)


def _aflw_zip(tmp_path: Path) -> bytes:
    src = tmp_path / "src" / "AFLW2000"
    make_aflw2000_folder(src)
    (src / "Code").mkdir()
    (src / "Code" / "readme.txt").write_text("not data")
    zpath = tmp_path / "AFLW2000-3D.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for p in sorted(src.rglob("*")):
            zf.write(p, p.relative_to(src.parent).as_posix())
    return zpath.read_bytes()


def test_cli_download_installs_aflw2000_where_run_finds_it(tmp_path):
    blob = _aflw_zip(tmp_path)
    root = Path(os.environ["POSEBENCH_DATA"])
    runner = CliRunner()
    with FileServer({"/AFLW2000-3D.zip": blob}, cut_first=("/AFLW2000-3D.zip",)) as srv:
        res = runner.invoke(main, ["data", "download", "aflw2000", "--url", srv.url("/AFLW2000-3D.zip")])
    # installed, but 5 labels are not the published 2000: said, and the exit status says it too
    assert res.exit_code == 1 and "but the check found 1 problem(s)" in res.output, res.output
    assert f"installed at {root / 'aflw2000'}" in res.output
    assert sorted(p.name for p in (root / "aflw2000").glob("*.mat"))[:2] == ["image00002.mat", "image00004.mat"]
    assert "4 in protocol" in res.output and "5 images" in res.output
    assert not (root / ".downloads" / "AFLW2000-3D.zip").exists()
    assert not [p for p in root.iterdir() if p.name.startswith(".extract")]
    # the reader finds it without --data-dir
    res = runner.invoke(main, ["run", "-m", "gt-landmarks", "-d", "aflw2000"])
    assert res.exit_code == 0, res.output
    assert "evaluated 4 of 4" in res.output
    # a second download refuses to overwrite (usage error, exit 2)
    res = runner.invoke(main, ["data", "download", "aflw2000", "--url", "http://127.0.0.1:9/x.zip"])
    assert res.exit_code == 2 and "already exists" in res.output


def test_cli_manual_source_prints_instructions_and_fails(tmp_path):
    res = CliRunner().invoke(main, ["data", "download", "biwi"])
    assert res.exit_code == 1
    assert "posebench data prepare biwi --from" in res.output
    assert "error: biwi cannot be downloaded automatically" in res.output


def test_cli_usage_errors_exit_2():
    runner = CliRunner()
    res = runner.invoke(main, ["data", "download", "nonesuch"])
    assert res.exit_code == 2 and "unknown data name 'nonesuch'" in res.output
    res = runner.invoke(main, ["data", "prepare", "aflw2000"])
    assert res.exit_code == 2 and "--from" in res.output
    for sub in ("list", "download", "prepare", "verify"):
        assert runner.invoke(main, ["data", sub, "--help"]).exit_code == 0


def test_cli_list_shows_every_catalogue_entry():
    res = CliRunner().invoke(main, ["data", "list"])
    assert res.exit_code == 0
    for name in ("aflw2000", "300w-lp", "biwi", "afw", "aflw", "hopenet-alpha1", "hopenet-alpha2",
                 "hopenet-robust-alpha1"):
        assert f"\n{name} " in "\n" + res.output
    assert get_source("biwi").sha256[:16] in res.output
    for name in ("aflw2000", "300w-lp", "biwi", "afw", "aflw"):  # every built-in dataset has its reader
        assert f"reader: {name}" in res.output
    assert "\nsynthetic " not in res.output  # embedded: nothing to download


def test_part_file_longer_than_server_file_is_dropped(tmp_path):
    dest = tmp_path / "blob.bin"
    part = tmp_path / "blob.bin.part"
    part.write_bytes(PAYLOAD + b"extra")
    with FileServer({"/blob.bin": PAYLOAD}) as srv:
        with pytest.raises(DownloadError, match="longer than the file on the server"):
            fetch(srv.url("/blob.bin"), dest, retries=0, progress=False)
        assert not part.exists()
        fetch(srv.url("/blob.bin"), dest, retries=0, progress=False)
    assert dest.read_bytes() == PAYLOAD


class _Redirector:
    def __init__(self):
        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                self.send_response(302)
                self.send_header("Location", self.path)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/loop.zip"

    def __exit__(self, *a):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.mark.parametrize("url", ["notaurl", "ftp://example.org/x.zip", "http://", "file:///etc/passwd", "http:// x"])
def test_download_url_that_is_not_an_http_url_is_one_line_error(url):
    res = CliRunner().invoke(main, ["data", "download", "aflw2000", "--url", url])
    assert "not an http" in one_line_error(res, 2)


def test_redirect_loop_is_one_line_error():
    with _Redirector() as url:
        res = CliRunner().invoke(main, ["data", "download", "aflw2000", "--url", url])
    assert "redirect" in one_line_error(res, 1)


def _labels_only_aflw_zip(tmp_path: Path) -> bytes:
    src = tmp_path / "zsrc" / "AFLW2000"
    make_aflw2000_folder(src, images=False)
    z = tmp_path / "a.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for p in sorted(src.rglob("*")):
            zf.write(p, p.relative_to(src.parent).as_posix())
    return z.read_bytes()


def test_bad_download_is_never_reused(tmp_path):
    root = tmp_path / "data"
    runner = CliRunner()
    with FileServer({"/bad.zip": b"<html>not a zip</html>", "/good.zip": _labels_only_aflw_zip(tmp_path)}) as srv:
        res = runner.invoke(main, ["data", "download", "aflw2000", "--root", str(root), "--url", srv.url("/bad.zip")])
        assert "not a zip or tar archive" in one_line_error(res, 1)
        assert not list((root / ".downloads").iterdir())  # the bad bytes are gone
        (root / ".downloads" / "AFLW2000-3D.zip").write_bytes(b"stale bytes of an old download")
        res = runner.invoke(main, ["data", "download", "aflw2000", "--root", str(root), "--url", srv.url("/good.zip")])
        assert "installed at" in res.output, res.output  # (5 labels of 2000: exit 1 with the problem listed)
        assert [p for p, _ in srv.requests] == ["/bad.zip", "/good.zip"]  # the server was asked again
    assert len(list((root / "aflw2000").glob("*.mat"))) == 5


def test_part_file_from_another_url_is_not_resumed(tmp_path):
    from posebench.acquire.download import fetch

    blob = b"0123456789" * 100
    dest = tmp_path / "f.bin"
    dest.with_name("f.bin.part").write_bytes(b"XXXX")
    dest.with_name("f.bin.part.url").write_text("http://127.0.0.1:9/elsewhere\n")
    with FileServer({"/f.bin": blob}) as srv:
        fetch(srv.url("/f.bin"), dest, progress=False)
        assert srv.requests == [("/f.bin", None)]  # started over, no Range
    assert dest.read_bytes() == blob


@pytest.mark.parametrize("root", [None, "elsewhere"])
def test_interrupted_extraction_keeps_the_complete_download_and_says_how_to_install_it(tmp_path, monkeypatch, root):
    import posebench.acquire.install as install
    from data_fixtures import FileServer

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(install, "install_archive", interrupted)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("AFW/anno.mat", b"x")
    where = ["--root", str(tmp_path / root)] if root else []
    with FileServer({"/AFW.zip": buf.getvalue()}) as srv:
        res = run_cli("data", "download", "afw", *where, "--url", srv.url("/AFW.zip"))
    kept = ((tmp_path / root).resolve() if root else Path(os.environ["POSEBENCH_DATA"])) / ".downloads" / "AFW.zip"
    hint = f"posebench data prepare afw --root {(tmp_path / root).resolve()} --from" if root else f"posebench data prepare afw --from {kept}"
    assert res.exit_code == 130 and kept.is_file(), res.output
    assert f"kept at {kept}" in res.output and hint in res.output, res.output


def test_a_stall_keeps_the_bytes_that_arrived_and_says_how_many(tmp_path):
    """Issue 25: a stall after 1000 bytes reported "0 of 300000" and dropped what arrived."""
    dest = tmp_path / "blob.bin"
    with FileServer({"/blob.bin": PAYLOAD}, stall_after={"/blob.bin": 1000}) as srv:
        with pytest.raises(DownloadError, match=f"after 1000 of {len(PAYLOAD)} bytes"):
            fetch(srv.url("/blob.bin"), dest, size=len(PAYLOAD), sha256=SHA, retries=0, timeout=1, progress=False)
    assert (tmp_path / "blob.bin.part").read_bytes() == PAYLOAD[:1000] and not dest.exists()


def test_a_dripping_server_meets_a_deadline(tmp_path):
    """One byte every 0.05 s never trips the socket timeout; under 1024 bytes per timeout window
    is a stall (YuNet at one byte per 0.5 s would have taken ~45 h)."""
    import time

    dest = tmp_path / "blob.bin"
    t0 = time.monotonic()
    with FileServer({"/blob.bin": PAYLOAD}, drip=("/blob.bin",)) as srv:
        with pytest.raises(DownloadError, match="too slow .* the bytes received are kept"):
            fetch(srv.url("/blob.bin"), dest, size=len(PAYLOAD), sha256=SHA, retries=0, timeout=1, progress=False)
    assert time.monotonic() - t0 < 10
    kept = (tmp_path / "blob.bin.part").read_bytes()
    assert 5 <= len(kept) < 1024 and kept == PAYLOAD[: len(kept)]


def test_never_more_bytes_than_the_published_size(tmp_path):
    """Issue 25: 80 MB were written for an 18 MB file. A longer announced body is refused before
    reading; a body without a length is cut at the published size."""
    small = PAYLOAD[:1000]
    for kw in ({}, {"no_length": ("/blob.bin",)}):
        dest = tmp_path / "blob.bin"
        with FileServer({"/blob.bin": PAYLOAD}, **kw) as srv:
            with pytest.raises(ChecksumError, match="published 1000 bytes|the published file has 1000"):
                fetch(srv.url("/blob.bin"), dest, size=len(small), sha256=hashlib.sha256(small).hexdigest(),
                      retries=0, progress=False)
        assert not dest.exists() and not (tmp_path / "blob.bin.part").exists()
