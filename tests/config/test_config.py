"""The config file: every broken config gets its exact lines; good ones resolve fully."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from click.testing import CliRunner

from osai_import.cli import cli
from osai_import.config.file import MAX_NODES, substitute_env
from osai_import.config.models import RunConfig
from osai_import.config.resolve import LoadedConfig, load_config, prepare
from osai_import.errors import ConfigError
from osai_import.plugin.loading import DEFAULT_PLUGINS

# The in-house plugin every config here names, written like a user's own file.
LAYOUT = '''
from pydantic import Field
from osai_import import Annotation, Encoder, ImageRecord, PluginOptions, Reader
from osai_import import ReaderOptions, hookimpl


class Lines(Reader):
    """Read `image label` lines."""

    name = "lines"

    class Options(ReaderOptions):
        separator: str = " "
        skip: int = Field(default=0, ge=0)

    def records(self):
        for number, line in enumerate(self.options.path.read_text().splitlines()):
            image, label = line.split(self.options.separator)
            yield ImageRecord(str(number), self.options.path.parent / image, image, label)


class Text(Encoder):
    """Encode the label as text."""

    name = "text"

    def encode(self, record):
        return Annotation(5, (record.category or "").encode())


@hookimpl
def register_readers(register):
    register(Lines)


@hookimpl
def register_encoders(register):
    register(Text)
'''

GOOD = (
    "dataset: {name: d}\n"
    "source: {type: lines, path: list.txt}\n"
    "annotations: {type: text}\n"
    "plugins: [./layout.py]\n"
)
UPLOAD_KEYS = ("workers, chunk_images, chunk_bytes, retries, backoff, max_backoff, on_problem, "
               "journal, skip_unsupported, wait_locked")
TOP_KEYS = "server, dataset, source, annotations, check, upload, plugins"


@pytest.fixture(autouse=True)
def only_our_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    """Leave out the built-ins and whatever is installed: messages list known names."""
    installed = [ep.name for ep in metadata.entry_points(group="osai_import")]
    short = [m.rsplit(".", 1)[-1] for m in DEFAULT_PLUGINS]
    monkeypatch.setenv("OSAI_IMPORT_DISABLE_PLUGINS", ",".join([*short, *installed]))
    monkeypatch.delenv("OSAI_IMPORT_STRICT_PLUGINS", raising=False)
    monkeypatch.delenv("OSAI_TEST_MISSING", raising=False)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A folder holding the in-house plugin and an empty list file."""
    (tmp_path / "layout.py").write_text(LAYOUT)
    for name in ("list.txt", "a.txt", "b.txt"):
        (tmp_path / name).write_text("")
    return tmp_path


def with_good(**sections: str) -> str:
    """Return GOOD with whole top-level lines replaced or added."""
    lines = {line.split(":")[0]: line for line in GOOD.splitlines()}
    lines.update(sections)
    return "\n".join(v for v in lines.values() if v) + "\n"


