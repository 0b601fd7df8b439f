"""Device rules on the real kernel: cgroups made in this host's cgroup2 hierarchy (an eBPF
filter installed) and in its v1 devices hierarchy (devices.allow/deny written), a process
moved in, and what that process can open and mknod.

On this hybrid host the kernel checks a device access against both the v1 devices cgroup and
the BPF programs of the v2 cgroup of the process: a process moved into a v2 test cgroup stays
in the v1 root (which allows everything), and one moved into a v1 test cgroup stays in a v2
cgroup without programs, so each test sees one mechanism alone."""
import errno
import itertools
import os
import subprocess
import sys
import time
import uuid

import pytest

from pyrunc import native
from pyrunc.cgroups import device_filter
from pyrunc.cgroups.layout import hierarchies
from pyrunc.cgroups.device_rules import (DENY_ALL, DeviceTable, effective_rules, v1_line,
                                         v1_writes)

pytestmark = pytest.mark.cgroup

# The cgroup2 mount: /sys/fs/cgroup/unified on this hybrid host, /sys/fs/cgroup in the v2 guest.
UNIFIED = next((h.mountpoint for h in hierarchies() if h.key == ""), "/sys/fs/cgroup/unified")
V1_DEVICES = next((h.mountpoint for h in hierarchies() if "devices" in h.controllers), None)
NULL_ONLY = [DENY_ALL, {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"}]

# The process in the cgroup: prints "ready", then for each "OP PATH KIND MAJOR MINOR" line on
# stdin tries OP (open-r, open-w, open-rw, mknod) and prints the errno (0 when it worked).
PROBE = r"""
import os, stat, sys
sys.stdout.write("ready\n"); sys.stdout.flush()
flags = {"open-r": os.O_RDONLY, "open-w": os.O_WRONLY, "open-rw": os.O_RDWR}
for line in sys.stdin:
    op, path, kind, major, minor = line.split()
    try:
        if op == "mknod":
            mode = stat.S_IFBLK if kind == "b" else stat.S_IFCHR
            os.mknod(path, 0o600 | mode, os.makedev(int(major), int(minor)))
            os.unlink(path)
        else:
            os.close(os.open(path, flags[op] | os.O_NONBLOCK))
        result = 0
    except OSError as e:
        result = e.errno
    sys.stdout.write(f"{result}\n"); sys.stdout.flush()
"""
OPS = {"open-r": 2, "open-w": 4, "open-rw": 6, "mknod": 1}  # the ACC_* bits each asks for


def _make_cgroup(hierarchy):
    if not os.path.exists(os.path.join(hierarchy, "cgroup.procs")):
        pytest.fail(f"no cgroup hierarchy at {hierarchy}")
    path = os.path.join(hierarchy, f"pyrunc-test-bpf-{uuid.uuid4().hex[:12]}")
    os.mkdir(path)
    return path


def _remove_cgroup(path):
    deadline = time.monotonic() + 5
    while True:
        try:
            os.rmdir(path)
            return
        except OSError as e:
            if e.errno != errno.EBUSY or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


@pytest.fixture
def cgroup():
    path = _make_cgroup(UNIFIED)
    yield path
    _remove_cgroup(path)


@pytest.fixture
def v1_cgroup():
    if V1_DEVICES is None:
        pytest.skip("no v1 devices controller on this host (the v2 guest): the v1 path is "
                    "tested on the hybrid host")
    path = _make_cgroup(V1_DEVICES)
    yield path
    _remove_cgroup(path)


class Probe:
    """A python process moved into a cgroup before it tries anything."""

    def __init__(self, cgroup_dir, scratch):
        self.scratch = scratch
        self.proc = subprocess.Popen([sys.executable, "-P", "-c", PROBE], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        with open(os.path.join(cgroup_dir, "cgroup.procs"), "w") as f:
            f.write(str(self.proc.pid))
        assert self.proc.stdout.readline() == "ready\n"

    def errno(self, op, path, device=("c", 0, 0)):
        self.proc.stdin.write(f"{op} {path} {' '.join(map(str, device))}\n")
        self.proc.stdin.flush()
        return int(self.proc.stdout.readline())

    def allowed(self, op, device):
        """Whether the device cgroup lets op through (only EPERM is its answer: an allowed
        open of a device without a driver fails otherwise)."""
        if op == "mknod":
            return self.errno(op, os.path.join(self.scratch, "made"), device) != errno.EPERM
        return self.errno(op, node(self.scratch, device)) != errno.EPERM

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=10)
        self.proc.stdout.close()


@pytest.fixture
def probe(tmp_path):
    probes = []

    def start(cgroup_dir):
        probes.append(Probe(cgroup_dir, str(tmp_path)))
        return probes[-1]
    yield start
    for p in probes:
        p.close()


def node(directory, device):
    """A device node for (kind, major, minor) in directory, made from outside the cgroups."""
    kind, major, minor = device
    path = os.path.join(directory, f"{kind}{major}-{minor}")
    if not os.path.exists(path):
        os.mknod(path, 0o600 | (0o60000 if kind == "b" else 0o20000), os.makedev(major, minor))
    return path


def own_errno(path):
    try:
        os.close(os.open(path, os.O_RDWR | os.O_NONBLOCK))
        return 0
    except OSError as e:
        return e.errno


def apply_v1(cgroup_dir, writes):
    for name, line in writes:
        with open(os.path.join(cgroup_dir, name), "w") as f:
            f.write(line)


def v1_list(cgroup_dir):
    with open(os.path.join(cgroup_dir, "devices.list")) as f:
        return sorted(f.read().split("\n")[:-1])


NULL, ZERO, SDA = ("c", 1, 3), ("c", 1, 5), ("b", 8, 0)  # this VM has no b 8:0: ENXIO


def test_filter_allows_null_and_denies_the_rest(cgroup, probe, tmp_path):
    device_filter.install(cgroup, NULL_ONLY)
    p = probe(cgroup)
    assert p.errno("open-rw", "/dev/null") == 0
    assert own_errno("/dev/zero") == 0
    assert p.errno("open-rw", "/dev/zero") == errno.EPERM
    sda = node(str(tmp_path), SDA)
    assert own_errno(sda) == errno.ENXIO
    assert p.errno("open-r", sda) == errno.EPERM
    assert p.errno("mknod", str(tmp_path / "sda-again"), SDA) == errno.EPERM
    assert not os.path.exists(tmp_path / "sda-again")


def test_container_defaults(cgroup, probe, tmp_path):
    """runc's allow-list: the standard nodes open, block devices only mknod."""
    device_filter.install(cgroup, effective_rules([{"allow": False, "access": "rwm"}]))
    p = probe(cgroup)
    for path in ("/dev/null", "/dev/zero", "/dev/full", "/dev/urandom", "/dev/random"):
        assert p.errno("open-rw", path) == 0, path
    assert p.errno("open-r", node(str(tmp_path), SDA)) == errno.EPERM
    assert p.errno("mknod", str(tmp_path / "made"), SDA) == 0  # b *:* m


def test_update_replaces_the_filter_of_a_running_process(cgroup, probe):
    device_filter.install(cgroup, NULL_ONLY)
    first = device_filter.installed(cgroup)
    assert len(first) == 1
    p = probe(cgroup)
    assert p.errno("open-rw", "/dev/zero") == errno.EPERM
    device_filter.install(cgroup, NULL_ONLY + [
        {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "rw"}])
    second = device_filter.installed(cgroup)
    assert len(second) == 1 and second != first
    assert p.errno("open-rw", "/dev/zero") == 0
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


def test_install_on_a_missing_cgroup_fails_cleanly(tmp_path):
    with pytest.raises(FileNotFoundError):
        device_filter.install(str(tmp_path / "nope"), NULL_ONLY)


# -- v1 and v2 against the model ---------------------------------------------------------------

RULE_SETS = {
    "defaults": effective_rules([{"allow": False, "access": "rwm"}]),
    "deny-default": [DENY_ALL, {"allow": True, "type": "c", "major": 1, "access": "rw"},
                     {"allow": False, "type": "c", "major": 1, "access": "w"},
                     {"allow": True, "type": "b", "minor": 0, "access": "m"},
                     {"allow": True, "type": "c", "major": 1, "minor": 7, "access": "w"}],
    # the wider deny does not touch the narrower allow before it (exact-key removal)
    "wider-deny": [DENY_ALL, {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rw"},
                   {"allow": False, "type": "c", "major": 1, "access": "w"}],
    "allow-default": [{"allow": True, "access": "rwm"},
                      {"allow": False, "type": "b", "major": 8, "access": "w"},
                      {"allow": False, "type": "c", "major": 1, "minor": 5, "access": "rm"},
                      {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "m"}],
}
# Harmless to open: the memory-like char devices that do nothing, disks this VM does not have.
GRID = [("c", 1, 3), ("c", 1, 5), ("c", 1, 7), ("c", 1, 9), ("b", 8, 0), ("b", 8, 16)]


def _check_grid(p, table):
    for device, op in itertools.product(GRID, OPS):
        assert p.allowed(op, device) == table.allows(*device, OPS[op]), (device, op)


@pytest.mark.parametrize("name", sorted(RULE_SETS))
def test_v2_filter_matches_the_model(name, cgroup, probe):
    rules = RULE_SETS[name]
    device_filter.install(cgroup, rules)
    _check_grid(probe(cgroup), DeviceTable.from_rules(rules))


@pytest.mark.parametrize("name", sorted(RULE_SETS))
def test_v1_writes_match_the_model(name, v1_cgroup, probe):
    rules = RULE_SETS[name]
    table = DeviceTable.from_rules(rules)
    apply_v1(v1_cgroup, v1_writes(rules))
    if not table.default_allow:
        # the kernel lists the exceptions in the format v1_line writes them
        assert v1_list(v1_cgroup) == sorted(v1_line(key, bits)
                                            for key, bits in table.exceptions.items())
    _check_grid(probe(v1_cgroup), table)


def test_v1_update_of_a_running_process(v1_cgroup, probe, tmp_path):
    before = effective_rules([{"allow": False, "access": "rwm"}])
    after = effective_rules([{"allow": False, "access": "rwm"},
                             {"allow": True, "type": "b", "major": 8, "minor": 0, "access": "r"}])
    apply_v1(v1_cgroup, v1_writes(before))
    p = probe(v1_cgroup)
    sda = node(str(tmp_path), SDA)
    assert p.errno("open-r", sda) == errno.EPERM
    writes = v1_writes(after, current=before)
    assert writes == [("devices.allow", "b 8:0 r")]
    apply_v1(v1_cgroup, writes)
    assert p.errno("open-r", sda) == errno.ENXIO  # let through to the (absent) driver
    assert p.errno("open-w", sda) == errno.EPERM
    _check_grid(p, DeviceTable(after))
