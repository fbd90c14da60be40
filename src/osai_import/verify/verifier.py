"""Verify one config's dataset: the journal, the source and the server, read, then compared.

Nothing is written anywhere: the journal is read read-only, the server is only asked
(GET requests, plus the sign-in), and the check's spool is a temporary file.
"""

from __future__ import annotations

from pathlib import Path

from osai_import.config.resolve import ResolvedConfig
from osai_import.errors import ConfigError
from osai_import.run.target import Target, access_token, open_target, server_identity
from osai_import.upload.answers import Id
from osai_import.upload.client import OsaiClient
from osai_import.upload.journal import ImageRow
from osai_import.upload.retry import RetryPolicy
from osai_import.verify.compare import Remedies, compare
from osai_import.verify.expected import read_source
from osai_import.verify.journal import reading_journal
from osai_import.verify.report import VerifyReport
from osai_import.verify.server import (
    DatasetReader,
    Holdings,
    InspectionReader,
    ListingReader,
    read_back,
    server_root,
)


def verify_config(resolved: ResolvedConfig, token: str | None = None) -> VerifyReport:
    """Compare what the server holds for a config's dataset with what the journal says was sent.

    ``token`` replaces the environment's access token. Raises ConfigError when no dataset
    is known (none in the config, none in the journal), and the client's errors when the
    server cannot be reached or refuses the token; a server that offers no way to read a
    dataset back gives a report whose ``cannot_check`` says so.
    """
    config = resolved.config
    token = access_token(resolved, token)
    server = server_identity(resolved)
    journal_dir = resolved.loaded.journal_dir
    report = VerifyReport(
        config=str(resolved.loaded.path),
        server=config.server.base_url or f"local ({resolved.loaded.local_data_dir})",
        dataset_id=config.dataset.id, dataset_name=config.dataset.name)
    # The journal stays open (and a run kept out) until the server has been read.
    with reading_journal(journal_dir) as journal:
        dataset_id = config.dataset.id
        if dataset_id is None and journal is not None and config.dataset.name is not None:
            dataset_id = journal.dataset_id(server, config.dataset.name)
        if dataset_id is None:
            raise ConfigError(
                f"the journal in {journal_dir} knows no dataset {config.dataset.name!r} on "
                f"{server}: nothing was sent with this config and journal yet; "
                f"`osai-import run {resolved.loaded.path}` sends it, then verify"
            )
        report.dataset_id = dataset_id
        rows = journal.all_images(server, dataset_id) if journal is not None else {}
        renamed = journal.category_names(server, dataset_id) if journal is not None else {}
        report.journal_images = len(rows)
        source = read_source(resolved, rows, renamed)
        report.source_images = source.read - source.refused
        with open_target(resolved, token) as target:
            holdings = _read_server(resolved, target, dataset_id)
    if holdings is None:
        report.cannot_check = cannot_check(report.server, dataset_id, rows, str(journal_dir))
        return report
    report.read_by = holdings.kind
    report.server_images = len(holdings.images)
    found = compare(rows, source, holdings, Remedies(_shown_path(resolved.loaded.path)),
                    str(resolved.loaded.path))
    report.differing, report.matched = found.differing, found.matched
    report.not_checked, report.notes = found.not_checked, found.notes
    return report


def _shown_path(path: Path) -> str:
    """Return the config's path as remedies name it: relative to the current folder if in it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _read_server(resolved: ResolvedConfig, target: Target, dataset_id: Id) -> Holdings | None:
    """Sign in, then read the dataset back the first way the server offers; None: no way."""
    config = resolved.config
    upload = config.upload
    retry = RetryPolicy(attempts=upload.retries + 1, base=upload.backoff, cap=upload.max_backoff)
    timeout = config.server.timeout
    client = OsaiClient(target.base_url, target.token, timeout=timeout, retry=retry,
                        pool_size=2)
    inspection = InspectionReader(server_root(target.base_url), target.token,
                                  timeout=timeout, retry=retry)
    try:
        # Signed in first: a wrong token or URL is one clear line, whichever way reads.
        client.sign_in()
        readers: list[DatasetReader] = [inspection, ListingReader(client)]
        return read_back(readers, dataset_id)
    finally:
        inspection.close()
        client.close()


def cannot_check(server: str, dataset_id: Id, rows: dict[str, ImageRow], journal: str) -> str:
    """Say that the server cannot be read back, what verify would need, and what is known."""
    lost = sum(1 for row in rows.values() if row.state != "acked")
    flagged = sum(1 for row in rows.values() if row.flagged is not None)
    return (
        f"{server} offers no way to read dataset {dataset_id} back, so verify cannot check "
        "what it holds: OSAI documents no endpoint that returns a dataset's images. It would "
        "need GET /api/Datasets/{id}/Images answering a JSON list with each image's id, "
        "name, sha256 (of its bytes) and categoryId, GET /api/Datasets/{id}/Categories "
        "answering each category's id and name, and, to check boxes, each image's "
        "annotation objects (name, xmin, ymin, xmax, ymax). What the journal in "
        f"{journal} says: {len(rows)} image(s) sent, {len(rows) - lost} acknowledged, "
        f"{lost} whose answer was lost, {flagged} flagged as possibly stored twice; look "
        "those up in OSAI's web app"
    )
