"""The plugin-facing commands, through click's runner and as real processes."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from osai_import import __version__
from osai_import.cli import cli
from osai_import.plugin.loading import DEFAULT_PLUGINS
from tests.dists import TESTPLUGIN, env_with, install, on_path, write_dist

# The built-ins are others' work in progress and other plugins may be installed here:
# the tests leave them all out and bring their own.
BUILTINS = [m.rsplit(".", 1)[-1] for m in DEFAULT_PLUGINS]


def installed() -> str:
    """Name the plugins installed in this environment now (others may be installing some)."""
    return ",".join(ep.name for ep in metadata.entry_points(group="osai_import"))


def others() -> str:
    """Name every plugin the tests did not bring: the built-ins and the installed ones."""
    return ",".join([*BUILTINS, installed()])
SCRIPT = Path(sys.executable).parent / "osai-import"
TESTPLUGIN_INFO = {
    "name": "testplugin",
    "kind": "entry point",
    "version": "1.2.3",
    "distribution": "osai-import-testplugin",
    "hooks": ["register_encoders", "register_readers"],
    "source": "osai_import_testplugin",
}
LISTFILE = {
    "name": "listfile",
    "plugin": "testplugin",
    "distribution": "osai-import-testplugin",
    "version": "1.2.3",
    "description": "Read a text file listing one `image-path label` pair per line.",
}
LABELTXT = {
    "name": "labeltxt",
    "plugin": "testplugin",
    "distribution": "osai-import-testplugin",
    "version": "1.2.3",
    "description": "Write the image-level label as a one-line text annotation.",
}


@pytest.fixture(scope="session")
def testplugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Install tests/dists/osai-import-testplugin with pip into a folder of its own."""
    return install(TESTPLUGIN, tmp_path_factory.mktemp("site") / "testplugin")


@pytest.fixture
def broken_site(tmp_path: Path) -> Path:
    """A distribution whose plugin raises when imported."""
    return write_dist(tmp_path / "broken", "osai-import-broken", "0.4.0",
                      {"broken": "osai_import_broken_cli"},
                      {"osai_import_broken_cli": "raise RuntimeError('cannot find libfoo')\n"})


@pytest.fixture
def clashing_site(tmp_path: Path) -> Path:
    """A distribution that registers `listfile`, the name the test plugin registers too."""
    source = (
        "from osai_import import hookimpl\n"
        "from osai_import_testplugin import ListFileReader\n"
        "class Again(ListFileReader):\n    '''Clash.'''\n\n"
        "@hookimpl\ndef register_readers(register):\n    register(Again)\n"
    )
    return write_dist(tmp_path / "clash", "osai-import-clash", "1.0",
                      {"clash": "osai_import_clash_cli"}, {"osai_import_clash_cli": source})


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """A click runner with the built-ins left out (they are others' work in progress)."""
    for name in ("OSAI_IMPORT_STRICT_PLUGINS", "OSAI_IMPORT_TRACE_PLUGINS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OSAI_IMPORT_DISABLE_PLUGINS", others())
    yield CliRunner()


def invoke(runner: CliRunner, *args: str) -> Result:
    """Run the CLI in this process, exceptions left to click (as in production)."""
    return runner.invoke(cli, list(args), prog_name="osai-import")


def run(*args: str, env: dict[str, str], module: bool = False) -> subprocess.CompletedProcess[str]:
    """Run the installed console script (or ``python -m osai_import``) as a process."""
    [done] = run_all([(args, module)], env)
    return done


