"""One vocabulary on every command: ``-o`` is ``--option`` (KEY=VALUE) wherever it exists and an
output file or folder is spelled ``--out``; ``--limit N`` means the first N (N >= 1; no option
means all) everywhere; the drawing commands find faces as the API does (the method's face source)
unless ``--detector`` names one."""

from __future__ import annotations

import click

from posebench.cli import main


def _commands(group: click.Group, prefix: str = ""):
    for name, cmd in group.commands.items():
        path = f"{prefix}{name}"
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, path + " ")
        else:
            yield path, cmd


def test_dash_o_is_option_and_out_is_spelled_out():
    seen_o = 0
    for path, cmd in _commands(main):
        for p in cmd.params:
            if not isinstance(p, click.Option):
                continue
            if "-o" in p.opts:
                seen_o += 1
                assert "--option" in p.opts and p.multiple, (path, p.opts)
            if p.name in ("out", "output", "out_dir"):
                assert "--out" in p.opts, (path, p.opts)
    assert seen_o >= 6


def test_limit_means_the_first_n_everywhere():
    found = []
    for path, cmd in _commands(main):
        for p in cmd.params:
            if isinstance(p, click.Option) and "--limit" in p.opts:
                found.append(path)
                assert p.default is None, path
                assert isinstance(p.type, click.IntRange) and p.type.min == 1, path
    assert {"run", "study", "bench hopenet", "bench whenet", "bench methods", "bench pnp", "train"} <= set(found)


def test_drawing_commands_default_to_the_face_source():
    for path in ("draw", "video"):
        detector = next(p for p in main.commands[path].params if p.name == "detector")
        assert detector.default is None, path
