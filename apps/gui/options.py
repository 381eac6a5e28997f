"""The free-text Options of the Train and Verbal feedback tabs, parsed against the command's own options.

Confinement by construction: a token is accepted only as an exact option name (``--name value`` or
``--name=value``, no abbreviations) of the command's config dataclass, and only if that option is
classified below. Options that fix where a job reads or writes (``APP_SET``, and every field whose
``path`` metadata is ``out``) are set by the app alone; the options it reads (``path`` metadata ``in``)
are resolved inside the runs folder; model-valued ones name a model the app serves, an embedded
model or a folder inside the runs folder; ``--trl`` takes only keys that name no path or server. Every
other token (a positional, an unknown or unclassified option) is refused with one line naming it. The
command line handed to the job holds only the checked values, written so that the job's own parser
cannot read a value as another option.
"""

from __future__ import annotations

import dataclasses
import shlex
import types
import typing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    from apps.gui.ui import App

APP_SET = {
    "out": "each job writes to its own folder",
    "library": "adapters go to the app's adapter library",
    "adapter_library": "jobs read the app's adapter library",
    "model": "pick the model in the page's model field",
    "config": "a config file is read from outside the page",
    "report_to": "a job's metrics stay in its own folder (metrics.jsonl), sent to no tracker",
}
"""Options that fix where a job reads or writes: never settable from the Options text."""
MODELS = frozenset({"agent_model", "sim_model", "critic_model", "simulator_model", "writer", "judge", "encoder",
                    "critic_models", "meta_model", "reviser"})
"""Options whose values are model specs."""
POLICIES = frozenset({"continuation", "policy"})
"""Strategy-policy specs; a ``planner:<folder>`` one is resolved inside the runs folder."""
ADAPTERS = frozenset({"adapters"})
"""Adapter names of the app's library (or ``enabled``)."""
TEXT = frozenset({
    "format", "system", "env", "agent_role", "lora_target", "episode_filter", "pairs", "loss_type",
    "f_divergence_type", "simulator", "method", "feedback", "subset", "pooling", "critic", "stage", "normalise",
    "update", "name", "scope_hint", "near_hint", "check", "envs", "game", "persona", "cases", "loss", "ppo_reward",
    "meta_critic"})
"""String options that name no path, model or server: passed on as typed."""
TRL = "trl"
TRL_KEYS = frozenset({
    "warmup_steps", "warmup_ratio", "weight_decay", "lr_scheduler_type", "max_grad_norm", "adam_beta1", "adam_beta2",
    "adam_epsilon", "optim", "gradient_checkpointing", "label_smoothing_factor", "loss_weights", "rpo_alpha",
    "ld_alpha", "use_weighting", "max_prompt_length", "max_completion_length", "packing", "completion_only_loss",
    "assistant_only_loss", "num_iterations", "epsilon", "scale_rewards", "mask_truncated_completions",
    "save_total_limit", "eval_steps", "dataloader_num_workers"})
"""``--trl KEY=VALUE`` keys the page may set: training numbers and switches, none a path, a hub or a logger."""
EMBEDDED_MODELS = ("embedded:gemma-3-270m", "embedded:gemma-3-270m@llamacpp", "embedded:gemma-3-270m@transformers",
                   "embedded:minilm")
TRUE = {"yes", "true", "t", "y", "1"}
FALSE = {"no", "false", "f", "n", "0"}


@dataclass(frozen=True)
class Option:
    """One option of a config dataclass: its name, value type, whether it takes a list, and its default."""

    name: str
    type: type
    many: bool
    default: Any
    path: str | None
    """The field's ``path`` metadata (``workbench.config``): ``in`` for what the job reads (resolved inside the
    runs folder, must exist), ``out`` for where it writes (set by the app alone)."""


def config_options(config_class: type) -> dict[str, Option]:
    """The options of ``config_class`` by field name."""
    hints = typing.get_type_hints(config_class)
    found = {}
    for f in dataclasses.fields(config_class):
        hint, many = hints[f.name], False
        if typing.get_origin(hint) in (typing.Union, types.UnionType):
            hint = next(a for a in typing.get_args(hint) if a is not type(None))
        if typing.get_origin(hint) is list:
            hint, many = typing.get_args(hint)[0], True
        found[f.name] = Option(f.name, hint, many, f.default, f.metadata.get("path"))
    return found


