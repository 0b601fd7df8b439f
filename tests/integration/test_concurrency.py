"""Load and races: many containers at once, and commands racing on one container."""
import fcntl
import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

from conftest import wait_until
from test_crash_cleanup import alive, cgroup_dirs


def test_100_containers_20_at_a_time(runtime, make_bundle):
    bundle = make_bundle(["sh", "-c", "echo $$"])

    def one(i):
        return runtime("run", "-b", bundle, f"pyrunc-load-{i}", timeout=120)

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(one, range(100)))
    failures = [(i, r.returncode, r.stderr) for i, r in enumerate(results) if r.returncode != 0]
    assert not failures, failures[:3]
    assert all(r.stdout.strip() == "1" for r in results)
    assert runtime.ids() == []
    assert not any(cgroup_dirs(f"pyrunc-load-{i}") for i in range(100))


def _race(runtime, first, second):
    with ThreadPoolExecutor(max_workers=2) as pool:
        a = pool.submit(runtime, *first)
        b = pool.submit(runtime, *second)
        return a.result(), b.result()


def test_start_races_delete(runtime, make_bundle):
    bundle = make_bundle(["sleep", "1000"])
    for i in range(8):
        cid = f"pyrunc-race-sd-{i}"
        runtime("create", "-b", bundle, cid, check=True)
        pid = runtime.state(cid)["pid"]
        start, delete = _race(runtime, ("start", cid), ("delete", cid))
        if delete.returncode == 0:
            # delete won (it removes a created container): start then found nothing to start
            assert start.returncode == 1 and len(start.stderr.strip().splitlines()) == 1
            assert cid not in runtime.ids()
        else:
            # start won: the container runs and delete refused it
            assert start.returncode == 0
            assert runtime.state(cid)["status"] == "running"
        runtime("delete", "--force", cid)
        assert cid not in runtime.ids()
        assert wait_until(lambda: not alive([pid]))


def test_kill_races_delete(runtime, make_bundle):
    bundle = make_bundle(["sleep", "1000"])
    for i in range(8):
        cid = f"pyrunc-race-kd-{i}"
        runtime("run", "-d", "-b", bundle, cid, check=True)
        pid = runtime.state(cid)["pid"]
        kill, delete = _race(runtime, ("kill", cid, "KILL"), ("delete", cid))
        assert kill.returncode == 0 or "not running" in kill.stderr or \
            "does not exist" in kill.stderr
        if delete.returncode == 0:
            assert cid not in runtime.ids()
        else:
            assert "not stopped" in delete.stderr
            assert wait_until(lambda: runtime.state(cid)["status"] == "stopped")
            runtime("delete", cid, check=True)
        assert wait_until(lambda: not alive([pid]))
        assert not cgroup_dirs(cid)


def test_locks_serialise_one_container_and_never_block_others(runtime, make_bundle):
    bundle = make_bundle(["sleep", "1000"])
    runtime("run", "-d", "-b", bundle, "pyrunc-lock-a", check=True)
    runtime("run", "-d", "-b", bundle, "pyrunc-lock-b", check=True)
    fd = os.open(os.path.join(runtime.root, "pyrunc-lock-a"), os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        t = time.monotonic()
        assert runtime("kill", "pyrunc-lock-b", "CONT", timeout=10).returncode == 0
        assert time.monotonic() - t < 5
        try:
            runtime("kill", "pyrunc-lock-a", "CONT", timeout=1.5)
            blocked = False
        except subprocess.TimeoutExpired:
            blocked = True
        assert blocked, "a command on a locked container did not wait for the lock"
    finally:
        os.close(fd)
    assert runtime("kill", "pyrunc-lock-a", "CONT").returncode == 0
