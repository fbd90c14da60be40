"""Is a path a folder of images, one sub-folder per class? The `folder` reader's ``detect``.

Any folder of images can be read by this reader, so its confidence stays modest (at most
0.6): a layout with its own marker (a COCO file, YOLO labels, VOC XML in their own
folder) is another reader's, and that reader says so with more confidence. The verdict
comes from a bounded listing (``survey``): where the images are, how they group into
folders, and whether Pascal VOC XML files sit beside them (read as boxes) or in a
folder of their own (the `voc` reader's layout, which this reader would not read).
"""

from __future__ import annotations

import posixpath
from collections import Counter
from pathlib import Path
from typing import Any

from osai_import import Detection, SourcePath, Survey, survey

_SPLITS = {"train", "training", "val", "valid", "validation", "test", "testing", "dev"}
_DEFAULT_EXTENSIONS = {".jpg", ".jpeg", ".png"}
_VOC_FOLDERS = {"annotations", "labels", "xml", "xmls"}


def detect_folder(path: Path | SourcePath) -> Detection:
    """Return how well ``path`` reads as a folder of images (a sub-folder per class)."""
    if not path.is_dir():
        return Detection(0.0, (f"{path.name or path} is a file; this reader reads a folder",))
    listing = survey(path)
    images = listing.images()
    if not images:
        return Detection(0.0, (f"no image file among the {len(listing.files)} files listed",))
    options: dict[str, Any] = {"path": path}
    reasons: list[str] = []
    suffixes = Counter(posixpath.splitext(i)[1].lower() for i in images)
    others = sorted(set(suffixes) - _DEFAULT_EXTENSIONS)
    if others:
        options["extensions"] = sorted(s.lstrip(".") for s in set(suffixes))
        reasons.append(f"images with {', '.join(others)} too: extensions set to read them")
    apart = voc_apart(listing)
    parents = Counter(posixpath.dirname(i) for i in images)
    top = Counter(i.split("/")[0] for i in images if "/" in i)
    at_root = len(images) - sum(top.values())
    split_layout = bool(top) and {t.lower() for t in top} <= _SPLITS and any(
        posixpath.dirname(i).count("/") >= 1 for i in images)
    nested = any(posixpath.dirname(i).count("/") >= (2 if split_layout else 1) for i in images)
    if split_layout:
        # {category:**}: nested class folders (animals/cats) keep their whole path.
        options["category"] = "{split}/{category:**}/{file}"
        classes = {posixpath.dirname(i).partition("/")[2] for i in images} - {""}
        reasons.append(f"splits {', '.join(sorted(top))}, each with a folder per class "
                       f"({len(classes)} classes)")
        confidence = 0.6
    elif len(top) >= 2:
        if nested:
            options["category"] = "path"
            reasons.append("class folders nest (a/b/image.jpg): the category is the "
                           "folder path from the top")
        reasons.append(f"{len(images)} images in {len(top)} folders, one per class "
                       f"({', '.join(sorted(top)[:5])}{', ...' if len(top) > 5 else ''})")
        confidence = 0.55
    elif len(top) == 1:
        options["category"] = "none"
        reasons.append(f"images in one folder ({next(iter(top))}/): no classes to take from "
                       "folder names")
        confidence = 0.4
    else:
        options["category"] = "none"
        reasons.append(f"{at_root} images at the top, no class folders")
        confidence = 0.35
    if at_root and top and not split_layout:
        reasons.append(f"{at_root} images at the top, outside any class folder")
    sidecars = _sidecars(listing, images)
    if sidecars:
        reasons.append(f"{sidecars} images have a Pascal VOC .xml beside them (read as boxes)")
        confidence = min(confidence + 0.05, 0.6)
    if apart is not None:
        reasons.append(f"{apart}: Pascal VOC XML in a folder of its own, which this reader "
                       "does not read; the `voc` reader reads them with the images")
        confidence = min(confidence, 0.3)
    if len(parents) > 1 and not listing.complete:
        reasons.append("the folder is large: judged from the first files listed")
    return Detection(confidence, tuple(reasons), (options,))


def _sidecars(listing: Survey, images: list[str]) -> int:
    xml = {posixpath.splitext(f)[0] for f in listing.named("*.xml")}
    return sum(1 for i in images if posixpath.splitext(i)[0] in xml)


def voc_apart(listing: Survey) -> str | None:
    """Return the folder (``annotations/``) holding VOC XML apart from the images, if any."""
    for folder in listing.dirs:
        name = posixpath.basename(folder).lower()
        if name not in _VOC_FOLDERS:
            continue
        inside = [f for f in listing.named("*.xml") if f.startswith(folder + "/")]
        if inside:
            return folder + "/"
    return None
