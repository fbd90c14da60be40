"""Load a run's YAML config into validated models; secrets stay in the environment.

Everything happens before any network call: ``load_config`` reads the YAML
(``safe_load``, duplicate keys refused), replaces ``${VAR}`` from the environment and
validates the general shape; ``resolve`` validates the ``source:`` and ``annotations:``
sections against the options of the reader and encoder the plugins registered;
``prepare`` does both and reports every problem of a config at once.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from osai_import.base import ConfigPath, Encoder, PluginOptions, Reader
from osai_import.errors import ConfigError, RegistryError
from osai_import.schema import format_validation_error

REGION_URLS = {
    "eu": "https://app-eu.onestepai.com/api",
    "us": "https://app-us.onestepai.com/api",
}

MAX_CONFIG_BYTES = 1_000_000
MAX_NODES = 200_000  # a YAML alias bomb expands to billions of nodes; no real config nears this
MAX_DEPTH = 50
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ENV_REF = re.compile(r"\$\$\{|\$\{([^}]*)\}")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class ServerConfig(_Section):
    """Where to upload: the embedded local server, a base URL, or an OSAI region."""

    url: str | None = Field(
        default=None,
        description="`local` for the embedded local server, or an API base URL such as "
        "https://app-eu.onestepai.com/api (default local, unless `region` is given)",
    )
    region: Literal["eu", "us"] | None = Field(default=None, description="OSAI region")
    token_env: str = Field(
        default="OSAI_TOKEN",
        description="name of the environment variable holding the access token",
        json_schema_extra={"pattern": f"^{_ENV_NAME.pattern}$"},
    )
    data: ConfigPath | None = Field(
        default=None,
        description="data folder of the embedded local server (default .osai-local/ beside "
        "the config)",
    )
    timeout: float = Field(default=60.0, gt=0, description="seconds to wait for an answer")

    @field_validator("token_env")
    @classmethod
    def _env_name(cls, value: str) -> str:
        if not _ENV_NAME.fullmatch(value):
            raise ValueError(
                f"{value!r} is not an environment variable name (letters, digits and _, not "
                f"starting with a digit); name the variable that holds the token, e.g. "
                f"OSAI_TOKEN, never the token itself"
            )
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None or value == "local":
            return value
        try:
            parts = urlsplit(value)
            host = parts.hostname
        except ValueError:  # e.g. an unclosed IPv6 bracket
            host = None
        if not host or parts.scheme not in ("http", "https") or re.search(r"\s", value):
            raise ValueError(
                f"{value!r} is neither `local` nor an http(s) URL such as "
                "https://app-eu.onestepai.com/api"
            )
        if parts.username or parts.password:
            raise ValueError(
                "must not contain a user name or password; export the token in the "
                "variable named by `token_env` instead"
            )
        return value.rstrip("/")

    @model_validator(mode="after")
    def _one_target(self) -> ServerConfig:
        if self.url is not None and self.region is not None:
            raise ValueError("give either `url` or `region`, not both")
        if self.url is None and self.region is None:
            self.url = "local"
        return self

    @property
    def is_local(self) -> bool:
        """Return True when the run targets the embedded local server."""
        return self.region is None and self.url == "local"

    @property
    def base_url(self) -> str | None:
        """Return the API base URL, or None for the embedded local server."""
        if self.region is not None:
            return REGION_URLS[self.region]
        return None if self.is_local else self.url


class DatasetConfig(_Section):
    """Which dataset receives the images: created by name, or an existing id."""

    name: str | None = Field(
        default=None, description="created on the first run, reused by the next ones"
    )
    id: int | str | None = Field(default=None, description="id of an existing dataset")

    @field_validator("id", mode="before")
    @classmethod
    def _not_bool(cls, value: Any) -> Any:
        if isinstance(value, bool):  # YAML reads `yes`/`true` as booleans, never an id
            raise ValueError(f"expected an integer or a string, got {str(value).lower()}")
        return value

    @field_validator("name", "id")
    @classmethod
    def _not_blank(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            raise ValueError("must not be empty")
        return value.strip() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _name_or_id(self) -> DatasetConfig:
        if self.name is None and self.id is None:
            raise ValueError("give the dataset a `name` (created on first run) or an `id`")
        if self.name is not None and self.id is not None:
            raise ValueError(
                "give either `name` (a dataset this config creates) or `id` (an existing "
                "dataset), not both"
            )
        return self


class PluginSection(BaseModel):
    """A `source:` or `annotations:` section: `type` plus that plugin's own options."""

    model_config = ConfigDict(extra="allow")
    type: str = Field(min_length=1, description="a registered name")

    def options(self) -> dict[str, Any]:
        """Return the plugin's own options (everything but `type`)."""
        return dict(self.model_extra or {})


