"""Name -> plugin registries for methods, datasets and studies (timm-style).

Built-in plugins register themselves when their package is imported
(``posebench.methods``, ``posebench.datasets``, ``posebench.studies``); third-party plugins
expose a module through an entry point in the groups ``posebench.methods``,
``posebench.datasets`` or ``posebench.studies``; importing that module must register it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Callable

from posebench.errors import UsageError

NEEDS = ("image", "landmarks", "box", "weights")


@dataclass(frozen=True)
class Entry:
    name: str
    factory: Callable[..., Any]
    description: str
    needs: frozenset[str] = field(default_factory=frozenset)
    paper: dict[str, Any] = field(default_factory=dict)


class Registry:
    """A named collection of plugin factories, filled lazily on first lookup."""

    def __init__(self, kind: str, builtin_module: str, group: str):
        self.kind = kind
        self._builtin = builtin_module
        self._group = group
        self._entries: dict[str, Entry] = {}
        self._loaded = False

    def register(
        self,
        name: str,
        description: str,
        needs: tuple[str, ...] | frozenset[str] = (),
        paper: dict[str, Any] | None = None,
    ) -> Callable:
        """Decorator registering ``factory`` under ``name``."""
        bad = set(needs) - set(NEEDS)
        if bad:
            raise ValueError(f"unknown needs {sorted(bad)} for {name!r}; allowed: {NEEDS}")

        def deco(factory: Callable) -> Callable:
            self._entries[name] = Entry(name, factory, description, frozenset(needs), dict(paper or {}))
            return factory

        return deco

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        importlib.import_module(self._builtin)
        for ep in entry_points(group=self._group):
            try:
                obj = ep.load()
            except Exception as exc:  # a broken third-party plugin must not break posebench
                import warnings

                warnings.warn(f"posebench: could not load {self.kind} plugin {ep.name!r}: {exc}", stacklevel=2)
                continue
            if callable(obj) and ep.name not in self._entries:
                self._entries[ep.name] = Entry(ep.name, obj, getattr(obj, "__doc__", "") or "", frozenset())

    def names(self) -> list[str]:
        self._load()
        return sorted(self._entries)

    def entries(self) -> list[Entry]:
        self._load()
        return [self._entries[n] for n in sorted(self._entries)]

    def get(self, name: str) -> Entry:
        self._load()
        try:
            return self._entries[name]
        except KeyError:
            raise UsageError(f"unknown {self.kind} {name!r}; available: {', '.join(self.names())}") from None

    def create(self, name: str, **kwargs: Any) -> Any:
        return self.get(name).factory(**kwargs)


methods = Registry("method", "posebench.methods", "posebench.methods")
datasets = Registry("dataset", "posebench.datasets", "posebench.datasets")
studies = Registry("study", "posebench.studies", "posebench.studies")

register_method = methods.register
register_dataset = datasets.register
register_study = studies.register
