"""Google Drive (gdown) and Hugging Face hub (huggingface_hub) downloads against a local server.

No network: gdown's session is given a transport adapter that sends every request it makes (to
drive.google.com, then to the address of Drive's confirm form) to a 127.0.0.1 server acting as
Drive; huggingface_hub is pointed at a 127.0.0.1 server acting as the hub through its endpoint
setting (``HF_ENDPOINT``, read into ``huggingface_hub.constants.ENDPOINT``).
"""

from __future__ import annotations

import hashlib
import importlib
import os
import re
import socket
import threading
import types
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from cli_fixtures import one_line_error, run_cli
from posebench.acquire.download import ChecksumError, DownloadError, UnreachableError
from posebench.acquire.remote import RefusedError, fetch_gdrive, fetch_hf

PAYLOAD = os.urandom(1_500_000)  # gdown writes 512 KiB chunks: a cut half-way keeps one of them
SHA = hashlib.sha256(PAYLOAD).hexdigest()
FILE_ID = "1AbCdEfGhIjKlMnOpQrStUvWxYz012345"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


class Routes:
    """A 127.0.0.1 server of ``{path (with query): (headers, body)}``: GET and HEAD, ``Range:
    bytes=N-`` answered 206, the first GET of each path in ``cut_first`` sends half its body and
    drops the connection. ``requests``: (method, path, Range header) in order."""

    def __init__(self, routes: dict[str, tuple[dict[str, str], bytes]], cut_first: tuple[str, ...] = ()):
        self.routes = routes
        self.cut_pending = set(cut_first)
        self.requests: list[tuple[str, str, str | None]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 5

            def log_message(self, *args):
                pass

            def _answer(self, head: bool) -> None:
                rng = self.headers.get("Range")
                server.requests.append(("HEAD" if head else "GET", self.path, rng))
                if self.path not in server.routes:  # as the hub says it
                    self.send_response(404)
                    self.send_header("X-Error-Code", "EntryNotFound")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                headers, data = server.routes[self.path]
                start = 0
                m = re.fullmatch(r"bytes=(\d+)-", rng or "")
                if m and int(m.group(1)) < len(data):
                    start = int(m.group(1))
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                for k, v in headers.items():
                    self.send_header(k, v)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()
                if head:
                    return
                if not head and self.path in server.cut_pending:
                    server.cut_pending.discard(self.path)
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(body)

            def do_GET(self):
                self._answer(head=False)

            def do_HEAD(self):
                self._answer(head=True)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> Routes:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


# --- Google Drive -------------------------------------------------------------------------------

CONFIRM = f"/download?id={FILE_ID}&export=download&confirm=t&uuid=abc"


def drive(payload: bytes, filename: str, file_id: str = FILE_ID, confirm_page: bool = True) -> dict:
    """Drive's two steps for a file too large to be virus-scanned: ``/uc?id=`` answers an HTML
    page whose ``download-form`` leads to the file on drive.usercontent.google.com."""
    page = (f'<html><body><form id="download-form" action="https://drive.usercontent.google.com/download" '
            f'method="get"><input type="hidden" name="id" value="{file_id}"><input type="hidden" name="export" '
            'value="download"><input type="hidden" name="confirm" value="t"><input type="hidden" name="uuid" '
            'value="abc"></form></body></html>').encode()
    the_file = ({"Content-Type": "application/octet-stream",
                 "Content-Disposition": f'attachment; filename="{filename}"'}, payload)
    if not confirm_page:
        return {f"/uc?id={file_id}": the_file}
    return {f"/uc?id={file_id}": ({"Content-Type": "text/html; charset=utf-8"}, page),
            CONFIRM.replace(FILE_ID, file_id): the_file}


@pytest.fixture
def to_local_drive(monkeypatch):
    """``to_local_drive(base)``: every request gdown's session makes goes to ``base`` (path and
    query kept); gdown's retry back-off is made instant."""
    import requests

    gd = importlib.import_module("gdown.download")
    made = gd._get_session

    class ToLocal(requests.adapters.HTTPAdapter):
        def __init__(self, base: str):
            super().__init__()
            self.base = base

        def send(self, request, **kwargs):
            parts = urllib.parse.urlsplit(request.url)
            request.url = self.base + parts.path + (f"?{parts.query}" if parts.query else "")
            return super().send(request, **kwargs)

    def point(base: str) -> None:
        def session(**kwargs):
            sess, cookies = made(**kwargs)
            for prefix in ("https://", "http://"):
                sess.mount(prefix, ToLocal(base))
            return sess, cookies

        monkeypatch.setattr(gd, "_get_session", session)

    monkeypatch.setattr(gd, "random", types.SimpleNamespace(uniform=lambda a, b: 0.0))
    return point


def test_gdrive_follows_the_confirm_page_and_checks_the_file(tmp_path, to_local_drive):
    with Routes(drive(PAYLOAD, "w.pkl")) as srv:
        to_local_drive(srv.base)
        got = fetch_gdrive(FILE_ID, tmp_path / "w.pkl", size=len(PAYLOAD), sha256=SHA, progress=False)
    assert got.read_bytes() == PAYLOAD
    assert [p for _, p, _ in srv.requests] == [f"/uc?id={FILE_ID}", CONFIRM]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.pkl"]  # no part file, no cookie file


def test_gdrive_cut_transfer_keeps_the_part_and_the_next_call_resumes(tmp_path, to_local_drive):
    dest = tmp_path / "w.pkl"
    with Routes(drive(PAYLOAD, "w.pkl"), cut_first=(CONFIRM,)) as srv:
        to_local_drive(srv.base)
        with pytest.raises(DownloadError, match="the bytes received are kept: run the same command again") as info:
            fetch_gdrive(FILE_ID, dest, size=len(PAYLOAD), sha256=SHA, retries=0, progress=False)
        assert "\n" not in str(info.value)
        parts = list(tmp_path.glob("w.pkl*.part"))
        assert not dest.exists() and len(parts) == 1
        kept = parts[0].stat().st_size
        assert 0 < kept <= len(PAYLOAD) // 2 and parts[0].read_bytes() == PAYLOAD[:kept]
        fetch_gdrive(FILE_ID, dest, size=len(PAYLOAD), sha256=SHA, retries=0, progress=False)
    assert dest.read_bytes() == PAYLOAD and not list(tmp_path.glob("*.part"))
    assert srv.requests[-1] == ("GET", CONFIRM, f"bytes={kept}-")  # only the rest was asked for


def test_gdrive_retries_resume_within_one_call(tmp_path, to_local_drive):
    with Routes(drive(PAYLOAD, "w.pkl"), cut_first=(CONFIRM,)) as srv:
        to_local_drive(srv.base)
        fetch_gdrive(FILE_ID, tmp_path / "w.pkl", sha256=SHA, retries=2, progress=False)
    assert (tmp_path / "w.pkl").read_bytes() == PAYLOAD
    assert [r for m, p, r in srv.requests if p == CONFIRM][1].startswith("bytes=")


def test_gdrive_wrong_checksum_leaves_nothing(tmp_path, to_local_drive):
    with Routes(drive(PAYLOAD, "w.pkl", confirm_page=False)) as srv:
        to_local_drive(srv.base)
        with pytest.raises(ChecksumError, match="SHA-256 .* expected 00000000") as info:
            fetch_gdrive(FILE_ID, tmp_path / "w.pkl", sha256="0" * 64, progress=False)
    assert "removed" in str(info.value) and "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_gdrive_refusal_and_unreachable_are_one_line(tmp_path, to_local_drive):
    quota = {f"/uc?id={FILE_ID}": ({"Content-Type": "text/html"}, b"<html><p class=\"uc-error-subcaption\">Too many users "
                                   b"have viewed or downloaded this file recently.</p></html>")}
    with Routes(quota) as srv:
        to_local_drive(srv.base)
        with pytest.raises(RefusedError, match="Google Drive would not serve it.*Too many users") as info:
            fetch_gdrive(FILE_ID, tmp_path / "w.pkl", progress=False)
    assert "\n" not in str(info.value)
    to_local_drive("http://127.0.0.1:9")  # nothing listens there
    with pytest.raises(UnreachableError, match="cannot reach Google Drive") as info:
        fetch_gdrive(FILE_ID, tmp_path / "w.pkl", retries=1, timeout=2, progress=False)
    assert "\n" not in str(info.value) and list(tmp_path.iterdir()) == []


def _fake_hopenet(path: Path) -> None:
    import torch

    from posebench.methods.hopenet import nets

    state = {k: v for k, v in nets.build("hopenet").state_dict().items() if not k.endswith("num_batches_tracked")}
    torch.save(state, path, _use_new_zipfile_serialization=False)  # the 2017 files' legacy format


def test_cli_download_hopenet_alpha2_from_a_local_drive(tmp_path, to_local_drive):
    from posebench.acquire.catalogue import get_source

    src = get_source("hopenet-alpha2")
    _fake_hopenet(tmp_path / "hopenet_alpha2.pkl")
    blob = (tmp_path / "hopenet_alpha2.pkl").read_bytes()
    routes = drive(blob, "hopenet_alpha2.pkl", file_id=src.gdrive_id)
    confirm = CONFIRM.replace(FILE_ID, src.gdrive_id)
    with Routes(routes, cut_first=(confirm,)) as srv:
        to_local_drive(srv.base)
        res = run_cli("data", "download", "hopenet-alpha2")
    assert res.exit_code == 0, res.output
    weights = Path(os.environ["POSEBENCH_WEIGHTS"])
    assert (weights / "hopenet_alpha2.pkl").read_bytes() == blob
    assert "loadable with weights_only=True" in res.output and "ok: its structure fits; its content is NOT verified" in res.output
    # Drive's confirm page followed, the cut transfer resumed within the command
    assert [(m, p) for m, p, _ in srv.requests][:2] == [("GET", f"/uc?id={src.gdrive_id}"), ("GET", confirm)]
    assert [r for m, p, r in srv.requests if p == confirm][1].startswith("bytes=")
    assert [p.name for p in (weights / ".downloads").iterdir()] == []  # nothing left behind


def test_cli_download_offline_names_the_prepare_route(to_local_drive):
    to_local_drive("http://127.0.0.1:9")
    res = run_cli("data", "download", "hopenet-alpha2")
    line = one_line_error(res, 1)
    assert "cannot reach Google Drive" in line
    assert "then run `posebench data prepare hopenet-alpha2 --from hopenet_alpha2.pkl`" in line
    assert "https://drive.google.com/file/d/16OZdRULgUpceMKZV6U9PNFiigfjezsCY" in line
    assert not (Path(os.environ["POSEBENCH_WEIGHTS"]) / "hopenet_alpha2.pkl").exists()


# --- Hugging Face hub ---------------------------------------------------------------------------

HF_PATH = f"/owner/model/resolve/{COMMIT}/sub/w.bin"


def hub(payload: bytes) -> dict:
    headers = {"X-Repo-Commit": COMMIT, "ETag": f'"{hashlib.sha256(payload).hexdigest()}"',
               "X-Linked-Etag": f'"{hashlib.sha256(payload).hexdigest()}"', "Content-Type": "application/octet-stream"}
    return {HF_PATH: (headers, payload)}


@pytest.fixture
def local_hub(monkeypatch, tmp_path):
    """``local_hub(base)``: ``HF_ENDPOINT`` set to ``base``, huggingface_hub's cache
    in ``tmp_path``; its retry pause, ``sleep``, replaced by ``pause`` (default: none)."""
    import time

    from huggingface_hub import constants

    fd = importlib.import_module("huggingface_hub.file_download")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setattr(constants, "DOWNLOAD_CHUNK_SIZE", 256 * 1024)  # a cut half-way keeps two chunks
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)

    def point(base: str, pause=lambda s: None) -> None:
        monkeypatch.setenv("HF_ENDPOINT", base)
        clock = types.SimpleNamespace(**{k: getattr(time, k) for k in dir(time) if not k.startswith("_")})
        clock.sleep = pause
        monkeypatch.setattr(fd, "time", clock)

    return point


