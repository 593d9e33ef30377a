"""Cost of the content fingerprint of a dataset (issue 15, kind 12), in one run:

1. every image hashed (a first run, or no index);
2. the same with the stat index warm (every later run);
3. the baseline: stat only (what the old name+size fingerprint read).

Usage: python scripts/fingerprint_cost.py DATASET DATA_DIR
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

from posebench.fileio import DigestIndex
from posebench.registry import datasets


def main() -> None:
    name, data_dir = sys.argv[1], sys.argv[2]
    ds = datasets.create(name, data_dir=data_dir)
    images = [s.image_path for s in ds.samples if s.image_path is not None]
    size = sum(os.stat(p).st_size for p in images)
    with tempfile.TemporaryDirectory() as tmp:
        idx = DigestIndex(os.path.join(tmp, "digests.json"))
        t0 = time.perf_counter()
        ds.fingerprint(idx)
        cold = time.perf_counter() - t0
        idx.save()
        warm_idx = DigestIndex(os.path.join(tmp, "digests.json"))
        t0 = time.perf_counter()
        ds.fingerprint(warm_idx)
        warm = time.perf_counter() - t0
    t0 = time.perf_counter()
    for p in images:
        os.stat(p)
    base = time.perf_counter() - t0
    n = len(images)
    print(f"{name}: {len(ds)} samples, {n} images, {size / 1e6:.1f} MB")
    print(f"  hash every image: {cold:.3f} s ({1000 * cold / max(n, 1):.2f} ms/image, {size / 1e6 / cold:.0f} MB/s)")
    print(f"  warm stat index:  {warm:.3f} s ({1e6 * warm / max(n, 1):.1f} us/image; {cold / warm:.1f}x faster)")
    print(f"  stat only (old name+size scheme): {base:.4f} s")


if __name__ == "__main__":
    main()
