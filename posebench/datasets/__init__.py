"""Dataset readers; importing this package registers the built-in datasets."""

from posebench.datasets import aflw, aflw2000, afw, biwi, synthetic, w300lp  # noqa: F401  (registration side effects)
from posebench.datasets.base import Dataset, Sample

__all__ = ["Dataset", "Sample"]
