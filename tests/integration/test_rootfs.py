"""The container's filesystem on real containers: the root (read-only or not, pivot_root or
--no-pivot), config mounts and their options and propagation, /dev, masked and read-only
paths, rootfsPropagation (each value), tmpcopyup; seen from inside (mountinfo, what can be
written) and from the host."""
import contextlib
import subprocess

from conftest import host_mounts_mentioning
from featutil import (cid, host_mount_count, host_tmpfs, mount_flags, mountinfo_line,
                      optional_fields, run_detached, run_lines, script)


# -- the root --------------------------------------------------------------------------------------

def test_readonly_root_refuses_writes(runtime, make_bundle):
    def edit(config):
        assert config["root"]["readonly"] is True
        script(config, "touch /x 2>&1; echo rc=$?; cat /proc/self/mountinfo")
    lines = run_lines(runtime, make_bundle(edit=edit), "ro")
    assert "Read-only file system" in lines[0]
    assert lines[1] == "rc=1"
    assert mount_flags(mountinfo_line("\n".join(lines[2:]), "/"))[0] == "ro"


def test_writable_root(runtime, make_bundle, rootfs_copy):
    def edit(config):
        config["root"] = {"path": str(rootfs_copy), "readonly": False}
        script(config, "echo made > /made-inside && cat /made-inside")
    assert run_lines(runtime, make_bundle(edit=edit), "rw") == ["made"]
    assert (rootfs_copy / "made-inside").read_text() == "made\n"


def test_no_pivot_sees_the_rootfs_as_root(runtime, make_bundle, busybox_rootfs):
    bundle = make_bundle(["sh", "-c", "ls /; ls /work /opt 2>/dev/null | wc -l"])
    before = host_mount_count(busybox_rootfs)
    result = runtime("run", "--no-pivot", "-b", bundle, cid("nopivot"), check=True)
    listing = result.stdout.split()
    assert {"bin", "etc", "dev", "proc", "sys", "linuxrc"} <= set(listing)
    assert listing[-1] == "0"  # the host's own directories are out of reach
    assert host_mount_count(busybox_rootfs) == before


# -- config mounts ---------------------------------------------------------------------------------

def test_bind_mounts(runtime, make_bundle, rootfs_copy, tmp_path):
    rw, ro = tmp_path / "rw-src", tmp_path / "ro-src"
    for d in (rw, ro):
        d.mkdir()
        (d / "file").write_text(f"{d.name}\n")
    one_file = tmp_path / "one-file"
    one_file.write_text("single\n")

    def edit(config):
        config["root"]["path"] = str(rootfs_copy)  # new mount points go into a private copy
        bundle_dir = tmp_path / "bundle"
        (bundle_dir / "rel-src").mkdir(parents=True)
        (bundle_dir / "rel-src" / "file").write_text("relative\n")
        (tmp_path / "up-src").mkdir()
        (tmp_path / "up-src" / "file").write_text("climbed\n")
        config["mounts"] += [
            {"destination": "/rw", "type": "bind", "source": str(rw), "options": ["bind"]},
            {"destination": "/ro", "type": "bind", "source": str(ro), "options": ["bind", "ro"]},
            {"destination": "/rel", "type": "bind", "source": "rel-src", "options": ["rbind"]},
            {"destination": "/etc/single", "type": "bind", "source": str(one_file),
             "options": ["bind", "ro"]},
            {"destination": "/flags", "type": "bind", "source": str(rw),
             "options": ["bind", "nosuid", "noexec", "nodev"]},
            # type "none" with a bind option is a bind (runc's configs say so), and a source
            # relative to the bundle may climb out of it
            {"destination": "/none", "type": "none", "source": str(rw), "options": ["bind"]},
            {"destination": "/up", "type": "bind", "source": "../up-src", "options": ["bind"]},
        ]
        script(config, "cat /rw/file; echo written > /rw/new && echo rw-ok; "
                       "cat /ro/file; touch /ro/new 2>/dev/null || echo ro-refused; "
                       "cat /rel/file; cat /etc/single; stat -c %F /etc/single; "
                       "echo x 2>/dev/null > /etc/single || echo single-ro; "
                       "cat /none/file /up/file; cat /proc/self/mountinfo")
    lines = run_lines(runtime, make_bundle(edit=edit), "binds")
    assert lines[:10] == ["rw-src", "rw-ok", "ro-src", "ro-refused", "relative", "single",
                         "regular file", "single-ro", "rw-src", "climbed"]
    assert (rw / "new").read_text() == "written\n"
    assert not (ro / "new").exists() and one_file.read_text() == "single\n"
    mounts = "\n".join(lines[10:])
    assert mount_flags(mountinfo_line(mounts, "/rw"))[0] == "rw"
    assert mount_flags(mountinfo_line(mounts, "/ro"))[0] == "ro"
    assert mount_flags(mountinfo_line(mounts, "/etc/single"))[0] == "ro"
    flags = mount_flags(mountinfo_line(mounts, "/flags"))
    assert flags[0] == "rw" and {"nosuid", "noexec", "nodev"} <= set(flags)


