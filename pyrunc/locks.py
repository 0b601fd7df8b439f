"""Who holds a lock: the processes behind a flock that a bounded wait (state.flock_within) gave
up on, found through /proc, so that the error can name them and `delete --force` can tell its
own container's processes (which it kills) from anybody else's (which it must not touch).

Imported only when a lock is contended: the scan reads every process's fd table.
"""
import os

from pyrunc.errors import PyruncError


class LockBusyError(PyruncError):
    """A lock stayed held past its bound; names the holders when /proc shows them."""

    def __init__(self, what, path, timeout, pids=None):
        self.path = path
        self.pids = holders(path) if pids is None else pids
        if self.pids:
            who = ", ".join(f"pid {p} ({describe(p)})" for p in self.pids[:3])
        else:
            who = "another process"
        super().__init__(f"{what} is busy: {who} held its lock {path} for more than "
                         f"{timeout:g} s")


def holders(path):
    """Pids of the processes holding a flock on path: those with an fd on it whose fdinfo lists
    the lock. The kernel shows a flock in the fdinfo of every fd of the open file description
    that took it (inherited copies included), and in no other: a process that merely waits for
    the lock, with a file of its own, is not listed."""
    try:
        real = os.path.realpath(path)
    except OSError:
        return []
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fd_dir = f"/proc/{entry}/fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"{fd_dir}/{fd}") != real:
                    continue
                with open(f"/proc/{entry}/fdinfo/{fd}") as f:
                    if "\nlock:" in f.read():
                        found.append(int(entry))
                        break
            except OSError:
                continue
    return found


def describe(pid):
    """A process's command line, shortened, for an error message."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            words = f.read().rstrip(b"\0").split(b"\0")
    except OSError:
        return "gone"
    text = " ".join(w.decode(errors="replace") for w in words) or "?"
    return text if len(text) <= 80 else text[:77] + "..."
