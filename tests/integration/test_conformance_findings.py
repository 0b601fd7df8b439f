"""Regression tests for what the OCI validation suite (tests/integration/test_conformance.py)
found, each shown on a real container from outside and, where it matters, from inside, with
configs shaped as runtime-tools' generator writes them."""
import json
import os
import subprocess

import pytest

from conftest import cgroup_dirs, host_mounts_mentioning, wait_until

# runtime-tools' default seccomp profile: an old Docker-style allow-list with defaultAction
# SCMP_ACT_ERRNO and noNewPrivileges false. It has none of the newer calls a runtime may make
# at the end of its setup (close_range, openat2, faccessat2, clone3, pidfd_*), so whatever the
# runtime does after loading it must be among these.
DOCKER_STYLE_ALLOW_LIST = sorted("""
access arch_prctl brk capget capset chdir chmod chown clock_gettime clock_nanosleep close
dup dup2 dup3 execve exit exit_group faccessat fchdir fchmod fchown fcntl fstat fstatfs futex
getcwd getdents64 getegid geteuid getgid getgroups getpgrp getpid getppid getrandom getresgid
getresuid getrlimit gettid getuid ioctl kill lseek lstat madvise mmap mprotect munmap nanosleep
newfstatat open openat pipe pipe2 poll prctl pread64 prlimit64 read readlink readlinkat
rt_sigaction rt_sigprocmask rt_sigreturn sched_getaffinity sched_yield select set_robust_list
set_tid_address setgid setgroups setpgid setresgid setresuid setsid setuid sigaltstack stat
statfs statx sysinfo tgkill umask uname wait4 write writev vfork clone fork rseq
""".split())


def docker_style_seccomp():
    return {"defaultAction": "SCMP_ACT_ERRNO",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [{"names": DOCKER_STYLE_ALLOW_LIST, "action": "SCMP_ACT_ALLOW"}]}


@pytest.mark.parametrize("uid", [0, 1000])
def test_old_allow_list_without_no_new_privs_runs(runtime, make_bundle, uid):
    """The init died with 'close_range: Operation not permitted': it made calls the profile
    denies after loading it. Root and a plain user (who needs CAP_SYS_ADMIN raised back to
    load the filter) both run, and exec under the same profile too."""
    def edit(config):
        config["process"]["noNewPrivileges"] = False
        config["process"]["user"] = {"uid": uid, "gid": uid}
        config["linux"]["seccomp"] = docker_style_seccomp()
        config["process"]["args"] = ["sh", "-c", "grep -E '^(Seccomp|NoNewPrivs|Uid):' "
                                     "/proc/self/status; sleep 1000"]
    bundle = make_bundle(edit=edit)
    name = f"conf-seccomp-{uid}"
    runtime("run", "-d", "-b", bundle, name, check=True)
    pid = runtime.state(name)["pid"]
    status = dict(line.split(":", 1) for line in open(f"/proc/{pid}/status").read().splitlines())
    assert status["Seccomp"].strip() == "2" and status["NoNewPrivs"].strip() == "0"
    assert status["Uid"].split()[0] == str(uid)
    out = runtime("exec", name, "sh", "-c", "echo exec-ran; grep ^Seccomp: /proc/self/status",
                  check=True).stdout
    assert out.split() == ["exec-ran", "Seccomp:", "2"]
    # What a denied call looks like from inside: the profile is really in force.
    denied = runtime("exec", name, "unshare", "-u", "true")
    assert denied.returncode != 0


@pytest.fixture
def holder():
    """holder(*unshare_flags) -> pid of a process in new namespaces of those kinds."""
    procs = []

    def start(*flags):
        proc = subprocess.Popen(["unshare", *flags, "--fork", "sleep", "1000"],
                                start_new_session=True)
        procs.append(proc)
        kinds = {"-m": "mnt", "-u": "uts", "-i": "ipc", "-n": "net"}
        kind = kinds[flags[0]]

        def child():
            try:
                kids = open(f"/proc/{proc.pid}/task/{proc.pid}/children").read().split()
                return int(kids[0]) if kids else None
            except OSError:
                return None
        assert wait_until(lambda: child() is not None and os.readlink(
            f"/proc/{child()}/ns/{kind}") != os.readlink(f"/proc/self/ns/{kind}"))
        return child()
    yield start
    for proc in procs:
        os.killpg(proc.pid, 9)
        proc.wait()


