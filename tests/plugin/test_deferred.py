"""Deferred classes: registered by where they live, imported only when first used."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from importlib import metadata
from pathlib import Path

import pytest

from osai_import import defer
from osai_import.errors import RegistryError
from osai_import.plugin.loading import PluginLoadWarning
from osai_import.plugin.manager import Plugins, build_plugins
from tests.dists import on_path, write_dist

ROOT = Path(__file__).resolve().parents[2]

HOOKS = '''
from osai_import import defer, hookimpl

@hookimpl
def register_readers(register):
    register(defer({name!r}, {target!r}))
'''

READER = '''
from osai_import import ImageRecord, Reader

class LazyReader(Reader):
    """A reader imported only when a config names it."""

    name = {name!r}

    def records(self):
        return iter(())
'''


@pytest.fixture(autouse=True)
def only_these_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    """Leave the installed plugins out: each test installs its own distribution."""
    monkeypatch.delenv("OSAI_IMPORT_STRICT_PLUGINS", raising=False)
    installed = [ep.name for ep in metadata.entry_points(group="osai_import")]
    monkeypatch.setenv("OSAI_IMPORT_DISABLE_PLUGINS", ",".join(installed))


def _dist(tmp_path: Path, package: str, name: str, target: str, *,
          class_name: str | None = None) -> Path:
    """Write a distribution whose hook module defers ``name`` to ``target``."""
    modules = {f"{package}_hooks": HOOKS.format(name=name, target=target),
               f"{package}_reader": READER.format(name=class_name or name)}
    return write_dist(tmp_path / package, f"osai-import-{package}", "1.0",
                      {package: f"{package}_hooks"}, modules)


def _build() -> tuple[Plugins, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plugins = build_plugins()
    return plugins, [str(w.message) for w in caught if issubclass(w.category, PluginLoadWarning)]


def test_a_deferred_reader_is_imported_only_when_it_is_asked_for(tmp_path: Path) -> None:
    site = _dist(tmp_path, "lazya", "lazya", "lazya_reader:LazyReader")
    with on_path(site):
        plugins, problems = _build()
        assert problems == []
        assert "lazya" in plugins.readers.names()
        assert "lazya_reader" not in sys.modules
        entry = plugins.readers.get("lazya")
        assert "lazya_reader" not in sys.modules  # the entry alone imports nothing
        assert entry.deferred
        cls = entry.cls
        assert "lazya_reader" in sys.modules
        assert cls.name == "lazya" and cls.__name__ == "LazyReader"
        assert not entry.deferred and entry.cls is cls
        assert [row["description"] for row in plugins.listing("readers")
                if row["name"] == "lazya"] == ["A reader imported only when a config names it."]


def test_a_deferred_reader_that_cannot_be_imported_is_named_when_used(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = _dist(tmp_path, "lazyb", "lazyb", "lazyb_missing:LazyReader")
    with on_path(site):
        plugins, problems = _build()
        assert problems == []  # start-up does not import it, so it cannot know yet
        with pytest.raises(RegistryError) as caught:
            plugins.readers.get("lazyb").cls  # noqa: B018
        message = str(caught.value)
        assert "plugin 'lazyb'" in message and "lazyb_missing:LazyReader" in message
        assert "ModuleNotFoundError" in message and "OSAI_IMPORT_DISABLE_PLUGINS=lazyb" in message
        # A listing leaves it out with a warning, as it leaves out a plugin that fails.
        with warnings.catch_warnings(record=True) as caught_warnings:
            warnings.simplefilter("always")
            names = [entry.name for entry in plugins.readers]
        assert "lazyb" not in names
        assert any("lazyb_missing" in str(w.message) for w in caught_warnings
                   if issubclass(w.category, PluginLoadWarning))
        monkeypatch.setenv("OSAI_IMPORT_STRICT_PLUGINS", "1")
        with pytest.raises(RegistryError, match="lazyb_missing"):
            list(plugins.readers)


def test_a_deferred_name_must_be_the_class_name(tmp_path: Path) -> None:
    site = _dist(tmp_path, "lazyc", "lazyc", "lazyc_reader:LazyReader", class_name="other")
    with on_path(site):
        plugins, _ = _build()
        with pytest.raises(RegistryError) as caught:
            plugins.readers.get("lazyc").cls  # noqa: B018
        assert "'lazyc'" in str(caught.value) and "'other'" in str(caught.value)


def test_a_deferred_name_registered_twice_stops_start_up(tmp_path: Path) -> None:
    first = _dist(tmp_path, "lazyd", "same", "lazyd_reader:LazyReader")
    second = _dist(tmp_path, "lazye", "same", "lazye_reader:LazyReader")
    with on_path(first, second), pytest.raises(RegistryError) as caught:
        build_plugins()
    message = str(caught.value)
    assert "'same' is registered twice" in message
    assert "lazyd_reader.LazyReader" in message and "lazye_reader.LazyReader" in message


def test_defer_refuses_a_target_that_is_not_module_colon_class() -> None:
    with pytest.raises(ValueError, match=r"package\.module:Class"):
        defer("x", "just_a_module")
    assert defer("x", "pkg.mod:Outer.Inner").target == "pkg.mod:Outer.Inner"


def test_check_imports_no_reader_its_config_does_not_name(tmp_path: Path) -> None:
    """Start-up stays flat: the installed plugins' readers are not imported by `check`."""
    modules = tmp_path / "modules.txt"
    code = (
        "import atexit, sys\n"
        f"atexit.register(lambda: open({str(modules)!r}, 'w').write('\\n'.join(sys.modules)))\n"
        "sys.argv = ['osai-import', 'check', 'configs/quickstart.yaml']\n"
        "from osai_import.cli import main\n"
        "main()\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "OSAI_IMPORT_DISABLE_PLUGINS"}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    loaded = set(modules.read_text().split("\n"))
    installed = {ep.name for ep in metadata.entry_points(group="osai_import")}
    assert {"labelme", "cvat", "labelstudio", "yolo", "voc"} <= installed
    assert "osai_import.default_plugins.folder_reader.reader" in loaded
    for module in ("osai_import_labelme.reader", "osai_import_cvat.reader",
                   "osai_import_labelstudio.reader", "osai_import_yolo.reader",
                   "osai_import_voc.reader", "osai_import.default_plugins.csv_reader.reader",
                   "osai_import.default_plugins.coco_reader.reader",
                   "osai_import.source.archive", "fsspec", "osai_import.emulator.cli"):
        assert module not in loaded, f"{module} imported by a check of a local folder"


def test_lazy_exports_import_each_name_on_first_use(tmp_path: Path) -> None:
    package = tmp_path / "lazypkg"
    package.mkdir()
    (package / "__init__.py").write_text(
        "from osai_import import lazy_exports\n"
        "__getattr__ = lazy_exports(__name__, {'Thing': 'lazypkg.heavy'},\n"
        "                           version_of='osai-import-no-such-distribution')\n")
    (package / "heavy.py").write_text("class Thing:\n    pass\n")
    with on_path(tmp_path):
        import lazypkg  # type: ignore[import-not-found]

        assert "lazypkg.heavy" not in sys.modules
        thing = lazypkg.Thing
        assert "lazypkg.heavy" in sys.modules and thing.__name__ == "Thing"
        assert vars(lazypkg)["Thing"] is thing  # kept: the next lookup is a plain attribute
        assert lazypkg.__version__ == "0+unknown"
        with pytest.raises(AttributeError, match="has no attribute 'Other'"):
            lazypkg.Other  # noqa: B018
