"""Namespaces created and joined: user (with maps), time, cgroup, and the shared defaults."""
import os

from conftest import cgroup_dirs


def test_user_namespace_maps(runtime, make_bundle):
    def edit(config):
        config["linux"]["namespaces"].append({"type": "user"})
        config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        config["process"]["args"] = ["sh", "-c", "id -u; cat /proc/self/uid_map; sleep 1000"]
    bundle = make_bundle(edit=edit)
    runtime("run", "-d", "-b", bundle, "ns-user", check=True)
    pid = runtime.state("ns-user")["pid"]
    assert open(f"/proc/{pid}/uid_map").read().split() == ["0", "100000", "65536"]
    assert open(f"/proc/{pid}/gid_map").read().split() == ["0", "100000", "65536"]
    uid_line = next(l for l in open(f"/proc/{pid}/status") if l.startswith("Uid:"))
    assert uid_line.split()[1] == "100000"
    assert os.readlink(f"/proc/{pid}/ns/user") != os.readlink("/proc/self/ns/user")
    out = runtime("exec", "ns-user", "sh", "-c", "id -u; cat /proc/self/uid_map", check=True)
    assert out.stdout.split() == ["0", "0", "100000", "65536"]


def test_time_namespace_offsets(runtime, make_bundle):
    year = 365 * 86400

    def edit(config):
        config["linux"]["namespaces"].append({"type": "time"})
        config["linux"]["timeOffsets"] = {"boottime": {"secs": year, "nanosecs": 0}}
        config["process"]["args"] = ["cat", "/proc/uptime"]
    bundle = make_bundle(edit=edit)
    inside = float(runtime("run", "-b", bundle, "ns-time", check=True).stdout.split()[0])
    host = float(open("/proc/uptime").read().split()[0])
    assert abs(inside - host - year) < 60


def test_cgroup_namespace_and_path(runtime, make_bundle):
    def edit(config):
        config["linux"]["cgroupsPath"] = "/pyrunc-test-cg/ns-cg"
        config["process"]["args"] = ["sh", "-c", "cat /proc/self/cgroup; sleep 1000"]
    bundle = make_bundle(edit=edit)
    runtime("run", "-d", "-b", bundle, "ns-cg", check=True)
    pid = runtime.state("ns-cg")["pid"]
    host_view = open(f"/proc/{pid}/cgroup").read()
    assert ":pids:/pyrunc-test-cg/ns-cg" in host_view
    assert os.path.isdir("/sys/fs/cgroup/pids/pyrunc-test-cg/ns-cg")
    inside = runtime("exec", "ns-cg", "cat", "/proc/self/cgroup", check=True).stdout
    assert ":pids:/\n" in inside  # the container sees its cgroup as the root
    inside_mounts = runtime("exec", "ns-cg", "cat", "/proc/self/mountinfo", check=True).stdout
    assert " /sys/fs/cgroup/pids " in inside_mounts
    runtime("delete", "--force", "ns-cg", check=True)
    assert not os.path.exists("/sys/fs/cgroup/pids/pyrunc-test-cg")  # we made it, we removed it
    assert not cgroup_dirs("ns-cg")


def test_new_namespaces_by_default_and_host_network_when_not_listed(runtime, make_bundle):
    bundle = make_bundle(["sleep", "1000"])
    runtime("run", "-d", "-b", bundle, "ns-default", check=True)
    pid = runtime.state("ns-default")["pid"]
    for ns in ("mnt", "uts", "ipc", "pid", "net", "cgroup"):
        assert os.readlink(f"/proc/{pid}/ns/{ns}") != os.readlink(f"/proc/self/ns/{ns}"), ns

    def host_net(config):
        config["linux"]["namespaces"] = [n for n in config["linux"]["namespaces"]
                                         if n["type"] != "network"]
        config["process"]["args"] = ["sleep", "1000"]
    bundle2 = make_bundle(edit=host_net, name="hostnet")
    runtime("run", "-d", "-b", bundle2, "ns-hostnet", check=True)
    pid2 = runtime.state("ns-hostnet")["pid"]
    assert os.readlink(f"/proc/{pid2}/ns/net") == os.readlink("/proc/self/ns/net")


