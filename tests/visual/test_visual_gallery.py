"""The gallery's tiles: one tile that cannot be drawn is a failed tile (grey, captioned with the
reason, named in a warning), never a failed gallery."""

from __future__ import annotations

import numpy as np
import pandas as pd
from click.testing import CliRunner

from posebench.cli import main
from posebench.datasets.base import Sample
from posebench.pose import Pose
from posebench.visual.gallery import pair_tile, tile_or_failure

ROW = pd.Series(dict(true_yaw=1.0, true_pitch=2.0, true_roll=3.0, pred_yaw=4.0, pred_pitch=5.0, pred_roll=6.0,
                     err_mean=1.0, geodesic=2.0, err_yaw=1.0, err_pitch=1.0, err_roll=1.0))


def test_a_tile_that_cannot_be_cropped_is_a_grey_tile_of_the_same_size_with_its_reason():
    good = pair_tile(Sample("ok", Pose(0, 0, 0), (100, 100), box=(20, 20, 80, 80)), ROW)
    for sample in (Sample("huge", Pose(0, 0, 0), (100, 100), landmarks=np.full((68, 2), 1e30)),
                   Sample("empty", Pose(0, 0, 0), (0, 0))):
        tile, why = tile_or_failure(sample, ROW)
        assert tile.shape == good.shape and "crop box" in why
        assert (tile[:180] == 96).all()  # the grey panel; the caption below names the sample


def test_one_bad_tile_leaves_the_rest_of_the_gallery(tmp_path, monkeypatch):
    """A tile raising (here: the second worst sample's) used to stop the whole gallery."""
    import posebench.visual.gallery as gallery

    res = tmp_path / "res"
    r = CliRunner().invoke(main, ["run", "-m", "gt-landmarks", "-d", "synthetic", "--dataset-option", "n=12",
                                  "--results-dir", str(res)])
    assert r.exit_code == 0, r.output
    table = pd.read_csv(next((res / "runs").glob("*.csv")), keep_default_na=False, na_values=[""])
    bad = table.sort_values("err_mean", ascending=False)["id"].iloc[1]
    real = gallery.pair_tile

    def flaky(sample, row, size=gallery.TILE):
        if sample.id == bad:
            raise ValueError("a damaged sample")
        return real(sample, row, size)

    monkeypatch.setattr(gallery, "pair_tile", flaky)
    r = CliRunner().invoke(main, ["gallery", "--method", "gt-landmarks", "--dataset", "synthetic", "--worst", "4",
                                  "--results-dir", str(res)])
    assert r.exit_code == 0, r.output
    assert f"warning: tile of sample {bad} not drawn: ValueError: a damaged sample" in r.output
    gal = next((res / "galleries").iterdir())
    from posebench.imageio import read_image

    sheet = read_image(gal / "worst.png")
    assert sheet.shape[0] == 2 * (180 + 58 + 6) + 6 and sheet.shape[1] == 3 * (360 + 6) + 6  # all 4 tiles
