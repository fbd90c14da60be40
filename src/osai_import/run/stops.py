"""How a run meets Ctrl-C and SIGTERM: the first stops it cleanly, a second at once."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from typing import Any

_AT_ONCE = (
    b"\nosai-import: stopped at once (second interrupt) without finishing the upload "
    b"session; the next run finishes it, and OSAI unlocks the dataset after a while\n"
)


@contextlib.contextmanager
def stop_signals(wanted_here: bool = True) -> Iterator[None]:
    """Make the first Ctrl-C or SIGTERM stop the run cleanly, and a second one at once.

    The first raises KeyboardInterrupt in the main thread: waits and requests end, the
    upload session is finished (within a few seconds, see ``OsaiClient.cancel``), the
    report is written. A second one exits on the spot with exit code 130. A SIGINT that
    the shell made the process ignore (a background job) stays ignored. Nothing is
    installed when ``wanted_here`` is False (a notebook's kernel keeps its own handling)
    or outside the main thread.
    """
    if not wanted_here or threading.current_thread() is not threading.main_thread():
        yield  # handlers can only be set in the main thread
        return
    stops = 0

    def handler(signum: int, frame: Any) -> None:
        nonlocal stops
        stops += 1
        if stops == 1:
            raise KeyboardInterrupt
        os.write(2, _AT_ONCE)
        os._exit(130)

    wanted = [signal.SIGTERM]
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        wanted.append(signal.SIGINT)
    previous = {signum: signal.signal(signum, handler) for signum in wanted}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
