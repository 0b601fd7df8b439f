"""The hostile-rootfs generator (tests/fuzzing/rootfsgen.py), without root: which paths it
aims at, that a seed gives the same cases, and that apply() makes what a case says. The
fuzzer itself runs in tests/integration/test_rootfs_fuzz.py."""
import os
import stat

from fuzzing import rootfsgen
from pyrunc.spec import default_spec


def config():
    c = default_spec()
    c["process"]["args"] = ["/bin/true"]
    c["process"]["cwd"] = "/home/app"
    c["mounts"].append({"destination": "/mnt/vol/data", "type": "bind", "source": "/x",
                        "options": ["rbind"]})
    return c


TARGETS = rootfsgen.HostTargets("/tmp/canaries")


def test_every_touched_path_is_aimed_at():
    touched = rootfsgen.touched_paths(config())
    for path in ("/proc", "/sys", "/dev", "/dev/pts", "/dev/shm", "/dev/console", "/dev/null",
                 "/mnt/vol/data", "/mnt/vol", "/mnt", "/sys/fs/cgroup", "/sys/fs", "/proc/keys",
                 "/proc/sys", "/etc/passwd", "/etc/group", "/etc/hosts", "/etc/hostname",
                 "/home/app", "/home", "/bin/true"):
        assert path in touched, path
    assert touched["/proc"] is True and touched["/dev/console"] is False
    assert touched["/bin/true"] is False and touched["/home/app"] is True
    assert "/" not in touched


def test_a_seed_gives_the_same_cases_and_each_case_depends_on_its_number_alone():
    touched = rootfsgen.touched_paths(config())
    a = rootfsgen.generate(7, 40, touched, TARGETS)
    assert a == rootfsgen.generate(7, 40, touched, TARGETS)
    assert a[:5] == rootfsgen.generate(7, 5, touched, TARGETS)
    assert a != rootfsgen.generate(8, 40, touched, TARGETS)
    many = rootfsgen.generate(7, 400, touched, TARGETS)
    assert {kind for case in many for _p, kind, _d in case.mutations} == set(rootfsgen.KINDS)
    for case in many:
        for path, kind, _detail in case.mutations:
            # the wrong type is the other one: a file where a directory is expected, and back
            assert kind != ("dir-for-file" if touched[path] else "file-for-dir")


def test_symlinks_aim_at_the_host_targets():
    touched = rootfsgen.touched_paths(config())
    links = [(p, k, d) for case in rootfsgen.generate(3, 300, touched, TARGETS)
             for p, k, d in case.mutations if k in ("symlink-absolute", "symlink-relative")]
    assert links
    for path, kind, target in links:
        if kind == "symlink-absolute":
            assert target in TARGETS.all
        else:
            assert target.startswith("../" * path.count("/"))


def test_apply_makes_each_kind(tmp_path):
    rootfs = tmp_path / "rootfs"
    (rootfs / "etc").mkdir(parents=True)
    (rootfs / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    (rootfs / "proc").mkdir()
    made = rootfsgen.apply(rootfs, [
        ("/etc/passwd", "fifo", 0o777), ("/proc", "symlink-absolute", "/etc"),
        ("/dev/console", "socket", None), ("/home/app", "file-for-dir", None),
        ("/bin/true", "dir-for-file", None), ("/proc/keys", "fifo", 0o666),
    ])
    assert stat.S_ISFIFO(os.lstat(rootfs / "etc/passwd").st_mode)
    assert os.readlink(rootfs / "proc") == "/etc"
    assert stat.S_ISSOCK(os.lstat(rootfs / "dev/console").st_mode)
    assert (rootfs / "home/app").is_file() and (rootfs / "bin/true/sub").is_dir()
    # /proc is a symlink by then: what would go under it is skipped, not made on the host
    assert [m[0] for m in made] == ["/etc/passwd", "/proc", "/dev/console", "/home/app",
                                    "/bin/true"]
