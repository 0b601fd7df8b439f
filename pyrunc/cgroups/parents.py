"""The parent cgroups pyrunc makes for a nested cgroupsPath (/shared/pod/<id>), shared by every
container below them, and who removes them.

The container that made a parent cannot always remove it: another container may still have its
cgroup under it then, and that one did not make the parent, so nobody would remove it after
(an empty child left under the shared parent, in whichever hierarchies the two happened to
race). So the parents pyrunc made are marked host-wide, one empty file a parent in /run/pyrunc-cgroups,
and whichever container leaves a marked parent empty removes it, whoever made it. Making a
parent and removing one happen under the registry's flock, so that a parent made again just
after another container removed it is never left unmarked; the marker is written before the
mkdir, so a pyrunc killed between the two leaves a marker of nothing (dropped at the next walk)
rather than an unmarked parent.

A parent that pyrunc did not make (a pod's cgroup an engine made, a test's) carries no marker
and is never removed. The registry's place is manager.PARENT_MARKS.
"""
import os

from pyrunc import log
from pyrunc.cgroups import manager

LOCK_TIMEOUT = 30.0


def registry():
    return manager.PARENT_MARKS


def _marker(path):
    # One flat name per cgroup directory, readable and reversible: '%' and '/' escaped.
    return os.path.join(registry(), path.replace("%", "%25").replace("/", "%2F"))


class Locked:
    """The registry's flock (bounded like every lock of pyrunc's)."""

    def __enter__(self):
        from pyrunc.state import flock_within
        os.makedirs(registry(), mode=0o700, exist_ok=True)
        self.fd = os.open(registry(), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        if not flock_within(self.fd, LOCK_TIMEOUT):
            os.close(self.fd)
            from pyrunc.locks import LockBusyError
            raise LockBusyError("the cgroup parents' registry", registry(), LOCK_TIMEOUT)
        return self

    def __exit__(self, *exc):
        os.close(self.fd)


def make(directory):
    """mkdir a parent cgroup, marked as pyrunc's first. FileExistsError if it exists (then it
    is somebody else's making, and its marker, if any, stays as it was)."""
    registry = Locked()
    try:
        registry.__enter__()
    except OSError as e:
        # No registry (an unwritable /run): the parent is made unmarked, and only its maker
        # may remove it.
        log.debug(f"cgroup parents: cannot mark {directory}: {e}")
        os.mkdir(directory, 0o755)
        return
    try:
        if os.path.isdir(directory):
            raise FileExistsError(17, "File exists", directory)
        _write_marker(directory)
        try:
            os.mkdir(directory, 0o755)
        except OSError:
            _drop_marker(directory)
            raise
    finally:
        registry.__exit__()


def _write_marker(directory):
    fd = os.open(_marker(directory), os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
    os.close(fd)


def _drop_marker(directory):
    try:
        os.unlink(_marker(directory))
    except FileNotFoundError:
        pass


def is_marked(directory):
    return os.path.exists(_marker(directory))


def release(candidates):
    """Remove, deepest first, each candidate parent (those this container made, and every
    marked ancestor of its cgroups) that is empty now; drop the markers of those gone. A busy
    one stays (another container's cgroup is in it), and so do its ancestors."""
    candidates = sorted(set(candidates), key=lambda p: p.count("/"), reverse=True)
    if not candidates:
        return
    busy = set()
    try:
        with Locked():
            for d in candidates:
                if any(b.startswith(d + "/") for b in busy):
                    busy.add(d)
                    continue
                try:
                    os.rmdir(d)
                except FileNotFoundError:
                    pass
                except OSError:
                    busy.add(d)
                    continue
                _drop_marker(d)
    except OSError as e:  # no registry: the maker's own parents, without the lock
        log.debug(f"cgroup parents: registry unusable: {e}")
        for d in candidates:
            try:
                os.rmdir(d)
            except OSError:
                pass


def marked_ancestors(leaf):
    """leaf's ancestors that pyrunc marked, nearest first, up to the first unmarked one."""
    found = []
    d = os.path.dirname(leaf)
    while d not in ("/", "") and is_marked(d):
        found.append(d)
        d = os.path.dirname(d)
    return found

