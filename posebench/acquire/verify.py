"""Check a local copy of a source: :func:`verify_source` runs the source's own verifier (datasets
declare theirs beside their reader, e.g. :func:`posebench.datasets.aflw2000.verify`) and returns a
:class:`~posebench.acquire.source.Report`: ``facts`` (what was found, one line each) and
``problems`` (one line each; empty means the copy looks complete). The weight-file verifiers the
catalogue uses are here.
"""

from __future__ import annotations

from pathlib import Path

from posebench.acquire.source import Report, Source, verify_unread

__all__ = ["Report", "resolve_location", "verify_onnx", "verify_source", "verify_weights", "verify_whenet_h5"]


def verify_weights(report: Report) -> None:
    """The check loading makes (:func:`posebench.methods.hopenet.weights.check_checkpoint`):
    ``torch.load(weights_only=True)`` (never runs pickled code), then every tensor name and shape
    of the Hopenet network, no more and no fewer; what ``verify`` calls ok, ``run`` loads."""
    from posebench.errors import WeightsError
    from posebench.methods.hopenet.weights import check_checkpoint

    path = report.path
    report.facts.append(f"{path.name}: {path.stat().st_size} bytes")
    try:
        state = check_checkpoint(path, "hopenet")
    except WeightsError as exc:
        report.problems.append(str(exc))
        return
    report.counts.update(tensors=len(state))
    report.facts.append(f"{len(state)} tensors, loadable with weights_only=True; they fit the hopenet network exactly")


def verify_whenet_h5(report: Report) -> None:
    """Read the Keras file with h5py and map every layer onto WHENet (names, order, shapes)."""
    from posebench.errors import WeightsError
    from posebench.methods.whenet.nets import WHENet
    from posebench.methods.whenet.weights import keras_to_state_dict, read_keras_layers

    path = report.path
    report.facts.append(f"{path.name}: {path.stat().st_size} bytes")
    try:
        layers = read_keras_layers(path)
        state = keras_to_state_dict(layers, WHENet().eval(), str(path))
    except WeightsError as exc:
        report.problems.append(str(exc))
        return
    report.counts.update(layers=len(layers), tensors=len(state))
    report.facts.append(f"{len(layers)} Keras layers with weights, mapped onto {len(state)} WHENet tensors")


def verify_onnx(report: Report, sha256: str | None = None) -> None:
    """An ONNX model file (e.g. YuNet): the published SHA-256 where known, and that it parses."""
    from posebench.fileio import file_digest

    path = report.path
    report.facts.append(f"{path.name}: {path.stat().st_size} bytes")
    if sha256 is not None:
        digest = file_digest(path)
        if digest != sha256.lower():
            report.problems.append(f"{path.name}: SHA-256 {digest[:16]}..., expected {sha256[:16]}...")
            return
        report.facts.append("SHA-256 matches the catalogue")
    try:
        import onnx

        onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # noqa: BLE001  (any parse failure is a problem to report)
        report.problems.append(f"{path.name}: not a readable ONNX model ({type(exc).__name__})")


def resolve_location(source: Source, root: Path | None) -> Path:
    """The folder (or weight file) to check.

    Without ``root``: the installed location (``<data root>/<name>`` or ``<weights dir>/<file>``).
    With ``root``: ``<root>/<name>`` when that exists, else ``root`` itself, so both a data root
    and the dataset folder itself (e.g. a folder of AFLW2000 ``.mat`` files) are accepted.
    """
    if root is None:
        return source.install_path()
    root = Path(root).expanduser()
    inner = root / source.target
    if inner.exists():
        return inner
    if source.kind == "weights" and (root / source.filename).is_file():  # the folder holding the file
        return root / source.filename
    return root


def verify_source(source: Source, root: Path | None = None) -> Report:
    """Check the local copy of ``source``; problems come back in the report, never raised."""
    path = resolve_location(source, root)
    report = Report(source.name, path)
    if not path.exists():
        report.problems.append(f"{path} does not exist (see `posebench data list` for how to get {source.name})")
        return report
    if source.kind == "weights":
        if not path.is_file():
            report.problems.append(f"{path} is not a file (expected {source.target})")
            return report
        (source.verify or verify_weights)(report)
        return report
    if not path.is_dir():
        report.problems.append(f"{path} is not a folder")
        return report
    try:
        (source.verify or verify_unread)(report)
    except Exception as exc:  # noqa: BLE001  (a plugin's verifier must not turn a check into a traceback)
        report.problems.append(f"the verifier of {source.name} failed: {type(exc).__name__}: {exc}")
    return report
