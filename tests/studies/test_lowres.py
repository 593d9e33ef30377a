"""Low-resolution option and the ``lowres`` study (Figure 8): PIL-exact nearest neighbour, sizes
rounded down, a versioned protocol per factor, and the study's scoring of failures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from PIL import Image

from posebench import create_dataset
from posebench.cli import main
from posebench.datasets.degrade import (
    downsample_image,
    downsampled_size,
    nearest_indices,
    with_downsample,
)
from posebench.errors import UsageError
from posebench.studies.run import create_study


@pytest.mark.parametrize("n_src,n_dst", [(640, 213), (213, 640), (2, 53), (450, 30), (30, 450), (997, 66), (7, 7)])
def test_nearest_indices_match_pil(n_src, n_dst):
    row = np.arange(n_src, dtype=np.int32).reshape(1, n_src)
    pil = np.array(Image.fromarray(row).resize((n_dst, 1), Image.NEAREST))[0]
    assert np.array_equal(nearest_indices(n_src, n_dst), pil)


@pytest.mark.parametrize("shape", [(450, 450), (480, 640), (37, 53)])
@pytest.mark.parametrize("factor", [1, 3, 5, 10, 15])
def test_downsample_equals_the_authors_pil_round_trip(shape, factor):
    rng = np.random.default_rng(factor)
    img = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    h, w = shape
    pil = Image.fromarray(img).resize((w // factor, h // factor), Image.NEAREST).resize((w, h), Image.NEAREST)
    out = downsample_image(img, factor)
    assert out.shape == img.shape and out.dtype == img.dtype
    assert np.array_equal(out, np.array(pil))


def test_sizes_round_down_and_never_vanish():
    assert downsampled_size(450, 450, 15) == (30, 30)
    assert downsampled_size(640, 480, 7) == (91, 68)
    assert downsampled_size(10, 10, 15) == (1, 1)
    img = np.arange(12 * 12 * 3, dtype=np.uint8).reshape(12, 12, 3)
    assert len(np.unique(downsample_image(img, 4).reshape(-1, 3), axis=0)) == 9  # 3x3 blocks


def test_option_versions_the_protocol_and_changes_the_fingerprint():
    base = create_dataset("synthetic", {"n": "5"})
    ds = create_dataset("synthetic", {"n": "5", "downsample": "10"})
    assert ds.protocol == base.protocol + "+ds10-v1" and ds.parameters["downsample"] == 10
    assert ds.fingerprint() != base.fingerprint()
    assert with_downsample(base, 1) is base
    assert all(s.meta["downsample"] == 10 for s in ds)
    with pytest.raises(UsageError):
        create_dataset("synthetic", {"n": "5", "downsample": "0"})


def test_runner_reads_degraded_images(tmp_path):
    """An image method sees the degraded pixels: a checkerboard of 1-pixel squares
    becomes flat at x2 (PIL nearest samples the odd rows and columns, all of one colour)."""
    from posebench.datasets.base import Dataset, Sample
    from posebench.evaluation.runner import evaluate
    from posebench.method import Method
    from posebench.pose import Pose

    board = ((np.indices((60, 60)).sum(axis=0) % 2) * 255).astype(np.uint8)
    path = tmp_path / "board.png"
    Image.fromarray(np.dstack([board] * 3)).save(path)

    class Contrast(Method):
        name, needs = "contrast", frozenset({"image"})

        def estimate_one(self, face):
            return Pose(float(face.image.std()), 0.0, 0.0)

    ds = Dataset("toy", "toy-v1", [Sample("a", Pose(0, 0, 0), (60, 60), path)])
    sharp = evaluate(Contrast(), ds, tmp_path / "r", progress=False).samples["pred_yaw"].iloc[0]
    flat = evaluate(Contrast(), with_downsample(ds, 2), tmp_path / "r", progress=False).samples["pred_yaw"].iloc[0]
    assert sharp > 100 and flat == 0.0


def test_lowres_study_skips_with_reason_and_scores_failures(tmp_path):
    ds = create_dataset("synthetic", {"n": "12"})
    study = create_study("lowres", {"methods": "gt-landmarks,whenet,nosuch", "factors": "1,5",
                                    "gt-landmarks.face": "exact"})
    study.set_context(tmp_path, False)
    t = study.run(ds)
    ran = t[t["skipped"] == ""]
    assert list(ran["factor"]) == [1, 5]
    assert (ran["mae"] < 1e-3).all() and (ran["n_failed"] == 0).all()  # exact face: known answer 0
    assert (ran["options"] == "face=exact,solver=sqpnp").all()
    skipped = t[t["skipped"] != ""].drop_duplicates("method").set_index("method")["skipped"]
    assert "WHENet weights" in skipped["whenet"] and "unknown method" in skipped["nosuch"]
    assert "skipped whenet" in study.summary(t)
    assert all(p.stat().st_size > 0 for p in study.plot(t, tmp_path / "fig" / "lowres"))
    # cached: the second run computes nothing
    again = study.run(ds)
    assert (again.loc[again["skipped"] == "", "from_cache"] == 12).all()


def test_failure_scoring_known_answers():
    from posebench.studies.image_base import frontal_mae, penalised_mae

    t = pd.DataFrame({"true_yaw": [10.0, -40.0], "true_pitch": [0.0, 20.0], "true_roll": [0.0, 0.0],
                      "pred_yaw": [12.0, np.nan], "pred_pitch": [0.0, np.nan], "pred_roll": [0.0, np.nan],
                      "err_mean": [2.0 / 3, np.nan], "failure": ["", "no face found"]})
    assert penalised_mae(t, 90.0) == pytest.approx((2.0 / 3 + 90.0) / 2)
    assert frontal_mae(t) == pytest.approx((2.0 / 3 + 20.0) / 2)  # (40 + 20 + 0) / 3 = 20


def test_lowres_bad_options_are_one_line_errors():
    with pytest.raises(UsageError):
        create_study("lowres", {"methods": "dlib", "fan.weights": "x"})
    with pytest.raises(UsageError):
        create_study("lowres", {"factors": "0,5"})
    r = CliRunner().invoke(main, ["study", "lowres", "-o", "factors=a"])
    assert r.exit_code == 2 and "factors" in r.output and "Traceback" not in r.output


def test_posebench_run_takes_the_option(tmp_path):
    import json

    r = CliRunner().invoke(main, ["run", "-m", "gt-landmarks", "-d", "synthetic", "--dataset-option", "n=5",
                                  "--dataset-option", "downsample=10", "--results-dir", str(tmp_path), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout.strip().splitlines()[-1])["protocol"] == "synthetic-v1+ds10-v1"


def test_image_study_options_go_through_the_registry():
    """Undotted unknown keys are refused by Registry.create; a dotted METHOD.KEY is checked by that
    method's registry entry (type and domain) when the study is created, not mid-run; the
    penalty's declared domain is checked; downsample is a declared dataset option with a domain."""
    from posebench.registry import datasets, studies

    with pytest.raises(UsageError, match="unknown option 'bogus'"):
        studies.create("lowres", {"methods": "gt-landmarks", "bogus": "1"})
    with pytest.raises(UsageError, match="focal"):
        studies.create("lowres", {"methods": "gt-landmarks", "gt-landmarks.focal": "-1"})
    with pytest.raises(UsageError, match="unknown option 'nope'"):
        studies.create("afw-yaw", {"methods": "gt-landmarks", "gt-landmarks.nope": "1"})
    with pytest.raises(UsageError, match="penalty"):
        studies.create("lowres", {"methods": "gt-landmarks", "penalty": "-1"})
    s = studies.create("lowres", {"methods": "gt-landmarks", "gt-landmarks.solver": "weak"})
    assert s.specs[0].options["solver"] == "weak"
    assert datasets.defaults("aflw2000")["downsample"] == 1
    for bad in ("0", "1.5", "100000"):
        with pytest.raises(UsageError, match="downsample"):
            datasets.create("synthetic", {"n": "3", "downsample": bad})
