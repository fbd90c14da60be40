"""The behaviours OSAI's documentation leaves open, one field each; the defaults are ours.

docs/emulator.md ("Variants") says what each value makes the server answer. The handlers
read these fields on every request, so a test may switch a variant on a running server.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

IDS = ("int", "guid")


@dataclass
class Variants:
    """Hold one choice per undocumented behaviour; the defaults are the emulator's own."""

    # --- ids: what the API shows for datasets, categories and upload sessions ----------
    ids: str = "int"

    def __post_init__(self) -> None:
        """Refuse a value no handler knows."""
        for name, allowed in _CHOICES.items():
            value = getattr(self, name)
            if value not in allowed:
                raise ValueError(f"variants.{name} is {value!r}; use one of "
                                 f"{', '.join(str(a) for a in allowed)}")


_CHOICES: dict[str, tuple[object, ...]] = {"ids": IDS}


def names() -> list[str]:
    """Return the field names of Variants, in declaration order."""
    return [f.name for f in fields(Variants)]
