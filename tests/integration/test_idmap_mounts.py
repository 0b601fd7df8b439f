"""Id-mapped mounts (mounts[].uidMappings/gidMappings, idmap, ridmap) and the recursive mount
options (rro, rnosuid...) on real containers: from inside (stat -c %u:%g, what a write does,
/proc/self/mountinfo) and from the host (the owner of files made through the mount, the init's
/proc/<pid>/mountinfo), with and without a container user namespace, on a bind of a host
directory and on a tmpfs; runc 1.1.5, which has the recursive options, is their oracle."""
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import Runtime, live_processes
from featutil import cid, host_tmpfs, mount_flags, mountinfo_line, run_detached, run_lines, script

USERNS = [{"containerID": 0, "hostID": 100000, "size": 65536}]


def _user_namespace(config):
    config["linux"]["namespaces"].append({"type": "user"})
    config["linux"]["uidMappings"] = USERNS
    config["linux"]["gidMappings"] = USERNS


@pytest.fixture
def host_dir():
    """A host directory the container's user (100000 in a user namespace) cannot even reach
    by path: pytest's tmp is 0700. The parent makes the id-mapped mount, not the init."""
    path = Path(tempfile.mkdtemp(prefix="pyrunc-idmap-"))
    os.chmod(path, 0o700)
    src = path / "src"
    src.mkdir()
    try:
        yield src
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def userns_rootfs(busybox_rootfs):
    """A copy of the busybox rootfs that root of a user namespace (host 100000) can reach,
    with /data and /scratch to mount on (it may not make mount points in the image)."""
    path = Path(tempfile.mkdtemp(prefix="pyrunc-idmap-root-"))
    os.chmod(path, 0o755)
    rootfs = path / "rootfs"
    subprocess.run(["cp", "-a", busybox_rootfs, str(rootfs)], check=True)
    for name in ("data", "scratch"):
        (rootfs / name).mkdir()
    try:
        yield rootfs
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _stat(path):
    st = os.stat(path)
    return st.st_uid, st.st_gid


def test_idmapped_bind_without_a_user_namespace(runtime, make_bundle, rootfs_copy, host_dir,
                                                tmp_path):
    os.chown(host_dir, 1000, 1000)
    (host_dir / "old").write_text("x")
    os.chown(host_dir / "old", 1000, 1000)
    mapping = [{"containerID": 1000, "hostID": 0, "size": 1}]

    def edit(config):
        config["root"]["path"] = str(rootfs_copy)
        config["mounts"].append({"destination": "/data", "type": "bind", "source": str(host_dir),
                                 "options": ["bind", "idmap"], "uidMappings": mapping,
                                 "gidMappings": mapping})
        script(config, "stat -c %u:%g /data /data/old; touch /data/new && echo made; "
                       "echo READY; exec sleep 1000")
    container = cid("idmap-bind")
    pid, out = run_detached(runtime, make_bundle(edit=edit), container, tmp_path)
    try:
        assert out.split() == ["0:0", "0:0", "made"]  # 1000 on disk is root through the mount
        assert _stat(host_dir / "new") == (1000, 1000)  # and root's files are 1000's on disk
        with open(f"/proc/{pid}/mountinfo") as f:
            line = mountinfo_line(f.read(), "/data")
        assert "idmapped" in mount_flags(line)
    finally:
        runtime("delete", "--force", container, check=True)
    assert not live_processes(container)


def test_idmap_takes_the_container_user_namespace(runtime, make_bundle, userns_rootfs,
                                                  host_dir):
    """idmap without mappings: the container's own (0 -> 100000): host root's files are the
    container root's, and what it makes is root's on the host, not 100000's."""
    (host_dir / "old").write_text("x")

    def edit(config):
        _user_namespace(config)
        config["root"]["path"] = str(userns_rootfs)
        config["mounts"].append({"destination": "/data", "type": "bind", "source": str(host_dir),
                                 "options": ["rbind", "idmap", "nosuid"]})
        script(config, "stat -c %u:%g /data/old; echo hi > /data/new && echo made; "
                       "grep ' /data ' /proc/self/mountinfo")
    lines = run_lines(runtime, make_bundle(edit=edit), "idmap-userns")
    assert lines[:2] == ["0:0", "made"]
    assert _stat(host_dir / "new") == (0, 0)
    assert {"idmapped", "nosuid"} <= set(mount_flags(lines[2]))


