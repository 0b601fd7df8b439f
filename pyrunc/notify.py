"""NOTIFY_SOCKET pass-through (sd_notify), as runc does it: when the runtime runs with
NOTIFY_SOCKET set (systemd's service, `podman --sdnotify=container`), the container gets a
socket of the runtime's own instead of the host's, and `start` relays its READY to the host.

create: <state dir>/notify/ is bind-mounted read-only (nosuid, nodev, noexec) at /run/notify
in the container, and the container's process (not exec'd ones) gets
NOTIFY_SOCKET=/run/notify/notify.sock. start: binds that socket before it lets the process run,
and once the process has started waits for its first `READY=` datagram, then sends that line
and `MAINPID=<init pid>` to the host's NOTIFY_SOCKET (start's, else create's), and returns; a
process that exits without it ends the wait. The wait has no bound, like runc's: a service that
never says it is ready is systemd's to time out.
"""
import os
import select
import socket

from pyrunc.errors import PyruncError

VARIABLE = "NOTIFY_SOCKET"
DIRECTORY = "notify"
SOCKET = "notify.sock"
IN_CONTAINER = "/run/notify"


def host_socket():
    """The host's socket from our environment, or None."""
    return os.environ.get(VARIABLE) or None


def prepare(config, state_dir):
    """For create: the directory, the mount in config (kept in state.json, so delete and
    explain see it) and the process's NOTIFY_SOCKET entry to add to its environment."""
    directory = os.path.join(state_dir, DIRECTORY)
    os.mkdir(directory, 0o755)
    config.setdefault("mounts", []).append({
        "destination": IN_CONTAINER, "type": "bind", "source": directory,
        "options": ["bind", "nosuid", "noexec", "nodev", "ro"]})
    return f"{VARIABLE}={IN_CONTAINER}/{SOCKET}"


class Relay:
    """The container's socket, bound by start before the process runs."""

    def __init__(self, state_dir, host):
        self.host = host
        self.path = os.path.join(state_dir, DIRECTORY, SOCKET)
        try:
            os.unlink(self.path)  # a start that failed before left it
        except FileNotFoundError:
            pass
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        try:
            self.sock.bind(self.path)
            os.chmod(self.path, 0o777)  # any user of the container may notify
        except OSError as e:
            self.close()
            raise PyruncError(f"{VARIABLE}: cannot bind {self.path}: {e.strerror}") from None

    def close(self):
        # The file stays until delete, as runc's: later messages find nobody listening.
        self.sock.close()

    def forward(self, pid):
        """Wait for the container's READY= (or its init's exit) and pass it on."""
        try:
            ready = self._wait(pid)
            if ready is not None:
                self._send(ready + b"\n")
                self._send(f"MAINPID={pid}\n".encode())
        finally:
            self.close()

    def _wait(self, pid):
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:
            return None  # the init is gone already
        try:
            poller = select.poll()
            poller.register(self.sock.fileno(), select.POLLIN)
            poller.register(pidfd, select.POLLIN)
            while True:
                events = dict(poller.poll())
                if self.sock.fileno() in events:
                    message = self.sock.recv(4096)
                    # one datagram holds the assignments, one a line: READY= must lead it
                    if message.startswith(b"READY="):
                        return message.split(b"\n", 1)[0]
                    continue
                if pidfd in events:
                    return None
        finally:
            os.close(pidfd)

    def _send(self, data):
        address = "\0" + self.host[1:] if self.host.startswith("@") else self.host
        out = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        try:
            out.sendto(data, address)
        except OSError as e:
            raise PyruncError(f"{VARIABLE} {self.host}: cannot pass the container's "
                              f"readiness on: {e.strerror}") from None
        finally:
            out.close()
