"""Read a config file's YAML safely and replace ``${VAR}`` from the environment.

Kept apart from the config models: this is the hostile-input side (alias bombs, duplicate
keys, deep nesting, bytes that are not UTF-8), where every failure is one ConfigError line
naming the file, the line and the column.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml

from osai_import.errors import ConfigError

MAX_CONFIG_BYTES = 1_000_000
MAX_NODES = 200_000  # a YAML alias bomb expands to billions of nodes; no real config nears this
MAX_DEPTH = 50
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ENV_REF = re.compile(r"\$\$\{|\$\{([^}]*)\}")


def substitute_env(value: Any, where: str = "", *, token_env: str | None = None) -> Any:
    """Replace ``${VAR}`` in every string of a YAML tree from the environment.

    ``${VAR:-text}`` uses ``text`` when VAR is unset or empty; ``$${`` stays a literal
    ``${``. Keys are left alone. Every variable that is missing is named in one
    ConfigError, with the path of the value that refers to it. ``token_env`` names the
    variable that holds the access token: a reference to it is refused wherever it is
    (one line per value), so the token can never be printed or stored through a field
    such as ``dataset.name``; the tool reads that variable itself.
    """
    lines: list[str] = []
    result = _substitute(value, where, lines, token_env)
    if lines:
        raise ConfigError(lines[0], lines=lines)
    return result


def token_reference(here: str, token_env: str) -> str:
    """Return the line that refuses a reference to the token's variable at ``here``."""
    if here == "server.token_env":
        # A reference is never a name, and this one would make the token the value.
        return (f"{here}: this is not an environment variable name but a reference to one "
                f"(${{{token_env}}}); write the name itself, e.g. `token_env: OSAI_TOKEN`: the "
                f"token belongs in the environment only, and osai-import reads it there itself")
    return (f"{here}: ${{{token_env}}} is the access token's variable (server.token_env); the "
            f"token belongs in the environment only and osai-import reads it there itself, so "
            f"no config value may hold it: remove this reference")


def _substitute(value: Any, where: str, lines: list[str], token_env: str | None) -> Any:
    if isinstance(value, dict):
        return {k: _substitute(v, _join(where, str(k)), lines, token_env)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, _join(where, str(i)), lines, token_env)
                for i, v in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value
    here = where or "<top level>"
    refused = False

    def repl(match: re.Match[str]) -> str:
        nonlocal refused
        if match.group(1) is None:
            return "${"  # the `$${` escape
        name, sep, default = match.group(1).partition(":-")
        if name == token_env:
            if not refused:
                lines.append(token_reference(here, name))
                refused = True
            return ""
        if not ENV_NAME.fullmatch(name):
            lines.append(
                f"{here}: ${{{match.group(1)}}} is not a valid variable reference; write "
                f"${{NAME}} or ${{NAME:-default}}, or $${{ for a literal ${{"
            )
            return ""
        found = os.environ.get(name)
        if sep and not found:
            return default
        if found is None:
            lines.append(
                f"{here}: environment variable {name} is not set; export it, or write "
                f"${{{name}:-default}} to give a default"
            )
            return ""
        return found

    return _ENV_REF.sub(repl, value)


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


class _StrictLoader(yaml.SafeLoader):
    """``safe_load`` that refuses a key given twice in one mapping (YAML keeps the last)."""

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, yaml.Node] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # `<<:` merges may be overridden on purpose
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:
                    continue  # an unhashable key fails with its own message below
                if first is not None:
                    raise yaml.constructor.ConstructorError(
                        None, None,
                        f"key {key!r} is given twice (first on line {first.start_mark.line + 1}); "
                        f"keep one",
                        key_node.start_mark,
                    )
                seen[key] = key_node
        return super().construct_mapping(node, deep=deep)  # type: ignore[arg-type]


def _check_tree(data: Any, path: Path) -> None:
    """Refuse alias bombs and self-referencing aliases before anything walks the tree."""
    budget = MAX_NODES
    stack: list[tuple[Any, frozenset[int]]] = [(data, frozenset())]
    while stack:
        value, parents = stack.pop()
        budget -= 1
        if budget < 0:
            raise ConfigError(
                f"{path}: the config expands to more than {MAX_NODES} values (YAML aliases "
                f"repeated inside each other?); write it out plainly"
            )
        if isinstance(value, (dict, list)):
            if id(value) in parents:
                raise ConfigError(f"{path}: a YAML alias refers to itself; remove the loop")
            if len(parents) >= MAX_DEPTH:
                raise ConfigError(f"{path}: the config nests too deeply; no config needs to")
            inner = parents | {id(value)}
            children = value.values() if isinstance(value, dict) else value
            stack.extend((child, inner) for child in children)


def read_yaml(path: Path) -> tuple[dict[str, Any], bytes]:
    """Return the config's top-level mapping and its raw bytes, or raise ConfigError."""
    try:
        if path.is_file() and path.stat().st_size > MAX_CONFIG_BYTES:
            raise ConfigError(
                f"{path}: the config is larger than {MAX_CONFIG_BYTES} bytes; a config "
                f"describes a dataset, it does not hold it"
            )
        text = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder; give the path of the YAML config file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc.strerror}") from None
    try:
        decoded = text.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = text[: exc.start].count(b"\n") + 1
        column = exc.start - text.rfind(b"\n", 0, exc.start)
        raise ConfigError(
            f"{path}:{line}:{column}: the config is not UTF-8 text (byte {text[exc.start]:#04x}); "
            f"save it as UTF-8"
        ) from None
    try:
        data = yaml.load(decoded, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = exc.problem or exc.context or "cannot be parsed"
        lines = decoded.splitlines()
        text_line = lines[mark.line] if mark and mark.line < len(lines) else ""
        if "${" in text_line and "{" in problem:
            problem += "; put values holding ${VAR} in quotes inside { } mappings"
        raise ConfigError(f"{where}: invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{path}: the config nests too deeply; no config needs to") from None
    if not isinstance(data, dict):
        got = "an empty file" if data is None else f"a {_kind(data)}"
        raise ConfigError(
            f"{path}: the config must be a mapping with at least `dataset:` and `source:` "
            f"sections, got {got}"
        )
    _check_tree(data, path)
    return data, text


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "string"
    return "number" if isinstance(value, (int, float)) else type(value).__name__
