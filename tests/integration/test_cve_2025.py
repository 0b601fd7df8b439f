"""runc's newest CVE classes, each attack shown working against the tests' double of pyrunc with
that defence switched off (tests/pyrunc_faulty.py) and failing against the installed pyrunc:

- CVE-2019-19921: the image's /proc is a symlink, so procfs lands elsewhere (proc-target);
- CVE-2025-31133: the /dev/null bound over masked paths is another file (masked-null);
- CVE-2025-52565: the /dev/console bind follows a symlink (console-target);
- CVE-2025-52881: the runtime's own /proc writes are redirected by a mount (procfs-writes).

The attacker is the image, or a second container that shares a mount with this one: here a
host directory bound into the container (as /dev, or as /run) that the test, playing the
other container, fills. The races get a racer (test_*_racer): a process swapping the path in a
tight loop while pyrunc creates containers; no write may land outside its target.
"""
import os
import stat
import subprocess
import sys

import pytest

from conftest import host_mounts_mentioning
from consoleutil import ConsoleSink
from test_cve_classes import PROTECTION, _attempt

RACE_CONTAINERS = 200


def one_line_error(result):
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1 and "Traceback" not in result.stderr, \
        result
    return lines[0]


def init_pid(runtime, container_id):
    return runtime.state(container_id)["pid"]


@pytest.fixture
def vol(tmp_path):
    """The shared volume: a host directory with a canary file, bound at /run (a directory
    the shared busybox image has, so no mount point is made in it)."""
    path = tmp_path / "vol"
    path.mkdir()
    (path / "canary").write_text("canary\n")
    return path


def vol_mount(vol):
    return {"destination": "/run", "type": "bind", "source": str(vol),
            "options": ["rbind", "rw"]}


