"""Issue 25: training reads images with evaluation's reader (posebench.imageio), and --init is
checked against the model it is for."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest
import torch

from conftest import shared_path


def test_a_16_bit_png_trains_on_the_same_pixels_as_its_8_bit_copy(tmp_path):
    from posebench.datasets.aflw2000 import load_aflw2000
    from posebench.training.augment import parse_augment
    from posebench.training.data import TrainSet

    sample = load_aflw2000(shared_path("data", "AFLW2000-sample")).samples[0]
    grey = cv2.imread(str(sample.image_path), cv2.IMREAD_GRAYSCALE)
    png8, png16 = tmp_path / "eight.png", tmp_path / "sixteen.png"
    cv2.imwrite(str(png8), grey)
    cv2.imwrite(str(png16), grey.astype(np.uint16) * 257)  # v * 257: exactly v in 8 bits (PIL mode I;16)
    sets = [TrainSet([dataclasses.replace(sample, image_path=p)], 64, parse_augment("none")) for p in (png8, png16)]
    (x8, _), (x16, _) = sets[0].load(0), sets[1].load(0)
    assert torch.equal(x8, x16)  # PIL's convert("RGB") made the 16-bit one almost all white


def test_init_with_another_models_checkpoint_is_refused(tmp_path):
    from posebench.errors import WeightsError
    from posebench.training.models import build, load_state

    net = build("tiny-hopenet")
    other = {k: v for k, v in build("tiny-hopenet").state_dict().items()}
    # another network: only the first tensors share names and shapes
    names = [k for k in other if not k.endswith("num_batches_tracked")]
    foreign = {k: other[k] for k in names[:3]} | {"head.weight": torch.zeros(7, 7), "head.bias": torch.zeros(7)}
    path = tmp_path / "other.pt"
    with pytest.raises(WeightsError, match=rf"only \d+ of {len(names)} tensors of tiny-hopenet fit"):
        load_state(net, "tiny-hopenet", foreign, path, "an ImageNet file")
    msg = load_state(net, "tiny-hopenet", other, path, "an ImageNet file")  # its own checkpoint: fine-tuning
    assert msg.startswith("fine-tuning from other.pt: all")
