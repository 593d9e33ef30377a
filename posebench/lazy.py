"""A plugin class that is imported only when it is created.

Registering a heavy plugin (one whose module imports torch, timm, onnxruntime ...) by its class
would import all of that just to list the plugins or check an option. :class:`LazyClass` names
the class instead (``"package.module:Class"``) and reads its options -- the keyword parameters of
its ``__init__``, declared once, there -- from the module's source with :mod:`ast`, without
importing it. Creating the plugin imports the module and calls the class.

Reading the source works when the class's ``__init__`` (its own, or the nearest base class's in
the same module) takes keyword parameters whose defaults are literals (numbers, strings,
booleans, ``None``, tuples). Otherwise (an ``__init__`` inherited from another module, a default
such as ``math.pi``) the class is imported to read its real signature: correct, only not lazy.
``tests/test_contracts.py`` checks, for every lazy plugin, that the options read here equal the
real signature once the class is imported. A module that does not exist or does not import, or a
class that is not in it, is a one-line :class:`~posebench.errors.PluginError`.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
from functools import cached_property
from pathlib import Path
from typing import Any

from posebench.errors import PluginError


class _NotStatic(Exception):
    """The options cannot be read from the source alone (the class is imported instead)."""


class LazyClass:
    """A callable standing for ``module:Class``: ``inspect.signature`` gives the class's options
    (read from source), calling it imports the module and creates the object.

    Raises :class:`~posebench.errors.PluginError` (when the signature is first needed, or on
    creation) if the module cannot be found or imported or the class is not in it.
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
        """Import the module and return the class itself (:class:`PluginError` if impossible)."""
        try:
            module = importlib.import_module(self.__module__)
        except (Exception, SystemExit) as exc:  # noqa: BLE001  (whatever the plugin's import raises)
            raise PluginError(f"{self.target}: cannot import {self.__module__}: {type(exc).__name__}: {exc}") from exc
        cls = getattr(module, self.__name__, None)
        if cls is None:
            raise PluginError(f"{self.target}: {self.__module__} has no {self.__name__}")
        return cls

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.load()(*args, **kwargs)

    @cached_property
    def _source(self) -> ast.Module:
        try:
            spec = importlib.util.find_spec(self.__module__)
        except (ImportError, ValueError) as exc:  # a missing parent package
            raise PluginError(f"{self.target}: no module {self.__module__} ({type(exc).__name__}: {exc})") from None
        if spec is None:
            raise PluginError(f"{self.target}: no module {self.__module__}")
        if spec.origin is None or not spec.origin.endswith(".py"):
            raise _NotStatic
        try:
            return ast.parse(Path(spec.origin).read_text(encoding="utf-8"), spec.origin)
        except (OSError, SyntaxError, ValueError):
            raise _NotStatic from None

    def _classes(self) -> dict[str, ast.ClassDef]:
        return {n.name: n for n in self._source.body if isinstance(n, ast.ClassDef)}

    def _init(self) -> ast.FunctionDef:
        classes = self._classes()
        if self.__name__ not in classes:
            raise _NotStatic  # maybe imported or made at run time: load() says if it is missing
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
        raise _NotStatic  # __init__ inherited from another module

    @cached_property
    def __signature__(self) -> inspect.Signature:  # noqa: PLW3201  (read by inspect.signature)
        """The class's options, read from its source; from the imported class where the source
        alone cannot tell (see the module docstring)."""
        try:
            return self._static_signature()
        except _NotStatic:
            real = inspect.signature(self.load().__init__)
            return real.replace(parameters=list(real.parameters.values())[1:])  # without self

    def _static_signature(self) -> inspect.Signature:
        fn = self._init()
        a = fn.args
        if a.posonlyargs or a.vararg:
            raise _NotStatic
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
            except (ValueError, TypeError, SyntaxError, RecursionError):
                raise _NotStatic from None  # e.g. math.pi: the imported class knows
        note = ast.unparse(arg.annotation) if arg.annotation is not None else inspect.Parameter.empty
        return inspect.Parameter(arg.arg, kind, default=value, annotation=note)