def parse_options(app: "App", text: str, config_class: type, command: str, *,
                  taken: dict[str, str] | None = None) -> list[str]:
    """The command-line options typed in the page, checked against ``config_class`` (the options of
    ``command``, e.g. ``workbench train sft``); ``taken`` maps options the page sets from its own fields to
    those fields' labels. A refused token is a ``WorkbenchError`` naming it."""
    if "\x00" in (text or ""):
        raise WorkbenchError("options: a NUL character is not allowed")
    try:
        tokens = shlex.split(text or "")
    except ValueError as error:
        raise WorkbenchError(f"options: {error}") from None
    options, taken = config_options(config_class), taken or {}
    argv: list[str] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        if not token.startswith("--") or token == "--":
            raise WorkbenchError(f"options: {token!r} is not an option (options are --name value; see "
                                 f"`{command} --help`)")
        typed, has_value, inline = token[2:].partition("=")
        name = typed.replace("-", "_")
        if is_negation(options, name):
            if has_value:
                raise WorkbenchError(f"options: --{typed} takes no value")
            argv.append(f"--{name}")
            continue
        if name in APP_SET:
            raise WorkbenchError(f"options: --{typed} is set by the app ({APP_SET[name]})")
        if name in taken:
            raise WorkbenchError(f"options: --{typed} is set by the page's {taken[name]} field")
        if name not in options:
            raise WorkbenchError(f"options: unknown option --{typed} for {command} (exact names only; see "
                                 f"`{command} --help`)")
        option = options[name]
        if option.path == "out":
            raise WorkbenchError(f"options: --{typed} is set by the app (a job writes only where the app says)")
        values, i = ([inline], i) if has_value else values_after(tokens, i, option)
        if not values:
            raise WorkbenchError(f"options: --{typed} needs a value")
        checked = [check_value(app, option, value) for value in values]
        if not option.many:
            argv += flag_value(f"--{name}", checked[0])
        elif any(v.startswith("-") for v in checked):
            raise WorkbenchError(f"options: --{typed}: a value may not start with '-'")
        else:
            argv += [f"--{name}", *checked]
    if any(f"--{name}" in argv for name in ADAPTERS) and "adapter_library" in options:
        argv.append(f"--adapter_library={app.library.root}")
    return argv


def is_negation(options: dict[str, Option], name: str) -> bool:
    """Whether ``name`` is ``no_X`` for a switch ``X`` that is on by default."""
    switch = options.get(name.removeprefix("no_")) if name.startswith("no_") and name not in options else None
    return switch is not None and switch.type is bool and switch.default is True


def values_after(tokens: list[str], i: int, option: Option) -> tuple[list[str], int]:
    """The values of ``option`` written as words from ``tokens[i]`` on, and the index after them: a list's words up
    to the next one starting with '-', a switch's true/false if one follows (else true), any other's next word
    unless it is an option."""
    if option.many:
        end = i
        while end < len(tokens) and not tokens[end].startswith("-"):
            end += 1
        return tokens[i:end], end
    if option.type is bool:
        given = i < len(tokens) and tokens[i].lower() in TRUE | FALSE
        return ([tokens[i]], i + 1) if given else (["true"], i)
    if i < len(tokens) and not tokens[i].startswith("--"):
        return [tokens[i]], i + 1
    return [], i


def flag_value(flag: str, value: str) -> list[str]:
    """``flag value`` as command-line words; ``flag=value`` where the value starts with '-', so that no parser
    reads it as an option of its own."""
    return [f"{flag}={value}"] if value.startswith("-") else [flag, value]


def check_value(app: "App", option: Option, value: str) -> str:
    """``value`` of ``option`` as the job gets it, or a ``WorkbenchError`` naming the option."""
    flag = f"--{option.name}"
    if option.type is bool:
        if value.lower() not in TRUE | FALSE:
            raise WorkbenchError(f"options: {flag} takes true or false, not {value!r}")
        return value.lower()
    if option.type in (int, float):
        try:
            option.type(value)
        except ValueError:
            raise WorkbenchError(f"options: {flag} takes {'an integer' if option.type is int else 'a number'}, "
                                 f"not {value!r}") from None
        return value
    if option.type is not str:
        raise WorkbenchError(f"options: {flag} cannot be set from the app")
    if option.path == "in":
        return str(app.runs.resolve(value, must_exist=True))
    if option.name in MODELS:
        return model_spec(app, flag, value)
    if option.name in POLICIES:
        if value.startswith("planner:"):
            return f"planner:{app.runs.resolve(value.removeprefix('planner:'), must_exist=True)}"
        return value
    if option.name in ADAPTERS:
        known = app.library.names()
        if value != "enabled" and value not in known:
            raise WorkbenchError(f"options: {flag}: no adapter {value!r} in the app's library "
                                 f"(known: {', '.join(known) or 'none'}, or enabled)")
        return value
    if option.name == TRL:
        key = value.partition("=")[0].strip()
        if "=" not in value or key not in TRL_KEYS:
            raise WorkbenchError(f"options: --trl {key or value!r} cannot be set from the app (allowed keys: "
                                 f"{', '.join(sorted(TRL_KEYS))}); use the command line for other TRL options")
        return value
    if option.name in TEXT:
        return value
    raise WorkbenchError(f"options: {flag} cannot be set from the app; use the command line")


def model_spec(app: "App", flag: str, value: str) -> str:
    """A model spec the app serves, an embedded model, or a model folder (or ``critic:<run>``, a trained critic)
    inside the runs folder."""
    if value in app.models.specs or value in EMBEDDED_MODELS:
        return value
    if value.startswith("critic:"):
        return f"critic:{app.runs.resolve(value.removeprefix('critic:'), must_exist=True)}"
    try:
        return str(app.runs.resolve(value, must_exist=True))
    except WorkbenchError:
        raise WorkbenchError(f"options: {flag} {value!r}: not a model this app serves "
                             f"({', '.join([*app.models.specs, *EMBEDDED_MODELS])}) or a model folder inside the "
                             f"runs folder") from None
