"""A third-party dataset that declares its source beside its reader gets every ``posebench data``
command (list, download from a mirror, prepare from an archive, verify) and is found by
``posebench run -d NAME`` without ``--data-dir``, exactly as the built-in datasets: the plugin is
installed through an entry point, as a user's package would be."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from data_fixtures import FileServer
from plugin_fixtures import install_plugin
from posebench.acquire.catalogue import get_source, sources
from posebench.acquire.source import Source
from posebench.cli import main
from posebench.registry import Registry, datasets

TOY = '''
from collections import Counter
from pathlib import Path

from posebench.acquire.source import Source, best_folder
from posebench.datasets.base import Dataset, Sample
from posebench.errors import DataError
from posebench.method import Method
from posebench.pose import Pose
from posebench.registry import register_dataset, register_method


def read_rows(root):
    rows = []
    for line in (Path(root) / "poses.csv").read_text().splitlines():
        name, yaw, pitch, roll = line.split(",")
        rows.append((name, float(yaw), float(pitch), float(roll)))
    return rows


def find_folder(extracted):
    return best_folder(Counter(p.parent for p in Path(extracted).rglob("poses.csv")), "poses.csv")


def verify(report):
    rows = read_rows(report.path)
    report.facts.append(f"{len(rows)} poses")
    missing = [n for n, *_ in rows if not (report.path / n).is_file()]
    report.problem_list([f"{n}: no such image" for n in missing], "missing images")


SOURCE = Source(name="toyfaces", kind="dataset", title="Toy faces: poses.csv + images", homepage="https://example.org",
                filename="toyfaces.zip", licence="CC0", manual="ask the toy maintainer",
                find_folder=find_folder, verify=verify)


@register_dataset("toyfaces", "toy third-party dataset", source=SOURCE)
def toyfaces(data_dir=None):
    if data_dir is None:
        from posebench.acquire.defaults import default_dir
        data_dir = default_dir("toyfaces")
    rows = read_rows(data_dir)
    samples = [Sample(id=n, pose=Pose(y, p, r), image_size=(8, 8)) for n, y, p, r in rows]
    return Dataset("toyfaces", "toyfaces-v1", samples, Path(data_dir))


@register_method("toy-zero", "answers the frontal pose")
class ToyZero(Method):
    name = "toy-zero"
    needs = frozenset()

    def estimate_one(self, face):
        return Pose(0.0, 0.0, 0.0)
'''


@pytest.fixture
def toy_plugin(tmp_path, monkeypatch):
    install_plugin(tmp_path, monkeypatch, "toyfaces_plugin", TOY,
                   "[posebench.datasets]\ntoyfaces = toyfaces_plugin\n[posebench.methods]\ntoy-zero = toyfaces_plugin\n")


def _archive() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("toy-release/README.txt", "toy")
        zf.writestr("toy-release/data/poses.csv", "a.png,10,0,0\nb.png,-20,5,0\n")
        zf.writestr("toy-release/data/a.png", b"not really")
        zf.writestr("toy-release/data/b.png", b"not really")
    return buf.getvalue()


def test_plugin_dataset_gets_every_data_command(toy_plugin, tmp_path):
    runner = CliRunner()
    res = runner.invoke(main, ["data", "list"])
    assert res.exit_code == 0 and "\ntoyfaces " in "\n" + res.output and "reader: toyfaces" in res.output
    assert "Toy faces: poses.csv + images" in res.output

    res = runner.invoke(main, ["data", "download", "toyfaces"])  # no link: the plugin's manual step
    assert res.exit_code == 1 and "ask the toy maintainer" in res.output

    with FileServer({"/toyfaces.zip": _archive()}) as srv:
        res = runner.invoke(main, ["data", "download", "toyfaces", "--url", srv.url("/toyfaces.zip")])
    assert res.exit_code == 0, res.output
    dest = get_source("toyfaces").install_path()
    assert (dest / "poses.csv").is_file() and not (dest / "README.txt").exists()  # the plugin's folder rule
    assert "2 poses" in res.output and "ok: no problems found" in res.output  # the plugin's verifier

    (dest / "b.png").unlink()
    res = runner.invoke(main, ["data", "prepare", "toyfaces", "--force", "--from", str(dest)])
    assert res.exit_code == 1 and "problem: b.png: no such image" in res.output  # installed, but not clean
    assert "installed at" in res.output and "but the check found 1 problem(s)" in res.output
    res = runner.invoke(main, ["data", "verify", "toyfaces"])
    assert res.exit_code == 1 and "problem: b.png: no such image" in res.output

    res = runner.invoke(main, ["run", "-m", "toy-zero", "-d", "toyfaces", "--results-dir", str(tmp_path / "r")])
    assert res.exit_code == 0, res.output  # found in <data root>/toyfaces, no --data-dir
    assert "evaluated 2 of 2" in res.output and "MAE yaw 15.000" in res.output  # |0-10|, |0+20| -> 15


def test_plugin_prepare_from_local_archive(toy_plugin, tmp_path):
    z = tmp_path / "toy.zip"
    z.write_bytes(_archive())
    res = CliRunner().invoke(main, ["data", "prepare", "toyfaces", "--from", str(z)])
    assert res.exit_code == 0, res.output
    assert (get_source("toyfaces").install_path() / "poses.csv").is_file()


def test_dataset_source_must_carry_its_dataset_name():
    reg = Registry("dataset", "posebench.datasets", "posebench.test-none")
    src = Source(name="other", kind="dataset", title="t", homepage="h", filename="f", licence="l")
    with pytest.raises(ValueError, match="named 'mine'"):
        reg.register("mine", source=src)
    with pytest.raises(ValueError, match="installs to 'elsewhere'"):
        reg.register("other", source=Source(name="other", kind="dataset", title="t", homepage="h", filename="f",
                                            licence="l", target="elsewhere"))
    reg.register("other", source=src)(lambda data_dir=None: None)
    assert reg._entries["other"].source.reader == "other"


def test_every_builtin_dataset_with_files_declares_its_source():
    declared = {e.name for e in datasets.entries() if e.source is not None}
    assert declared == {"aflw", "aflw2000", "afw", "biwi", "300w-lp"}  # synthetic is embedded
    for name in declared:
        src = sources()[name]
        assert src.reader == name and src.find_folder is not None and src.verify is not None
        assert src.install_path(Path("/r")) == Path("/r") / name  # where `run -d NAME` looks

