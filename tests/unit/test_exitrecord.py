"""Exit records without root (pyrunc/exitrecord.py): wait statuses decoded, a zombie's status
read from /proc as `state` reads it (a child of the test: the kernel keeps it until reaped),
and the keys `state` adds."""
import os
import signal
import time

from pyrunc import exitrecord
from pyrunc.state import proc_start_time


def zombie(how):
    pid = os.fork()
    if pid == 0:
        if how == "exit":
            os._exit(5)
        os.kill(os.getpid(), signal.SIGKILL)
    deadline = time.monotonic() + 10
    while proc_start_time(pid)[0] != "Z" and time.monotonic() < deadline:
        time.sleep(0.01)
    return pid


def test_decode():
    assert exitrecord.decode(3 << 8) == {"exitStatus": 3}
    assert exitrecord.decode(9) == {"signal": 9, "signalName": "SIGKILL", "coreDumped": False}
    assert exitrecord.decode(0x80 | 11)["coreDumped"] is True


def test_a_zombies_status_is_read_from_proc():
    for how, expected in (("exit", 5 << 8), ("kill", signal.SIGKILL)):
        pid = zombie(how)
        try:
            start = proc_start_time(pid)[1]
            assert exitrecord.zombie_wait_status(pid, start) == expected
            assert exitrecord.zombie_wait_status(pid, start + 1) is None  # another process
        finally:
            os.waitpid(pid, 0)
        assert exitrecord.zombie_wait_status(pid, start) is None  # reaped: gone


def test_a_live_process_has_no_status():
    assert exitrecord.zombie_wait_status(os.getpid(), proc_start_time(os.getpid())[1]) is None


def test_state_keys():
    assert exitrecord.state_keys(None) == {}
    assert exitrecord.state_keys({"exitStatus": 0, "oomKilled": False, "oomKills": 0}) == \
        {"exitStatus": 0, "oomKilled": False}
    assert exitrecord.state_keys({"signal": 9, "signalName": "SIGKILL", "oomKilled": True}) == \
        {"exitSignal": "SIGKILL", "oomKilled": True}
