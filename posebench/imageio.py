"""Image input at the edges: files and arrays in, RGB uint8 HxWx3 numpy arrays inside posebench.

Rules (each a recorded per-sample failure, :class:`SampleFailure`, when it cannot be met):

* **Decoding** is OpenCV's (``cv2.imdecode(..., IMREAD_UNCHANGED)``), which gives the same pixels
  as the reference loaders (PIL's ``Image.open(...).convert("RGB")`` in Hopenet's code,
  ``cv2.imread`` in FSA-Net's; pinned on the real AFLW2000 images by the tests). EXIF orientation
  is not applied, as in both.
* **Corruption** is what a reference decoder reports: a JPEG is also decoded by libjpeg-turbo in
  strict mode (``simplejpeg``), so a warning such as "Corrupt JPEG data: N extraneous bytes
  before marker" or "Premature end of JPEG file" (garbled scan data, a truncated file) refuses
  the image (the strict pass entropy-decodes every scan but runs its inverse DCT at libjpeg's
  smallest scale, 1/8, with plain upsampling: the same warnings at a fraction of a full decode;
  the pixels are OpenCV's), while bytes after a complete image (after the end marker) are ignored, as every
  reference decoder ignores them. A PNG that libpng refuses (CRC or zlib errors, truncation)
  is refused by OpenCV already; any other format (TIFF, BMP, WebP, GIF, ...) is also decoded
  by PIL, and an error there (e.g. a damaged LZW strip that OpenCV decodes with only a logged
  warning) refuses it. Damage no decoder can see (flipped bytes in an uncompressed BMP) cannot
  be detected by anyone and is read as it is.
* **Size** is bounded before decoding: an image whose header declares more than
  :data:`MAX_PIXELS` pixels (2**26, 67,108,864) is refused
  without allocating it (``POSEBENCH_MAX_IMAGE_PIXELS`` overrides the bound).
* **Depth**: 8-bit images are kept; 16-bit unsigned images are scaled to 8 bits as
  ``round(v / 257)`` (exact: ``(v + 128) // 257``; 257 is odd, so there are no ties), which maps
  ``v * 257`` back to ``v``. Any other depth (float, signed, 32-bit, bool) has no faithful 8-bit
  reading and is refused: never a silent guess of its range.
* **Layout**: gray (HxW or HxWx1) is replicated to three channels, gray+alpha and RGBA drop the
  alpha (as PIL's ``convert("RGB")``); any other channel count is refused.
* **I/O errors** (permission denied, a folder or FIFO where a file should be) are failures too.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import cv2
import numpy as np

from posebench.errors import SampleFailure

#: Largest pixel count decoded: 2**26 (67,108,864; above every camera sensor up to 61 MP, 9504x6336).
#: ``POSEBENCH_MAX_IMAGE_PIXELS`` overrides it (read at each decode by :func:`max_pixels`, never
#: at import). It was PIL's DecompressionBombError threshold (178,956,970), which let a 2.7 MB
#: PNG of 13000x13000 through: ``posebench draw`` then used 8.2 GB (about 48 bytes per pixel
#: between the decoded copies and the face detector), so the bound is what posebench can
#: process, not what a decoder can allocate.
MAX_PIXELS = 2**26


def max_pixels() -> int:
    """The pixel bound in force: ``POSEBENCH_MAX_IMAGE_PIXELS`` when set, else :data:`MAX_PIXELS`.
    Raises :class:`posebench.errors.UsageError` (one line) for a value that is not a whole number
    >= 1 (it used to be an import-time traceback)."""
    raw = os.environ.get("POSEBENCH_MAX_IMAGE_PIXELS")
    if raw is None:
        return MAX_PIXELS
    try:
        value = int(raw.strip().replace("_", ""))
    except ValueError:
        value = 0
    if value < 1:
        from posebench.errors import UsageError

        raise UsageError(f"POSEBENCH_MAX_IMAGE_PIXELS must be a whole number of pixels >= 1, got {raw!r}")
    return value


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as RGB uint8 HxWx3 (see the module doc for every rule).

    Raises :class:`SampleFailure` naming the file for a missing, unreadable, corrupt, truncated,
    oversized or unconvertible image.
    """
    p = Path(path)
    try:
        if not p.exists():
            raise SampleFailure(f"image not found: {p.name}")
        if not p.is_file():
            raise SampleFailure(f"image is not a regular file: {p.name}")
        with open(p, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise SampleFailure(f"cannot read image {p.name}: {exc.strerror or type(exc).__name__}") from None
    return decode_image(data, p.name)


def header_size(data: bytes) -> tuple[int, int] | None:
    """``(width, height)`` declared by an image's header, without decoding its pixels; None when
    PIL does not know the format. Raises :class:`SampleFailure` for a header PIL itself refuses
    as a decompression bomb."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as im:
                return im.size
    except Image.DecompressionBombError as exc:
        raise SampleFailure(f"image too large ({exc})") from None
    except Exception:  # noqa: BLE001  (unknown or broken header: OpenCV decides below)
        return None


def _jpeg_size(data: bytes, name: str) -> tuple[int, int] | None:
    """``(width, height)`` of a JPEG's frame header (libjpeg-turbo's header read: no pixels
    decoded, no PIL); None when libjpeg-turbo cannot read the header (OpenCV decides)."""
    import simplejpeg

    try:
        height, width, _, _ = simplejpeg.decode_jpeg_header(data)
    except ValueError:
        return None
    return int(width), int(height)


def _check_jpeg(data: bytes, name: str) -> None:
    """Decode a JPEG strictly (libjpeg-turbo warnings are errors); refuse what it reports.

    Every scan is entropy-decoded (where libjpeg reports corrupt or missing data), but the inverse
    DCT runs at the 1/8 scale (``min_height``/``min_width`` of 1) with fast upsampling: the pixels
    are thrown away, so only the check's cost changes (issue 24: the full strict decode cost as
    much as OpenCV's own decode)."""
    import simplejpeg

    try:
        _, _, colorspace, _ = simplejpeg.decode_jpeg_header(data)
        space = {"Gray": "GRAY", "CMYK": "CMYK", "YCCK": "CMYK"}.get(colorspace, "RGB")
        simplejpeg.decode_jpeg(data, colorspace=space, strict=True, fastdct=True, fastupsample=True,
                               min_height=1, min_width=1)
    except ValueError as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        low = msg.lower()
        if "unsupported" in low and "marker" not in low and "process" not in low:
            return  # a valid JPEG simplejpeg cannot convert (a colour space): OpenCV decides
        # "Unsupported marker type 0xf0" / "Unsupported JPEG process: SOF type 0xc8" after a frame
        # header libjpeg-turbo read: a marker inside the data, damage (OpenCV decoded it with a warning)
        raise SampleFailure(f"corrupt or truncated JPEG {name}: {msg}") from None


