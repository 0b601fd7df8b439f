"""runc's CVE classes, closed: symlinked mount targets (CVE-2021-30465 / -2023-27561 family),
leaked fds (CVE-2024-21626), /proc/self/exe of the runtime (CVE-2019-5736), a ptraceable setup
process (CVE-2016-9962), plus the privileges the process gets."""
import os
import shutil
import subprocess

import pytest

from conftest import host_mounts_mentioning
from conftest import wait_until


def test_symlinked_mount_targets_stay_inside_the_rootfs(runtime, make_bundle, rootfs_copy,
                                                         tmp_path):
    outside = tmp_path / "host-dir"
    outside.mkdir()
    (outside / "marker").write_text("untouched")
    (rootfs_copy / "evil").symlink_to(str(outside))            # absolute, to the host
    (rootfs_copy / "evil2").symlink_to("../../../../../../" + str(outside).lstrip("/"))

    def edit(config):
        config["root"]["path"] = str(rootfs_copy)
        config["mounts"] += [
            {"destination": "/evil", "type": "tmpfs", "source": "tmpfs"},
            {"destination": "/evil2/sub", "type": "tmpfs", "source": "tmpfs"},
        ]
    bundle = make_bundle(["sh", "-c", "ls /evil/; echo ok"], edit=edit)
    result = runtime("run", "-b", bundle, "cve-symlink", check=True)
    assert result.stdout.strip().endswith("ok")
    assert (outside / "marker").read_text() == "untouched"
    assert sorted(os.listdir(outside)) == ["marker"]           # nothing created on the host
    assert host_mounts_mentioning(str(outside)) == []
    # The mounts landed inside the rootfs instead: evil's target was created under it.
    assert (rootfs_copy / str(outside).lstrip("/")).is_dir()


def test_no_fd_leaks_into_the_container(runtime, make_bundle, tmp_path):
    bundle = make_bundle(["sh", "-c", "ls /proc/self/fd"])
    r, w = os.pipe()
    os.set_inheritable(w, True)
    try:
        result = runtime("run", "-b", bundle, "cve-fds", check=True, pass_fds=(w,))
    finally:
        os.close(r)
        os.close(w)
    fds = sorted(int(x) for x in result.stdout.split())
    assert fds == [0, 1, 2, 3]  # 3 is ls's own directory fd
    # --preserve-fds 1 passes fd 3 on, and only it (the pipe's other copy stays behind).
    r, w = os.pipe()
    bundle2 = make_bundle(["sh", "-c", "echo through-fd3 >&3; ls /proc/self/fd"], name="b2")
    command = " ".join(runtime.cmd("run", "--preserve-fds", "1", "-b", bundle2, "cve-fds2"))
    try:
        result = subprocess.run(["bash", "-c", f"exec 3>&{w}; exec {command}"], pass_fds=(w,),
                                capture_output=True, text=True, timeout=60)
        os.close(w)
        assert result.returncode == 0, result.stderr
        assert os.read(r, 100) == b"through-fd3\n"
    finally:
        os.close(r)
    assert sorted(int(x) for x in result.stdout.split()) == [0, 1, 2, 3, 4]


def test_runtime_binary_is_out_of_reach(runtime, make_bundle, rootfs_copy):
    """A program that is #!/proc/self/exe would run pyrunc's own interpreter in the
    container (and could then rewrite it on the host): refused."""
    (rootfs_copy / "evil").write_text("#!/proc/self/exe\nprint('pwned')\n")
    (rootfs_copy / "evil").chmod(0o755)
    (rootfs_copy / "evil2").write_text("#!/evil\n")
    (rootfs_copy / "evil2").chmod(0o755)
    for program in ("/evil", "/evil2", "/proc/self/exe"):
        bundle = make_bundle([program], edit=lambda c: c["root"].update(path=str(rootfs_copy)),
                             name="b" + program.replace("/", "_"))
        result = runtime("run", "-b", bundle, "cve-exe")
        assert result.returncode == 1
        assert "refusing" in result.stderr  # the #! chain check, or the magic-link check
        assert "pwned" not in result.stdout
        assert runtime.ids() == []


