"""Former home of the plugin manager, kept so that existing imports still work.

Import from ``osai_import.plugin.manager`` instead: this module warns
(DeprecationWarning) and will be removed in a later release.
"""

from __future__ import annotations

import warnings

from osai_import.plugin.manager import (
    DEFAULT_PLUGINS,
    DISABLE_ENV,
    ENTRY_POINT_GROUP,
    STRICT_ENV,
    TRACE_ENV,
    PluginInfo,
    PluginLoadWarning,
    Plugins,
    build_plugins,
)

__all__ = [
    "DEFAULT_PLUGINS", "DISABLE_ENV", "ENTRY_POINT_GROUP", "STRICT_ENV", "TRACE_ENV",
    "PluginInfo", "PluginLoadWarning", "Plugins", "build_plugins",
]

warnings.warn(
    "osai_import.plugins is deprecated: import from osai_import.plugin.manager",
    DeprecationWarning,
    stacklevel=2,
)
