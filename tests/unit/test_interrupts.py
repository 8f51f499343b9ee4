"""Ctrl-C raised where Python drops it (inside a ``__del__``) is raised again at the command's next checkpoint."""

from __future__ import annotations

import gc
import signal

import pytest

from gridmap.cli.interrupts import checkpoint, remembered_interrupts


class _InterruptedWhileCollected:
    def __del__(self) -> None:
        signal.raise_signal(signal.SIGINT)  # Ctrl-C arriving while the collector runs this


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the drop this module is about
def test_a_swallowed_ctrl_c_is_raised_at_the_next_checkpoint() -> None:
    with remembered_interrupts():
        _InterruptedWhileCollected()  # dropped at once: its __del__ runs and the KeyboardInterrupt is ignored there
        gc.collect()
        with pytest.raises(KeyboardInterrupt):
            checkpoint()
    checkpoint()  # outside, nothing is remembered any more: a new command starts clean
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_without_ctrl_c_a_checkpoint_passes() -> None:
    with remembered_interrupts():
        checkpoint()
