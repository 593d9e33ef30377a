"""Streaming, resumable HTTP(S) downloads with size and SHA-256 checks.

A download goes to ``<dest>.part``; a cut connection leaves the part file, and the next call
asks the server for the rest (``Range: bytes=N-``). Only a complete file that passes the size
and checksum checks is renamed to ``dest``; a file failing them is deleted.
"""

from __future__ import annotations

import http.client
import os
import re
import socket
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from tqdm import tqdm

from posebench.errors import DataError, PosebenchError, UsageError
from posebench.fileio import file_digest

CHUNK = 1 << 20
USER_AGENT = "posebench-data/1"


class DownloadError(PosebenchError):
    """The server could not be reached or the transfer stopped; a part file may remain to resume."""


class UnreachableError(DownloadError):
    """The server could not be reached at all (offline, DNS, refused): nothing was received."""


class ChecksumError(DataError):
    """A downloaded or given file does not have the published size or SHA-256."""


def check_file(path: Path, size: int | None, sha256: str | None, *, progress: bool = False,
               remove_bad: bool = True) -> None:
    """Raise :class:`ChecksumError` (after deleting the file when ``remove_bad``) on a mismatch."""
    path = Path(path)
    actual = path.stat().st_size
    problem = None
    if size is not None and actual != size:
        problem = f"{path.name}: size {actual} bytes, expected {size}"
    elif sha256 is not None:
        digest = file_digest(path, progress)
        if digest != sha256.lower():
            problem = f"{path.name}: SHA-256 {digest[:16]}..., expected {sha256[:16]}..."
    if problem:
        if remove_bad:
            path.unlink(missing_ok=True)
            problem += " (file removed; download it again)"
        raise ChecksumError(problem)


def one_line(text: object) -> str:
    """A message on one line (server reasons such as urllib's redirect-loop text span several)."""
    return " ".join(str(text).split())


def check_url(url: str) -> str:
    """``url`` when it is an ``http://`` or ``https://`` address with a host; :class:`UsageError`
    otherwise (a local file goes through ``posebench data prepare --from``)."""
    parts = urllib.parse.urlsplit(str(url))
    if (parts.scheme.lower() not in ("http", "https") or not parts.hostname
            or any(c.isspace() or ord(c) < 32 for c in str(url))):
        raise UsageError(f"{url!r} is not an http:// or https:// URL (for a file you already have, use "
                         "`posebench data prepare NAME --from FILE`)")
    return url


def _content_range_start(header: str | None) -> int | None:
    m = re.match(r"bytes (\d+)-(\d+)/(\d+|\*)", header or "")
    return int(m.group(1)) if m else None


def _open(url: str, offset: int, timeout: float):
    req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if offset:
        req.add_header("Range", f"bytes={offset}-")
    return urllib.request.urlopen(req, timeout=timeout)


#: The slowest transfer accepted: fewer bytes than this in one ``timeout`` window (30 s by
#: default) is a stall, like no byte at all (a server dripping a byte every 0.5 s never trips
#: the socket's own timeout). The bytes received are kept for the next call to resume.
MIN_BYTES_PER_WINDOW = 1024


