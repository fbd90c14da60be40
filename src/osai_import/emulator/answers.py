"""Shape the success answers whose form OSAI leaves open, as ``settings.variants`` says."""

from __future__ import annotations

import json
from typing import Any

from werkzeug.wrappers import Response

from osai_import.emulator.problems import json_response
from osai_import.emulator.variants import Variants


def sign_in(variants: Variants, bearer: str) -> Response:
    """Answer SignIn with the bearer token."""
    if variants.sign_in_answer == "json-string":
        return json_response(bearer)
    if variants.sign_in_answer == "object":
        return json_response({variants.sign_in_field: bearer})
    # OSAI's example uses response.text verbatim after "Bearer ", so no JSON quotes.
    return Response(bearer, content_type="text/plain; charset=utf-8")


def start_uploading(variants: Variants, session_id: int | str) -> Response:
    """Answer StartUploading with the upload session's id."""
    if variants.start_answer == "json-string":
        return json_response(str(session_id))
    if variants.start_answer == "object":
        return json_response({variants.start_field: session_id})
    return json_response(session_id)


def upload_chunk(variants: Variants, dataset_id: int | str, session_id: int | str,
                 stored: list[tuple[int, str]], skipped: list[dict[str, Any]]) -> Response:
    """Answer an accepted chunk; ``stored`` pairs each new image id with its name."""
    status = variants.chunk_status
    body: Any
    if variants.chunk_answer == "empty" or status == 204:
        return Response(b"", status=status, content_type="text/plain; charset=utf-8")
    if variants.chunk_answer == "list":
        body = [{"id": image_id, "name": name} for image_id, name in stored]
    elif variants.chunk_answer == "skipped":
        body = {"skippedImages": [entry["name"] for entry in skipped]}
    else:
        body = {"datasetId": dataset_id, "datasetUploadId": session_id, "accepted": len(stored),
                "imageIds": [image_id for image_id, _ in stored], "skipped": skipped}
    return Response(json.dumps(body, separators=(",", ":")), status=status,
                    content_type="application/json; charset=utf-8")