# (case id, file content, expected lines; {path} is the config file as given)
BROKEN: list[tuple[str, str | bytes, list[str]]] = [
    ("unknown top-level key", with_good(uplod="uplod: {workers: 2}"), [
        f"uplod: unknown key; did you mean 'upload'? (allowed: {TOP_KEYS})"]),
    ("wrong type", with_good(upload="upload: {workers: many}"), [
        "upload.workers: expected an integer, got 'many'"]),
    ("out of range", with_good(upload="upload: {workers: 0, chunk_images: 301}"), [
        "upload.workers: must be at least 1, got 0",
        "upload.chunk_images: must be at most 300, got 301"]),
    ("missing dataset", with_good(dataset=""), ["dataset: missing; this section is required"]),
    ("dataset without name or id", with_good(dataset="dataset: {}"), [
        "dataset: give the dataset a `name` (created on first run) or an `id`"]),
    ("dataset with name and id", with_good(dataset="dataset: {name: d, id: 4}"), [
        "dataset: give either `name` (a dataset this config creates) or `id` (an existing "
        "dataset), not both"]),
    ("both url and region", with_good(server="server: {url: 'https://x.example/api', region: eu}"),
     ["server: give either `url` or `region`, not both"]),
    ("bad url", with_good(server="server: {url: 'ftp://files.example/api'}"), [
        "server.url: 'ftp://files.example/api' is neither `local` nor an http(s) URL such as "
        "https://app-eu.onestepai.com/api"]),
    ("url with a password", with_good(server="server: {url: 'https://me:pw@x.example/api'}"), [
        "server.url: must not contain a user name or password; export the token in the "
        "variable named by `token_env` instead"]),
    ("unknown reader type", with_good(source="source: {type: line, path: list.txt}"), [
        "source.type: unknown reader 'line'; did you mean 'lines'? (installed: lines); install the "
        "plugin that provides it or list its file under `plugins:`"]),
    ("a reader of a package that is not installed", with_good(
        source="source: {type: yolo, path: list.txt}"), [
        "source.type: the reader 'yolo' is not installed (installed: lines); it comes with the "
        "package osai-import-yolo: `pip install osai-import-yolo` (from a checkout of "
        "osai-import: `pip install ./plugins/osai-import-yolo`)"]),
    ("unknown reader option", with_good(source="source: {type: lines, path: list.txt, sep: ','}"),
     ["source.sep: unknown key; did you mean 'separator'? (allowed: path, separator, skip, label, "
      "storage_options, type)"]),
    ("bad reader option value", with_good(source="source: {type: lines, path: list.txt, skip: -1}"),
     ["source.skip: must be at least 0, got -1"]),
    ("reader path missing", with_good(source="source: {type: lines}"), [
        "source.path: missing; this key is required"]),
    ("source without type", with_good(source="source: {path: list.txt}"), [
        "source.type: missing; this key is required"]),
    ("source as a string", with_good(source="source: lines"), [
        "source: expected a mapping (`key: value` lines) or a list, got 'lines'"]),
    ("unknown encoder", with_good(annotations="annotations: {type: txt}"), [
        "annotations.type: unknown encoder 'txt'; did you mean 'text'? (installed: text); install "
        "the plugin that provides it or list its file under `plugins:`"]),
    ("missing env var", with_good(dataset="dataset: {name: '${OSAI_TEST_MISSING}'}"), [
        "dataset.name: environment variable OSAI_TEST_MISSING is not set; export it, or write "
        "${OSAI_TEST_MISSING:-default} to give a default"]),
    ("bad env reference", with_good(dataset="dataset: {name: 'x-${1X}'}"), [
        "dataset.name: ${1X} is not a valid variable reference; write ${NAME} or "
        "${NAME:-default}, or $${ for a literal ${"]),
    ("invalid YAML", GOOD + "upload:\n  workers: 2\n   retries: 3\n", [
        "{path}:7:11: invalid YAML: mapping values are not allowed here"]),
    ("env var in a flow mapping", "dataset: {name: ${X}}\n", [
        "{path}:1:18: invalid YAML: expected ',' or '}', but got '{'; put values holding "
        "${VAR} in quotes inside { } mappings"]),
    ("duplicate key", GOOD + "upload: {workers: 2}\nupload: {workers: 3}\n", [
        "{path}:6:1: invalid YAML: key 'upload' is given twice (first on line 5); keep one"]),
    ("empty file", "", [
        "{path}: the config must be a mapping with at least `dataset:` and `source:` sections, "
        "got an empty file"]),
    ("only comments", "# dataset: {name: d}\n", [
        "{path}: the config must be a mapping with at least `dataset:` and `source:` sections, "
        "got an empty file"]),
    ("top level is a list", "- dataset\n- source\n", [
        "{path}: the config must be a mapping with at least `dataset:` and `source:` sections, "
        "got a list"]),
    ("not UTF-8", GOOD.encode() + b"# caf\xe9\n", [
        "{path}:5:6: the config is not UTF-8 text (byte 0xe9); save it as UTF-8"]),
    ("bad token_env", with_good(server="server: {token_env: MY-TOKEN}"), [
        "server.token_env: this is not an environment variable name (letters, digits and "
        "_, not starting with a digit); name the variable that holds the token, e.g. "
        "OSAI_TOKEN, never the token itself"]),
    ("token in the config", with_good(server="server: {token: abc123}"), [
        "server.token: unknown key; secrets never go in the config: export the token in the "
        "environment variable named by server.token_env (default OSAI_TOKEN) (allowed: url, "
        "region, token_env, data, timeout)"]),
    ("bad policy", with_good(check="check: {boxes_outside: shrink}"), [
        "check.boxes_outside: must be one of 'clip', 'drop' or 'error', got 'shrink'"]),
    ("number as a name", with_good(dataset="dataset: {name: 2024}"), [
        "dataset.name: expected a string, got 2024; put it in quotes to make it text"]),
    ("list as an id", with_good(dataset="dataset: {id: [1, 2]}"), [
        "dataset.id: expected an integer or a string, got a list [1, 2]"]),
    ("boolean as an id", with_good(dataset="dataset: {id: yes}"), [
        "dataset.id: expected an integer or a string, got true"]),
    ("plugins not a list", with_good(plugins="plugins: ./layout.py"), [
        "plugins: expected a list, got './layout.py'"]),
    ("missing plugin file", with_good(plugins="plugins: [./layout.py, ./other.py]"), [
        "plugins.1: plugin file {dir}/other.py does not exist; fix the path (relative paths "
        "start at the config's folder)"]),
    ("alias bomb", "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{n}: &{n} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, n in zip("abcdef", "bcdefg", strict=False)), [
        f"{{path}}: the config expands to more than {MAX_NODES} values (YAML aliases repeated "
        "inside each other?); write it out plainly"]),
    ("alias loop", "dataset: &a [*a]\n", [
        "{path}: a YAML alias refers to itself; remove the loop"]),
    ("nested too deeply", "dataset: " + "[" * 3000 + "]" * 3000 + "\n", [
        "{path}: the config nests too deeply; no config needs to"]),
    ("python tag", "dataset: !!python/object/apply:os.system [ls]\n", [
        "{path}:1:10: invalid YAML: could not determine a constructor for the tag "
        "'tag:yaml.org,2002:python/object/apply:os.system'"]),
    ("infinite number", with_good(upload="upload: {max_backoff: .inf, backoff: .nan}"), [
        "upload.backoff: expected a finite number, got nan",
        "upload.max_backoff: expected a finite number, got inf"]),
    ("too large", GOOD + "# " + "x" * 1_000_000 + "\n", [
        "{path}: the config is larger than 1000000 bytes; a config describes a dataset, it "
        "does not hold it"]),
    ("a source path that does not exist", with_good(
        source="source: {type: lines, path: gone/list.txt}"), [
        "source.path: {dir}/gone/list.txt does not exist; fix the path (a relative path is "
        "relative to the config file's folder, {dir})"]),
    ("a listed source whose path does not exist", with_good(
        source="source: [{type: lines, path: a.txt}, {type: lines, path: c.txt}]"), [
        "source.1.path: {dir}/c.txt does not exist; fix the path (a relative path is "
        "relative to the config file's folder, {dir})"]),
    ("a listed source with an unknown key", with_good(
        source="source: [{type: lines, path: a.txt}, {type: lines, path: b.txt, sep: ','}]"), [
        "source.1.sep: unknown key; did you mean 'separator'? (allowed: path, separator, skip, "
        "label, storage_options, type)"]),
    ("a listed source without type", with_good(
        source="source: [{type: lines, path: a.txt}, {path: b.txt}]"), [
        "source.1.type: missing; this key is required"]),
    ("two sources with one label", with_good(
        source="source: [{type: lines, path: a.txt, label: x}, {type: lines, path: b.txt, "
               "label: x}]"), [
        "source: two sources have the label 'x'; give each its own"]),
    ("an empty list of sources", with_good(source="source: []"), [
        "source: list at least one source"]),
    ("everything at once", with_good(
        uplod="uplod: 1", upload="upload: {workers: 0}",
        source="source: {type: lines, path: list.txt, sep: ','}"), [
        "source.sep: unknown key; did you mean 'separator'? (allowed: path, separator, skip, "
        "label, storage_options, type)",
        "upload.workers: must be at least 1, got 0",
        f"uplod: unknown key; did you mean 'upload'? (allowed: {TOP_KEYS})"]),
]


