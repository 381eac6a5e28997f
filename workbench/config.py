"""Dataclass configs filled from a YAML file and overridden by command-line flags.

The same style as TRL's ``*Config`` classes: each option is a dataclass field with a help text,
parsed as ``transformers.HfArgumentParser`` parses them (the same flags, see :func:`build_parser`, without
importing transformers, which took over a second of every ``--help``). ``--config FILE.yaml`` sets new
defaults; flags override them. Unknown keys and values of the wrong type fail at start with a message naming
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

A bool field that defaults to True also gets ``--no_<name>``; its ``{"no_help": "hide the progress bar"}``
metadata says what that flag does.
"""

from __future__ import annotations

import argparse
import codecs
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
from workbench.runs import default_out

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


def negated_help(field: dataclasses.Field) -> str:
    """The help of ``--no_<field>`` (a bool field that defaults to True): its ``no_help`` metadata, which says what
    the flag does ("hide the progress bar"), else that it turns ``--<field>`` off."""
    return field.metadata.get("no_help") or f"turn --{field.name} off"


def out_field(kind: str, note: str = "") -> Any:
    """The ``--out`` option of a command that writes a run: by default a new ``runs/<kind>-<date>-<time>``
    folder (see :func:`resolve_out`); ``note`` adds what goes in it."""
    return dataclasses.field(default=None, metadata={
        "help": f"run directory{note}; default: a new runs/{kind}-<date>-<time>", "path": "out"})


def resolve_out(out: str | None, resume: bool, kind: str) -> str:
    """``--out``, or for a new run without it a new folder ``runs/<kind>-<date>-<time>`` (never another run's);
    ``--resume`` needs ``--out``."""
    if out is not None:
        return out
    if resume:
        raise WorkbenchError("--resume needs --out (the run folder to continue)")
    return default_out(kind)


VERBOSE_HELP = "also show the libraries' warnings (transformers, TRL, torch, ...), which are hidden by default"
"""Help of ``--verbose``, which every command takes (the ``workbench`` command reads it before any parser)."""


def add_verbose(parser: argparse.ArgumentParser) -> None:
    """List (and accept) ``--verbose`` in ``parser``, as every command's parser does."""
    parser.add_argument("--verbose", action="store_true", help=VERBOSE_HELP)


def string_to_bool(value: str) -> bool:
    """A bool option's value: yes/no, true/false, t/f, y/n, 1/0 (any case), as ``HfArgumentParser`` reads it."""
    if value.lower() in ("yes", "true", "t", "y", "1"):
        return True
    if value.lower() in ("no", "false", "f", "n", "0"):
        return False
    raise argparse.ArgumentTypeError(f"expected yes/no, true/false, t/f, y/n or 1/0, got {value!r}")


def _add_field(parser: argparse.ArgumentParser, field: dataclasses.Field, hint: Any) -> None:
    """``field`` as options, the way ``transformers.HfArgumentParser`` adds it (without importing transformers,
    a second at every start): ``--name`` and ``--name-with-dashes`` plus the ``aliases`` metadata; ``X | None``
    read as ``X``; ``list[X]`` as one or more values; a bool as ``--name [yes/no]``, and when it defaults to True
    also ``--no_name`` (helped by :func:`negated_help`)."""
    aliases = field.metadata.get("aliases", [])
    names = [f"--{field.name}", *([f"--{field.name.replace('_', '-')}"] if "_" in field.name else []),
             *([aliases] if isinstance(aliases, str) else aliases)]
    kwargs: dict[str, Any] = {"help": (field.metadata.get("help") or "").replace("%", "%%") or None}
    if field.default_factory is not dataclasses.MISSING:
        kwargs["default"] = field.default_factory()
    elif field.default is not dataclasses.MISSING:
        kwargs["default"] = field.default
    else:
        kwargs["required"] = True
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args and len(args) == 2:
        hint = args[0] if args[1] is type(None) else args[1]
    if hint is bool:
        kwargs["type"] = string_to_bool
        if field.default is not None:  # `--name` alone means yes; a bool that may be None (unset) takes a value
            kwargs.update(nargs="?", const=True)
    elif typing.get_origin(hint) is list:
        kwargs.update(type=typing.get_args(hint)[0], nargs="+")
    else:
        kwargs["type"] = hint
    parser.add_argument(*names, **kwargs)
    if hint is bool and field.default is True:
        parser.add_argument(f"--no_{field.name}", f"--no-{field.name.replace('_', '-')}", action="store_false",
                            dest=field.name, default=argparse.SUPPRESS,  # --name holds the default
                            help=negated_help(field).replace("%", "%%"))


def build_parser(config_class: type, *, prog: str, description: str) -> argparse.ArgumentParser:
    """The argument parser of ``config_class`` (one option per field, see :func:`_add_field`), with ``--config``
    and ``--verbose``; ``--help`` shows each option's default."""
    parser = argparse.ArgumentParser(prog=prog, description=description, allow_abbrev=False,
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    hints = typing.get_type_hints(config_class)
    for field in dataclasses.fields(config_class):
        if field.init:
            _add_field(parser, field, hints[field.name])
    parser.add_argument("--config", metavar="FILE.yaml", help="YAML file of options; flags override it")
    add_verbose(parser)
    return parser


def parse_config(config_class: type[T], argv: Sequence[str], *, prog: str, description: str) -> T:
    """Parse ``argv`` (with an optional ``--config FILE.yaml``) into a ``config_class`` instance."""
    parser = build_parser(config_class, prog=prog, description=description)
    pre = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    pre.add_argument("--config")
    pre, _ = pre.parse_known_args(argv)
    if pre.config:
        parser.set_defaults(**load_yaml(pre.config, config_class, prog))
    namespace, unknown = parser.parse_known_args(list(argv))
    if unknown:
        raise WorkbenchError(f"unknown option {unknown[0]!r} for {prog} (see {prog} --help)")
    config = config_class(**{f.name: getattr(namespace, f.name) for f in dataclasses.fields(config_class) if f.init})
    check_types(config)
    check_values(config)
    return config
