"""Drive one run: plan, sign in, dataset, categories, upload session, chunks, finish, report.

The only module that joins the stages: the check (``check.plan.Planner``) feeds the upload
(``upload.setup``, ``upload.workers``) through ``run.feed``, and every step reads the run's
shared state from one ``RunContext`` and writes what it did into the ``RunReport``.
"""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.markup import escape

from osai_import.check.checker import CheckedItem
from osai_import.check.plan import Planner
from osai_import.config.resolve import ResolvedConfig
from osai_import.errors import CancelledError, LocalFileError, OsaiImportError
from osai_import.run.context import RunContext, RunOptions
from osai_import.run.events import (
    AlreadyUploaded,
    ChunkSent,
    Finished,
    ItemFailed,
    Planned,
    Retrying,
    UploadEvent,
)
from osai_import.run.feed import FeedPlace, PlanWalk, pending_items
from osai_import.run.progress import RetryNotices, UploadProgress
from osai_import.run.report import RunReport
from osai_import.run.stops import stop_signals
from osai_import.run.target import Target, access_token, open_target, server_identity
from osai_import.upload.client import OsaiClient
from osai_import.upload.journal import locked_journal
from osai_import.upload.limits import ChunkLimits
from osai_import.upload.resume import finish_stale_sessions, settle_by_listing
from osai_import.upload.retry import RetryEvent, RetryPolicy
from osai_import.upload.session import UploadSession
from osai_import.upload.setup import (
    CategorySetup,
    create_categories,
    ensure_dataset,
    start_session,
)
from osai_import.upload.uploader import Tally, Uploader
from osai_import.upload.workers import send_all

__all__ = ["RunOptions", "run"]


@contextlib.contextmanager
def _planning_status(console: Console, quiet: bool) -> Iterator[Callable[[str], None] | None]:
    """Show how far the check went, on a terminal; nothing otherwise."""
    if quiet or not console.is_terminal:
        yield None
        return
    with console.status("reading the source...") as status:
        yield status.update


def run(
    resolved: ResolvedConfig, options: RunOptions, console: Console, *,
    token: str | None = None, on_event: Callable[[UploadEvent], None] | None = None,
    handle_signals: bool = True,
) -> RunReport:
    """Run a config end to end and return its report (also written with ``--report``).

    With ``upload.on_problem: skip`` (the default) the upload starts once the source is
    read and its categories are known, while the check of each image still runs: the
    check feeds the upload. With ``stop`` and with ``--dry-run`` the whole check comes
    first. ``token`` replaces the environment's access token; ``on_event`` is told what
    happens (``run.events``), from the upload workers too; ``handle_signals`` installs
    the Ctrl-C and SIGTERM handlers of ``stop_signals`` for the run. Whatever stops the
    run (an OsaiImportError, a KeyboardInterrupt) is caught, the session finished, and
    kept in the report's ``error``; an exception raised by ``on_event`` itself that is
    neither goes up once the session is finished.
    """
    started = time.monotonic()
    config = resolved.config
    # Before any work: a missing token is a usage error.
    token = access_token(resolved, token)
    report = RunReport(
        config=str(resolved.loaded.path),
        config_sha256=resolved.loaded.text_hash,
        server=config.server.base_url or f"local ({resolved.loaded.local_data_dir})",
        dataset_id=config.dataset.id,
        dataset_name=config.dataset.name,
        dry_run=options.dry_run,
    )
    overlap = not options.dry_run and config.upload.on_problem == "skip"
    try:
        with locked_journal(resolved.loaded.journal_dir) as journal, \
                stop_signals(handle_signals), Planner(resolved, journal.folder) as planner:
            ctx = RunContext(resolved, options, console, journal, report, token, on_event)
            try:
                work = _plan(ctx, planner, overlap)
                if work is not None and not _anything_to_send(work):
                    report.notes.append(
                        "nothing to upload: every item has an error (see above), so no "
                        "dataset and no category was created; fix the items and run again")
                    work = None
                if work is not None:
                    with open_target(resolved, token) as target:
                        if target.local_data is not None:
                            report.server = f"local ({target.local_data})"
                        _upload(ctx, target, work)
            finally:
                if overlap:
                    planner.finish()
                    report.apply_plan(planner.plan())
    except KeyboardInterrupt as exc:
        report.aborted = "interrupted; run the same command again to resume"
        report.error = exc
    except OsaiImportError as exc:
        # Whatever stopped the run (server unreachable, sign-in refused, a source that
        # cannot be read, the journal), the report says it with the CLI's exit code.
        report.aborted = str(exc)
        report.aborted_exit_code = exc.exit_code
        report.error = exc
    finally:
        report.durations["total"] = time.monotonic() - started
        if options.report is not None:
            try:
                report.write(options.report)
            except LocalFileError as exc:
                report.report_error = str(exc)
                report.error = report.error or exc
    if on_event is not None:
        on_event(Finished(report))
    return report


@dataclass
class _Work:
    """What an upload sends: the categories to create first, then the checked items."""

    categories: list[str]
    image_categories: set[str]
    checked: Iterator[CheckedItem]
    total: int  # items the progress bar counts to
    replay: bool  # the items were checked before: a refusal now is a failure


