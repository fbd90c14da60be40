"""Turn a config file into a ``ResolvedConfig``: loaded, validated, its plugins' options too.

Everything happens before any network call: ``load_config`` reads the YAML
(``safe_load``, duplicate keys refused), replaces ``${VAR}`` from the environment (never
the token's own variable) and validates the general shape; ``resolve`` validates the
``source:`` and ``annotations:`` sections against the options of the reader and encoder
the plugins registered; ``prepare`` does both and reports every problem of a config at
once.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from osai_import.config.file import ENV_NAME, read_yaml, substitute_env
from osai_import.config.messages import format_validation_error
from osai_import.config.models import (
    AnnotationsConfig,
    PluginSection,
    RunConfig,
    ServerConfig,
    SourceSection,
)
from osai_import.errors import ConfigError, RegistryError, SourceError
from osai_import.location import SourcePath
from osai_import.plugin.base import Encoder, PluginOptions, Reader
from osai_import.plugin.manager import Plugins, build_plugins
from osai_import.plugin.registry import Registry
from osai_import.source.locate import locate
from osai_import.source.reads import NamedSource


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
class ResolvedSource:
    """One source of a config: its label, its reader and the reader's validated options."""

    label: str
    reader_cls: type[Reader]
    options: PluginOptions

    def reader(self) -> Reader:
        """Return a new reader for this source."""
        return self.reader_cls(self.options)


@dataclass
class ResolvedConfig:
    """A config whose reader and encoder options are validated too."""

    loaded: LoadedConfig
    sources: list[ResolvedSource]
    encoder_cls: type[Encoder]
    encoder_options: PluginOptions

    @property
    def config(self) -> RunConfig:
        """Return the run config."""
        return self.loaded.config

    @property
    def reader_cls(self) -> type[Reader]:
        """Return the first source's reader class."""
        return self.sources[0].reader_cls

    @property
    def reader_options(self) -> PluginOptions:
        """Return the first source's reader options."""
        return self.sources[0].options

    def reader(self) -> Reader:
        """Return a new reader for the first source."""
        return self.sources[0].reader()

    def named_sources(self) -> list[NamedSource]:
        """Return every source as ``SourceReads`` reads them."""
        return [NamedSource(source.label, source.reader) for source in self.sources]

    def encoder(self) -> Encoder:
        """Return a new encoder for the annotations."""
        return self.encoder_cls(self.encoder_options)


def _order(line: str) -> int:
    # Lines follow the order of the sections in the file format, unknown keys last.
    top = re.split(r"[.:]", line, maxsplit=1)[0]
    fields = list(RunConfig.model_fields)
    return fields.index(top) if top in fields else len(fields)


def _token_env(data: dict[str, Any]) -> str:
    """Return the name of the token's variable as the raw config gives it, or the default."""
    server = data.get("server")
    name = server.get("token_env") if isinstance(server, dict) else None
    if isinstance(name, str) and ENV_NAME.fullmatch(name):
        return name
    default: str = ServerConfig.model_fields["token_env"].default
    return default


def _load(path: Path) -> tuple[LoadedConfig | None, dict[str, Any], list[str]]:
    """Return the loaded config (None when invalid), the raw data, and the problems."""
    data, text = read_yaml(path)
    return _validate(data, text, path.resolve(), path.resolve().parent)


def _validate(data: dict[str, Any], text: bytes, path: Path, base_dir: Path
              ) -> tuple[LoadedConfig | None, dict[str, Any], list[str]]:
    """Validate a config's raw data: ``path`` names it, ``text`` is what its hash covers."""
    data = substitute_env(data, token_env=_token_env(data))
    try:
        config = RunConfig.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as exc:
        lines = format_validation_error(exc, model=RunConfig)
        if isinstance(data, dict) and isinstance(data.get("source"), dict):
            # One source, given as a mapping: its keys are `source.x`, not `source.0.x`.
            lines = [re.sub(r"^source\.0(?=[.:])", "source", line) for line in lines]
        return None, data, lines
    digest = hashlib.sha256(text).hexdigest()
    return LoadedConfig(config, path, base_dir, digest), data, []


def load_config(path: str | Path) -> LoadedConfig:
    """Read, substitute and validate a config file; raise ConfigError with every problem."""
    loaded, _data, lines = _load(Path(path))
    if loaded is None:
        raise ConfigError("invalid config", lines=lines)
    return loaded


def _check_section(
    key: str, section: PluginSection, registry: Registry[Any], base_dir: Path, lines: list[str]
) -> tuple[Any, PluginOptions] | None:
    try:
        entry = registry.get(section.type)
    except RegistryError as exc:
        lines.append(f"{key}.type: {exc}")
        return None
    context: dict[str, Any] = {"base_dir": base_dir}
    allowed = ["type"]
    if isinstance(section, SourceSection):
        storage = section.storage_options

        def locate_here(value: Any, base: Path | None) -> Path | SourcePath:
            return locate(value, base, storage)

        context["locate"] = locate_here
        context["storage_options"] = storage
        allowed = ["label", "storage_options", "type"]
    try:
        options = entry.cls.Options.model_validate(section.options(), context=context)
    except ValidationError as exc:
        lines.extend(format_validation_error(exc, key, entry.cls.Options, also_allowed=allowed))
    except SourceError as exc:
        lines.append(f"{key}: {exc}")
    except Exception as exc:  # noqa: BLE001 - a plugin's own validator failing in an unplanned way
        lines.append(
            f"{key}: the {registry.kind} {entry.name!r} (plugin {entry.plugin!r}) failed to "
            f"check its options: {type(exc).__name__}: {exc}; this is a bug in that plugin"
        )
    else:
        refused = local_only(key, entry.cls, options, f"{registry.kind} {entry.name!r} "
                             f"(plugin {entry.plugin!r})")
        if refused is not None:
            lines.append(refused)
            return None
        if isinstance(section, SourceSection):
            missing = missing_paths(key, options, base_dir)
            if missing:
                lines.extend(missing)
                return None
        return entry.cls, options
    return None


