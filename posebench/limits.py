"""The domains of posebench's numeric settings, declared once: the command line's options
(:mod:`posebench.commands.common` builds every numeric click type from these), the plugin
options (:mod:`posebench.options`) and the Python entry points that take the same values
(``TrainConfig``, the training bench) all read them here.

No value may ask for more than its bound: a count above :data:`MAX_INT`, a network input above
:data:`MAX_INPUT_SIZE` px (100000 px asked for 120 GB and was killed for memory), more than
:data:`MAX_WORKERS` processes, and no float may be NaN or infinite.
"""

from __future__ import annotations

#: Largest integer any count, limit or size may take unless its own bound says otherwise.
MAX_INT = 10**7
#: Largest magnitude any float option may take unless its domain says otherwise.
MAX_FLOAT = 1e6
#: Largest network input side (px): the methods read 224; 1024 already needs ~20x the memory.
MAX_INPUT_SIZE = 1024
#: Largest training batch (a larger one only ends in an out-of-memory kill).
MAX_BATCH_SIZE = 4096
#: Most worker processes (data loaders, dlib's fast path) one command may start.
MAX_WORKERS = 256
#: Most training epochs (the paper trains 25).
MAX_EPOCHS = 10_000
#: Seeds: numpy's and the data loader's range, 0 .. 2**32 - 1.
MAX_SEED = 2**32 - 1
#: Most repeats/rounds/timed iterations of one benchmark.
MAX_REPEATS = 10_000
#: Largest camera index OpenCV is asked to open (a negative one crashes some backends).
MAX_CAMERA = 1023
#: Largest training learning rate (Adam; the paper's is 1e-5).
MAX_LR = 10.0
#: Largest weight of the regression part of the training loss.
MAX_ALPHA = 1e6
