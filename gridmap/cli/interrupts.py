"""Ctrl-C while a command prepares is never lost.

Python raises ``KeyboardInterrupt`` wherever the main thread happens to be. Raised inside a weakref callback or a
``__del__`` (the collector runs them at any moment), it is printed as "Exception ignored in …" and dropped, and
the command went on preparing, then served: a test of Ctrl-C during ``gridmap demo`` saw exactly that. The handler
here also remembers the interrupt, and :func:`checkpoint`, called between a command's steps, raises it again.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class _Seen:
    interrupted = False


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    _Seen.interrupted = True
    raise KeyboardInterrupt


@contextmanager
def remembered_interrupts() -> Iterator[None]:
    """Within: Ctrl-C raises ``KeyboardInterrupt`` and is remembered for :func:`checkpoint` (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _Seen.interrupted = False
    previous = signal.signal(signal.SIGINT, _on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        _Seen.interrupted = False


def checkpoint() -> None:
    """Raise ``KeyboardInterrupt`` again if Ctrl-C came and was swallowed where it was first raised."""
    if _Seen.interrupted:
        raise KeyboardInterrupt