def run_all(
    commands: list[tuple[tuple[str, ...], bool]], env: dict[str, str]
) -> list[subprocess.CompletedProcess[str]]:
    """Run several commands at once (each start-up costs half a second); wait for all."""
    started = []
    for args, module in commands:
        prefix = [sys.executable, "-m", "osai_import"] if module else [str(SCRIPT)]
        started.append(subprocess.Popen([*prefix, *args], env=env, text=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    results = []
    for process in started:
        out, err = process.communicate(timeout=60)
        results.append(subprocess.CompletedProcess(process.args, process.returncode, out, err))
    return results


def only_ours(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keep the rows of the test's own plugins (other plugins may be installed)."""
    return [r for r in rows if "testplugin" in (r.get("plugin"), r.get("name"))]


# --- click's runner --------------------------------------------------------------------


def test_version_lists_the_installed_plugin(runner: CliRunner, testplugin_site: Path) -> None:
    with on_path(testplugin_site):
        result = invoke(runner, "--version")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[:2] == [f"osai-import {__version__}", "plugins:"]
    assert "  testplugin (osai-import-testplugin 1.2.3)" in lines[2:]


def test_plugins_json_shows_the_installed_plugin_and_all_adds_builtins(
    runner: CliRunner, testplugin_site: Path
) -> None:
    runner_env = {"OSAI_IMPORT_DISABLE_PLUGINS": installed()}  # the built-ins stay in
    with on_path(testplugin_site):
        plain = invoke(runner, "plugins", "--json")
        everything = runner.invoke(cli, ["plugins", "--all", "--json"], env=runner_env)
        text = invoke(runner, "plugins")
    assert plain.exit_code == 0 and everything.exit_code == 0
    rows = json.loads(plain.stdout)
    assert only_ours(rows) == [TESTPLUGIN_INFO]
    assert all(r["kind"] != "builtin" for r in rows)
    all_rows = json.loads(everything.stdout)
    assert [r["name"] for r in all_rows if r["kind"] == "builtin"] == list(DEFAULT_PLUGINS)
    assert TESTPLUGIN_INFO in all_rows
    assert ("testplugin 1.2.3 [osai-import-testplugin] (entry point): register_encoders, "
            "register_readers") in text.stdout.splitlines()


def test_plugins_without_third_party_ones_says_so(runner: CliRunner) -> None:
    result = invoke(runner, "plugins")
    as_json = invoke(runner, "plugins", "--json")
    assert result.exit_code == 0 and as_json.exit_code == 0
    assert result.stdout == "no third-party plugins installed (--all shows the built-in ones)\n"
    assert json.loads(as_json.stdout) == []
    version = invoke(runner, "--version")
    assert version.stdout == f"osai-import {__version__}\nplugins: none installed\n"


def test_readers_and_encoders_list_the_installed_plugin(
    runner: CliRunner, testplugin_site: Path
) -> None:
    with on_path(testplugin_site):
        readers = invoke(runner, "readers", "--json")
        encoders = invoke(runner, "encoders", "--json")
        text = invoke(runner, "readers")
    assert (readers.exit_code, encoders.exit_code, text.exit_code) == (0, 0, 0)
    assert only_ours(json.loads(readers.stdout)) == [LISTFILE]
    assert only_ours(json.loads(encoders.stdout)) == [LABELTXT]
    [line] = [x for x in text.stdout.splitlines() if x.startswith("listfile ")]
    assert line.split() == ["listfile", *LISTFILE["description"].split(), "[testplugin", "1.2.3]"]
    assert readers.stderr == "" and encoders.stderr == ""


def test_broken_plugin_is_a_warning_line_and_the_command_goes_on(
    runner: CliRunner, broken_site: Path, testplugin_site: Path
) -> None:
    with on_path(broken_site, testplugin_site):
        result = invoke(runner, "readers", "--json")
    assert result.exit_code == 0
    assert LISTFILE in json.loads(result.stdout)
    [warning] = [x for x in result.stderr.splitlines() if "broken" in x]
    assert warning.startswith("warning: plugin 'broken' (distribution osai-import-broken "
                              "0.4.0) failed to load: RuntimeError: cannot find libfoo (at ")
    assert warning.endswith("or skip it with OSAI_IMPORT_DISABLE_PLUGINS=broken")


def test_strict_mode_turns_the_broken_plugin_into_exit_2_and_one_line(
    runner: CliRunner, broken_site: Path
) -> None:
    with on_path(broken_site):
        result = runner.invoke(cli, ["readers"], env={"OSAI_IMPORT_STRICT_PLUGINS": "1"})
        debug = runner.invoke(cli, ["--debug", "readers"], env={"OSAI_IMPORT_STRICT_PLUGINS": "1"})
    assert result.exit_code == 2 and result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("error: plugin 'broken' (distribution osai-import-broken 0.4.0) "
                           "failed to load: RuntimeError: cannot find libfoo")
    assert debug.exit_code == 2
    assert "Traceback (most recent call last)" in debug.stderr
    assert debug.stderr.rstrip().endswith(line)


def test_duplicate_names_stop_with_one_line_naming_both_plugins(
    runner: CliRunner, testplugin_site: Path, clashing_site: Path
) -> None:
    with on_path(testplugin_site, clashing_site):
        result = invoke(runner, "readers")
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("error: reader name 'listfile' is registered twice: by plugin ")
    assert "plugin 'clash' (osai_import_clash_cli.Again)" in line
    assert "plugin 'testplugin' (osai_import_testplugin.ListFileReader)" in line


def _resolve_refs(node: Any, defs: dict[str, Any]) -> int:
    """Check that every $ref points into $defs; return how many there are."""
    count = 0
    if isinstance(node, dict):
        ref = node.get("$ref")
        if ref is not None:
            assert ref.startswith("#/$defs/") and ref[len("#/$defs/"):] in defs, ref
            count += 1
        count += sum(_resolve_refs(v, defs) for v in node.values())
    elif isinstance(node, list):
        count += sum(_resolve_refs(v, defs) for v in node)
    return count


def test_schema_is_json_schema_with_every_registered_reader(
    runner: CliRunner, testplugin_site: Path
) -> None:
    runner_env = {"OSAI_IMPORT_DISABLE_PLUGINS": installed()}  # built-ins in: every reader
    with on_path(testplugin_site):
        result = runner.invoke(cli, ["schema"], env=runner_env)
        readers = runner.invoke(cli, ["readers", "--json"], env=runner_env)
        encoders = runner.invoke(cli, ["encoders", "--json"], env=runner_env)
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    # `source:` is one reader's section, or a list of them.
    assert schema["properties"]["source"]["anyOf"] == [
        {"$ref": "#/$defs/Source"},
        {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/Source"}}]
    variants = schema["$defs"]["Source"]["oneOf"]
    assert all({"label", "storage_options"} <= set(v["properties"]) for v in variants)
    assert [v["properties"]["type"]["const"] for v in variants] == [
        r["name"] for r in json.loads(readers.stdout)]
    encoder_variants = schema["properties"]["annotations"]["oneOf"]
    encoder_names = [r["name"] for r in json.loads(encoders.stdout)]
    assert [v["properties"]["type"]["const"] for v in encoder_variants
            if "properties" in v] == encoder_names
    assert all(v["additionalProperties"] is False and "path" in v["properties"] for v in variants)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    assert schema["required"] == ["dataset", "source"]
    assert list(schema["properties"]) == [
        "server", "dataset", "source", "annotations", "check", "upload", "plugins"]
    assert _resolve_refs(schema, schema["$defs"]) >= 4
    [listfile] = [v for v in variants
                  if v["properties"]["type"] == {"const": "listfile",
                                                 "description": LISTFILE["description"]}]
    assert listfile["required"] == ["type", "path"]
    assert listfile["additionalProperties"] is False
    assert listfile["properties"]["separator"] == {
        "default": " ", "title": "Separator", "type": "string"}
    [labeltxt] = [v for v in encoder_variants if v.get("title") == "encoder labeltxt"]
    assert labeltxt["properties"]["annotation_type"]["type"] == "integer"
    assert {"type": "string", "enum": encoder_names} in encoder_variants  # `annotations: voc`
    upload = schema["$defs"]["UploadConfig"]
    assert upload["additionalProperties"] is False
    assert upload["properties"]["workers"] == {
        "default": 4, "description": "requests in parallel", "maximum": 64, "minimum": 1,
        "title": "Workers", "type": "integer"}
    server = schema["$defs"]["ServerConfig"]["properties"]
    assert server["token_env"]["pattern"] == "^[A-Za-z_][A-Za-z0-9_]*$"


# --- real processes ----------------------------------------------------------------------


def test_console_script_and_module_print_the_version_and_plugin(testplugin_site: Path) -> None:
    env = env_with(testplugin_site, OSAI_IMPORT_DISABLE_PLUGINS=others())
    for done in run_all([(("--version",), False), (("--version",), True)], env):
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines()[0] == f"osai-import {__version__}"
        assert "  testplugin (osai-import-testplugin 1.2.3)" in done.stdout.splitlines()


def test_subprocess_lists_plugins_readers_and_encoders_as_json(testplugin_site: Path) -> None:
    env = env_with(testplugin_site, OSAI_IMPORT_DISABLE_PLUGINS=others())
    plugins, readers, encoders = run_all(
        [(("plugins", "--json"), False), (("readers", "--json"), True),
         (("encoders", "--json"), False)], env)
    assert (plugins.returncode, readers.returncode, encoders.returncode) == (0, 0, 0)
    assert only_ours(json.loads(plugins.stdout)) == [TESTPLUGIN_INFO]
    assert only_ours(json.loads(readers.stdout)) == [LISTFILE]
    assert only_ours(json.loads(encoders.stdout)) == [LABELTXT]


def test_subprocess_errors_are_one_line_exit_2_and_debug_adds_the_traceback(
    broken_site: Path,
) -> None:
    env = env_with(broken_site, OSAI_IMPORT_STRICT_PLUGINS="1",
                   OSAI_IMPORT_DISABLE_PLUGINS=others())
    plain, debug = run_all([(("readers",), False), (("--debug", "schema"), True)], env)
    assert plain.returncode == 2 and plain.stdout == ""
    [line] = plain.stderr.splitlines()
    assert line.startswith("error: plugin 'broken' (distribution osai-import-broken 0.4.0) "
                           "failed to load: RuntimeError: cannot find libfoo")
    assert debug.returncode == 2
    assert debug.stderr.startswith("Traceback (most recent call last):")
    assert debug.stderr.rstrip().splitlines()[-1] == line


def test_subprocess_warning_for_a_broken_plugin_is_one_line(broken_site: Path) -> None:
    env = env_with(broken_site, OSAI_IMPORT_DISABLE_PLUGINS=others())
    done = run("encoders", env=env)
    assert done.returncode == 0
    [warning] = [x for x in done.stderr.splitlines() if "broken" in x]
    assert warning.startswith("warning: plugin 'broken' (distribution osai-import-broken 0.4.0)")
    assert "Traceback" not in done.stderr


def test_disable_env_var_blocks_the_installed_plugin_in_a_process(testplugin_site: Path) -> None:
    env = env_with(testplugin_site,
                   OSAI_IMPORT_DISABLE_PLUGINS=f"{others()},osai-import-testplugin")
    done = run("readers", "--json", env=env)
    assert done.returncode == 0
    assert only_ours(json.loads(done.stdout)) == []
