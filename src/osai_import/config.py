"""Load a run's YAML config into validated models; secrets stay in the environment.

Loading happens in two steps, both before any network call: ``load_config`` reads the
YAML (``safe_load``), replaces ``${VAR}`` from the environment, and validates the
general shape; ``resolve`` validates the ``source:`` and ``annotations:`` sections
against the options of the reader and encoder the plugins registered.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from osai_import.base import ConfigPath, Encoder, PluginOptions, Reader
from osai_import.errors import ConfigError, RegistryError

REGION_URLS = {
    "eu": "https://app-eu.onestepai.com/api",
    "us": "https://app-us.onestepai.com/api",
}

_ENV_REF = re.compile(r"\$\{([^}]*)\}")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServerConfig(_Section):
    """Where to upload: the embedded local server, a base URL, or an OSAI region."""

    url: str | None = Field(
        default=None,
        description="`local` for the embedded local server, or an API base URL such as "
        "https://app-eu.onestepai.com/api",
    )
    region: Literal["eu", "us"] | None = Field(default=None, description="OSAI region")
    token_env: str = Field(
        default="OSAI_TOKEN",
        description="name of the environment variable holding the access token",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
    )
    data: ConfigPath | None = Field(
        default=None,
        description="data folder of the embedded local server (default .osai-local/ beside "
        "the config)",
    )
    timeout: float = Field(default=60.0, gt=0, description="seconds to wait for an answer")

    @model_validator(mode="after")
    def _one_target(self) -> ServerConfig:
        if self.url is not None and self.region is not None:
            raise ValueError("give either `url` or `region`, not both")
        if self.url is None and self.region is None:
            self.url = "local"
        if self.url is not None and self.url != "local":
            if not re.match(r"^https?://[^\s/]+", self.url):
                raise ValueError(
                    f"url {self.url!r} is neither `local` nor an http(s) URL such as "
                    "https://app-eu.onestepai.com/api"
                )
            self.url = self.url.rstrip("/")
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

    name: str | None = Field(default=None, min_length=1)
    id: int | str | None = Field(default=None, description="id of an existing dataset")

    @model_validator(mode="after")
    def _name_or_id(self) -> DatasetConfig:
        if self.name is None and self.id is None:
            raise ValueError("give the dataset a `name` (created on first run) or an `id`")
        return self


class PluginSection(BaseModel):
    """A `source:` or `annotations:` section: `type` plus that plugin's own options."""

    model_config = ConfigDict(extra="allow")
    type: str = Field(min_length=1)

    def options(self) -> dict[str, Any]:
        """Return the plugin's own options (everything but `type`)."""
        return dict(self.model_extra or {})


class AnnotationsConfig(PluginSection):
    """The annotation encoder; `voc` by default, `none` for image-level labels only."""

    type: str = Field(default="voc", min_length=1)


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

    workers: int = Field(default=4, ge=1, le=64)
    chunk_images: int = Field(default=64, ge=1, le=300, description="images per request at most")
    chunk_bytes: int = Field(
        default=8_000_000,
        ge=1024,
        le=28_000_000,
        description="bytes per request at most (OSAI refuses requests above 30,000,000)",
    )
    retries: int = Field(default=8, ge=0, le=50, description="retries per request")
    backoff: float = Field(default=0.5, ge=0, description="first retry delay in seconds")
    max_backoff: float = Field(default=30.0, gt=0)
    on_problem: Literal["skip", "stop"] = Field(
        default="skip", description="items with errors: skip them, or stop before uploading"
    )
    journal: ConfigPath | None = Field(
        default=None, description="journal folder (default .osai-import/ beside the config)"
    )
    skip_unsupported: bool = Field(default=False)


