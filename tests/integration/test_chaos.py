"""Chaos (issue 13): from parallel threads, random interleavings of create, start, exec, kill,
pause, resume, update, state and delete --force on ten containers, while a random pyrunc process
(a command, its stage1, an init not yet exec'd) is SIGKILLed at random moments. Every command
must end within 10 s, every error must be one line, and once `delete --force` has gone over the
ten ids nothing of them may be left: state dirs, cgroups, parent-cgroup marks, mounts,
processes, veths, leases, their bridge.

The plan (each command, its container, whether and when a kill follows it, and which of the
live pyrunc processes it hits) comes from one seed: PYRUNC_CHAOS_SEED (default 13), with
PYRUNC_CHAOS_COUNT commands (default 200). The threads' interleaving is the machine's, so a
seed gives the same commands and kills, not the same schedule. Three of the ten containers ask
for a network of the test's own (a bridge that goes with its last container), so leases and
veths are in the game."""
import collections
import os
import queue
import random
import signal
import subprocess
import tempfile
import threading
import time
import uuid

import pytest

from conftest import env_with, live_processes, wait_until
from leftovers import Leftovers
from hangcheck import stacks

pytestmark = pytest.mark.root

SEED = int(os.environ.get("PYRUNC_CHAOS_SEED", "13"))
COUNT = int(os.environ.get("PYRUNC_CHAOS_COUNT", "200"))
CONTAINERS = 10
THREADS = 6
COMMAND_BOUND = 10.0   # seconds: the bound on every command
KILL_RATE = 0.15       # the share of commands followed by a SIGKILL of some pyrunc process
NETWORKED = (0, 1, 2)  # the containers on the test's own network

# verb -> weight in the plan
VERBS = {"create": 3, "start": 2, "exec": 1, "kill": 1, "pause": 1, "resume": 1, "update": 1,
         "state": 1, "delete": 2}


def plan(seed, count):
    """[(verb, container index, extra args, kill delay or None, victim pick)]"""
    rng = random.Random(seed)
    verbs = [v for v, w in VERBS.items() for _ in range(w)]
    steps = []
    for _ in range(count):
        verb = rng.choice(verbs)
        extra = ()
        if verb == "kill":
            extra = (rng.choice(["KILL", "TERM", "CONT"]),)
        delay = rng.uniform(0.0, 0.15) if rng.random() < KILL_RATE else None
        steps.append((verb, rng.randrange(CONTAINERS), extra, delay, rng.random()))
    return steps


def argv_of(verb, container_id, bundle, extra):
    if verb == "create":
        return ["create", "--bundle", bundle, container_id]
    if verb == "exec":
        return ["exec", container_id, "true"]
    if verb == "kill":
        return ["kill", container_id, *extra]
    if verb == "update":
        return ["update", "--pids-limit", "200", container_id]
    if verb == "delete":
        return ["delete", "--force", container_id]
    return [verb, container_id]


def pyrunc_processes_of(root):
    """Live pyrunc processes working on this test's root (commands, stage1s, inits before
    their exec: their command line is the command's), oldest first."""
    return sorted(live_processes(root))


@pytest.fixture
def chaos_network(tmp_path, monkeypatch):
    """A network of this test's own: its bridge pyr..., non-persistent; removed with its last
    container."""
    from netutil import unique_bridge, write_settings
    bridge = unique_bridge("ch")
    third = 100 + SEED % 100
    settings = write_settings(tmp_path / "pyrunc.yaml", {"chaos": {
        "bridge": bridge, "ipv4": {"subnet": f"10.231.{third}.0/24"}}})
    monkeypatch.setenv("PYRUNC_SETTINGS", settings)
    return bridge


