"""The stop signals of `mediaflow run` and `serve`: the first SIGTERM/SIGINT asks for an orderly stop, a
second one stops at once; the caller waking its own wait (work finished) is not a signal."""

from __future__ import annotations

import os
import signal
import time

import pytest
from mediaflow.embedded.serve import stop_signals


def _deliver(signum: int) -> None:
    os.kill(os.getpid(), signum)
    time.sleep(0.05)  # the handler runs in the main thread at its next bytecode


def test_the_first_signal_sets_the_event_and_a_second_stops_at_once() -> None:
    with stop_signals() as stop:
        _deliver(signal.SIGTERM)
        assert stop.is_set()
        with pytest.raises(KeyboardInterrupt):
            _deliver(signal.SIGINT)


def test_a_signal_after_the_work_woke_the_waiter_is_still_the_first() -> None:
    """The work finished (the caller set the event) just before a SIGTERM came: an orderly stop, not an
    interruption (`mediaflow run` used to exit 130 'interrupted' here)."""
    before = signal.getsignal(signal.SIGTERM)
    with stop_signals() as stop:
        stop.set()
        _deliver(signal.SIGTERM)
        assert stop.is_set()
    assert signal.getsignal(signal.SIGTERM) is before  # the previous handler is back