class RunConfig(_Section):
    """A whole run, as read from a config file."""

    server: ServerConfig = Field(default_factory=ServerConfig)
    dataset: DatasetConfig
    source: PluginSection
    annotations: AnnotationsConfig = Field(default_factory=AnnotationsConfig)
    check: CheckConfig = Field(default_factory=CheckConfig)
    upload: UploadConfig = Field(default_factory=UploadConfig)
    plugins: list[str] = Field(default_factory=list)


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
    """Replace ``${VAR}`` in every string of a YAML tree; ``$${`` stays a literal ``${``."""
    if isinstance(value, dict):
        return {k: substitute_env(v, _join(where, str(k))) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute_env(v, _join(where, str(i))) for i, v in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value

    def repl(match: re.Match[str]) -> str:
        name = match.group(1)
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ConfigError(f"{where or '<root>'}: `${{{name}}}` is not a valid variable name")
        if name not in os.environ:
            raise ConfigError(
                f"{where or '<root>'}: environment variable {name} is not set; "
                f"export it or remove ${{{name}}} from the config"
            )
        return os.environ[name]

    escaped = value.replace("$${", "\x00")
    return _ENV_REF.sub(repl, escaped).replace("\x00", "${")


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def format_validation_error(exc: ValidationError, prefix: str = "", model: type[BaseModel] | None = None) -> list[str]:
    """Turn a pydantic error into ``path.to.field: message`` lines."""
    lines = []
    for err in exc.errors(include_url=False):
        loc = [str(part) for part in err["loc"]]
        path = ".".join([prefix, *loc] if prefix else loc) or prefix or "<root>"
        if err["type"] == "extra_forbidden":
            allowed = _allowed_keys(model, err["loc"][:-1]) if model else []
            close = difflib.get_close_matches(loc[-1], allowed, n=1) if allowed else []
            hint = f"; did you mean {close[0]!r}?" if close else ""
            known = f" (allowed: {', '.join(allowed)})" if allowed else ""
            lines.append(f"{path}: unknown key{hint}{known}")
            continue
        message = err["msg"]
        if message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        lines.append(f"{path}: {message}")
    return lines


def _allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    current: Any = model
    for part in loc:
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        field = current.model_fields.get(str(part))
        if field is None:
            return []
        current = field.annotation
        # Unwrap Optional[Model] and the like.
        for arg in getattr(current, "__args__", ()) or ():
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                current = arg
    if isinstance(current, type) and issubclass(current, BaseModel):
        keys = list(current.model_fields)
        return [k for k in keys if k != "type"] + (["type"] if "type" in keys else [])
    return []


def load_config(path: str | Path) -> LoadedConfig:
    """Read, substitute and validate a config file; raise ConfigError with every problem."""
    path = Path(path)
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: the config is not UTF-8 text (byte {exc.start})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{where}: invalid YAML: {problem}") from None
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: the config must be a mapping with `dataset:` and `source:` sections, "
            f"got {type(data).__name__ if data is not None else 'an empty file'}"
        )
    data = substitute_env(data)
    base_dir = path.resolve().parent
    try:
        config = RunConfig.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as exc:
        raise ConfigError(
            "invalid config", lines=format_validation_error(exc, model=RunConfig)
        ) from None
    return LoadedConfig(config, path.resolve(), base_dir, hashlib.sha256(text).hexdigest())


def resolve(loaded: LoadedConfig, plugins: Any) -> ResolvedConfig:
    """Validate the `source:` and `annotations:` sections against their plugins' options."""
    config = loaded.config
    lines: list[str] = []
    resolved: dict[str, tuple[Any, Any]] = {}
    for section, registry, key in (
        (config.source, plugins.readers, "source"),
        (config.annotations, plugins.encoders, "annotations"),
    ):
        try:
            entry = registry.get(section.type)
        except RegistryError as exc:
            lines.append(f"{key}.type: {exc}")
            continue
        try:
            options = entry.cls.parse_options(section.options(), loaded.base_dir)
        except ValidationError as exc:
            lines.extend(format_validation_error(exc, prefix=key, model=entry.cls.Options))
            continue
        resolved[key] = (entry.cls, options)
    if lines:
        raise ConfigError("invalid config", lines=lines)
    reader_cls, reader_options = resolved["source"]
    encoder_cls, encoder_options = resolved["annotations"]
    return ResolvedConfig(loaded, reader_cls, reader_options, encoder_cls, encoder_options)


def json_schema() -> dict[str, Any]:
    """Return the JSON Schema of the config file (for editors' YAML support)."""
    schema = RunConfig.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "osai-import config"
    return schema
