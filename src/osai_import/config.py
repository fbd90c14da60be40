"""Load a run's YAML config into validated models; secrets stay in the environment.

Everything happens before any network call: ``load_config`` reads the YAML
(``safe_load``, duplicate keys refused), replaces ``${VAR}`` from the environment and
validates the general shape; ``resolve`` validates the ``source:`` and ``annotations:``
sections against the options of the reader and encoder the plugins registered;
``prepare`` does both and reports every problem of a config at once.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

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
from osai_import.config_file import ENV_NAME, read_yaml, substitute_env
from osai_import.errors import ConfigError, RegistryError
from osai_import.records import ImageRecord, Problem
from osai_import.schema import format_validation_error

log = logging.getLogger("osai_import.config")

REGION_URLS = {
    "eu": "https://app-eu.onestepai.com/api",
    "us": "https://app-us.onestepai.com/api",
}



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
        json_schema_extra={"pattern": f"^{ENV_NAME.pattern}$"},
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
        if not ENV_NAME.fullmatch(value):
            raise ValueError(
                "this is not an environment variable name (letters, digits and _, not "
                "starting with a digit); name the variable that holds the token, e.g. "
                "OSAI_TOKEN, never the token itself"
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


class SourceReads:
    """Hand out record streams of a source, and the stream-wide problems of the last one.

    ``run_check`` reads a source twice; the problems that belong to no image (see
    ``Reader.source_problems``) come from the reader that did the last read.
    """

    def __init__(self, resolved: ResolvedConfig) -> None:
        self.resolved = resolved
        self._last: Reader | None = None

    def records(self) -> Iterator[ImageRecord]:
        """Return a new stream of the source's records."""
        self._last = self.resolved.reader()
        return self._last.records()

    def source_problems(self) -> list[Problem]:
        """Return the last read's problems that concern no single image."""
        if self._last is None:
            return []
        try:
            found = list(self._last.source_problems())
        except Exception as exc:  # noqa: BLE001 - a plugin's bug must not lose the run's results
            log.warning("the reader's source_problems() failed: %s: %s", type(exc).__name__, exc)
            return []
        return [p for p in found if isinstance(p, Problem)]


def _order(line: str) -> int:
    # Lines follow the order of the sections in the file format, unknown keys last.
    top = re.split(r"[.:]", line, maxsplit=1)[0]
    fields = list(RunConfig.model_fields)
    return fields.index(top) if top in fields else len(fields)


def _load(path: Path) -> tuple[LoadedConfig | None, dict[str, Any], list[str]]:
    """Return the loaded config (None when invalid), the raw data, and the problems."""
    data, text = read_yaml(path)
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
