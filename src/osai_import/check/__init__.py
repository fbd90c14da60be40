"""The check stage: every record validated before anything is sent, each problem under a code.

``checker`` checks one record (``imageinfo`` reads its header, ``rules`` and ``names``
hold the rules); ``stream`` checks a whole source in two passes; ``summary`` counts;
``report`` writes and prints what a check found; ``plan`` is the check as a run uses it.
The codes themselves are in ``osai_import.codes``.
"""
