"""Name -> plugin registries for methods, datasets, studies and face detectors (timm-style), and
the one path that creates a plugin from options.

Built-in plugins register themselves when their package is imported (``posebench.methods``,
``posebench.datasets``, ``posebench.studies``, ``posebench.detect``); third-party plugins expose a module (which
registers itself on import) or a factory through an entry point in the groups
``posebench.methods``, ``posebench.datasets``, ``posebench.studies`` or ``posebench.detectors``.

Example::

    >>> from posebench.registry import methods
    >>> "gt-landmarks" in methods.names()
    True
    >>> m = methods.create("gt-landmarks", {"solver": "sqpnp", "focal": "1.5"})   # strings coerced
    >>> m.options["focal"]
    1.5

Registering a name twice is an error (:class:`~posebench.errors.UsageError`); an entry point
whose name is already taken is skipped with a warning naming both. Names are letters, digits and
``._+-`` (they become file and folder names); a dataset may not be called ``weights`` (the
default weights folder inside the data root). Looking anything up loads every
registry (built-ins, then every entry point of every group), so a module that registers plugins of
several kinds is seen whichever kind is asked for first.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re
import warnings
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Callable, Mapping

from posebench.errors import PluginError, PosebenchError, UsageError, did_you_mean
from posebench.options import Domain, bind_options

NEEDS = ("image", "landmarks", "box", "weights")
#: What a plugin name may look like: it becomes part of file and folder names.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")


def valid_name(name: object) -> bool:
    """A usable plugin name: :data:`NAME_PATTERN`, and no ``..`` (it names files and folders)."""
    return isinstance(name, str) and NAME_PATTERN.fullmatch(name) is not None and ".." not in name


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

    def __init__(self, kind: str, builtin_module: str, group: str,
                 reserved: Callable[[], set[str]] | None = None, shape: tuple[str, ...] = ()):
        self.kind = kind
        self._shape = shape  # attributes every created object must have (a factory returning None is caught)
        self._builtin = builtin_module
        self._group = group
        self._reserved = reserved  # names this kind may not take (datasets: the data root's other tenants)
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
        if not valid_name(name):
            raise UsageError(f"{self.kind} name {name!r} is not allowed: use letters, digits and ._+- "
                             "(it becomes part of file names)")
        if self._reserved is not None and name.lower() in self._reserved():
            raise UsageError(f"{self.kind} name {name!r} is taken by posebench's data root (the default weights "
                             "folder): choose another name")
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
        """Load every registry not loaded yet: all built-ins first, then every entry point."""
        if self._loaded:
            return
        pending = [r for r in REGISTRIES if not r._loaded] + ([self] if self not in REGISTRIES else [])
        for reg in pending:
            reg._loaded = True
        for reg in pending:
            importlib.import_module(reg._builtin)
        for reg in pending:
            reg._load_entry_points()

    def _load_entry_points(self) -> None:
        for ep in entry_points(group=self._group):
            try:
                obj = ep.load()
            except UsageError as exc:  # the module registered a taken or bad name on import
                warnings.warn(f"posebench: {self.kind} plugin {ep.name!r} ({ep.value}) stopped loading: {exc} "
                              "(what it registered before that stays registered)", stacklevel=2)
                continue
            except (Exception, SystemExit) as exc:  # a broken third-party plugin must not break posebench
                warnings.warn(f"posebench: could not load {self.kind} plugin {ep.name!r} ({ep.value}): "
                              f"{type(exc).__name__}: {exc}", stacklevel=2)
                continue
            if inspect.ismodule(obj) or not callable(obj):
                continue  # a module registers its plugins on import
            if ep.name in self._entries and self._entries[ep.name].factory is obj:
                continue  # the module registered it under this very name
            if ep.name in self._entries:
                warnings.warn(f"posebench: {self.kind} {ep.name!r} from entry point {ep.value} is skipped: the name "
                              f"is already registered by {self._entries[ep.name].origin}", stacklevel=2)
                continue
            try:
                self.register(ep.name, inspect.getdoc(obj) or "")(obj)
            except (UsageError, ValueError) as exc:
                warnings.warn(f"posebench: {self.kind} plugin {ep.name!r} ({ep.value}) skipped: {exc}", stacklevel=2)

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
            names = self.names()
            raise UsageError(f"unknown {self.kind} {name!r}; {did_you_mean(name, names)}available: {', '.join(names)}") from None

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
        ``data_dir`` is passed through to dataset factories that take it. The object's ``name``
        is set to the registered ``name`` (cache keys, run files and tables are named by it, so
        two plugins can never share them through a class attribute).

        Raises :class:`UsageError` for bad options, and :class:`PluginError` when the plugin
        cannot be loaded, its lazily registered class declares other ``needs`` than its
        registration, or its factory raises anything but a posebench error (a plugin's bug or a
        reader's unexpected input: one line naming the plugin, not a traceback).
        """
        from posebench.apitypes import options_arg
        from posebench.lazy import LazyClass

        entry = self.get(name)
        bound = self.bind(name, {**options_arg(options, f"{self.kind} {name!r} options"), **kwargs})
        if isinstance(entry.factory, LazyClass) and self is methods:
            cls_needs = getattr(entry.factory.load(), "needs", None)
            if isinstance(cls_needs, str):
                raise PluginError(f"{self.kind} {name!r}: {entry.factory.target}.needs is the string {cls_needs!r}; "
                                  "declare a frozenset of needs, e.g. frozenset({'image'})")
            if cls_needs is not None and frozenset(cls_needs) != entry.needs:
                raise PluginError(f"{self.kind} {name!r}: registered with needs {sorted(entry.needs)} but "
                                  f"{entry.factory.target} declares {sorted(cls_needs)}: declare them once, alike")
        takes_dir = "data_dir" in inspect.signature(entry.factory).parameters
        if data_dir is not None and not takes_dir:
            raise UsageError(f"{self.kind} {name!r} takes no data folder")
        try:
            obj = entry.factory(data_dir=data_dir, **bound) if takes_dir else entry.factory(**bound)
        except PosebenchError:
            raise
        except (Exception, SystemExit) as exc:  # noqa: BLE001  (a plugin's own failure, reported in one line)
            raise PluginError(f"{self.kind} {name!r} failed: {type(exc).__name__}: {exc}") from exc
        missing = [a for a in self._shape if not hasattr(obj, a)]
        if missing:
            raise PluginError(f"{self.kind} {name!r}: its factory returned {type(obj).__name__}, which has no "
                              f"{', '.join(missing)}: not a {self.kind}")
        if getattr(obj, "name", name) != name:
            try:
                obj.name = name
            except AttributeError:
                pass
            if getattr(obj, "name", None) != name:  # a read-only or ignoring `name`: keys would be shared
                raise PluginError(f"{self.kind} {name!r}: its `name` ({getattr(obj, 'name', None)!r}) cannot be set "
                                  "to the registered name, which names its cache and files: make `name` a plain "
                                  "class attribute")
        try:
            vars(obj)["_registered_as"] = name  # see Method.identity: a hand-built object is keyed by its class too
        except TypeError:
            pass
        if self is datasets and isinstance(getattr(obj, "samples", None), list):
            from posebench.labels import check_labels

            check_labels(obj)  # non-finite truth: per-sample failures; a unit mix-up: one line
        hook = getattr(obj, "record_options", None)
        if callable(hook):
            hook(bound, self.defaults(name))
        return obj

    def defaults(self, name: str) -> dict[str, Any]:
        """``{option: default}`` of plugin ``name``."""
        from posebench.options import option_defaults

        return option_defaults(self.get(name).factory)


def _data_root_tenants() -> set[str]:
    """Names a dataset may not take: ``<data root>/weights`` is the default weights folder. (A
    dataset named like a weight file of the catalogue is told apart by ``posebench data``:
    :func:`posebench.acquire.catalogue.sources`.)"""
    return {"weights"}


methods = Registry("method", "posebench.methods", "posebench.methods", shape=("estimate_batch", "identity"))
datasets = Registry("dataset", "posebench.datasets", "posebench.datasets", reserved=_data_root_tenants,
                    shape=("samples", "subset", "protocol"))
studies = Registry("study", "posebench.studies", "posebench.studies", shape=("run", "plot"))
#: Face detectors for image methods (``-o box=NAME``; see :mod:`posebench.detect`).
detectors = Registry("detector", "posebench.detect", "posebench.detectors", shape=("detect",))
#: Loaded together (see :meth:`Registry._load`).
REGISTRIES = [methods, datasets, studies, detectors]

register_method = methods.register
register_dataset = datasets.register
register_study = studies.register
register_detector = detectors.register
