"""Say what is wrong with a config: one ``path.to.field: message`` line per violation."""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

# Keys that look like someone is about to paste a secret into the config.
_SECRET_KEY = re.compile(
    r"^(access_|api_|auth_|osai_)?(token|password|passwd|secret|api_?key|credentials?)$",
    re.IGNORECASE,
)

# How pydantic's error types read in a config message: "expected <this>, got ...".
_EXPECTED = {
    "int_type": "an integer", "int_parsing": "an integer", "int_from_float": "an integer",
    "float_type": "a number", "float_parsing": "a number", "finite_number": "a finite number",
    "bool_type": "true or false", "bool_parsing": "true or false",
    "string_type": "a string", "path_type": "a path (a string)",
    "list_type": "a list", "tuple_type": "a list", "set_type": "a list",
    "dict_type": "a mapping (`key: value` lines)", "model_type": "a mapping (`key: value` lines)",
    "model_attributes_type": "a mapping (`key: value` lines)",
}
_BOUNDS = {
    "greater_than_equal": ("ge", "at least"), "less_than_equal": ("le", "at most"),
    "greater_than": ("gt", "greater than"), "less_than": ("lt", "less than"),
}


def _show(value: Any) -> str:
    """Render a config value the way it reads in YAML, shortened."""
    if value is None:
        text = "nothing"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, dict):
        text = "a mapping"
    elif isinstance(value, list):
        text = f"a list {value!r}"
    else:
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _message(err: ErrorDetails, annotation: Any) -> str:
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    if kind == "missing":
        what = "section" if _model_of(annotation) is not None else "key"
        return f"missing; this {what} is required"
    if kind in _EXPECTED:
        hint = ""
        if kind == "string_type" and isinstance(value, (int, float, bool)):
            hint = "; put it in quotes to make it text"
        return f"expected {_EXPECTED[kind]}, got {_show(value)}{hint}"
    if kind in _BOUNDS:
        key, words = _BOUNDS[kind]
        return f"must be {words} {ctx.get(key)}, got {_show(value)}"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}, got {_show(value)}"
    if kind in ("string_too_short", "too_short") and not value:
        return "must not be empty"
    if kind == "invalid_key":
        return f"keys must be text, got {_show(value)}"
    message = str(err["msg"])
    if message.startswith(("Value error, ", "Assertion failed, ")):
        message = message.split(", ", 1)[1]
    return message[:1].lower() + message[1:]


def _members(annotation: Any) -> list[Any]:
    """Return the non-None members of a union (or the annotation itself)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [a for a in typing.get_args(annotation) if a is not type(None)]
    return [annotation]


def _model_of(annotation: Any) -> type[BaseModel] | None:
    for member in _members(annotation):
        if isinstance(member, type) and issubclass(member, BaseModel):
            return member
    return None


def _walk(model: type[BaseModel] | None, loc: tuple[Any, ...]) -> tuple[list[str], Any]:
    """Return the user-facing path of ``loc`` and the annotation it ends on.

    Pydantic adds a tag per member of a union (``id.int``, ``id.str``); users never typed
    those, so they are dropped.
    """
    path: list[str] = []
    current: Any = model
    for part in loc:
        members = _members(current) if current is not None else []
        sub = _model_of(current) if current is not None else None
        if sub is not None and isinstance(part, str) and part in sub.model_fields:
            path.append(part)
            current = sub.model_fields[part].annotation
        elif len(members) > 1 and isinstance(part, str):
            current = None  # a union tag: dropped, and the rest is followed blindly
        elif typing.get_origin(current) in (list, tuple, set, dict) and current is not None:
            path.append(str(part))
            args = typing.get_args(current)
            current = args[-1] if args else None
        else:
            path.append(str(part))
            current = None
    return path, current


def _allowed_keys(annotation: Any) -> list[str]:
    sub = _model_of(annotation) if annotation is not None else None
    if sub is None:
        return []
    keys = [k for k in sub.model_fields if k != "type"]
    return keys + (["type"] if "type" in sub.model_fields else [])


def format_validation_error(
    exc: ValidationError,
    prefix: str = "",
    model: type[BaseModel] | None = None,
    also_allowed: Sequence[str] = (),
) -> list[str]:
    """Turn a pydantic error into ``path.to.field: message`` lines, one per problem.

    ``model`` (the model that was validated) lets unknown keys suggest the allowed ones
    and hides pydantic's union tags from the paths; ``also_allowed`` are top-level keys
    that were accepted before ``model`` saw the data (a section's ``type``).
    """
    grouped: dict[str, list[str]] = {}
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        if err["type"] == "extra_forbidden":
            parent, annotation = _walk(model, loc[:-1])
            path = ".".join([p for p in [prefix, *parent] if p] + [str(loc[-1])])
            allowed = _allowed_keys(annotation) + ([] if parent else list(also_allowed))
            message = _unknown_key(str(loc[-1]), allowed)
        else:
            parts, annotation = _walk(model, loc)
            path = ".".join(p for p in [prefix, *parts] if p) or "<top level>"
            message = _message(err, annotation)
        grouped.setdefault(path, [])
        if message not in grouped[path]:
            grouped[path].append(message)
    lines: list[str] = []
    for path, messages in grouped.items():
        expected = [m for m in messages if m.startswith("expected ")]
        if len(expected) > 1 and len(expected) == len(messages):
            # The members of a union each said what they expected: say it once.
            got = expected[0].rsplit(", got ", 1)[-1]
            wanted = " or ".join(m[len("expected "):].rsplit(", got ", 1)[0] for m in expected)
            messages = [f"expected {wanted}, got {got}"]
        lines.extend(f"{path}: {m}" for m in messages)
    return lines


def _suggest(key: str, allowed: list[str]) -> str | None:
    lowered = key.lower().replace("-", "_")
    for candidate in allowed:
        if candidate.lower() == lowered:
            return candidate
    # An abbreviation (`sep` for `separator`) is too short for difflib to see.
    prefixed = [c for c in allowed if len(lowered) >= 3 and c.lower().startswith(lowered)]
    if len(prefixed) == 1:
        return prefixed[0]
    close = difflib.get_close_matches(lowered, allowed, n=1)
    return close[0] if close else None


def _unknown_key(key: str, allowed: list[str]) -> str:
    if _SECRET_KEY.match(key.replace("-", "_")):
        # Never suggest a near key here: `token` -> `token_env` would invite the secret in.
        message = (
            "unknown key; secrets never go in the config: export the token in the "
            "environment variable named by server.token_env (default OSAI_TOKEN)"
        )
    else:
        close = _suggest(key, allowed)
        message = f"unknown key; did you mean {close!r}?" if close else "unknown key"
    if allowed:
        message += f" (allowed: {', '.join(allowed)})"
    return message
