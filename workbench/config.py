"""Dataclass configs filled from a YAML file and overridden by command-line flags.

The same style as TRL's ``*Config`` classes: each option is a dataclass field with a help text,
parsed by ``transformers.HfArgumentParser``. ``--config FILE.yaml`` sets new defaults; flags
override them. Unknown keys and values of the wrong type fail at start with a message naming
the key.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, Sequence, TypeVar

import yaml

from workbench.errors import WorkbenchError

T = TypeVar("T")


def _allowed_types(annotation: Any) -> tuple[type, ...]:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return tuple(t for arg in typing.get_args(annotation) for t in _allowed_types(arg))
    if origin is typing.Literal:
        return tuple({type(a) for a in typing.get_args(annotation)})
    return (origin or annotation,)


def check_types(config: Any) -> None:
    """Raise WorkbenchError naming the first field whose value has the wrong type."""
    hints = typing.get_type_hints(type(config))
    for f in dataclasses.fields(config):
        value, allowed = getattr(config, f.name), _allowed_types(hints[f.name])
        if value is None and type(None) in allowed:
            continue
        if isinstance(value, bool) and bool not in allowed:
            ok = False
        else:
            ok = isinstance(value, allowed) or (float in allowed and isinstance(value, int))
        if not ok:
            names = " or ".join(t.__name__ for t in allowed)
            raise WorkbenchError(f"config key {f.name!r} must be {names}, got {value!r}")


def load_yaml(path: str | Path, config_class: type, prog: str | None = None) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise WorkbenchError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise WorkbenchError(f"{path}: not valid YAML ({str(err).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise WorkbenchError(f"{path}: expected a mapping of config keys")
    known = {f.name for f in dataclasses.fields(config_class)}
    unknown = sorted(set(data) - known)
    if unknown:
        where = f" for {prog}" if prog else ""
        raise WorkbenchError(f"{path}: unknown config key {unknown[0]!r}{where} (known: {', '.join(sorted(known))})")
    check_types(config_class(**data))
    return data


def parse_config(config_class: type[T], argv: Sequence[str], *, prog: str, description: str) -> T:
    """Parse ``argv`` (with an optional ``--config FILE.yaml``) into a ``config_class`` instance."""
    from transformers import HfArgumentParser

    parser = HfArgumentParser(config_class, prog=prog, description=description)
    parser.add_argument("--config", metavar="FILE.yaml", help="YAML file of options; flags override it")
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config")
    pre, _ = pre.parse_known_args(argv)
    if pre.config:
        parser.set_defaults(**load_yaml(pre.config, config_class, prog))
    config, _, unknown = parser.parse_args_into_dataclasses(list(argv), return_remaining_strings=True)
    if unknown:
        raise WorkbenchError(f"unknown option {unknown[0]!r} for {prog} (see {prog} --help)")
    check_types(config)
    return config
