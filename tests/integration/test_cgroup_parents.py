"""Parent cgroups shared by many containers (issue 13): after hundreds of containers under a
parent named in cgroupsPath, no child cgroup may remain under it in any hierarchy, whichever
container made an intermediate parent and whichever left it last (pyrunc/cgroups/parents.py).
The test makes the shared parent itself, in every hierarchy, and removes it at the end."""
import concurrent.futures
import os
import subprocess
import uuid

import pytest

from pyrunc.cgroups.manager import PARENT_MARKS
from pyrunc.cgroups.layout import hierarchies

pytestmark = [pytest.mark.root, pytest.mark.cgroup]

THREADS = 10
CONTAINERS = 20
ROUNDS = 5  # 20 x 5 = 100 containers, twice (a leaf under the parent, and under a shared "pod")


@pytest.fixture
def shared_parent():
    """/pyrunc-shared-<hex> made by the test in every hierarchy (cpus and mems copied into the
    v1 cpuset one, which takes no task without them); removed at the end, which fails if a
    child cgroup is left in it."""
    name = f"pyrunc-shared-{uuid.uuid4().hex[:6]}"
    made = []
    for h in hierarchies():
        path = os.path.join(h.mountpoint, name)
        os.mkdir(path)
        made.append(path)
        if "cpuset" in h.controllers:
            for f in ("cpuset.cpus", "cpuset.mems"):
                with open(os.path.join(h.mountpoint, f)) as src, \
                        open(os.path.join(path, f), "w") as dst:
                    dst.write(src.read())
    yield name, made
    for path in made:
        for sub, _dirs, _files in sorted(os.walk(path), key=lambda w: -w[0].count("/")):
            os.rmdir(sub)


def children(made):
    return [os.path.join(p, e.name) for p in made if os.path.isdir(p)
            for e in os.scandir(p) if e.is_dir()]


def test_containers_under_a_shared_parent_leave_no_child_cgroup(runtime, make_bundle,
                                                                 shared_parent):
    name, made = shared_parent
    bundles = {}
    for i in range(CONTAINERS):
        # Even ones directly under the parent, odd ones under a "pod" that pyrunc makes and
        # every odd container shares: its maker is seldom the last to leave it.
        path = f"/{name}/c{i}" if i % 2 == 0 else f"/{name}/pod/c{i}"
        bundles[i] = make_bundle(["true"], name=f"bundle{i}",
                                 edit=lambda c, p=path: c["linux"].__setitem__("cgroupsPath", p))

    def runs(i):
        out = []
        for r in range(ROUNDS):
            out.append(runtime("run", "-b", bundles[i], f"pyrunc-sp-{i}-{r}",
                               stdin=subprocess.DEVNULL, timeout=60))
        return out

    with concurrent.futures.ThreadPoolExecutor(THREADS) as pool:
        results = [r for rs in pool.map(runs, range(CONTAINERS)) for r in rs]
    failed = [r.stderr for r in results if r.returncode != 0]
    assert not failed, failed[:3]
    assert children(made) == []
    marks = [m for m in os.listdir(PARENT_MARKS) if name in m] \
        if os.path.isdir(PARENT_MARKS) else []
    assert marks == []


def test_a_parent_pyrunc_did_not_make_is_never_removed(runtime, make_bundle, shared_parent):
    name, made = shared_parent
    bundle = make_bundle(["true"], edit=lambda c: c["linux"].__setitem__(
        "cgroupsPath", f"/{name}/pod/only"))
    runtime("run", "-b", bundle, "pyrunc-sp-only", check=True, stdin=subprocess.DEVNULL)
    assert all(os.path.isdir(p) for p in made)  # the test's own parent stays
    assert children(made) == []  # pyrunc's "pod" went with its only container
