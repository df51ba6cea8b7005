"""Typed configuration from nested dicts: dataclasses built with one-line errors for unknown
keys and wrong types (:func:`from_dict`), recursive merging (:func:`deep_merge`), and
``--set key.sub=value`` overrides (:func:`parse_overrides`), and the way back to plain data
(:func:`to_plain_dict`, :func:`dump_yaml`)."""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from typing import Any

import yaml

from diffil.errors import DiffilError


def from_dict(cls: type, data: dict[str, Any], where: str = "config") -> Any:
    """Build dataclass ``cls`` from nested dicts, with clear errors for unknown keys or types."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise DiffilError(
            f"unknown {where} key(s) {', '.join(sorted(unknown))}",
            f"valid keys: {', '.join(sorted(names))}",
        )
    values = {}
    for name, value in data.items():
        values[name] = _coerce(hints[name], value, f"{where}.{name}")
    try:
        return cls(**values)
    except ValueError as error:  # a dataclass's own checks (__post_init__)
        raise DiffilError(f"{where}: {error}", "fix the value (--set or the config file)") from None


def to_plain_dict(config: Any) -> dict[str, Any]:
    """Dataclass ``config`` as plain nested dicts and lists (no tuples), as written to YAML."""

    def plain(value: Any) -> Any:
        if isinstance(value, (tuple, list)):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    return plain(dataclasses.asdict(config))


def dump_yaml(config: Any) -> str:
    """Dataclass ``config`` as YAML, fields in their declared order (the inverse of
    :func:`from_dict` on the loaded text)."""
    return yaml.safe_dump(to_plain_dict(config), sort_keys=False)


def _coerce(hint: Any, value: Any, where: str) -> Any:
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise DiffilError(f"{where} must be a mapping, got {value!r}", "see `diffil train -h`")
        return from_dict(hint, value, where)
    origin = typing.get_origin(hint)
    optional = origin in (typing.Union, types.UnionType) and type(None) in typing.get_args(hint)
    if value is None:  # only Optional fields may be null
        if optional:
            return None
        raise DiffilError(f"{where} must be set, got null", "fix the value")
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        return _coerce(options[0], value, where)
    if origin in (tuple, list):
        items = list(value) if isinstance(value, (list, tuple)) else [value]
        item = typing.get_args(hint)[0] if typing.get_args(hint) else Any
        items = [_coerce(item, v, f"{where}[{i}]") for i, v in enumerate(items)]
        return origin(items)
    if origin is dict and not isinstance(value, dict):
        raise DiffilError(f"{where} must be a mapping, got {value!r}", "fix the value")
    if hint in (int, float):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise DiffilError(f"{where} must be a number, got {value!r}", "fix the value")
        if hint is int and float(value) != int(value):
            raise DiffilError(f"{where} must be an integer, got {value!r}", "fix the value")
        return hint(value)
    if hint is bool and not isinstance(value, bool):
        raise DiffilError(f"{where} must be true or false, got {value!r}", "fix the value")
    if hint is str and not isinstance(value, str):
        return str(value)
    return value


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, reading floats as YAML 1.2 does: ``1e-4`` (exponent, no dot) is a
    number, where YAML 1.1 reads it as a string."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)


def load_yaml(text: str) -> Any:
    """Parse YAML text (configs, presets, suites, ``--set`` values) with :class:`_Loader`."""
    return yaml.load(text, Loader=_Loader)


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``["ppo.n_steps=128", "reward.model.lr=1e-4"]`` -> nested dict (values parsed as YAML)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise DiffilError(
                f"bad override {item!r}", "write it as key=value, e.g. ppo.n_steps=128"
            )
        node = out
        *parents, leaf = key.strip().split(".")
        for part in parents:
            node = node.setdefault(part, {})
        try:
            node[leaf] = load_yaml(raw)
        except yaml.YAMLError:
            raise DiffilError(
                f"cannot read the value of override {item!r}",
                "write it in YAML, e.g. ppo.net_arch=[64,64]",
            ) from None
    return out


def flatten_overrides(overrides: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested overrides as dotted keys: the inverse of :func:`parse_overrides`
    (``{"reward": {"model": {"lr": 1e-4}}}`` -> ``{"reward.model.lr": 1e-4}``)."""
    out: dict[str, Any] = {}
    for key, value in overrides.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten_overrides(value, f"{dotted}."))
        else:
            out[dotted] = value
    return out