def test_chaos(runtime, make_bundle, marker, chaos_network, capsys):
    from netutil import host_veth, isolation_rules, leases, link_names, net_bundle_edit

    suffix = uuid.uuid4().hex[:6]
    ids = [f"pyrunc-chaos-{i}-{suffix}" for i in range(CONTAINERS)]
    bundles = {}
    for i in range(CONTAINERS):
        def edit(config, i=i):
            config["process"]["env"].append(marker)
            config["linux"]["resources"] = {"pids": {"limit": 100}}
            if i in NETWORKED:
                net_bundle_edit("chaos")(config)
        bundles[i] = make_bundle(["sleep", "1000"], edit=edit, name=f"bundle{i}")
    env = env_with(marker)
    steps = plan(SEED, COUNT)
    work = queue.Queue()
    for n, step in enumerate(steps):
        work.put((n, step))
    results = []  # (n, verb, id, seconds, returncode, stderr, pid)
    kills = []
    problems = []
    lock = threading.Lock()

    def one(n, verb, index, extra, delay, pick):
        container_id = ids[index]
        argv = runtime.cmd(*argv_of(verb, container_id, bundles[index], extra))
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            started = time.monotonic()
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                    env=env)
            victim = None
            if delay is not None:
                time.sleep(delay)
                live = pyrunc_processes_of(runtime.root)
                if live:
                    victim = live[int(pick * len(live))]
                    try:
                        os.kill(victim, signal.SIGKILL)
                        with lock:
                            kills.append((n, verb, victim))
                    except ProcessLookupError:
                        victim = None
            try:
                code = proc.wait(timeout=COMMAND_BOUND)
            except subprocess.TimeoutExpired:
                report = stacks(first=proc.pid)
                proc.kill()
                proc.wait()
                with lock:
                    problems.append(f"#{n} `{' '.join(argv)}` did not end within "
                                    f"{COMMAND_BOUND:g} s\n{report}")
                return
            took = time.monotonic() - started
            err.seek(0)
            text = err.read().decode(errors="replace")
        with lock:
            results.append((n, verb, container_id, took, code, text, proc.pid))

    def worker():
        while True:
            try:
                n, (verb, index, extra, delay, pick) = work.get_nowait()
            except queue.Empty:
                return
            try:
                one(n, verb, index, extra, delay, pick)
            except Exception as e:  # noqa: BLE001 - reported with the rest
                with lock:
                    problems.append(f"#{n} {verb}: the test itself failed: {e!r}")

    began = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - began

    # Every error is one line: "pyrunc: ...", warnings before it allowed, no traceback.
    killed = {victim for _n, _verb, victim in kills}
    for n, verb, container_id, took, code, text, pid in results:
        if took > COMMAND_BOUND:
            problems.append(f"#{n} {verb} took {took:.1f} s")
        if code == 0 or pid in killed:
            continue
        lines = text.splitlines()
        errors = [line for line in lines if not line.startswith("pyrunc: warning:")]
        if "Traceback" in text or len(errors) != 1 or not errors[0].startswith("pyrunc: "):
            problems.append(f"#{n} {verb} {container_id} exit {code}: not a one-line error:\n"
                            f"{text}")

    # Then delete --force leaves nothing.
    for container_id in ids:
        done = runtime("delete", "--force", container_id, timeout=COMMAND_BOUND + 5)
        if done.returncode != 0:
            problems.append(f"final delete --force {container_id}: {done.stderr}")
    containers = Leftovers(runtime, *ids, markers=(marker, runtime.root),
                           mentions=(*bundles.values(), runtime.root), baseline=False)
    wait_until(lambda: not containers.found(), timeout=10)
    leftovers = {
        "containers": containers.found(),
        "veths": sorted({host_veth(i, "eth0", runtime.root) for i in ids} & link_names()),
        "leases": leases(runtime.root),
        "bridge": [chaos_network] if chaos_network in link_names() else [],
        "rules": isolation_rules(chaos_network),
    }
    from pyrunc.cgroups.manager import PARENT_MARKS
    if os.path.isdir(PARENT_MARKS):
        leftovers["parent marks"] = [m for m in os.listdir(PARENT_MARKS) if suffix in m]
    leftovers = {k: v for k, v in leftovers.items() if v}

    by_verb = collections.Counter(r[1] for r in results)
    failed = collections.Counter(r[1] for r in results if r[4] != 0)
    slowest = max(results, key=lambda r: r[3]) if results else None
    with capsys.disabled():
        print(f"\nchaos: seed {SEED}, {len(results)} of {COUNT} commands ended in "
              f"{elapsed:.1f} s on {THREADS} threads, {len(kills)} SIGKILLs injected "
              f"({sum(1 for r in results if r[6] in killed)} on commands, the rest on their "
              f"children); slowest: "
              + (f"#{slowest[0]} {slowest[1]} {slowest[2]} {slowest[3]:.2f} s" if slowest
                 else "-"))
        print("chaos: per verb (run/failed): " + ", ".join(
            f"{v} {by_verb[v]}/{failed[v]}" for v in VERBS))
        reasons = collections.Counter(
            " ".join(w for w in r[5].strip().splitlines()[-1].split() if suffix not in w)[:90]
            for r in results if r[4] not in (0, -9) and r[5].strip())
        print("chaos: errors: " + "; ".join(f"{n}x {text}" for text, n in reasons.most_common(20)))
    assert not problems, "\n".join(problems[:10])
    assert not leftovers, leftovers
    assert len(results) == COUNT
    assert slowest is None or slowest[3] < COMMAND_BOUND