def _expected(lines: list[str], config: Path) -> list[str]:
    return [line.replace("{path}", str(config)).replace("{dir}", str(config.parent))
            for line in lines]


def _write(project: Path, content: str | bytes) -> Path:
    config = project / "bad.yaml"
    if isinstance(content, bytes):
        config.write_bytes(content)
    else:
        config.write_text(content, encoding="utf-8")
    return config


@pytest.mark.parametrize(("content", "expected"), [c[1:] for c in BROKEN],
                         ids=[c[0] for c in BROKEN])
def test_broken_config_gives_its_exact_lines(
    project: Path, content: str | bytes, expected: list[str]
) -> None:
    config = _write(project, content)
    with pytest.raises(ConfigError) as caught:
        prepare(config)
    assert caught.value.lines == _expected(expected, config)
    assert str(caught.value) == "\n".join(caught.value.lines)


@pytest.mark.parametrize(("content", "expected"), [c[1:] for c in BROKEN],
                         ids=[c[0] for c in BROKEN])
def test_broken_config_through_the_cli_is_those_lines_on_stderr_and_exit_2(
    project: Path, content: str | bytes, expected: list[str]
) -> None:
    config = _write(project, content)
    result = CliRunner().invoke(cli, ["check", str(config)], prog_name="osai-import")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == "".join(f"{line}\n" for line in _expected(expected, config))


