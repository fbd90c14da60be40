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
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from osai_import.config.file import ENV_NAME, read_yaml, substitute_env
from osai_import.config.messages import format_validation_error
from osai_import.config.models import AnnotationsConfig, PluginSection, RunConfig, ServerConfig
from osai_import.errors import ConfigError, RegistryError
from osai_import.plugin.base import Encoder, PluginOptions, Reader
from osai_import.plugin.manager import Plugins, build_plugins
from osai_import.plugin.registry import Registry


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
    data = substitute_env(data, token_env=_token_env(data))
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
    key: str, section: PluginSection, registry: Registry[Any], base_dir: Path, lines: list[str]
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
    except Exception as exc:  # noqa: BLE001 - a plugin's own validator failing in an unplanned way
        lines.append(
            f"{key}: the {registry.kind} {entry.name!r} (plugin {entry.plugin!r}) failed to "
            f"check its options: {type(exc).__name__}: {exc}; this is a bug in that plugin"
        )
    return None


def resolve(loaded: LoadedConfig, plugins: Plugins) -> ResolvedConfig:
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


def prepare(path: str | Path) -> tuple[ResolvedConfig, Plugins]:
    """Load a config, build the plugins it asks for, and validate every section.

    Returns the resolved config and the plugins. Every
    problem found is in one ConfigError, one ``path.to.field: message`` line each.
    """
    path = Path(path)
    loaded, data, lines = _load(path)
    if loaded is None:
        _sections_anyway(data, path.resolve().parent, lines)
        raise ConfigError("invalid config", lines=sorted(lines, key=_order))
    plugins = build_plugins(loaded.config.plugins, loaded.base_dir)
    return resolve(loaded, plugins), plugins
