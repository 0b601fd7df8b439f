"""The init path's decisions, without root: rootfs.py, process_setup.py and init.py run against
the recording double of the kernel (kernel_double.py) and the test reads what they asked of
it: which mounts in which order with which flags, what is masked and how, which capabilities
are set, and the step named when a call fails. The integration tests show the same against the
real kernel; these pin the decisions down where a change would otherwise pass unnoticed."""
import errno
import inspect
import json
import os

import pytest

from pyrunc import capabilities, init, names, process_setup, protocol, rootfs, spec
from pyrunc.kernel import Kernel
from pyrunc.mountopts import (MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY, MS_REC,
                              MS_REMOUNT, MS_SLAVE, MS_STRICTATIME, MNT_DETACH)
from pyrunc.plan import InitPlan, RootfsPlan

from kernel_double import RecordingKernel

ROOTFS = "/bundle/rootfs"
CGROUP = "/sys/fs/cgroup/unified/pyrunc-test"
DEFAULT_MASKS = spec.default_spec()["linux"]["maskedPaths"]
READONLY = spec.default_spec()["linux"]["readonlyPaths"]


def default_config(**changes):
    config = spec.default_spec()
    config.update(changes)
    return config


def tree_with(files=(), dirs=()):
    """The base image plus these files and directories."""
    from kernel_double import BASE_TREE
    tree = dict(BASE_TREE)
    tree.update({p: "file" for p in files})
    tree.update({p: "dir" for p in dirs})
    return tree


def set_up_rootfs(config, kernel, in_user_ns=False):
    """What run_init does for the rootfs, in its order: prepare, pivot, finish."""
    rplan = RootfsPlan.from_config(config)
    ctx = rootfs.RootfsContext("/bundle", ROOTFS, in_user_ns, {"": CGROUP}, True, kernel)
    root_fd = rootfs.prepare(rplan, ctx)
    rootfs.pivot(kernel, root_fd, False, True)
    kernel.close(root_fd)
    rootfs.finish(kernel, rplan)
    return kernel


# --- the double stays a double of the real kernel ---------------------------------------------
def test_the_double_has_every_method_of_the_kernel_with_its_parameters():
    for name, real in inspect.getmembers(Kernel, inspect.isfunction):
        if name.startswith("_"):
            continue
        double = getattr(RecordingKernel, name, None)
        assert double is not None, f"kernel_double lacks Kernel.{name}"
        assert list(inspect.signature(real).parameters) == \
            list(inspect.signature(double).parameters), f"Kernel.{name}'s parameters differ"


