"""Test reader plugins: a conformance suite, a local OSAI server and upload helpers.

Installed as a pytest plugin (entry point ``pytest11``), so the fixtures
``osai_local_server``, ``osai_uploader`` and ``osai_s3`` (a local S3 server) exist in every
test session. A reader proves
it keeps the Reader contract by subclassing :class:`ReaderConformance`::

    class TestMyReader(ReaderConformance):
        reader_class = MyReader

        @pytest.fixture
        def reader_options(self, tmp_path):
            ...  # write a small valid source; return its `source:` options

        @pytest.fixture
        def broken_source(self, tmp_path):
            ...  # write a source with one bad item; return BrokenSource(options, "bad.txt:3")

docs/writing-plugins.md walks through it. The suite is in ``suite.py``, the local server
and the uploader in ``server.py``; this package re-exports what plugin tests use.
"""

from __future__ import annotations

from osai_import.testing.s3 import LocalS3, local_s3, osai_s3
from osai_import.testing.server import (
    OsaiUploader,
    UploadResult,
    local_server,
    osai_local_server,
    osai_uploader,
)
from osai_import.testing.suite import BrokenSource, ReaderConformance, make_image

# pytest finds the fixtures of this plugin (entry point pytest11) among these names.
__all__ = [
    "BrokenSource", "LocalS3", "OsaiUploader", "ReaderConformance", "UploadResult", "local_s3",
    "local_server", "make_image", "osai_local_server", "osai_s3", "osai_uploader",
]