def _plan(ctx: RunContext, planner: Planner, overlap: bool) -> _Work | None:
    """Read (and, unless the check overlaps the upload, check) the source; None: send nothing."""
    report = ctx.report
    t0 = time.monotonic()
    with _planning_status(ctx.console, ctx.options.quiet) as status:
        planner.read(None if status is None else
                     lambda n: status(f"reading the source: {n:,} images read"))
        if not overlap:
            for _ in planner.checked(None if status is None else
                                     lambda n: status(f"checking: {n:,} images checked"),
                                     remember=not ctx.options.dry_run):
                pass
            planner.finish()
    report.durations["plan"] = time.monotonic() - t0
    report.read = planner.read_count
    if overlap:
        categories, image_categories = planner.read_categories()
        checked: Iterator[CheckedItem] = planner.checked()
        total = planner.read_count
    else:
        plan = planner.plan()
        report.apply_plan(plan)
        categories, image_categories = plan.categories, plan.image_categories
        checked = planner.replay()
        total = plan.planned
    report.categories = dict.fromkeys(categories)
    if ctx.options.dry_run:
        _dry_walk(ctx, planner)
        return None
    if planner.summary.errors and ctx.config.upload.on_problem == "stop":
        report.warnings.append(
            f"stopped before uploading: {report.skipped} item(s) have errors and "
            f"upload.on_problem is `stop`; fix them or set it to `skip`"
        )
        return None
    return _Work(categories, image_categories, checked, total, replay=not overlap)


_PEEK = 10_000  # failing items held back, at most, while looking for one that passes


def _anything_to_send(work: _Work) -> bool:
    """Tell whether some item passes its check, keeping every item for the upload.

    A run in which every item fails must create nothing on the server (no empty dataset,
    no unused categories). When the check overlaps the upload, the first items are checked
    before anything is created; after a whole check, the plan's count says it.
    Past ``_PEEK`` failures in a row the run goes on as usual: the items held back cost
    memory, and a source that large will have good items further on.
    """
    if work.replay:
        return work.total > 0  # the whole check ran first: the plan knows
    held: list[CheckedItem] = []
    found = False
    for item in work.checked:
        held.append(item)
        if item.ok or len(held) >= _PEEK:
            found = True
            break
    work.checked = itertools.chain(held, work.checked)
    return found


def _dry_walk(ctx: RunContext, planner: Planner) -> None:
    """Count what a run would send and pass over, from the journal alone (nothing written).

    A dataset the journal does not know yet gets everything; one it knows gets what the
    journal does not hold acknowledged with the same bytes and annotation, as a run would.
    """
    config, report = ctx.config, ctx.report
    server = server_identity(ctx.resolved)
    if ctx.options.restart:
        return  # a new dataset: everything goes
    dataset_id = config.dataset.id
    if dataset_id is None and config.dataset.name is not None:
        dataset_id = ctx.journal.dataset_id(server, config.dataset.name)
    if dataset_id is None:
        return
    report.dataset_id = dataset_id
    place = FeedPlace(ctx.journal, server, dataset_id, encoder_identity(ctx.resolved),
                      str(ctx.resolved.loaded.path), run=0, read_only=True)
    walk = PlanWalk()
    planned = planned_bytes = 0
    for item in pending_items(place, planner.replay(), walk):
        planned += 1
        planned_bytes += item.size
    report.planned, report.planned_bytes = planned, planned_bytes
    report.apply_walk(walk)


@dataclass
class _Link:
    """The upload's connection to its server: the target, the client, the session, the tally."""

    target: Target
    client: OsaiClient
    session: UploadSession
    tally: Tally


def _upload(ctx: RunContext, target: Target, work: _Work) -> None:
    """Sign in, set the dataset and its categories up, and send every item in one session."""
    config, report, journal = ctx.config, ctx.report, ctx.journal
    upload = config.upload
    tally = Tally(on_fail=lambda key, code, reason: ctx.emit(ItemFailed(key, code, reason)))
    notices = RetryNotices(ctx.console, not ctx.options.quiet)

    def on_retry(event: RetryEvent) -> None:
        tally.retry(event)
        notices.show(event)
        ctx.emit(Retrying(event.endpoint, event.attempt, event.attempts, event.status,
                          event.reason, event.delay))

    client = OsaiClient(
        target.base_url,
        target.token,
        timeout=config.server.timeout,
        retry=RetryPolicy(attempts=upload.retries + 1, base=upload.backoff, cap=upload.max_backoff),
        pool_size=ctx.workers + 2,
        on_retry=on_retry,
    )
    server = target.identity
    origin = str(ctx.resolved.loaded.path)
    dataset_id = None
    try:
        # Signed in before anything is forgotten: with a wrong token, --restart must not
        # lose the journal of a dataset it could not even reach.
        client.sign_in()
        if ctx.options.restart:
            _forget(ctx, client, server)
        run = journal.start_run(origin)
        dataset_id = ensure_dataset(client, journal, server, config.dataset.name,
                                    config.dataset.id, report.warnings.append)
        report.dataset_id = dataset_id
        finish_stale_sessions(client, journal, server, dataset_id)
        setup = CategorySetup()
        try:
            create_categories(client, journal, server, dataset_id, work.categories,
                              work.image_categories, setup, config.dataset.categories)
        finally:
            report.apply_categories(setup, dataset_id)
        report.categories = dict(sorted(setup.ids.items()))
        # Where the server lists its images, what earlier runs could not know is settled
        # before anything is sent again.
        settle_by_listing(client, journal, server, dataset_id)
        session = UploadSession(client, journal, server, dataset_id)
        place = FeedPlace(journal, server, dataset_id, encoder_identity(ctx.resolved), origin, run)
        t0 = time.monotonic()
        try:
            _send(ctx, _Link(target, client, session, tally), work, setup.ids, place,
                  setup.renamed)
        finally:
            report.durations["upload"] = time.monotonic() - t0
            try:
                session.finish()
                _settle_at_the_end(ctx, client, server, dataset_id)
            finally:
                if session.finish_warning:
                    report.warnings.append(session.finish_warning)
                report.apply_upload(tally, session.started)
                report.apply_journal(journal, server, dataset_id, origin, run)
    finally:
        client.close()
        if target.local_data is not None:
            report.note_local_server(target.local_data)