def test_join_a_mount_namespace_by_path(runtime, make_bundle, holder):
    """runc runs a config that joins an existing mount namespace; pyrunc refused it by name.
    The container's mounts are made in that namespace (its rootfs setup runs there)."""
    pid = holder("-m")

    def edit(config):
        for ns in config["linux"]["namespaces"]:
            if ns["type"] == "mount":
                ns["path"] = f"/proc/{pid}/ns/mnt"
        config["process"]["args"] = ["sh", "-c", "echo inside; sleep 1000"]
    bundle = make_bundle(edit=edit)
    runtime("run", "-d", "-b", bundle, "conf-join-mnt", check=True)
    init = runtime.state("conf-join-mnt")["pid"]
    assert os.readlink(f"/proc/{init}/ns/mnt") == os.readlink(f"/proc/{pid}/ns/mnt")
    assert os.readlink(f"/proc/{init}/ns/mnt") != os.readlink("/proc/self/ns/mnt")
    assert os.path.samefile(f"/proc/{init}/root/bin/busybox",
                            os.path.join(json.load(open(os.path.join(bundle, "config.json")))
                                         ["root"]["path"], "bin/busybox"))
    out = runtime("exec", "conf-join-mnt", "cat", "/proc/self/mountinfo", check=True).stdout
    mountpoints = [line.split()[4] for line in out.splitlines()]
    assert "/" in mountpoints and "/proc" in mountpoints
    runtime("delete", "--force", "conf-join-mnt", check=True)


def test_hostname_in_a_joined_uts_namespace(runtime, make_bundle, holder):
    """runc sets the hostname of a joined uts namespace; pyrunc refused it."""
    pid = holder("-u")

    def edit(config):
        for ns in config["linux"]["namespaces"]:
            if ns["type"] == "uts":
                ns["path"] = f"/proc/{pid}/ns/uts"
        config["hostname"] = "joined-uts"
        config["process"]["args"] = ["hostname"]
    bundle = make_bundle(edit=edit)
    assert runtime("run", "-b", bundle, "conf-join-uts", check=True).stdout.strip() == "joined-uts"
    seen = subprocess.run(["nsenter", "-t", str(pid), "-u", "hostname"], capture_output=True,
                          text=True, check=True).stdout.strip()
    assert seen == "joined-uts"  # it is that namespace's name now, as with runc
    assert os.uname().nodename != "joined-uts"


def no_mount_ns_bundle(make_bundle, tmp_path, busybox_rootfs, args):
    """A bundle of its own rootfs copy whose config has no mount namespace (and so none of
    the masked and read-only paths that need one)."""
    rootfs = tmp_path / "rootfs"
    subprocess.run(["cp", "-a", busybox_rootfs, str(rootfs)], check=True)
    (rootfs / "inside-marker").write_text("in the container's root\n")

    def edit(config):
        config["root"]["path"] = str(rootfs)
        config["linux"]["namespaces"] = [ns for ns in config["linux"]["namespaces"]
                                         if ns["type"] != "mount"]
        config["linux"].pop("maskedPaths", None)
        config["linux"].pop("readonlyPaths", None)
        config["process"]["args"] = list(args)
    return make_bundle(edit=edit), rootfs


def test_without_a_mount_namespace(runtime, make_bundle, tmp_path, busybox_rootfs):
    """runc runs a config without a mount namespace (linux_ns_itype); pyrunc refused it. The
    container shares the host's mount namespace and is chrooted into its rootfs; its mounts
    are in the host's table under the rootfs while it runs, and gone after delete."""
    bundle, rootfs = no_mount_ns_bundle(make_bundle, tmp_path, busybox_rootfs,
                                        ["sh", "-c", "ls /proc/self/ns/ >/dev/null && sleep 1000"])
    runtime("run", "-d", "-b", bundle, "conf-no-mnt", check=True)
    pid = runtime.state("conf-no-mnt")["pid"]
    assert os.readlink(f"/proc/{pid}/ns/mnt") == os.readlink("/proc/self/ns/mnt")
    assert os.path.samefile(f"/proc/{pid}/root", rootfs)
    assert host_mounts_mentioning(f" {rootfs}/proc ")  # its /proc is in our table
    # exec joins the other namespaces and the same chroot, not the host's root
    out = runtime("exec", "conf-no-mnt", "cat", "/inside-marker", check=True).stdout
    assert out == "in the container's root\n"
    runtime("delete", "--force", "conf-no-mnt", check=True)
    assert not host_mounts_mentioning(str(rootfs))


def test_without_a_mount_namespace_failed_create_unmounts(runtime, make_bundle, tmp_path,
                                                          busybox_rootfs):
    bundle, rootfs = no_mount_ns_bundle(make_bundle, tmp_path, busybox_rootfs,
                                        ["/no/such/program"])
    result = runtime("create", "-b", bundle, "conf-no-mnt-fail")
    assert result.returncode == 1 and "no such file" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not host_mounts_mentioning(str(rootfs)) and runtime.ids() == []


def test_without_a_mount_namespace_masked_paths_are_refused(runtime, make_bundle):
    def edit(config):
        config["linux"]["namespaces"] = [ns for ns in config["linux"]["namespaces"]
                                         if ns["type"] != "mount"]
    bundle = make_bundle(edit=edit)  # the default spec masks /proc/kcore and others
    result = runtime("create", "-b", bundle, "conf-no-mnt-masked")
    assert result.returncode == 1
    assert result.stderr.strip().startswith("pyrunc: config: linux.maskedPaths: needs a mount "
                                            "namespace of the container's own")
    assert runtime.ids() == []


