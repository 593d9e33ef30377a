"""The prediction cache (:mod:`posebench.evaluation.cache`) read back damaged: a damaged entry (a
missing or wrong-typed field, NaN, 1e400, bytes that are not UTF-8, not JSON) is dropped with one
warning line and recomputed to the fresh value, never counted; a cache file that is a folder too."""

from __future__ import annotations

import json

import pytest

from posebench.registry import datasets, methods

CACHE_DAMAGE = {
    "no-pred": lambda r: {k: v for k, v in r.items() if k != "pred"},
    "two-values": lambda r: {**r, "pred": r["pred"][:2]},
    "strings": lambda r: {**r, "pred": ["a", "b", "c"]},
    "bools": lambda r: {**r, "pred": [True, False, True]},
    "list-id": lambda r: {**r, "id": [r["id"]]},
    "pred-and-fail-null": lambda r: {**r, "pred": None, "fail": None},
    "pred-and-fail": lambda r: {**r, "fail": "oops"},
    "negative-sec": lambda r: {**r, "sec": -1.0},
    "not-a-dict": lambda r: [r["id"]],
}


RAW_DAMAGE = {
    "nan": lambda line: line.replace(line[line.index('"pred":[') + 8:].split(",")[0], "NaN", 1),
    "1e400": lambda line: line.replace(line[line.index('"pred":[') + 8:].split(",")[0], "1e400", 1),
    "non-utf8": lambda line: line[:10] + "\udcff" + line[10:],
    "not-json": lambda line: "{{{" + line,
}


def _run(results, n=6):
    from posebench.evaluation.runner import evaluate

    ds = datasets.create("synthetic", {"n": str(n)})
    return evaluate(methods.create("gt-landmarks", {"solver": "sqpnp"}), ds, results, progress=False)


@pytest.fixture(scope="module")
def fresh_run(tmp_path_factory):
    res = _run(tmp_path_factory.mktemp("fresh"))
    cache = next((res.paths["record"].parent.parent / "cache").glob("*.jsonl"))
    return res, cache.name, cache.read_bytes()


@pytest.mark.parametrize("damage", list(CACHE_DAMAGE) + list(RAW_DAMAGE))
def test_damaged_cache_entry_is_dropped_with_one_warning_and_recomputed(tmp_path, fresh_run, damage, capsys):
    fresh, name, blob = fresh_run
    lines = blob.decode().splitlines()
    if damage in CACHE_DAMAGE:
        lines[2] = json.dumps(CACHE_DAMAGE[damage](json.loads(lines[2])))
    else:
        lines[2] = RAW_DAMAGE[damage](lines[2])
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / name).write_bytes("\n".join(lines).encode("utf-8", "surrogateescape") + b"\n")
    capsys.readouterr()
    res = _run(tmp_path)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("warning: dropped 1 damaged line"), err
    assert res.record.from_cache == 5 and res.record.n_evaluated == 6
    assert res.record.summary == fresh.record.summary  # recomputed, same numbers
    s = res.record.summary
    assert s.mae == pytest.approx((s.mae_yaw + s.mae_pitch + s.mae_roll) / 3)


def test_cache_file_that_is_a_folder_is_recomputed_with_one_warning(tmp_path, fresh_run, capsys):
    fresh, name, _ = fresh_run
    (tmp_path / "cache" / name).mkdir(parents=True)
    capsys.readouterr()
    res = _run(tmp_path)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not a file" in err
    assert res.record.summary == fresh.record.summary and res.record.from_cache == 0


def _append_many(path: str, writer: int, rounds: int, per_append: int) -> None:
    from posebench.evaluation.cache import PredictionCache

    cache = PredictionCache(path)
    for r in range(rounds):
        cache.append([{"id": f"w{writer}-{r}-{k}", "pred": [0.1 * k, 1e-7 * r, float(writer)], "fail": None,
                       "sec": 0.001} for k in range(per_append)])


def test_processes_appending_to_one_cache_keep_every_line(tmp_path, capsys):
    """The ranks of a sharded run append to one cache file at once (posebench.distributed): each
    append is larger than one write of a buffered file, so without the lock lines of two processes
    mixed and one process cut the other's line as torn."""
    import multiprocessing

    from posebench.evaluation.cache import PredictionCache

    path = tmp_path / "shared.jsonl"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_append_many, args=(str(path), w, 40, 150)) for w in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    got = PredictionCache(path).load()
    assert len(got) == 3 * 40 * 150
    assert "warning" not in capsys.readouterr().err


def test_two_writers_of_one_cache_file_take_turns(tmp_path):
    """Two runs of one method on one dataset append to one cache file: the second used to drop the
    first's line being written as a 'torn tail' (truncating it), leaving a damaged line; now the
    file is held (flock) while a writer repairs the tail and writes, so both records survive."""
    import fcntl
    import threading

    from posebench.evaluation.cache import PredictionCache

    path = tmp_path / "cache.jsonl"
    path.write_bytes(b"")
    other = path.open("ab")  # another writer, mid-line, holding the file
    fcntl.flock(other.fileno(), fcntl.LOCK_EX)
    other.write(b'{"id":"a","pred":[1,2,3],')
    other.flush()
    cache = PredictionCache(path)
    t = threading.Thread(target=cache.append, args=([{"id": "b", "pred": [4, 5, 6], "fail": None}],))
    t.start()
    t.join(0.5)
    waited = t.is_alive()
    other.write(b'"fail":null}\n')
    other.flush()
    fcntl.flock(other.fileno(), fcntl.LOCK_UN)
    other.close()
    t.join(5)
    assert waited  # it waited for the other writer's line to end
    assert sorted(cache.load()) == ["a", "b"]
    assert path.read_bytes().count(b"\n") == 2
