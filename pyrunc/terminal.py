"""Terminals: the pty made inside the container, handed to the console socket as runc does
(the master fd over a unix socket, SCM_RIGHTS), or relayed by pyrunc itself for `run`/`exec`
in the foreground."""
import fcntl
import os
import select
import signal
import struct
import sys
import termios


def make_pty(console_size=None):
    """In the child, inside the container: open a pty from the container's /dev/ptmx, make the
    slave our controlling terminal and stdio. Returns (master fd, slave path)."""
    master, slave = os.openpty()
    slave_path = os.ttyname(slave)
    if console_size:
        set_size(master, console_size.get("height", 0), console_size.get("width", 0))
    os.login_tty(slave)  # setsid, TIOCSCTTY, dup2 onto 0/1/2
    return master, slave_path


def set_size(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def connect_console_socket(path):
    """Connect before forking, so a bad --console-socket fails before anything is made."""
    from pyrunc import fdsocket
    return fdsocket.connect(path, "--console-socket")


def send_master(sock, master_fd, name="/dev/ptmx"):
    """Hand the pty master to whoever listens on the console socket (conmon, containerd)."""
    from pyrunc import fdsocket
    fdsocket.send_fd(sock, master_fd, name, "--console-socket")


class Relay:
    """Copy between our stdin/stdout and a pty master until the process is gone; our own
    terminal (if stdin is one) is put in raw mode and its size follows SIGWINCH."""

    def __init__(self, master_fd):
        self.master = master_fd
        self.saved = None
        self.stdin_open = True

    def __enter__(self):
        if os.isatty(0):
            self.saved = termios.tcgetattr(0)
            raw = termios.tcgetattr(0)
            raw[0] &= ~(termios.IGNBRK | termios.BRKINT | termios.PARMRK | termios.ISTRIP
                        | termios.INLCR | termios.IGNCR | termios.ICRNL | termios.IXON)
            raw[1] &= ~termios.OPOST
            raw[3] &= ~(termios.ECHO | termios.ECHONL | termios.ICANON | termios.ISIG
                        | termios.IEXTEN)
            termios.tcsetattr(0, termios.TCSANOW, raw)
            self.resize()
        return self

    def __exit__(self, *exc):
        if self.saved is not None:
            termios.tcsetattr(0, termios.TCSANOW, self.saved)

    def resize(self, *_):
        try:
            size = fcntl.ioctl(0, termios.TIOCGWINSZ, b"\0" * 8)
            fcntl.ioctl(self.master, termios.TIOCSWINSZ, size)
        except OSError:
            pass

    def pump(self, timeout):
        """Move what is ready; return False when the master hung up."""
        fds = [self.master] + ([0] if self.stdin_open else [])
        try:
            ready, _, _ = select.select(fds, [], [], timeout)
        except InterruptedError:
            return True
        if self.master in ready:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                data = b""
            if not data:
                return False
            _write_all(sys.stdout.fileno(), data)
        if 0 in ready:
            data = os.read(0, 65536)
            if data:
                _write_all(self.master, data)
            else:
                self.stdin_open = False
                _write_all(self.master, b"\x04")  # EOF on our stdin: ^D to the container
        return True

    def drain(self):
        while True:
            ready, _, _ = select.select([self.master], [], [], 0)
            if not ready:
                return
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            _write_all(sys.stdout.fileno(), data)


def _write_all(fd, data):
    while data:
        n = os.write(fd, data)
        data = data[n:]


RESIZE_SIGNAL = signal.SIGWINCH
