"""The calls before the first image: the dataset, its categories, the upload session.

Each step asks the journal first, so a rerun reuses what an earlier run created, writes
down its intent before a creating call goes out, and clears it once the answer is in. An
intent still there on the next run is a call whose answer was lost (or cut short by a
signal): a dataset that may exist empty is reported, a category that exists with an
unknown id is taken from ``dataset.categories`` or named in the stop message, and a
dataset locked by a session whose id was lost is waited out, as OSAI unlocks it by itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from osai_import.errors import (
    AbortedError,
    DuplicateCategoryError,
    JournalError,
    RejectedError,
    TransientError,
    UnexpectedResponseError,
)
from osai_import.upload.answers import CategoryRef, Id
from osai_import.upload.client import OsaiClient
from osai_import.upload.journal import Journal, creating
from osai_import.upload.session import LOCKED_STATUSES, UploadSession


def _when(started: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started))


def ensure_dataset(
    client: OsaiClient, journal: Journal, server: str, name: str | None, given: Id | None,
    warn: Callable[[str], None],
) -> Id:
    """Return the dataset's id: the one given, the one this journal made, or a new one.

    A POST /Datasets of an earlier run whose answer never came may have made a dataset
    nobody knows the id of: ``warn`` says so, naming it, so the user can delete it.
    """
    if given is not None:
        return given
    assert name is not None
    known = journal.dataset_id(server, name)
    if known is not None:
        return known
    with creating(journal, server, "dataset", None, name) as lost:
        dataset = client.create_dataset(name)
    try:
        journal.set_dataset(server, name, dataset.id)
    except JournalError as exc:
        raise JournalError(
            f"{exc}. Dataset {name!r} was created with id {dataset.id}: if the next run cannot "
            f"find it, give `id: {dataset.id}` instead of `name:` under dataset: in the config"
        ) from None
    journal.done(server, "dataset", None, name)
    if lost is not None or dataset.after_lost_answer:
        when = f"an earlier run ({_when(lost)})" if lost is not None else "this run"
        warn(
            f"POST /Datasets for {name!r} by {when} got no answer, so OSAI may also hold an "
            f"empty dataset named {name!r} besides dataset {dataset.id}, which this run uses: "
            f"if the web app shows two, delete the empty one"
        )
    return dataset.id


@dataclass
class CategorySetup:
    """What ``create_categories`` did, filled as it goes (so a stop midway keeps it)."""

    created: list[str] = field(default_factory=list)
    # Existed already with an unknown id; boxes refer to them by name, so they serve.
    reused: list[str] = field(default_factory=list)
    # Taken from the config's dataset.categories instead of being created.
    given: list[str] = field(default_factory=list)
    ids: dict[str, Id | None] = field(default_factory=dict)
    # Labels the server stores under another name: annotations must name them so.
    renamed: dict[str, str] = field(default_factory=dict)


def create_categories(
    client: OsaiClient,
    journal: Journal,
    server: str,
    dataset_id: Id,
    names: list[str],
    image_categories: set[str],
    setup: CategorySetup,
    known_ids: Mapping[str, Id] | None = None,
) -> None:
    """Create the categories of ``names`` the journal does not know, filling ``setup``.

    ``image_categories`` are the names images are classified by: their ids go into every
    chunk, so one that exists with an unknown id stops the run (unless ``known_ids``, the
    config's ``dataset.categories``, gives it, or the server lists its categories); a box
    label needs no id. A category the server stores under another name (spaces made
    ``_``, lower case) is noted in ``setup.renamed``: annotations must use that name.
    """
    known = journal.categories(server, dataset_id)
    stored_as = journal.category_names(server, dataset_id)
    given = dict(known_ids or {})
    listed: list[CategoryRef] | None = None
    # Box labels need no id (boxes name their category), so one whose answer is lost
    # costs nothing: those are created at once. Image categories go one at a time, so
    # that a run killed mid-way has lost at most one id the user must look up.
    ahead = _create_ahead(client, journal, server, dataset_id, _independent(
        [n for n in names if n not in image_categories
         and _to_create(n, known, stored_as, given, image_categories)],
        [*names, *known, *stored_as.values()]))
    for name in names:
        if name in given and known.get(name) != given[name]:
            journal.set_category(server, dataset_id, name, given[name])
            known[name] = given[name]
            setup.given.append(name)
            continue
        if name in known and (known[name] is not None or name not in image_categories):
            continue
        same = _stored_under(name, known, stored_as)
        if same is not None:
            # The server already stores it, under the name another label became.
            known[name] = known[same]
            stored_as[name] = stored_as.get(same, same)
            journal.set_category(server, dataset_id, name, known[name], stored_as[name])
            continue
        made = ahead.pop(name, None)
        lost, outcome = made or _create(client, journal, server, dataset_id, name)
        try:
            if isinstance(outcome, BaseException):
                raise outcome
            category = outcome
        except RejectedError as exc:
            duplicate = isinstance(exc, DuplicateCategoryError)
            if duplicate:
                # It exists: the intent is settled, whoever made it.
                journal.done(server, "category", dataset_id, name)
            if listed is None:
                listed = client.list_categories(dataset_id) or []
            found = _find(name, listed) or _known_as(name, known, stored_as)
            if found is not None:
                category = found
            elif not duplicate:
                raise AbortedError(
                    f"{exc}; if category {name!r} already exists in dataset {dataset_id}, "
                    f"give its id (the OSAI web app shows it) in the config as\n  dataset:\n"
                    f"    categories: {{{name!r}: <its id>}}\nthen run the same command again"
                ) from None
            elif name in image_categories:
                raise AbortedError(_unknown_id(name, dataset_id, lost, exc)) from None
            else:
                # Box labels reach the server by name inside each annotation: no id needed.
                journal.set_category(server, dataset_id, name, None)
                known[name] = None
                setup.reused.append(name)
                continue
        server_name = _note(journal, server, dataset_id, name, category)
        known[name] = category.id
        if server_name is not None:
            stored_as[name] = server_name
        setup.created.append(name)
    setup.ids = {name: known[name] for name in names}
    setup.renamed = {name: stored_as[name] for name in names if name in stored_as}


# Categories created at once, at most: each is one small request.
_AT_ONCE = 8
# Connections of a client's pool kept for the calls made beside the workers' (the run
# sizes its pool so); the others are the workers', and as many calls may go at once.
_BESIDE_WORKERS = 2
_Created = tuple[float | None, CategoryRef | BaseException]


def _to_create(name: str, known: Mapping[str, Id | None], stored_as: Mapping[str, str],
               given: Mapping[str, Id], image_categories: set[str]) -> bool:
    """Tell whether ``create_categories`` will call POST /Categories for ``name``."""
    if name in given and known.get(name) != given[name]:
        return False
    if name in known and (known[name] is not None or name not in image_categories):
        return False
    return _stored_under(name, known, stored_as) is None


def _independent(creating: list[str], every: list[str]) -> list[str]:
    """Return the names to create that no other name may be taken for by the server.

    A server that normalizes names stores ``Cat`` and ``cat`` as one category: such names
    are created one after another, as the loop decides, never at once.
    """
    seen: dict[str, int] = {}
    for name in dict.fromkeys(every):
        for variant in _variants(name):
            seen[variant] = seen.get(variant, 0) + 1
    return [n for n in creating if all(seen[v] == 1 for v in _variants(n))]


def _create(client: OsaiClient, journal: Journal, server: str, dataset_id: Id,
            name: str) -> _Created:
    """Create one category, its intent written first; return the lost intent and outcome.

    A category made is noted in the journal at once (as the loop notes it again): a run
    killed while others are in flight knows the ids it was answered.
    """
    lost = journal.pending(server, "category", dataset_id, name)
    try:
        with creating(journal, server, "category", dataset_id, name):
            category = client.create_category(dataset_id, name)
        _note(journal, server, dataset_id, name, category)
    except Exception as exc:  # noqa: BLE001 - handed to the loop, which decides
        return lost, exc
    return lost, category


def _note(journal: Journal, server: str, dataset_id: Id, name: str,
          category: CategoryRef) -> str | None:
    """Note a category's id (and the name the server stores it under); return that name."""
    server_name = category.name if category.name != name else None
    try:
        journal.set_category(server, dataset_id, name, category.id, server_name)
    except JournalError as exc:
        raise JournalError(
            f"{exc}. Category {name!r} was created with id {category.id}: if the next run "
            f"asks for it, add it to the config as dataset: categories: "
            f"{{{name!r}: {category.id}}}"
        ) from None
    journal.done(server, "category", dataset_id, name)
    return server_name


def _create_ahead(client: OsaiClient, journal: Journal, server: str, dataset_id: Id,
                  names: list[str]) -> dict[str, _Created]:
    """Create the categories of ``names`` at once, each intent written before its call.

    Their outcomes are handed to ``create_categories``' loop, which takes each in order
    as if it had made the call itself.
    """
    # As many at once as the upload sends requests at once (upload.workers): one worker
    # means one request at a time, during the setup too.
    at_once = min(_AT_ONCE, len(names), client.pool_size - _BESIDE_WORKERS)
    if at_once < 2:
        return {}
    with ThreadPoolExecutor(at_once, thread_name_prefix="osai-category") as pool:
        try:
            futures = {name: pool.submit(_create, client, journal, server, dataset_id, name)
                       for name in names}
            return {name: future.result() for name, future in futures.items()}
        except BaseException:
            # Ctrl-C while they are in flight: end them now rather than wait for them.
            client.cancel()
            raise


def _variants(name: str) -> set[str]:
    """Return the names a server that normalizes category names may store ``name`` under."""
    return {name, name.lower(), name.replace(" ", "_"), name.replace(" ", "_").lower()}


def _stored_under(name: str, known: Mapping[str, Id | None], stored_as: Mapping[str, str]
                  ) -> str | None:
    """Return a known label the server stores under ``name`` itself (``Cat`` became ``cat``)."""
    for other, server_name in stored_as.items():
        if server_name == name and known.get(other) is not None:
            return other
    return None


def _known_as(name: str, known: Mapping[str, Id | None], stored_as: Mapping[str, str]
              ) -> CategoryRef | None:
    """Return a category this dataset has that a normalizing server takes ``name`` for."""
    for other, cid in known.items():
        server_name = stored_as.get(other, other)
        if other != name and cid is not None and server_name in _variants(name):
            return CategoryRef(cid, server_name)
    return None


def _find(name: str, listed: list[CategoryRef]) -> CategoryRef | None:
    """Return the listed category that is ``name``, as sent or as the server normalized it."""
    exact = [c for c in listed if c.name == name]
    if exact:
        return exact[0]
    close = [c for c in listed if c.name in _variants(name)]
    return close[0] if len(close) == 1 else None


def _lock_holder(session: UploadSession) -> str:
    """Say who most likely holds the dataset's lock, from what the journal knows."""
    journal, server, dataset_id = session.journal, session.server, session.dataset_id
    known = journal.open_sessions(server, dataset_id)
    if known:
        ids = ", ".join(str(i) for i in known)
        return f"upload session {ids} that an earlier run started and could not finish"
    lost = journal.pending(server, "session", dataset_id, "")
    if lost is not None:
        return f"a session whose StartUploading answer was lost ({_when(lost)})"
    return "another upload session (another run, or someone else)"


def _unknown_id(name: str, dataset_id: Id, lost: float | None, exc: RejectedError) -> str:
    if lost is not None:
        why = f"an earlier run ({_when(lost)}) created it and its answer was lost"
    elif exc.after_lost_answer:
        why = "this run created it and its answer was lost"
    else:
        why = "it was made by another run or in the web app"
    return (
        f"category {name!r} already exists in dataset {dataset_id} but its id is unknown "
        f"({why}); images classified as {name!r} need its id, and this server does not list "
        f"categories: look the id up in the OSAI web app and add it to the config as\n"
        f"  dataset:\n    categories: {{{name!r}: <its id>}}\n"
        f"then run the same command again"
    )


def start_session(
    session: UploadSession,
    base_url: str,
    *,
    made_here: bool,
    wait: float,
    notice: Callable[[str], None],
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Start the upload session; wait (up to ``wait`` s) while the dataset is locked.

    A refusal of StartUploading (400, 409 or 423, whatever its words) means the dataset
    is locked by another session, and a lost answer may have locked it with a session
    whose id is lost: OSAI unlocks a dataset by itself after a while without new images,
    so the call is tried again now and then, ``notice`` saying how long is left.
    """
    dataset_id = session.dataset_id
    deadline = time.monotonic() + wait
    # Often enough to start soon after the unlock; rarely enough to be no load.
    pause = min(max(wait / 20, 1.0), 15.0)
    while True:
        try:
            session.start()
            return
        except UnexpectedResponseError as exc:
            if exc.status == 404 and made_here:
                # Signed in, so the URL is right: the dataset this journal made is gone.
                raise AbortedError(
                    f"dataset {dataset_id}, made by an earlier run of this config, is gone from "
                    f"{base_url} (StartUploading answered HTTP 404); run again with "
                    f"--restart to create it anew"
                ) from None
            raise
        except RejectedError as exc:
            if exc.status not in LOCKED_STATUSES:
                raise
            reason = str(exc)  # the server's own words sharpen the message
        except TransientError as exc:
            if not exc.maybe_committed:
                raise
            # The session may have started and locked the dataset; its id is lost.
            reason = "the answer to StartUploading was lost"
        whose = _lock_holder(session)
        left = deadline - time.monotonic()
        if left <= 0:
            raise AbortedError(
                f"dataset {dataset_id} is locked by {whose} ({reason}); OSAI unlocks it by "
                f"itself after a while without new images: run again later"
                + (f" (this run waited {wait:g} s; raise upload.wait_locked to wait longer)"
                   if wait > 0 else " (or set upload.wait_locked to wait for it)")
            )
        notice(
            f"dataset {dataset_id} is locked by {whose}; OSAI unlocks it after a while "
            f"without new images: trying again, {left:.0f} s left (Ctrl-C to stop)"
        )
        sleep(min(pause, max(left, 0.0)))
