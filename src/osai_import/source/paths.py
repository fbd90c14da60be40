"""Keep the image paths a source names inside the folder a reader was told to read."""

from __future__ import annotations

import os


def is_inside(root: str | os.PathLike[str], path: str | os.PathLike[str]) -> bool:
    """Tell whether ``path`` lies strictly below ``root`` (``root`` itself is not below it).

    Both must be absolute and normalized (``os.path.normpath``). The test is on their
    text, so ``..`` can never leave ``root`` while symbolic links inside it are followed
    like any file, as a user who links an image folder to another disk expects.
    """
    base = os.fspath(root).rstrip(os.sep) + os.sep
    text = os.fspath(path)
    return text.startswith(base) and text != base
