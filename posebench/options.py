"""Plugin options: declared once (a factory's or class's keyword parameters), bound, coerced and
checked against their domain in one place.

Every method, dataset and study is created through :meth:`posebench.registry.Registry.create`,
which calls :func:`bind_options`: unknown keys, values of the wrong type, NaN/inf, values outside
the declared :class:`Domain` are refused with a one-line :class:`~posebench.errors.UsageError`
naming the option. String values (from the command line) are coerced to the type of the
parameter's default. A plugin declares domains beside its registration::

    @register_method("frontal", "always frontal", domains={"scale": Domain(gt=0)})
    def frontal(scale: float = 1.0) -> Frontal: ...

Without a declared domain a float must still be finite; an int is bounded by
:data:`MAX_INT` (no option value may ask for more than that many of anything).
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from posebench.errors import UsageError, did_you_mean
from posebench.limits import MAX_FLOAT, MAX_INT

__all__ = ["MAX_FLOAT", "MAX_INT", "Domain", "bind_options", "option_defaults", "option_parameters"]


#: Parameters that are never options (passed by the framework itself).
FRAMEWORK_PARAMS = ("self", "data_dir")


@dataclass(frozen=True)
class Domain:
    """Allowed values of one numeric or string option.

    ``ge``/``gt``/``le``/``lt``: bounds (inclusive/exclusive); ``choices``: the allowed values
    (strings compared after ``str``). ``integer``: the value must be a whole number.
    ``aliases``: ``(old name, name)`` pairs of string values still accepted for a renamed choice;
    :meth:`canonical` turns one into its name before the value is checked and recorded, so an
    alias is keyed, labelled and recorded exactly as the name (``setup=best`` is
    ``setup=weak-perspective``).
    """

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    choices: tuple[Any, ...] | None = None
    aliases: tuple[tuple[str, str], ...] = ()

    def canonical(self, value: Any) -> Any:
        """``value``, or the name it is an alias of (:attr:`aliases`)."""
        if isinstance(value, str):
            return dict(self.aliases).get(value, value)
        return value

    def check(self, key: str, value: Any) -> None:
        """Raise :class:`UsageError` naming ``key`` when ``value`` is outside the domain."""
        if self.choices is not None:
            if str(value) not in {str(c) for c in self.choices}:
                names = [str(c) for c in self.choices]
                old = dict(self.aliases)
                hint = did_you_mean(str(value), names + list(old)).strip()
                for alias, name in old.items():  # a near miss of an old name suggests the name
                    hint = hint.replace(f"'{alias}'", f"'{name}'")
                also = "".join(f" ({a} = {n})" for a, n in old.items())
                raise UsageError(f"option {key}={value!r}: must be one of {', '.join(names)}{also}"
                                 + (f" ({hint})" if hint else ""))
            return
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return
        for bound, ok, word in ((self.ge, lambda v, b: v >= b, ">="), (self.gt, lambda v, b: v > b, ">"),
                                (self.le, lambda v, b: v <= b, "<="), (self.lt, lambda v, b: v < b, "<")):
            if bound is not None and not ok(value, bound):
                raise UsageError(f"option {key}={value!r}: must be {word} {bound:g}")


_PROTOTYPES = {"float": 0.0, "int": 0, "bool": False, "str": ""}


def _prototype(p: inspect.Parameter) -> Any:
    """What an option's values should look like: its default, or for a ``None`` default the one
    type its annotation names besides ``None`` (``float | None``, ``Optional[int]``: ``0.0``,
    ``0``); ``None`` when that cannot be told (then the value is passed as given)."""
    if p.default is not inspect.Parameter.empty and p.default is not None:
        return p.default
    note = p.annotation
    if isinstance(note, type):
        note = note.__name__
    if not isinstance(note, str):
        note = str(note).replace("typing.", "")
    note = note.replace(" ", "")
    if note.startswith("Optional[") and note.endswith("]"):
        note = note[len("Optional["):-1]
    kinds = [t for t in note.split("|") if t and t not in ("None", "NoneType")]
    return _PROTOTYPES.get(kinds[0]) if len(kinds) == 1 else None


def as_declared(value: Any, default: Any) -> Any:
    """An int given for a float option becomes that float (``yaw=5`` is ``yaw=5.0``), so a value
    is recorded, and keyed, the same whichever way it was given."""
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _coerce(value: Any, default: Any, key: str) -> Any:
    """A string from the command line -> the type of ``default`` (bool, int, float); a numpy
    scalar from Python -> the plain Python number."""
    if hasattr(value, "item") and type(value).__module__ == "numpy" and getattr(value, "ndim", 1) == 0:
        value = value.item()
    if not isinstance(value, str) or default is None or isinstance(default, str):
        return value
    try:
        if isinstance(default, bool):
            if value.lower() in ("1", "true", "yes", "on"):
                return True
            if value.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
    except ValueError:
        raise UsageError(f"option {key}={value!r}: expected {type(default).__name__}") from None
    return value


def _check_number(key: str, value: Any, default: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if isinstance(default, (int, float)) and not isinstance(default, bool) and value is not None:
            raise UsageError(f"option {key}={value!r}: expected {type(default).__name__}")
        return
    if isinstance(value, float) and not math.isfinite(value):
        raise UsageError(f"option {key}={value!r}: must be a finite number")
    if isinstance(default, int) and not isinstance(default, bool) and isinstance(value, float):
        if not value.is_integer():
            raise UsageError(f"option {key}={value!r}: expected int")
    limit = MAX_INT if isinstance(value, int) else MAX_FLOAT
    if abs(value) > limit:
        raise UsageError(f"option {key}={value!r}: magnitude above {limit:g}")


def option_parameters(factory: Callable) -> dict[str, inspect.Parameter]:
    """The declared options of a factory or class: its keyword parameters (minus the framework's)."""
    sig = inspect.signature(factory)
    return {n: p for n, p in sig.parameters.items()
            if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and n not in FRAMEWORK_PARAMS}


def option_defaults(factory: Callable) -> dict[str, Any]:
    """``{option: default}`` for the declared options that have a default."""
    return {n: p.default for n, p in option_parameters(factory).items() if p.default is not inspect.Parameter.empty}


def _takes_dotted(factory: Callable) -> bool:
    """A factory with ``**kwargs`` passes on ``PLUGIN.KEY`` options (the image studies'
    per-method options); every other unknown key is still refused."""
    try:
        return any(p.kind == p.VAR_KEYWORD for p in inspect.signature(factory).parameters.values())
    except (TypeError, ValueError):
        return False


def bind_options(factory: Callable, options: Mapping[str, Any], what: str,
                 domains: Mapping[str, Domain] | None = None) -> dict[str, Any]:
    """Check ``options`` against ``factory``'s keyword parameters and their domains.

    Returns every declared option with its value (defaults filled in), strings coerced to the
    type of each default. Raises :class:`UsageError` (one line, naming the option) on an unknown
    key (even when the factory takes ``**kwargs``: there only a dotted ``PLUGIN.KEY`` passes,
    for the plugin it names to check), a bad type, NaN/inf, a magnitude above
    :data:`MAX_INT`/:data:`MAX_FLOAT`, or a value outside its declared :class:`Domain`.
    """
    try:
        return _bind(factory, options, what, dict(domains or {}))
    except UsageError as exc:
        if what in str(exc):
            raise
        raise UsageError(f"{what}: {exc}") from None


def _bind(factory: Callable, options: Mapping[str, Any], what: str, domains: dict[str, Domain]) -> dict[str, Any]:
    params = option_parameters(factory)
    out: dict[str, Any] = {}
    passthrough = _takes_dotted(factory)
    for key, value in options.items():
        if passthrough and "." in key.strip(".") and key not in params:
            out[key] = value  # METHOD.KEY=VALUE: checked by the named plugin's own registry entry
            continue
        if key not in params:
            valid = ", ".join(sorted(params)) or "none"
            raise UsageError(f"unknown option {key!r} for {what}; {did_you_mean(key, sorted(params))}valid options: {valid}")
    for key, p in params.items():
        default = _prototype(p)
        if key not in options:
            if p.default is inspect.Parameter.empty:
                raise UsageError(f"option {key!r} of {what} is required")
            out[key] = p.default
            continue
        value = options[key]
        if p.default is None and isinstance(value, str) and value.strip().lower() == "none":
            value = None  # `-o label=None`: the default, not the text 'None'
        value = _coerce(value, default, key)
        _check_number(key, value, default)
        if key in domains:
            value = domains[key].canonical(value)
            domains[key].check(key, value)
        out[key] = as_declared(value, default)
    return out
