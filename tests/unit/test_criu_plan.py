"""pyrunc.criu_plan: runc's checkpoint/restore flags turned into CRIU's command line, the stdio
keys CRIU knows files by, and CRIU's reason picked out of its log. No root, no CRIU."""
import pytest

from pyrunc import criu_plan
from pyrunc.errors import UsageError

PATHS = {"image_path": "/img", "work_path": "/work"}


def value_after(args, flag):
    return [args[i + 1] for i, a in enumerate(args) if a == flag]


def test_a_plain_dump():
    args = criu_plan.dump_args(dict(PATHS), {"pid": 42})
    assert args[:3] == ["dump", "--tree", "42"]
    assert value_after(args, "--images-dir") == ["/img"]
    assert value_after(args, "--work-dir") == ["/work"]
    assert value_after(args, "--log-file") == ["dump.log"]
    assert "--manage-cgroups=soft" in args  # runc's default mode
    for flag in ("--leave-running", "--track-mem", "--prev-images-dir", "--tcp-established"):
        assert flag not in args


def test_runc_flags_reach_criu():
    o = dict(PATHS, leave_running=True, tcp_established=True, ext_unix_sk=True,
             shell_job=True, file_locks=True, manage_cgroups_mode="ignore",
             empty_ns=["network"])
    args = criu_plan.dump_args(o, {"pid": 1})
    for flag in ("--leave-running", "--tcp-established", "--ext-unix-sk", "--shell-job",
                 "--file-locks", "--manage-cgroups=ignore"):
        assert flag in args
    assert value_after(args, "--empty-ns") == ["net"]


def test_pre_dump_and_a_dump_on_its_parent():
    pre = criu_plan.dump_args(dict(PATHS, pre_dump=True, leave_running=True), {"pid": 7})
    assert pre[0] == "pre-dump" and "--track-mem" in pre
    assert value_after(pre, "--log-file") == ["pre-dump.log"]
    assert "--leave-running" not in pre  # a pre-dump always leaves it running
    final = criu_plan.dump_args(dict(PATHS, parent_path="../pre"), {"pid": 7})
    assert final[0] == "dump" and "--track-mem" in final
    assert value_after(final, "--prev-images-dir") == ["../pre"]


def test_externals_on_dump():
    descriptors = [
        criu_plan.descriptor(0, "/dev/null", 24, 4, 0x103, 5, 0o20666, 0o100000, False, False),
        criu_plan.descriptor(1, "pipe:[991]", 13, 991, 0, 12, 0o10600, 1, False, False),
        criu_plan.descriptor(2, "/dev/pts/0", 61, 3, 0x8800, 0x2b, 0o20620, 2, True, True),
    ]
    args = criu_plan.dump_args(dict(PATHS), {
        "pid": 9, "mount_keys": ["/data", "/srv/real"], "descriptors": descriptors,
        "net_inode": 4026532000, "freeze_cgroup": "/sys/fs/cgroup/c1"})
    assert value_after(args, "--external") == [
        "mnt[/data]:/data", "mnt[/srv/real]:/srv/real",
        "file[18:4]",        # hex, as CRIU formats mnt_id and inode
        "tty[8800:2b]",      # rdev:dev, hex
        "net[4026532000]:extnet"]
    assert value_after(args, "--freeze-cgroup") == ["/sys/fs/cgroup/c1"]


def test_descriptor_keys():
    inside = criu_plan.descriptor(1, "/log/out", 70, 12, 0, 1, 0o100644, 1, False, True)
    assert inside["key"] is None and not inside["external"]  # CRIU finds it itself
    outside = criu_plan.descriptor(1, "/tmp/out (deleted)", 33, 15, 0, 1, 0o100600, 1,
                                   False, False)
    assert outside["key"] == "file[21:f]" and outside["external"]
    pipe = criu_plan.descriptor(0, "pipe:[5]", 13, 5, 0, 12, 0o10600, 0, False, False)
    assert pipe["key"] == "pipe:[5]" and not pipe["external"]
    socket = criu_plan.descriptor(2, "socket:[8]", 8, 8, 0, 9, 0o140777, 2, False, False)
    assert socket["key"] is None


