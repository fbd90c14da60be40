"""The ``serve`` options that pick a variant: one option per field of Variants."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from osai_import.emulator.variants import IDS, Variants, names

F = TypeVar("F", bound=Callable[..., Any])

_OPTIONS = [
    click.option("--ids", type=click.Choice(IDS), default="int", show_default=True,
                 help="Ids of datasets, categories and upload sessions: integers or GUID "
                      "strings."),
]


def variant_options(command: F) -> F:
    """Add every variant option to a click command."""
    for option in reversed(_OPTIONS):
        command = option(command)
    return command


def variants_from(options: dict[str, Any]) -> Variants:
    """Build Variants from the values click parsed (keyed by field name)."""
    return Variants(**{name: options[name] for name in names() if name in options})
