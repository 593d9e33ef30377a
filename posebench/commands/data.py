"""``posebench data list|download|prepare|verify``: get the public datasets and weights in place."""

from __future__ import annotations

import re
from pathlib import Path

import click

from posebench.acquire.catalogue import get_source, sources
from posebench.acquire.source import Source
from posebench.commands.common import show_progress
from posebench.errors import DataError

root_option = click.option(
    "--root", type=click.Path(file_okay=False, path_type=Path), default=None,
    help="Data root to use instead of $POSEBENCH_DATA (~/.local/share/posebench); for weights, the weights "
         "folder instead of $POSEBENCH_WEIGHTS.",
)


def _size(n: int | None) -> str:
    if n is None:
        return "size unknown"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n} B"
        n /= 1000
    return f"{n} B"


ROUTES = {"url": "", "gdrive": " (Google Drive, through gdown)", "hf": " (Hugging Face hub, through huggingface_hub)"}


def _checksum(source: Source) -> str:
    """``sha256: HEX (how it is known)``, or ``checksum unknown: why``."""
    note = source.checksum_note.strip()
    if source.sha256:
        return f"sha256:  {source.sha256}" + (f" ({note})" if note else "")
    why = re.sub(r"^(size and )?checksum unknown:\s*", "", note) or "the publisher gives none and it was not measured"
    return f"checksum unknown: {why}"


def _present(source: Source, root: Path | None) -> str:
    path = source.install_path(root)
    return f"present at {path}" if path.exists() else f"not present ({path})"


@click.group("data")
def data() -> None:
    """Get, check and arrange the public datasets and weights (AFLW2000-3D, 300W-LP, BIWI, Hopenet...)
    and any plugin dataset that declares its source.

    Datasets go to <data root>/<name> ($POSEBENCH_DATA, default ~/.local/share/posebench), where
    `posebench run -d NAME` finds them without --data-dir; weights go to $POSEBENCH_WEIGHTS
    (default <data root>/weights).
    """


@data.command("list")
@root_option
def list_cmd(root: Path | None) -> None:
    """Each dataset and weight file posebench knows: source (and the library that fetches it),
    licence, size, SHA-256 (or why it is unknown), presence.

    Datasets are every registered dataset that declares a source (built-in or a plugin's, see
    docs/data.md); weights are posebench's catalogue.
    """
    for s in sources().values():
        how = "download" if s.downloadable else "manual"
        reader = f"reader: {s.reader}" if s.reader else ""
        sha = f"sha256 {s.sha256[:16]}..." if s.sha256 else "sha256 unknown"
        where = None if s.kind == "weights" else root  # weights: always the weights folder
        click.echo(f"{s.name:<22} {s.kind:<8} {how:<9} {_size(s.size):<13} {sha:<27} {reader}")
        click.echo(f"    {s.title}")
        click.echo(f"    source:  {s.origin}{ROUTES.get(s.route or '', '')}")
        if s.url_note:
            click.echo(f"    note:    {s.url_note}")
        click.echo(f"    licence: {s.licence}")
        click.echo(f"    {_checksum(s)}")
        click.echo(f"    {_present(s, where)}")


@data.command("download")
@click.argument("name")
@root_option
@click.option("--url", default=None, metavar="URL",
              help="Download from this mirror instead of the official link (published size/checksum still apply).")
