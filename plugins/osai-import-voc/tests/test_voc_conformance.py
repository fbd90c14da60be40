"""The voc reader against osai-import's reader conformance suite."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from osai_import.testing import BrokenSource, ReaderConformance
from osai_import_voc import VocReader


class TestVocConformance(ReaderConformance):
    reader_class = VocReader

    @pytest.fixture(params=["scanned", "split lists"])
    def reader_options(
        self, request: pytest.FixtureRequest, tmp_path: Path, write_voc: Callable[..., Path]
    ) -> dict[str, Any]:
        lists = {"train": ["a", "b"], "val": ["c", "d"]} if request.param == "split lists" else None
        return {"path": str(write_voc(tmp_path / "voc", lists=lists))}

    @pytest.fixture(params=["malformed", "entity", "no bndbox", "missing image"])
    def broken_source(
        self, request: pytest.FixtureRequest, tmp_path: Path, write_voc: Callable[..., Path]
    ) -> BrokenSource:
        root = write_voc(tmp_path / "broken")
        xml = root / "Annotations" / "b.xml"
        if request.param == "malformed":
            xml.write_text("<annotation><object>", encoding="utf-8")
        elif request.param == "entity":
            xml.write_text(
                '<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><annotation>&x;</annotation>',
                encoding="utf-8",
            )
        elif request.param == "no bndbox":
            xml.write_text(
                "<annotation><object><name>cat</name></object></annotation>", encoding="utf-8"
            )
        else:
            (root / "JPEGImages" / "b.jpg").unlink()
        return BrokenSource({"path": str(root)}, "Annotations/b.xml")
