"""The command line: thin click commands that call the library."""

from __future__ import annotations

import importlib
import json
import logging
import sys
import traceback
import warnings
from pathlib import Path
from typing import Any

import click

from osai_import.errors import EXIT_USAGE, ConfigError, OsaiImportError
from osai_import.version import __version__

# Heavier modules (the plugin manager and with it pydantic, the upload engine, the local
# server) are imported inside the commands that use them, so `--help` and each command load
# only what they need.


def _show_warning(
    message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None
) -> None:
    click.echo(f"warning: {message}", err=True)


# Commands that live with what they start, imported only when asked for (or listed by
# --help): `serve` pulls in the local server and its option tables, which no other
# command needs at start-up.
_LAZY_COMMANDS = {"serve": "osai_import.emulator.cli"}


class _Group(click.Group):
    """A group that turns OsaiImportError into one clear message and an exit code."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        home = _LAZY_COMMANDS.get(cmd_name)
        if home is not None and cmd_name not in self.commands:
            command = getattr(importlib.import_module(home), cmd_name)
            assert isinstance(command, click.Command)
            self.add_command(command)
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except OsaiImportError as exc:
            if (ctx.obj or {}).get("debug"):
                traceback.print_exc()
            if isinstance(exc, ConfigError):
                for line in exc.lines:
                    click.echo(line, err=True)
            else:
                click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from osai_import.plugin.manager import build_plugins

    _setup_warnings()
    try:
        third_party = build_plugins().third_party()
    except OsaiImportError as exc:
        click.echo(f"error: {exc}", err=True)
        ctx.exit(exc.exit_code)
    click.echo(f"osai-import {__version__}")
    if third_party:
        click.echo("plugins:")
        for plugin in third_party:
            dist = f" ({plugin.distribution} {plugin.version})" if plugin.distribution else ""
            click.echo(f"  {plugin.name}{dist}")
    else:
        click.echo("plugins: none installed")
    ctx.exit(0)


def _setup_warnings() -> None:
    from osai_import.plugin.loading import PluginLoadWarning

    warnings.showwarning = _show_warning
    warnings.simplefilter("always", PluginLoadWarning)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
    help="Show the version and the installed plugins, then exit.",
)
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Upload image datasets of any layout to ONESTEP AI (OSAI)."""
    ctx.obj = {"debug": debug}
    _setup_warnings()
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=False))


@cli.command()
@click.option("--all", "show_all", is_flag=True, help="Include the built-in plugins.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def plugins(show_all: bool, as_json: bool) -> None:
    """List the loaded plugins, their versions and the hooks they implement."""
    from osai_import.plugin.manager import build_plugins

    found = build_plugins().info
    shown = [p for p in found if show_all or p.kind != "builtin"]
    if as_json:
        _echo_json([p.to_dict() for p in shown])
        return
    if not shown:
        click.echo("no third-party plugins installed (--all shows the built-in ones)")
    for p in shown:
        version = f" {p.version}" if p.version else ""
        dist = f" [{p.distribution}]" if p.distribution and p.kind != "builtin" else ""
        click.echo(f"{p.name}{version}{dist} ({p.kind}): {', '.join(p.hooks) or 'no hooks'}")


def _list_registry(kind: str, as_json: bool) -> None:
    from osai_import.plugin.manager import build_plugins

    rows = build_plugins().listing(kind)
    if as_json:
        _echo_json(rows)
        return
    width = max((len(r["name"]) for r in rows), default=0)
    for r in rows:
        version = f" {r['version']}" if r.get("version") else ""
        click.echo(f"{r['name']:<{width}}  {r['description']}  [{r['plugin']}{version}]")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def readers(as_json: bool) -> None:
    """List the registered source readers (values of `source.type`)."""
    _list_registry("readers", as_json)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def encoders(as_json: bool) -> None:
    """List the registered annotation encoders (values of `annotations.type`)."""
    _list_registry("encoders", as_json)


@cli.command()
def schema() -> None:
    """Print the JSON Schema of the config file, with every registered reader's options."""
    from osai_import.config.schema import config_schema
    from osai_import.plugin.manager import build_plugins

    _echo_json(config_schema(build_plugins()))


# A file path argument or option (a config, a report): a folder is refused by click.
_FILE = click.Path(dir_okay=False, path_type=Path)


@cli.command()
@click.argument("path")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def detect(ctx: click.Context, path: str, as_json: bool) -> None:
    """Say which installed readers fit PATH (a folder, an archive, a bucket URL), and why."""
    from osai_import.commands import detect_command

    ctx.exit(detect_command(path, as_json))


@cli.command()
@click.argument("path")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("osai-import.yaml"), show_default=True,
              help="The config file to write.")
@click.option("--force", is_flag=True, help="Replace the config file if it exists.")
@click.pass_context
def init(ctx: click.Context, path: str, output: Path, force: bool) -> None:
    """Write a config that uploads PATH to the embedded local server, as detected."""
    from osai_import.commands import init_command

    ctx.exit(init_command(path, output, force, ["osai-import", *sys.argv[1:]]))


