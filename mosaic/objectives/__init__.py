"""The objectives registry.

Every module in this package whose name does not start with `_` defines `OBJECTIVE`, an
`Objective`; it is registered under its name the first time the registry is read. So a new
objective is one new module here. Objectives living elsewhere (a plugin, a test) call
`register_objective`.
"""

from __future__ import annotations

import importlib
import pkgutil

from mosaic.errors import ConfigError
from mosaic.objectives._base import (
    S_MAX,
    FocusKey,
    Objective,
    coerce_flag,
    coerce_groups,
    coerce_int,
    need,
    unscored,
)

BUILTIN_ORDER = ("xguard", "orbench", "ifeval")
"""The built-in objectives, in the order of the reference's objective vector f."""

_REGISTRY: dict[str, Objective] = {}
_discovered = False


def _discover() -> None:
    global _discovered
    if _discovered:
        return
    _discovered = True
    found = [m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")]
    # Built-ins first in their canonical order, then any other module alphabetically.
    for name in sorted(found, key=lambda n: (BUILTIN_ORDER.index(n) if n in BUILTIN_ORDER
                                             else len(BUILTIN_ORDER), n)):
        module = importlib.import_module(f"{__name__}.{name}")
        objective = getattr(module, "OBJECTIVE", None)
        if not isinstance(objective, Objective):
            raise ConfigError(f"module {module.__name__} must define OBJECTIVE = Objective(...)")
        register_objective(objective, replace=True)


def register_objective(objective: Objective, *, replace: bool = False) -> Objective:
    """Add an objective to the registry; refuses to overwrite one unless `replace`."""
    _discover()
    if objective.name in _REGISTRY and not replace:
        raise ConfigError(f"an objective named '{objective.name}' is already registered")
    _REGISTRY[objective.name] = objective
    return objective


def unregister_objective(name: str) -> None:
    """Remove an objective (for tests and plugins that registered one temporarily)."""
    _REGISTRY.pop(name, None)


def get_objective(name: str) -> Objective:
    """The registered objective called `name`; a ConfigError lists the known names."""
    _discover()
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(_REGISTRY) or "(none)"
        raise ConfigError(f"unknown objective '{name}'; known objectives: {known}") from None


def objective_names() -> tuple[str, ...]:
    """Names of all registered objectives, built-ins first."""
    _discover()
    return tuple(_REGISTRY)


__all__ = [
    "BUILTIN_ORDER",
    "S_MAX",
    "FocusKey",
    "Objective",
    "coerce_flag",
    "coerce_groups",
    "coerce_int",
    "get_objective",
    "need",
    "objective_names",
    "register_objective",
    "unregister_objective",
    "unscored",
]
