"""The models of a run's config: one pydantic model per section, ``RunConfig`` for the whole.

They validate the general shape; the ``source:`` and ``annotations:`` sections keep their
plugin's options loose here and are validated against the registered reader and encoder
by ``resolve``. Secrets never appear in a model: ``server.token_env`` names a variable.
"""

from __future__ import annotations

import logging
import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    StringConstraints,
    field_validator,
    model_validator,
)

from osai_import.config.file import ENV_NAME
from osai_import.plugin.base import LocalPath

log = logging.getLogger("osai_import.config.models")

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
    data: LocalPath | None = Field(
        default=None,
        description="data folder of the embedded local server (default .osai-local/ beside "
        "the config)",
    )
    timeout: float = Field(
        default=60.0, gt=0,
        description="seconds one request may take as a whole: connecting, sending it and "
        "receiving the entire answer",
    )

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
    categories: dict[str, int | str] = Field(
        default_factory=dict,
        description="ids of categories that exist in the dataset, by name, as the OSAI web app "
        "shows them; used instead of creating them (OSAI's documented API cannot list categories)",
    )

    @field_validator("categories", mode="before")
    @classmethod
    def _ids_not_bool(cls, value: Any) -> Any:
        if isinstance(value, dict):
            for name, cid in value.items():
                if isinstance(cid, bool):
                    raise ValueError(
                        f"the id of category {name!r} must be an integer or a string, got "
                        f"{str(cid).lower()}"
                    )
        return value

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


class SourceSection(PluginSection):
    """A `source:` entry: `type`, the reader's own options, and how to reach its files."""

    label: str | None = Field(
        default=None,
        min_length=1,
        description="how messages and the report name this source's items (with several "
        "sources); default: its path as written",
    )
    storage_options: dict[str, Any] = Field(
        default_factory=dict,
        description="fsspec options for paths in buckets or on the web (s3://, gs://, az://, "
        "https://); credentials are best left to each cloud's environment",
    )


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
    journal: LocalPath | None = Field(
        default=None, description="journal folder (default .osai-import/ beside the config)"
    )
    skip_unsupported: bool = Field(
        default=False,
        description="ask OSAI to drop files that are not JPEG or PNG instead of refusing the "
        "whole request",
    )
    wait_locked: float = Field(
        default=600.0,
        ge=0,
        description="seconds to wait for a dataset locked by another upload session to unlock "
        "(OSAI unlocks it after a while without new images); 0 stops at once",
    )


PluginSpec = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class RunConfig(_Section):
    """A whole run, as read from a config file."""

    server: ServerConfig = Field(default_factory=ServerConfig)
    dataset: DatasetConfig
    source: list[SourceSection] = Field(
        description="the reader, or a list of readers whose items go into one dataset"
    )
    # Whether the file gave `source:` as a list (messages then number the sources).
    _source_listed: bool = PrivateAttr(default=False)
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

    @field_validator("source", mode="before")
    @classmethod
    def _one_or_more(cls, value: Any) -> Any:
        # One source is a mapping; several, a list of mappings.
        if isinstance(value, dict):
            return [value]
        if not isinstance(value, list):
            raise ValueError(f"expected a mapping (`key: value` lines) or a list, got "
                             f"{value!r}"[:160])
        if not value:
            raise ValueError("list at least one source")
        return value

    @field_validator("source")
    @classmethod
    def _labels(cls, value: list[SourceSection]) -> list[SourceSection]:
        labels = [s.label for s in value if s.label is not None]
        twice = sorted({label for label in labels if labels.count(label) > 1})
        if twice:
            raise ValueError(f"two sources have the label {twice[0]!r}; give each its own")
        return value

    @model_validator(mode="wrap")
    @classmethod
    def _remember_listed(cls, data: Any, handler: ModelWrapValidatorHandler[RunConfig]
                         ) -> RunConfig:
        listed = isinstance(data, dict) and isinstance(data.get("source"), list)
        model = handler(data)
        model._source_listed = listed
        return model

    @property
    def source_listed(self) -> bool:
        """Tell whether the file listed its sources (messages then number them)."""
        return self._source_listed

    def sources(self) -> list[SourceSection]:
        """Return the source sections."""
        return list(self.source)

    @field_validator("annotations", mode="before")
    @classmethod
    def _name_alone(cls, value: Any) -> Any:
        # `annotations: none` reads better than a one-key mapping.
        return {"type": value} if isinstance(value, str) else value