class AnnotationsConfig(PluginSection):
    """The annotation encoder; `voc` by default, `none` for image-level labels only."""

    type: str = Field(default="voc", min_length=1, description="a registered encoder name")


class CheckConfig(_Section):
    """Policies of the check step, shared by `check` and `run`."""

    boxes_outside: Literal["clip", "drop", "error"] = Field(
        default="clip", description="what to do with a box that leaves its image"
    )
    name_collisions: Literal["error", "disambiguate"] = Field(
        default="error",
        description="two images with the same remote name: an error, or unique names "
        "derived from their relative paths",
    )
    exif_orientation: Literal["warn", "error"] = Field(
        default="warn",
        description="images whose EXIF orientation is not the default",
    )
    max_pixels: int = Field(
        default=178_956_970, gt=0, description="larger images are refused (decompression bombs)"
    )


class UploadConfig(_Section):
    """Tunables of the upload engine; every one has a sensible default."""

    workers: int = Field(default=4, ge=1, le=64, description="requests in parallel")
    chunk_images: int = Field(default=64, ge=1, le=300, description="images per request at most")
    chunk_bytes: int = Field(
        default=8_000_000,
        ge=1024,
        le=28_000_000,
        description="bytes per request at most (OSAI refuses requests above 30,000,000)",
    )
    retries: int = Field(default=8, ge=0, le=50, description="retries per request")
    backoff: float = Field(default=0.5, ge=0, description="first retry delay in seconds")
    max_backoff: float = Field(default=30.0, gt=0, description="longest retry delay in seconds")
    on_problem: Literal["skip", "stop"] = Field(
        default="skip", description="items with errors: skip them, or stop before uploading"
    )
    journal: ConfigPath | None = Field(
        default=None, description="journal folder (default .osai-import/ beside the config)"
    )
    skip_unsupported: bool = Field(
        default=False,
        description="ask OSAI to drop files that are not JPEG or PNG instead of refusing the "
        "whole request",
    )


PluginSpec = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class RunConfig(_Section):
    """A whole run, as read from a config file."""

    server: ServerConfig = Field(default_factory=ServerConfig)
    dataset: DatasetConfig
    source: PluginSection
    annotations: AnnotationsConfig = Field(default_factory=AnnotationsConfig)
    check: CheckConfig = Field(default_factory=CheckConfig)
    upload: UploadConfig = Field(default_factory=UploadConfig)
    plugins: list[PluginSpec] = Field(
        default_factory=list,
        description="in-house plugins: .py files (relative to the config) or module names",
    )

    @model_validator(mode="before")
    @classmethod
    def _empty_sections(cls, data: Any) -> Any:
        # `upload:` with every key commented out means "the defaults", not an error.
        if isinstance(data, dict):
            optional = ("server", "annotations", "check", "upload", "plugins")
            return {k: v for k, v in data.items() if not (k in optional and v is None)}
        return data

    @field_validator("annotations", mode="before")
    @classmethod
    def _name_alone(cls, value: Any) -> Any:
        # `annotations: none` reads better than a one-key mapping.
        return {"type": value} if isinstance(value, str) else value


@dataclass
class LoadedConfig:
    """A validated config with where it came from."""

    config: RunConfig
    path: Path
    base_dir: Path
    text_hash: str

    @property
    def local_data_dir(self) -> Path:
        """Return the embedded local server's data folder."""
        return self.config.server.data or self.base_dir / ".osai-local"

    @property
    def journal_dir(self) -> Path:
        """Return the journal folder."""
        return self.config.upload.journal or self.base_dir / ".osai-import"


@dataclass
class ResolvedConfig:
    """A config whose reader and encoder options are validated too."""

    loaded: LoadedConfig
    reader_cls: type[Reader]
    reader_options: PluginOptions
    encoder_cls: type[Encoder]
    encoder_options: PluginOptions

    @property
    def config(self) -> RunConfig:
        """Return the run config."""
        return self.loaded.config

    def reader(self) -> Reader:
        """Return a new reader for the source."""
        return self.reader_cls(self.reader_options)

    def encoder(self) -> Encoder:
        """Return a new encoder for the annotations."""
        return self.encoder_cls(self.encoder_options)


def substitute_env(value: Any, where: str = "") -> Any:
    """Replace ``${VAR}`` in every string of a YAML tree from the environment.

    ``${VAR:-text}`` uses ``text`` when VAR is unset or empty; ``$${`` stays a literal
    ``${``. Keys are left alone. Every variable that is missing is named in one
    ConfigError, with the path of the value that refers to it.
    """
    lines: list[str] = []
    result = _substitute(value, where, lines)
    if lines:
        raise ConfigError(lines[0], lines=lines)
    return result


