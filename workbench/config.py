"""Dataclass configs filled from a YAML file and overridden by command-line flags.

The same style as TRL's ``*Config`` classes: each option is a dataclass field with a help text,
parsed by ``transformers.HfArgumentParser``. ``--config FILE.yaml`` sets new defaults; flags
override them. Unknown keys and values of the wrong type fail at start with a message naming
the key.

A field states its allowed values in its metadata, checked by :func:`check_values` right after
parsing (before any folder is made or any model loads):

- ``{"min": 1}``, ``{"max": 65535}``, ``{"gt": 0}``: numeric bounds (``min``/``max`` inclusive);
- ``{"choices": ("a", "b")}``: the allowed values (of each item, for a list);
- ``{"path": "out"}``: a folder the command creates or writes into (not empty, not an existing file,
  names within the OS's limit, its nearest existing folder writable);
- ``{"path": "in"}``: a file or folder the command reads (a file must be UTF-8 text, unless it has
  a binary format's suffix);
- ``{"format": "host"}``: an IP address or a host name (no lookup).
"""

from __future__ import annotations

import argparse
import codecs
import copy
import dataclasses
import ipaddress
import os
import re
import shutil
import tempfile
import types
import typing
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence, TypeVar

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


RULES = ("min", "max", "gt", "choices", "path", "format")
"""Field metadata keys read by :func:`check_values` (and withheld from argparse)."""
BINARY_SUFFIXES = frozenset({".parquet", ".arrow", ".safetensors", ".bin", ".pt", ".pth", ".gguf", ".npy", ".npz",
                             ".gz", ".zip", ".tar", ".pkl"})
"""Input files of these formats are not checked for UTF-8."""
_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def check_values(config: Any, names: Iterable[str] | None = None) -> None:
    """Raise WorkbenchError naming the first option (of ``names``, default all) that breaks its field's
    metadata rule (see the module docstring); None always passes."""
    wanted = None if names is None else set(names)
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if value is None or (wanted is not None and f.name not in wanted) or not any(k in f.metadata for k in RULES):
            continue
        for item in value if isinstance(value, (list, tuple)) else [value]:
            check_value(f"--{f.name}", item, f.metadata)