def test_setup_process_is_not_dumpable_and_is_alone(runtime, make_bundle):
    bundle = make_bundle(["sleep", "1000"])
    runtime("create", "-b", bundle, "cve-ptrace", check=True)
    pid = runtime.state("cve-ptrace")["pid"]
    # While `created`, the waiting init is pyrunc's code: not dumpable, so nothing in the
    # container may ptrace it or open its /proc files; its exe is not the container's.
    status = open(f"/proc/{pid}/status").read()
    assert "TracerPid:\t0" in status
    exe = os.readlink(f"/proc/{pid}/exe")
    assert "python" in exe
    out = runtime("exec", "cve-ptrace", "sh", "-c",
                  "ls -l /proc/1/exe 2>&1; cat /proc/1/environ >/dev/null 2>&1 || echo denied")
    assert "denied" in out.stdout
    runtime("start", "cve-ptrace", check=True)
    assert wait_until(lambda: "python" not in os.readlink(f"/proc/{pid}/exe"))
    runtime("delete", "--force", "cve-ptrace", check=True)


def test_privileges_are_the_configs(runtime, make_bundle):
    bundle = make_bundle(["sh", "-c", "grep -E '^(Cap|NoNewPrivs)' /proc/self/status; "
                                      "cat /proc/kcore | wc -c; "
                                      "echo x > /proc/sys/kernel/hostname 2>/dev/null || echo ro-sys; "
                                      "touch /newfile 2>/dev/null || echo ro-root"])
    out = runtime("run", "-b", bundle, "cve-caps", check=True).stdout
    fields = dict(line.split(":\t") for line in out.splitlines() if ":\t" in line)
    default = 0x20000420  # CAP_AUDIT_WRITE, CAP_KILL, CAP_NET_BIND_SERVICE
    for key in ("CapBnd", "CapEff", "CapPrm"):
        assert int(fields[key], 16) == default, (key, fields[key])
    assert int(fields["CapInh"], 16) == 0 and int(fields["CapAmb"], 16) == 0
    assert fields["NoNewPrivs"].strip() == "1"
    lines = out.splitlines()
    assert "0" in lines          # /proc/kcore is masked: reads empty
    assert "ro-sys" in lines and "ro-root" in lines


def test_capability_the_host_lacks_is_refused(runtime, make_bundle):
    def edit(config):
        config["process"]["capabilities"]["bounding"].append("CAP_SYS_RESOURCE")
    bundle = make_bundle(["true"], edit=edit)
    result = runtime("create", "-b", bundle, "cve-capsysres")
    own_bounding = int(next(l for l in open("/proc/self/status")
                            if l.startswith("CapBnd")).split()[1], 16)
    if own_bounding & (1 << 24):
        pytest.skip("this host grants CAP_SYS_RESOURCE")  # not the case on the project's VM
    assert result.returncode == 1
    assert "process.capabilities" in result.stderr and "CAP_SYS_RESOURCE" in result.stderr
    assert runtime.ids() == []
    shutil.rmtree(os.path.join(runtime.root), ignore_errors=True)


