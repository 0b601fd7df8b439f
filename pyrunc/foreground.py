"""Waiting in the foreground for a container's process (`run`, `exec` without --detach): we
become its parent (a child subreaper), pass signals on to it, relay its terminal, and return its
exit status, without touching the caller's own children."""
import _signal as signal  # signal.py without enum wrappers (~3 ms per start)
import os

PR_SET_CHILD_SUBREAPER = 36
# Signals `run`/`exec` in the foreground pass on to the container's process.
_NOT_FORWARDED = {signal.SIGCHLD, signal.SIGKILL, signal.SIGSTOP, signal.SIGWINCH,
                  signal.SIGPIPE, signal.SIGTTIN, signal.SIGTTOU}


class Subreaper:
    """While waiting for a container's process in the foreground, we are its parent: stage1
    exits and the process is reparented to the nearest subreaper. Children the caller had
    before are never reaped here, and the caller's own subreaper setting comes back after."""

    def __enter__(self):
        from pyrunc import native
        self.previous = native.get_child_subreaper()
        self.before = _own_children()
        native.prctl(PR_SET_CHILD_SUBREAPER, 1)
        return self

    def __exit__(self, *exc):
        from pyrunc import native
        self.reap_orphans()
        native.prctl(PR_SET_CHILD_SUBREAPER, self.previous)

    def stop(self):
        """Orphans are no longer ours from now on (run --no-subreaper): the process waited
        for is our child already; what it leaves behind goes to the caller's own subreaper, or
        to the host's pid 1, as without pyrunc in between."""
        from pyrunc import native
        native.prctl(PR_SET_CHILD_SUBREAPER, self.previous)

    def reap_orphans(self, keep=None):
        """Reap what the container left reparented to us and already dead, except keep (the
        process whose exit status we are waiting for)."""
        for pid in _own_children() - self.before - {keep}:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass


def _own_children():
    children = set()
    try:
        for tid in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{tid}/children") as f:
                children.update(int(p) for p in f.read().split())
    except OSError:
        pass
    return children


def wait_foreground(pid, pty_master, reaper):
    """Wait for pid (our child: see Subreaper), forwarding signals; return its exit status,
    128+N when killed by signal N."""
    forwarded = []

    def forward(signum, _frame):
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    for sig in signal.valid_signals():
        if sig in _NOT_FORWARDED:
            continue
        try:
            forwarded.append((sig, signal.signal(sig, forward)))
        except (OSError, ValueError):
            continue
    try:
        if pty_master is None:
            return _wait_for(pid, reaper, block=True)
        from pyrunc.terminal import Relay
        with Relay(pty_master) as relay:
            signal.signal(signal.SIGWINCH, relay.resize)
            while True:
                status = _wait_for(pid, reaper, block=False)
                if status is not None:
                    relay.drain()
                    return status
                if not relay.pump(0.1):
                    return _wait_for(pid, reaper, block=True)
    finally:
        for sig, old in forwarded:
            signal.signal(sig, old)
        if pty_master is not None:
            os.close(pty_master)


def _wait_for(pid, reaper, block):
    """pid's exit status (128+N for signal N), or None if it still runs and not block."""
    try:
        reaped, status = os.waitpid(pid, 0 if block else os.WNOHANG)
    except ChildProcessError:
        return 255
    reaper.reap_orphans(keep=pid)
    if reaped == 0:
        return None
    return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) \
        else 128 + os.WTERMSIG(status)