def test_hf_download_resumes_a_cut_transfer_and_checks_the_file(tmp_path, local_hub):
    dest = tmp_path / "out" / "w.bin"
    with Routes(hub(PAYLOAD), cut_first=(HF_PATH,)) as srv:
        local_hub(srv.base)
        got = fetch_hf("owner/model", "sub/w.bin", dest, revision=COMMIT, size=len(PAYLOAD), sha256=SHA, progress=False)
    assert got == dest and dest.read_bytes() == PAYLOAD
    assert [r for m, _, r in srv.requests if m == "GET"] == [None, "bytes=524288-"]  # the rest, within the call
    assert [p.name for p in dest.parent.iterdir()] == ["w.bin"]  # the library's work folder is gone


def test_hf_interrupted_download_leaves_nothing_half_written(tmp_path, local_hub):
    """huggingface_hub resumes within a call only: an interrupted call keeps no partial file
    (its per-process temporary file is removed), and the next call downloads it whole."""
    dest = tmp_path / "out" / "w.bin"

    def ctrl_c(seconds):
        raise KeyboardInterrupt

    with Routes(hub(PAYLOAD), cut_first=(HF_PATH,)) as srv:
        local_hub(srv.base, pause=ctrl_c)  # interrupted while the library waits to resume
        with pytest.raises(KeyboardInterrupt):
            fetch_hf("owner/model", "sub/w.bin", dest, revision=COMMIT, sha256=SHA, progress=False)
        assert not dest.exists() and not list(dest.parent.rglob("*.incomplete"))
        local_hub(srv.base)
        fetch_hf("owner/model", "sub/w.bin", dest, revision=COMMIT, sha256=SHA, progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert [p.name for p in dest.parent.iterdir()] == ["w.bin"]


def test_hf_wrong_checksum_and_missing_file_and_offline(tmp_path, local_hub, monkeypatch):
    from huggingface_hub import constants

    dest = tmp_path / "out" / "w.bin"
    with Routes(hub(PAYLOAD)) as srv:
        local_hub(srv.base)
        with pytest.raises(ChecksumError, match="removed"):
            fetch_hf("owner/model", "sub/w.bin", dest, revision=COMMIT, sha256="0" * 64, progress=False)
        assert list(dest.parent.iterdir()) == []
        with pytest.raises(DownloadError, match="owner/model/sub/nope.bin@.*: no such file on the Hugging Face hub"):
            fetch_hf("owner/model", "sub/nope.bin", dest, revision=COMMIT, progress=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)  # what HF_HUB_OFFLINE=1 sets: no request at all
    with pytest.raises(UnreachableError, match="cannot reach the Hugging Face hub for owner/model/sub/w.bin") as info:
        fetch_hf("owner/model", "sub/w.bin", dest, revision=COMMIT, progress=False)
    assert "\n" not in str(info.value) and not dest.exists()


def test_hf_never_writes_more_than_the_published_size(tmp_path, local_hub):
    """A hub serving 1.5 MB for a file published at 500000 bytes: the transfer stops before the
    chunk that passes the bound is written (it wrote the whole body, then refused the size), one
    line, nothing kept."""
    dest = tmp_path / "out" / "w.bin"
    with Routes(hub(PAYLOAD)) as srv:
        local_hub(srv.base)
        with pytest.raises(ChecksumError, match="sent more than the published 500000 bytes; nothing was kept") as info:
            fetch_hf("owner/model", "sub/w.bin", dest, revision=COMMIT, size=500_000, progress=False)
    assert "\n" not in str(info.value) and list(dest.parent.iterdir()) == []
    with Routes(hub(PAYLOAD)) as srv:  # the published size itself passes
        local_hub(srv.base)
        fetch_hf("owner/model", "sub/w.bin", dest, revision=COMMIT, size=len(PAYLOAD), sha256=SHA, progress=False)
    assert dest.read_bytes() == PAYLOAD
