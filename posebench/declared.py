"""Options declared once: the keyword parameters of a plugin class's ``__init__``, recorded by
the framework (methods: :class:`posebench.method.Method`; studies:
:class:`posebench.studies.base.Study`).

A class that derives from :class:`DeclaresOptions` has every ``__init__`` it defines wrapped:
after the object is built, the values of its declared keyword parameters (defaults filled in)
go to the object's ``record_options(values, defaults)`` hook, so an author never lists them a
second time. :func:`recorded_value` is how one value is recorded: a value naming an existing
file by the file's name, its bytes by :func:`posebench.fileio.file_digest`.
"""

from __future__ import annotations

import functools
import inspect
from pathlib import Path
from typing import Any, ClassVar

from posebench.options import as_declared


class DeclaresOptions:
    """Mixin: each subclass's ``__init__`` keyword parameters are its options, handed to
    :meth:`record_options` once the outermost ``__init__`` has returned.

    ``**kwargs`` of ``__init__`` are options too when :attr:`records_extra_options` is true (the
    image studies' ``METHOD.KEY=VALUE``); positional ``*args`` never are.
    """

    #: Set in the body of a framework base class, whose own ``__init__`` is left unwrapped.
    _options_base: ClassVar[bool] = False
    #: Whether the values caught by an ``__init__``'s ``**kwargs`` are recorded as options.
    records_extra_options: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is None or getattr(init, "_records_options", False) or cls.__dict__.get("_options_base", False):
            return  # a framework base class (Method, Study) takes **options itself: its subclasses declare them

        @functools.wraps(init)
        def recording_init(self, *args: Any, **kw: Any) -> None:
            outer = not self.__dict__.get("_in_init", False)
            self.__dict__["_in_init"] = True
            try:
                init(self, *args, **kw)
            finally:
                if outer:
                    self.__dict__["_in_init"] = False
            if outer:
                values, defaults = declared_values(init, self, args, kw)
                self.record_options(values, defaults)

        recording_init._records_options = True  # type: ignore[attr-defined]
        cls.__init__ = recording_init  # type: ignore[method-assign]

    def record_options(self, values: dict[str, Any], defaults: dict[str, Any] | None = None) -> None:
        """Record the declared options ``values`` (``defaults``: option -> default)."""
        raise NotImplementedError


def declared_values(init: Any, obj: Any, args: tuple, kw: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(values, defaults)`` of one ``__init__`` call: every declared keyword parameter with
    the value it got (defaults filled in), in signature order, then (where ``obj`` records
    them) the ``**kwargs`` entries; and ``{parameter: default}``."""
    sig = inspect.signature(init)
    bound = sig.bind(obj, *args, **kw)
    bound.apply_defaults()
    params = sig.parameters
    values: dict[str, Any] = {}
    for key, value in bound.arguments.items():
        kind = params[key].kind
        if key == "self" or kind is params[key].VAR_POSITIONAL:
            continue
        if kind is params[key].VAR_KEYWORD:
            if getattr(obj, "records_extra_options", False):
                values.update(value)
            continue
        values[key] = value
    defaults = {k: p.default for k, p in params.items() if p.default is not inspect.Parameter.empty}
    return values, defaults


def recorded_value(value: Any, default: Any = None) -> tuple[Any, Path | None]:
    """How one declared option is recorded: ``(value, file)``. An int given for a float option
    becomes that float (``yaw=5`` is ``yaw=5.0``); a value naming an existing file is recorded
    by the file's name and the file is returned (its content digest is then recorded too; an
    unreadable file fails here, not later); another :class:`~pathlib.Path` as text."""
    from posebench.fileio import file_digest

    value = as_declared(value, default)
    if isinstance(value, (str, Path)) and str(value) and is_file(value):
        file_digest(value)
        return Path(value).name, Path(value)
    if isinstance(value, Path):
        return str(value), None
    return value, None


def is_file(value: str | Path) -> bool:
    """Whether ``value`` names an existing file (a malformed path is not one)."""
    try:
        return Path(value).is_file()
    except (OSError, ValueError):
        return False