def test_mount_mappings_within_a_user_namespace(runtime, make_bundle, userns_rootfs, host_dir):
    """The mount's own mappings win over the container's: on-disk 1000 shows as host 100000,
    the container's root."""
    os.chown(host_dir, 1000, 1000)
    mapping = [{"containerID": 1000, "hostID": 100000, "size": 1}]

    def edit(config):
        _user_namespace(config)
        config["root"]["path"] = str(userns_rootfs)
        config["mounts"].append({"destination": "/data", "type": "bind", "source": str(host_dir),
                                 "options": ["bind", "ridmap"], "uidMappings": mapping,
                                 "gidMappings": mapping})
        script(config, "stat -c %u:%g /data; touch /data/new && stat -c %u:%g /data/new")
    assert run_lines(runtime, make_bundle(edit=edit), "idmap-own") == ["0:0", "0:0"]
    assert _stat(host_dir / "new") == (1000, 1000)


def test_idmapped_tmpfs(runtime, make_bundle, userns_rootfs, tmp_path):
    """A tmpfs made on the host and id-mapped: its root (uid 0 on the superblock) shows as
    container uid 5, and what container root makes is stored as uid 5."""
    uids = [{"containerID": 0, "hostID": 100005, "size": 1},
            {"containerID": 5, "hostID": 100000, "size": 1}]

    def edit(config):
        _user_namespace(config)
        config["root"]["path"] = str(userns_rootfs)
        config["mounts"].append({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
                                 "options": ["idmap", "nodev", "mode=777", "size=1m"],
                                 "uidMappings": uids, "gidMappings": uids})
        script(config, "stat -c %u:%g:%a /scratch; touch /scratch/f 2>&1 && stat -c %u:%g /scratch/f;"
                       " echo READY; exec sleep 1000")
    container = cid("idmap-tmpfs")
    pid, out = run_detached(runtime, make_bundle(edit=edit), container, tmp_path)
    try:
        assert out.split() == ["5:5:777", "0:0"]
        # From the host, through the same mount: the ids it shows, as host ids
        assert _stat(f"/proc/{pid}/root/scratch") == (100005, 100005)
        assert _stat(f"/proc/{pid}/root/scratch/f") == (100000, 100000)
        with open(f"/proc/{pid}/mountinfo") as f:
            line = mountinfo_line(f.read(), "/scratch")
        assert {"idmapped", "nodev"} <= set(mount_flags(line)) and " - tmpfs " in line
    finally:
        runtime("delete", "--force", container, check=True)


@pytest.mark.parametrize("option,sub_mapped", [("idmap", False), ("ridmap", True)])
def test_ridmap_maps_the_submounts(runtime, make_bundle, rootfs_copy, host_dir, option,
                                   sub_mapped):
    mapping = [{"containerID": 0, "hostID": 1000, "size": 1}]
    with host_tmpfs(host_dir / "sub"):
        def edit(config):
            config["root"]["path"] = str(rootfs_copy)
            config["mounts"].append({"destination": "/data", "type": "bind",
                                     "source": str(host_dir), "options": ["rbind", option],
                                     "uidMappings": mapping, "gidMappings": mapping})
            script(config, "stat -c %u /data /data/sub; grep ' /data' /proc/self/mountinfo")
        lines = run_lines(runtime, make_bundle(edit=edit), f"r{option}")
    top, sub = mountinfo_line("\n".join(lines[2:]), "/data"), \
        mountinfo_line("\n".join(lines[2:]), "/data/sub")
    assert lines[0] == "1000" and "idmapped" in mount_flags(top)
    assert lines[1] == ("1000" if sub_mapped else "0")
    assert ("idmapped" in mount_flags(sub)) == sub_mapped