def test_rbind_carries_submounts_and_bind_does_not(runtime, make_bundle, rootfs_copy, tmp_path):
    source = tmp_path / "tree"
    (source / "sub").mkdir(parents=True)
    with host_tmpfs(source / "sub"):
        (source / "sub" / "inner").write_text("from-submount\n")

        def edit(config):
            config["root"]["path"] = str(rootfs_copy)
            config["mounts"] += [
                {"destination": "/rec", "type": "bind", "source": str(source),
                 "options": ["rbind"]},
                {"destination": "/flat", "type": "bind", "source": str(source),
                 "options": ["bind"]},
            ]
            script(config, "cat /rec/sub/inner; ls -A /flat/sub | wc -l")
        assert run_lines(runtime, make_bundle(edit=edit), "rbind") == ["from-submount", "0"]


def test_tmpfs_options(runtime, make_bundle, rootfs_copy):
    def edit(config):
        config["root"]["path"] = str(rootfs_copy)
        config["mounts"].append({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
                                 "options": ["nosuid", "noexec", "nodev", "size=1m",
                                             "mode=700"]})
        script(config, "stat -c %a /scratch; df -k /scratch | tail -n 1; "
                       "grep ' /scratch ' /proc/self/mountinfo; "
                       "cp /bin/true /scratch/t && /scratch/t 2>/dev/null || echo noexec-ok")
    lines = run_lines(runtime, make_bundle(edit=edit), "tmpfs")
    assert lines[0] == "700"
    assert lines[1].split()[1] == "1024"
    flags = mount_flags(lines[2])
    assert {"nosuid", "noexec", "nodev"} <= set(flags)
    assert "size=1024k" in lines[2] and "mode=700" in lines[2]
    assert lines[3] == "noexec-ok"


def test_bind_propagation_options(runtime, make_bundle, rootfs_copy, tmp_path):
    """A shared mount of the host seen through binds with rslave, rprivate and rshared: each
    shows its propagation in mountinfo, and only the slaves receive a later host mount."""
    with host_tmpfs(tmp_path / "shared-src", shared=True) as source:
        (source / "late").mkdir()

        def edit(config):
            config["root"]["path"] = str(rootfs_copy)
            config["mounts"] += [
                {"destination": f"/{kind}", "type": "bind", "source": str(source),
                 "options": ["rbind", kind]} for kind in ("rslave", "rprivate", "rshared")]
            script(config, "grep -E ' /r(slave|private|shared) ' /proc/self/mountinfo; "
                           "echo READY; exec sleep 1000")
        container = cid("bindprop")
        _pid, out = run_detached(runtime, make_bundle(edit=edit), container, tmp_path)
        assert any(f.startswith("master:") for f in
                   optional_fields(mountinfo_line(out, "/rslave")))
        assert not any(f.startswith("shared:") for f in
                       optional_fields(mountinfo_line(out, "/rslave")))
        assert optional_fields(mountinfo_line(out, "/rprivate")) == []
        assert any(f.startswith("shared:") for f in
                   optional_fields(mountinfo_line(out, "/rshared")))
        with host_tmpfs(source / "late"):
            (source / "late" / "marker").write_text("late\n")
            seen = runtime("exec", container, "sh", "-c",
                           "for d in rslave rprivate rshared; do "
                           "cat /$d/late/marker 2>/dev/null || echo none; done",
                           check=True).stdout.split()
        assert seen == ["late", "none", "late"]
        runtime("delete", "--force", container, check=True)


