"""--pidfd-socket PATH (runc 1.2, create, run and exec): the caller listens on a unix socket
and receives a pidfd of the container's init (or of the exec'd process) over it, SCM_RIGHTS,
to signal or wait for that process without racing a reused pid."""
import os

from pyrunc import fdsocket
from pyrunc.errors import PidfdSocketError

FLAG = "--pidfd-socket"


class PidfdSocket:
    """Connected before anything is made (a bad path fails first and leaves nothing); the
    pidfd is taken while the process waits for the parent's CONTINUE, when its pid cannot
    have been reused yet, and sent once the process is set up."""

    def __init__(self, path):
        self.sock = fdsocket.connect(path, FLAG, PidfdSocketError)
        self.pidfd = None

    def take(self, pid):
        try:
            self.pidfd = os.pidfd_open(pid)
        except OSError as e:
            raise PidfdSocketError(f"{FLAG}: cannot open a pidfd of {pid}: {e.strerror}") \
                from None

    def send(self):
        fdsocket.send_fd(self.sock, self.pidfd, "pidfd", FLAG, PidfdSocketError)

    def close(self):
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None
        self.sock.close()


def connect(path):
    """A PidfdSocket for the flag's value, or None without one."""
    return PidfdSocket(path) if path else None
