"""Preview a run: one self-contained HTML page of a sample of the records, as they will be sent.

``make.make_preview`` reads the source as the check does, counts it whole, samples it
by category (``sample``), checks the sample and draws each image with the boxes the
encoder writes (``figures``), under a summary (``summary``, ``page``). The command is
``osai-import preview``; code calls ``osai_import.preview``. docs/preview.md shows the page.
"""