def _propagation_bundle(make_bundle, busybox_rootfs, source, value):
    subprocess.run(["cp", "-a", busybox_rootfs, str(source / f"rootfs-{value}")], check=True)
    (source / f"rootfs-{value}" / "late").mkdir()

    def edit(config):
        config["root"]["path"] = str(source / f"rootfs-{value}")
        config["linux"]["rootfsPropagation"] = value
        script(config, "cat /proc/self/mountinfo; echo READY; exec sleep 1000")
    return make_bundle(edit=edit, name=f"bundle-{value}")


def test_rootfs_propagation_private_and_slave(runtime, make_bundle, busybox_rootfs, tmp_path):
    """The rootfs on a shared mount of the host: a slave root receives the host's later
    mounts below it, a private one does not."""
    with host_tmpfs(tmp_path / "shared-root", shared=True) as source:
        roots = {}
        for value in ("slave", "private"):
            container = cid(f"rprop-{value}")
            bundle = _propagation_bundle(make_bundle, busybox_rootfs, source, value)
            _pid, out = run_detached(runtime, bundle, container, tmp_path)
            roots[value] = (container, optional_fields(mountinfo_line(out, "/")))
        assert any(f.startswith("master:") for f in roots["slave"][1]), roots
        assert not any(f.startswith("shared:") for f in roots["slave"][1]), roots
        assert roots["private"][1] == [], roots
        with contextlib.ExitStack() as mounts:
            for value in ("slave", "private"):
                late = mounts.enter_context(host_tmpfs(source / f"rootfs-{value}" / "late"))
                (late / "marker").write_text("late\n")
            seen = [runtime("exec", roots[value][0], "sh", "-c",
                            "cat /late/marker 2>/dev/null || echo none", check=True).stdout
                    for value in ("slave", "private")]
        assert seen == ["late\n", "none\n"]
        for container, _fields in roots.values():
            runtime("delete", "--force", container, check=True)


def test_tmpcopyup_keeps_the_images_files(runtime, make_bundle):
    def edit(config):
        config["mounts"].append({"destination": "/etc", "type": "tmpfs", "source": "tmpfs",
                                 "options": ["tmpcopyup", "mode=755"]})
        config["process"]["args"] = ["sh", "-c", "grep -c root /etc/passwd; "
                                     "grep ' /etc ' /proc/self/mountinfo | grep -c tmpfs; "
                                     "echo new > /etc/added && cat /etc/added"]
    bundle = make_bundle(edit=edit)
    out = runtime("run", "-b", bundle, cid("copyup"), check=True).stdout.split()
    assert out == ["1", "1", "new"]


def test_every_rootfs_propagation_value_and_nothing_left_on_the_host(runtime, make_bundle, tmp_path):
    shared = tmp_path / "shared-src"
    shared.mkdir()
    for propagation in ("private", "rprivate", "slave", "rslave", "shared", "rshared",
                        "unbindable", "runbindable"):
        def edit(config):
            config["linux"]["rootfsPropagation"] = propagation
            config["mounts"].append({"destination": "/tmp", "type": "bind",
                                     "source": str(shared), "options": ["rbind", "rprivate"]})
            config["process"]["args"] = ["sh", "-c", "grep -E ' / | /tmp ' /proc/self/mountinfo"]
        bundle = make_bundle(edit=edit, name=f"prop-{propagation}")
        out = runtime("run", "-b", bundle, cid(f"prop-{propagation}"), check=True).stdout
        root_line = next(l for l in out.splitlines() if l.split()[4] == "/")
        tmp_line = next(l for l in out.splitlines() if l.split()[4] == "/tmp")
        fields = root_line.split(" - ")[0]
        if propagation.endswith("shared"):
            assert "shared:" in fields
        elif propagation.endswith("slave"):
            assert "shared:" not in fields  # master: only where the host's mount was shared
        elif propagation.endswith("unbindable"):
            assert "unbindable" in fields
        else:
            assert "shared:" not in fields and "master:" not in fields
        if not propagation.endswith("shared"):
            assert "shared:" not in tmp_line.split(" - ")[0]  # the mount's own rprivate
        # whatever the propagation, nothing of the container's stays mounted on the host
        assert not host_mounts_mentioning(str(shared)) and not host_mounts_mentioning(
            "/bundles/busybox/rootfs")


# -- /dev ------------------------------------------------------------------------------------------