def test_restore_arguments():
    o = dict(PATHS, manage_cgroups_mode="full", tcp_established=True)
    args = criu_plan.restore_args(o, {
        "rootfs": "/b/rootfs", "pidfile": "/run/x/criu.pid",
        "mounts": [("/data", "/host/data"), ("/dev/console", "/dev/pts/3")],
        "inherit": [(0, "file[18:4]"), (5, "tty[8800:2b]")],
        "cgroup_roots": [("", "/pods/c1")]})
    assert args[0] == "restore" and "--restore-detached" in args
    assert value_after(args, "--root") == ["/b/rootfs"]
    assert value_after(args, "--pidfile") == ["/run/x/criu.pid"]
    assert value_after(args, "--log-file") == ["restore.log"]
    assert "--manage-cgroups=full" in args and "--tcp-established" in args
    assert value_after(args, "--cgroup-root") == ["/pods/c1"]
    assert value_after(args, "--external") == ["mnt[/data]:/host/data",
                                               "mnt[/dev/console]:/dev/pts/3"]
    assert value_after(args, "--inherit-fd") == ["fd[0]:file[18:4]", "fd[5]:tty[8800:2b]"]


def test_ignore_mode_names_no_cgroup_root():
    args = criu_plan.restore_args(dict(PATHS, manage_cgroups_mode="ignore"), {
        "rootfs": "/r", "pidfile": "/p", "cgroup_roots": [("", "/c1")]})
    assert "--manage-cgroups=ignore" in args and "--cgroup-root" not in args


def test_inherit_list_takes_each_key_once():
    d = [criu_plan.descriptor(fd, "/tmp/out", 33, 15, 0, 1, 0o100644, 1, False, False)
         for fd in (1, 2)]
    pipe = criu_plan.descriptor(0, "pipe:[5]", 13, 5, 0, 12, 0o10600, 0, False, False)
    assert criu_plan.inherit_list([pipe] + d, {0: None, 1: 1, 2: 2}) == [(1, "file[21:f]")]


def test_cgroup_roots_inside_their_hierarchies():
    paths = {"": "/sys/fs/cgroup/unified/pods/c1", "cpu,cpuacct": "/sys/fs/cgroup/cpu,cpuacct/pods/c1",
             "memory": "/elsewhere/c1"}
    mounts = {"": "/sys/fs/cgroup/unified", "cpu,cpuacct": "/sys/fs/cgroup/cpu,cpuacct",
              "memory": "/sys/fs/cgroup/memory"}
    assert criu_plan.cgroup_roots(paths, mounts) == [("cpu,cpuacct", "/pods/c1"),
                                                     ("", "/pods/c1")]


@pytest.mark.parametrize("o, named", [
    ({"manage_cgroups_mode": "bogus"}, "--manage-cgroups-mode: 'bogus'"),
    ({"empty_ns": ["pid"]}, "--empty-ns: 'pid'"),
    ({"lazy_pages": True}, "--lazy-pages: not supported"),
    ({"status_fd": "3"}, "--status-fd: not supported"),
    ({"page_server": "10.0.0.1:1"}, "--page-server: not supported"),
])
def test_bad_flags_are_refused_by_name(o, named):
    with pytest.raises(UsageError) as e:
        criu_plan.dump_args(dict(PATHS, **o), {"pid": 1})
    assert named in str(e.value) and "\n" not in str(e.value)


def test_last_error_is_criu_first_real_reason():
    log = """(00.100000) Error (criu/tun.c:85): tun: Unable to create tun: No such file or directory
(03.342520)      1: File fd/1 could only be validated with file size
(03.342555)      1: Error (criu/files-reg.c:2203): File fd/1 has bad mode 0100600 (expect 0100644)
(03.342678)      1: Error (criu/files.c:1213): Unable to open fd=1 id=0x3
(03.364852) Error (criu/cr-restore.c:2537): Restoring FAILED.
"""
    assert criu_plan.last_error(log) == "File fd/1 has bad mode 0100600 (expect 0100644)"


def test_last_error_of_criu_check():
    out = ("Error (criu/vdso.c:613): vdso: Unexpected rt vDSO area bounds\n"
           "Error (criu/crtools.c:260): Could not initialize kernel features detection.\n")
    assert criu_plan.last_error(out) == "vdso: Unexpected rt vDSO area bounds"
    assert criu_plan.last_error("Restoring FAILED? no: just words\n") == \
        "Restoring FAILED? no: just words"
    assert criu_plan.last_error("(1.0) Error (criu/cr-dump.c:2053): Dumping FAILED.") == \
        "Dumping FAILED."
