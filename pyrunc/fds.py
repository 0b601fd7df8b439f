"""The fds a container inherits: its stdio and exactly the caller's fds 3 .. 3+N-1 (N from
--preserve-fds plus socket activation's LISTEN_FDS), nothing of pyrunc's own.

The range is the hard part. Any slot in it the caller left free is the lowest free number, so
the next fd pyrunc opens (its lock on the state dir, the channel, the fifo, the log) would land
there and be passed to the container as a "preserved" fd: an init holding pyrunc's lock makes
the next command on the container wait for it forever. So, before pyrunc opens anything, every
free slot of the range is filled with a close-on-exec placeholder on /dev/null: pyrunc's own fds
can then only land above the range, and the placeholders vanish at the container's execve, which
leaves in the range what the caller had there and nothing else. The caller's fds in the range are
made inheritable in the child: runc passes them even when they are close-on-exec.

A closed stdio fd (0, 1 or 2) gets an inheritable /dev/null instead, for the same reason: pyrunc's
first open would otherwise become the container's stdin.
"""
import os


class Reservation:
    """The range [3, 3 + count) taken for the caller's fds, and how its slots are filled."""

    def __init__(self, count):
        self.count = count
        self.passed = []        # the caller's fds in the range: the container gets these
        self.placeholders = []  # slots we filled: close-on-exec, gone at the container's execve

    @property
    def end(self):
        """The first fd number past the range: pyrunc's own fds are all at or above it."""
        return 3 + self.count

    def release(self):
        for fd in self.placeholders:
            try:
                os.close(fd)
            except OSError:
                pass
        self.placeholders = []


_current = None  # the reservation in force for this process (the CLI makes it before anything)


def reserve(count):
    """Fill the free slots of stdio and of [3, 3 + count); return the Reservation, or the one in
    force when it already covers count (the CLI reserves before opening its log, the API again
    on the same range). A count past the fd limit is refused: those fds cannot exist."""
    global _current
    if _current is not None and _current.count >= count:
        return _current
    limit = os.sysconf("SC_OPEN_MAX")
    if count < 0 or 3 + count > limit:
        from pyrunc.errors import UsageError
        raise UsageError(f"--preserve-fds {count}: must be 0 or more" if count < 0 else
                         f"--preserve-fds {count}: fds 3..{count + 2} would pass the open-file "
                         f"limit ({limit})")
    reservation = Reservation(count)
    ours = set()
    if _current is not None:  # a smaller one: its placeholders become the new one's
        ours = set(_current.placeholders)
        _current.placeholders = []
    null = -1
    try:
        for fd in range(3 + count):
            if fd in ours:
                reservation.placeholders.append(fd)
                continue
            if _is_open(fd):
                if fd >= 3:
                    reservation.passed.append(fd)
                continue
            if null < 0:
                null = os.open("/dev/null", os.O_RDWR | os.O_CLOEXEC)
            if fd == null:  # the open itself took the slot
                os.set_inheritable(fd, fd < 3)
            else:
                os.dup2(null, fd, inheritable=fd < 3)
            if fd >= 3:
                reservation.placeholders.append(fd)
        if null >= 3 + count:
            os.close(null)  # a helper fd above the range, not a placeholder
    except BaseException:
        reservation.release()
        raise
    _current = reservation
    return reservation


class reserved:
    """`with reserved(count) as r:` for the API: a reservation in force that covers count (the
    CLI's) is used as it is; one made here is released at the end, so that a long-lived caller
    keeps no placeholders."""

    def __init__(self, count):
        self.count = count
        self.made = None

    def __enter__(self):
        before = _current
        reservation = reserve(self.count)
        if reservation is not before:
            self.made = reservation
        return reservation

    def __exit__(self, *exc):
        global _current
        if self.made is not None:
            self.made.release()
            if _current is self.made:
                _current = None


def _is_open(fd):
    try:
        os.get_inheritable(fd)
        return True
    except OSError:
        return False


