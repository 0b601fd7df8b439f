"""Handing a file descriptor to whoever listens on a unix socket the caller names, as runc
does for --console-socket (the pty master) and --pidfd-socket (a pidfd of the container's
process): connect (before anything is made, so that a bad path fails first), then one
message whose data is the fd's name and whose SCM_RIGHTS carries the fd."""
import _socket  # socket.py would pull in enum and selectors: ~7 ms per start
import os
import stat
import struct

from pyrunc.errors import PyruncError

# The longest a connect to, or the hand-over on, such a socket may take: a listener that
# accepts nothing (a full backlog) or reads nothing must not hold us forever.
TIMEOUT = 10.0


def connect(path, flag, error=PyruncError, timeout=TIMEOUT):
    """A stream socket connected to path; `error` (with the flag's name and the reason) if
    it cannot be."""
    try:
        mode = os.stat(path).st_mode
    except OSError as e:
        raise error(f"{flag} {path}: {e.strerror}") from None
    if not stat.S_ISSOCK(mode):
        # connect(2) would only say "Connection refused", which reads as a listener's fault.
        raise error(f"{flag} {path}: not a unix socket")
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(path)
    except TimeoutError:
        sock.close()
        raise error(f"{flag} {path}: no answer within {timeout:g} s") from None
    except OSError as e:
        sock.close()
        raise error(f"{flag} {path}: {e.strerror}") from None
    return sock


def send_fd(sock, fd, name, flag, error=PyruncError):
    """Send fd over the connected socket, its name as the message's data."""
    try:
        sock.sendmsg([name.encode()], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS,
                                        struct.pack("i", fd))])
    except TimeoutError:
        raise error(f"{flag}: the file descriptor was not taken within "
                    f"{sock.gettimeout():g} s") from None
    except OSError as e:
        raise error(f"{flag}: cannot send the file descriptor: {e.strerror}") from None
