"""The eBPF device filter on the real kernel: a cgroup made in this host's cgroup2 hierarchy,
a filter installed on it, a process moved in, and what that process can open.

On this hybrid host the kernel checks device access against both the v1 devices cgroup (the
process stays in the v1 root, which allows everything) and the BPF programs of its v2 cgroup,
so the v2 filter alone decides here."""
import errno
import os
import subprocess
import sys
import time
import uuid

import pytest

from pyrunc import native
from pyrunc.cgroups import device_filter
from pyrunc.cgroups.device_rules import DENY_ALL, effective_rules

pytestmark = pytest.mark.cgroup

UNIFIED = "/sys/fs/cgroup/unified"
NULL_ONLY = [DENY_ALL, {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"}]

# The process in the cgroup: waits for "go", then for each path given on stdin tries the
# operation and prints the errno (0 when it worked).
PROBE = r"""
import os, sys
sys.stdout.write("ready\n"); sys.stdout.flush()
for line in sys.stdin:
    op, path = line.split()
    try:
        if op == "open":
            os.close(os.open(path, os.O_RDWR | os.O_NONBLOCK))
        else:
            os.mknod(path, 0o600 | (0o60000 if op == "mknod-b" else 0o20000), os.makedev(8, 0))
            os.unlink(path)
        result = 0
    except OSError as e:
        result = e.errno
    sys.stdout.write(f"{result}\n"); sys.stdout.flush()
"""


@pytest.fixture
def cgroup():
    if not os.path.exists(os.path.join(UNIFIED, "cgroup.procs")):
        pytest.fail(f"no cgroup2 hierarchy at {UNIFIED}")
    path = os.path.join(UNIFIED, f"pyrunc-test-bpf-{uuid.uuid4().hex[:12]}")
    os.mkdir(path)
    try:
        yield path
    finally:
        deadline = time.monotonic() + 5
        while True:
            try:
                os.rmdir(path)
                break
            except OSError as e:
                if e.errno != errno.EBUSY or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)


class Probe:
    """A python process moved into the cgroup before it tries anything."""

    def __init__(self, cgroup_dir):
        self.proc = subprocess.Popen([sys.executable, "-P", "-c", PROBE], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        with open(os.path.join(cgroup_dir, "cgroup.procs"), "w") as f:
            f.write(str(self.proc.pid))
        assert self.proc.stdout.readline() == "ready\n"

    def errno(self, op, path):
        self.proc.stdin.write(f"{op} {path}\n")
        self.proc.stdin.flush()
        return int(self.proc.stdout.readline())

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=10)
        self.proc.stdout.close()


@pytest.fixture
def probe(cgroup):
    probes = []

    def start():
        probes.append(Probe(cgroup))
        return probes[-1]
    yield start
    for p in probes:
        if p.proc.poll() is None:
            p.close()


def own_errno(path):
    try:
        os.close(os.open(path, os.O_RDWR | os.O_NONBLOCK))
        return 0
    except OSError as e:
        return e.errno


@pytest.fixture
def block_node(tmp_path):
    """b 8:0 (/dev/sda's numbers; this VM has no such disk, so opening it from outside the
    cgroup fails with ENXIO, not EPERM)."""
    path = str(tmp_path / "sda")
    os.mknod(path, 0o600 | 0o60000, os.makedev(8, 0))
    return path


def test_filter_allows_null_and_denies_the_rest(cgroup, probe, block_node, tmp_path):
    device_filter.install(cgroup, NULL_ONLY)
    p = probe()
    assert p.errno("open", "/dev/null") == 0
    assert own_errno("/dev/zero") == 0
    assert p.errno("open", "/dev/zero") == errno.EPERM
    assert own_errno(block_node) == errno.ENXIO
    assert p.errno("open", block_node) == errno.EPERM
    assert p.errno("mknod-b", str(tmp_path / "sda-again")) == errno.EPERM
    assert not os.path.exists(tmp_path / "sda-again")


def test_container_defaults(cgroup, probe, block_node, tmp_path):
    """runc's allow-list: the standard nodes open, block devices only mknod."""
    device_filter.install(cgroup, effective_rules([{"allow": False, "access": "rwm"}]))
    p = probe()
    for path in ("/dev/null", "/dev/zero", "/dev/full", "/dev/urandom", "/dev/random"):
        assert p.errno("open", path) == 0, path
    assert p.errno("open", block_node) == errno.EPERM
    assert p.errno("mknod-b", str(tmp_path / "made")) == 0  # b *:* m


def test_update_replaces_the_filter_of_a_running_process(cgroup, probe):
    device_filter.install(cgroup, NULL_ONLY)
    first = device_filter.installed(cgroup)
    assert len(first) == 1
    p = probe()
    assert p.errno("open", "/dev/zero") == errno.EPERM
    device_filter.install(cgroup, NULL_ONLY + [
        {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "rw"}])
    second = device_filter.installed(cgroup)
    assert len(second) == 1 and second != first
    assert p.errno("open", "/dev/zero") == 0
    # the old program was freed with its detachment: its id no longer resolves
    with pytest.raises(FileNotFoundError):
        native.bpf_prog_get_fd_by_id(first[0])


def test_replaces_a_program_attached_without_multi(cgroup):
    """A foreign program attached in the exclusive mode (which refuses a second program) is
    replaced in place."""
    fd = native.bpf_prog_load(native.BPF_PROG_TYPE_CGROUP_DEVICE,
                              device_filter.compile_rules(NULL_ONLY), "Apache")
    dirfd = os.open(cgroup, os.O_RDONLY | os.O_DIRECTORY)
    try:
        native.bpf_prog_attach(dirfd, fd, native.BPF_CGROUP_DEVICE, 0)
        foreign = native.bpf_prog_query(dirfd, native.BPF_CGROUP_DEVICE)
    finally:
        os.close(dirfd)
        os.close(fd)
    assert len(foreign[0]) == 1 and foreign[1] == 0
    device_filter.install(cgroup, NULL_ONLY)
    now = device_filter.installed(cgroup)
    assert len(now) == 1 and now != foreign[0]


def test_no_filter_on_a_new_cgroup(cgroup):
    assert device_filter.installed(cgroup) == []


def test_verifier_log_in_the_error():
    # "exit" without setting r0: the verifier refuses to return an unread register
    with pytest.raises(native.BpfVerifierError) as info:
        native.bpf_prog_load(native.BPF_PROG_TYPE_CGROUP_DEVICE, bytes([0x95] + [0] * 7),
                             "Apache")
    assert info.value.errno == errno.EACCES
    assert "R0 !read_ok" in info.value.log
    assert "R0 !read_ok" in str(info.value) and "\n" not in str(info.value)


def test_install_on_a_missing_cgroup_leaves_nothing(tmp_path):
    with pytest.raises(FileNotFoundError):
        device_filter.install(str(tmp_path / "nope"), NULL_ONLY)
