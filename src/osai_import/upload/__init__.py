"""The upload stage: OSAI's HTTP API, the journal, and the chunks sent in parallel.

It knows nothing of configs or checks (an import contract holds it to that): it is
given plain values and the items to send. ``client`` has one method per endpoint
(``answers`` reads the answers, ``refusals`` maps refusals to errors, ``retry`` is the
retry policy, ``multipart`` builds a chunk's body); ``journal`` remembers what the server
acknowledged; ``setup`` makes the dataset and its categories; ``session`` owns the upload
session; ``uploader`` sends one chunk; ``workers`` runs the pool; ``resume`` picks up
after an earlier run.
"""
