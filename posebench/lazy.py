"""A plugin class that is imported only when it is created.

Registering a heavy plugin (one whose module imports torch, timm, onnxruntime ...) by its class
would import all of that just to list the plugins or check an option. :class:`LazyClass` names
the class instead (``"package.module:Class"``) and reads its options -- the keyword parameters of
its ``__init__``, declared once, there -- from the module's source with :mod:`ast`, without
importing it. Creating the plugin imports the module and calls the class.

Rules for a lazily registered class: its ``__init__`` (its own, or the nearest base class's in the
same module) takes keyword parameters whose defaults are literals (numbers, strings, booleans,
``None``, tuples); ``tests/test_contracts.py`` checks, for every lazy plugin, that the options read
here equal the real signature once the class is imported.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
from functools import cached_property
from pathlib import Path
from typing import Any


class LazyClass:
    """A callable standing for ``module:Class``: ``inspect.signature`` gives the class's options
    (read from source), calling it imports the module and creates the object.

    Raises :class:`ValueError` (when the signature is first needed) if the class or an
    ``__init__`` with literal defaults cannot be found in the module's source.
    """

    def __init__(self, target: str) -> None:
        module, _, name = target.partition(":")
        if not module or not name:
            raise ValueError(f"LazyClass target must be 'package.module:Class', got {target!r}")
        self.target = target
        self.__module__ = module
        self.__name__ = self.__qualname__ = name

    def __repr__(self) -> str:
        return f"LazyClass({self.target!r})"

    def load(self) -> type:
        """Import the module and return the class itself."""
        return getattr(importlib.import_module(self.__module__), self.__name__)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.load()(*args, **kwargs)

    @cached_property
    def _source(self) -> ast.Module:
        spec = importlib.util.find_spec(self.__module__)
        if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
            raise ValueError(f"{self.target}: no Python source found for {self.__module__}")
        return ast.parse(Path(spec.origin).read_text(encoding="utf-8"), spec.origin)

    def _classes(self) -> dict[str, ast.ClassDef]:
        return {n.name: n for n in self._source.body if isinstance(n, ast.ClassDef)}

    def _init(self) -> ast.FunctionDef:
        classes = self._classes()
        todo, seen = [self.__name__], set()
        while todo:
            name = todo.pop(0)
            if name in seen or name not in classes:
                continue
            seen.add(name)
            for node in classes[name].body:
                if isinstance(node, ast.FunctionDef) and node.name == "__init__":
                    return node
            todo.extend(b.id for b in classes[name].bases if isinstance(b, ast.Name))
        raise ValueError(f"{self.target}: no __init__ in {self.__name__} or its base classes in {self.__module__}")

    @cached_property
    def __signature__(self) -> inspect.Signature:  # noqa: PLW3201  (read by inspect.signature)
        fn = self._init()
        a = fn.args
        if a.posonlyargs or a.vararg:
            raise ValueError(f"{self.target}: __init__ must take keyword parameters only (besides self)")
        params: list[inspect.Parameter] = []
        positional = a.args[1:]  # drop self
        defaults = [None] * (len(positional) - len(a.defaults)) + list(a.defaults)
        for arg, default in zip(positional, defaults):
            params.append(self._param(arg, default, inspect.Parameter.POSITIONAL_OR_KEYWORD))
        for arg, default in zip(a.kwonlyargs, a.kw_defaults):
            params.append(self._param(arg, default, inspect.Parameter.KEYWORD_ONLY))
        if a.kwarg is not None:
            params.append(inspect.Parameter(a.kwarg.arg, inspect.Parameter.VAR_KEYWORD))
        return inspect.Signature(params)

    def _param(self, arg: ast.arg, default: ast.expr | None, kind: inspect._ParameterKind) -> inspect.Parameter:
        if default is None:
            value: Any = inspect.Parameter.empty
        else:
            try:
                value = ast.literal_eval(default)
            except ValueError:
                raise ValueError(f"{self.target}: the default of {arg.arg!r} is not a literal "
                                 f"({ast.unparse(default)}); a lazily registered class needs literal defaults") from None
        note = ast.unparse(arg.annotation) if arg.annotation is not None else inspect.Parameter.empty
        return inspect.Parameter(arg.arg, kind, default=value, annotation=note)
