"""The calls before the first image: the dataset, its categories, the upload session.

Each step asks the journal first, so a rerun reuses what an earlier run created, and
writes what the server answered to the journal at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from osai_import.errors import (
    AbortedError,
    DuplicateCategoryError,
    RejectedError,
    UnexpectedResponseError,
)
from osai_import.upload.answers import Id
from osai_import.upload.client import OsaiClient
from osai_import.upload.journal import Journal
from osai_import.upload.session import UploadSession

_LOST_CATEGORY = " (an earlier try made it, and its answer was lost)"


def ensure_dataset(
    client: OsaiClient, journal: Journal, server: str, name: str | None, given: Id | None
) -> Id:
    """Return the dataset's id: the one given, the one this journal made, or a new one."""
    if given is not None:
        return given
    assert name is not None
    known = journal.dataset_id(server, name)
    if known is not None:
        return known
    dataset = client.create_dataset(name)
    journal.set_dataset(server, name, dataset.id)
    return dataset.id


@dataclass
class CategorySetup:
    """What ``create_categories`` did, filled as it goes (so a stop midway keeps it)."""

    created: list[str] = field(default_factory=list)
    # Existed already with an unknown id; boxes refer to them by name, so they serve.
    reused: list[str] = field(default_factory=list)
    ids: dict[str, Id | None] = field(default_factory=dict)


def create_categories(
    client: OsaiClient,
    journal: Journal,
    server: str,
    dataset_id: Id,
    names: list[str],
    image_categories: set[str],
    setup: CategorySetup,
) -> None:
    """Create the categories of ``names`` the journal does not know, filling ``setup``.

    ``image_categories`` are the names images are classified by: their ids go into every
    chunk, so one that exists with an unknown id stops the run; a box label needs no id.
    """
    known = journal.categories(server, dataset_id)
    for name in names:
        if name in known and (known[name] is not None or name not in image_categories):
            continue
        try:
            category = client.create_category(dataset_id, name)
        except DuplicateCategoryError as exc:
            # It exists but its id is unknown: made by an earlier run stopped (or whose answer
            # was lost) while creating it, or by hand. OSAI cannot list categories.
            if name in image_categories:
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
            setup.reused.append(name)
            continue
        journal.set_category(server, dataset_id, name, category.id)
        known[name] = category.id
        setup.created.append(name)
    setup.ids = {name: known[name] for name in names}


def start_session(session: UploadSession, base_url: str, *, made_here: bool) -> None:
    """Start the upload session; say what to do when the dataset is gone or locked."""
    dataset_id = session.dataset_id
    try:
        session.start()
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
        if exc.dataset_locked:
            raise AbortedError(
                f"dataset {dataset_id} is locked by another upload session ({exc}); an "
                f"earlier run that could not finish it, or another upload, holds it: run "
                f"again later (OSAI unlocks a dataset after a while without new images)"
            ) from None
        raise
