"""The server a run talks to: the token from the environment, the URL, or the local server."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from osai_import.config.resolve import ResolvedConfig
from osai_import.errors import ConfigError


@dataclass
class Target:
    """The server a run talks to: its API base URL, the token, and a stable identity."""

    base_url: str
    token: str = field(repr=False)
    identity: str  # what the journal files things under; stable across runs
    local_data: Path | None = None


def access_token(resolved: ResolvedConfig, given: str | None = None) -> str | None:
    """Return the access token: ``given``, else the environment's; None for the local server.

    Raises a ConfigError naming the variable when neither holds a token.
    """
    server = resolved.config.server
    if server.is_local:
        return None
    if given is not None:
        if not given.strip():
            raise ConfigError("token: the access token given is empty")
        return given.strip()
    token = os.environ.get(server.token_env, "").strip()
    if not token:
        raise ConfigError(
            f"server.token_env: environment variable {server.token_env} is not set; create an "
            f"access token in OSAI's web app and `export {server.token_env}=...` (tokens never "
            f"go in the config file)"
        )
    return token


def server_identity(resolved: ResolvedConfig) -> str:
    """Return what the journal files a config's server under (stable across runs)."""
    server = resolved.config.server
    if server.base_url is not None:
        return server.base_url
    return f"local:{resolved.loaded.local_data_dir}"


@contextlib.contextmanager
def open_target(resolved: ResolvedConfig, token: str | None) -> Iterator[Target]:
    """Yield the run's target, starting the embedded local server when the config asks."""
    server = resolved.config.server
    if not server.is_local:
        assert server.base_url is not None and token is not None
        yield Target(server.base_url, token, server_identity(resolved))
        return
    # Imported here, not at the top: the local server pulls in werkzeug, which a run
    # against a real server never needs.
    from osai_import.emulator import EmulatorSettings, LocalServer

    data_dir = resolved.loaded.local_data_dir
    with LocalServer(EmulatorSettings(data_dir=data_dir)) as local:
        yield Target(local.base_url, local.token, server_identity(resolved), data_dir)
