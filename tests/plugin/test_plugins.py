"""The plugin system: built-ins, real entry points, config-named files, broken plugins."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from pydantic import ConfigDict, Field

from osai_import import (
    Annotation,
    ConfigError,
    Encoder,
    ImageRecord,
    PluginError,
    PluginOptions,
    Reader,
    ReaderOptions,
    hookimpl,
)
from osai_import.config.models import AnnotationsConfig
from osai_import.config.resolve import load_config, prepare, resolve
from osai_import.errors import RegistryError
from osai_import.plugin.loading import DEFAULT_PLUGINS, PluginLoadWarning
from osai_import.plugin.manager import Plugins, build_plugins
from osai_import.plugin.registry import Registry
from tests.dists import TESTPLUGIN, install, on_path, write_dist
from tests.support import make_image

BUILTIN_SHORT = [m.rsplit(".", 1)[-1] for m in DEFAULT_PLUGINS]
OTHERS: list[str] = []  # what each test starts with disabled (set by clean_env)


class LinesReader(Reader):
    """Read `image label` lines from a text file (the in-test plugin's reader)."""

    name = "intest-lines"

    class Options(ReaderOptions):
        label_prefix: str = ""

    def records(self) -> Iterator[ImageRecord]:
        """Yield one record per line."""
        options = self.options
        assert isinstance(options, LinesReader.Options)
        for number, line in enumerate(options.path.read_text().splitlines(), start=1):
            image, label = line.split()
            path = options.path.parent / image
            yield ImageRecord(f"{number}", path, path.name, options.label_prefix + label)


class TextEncoder(Encoder):
    """Encode the image's category as a text annotation (the in-test plugin's encoder)."""

    name = "intest-text"

    class Options(PluginOptions):
        annotation_type: int = Field(default=5, ge=0)

    def encode(self, record: ImageRecord) -> Annotation | None:
        """Return the category as bytes."""
        options = self.options
        assert isinstance(options, TextEncoder.Options)
        return Annotation(options.annotation_type, (record.category or "").encode())


class InTestPlugin:
    """A plugin object registering one reader and one encoder, as a module would."""

    @hookimpl
    def register_readers(self, register: Any) -> None:
        register(LinesReader)

    @hookimpl
    def register_encoders(self, register: Any) -> None:
        register(TextEncoder)


def _reader(name: str, doc: str = "A reader made by a test.") -> type[Reader]:
    namespace = {"name": name, "__doc__": doc, "__module__": __name__}
    return type(name.title().replace("-", ""), (LinesReader,), namespace)


def _plugin(*readers: type[Reader]) -> object:
    class Plugin:
        @hookimpl
        def register_readers(self, register: Any) -> None:
            for cls in readers:
                register(cls)

    return Plugin()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start each test without the developer's OSAI_IMPORT_* settings and other plugins.

    The built-ins are others' work in progress and other plugins may be installed in this
    environment (even while the tests run): tests leave them all out and bring their own.
    """
    for name in ("OSAI_IMPORT_STRICT_PLUGINS", "OSAI_IMPORT_TRACE_PLUGINS"):
        monkeypatch.delenv(name, raising=False)
    installed = [ep.name for ep in metadata.entry_points(group="osai_import")]
    OTHERS[:] = [*BUILTIN_SHORT, *installed]
    monkeypatch.setenv("OSAI_IMPORT_DISABLE_PLUGINS", ",".join(OTHERS))


def disable(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    """Disable ``names`` on top of what the test started with."""
    monkeypatch.setenv("OSAI_IMPORT_DISABLE_PLUGINS", ",".join([*OTHERS, *names]))


def build(**kwargs: Any) -> tuple[Plugins, list[str]]:
    """Build the plugins; return them and the PluginLoadWarning messages given."""
    kwargs.setdefault("entry_points", False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plugins = build_plugins(**kwargs)
    messages = [str(w.message) for w in caught if issubclass(w.category, PluginLoadWarning)]
    assert messages == plugins.problems
    return plugins, messages


@pytest.fixture(scope="session")
def testplugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Install tests/dists/osai-import-testplugin with pip into a folder of its own."""
    return install(TESTPLUGIN, tmp_path_factory.mktemp("site") / "testplugin")


BROKEN_SOURCE = "VALUE = 1\nraise RuntimeError('cannot find libfoo')\n"


@pytest.fixture
def broken_site(tmp_path: Path) -> Path:
    """A distribution whose plugin module raises when imported."""
    return write_dist(tmp_path / "broken", "osai-import-broken", "0.4.0",
                      {"broken": "osai_import_broken_mod"},
                      {"osai_import_broken_mod": BROKEN_SOURCE})


# --- an in-test plugin, end to end through a config ---------------------------------


def test_in_test_plugin_reader_and_encoder_work_through_a_config(tmp_path: Path) -> None:
    make_image(tmp_path / "data" / "a.jpg", 40, 30)
    make_image(tmp_path / "data" / "b.png", 20, 10)
    (tmp_path / "data" / "list.txt").write_text("a.jpg cat\nb.png dog\n")
    config = tmp_path / "run.yaml"
    config.write_text(
        "dataset: {name: pets}\n"
        "source: {type: intest-lines, path: data/list.txt, label_prefix: 'pet-'}\n"
        "annotations: {type: intest-text, annotation_type: 9}\n"
    )
    loaded = load_config(config)
    plugins, messages = build(local=loaded.config.plugins, base_dir=loaded.base_dir,
                              extra=[("intest", InTestPlugin())])
    assert messages == []
    resolved = resolve(loaded, plugins)
    assert resolved.reader_cls is LinesReader and resolved.encoder_cls is TextEncoder
    assert resolved.reader_options == LinesReader.Options(
        path=tmp_path / "data" / "list.txt", label_prefix="pet-")
    records = list(resolved.reader().records())
    assert [(r.name, r.category, r.path) for r in records] == [
        ("a.jpg", "pet-cat", tmp_path / "data" / "a.jpg"),
        ("b.png", "pet-dog", tmp_path / "data" / "b.png"),
    ]
    assert resolved.encoder().encode(records[1]) == Annotation(9, b"pet-dog")
    info = {p.name: p for p in plugins.info}
    assert info["intest"].kind == "extra"
    assert info["intest"].hooks == ["register_encoders", "register_readers"]
    assert plugins.readers.get("intest-lines").plugin == "intest"
    assert plugins.encoders.get("intest-text").description == (
        "Encode the image's category as a text annotation (the in-test plugin's encoder).")


def test_in_test_plugin_options_are_validated(tmp_path: Path) -> None:
    config = tmp_path / "run.yaml"
    config.write_text(
        "dataset: {name: pets}\n"
        "source: {type: intest-lines, path: list.txt, foo: 1, label_prefx: x}\n"
        "annotations: {type: intest-text, annotation_type: -1}\n"
    )
    plugins, _ = build(extra=[("intest", InTestPlugin())])
    with pytest.raises(ConfigError) as caught:
        resolve(load_config(config), plugins)
    assert caught.value.lines == [
        "source.foo: unknown key (allowed: path, label_prefix, label, storage_options, type)",
        "source.label_prefx: unknown key; did you mean 'label_prefix'? "
        "(allowed: path, label_prefix, label, storage_options, type)",
        "annotations.annotation_type: must be at least 0, got -1",
    ]


# --- a real installed distribution ---------------------------------------------------


def test_installed_distribution_is_discovered_through_its_entry_point(
    testplugin_site: Path, tmp_path: Path
) -> None:
    with on_path(testplugin_site):
        plugins, messages = build(entry_points=True)
        assert messages == []
        info = {p.name: p for p in plugins.info}["testplugin"]
        assert (info.kind, info.distribution, info.version, info.source) == (
            "entry point", "osai-import-testplugin", "1.2.3", "osai_import_testplugin")
        assert info.hooks == ["register_encoders", "register_readers"]
        reader = plugins.readers.get("listfile")
        assert reader.plugin == "testplugin"
        assert reader.cls.__module__ == "osai_import_testplugin"
        assert Path(sys.modules["osai_import_testplugin"].__file__ or "").is_relative_to(
            testplugin_site)
        assert plugins.encoders.get("labeltxt").description == (
            "Write the image-level label as a one-line text annotation.")
        # The installed reader runs like any other.
        make_image(tmp_path / "x.jpg")
        (tmp_path / "list.txt").write_text("x.jpg cat\n")
        (tmp_path / "c.yaml").write_text(
            "dataset: {id: 3}\nsource: {type: listfile, path: list.txt}\n"
            "annotations: labeltxt\n")
        resolved, _ = prepare(tmp_path / "c.yaml")
        [record] = resolved.reader().records()
        assert record.category == "cat"
        assert resolved.encoder().encode(record) == Annotation(7, b"cat")
    assert "osai_import_testplugin" not in sys.modules


def test_listing_rows_carry_the_plugin_distribution_and_version(testplugin_site: Path) -> None:
    with on_path(testplugin_site):
        plugins, _ = build(entry_points=True, extra=[("intest", InTestPlugin())])
    assert plugins.listing("readers") == [
        {"name": "intest-lines", "plugin": "intest", "distribution": None, "version": None,
         "description": "Read `image label` lines from a text file (the in-test plugin's "
                        "reader)."},
        {"name": "listfile", "plugin": "testplugin", "distribution": "osai-import-testplugin",
         "version": "1.2.3",
         "description": "Read a text file listing one `image-path label` pair per line."},
    ]
    assert [row["name"] for row in plugins.listing("encoders")] == ["intest-text", "labeltxt"]


def test_entry_points_false_leaves_installed_plugins_out(testplugin_site: Path) -> None:
    with on_path(testplugin_site):
        plugins, _ = build(entry_points=False)
    assert "listfile" not in plugins.readers
    assert plugins.info == []


def test_installed_plugin_is_disabled_by_entry_point_or_distribution_name(
    testplugin_site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with on_path(testplugin_site):
        assert "listfile" in build(entry_points=True)[0].readers
        for name in ("testplugin", "osai-import-testplugin", "OSAI_Import_TestPlugin"):
            disable(monkeypatch, name)
            plugins, messages = build(entry_points=True)
            assert "listfile" not in plugins.readers and messages == []
            assert "testplugin" not in [p.name for p in plugins.info]


# --- broken plugins -----------------------------------------------------------------


def test_broken_plugin_warns_with_its_distribution_and_a_fix_and_the_rest_loads(
    broken_site: Path, testplugin_site: Path
) -> None:
    with on_path(broken_site, testplugin_site):
        plugins, messages = build(entry_points=True)
    assert messages == [
        "plugin 'broken' (distribution osai-import-broken 0.4.0) failed to load: "
        "RuntimeError: cannot find libfoo "
        f"(at {broken_site / 'osai_import_broken_mod.py'}:2); upgrade or reinstall it "
        "(pip install --upgrade --force-reinstall osai-import-broken), uninstall it "
        "(pip uninstall osai-import-broken), or skip it with OSAI_IMPORT_DISABLE_PLUGINS=broken"
    ]
    assert "listfile" in plugins.readers  # the tool goes on with the others
    assert [p.name for p in plugins.info] == ["testplugin"]


def test_strict_mode_makes_a_broken_plugin_fatal(
    broken_site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OSAI_IMPORT_STRICT_PLUGINS", "1")
    with on_path(broken_site), pytest.raises(PluginError) as caught:
        build_plugins()
    assert str(caught.value).startswith(
        "plugin 'broken' (distribution osai-import-broken 0.4.0) failed to load: "
        "RuntimeError: cannot find libfoo")


def test_disabling_a_broken_plugin_silences_it(
    broken_site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    disable(monkeypatch, "broken")
    monkeypatch.setenv("OSAI_IMPORT_STRICT_PLUGINS", "1")
    with on_path(broken_site):
        plugins, messages = build(entry_points=True)
    assert messages == [] and plugins.info == []
    assert "osai_import_broken_mod" not in sys.modules  # never even imported


def test_syntax_error_and_missing_dependency_in_a_plugin_are_named(tmp_path: Path) -> None:
    site = write_dist(tmp_path / "site", "osai-import-bad", "2.0", {
        "syntax": "osai_import_bad_syntax", "needs": "osai_import_bad_needs:plugin"},
        {"osai_import_bad_syntax": "def oops(:\n", "osai_import_bad_needs": "import shapelyx\n"})
    with on_path(site):
        _, messages = build(entry_points=True)
    assert [m.split("; upgrade")[0] for m in messages] == [
        "plugin 'needs' (distribution osai-import-bad 2.0) failed to load: "
        "ModuleNotFoundError: No module named 'shapelyx' "
        f"(at {site / 'osai_import_bad_needs.py'}:1)",
        "plugin 'syntax' (distribution osai-import-bad 2.0) failed to load: "
        f"SyntaxError: invalid syntax (at {site / 'osai_import_bad_syntax.py'}:1)",
    ]


def test_misspelled_hook_is_caught_by_check_pending_and_names_the_plugin() -> None:
    class Typo:
        @hookimpl
        def register_reader(self, register: Any) -> None:
            register(LinesReader)

    plugins, messages = build(extra=[("typo", Typo()), ("intest", InTestPlugin())])
    assert messages == [
        "plugin 'typo' was not loaded: it implements register_reader (did you mean "
        "register_readers?), which osai-import does not define (hooks: register_encoders, "
        "register_readers); fix the function's name"
    ]
    assert [p.name for p in plugins.info] == ["intest"]
    assert plugins.readers.names() == ["intest-lines"]


def test_misspelled_hook_in_strict_mode_is_fatal(monkeypatch: pytest.MonkeyPatch) -> None:
    class Typo:
        @hookimpl
        def register_encoder(self, register: Any) -> None:
            raise AssertionError("never called")

    monkeypatch.setenv("OSAI_IMPORT_STRICT_PLUGINS", "yes")
    with pytest.raises(PluginError, match=r"^plugin 'typo' was not loaded: it implements "
                       r"register_encoder \(did you mean register_encoders\?\)"):
        build_plugins(entry_points=False, extra=[("typo", Typo())])


def test_hook_with_wrong_parameters_and_plugin_without_hooks_are_reported() -> None:
    class WrongArgs:
        @hookimpl
        def register_readers(self, register: Any, config: Any) -> None:
            raise AssertionError("never called")

    class Undecorated:
        def register_readers(self, register: Any) -> None:
            raise AssertionError("never called")

    plugins, messages = build(extra=[("wrongargs", WrongArgs()), ("undecorated", Undecorated())])
    assert messages == [
        "plugin 'wrongargs' was not loaded: its hook register_readers(register, config) asks "
        "for config, which the hook does not pass; write it as register_readers(register)",
        "plugin 'undecorated' implements no osai_import hook; decorate its register_readers "
        "or register_encoders function with @osai_import.hookimpl",
    ]
    assert len(plugins.readers) == 0


def test_a_hook_that_raises_is_left_out_with_a_warning() -> None:
    class Raises:
        @hookimpl
        def register_readers(self, register: Any) -> None:
            register(_reader("early"))
            raise KeyError("boom")

    plugins, messages = build(extra=[("raises", Raises()), ("intest", InTestPlugin())])
    assert len(messages) == 1
    assert messages[0].startswith("plugin 'raises' failed in its register_readers hook: "
                                  "KeyError: 'boom' (at ")
    assert messages[0].endswith("; fix the plugin or skip it with "
                                "OSAI_IMPORT_DISABLE_PLUGINS=raises")
    assert plugins.readers.names() == ["early", "intest-lines"]


@pytest.mark.parametrize(
    ("registered", "expected"),
    [
        (int, "plugin 'bad' registered <class 'int'> as a reader, but it is not a subclass of "
              "osai_import.Reader; fix the plugin's register_readers hook"),
        (type("NoName", (LinesReader,), {"name": ""}),
         "plugin 'bad' registered reader class NoName with name ''; give the class a `name` "
         "of letters, digits, '_', '.' or '-' (for example name = \"my-layout\")"),
        (type("Spaced", (LinesReader,), {"name": "my reader"}),
         "plugin 'bad' registered reader class Spaced with name 'my reader'; give the class a "
         "`name` of letters, digits, '_', '.' or '-' (for example name = \"my-layout\")"),
        (type("Abstract", (Reader,), {"name": "abstract"}),
         "plugin 'bad' registered reader 'abstract' (Abstract), which does not implement "
         "records(); implement it in the class"),
        (type("Loose", (LinesReader,), {"name": "loose", "Options": type(
            "Options", (ReaderOptions,), {"model_config": ConfigDict(extra="allow")})}),
         "plugin 'bad' registered reader 'loose' whose `Options` accept unknown keys; remove "
         "the `extra=` setting so misspelled options are errors"),
        (type("Plain", (LinesReader,), {"name": "plain", "Options": dict}),
         "plugin 'bad' registered reader 'plain' whose `Options` is not a subclass of "
         "osai_import.PluginOptions; derive it from ReaderOptions or PluginOptions"),
    ],
)
def test_invalid_registrations_are_left_out_with_a_warning(registered: Any, expected: str) -> None:
    plugins, messages = build(extra=[("bad", _plugin(registered)), ("intest", InTestPlugin())])
    assert messages == [expected]
    assert plugins.readers.names() == ["intest-lines"]


# --- names ----------------------------------------------------------------------------


def test_duplicate_reader_name_from_two_plugins_names_both() -> None:
    first, second = _reader("same"), _reader("same")
    with pytest.raises(RegistryError) as caught:
        build(extra=[("alpha", _plugin(first)), ("beta", _plugin(second))])
    assert str(caught.value) == (
        "reader name 'same' is registered twice: by plugin 'beta' "
        f"({__name__}.Same) and by plugin 'alpha' ({__name__}.Same); uninstall one of them "
        "or disable it with OSAI_IMPORT_DISABLE_PLUGINS=alpha"
    )


def test_duplicate_name_between_an_installed_plugin_and_another(testplugin_site: Path) -> None:
    class Mine(Encoder):
        """Clash with the installed plugin's encoder."""

        name = "labeltxt"

        def encode(self, record: ImageRecord) -> Annotation | None:
            """Encode nothing."""
            return None

    class Plugin:
        @hookimpl
        def register_encoders(self, register: Any) -> None:
            register(Mine)

    with on_path(testplugin_site), pytest.raises(RegistryError) as caught:
        build(entry_points=True, extra=[("mine", Plugin())])
    message = str(caught.value)
    assert message.startswith("encoder name 'labeltxt' is registered twice: by plugin ")
    assert "plugin 'testplugin' (osai_import_testplugin.LabelTextEncoder)" in message
    assert f"plugin 'mine' ({__name__}." in message


def test_the_same_class_registered_twice_by_one_plugin_is_harmless() -> None:
    plugins, messages = build(extra=[("twice", _plugin(LinesReader, LinesReader))])
    assert plugins.readers.names() == ["intest-lines"] and messages == []


def test_registry_lookup_suggests_close_names() -> None:
    registry: Registry[Reader] = Registry("reader", Reader)
    registry.add(_reader("coco"), "p")
    registry.add(_reader("folder"), "p")
    with pytest.raises(RegistryError) as caught:
        registry.get("coc")
    assert str(caught.value) == (
        "unknown reader 'coc'; did you mean 'coco'? (installed: coco, folder); install the plugin "
        "that provides it or list its file under `plugins:`")
    with pytest.raises(RegistryError, match=r"^unknown reader 'FOLDER'; did you mean 'folder'\?"):
        registry.get("FOLDER")
    empty: Registry[Encoder] = Registry("encoder", Encoder)
    with pytest.raises(RegistryError, match=r"^unknown encoder 'voc' \(no encoders are "
                                            r"registered\); install"):
        empty.get("voc")


def test_description_is_the_class_own_first_docstring_line() -> None:
    registry: Registry[Reader] = Registry("reader", Reader)
    undocumented = type("Bare", (LinesReader,), {"name": "bare", "__doc__": None})
    registry.add(undocumented, "p")
    registry.add(_reader("doc", "First line.\n\nMore text."), "p")
    assert [(e.name, e.description) for e in registry] == [
        ("bare", "Read `image label` lines from a text file (the in-test plugin's reader)."),
        ("doc", "First line."),
    ]
    base_only = type("BaseOnly", (Reader,), {"name": "b", "__doc__": None,
                                              "records": lambda self: iter(())})
    registry.add(base_only, "p")
    assert registry.get("b").description == ""  # not Reader's own docstring


# --- config-named plugins -------------------------------------------------------------

LOCAL_PLUGIN = '''
from osai_import import hookimpl
from tests.plugin.test_plugins import LinesReader

__version__ = "0.9"


class FromFile(LinesReader):
    """A reader from a local plugin file."""

    name = "from-file"


@hookimpl
def register_readers(register):
    register(FromFile)
'''


def test_local_py_plugin_is_found_relative_to_the_config_not_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    (project / "layouts").mkdir(parents=True)
    (project / "layouts" / "my_layout.py").write_text(LOCAL_PLUGIN)
    (project / "list.txt").write_text("")
    (project / "run.yaml").write_text(
        "dataset: {name: d}\nsource: {type: from-file, path: list.txt}\n"
        "annotations: {type: intest-text}\nplugins: [layouts/my_layout.py]\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    loaded = load_config(Path("..") / "project" / "run.yaml")
    plugins, messages = build(local=loaded.config.plugins, base_dir=loaded.base_dir,
                              extra=[("intest", InTestPlugin())])
    assert messages == []
    resolved = resolve(loaded, plugins)
    assert resolved.reader_cls.__name__ == "FromFile"
    assert resolved.reader_options.path == project / "list.txt"  # type: ignore[attr-defined]
    [info] = [p for p in plugins.info if p.kind == "local"]
    assert (info.name, info.version, info.source) == (
        "my_layout", "0.9", str(project / "layouts" / "my_layout.py"))
    assert plugins.readers.get("from-file").plugin == "my_layout"


def test_local_module_name_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "inhouse_layouts").mkdir()
    (tmp_path / "inhouse_layouts" / "__init__.py").write_text("")
    (tmp_path / "inhouse_layouts" / "mine.py").write_text(LOCAL_PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins, messages = build(local=["inhouse_layouts.mine"], base_dir=tmp_path)
    assert messages == []
    assert plugins.readers.get("from-file").plugin == "inhouse_layouts.mine"
    assert [(p.name, p.kind) for p in plugins.info] == [("inhouse_layouts.mine", "local")]


def test_config_named_plugins_that_fail_are_config_errors(tmp_path: Path) -> None:
    (tmp_path / "syntax.py").write_text("def f(:\n")
    (tmp_path / "raises.py").write_text("import os\nraise ValueError('needs $LAYOUT_ROOT')\n")
    (tmp_path / "nohooks.py").write_text("def register_readers(register):\n    pass\n")
    (tmp_path / "typo.py").write_text(
        "from osai_import import hookimpl\n@hookimpl\ndef register_reader(register):\n  pass\n")
    specs = ["missing.py", "syntax.py", "raises.py", "nohooks.py", "typo.py",
             "no_such_module_xyz", "not a module", "sub/dir/"]
    with pytest.raises(ConfigError) as caught:
        build(local=specs, base_dir=tmp_path)
    assert caught.value.lines == [
        f"plugins.0: plugin file {tmp_path / 'missing.py'} does not exist; fix the path "
        "(relative paths start at the config's folder)",
        f"plugins.1: plugin 'syntax.py' failed to load: SyntaxError: invalid syntax "
        f"(at {tmp_path / 'syntax.py'}:1); fix it or remove it from `plugins:`",
        f"plugins.2: plugin 'raises.py' failed to load: ValueError: needs $LAYOUT_ROOT "
        f"(at {tmp_path / 'raises.py'}:2); fix it or remove it from `plugins:`",
        "plugins.3: plugin 'nohooks.py' implements no osai_import hook; decorate its "
        "register_readers or register_encoders function with @osai_import.hookimpl",
        "plugins.4: plugin 'typo.py' was not loaded: it implements register_reader (did you "
        "mean register_readers?), which osai-import does not define (hooks: "
        "register_encoders, register_readers); fix the function's name",
        "plugins.5: no module named 'no_such_module_xyz'; install it, or give the path of a "
        ".py file",
        "plugins.6: 'not a module' is neither a .py file nor a module name",
        f"plugins.7: plugin file {tmp_path / 'sub' / 'dir'} does not exist; fix the path "
        "(relative paths start at the config's folder)",
    ]


def test_two_local_files_with_one_stem_do_not_replace_each_other(tmp_path: Path) -> None:
    for folder, reader in (("a", "one"), ("b", "two")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "layout.py").write_text(
            LOCAL_PLUGIN.replace('"from-file"', f'"{reader}"'))
    with pytest.raises(ConfigError) as caught:
        build(local=["a/layout.py", "b/layout.py"], base_dir=tmp_path)
    assert caught.value.lines == [
        "plugins.1: plugin 'b/layout.py' has the same name as plugin 'layout' loaded before "
        "it; rename one"]


def test_local_plugin_is_disabled_by_its_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "my_layout.py").write_text("raise SystemExit('must not run')\n")
    disable(monkeypatch, "my_layout")
    plugins, _ = build(local=["my_layout.py"], base_dir=tmp_path)
    assert plugins.info == []


# --- built-ins and tracing -----------------------------------------------------------


def test_builtins_are_registered_by_module_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OSAI_IMPORT_DISABLE_PLUGINS", ",".join(OTHERS[len(BUILTIN_SHORT):]))
    plugins, _ = build()
    builtins = [p for p in plugins.info if p.kind == "builtin"]
    assert [p.name for p in builtins] == list(DEFAULT_PLUGINS)
    assert {(p.distribution, p.version) for p in builtins} == {("osai-import", "0.1.0")}
    assert plugins.third_party() == []
    # Only the names are this test's business; the built-ins' behaviour is tested elsewhere.
    assert {"folder", "csv", "coco"} <= set(plugins.readers.names())
    assert {"voc", "none"} <= set(plugins.encoders.names())
    default_encoder = AnnotationsConfig.model_fields["type"].default
    assert default_encoder in plugins.encoders
    monkeypatch.setenv("OSAI_IMPORT_DISABLE_PLUGINS", "folder_reader,"
                       "osai_import.default_plugins.csv_reader")
    names = [p.name for p in build()[0].info]
    assert names == [m for m in DEFAULT_PLUGINS if not m.endswith(("folder_reader", "csv_reader"))]


def test_trace_env_var_prints_hook_calls(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OSAI_IMPORT_TRACE_PLUGINS", "1")
    build(extra=[("intest", InTestPlugin())])
    err = capfd.readouterr().err
    assert "register_readers" in err and "register_encoders" in err
    monkeypatch.delenv("OSAI_IMPORT_TRACE_PLUGINS")
    build(extra=[("intest", InTestPlugin())])
    assert capfd.readouterr().err == ""