def local_only(key: str, cls: type[Any], options: PluginOptions, who: str) -> str | None:
    """Return the config line refusing a path into an archive or bucket for a local reader."""
    stored = [name for name, value in options if isinstance(value, SourcePath)]
    if not stored or getattr(cls, "any_storage", False):
        return None
    where = getattr(options, stored[0])
    return (
        f"{key}.{stored[0]}: {where} is in an archive or a bucket, and the {who} reads only "
        "local files; extract or copy the files to a local folder, or ask its author to read "
        "through osai_import.SourcePath (Reader.any_storage)"
    )


def missing_paths(key: str, options: PluginOptions, base_dir: Path) -> list[str]:
    """Return a config line for each path option of a source that names nothing.

    A source that is not there is a mistake in the config (exit 2), found before anything
    else is read. A path in a bucket is asked too (one request); a store that cannot say
    (no credentials yet, a network error) is left to the reader, which names the cause.
    """
    lines = []
    for name, value in options:
        if not isinstance(value, (Path, SourcePath)):
            continue
        try:
            there = value.exists() if isinstance(value, SourcePath) else os.path.lexists(value)
        except Exception:  # noqa: BLE001 - any store's failure: the reader will say it better
            continue
        if not there:
            relative = "" if isinstance(value, SourcePath) else (
                f" (a relative path is relative to the config file's folder, {base_dir})")
            lines.append(f"{key}.{name}: {value} does not exist; fix the path{relative}")
    return lines


def resolve(loaded: LoadedConfig, plugins: Plugins) -> ResolvedConfig:
    """Validate the `source:` and `annotations:` sections against their plugins' options."""
    config = loaded.config
    lines: list[str] = []
    sections = config.sources()
    sources: list[ResolvedSource] = []
    for index, section in enumerate(sections):
        key = f"source.{index}" if config.source_listed else "source"
        reader = _check_section(key, section, plugins.readers, loaded.base_dir, lines)
        if reader is not None:
            sources.append(ResolvedSource(_label(section, index), reader[0], reader[1]))
    encoder = _check_section(
        "annotations", config.annotations, plugins.encoders, loaded.base_dir, lines
    )
    if len(sources) < len(sections) or encoder is None:
        raise ConfigError("invalid config", lines=lines)
    return ResolvedConfig(loaded, sources, encoder[0], encoder[1])


def _label(section: SourceSection, index: int) -> str:
    """Return how a source's items are named with several sources: its label, or its path."""
    if section.label is not None:
        return section.label
    path = section.options().get("path")
    return str(path) if isinstance(path, str) and path else f"source {index + 1}"


def _sections_anyway(data: dict[str, Any], base_dir: Path, lines: list[str]) -> None:
    """Check `source`/`annotations` of a config whose other parts are wrong, when possible.

    A user fixing a config wants every problem in one go, not one section per attempt.
    """
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
    raw_sources = data.get("source", {})
    listed = raw_sources if isinstance(raw_sources, list) else [raw_sources] if raw_sources else []
    for index, raw in enumerate(listed):
        try:
            section = SourceSection.model_validate(raw)
        except ValidationError:
            continue
        key = f"source.{index}" if isinstance(raw_sources, list) else "source"
        _check_section(key, section, plugins.readers, base_dir, lines)
    raw = data.get("annotations", {})
    raw = {"type": raw} if isinstance(raw, str) else raw
    try:
        annotations = AnnotationsConfig.model_validate(raw)
    except ValidationError:
        return
    _check_section("annotations", annotations, plugins.encoders, base_dir, lines)


def prepare(path: str | Path) -> tuple[ResolvedConfig, Plugins]:
    """Load a config, build the plugins it asks for, and validate every section.

    Returns the resolved config and the plugins. Every
    problem found is in one ConfigError, one ``path.to.field: message`` line each.
    """
    path = Path(path)
    return _prepared(*_load(path), path.resolve().parent)


def prepare_data(data: Mapping[str, Any], base_dir: str | Path) -> tuple[ResolvedConfig, Plugins]:
    """Do what ``prepare`` does for a config given as data shaped like the YAML file.

    ``${VAR}`` is replaced as in a file; relative paths resolve against ``base_dir``.
    The config is known (to the journal, in reports) as ``<base_dir>/<python config>``,
    and its hash covers its data as canonical JSON.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"the config must be a mapping with at least `dataset` and `source` keys (as the "
            f"YAML file is), got a {type(data).__name__}"
        )
    base = Path(base_dir).resolve()
    raw = {str(k): v for k, v in data.items()}
    try:
        text = json.dumps(raw, sort_keys=True, default=str, ensure_ascii=False).encode()
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"the config cannot be read as plain data: {exc}") from None
    return _prepared(*_validate(raw, text, base / PYTHON_CONFIG, base), base)


PYTHON_CONFIG = "<python config>"
"""The name a config given as data goes by, in its base folder (see ``prepare_data``)."""


def _prepared(loaded: LoadedConfig | None, data: dict[str, Any], lines: list[str],
              base_dir: Path) -> tuple[ResolvedConfig, Plugins]:
    if loaded is None:
        _sections_anyway(data, base_dir, lines)
        raise ConfigError("invalid config", lines=sorted(lines, key=_order))
    plugins = build_plugins(loaded.config.plugins, loaded.base_dir)
    return resolve(loaded, plugins), plugins
