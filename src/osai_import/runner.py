"""Drive one run: plan, sign in, dataset, categories, upload session, chunks, finish, report."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from osai_import.check import CheckedItem
from osai_import.client import (
    DuplicateCategoryError,
    OsaiClient,
    RejectedError,
    RetryPolicy,
    TransientError,
    UnexpectedResponseError,
)
from osai_import.config import ResolvedConfig
from osai_import.engine import Tally, Uploader, UploadSession
from osai_import.errors import AbortedError, ConfigError, OsaiImportError
from osai_import.journal import Journal, JournalError
from osai_import.plan import Plan, Planner, read_problems
from osai_import.pool import PlanWalk, pending_items, send_all
from osai_import.progress import UploadProgress
from osai_import.report import RunReport

log = logging.getLogger("osai_import.runner")


@dataclass
class RunOptions:
    """Command-line choices that override or complete the config."""

    dry_run: bool = False
    report: Path | None = None
    workers: int | None = None
    restart: bool = False
    quiet: bool = False


@dataclass
class Target:
    """The server a run talks to: its API base URL, the token, and a stable identity."""

    base_url: str
    token: str
    identity: str  # what the journal files things under; stable across runs
    local_data: Path | None = None


def access_token(resolved: ResolvedConfig) -> str | None:
    """Return the access token from the environment, or raise a ConfigError naming the variable."""
    server = resolved.config.server
    if server.is_local:
        return None
    token = os.environ.get(server.token_env, "").strip()
    if not token:
        raise ConfigError(
            f"server.token_env: environment variable {server.token_env} is not set; create an "
            f"access token in OSAI's web app and `export {server.token_env}=...` (tokens never "
            f"go in the config file)"
        )
    return token


@contextlib.contextmanager
def open_target(resolved: ResolvedConfig, token: str | None) -> Iterator[Target]:
    """Yield the run's target, starting the embedded local server when the config asks."""
    server = resolved.config.server
    if not server.is_local:
        assert server.base_url is not None and token is not None
        yield Target(server.base_url, token, server.base_url)
        return
    from osai_import.emulator import EmulatorSettings, LocalServer

    data_dir = resolved.loaded.local_data_dir
    with LocalServer(EmulatorSettings(data_dir=data_dir)) as local:
        yield Target(local.base_url, local.token, f"local:{data_dir}", data_dir)


@contextlib.contextmanager
def locked_journal(folder: Path) -> Iterator[Journal]:
    """Open the journal, holding an exclusive lock so two runs never share it."""
    folder.mkdir(parents=True, exist_ok=True)
    lock_path = folder / "run.lock"
    with lock_path.open("a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise JournalError(
                f"{folder}: another osai-import run is using this journal; wait for it to end "
                f"or set upload.journal to another folder"
            ) from None
        journal = Journal(folder)
        try:
            yield journal
        finally:
            journal.close()
            fcntl.flock(lock, fcntl.LOCK_UN)


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    # SIGTERM must unlock the dataset like Ctrl-C does; handlers only work in the main thread.
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _planning_status(console: Console, quiet: bool) -> Iterator[Callable[[str], None] | None]:
    """Show how far the check went, on a terminal; nothing otherwise."""
    if quiet or not console.is_terminal:
        yield None
        return
    with console.status("reading the source...") as status:
        yield status.update


def _fill_plan(report: RunReport, plan: Plan) -> None:
    report.read = plan.read
    report.planned = plan.planned
    report.planned_bytes = plan.planned_bytes
    problems = read_problems(plan.problems_file)
    report.problems = problems
    skipped: dict[str, int] = {}
    warned: dict[str, int] = {}
    seen_error_items: set[str] = set()
    for p in problems:
        if p["severity"] == "error":
            # An item with two errors is one skipped item: count it under its first code.
            if p["item"] not in seen_error_items:
                seen_error_items.add(p["item"])
                skipped[p["code"]] = skipped.get(p["code"], 0) + 1
        else:
            warned[p["code"]] = warned.get(p["code"], 0) + 1
    report.skipped_by_code = skipped
    report.warnings_by_code = warned


