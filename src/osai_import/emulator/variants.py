"""The behaviours OSAI's documentation leaves open, one field each; the defaults are ours.

docs/emulator.md ("Variants") says what each value makes the server answer. The handlers
read these fields on every request, so a test may switch a variant on a running server.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

IDS = ("int", "guid")
SIGN_IN_ANSWERS = ("text", "json-string", "object")
START_ANSWERS = ("scalar", "json-string", "object")
CHUNK_ANSWERS = ("object", "empty", "list", "skipped")
CHUNK_STATUSES = (200, 201, 202, 204)
ERROR_FORMATS = ("aspnet", "rfc7807", "text", "empty", "html")
TOKEN_STATUSES = (401, 403)
DUPLICATE_CATEGORY = ("400", "409", "existing")
CATEGORY_NAMES = ("as-sent", "underscores", "lower")
DUPLICATE_IMAGES = ("store", "refuse")
SESSION_GONE_STATUSES = (400, 404, 410)
LOCKED_STATUSES = (400, 409, 423)
CHUNK_REFUSALS = ("413", "413-html", "close", "400")
CONNECTIONS = ("close", "keep-alive", "http/1.0")
SIGN_INS = ("post", "legacy-get")


@dataclass
class Variants:
    """Hold one choice per undocumented behaviour; the defaults are the emulator's own."""

    # --- ids: what the API shows for datasets, categories and upload sessions ----------
    ids: str = "int"

    # --- answer shapes ------------------------------------------------------------------
    # SignIn: the bearer token as bare text, as a JSON string, or in a one-field object.
    sign_in_answer: str = "text"
    sign_in_field: str = "token"
    # StartUploading: the session id as a JSON scalar, a JSON string, or a one-field object.
    start_answer: str = "scalar"
    start_field: str = "id"
    # UploadChunk: our object, nothing, a list of the stored images, or only what was skipped.
    chunk_answer: str = "object"
    chunk_status: int = 200
    # Images with these names are skipped by the server: not stored, listed as skipped.
    chunk_skip: frozenset[str] = frozenset()

    # --- error bodies: ASP.NET problem details, RFC 7807, plain text, nothing, HTML -----
    error_format: str = "aspnet"

    # --- a refused bearer token (missing, invalid, expired) -----------------------------
    token_status: int = 401
    token_body: bool = True  # False: no body at all
    token_challenge: bool = True  # False: no WWW-Authenticate header

    # --- categories ---------------------------------------------------------------------
    # A name the dataset has: a 400, a 409, or a 200 answering the existing category.
    duplicate_category: str = "400"
    # The wording of that 400 or 409 (None: the emulator's own; "": no body at all).
    duplicate_category_detail: str | None = None
    # Names stored as sent, with spaces replaced by "_", or lower-cased (so unique
    # without regard to case).
    category_names: str = "as-sent"

    # --- images -------------------------------------------------------------------------
    # An image name the dataset has: stored again (and counted), or the chunk refused (400).
    duplicate_images: str = "store"
    # A chunk holding an image of one of these names is answered 500, every time.
    poison_images: frozenset[str] = frozenset()

    # --- an upload session that is gone (finished, or expired and so unlocked) ----------
    session_gone_status: int = 400
    # The wording (None: the emulator's own, naming the cause; "": no body at all).
    session_gone_detail: str | None = None
    # Also refuse FinishUploading of such a session, instead of answering 200.
    session_gone_on_finish: bool = False

    # --- StartUploading for a dataset locked by another session: 400, 409 or 423 ------
    locked_status: int = 400

    # --- caps on a chunk (0: none), and how a chunk over one is refused -----------------
    chunk_max_images: int = 0
    chunk_max_bytes: int = 0
    # A 413 problem, a 413 HTML page, a closed connection, or a 400.
    chunk_refusal: str = "413"
    # The wording (None: the emulator's own, naming the cap; "": no body at all).
    chunk_refusal_detail: str | None = None

    # --- connections: "Connection: close" on every answer, HTTP/1.1 keep-alive, HTTP/1.0 -
    connection: str = "keep-alive"

    # --- listing: GET /api/Datasets/{id}/Categories and /Images (not in OSAI's docs) -----
    listing: bool = False

    # --- sign-in: POST with a JSON string (documented), or only GET ?token= (legacy) ----
    sign_in: str = "post"

    def __post_init__(self) -> None:
        """Refuse a value no handler knows."""
        self.chunk_skip = frozenset(self.chunk_skip)
        self.poison_images = frozenset(self.poison_images)
        for name in ("sign_in_field", "start_field"):
            if not getattr(self, name):
                raise ValueError(f"variants.{name} must name a JSON field")
        for name in ("chunk_max_images", "chunk_max_bytes"):
            if getattr(self, name) < 0:
                raise ValueError(f"variants.{name} must be 0 (no cap) or more")
        for name, allowed in _CHOICES.items():
            value = getattr(self, name)
            if value not in allowed:
                raise ValueError(f"variants.{name} is {value!r}; use one of "
                                 f"{', '.join(str(a) for a in allowed)}")

    def category_name(self, name: str) -> str:
        """Return the name a category sent as ``name`` is stored (and matched) under."""
        if self.category_names == "underscores":
            return name.replace(" ", "_")
        if self.category_names == "lower":
            return name.lower()
        return name


_CHOICES: dict[str, tuple[object, ...]] = {
    "ids": IDS, "sign_in_answer": SIGN_IN_ANSWERS, "start_answer": START_ANSWERS,
    "chunk_answer": CHUNK_ANSWERS, "chunk_status": CHUNK_STATUSES,
    "error_format": ERROR_FORMATS, "token_status": TOKEN_STATUSES,
    "duplicate_category": DUPLICATE_CATEGORY, "category_names": CATEGORY_NAMES,
    "duplicate_images": DUPLICATE_IMAGES, "session_gone_status": SESSION_GONE_STATUSES,
    "locked_status": LOCKED_STATUSES,
    "chunk_refusal": CHUNK_REFUSALS, "connection": CONNECTIONS, "sign_in": SIGN_INS,
}


def names() -> list[str]:
    """Return the field names of Variants, in declaration order."""
    return [f.name for f in fields(Variants)]
