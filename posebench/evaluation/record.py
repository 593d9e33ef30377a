"""The run record: what one evaluation of a method on a dataset stored, as documented data.

A run writes ``<results>/runs/<method>__<dataset>__<key>.json`` (a :class:`RunRecord`, its JSON
keys are the field names below) and ``.csv`` beside it (one row per sample: ``id``, true and
predicted angles, ``failure``, ``seconds`` and the per-sample errors of
:func:`posebench.metrics.per_sample_errors`). Readers (the leaderboard, ``posebench run
--json``) use these fields and never import a plugin: the display label is stored.

:func:`read_record` checks every field's type and raises :class:`RecordError` (one line) on a
damaged file (not JSON, bad UTF-8, a list, missing fields, a string where a number belongs).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from posebench.errors import PosebenchError
from posebench.fileio import write_atomic
from posebench.metrics import Summary

#: Version of the record layout; records of another format are refused by :func:`read_record`.
RUN_FORMAT = 2


class RecordError(PosebenchError):
    """A stored run record that cannot be read (damaged, truncated, another format)."""


@dataclass
class RunRecord:
    """One evaluation (angles in degrees, times in seconds).

    Method: ``method`` (registered name), ``label`` (name with its non-default options, as
    tables show it), ``method_version``, ``options`` (recorded options: the cache key's),
    ``weights`` (weights/face-model hash or None), ``files`` (label -> SHA-256 prefix of every
    file the method read), ``needs``.
    Dataset: ``dataset`` (name), ``protocol``, ``data_root`` ("" when embedded), ``fingerprint``
    (content hash of the samples), ``dataset_settings``, ``excluded_by_protocol`` (samples the
    protocol's filter dropped), ``samples_without_image``.
    Outcome: ``n_samples`` (rows of the CSV, unusable labels included), ``n_evaluated``,
    ``n_failed``, ``failures`` (reason -> count), ``summary`` (over the evaluated samples),
    ``by_yaw_bin`` (bin label -> summary), ``seconds_per_sample`` (mean over evaluated samples
    of the run that computed them; None if none), ``from_cache`` (samples answered by the
    cache), ``wall_seconds_this_call``.
    How the poses were made: ``setup`` (the method's set-up, e.g. ``weak-perspective`` or ``paper``; "" for
    methods without one), ``behind_camera`` (evaluated poses from a landmark-to-pose solution
    with the face behind the camera, 0 unless the set-up has no guard),
    ``behind_camera_replaced`` (such solutions the guard replaced), ``pnp`` (what the guard did
    -> count), ``detectors`` (which detector found the face, or ``protocol box`` -> count; empty
    for label-only methods). These five are optional when reading (records written before them
    read as ""/0/{}).
    Processes: ``processes`` (how many processes evaluated the samples: the world size of a
    ``torchrun`` job, :mod:`posebench.distributed`; 1 otherwise) and ``shards`` (``{}`` for one
    process; else ``rule``, how the not-yet-cached samples were split,
    :data:`posebench.evaluation.runner.SHARD_RULE`, ``chunk``, the chunk length, and
    ``samples_per_process``, in rank order). Neither enters the key: a sharded run makes the
    predictions one process makes. Optional when reading (1 and ``{}``).
    Provenance: ``format`` (:data:`RUN_FORMAT`), ``key`` (cache key), ``created`` (UTC ISO
    time), ``environment`` (versions, git commit, machine).
    """

    key: str
    created: str
    method: str
    label: str
    method_version: str
    options: dict[str, Any]
    weights: str | None
    files: dict[str, str]
    needs: list[str]
    dataset: str
    protocol: str
    data_root: str
    fingerprint: str
    dataset_settings: dict[str, Any]
    excluded_by_protocol: int
    samples_without_image: int
    n_samples: int
    n_evaluated: int
    n_failed: int
    failures: dict[str, int]
    summary: Summary
    by_yaw_bin: dict[str, Summary]
    seconds_per_sample: float | None
    from_cache: int
    wall_seconds_this_call: float
    setup: str = ""
    behind_camera: int = 0
    behind_camera_replaced: int = 0
    pnp: dict[str, int] = field(default_factory=dict)
    detectors: dict[str, int] = field(default_factory=dict)
    processes: int = 1
    shards: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)
    format: int = RUN_FORMAT

    def __getitem__(self, key: str) -> Any:
        """``record["n_failed"]``: the JSON value of a field (as :meth:`to_json` gives it)."""
        return self.to_json()[key]

    def to_json(self) -> dict[str, Any]:
        """The JSON object (keys = field names)."""
        out = asdict(self)
        out["summary"] = self.summary.as_dict()
        out["by_yaw_bin"] = {k: v.as_dict() for k, v in self.by_yaw_bin.items()}
        return out

    @classmethod
    def from_json(cls, obj: Any) -> "RunRecord":
        """Check and convert a parsed JSON object; :class:`RecordError` names the bad field."""
        if not isinstance(obj, dict):
            raise RecordError(f"expected a JSON object, got {type(obj).__name__}")
        if obj.get("format") != RUN_FORMAT:
            raise RecordError(f"run record format {obj.get('format')!r}, this posebench reads {RUN_FORMAT}")
        kw: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in obj:
                if f.name in _OPTIONAL:
                    continue
                raise RecordError(f"missing field {f.name!r}")
            v = obj[f.name]
            if f.name == "summary":
                v = _summary(v, "summary")
            elif f.name == "by_yaw_bin":
                if not isinstance(v, dict):
                    raise RecordError("field 'by_yaw_bin' is not an object")
                v = {str(k): _summary(s, f"by_yaw_bin[{k}]") for k, s in v.items()}
            else:
                _check(f.name, v, _KINDS[f.name])
            kw[f.name] = v
        if kw["n_evaluated"] + kw["n_failed"] != kw["n_samples"]:
            raise RecordError("n_evaluated + n_failed differs from n_samples")
        return cls(**kw)


_KINDS: dict[str, str] = {
    "key": "str", "created": "str", "method": "str", "label": "str", "method_version": "str", "options": "dict",
    "weights": "str?", "files": "dict", "needs": "list", "dataset": "str", "protocol": "str", "data_root": "str",
    "fingerprint": "str", "dataset_settings": "dict", "excluded_by_protocol": "int", "samples_without_image": "int",
    "n_samples": "int", "n_evaluated": "int", "n_failed": "int", "failures": "dict", "seconds_per_sample": "num?",
    "from_cache": "int", "wall_seconds_this_call": "num", "environment": "dict", "format": "int",
    "setup": "str", "behind_camera": "int", "behind_camera_replaced": "int", "pnp": "dict", "detectors": "dict",
    "processes": "int", "shards": "dict",
}
#: Fields a record may lack (written before they existed): they read as their defaults.
_OPTIONAL = frozenset({"environment", "setup", "behind_camera", "behind_camera_replaced", "pnp", "detectors",
                       "processes", "shards"})


def _check(name: str, v: Any, kind: str) -> None:
    optional = kind.endswith("?")
    kind = kind.rstrip("?")
    if v is None and optional:
        return
    ok = {
        "str": isinstance(v, str),
        "dict": isinstance(v, dict),
        "list": isinstance(v, list),
        "int": isinstance(v, int) and not isinstance(v, bool) and v >= 0,
        "num": isinstance(v, (int, float)) and not isinstance(v, bool),
    }[kind]
    if not ok:
        raise RecordError(f"field {name!r} should be {'a non-negative integer' if kind == 'int' else kind}, "
                          f"got {json.dumps(v)[:40]}")


def _num(v: Any, where: str) -> float:
    if v is None:
        return math.nan
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise RecordError(f"{where} should be a number, got {json.dumps(v)[:40]}")
    return float(v)


def _summary(v: Any, where: str) -> Summary:
    if not isinstance(v, dict):
        raise RecordError(f"{where} is not an object")
    try:
        ci = v["mae_ci95"]
        if not isinstance(ci, list) or len(ci) != 2:
            raise RecordError(f"{where}.mae_ci95 should be two numbers")
        n = v["n"]
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise RecordError(f"{where}.n should be a non-negative integer")
        return Summary(n, *(_num(v[k], f"{where}.{k}") for k in ("mae_yaw", "mae_pitch", "mae_roll", "mae",
                                                                 "geodesic", "maev")),
                       (_num(ci[0], f"{where}.mae_ci95"), _num(ci[1], f"{where}.mae_ci95")))
    except KeyError as exc:
        raise RecordError(f"{where} lacks {exc}") from None


def read_record(path: Path) -> RunRecord:
    """Read and check one run record; :class:`RecordError` (one line) when it is damaged."""
    try:
        text = Path(path).read_bytes().decode("utf-8")
        obj = json.loads(text)
    except UnicodeDecodeError:
        raise RecordError("not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise RecordError(f"not JSON ({exc.msg} at line {exc.lineno})") from None
    except (OSError, RecursionError) as exc:
        raise RecordError(f"cannot read: {exc}") from None
    return RunRecord.from_json(obj)


def write_record(record: RunRecord, path: Path) -> Path:
    """Write ``record`` atomically as indented JSON."""
    write_atomic(path, json.dumps(record.to_json(), indent=2, default=str) + "\n")
    return Path(path)
