"""The Python API: ``check``, ``preview``, ``upload``, ``verify``, ``detect``: the commands.

A config is a path to a YAML file, a mapping shaped like that file, or a ``RunConfig``;
results are typed objects with the fields of the JSON reports; whatever stops a call is
an ``OsaiImportError`` (``ConfigError`` for a config, naming its key), never an exit.
The command line (``osai-import check``, ``preview``, ``run``, ``verify``, ``detect``)
calls exactly these functions and only prints what they return. docs/python-api.md walks
through them.

Thread safety: each call works on its own objects, so calls may run in several threads
at once, provided no two uploads share a journal folder (``upload.journal``, by default
``.osai-import/`` in the config's folder), which the second one refuses, nor the embedded
local server's data folder (``server.data``). Progress callbacks are called from the
upload's worker threads.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from osai_import.errors import OsaiImportError

if TYPE_CHECKING:
    from rich.console import Console

    from osai_import.check.summary import CheckSummary
    from osai_import.config.models import RunConfig
    from osai_import.config.resolve import ResolvedConfig
    from osai_import.detect.verdicts import Verdict
    from osai_import.location import SourcePath
    from osai_import.preview.make import PreviewReport
    from osai_import.records import Problem
    from osai_import.run.events import UploadEvent
    from osai_import.run.report import RunReport
    from osai_import.verify.report import VerifyReport

def load(config: str | os.PathLike[str] | Mapping[str, Any] | RunConfig, *,
         base_dir: str | os.PathLike[str] | None = None) -> ResolvedConfig:
    """Validate a config completely (its plugins' options too) and return it resolved.

    ``config`` is the path of a YAML file (relative paths in it resolve against its
    folder), a mapping shaped like the YAML (``${VAR}`` replaced as in a file; relative
    paths resolve against ``base_dir``, by default the current folder), or a
    ``RunConfig`` (taken as the mapping it dumps to). Raises ``ConfigError`` with one
    ``key: message`` line per problem, every problem at once.
    """
    from osai_import.config.models import RunConfig
    from osai_import.config.resolve import prepare, prepare_data
    from osai_import.errors import ConfigError

    if isinstance(config, (str, os.PathLike)):
        if base_dir is not None:
            raise ConfigError("base_dir: a config file's paths resolve against its own folder; "
                              "give base_dir with a config given as data only")
        return prepare(Path(config))[0]
    if isinstance(config, RunConfig):
        config = config.model_dump(mode="python", exclude_unset=True)
    return prepare_data(config, Path.cwd() if base_dir is None else Path(base_dir))[0]


@dataclass
class CheckReport:
    """What ``check`` found: the fields of ``osai-import check --report``.

    ``summary`` holds the counts (images, ok, failed, errors, warnings, bytes, categories,
    boxes by label, problems by code); ``problems`` the problems kept (every one, or the
    first ``problems_per_code`` of each code); ``codes`` what each code found means.
    """

    config: str
    config_sha256: str
    summary: CheckSummary
    problems: list[Problem] = field(default_factory=list)
    codes: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Tell whether no item has an error (every item would be uploaded)."""
        return self.summary.errors == 0

    @property
    def exit_code(self) -> int:
        """Return what ``osai-import check`` exits with: 0 no error, 1 some."""
        return 0 if self.ok else 1

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON report's data (``problems`` as kept)."""
        from osai_import.check.report import REPORT_KIND, REPORT_VERSION
        from osai_import.version import __version__

        return {
            "kind": REPORT_KIND, "version": REPORT_VERSION, "tool_version": __version__,
            "config_hash": self.config_sha256, "ok": self.ok, "summary": self.summary.to_dict(),
            "codes": self.codes, "problems": [p.to_dict() for p in self.problems],
        }


def check(config: str | os.PathLike[str] | Mapping[str, Any] | RunConfig, *,
          base_dir: str | os.PathLike[str] | None = None,
          report: str | os.PathLike[str] | None = None,
          problems_per_code: int | None = None) -> CheckReport:
    """Read every record of a config's source and check it; send nothing, need no token.

    ``config`` and ``base_dir`` are as ``load`` takes them. ``report`` writes the JSON
    report (every problem, streamed from disk) to that path. ``problems_per_code`` keeps
    only the first N problems of each code in the result, so that memory stays flat on a
    large source (None: keep every one). Raises ``ConfigError`` for a wrong config,
    ``SourceError`` for a source that cannot be read at all, ``LocalFileError`` for a
    report that cannot be written.
    """
    from osai_import.check.report import ProblemSpool, first_per_code, write_report
    from osai_import.check.stream import run_check
    from osai_import.codes import CODES
    from osai_import.source.reads import SourceReads

    resolved = load(config, base_dir=base_dir)
    reading = SourceReads(resolved.named_sources())
    with ProblemSpool() as spool:
        summary = run_check(reading.records, resolved.config.check, problems_sink=spool.add,
                            source_problems=reading.source_problems)
        if report is not None:
            write_report(Path(report), summary, spool, resolved.loaded.text_hash)
        if problems_per_code is None:
            kept = list(spool)
        else:
            kept = [p for found in first_per_code(spool, problems_per_code).values()
                    for p in found]
    codes = {code: CODES[code] for code in sorted(summary.problems_by_code) if code in CODES}
    return CheckReport(str(resolved.loaded.path), resolved.loaded.text_hash, summary, kept,
                       codes)


def upload(config: str | os.PathLike[str] | Mapping[str, Any] | RunConfig, *,
           dry_run: bool = False,
           workers: int | None = None,
           restart: bool = False,
           progress: Callable[[UploadEvent], None] | bool | None = None,
           token: str | None = None,
           base_dir: str | os.PathLike[str] | None = None,
           report: str | os.PathLike[str] | None = None,
           raise_errors: bool = True,
           handle_signals: bool = False) -> RunReport:
    """Upload what a config describes, as ``osai-import run`` does; return the run's report.

    ``config`` and ``base_dir`` are as ``load`` takes them. ``dry_run`` checks everything
    and plans, sending nothing; ``workers`` replaces ``upload.workers``; ``restart``
    ignores the journal and starts a new dataset (see docs/run.md). ``token`` is the
    access token, else the variable ``server.token_env`` names is read; it is never
    logged, nor kept in a report or a repr. ``report`` also writes the JSON report there.

    ``progress``: a callable gets every event (``osai_import.run.events``: ``Planned``,
    ``ChunkSent``, ``AlreadyUploaded``, ``ItemFailed``, ``Retrying``, ``Finished``), from
    the upload's worker threads as well as the calling one, so it must be thread-safe and
    quick; ``None`` (the default) shows a progress bar on a terminal or in a notebook and
    nothing otherwise; ``True`` shows on stderr what the command shows (the bar where it
    can, retry notices); ``False`` shows nothing.

    Whatever stops the run is raised once the upload session is finished: the
    ``OsaiImportError`` itself (``AuthError``, ``AbortedError``, ``SourceError``,
    ``JournalError``, ...), its ``report`` attribute holding the report so far; a
    ``KeyboardInterrupt`` (Ctrl-C in a notebook, or raised by the callback) goes on as
    itself, the report in the ``Finished`` event. With ``raise_errors=False`` the report
    is returned instead (``aborted`` says why, ``exit_code`` is the command's). A config
    error is raised before anything is done, either way. ``handle_signals`` installs, in
    the main thread, the command's handlers: SIGTERM stops like Ctrl-C, and a second
    signal ends the process at once (exit 130), which a notebook's kernel does not want.
    """
    from rich.console import Console

    from osai_import.run.context import RunOptions
    from osai_import.run.runner import run

    resolved = load(config, base_dir=base_dir)
    console = Console(file=sys.stderr, highlight=False)
    callback = progress if callable(progress) else None
    options = RunOptions(dry_run=dry_run, report=None if report is None else Path(report),
                         workers=workers, restart=restart,
                         quiet=not _shown(progress, console))
    result = run(resolved, options, console, token=token, on_event=callback,
                 handle_signals=handle_signals)
    error = result.error
    if error is None or not raise_errors:
        return result
    if isinstance(error, OsaiImportError):
        error.report = result
    raise error


def preview(config: str | os.PathLike[str] | Mapping[str, Any] | RunConfig, *,
            output: str | os.PathLike[str] = "preview.html",
            limit: int = 200,
            only_problems: bool = False,
            seed: int = 0,
            base_dir: str | os.PathLike[str] | None = None) -> PreviewReport:
    """Write one self-contained HTML page showing a sample of the records as they will be sent.

    ``config`` and ``base_dir`` are as ``load`` takes them; ``output`` is the page's path
    (relative to the current folder), written atomically. ``limit`` images at most are
    shown, sampled by category with ``seed`` (the same data and seed, the same sample);
    only the sample is checked, unless ``only_problems``, which checks every image
    (slower: every image header is read) and shows only images with a problem. Sends
    nothing, needs no token. Raises ``ConfigError`` for a wrong config, ``SourceError``
    for a source that cannot be read at all, ``LocalFileError`` for a page that cannot
    be written (a folder given as ``output``, say).
    """
    from osai_import.errors import ConfigError
    from osai_import.preview.make import make_preview

    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ConfigError(f"limit: must be a whole number of images, 1 or more, got {limit!r}")
    resolved = load(config, base_dir=base_dir)
    return make_preview(resolved, Path(output), limit=limit, only_problems=only_problems,
                        seed=seed)


def _shown(progress: object, console: Console) -> bool:
    """Tell whether the run shows its progress on the console."""
    if callable(progress) or progress is False:
        return False
    return progress is True or console.is_terminal or console.is_jupyter


def verify(config: str | os.PathLike[str] | Mapping[str, Any] | RunConfig, *,
           token: str | None = None,
           base_dir: str | os.PathLike[str] | None = None,
           report: str | os.PathLike[str] | None = None) -> VerifyReport:
    """Compare what the server holds for a config's dataset with what the journal says was sent.

    As ``osai-import verify`` does: per image, whether it is stored (and how many times),
    the digest of its bytes, its image-level category and its boxes, as the source gives
    them now through the check and the encoder; plus images the server holds that the
    journal never sent, and the source's images never sent. Changes nothing, on the
    server or in the journal. ``config``, ``base_dir`` and ``token`` are as ``upload``
    takes them; ``report`` also writes the JSON report there.

    The result's ``exit_code`` is the command's: 0 everything checked and matching, 1
    something differs or went unchecked, 4 the server offers no way to read a dataset
    back (``cannot_check`` then says what it would need). Raises ``ConfigError`` for a
    wrong config or a dataset the journal does not know, the client's errors
    (``ServerError``, ``AuthError``) when the server cannot be reached or refuses the
    token, ``JournalError`` when a run is using the journal.
    """
    from osai_import.verify.verifier import verify_config

    resolved = load(config, base_dir=base_dir)
    found = verify_config(resolved, token)
    if report is not None:
        found.write(Path(report))
    return found


def detect(path: str | os.PathLike[str] | SourcePath) -> list[Verdict]:
    """Ask every installed reader whether it knows the layout at ``path``; best first.

    ``path`` is a folder, an archive or a bucket URL (relative to the current folder),
    or a ``SourcePath``.
    Each ``Verdict`` has the ``reader``, its ``confidence``, ``matches`` (confidence 0.5
    or more) and the ``detection`` (``sources``: options ready for a config's
    ``source:``, and ``reasons``), or the ``error`` of a reader whose detect failed.
    Raises ``ConfigError`` when nothing is at ``path``.
    """
    from osai_import.detect.verdicts import detect_all, where
    from osai_import.location import SourcePath
    from osai_import.plugin.manager import build_plugins

    target = path if isinstance(path, SourcePath) else where(os.fspath(path))
    return detect_all(target, build_plugins())


__all__ = ["CheckReport", "check", "detect", "load", "preview", "upload", "verify"]
