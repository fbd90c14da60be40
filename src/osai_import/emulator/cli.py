"""The ``serve`` command: run the local OSAI-compatible server until Ctrl-C or SIGTERM."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

import click

from osai_import.emulator.cli_variants import variant_options, variants_from
from osai_import.emulator.settings import ENDPOINTS, LOSE_MODES


def _endpoint(text: str, param: click.Parameter | None) -> str:
    """Return the endpoint named ``text`` (any case) or stop with the known names."""
    for name in ENDPOINTS:
        if name.lower() == text.strip().lower():
            return name
    raise click.BadParameter(f"unknown endpoint {text.strip()!r}; known: {', '.join(ENDPOINTS)}",
                             param=param)


def _endpoints(ctx: click.Context, param: click.Parameter, value: str | None) -> frozenset[str]:
    """Parse ``Datasets,Categories`` (or ``all``, or nothing) into endpoint names."""
    if value is None:
        return frozenset()
    if value.strip().lower() == "all":
        return frozenset(ENDPOINTS)
    return frozenset(_endpoint(part, param) for part in value.split(",") if part.strip())


def _counts(ctx: click.Context, param: click.Parameter,
            value: tuple[str, ...]) -> dict[str, int]:
    """Parse repeated ``ENDPOINT`` or ``ENDPOINT=N`` into one-shot counts."""
    counts: dict[str, int] = {}
    for item in value:
        name, _, number = item.partition("=")
        endpoint = _endpoint(name, param)
        try:
            count = int(number) if number.strip() else 1
        except ValueError:
            raise click.BadParameter(f"{item!r}: the count after '=' must be a whole number",
                                     param=param) from None
        counts[endpoint] = counts.get(endpoint, 0) + count
    return counts


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind; keep loopback unless others must reach it.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535),
              help="Port to bind; 0 picks a free one.")
@click.option("--data", "data_dir", default=".osai-local", show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the database and image files; reuse it to keep data.")
@click.option("--token", default=None,
              help="Access token that SignIn accepts; made up and printed when omitted.")
@click.option("--jwt-ttl", default=3600.0, show_default=True, type=click.FloatRange(min=0),
              help="Seconds a bearer token from SignIn stays valid.")
@click.option("--unlock-after", default=300.0, show_default=True, type=click.FloatRange(min=0),
              help="Seconds without an accepted chunk after which a locked dataset unlocks.")
@click.option("--latency-ms", default=0.0, show_default=True, type=click.FloatRange(min=0),
              help="Milliseconds added to every /api request.")
@click.option("--fail-rate", default=0.0, show_default=True, type=click.FloatRange(0, 1),
              help="Share of /api requests answered 503 before doing anything.")
@click.option("--throttle-rate", default=0.0, show_default=True, type=click.FloatRange(0, 1),
              help="Share of /api requests answered 429 with Retry-After.")
@click.option("--lose-rate", default=0.0, show_default=True, type=click.FloatRange(0, 1),
              help="Share of requests to --lose-endpoints whose work is done and whose "
                   "answer is then lost (see --lose-mode).")
@click.option("--lose-endpoints", default="UploadChunk", show_default=True,
              callback=_endpoints, metavar="NAMES",
              help="Comma-separated endpoints --lose-rate applies to (or 'all').")
@click.option("--lose-next", multiple=True, callback=_counts, metavar="ENDPOINT[=N]",
              help="Lose the answers of the next N (1) requests to ENDPOINT whose work is "
                   "done; repeatable.")
@click.option("--lose-mode", type=click.Choice(LOSE_MODES), default="alternate",
              show_default=True,
              help="How answers are lost: a 500, a dropped connection, or each in turn.")
@click.option("--html-rate", default=0.0, show_default=True, type=click.FloatRange(0, 1),
              help="Share of requests to --html-endpoints answered 200 with a proxy's HTML "
                   "page instead of reaching the API.")
@click.option("--html-endpoints", default="all", show_default=True, callback=_endpoints,
              metavar="NAMES", help="Comma-separated endpoints --html-rate applies to.")
@click.option("--html-next", multiple=True, callback=_counts, metavar="ENDPOINT[=N]",
              help="Answer the next N (1) requests to ENDPOINT with a proxy's HTML page; "
                   "repeatable.")
@click.option("--trickle-endpoints", default=None, callback=_endpoints, metavar="NAMES",
              help="Comma-separated endpoints whose answers are sent a byte at a time "
                   "(or 'all').")
@click.option("--trickle-interval", default=0.05, show_default=True,
              type=click.FloatRange(min=0), help="Seconds between the bytes of a trickled answer.")
@click.option("--seed", default=None, type=int,
              help="Seed of the fault generator; the same seed repeats the same faults.")
@click.option("--lock-categories", is_flag=True,
              help="Refuse to create categories while the dataset is locked (stricter than "
                   "OSAI's example client needs).")
@variant_options
@click.option("--quiet", is_flag=True, help="Do not log each request.")
def serve(host: str, port: int, data_dir: Path, token: str | None, jwt_ttl: float,
          unlock_after: float, latency_ms: float, fail_rate: float, throttle_rate: float,
          lose_rate: float, lose_endpoints: frozenset[str], lose_next: dict[str, int],
          lose_mode: str, html_rate: float, html_endpoints: frozenset[str],
          html_next: dict[str, int], trickle_endpoints: frozenset[str],
          trickle_interval: float, seed: int | None, lock_categories: bool,
          quiet: bool, **variants: Any) -> None:
    """Run a local OSAI-compatible server (for trying configs and plugins offline)."""
    if fail_rate + throttle_rate + lose_rate + html_rate > 1:
        raise click.BadParameter(
            "--fail-rate + --throttle-rate + --lose-rate + --html-rate must be at most 1")
    # Imported here: the main CLI imports this command for its help, and werkzeug is slow to load.
    from osai_import.emulator.server import EmulatorSettings, LocalServer

    settings = EmulatorSettings(
        data_dir=data_dir, token=token, jwt_ttl=jwt_ttl, unlock_after=unlock_after,
        latency_ms=latency_ms, fail_rate=fail_rate, throttle_rate=throttle_rate,
        lose_rate=lose_rate, seed=seed, lock_categories=lock_categories,
        lose_endpoints=lose_endpoints, lose_next=lose_next, lose_mode=lose_mode,
        html_rate=html_rate, html_endpoints=html_endpoints, html_next=html_next,
        trickle_endpoints=trickle_endpoints, trickle_interval=trickle_interval,
        variants=variants_from(variants))
    server = LocalServer(settings, host=host, port=port)
    try:
        server.start()
    except OSError as error:
        raise click.ClickException(f"cannot listen on {host}:{port}: {error}") from None
    if not quiet:
        logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
        logging.getLogger("osai_import.emulator").setLevel(logging.INFO)
    click.echo(f"OSAI emulator serving {server.base_url}  (data: {data_dir.resolve()})")
    click.echo(f"access token: {server.token}")
    click.echo("point a config at it with:")
    click.echo(f"    server: {{url: {server.base_url}}}")
    click.echo(f"    export OSAI_TOKEN={server.token}")
    click.echo(f"see what arrived: {server.root_url}/")
    click.echo(f"    as JSON: {server.root_url}/_emulator/datasets")
    click.echo("press Ctrl-C to stop")

    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous = signal.signal(signal.SIGTERM, on_signal)
    try:
        # A timed wait keeps the main thread responsive to Ctrl-C.
        while not stopping.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        click.echo("stopping...")
        server.stop()
        click.echo("stopped")
