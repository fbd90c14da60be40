"""Which folders of a VOC-like export hold the annotations and the images.

Tools other than the devkit rename VOC's folders (``annotations/`` + ``images/``, ``xml/``
+ ``imgs/``) or leave each XML beside its image (LabelImg). The reader's messages and
``detect`` both guess the roles from what each folder holds: ``roles`` is that guess,
from counts of ``.xml`` files and images per folder (``"."`` is the folder itself).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

ANNOTATION_NAMES = ("Annotations", "annotations", "Annotation", "annotation", "xml", "xmls",
                    "labels", "Labels", "voc", "VOC")
IMAGE_NAMES = ("JPEGImages", "images", "Images", "imgs", "img", "jpg", "jpeg", "photos",
               "pictures")
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})
# VOC's segmentation masks are PNG files named like the images: never the images' folder.
NOT_IMAGES = frozenset({"SegmentationClass", "SegmentationObject", "SegmentationClassAug",
                        "masks", "Masks"})


@dataclass(frozen=True)
class Held:
    """What a folder holds: how many ``.xml`` files and how many images."""

    xml: int
    images: int


def count(names: list[str]) -> Held:
    """Return what a folder of these file names holds."""
    suffixes = [os.path.splitext(n)[1].lower() for n in names if not n.startswith(".")]
    return Held(suffixes.count(".xml"), sum(s in IMAGE_SUFFIXES for s in suffixes))


def roles(folders: Mapping[str, Held]) -> tuple[str | None, str | None]:
    """Return the folders (keys of ``folders``) that hold the annotations and the images.

    A folder known by its name (``annotations``, ``images``) comes first, then the one
    holding most; the images may be in the annotations' own folder (LabelImg).
    """
    def pick(known: tuple[str, ...], amount: dict[str, int]) -> str | None:
        held = [name for name, n in amount.items() if n > 0]
        if not held:
            return None
        return min(held, key=lambda n: (n not in known, -amount[n], n))

    annotations = pick(ANNOTATION_NAMES, {k: v.xml for k, v in folders.items()})
    images = pick(IMAGE_NAMES, {k: v.images for k, v in folders.items() if k not in NOT_IMAGES})
    return annotations, images


def suggestion(folders: Mapping[str, Held], annotations: str, images: str) -> str:
    """Return the options to set (``annotations: x``, ``images: y``), or ``""`` for none.

    ``annotations`` and ``images`` are the current option values; only what differs from
    them, and is found in ``folders``, is suggested.
    """
    found_annotations, found_images = roles(folders)
    parts = []
    if found_annotations is not None and found_annotations != annotations:
        held = folders[found_annotations].xml
        parts.append((f"source.annotations: {found_annotations}",
                      f"{_shown(found_annotations)} holds {held} .xml file(s)"))
    if found_images is not None and found_images != images:
        held = folders[found_images].images
        parts.append((f"source.images: {found_images}",
                      f"{_shown(found_images)} holds {held} image(s)"))
    if not parts:
        return ""
    if found_annotations == found_images and len(parts) == 2:
        both = folders[found_annotations or "."]
        return (f"{_shown(found_annotations or '.')} holds {both.xml} .xml file(s) and "
                f"{both.images} image(s): set "
                + " and ".join(option for option, _why in parts))
    return (" and ".join(why for _set, why in parts) + ": set "
            + " and ".join(option for option, _why in parts))


def _shown(folder: str) -> str:
    return "the folder itself" if folder == "." else f"{folder}/"