@pytest.mark.parametrize("kind,wrong", [("cgroup", "ipc"), ("ipc", "mnt"), ("mount", "net"),
                                        ("network", "pid"), ("uts", "cgroup")])
def test_namespace_path_of_another_type_is_refused(runtime, make_bundle, kind, wrong):
    def edit(config):
        namespaces = [ns for ns in config["linux"]["namespaces"] if ns["type"] != kind]
        config["linux"]["namespaces"] = namespaces + [{"type": kind,
                                                       "path": f"/proc/self/ns/{wrong}"}]
    bundle = make_bundle(edit=edit)
    result = runtime("create", "-b", bundle, f"conf-nstype-{kind}")
    assert result.returncode == 1
    named = {"mnt": "mount", "net": "network"}.get(wrong, wrong)
    assert result.stderr.strip() == (f"pyrunc: config: linux.namespaces.{kind}.path: "
                                     f"/proc/self/ns/{wrong} is a {named} namespace, not a "
                                     f"{kind} namespace (post-mortem: pyrunc --root "
                                     f"{runtime.root} explain conf-nstype-{kind})")
    assert runtime.ids() == [] and not cgroup_dirs(f"conf-nstype-{kind}")


def test_delete_of_a_created_container_fails_and_changes_nothing(runtime, make_bundle):
    bundle = make_bundle(["true"])
    runtime("create", "-b", bundle, "conf-del-created", check=True)
    pid = runtime.state("conf-del-created")["pid"]
    result = runtime("delete", "conf-del-created")
    assert result.returncode == 1
    assert result.stderr.strip() == ("pyrunc: cannot delete container conf-del-created that "
                                     "is not stopped: created (--force kills it first)")
    assert runtime.state("conf-del-created")["status"] == "created"
    assert os.path.exists(f"/proc/{pid}")
    runtime("start", "conf-del-created", check=True)  # still startable: nothing was touched
    assert wait_until(lambda: runtime.state("conf-del-created")["status"] == "stopped")
    runtime("delete", "conf-del-created", check=True)


@pytest.mark.cgroup
def test_device_rules_keep_their_order(runtime, make_bundle):
    """The kernel lists devices.list in the order the rules were written: the config's own
    allow rules come first, then runc's default allow-list (linux_cgroups_devices)."""
    devices_root = "/sys/fs/cgroup/devices"
    if not os.path.isdir(devices_root):
        pytest.skip("no v1 devices hierarchy: cgroup v2 has no devices.list (an eBPF filter, "
                    "tested in test_device_filter_kernel.py)")
    rules = [{"allow": False, "access": "rwm"},
             {"allow": True, "type": "c", "major": 10, "minor": 229, "access": "rwm"},
             {"allow": True, "type": "b", "major": 8, "minor": 0, "access": "rw"},
             {"allow": True, "type": "b", "major": 8, "minor": 1, "access": "r"}]

    def edit(config):
        config["linux"]["resources"] = {"devices": rules}
        config["process"]["args"] = ["sleep", "1000"]
    bundle = make_bundle(edit=edit)
    runtime("run", "-d", "-b", bundle, "conf-devorder", check=True)
    listed = open(os.path.join(devices_root, "conf-devorder", "devices.list")).read().split("\n")
    assert listed[:3] == ["c 10:229 rwm", "b 8:0 rw", "b 8:1 r"]
    assert "c 1:3 rwm" in listed  # /dev/null, from the default allow-list, after them


@pytest.mark.cgroup
def test_pids_limit_and_soft_nofile_as_configured(runtime, make_bundle):
    """What linux_cgroups_pids and process_rlimits mean to check, which their own code cannot
    (a pointer comparison; a Go probe that raises its own soft limit)."""
    def edit(config):
        config["linux"]["resources"] = {"pids": {"limit": 1000}}
        config["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 3000, "hard": 4000}]
        config["process"]["args"] = ["sh", "-c", "ulimit -Sn; ulimit -Hn; sleep 1000"]
    bundle = make_bundle(edit=edit)
    runtime("run", "-d", "-b", bundle, "conf-pids", check=True)
    pid = runtime.state("conf-pids")["pid"]
    from pyrunc.cgroups.layout import hierarchies
    pids_max = [os.path.join(h.mountpoint, "conf-pids", "pids.max") for h in hierarchies()]
    values = [open(p).read().strip() for p in pids_max if os.path.exists(p)]
    assert values == ["1000"]
    limits = open(f"/proc/{pid}/limits").read()
    line = next(l for l in limits.splitlines() if l.startswith("Max open files"))
    assert line.split()[3:5] == ["3000", "4000"]
