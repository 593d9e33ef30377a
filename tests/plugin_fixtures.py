"""Install a third-party plugin module for a test, as a user's package would be: the module on
``sys.path`` plus a ``*.dist-info/entry_points.txt`` naming it, with every registry reset to its
built-ins first (and restored afterwards by ``monkeypatch``)."""

from __future__ import annotations

import sys
from pathlib import Path

from posebench.registry import REGISTRIES


def install_plugin(tmp_path: Path, monkeypatch, module: str, source: str, entry_points: str) -> None:
    """``source`` becomes ``<tmp_path>/<module>.py``; ``entry_points`` is the text of
    ``entry_points.txt`` (``[posebench.methods]\\nname = module:Obj\\n`` ...)."""
    for reg in REGISTRIES:
        reg.names()  # built-ins first, before the plugin is on the path (its import may register in any)
        monkeypatch.setattr(reg, "_entries", dict(reg._entries))
        monkeypatch.setattr(reg, "_loaded", False)
    (tmp_path / f"{module}.py").write_text(source)
    dist = tmp_path / f"{module}-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(entry_points)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop(module, None)
