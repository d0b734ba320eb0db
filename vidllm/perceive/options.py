"""Declared settings of the perception tools: one pydantic model per tool.

A tool's ``Options`` class names every setting with its type, bounds, default and a
description; unknown names are refused (``extra="forbid"``) and values are checked when the
tool is built, never half-way through a run. The manifest and the cache key of a tool are
built from these fields, so a setting is either declared here or does not exist.

Settings that change how fast a tool runs but not what it finds (threads, batch sizes) are
declared with ``exclude=True``: they stay out of the manifest and the cache key, so running
with more threads reuses the observations stored by a run with fewer.

A refusal is one line that names the tool, the setting and what is allowed. A name the tool
does not have, or a value of the wrong type, is an ``OptionError``; a value of the right
type outside what the tool can do (a negative rate, an unknown model) is a ``SpecError``:

>>> from pydantic import Field
>>> class Demo(ToolOptions):
...     top_k: int = Field(5, ge=1, description="Labels per frame.")
...     threads: int = Field(1, ge=1, exclude=True, description="CPU threads.")
>>> parse_options("demo", Demo, {"top_k": 3, "threads": 2}).model_dump()
{'top_k': 3}
>>> parse_options("demo", Demo, {"topk": 3})
Traceback (most recent call last):
    ...
vidllm.errors.OptionError: perception tool 'demo' has no option 'topk' - did you mean top_k? (options: threads, top_k)
>>> parse_options("demo", Demo, {"top_k": 0})
Traceback (most recent call last):
    ...
vidllm.errors.SpecError: perception tool 'demo': top_k must be >= 1, got 0
"""

from __future__ import annotations

import difflib
import typing
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, ValidationError

from vidllm.errors import OptionError, SpecError, VidllmError

# pydantic error types that mean "this is not a value of the declared type"
_MALFORMED_SUFFIXES = ("_type", "_parsing")
_BOUNDS = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}


class ToolOptions(BaseModel):
    """Base of every tool's options: frozen, unknown names refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def parse_options(tool: str, model: type[ToolOptions], values: Mapping | None) -> ToolOptions:
    """``model`` built from ``values``, or one typed one-line error (see the module doc)."""
    if values is None:
        values = {}
    if not isinstance(values, Mapping):
        raise OptionError(f"perception tool {tool!r}: options must be a mapping of names to values, "
                          f"got {type(values).__name__}")
    try:
        return model(**values)
    except ValidationError as exc:
        raise _one_line(tool, model, exc.errors()[0]) from None


def _one_line(tool: str, model: type[ToolOptions], err: dict) -> VidllmError:
    kind = err["type"]
    field = ".".join(str(p) for p in err["loc"])
    allowed = ", ".join(sorted(model.model_fields))
    if kind == "extra_forbidden":
        close = difflib.get_close_matches(field, list(model.model_fields), n=3)
        hint = f" - did you mean {', '.join(close)}?" if close else ""
        return OptionError(f"perception tool {tool!r} has no option {field!r}{hint} (options: {allowed or 'none'})")
    original = (err.get("ctx") or {}).get("error")
    if isinstance(original, VidllmError):  # a validator's own typed error: keep its words
        return type(original)(f"perception tool {tool!r}: {original}")
    got = f", got {err.get('input')!r}" if "input" in err else ""
    if kind == "literal_error":
        choices = ", ".join(str(c) for c in _literal_choices(model, field))
        return SpecError(f"perception tool {tool!r}: {field} must be one of {choices}{got}")
    if kind in _BOUNDS:
        limit = next(iter(err["ctx"].values()))
        limit = f"{limit:g}" if isinstance(limit, float) else limit
        return SpecError(f"perception tool {tool!r}: {field} must be {_BOUNDS[kind]} {limit}{got}")
    where = f"{field} " if field else ""
    message = f"perception tool {tool!r}: {where}{err['msg'][:1].lower()}{err['msg'][1:]}{got}"
    if kind.endswith(_MALFORMED_SUFFIXES) or kind == "missing":
        return OptionError(message)
    return SpecError(message)


def _literal_choices(model: type[ToolOptions], field: str) -> tuple:
    info = model.model_fields.get(field)
    if info is None:
        return ()
    args = typing.get_args(info.annotation)
    # Literal[...] or Optional[Literal[...]]
    return tuple(a for arg in args for a in (typing.get_args(arg) or (arg,)) if a is not type(None))


def describe(model: type[ToolOptions]) -> list[dict]:
    """Every setting of ``model`` as ``{name, type, default, description, keyed}`` rows, for
    help texts (``keyed``: whether it is part of the manifest and the cache key).

    >>> from pydantic import Field
    >>> class Demo(ToolOptions):
    ...     top_k: int = Field(5, ge=1, description="Labels per frame.")
    >>> describe(Demo)
    [{'name': 'top_k', 'type': 'int', 'default': 5, 'description': 'Labels per frame.', 'keyed': True}]
    """
    rows = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        type_name = getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")
        rows.append({"name": name, "type": type_name, "default": info.default,
                     "description": info.description or "", "keyed": not info.exclude})
    return rows
