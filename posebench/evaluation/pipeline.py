"""The runner's input pipeline: each image decoded once, ahead of inference, for every method.

:func:`sample_stream` walks a dataset's samples in order and yields each with its decoded image
(or the :class:`~posebench.errors.SampleFailure` that reading it raised), decoding in a
background thread that stays at most ``depth`` samples ahead (a bounded queue): decoding
(OpenCV's and libjpeg-turbo's decoders release the GIL) overlaps the method's crop and
inference on the other core, and no more than ``depth`` decoded images wait in memory.

The stream decodes with the same function as the sequential path
(:func:`posebench.datasets.degrade.sample_image`) and hands back the samples in the same order,
so what a method receives, and therefore every cache line, is the same as without it (a test
compares the records). An image is decoded only when some method still needs it.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from posebench.datasets.base import Sample
from posebench.errors import SampleFailure

#: Samples decoded ahead of the consumer (bounded queue length) by default.
DEFAULT_DEPTH = 16
_END = object()


def load_image(sample: Sample) -> tuple[np.ndarray | SampleFailure, float]:
    """The sample's decoded RGB uint8 image with the dataset's degradation applied (read-only,
    since every method of a study shares it), or the failure reading it raised; and the seconds
    it took."""
    from posebench.datasets.degrade import sample_image

    t0 = time.perf_counter()
    try:
        if sample.image_path is None:
            raise SampleFailure("no image file for this sample (labels-only data)")
        image = sample_image(sample)
        image.flags.writeable = False
        out: np.ndarray | SampleFailure = image
    except SampleFailure as exc:
        out = exc
    return out, time.perf_counter() - t0


def sample_stream(samples: Sequence[Sample], needs_image: Callable[[Sample], bool], depth: int = DEFAULT_DEPTH,
                  threaded: bool = True) -> Iterator[tuple[Sample, np.ndarray | SampleFailure | None, float]]:
    """``(sample, image, seconds)`` for each of ``samples`` in order; ``image`` is None where
    ``needs_image(sample)`` is false, else what :func:`load_image` gives. ``threaded=False``
    decodes in the caller's thread (the sequential path). Closing the generator (or an
    exception in the consumer) stops the decoding thread."""
    if not threaded:
        for s in samples:
            yield (s, *load_image(s)) if needs_image(s) else (s, None, 0.0)
        return
    q: queue.Queue = queue.Queue(maxsize=max(1, int(depth)))
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for s in samples:
                item = (s, *load_image(s)) if needs_image(s) else (s, None, 0.0)
                if not put(item):
                    return
        except BaseException as exc:  # noqa: BLE001  (handed to the consumer, raised there)
            put(exc)
            return
        put(_END)

    worker = threading.Thread(target=produce, name="posebench-decode", daemon=True)
    worker.start()
    try:
        while True:
            item = q.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join(timeout=5)