def _check_with_pil(data: bytes, name: str) -> None:
    """Decode with PIL (the Hopenet reference loader); refuse what it reports as damaged."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as im:
                im.load()
    except Exception as exc:  # noqa: BLE001  (any decoder error is the file's fault)
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SampleFailure(f"corrupt image {name}: {msg[:120]}") from None


def decode_image(data: bytes, name: str = "image") -> np.ndarray:
    """Encoded image bytes -> RGB uint8 HxWx3; :class:`SampleFailure` naming ``name`` otherwise."""
    if len(data) == 0:
        raise SampleFailure(f"empty image file: {name}")
    jpeg = data[:2] == b"\xff\xd8"
    try:
        size = (_jpeg_size(data, name) if jpeg else None) or header_size(data)
    except SampleFailure as exc:
        raise SampleFailure(f"{name}: {exc.reason}") from None
    limit = max_pixels()
    if size is not None and size[0] * size[1] > limit:
        raise SampleFailure(f"image too large: {name} declares {size[0]}x{size[1]} pixels "
                            f"(limit {limit:,}; POSEBENCH_MAX_IMAGE_PIXELS)")
    if jpeg:
        _check_jpeg(data, name)
    elif data[:8] != b"\x89PNG\r\n\x1a\n" and size is not None:
        _check_with_pil(data, name)
    try:
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:
        lines = str(exc).strip().splitlines()
        raise SampleFailure(f"cannot decode image {name}: {lines[-1] if lines else 'OpenCV error'}") from None
    if img is None:
        raise SampleFailure(f"cannot decode image: {name}")
    try:
        return to_rgb(img, bgr=True)
    except SampleFailure as exc:
        raise SampleFailure(f"{name}: {exc.reason}") from None


def to_rgb(img: np.ndarray, bgr: bool = False) -> np.ndarray:
    """An HxW, HxWx1, HxWx2, HxWx3 or HxWx4 array of uint8 or uint16 -> RGB uint8 HxWx3
    (``bgr=True`` for OpenCV's channel order). 16-bit values become ``round(v / 257)``; alpha is
    dropped. Raises :class:`SampleFailure` for any other depth or layout (see the module doc)."""
    a = np.asarray(img)
    if a.dtype == np.uint16:
        a = ((a.astype(np.uint32) + 128) // 257).astype(np.uint8)
    elif a.dtype != np.uint8:
        raise SampleFailure(f"unsupported image data type {a.dtype}: posebench reads 8- and 16-bit unsigned "
                            "images only (no faithful 8-bit reading of this depth)")
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    elif a.ndim == 3 and a.shape[2] in (1, 2):
        a = np.repeat(a[:, :, :1], 3, axis=2)  # gray (+ alpha)
    elif a.ndim == 3 and a.shape[2] == 4:
        a = a[:, :, :3]
    elif not (a.ndim == 3 and a.shape[2] == 3):
        raise SampleFailure(f"unsupported image shape {a.shape}")
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise SampleFailure(f"empty image {a.shape}")
    if bgr:
        a = a[:, :, ::-1]
    return np.ascontiguousarray(a)


def rgb_to_bgr(img: np.ndarray) -> np.ndarray:
    """RGB -> BGR copy for OpenCV calls."""
    return np.ascontiguousarray(img[:, :, ::-1])
