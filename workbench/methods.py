"""The method registry: every training method of ``workbench train``, listed once.

A :class:`Method` names its options (a dataclass config, parsed like every other command's) and
its run function by import path, so listing the methods (``workbench train --help``, the app's
Train tab, the docs check) imports nothing heavy. Methods are found through the
``workbench.methods`` entry-point group (each entry names a ``Method`` or a sequence of them;
``pyproject.toml`` registers the workbench's own, and third-party packages can add theirs) and
through :func:`register` at run time. Adding a method is one package under ``agents/`` plus one
entry point.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Callable

from workbench.errors import WorkbenchError

INPUTS = ("env", "model", "data")
"""What a method can take from the app's Train tab: an environment, a chat model, a data path."""


@dataclass(frozen=True)
class Method:
    """One training method. ``run(config)`` trains into ``config.out`` and returns ``(run, summary text)``."""

    name: str
    help: str
    """One line for ``workbench train --help`` and the app."""
    config: str
    """``module:Class`` of its options, a dataclass (``--help`` lists its fields)."""
    run: str
    """``module:function`` taking an instance of ``config``."""
    data: str
    """What it trains on, one line."""
    inputs: tuple[str, ...] = ()
    """Which of the app's fields (``INPUTS``) its job passes as ``--env`` / ``--model`` / ``--data``."""
    app: bool = True
    """Whether the app may start it as a job."""

    def __post_init__(self) -> None:
        unknown = [i for i in self.inputs if i not in INPUTS]
        if unknown:
            raise WorkbenchError(f"method {self.name!r}: unknown input {unknown[0]!r} (use {', '.join(INPUTS)})")

    def config_class(self) -> type:
        return load_object(self.config)

    def runner(self) -> Callable[[Any], tuple[Any, str]]:
        return load_object(self.run)


_REGISTERED: dict[str, Method] = {}
_FOUND: dict[str, Method] | None = None


def load_object(path: str) -> Any:
    """The object at ``module:attribute``."""
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def register(method: Method) -> None:
    """Add (or replace) a method at run time."""
    _REGISTERED[method.name] = method


def unregister(name: str) -> None:
    _REGISTERED.pop(name, None)


def _found() -> dict[str, Method]:
    """The methods of the ``workbench.methods`` entry points, loaded once per process."""
    global _FOUND
    if _FOUND is None:
        found: dict[str, Method] = {}
        for point in entry_points(group="workbench.methods"):
            value = point.load()
            for method in (value,) if isinstance(value, Method) else value:
                if method.name in found:
                    raise WorkbenchError(f"method {method.name!r} is registered twice ({point.value})")
                found[method.name] = method
        _FOUND = found
    return _FOUND


def methods() -> dict[str, Method]:
    """Every method by name, in registration order (entry points first)."""
    return _found() | _REGISTERED


def get_method(name: str) -> Method:
    known = methods()
    if name not in known:
        raise WorkbenchError(f"unknown method {name!r} (known: {', '.join(known)})")
    return known[name]
