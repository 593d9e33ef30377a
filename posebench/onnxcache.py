"""Derived ONNX models kept on disk: ``<file>`` plus ``<file>.sha256`` (its SHA-256, written
after it), read back only when the two match -- an absent, damaged or replaced file is made
again. Torch-free, so an onnxruntime path can use it without importing torch (issue 24: a
method imports only what its engine runs). Used for WHENet's and Hopenet's torch exports
(:mod:`posebench.methods.hopenet.engine`) and FSA-Net's batch-1 files made batch-dynamic
(:mod:`posebench.methods.onnx_headpose`)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from posebench.fileio import write_atomic


def digest_path(cache: Path) -> Path:
    """``<cache>.sha256``."""
    return cache.with_name(cache.name + ".sha256")


def read_cached(cache: Path) -> bytes | None:
    """The cached bytes when they match the SHA-256 written next to them; None when absent,
    unreadable, damaged or replaced."""
    try:
        model = cache.read_bytes()
        expected = digest_path(cache).read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None
    return model if hashlib.sha256(model).hexdigest() == expected else None


def write_cached(cache: Path, model: bytes) -> None:
    """Store ``model`` and its SHA-256 (each written whole); a read-only or unusable data root
    only costs making it again next time."""
    try:
        write_atomic(cache, model)
        write_atomic(digest_path(cache), hashlib.sha256(model).hexdigest() + "\n")
    except OSError:
        pass


def cached_bytes(make: Callable[[], bytes], cache: Path | None) -> bytes:
    """``make()``'s bytes, reused from ``cache`` when it holds a matching copy."""
    model = read_cached(cache) if cache is not None else None
    if model is None:
        model = make()
        if cache is not None:
            write_cached(cache, model)
    return model
