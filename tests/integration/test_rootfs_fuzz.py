"""The hostile-rootfs fuzzer (tests/fuzzing/rootfsgen.py): pyrunc runs a container on each
generated rootfs. Every run must end correctly (status 0: the container saw what the config
says, CHECKS) or with a one-line error (status 1, no traceback), within its timeout, with nothing left behind (state, mounts), and nothing outside
the rootfs changed: the host paths the symlinks aim at (listed, with their contents, before and
after every case) and the host's mount table.

ROOTFS_FUZZ_SEED and ROOTFS_FUZZ_COUNT choose the run (default: seed 14, 1,000 cases, which CI
runs); a failure names the case number and its mutations, which the same seed gives again.
"""
import collections
import hashlib
import json
import os
import re
import shutil
import stat

import pytest

from conftest import default_config
from fuzzing import rootfsgen
from consoleutil import ConsoleSink

SEED = int(os.environ.get("ROOTFS_FUZZ_SEED", "14"))
COUNT = int(os.environ.get("ROOTFS_FUZZ_COUNT", "1000"))
RUN_TIMEOUT = 30  # a create that hangs fails the test with the stacks (tests/hangcheck.py)


# What a container that ran must see (shell builtins only, and their own exit status each):
# the config's sysctl, oomScoreAdj and cwd, /proc the procfs of its pid namespace (sh is pid
# 1 there), a masked file and /dev/null the null device.
CHECKS = """
read d < /proc/sys/kernel/domainname && [ "$d" = fuzz-domain ] || exit 11
read o < /proc/self/oom_score_adj && [ "$o" = 3 ] || exit 12
read p rest < /proc/self/stat && [ "$p" = 1 ] || exit 13
[ -c /proc/keys ] || exit 14
[ . -ef /home/app ] || exit 15
[ -c /dev/null ] || exit 16
"""


def fuzz_config(rootfs, volume):
    config = default_config(str(rootfs), ["/bin/sh", "-c", CHECKS])
    config["process"]["cwd"] = "/home/app"
    config["process"]["oomScoreAdj"] = 3
    config["hostname"] = "fuzz"
    config["linux"]["sysctl"] = {"kernel.domainname": "fuzz-domain"}
    config["mounts"].append({"destination": "/mnt/vol/data", "type": "bind",
                             "source": str(volume), "options": ["rbind", "rw"]})
    config["mounts"].append({"destination": "/run/scratch", "type": "tmpfs",
                             "source": "tmpfs", "options": ["nosuid", "nodev"]})
    return config


def _digest(path):
    if path.startswith("/proc/"):
        try:
            with open(path, "rb") as f:
                return f.read(4096)
        except OSError:
            return None  # write-only (sysrq-trigger)
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def host_snapshot(targets, volume, names):
    """What an escape would change: type, inode, device, contents (or the names in a
    directory) of every host path the symlinks aim at and of the bound volume. In the host's
    shared directories (/, /etc) only the names pyrunc could make or remove there count
    (names): the host's other users come and go in them while the fuzzer runs."""
    private = (targets.canary_dir, str(volume))
    snap = {}
    for path in targets.all + (str(volume),):
        try:
            st = os.lstat(path)
        except OSError:
            snap[path] = None
            continue
        entry = [stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_ino, st.st_rdev]
        if stat.S_ISDIR(st.st_mode):
            entry.append(sorted(n for n in os.listdir(path) if path in private or n in names))
        elif stat.S_ISREG(st.st_mode):
            entry.append(_digest(path))
        snap[path] = entry
    return snap


def host_mounts(targets, work):
    """Host mount table lines whose mount point is an aimed-at path or under the fuzz dir."""
    points = set(targets.all)
    with open("/proc/self/mountinfo") as f:
        return sorted(line for line in f
                      if line.split()[4] in points or str(work) in line)


@pytest.fixture(scope="module")
def fuzz_base(tmp_path_factory, busybox_rootfs):
    """The small base tree every case copies (hard links): busybox, plus the cwd."""
    work = tmp_path_factory.mktemp("rootfs-fuzz")
    base = work / "base"
    shutil.copytree(busybox_rootfs, base, symlinks=True)
    (base / "home" / "app").mkdir(parents=True)
    for name in ("passwd", "group", "hosts", "hostname"):
        if not (base / "etc" / name).exists():
            (base / "etc" / name).write_text("")
    canaries = work / "host-canaries"
    canaries.mkdir()
    (canaries / "file").write_text("canary\n")
    volume = work / "volume"
    volume.mkdir()
    (volume / "data").write_text("volume data\n")
    return work, base, rootfsgen.HostTargets(canaries), volume