def test_default_devices_and_symlinks(runtime, make_bundle):
    nodes = "/dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty"
    links = "/dev/fd /dev/stdin /dev/stdout /dev/stderr /dev/ptmx"
    bundle = make_bundle(["sh", "-c", f"stat -c '%n %F %t:%T %a %u:%g' {nodes}; "
                                      f"for l in {links}; do readlink $l; done; "
                                      "echo x > /dev/null && echo null-ok; "
                                      "head -c 5 /dev/zero | wc -c; "
                                      "echo x 2>/dev/null > /dev/full || echo full-ok; "
                                      "cat /proc/self/mountinfo"])
    lines = run_lines(runtime, bundle, "devs")
    expected = {"null": "1:3", "zero": "1:5", "full": "1:7", "random": "1:8",
                "urandom": "1:9", "tty": "5:0"}
    for line, (name, numbers) in zip(lines[:6], expected.items()):
        assert line == f"/dev/{name} character special file {numbers} 666 0:0"
    assert lines[6:11] == ["/proc/self/fd", "/proc/self/fd/0", "/proc/self/fd/1",
                           "/proc/self/fd/2", "pts/ptmx"]
    assert lines[11:14] == ["null-ok", "5", "full-ok"]
    mounts = "\n".join(lines[14:])
    for mountpoint, fstype in (("/dev", "tmpfs"), ("/dev/pts", "devpts"), ("/dev/shm", "tmpfs"),
                               ("/dev/mqueue", "mqueue")):
        assert mountinfo_line(mounts, mountpoint).split(" - ")[1].split()[0] == fstype


def test_config_devices(runtime, make_bundle):
    def edit(config):
        config["linux"]["devices"] = [
            {"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3, "fileMode": 0o666,
             "uid": 0, "gid": 0},
            {"path": "/dev/sub/myzero", "type": "c", "major": 1, "minor": 5, "fileMode": 0o640,
             "uid": 1000, "gid": 5},
            {"path": "/dev/myloop", "type": "b", "major": 7, "minor": 0, "fileMode": 0o600},
            {"path": "/dev/myfifo", "type": "p", "fileMode": 0o620},
        ]
        script(config, "stat -c '%n %F %t:%T %a %u:%g' /dev/mynull /dev/sub/myzero /dev/myloop; "
                       "stat -c '%n %F %a' /dev/myfifo; "
                       "echo x > /dev/mynull && echo mynull-ok; "
                       # fileMode and owner hold: root without CAP_DAC_OVERRIDE may not read
                       "head -c 1 /dev/sub/myzero >/dev/null 2>&1 || echo myzero-denied")
    lines = run_lines(runtime, make_bundle(edit=edit), "cfgdevs")
    assert lines == ["/dev/mynull character special file 1:3 666 0:0",
                     "/dev/sub/myzero character special file 1:5 640 1000:5",
                     "/dev/myloop block special file 7:0 600 0:0",
                     "/dev/myfifo fifo 620", "mynull-ok", "myzero-denied"]


# -- masked and read-only paths --------------------------------------------------------------------

def test_masked_and_readonly_paths(runtime, make_bundle, rootfs_copy, tmp_path):
    data = tmp_path / "data"
    for d in ("hidden", "ro", "rw"):
        (data / d).mkdir(parents=True)
        (data / d / "file").write_text(f"{d}\n")
    (data / "secret").write_text("s3cret\n")

    def edit(config):
        config["root"]["path"] = str(rootfs_copy)
        config["mounts"].append({"destination": "/data", "type": "bind", "source": str(data),
                                 "options": ["rbind"]})
        config["linux"]["maskedPaths"] += ["/data/secret", "/data/hidden", "/data/absent"]
        config["linux"]["readonlyPaths"] += ["/data/ro", "/data/absent-too"]
        script(config, "wc -c < /data/secret; ls -A /data/hidden | wc -l; "
                       "touch /data/hidden/x 2>/dev/null || echo hidden-ro; "
                       "cat /data/ro/file; touch /data/ro/x 2>/dev/null || echo ro-refused; "
                       "touch /data/rw/x && echo rw-ok; "
                       "echo x 2>/dev/null > /proc/sys/kernel/hostname || echo proc-sys-ro")
    lines = run_lines(runtime, make_bundle(edit=edit), "masked")
    assert lines == ["0", "0", "hidden-ro", "ro", "ro-refused", "rw-ok", "proc-sys-ro"]
    assert (data / "secret").read_text() == "s3cret\n"
    assert (data / "hidden" / "file").exists() and not (data / "ro" / "x").exists()
    assert (data / "rw" / "x").exists()