def test_seccomp_profile_is_enforced(runtime, make_bundle):
    def edit(config):
        config["linux"]["seccomp"] = {
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
            "syscalls": [
                {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
                {"names": ["sethostname"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
                 "args": [{"index": 1, "value": 3, "op": "SCMP_CMP_EQ"}]},
                {"names": ["no_such_syscall_anywhere"], "action": "SCMP_ACT_ERRNO"},
            ],
        }
        config["process"]["args"] = ["sh", "-c", "mkdir /tmp/x 2>&1; grep Seccomp: /proc/self/status"]
    bundle = make_bundle(edit=edit)
    out = runtime("run", "-b", bundle, "cve-seccomp", check=True).stdout
    assert "Operation not permitted" in out
    assert "Seccomp:\t2" in out


def test_seccomp_without_no_new_privs(runtime, make_bundle):
    """Without noNewPrivileges the filter is loaded while CAP_SYS_ADMIN is still held."""
    def edit(config):
        config["process"]["noNewPrivileges"] = False
        config["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}
        config["process"]["args"] = ["sh", "-c", "grep -E 'Seccomp:|NoNewPrivs' /proc/self/status"]
    bundle = make_bundle(edit=edit)
    out = runtime("run", "-b", bundle, "cve-seccomp2", check=True).stdout
    assert "Seccomp:\t2" in out and "NoNewPrivs:\t0" in out


def test_cwd_through_a_leaked_directory_fd_is_refused(runtime, make_bundle, tmp_path):
    """CVE-2024-21626: a cwd of /proc/self/fd/N where N is a host directory would start the
    process outside its root. Here the caller passes a host directory as preserved fd 3."""
    host_dir = tmp_path / "host-dir"
    host_dir.mkdir()
    bundle = make_bundle(["sh", "-c", "pwd; ls"], edit=lambda c: c["process"].update(
        cwd="/proc/self/fd/3"))
    command = " ".join(runtime.cmd("run", "--preserve-fds", "1", "-b", bundle, "cve-cwd"))
    result = subprocess.run(["bash", "-c", f"exec 3<{host_dir}; exec {command}"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "process.cwd" in result.stderr and "outside the container" in result.stderr
    assert sorted(os.listdir(host_dir)) == []
    assert runtime.ids() == []


def _seccomp_agent(path, answers):
    """A minimal seccomp agent: take the notify fd from the runtime, answer one notification
    with -EACCES, and record what it saw."""
    import fcntl
    import json
    import socket
    import struct
    import threading

    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)

    def serve():
        conn, _ = server.accept()
        msg, ancdata, _flags, _addr = conn.recvmsg(65536, socket.CMSG_SPACE(4))
        conn.close()
        server.close()
        answers["state"] = json.loads(msg)
        notify_fd = struct.unpack("i", ancdata[0][2][:4])[0]
        notif = bytearray(80)  # struct seccomp_notif, zeroed as the kernel requires
        fcntl.ioctl(notify_fd, 0xC0502100, notif)  # SECCOMP_IOCTL_NOTIF_RECV
        notif_id, pid = struct.unpack_from("QI", notif, 0)
        nr = struct.unpack_from("i", notif, 16)[0]
        answers["notification"] = {"pid": pid, "nr": nr}
        response = struct.pack("QqiI", notif_id, 0, -13, 0)  # error -EACCES
        fcntl.ioctl(notify_fd, 0xC0182101, response)  # SECCOMP_IOCTL_NOTIF_SEND
        os.close(notify_fd)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


def test_seccomp_notify_reaches_the_listener(runtime, make_bundle, tmp_path):
    path = str(tmp_path / "agent.sock")
    answers = {}
    agent = _seccomp_agent(path, answers)

    def edit(config):
        config["linux"]["seccomp"] = {
            "defaultAction": "SCMP_ACT_ALLOW", "listenerPath": path,
            "listenerMetadata": "agent-metadata",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]}
        config["process"]["args"] = ["sh", "-c", "mkdir /tmp/x 2>&1; echo done"]
    bundle = make_bundle(edit=edit)
    out = runtime("run", "-b", bundle, "cve-notify", check=True, timeout=30).stdout
    agent.join(timeout=10)
    assert "Permission denied" in out and out.strip().endswith("done")
    state = answers["state"]
    assert state["fds"] == ["seccompFd"] and state["metadata"] == "agent-metadata"
    assert state["state"]["id"] == "cve-notify" and state["pid"] > 1
    assert answers["notification"]["nr"] in (83, 258)  # mkdir, mkdirat on x86_64


def test_seccomp_notify_without_listener_is_refused(runtime, make_bundle):
    bundle = make_bundle(["true"], edit=lambda c: c["linux"].update(seccomp={
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}))
    result = runtime("create", "-b", bundle, "cve-notify2")
    assert result.returncode == 1 and "linux.seccomp.listenerPath" in result.stderr
    assert runtime.ids() == []


# Each protection below is switched off in a second run to show that its test catches the attack
# it guards against. Both runs are asked to switch it off (PYRUNC_TEST_DISABLE_PROTECTION): the
# attack must fail against the installed `pyrunc`, which has no such switch, and succeed against
# the tests' double (tests/pyrunc_faulty.py), which obeys it.
PROTECTION = pytest.mark.parametrize("protected", [True, False], ids=["protected", "disabled"])


def _attempt(runtime, protected, names):
    """(the runtime to run the attack with, its environment)."""
    env = dict(os.environ, PYRUNC_TEST_DISABLE_PROTECTION=names)
    return (runtime if protected else runtime.faulty()), env


def _copy_loader_and_libraries(binary, rootfs):
    """Give the image what a dynamically linked host binary needs to start in it."""
    import re
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    for path in re.findall(r"(/\S+) \(0x", out):
        dest = rootfs / path.lstrip("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest)


@PROTECTION
def test_cve_2019_5736_runtime_binary_cannot_be_reached(runtime, make_bundle, rootfs_copy,
                                                       protected):
    """The container's program names /proc/self/exe as its interpreter: unprotected, the
    kernel starts pyrunc's own (host) Python as the container's process, which could then
    reopen it for writing once pyrunc's own processes are gone. Here it just reports itself."""
    (rootfs_copy / "evil").write_text("#!/proc/self/exe\nprint('pwned')\n")
    (rootfs_copy / "evil").chmod(0o755)
    _copy_loader_and_libraries(os.path.realpath("/proc/self/exe"), rootfs_copy)
    bundle = make_bundle(["/evil"], edit=lambda c: c["root"].update(path=str(rootfs_copy)))
    # Two protections stand in the way and both are switched off for the demonstration: the
    # check of the #! chain, and the init being non-dumpable until exec.
    rt, env = _attempt(runtime, protected, "exe-check,dumpable")
    result = rt("run", "-b", bundle, "cve-5736", env=env)
    host_python_ran = "Python" in result.stderr or "pwned" in result.stdout
    assert host_python_ran is not protected, (result.stdout, result.stderr)
    if protected:
        assert "refusing to run the runtime's own binary" in result.stderr


@PROTECTION
def test_cve_2024_21626_no_runtime_fd_reaches_the_container(runtime, make_bundle, tmp_path,
                                                            protected):
    host_dir = tmp_path / "host-secret"
    host_dir.mkdir()
    (host_dir / "secret").write_text("host data")
    bundle = make_bundle(["sh", "-c", "for f in /proc/self/fd/*; do ls $f/ 2>/dev/null; done"])
    rt, env = _attempt(runtime, protected, "fd-cleanup")
    fd = os.open(str(host_dir), os.O_RDONLY)  # inheritable through pass_fds: a "leaked" fd
    try:
        result = rt("run", "-b", bundle, "cve-21626", pass_fds=(fd,), env=env)
    finally:
        os.close(fd)
    attack_worked = "secret" in result.stdout
    assert attack_worked is not protected, (result.stdout, result.stderr)


@PROTECTION
def test_cve_2024_21626_cwd_through_a_leaked_fd(runtime, make_bundle, tmp_path, protected):
    host_dir = tmp_path / "host-dir"
    host_dir.mkdir()
    (host_dir / "secret").write_text("host data")
    bundle = make_bundle(["sh", "-c", "cat secret"], edit=lambda c: c["process"].update(
        cwd="/proc/self/fd/3"))
    # --no-pivot, as above: with pivot_root the kernel refuses the detached host directory
    rt, env = _attempt(runtime, protected, "cwd-check,dumpable")
    command = " ".join(rt.cmd("run", "--no-pivot", "--preserve-fds", "1", "-b", bundle,
                              "cve-cwd2"))
    result = subprocess.run(["bash", "-c", f"exec 3<{host_dir}; exec {command}"],
                            capture_output=True, text=True, timeout=60, env=env)
    attack_worked = "host data" in result.stdout
    assert attack_worked is not protected, (result.stdout, result.stderr)


@pytest.mark.parametrize("action", ["SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP"])
def test_seccomp_kill_and_trap_actions(runtime, make_bundle, action):
    """A syscall under KILL, KILL_PROCESS or TRAP ends the process that made it with SIGSYS:
    the shell reports 128 + 31 for its mkdir child."""
    def edit(config):
        config["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": action}]}
        config["process"]["args"] = ["sh", "-c", "grep Seccomp_filters: /proc/self/status; "
                                     "mkdir /tmp/x; echo status=$?; test -d /tmp/x || echo none"]
    bundle = make_bundle(edit=edit)
    out = runtime("run", "-b", bundle, "cve-kill", check=True).stdout
    assert "Seccomp_filters:\t1" in out
    assert "status=159" in out and "none" in out


def test_masks_and_read_only_paths_hold_under_exec_and_mounting_is_denied(runtime, make_bundle):
    bundle = make_bundle(["sleep", "1000"])
    runtime("run", "-d", "-b", bundle, "cve-exec-masks", check=True)
    script = ("wc -c < /proc/keys; echo 1 > /proc/sys/kernel/printk 2>/dev/null || echo sys-ro;"
              " touch /sys/x 2>/dev/null || echo sysfs-ro;"
              " mount -t tmpfs none /tmp 2>/dev/null || echo no-mount")
    out = runtime("exec", "cve-exec-masks", "sh", "-c", script, check=True).stdout.split()
    assert out == ["0", "sys-ro", "sysfs-ro", "no-mount"]