def _attempt(url: str, part: Path, timeout: float, progress: bool, label: str, size: int | None = None) -> None:
    """One request: append the rest of the body to ``part``; raise DownloadError if cut short or
    too slow (the bytes received are kept), :class:`ChecksumError` when the server sends more
    than the published ``size`` (the part file is removed: never more bytes than the file has)."""
    import time

    offset = part.stat().st_size if part.exists() else 0
    try:
        resp = _open(url, offset, timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:
            m = re.match(r"bytes \*/(\d+)", exc.headers.get("Content-Range") or "")
            if m is None or int(m.group(1)) == offset:
                return  # nothing left to fetch: the part file is already whole (checked by the caller)
            part.unlink(missing_ok=True)
            raise DownloadError(f"{label}: the partial download is longer than the file on the server; "
                                "removed it, run the same command again") from None
        raise DownloadError(f"{url}: HTTP {exc.code} {one_line(exc.reason)}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise UnreachableError(f"cannot reach {url}: {one_line(reason)}") from None
    with resp:
        status = resp.status
        if offset and status == 206:
            if _content_range_start(resp.headers.get("Content-Range")) != offset:
                raise DownloadError(f"{url}: the server answered the resume request with the wrong range")
            mode = "ab"
        else:  # a fresh start, or a server that ignored the Range request
            offset, mode = 0, "wb"
        length = resp.headers.get("Content-Length")
        remaining = int(length) if length is not None and length.isdigit() else None
        total = offset + remaining if remaining is not None else size
        if size is not None and remaining is not None and offset + remaining > size:
            part.unlink(missing_ok=True)
            raise ChecksumError(f"{label}: the server announces {offset + remaining} bytes, the published file has "
                                f"{size}; nothing was kept")
        got = 0
        slow = too_long = False
        read = getattr(resp, "read1", resp.read)  # what has arrived, not a full block: a stall keeps its bytes
        with open(part, mode) as fh, tqdm(total=total, initial=offset, unit="B", unit_scale=True,
                                          desc=label, disable=not progress) as bar:
            window, in_window = time.monotonic(), 0
            try:
                while chunk := read(CHUNK):
                    if size is not None and offset + got + len(chunk) > size:
                        too_long = True
                        break
                    fh.write(chunk)
                    got += len(chunk)
                    in_window += len(chunk)
                    bar.update(len(chunk))
                    if time.monotonic() - window > timeout:
                        if in_window < MIN_BYTES_PER_WINDOW:
                            slow = True
                            break
                        window, in_window = time.monotonic(), 0
            except (http.client.IncompleteRead, ConnectionError, socket.timeout, OSError):
                pass  # treated below as a cut transfer
            finally:
                fh.flush()
                os.fsync(fh.fileno())
        have = offset + got
        if too_long:
            part.unlink(missing_ok=True)
            raise ChecksumError(f"{label}: the server sent more than the published {size} bytes; nothing was kept")
        if slow:
            raise DownloadError(f"{label}: the server is too slow (under {MIN_BYTES_PER_WINDOW} bytes in {timeout:g} s) "
                                f"after {have} of {total if total is not None else '?'} bytes; the bytes received are "
                                "kept: run the same command again to resume")
        if (remaining is not None and got < remaining) or (size is not None and remaining is None and have < size):
            raise DownloadError(
                f"{label}: connection cut after {have} of {total} bytes; run the same command again to resume"
            )


def fetch(url: str, dest: Path, *, size: int | None = None, sha256: str | None = None, retries: int = 3,
          timeout: float = 30.0, progress: bool = True) -> Path:
    """Download ``url`` to ``dest`` (resuming ``dest.part``); return ``dest`` once verified.

    ``size`` (bytes) and ``sha256`` (hex) are checked when given; a mismatch deletes the file
    and raises :class:`ChecksumError`. A cut transfer is resumed up to ``retries`` times in this
    call; after that :class:`DownloadError` is raised and the part file is kept for the next call,
    which resumes it only from the same ``url`` (recorded next to it in ``<dest>.part.url``).
    A complete ``dest`` left by an earlier call is reused only when it passes a published size or
    checksum; without either it cannot be verified and is downloaded again.
    """
    check_url(url)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    origin = dest.with_name(dest.name + ".part.url")
    if dest.exists():
        if size is None and sha256 is None:
            dest.unlink()  # unverifiable: never reused without asking the server
        else:
            check_file(dest, size, sha256, progress=progress)
            return dest
    if part.exists() and origin.is_file() and origin.read_text(errors="replace").strip() != url:
        part.unlink()  # a partial download from another address is not a prefix of this one
    if size is not None and part.exists() and part.stat().st_size > size:
        part.unlink()  # longer than the published file: cannot be a prefix of it
    origin.write_text(url + "\n")
    for attempt in range(retries + 1):
        if size is not None and part.exists() and part.stat().st_size == size:
            break
        try:
            _attempt(url, part, timeout, progress, dest.name, size)
            break
        except DownloadError:
            if attempt == retries or not part.exists() or part.stat().st_size == 0:
                raise
    if not part.exists():
        raise DownloadError(f"{url}: nothing was received")
    try:
        check_file(part, size, sha256, progress=progress)
    finally:
        origin.unlink(missing_ok=True)
    os.replace(part, dest)
    return dest
