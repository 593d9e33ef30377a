"""README.md's command examples, word for word.

Every ``posebench ...`` line of README's ``bash`` blocks (``\\`` continuations joined, comments
dropped, ``NAME=value`` lines of the block substituted) is run through the command line in
README order, from a folder beside which ``../shared`` is the shared reference data (as in a
checkout), with fresh data, weights and results folders. Each command either

* runs and exits 0,
* is in ``EXPECTED``: it names something a reader supplies (``AFW_FOLDER``, a downloaded file,
  the AFLW2000 images in the data root) and must fail with a one-line error about exactly that
  (so everything else on the line was accepted), or
* is in ``SKIPPED``, with the reason (network, hours of training, a 90-s benchmark).

A README command in none of these runs (a new example is tested by default). The plugin
examples (``frontal``, ``frontal-bands``) are README's own Python blocks, installed as a package
would install them (a module and an entry point). The files a reader would bring that no README
command makes are ``FILES`` (``clip.mp4``: a short clip the test writes). Needs ../shared.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import REPO, SHARED
from plugin_fixtures import install_plugin
from posebench.cli import main

README = REPO / "README.md"

#: command -> reason it is not run here
SKIPPED = {
    "posebench data download aflw2000": "network (a download)",
    "posebench data download whenet": "network (a download)",
    "posebench data download 3ddfa-v2-mb05": "network (a download)",
    "posebench data download hopenet-alpha2": "network (a download; tests/acquire/test_remote.py runs it against a local Drive)",
    "posebench bench pnp --dataset aflw2000 --data-dir ../shared/data/AFLW2000-labels":
        "about 90 s on two cores (tests/test_batch_pnp.py checks the batched solver)",
    "posebench bench train -m hopenet": "a training benchmark (minutes; tests/test_training.py)",
    "posebench train -m hopenet -d 300w-lp --data-dir PATH/300W_LP --init PATH/resnet50-19c8e357.pth "
    "--val-dataset aflw2000 --val-dir ../shared/data/AFLW2000-sample --out runs/a1": "training (GPU hours)",
    "posebench run -m hopenet -d aflw2000 --data-dir ../shared/data/AFLW2000-sample -o weights=runs/a1/best.pt":
        "needs the checkpoint of the training line above",
    "posebench study alpha -d aflw2000 --data-dir PATH/AFLW2000 -o train_data=PATH/300W_LP": "Table 5: GPU hours of training",
}

#: command -> text of the one-line error it must give here (what the reader supplies)
EXPECTED = {
    "posebench data prepare biwi --from kinect_head_pose_db.tgz": "kinect_head_pose_db.tgz",
    "posebench data prepare hopenet-alpha2 --from hopenet_alpha2.pkl": "hopenet_alpha2.pkl",
    "posebench study afw-yaw --dataset afw --data-dir AFW_FOLDER --plot": "AFW_FOLDER",
    "posebench study biwi-p2 --dataset biwi --data-dir BIWI_FOLDER -o methods=hopenet "
    "-o hopenet.weights=ckpt/split{seed}.pkl": "BIWI_FOLDER",
    "posebench bench hopenet": "aflw2000 does not exist",  # the AFLW2000 images in the data root
    "posebench bench methods": "aflw2000 does not exist",
    "posebench bench engines": "aflw2000 does not exist",
    "posebench bench dlib-boxes": "aflw2000 does not exist",
    "posebench bench lowres": "aflw2000 does not exist",
    "posebench bench run": "aflw2000 does not exist",
    "posebench bench all --out results/bench": "aflw2000 does not exist",
    "posebench runs rm KEY": "'KEY'",  # a key that `runs list` shows
}

#: files a reader brings, made here: name -> maker(path)


def _clip(path: Path) -> None:
    import cv2

    from posebench.imageio import read_image

    img = read_image(SHARED / "data" / "AFLW2000-sample" / "image00002.jpg")
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (450, 450))
    for k in range(6):
        w.write(np.ascontiguousarray(np.roll(img, 3 * k, axis=1)[:, :, ::-1]))
    w.release()


FILES = {"clip.mp4": _clip}


def _blocks(lang: str) -> list[tuple[int, str]]:
    text = README.read_text(encoding="utf-8")
    return [(text[: m.start()].count("\n") + 2, m.group(1))
            for m in re.finditer(rf"^```{lang}\n(.*?)^```", text, re.S | re.M)]


def readme_commands() -> list[tuple[int, str]]:
    """``(line, command)`` of every ``posebench`` command in README's bash blocks, variables of
    the block substituted, comments dropped, whitespace normalised."""
    out = []
    for line, body in _blocks("bash"):
        variables: dict[str, str] = {}
        joined = body.replace("\\\n", " ")
        for raw in joined.splitlines():
            words = shlex.split(raw, comments=True)
            if not words:
                continue
            if len(words) == 1 and re.fullmatch(r"[A-Za-z_]\w*=\S*", words[0]):
                key, value = words[0].split("=", 1)
                variables[key] = value
                continue
            if words[0] != "posebench":
                continue
            words = [re.sub(r"\$(\w+)", lambda m: variables.get(m.group(1), m.group(0)), w) for w in words]
            out.append((line, shlex.join(words)))
    return out


def _plugin_sources() -> dict[str, str]:
    found = {}
    for _, body in _blocks("python"):
        if '@register_method("frontal"' in body:
            found["frontal"] = body
        if '@register_study("frontal-bands"' in body:
            found["frontal_bands"] = body
    assert set(found) == {"frontal", "frontal_bands"}, "README's plugin examples changed"
    return found


def test_every_listed_command_is_in_readme():
    commands = {c for _, c in readme_commands()}
    norm = {shlex.join(shlex.split(c)) for c in list(SKIPPED) + list(EXPECTED)}
    assert norm <= commands, norm - commands  # a stale entry: README no longer says it


def test_readme_commands_word_for_word(tmp_path, monkeypatch):
    for p in (SHARED / "data" / "AFLW2000-sample", SHARED / "models" / "fsanet", SHARED / "models" / "whenet"):
        if not p.exists():
            pytest.skip(f"shared reference data not found: {p} (set POSEBENCH_SHARED)")
    (tmp_path / "shared").symlink_to(SHARED)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    for name, make in FILES.items():
        make(work / name)
    sources = _plugin_sources()
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    install_plugin(plugins, monkeypatch, "frontal", sources["frontal"], "[posebench.methods]\nfrontal = frontal\n")
    install_plugin(plugins, monkeypatch, "frontal_bands", sources["frontal_bands"],
                   "[posebench.studies]\nfrontal-bands = frontal_bands\n")
    skipped = {shlex.join(shlex.split(k)): v for k, v in SKIPPED.items()}
    expected = {shlex.join(shlex.split(k)): v for k, v in EXPECTED.items()}
    problems, ran = [], 0
    for line, command in readme_commands():
        if command in skipped:
            continue
        if command == "posebench gallery --method dlib --dataset aflw2000 --worst 12":
            # "worst samples of a stored run": README's own run of dlib on the sample first
            CliRunner().invoke(main, ["run", "-m", "dlib", "-d", "aflw2000", "--data-dir", "../shared/data/AFLW2000-sample"])
        r = CliRunner().invoke(main, shlex.split(command)[1:])
        ran += 1
        err = (r.stderr or "").strip().splitlines()
        if command in expected:
            if r.exit_code == 0 or not err or not err[-1].startswith("error:") or expected[command] not in err[-1]:
                problems.append(f"README.md:{line}: {command}\n  expected a one-line error about "
                                f"{expected[command]!r}; exit {r.exit_code}: {err[-1:] or r.output[-300:]}")
        elif r.exit_code != 0:
            problems.append(f"README.md:{line}: {command}\n  exit {r.exit_code}: {' | '.join(err[-2:]) or r.output[-300:]}")
    assert not problems, "\n".join(problems)
    assert ran >= 25
    assert (work / "poses.csv").is_file() and (work / "poses.jsonl").is_file() and (work / "drawn.mp4").is_file()
