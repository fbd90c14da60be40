"""Helpers of the emulator tests: real images, VOC documents, a small HTTP client."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import requests
from PIL import Image

from osai_import.emulator import LocalServer

TOKEN = "test-access-token"


def make_image(kind: str = "jpeg", width: int = 32, height: int = 24,
               color: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    """Return the bytes of a real JPEG or PNG made by Pillow."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format=kind.upper())
    return buffer.getvalue()


def voc_xml(filename: str, width: int, height: int,
            boxes: Sequence[tuple[str, int, int, int, int]], *, difficult: int = 0) -> str:
    """Return a Pascal VOC document; boxes are (name, xmin, ymin, xmax, ymax).

    The bndbox children are written xmin, xmax, ymin, ymax, the order of OSAI's sample.
    """
    objects = "".join(
        f"<object><name>{name}</name><pose>Unspecified</pose><truncated>0</truncated>"
        f"<difficult>{difficult}</difficult><occluded>0</occluded><bndbox><xmin>{x0}</xmin>"
        f"<xmax>{x1}</xmax><ymin>{y0}</ymin><ymax>{y1}</ymax></bndbox></object>"
        for name, x0, y0, x1, y1 in boxes)
    return (f"<annotation><folder>zdj</folder><filename>{filename}</filename>"
            f"<path>{filename}</path><source><database>Unknown</database></source>"
            f"<size><width>{width}</width><height>{height}</height><depth>3</depth></size>"
            f"<segmented>0</segmented>{objects}</annotation>")


def b64(text: str | bytes) -> str:
    """Encode text or bytes as base64, as OSAI wants annotations."""
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


@dataclass
class Img:
    """One image of a chunk as a test builds it."""

    name: str
    data: bytes = field(default_factory=make_image)
    annotation: str | None = None  # base64 text, sent with annotationType 0
    category: int | None = None
    extra: dict[str, str] = field(default_factory=dict)  # raw metadata fields to add/override


class Api:
    """Talk to a LocalServer the way a plain client does (one method per endpoint)."""

    def __init__(self, server: LocalServer) -> None:
        self.server = server
        self.base = server.base_url
        self.http = requests.Session()
        self.bearer = self.sign_in()

    def sign_in(self, token: str | None = None) -> str:
        """Sign in and return the bearer token."""
        answer = self.http.post(f"{self.base}/Users/SignIn", json=token or self.server.token)
        answer.raise_for_status()
        return answer.text

    @property
    def headers(self) -> dict[str, str]:
        """Return the Authorization header."""
        return {"Authorization": f"Bearer {self.bearer}"}

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        """POST to an /api path with the bearer token."""
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return self.http.post(f"{self.base}{path}", headers=headers, **kwargs)

    def dataset(self, name: str = "ds") -> int:
        """Create a dataset and return its id."""
        answer = self.post("/Datasets", json={"name": name})
        assert answer.status_code == 200, answer.text
        return int(answer.json()["id"])

    def category(self, dataset_id: int, name: str) -> int:
        """Create a category and return its id."""
        answer = self.post("/Categories", json={"datasetId": dataset_id, "name": name})
        assert answer.status_code == 200, answer.text
        return int(answer.json()["id"])

    def start(self, dataset_id: int) -> int:
        """Start an upload session and return its id."""
        answer = self.post(f"/Datasets/{dataset_id}/StartUploading")
        assert answer.status_code == 200, answer.text
        return int(answer.json())

    def finish(self, dataset_id: int, session_id: int) -> requests.Response:
        """Finish an upload session."""
        return self.post(f"/Datasets/{dataset_id}/FinishUploading",
                         params={"datasetUploadId": session_id})

    def chunk(self, dataset_id: int, session_id: int, images: Sequence[Img], *,
              skip: bool | None = None, data: dict[str, Any] | None = None,
              files: list[tuple[str, Any]] | None = None) -> requests.Response:
        """Send one UploadChunk; ``data``/``files`` replace the generated parts when given."""
        form: dict[str, Any] = {"datasetId": str(dataset_id), "datasetUploadId": str(session_id)}
        for i, image in enumerate(images):
            form[f"imagesMetadata[{i}][name]"] = image.name
            if image.annotation is not None:
                form[f"imagesMetadata[{i}][annotationType]"] = "0"
                form[f"imagesMetadata[{i}][annotation]"] = image.annotation
            if image.category is not None:
                form[f"imagesMetadata[{i}][classifyCategoryId]"] = str(image.category)
            for key, value in image.extra.items():
                form[f"imagesMetadata[{i}][{key}]"] = value
        parts = files if files is not None else [
            ("imagesFiles", (image.name, image.data)) for image in images]
        params = {} if skip is None else {"skipUnsupportedImages": str(skip).lower()}
        return self.post("/Images/UploadChunk", params=params,
                         data=data if data is not None else form, files=parts)

    def inspect(self, dataset_id: int) -> dict[str, Any]:
        """Return the inspection view of a dataset."""
        answer = self.http.get(f"{self.server.root_url}/_emulator/datasets/{dataset_id}")
        assert answer.status_code == 200, answer.text
        return answer.json()  # type: ignore[no-any-return]

    def stats(self) -> dict[str, Any]:
        """Return the request counters."""
        return self.http.get(f"{self.server.root_url}/_emulator/stats").json()  # type: ignore[no-any-return]
