"""Imports written against the flat layout of 0.1 still work, with a DeprecationWarning."""

from __future__ import annotations

import importlib
import sys

import pytest

import osai_import
from osai_import.check import imageinfo, stream
from osai_import.check.checker import Checker
from osai_import.check.report import write_report
from osai_import.plugin import manager
from osai_import.source import voc


def fresh_import(name: str) -> object:
    """Import ``name`` anew, so that its module-level warning is given again."""
    sys.modules.pop(name, None)
    return importlib.import_module(name)


@pytest.mark.parametrize(
    ("old", "names", "home"),
    [
        ("osai_import.voc", ["parse_voc", "VocAnnotation", "MAX_XML_BYTES"], voc),
        ("osai_import.plugins", ["build_plugins", "DEFAULT_PLUGINS", "Plugins"], manager),
        ("osai_import.imageinfo", ["inspect_image", "file_digest", "ImageInfo"], imageinfo),
    ],
)
def test_former_modules_import_the_same_objects_and_warn(
    old: str, names: list[str], home: object
) -> None:
    with pytest.warns(DeprecationWarning, match=old.replace(".", r"\.")):
        module = fresh_import(old)
    for name in names:
        assert getattr(module, name) is getattr(home, name)


def test_the_former_check_module_names_resolve_with_a_warning() -> None:
    with pytest.warns(DeprecationWarning, match="osai_import.check.Checker is deprecated"):
        from osai_import.check import Checker as old_checker
    assert old_checker is Checker
    with pytest.warns(DeprecationWarning, match="import it from osai_import.check.stream"):
        from osai_import.check import run_check
    assert run_check is stream.run_check
    with pytest.warns(DeprecationWarning):
        from osai_import.check import write_report as old_write_report
    assert old_write_report is write_report


def test_unknown_names_are_still_attribute_errors() -> None:
    import osai_import.check as check

    with pytest.raises(AttributeError, match="no_such_name"):
        check.no_such_name  # noqa: B018 - the lookup is the test
    assert "parse_voc" in osai_import.__all__  # where the deprecation points plugins to