def shared_dev(tmp_path, null=True):
    """A host directory to bind as the container's /dev (shared with 'another container'): a
    real null node unless told otherwise, and the ptmx link a terminal needs."""
    dev = tmp_path / "shared-dev"
    dev.mkdir()
    if null:
        os.mknod(dev / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    os.symlink("pts/ptmx", dev / "ptmx")
    return dev


def bind_dev(config, dev):
    """/dev bound from dev instead of pyrunc's tmpfs."""
    for m in config["mounts"]:
        if m["destination"] == "/dev":
            m.update(type="bind", source=str(dev), options=["rbind", "rw"])


# -- CVE-2019-19921: /proc a symlink -----------------------------------------------------------

@PROTECTION
def test_cve_2019_19921_proc_symlink(runtime, make_bundle, rootfs_copy, protected):
    """The image's /proc leads to /bad-proc: unprotected, procfs is mounted there and the
    container runs with a /proc that is the image's plain directory."""
    (rootfs_copy / "proc").rmdir()
    (rootfs_copy / "bad-proc").mkdir()
    os.symlink("/bad-proc", rootfs_copy / "proc")
    bundle = make_bundle(["sh", "-c", "test -e /bad-proc/self/status && echo PROC-AT-BAD-PROC"],
                         edit=lambda c: c["root"].update(path=str(rootfs_copy)))
    rt, env = _attempt(runtime, protected, "proc-target")
    result = rt("run", "-b", bundle, "cve-19921", env=env)
    attack_worked = "PROC-AT-BAD-PROC" in result.stdout
    assert attack_worked is not protected, (result.stdout, result.stderr)
    if protected:
        assert "ordinary directory" in one_line_error(result)
    assert host_mounts_mentioning(str(rootfs_copy)) == []
    assert runtime.ids() == []


def test_sysfs_on_a_symlink_and_proc_on_a_file_are_refused(runtime, make_bundle, rootfs_copy):
    (rootfs_copy / "sys").rmdir()
    os.symlink("tmp", rootfs_copy / "sys")            # relative, inside the rootfs
    bundle = make_bundle(["true"], edit=lambda c: c["root"].update(path=str(rootfs_copy)))
    err = one_line_error(runtime("run", "-b", bundle, "cve-sysfs"))
    assert "'/sys'" in err and "sysfs must be mounted on an ordinary directory" in err
    os.unlink(rootfs_copy / "sys")
    (rootfs_copy / "sys").mkdir()
    (rootfs_copy / "proc").rmdir()
    (rootfs_copy / "proc").write_text("not a directory\n")
    err = one_line_error(runtime("run", "-b", bundle, "cve-procfile"))
    assert "'/proc'" in err and "not a directory" in err
    assert runtime.ids() == []


# -- CVE-2025-31133: masked paths and a swapped /dev/null ----------------------------------------

@PROTECTION
def test_cve_2025_31133_masks_with_a_swapped_dev_null(runtime, make_bundle, tmp_path, vol,
                                                      protected):
    """The shared /dev's null is a symlink to a host file (through /run): unprotected, that
    file is bound, writable, over every masked file (/proc/keys...), and what the container
    writes there lands on the host."""
    dev = shared_dev(tmp_path, null=False)
    os.symlink("/run/canary", dev / "null")

    def edit(config):
        bind_dev(config, dev)
        config["mounts"].append(vol_mount(vol))
    bundle = make_bundle(["sh", "-c", "echo PWNED > /proc/keys"], edit=edit)
    rt, env = _attempt(runtime, protected, "masked-null")
    result = rt("run", "-b", bundle, "cve-31133", env=env)
    attack_worked = "PWNED" in (vol / "canary").read_text()
    assert attack_worked is not protected, (result.stdout, result.stderr)
    if protected:
        assert "/dev/null" in one_line_error(result)
    assert runtime.ids() == []


def test_masked_files_are_the_null_device(runtime, make_bundle):
    """The usual case: a masked file is the container's own /dev/null, by fd."""
    bundle = make_bundle(["sh", "-c", "stat -c '%t:%T' /proc/keys /dev/null; "
                          "ls -A /sys/firmware | wc -l"])
    out = runtime("run", "-b", bundle, "cve-masks", check=True).stdout.split()
    assert out == ["1:3", "1:3", "0"], out


# -- CVE-2025-52565: /dev/console ------------------------------------------------------------

@pytest.fixture
def console_sink(tmp_path):
    sink = ConsoleSink(tmp_path / "console.sock")
    yield sink
    sink.close()


def console_bundle(make_bundle, dev, vol, name="bundle"):
    def edit(config):
        config["process"]["terminal"] = True
        bind_dev(config, dev)
        config["mounts"].append(vol_mount(vol))
    return make_bundle(["sleep", "100"], edit=edit, name=name)


def console_landed_elsewhere(pid):
    """From the host: the container's /run/canary is a terminal (the bind landed there)."""
    return stat.S_ISCHR(os.stat(f"/proc/{pid}/root/run/canary").st_mode)


@PROTECTION
def test_cve_2025_52565_console_bind_follows_a_symlink(runtime, make_bundle, tmp_path, vol,
                                                       console_sink, protected):
    """The shared /dev's console is a symlink to /run/canary: unprotected, the terminal is
    bound there, over a file of the host's volume, and /dev/console is not the terminal."""
    dev = shared_dev(tmp_path)
    os.symlink("/run/canary", dev / "console")
    bundle = console_bundle(make_bundle, dev, vol)
    rt, env = _attempt(runtime, protected, "console-target")
    rt("create", "--console-socket", console_sink.path, "-b", bundle, "cve-52565", env=env,
       check=True)
    pid = init_pid(runtime, "cve-52565")
    assert console_landed_elsewhere(pid) is not protected
    if protected:
        assert stat.S_ISCHR(os.stat(f"/proc/{pid}/root/dev/console").st_mode)
    runtime("delete", "--force", "cve-52565", check=True)
    assert (vol / "canary").read_text() == "canary\n"


# -- CVE-2025-52881: the runtime's /proc writes redirected -------------------------------------

def redirecting_config(vol):
    """oomScoreAdj and a sysctl, and binds (from the shared volume) of host files over the
    very procfs files the runtime writes them to."""
    def edit(config):
        config["process"]["oomScoreAdj"] = 7
        config["linux"]["sysctl"] = {"kernel.domainname": "pyrunc-sysctl"}
        config["mounts"].append(vol_mount(vol))
        for name, destination in (("oom", "/proc/self/oom_score_adj"),
                                  ("domainname", "/proc/sys/kernel/domainname")):
            (vol / name).write_text("canary\n")
            config["mounts"].append({"destination": destination, "type": "bind",
                                     "source": str(vol / name), "options": ["bind", "rw"]})
    return edit


def uts_domainname(pid):
    return subprocess.run(["nsenter", "-t", str(pid), "-u", "cat",
                           "/proc/sys/kernel/domainname"], capture_output=True, text=True,
                          check=True, timeout=10).stdout.strip()


@PROTECTION
def test_cve_2025_52881_proc_writes_redirected_by_mounts(runtime, make_bundle, vol, protected):
    """Unprotected, the runtime writes oom_score_adj and the sysctl through the container's
    /proc, into the host files bound there; protected, they land on the real procfs files."""
    bundle = make_bundle(["sleep", "100"], edit=redirecting_config(vol))
    rt, env = _attempt(runtime, protected, "procfs-writes")
    rt("create", "-b", bundle, "cve-52881", env=env, check=True)
    pid = init_pid(runtime, "cve-52881")
    landed_on_host = {name: (vol / name).read_text().strip() != "canary"
                      for name in ("oom", "domainname")}
    assert landed_on_host == {"oom": not protected, "domainname": not protected}
    if protected:
        with open(f"/proc/{pid}/oom_score_adj") as f:
            assert f.read().strip() == "7"
        assert uts_domainname(pid) == "pyrunc-sysctl"
    runtime("delete", "--force", "cve-52881", check=True)


@PROTECTION
def test_cve_2025_52881_proc_that_is_not_procfs(runtime, make_bundle, rootfs_copy, vol,
                                                protected):
    """No procfs at /proc (the config mounts none), and the image's
    /proc/sys/kernel/domainname is a symlink to a host file (through /run): unprotected, the
    runtime's sysctl write lands there. (The create fails later either way: the read-only
    paths are bound through /proc/self/fd, as runc's are.)"""
    planted = rootfs_copy / "proc" / "sys" / "kernel"
    planted.mkdir(parents=True)
    (planted / "domainname").symlink_to("/run/canary")

    def edit(config):
        config["root"]["path"] = str(rootfs_copy)
        config["linux"]["sysctl"] = {"kernel.domainname": "pyrunc-sysctl"}
        config["mounts"] = [m for m in config["mounts"] if m["type"] != "proc"]
        config["mounts"].append(vol_mount(vol))
    bundle = make_bundle(["true"], edit=edit)
    rt, env = _attempt(runtime, protected, "procfs-writes")
    result = rt("create", "-b", bundle, "cve-52881-noproc", env=env)
    landed_on_host = (vol / "canary").read_text() != "canary\n"
    assert landed_on_host is not protected, (result.stdout, result.stderr)
    assert "read-only and masked paths" in one_line_error(result)
    assert runtime.ids() == []


# -- racers ---------------------------------------------------------------------------------------

RACER = r"""
import ctypes, os, sys
mode, path, other = sys.argv[1:4]
if mode == "exchange":      # two names that trade places (a directory and a symlink)
    libc = ctypes.CDLL(None, use_errno=True)
    while True:
        libc.renameat2(-100, path.encode(), -100, other.encode(), 2)  # RENAME_EXCHANGE
good, evil = path + ".good-tmp", path + ".evil-tmp"
while True:                 # path is, by turns, a fresh good file and a symlink to other
    try:
        if mode == "null":
            os.mknod(good, 0o20666, os.makedev(1, 3))
        else:
            os.close(os.open(good, os.O_CREAT | os.O_WRONLY, 0o644))
        os.rename(good, path)
        os.symlink(other, evil)
        os.rename(evil, path)
    except OSError:
        pass
"""


class Racer:
    """A process swapping a path in a tight loop: `exchange` trades path and other places
    (renameat2 RENAME_EXCHANGE); `null` and `file` put, by turns, a fresh null node or empty
    file and a symlink to other at path (atomic renames: the runtime may remove either)."""

    def __init__(self, mode, path, other):
        self.proc = subprocess.Popen([sys.executable, "-c", RACER, mode, str(path), str(other)])

    def stop(self):
        self.proc.kill()
        self.proc.wait(timeout=10)


def race(runtime, count, create_args, check, env=None, rt=None, stop_at_first=False):
    """Create and delete `count` containers while the racer runs; check(pid) says whether a
    write landed outside its target. Returns (containers made, failures, landings). Every
    failed create must be a one-line error."""
    rt = rt or runtime
    made = landings = failures = 0
    for i in range(count):
        cid = f"race-{i}"
        result = rt("create", *create_args, cid, env=env, timeout=60)
        if result.returncode == 0:
            made += 1
            landed = check(init_pid(runtime, cid))
            runtime("delete", "--force", cid, check=True)
            if landed:
                landings += 1
                if stop_at_first:
                    break
        else:
            failures += 1
            one_line_error(result)
        assert runtime.ids() == []
    return made, failures, landings


@pytest.fixture
def racers():
    started = []
    yield lambda *args: started.append(Racer(*args)) or started[-1]
    for racer in started:
        racer.stop()


def _race_attempt(runtime, protected, names):
    rt, env = _attempt(runtime, protected, names)
    count = RACE_CONTAINERS
    return rt, env, count


@PROTECTION
def test_cve_2025_31133_racer(runtime, make_bundle, tmp_path, vol, racers, protected):
    """/dev/null in the shared /dev swapped with a symlink to the host file, all the time."""
    dev = shared_dev(tmp_path)

    def edit(config):
        bind_dev(config, dev)
        config["mounts"].append(vol_mount(vol))
    bundle = make_bundle(["true"], edit=edit)
    canary = os.stat(vol / "canary")

    def landed(pid):
        st = os.stat(f"/proc/{pid}/root/proc/keys")
        return (st.st_dev, st.st_ino) == (canary.st_dev, canary.st_ino)

    racers("null", dev / "null", "/run/canary")
    rt, env, count = _race_attempt(runtime, protected, "masked-null")
    made, failures, landings = race(runtime, count, ("-b", bundle), landed, env, rt,
                                    stop_at_first=not protected)
    print(f"31133 racer: {made} made, {failures} refused, {landings} landed")
    if protected:
        assert landings == 0 and made > 0
    else:
        assert landings > 0
    assert (vol / "canary").read_text() == "canary\n"


@PROTECTION
def test_cve_2025_52565_racer(runtime, make_bundle, tmp_path, vol, racers, console_sink,
                              protected):
    """/dev/console in the shared /dev swapped with a symlink to /run/canary, all the time."""
    dev = shared_dev(tmp_path)
    bundle = console_bundle(make_bundle, dev, vol)
    racers("file", dev / "console", "/run/canary")
    rt, env, count = _race_attempt(runtime, protected, "console-target")
    made, failures, landings = race(runtime, count, ("--console-socket", console_sink.path,
                                                     "-b", bundle),
                                    console_landed_elsewhere, env, rt,
                                    stop_at_first=not protected)
    print(f"52565 racer: {made} made, {failures} refused, {landings} landed")
    if protected:
        assert landings == 0 and made > 0
    else:
        assert landings > 0
    assert (vol / "canary").read_text() == "canary\n"


@PROTECTION
def test_cve_2019_19921_and_2025_52881_racer(runtime, make_bundle, rootfs_copy, vol, racers,
                                             protected):
    """The image's /proc swapped with a symlink to /bad-proc, all the time, while the runtime
    mounts procfs there and then writes oom_score_adj through /proc. Where procfs lands on
    /bad-proc (unprotected), /proc may then be the image's directory, whose self/oom_score_adj
    the attacker planted as a symlink to a host file (/run/canary): the write goes there."""
    (rootfs_copy / "proc").rmdir()
    (rootfs_copy / "proc").mkdir()
    (rootfs_copy / "bad-proc").mkdir()
    (rootfs_copy / "proc.evil").symlink_to("/bad-proc")
    planted = rootfs_copy / "proc" / "self"
    planted.mkdir()
    (planted / "oom_score_adj").symlink_to("/run/canary")

    def edit(config):
        config["root"]["path"] = str(rootfs_copy)
        config["process"]["oomScoreAdj"] = 7
        config["mounts"].append(vol_mount(vol))
    bundle = make_bundle(["true"], edit=edit)

    def landed(pid):
        # pid 0: the init is gone already. Once create returned, it waits for `start` by
        # opening the exec fifo through the container's /proc, which the racer may have
        # turned into the plain directory by then (runc's init dies the same way).
        right = True
        if pid:
            with open(f"/proc/{pid}/oom_score_adj") as f:
                right = f.read().strip() == "7"
        return not right or (vol / "canary").read_text() != "canary\n"

    racers("exchange", rootfs_copy / "proc", rootfs_copy / "proc.evil")
    rt, env, count = _race_attempt(runtime, protected, "proc-target,procfs-writes")
    made, failures, landings = race(runtime, count, ("-b", bundle), landed, env, rt,
                                    stop_at_first=not protected)
    print(f"19921/52881 racer: {made} made, {failures} refused, {landings} landed")
    if protected:
        assert landings == 0 and made > 0
        assert (vol / "canary").read_text() == "canary\n"
    else:
        assert landings > 0
    assert host_mounts_mentioning(str(vol)) == []