@cli.command()
@click.argument("config", type=_FILE)
@click.option("--report", type=_FILE, help="Write a JSON report.")
@click.option(
    "--show", type=click.IntRange(0), metavar="N",
    help="Print the first N messages of each problem code (default 3; 0: none).",
)
@click.pass_context
def check(ctx: click.Context, config: Path, report: Path | None, show: int | None) -> None:
    """Read every record of CONFIG's source and report problems (no network)."""
    from osai_import.commands import check_command

    ctx.exit(check_command(config, report, show))


@cli.command()
@click.argument("config", type=_FILE)
@click.option("-o", "--output", type=_FILE, default=Path("preview.html"), show_default=True,
              help="The HTML file to write (one self-contained file).")
@click.option("--limit", type=click.IntRange(1), default=200, show_default=True, metavar="N",
              help="Show N images at most, sampled by category.")
@click.option("--only-problems", is_flag=True,
              help="Check every image (slower: every image is opened) and show only images "
                   "with a problem.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the sample: the same data and seed give the same images.")
@click.pass_context
def preview(ctx: click.Context, config: Path, output: Path, limit: int, only_problems: bool,
            seed: int) -> None:
    """Write one HTML page showing a sample of CONFIG's images as they will be sent.

    Each image is drawn with the boxes the upload would send, its remote name, category
    and problems, under a summary of the whole source. No network; nothing is sent.
    """
    from osai_import.commands import preview_command

    ctx.exit(preview_command(config, output, limit, only_problems, seed))


@cli.command()
@click.argument("config", type=_FILE)
@click.option("--dry-run", is_flag=True, help="Plan and print what would be sent; send nothing.")
@click.option("--report", type=_FILE, help="Write a JSON report.")
@click.option(
    "--workers", type=click.IntRange(1, 64), help="Parallel uploads (default: upload.workers)."
)
@click.option("--restart", is_flag=True, help="Ignore the journal: start over with a new dataset.")
@click.option(
    "--quiet", is_flag=True, help="No progress; the summary only when something went wrong."
)
@click.option(
    "--show", type=click.IntRange(0), metavar="N",
    help="Print the first N messages of each problem code (default 3; 0: none).",
)
@click.pass_context
def run(
    ctx: click.Context,
    config: Path,
    dry_run: bool,
    report: Path | None,
    workers: int | None,
    restart: bool,
    quiet: bool,
    show: int | None,
) -> None:
    """Upload the dataset CONFIG describes (exit 0 all sent, 1 some not, 2 usage, 3 aborted)."""
    from osai_import.commands import run_command
    from osai_import.run.context import RunOptions

    options = RunOptions(
        dry_run=dry_run, report=report, workers=workers, restart=restart, quiet=quiet,
        show=show,
    )
    ctx.exit(run_command(config, options))


@cli.command()
@click.argument("config", type=_FILE)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--report", type=_FILE, help="Write the JSON report.")
@click.pass_context
def verify(ctx: click.Context, config: Path, as_json: bool, report: Path | None) -> None:
    """Compare what the server holds for CONFIG's dataset with what the journal says was sent.

    Per image: stored or not (and how many times), its bytes' digest, its category and
    its boxes as the source gives them now; images the server holds that the journal
    never sent; sent images whose answer was lost, found or not. Changes nothing. Needs
    a server that can read a dataset back (docs/verify.md).

    \b
    Exit codes:
      0  every image checked, and all match
      1  some image differs, or something could not be checked
      2  usage or config error
      3  the server or the journal cannot be reached or read
      4  the server offers no way to read a dataset back: nothing checked
    """
    from osai_import.commands import verify_command

    ctx.exit(verify_command(config, as_json, report))


@cli.command()
@click.argument("config", type=_FILE)
@click.argument("names", nargs=-1)
@click.option("--all", "resolve_all", is_flag=True, help="Settle every unsettled image.")
@click.pass_context
def resolve(ctx: click.Context, config: Path, names: tuple[str, ...], resolve_all: bool) -> None:
    """Tell the journal you checked images a run listed as possibly duplicated or unconfirmed.

    Look each one up in OSAI's web app first (and delete an extra copy): from then on the
    journal takes each as stored exactly once, and reports stop listing it.
    """
    from osai_import.commands import resolve_command

    ctx.exit(resolve_command(config, names, resolve_all))


def main() -> None:
    """Run the CLI (the console script's entry point)."""
    try:
        cli(prog_name="osai-import")
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        # `osai-import readers | head -1`: quiet, with the status a shell gives a command
        # that SIGPIPE ended (128 + 13), as other command-line tools end.
        from osai_import.commands import stdout_closed

        stdout_closed()
        sys.exit(141)


__all__ = ["EXIT_USAGE", "cli", "main"]
