"""Feed the upload from the check: the checked items the server does not hold yet.

Items the check refused are noted, not sent; items the journal says the server
acknowledged are passed over (or noted as changed, when they differ from what was sent).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from osai_import.check.checker import CheckedItem
from osai_import.records import Severity
from osai_import.upload.answers import Id
from osai_import.upload.journal import Journal
from osai_import.upload.resume import fingerprint
from osai_import.upload.uploader import Item


@dataclass
class PlanWalk:
    """What the walk over the checked items found besides the items to send."""

    already_uploaded: int = 0
    changed_since_upload: list[str] = field(default_factory=list)
    # Items the check refused when the walk met them (on a replay: changed since the plan).
    refused: list[tuple[str, str, str]] = field(default_factory=list)


# Journal lookups go a batch at a time; small enough that the first chunk leaves early.
_STATE_BATCH = 256


def pending_items(
    journal: Journal,
    server: str,
    dataset_id: Id,
    checked: Iterable[CheckedItem],
    walk: PlanWalk,
    on_passed: Callable[[int], None] | None = None,
) -> Iterator[Item]:
    """Yield the checked items to send: ok, and not acknowledged by the server before.

    The others are counted in ``walk``; ``on_passed`` is called with how many items were
    passed over (refused, or already uploaded), for the progress bar.
    """
    iterator = iter(checked)
    while True:
        batch = list(itertools.islice(iterator, _STATE_BATCH))
        if not batch:
            return
        passed = 0
        ready: list[CheckedItem] = []
        for item in batch:
            if item.ok:
                ready.append(item)
                continue
            passed += 1
            error = next(p for p in item.problems if p.severity is Severity.ERROR)
            walk.refused.append((item.record.key, error.code, error.message))
        states = journal.states(server, dataset_id, [item.record.key for item in ready])
        for item in ready:
            record = item.record
            fp = fingerprint(record, item.size, item.mtime_ns)
            state, acked_fp = states.get(record.key, (None, None))
            if state == "acked":
                passed += 1
                if acked_fp == fp:
                    walk.already_uploaded += 1
                else:
                    # OSAI's API cannot replace an image: say so rather than store a second one.
                    walk.changed_since_upload.append(record.key)
                continue
            # Marked `sent` by a run that died before the answer: it may be stored already.
            yield Item(record, item.size, fp, resent=state is not None)
        if passed and on_passed is not None:
            on_passed(passed)