def _substitute(value: Any, where: str, lines: list[str]) -> Any:
    if isinstance(value, dict):
        return {k: _substitute(v, _join(where, str(k)), lines) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, _join(where, str(i)), lines) for i, v in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value
    here = where or "<top level>"

    def repl(match: re.Match[str]) -> str:
        if match.group(1) is None:
            return "${"  # the `$${` escape
        name, sep, default = match.group(1).partition(":-")
        if not _ENV_NAME.fullmatch(name):
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


def _read_yaml(path: Path) -> tuple[dict[str, Any], bytes]:
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
        line = lines[mark.line] if mark and mark.line < len(lines) else ""
        if "${" in line and "{" in problem:
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


def _order(line: str) -> int:
    # Lines follow the order of the sections in the file format, unknown keys last.
    top = re.split(r"[.:]", line, maxsplit=1)[0]
    fields = list(RunConfig.model_fields)
    return fields.index(top) if top in fields else len(fields)


def _load(path: Path) -> tuple[LoadedConfig | None, dict[str, Any], list[str]]:
    """Return the loaded config (None when invalid), the raw data, and the problems."""
    data, text = _read_yaml(path)
    data = substitute_env(data)
    base_dir = path.resolve().parent
    try:
        config = RunConfig.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as exc:
        return None, data, format_validation_error(exc, model=RunConfig)
    digest = hashlib.sha256(text).hexdigest()
    return LoadedConfig(config, path.resolve(), base_dir, digest), data, []


def load_config(path: str | Path) -> LoadedConfig:
    """Read, substitute and validate a config file; raise ConfigError with every problem."""
    loaded, _data, lines = _load(Path(path))
    if loaded is None:
        raise ConfigError("invalid config", lines=lines)
    return loaded


def _check_section(
    key: str, section: PluginSection, registry: Any, base_dir: Path, lines: list[str]
) -> tuple[Any, PluginOptions] | None:
    try:
        entry = registry.get(section.type)
    except RegistryError as exc:
        lines.append(f"{key}.type: {exc}")
        return None
    try:
        return entry.cls, entry.cls.parse_options(section.options(), base_dir)
    except ValidationError as exc:
        lines.extend(format_validation_error(exc, key, entry.cls.Options, also_allowed=["type"]))
    except Exception as exc:  # a plugin's own validator failing in an unplanned way
        lines.append(
            f"{key}: the {registry.kind} {entry.name!r} (plugin {entry.plugin!r}) failed to "
            f"check its options: {type(exc).__name__}: {exc}; this is a bug in that plugin"
        )
    return None


def resolve(loaded: LoadedConfig, plugins: Any) -> ResolvedConfig:
    """Validate the `source:` and `annotations:` sections against their plugins' options."""
    config = loaded.config
    lines: list[str] = []
    reader = _check_section("source", config.source, plugins.readers, loaded.base_dir, lines)
    encoder = _check_section(
        "annotations", config.annotations, plugins.encoders, loaded.base_dir, lines
    )
    if reader is None or encoder is None:
        raise ConfigError("invalid config", lines=lines)
    return ResolvedConfig(loaded, reader[0], reader[1], encoder[0], encoder[1])


def _sections_anyway(data: dict[str, Any], base_dir: Path, lines: list[str]) -> None:
    """Check `source`/`annotations` of a config whose other parts are wrong, when possible.

    A user fixing a config wants every problem in one go, not one section per attempt.
    """
    from osai_import.plugins import build_plugins

    plugins_list = data.get("plugins", [])
    if any(line.startswith(("plugins", "source:", "source.type:", "annotations:",
                            "annotations.type:")) for line in lines):
        return
    if not (isinstance(plugins_list, list) and all(isinstance(p, str) for p in plugins_list)):
        return
    try:
        plugins = build_plugins(plugins_list, base_dir)
    except ConfigError as exc:
        lines.extend(exc.lines)
        return
    for key, model in (("source", PluginSection), ("annotations", AnnotationsConfig)):
        raw = data.get(key, {})
        raw = {"type": raw} if isinstance(raw, str) and key == "annotations" else raw
        if key == "source" and not raw:
            continue
        try:
            section = model.model_validate(raw)
        except ValidationError:
            continue
        registry = plugins.readers if key == "source" else plugins.encoders
        _check_section(key, section, registry, base_dir, lines)


def prepare(path: str | Path) -> tuple[ResolvedConfig, Any]:
    """Load a config, build the plugins it asks for, and validate every section.

    Returns the resolved config and the plugins (``osai_import.plugins.Plugins``). Every
    problem found is in one ConfigError, one ``path.to.field: message`` line each.
    """
    from osai_import.plugins import build_plugins

    path = Path(path)
    loaded, data, lines = _load(path)
    if loaded is None:
        _sections_anyway(data, path.resolve().parent, lines)
        raise ConfigError("invalid config", lines=sorted(lines, key=_order))
    plugins = build_plugins(loaded.config.plugins, loaded.base_dir)
    return resolve(loaded, plugins), plugins