def _settle_at_the_end(ctx: RunContext, client: OsaiClient, server: str, dataset_id: Any) -> None:
    """Check this run's unknowns against the server's listing, where it has one."""
    try:
        settled = settle_by_listing(client, ctx.journal, server, dataset_id)
    except CancelledError:
        return  # the run is stopping: the next one settles them
    except OsaiImportError as exc:
        ctx.report.notes.append(f"the server's listing of its images could not be read: {exc}")
        return
    if settled.once or settled.twice or settled.absent:
        ctx.report.notes.append(
            f"the server's listing settled {settled.once + settled.twice + settled.absent} "
            f"image(s) this run could not be sure of: {settled.once} stored once, "
            f"{settled.twice} stored more than once (still flagged), {settled.absent} not "
            f"stored (the next run sends them)"
        )


def _forget(ctx: RunContext, client: OsaiClient, server: str) -> None:
    """Finish the sessions the journal knows open on ``server``, then forget it (--restart)."""
    journal = ctx.journal
    for dataset_id in journal.datasets(server):
        finish_stale_sessions(client, journal, server, dataset_id)
        if journal.open_sessions(server, dataset_id):
            ctx.report.warnings.append(
                f"--restart could not finish the upload session(s) of dataset {dataset_id}: "
                f"OSAI unlocks it by itself after a while without new images"
            )
    journal.forget(server)


def encoder_identity(resolved: ResolvedConfig) -> str:
    """Return the encoder's name and options: another encoder writes another annotation.

    Part of every image's annotation fingerprint in the journal; ``verify`` asks it too.
    """
    return f"{resolved.encoder_cls.name}:{resolved.encoder_options.model_dump_json()}"


def _send(
    ctx: RunContext, link: _Link, work: _Work, category_ids: dict[str, Any], place: FeedPlace,
    renamed: dict[str, str],
) -> None:
    """Send the items the server does not hold yet, with the configured number of workers."""
    upload = ctx.config.upload
    session = link.session
    walk = PlanWalk()
    progress = UploadProgress(ctx.console, work.total, None, enabled=not ctx.options.quiet)
    limits = ChunkLimits(upload.chunk_images, upload.chunk_bytes)

    def done(images: int, sent_bytes: int, failed: int) -> None:
        progress.advance(images, sent_bytes, failed)
        if images > failed:  # failures come one by one from the tally (ItemFailed)
            ctx.emit(ChunkSent(images - failed, sent_bytes))

    def passed(images: int) -> None:
        progress.advance(images, 0)
        ctx.emit(AlreadyUploaded(images))

    uploader = Uploader(
        link.client, session, ctx.resolved.encoder(), ctx.journal, category_ids, link.tally,
        skip_unsupported=upload.skip_unsupported,
        on_done=done,
        origin=place.origin,
        limits=limits,
        renamed=renamed,
    )
    made_here = ctx.config.dataset.id is None

    def notice(message: str) -> None:
        ctx.console.print(f"[yellow]waiting[/yellow] {escape(message)}", highlight=False)

    ctx.emit(Planned(work.total))
    try:
        with progress:
            send_all(
                pending_items(place, work.checked, walk, on_passed=passed),
                uploader,
                workers=ctx.workers,
                limits=limits,
                start_session=lambda: start_session(
                    session, link.target.base_url, made_here=made_here,
                    wait=upload.wait_locked, notice=notice,
                ),
                cancel=link.client.cancel,
            )
    finally:
        ctx.report.apply_walk(walk)
        for key, code, message in walk.failed:
            link.tally.fail_key(key, code, message)
        if work.replay:
            # Checked fine before the upload began, refused now: the file changed meanwhile.
            for key, code, message in walk.refused:
                link.tally.fail_key(key, code, f"{message} (found while uploading)")
