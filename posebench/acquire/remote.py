"""Downloads from Google Drive (through ``gdown``) and the Hugging Face hub (through
``huggingface_hub``), with the same promise as :func:`posebench.acquire.download.fetch`: a file
appears at ``dest`` only whole and checked (published size and SHA-256 where known); a mismatch
deletes it; a cut transfer keeps the bytes received where the library resumes them.

- Google Drive: ``gdown`` follows Drive's confirm page for files too large to be virus-scanned,
  resumes its ``<dest><8 characters>.part`` file (``resume=True``: a ``Range`` request for the
  rest) and retries a cut transfer within the call; posebench uses no cookie file
  (``use_cookies=False``: nothing is written to ``~/.cache/gdown``).
- Hugging Face: ``hf_hub_download(local_dir=...)`` downloads into posebench's download folder
  (a cut transfer is resumed with a ``Range`` request within the call; a call that stops keeps no
  partial file: the library downloads to a per-process temporary name it removes, since
  huggingface_hub PR 4228), copies a file already in the user's Hugging Face cache instead of
  downloading it again, and honours ``HF_ENDPOINT`` (a
  mirror; read at each call, so also when set after the library was imported), ``HF_HUB_OFFLINE``
  and ``HF_TOKEN``.

Errors are one line: :class:`~posebench.acquire.download.UnreachableError` when nothing could be
reached, :class:`~posebench.acquire.download.DownloadError` otherwise,
:class:`~posebench.acquire.download.ChecksumError` for a file that is not the published one.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tqdm import tqdm

from posebench.acquire.download import ChecksumError, DownloadError, UnreachableError, check_file, one_line


class RefusedError(DownloadError):
    """The host answered but would not serve the file (Google Drive's daily quota, a file no longer
    shared): a browser or a mirror may still get it."""


def _reuse(dest: Path, size: int | None, sha256: str | None, progress: bool) -> bool:
    """``True`` when a complete ``dest`` of an earlier call passes the published size/checksum;
    a file that cannot be verified (neither is known) is removed and downloaded again."""
    if not dest.exists():
        return False
    if size is None and sha256 is None:
        dest.unlink()
        return False
    check_file(dest, size, sha256, progress=progress)
    return True


def _first_line(exc: BaseException) -> str:
    return one_line(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)


def fetch_gdrive(file_id: str, dest: Path, *, size: int | None = None, sha256: str | None = None, retries: int = 3,
                 timeout: float = 30.0, progress: bool = True) -> Path:
    """Download the Google Drive file ``file_id`` to ``dest`` through ``gdown``; return ``dest``
    once it has the published ``size`` (bytes) and ``sha256`` (hex), where given.

    Raises :class:`UnreachableError` (Drive not reachable), :class:`RefusedError` (Drive refused
    the file, e.g. its download quota), :class:`DownloadError` (the transfer was cut: the ``.part`` file is kept and the
    next call resumes it), :class:`ChecksumError` (the file is removed).
    """
    import gdown
    import gdown.exceptions
    import requests

    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if _reuse(dest, size, sha256, progress):
        return dest
    label = f"Google Drive file {file_id} ({dest.name})"
    try:
        gdown.download(id=file_id, output=str(dest), quiet=not progress, resume=True, use_cookies=False,
                       retries=retries, timeout=timeout)
    except gdown.exceptions.FileURLRetrievalError as exc:
        reason = one_line(exc).split(" You may still be able to access")[0]  # gdown's advice follows: ours is below
        raise RefusedError(f"{label}: Google Drive would not serve it (too many downloads today, or not shared "
                           f"publicly): {reason}") from None
    except (gdown.exceptions.DownloadError, requests.exceptions.RequestException) as exc:
        cause = exc.__cause__ if isinstance(exc, gdown.exceptions.DownloadError) and exc.__cause__ else exc
        if isinstance(cause, requests.exceptions.HTTPError) and cause.response is not None:
            raise DownloadError(f"{label}: HTTP {cause.response.status_code}") from None
        if isinstance(cause, (requests.exceptions.ConnectionError, requests.exceptions.Timeout)) and not any(
                dest.parent.glob(f"{dest.name}*.part")):
            raise UnreachableError(f"cannot reach Google Drive for {dest.name} (file id {file_id}): "
                                   f"{_first_line(cause)}") from None
        raise DownloadError(f"{label}: the transfer stopped ({_first_line(exc)}); the bytes received are kept: run the "
                            "same command again to resume") from None
    if not dest.is_file():
        raise DownloadError(f"{label}: nothing was received")
    check_file(dest, size, sha256, progress=progress)
    return dest


class _TooLong(ChecksumError):
    """The server sent more bytes than the published size (raised before the excess is written)."""


def _bounded_bar(size: int | None, progress: bool) -> type[tqdm]:
    """huggingface_hub's progress bar class: shown when ``progress``, and the byte bound of the
    transfer. The library calls ``update(len(chunk))`` before it writes each chunk, so a body
    longer than the published ``size`` stops before the chunk that passes it is written (it
    wrote whatever the server sent: 80 MB for an 18 MB file)."""

    class Bar(tqdm):
        def __init__(self, *args, **kwargs):
            if not progress:
                kwargs["disable"] = True
            self._seen = int(kwargs.get("initial") or 0)
            super().__init__(*args, **kwargs)

        def update(self, n=1):
            self._seen += int(n or 0)
            if size is not None and self._seen > size:
                raise _TooLong(f"the server sent more than the published {size} bytes")
            return super().update(n)

    return Bar


def fetch_hf(repo: str, filename: str, dest: Path, *, revision: str | None = None, size: int | None = None,
             sha256: str | None = None, progress: bool = True) -> Path:
    """Download ``filename`` of the Hugging Face model repository ``repo`` (at ``revision``; the
    ``main`` branch when ``None``) to ``dest`` through ``huggingface_hub``; return ``dest`` once it
    has the published ``size`` and ``sha256``, where given.

    The library works in ``<dest's folder>/.hf-<dest name>`` (its temporary ``.incomplete`` file
    and metadata), removed once ``dest`` is whole. Never more than ``size`` bytes are written
    (:func:`_bounded_bar`). Raises :class:`UnreachableError` (the hub, or
    ``HF_ENDPOINT``, not reachable, or ``HF_HUB_OFFLINE`` set), :class:`DownloadError` (no such
    repository/file/revision, or a transfer the library's own retries could not finish),
    :class:`ChecksumError` (the file is removed).
    """
    from huggingface_hub import errors, hf_hub_download

    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if _reuse(dest, size, sha256, progress):
        return dest
    work = dest.with_name(f".hf-{dest.name}")
    label = f"{repo}/{filename}" + (f"@{revision}" if revision else "")
    try:
        got = Path(hf_hub_download(repo, filename, revision=revision, local_dir=work, endpoint=os.environ.get("HF_ENDPOINT"),
                                   tqdm_class=_bounded_bar(size, progress)))
    except _TooLong as exc:
        shutil.rmtree(work, ignore_errors=True)
        raise ChecksumError(f"{label}: {exc}; nothing was kept") from None
    except (errors.LocalEntryNotFoundError, errors.OfflineModeIsEnabled) as exc:
        raise UnreachableError(f"cannot reach the Hugging Face hub for {label}: {_first_line(exc)}") from None
    except (errors.RepositoryNotFoundError, errors.RevisionNotFoundError, errors.EntryNotFoundError) as exc:
        what = {errors.RepositoryNotFoundError: "no such repository", errors.RevisionNotFoundError: "no such revision"}
        raise DownloadError(f"{label}: {what.get(type(exc), 'no such file')} on the Hugging Face hub") from None
    except errors.HfHubHTTPError as exc:
        raise DownloadError(f"{label}: {_first_line(exc)}") from None
    except Exception as exc:  # noqa: BLE001  (the library's transport errors: a cut or stalled transfer)
        raise DownloadError(f"{label}: the transfer stopped ({type(exc).__name__}: {_first_line(exc)}); run the same "
                            "command again") from None
    try:
        check_file(got, size, sha256, progress=progress)
    except ChecksumError:
        shutil.rmtree(work, ignore_errors=True)
        raise
    got.replace(dest)
    shutil.rmtree(work, ignore_errors=True)
    return dest
