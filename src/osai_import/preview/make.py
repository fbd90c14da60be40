"""Make a preview: read the source once, sample it, check the sample, write the page.

The source is read once, as the check reads it: every remote name is learned
(``NamePlan``) so the names shown are final, every record is counted for the summary,
and the sampler keeps the few records the sample may need (``sample``). Only the
sampled records are checked (``Checker``: their image headers read) and drawn. With
``only_problems`` every record is checked, by the check's own two passes (``CheckRun``),
and the sample is drawn from the items with a problem.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from osai_import.check.checker import CheckedItem, Checker
from osai_import.check.names import NamePlan
from osai_import.check.stream import CheckRun
from osai_import.config.models import CheckConfig
from osai_import.config.resolve import ResolvedConfig
from osai_import.plugin.base import Encoder
from osai_import.preview.figures import Sent, as_sent, item_figure
from osai_import.preview.page import PageFacts, check_output, head_html, page_parts, write_page
from osai_import.preview.sample import Sampler
from osai_import.preview.summary import CheckCounts, SourceCounts
from osai_import.records import ImageRecord
from osai_import.source.reads import SourceReads
from osai_import.version import __version__

DEFAULT_LIMIT = 200
DEFAULT_SEED = 0
_T = TypeVar("_T")
_R = TypeVar("_R")


@dataclass
class PreviewReport:
    """What ``preview`` wrote: where, how many images of how many, and the counts it shows.

    ``images`` is every record of the source; ``shown`` the images drawn; ``checked``
    the images checked (the sample, or every image with ``only_problems``);
    ``with_problems`` the images drawn that have a problem. ``source`` and ``checks``
    hold the summary's counts (``SourceCounts``: the whole source from its records;
    ``CheckCounts``: the images checked).
    """

    output: str
    bytes: int
    images: int
    shown: int
    checked: int
    with_problems: int
    limit: int
    seed: int
    only_problems: bool
    source: SourceCounts = field(repr=False)
    checks: CheckCounts = field(repr=False)

    @property
    def exit_code(self) -> int:
        """Return what ``osai-import preview`` exits with: 0, the page was written."""
        return 0


def make_preview(resolved: ResolvedConfig, output: Path, *, limit: int = DEFAULT_LIMIT,
                 only_problems: bool = False, seed: int = DEFAULT_SEED,
                 workers: int = 4) -> PreviewReport:
    """Write the preview page of a resolved config to ``output``; return what it holds."""
    if limit < 1:
        raise ValueError(f"limit must be 1 or more, got {limit}")
    check_output(output)  # before the source is read: a wrong -o fails at once
    reading = SourceReads(resolved.named_sources())
    policy = resolved.config.check
    source = SourceCounts()
    checks = CheckCounts()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="osai-preview") as pool:
        if only_problems:
            items = _with_problems(reading, policy, source, checks, limit, seed, workers)
        else:
            items = _sampled(reading, policy, source, checks, limit, seed, pool, workers)
        encoder = resolved.encoder()
        sent = [as_sent(item, encoder) for item in items]
        for one in sent:
            if one.problem is not None:
                checks.problems.add(one.problem)
        facts = _facts(resolved, encoder, items, sent, source, checks, limit, seed,
                       only_problems)
        before, after = page_parts(facts.title, head_html(facts, source, checks))
        figures = in_order(pool, _figure, zip(items, sent, strict=True), workers)
        size = write_page(output, _chain(before, figures, after))
    return PreviewReport(
        output=str(output), bytes=size, images=source.images, shown=len(items),
        checked=checks.checked,
        with_problems=sum(1 for i, s in zip(items, sent, strict=True)
                          if i.problems or s.problem is not None),
        limit=limit, seed=seed, only_problems=only_problems, source=source, checks=checks)


def _sampled(reading: SourceReads, policy: CheckConfig, source: SourceCounts,
             checks: CheckCounts, limit: int, seed: int, pool: ThreadPoolExecutor,
             workers: int) -> list[CheckedItem]:
    """Read the source once (counting it, learning its names, sampling); check the sample.

    The check's own parts, without its spool: a preview needs a few hundred of the
    records, which the sampler keeps in memory, and never reads the others again.
    """
    names = NamePlan(policy)
    sampler: Sampler[ImageRecord] = Sampler(limit, seed)
    for record in reading.records():
        names.add(record)
        category, labels = source.add(record)
        sampler.add(record.key, category, labels, record)
    names.freeze()
    for problem in reading.source_problems():
        source.problems.add(problem)
    checker = Checker(policy)

    def check(record: ImageRecord) -> CheckedItem:
        return checker.check(record, names=names)

    items = list(in_order(pool, check, sampler.choose(), workers))
    for item in items:
        checks.add(item)
    return items


def _with_problems(reading: SourceReads, policy: CheckConfig, source: SourceCounts,
                   checks: CheckCounts, limit: int, seed: int,
                   workers: int) -> list[CheckedItem]:
    """Check every record as ``check`` does; return a sample of the items with a problem."""
    def counted() -> Iterator[ImageRecord]:
        for record in reading.records():
            source.add(record)
            yield record

    sampler: Sampler[CheckedItem] = Sampler(limit, seed)
    with CheckRun(counted, policy, workers=workers,
                  source_problems=reading.source_problems) as run:
        for problem in run.read():
            source.problems.add(problem)
        for item in run.items():
            checks.add(item)
            if item.problems:
                record = item.record
                sampler.add(record.key, record.category, (b.label for b in record.boxes), item)
    return sampler.choose()


def _figure(pair: tuple[CheckedItem, Sent]) -> str:
    return item_figure(*pair)


def _chain(before: str, figures: Iterable[str], after: str) -> Iterator[str]:
    yield before
    yield from figures
    yield after


def in_order(pool: ThreadPoolExecutor, work: Callable[[_T], _R], inputs: Iterable[_T],
             workers: int) -> Iterator[_R]:
    """Run ``work`` on ``inputs`` in the pool; yield results in input order, few in flight."""
    window = max(1, workers) * 2
    pending: list[Future[_R]] = []
    try:
        for value in inputs:
            pending.append(pool.submit(work, value))
            if len(pending) >= window:
                yield pending.pop(0).result()
        while pending:
            yield pending.pop(0).result()
    finally:
        for future in pending:
            future.cancel()


def _facts(resolved: ResolvedConfig, encoder: Encoder, items: list[CheckedItem],
           sent: list[Sent], source: SourceCounts, checks: CheckCounts, limit: int, seed: int,
           only_problems: bool) -> PageFacts:
    config = resolved.config
    dataset = config.dataset.name or f"dataset {config.dataset.id}"
    sources = [f"{s.reader_cls.name}: {_where(s.options)}"
               + (f" (label {s.label})" if len(resolved.sources) > 1 else "")
               for s in resolved.sources]
    if only_problems:
        sample = (f"{len(items):,} of the images with a problem (all {checks.checked:,} "
                  f"images checked), sampled by category, seed {seed}, limit {limit:,}")
    else:
        sample = (f"{len(items):,} of {source.images:,}, sampled by category (every category "
                  f"shown when the limit allows), seed {seed}, limit {limit:,}")
    labels: set[str] = set()
    codes: set[str] = set()
    for item, one in zip(items, sent, strict=True):
        if item.record.category:
            labels.add(item.record.category)
        labels.update(box.label for box in one.boxes)
        codes.update(p.code for p in item.problems)
        if one.problem is not None:
            codes.add(one.problem.code)
    return PageFacts(
        title=f"Preview of {dataset}", config=str(resolved.loaded.path), sources=sources,
        annotations=f"{encoder.name}: {type(encoder).description()}",
        boxes_sent=config.annotations.type != "none", sample=sample, version=__version__,
        shown_labels=sorted(labels), shown_codes=sorted(codes))


def _where(options: Any) -> str:
    return str(getattr(options, "path", "") or "")
