"""embedded.channel: the pipes between `mediaflow run`, its zygote and the zygote's workers."""

from __future__ import annotations

import os
import threading

import pytest
from mediaflow.embedded.channel import Channel, channel_pair
from mediaflow.errors import NotFound


def test_messages_go_both_ways_in_order() -> None:
    first, second = channel_pair()
    first.send({"task": 1})
    first.send(None)
    second.send(("ok", [1, 2, 3]))
    assert second.recv() == {"task": 1}
    assert second.recv() is None
    assert first.recv() == ("ok", [1, 2, 3])
    first.close()
    second.close()


def test_a_message_larger_than_the_pipe_buffer_arrives_whole() -> None:
    first, second = channel_pair()
    payload = os.urandom(3 * 1024 * 1024)
    sender = threading.Thread(target=first.send, args=(payload,))
    sender.start()
    assert second.recv() == payload
    sender.join()


def test_poll_waits_only_as_long_as_asked_and_sees_a_message() -> None:
    first, second = channel_pair()
    assert second.poll(0.01) is False
    first.send("ready")
    assert second.poll(None) is True
    assert second.recv() == "ready"


def test_an_error_travels_as_the_worker_pool_sends_it() -> None:
    first, second = channel_pair()
    first.send(("error", NotFound("object 'x' not found", field="key")))
    kind, error = second.recv()
    assert kind == "error" and isinstance(error, NotFound) and error.field == "key"


def test_the_other_end_closed_reads_as_end_of_file_and_refuses_writes() -> None:
    first, second = channel_pair()
    first.send("last")
    first.close()
    assert second.poll(0) is True
    assert second.recv() == "last"
    with pytest.raises(EOFError):
        second.recv()
    with pytest.raises(BrokenPipeError):
        second.send("anyone?")


def test_a_closed_end_refuses_everything_and_closes_twice() -> None:
    first, _ = channel_pair()
    first.close()
    first.close()
    assert first.closed
    for call in (lambda: first.send(1), first.recv, lambda: first.poll(0)):
        with pytest.raises(OSError):
            call()


def test_the_ends_work_across_a_fork() -> None:
    first, second = channel_pair()
    pid = os.fork()
    if pid == 0:  # the child answers each message, then exits when its end sees the parent close
        code = 0
        try:
            first.close()
            while True:
                try:
                    message = second.recv()
                except EOFError:
                    break
                second.send(message * 2)
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    second.close()
    for value in (1, "ab", [3]):
        first.send(value)
        assert first.recv() == value * 2
    first.close()
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0


def test_an_end_is_a_channel_with_its_own_pipes() -> None:
    first, second = channel_pair()
    assert isinstance(first, Channel) and isinstance(second, Channel)
    assert not os.get_inheritable(first._read_fd) and not os.get_inheritable(first._write_fd)
