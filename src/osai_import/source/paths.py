"""Keep the image paths a source names inside the folder a reader was told to read."""

from __future__ import annotations

import os

from osai_import.location import SourcePath


def is_inside(
    root: str | os.PathLike[str] | SourcePath, path: str | os.PathLike[str] | SourcePath
) -> bool:
    """Tell whether ``path`` lies strictly below ``root`` (``root`` itself is not below it).

    Both must be absolute and normalized (``os.path.normpath``; a ``SourcePath`` always
    is). The test is on their text, so ``..`` can never leave ``root`` while symbolic
    links inside it are followed like any file, as a user who links an image folder to
    another disk expects. A path in an archive or a bucket is inside only a folder of the
    same archive or bucket.
    """
    if isinstance(root, SourcePath) or isinstance(path, SourcePath):
        return (
            isinstance(root, SourcePath) and isinstance(path, SourcePath)
            and path.is_relative_to(root) and path != root
        )
    base = os.fspath(root).rstrip(os.sep) + os.sep
    text = os.fspath(path)
    return text.startswith(base) and text != base