# --- mounts -----------------------------------------------------------------------------------
def test_default_spec_mounts_in_config_order_with_their_flags():
    k = set_up_rootfs(default_config(), RecordingKernel(
        tree=tree_with(["/proc/sysrq-trigger"], ["/proc/sys", "/proc/bus"])))
    mounts = [c[1:] for c in k.ops("mount")]
    expected_start = [
        (None, "/", None, MS_SLAVE | MS_REC, None),            # host mounts do not see ours
        (ROOTFS, ROOTFS, None, MS_BIND | MS_REC, None),        # pivot_root needs a mount point
        ("proc", "/proc", "proc", 0, None),
        ("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k"),
        ("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
         "newinstance,ptmxmode=0666,mode=0620,gid=5"),
        ("shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NOEXEC | MS_NODEV, "mode=1777,size=65536k"),
        ("mqueue", "/dev/mqueue", "mqueue", MS_NOSUID | MS_NOEXEC | MS_NODEV, None),
        ("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY, None),
        # a pure cgroup-v2 host: the container's own cgroup bound, then made read-only
        (CGROUP, "/sys/fs/cgroup", None, MS_BIND, None),
        (None, "/sys/fs/cgroup", None,
         MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, None),
        # pivot_root(".", "."): the old root is made a slave, then detached
        (None, ".", None, MS_SLAVE | MS_REC, None),
        # root.readonly (the default spec's)
        (None, "/", None, MS_BIND | MS_REMOUNT | MS_RDONLY, None),
    ]
    assert mounts[:len(expected_start)] == expected_start
    assert k.ops("pivot_root") == [("pivot_root", ".", ".")]
    assert k.ops("umount2") == [("umount2", ".", MNT_DETACH)]
    # the readonly paths: each bound onto itself, then remounted read-only (runc's order:
    # before the masks)
    # (absent ones skipped)
    assert mounts[len(expected_start):] == [
        m for p in ("/proc/bus", "/proc/sys", "/proc/sysrq-trigger")
        for m in ((p, p, None, MS_BIND | MS_REC, None),
                  (None, p, None, MS_BIND | MS_REMOUNT | MS_RDONLY, None))]


def test_devices_and_dev_symlinks_are_made_when_dev_is_not_bound():
    k = set_up_rootfs(default_config(), RecordingKernel())
    nodes = {c[1]: (c[3], c[4]) for c in k.ops("mknod")}
    assert nodes == {"/dev/null": (1, 3), "/dev/zero": (1, 5), "/dev/full": (1, 7),
                     "/dev/random": (1, 8), "/dev/urandom": (1, 9), "/dev/tty": (5, 0)}
    links = {c[2]: c[1] for c in k.ops("symlink")}
    assert links["/dev/ptmx"] == "pts/ptmx" and links["/dev/fd"] == "/proc/self/fd"


def test_in_a_user_namespace_device_nodes_are_bound_from_the_host():
    k = set_up_rootfs(default_config(), RecordingKernel(), in_user_ns=True)
    assert not k.ops("mknod")
    binds = [c[1:3] for c in k.ops("mount") if c[4] == MS_BIND and c[1] == c[2]]
    assert ("/dev/null", "/dev/null") in binds and ("/dev/tty", "/dev/tty") in binds


def test_a_read_only_bind_is_bound_then_remounted():
    config = default_config(mounts=[{"destination": "/data", "type": "bind",
                                     "source": "/srv/data", "options": ["rbind", "ro"]}])
    k = set_up_rootfs(config, RecordingKernel(host_paths={"/srv/data"}))
    data = [c[1:] for c in k.ops("mount") if c[2] == "/data"]
    assert data == [("/srv/data", "/data", None, MS_BIND | MS_REC, None),
                    (None, "/data", None, MS_BIND | MS_REMOUNT | MS_RDONLY, None)]
    assert k.tree["/data"] == "dir"  # the mount point was made, as a directory


def test_a_missing_bind_source_names_the_mount():
    config = default_config(mounts=[{"destination": "/data", "type": "bind",
                                     "source": "/nowhere", "options": ["bind"]}])
    with pytest.raises(OSError, match=r"mounts\[0\] \(destination '/data'\): bind source "
                                      r"/nowhere does not exist"):
        set_up_rootfs(config, RecordingKernel())


def test_a_failing_mount_names_the_mount_and_the_kernels_reason():
    k = RecordingKernel(fail={("mount", "proc"): errno.EPERM})
    with pytest.raises(OSError, match=r"mounts\[0\] \(destination '/proc'\): Operation not "
                                      r"permitted"):
        set_up_rootfs(default_config(), k)


def test_proc_that_is_not_procfs_after_the_mount_is_refused():
    class NoProcfs(RecordingKernel):
        def fstatfs_type(self, fd):
            return 0
    with pytest.raises(rootfs.UnsafeRootfsError, match="no proc there after mounting it"):
        set_up_rootfs(default_config(), NoProcfs())


# --- masked and read-only paths --------------------------------------------------------------
def test_masks_a_file_with_dev_null_a_directory_with_a_read_only_tmpfs_and_skips_the_absent():
    k = RecordingKernel(tree=tree_with(["/proc/kcore", "/proc/keys"],
                                       ["/proc/acpi", "/sys/firmware"]))
    set_up_rootfs(default_config(), k)
    assert k.ops("bind") == [("bind", "/dev/null", "/proc/kcore"),
                             ("bind", "/dev/null", "/proc/keys")]
    assert k.ops("readonly_tmpfs") == [("readonly_tmpfs", "/proc/acpi"),
                                       ("readonly_tmpfs", "/sys/firmware")]
    masked = {c[-1] for c in k.ops("bind", "readonly_tmpfs")}
    assert masked == {p for p in DEFAULT_MASKS if p in k.tree}


def test_a_mask_that_does_not_take_is_refused():
    class LosingBinds(RecordingKernel):
        def bind_fd(self, source_fd, target_fd):
            self._do("bind", self.fds[source_fd], self.fds[target_fd])  # swapped away at once
    k = LosingBinds(tree=tree_with(["/proc/kcore"]))
    with pytest.raises(rootfs.UnsafeRootfsError, match="'/proc/kcore' is not masked"):
        set_up_rootfs(default_config(), k)


def test_the_mask_is_the_verified_null_device_not_what_a_path_leads_to():
    k = RecordingKernel(tree=tree_with(["/proc/kcore"]))
    config = default_config(mounts=[{"destination": "/dev", "type": "bind", "source": "/hostdev",
                                     "options": ["rbind"]}])
    k.host_paths.add("/hostdev")
    k.tree["/dev/null"] = "file"  # a bound /dev with a regular file where null should be
    with pytest.raises(rootfs.UnsafeRootfsError, match="not the null device"):
        set_up_rootfs(config, k)


def test_a_read_only_root_is_remounted_before_the_paths():
    config = default_config()
    config["root"]["readonly"] = True
    k = set_up_rootfs(config, RecordingKernel(tree=tree_with(dirs=["/proc/sys"])))
    after_pivot = [c[1:] for c in k.calls[k.calls.index(("pivot_root", ".", ".")):]
                   if c[0] == "mount"]
    assert after_pivot[:3] == [(None, ".", None, MS_SLAVE | MS_REC, None),
                               (None, "/", None, MS_BIND | MS_REMOUNT | MS_RDONLY, None),
                               ("/proc/sys", "/proc/sys", None, MS_BIND | MS_REC, None)]
    config["root"]["readonly"] = False
    k = set_up_rootfs(config, RecordingKernel())
    assert (None, "/", None, MS_BIND | MS_REMOUNT | MS_RDONLY, None) not in \
        [c[1:] for c in k.ops("mount")]


# --- the process ------------------------------------------------------------------------------
def process_plan(**process):
    base = {"args": ["/bin/true"], "cwd": "/", "env": ["PATH=/bin"],
            "user": {"uid": 0, "gid": 0}}
    base.update(process)
    return InitPlan(container_id="c1", process=base)


def test_capabilities_bounding_dropped_then_sets_applied_and_ambient_raised():
    caps = ["CAP_KILL", "CAP_NET_BIND_SERVICE"]
    plan = process_plan(capabilities={"bounding": caps, "effective": caps, "permitted": caps,
                                      "inheritable": caps, "ambient": ["CAP_KILL"]})
    k = RecordingKernel()
    process_setup.apply(k, plan, {})
    mask = (1 << names.CAP_NUMBERS["CAP_KILL"]) | (1 << names.CAP_NUMBERS["CAP_NET_BIND_SERVICE"])
    dropped = {c[2] for c in k.ops("prctl") if c[1] == capabilities.PR_CAPBSET_DROP}
    assert dropped == {n for n in range(names.cap_last_cap() + 1) if not mask & (1 << n)}
    assert k.ops("capset") == [("capset", mask, mask, mask)]
    raised = [c[3] for c in k.ops("prctl") if c[1] == capabilities.PR_CAP_AMBIENT and c[2] == 2]
    assert raised == [names.CAP_NUMBERS["CAP_KILL"]]
    # the order that works: bounding set while CAP_SETPCAP is held, uid, then capset
    order = [c[0] for c in k.calls if c[0] in ("prctl", "setresuid", "capset")]
    assert order.index("setresuid") < order.index("capset")
    assert order.index("prctl") < order.index("setresuid")


def test_user_rlimits_umask_nnp_and_the_program_found_on_path():
    plan = process_plan(args=["true"], user={"uid": 1000, "gid": 100, "umask": 0o077,
                                             "additionalGids": [5, 5, 6]},
                        rlimits=[{"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200}],
                        noNewPrivileges=True)
    k = RecordingKernel()
    prepared = process_setup.apply(k, plan, {})
    assert ("setrlimit", names.RLIMITS["RLIMIT_NOFILE"], (100, 200)) in k.calls
    assert ("umask", 0o077) in k.calls
    assert ("setgroups", (5, 6)) in k.calls  # each group once
    assert k.calls.index(("setresgid", 100)) < k.calls.index(("setresuid", 1000))
    assert ("prctl", capabilities.PR_SET_NO_NEW_PRIVS, 1, 0) in k.calls
    assert prepared.path == "/bin/true"
    assert "HOME=/" in prepared.env  # uid 1000 is not in the image's passwd


def test_home_comes_from_the_images_passwd():
    prepared = process_setup.apply(RecordingKernel(), process_plan(), {})
    assert "HOME=/root" in prepared.env


@pytest.mark.parametrize("op,process,step", [
    ("setrlimit", {"rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1, "hard": 1}]}, "rlimits"),
    ("write_proc", {"oomScoreAdj": 100}, "oomScoreAdj"),
    ("chdir", {}, "cwd"),
    ("setresuid", {}, "user"),
    ("prctl", {}, "capabilities"),   # the first prctl: dropping the bounding set
    ("capset", {}, "capabilities"),
    ("close_range", {}, "executable"),
    ("load_seccomp", {"noNewPrivileges": False}, "seccomp"),
])
def test_a_failing_call_of_the_process_setup_leaves_its_step_named(op, process, step):
    plan = process_plan(**process)
    if op == "load_seccomp":
        plan = plan.replace(seccomp={"defaultAction": "SCMP_ACT_ALLOW"})
    ctx = {}
    with pytest.raises(OSError):
        process_setup.apply(RecordingKernel(fail={op: errno.EPERM}), plan, ctx)
    assert ctx["step"] == step


def test_a_program_that_is_not_there_is_named():
    with pytest.raises(OSError, match="exec 'nope': executable file not found in"):
        process_setup.apply(RecordingKernel(), process_plan(args=["nope"]), {})


# --- the whole init, in a forked child -------------------------------------------------------
def run_init_in_child(plan, kernel):
    """Run init.run_init in a child against the double, play the parent's part of the
    protocol, and return the parent's view: (messages, the child's calls or None)."""
    parent, child = protocol.Channel.pair()
    report_r, report_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        parent.close()
        os.close(report_r)

        record_execve = kernel.execve

        def execve(path, args, env):  # where the real one would not return: report, exit
            record_execve(path, args, env)
            os.write(report_w, json.dumps(kernel.calls).encode())
            os._exit(0)
        kernel.execve = execve
        try:
            init.run_init(plan, child, kernel)
        finally:
            os._exit(3)
    child.close()
    os.close(report_w)
    seen = []
    try:
        parent.send(protocol.CONTINUE, pid=pid)
        parent.send(protocol.CGROUP_JOINED)
        while True:
            message, _fds = parent.recv()
            seen.append(message)
            if message["type"] in (protocol.READY, protocol.ERROR):
                break
    finally:
        parent.close()
    calls = b""
    while True:
        chunk = os.read(report_r, 65536)
        if not chunk:
            break
        calls += chunk
    os.close(report_r)
    _, status = os.waitpid(pid, 0)
    return seen, (json.loads(calls) if calls else None), status


def init_plan(config=None, **fields):
    config = config or default_config()
    config["process"]["args"] = ["/bin/true"]
    config["process"]["terminal"] = False
    base = dict(container_id="c1", bundle="/bundle", rootfs=ROOTFS, fifo_fd=0,
                new_flags=init.CLONE_NEWNS, cgroup_paths={"": CGROUP})
    base.update(fields)
    return InitPlan.from_config(config, config["process"], **base)


def test_the_init_sets_up_everything_in_order_and_execs_the_program():
    config = default_config(hostname="box", domainname="example")
    config["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1"}
    seen, calls, status = run_init_in_child(init_plan(config), RecordingKernel())
    assert [m["type"] for m in seen] == [protocol.READY]
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    ops = [c[0] for c in calls]
    # the rootfs before pivot_root, hostname and sysctls after it, the masks after those,
    # then the process, the fifo written ("0" released, "1" about to exec), and execve last
    assert ops.index("pivot_root") < ops.index("sethostname") < ops.index("write_proc")
    assert calls[ops.index("sethostname")] == ["sethostname", "box"]
    assert calls[ops.index("setdomainname")] == ["setdomainname", "example"]
    assert ["write_proc", "sys/net/ipv4/ip_forward", "1"] in calls
    assert ops.index("write_proc") < ops.index("capset") < ops.index("execve")
    assert [c[2] for c in calls if c[0] == "write"] == ["0", "1"]
    assert calls[-1][:3] == ["execve", "/bin/true", ["/bin/true"]]


@pytest.mark.parametrize("fail,step", [
    ({"join_session_keyring": errno.EACCES + 1000}, "joining a session keyring"),
    ({("mount", "proc"): errno.EPERM}, "mounting the rootfs"),
    ({"pivot_root": errno.EINVAL}, "pivot_root"),
    ({"sethostname": errno.EPERM}, "sethostname"),
    ({"setdomainname": errno.EPERM}, "setdomainname"),
    ({"write_proc": errno.EACCES}, "sysctl net.ipv4.ip_forward"),
    ({"readonly_tmpfs": errno.EPERM}, "read-only and masked paths"),
    ({"capset": errno.EPERM}, "capabilities"),
])
def test_a_failing_step_of_the_init_is_reported_by_name(fail, step):
    config = default_config(hostname="box", domainname="example")
    config["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1"}
    kernel = RecordingKernel(fail=fail, tree=tree_with(dirs=["/proc/acpi"]))
    seen, calls, status = run_init_in_child(init_plan(config), kernel)
    assert calls is None and os.WEXITSTATUS(status) == 1
    error = seen[-1]
    assert error["type"] == protocol.ERROR
    assert error["step"] == step, error


def test_an_init_without_a_mount_namespace_chroots_instead_of_pivoting():
    config = default_config()
    config["linux"]["namespaces"] = [n for n in config["linux"]["namespaces"]
                                     if n["type"] != "mount"]
    seen, calls, _status = run_init_in_child(init_plan(config, new_flags=0), RecordingKernel())
    ops = [c[0] for c in calls]
    assert "pivot_root" not in ops and "chroot" in ops
    before_chroot = calls[:ops.index("chroot")]
    assert not any(c[0] == "mount" and c[2] == "/" for c in before_chroot), \
        "the host's / must not be touched without a mount namespace"
    assert seen[-1]["type"] == protocol.READY



def test_these_tests_need_no_root():
    """The point of the seam: run this module again as nobody, without any privilege (from a
    copy nobody can read: a checkout under /root could not be)."""
    import shutil
    import subprocess
    import sys
    if os.geteuid() != 0:
        pytest.skip("already unprivileged: this run shows it")
    import tempfile
    here = os.path.dirname(os.path.abspath(__file__))
    copy = tempfile.mkdtemp(prefix="pyrunc-unprivileged-")
    try:
        for name in ("test_init_path.py", "kernel_double.py"):
            shutil.copy(os.path.join(here, name), copy)
        os.chmod(copy, 0o755)
        result = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
             "--bounding-set=-all", sys.executable, "-P", "-m", "pytest", "-p",
             "no:cacheprovider", "-q", "test_init_path.py", "-k",
             "not test_these_tests_need_no_root"],
            cwd=copy, env={"HOME": "/tmp", "PATH": "/usr/bin:/bin"}, capture_output=True,
            text=True, timeout=120)
    finally:
        shutil.rmtree(copy)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "failed" not in result.stdout