@click.option("--force", is_flag=True, help="Replace an existing copy.")
@click.option("--keep-archive", is_flag=True, help="Keep the downloaded archive in <root>/.downloads.")
def download_cmd(name: str, root: Path | None, url: str | None, force: bool, keep_archive: bool) -> None:
    """Download NAME (see `posebench data list`), verify it, and extract it to <root>/NAME.

    The transfer streams to <root>/.downloads/FILE.part; run the same command again after an
    interruption to resume. Sources that need a registration or a browser print the exact steps
    to take and the `posebench data prepare` command to run afterwards.
    """
    from posebench.acquire.install import ManualStepRequired, download, target_root

    source = get_source(name)
    if not source.downloadable and url is None:
        click.echo(f"{source.name}: {source.manual}")
        raise ManualStepRequired(f"{source.name} cannot be downloaded automatically: follow the step above")
    try:
        dest = download(source, root, url=url, force=force, keep_archive=keep_archive, progress=show_progress())
    except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM (posebench.interrupts.Terminated)
        from posebench.interrupts import acknowledge

        acknowledge()
        archive = getattr(exc, "posebench_archive", None)
        if archive is not None:
            at = f" --root {target_root(source, root).resolve()}" if root is not None else ""
            note = (f"the download was complete and is kept at {Path(archive).resolve()}; nothing was installed; "
                    f"`posebench data prepare {source.name}{at} --from {Path(archive).resolve()}` installs it "
                    "without downloading again")
        else:
            note = (f"the partial download is kept in {target_root(source, root) / '.downloads'}; run the same "
                    "command again to resume (nothing was extracted)")
        click.echo(f"interrupted: {note}", err=True)
        raise click.exceptions.Exit(getattr(exc, "exit_code", 130)) from None
    _installed(source, dest)


@data.command("prepare")
@click.argument("name")
@click.option("--from", "given", required=True, type=click.Path(path_type=Path), metavar="FILE",
              help="The archive (or weight file, or already-extracted folder) you downloaded.")
@root_option
@click.option("--force", is_flag=True, help="Replace an existing copy.")
def prepare_cmd(name: str, given: Path, root: Path | None, force: bool) -> None:
    """Install NAME from a file you downloaded yourself (BIWI, AFLW, 300W-LP, Hopenet weights...).

    Checks the published size/checksum when the file has the official name, extracts safely,
    arranges the folder as the reader expects (<root>/NAME) and verifies it. Your file is left untouched.
    """
    from posebench.acquire.install import prepare
    from posebench.commands.common import on_interrupt

    source = get_source(name)
    on_interrupt("nothing was installed (an existing copy is untouched; your file too); run the same command again")
    dest = prepare(source, given, root, force=force, progress=show_progress())
    _installed(source, dest)


@data.command("verify")
@click.argument("name")
@root_option
def verify_cmd(name: str, root: Path | None) -> None:
    """Check the local copy of NAME: file counts, annotations parse, protocol counts.

    --root may be a data root holding NAME/ or the dataset folder itself (e.g. a folder of
    AFLW2000 imageXXXXX.mat files), or for weights the folder holding the weight file.
    Prints one problem per line; exit status 1 when there are problems.
    """
    _report(get_source(name), root)


def _installed(source: Source, dest: Path) -> None:
    """Say where ``source`` was installed, then check it (an interrupt now leaves it installed)."""
    from posebench.commands.common import on_interrupt

    click.echo(f"{source.name}: installed at {dest}")
    on_interrupt(f"{source.name} is installed at {dest}; its check was interrupted: run "
                 f"`posebench data verify {source.name} --root {dest}` to check it")
    _report(source, dest, installed=True)


def _report(source: Source, root: Path | None, installed: bool = False) -> None:
    """Print the check of ``source`` at ``root``; exit 1 (one line) when it found problems,
    saying so when the copy was just installed (it stays in place: the problems are listed)."""
    from posebench.acquire.verify import verify_source

    rep = verify_source(source, root)
    click.echo(f"{source.name} at {rep.path}")
    for line in rep.facts:
        click.echo(f"  {line}")
    for line in rep.problems:
        click.echo(f"problem: {line}")
    if rep.ok and source.sha256 is None and source.kind == "weights":
        # no published checksum: the structure fits, which checkpoint it is cannot be known (any
        # file of the right tensor shapes passes; hopenet-alpha1's bytes pass as hopenet-alpha2)
        from posebench.fileio import file_digest

        click.echo(f"ok: its structure fits; its content is NOT verified (no published checksum for {source.name}): "
                   f"SHA-256 of this copy {file_digest(rep.path)}")
    elif rep.ok:
        click.echo("ok: no problems found")
    elif installed:
        raise DataError(f"installed at {rep.path}, but the check found {len(rep.problems)} problem(s) (listed "
                        "above); `posebench data verify` repeats it")
    else:
        raise DataError(f"{len(rep.problems)} problem(s) in {rep.path}")


COMMANDS = [data]
