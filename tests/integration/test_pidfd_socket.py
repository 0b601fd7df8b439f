"""--pidfd-socket (runc 1.2) on create, run and exec, as root on real containers: the test
listens on a unix socket, receives the fd pyrunc sends (SCM_RIGHTS), checks from outside that
it is a pidfd of the right process (/proc/self/fdinfo: Pid:), and uses it: a signal through
pidfd_send_signal stops the container, a poll on it sees the exec'd process exit. Bad input
(a path that is not a socket, nobody listening) is one line naming the flag, exit 1, and
nothing is left behind."""
import os
import select
import signal
import socket
import struct
import threading

import pytest

from conftest import env_with
from leftovers import Leftovers, assert_nothing_left

SLEEP = ("sleep", "1000")


class Listener:
    """A unix stream socket that accepts one connection and keeps the fds it receives."""

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(1)
        self.sock.settimeout(30)
        self.fds = []
        self.names = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            data, ancdata, _flags, _addr = conn.recvmsg(1024, socket.CMSG_SPACE(4 * 4))
            self.names.append(data.decode())
            for level, kind, payload in ancdata:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    self.fds.extend(struct.unpack(f"{len(payload) // 4}i", payload))

    def received(self):
        self.thread.join(30)
        assert len(self.fds) == 1, (self.fds, self.names)
        return self.fds[0]

    def close(self):
        self.sock.close()
        for fd in self.fds:
            os.close(fd)


@pytest.fixture
def listener(tmp_path):
    made = []

    def make(name="pidfd.sock"):
        made.append(Listener(tmp_path / name))
        return made[-1]
    yield make
    for one in made:
        one.close()


def pidfd_pid(fd):
    """The pid a pidfd refers to, from our /proc/self/fdinfo (the kernel's word), and that the
    fd is a pidfd at all (its link reads anon_inode:[pidfd], or pidfd: on pidfs kernels)."""
    target = os.readlink(f"/proc/self/fd/{fd}")
    assert "pidfd" in target, target
    with open(f"/proc/self/fdinfo/{fd}") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key == "Pid":
                return int(value)
    raise AssertionError(f"fd {fd} has no Pid: line in its fdinfo")


def wait_readable(fd, timeout):
    """A pidfd polls readable once its process has exited."""
    ready, _, _ = select.select([fd], [], [], timeout)
    return bool(ready)


def test_create_sends_a_pidfd_of_the_init_that_can_kill_it(runtime, make_bundle, listener):
    cid = "pidfd-create"
    sock = listener()
    runtime("create", "--pidfd-socket", sock.path, "-b", make_bundle(SLEEP), cid, check=True)
    fd = sock.received()
    assert sock.names == ["pidfd"]
    state = runtime.state(cid)
    assert pidfd_pid(fd) == state["pid"] and state["status"] == "created"
    # The container's side of it: that pid is its pid 1.
    with open(f"/proc/{state['pid']}/status") as f:
        nspid = next(line.split()[1:] for line in f if line.startswith("NSpid:"))
    assert nspid[-1] == "1", nspid
    signal.pidfd_send_signal(fd, signal.SIGKILL)
    assert wait_readable(fd, 10)
    assert runtime.state(cid)["status"] == "stopped"
    runtime("delete", cid, check=True)


def test_run_detached_sends_a_pidfd_of_the_running_init(runtime, make_bundle, listener):
    cid = "pidfd-run"
    sock = listener()
    runtime("run", "-d", "--pidfd-socket", sock.path, "-b", make_bundle(SLEEP), cid, check=True)
    fd = sock.received()
    state = runtime.state(cid)
    assert state["status"] == "running" and pidfd_pid(fd) == state["pid"]
    signal.pidfd_send_signal(fd, signal.SIGTERM)  # pid 1 of a pid ns: sleep has no handler
    signal.pidfd_send_signal(fd, signal.SIGKILL)
    assert wait_readable(fd, 10)
    assert runtime.state(cid)["status"] == "stopped"
    runtime("delete", cid, check=True)


def test_exec_sends_a_pidfd_of_the_exec_process(runtime, make_bundle, listener, tmp_path):
    cid = "pidfd-exec"
    runtime("run", "-d", "-b", make_bundle(SLEEP), cid, check=True)
    init = runtime.state(cid)["pid"]
    sock = listener()
    pid_file = tmp_path / "exec.pid"
    # Inside: the exec'd shell prints its own pid as the container sees it, then waits.
    out = tmp_path / "exec.out"
    with open(out, "w") as f:
        runtime("exec", "-d", "--pid-file", str(pid_file), "--pidfd-socket", sock.path, cid,
                "sh", "-c", "echo inside $$; exec sleep 1000", check=True, stdout=f)
    fd = sock.received()
    exec_pid = int(pid_file.read_text())
    assert pidfd_pid(fd) == exec_pid != init
    assert not wait_readable(fd, 0)  # still running
    signal.pidfd_send_signal(fd, signal.SIGKILL)
    assert wait_readable(fd, 10)  # the pidfd sees it exit
    assert runtime.state(cid)["status"] == "running"  # the exec'd process alone went
    inside = open(out).read().split()
    assert inside[0] == "inside" and inside[1] != "1" and int(inside[1]) > 1, inside
    runtime("delete", "--force", cid, check=True)


def test_foreground_exec_sends_the_pidfd_before_waiting(runtime, make_bundle, listener):
    cid = "pidfd-exec-fg"
    runtime("run", "-d", "-b", make_bundle(SLEEP), cid, check=True)
    sock = listener()
    result = runtime("exec", "--pidfd-socket", sock.path, cid, "sh", "-c", "exit 7")
    assert result.returncode == 7, result.stderr
    fd = sock.received()
    assert wait_readable(fd, 10)
    runtime("delete", "--force", cid, check=True)


@pytest.mark.parametrize("verb", ["create", "run", "exec"])
def test_a_pidfd_socket_that_is_not_a_socket_leaves_nothing(runtime, make_bundle, tmp_path,
                                                             marker, verb):
    cid = f"pidfd-bad-{verb}"
    not_socket = tmp_path / "plain-file"
    not_socket.write_text("")
    nobody = tmp_path / "nobody.sock"  # a socket nobody listens on any more
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(nobody))
    s.close()
    bundle = make_bundle(SLEEP)
    if verb == "exec":
        runtime("run", "-d", "-b", bundle, cid, check=True)
    for path, reason in ((not_socket, "not a unix socket"), (nobody, "refused"),
                         (tmp_path / "missing.sock", "No such file")):
        snap = Leftovers(runtime, cid, markers=marker)
        if verb == "exec":
            args = ("exec", "-e", marker, "--pidfd-socket", str(path), cid, "true")
        else:
            args = (verb, "--pidfd-socket", str(path), "-b", bundle, cid)
        result = runtime(*args, env=env_with(marker))
        err = result.stderr.strip()
        assert result.returncode == 1, (result.returncode, err)
        assert "\n" not in err and "Traceback" not in result.stderr, result.stderr
        assert f"--pidfd-socket {path}" in err and reason in err, err
        if verb == "exec":
            snap.check()
            assert runtime.state(cid)["status"] == "running"
        else:
            assert runtime.ids() == []
            assert_nothing_left(runtime, cid, markers=marker)
    if verb == "exec":
        runtime("delete", "--force", cid, check=True)