def test_generator_is_reproducible(fuzz_base):
    work, base, targets, volume = fuzz_base
    touched = rootfsgen.touched_paths(fuzz_config(base, volume))
    assert {"/proc", "/dev/console", "/dev/null", "/mnt/vol/data", "/mnt/vol", "/home/app",
            "/bin/sh", "/etc/passwd", "/proc/keys", "/proc/sys"} <= set(touched)
    first = rootfsgen.generate(SEED, 50, touched, targets)
    assert first == rootfsgen.generate(SEED, 50, touched, targets)
    assert first[:10] == rootfsgen.generate(SEED, 10, touched, targets)
    many = rootfsgen.generate(SEED, 300, touched, targets)
    assert {kind for case in many for _p, kind, _d in case.mutations} == set(rootfsgen.KINDS)
    assert {(case.own_dev, case.terminal) for case in many} == {(a, b) for a in (False, True)
                                                                for b in (False, True)}


def test_hostile_rootfs_fuzz(runtime, fuzz_base, tmp_path):
    work, base, targets, volume = fuzz_base
    console = ConsoleSink(tmp_path / "console.sock")
    try:
        _fuzz(runtime, work, base, targets, volume, console)
    finally:
        console.close()


def _fuzz(runtime, work, base, targets, volume, console):
    touched = rootfsgen.touched_paths(fuzz_config(base, volume))
    cases = rootfsgen.generate(SEED, COUNT, touched, targets)
    # What pyrunc names in a rootfs (mount points, nodes, links): where an escape would make
    # or remove things on the host.
    names = {os.path.basename(p) for p in touched} | {"ptmx", "stdin", "stdout", "stderr",
                                                      "core", "console", "cgroup"}
    snapshot = host_snapshot(targets, volume, names)
    mounts = host_mounts(targets, work)
    problems = []
    outcomes = {"ran": 0, "refused": 0}
    reasons = collections.Counter()
    example = {}
    for generated in cases:
        i = generated.number
        case = work / f"case-{i}"
        rootfs = case / "rootfs"
        case.mkdir()
        rootfsgen.copy_base(base, rootfs)
        made = rootfsgen.apply(rootfs, generated.mutations)
        config = fuzz_config(rootfs, volume)
        generated.configure(config)
        with open(case / "config.json", "w") as f:
            json.dump(config, f)
        terminal = ("--console-socket", console.path) if generated.terminal else ()
        result = runtime("run", *terminal, "-b", str(case), f"fuzz-{i}", timeout=RUN_TIMEOUT)
        console.close_masters()
        what = f"case {i} (seed {SEED}): {generated.describe(made)}"
        lines = result.stderr.strip().splitlines()
        if result.returncode == 0:
            outcomes["ran"] += 1
        elif result.returncode == 1 and len(lines) == 1 and "Traceback" not in result.stderr:
            outcomes["refused"] += 1
            reason = re.sub(r"/tmp/\S+|\d+", "N", lines[0])
            reasons[reason] += 1
            example.setdefault(reason, i)
        else:
            problems.append(f"{what}: status {result.returncode}, stderr {result.stderr!r}")
        if runtime.ids():
            problems.append(f"{what}: left {runtime.ids()}")
            for cid in runtime.ids():
                runtime("delete", "--force", cid)
        now = host_snapshot(targets, volume, names)
        if now != snapshot:
            changed = {p: (snapshot[p], now[p]) for p in now if now[p] != snapshot[p]}
            problems.append(f"{what}: changed on the host: {changed}")
            snapshot = now
        now_mounts = host_mounts(targets, work)
        if now_mounts != mounts:
            problems.append(f"{what}: host mounts changed: {set(now_mounts) ^ set(mounts)}")
            mounts = now_mounts
        shutil.rmtree(case)
    print(f"rootfs fuzz, seed {SEED}, {COUNT} cases: {outcomes}; refusals:")
    for reason, n in reasons.most_common(25):
        print(f"  {n:4} {reason} (case {example[reason]})")
    assert problems == [], "\n".join(problems[:30])
    assert outcomes["ran"] > COUNT // 10  # most mutations are survivable: the harness works