def run(resolved: ResolvedConfig, options: RunOptions, console: Console) -> RunReport:
    """Run a config end to end and return its report (also written with ``--report``).

    With ``upload.on_problem: skip`` (the default) the upload starts once the source is
    read and its categories are known, while the check of each image still runs: the
    check feeds the upload. With ``stop`` and with ``--dry-run`` the whole check comes
    first.
    """
    started = time.monotonic()
    config = resolved.config
    token = access_token(resolved)  # before any work: a missing token is a usage error
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
        with locked_journal(resolved.loaded.journal_dir) as journal, _sigterm_as_interrupt(), \
                Planner(resolved, journal.folder) as planner:
            try:
                _plan_and_upload(resolved, options, console, journal, planner, report,
                                 token, overlap)
            finally:
                if overlap:
                    planner.finish()
                    _fill_plan(report, planner.plan())
    except KeyboardInterrupt:
        report.aborted = "interrupted; run the same command again to resume"
    except OsaiImportError as exc:
        # Whatever stopped the run (server unreachable, sign-in refused, a source that
        # cannot be read, the journal), the report says it with the CLI's exit code.
        report.aborted = str(exc)
        report.aborted_exit_code = exc.exit_code
    finally:
        report.durations["total"] = time.monotonic() - started
        if options.report is not None:
            report.write(options.report)
    return report


def _plan_and_upload(
    resolved: ResolvedConfig,
    options: RunOptions,
    console: Console,
    journal: Journal,
    planner: Planner,
    report: RunReport,
    token: str | None,
    overlap: bool,
) -> None:
    config = resolved.config
    t0 = time.monotonic()
    with _planning_status(console, options.quiet) as status:
        planner.read(None if status is None else
                     lambda n: status(f"reading the source: {n:,} images read"))
        if not overlap:
            for _ in planner.checked(None if status is None else
                                     lambda n: status(f"checking: {n:,} images checked")):
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
        _fill_plan(report, plan)
        categories, image_categories = plan.categories, plan.image_categories
        checked = planner.replay()
        total = plan.planned
    report.categories = {name: None for name in categories}
    if options.dry_run:
        return
    if planner.summary.errors and config.upload.on_problem == "stop":
        report.warnings.append(
            f"stopped before uploading: {report.skipped} item(s) have errors and "
            f"upload.on_problem is `stop`; fix them or set it to `skip`"
        )
        return
    with open_target(resolved, token) as target:
        if target.local_data is not None:
            report.server = f"local ({target.local_data})"
        _upload(resolved, options, console, journal, target,
                _Work(categories, image_categories, checked, total, replay=not overlap), report)


@dataclass
class _Work:
    """What an upload sends: the categories to create first, then the checked items."""

    categories: list[str]
    image_categories: set[str]
    checked: Iterator[CheckedItem]
    total: int  # items the progress bar counts to
    replay: bool  # the items were checked before: a refusal now is a failure


def _upload(
    resolved: ResolvedConfig,
    options: RunOptions,
    console: Console,
    journal: Journal,
    target: Target,
    work: _Work,
    report: RunReport,
) -> None:
    config = resolved.config
    upload = config.upload
    workers = options.workers or upload.workers
    tally = Tally()
    client = OsaiClient(
        target.base_url,
        target.token,
        timeout=config.server.timeout,
        retry=RetryPolicy(attempts=upload.retries + 1, base=upload.backoff, cap=upload.max_backoff),
        pool_size=workers + 2,
        on_retry=tally.retry,
    )
    server = target.identity
    try:
        if options.restart:
            journal.forget(server)
        client.sign_in()
        dataset_id = _dataset(client, journal, server, config.dataset.name, config.dataset.id)
        report.dataset_id = dataset_id
        _finish_stale_sessions(client, journal, server, dataset_id)
        category_ids = _categories(client, journal, server, dataset_id, work, report)
        report.categories = dict(sorted(category_ids.items()))
        session = UploadSession(client, journal, server, dataset_id)
        t0 = time.monotonic()
        try:
            _send_all(resolved, options, console, journal, target, session,
                      category_ids, tally, report, workers, work)
        finally:
            report.durations["upload"] = time.monotonic() - t0
            warning = session.finish()
            if warning:
                report.warnings.append(warning)
            report.uploaded = tally.uploaded
            report.uploaded_bytes = tally.uploaded_bytes
            report.failed = dict(tally.failed)
            report.possibly_duplicated = sorted(tally.maybe_duplicated)
            report.unconfirmed = sorted(tally.unconfirmed)
            report.retries = dict(tally.retries)
            report.sessions = session.started
    finally:
        client.close()
        if target.local_data is not None:
            report.notes.append(
                f"The images went to the embedded local server; its data is in "
                f"{target.local_data}.\nLook at it: osai-import serve --data "
                f"{target.local_data}\nthen open http://127.0.0.1:8080/_emulator/datasets/"
                f"{report.dataset_id}"
            )


