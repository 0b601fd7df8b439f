"""pyrunc.procfs, the one way pyrunc writes to /proc (CVE-2025-52881 class): what it refuses
to open, and that it writes through. Needs no root (without CAP_SYS_ADMIN it verifies the
visible /proc instead of mounting a fresh instance); the attack itself is shown in
tests/integration/test_security.py."""
import errno
import os

import pytest

from pyrunc import procfs


@pytest.fixture
def proc():
    return procfs.Procfs.open()


def test_self_is_spelt_as_our_pid(proc):
    pid = os.getpid()
    assert proc.relative("self/oom_score_adj") == f"{pid}/oom_score_adj"
    assert proc.relative("/proc/self/attr/exec") == f"{pid}/attr/exec"
    assert proc.relative("sys/kernel/domainname") == "sys/kernel/domainname"
    assert proc.relative("1234/uid_map") == "1234/uid_map"


def test_a_directory_that_is_not_procfs_is_refused(tmp_path):
    fd = os.open(tmp_path, os.O_PATH | os.O_DIRECTORY)
    with pytest.raises(procfs.ProcfsError, match="not a procfs"):
        procfs.Procfs(fd, False)


def test_a_procfs_directory_that_is_not_the_root_is_refused():
    fd = os.open("/proc/self", os.O_PATH | os.O_DIRECTORY)
    with pytest.raises(procfs.ProcfsError, match="not a procfs"):
        procfs.Procfs(fd, False)


@pytest.mark.parametrize("path, err", [
    ("mounts", errno.ELOOP),                      # a symlink (to self/mounts)
    ("self/root/etc/hostname", errno.ELOOP),      # a magic link out of procfs
    ("self/cwd", errno.ELOOP),
    ("../etc/hostname", errno.EXDEV),             # out of the procfs root
])
def test_links_and_escapes_are_not_followed(proc, path, err):
    with pytest.raises(OSError) as info:
        proc.open_file(path, os.O_RDONLY)
    assert info.value.errno == err


def test_only_regular_files_are_opened(proc):
    with pytest.raises(procfs.ProcfsError, match="not a file of the verified procfs"):
        proc.open_file("self/attr", os.O_RDONLY)
    assert proc.exists("self/status")
    assert not proc.exists("self")
    assert not proc.exists("no-such-file")


def test_a_write_lands_on_the_procfs_file():
    with open("/proc/self/oom_score_adj") as f:
        value = f.read().strip()
    procfs.write("self/oom_score_adj", value)  # the value it has: allowed without privileges
    with open("/proc/self/oom_score_adj") as f:
        assert f.read().strip() == value


def test_a_forked_child_opens_its_own():
    parent = procfs.current()
    pid = os.fork()
    if pid == 0:
        try:
            mine = procfs.current()
            os._exit(0 if mine is not parent and mine.pid == os.getpid() else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert procfs.current() is parent