def test_no_pivot_and_writable_root(runtime, make_bundle, tmp_path, busybox_rootfs):
    import subprocess
    rootfs = tmp_path / "rw-rootfs"
    subprocess.run(["cp", "-a", busybox_rootfs, str(rootfs)], check=True)

    def edit(config):
        config["root"] = {"path": str(rootfs), "readonly": False}
        config["process"]["args"] = ["sh", "-c", "touch /made-inside && ls /"]
    bundle = make_bundle(edit=edit)
    out = runtime("run", "--no-pivot", "-b", bundle, "ns-nopivot", check=True).stdout.split()
    assert "bin" in out and "made-inside" in out
    assert (rootfs / "made-inside").exists()


def test_hostname_domainname_and_sysctl(runtime, make_bundle):
    def edit(config):
        config["hostname"] = "h1"
        config["domainname"] = "example.test"
        config["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1", "kernel.msgmax": "4096"}
        config["process"]["args"] = ["sh", "-c", "hostname; cat /proc/sys/kernel/domainname "
                                     "/proc/sys/net/ipv4/ip_forward /proc/sys/kernel/msgmax"]
    bundle = make_bundle(edit=edit)
    host_forward = open("/proc/sys/net/ipv4/ip_forward").read()
    host_msgmax = open("/proc/sys/kernel/msgmax").read()
    out = runtime("run", "-b", bundle, "ns-names", check=True).stdout.split()
    assert out == ["h1", "example.test", "1", "4096"]
    assert open("/proc/sys/net/ipv4/ip_forward").read() == host_forward
    assert open("/proc/sys/kernel/msgmax").read() == host_msgmax


def test_user_namespace_files_and_devices(runtime, make_bundle):
    """Root in the container is host uid 100000: what it writes on a bind mount is owned by
    that uid on the host; /dev nodes are bind mounts of the host's (mknod is not allowed)."""
    import shutil
    import tempfile
    from pathlib import Path
    # The init, already in the user namespace, must reach the source: not under pytest's 0700
    # tmp (sources opened by the parent and passed as fds would lift this; not done yet).
    shared = Path(tempfile.mkdtemp(prefix="pyrunc-userns-"))
    os.chown(shared, 100000, 100000)
    try:
        _run_userns_files(runtime, make_bundle, shared)
    finally:
        shutil.rmtree(shared, ignore_errors=True)


def _run_userns_files(runtime, make_bundle, shared):
    def edit(config):
        config["linux"]["namespaces"].append({"type": "user"})
        config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        # /tmp exists in the image: userns root may not create mount points in a rootfs
        # owned by the host's root
        config["mounts"].append({"destination": "/tmp", "type": "bind",
                                 "source": str(shared), "options": ["bind"]})
        config["process"]["args"] = ["sh", "-c", "echo hi > /tmp/made-inside; "
                                     "stat -c %t:%T /dev/null; grep -c ' /dev/null ' "
                                     "/proc/self/mountinfo; echo x > /dev/null && echo dev-ok"]
    bundle = make_bundle(edit=edit)
    out = runtime("run", "-b", bundle, "ns-userfiles", check=True).stdout.split()
    made = os.stat(shared / "made-inside")
    assert (made.st_uid, made.st_gid) == (100000, 100000)
    assert out == ["1:3", "1", "dev-ok"]


def test_exec_no_new_privs_and_user(runtime, make_bundle):
    bundle = make_bundle(["sleep", "1000"], edit=lambda c: c["process"].update(
        noNewPrivileges=False))
    runtime("run", "-d", "-b", bundle, "ns-execnnp", check=True)
    plain = runtime("exec", "ns-execnnp", "grep", "NoNewPrivs", "/proc/self/status", check=True)
    assert plain.stdout.split()[-1] == "0"
    nnp = runtime("exec", "--no-new-privs", "--user", "1000:1000", "ns-execnnp", "sh", "-c",
                  "grep NoNewPrivs /proc/self/status; id -u; id -g", check=True)
    assert nnp.stdout.split()[-3:] == ["1", "1000", "1000"]
