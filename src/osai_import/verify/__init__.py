"""Verify an upload: what the server holds, against what the journal says was sent.

``verifier.verify_config`` reads the journal read-only (``journal``), the source again as
``run`` sends it (``expected``), and the dataset back from the server by whichever means
it offers (``server``), then compares them image by image (``compare``) into a
``VerifyReport`` (``report``); ``output`` prints it. The command is ``osai-import
verify``; code calls ``osai_import.verify``. docs/verify.md says what is compared.
"""
