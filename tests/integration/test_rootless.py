"""Rootless: a plain user runs containers (user namespace with its own ids, no cgroups)."""
import json
import os
import pwd
import subprocess

import pytest

from conftest import PYRUNC, containers_in

USER = "pyrunc-rootless-test"


@pytest.fixture(scope="module")
def user():
    """A throwaway user made for these tests and removed afterwards."""
    created = False
    try:
        pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/sh", USER], check=True)
        created = True
    entry = pwd.getpwnam(USER)
    yield entry
    subprocess.run(["pkill", "-KILL", "-u", USER], capture_output=True)
    import shutil
    shutil.rmtree(f"/tmp/pyrunc-{entry.pw_uid}", ignore_errors=True)  # after a failed test
    if created:
        subprocess.run(["userdel", "--remove", USER], capture_output=True)


def as_user(user, command, cwd):
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": user.pw_dir}
    return subprocess.run(["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}",
                           "--init-groups", "sh", "-c", command], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def user_bundle(user):
    """A bundle directory the user owns, where the user can reach it (pytest's tmp is 0700)."""
    import shutil
    import tempfile
    from pathlib import Path
    path = Path(tempfile.mkdtemp(prefix="pyrunc-rootless-"))
    os.chmod(path, 0o755)
    os.chown(path, user.pw_uid, user.pw_gid)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_a_user_runs_a_rootless_container(user, busybox_rootfs, user_bundle):
    bundle = user_bundle
    made = as_user(user, f"{PYRUNC} spec --rootless", bundle)
    assert made.returncode == 0, made.stderr
    config = json.loads((bundle / "config.json").read_text())
    assert config["linux"]["uidMappings"] == [{"containerID": 0, "hostID": user.pw_uid,
                                               "size": 1}]
    config["root"]["path"] = busybox_rootfs
    config["process"]["terminal"] = False
    config["process"]["args"] = ["sh", "-c", "id -u; cat /proc/self/uid_map; echo ok"]
    (bundle / "config.json").write_text(json.dumps(config))
    before = sorted(os.listdir("/run/pyrunc")) if os.path.isdir("/run/pyrunc") else None
    result = as_user(user, f"{PYRUNC} run rootless1", bundle)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0", "0", str(user.pw_uid), "1", "ok"]
    after = sorted(os.listdir("/run/pyrunc")) if os.path.isdir("/run/pyrunc") else None
    assert before == after  # nothing under /run/pyrunc was touched
    state_root = f"/tmp/pyrunc-{user.pw_uid}"
    assert os.stat(state_root).st_uid == user.pw_uid and containers_in(state_root) == []
    assert not os.path.exists("/sys/fs/cgroup/pids/rootless1")  # no cgroups for a user
    # create/state/delete as the user; the init runs under the user's uid on the host
    config["process"]["args"] = ["sleep", "1000"]
    (bundle / "config.json").write_text(json.dumps(config))
    # (the detached container keeps its stdio: not the pipes this test reads)
    assert as_user(user, f"{PYRUNC} run -d rootless2 >/dev/null 2>&1", bundle).returncode == 0
    state = json.loads(as_user(user, f"{PYRUNC} state rootless2", bundle).stdout)
    uid_line = next(l for l in open(f"/proc/{state['pid']}/status") if l.startswith("Uid:"))
    assert uid_line.split()[1] == str(user.pw_uid)
    assert as_user(user, f"{PYRUNC} delete --force rootless2", bundle).returncode == 0
    assert containers_in(state_root) == []
    os.rmdir(state_root)


def test_rootless_with_subordinate_ids_uses_newuidmap(user, busybox_rootfs, user_bundle):
    """More than the user's own id: newuidmap/newgidmap map the ranges /etc/subuid grants."""
    subprocess.run(["usermod", "--add-subuids", "300000-365535", "--add-subgids",
                    "300000-365535", USER], check=True)
    bundle = user_bundle
    assert as_user(user, f"{PYRUNC} spec --rootless", bundle).returncode == 0
    config = json.loads((bundle / "config.json").read_text())
    config["linux"]["uidMappings"].append({"containerID": 1, "hostID": 300000, "size": 65536})
    config["linux"]["gidMappings"].append({"containerID": 1, "hostID": 300000, "size": 65536})
    config["root"]["path"] = busybox_rootfs
    config["process"]["terminal"] = False
    config["process"]["args"] = ["sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map"]
    (bundle / "config.json").write_text(json.dumps(config))
    result = as_user(user, f"{PYRUNC} run rootless-sub", bundle)
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()]
    assert rows == [["0", str(user.pw_uid), "1"], ["1", "300000", "65536"],
                    ["0", str(user.pw_gid), "1"], ["1", "300000", "65536"]]


def test_a_rootless_cgroup_mount_shows_nothing_of_the_hosts_tree(user, busybox_rootfs,
                                                                 user_bundle):
    """A rootless container has no cgroups: its /sys/fs/cgroup has a directory per host
    hierarchy, each empty, never the host's root cgroup (whose cgroup.procs lists every process
    on the machine)."""
    bundle = user_bundle
    assert as_user(user, f"{PYRUNC} spec --rootless", bundle).returncode == 0
    config = json.loads((bundle / "config.json").read_text())
    config["root"]["path"] = busybox_rootfs
    config["process"]["terminal"] = False
    config["mounts"].append({"destination": "/sys/fs/cgroup", "type": "cgroup",
                             "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "ro"]})
    config["process"]["args"] = ["sh", "-c", "ls /sys/fs/cgroup; echo --; ls -A /sys/fs/cgroup/*;"
                                 " echo --; find /sys/fs/cgroup -name cgroup.procs"]
    (bundle / "config.json").write_text(json.dumps(config))
    result = as_user(user, f"{PYRUNC} run rootless-cg", bundle)
    assert result.returncode == 0, result.stderr
    listed, contents, procs = result.stdout.split("--\n")
    from pyrunc.cgroups.layout import hierarchies
    found = hierarchies()
    unified_only = len(found) == 1 and found[0].fstype == "cgroup2"  # then an empty tmpfs
    names = set() if unified_only else {os.path.basename(h.mountpoint) for h in found}
    expected = names | {part for name in names for part in name.split(",")}  # + symlinks
    assert set(listed.split()) == expected, listed
    # `ls -A` of several directories prints only their names ("dir:") when they are empty.
    assert all(line.endswith(":") for line in contents.split()), contents
    assert procs == "", procs
    os.rmdir(f"/tmp/pyrunc-{user.pw_uid}")