def _finish_stale_sessions(client: OsaiClient, journal: Journal, server: str, dataset_id: Any) -> None:
    """Finish the upload sessions a run that died left open, so the dataset unlocks."""
    for stale in journal.open_sessions(server, dataset_id):
        try:
            client.finish_uploading(dataset_id, stale)
        except TransientError as exc:
            # Not refused, just not done: keep it, so the next run tries again.
            log.info("finishing upload session %s left open: %s", stale, exc)
            continue
        except OsaiImportError as exc:
            log.info("upload session %s left open is refused: %s", stale, exc)
        journal.session_finished(server, dataset_id, stale)


def _start(session: UploadSession, target: Target, *, made_here: bool) -> None:
    """Start the upload session; say what to do when the dataset is gone or locked."""
    dataset_id = session.dataset_id
    try:
        session.start()
    except UnexpectedResponseError as exc:
        if exc.status == 404 and made_here:
            # Signed in, so the URL is right: the dataset this journal made is gone.
            raise AbortedError(
                f"dataset {dataset_id}, made by an earlier run of this config, is gone from "
                f"{target.base_url} (StartUploading answered HTTP 404); run again with "
                f"--restart to create it anew"
            ) from None
        raise
    except RejectedError as exc:
        if exc.dataset_locked:
            raise AbortedError(
                f"dataset {dataset_id} is locked by another upload session ({exc}); an "
                f"earlier run that could not finish it, or another upload, holds it: run "
                f"again later (OSAI unlocks a dataset after a while without new images)"
            ) from None
        raise


def _dataset(client: OsaiClient, journal: Journal, server: str, name: str | None, given: Any) -> Any:
    if given is not None:
        return given
    assert name is not None
    known = journal.dataset_id(server, name)
    if known is not None:
        return known
    dataset = client.create_dataset(name)
    journal.set_dataset(server, name, dataset.id)
    return dataset.id


def _categories(
    client: OsaiClient,
    journal: Journal,
    server: str,
    dataset_id: Any,
    work: _Work,
    report: RunReport,
) -> dict[str, Any]:
    known = journal.categories(server, dataset_id)
    for name in work.categories:
        if name in known and (known[name] is not None or name not in work.image_categories):
            continue
        try:
            category = client.create_category(dataset_id, name)
        except DuplicateCategoryError as exc:
            # It exists but its id is unknown: made by an earlier run stopped (or whose answer
            # was lost) while creating it, or by hand. OSAI cannot list categories.
            if name in work.image_categories:
                raise AbortedError(
                    f"category {name!r} already exists in dataset {dataset_id}, but its id is "
                    f"unknown{_LOST_CATEGORY if exc.after_lost_answer else ''}; images "
                    f"classified as {name!r} need it and OSAI's API cannot list categories: "
                    f"delete the category in the OSAI web app and run again, or upload into a "
                    f"new dataset (another dataset.name, or --restart)"
                ) from None
            # Box labels reach the server by name inside each annotation: no id needed.
            journal.set_category(server, dataset_id, name, None)
            known[name] = None
            report.notes.append(
                f"category {name!r} already existed in dataset {dataset_id}; boxes refer to it "
                f"by name, so it was reused"
            )
            continue
        journal.set_category(server, dataset_id, name, category.id)
        known[name] = category.id
        report.categories_created.append(name)
    return {name: known[name] for name in work.categories}


_LOST_CATEGORY = " (an earlier try made it, and its answer was lost)"


def _send_all(
    resolved: ResolvedConfig,
    options: RunOptions,
    console: Console,
    journal: Journal,
    target: Target,
    session: UploadSession,
    category_ids: dict[str, Any],
    tally: Tally,
    report: RunReport,
    workers: int,
    work: _Work,
) -> None:
    upload = resolved.config.upload
    server, dataset_id = session.server, session.dataset_id
    walk = PlanWalk()
    progress = UploadProgress(console, work.total, None, enabled=not options.quiet)
    uploader = Uploader(
        session.client, session, resolved.encoder(), journal, category_ids, tally,
        skip_unsupported=upload.skip_unsupported,
        on_done=progress.advance,
    )
    try:
        with progress:
            send_all(
                pending_items(journal, server, dataset_id, work.checked, walk,
                              on_passed=lambda n: progress.advance(n, 0)),
                uploader,
                workers=workers,
                chunk_images=upload.chunk_images,
                chunk_bytes=upload.chunk_bytes,
                start_session=lambda: _start(
                    session, target, made_here=resolved.config.dataset.id is None
                ),
                cancel=session.client.cancel,
            )
    finally:
        report.already_uploaded = walk.already_uploaded
        report.changed_since_upload = list(walk.changed_since_upload)
        if work.replay:
            # Checked fine before the upload began, refused now: the file changed meanwhile.
            for key, code, message in walk.refused:
                tally.fail_key(key, code, f"{message} (found while uploading)")
