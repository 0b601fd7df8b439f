"""The suite's one leftover check: what a container must not leave on the host once it is
deleted, or once a command on it failed or was killed. Its id in `list` and its state dir, its
cgroups, host mounts of its bundle or rootfs, and live processes forked for it: those whose
environment or argv holds one of the test's markers, whose argv names the id, or that the test
tracked by pid.

Take a `Leftovers` before the command when something may already exist (a container with the
same id, another test's mounts); `assert_nothing_left` checks after the fact, counting
everything as a leftover; a container's netDevices must be back on the host (`links`). Engine
tests add what only engines make (bridges, leases, netns) in
their own helpers, on top of this."""
import os

from conftest import cgroup_dirs, host_mounts_mentioning, read_file, wait_until


def _pids():
    return [int(e) for e in os.listdir("/proc") if e.isdigit() and int(e) != os.getpid()]


def _alive_since(pid, ticks):
    """pid is live (not a zombie) and started at or after boot tick `ticks`."""
    stat = read_file(f"/proc/{pid}/stat")
    if stat is None:
        return False
    fields = stat[stat.rindex(b")") + 2:].split()
    return fields[0] not in (b"Z", b"X") and int(fields[19]) >= ticks


def _boot_ticks_now():
    with open("/proc/uptime") as f:
        return int(float(f.read().split()[0]) * os.sysconf("SC_CLK_TCK"))


class Leftovers:
    """A snapshot of what exists now for container_ids; found() lists what is there later
    and was not before. markers: strings in the environment (or argv) of everything the test's
    pyrunc commands fork (conftest.env_with, featutil.marked_env; a --root path); mentions: paths
    (bundle, rootfs) no host mount may newly name; tracked: a callable returning pids the test
    follows; links: host network interfaces a container took (linux.netDevices) that must be
    back in the host's network namespace, under these names."""

    def __init__(self, runtime, *container_ids, markers=(), mentions=(), tracked=None,
                 baseline=True, links=()):
        self.runtime = runtime
        self.links = list(links)
        self.container_ids = container_ids
        self.markers = [m.encode() for m in ([markers] if isinstance(markers, str) else markers)]
        self.tracked = tracked
        self.allowed = set()  # pids of a container that existed before (the id-in-use case)
        if baseline:
            self.ids = set(runtime.ids())
            self.mounts = {text: host_mounts_mentioning(text) for text in mentions}
            self.since = _boot_ticks_now() - 1
        else:
            self.ids = set(runtime.ids()) - set(container_ids)
            self.mounts = {text: [] for text in mentions}
            self.since = 0

    def found(self):
        left = []
        ids = set(self.runtime.ids())
        if ids - self.ids:
            left.append(f"containers in {self.runtime.root}: {sorted(ids - self.ids)}")
        for cid in self.container_ids:
            if cid in self.ids:
                continue  # it was there before: the test checks it is unchanged
            if "/" in cid or cid in (".", ".."):
                continue  # an id pyrunc refuses names no directory of its own
            if os.path.exists(os.path.join(self.runtime.root, cid)):
                left.append(f"state dir of {cid}")
            left += [f"cgroup {d}" for d in cgroup_dirs(cid)]
        for text, before in self.mounts.items():
            now = host_mounts_mentioning(text)
            if now != before:
                left.append(f"mounts naming {text}: {now}")
        left += [f"process {pid}: {read_file(f'/proc/{pid}/cmdline')!r}"
                 for pid in self._processes()]
        # /sys/class/net is the sysfs of our (the host's) network namespace.
        left += [f"link {name}: not back on the host" for name in self.links
                 if not os.path.exists(f"/sys/class/net/{name}")]
        return left

    def _processes(self):
        found = set(self.tracked() if self.tracked else ())
        ids = [cid.encode() for cid in self.container_ids if cid not in self.ids]
        for pid in _pids():
            if pid in self.allowed or not _alive_since(pid, self.since):
                continue
            argv = read_file(f"/proc/{pid}/cmdline") or b""
            if any(cid in argv.split(b"\0") for cid in ids):
                found.add(pid)
            elif self.markers:
                environ = read_file(f"/proc/{pid}/environ") or b""
                if any(m in environ or m in argv for m in self.markers):
                    found.add(pid)
        return sorted(found - self.allowed)

    def check(self, timeout=5):
        """Assert nothing is left, giving what exits by itself (an orphaned init the host's
        pid 1 has not reaped yet, a stage process) `timeout` seconds."""
        assert wait_until(lambda: not self.found(), timeout=timeout), self.found()


def assert_nothing_left(runtime, *container_ids, markers=(), mentions=(), tracked=None,
                        timeout=5, links=()):
    Leftovers(runtime, *container_ids, markers=markers, mentions=mentions, tracked=tracked,
              baseline=False, links=links).check(timeout)
