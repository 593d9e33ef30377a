"""Name -> plugin registries for methods, datasets and studies (timm-style), and the one path that
creates a plugin from options.

Built-in plugins register themselves when their package is imported (``posebench.methods``,
``posebench.datasets``, ``posebench.studies``); third-party plugins expose a module (which
registers itself on import) or a factory through an entry point in the groups
``posebench.methods``, ``posebench.datasets`` or ``posebench.studies``.

Example::

    >>> from posebench.registry import methods
    >>> "gt-landmarks" in methods.names()
    True
    >>> m = methods.create("gt-landmarks", {"solver": "sqpnp", "focal": "1.5"})   # strings coerced
    >>> m.options["focal"]
    1.5

Registering a name twice is an error (:class:`~posebench.errors.UsageError`); an entry point
whose name is already taken is skipped with a warning naming both.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import warnings
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Callable, Mapping

from posebench.errors import UsageError
from posebench.options import Domain, bind_options

NEEDS = ("image", "landmarks", "box", "weights")


@dataclass(frozen=True)
class Entry:
    """One registered plugin.

    ``factory``: a class or a function whose keyword parameters are the plugin's options;
    ``needs``: for methods, what they read of a sample (from the class's ``needs`` when the
    factory is a class); for datasets, what their samples carry; ``domains``: per-option
    :class:`~posebench.options.Domain`; ``paper``: the paper's reported numbers, if any;
    ``origin``: the module (or entry point) that registered it; ``source``: for datasets, the
    :class:`~posebench.acquire.source.Source` declared with the reader (where the data comes
    from, how its folder is found in an archive and how a copy is verified), which
    ``posebench data`` uses; ``None`` when the dataset has none (e.g. the embedded synthetic one).
    """

    name: str
    factory: Callable[..., Any]
    description: str
    needs: frozenset[str] = field(default_factory=frozenset)
    paper: dict[str, Any] = field(default_factory=dict)
    domains: dict[str, Domain] = field(default_factory=dict)
    origin: str = ""
    source: Any = None


def _origin(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', getattr(obj, '__name__', '?'))}"


class Registry:
    """A named collection of plugin factories, filled lazily on first lookup.

    ``kind`` names the plugin kind in messages (``method``); ``builtin_module`` is imported on
    first use; ``group`` is the entry-point group scanned for third-party plugins.
    """

    def __init__(self, kind: str, builtin_module: str, group: str):
        self.kind = kind
        self._builtin = builtin_module
        self._group = group
        self._entries: dict[str, Entry] = {}
        self._loaded = False

    def register(
        self,
        name: str,
        description: str = "",
        needs: tuple[str, ...] | frozenset[str] = (),
        paper: dict[str, Any] | None = None,
        domains: Mapping[str, Domain] | None = None,
        source: Any = None,
    ) -> Callable:
        """Decorator registering a factory (function or class) under ``name``.

        A class's ``needs`` is read from the class itself (pass none here); a function
        factory declares them here. ``source`` (datasets): a
        :class:`~posebench.acquire.source.Source` of kind ``dataset`` named ``name``; it is
        recorded with ``reader = name``. Raises :class:`UsageError` when ``name`` is taken and
        :class:`ValueError` on unknown needs or a source of another name or kind.
        """
        bad = set(needs) - set(NEEDS)
        if bad:
            raise ValueError(f"unknown needs {sorted(bad)} for {name!r}; allowed: {NEEDS}")
        if source is not None:
            if getattr(source, "name", None) != name or getattr(source, "kind", None) != "dataset":
                raise ValueError(f"{self.kind} {name!r}: its source must be a Source of kind 'dataset' named "
                                 f"{name!r}, got {getattr(source, 'kind', '?')} {getattr(source, 'name', source)!r}")
            if source.target != name:  # `posebench run -d NAME` looks in <data root>/NAME
                raise ValueError(f"{self.kind} {name!r}: its source installs to {source.target!r}; a dataset's "
                                 f"source installs to its own name (leave target empty)")
            source = dataclasses.replace(source, reader=name)

        def deco(factory: Callable) -> Callable:
            cls_needs = getattr(factory, "needs", None) if inspect.isclass(factory) else None
            if cls_needs is not None and needs and frozenset(needs) != frozenset(cls_needs):
                raise ValueError(f"{self.kind} {name!r}: needs are declared on the class; do not repeat them")
            use = frozenset(cls_needs if cls_needs is not None else needs)
            bad = set(use) - set(NEEDS)
            if bad:
                raise ValueError(f"unknown needs {sorted(bad)} for {name!r}; allowed: {NEEDS}")
            self._add(Entry(name, factory, description or (inspect.getdoc(factory) or "").split("\n")[0], use,
                            dict(paper or {}), dict(domains or {}), _origin(factory), source))
            return factory

        return deco

    def _add(self, entry: Entry) -> None:
        old = self._entries.get(entry.name)
        if old is not None and old.factory is not entry.factory:
            raise UsageError(f"{self.kind} {entry.name!r} is already registered (by {old.origin}); "
                             f"{entry.origin} cannot register it again: choose another name")
        self._entries[entry.name] = entry

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        importlib.import_module(self._builtin)
        for ep in entry_points(group=self._group):
            try:
                obj = ep.load()
            except UsageError as exc:  # the module registered a taken name on import
                warnings.warn(f"posebench: {self.kind} plugin {ep.name!r} ({ep.value}) skipped: {exc}", stacklevel=2)
                continue
            except Exception as exc:  # a broken third-party plugin must not break posebench
                warnings.warn(f"posebench: could not load {self.kind} plugin {ep.name!r}: {exc}", stacklevel=2)
                continue
            if inspect.ismodule(obj) or not callable(obj):
                continue  # a module registers its plugins on import
            if any(e.factory is obj for e in self._entries.values()):
                continue
            if ep.name in self._entries:
                warnings.warn(f"posebench: {self.kind} {ep.name!r} from entry point {ep.value} is skipped: the name "
                              f"is already registered by {self._entries[ep.name].origin}", stacklevel=2)
                continue
            self.register(ep.name, inspect.getdoc(obj) or "")(obj)

    def names(self) -> list[str]:
        """Sorted names of every registered plugin (built-in and entry points)."""
        self._load()
        return sorted(self._entries)

    def entries(self) -> list[Entry]:
        """Every :class:`Entry`, sorted by name."""
        self._load()
        return [self._entries[n] for n in sorted(self._entries)]

    def get(self, name: str) -> Entry:
        """The :class:`Entry` of ``name``; :class:`UsageError` listing the valid names if unknown."""
        self._load()
        try:
            return self._entries[name]
        except KeyError:
            raise UsageError(f"unknown {self.kind} {name!r}; available: {', '.join(self.names())}") from None

    def bind(self, name: str, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Every declared option of ``name`` with its value: ``options`` (strings coerced) over
        the defaults, checked against the option domains (see :mod:`posebench.options`)."""
        entry = self.get(name)
        return bind_options(entry.factory, dict(options or {}), f"{self.kind} {name!r}", entry.domains)

    def create(self, name: str, options: Mapping[str, Any] | None = None, /, *, data_dir: Any = None,
               **kwargs: Any) -> Any:
        """Create plugin ``name`` from ``options`` (and/or keyword arguments): bound, coerced
        and validated by :meth:`bind`. The bound options are handed to the object's
        ``record_options`` hook (methods and studies record them; see :class:`posebench.method.Method`).
        ``data_dir`` is passed through to dataset factories that take it."""
        entry = self.get(name)
        bound = self.bind(name, {**dict(options or {}), **kwargs})
        if "data_dir" in inspect.signature(entry.factory).parameters:
            obj = entry.factory(data_dir=data_dir, **bound)
        elif data_dir is not None:
            raise UsageError(f"{self.kind} {name!r} takes no data folder")
        else:
            obj = entry.factory(**bound)
        hook = getattr(obj, "record_options", None)
        if callable(hook):
            hook(bound, self.defaults(name))
        return obj

    def defaults(self, name: str) -> dict[str, Any]:
        """``{option: default}`` of plugin ``name``."""
        from posebench.options import option_defaults

        return option_defaults(self.get(name).factory)


methods = Registry("method", "posebench.methods", "posebench.methods")
datasets = Registry("dataset", "posebench.datasets", "posebench.datasets")
studies = Registry("study", "posebench.studies", "posebench.studies")

register_method = methods.register
register_dataset = datasets.register
register_study = studies.register
