"""``posebench methods`` and ``posebench datasets``: what is registered and what it needs."""

from __future__ import annotations

import click

from posebench.registry import datasets, methods


def _table(entries) -> None:
    width = max((len(e.name) for e in entries), default=4)
    for e in entries:
        needs = ", ".join(sorted(e.needs)) or "-"
        click.echo(f"{e.name:<{width}}  needs: {needs:<24}  {e.description}")


def _domain(d) -> str:
    if d is None:
        return ""
    if d.choices is not None:
        old = "".join(f" ({a} = {n})" for a, n in d.aliases)  # renamed choices still accepted
        return "one of " + ", ".join(map(str, d.choices)) + old
    parts = [f"{w} {b:g}" for b, w in ((d.ge, ">="), (d.gt, ">"), (d.le, "<="), (d.lt, "<")) if b is not None]
    return " and ".join(parts)


def weight_lines(name: str) -> list[str]:
    """The catalogue's weight files that method ``name`` reads (:attr:`Source.used_by`): each
    installed (where) or not, and the ``posebench data`` command that gets it."""
    from posebench.acquire.catalogue import WEIGHTS
    from posebench.acquire.defaults import fill_hint

    used = [s for s in WEIGHTS.values() if name in s.used_by]
    if not used:
        return ["  weight files (posebench data list): none in the catalogue"]
    out = ["  weight files (posebench data list):"]
    for s in used:
        path = s.install_path()
        state = f"installed at {path}" if path.is_file() else f"not installed: {fill_hint(s.name, 'weights')}"
        out.append(f"    {s.name}: {s.title}; {state}")
    return out


def describe_method(name: str) -> list[str]:
    """``posebench methods NAME``: what it needs, its options (type, default, domain), the files it
    reads with its defaults, the catalogue's weight files it takes (installed or not, and the
    command that gets each) and its published numbers with their source."""
    from posebench.errors import PosebenchError
    from posebench.evaluation.paper import PAPER, source_of
    from posebench.options import option_parameters

    entry = methods.get(name)
    out = [f"{name}: {entry.description}", f"  needs: {', '.join(sorted(entry.needs)) or '-'}",
           "  options (-o KEY=VALUE; run-time only ones marked *, not in the cache key):"]
    runtime = set()
    try:
        cls = entry.factory.load() if hasattr(entry.factory, "load") else entry.factory
        runtime = set(getattr(cls, "runtime_options", ()))
    except Exception:  # noqa: BLE001 - a plugin that cannot load still lists its options
        pass
    params = option_parameters(entry.factory)
    width = max((len(k) for k in params), default=4)
    for key, p in params.items():
        ann = p.annotation if isinstance(p.annotation, str) else getattr(p.annotation, "__name__", "")
        if p.annotation is p.empty:
            ann = type(p.default).__name__ if p.default is not p.empty else ""
        default = "(required)" if p.default is p.empty else f"default {p.default!r}"
        dom = _domain(entry.domains.get(key))
        out.append(f"    {key + ('*' if key in runtime else ''):<{width + 1}}  {ann:<12} {default}" + (f"; {dom}" if dom else ""))
    out.append("  files read with the defaults:")
    try:
        m = methods.create(name)
        files = dict(m.__dict__.get("_files", {}))
        if m.face_source is not None:
            files.update(m.face_source.files())
        digests = m._file_table()
        if not files:
            out.append("    none")
        for label, path in sorted(files.items()):
            d = digests.get(label)
            out.append(f"    {label}: {path}" + (f" (installed, sha256 {d[:16]})" if d else ""))
        if m.face_source is not None:
            out.append(f"  face source: box={m.face_source.box} (a bare photo's faces: {m.face_source.detector_name})")
    except PosebenchError as exc:
        out.append(f"    not ready with the defaults: {exc}")
    out += weight_lines(name)
    published = [(ds, label, vals) for (meth, ds), rows in PAPER.items() if meth == name for label, vals in rows]
    out.append("  published numbers (yaw / pitch / roll / MAE, degrees):" if published else "  published numbers: none here")
    for ds, label, vals in published:
        out.append(f"    {ds}: {source_of(label)}: {' / '.join(f'{v:g}' for v in vals)}")
    return out


@click.command("methods")
@click.argument("name", required=False)
def methods_cmd(name: str | None) -> None:
    """List estimator plugins and what each needs (image, landmarks, box, weights); with NAME,
    that method's options (types, defaults, domains), the files it reads and whether they are
    installed, and its published numbers."""
    if name is None:
        _table(methods.entries())
        click.echo("(posebench methods NAME: its options, files and published numbers)", err=True)
        return
    for line in describe_method(name):
        click.echo(line)


@click.command("datasets")
def datasets_cmd() -> None:
    """List dataset readers and what their samples provide."""
    _table(datasets.entries())


COMMANDS = [methods_cmd, datasets_cmd]
