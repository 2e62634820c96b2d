"""Payloads: Python values to and from the JSON the engine stores.

The engine keeps inputs, results, signal arguments and failure details as
JSON (jsonb) and never looks inside them.  An argument list is a JSON array
(the TypeScript SDK's form), possibly inside the header envelope
{"__durable_headers": {...}, "args": [...]} (docs/protocol.md, "Headers").

encode turns dataclasses into dicts, enums into their values, datetimes
into ISO text and tuples into lists; decode rebuilds dataclasses (and lists
and dicts of them, Optionals, enums, datetimes) from a type hint, as
Temporal Python's default JSON converter does.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import functools
import inspect
import types
import typing
import uuid
from datetime import date, datetime, time, timedelta
from enum import Enum
from typing import Any, Callable, List, Optional, Sequence

__all__ = ["HEADERS_KEY", "decode", "decode_args", "encode", "encode_args", "split_headers"]

HEADERS_KEY = "__durable_headers"

_SEQUENCES = (list, set, frozenset, collections.abc.Sequence, collections.abc.MutableSequence,
              collections.abc.Iterable, collections.abc.Collection)


def encode(value: Any) -> Any:
    """value as JSON-able data: dataclasses -> dicts (recursively), enums -> values, datetimes -> ISO text."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return encode(value.value)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {(k if isinstance(k, str) else str(encode(k))): encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [encode(v) for v in value]
    return value


def encode_args(args: Sequence[Any]) -> list:
    """An argument list as a JSON array."""
    return [encode(a) for a in args]


def decode(value: Any, type_hint: Any = None) -> Any:
    """value rebuilt as type_hint says: dataclasses (recursively by field types), list[T], dict[K, V],
    Optional[T], enums, datetimes, tuples; without a hint (or Any) the value as it is."""
    if type_hint is None or type_hint is Any or value is None:
        return value
    origin = typing.get_origin(type_hint)
    args = typing.get_args(type_hint)
    if origin is typing.Union or origin is types.UnionType:
        non_none = [a for a in args if a is not type(None)]
        if len(non_none) == 1:
            return decode(value, non_none[0])
        for a in non_none:  # the first dataclass a dict fits
            if dataclasses.is_dataclass(a) and isinstance(value, dict):
                try:
                    return decode(value, a)
                except (TypeError, ValueError):
                    continue
        return value
    if origin in _SEQUENCES:
        if isinstance(value, list):
            item = args[0] if args else None
            out = [decode(v, item) for v in value]
            return origin(out) if origin in (set, frozenset) else out
        return value
    if origin is tuple:
        if isinstance(value, list):
            if len(args) == 2 and args[1] is Ellipsis:
                return tuple(decode(v, args[0]) for v in value)
            if args:
                return tuple(decode(v, t) for v, t in zip(value, args))
            return tuple(value)
        return value
    if origin in (dict, collections.abc.Mapping, collections.abc.MutableMapping):
        if isinstance(value, dict) and len(args) == 2:
            return {decode(k, args[0]) if args[0] is not str else k: decode(v, args[1]) for k, v in value.items()}
        return value
    if not isinstance(type_hint, type):
        return value
    if dataclasses.is_dataclass(type_hint):
        if not isinstance(value, dict):
            return value
        try:
            hints = typing.get_type_hints(type_hint)
        except Exception:  # unresolved forward references: decode fields untyped
            hints = {}
        kwargs = {}
        for f in dataclasses.fields(type_hint):
            if f.name in value and f.init:
                kwargs[f.name] = decode(value[f.name], hints.get(f.name))
        return type_hint(**kwargs)
    if issubclass(type_hint, Enum):
        return type_hint(value)
    if type_hint is datetime and isinstance(value, str):
        return datetime.fromisoformat(value)
    if type_hint is date and isinstance(value, str):
        return date.fromisoformat(value)
    if type_hint is time and isinstance(value, str):
        return time.fromisoformat(value)
    if type_hint is timedelta and isinstance(value, (int, float)):
        return timedelta(seconds=value)
    if type_hint is uuid.UUID and isinstance(value, str):
        return uuid.UUID(value)
    if type_hint is tuple and isinstance(value, list):
        return tuple(value)
    if type_hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def split_headers(values: Any) -> tuple:
    """(headers, args) of an input: the header envelope's parts, or ({}, values)."""
    if isinstance(values, dict) and HEADERS_KEY in values:
        headers = values.get(HEADERS_KEY) or {}
        return headers, values.get("args")
    return {}, values


@functools.lru_cache(maxsize=1024)
def _param_hints(fn: Callable) -> List[Any]:
    """The type hints of fn's positional parameters, in order, without self/cls."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return []
    try:
        hints = typing.get_type_hints(fn)
    except Exception:
        hints = {}
    out = []
    for i, (name, p) in enumerate(sig.parameters.items()):
        if i == 0 and name in ("self", "cls"):
            continue
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            out.append(hints.get(name))
        elif p.kind == p.VAR_POSITIONAL:
            out.append(("*", hints.get(name)))
            break
    return out


def decode_args(values: Optional[Any], fn: Optional[Callable] = None) -> list:
    """An argument list (JSON array, or the header envelope's args) decoded by fn's parameter types.

    A single non-list value is taken as one argument; None is no arguments.
    """
    _, values = split_headers(values)
    if values is None:
        return []
    if not isinstance(values, list):
        values = [values]
    if fn is None:
        return list(values)
    hints = _param_hints(fn)
    out = []
    for i, v in enumerate(values):
        hint: Any = None
        if i < len(hints):
            hint = hints[i]
        elif hints and isinstance(hints[-1], tuple):
            hint = hints[-1]
        if isinstance(hint, tuple):  # *args: T
            hint = hint[1]
        out.append(decode(v, hint))
    return out
