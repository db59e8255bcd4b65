"""Readable configuration errors: one line per problem, naming the key path and the value.

pydantic's ``ValidationError`` speaks of ``loc`` tuples and ``Input should be a valid
integer``; operators of this package read ``storage.retention.vacuum_retention_hours: expected
an integer, got 'abc'``. :func:`error_lines` does the translation; :class:`ConfigError` carries
the lines, each prefixed with the file name when printed.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

CONFIG_FILENAME = "futures_config.yaml"


class ConfigError(ValueError):
    """The configuration is invalid. ``errors`` holds one readable line per problem."""

    def __init__(self, errors: Sequence[str], source: str | Path | None = None) -> None:
        self.errors = list(errors)
        self.path = Path(source) if source is not None else None
        self.source = self.path.name if self.path is not None else CONFIG_FILENAME
        super().__init__("\n".join(f"{self.source}: {line}" for line in self.errors))


_TYPE_NOUNS = {
    "int_type": "an integer",
    "float_type": "a number",
    "bool_type": "true or false",
    "string_type": "a string",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "datetime_type": "a date-time 'YYYY-MM-DD HH:MM'",
    "datetime_parsing": "a date-time 'YYYY-MM-DD HH:MM'",
    "datetime_from_date_parsing": "a date-time 'YYYY-MM-DD HH:MM'",
}


def _path(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _unwrap_optional(tp: Any) -> Any:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0] if len(args) == 1 else tp
    return tp


def _fields_at(root: type[BaseModel], loc: Sequence[int | str]) -> list[str] | None:
    """The field names of the model found at ``loc`` (for "did you mean" hints)."""
    tp: Any = root
    for part in loc:
        tp = _unwrap_optional(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            if not (isinstance(part, str) and part in tp.model_fields):
                return None
            tp = tp.model_fields[part].annotation
        elif typing.get_origin(tp) in (list, dict):
            tp = typing.get_args(tp)[-1]
        else:
            return None
    tp = _unwrap_optional(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return list(tp.model_fields)
    return None


def _describe(err: Mapping[str, Any], root: type[BaseModel]) -> str:
    loc = tuple(err.get("loc", ()))
    kind = err.get("type", "")
    value = err.get("input")
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden":
        parent, name = loc[:-1], loc[-1]
        where = f"in {_path(parent)}" if parent else "at the top level"
        hint = ""
        fields = _fields_at(root, parent)
        if fields:
            close = difflib.get_close_matches(str(name), fields, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(fields)})"
        return f"unknown field {name!r} {where}{hint}"
    where = _path(loc)
    prefix = f"{where}: " if where else ""
    if kind == "missing":
        return f"{prefix}required field is missing"
    if kind == "value_error":
        msg = str(ctx.get("error", err.get("msg", "")))
        return "\n".join(f"{prefix}{line}" for line in msg.splitlines())
    if kind == "literal_error":
        return f"{prefix}expected one of {ctx.get('expected')}, got {value!r}"
    if kind in _TYPE_NOUNS:
        return f"{prefix}expected {_TYPE_NOUNS[kind]}, got {value!r}"
    bounds = {
        "greater_than_equal": ">=",
        "greater_than": ">",
        "less_than_equal": "<=",
        "less_than": "<",
    }
    if kind in ("too_short", "too_long"):
        n = ctx.get("min_length" if kind == "too_short" else "max_length")
        word = "at least" if kind == "too_short" else "at most"
        return f"{prefix}expected {word} {n} item(s), got {value!r}"
    if kind in bounds:
        limit = next(iter(ctx.values())) if ctx else "?"
        return f"{prefix}must be {bounds[kind]} {limit}, got {value!r}"
    return f"{prefix}{err.get('msg', 'invalid')} (got {value!r})"


def error_lines(exc: ValidationError, root: type[BaseModel]) -> list[str]:
    """One readable line per error of ``exc`` (raised validating the model ``root``)."""
    lines: list[str] = []
    for err in exc.errors(include_url=False):
        for line in _describe(err, root).splitlines():
            if line not in lines:
                lines.append(line)
    return lines