def check_value(option: str, value: Any, rules: Mapping[str, Any]) -> None:
    """Check one value of ``option`` against ``rules`` (``min``, ``max``, ``gt``, ``choices``, ``path``, ``format``)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value != value and any(k in rules for k in ("min", "max", "gt")):  # NaN compares false with any bound
            raise WorkbenchError(f"{option} must be a number, got {value}")
        if "gt" in rules and not value > rules["gt"]:
            bound = "positive" if rules["gt"] == 0 else f"greater than {rules['gt']}"
            raise WorkbenchError(f"{option} must be {bound}, got {value}")
        if "min" in rules and value < rules["min"]:
            raise WorkbenchError(f"{option} must be at least {rules['min']}, got {value}")
        if "max" in rules and value > rules["max"]:
            raise WorkbenchError(f"{option} must be at most {rules['max']}, got {value}")
    if "choices" in rules and value not in rules["choices"]:
        raise WorkbenchError(f"unknown {option} {value!r} (use {', '.join(map(str, rules['choices']))})")
    kind = rules.get("path")
    if kind == "out":
        check_out_path(option, value)
    elif kind == "in":
        check_text_file(option, value)
    elif kind is not None:
        raise ValueError(f"unknown path kind {kind!r} in the metadata of {option}")
    if rules.get("format") == "host":
        check_host(option, value)


def _nearest_existing(path: Path) -> Path:
    """``path`` or its closest ancestor that exists (a name too long to look up counts as missing)."""
    while path != path.parent:
        try:
            if path.exists():
                break
        except OSError:
            pass
        path = path.parent
    return path


def check_out_path(option: str, value: str) -> None:
    """Refuse a folder to write that is empty, names an existing file (or lies under one), has a name longer
    than the OS allows, or whose nearest existing folder cannot be written."""
    if not value.strip():
        raise WorkbenchError(f"{option} must not be empty")
    path = Path(value).absolute()
    existing = _nearest_existing(path)
    try:
        name_max = os.pathconf(existing, "PC_NAME_MAX")
        path_max = os.pathconf(existing, "PC_PATH_MAX")
    except (OSError, ValueError):
        name_max, path_max = 255, 4096
    for part in Path(value).parts:
        if len(os.fsencode(part)) > name_max:
            raise WorkbenchError(f"{option}: the name {part[:40]}... is {len(os.fsencode(part))} bytes long "
                                 f"(at most {name_max})")
    if len(os.fsencode(str(path))) >= path_max:
        raise WorkbenchError(f"{option}: the path is longer than {path_max} bytes")
    if existing == path and not path.is_dir():
        raise WorkbenchError(f"{option} {value} is an existing file; a folder is needed")
    if not existing.is_dir():
        raise WorkbenchError(f"{option} {value}: {existing} is a file, not a folder")
    try:  # os.access says yes to root on a folder it still cannot write (read-only mounts, /proc)
        shutil.rmtree(tempfile.mkdtemp(prefix=".write-check-", dir=existing))
    except OSError as err:
        raise WorkbenchError(f"{option} {value}: cannot write in {existing} ({err.strerror})") from None


def check_text_file(option: str, value: str) -> None:
    """Refuse an existing input file that is not UTF-8 text (folders, missing paths and binary formats pass:
    their readers report those)."""
    path = Path(value)
    if not path.is_file() or path.suffix.lower() in BINARY_SUFFIXES:
        return
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    try:
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                decoder.decode(chunk)
                offset += len(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError as err:
        raise WorkbenchError(f"{option} {value}: not UTF-8 text (byte {offset + err.start})") from None
    except OSError as err:
        raise WorkbenchError(f"{option} {value}: cannot read ({err.strerror})") from None


def check_host(option: str, value: str) -> None:
    """Refuse a value that is neither an IP address nor a valid host name (RFC 1123; no lookup)."""
    try:
        ipaddress.ip_address(value)
        return
    except ValueError:
        pass
    labels = value[:-1].split(".") if value.endswith(".") else value.split(".")
    if (not value or len(value) > 253 or not all(_HOST_LABEL.match(label) for label in labels)
            or labels[-1].isdigit()):  # all-digit last label: a malformed IPv4 address such as 999.1.1.1
        raise WorkbenchError(f"{option} {value!r} is not an IP address or a host name")


def load_yaml(path: str | Path, config_class: type, prog: str | None = None) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise WorkbenchError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError as err:
        raise WorkbenchError(f"--config {path}: not UTF-8 text (byte {err.start})") from None
    except OSError as err:
        raise WorkbenchError(f"--config {path}: cannot read ({err.strerror})") from None
    except yaml.YAMLError as err:
        raise WorkbenchError(f"{path}: not valid YAML ({str(err).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise WorkbenchError(f"{path}: expected a mapping of config keys")
    known = {f.name for f in dataclasses.fields(config_class)}
    unknown = sorted(set(data) - known)
    if unknown:
        where = f" for {prog}" if prog else ""
        raise WorkbenchError(f"{path}: unknown config key {unknown[0]!r}{where} (known: {', '.join(sorted(known))})")
    config = config_class(**data)
    check_types(config)
    try:
        check_values(config, data)
    except WorkbenchError as err:
        raise WorkbenchError(f"{path}: {err}") from None
    return data


def _argparse_field(field: dataclasses.Field) -> dataclasses.Field:
    """``field`` without the :data:`RULES` metadata keys, which ``HfArgumentParser`` would hand to argparse."""
    if not any(k in field.metadata for k in RULES):
        return field
    field = copy.copy(field)
    field.metadata = types.MappingProxyType({k: v for k, v in field.metadata.items() if k not in RULES})
    return field


def parse_config(config_class: type[T], argv: Sequence[str], *, prog: str, description: str) -> T:
    """Parse ``argv`` (with an optional ``--config FILE.yaml``) into a ``config_class`` instance."""
    from transformers import HfArgumentParser

    class Parser(HfArgumentParser):
        @staticmethod
        def _parse_dataclass_field(parser: argparse.ArgumentParser, field: dataclasses.Field) -> None:
            HfArgumentParser._parse_dataclass_field(parser, _argparse_field(field))

    parser = Parser(config_class, prog=prog, description=description, allow_abbrev=False)
    parser.add_argument("--config", metavar="FILE.yaml", help="YAML file of options; flags override it")
    pre = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    pre.add_argument("--config")
    pre, _ = pre.parse_known_args(argv)
    if pre.config:
        parser.set_defaults(**load_yaml(pre.config, config_class, prog))
    config, _, unknown = parser.parse_args_into_dataclasses(list(argv), return_remaining_strings=True)
    if unknown:
        raise WorkbenchError(f"unknown option {unknown[0]!r} for {prog} (see {prog} --help)")
    check_types(config)
    check_values(config)
    return config