RECURSIVE = ["rbind", "rro", "rnosuid", "rnodev", "rnoexec", "rnoatime", "rnodiratime",
             "rnosymfollow"]


def _recursive_flags(runtime, make_bundle, rootfs_copy, host_dir, options, name):
    def edit(config):
        config["root"]["path"] = str(rootfs_copy)
        config["mounts"].append({"destination": "/data", "type": "bind", "source": str(host_dir),
                                 "options": options})
        script(config, "touch /data/sub/x 2>/dev/null || echo sub-ro; cat /proc/self/mountinfo")
    lines = run_lines(runtime, make_bundle(edit=edit, name=name), name)
    info = "\n".join(line for line in lines if " - " in line)
    return ([line for line in lines if " - " not in line],
            set(mount_flags(mountinfo_line(info, "/data"))),
            set(mount_flags(mountinfo_line(info, "/data/sub"))))


def test_recursive_options_reach_the_submounts(runtime, make_bundle, rootfs_copy, host_dir):
    runc = Runtime(runtime.root + "-runc", launcher=("runc",))
    try:
        with host_tmpfs(host_dir / "sub"):
            ours = _recursive_flags(runtime, make_bundle, rootfs_copy, host_dir, RECURSIVE, "rec")
            theirs = _recursive_flags(runc, make_bundle, rootfs_copy, host_dir, RECURSIVE,
                                      "rec-runc")
            plain = _recursive_flags(runtime, make_bundle, rootfs_copy, host_dir, ["rbind", "ro"],
                                     "plain")
    finally:
        shutil.rmtree(runc.root, ignore_errors=True)
    wanted = {"ro", "nosuid", "nodev", "noexec", "noatime", "nodiratime", "nosymfollow"}
    assert ours[0] == ["sub-ro"] and wanted <= ours[1] and wanted <= ours[2]
    assert ours == theirs  # runc 1.1.5 has the recursive options: the same flags
    assert plain[0] == [] and "ro" in plain[1] and "rw" in plain[2]  # "ro" is the top's only


def test_recursive_atime_and_clearing_options(runtime, make_bundle, rootfs_copy, host_dir):
    """The later option wins; the clearing ones (rrw, rsuid...) undo what the host's mount
    has, on every mount of the tree."""
    with host_tmpfs(host_dir / "sub"):
        subprocess.run(["mount", "-o", "remount,nosuid,noatime", str(host_dir / "sub")],
                       check=True)
        _, top, sub = _recursive_flags(runtime, make_bundle, rootfs_copy, host_dir,
                                       ["rbind", "rro", "rrw", "rsuid", "rstrictatime"], "clr")
    for flags in (top, sub):
        assert "rw" in flags and "nosuid" not in flags
        assert not {"noatime", "relatime"} & flags  # strictatime shows as neither


def test_no_helper_or_namespace_left_after_a_failing_idmap(runtime, make_bundle, rootfs_copy):
    """The kernel refuses to id-map /proc (procfs does not allow it): the error names the
    mount, and neither the helper nor the container is left."""
    mapping = [{"containerID": 0, "hostID": 1000, "size": 1}]

    def edit(config):
        config["root"]["path"] = str(rootfs_copy)
        config["mounts"].append({"destination": "/hostproc", "type": "bind", "source": "/proc",
                                 "options": ["bind", "idmap"], "uidMappings": mapping,
                                 "gidMappings": mapping})
    container = cid("idmap-fail")
    result = runtime("create", "-b", make_bundle(edit=edit), container)
    assert result.returncode == 1
    err = result.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("pyrunc: mounts[") and '"idmap"' in err[0], err
    assert container not in runtime.ids()
    assert not live_processes(container)