def test_broken_config_in_a_real_process_and_debug_shows_the_traceback(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _write(project, with_good(upload="upload: {workers: many, wokers: 2}"))
    expected = ("upload.workers: expected an integer, got 'many'\n"
                f"upload.wokers: unknown key; did you mean 'workers'? (allowed: {UPLOAD_KEYS})\n")
    monkeypatch.chdir(project.parent)  # the relative plugin path must still be found
    script = Path(sys.executable).parent / "osai-import"
    commands = [[str(script), "check", str(config)],
                [sys.executable, "-m", "osai_import", "--debug", "check", str(config)]]
    plain, debug = (subprocess.run(c, capture_output=True, text=True, timeout=60, check=False)
                    for c in commands)
    assert (plain.returncode, plain.stdout, plain.stderr) == (2, "", expected)
    assert debug.returncode == 2
    assert debug.stderr.startswith("Traceback (most recent call last):")
    assert "osai_import.errors.ConfigError" in debug.stderr
    assert debug.stderr.endswith(expected)


def test_missing_and_folder_config_paths(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as missing:
        load_config(tmp_path / "nope.yaml")
    assert missing.value.lines == [f"{tmp_path / 'nope.yaml'}: no such config file"]
    with pytest.raises(ConfigError) as folder:
        load_config(tmp_path)
    assert folder.value.lines == [f"{tmp_path}: is a folder; give the path of the YAML config file"]


# --- good configs ------------------------------------------------------------------------


def test_relative_paths_resolve_against_the_config_folder_not_the_cwd(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / "conf").mkdir()
    (project / "conf" / "layout.py").write_text(LAYOUT)
    (project / "conf" / "run.yaml").write_text(
        "server: {data: srv}\n"
        "dataset: {name: d}\n"
        "source: {type: lines, path: ../list.txt}\n"
        "annotations: text\n"
        "upload: {journal: state/journal}\n"
        "plugins: [layout.py]\n")
    elsewhere = project / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    resolved, plugins = prepare(Path("../conf/run.yaml"))
    conf = project / "conf"
    assert resolved.loaded.path == conf / "run.yaml"
    assert resolved.loaded.base_dir == conf
    assert resolved.config.server.data == conf / "srv"
    assert resolved.loaded.local_data_dir == conf / "srv"
    assert resolved.loaded.journal_dir == conf / "state" / "journal"
    source_path = resolved.reader_options.path  # type: ignore[attr-defined]
    assert source_path.resolve() == project / "list.txt"
    assert [p.source for p in plugins.info] == [str(conf / "layout.py")]


def test_defaults_of_a_minimal_config(project: Path) -> None:
    config = _write(project, "dataset: {name: d}\nsource: {type: lines, path: list.txt}\n"
                             "annotations: text\nplugins: [layout.py]\nupload:\ncheck:\n")
    loaded = load_config(config)
    server = loaded.config.server
    assert (server.url, server.region, server.is_local, server.base_url) == (
        "local", None, True, None)
    assert server.token_env == "OSAI_TOKEN"
    assert loaded.local_data_dir == project / ".osai-local"
    assert loaded.journal_dir == project / ".osai-import"
    assert loaded.config.upload.workers == 4 and loaded.config.check.boxes_outside == "clip"
    assert loaded.config.annotations.type == "text"
    assert len(loaded.text_hash) == 64


def test_region_and_url_give_the_api_base(project: Path) -> None:
    eu = load_config(_write(project, with_good(server="server: {region: eu}")))
    assert eu.config.server.base_url == "https://app-eu.onestepai.com/api"
    server = "server: {url: 'http://10.0.0.2:8080/api/'}"
    url = load_config(_write(project, with_good(server=server)))
    assert url.config.server.base_url == "http://10.0.0.2:8080/api"
    assert not url.config.server.is_local


def test_env_vars_defaults_and_escapes(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OSAI_TEST_NAME", "birds")
    monkeypatch.setenv("OSAI_TEST_WORKERS", "8")
    monkeypatch.setenv("OSAI_TEST_EMPTY", "")
    config = _write(project, with_good(
        dataset="dataset:\n  name: ${OSAI_TEST_NAME}-${OSAI_TEST_MISSING:-v1}"
                "-${OSAI_TEST_EMPTY:-x}",
        upload="upload:\n  workers: ${OSAI_TEST_WORKERS}",
        source="source:\n  type: lines\n  path: list.txt\n  separator: '$${OSAI_TEST_NAME}'"))
    resolved, _ = prepare(config)
    assert resolved.config.dataset.name == "birds-v1-x"
    assert resolved.config.upload.workers == 8
    assert resolved.reader_options.separator == "${OSAI_TEST_NAME}"  # type: ignore[attr-defined]


def test_substitute_env_names_every_missing_variable_with_its_path() -> None:
    with pytest.raises(ConfigError) as caught:
        substitute_env({"a": ["${OSAI_TEST_MISSING}"], "b": {"c": "${OSAI_TEST_MISSING2}"}})
    assert [line.split(";")[0] for line in caught.value.lines] == [
        "a.0: environment variable OSAI_TEST_MISSING is not set",
        "b.c: environment variable OSAI_TEST_MISSING2 is not set",
    ]
    assert substitute_env({"k": "${no closing", 3: 4}) == {"k": "${no closing", 3: 4}


def test_bom_and_yaml_merge_keys_are_accepted(project: Path) -> None:
    text = with_good(upload="upload:\n  <<: {workers: 2, retries: 1}\n  workers: 3")
    config = project / "bom.yaml"
    config.write_bytes(b"\xef\xbb\xbf" + text.encode())
    loaded = load_config(config)
    assert (loaded.config.upload.workers, loaded.config.upload.retries) == (3, 1)


def test_run_config_shape_is_the_documented_one() -> None:
    assert list(RunConfig.model_fields) == [
        "server", "dataset", "source", "annotations", "check", "upload", "plugins"]
    assert LoadedConfig.__dataclass_fields__.keys() == {"config", "path", "base_dir", "text_hash"}


def test_a_token_pasted_into_token_env_is_never_echoed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `token_env: ${OSAI_TOKEN}` substitutes the secret itself: the error must not print it.
    monkeypatch.setenv("OSAI_TOKEN", "sk-live-0123456789abcdef")
    path = tmp_path / "c.yaml"
    path.write_text(
        "server: {token_env: '${OSAI_TOKEN}'}\ndataset: {name: d}\nsource: {type: folder, path: .}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "sk-live-0123456789abcdef" not in str(caught.value)
    assert caught.value.lines[0].startswith("server.token_env: this is not an environment")


def test_several_sources_resolve_in_order_with_their_labels(tmp_path: Path) -> None:
    (tmp_path / "layout.py").write_text(LAYOUT)
    for name in ("train.txt", "val.txt"):
        (tmp_path / name).write_text("")
    config = tmp_path / "run.yaml"
    config.write_text(with_good(source=(
        "source: [{type: lines, path: train.txt, label: train}, {type: lines, path: val.txt}]")))
    resolved, _ = prepare(config)
    assert [(s.label, s.options.path) for s in resolved.sources] == [  # type: ignore[attr-defined]
        ("train", tmp_path / "train.txt"), ("val.txt", tmp_path / "val.txt")]


def test_a_local_only_reader_is_refused_a_path_into_an_archive(tmp_path: Path) -> None:
    import zipfile

    (tmp_path / "layout.py").write_text(LAYOUT)
    with zipfile.ZipFile(tmp_path / "data.zip", "w") as out:
        out.writestr("list.txt", "a.jpg cat\n")
    config = tmp_path / "run.yaml"
    config.write_text(with_good(source="source: {type: lines, path: data.zip/list.txt}"))
    with pytest.raises(ConfigError) as caught:
        prepare(config)
    assert caught.value.lines == [
        f"source.path: {tmp_path / 'data.zip'}/list.txt is in an archive or a bucket, and the "
        "reader 'lines' (plugin 'layout') reads only local files; extract or copy the files to "
        "a local folder, or ask its author to read through osai_import.SourcePath "
        "(Reader.any_storage)"]
